"""Pure input handling for the full-screen client: slash commands, completion, paste.

Owns: turning one submitted input into a typed, frozen :data:`Action` (:func:`parse`); the
slash-command table with aliases, syntax and help (:data:`SLASH_COMMANDS`); completion
candidates for nicks, ``#channels`` and ``/commands`` (:func:`complete`); splitting pasted
or over-long text into messages that fit the protocol's line limit (:func:`split_paste`,
:func:`max_text_bytes`) and the paste-guard rule (:func:`needs_confirmation`). The channel
operators' commands (protocol 1.2: ``/mode``, ``/kick``, ``/op``, ``/deop``, ``/voice``,
``/devoice``, ``/ban``, ``/unban``, and ``/join`` with a key) are checked here with
``flackd.codec.modes`` before they become ``MODE`` and ``KICK`` commands, so a typo is a
local error, not a round trip.

Must not import anything but the standard library, ``flackd.codec`` and
``flackcli.notices``: never trio, never prompt_toolkit, nothing else from flackd. Nothing
here performs an action; the caller (``ui.app`` and its runner) carries actions out.

Buffers are named as in ``ui.view``: a ``#channel``, a nick for a private conversation, and
anything else (``server``, None) for the server buffer, where plain text has no target.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from flackd.codec import commands as c
from flackd.codec.grammar import MAX_COUNT, format_command
from flackd.codec.ids import parse_id
from flackd.codec.modes import MAX_CHANGES, ModeError, is_valid_key, normalise_mask, parse_changes
from flackd.codec.text import fold, is_channel, is_valid_channel, is_valid_nick

__all__ = [
    "COMMAND_NAMES",
    "DEFAULT_MAX_LINE",
    "DM_HISTORY_UNSUPPORTED",
    "EDIT_UNSUPPORTED",
    "ME_UNSUPPORTED",
    "OPERATORS_UNSUPPORTED",
    "SLASH_COMMANDS",
    "Action",
    "ClearBuffer",
    "CloseBuffer",
    "Connect",
    "DeleteLast",
    "LoadOlder",
    "LocalError",
    "MarkRead",
    "Nothing",
    "OpenBuffer",
    "Quit",
    "Raw",
    "Reconnect",
    "Reply",
    "SendCommand",
    "SendMessages",
    "SetLogging",
    "ShowHelp",
    "SlashCommand",
    "StartEdit",
    "clean_text",
    "complete",
    "current_word",
    "help_lines",
    "lookup",
    "max_text_bytes",
    "needs_confirmation",
    "parse",
    "parse_edit",
    "say",
    "split_paste",
]

#: The protocol's default maximum input line, CRLF included (``HELLO ... maxline=512``).
DEFAULT_MAX_LINE: Final = 512

ME_UNSUPPORTED: Final = (
    "/me needs a newer server (this one speaks protocol 1, which has no actions); "
    "write it as a normal message"
)
EDIT_UNSUPPORTED: Final = (
    "/edit needs a newer server (this one speaks protocol 1, which cannot edit messages); "
    "/delete deletes your last message"
)
DM_HISTORY_UNSUPPORTED: Final = (
    "this server keeps no private messages (protocol 1): only channels have history"
)
OPERATORS_UNSUPPORTED: Final = (
    "this server has no channel operators or modes (it speaks protocol {protocol}; "
    "MODE and KICK came with 1.2)"
)

# ---------------------------------------------------------------------------------------
# Actions: what the caller should do. Frozen, compared by value.


@dataclass(frozen=True, slots=True)
class SendCommand:
    """Send one protocol command. ``focus``: the buffer to show once it opens (the
    channel of a ``/join``, the nick of a ``/msg``)."""

    command: c.Command
    focus: str | None = None


@dataclass(frozen=True, slots=True)
class SendMessages:
    """Several messages to one target, in order (multi-line input, or text split to fit
    the line limit). The paste guard asks first: see :func:`needs_confirmation`."""

    target: str
    texts: tuple[str, ...]
    focus: str | None = None

    @property
    def commands(self) -> tuple[c.Msg, ...]:
        return tuple(c.Msg(self.target, text) for text in self.texts)


@dataclass(frozen=True, slots=True)
class OpenBuffer:
    """Open (and show) the private conversation with ``name``: ``/query nick``."""

    name: str


@dataclass(frozen=True, slots=True)
class CloseBuffer:
    """Close a private conversation buffer: ``/part`` or ``/close`` in it."""

    name: str


@dataclass(frozen=True, slots=True)
class LocalError:
    """Nothing to send: show ``text`` to the user (a usage error, an unknown command)."""

    text: str


@dataclass(frozen=True, slots=True)
class Quit:
    """``/quit [message]``: say goodbye and leave."""

    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Reconnect:
    """``/reconnect``: skip the rest of the backoff wait."""


@dataclass(frozen=True, slots=True)
class Connect:
    """``/connect host[:port]``: switch to another server."""

    server: str


@dataclass(frozen=True, slots=True)
class ClearBuffer:
    """``/clear``: clear the current buffer on screen (local only)."""


@dataclass(frozen=True, slots=True)
class ShowHelp:
    """``/help [command]``: ``topic`` is a canonical command name, or None for the list.
    :func:`help_lines` gives the text."""

    topic: str | None = None


@dataclass(frozen=True, slots=True)
class LoadOlder:
    """``/history [n]``: ``HISTORY <channel> BEFORE <oldest shown id> [n]`` (the caller
    knows the oldest id; ``count`` None means the server's default page)."""

    channel: str
    count: int | None = None


@dataclass(frozen=True, slots=True)
class DeleteLast:
    """``/delete [reason]``: ``DELETE <id> [reason]`` of my newest message in ``channel``
    (a channel, or a nick for a private conversation). ``/delete <id> [reason]`` is a
    :class:`SendCommand` instead (an operator deletes anyone's message in a channel)."""

    channel: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class StartEdit:
    """``/edit [id]``: put the text of my message ``msg_id`` (None: my newest one in
    ``target``) into the input line; Enter then sends ``EDIT`` (:func:`parse_edit`)."""

    target: str | None
    msg_id: str | None = None


@dataclass(frozen=True, slots=True)
class Raw:
    """``/raw LINE``: send one protocol line as typed (debugging)."""

    line: str


@dataclass(frozen=True, slots=True)
class Reply:
    """``/reply text``: a private message to whoever last sent me one (the caller knows
    who; build the send with :func:`say`)."""

    text: str


@dataclass(frozen=True, slots=True)
class MarkRead:
    """``/read [-all]``: mark the current buffer (or every buffer) read."""

    all_buffers: bool = False


@dataclass(frozen=True, slots=True)
class SetLogging:
    """``/log on`` / ``/log off``: logging of the current buffer."""

    enabled: bool


@dataclass(frozen=True, slots=True)
class Nothing:
    """Empty input: do nothing."""


Action = (
    SendCommand
    | SendMessages
    | OpenBuffer
    | CloseBuffer
    | LocalError
    | Quit
    | Reconnect
    | Connect
    | ClearBuffer
    | ShowHelp
    | LoadOlder
    | DeleteLast
    | StartEdit
    | Raw
    | Reply
    | MarkRead
    | SetLogging
    | Nothing
)

# ---------------------------------------------------------------------------------------
# The command table.


@dataclass(frozen=True, slots=True)
class SlashCommand:
    """One slash command: canonical name (lower case, no ``/``), aliases, syntax, help."""

    name: str
    aliases: tuple[str, ...]
    syntax: str
    summary: str


SLASH_COMMANDS: Final[tuple[SlashCommand, ...]] = (
    SlashCommand("join", ("j",), "/join <#channel> [key]",
                 "join a channel (with its key, if it has one), open its buffer and catch up"),
    SlashCommand("part", ("leave", "close"), "/part [#channel] [reason]",
                 "leave a channel; in a private conversation, close it"),
    SlashCommand("msg", (), "/msg <nick|#channel> <text>",
                 "send a private message and open its buffer"),
    SlashCommand("query", ("q", "dm"), "/query <nick> [text]",
                 "open a private conversation with nick"),
    SlashCommand("reply", (), "/reply <text>",
                 "answer whoever sent you the last private message"),
    SlashCommand("me", (), "/me <text>", "an action: '/me waves' shows as '* alice waves'"),
    SlashCommand("nick", (), "/nick <new-nick>", "change your nick"),
    SlashCommand("list", (), "/list", "list the server's channels"),
    SlashCommand("names", ("who",), "/names [#channel]", "show who is in a channel"),
    SlashCommand("topic", (), "/topic [#channel] [text]", "show the topic, or set it"),
    SlashCommand("invite", (), "/invite <nick> [#channel]",
                 "ask someone to join this channel (or #channel)"),
    SlashCommand("mode", (), "/mode [#channel] [+|-modes [params]]",
                 "show the channel's modes, or change them (operators): /mode +m, "
                 "/mode +o bob, /mode +b lists bans"),
    SlashCommand("kick", (), "/kick [#channel] <nick> [reason]",
                 "put someone out of this channel (operators)"),
    SlashCommand("op", (), "/op <nick>...", "make members channel operators (@)"),
    SlashCommand("deop", (), "/deop <nick>...", "take channel operator away"),
    SlashCommand("voice", (), "/voice <nick>...",
                 "let members write in a moderated (+m) channel (+)"),
    SlashCommand("devoice", (), "/devoice <nick>...", "take voice away"),
    SlashCommand("ban", (), "/ban [mask]",
                 "ban nick or nick!user@host (* and ? match) from this channel; "
                 "no mask: list the bans"),
    SlashCommand("unban", (), "/unban <mask>", "lift a ban of this channel"),
    SlashCommand("history", (), "/history [n]", "load n older messages (default: one page)"),
    SlashCommand("delete", (), "/delete [id] [reason]",
                 "delete your last message here (or message id: an operator may delete "
                 "anyone's), saying why if you like"),
    SlashCommand("edit", (), "/edit [id]",
                 "edit your last message here (or message id): Enter saves, Esc cancels"),
    SlashCommand("read", (), "/read [-all]", "mark this buffer read (-all: every buffer)"),
    SlashCommand("clear", (), "/clear", "clear this buffer on screen (local only)"),
    SlashCommand("reconnect", (), "/reconnect", "reconnect now"),
    SlashCommand("connect", (), "/connect <host[:port]>", "switch to another server"),
    SlashCommand("raw", (), "/raw <line>", "send one protocol line as typed (debugging)"),
    SlashCommand("log", (), "/log on|off", "turn logging of this buffer on or off"),
    SlashCommand("help", (), "/help [command]", "list the commands, or explain one"),
    SlashCommand("quit", ("exit",), "/quit [message]", "say goodbye and quit"),
)  # fmt: skip

_BY_NAME: Final[dict[str, SlashCommand]] = {
    name: cmd for cmd in SLASH_COMMANDS for name in (cmd.name, *cmd.aliases)
}

#: Canonical command names with their ``/``, alphabetically (for completion).
COMMAND_NAMES: Final[tuple[str, ...]] = tuple(sorted("/" + cmd.name for cmd in SLASH_COMMANDS))


def lookup(name: str) -> SlashCommand | None:
    """The command for a name or alias, any letter case, with or without ``/``."""
    return _BY_NAME.get(fold(name.removeprefix("/")))


def help_lines(topic: str | None = None) -> list[str]:
    """The command list (``topic`` None) or one command's help; unknown: one line."""
    if topic is None:
        out = ["commands (// at the start sends a literal /):"]
        for cmd in SLASH_COMMANDS:
            aliases = "".join(f", /{a}" for a in cmd.aliases)
            out.append(f"  {cmd.syntax}{aliases}: {cmd.summary}")
        return out
    found = lookup(topic)
    if found is None:
        return [f"no command /{topic.removeprefix('/')}; /help lists them"]
    out = [f"usage: {found.syntax}", found.summary]
    if found.aliases:
        out.append("aliases: " + ", ".join("/" + a for a in found.aliases))
    return out


# ---------------------------------------------------------------------------------------
# Text: cleaning, sizing, splitting.

# Refused by the server on input: C0 controls except TAB, and DEL (protocol.md, framing).
_REFUSED: Final = re.compile("[\x00-\x08\x0a-\x1f\x7f]")


def clean_text(text: str) -> str:
    """``text`` with the characters the server refuses (C0 controls but TAB, DEL)
    replaced by U+FFFD, so a stray escape byte in a paste cannot get a line refused."""
    return _REFUSED.sub("\ufffd", text)


def max_text_bytes(target: str, max_line: int = DEFAULT_MAX_LINE) -> int:
    """Bytes of message text that fit one line ``MSG <target> <text>\\r\\n``."""
    return max_line - len(f"MSG {target} ".encode()) - 2


def _cut(text: str, max_bytes: int) -> int:
    """The longest prefix of ``text`` (in characters) whose UTF-8 fits ``max_bytes``,
    never ending inside a character, and not right before a combining mark when that can
    be avoided."""
    fit = len(text.encode("utf-8")[:max_bytes].decode("utf-8", "ignore"))
    cut = fit
    while 1 < cut < len(text) and unicodedata.combining(text[cut]):
        cut -= 1
    return cut if cut > 0 else fit


def _split_line(line: str, max_bytes: int) -> list[str]:
    pieces: list[str] = []
    rest = line
    while len(rest.encode("utf-8")) > max_bytes:
        fit = _cut(rest, max_bytes)
        space = rest.rfind(" ", 0, fit + 1)  # a space right after the fit also breaks
        if space >= 0 and not rest[:space].strip(" "):
            rest = rest.lstrip(" ")  # only leading blanks before the break: drop them
            continue
        if space > 0:
            head, rest = rest[:space], rest[space + 1 :]
        else:  # no space to break at: cut the word (at a character boundary)
            head, rest = rest[:fit], rest[fit:]
        head = head.rstrip(" ")
        if head.strip():  # a piece of nothing but blanks is not worth a message
            pieces.append(head)
        rest = rest.lstrip(" ")
    if rest.strip():
        pieces.append(rest)
    return pieces


def split_paste(text: str, max_bytes: int) -> list[str]:
    """Messages for ``text``: ``\\r\\n`` and ``\\r`` become ``\\n``, one message per line,
    blank lines (and blank pieces) dropped, and a line longer than ``max_bytes`` (UTF-8)
    split at spaces (inside a word only when the word alone is too long, and never inside
    a character). Every word of the input is in the result, in order."""
    if max_bytes < 4:
        raise ValueError("max_bytes must hold at least one character (4 bytes)")
    out: list[str] = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if line.strip():
            out.extend(_split_line(clean_text(line), max_bytes))
    return out


def needs_confirmation(lines: Sequence[str]) -> bool:
    """The paste guard: more than one message needs the user's confirmation."""
    return len(lines) > 1


# ---------------------------------------------------------------------------------------
# Parsing.


def _target(buffer: str | None) -> str | None:
    """Where plain text goes from ``buffer``: a channel, a nick, or nowhere."""
    if buffer is None:
        return None
    if is_channel(buffer):
        return buffer if is_valid_channel(buffer) else None
    return buffer if is_valid_nick(buffer) else None


def _channel_of(buffer: str | None) -> str | None:
    return buffer if buffer is not None and is_valid_channel(buffer) else None


def _usage(name: str, why: str = "") -> LocalError:
    cmd = _BY_NAME[name]
    prefix = f"{why}; " if why else ""
    return LocalError(f"{prefix}usage: {cmd.syntax} ({cmd.summary})")


def _bad_channel(name: str) -> LocalError:
    return LocalError(
        f"{name} is not a channel name: # and then 1-32 ASCII letters, digits, _ or -"
    )


def _bad_nick(name: str) -> LocalError:
    return LocalError(
        f"{name} is not a nick: 1-16 ASCII letters, digits, _ or -, starting with a letter"
        " (server, system, flack and flackd are reserved)"
    )


def _send(command: c.Command, max_line: int, focus: str | None = None) -> Action:
    line = format_command(command)
    if len(line.encode("utf-8")) + 2 > max_line:
        return LocalError(f"too long: a line may be at most {max_line} bytes")
    return SendCommand(command, focus)


def say(
    target: str, text: str, max_line: int = DEFAULT_MAX_LINE, focus: str | None = None
) -> Action:
    """Send ``text`` to ``target`` as one message, or several when it has several lines
    or is too long for one (split by :func:`split_paste`)."""
    pieces = split_paste(text, max_text_bytes(target, max_line))
    if not pieces:
        return Nothing()
    if len(pieces) == 1:
        return SendCommand(c.Msg(target, pieces[0]), focus)
    return SendMessages(target, tuple(pieces), focus)


def _say_here(buffer: str | None, text: str, max_line: int) -> Action:
    target = _target(buffer)
    if target is None:
        return LocalError("this buffer has no one to talk to: /join #channel, or /msg nick text")
    return say(target, text, max_line)


def parse(
    text: str,
    current_buffer: str | None,
    max_line: int = DEFAULT_MAX_LINE,
    *,
    protocol: str = "1.2",
) -> Action:
    """What to do with one submitted input in ``current_buffer``.

    Plain text is a message to the buffer (split into several when it has several lines
    or is too long); ``//text`` sends ``/text``; ``/command ...`` is a command, any letter
    case, aliases included. Input with several lines is always messages, never commands.
    ``max_line`` is the server's line limit (``HELLO ... maxline=``); ``protocol`` its
    version (``HELLO ... protocol=``): with "1", ``/me``, ``/edit`` and the history of
    private conversations are local errors; before "1.2", the operators' commands are.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip("\n")
    if not text.strip():
        return Nothing()
    if "\n" in text:
        return _say_here(current_buffer, text, max_line)
    if text.startswith("//"):
        return _say_here(current_buffer, text[1:], max_line)
    if not text.startswith("/"):
        return _say_here(current_buffer, text, max_line)
    head, _, args = text[1:].partition(" ")
    args = clean_text(args.strip(" "))
    cmd = _BY_NAME.get(fold(head))
    if cmd is None:
        shown = head[:32]
        return LocalError(
            f"unknown command /{shown}; /help lists them (//{shown} sends it as text)"
        )
    action = _HANDLERS[cmd.name](args, current_buffer, max_line)
    if protocol == "1":
        action = _version_1(action)
    if protocol in ("1", "1.1") and _needs_operators(action):
        return LocalError(OPERATORS_UNSUPPORTED.format(protocol=protocol))
    return action


def _needs_operators(action: Action) -> bool:
    """Whether ``action`` needs protocol 1.2 (modes, kicks, keys, reasons for deleting)."""
    match action:
        case SendCommand(c.Mode() | c.Kick()) | SendCommand(c.Join(_, str())):
            return True
        case SendCommand(c.Delete(_, reason)) | DeleteLast(_, reason) if reason:
            return True
    return False


def _version_1(action: Action) -> Action:
    """What a version-1 server cannot do becomes a local error."""
    match action:
        case SendCommand(c.Action()):
            return LocalError(ME_UNSUPPORTED)
        case StartEdit():
            return LocalError(EDIT_UNSUPPORTED)
        case LoadOlder(target) | DeleteLast(target) if not is_channel(target):
            return LocalError(DM_HISTORY_UNSUPPORTED)
    return action


def parse_edit(text: str, msg_id: str, max_line: int = DEFAULT_MAX_LINE) -> Action:
    """Enter while editing message ``msg_id``: ``EDIT <id> <text>`` (lines joined by
    spaces; the characters the server refuses replaced)."""
    new = clean_text(" ".join(text.replace("\r", "\n").split("\n")).strip(" "))
    if not new:
        return LocalError("an edit cannot be empty: /delete deletes a message")
    return _send(c.Edit(msg_id, new), max_line)


_Handler = Callable[[str, str | None, int], Action]


def _words(args: str) -> list[str]:
    return args.split()


def _join(args: str, buffer: str | None, max_line: int) -> Action:
    words = _words(args)
    if not 1 <= len(words) <= 2:
        return _usage("join", "too many parameters" if words else "")
    name = words[0] if words[0].startswith("#") else "#" + words[0]
    if not is_valid_channel(name):
        return _bad_channel(words[0])
    key = words[1] if len(words) == 2 else None
    if key is not None and key.startswith("#"):
        return _usage("join", "one channel at a time (a key cannot start with # here)")
    if key is not None and not is_valid_key(key):
        return _usage("join", "a key is 1-32 printable ASCII characters, no spaces or commas")
    return _send(c.Join(name, key), max_line, focus=name)


def _part(args: str, buffer: str | None, max_line: int) -> Action:
    first, _, rest = args.partition(" ")
    if first.startswith("#"):
        if not is_valid_channel(first):
            return _bad_channel(first)
        return _send(c.Part(first, rest.strip(" ")), max_line)
    target = _target(buffer)
    if target is None:
        return _usage("part", "this is not a channel")
    if not is_channel(target):
        return CloseBuffer(target)
    return _send(c.Part(target, args), max_line)


def _msg(args: str, buffer: str | None, max_line: int) -> Action:
    target, _, text = args.partition(" ")
    text = text.lstrip(" ")
    if not target or not text.strip():
        return _usage("msg")
    if is_channel(target):
        if not is_valid_channel(target):
            return _bad_channel(target)
        return say(target, text, max_line)
    if not is_valid_nick(target):
        return _bad_nick(target)
    return say(target, text, max_line, focus=target)


def _query(args: str, buffer: str | None, max_line: int) -> Action:
    nick, _, text = args.partition(" ")
    if not nick:
        return _usage("query")
    if not is_valid_nick(nick):
        return _bad_nick(nick)
    if text.strip():
        return say(nick, text.lstrip(" "), max_line, focus=nick)
    return OpenBuffer(nick)


def _reply(args: str, buffer: str | None, max_line: int) -> Action:
    if not args.strip():
        return _usage("reply")
    return Reply(args)


def _me(args: str, buffer: str | None, max_line: int) -> Action:
    if not args.strip():
        return _usage("me")
    target = _target(buffer)
    if target is None:
        return LocalError("this buffer has no one to talk to: /join #channel, or /msg nick text")
    return _send(c.Action(target, args), max_line)


def _nick(args: str, buffer: str | None, max_line: int) -> Action:
    words = _words(args)
    if len(words) != 1:
        return _usage("nick", "too many parameters" if words else "")
    if not is_valid_nick(words[0]):
        return _bad_nick(words[0])
    return _send(c.Nick(words[0]), max_line)


def _list(args: str, buffer: str | None, max_line: int) -> Action:
    if args:
        return _usage("list", "/list takes no parameters")
    return _send(c.ListChannels(), max_line)


def _names(args: str, buffer: str | None, max_line: int) -> Action:
    words = _words(args)
    if len(words) > 1:
        return _usage("names", "too many parameters")
    channel = words[0] if words else _channel_of(buffer)
    if channel is None:
        return _usage("names", "this is not a channel")
    if not is_valid_channel(channel):
        return _bad_channel(channel)
    return _send(c.Names(channel), max_line)


def _topic(args: str, buffer: str | None, max_line: int) -> Action:
    first, _, rest = args.partition(" ")
    if first and is_valid_channel(first):
        channel, text = first, rest.strip(" ")
    else:
        here = _channel_of(buffer)
        if here is None:
            return _usage("topic", "this is not a channel")
        channel, text = here, args
    return _send(c.Topic(channel, text or None), max_line)


def _invite(args: str, buffer: str | None, max_line: int) -> Action:
    words = _words(args)
    if not words or len(words) > 2:
        return _usage("invite", "give a nick, and a channel if this is not one")
    channel = words[1] if len(words) == 2 else _channel_of(buffer)
    if channel is None:
        return _usage("invite", "this is not a channel")
    if not is_valid_channel(channel):
        return _bad_channel(channel)
    return _send(c.Invite(words[0], channel), max_line)


def _channel_and_rest(args: str, buffer: str | None, name: str) -> tuple[str, str] | LocalError:
    """``#channel rest`` or, in a channel's buffer, ``rest`` for that channel."""
    first, _, rest = args.partition(" ")
    if first.startswith("#"):
        return (first, rest.strip(" ")) if is_valid_channel(first) else _bad_channel(first)
    here = _channel_of(buffer)
    return (here, args) if here is not None else _usage(name, "this is not a channel")


def _mode_command(channel: str, words: list[str], max_line: int) -> Action:
    """``MODE <channel> <words>``, the words checked as the server reads them."""
    try:
        changes = parse_changes(words)
    except ModeError as err:
        return _usage("mode", str(err))
    if len(changes) > MAX_CHANGES:
        return _usage("mode", f"at most {MAX_CHANGES} changes at once")
    return _send(c.Mode(channel, tuple(words)), max_line)


def _mode(args: str, buffer: str | None, max_line: int) -> Action:
    found = _channel_and_rest(args, buffer, "mode")
    if isinstance(found, LocalError):
        return found
    channel, rest = found
    return _mode_command(channel, _words(rest), max_line)


def _kick(args: str, buffer: str | None, max_line: int) -> Action:
    found = _channel_and_rest(args, buffer, "kick")
    if isinstance(found, LocalError):
        return found
    channel, rest = found
    nick, _, reason = rest.partition(" ")
    if not nick:
        return _usage("kick")
    if not is_valid_nick(nick):
        return _bad_nick(nick)
    return _send(c.Kick(channel, nick, reason.strip(" ")), max_line)


def _member_mode(sign: str, letter: str, name: str) -> _Handler:
    """``/op bob carol`` and the like: ``MODE <this channel> +oo bob carol``."""

    def handler(args: str, buffer: str | None, max_line: int) -> Action:
        channel = _channel_of(buffer)
        nicks = _words(args)
        if channel is None:
            return _usage(name, "this is not a channel")
        if not 1 <= len(nicks) <= MAX_CHANGES:
            return _usage(name, f"give 1 to {MAX_CHANGES} nicks" if nicks else "")
        bad = next((nick for nick in nicks if not is_valid_nick(nick)), None)
        if bad is not None:
            return _bad_nick(bad)
        return _send(c.Mode(channel, (sign + letter * len(nicks), *nicks)), max_line)

    return handler


def _ban_mode(sign: str, name: str) -> _Handler:
    """``/ban mask`` (``/ban`` alone lists the bans) and ``/unban mask``."""

    def handler(args: str, buffer: str | None, max_line: int) -> Action:
        channel = _channel_of(buffer)
        masks = _words(args)
        if channel is None:
            return _usage(name, "this is not a channel")
        if not masks and sign == "+":
            return _send(c.Mode(channel, ("+b",)), max_line)
        if len(masks) != 1:
            return _usage(name, "one mask at a time" if masks else "")
        if normalise_mask(masks[0]) is None:
            return _usage(name, f"{masks[0]} is not a mask: nick, or nick!user@host")
        return _send(c.Mode(channel, (sign + "b", masks[0])), max_line)

    return handler


def _history(args: str, buffer: str | None, max_line: int) -> Action:
    channel = _target(buffer)
    if channel is None:
        return _usage("history", "only channels and private conversations keep history")
    words = _words(args)
    if not words:
        return LoadOlder(channel)
    if len(words) > 1:
        return _usage("history", "too many parameters")
    word = words[0]
    if not (word.isascii() and word.isdigit() and len(word) <= 6 and 1 <= int(word) <= MAX_COUNT):
        return _usage("history", f"n must be a number from 1 to {MAX_COUNT}")
    return LoadOlder(channel, int(word))


def _delete(args: str, buffer: str | None, max_line: int) -> Action:
    first, _, rest = args.partition(" ")
    if first and parse_id(first) is not None:
        return _send(c.Delete(first, rest.strip(" ")), max_line)
    channel = _target(buffer)
    if channel is None:
        return _usage("delete", "this buffer has no messages of yours")
    return DeleteLast(channel, args)


def _edit(args: str, buffer: str | None, max_line: int) -> Action:
    words = _words(args)
    if len(words) > 1:
        return _usage("edit", "too many parameters")
    if words and parse_id(words[0]) is None:
        return _usage("edit", f"{words[0]} is not a message id (like 1795507200000-42)")
    target = _target(buffer)
    if target is None and not words:
        return _usage("edit", "this buffer has no messages of yours")
    return StartEdit(target, words[0] if words else None)


def _read(args: str, buffer: str | None, max_line: int) -> Action:
    if not args:
        return MarkRead()
    if fold(args) == "-all":
        return MarkRead(all_buffers=True)
    return _usage("read")


def _clear(args: str, buffer: str | None, max_line: int) -> Action:
    return _usage("clear", "/clear takes no parameters") if args else ClearBuffer()


def _reconnect(args: str, buffer: str | None, max_line: int) -> Action:
    return _usage("reconnect", "/reconnect takes no parameters") if args else Reconnect()


_SERVER: Final = re.compile(r"(?:[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])(?::([0-9]{1,5}))?")


def _connect(args: str, buffer: str | None, max_line: int) -> Action:
    words = _words(args)
    if len(words) != 1:
        return _usage("connect", "too many parameters" if words else "")
    match = _SERVER.fullmatch(words[0])
    if match is None or (match[1] is not None and not 1 <= int(match[1]) <= 65535):
        return _usage("connect", f"{words[0]} is not host or host:port")
    return Connect(words[0])


def _raw(args: str, buffer: str | None, max_line: int) -> Action:
    if not args:
        return _usage("raw")
    if len(args.encode("utf-8")) + 2 > max_line:
        return LocalError(f"too long: a line may be at most {max_line} bytes")
    return Raw(args)


def _log(args: str, buffer: str | None, max_line: int) -> Action:
    word = fold(args)
    if word in ("on", "off"):
        return SetLogging(word == "on")
    return _usage("log")


def _help(args: str, buffer: str | None, max_line: int) -> Action:
    words = _words(args)
    if not words:
        return ShowHelp()
    if len(words) > 1:
        return _usage("help", "too many parameters")
    cmd = lookup(words[0])
    if cmd is None:
        return LocalError(f"no command /{words[0].removeprefix('/')}; /help lists them")
    return ShowHelp(cmd.name)


def _quit(args: str, buffer: str | None, max_line: int) -> Action:
    if len(format_command(c.Quit(args)).encode("utf-8")) + 2 > max_line:
        return LocalError(f"too long: a line may be at most {max_line} bytes")
    return Quit(args or None)


_HANDLERS: Final[dict[str, _Handler]] = {
    "join": _join,
    "part": _part,
    "msg": _msg,
    "query": _query,
    "reply": _reply,
    "me": _me,
    "nick": _nick,
    "list": _list,
    "names": _names,
    "topic": _topic,
    "invite": _invite,
    "mode": _mode,
    "kick": _kick,
    "op": _member_mode("+", "o", "op"),
    "deop": _member_mode("-", "o", "deop"),
    "voice": _member_mode("+", "v", "voice"),
    "devoice": _member_mode("-", "v", "devoice"),
    "ban": _ban_mode("+", "ban"),
    "unban": _ban_mode("-", "unban"),
    "history": _history,
    "delete": _delete,
    "edit": _edit,
    "read": _read,
    "clear": _clear,
    "reconnect": _reconnect,
    "connect": _connect,
    "raw": _raw,
    "log": _log,
    "help": _help,
    "quit": _quit,
}

# ---------------------------------------------------------------------------------------
# Completion.

_NICK_ARG_COMMANDS: Final = frozenset(
    {"msg", "query", "kick", "op", "deop", "voice", "devoice", "ban", "unban"}
)


def current_word(text_before_cursor: str) -> str:
    """The word being completed: everything after the last space."""
    return text_before_cursor.rpartition(" ")[2]


def _unique(items: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for item in items:
        if item and fold(item) not in seen:
            seen.add(fold(item))
            out.append(item)
    return out


def complete(
    text_before_cursor: str,
    nicks_by_recency: Iterable[str],
    channels: Iterable[str],
    commands: Iterable[str] = COMMAND_NAMES,
    *,
    me: str | None = None,
) -> list[str]:
    """Replacements for :func:`current_word`, best first (Tab cycles through them).

    - ``/jo`` at the start of the line: commands (``"/join "``);
    - ``#d`` anywhere: channels in the order given (``"#dev "``);
    - after ``/help ``: command names;
    - otherwise nicks, last speaker first as given, matched ignoring case, my own nick
      (``me``) left out: ``"alice: "`` at the start of the line, ``"alice "`` elsewhere
      (also after ``/msg`` and ``/query``); a leading ``@`` is kept.
    An empty word completes nothing.
    """
    word = current_word(text_before_cursor)
    before = text_before_cursor[: len(text_before_cursor) - len(word)]
    if not word:
        return []
    at_start = not before.strip(" ")
    if word.startswith("/") and at_start:
        prefix = fold(word[1:])
        names = _unique("/" + name.removeprefix("/") for name in commands)
        return [name + " " for name in names if fold(name[1:]).startswith(prefix)]
    if word.startswith("#"):
        prefix = fold(word)
        return [name + " " for name in _unique(channels) if fold(name).startswith(prefix)]
    before_words = before.split()
    if len(before_words) == 1 and before_words[0].startswith("/"):
        cmd = lookup(before_words[0])
        if cmd is not None and cmd.name == "help":
            prefix = fold(word.removeprefix("/"))
            return [
                name.removeprefix("/") + " "
                for name in _unique(commands)
                if fold(name.removeprefix("/")).startswith(prefix)
            ]
        if cmd is not None and cmd.name in _NICK_ARG_COMMANDS:
            at_start = False
    at = "@" if word.startswith("@") else ""
    prefix = fold(word[len(at) :])
    mine = fold(me) if me else None
    suffix = ": " if at_start and not at else " "
    return [
        at + nick + suffix
        for nick in _unique(nicks_by_recency)
        if fold(nick).startswith(prefix) and fold(nick) != mine
    ]

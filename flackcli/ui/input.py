"""Pure input handling for the full-screen client: one submitted input as an action.

Owns: turning one submitted input into a typed, frozen :data:`Action` (:func:`parse`):
what each slash command does, checked before anything is sent. It re-exports, as the one
module the shell imports for input, the pieces it is built from: the actions
(:mod:`flackcli.ui.intents`), the slash-command table and completion
(:mod:`flackcli.ui.slash`), and cleaning and splitting text (:mod:`flackcli.ui.paste`). The channel
operators' commands (protocol 1.2: ``/mode``, ``/kick``, ``/op``, ``/deop``, ``/voice``,
``/devoice``, ``/ban``, ``/unban``, and ``/join`` with a key) are checked here with
``flackd.codec.modes`` before they become ``MODE`` and ``KICK`` commands, so a typo is a
local error, not a round trip; the server operators' (protocol 1.3) are
:mod:`flackcli.ui.opers`'.

Must not import anything but the standard library, ``flackd.codec``, ``flackcli.notices``
and those three: never trio, never prompt_toolkit, nothing else from flackd. Nothing
here performs an action; the caller (``ui.app`` and its runner) carries actions out.

Buffers are named as in ``ui.view``: a ``#channel``, a nick for a private conversation, and
anything else (``server``, None) for the server buffer, where plain text has no target.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from flackcli.ui.intents import (
    DEFAULT_MAX_LINE,
    DM_HISTORY_UNSUPPORTED,
    EDIT_UNSUPPORTED,
    ME_UNSUPPORTED,
    OPERATORS_UNSUPPORTED,
    SERVER_OPERATORS_UNSUPPORTED,
    Action,
    ClearBuffer,
    CloseBuffer,
    Connect,
    DeleteLast,
    LoadOlder,
    LocalError,
    MarkRead,
    Nothing,
    OpenBuffer,
    Quit,
    Raw,
    Reconnect,
    Reply,
    SendCommand,
    SendMessages,
    SetLogging,
    ShowHelp,
    StartEdit,
    UserModes,
)
from flackcli.ui.opers import kill, needs_server_operators, oper, umode, wallops
from flackcli.ui.paste import (
    clean_text,
    max_text_bytes,
    needs_confirmation,
    split_paste,
)
from flackcli.ui.slash import (
    COMMAND_NAMES,
    SLASH_COMMANDS,
    SlashCommand,
    complete,
    current_word,
    help_lines,
    lookup,
)
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
    "SERVER_OPERATORS_UNSUPPORTED",
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
    "UserModes",
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
    cmd = lookup(name)
    assert cmd is not None
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
    protocol: str = "1.3",
) -> Action:
    """What to do with one submitted input in ``current_buffer``.

    Plain text is a message to the buffer (split into several when it has several lines
    or is too long); ``//text`` sends ``/text``; ``/command ...`` is a command, any letter
    case, aliases included. Input with several lines is always messages, never commands.
    ``max_line`` is the server's line limit (``HELLO ... maxline=``); ``protocol`` its
    version (``HELLO ... protocol=``): with "1", ``/me``, ``/edit`` and the history of
    private conversations are local errors; before "1.2", the operators' commands are;
    before "1.3", the server operators' commands and ``/umode`` are.
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
    cmd = lookup(head)
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
    if protocol in ("1", "1.1", "1.2") and needs_server_operators(action):
        return LocalError(SERVER_OPERATORS_UNSUPPORTED.format(protocol=protocol))
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
    if not words:  # the channels you are invited to
        return _send(c.Invites(), max_line)
    if len(words) > 2:
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
    "oper": oper,
    "kill": kill,
    "wallops": wallops,
    "umode": umode,
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

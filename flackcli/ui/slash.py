"""The slash commands: their table (names, aliases, syntax, help) and Tab completion.

Owns: :data:`SLASH_COMMANDS`, :func:`lookup`, :func:`help_lines`, :data:`COMMAND_NAMES`,
and completion candidates for nicks, ``#channels`` and ``/commands`` (:func:`complete`).
What a command does is :mod:`flackcli.ui.input`'s. Must not import anything but the
standard library and ``flackd.codec``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from flackd.codec.text import fold

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
    SlashCommand("invite", (), "/invite [<nick> [#channel]]",
                 "ask someone to join this channel (or #channel); alone: the channels "
                 "you are invited to"),
    SlashCommand("mode", (), "/mode [#channel] [+|-modes [params]]",
                 "show the channel's modes, or change them (operators): /mode +m, "
                 "/mode +o bob, /mode +b lists bans (+e ban exceptions, +I invite "
                 "exceptions), /mode +C refuses CTCP"),
    SlashCommand("kick", (), "/kick [#channel] <nick> [reason]",
                 "put someone out of this channel (operators)"),
    SlashCommand("oper", (), "/oper <name> <password>",
                 "become a server operator with the credentials the server's administrator "
                 "gave you"),
    SlashCommand("kill", (), "/kill <nick> [reason]",
                 "end someone's session (server operators)"),
    SlashCommand("wallops", (), "/wallops <text>",
                 "a message to everyone with user mode +w (server operators)"),
    SlashCommand("umode", (), "/umode [+|-Bw]",
                 "show or change your user modes: B you are a bot, w get WALLOPS, "
                 "-o stop being a server operator"),
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
# Completion.

_NICK_ARG_COMMANDS: Final = frozenset(
    {"msg", "query", "kick", "kill", "op", "deop", "voice", "devoice", "ban", "unban"}
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

"""Grammar: client lines <-> typed commands, and the verb table.

Owns: the verb table (syntax, example, help text, whether a verb works before NICK, its
flood cost), parsing client lines into :mod:`commands` and formatting them back, and the
usage errors of malformed commands (the codes themselves and :class:`ProtocolError` are
:mod:`flackd.codec.errors`'). Server lines (:mod:`events`) are formatted and
parsed in :mod:`flackd.codec.lines`. Must not import anything outside the standard library.

Rules:

1. The first word is the verb, in any letter case; one leading ``/`` is ignored.
2. Parameters are separated by spaces. A command's last free-text parameter takes the rest
   of the line (so ``MSG #c hello there`` needs no ``:``; a ``:`` typed there is text).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, assert_never

from flackd.codec import commands as c
from flackd.codec.errors import ProtocolError
from flackd.codec.ids import parse_id
from flackd.codec.text import ascii_upper

__all__ = [
    "MAX_COUNT",
    "VERBS",
    "Verb",
    "format_command",
    "is_ctcp_verb",
    "parse_command",
    "usage_error",
]

#: The largest count a HISTORY command may ask for before the server clamps it.
MAX_COUNT: Final = 10_000


@dataclass(frozen=True, slots=True)
class Verb:
    """One row of the verb table."""

    name: str
    syntax: str
    example: str
    summary: str
    before_registration: bool
    cost: int
    parse: Callable[[str], c.Command]
    aliases: tuple[str, ...] = ()


def usage_error(verb: str, code: str = "NEED_MORE_PARAMS", why: str = "") -> ProtocolError:
    """The error for a malformed command: its syntax and one example."""
    row = VERBS[verb]
    prefix = f"{why}; " if why else ""
    return ProtocolError(code, verb, f"{prefix}usage: {row.syntax}  (example: {row.example})")


def _words(args: str) -> list[str]:
    """Space-separated words (only U+0020 separates; TAB and other spaces are characters)."""
    return [word for word in args.split(" ") if word]


def _rest_after(args: str, n: int) -> tuple[list[str], str]:
    """The first ``n`` space-separated words, and the rest of the line after one space."""
    words: list[str] = []
    rest = args
    for _ in range(n):
        rest = rest.lstrip(" ")
        if not rest:
            break
        word, _, rest = rest.partition(" ")
        words.append(word)
    return words, rest


def _exactly(verb: str, args: str, n: int) -> list[str]:
    words = _words(args)
    if len(words) < n:
        raise usage_error(verb)
    if len(words) > n:
        raise usage_error(verb, "INVALID_PARAMS", "too many parameters")
    return words


def _parse_nick(args: str) -> c.Command:
    return c.Nick(_exactly("NICK", args, 1)[0])


def _parse_pass(args: str) -> c.Command:
    password = args.strip(" ")
    if not password:
        raise usage_error("PASS")
    return c.Pass(password)


def _parse_resume(args: str) -> c.Command:
    return c.Resume(_exactly("RESUME", args, 1)[0])


def _parse_join(args: str) -> c.Command:
    words = _words(args)
    if not words:
        raise usage_error("JOIN")
    if len(words) > 2:
        raise usage_error("JOIN", "INVALID_PARAMS", "too many parameters")
    return c.Join(words[0], words[1] if len(words) == 2 else None)


def _parse_mode(args: str) -> c.Command:
    words = _words(args)
    if not words:
        raise usage_error("MODE")
    return c.Mode(words[0], tuple(words[1:]))


def _parse_kick(args: str) -> c.Command:
    words, reason = _rest_after(args, 2)
    if len(words) < 2:
        raise usage_error("KICK")
    return c.Kick(words[0], words[1], reason)


def _parse_oper(args: str) -> c.Command:
    name, password = _exactly("OPER", args, 2)
    return c.Oper(name, password)


def _parse_kill(args: str) -> c.Command:
    words, reason = _rest_after(args, 1)
    if not words:
        raise usage_error("KILL")
    return c.Kill(words[0], reason.strip(" "))


def _parse_wallops(args: str) -> c.Command:
    text = args.strip(" ")
    if not text:
        raise usage_error("WALLOPS")
    return c.Wallops(text)


def _parse_create(args: str) -> c.Command:
    return c.Create(_exactly("CREATE", args, 1)[0])


def _parse_invite(args: str) -> c.Command:
    if not _words(args):
        return c.Invites()
    nick, channel = _exactly("INVITE", args, 2)
    return c.Invite(nick, channel)


#: A CTCP verb: what IRC clients send (``VERSION``, ``PING``, ``CLIENTINFO``...).
_CTCP_VERB: Final = re.compile(r"[A-Za-z0-9_-]{1,32}")


def is_ctcp_verb(word: str) -> bool:
    """A CTCP verb Flack's CTCP takes: 1-32 ASCII letters, digits, ``_`` or ``-``."""
    return _CTCP_VERB.fullmatch(word) is not None


def _parse_ctcp(args: str) -> c.Command:
    words, text = _rest_after(args, 2)
    if len(words) < 2:
        raise usage_error("CTCP")
    verb = ascii_upper(words[1])
    if not is_ctcp_verb(verb):
        raise usage_error("CTCP", "INVALID_PARAMS", "a CTCP verb is 1-32 letters and digits")
    if verb == "ACTION":
        raise usage_error("CTCP", "INVALID_PARAMS", "an action is ACTION <#channel|nick> <text>")
    return c.Ctcp(words[0], verb, text)


def _parse_part(args: str) -> c.Command:
    words, reason = _rest_after(args, 1)
    if not words:
        raise usage_error("PART")
    return c.Part(words[0], reason)


def _parse_msg(args: str) -> c.Command:
    words, text = _rest_after(args, 1)
    if not words or not text:
        raise usage_error("MSG")
    return c.Msg(words[0], text)


def _parse_list(args: str) -> c.Command:
    words = _words(args)
    if not words:
        return c.ListChannels()
    if len(words) == 2 and ascii_upper(words[0]) == "AFTER":
        return c.ListChannels(words[1])
    raise usage_error("LIST", "INVALID_PARAMS", "LIST takes nothing, or AFTER <#channel>")


def _parse_names(args: str) -> c.Command:
    return c.Names(_exactly("NAMES", args, 1)[0])


def _parse_topic(args: str) -> c.Command:
    words, text = _rest_after(args, 1)
    if not words:
        raise usage_error("TOPIC")
    return c.Topic(words[0], text or None)


def _parse_count(verb: str, word: str) -> int:
    if (
        not word.isascii()
        or not word.isdigit()
        or len(word) > len(str(MAX_COUNT))
        or not 1 <= int(word) <= MAX_COUNT
    ):
        raise usage_error(verb, "INVALID_PARAMS", f"count must be a number from 1 to {MAX_COUNT}")
    return int(word)


def _parse_history(args: str) -> c.Command:
    words = _words(args)
    if not words:
        raise usage_error("HISTORY")
    channel, rest = words[0], words[1:]
    before = after = None
    cursor = ascii_upper(rest[0]) if rest else ""
    if cursor in ("BEFORE", "AFTER"):
        if len(rest) < 2:
            raise usage_error("HISTORY", why=f"{cursor} needs a message id")
        if parse_id(rest[1]) is None:
            raise usage_error("HISTORY", "INVALID_PARAMS", "that is not a message id")
        if cursor == "BEFORE":
            before = rest[1]
        else:
            after = rest[1]
        rest = rest[2:]
    if len(rest) > 1:
        raise usage_error("HISTORY", "INVALID_PARAMS", "too many parameters")
    count = _parse_count("HISTORY", rest[0]) if rest else None
    return c.History(channel, before=before, after=after, count=count)


def _parse_delete(args: str) -> c.Command:
    words, reason = _rest_after(args, 1)
    if not words:
        raise usage_error("DELETE")
    if parse_id(words[0]) is None:
        raise usage_error("DELETE", "INVALID_PARAMS", "that is not a message id")
    return c.Delete(words[0], reason)


def _parse_edit(args: str) -> c.Command:
    words, text = _rest_after(args, 1)
    if not words or not text:
        raise usage_error("EDIT")
    if parse_id(words[0]) is None:
        raise usage_error("EDIT", "INVALID_PARAMS", "that is not a message id")
    return c.Edit(words[0], text)


def _parse_action(args: str) -> c.Command:
    words, text = _rest_after(args, 1)
    if not words or not text:
        raise usage_error("ACTION")
    return c.Action(words[0], text)


def _parse_notice(args: str) -> c.Command:
    words, text = _rest_after(args, 1)
    if not words or not text:
        raise usage_error("NOTICE")
    return c.Notice(words[0], text)


def _parse_mark(args: str) -> c.Command:
    target, word = _exactly("MARK", args, 2)
    if parse_id(word) is None:
        raise usage_error("MARK", "INVALID_PARAMS", "that is not a message id")
    return c.Mark(target, word)


def _parse_unread(args: str) -> c.Command:
    word = _optional_word("UNREAD", args)
    if word is None:
        return c.Unread()
    if word.upper() != "ALL":
        raise usage_error("UNREAD", "INVALID_PARAMS", "the only word UNREAD takes is ALL")
    return c.Unread(every=True)


def _optional_word(verb: str, args: str) -> str | None:
    words = _words(args)
    if len(words) > 1:
        raise usage_error(verb, "INVALID_PARAMS", "too many parameters")
    return words[0] if words else None


def _parse_ping(args: str) -> c.Command:
    return c.Ping(_optional_word("PING", args))


def _parse_pong(args: str) -> c.Command:
    return c.Pong(_optional_word("PONG", args))


def _parse_quit(args: str) -> c.Command:
    return c.Quit(args.strip(" "))


def _parse_help(args: str) -> c.Command:
    topic = _optional_word("HELP", args)
    return c.Help(ascii_upper(topic.lstrip("/")) if topic else None)


_TABLE: Final = (
    Verb("NICK", "NICK <nick>", "NICK alice",
         "take a nick (registers you) or change it; the reply holds your resume token",
         True, 1, _parse_nick),
    Verb("PASS", "PASS <password>", "PASS correct-horse-battery",
         "give the server's password, before NICK or RESUME (only a server started with "
         "--password-file asks for one: its HELLO says password=required)",
         True, 1, _parse_pass),
    Verb("RESUME", "RESUME <token>", "RESUME 3q2m0fQ1bW8yZ4nKx7Lr5A",
         "come back as yourself: your nick and channels, and the channel you were last in",
         True, 1, _parse_resume),
    Verb("JOIN", "JOIN <#channel> [key]", "JOIN #general",
         "join a channel (creating it if needed; you are then its operator): shows its "
         "topic, members and recent messages; the key if it has one (+k)",
         False, 1, _parse_join),
    Verb("CREATE", "CREATE <#channel>", "CREATE #release-planning",
         "create a new channel and join it; refused if the name is taken", False, 1,
         _parse_create),
    Verb("PART", "PART <#channel> [reason]", "PART #general see you tomorrow",
         "leave a channel", False, 1, _parse_part),
    Verb("INVITE", "INVITE [<nick> <#channel>]", "INVITE bob #release",
         "ask someone connected to join a channel you are in; they get NOTE INVITED "
         "(no parameters: the channels you are invited to)", False,
         1, _parse_invite),
    Verb("MODE", "MODE <#channel|your nick> [+|-modes [params...]]", "MODE #release +o bob",
         "show a channel's modes, list its bans (MODE #c +b), or change them (operators): "
         "o/v op and voice a member, i invite only, k key, l limit, m moderated, "
         "s secret, t topic by operators, b ban a nick!user@host mask; MODE <your nick> "
         "[+|-Bw]: your user modes (B bot, w get WALLOPS, -o stop being a server operator)",
         False, 1, _parse_mode),
    Verb("KICK", "KICK <#channel> <nick> [reason]", "KICK #general spammer stop that",
         "put a member out of a channel (operators); they may JOIN again unless banned",
         False, 1, _parse_kick),
    Verb("OPER", "OPER <name> <password>", "OPER admin correct-horse-battery",
         "become a server operator (user mode +o) with credentials the server's "
         "administrator gave you", False, 5, _parse_oper),
    Verb("KILL", "KILL <nick> [reason]", "KILL spammer flooding #general",
         "end someone's session (server operators); they cannot RESUME it", False, 1,
         _parse_kill),
    Verb("WALLOPS", "WALLOPS <text>", "WALLOPS restarting at 18:00 UTC",
         "a message to everyone with user mode +w, and to you (server operators)", False, 3,
         _parse_wallops),
    Verb("MSG", "MSG <#channel|nick> <text>", "MSG #general hello everyone",
         "send a message to a channel you are in, or privately to a nick", False, 1,
         _parse_msg),
    Verb("LIST", "LIST [AFTER <#channel>]", "LIST AFTER #general",
         "list channels with member counts and topics, in name order; AFTER pages on",
         False, 3, _parse_list),
    Verb("NAMES", "NAMES <#channel>", "NAMES #general", "list who is in a channel",
         False, 3, _parse_names, aliases=("WHO",)),
    Verb("TOPIC", "TOPIC <#channel> [text]", "TOPIC #general release planning",
         "show a channel's topic, or set it (members; operators when +t)", False, 1, _parse_topic),
    Verb("ACTION", "ACTION <#channel|nick> <text>", "ACTION #general waves",
         "an action, shown as '* alice waves' (like /me); an action is a message", False, 1,
         _parse_action, aliases=("ME",)),
    Verb("NOTICE", "NOTICE <#channel|nick> <text>", "NOTICE #builds nightly build passed",
         "a notice: a message that programs must not answer automatically (bots, alerts)",
         False, 1, _parse_notice),
    Verb("CTCP", "CTCP <#channel|nick> <verb> [text]", "CTCP bob VERSION",
         "a client-to-client query (IRC's CTCP: VERSION, PING...), relayed and not kept; "
         "refused by a +C channel", False, 1, _parse_ctcp),
    Verb("HISTORY", "HISTORY <#channel|nick> [BEFORE <id>|AFTER <id>] [count]",
         "HISTORY #general AFTER 1795507200000-41 50",
         "recent messages of a channel, or of your conversation with a nick, oldest first; "
         "BEFORE/AFTER page from a message id", False, 3, _parse_history),
    Verb("DELETE", "DELETE <message-id> [reason]", "DELETE 1795507200000-42",
         "delete one of your own messages (operators: any in their channel)", False, 1,
         _parse_delete),
    Verb("EDIT", "EDIT <message-id> <text>", "EDIT 1795507200000-42 fixed the typo",
         "change the text of one of your own messages; everyone in it sees EDITED", False, 1,
         _parse_edit),
    Verb("MARK", "MARK <#channel|nick> <message-id>", "MARK #general 1795507200000-42",
         "you have read up to that message (markers only move forward)", False, 1,
         _parse_mark),
    Verb("UNREAD", "UNREAD [ALL]", "UNREAD ALL",
         "every conversation with unread messages: counts, mentions, newest id (ALL: "
         "every channel you are in and conversation you have, even with none)", False, 3,
         _parse_unread),
    Verb("PING", "PING [token]", "PING 42", "the server answers PONG with the same token",
         True, 0, _parse_ping),
    Verb("PONG", "PONG [token]", "PONG 42", "answer a PING from the server", True, 0,
         _parse_pong),
    Verb("QUIT", "QUIT [reason]", "QUIT lunch", "say goodbye and disconnect", True, 0,
         _parse_quit),
    Verb("HELP", "HELP [command]", "HELP HISTORY", "list commands, or explain one", True, 1,
         _parse_help),
)  # fmt: skip

#: The verb table, by upper-case verb and alias.
VERBS: Final[dict[str, Verb]] = {name: row for row in _TABLE for name in (row.name, *row.aliases)}


def split_verb(line: str) -> tuple[str, str]:
    """The upper-case verb (without a leading ``/``) and the raw argument string."""
    stripped = line.lstrip(" ")
    word, _, args = stripped.partition(" ")
    if word.startswith("/"):
        word = word[1:]
    return ascii_upper(word), args


def parse_command(line: str) -> tuple[Verb, c.Command]:
    """Parse one decoded client line. Raises :class:`ProtocolError` with the reply."""
    name, args = split_verb(line)
    row = VERBS.get(name)
    if row is None:
        shown = name[:32] if name else "(empty)"
        raise ProtocolError(
            "UNKNOWN_COMMAND", "*", f"unknown command {shown}; type HELP for the list"
        )
    return row, row.parse(args)


def format_command(command: c.Command) -> str:
    """Format a command as a client sends it (used by flackcli and the tests)."""
    match command:
        case c.Nick(nick):
            return f"NICK {nick}"
        case c.Resume(token):
            return f"RESUME {token}"
        case c.Pass(password):
            return f"PASS {password}"
        case c.Join(channel, key):
            return f"JOIN {channel} {key}" if key else f"JOIN {channel}"
        case c.Mode(channel, words):
            return " ".join(("MODE", channel, *words))
        case c.Kick(channel, nick, reason):
            return f"KICK {channel} {nick} {reason}" if reason else f"KICK {channel} {nick}"
        case c.Oper(name, password):
            return f"OPER {name} {password}"
        case c.Kill(nick, reason):
            return f"KILL {nick} {reason}" if reason else f"KILL {nick}"
        case c.Wallops(text):
            return f"WALLOPS {text}"
        case c.Create(channel):
            return f"CREATE {channel}"
        case c.Part(channel, reason):
            return f"PART {channel} {reason}" if reason else f"PART {channel}"
        case c.Invite(nick, channel):
            return f"INVITE {nick} {channel}"
        case c.Invites():
            return "INVITE"
        case c.Ctcp(target, verb, text):
            return f"CTCP {target} {verb} {text}" if text else f"CTCP {target} {verb}"
        case c.Msg(target, text):
            return f"MSG {target} {text}"
        case c.Action(target, text):
            return f"ACTION {target} {text}"
        case c.Notice(target, text):
            return f"NOTICE {target} {text}"
        case c.Edit(msgid, text):
            return f"EDIT {msgid} {text}"
        case c.Mark(target, msgid):
            return f"MARK {target} {msgid}"
        case c.Unread(every):
            return "UNREAD ALL" if every else "UNREAD"
        case c.ListChannels(after):
            return f"LIST AFTER {after}" if after else "LIST"
        case c.Names(channel):
            return f"NAMES {channel}"
        case c.Topic(channel, text):
            return f"TOPIC {channel} {text}" if text else f"TOPIC {channel}"
        case c.History(channel, before, after, count):
            parts = ["HISTORY", channel]
            if before is not None:
                parts += ["BEFORE", before]
            if after is not None:
                parts += ["AFTER", after]
            if count is not None:
                parts.append(str(count))
            return " ".join(parts)
        case c.Delete(msgid, reason):
            return f"DELETE {msgid} {reason}" if reason else f"DELETE {msgid}"
        case c.Ping(token):
            return f"PING {token}" if token else "PING"
        case c.Pong(token):
            return f"PONG {token}" if token else "PONG"
        case c.Quit(reason):
            return f"QUIT {reason}" if reason else "QUIT"
        case c.Help(topic):
            return f"HELP {topic}" if topic else "HELP"
        case _:
            assert_never(command)

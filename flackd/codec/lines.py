"""Server lines: formatting them for the wire and parsing them back, and their sizes.

Owns: :func:`format_event` and :func:`encode_event` (every server line passes
``text.neutralise`` exactly once, here), :func:`parse_event` (what flackcli, bots and the
tests read), and the bounds on what flackd sends (:func:`server_line_limit`,
:data:`MAX_MEMBER_LINE_BYTES`). Client lines are :mod:`flackd.codec.grammar`'s. Must not
import anything outside the standard library.

Server lines put free text last, after `` :``; parameters before it never hold a space.
"""

from __future__ import annotations

from typing import Final

from flackd.codec import events as e
from flackd.codec.framing import CRLF
from flackd.codec.text import is_channel, neutralise

__all__ = [
    "MAX_MEMBER_LINE_BYTES",
    "MAX_SERVER_LINE_BYTES",
    "encode_event",
    "format_event",
    "parse_event",
    "server_line_limit",
]

#: Longest line flackd sends with the default 512-byte client lines, CRLF included.
MAX_SERVER_LINE_BYTES: Final = 1024

#: Bytes of one NAMES body line at most (``MEMBER``, a 16-character nick,
#: ``role=voice``, ``bot=yes`` and ``oper=yes``, CRLF included).
MAX_MEMBER_LINE_BYTES: Final = 53


def server_line_limit(max_line_bytes: int) -> int:
    """The longest line flackd sends when client lines may be ``max_line_bytes`` long.

    Guaranteed by construction: the longest is a message or topic line, whose text came in
    one client line (neutralising can turn a 2-byte C1 character into 3 bytes, so text
    grows by at most half) plus at most 160 bytes of fields.
    """
    return max(MAX_SERVER_LINE_BYTES, max_line_bytes * 3 // 2 + 256)


def format_event(event: e.Event) -> str:
    """One server line as text, without terminator, neutralised for terminals."""
    params, text = event.wire()
    head = " ".join((event.VERB, *params)) if params else event.VERB
    line = head if text is None else f"{head} :{text}"
    return neutralise(line)


def encode_event(event: e.Event) -> bytes:
    """One server line as bytes on the wire, CRLF included."""
    return format_event(event).encode("utf-8") + CRLF


def _int(word: str) -> int:
    if not word.isascii() or not word.isdigit():
        raise ValueError(f"not a number: {word!r}")
    return int(word)


_BLOCK_KINDS: Final = frozenset(
    {"LIST", "NAMES", "HISTORY", "HELP", "UNREAD", "BANS", "EXCEPTS", "INVEXES", "INVITES"}
)


def _flags(words: list[str]) -> dict[str, str]:
    """``key=value`` words (others, and flags this parser does not know, are skipped)."""
    return dict(word.split("=", 1) for word in words if "=" in word)


def parse_event(line: str) -> e.Event:
    """Parse one server line (terminator removed). Raises ValueError when malformed."""
    head, sep, text_part = line.partition(" :")
    text = text_part if sep else None
    verb, *p = head.split(" ")
    t = text or ""

    def need(n: int) -> None:
        if len(p) < n:
            raise ValueError(f"{verb} line needs {n} parameters: {line!r}")

    if verb == "MSG":
        need(4)
        if len(p) == 4:
            return e.Message(p[0], p[1], p[2], p[3], t)
        flags = _flags(p[4:])
        kind = flags.get("kind")
        return e.Message(p[0], p[1], p[2], p[3], t, kind == "action", flags.get("edited"),
                         kind == "notice")  # fmt: skip
    if verb == "EDITED":
        need(4)
        return e.Edited(p[0], p[1], p[2], p[3], t)
    if verb == "COUNT":
        need(4)
        flags = _flags(p[1:])
        return e.UnreadCount(p[0], _int(flags.get("unread", "")),
                             _int(flags.get("mentions", "")), flags.get("newest", ""))  # fmt: skip
    if verb == "OK":
        need(1)
        return e.Ok(p[0], tuple(p[1:]), t)
    if verb == "ERR":
        need(2)
        return e.Error(p[0], p[1], tuple(p[2:]), t)
    if verb == "NOTE":
        need(1)
        return e.Note(p[0], tuple(p[1:]), t)
    if verb == "BYE":
        need(1)
        return e.Bye(p[0], tuple(p[1:]), t)
    if verb == "HELLO":
        need(4)
        flags = _flags(p[4:])
        return e.Hello(p[0], p[1], _int(p[2].removeprefix("maxline=")),
                       _int(p[3].removeprefix("history=")), t, flags.get("protocol", "1"),
                       flags.get("password") == "required")  # fmt: skip
    if verb == "JOIN":
        need(2)
        return e.Joined(p[0], p[1])
    if verb == "PART":
        need(2)
        return e.Parted(p[0], p[1], t)
    if verb == "QUIT":
        need(1)
        return e.Quit(p[0], t)
    if verb == "NICK":
        need(2)
        return e.NickChanged(p[0], p[1])
    if verb == "TOPIC":
        need(3)
        return e.Topic(p[0], p[1], p[2], t)
    if verb == "DELETED":
        need(3)
        return e.Deleted(p[0], p[1], p[2], t)
    if verb == "CHANNEL":
        need(2)
        return e.ChannelEntry(p[0], _int(p[1]), t)
    if verb == "MEMBER":
        need(1)
        flags = _flags(p[1:])
        return e.Member(p[0], flags.get("role", ""), flags.get("bot") == "yes",
                        flags.get("oper") == "yes")  # fmt: skip
    if verb == "MODE":
        need(3)
        return e.ModeChanged(p[0], p[1], tuple(p[2:]))
    if verb == "WALLOPS":
        need(1)
        return e.Wallops(p[0], t)
    if verb == "KICK":
        need(3)
        return e.Kicked(p[0], p[1], p[2], t)
    if verb == "BAN":
        need(3)
        return e.BanEntry(p[0], p[1], p[2])
    if verb == "EXCEPT":
        need(3)
        return e.ExceptEntry(p[0], p[1], p[2])
    if verb == "INVEX":
        need(3)
        return e.InvexEntry(p[0], p[1], p[2])
    if verb == "CTCP":
        need(3)
        return e.Ctcp(p[0], p[1], p[2], t)
    if verb == "INFO":
        return e.Info(t)
    if verb == "END":
        need(1)
        return e.BlockEnd(p[0], tuple(p[1:]))
    if verb == "PING":
        return e.Ping(p[0] if p else None)
    if verb == "PONG":
        return e.Pong(p[0] if p else None)
    if verb in _BLOCK_KINDS:
        need(1)
        _int(p[-1])
        return e.BlockStart(verb, tuple(p))
    raise ValueError(f"unknown server line: {line!r}")


def is_channel_target(target: str) -> bool:
    """Re-exported for readers of the grammar: ``#`` targets are channels."""
    return is_channel(target)

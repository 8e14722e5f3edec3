"""The IRC wire format, sans-IO: one line of text in, one message out, and back.

Owns: parsing a received line (IRCv3 message tags, source, command, parameters) into an
:class:`IrcMessage`, formatting a message into the bytes of one line, tag value escaping,
the line and tag size limits, ASCII case mapping, stripping or keeping mIRC formatting
codes, CTCP framing, and IRCv3 ``server-time`` stamps. Imports only the standard library;
never trio, never the hub.

Rules:

1. Parsing is lenient where clients are sloppy (extra spaces, a missing closing ``\\x01``)
   and strict where the meaning would be guessed: no command, a bad command, or NUL, CR or
   LF in the line raise :class:`IrcParseError`.
2. Formatting trusts the server's own command, source and tag keys, and guards the rest:
   CR, LF and NUL in a parameter become spaces, so nothing can start a second line, and a
   middle parameter that would change the message's shape is a programmer error
   (``ValueError``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

__all__ = [
    "MAX_CLIENT_TAG_BYTES",
    "MAX_LINE_BYTES",
    "MAX_TAG_BYTES",
    "IrcMessage",
    "IrcParseError",
    "ctcp",
    "escape_tag_value",
    "format_message",
    "irc_casefold",
    "parse",
    "parse_ctcp",
    "server_time",
    "split_tags",
    "strip_formatting",
    "unescape_tag_value",
]

#: RFC 1459: source, command and parameters, including the closing CRLF; tags not counted.
MAX_LINE_BYTES: Final = 512
#: IRCv3 message-tags: tag *data* a client may send, excluding the leading '@' and the
#: space after the tags. A :func:`split_tags` tag part (which counts both) from a client may
#: therefore be up to ``MAX_CLIENT_TAG_BYTES + 2`` bytes.
MAX_CLIENT_TAG_BYTES: Final = 4094
#: IRCv3 message-tags: the whole tag part of any line, including the '@' and the space.
MAX_TAG_BYTES: Final = 8191


class IrcParseError(ValueError):
    """A received line is not an IRC message."""


@dataclass(frozen=True, slots=True)
class IrcMessage:
    """One IRC message. ``command`` is upper case (a numeric stays three digits)."""

    tags: dict[str, str] = field(default_factory=dict, kw_only=True)
    source: str | None
    command: str
    params: tuple[str, ...]


_UNESCAPE: Final = {":": ";", "s": " ", "\\": "\\", "r": "\r", "n": "\n"}
_NEEDS_ESCAPE: Final = re.compile("[\\\\; \r\n\x00]")
_FORBIDDEN_IN_LINE: Final = re.compile("[\x00\r\n]")
_TO_SPACE: Final = str.maketrans("\r\n\x00", "   ")
_ASCII_LOWER: Final = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")

# mIRC formatting: bold, italic, underline, strikethrough, monospace, reverse, reset; colour
# \x03 with up to two digits, then a comma and up to two digits only if a digit follows;
# hex colour \x04 likewise with six hex digits. Then every other C0 but TAB, DEL and C1.
_FORMATTING: Final = re.compile(
    "\x03(?:[0-9]{1,2}(?:,[0-9]{1,2})?)?"
    "|\x04(?:[0-9A-Fa-f]{6}(?:,[0-9A-Fa-f]{6})?)?"
    "|[\x00-\x08\x0a-\x1f\x7f-\x9f]"
)
# C0 except TAB and the formatting codes (\x02 \x03 \x04 \x0f \x11 \x16 \x1d \x1e \x1f),
# DEL and C1. Removes \x01 too, so relayed text cannot smuggle in a CTCP.
_ISO_TIME: Final = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2})(?:\.([0-9]+))?Z"
)


def unescape_tag_value(v: str) -> str:
    """Undo IRCv3 tag value escaping; an unknown ``\\x`` is ``x``, a final lone ``\\`` goes."""
    if "\\" not in v:
        return v
    out: list[str] = []
    i, n = 0, len(v)
    while i < n:
        j = v.find("\\", i)
        if j < 0:
            out.append(v[i:])
            break
        out.append(v[i:j])
        if j + 1 == n:
            break
        c = v[j + 1]
        out.append(_UNESCAPE.get(c, c))
        i = j + 2
    return "".join(out)


def escape_tag_value(v: str) -> str:
    """IRCv3 tag value escaping. NUL, which has no escape, is dropped."""
    if _NEEDS_ESCAPE.search(v) is None:
        return v
    return (
        v.replace("\\", "\\\\")
        .replace(";", "\\:")
        .replace(" ", "\\s")
        .replace("\r", "\\r")
        .replace("\n", "\\n")
        .replace("\x00", "")
    )


def _parse_tags(raw: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    for item in raw.split(";"):
        key, _, value = item.partition("=")
        if key:  # an empty item (";;", a trailing ';') is skipped; the last duplicate wins
            tags[key] = unescape_tag_value(value)
    return tags


def parse(line: str) -> IrcMessage:
    """Parse one received line (CRLF already stripped) into an :class:`IrcMessage`."""
    if _FORBIDDEN_IN_LINE.search(line) is not None:
        raise IrcParseError("NUL, CR or LF inside the line")
    rest = line.lstrip(" ")
    tags: dict[str, str] = {}
    if rest.startswith("@"):
        space = rest.find(" ")
        if space < 0:
            raise IrcParseError("tags but no command")
        tags = _parse_tags(rest[1:space])
        rest = rest[space + 1 :].lstrip(" ")
    source: str | None = None
    if rest.startswith(":"):
        space = rest.find(" ")
        if space < 0:
            raise IrcParseError("source but no command")
        source = rest[1:space]
        if not source:
            raise IrcParseError("empty source")
        rest = rest[space + 1 :].lstrip(" ")
    if not rest:
        raise IrcParseError("no command")
    # rest starts with the command, so the first " :" starts the trailing parameter.
    colon = rest.find(" :")
    if colon < 0:
        words = [w for w in rest.split(" ") if w]
    else:
        words = [w for w in rest[:colon].split(" ") if w]
        words.append(rest[colon + 2 :])
    command = words[0]
    if not command.isascii() or not command.isprintable():
        raise IrcParseError(f"bad command {command[:32]!r}")
    # Any other word is a command (an unknown one gets 421 from the command table).
    return IrcMessage(source, command.upper(), tuple(words[1:]), tags=tags)


def _clean(p: str) -> str:
    if "\r" in p or "\n" in p or "\x00" in p:
        return p.translate(_TO_SPACE)
    return p


def format_message(
    command: str,
    params: Sequence[str],
    *,
    source: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> bytes:
    """One line, UTF-8 with CRLF: ``@k=v;k2 :source COMMAND p1 p2 :last``.

    Tag values are escaped here (an empty value is written as the bare key). The last
    parameter gets a ':' when it needs one. No length is checked: that is the caller's.
    """
    if isinstance(params, str):
        raise TypeError("params must be a sequence of parameters, not one string")
    parts: list[str] = []
    if tags:
        parts.append(
            "@" + ";".join([f"{k}={escape_tag_value(v)}" if v else k for k, v in tags.items()])
        )
    if source is not None:
        parts.append(f":{source}")
    parts.append(command)
    if params:
        last = len(params) - 1
        for i in range(last):
            p = _clean(params[i])
            if not p or " " in p or p[0] == ":":
                raise ValueError(f"bad middle parameter {p!r}")
            parts.append(p)
        p = _clean(params[last])
        parts.append(f":{p}" if not p or " " in p or p[0] == ":" else p)
    return (" ".join(parts) + "\r\n").encode()


def split_tags(raw: bytes) -> tuple[int, int]:
    """(tag part bytes, rest bytes) of a received line without its CRLF.

    The tag part runs from a leading '@' through the first space, inclusive; 0 without
    tags. The rest excludes the CRLF, so it fits when ``rest + 2 <= MAX_LINE_BYTES``.
    """
    if not raw.startswith(b"@"):
        return 0, len(raw)
    space = raw.find(b" ")
    tag_part = len(raw) if space < 0 else space + 1
    return tag_part, len(raw) - tag_part


def irc_casefold(s: str) -> str:
    """``ascii`` casemapping: only A-Z become a-z."""
    if s.isascii():
        return s.lower()
    return s.translate(_ASCII_LOWER)


def strip_formatting(text: str) -> str:
    """Remove mIRC formatting codes, then every C0 control but TAB, DEL and C1."""
    if text.isprintable():  # every character removed here is unprintable
        return text
    return _FORMATTING.sub("", text)


def parse_ctcp(text: str) -> tuple[str, str] | None:
    """``(VERB, argument)`` of a CTCP message (the closing ``\\x01`` optional), else None."""
    if not text.startswith("\x01"):
        return None
    body = text[1:-1] if len(text) > 1 and text.endswith("\x01") else text[1:]
    verb, _, arg = body.partition(" ")
    return verb.upper(), arg


def ctcp(verb: str, arg: str) -> str:
    """``\\x01VERB arg\\x01``; no space when ``arg`` is empty."""
    return f"\x01{verb} {arg}\x01" if arg else f"\x01{verb}\x01"


def server_time(iso: str) -> str:
    """A flackd time as IRCv3 ``server-time``: exactly three fraction digits.

    Raises ValueError if ``iso`` is not ``YYYY-MM-DDThh:mm:ss[.fraction]Z``.
    """
    m = _ISO_TIME.fullmatch(iso)
    if m is None:
        raise ValueError(f"not a UTC ISO 8601 time: {iso!r}")
    fraction = m.group(2) or ""
    if len(fraction) == 3:
        return iso
    return f"{m.group(1)}.{(fraction + '000')[:3]}Z"

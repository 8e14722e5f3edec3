"""Every rule about characters: input checks, output neutralising, and names.

Owns: strict per-line UTF-8 decoding, the set of control characters refused on input, the
output neutraliser that keeps terminal control sequences off the wire, the nick and channel
name rules, and the one case-folding function. Must not import anything outside the
standard library.

Design rules:

1. Input is refused, not repaired: a line with invalid UTF-8 or a C0 control other than TAB
   (NUL, CR, ESC, ...) or DEL is answered with an error and dropped.
2. Output is repaired, not refused: anything the server sends passes :func:`neutralise`,
   which replaces C0 (except TAB), DEL, C1 (which includes NEL), bidirectional controls and
   the Unicode line/paragraph separators with U+FFFD. So no escape sequence, no bidi
   spoofing and no second line can ever be smuggled to a netcat user.
3. Names are ASCII, so confusable names cannot exist and folding is plain ASCII lower case.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = [
    "CHANNEL_MAX_CHARS",
    "NICK_MAX_CHARS",
    "REPLACEMENT",
    "RESERVED_NICKS",
    "BadCharacter",
    "InvalidUtf8",
    "ascii_upper",
    "decode_line",
    "fold",
    "is_channel",
    "is_valid_channel",
    "is_valid_nick",
    "neutralise",
]

REPLACEMENT: Final = "\ufffd"
NICK_MAX_CHARS: Final = 16
CHANNEL_MAX_CHARS: Final = 32  # after the '#'
RESERVED_NICKS: Final = frozenset({"server", "system", "flack", "flackd"})

# Refused on input: C0 except TAB (0x09), and DEL. Checked on raw bytes: every such byte is
# ASCII, so it cannot be part of a multi-byte UTF-8 sequence.
_BAD_INPUT_BYTES: Final = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")

# Replaced on output: C0 except TAB, DEL, C1 (U+0080-U+009F, includes NEL U+0085), the
# Arabic letter mark, LRM/RLM, the Unicode line and paragraph separators, the bidi
# embeddings/overrides U+202A-U+202E and isolates U+2066-U+2069.
_UNSAFE_OUTPUT: Final = re.compile(
    "[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]"
)

_NICK: Final = re.compile(rf"[A-Za-z][A-Za-z0-9_-]{{0,{NICK_MAX_CHARS - 1}}}")
_CHANNEL: Final = re.compile(rf"#[A-Za-z0-9_-]{{1,{CHANNEL_MAX_CHARS}}}")


class InvalidUtf8(ValueError):
    """The line is not valid UTF-8."""


class BadCharacter(ValueError):
    """The line holds a control character that is refused on input."""

    def __init__(self, byte: int) -> None:
        super().__init__(f"control character 0x{byte:02X}")
        self.byte = byte


def decode_line(raw: bytes) -> str:
    """Decode one complete line (terminator already removed) as strict UTF-8.

    Raises :class:`BadCharacter` for C0 controls other than TAB and for DEL, and
    :class:`InvalidUtf8` for anything that is not UTF-8 (overlongs, surrogates, ...).
    """
    bad = _BAD_INPUT_BYTES.search(raw)
    if bad is not None:
        raise BadCharacter(raw[bad.start()])
    try:
        return raw.decode("utf-8", "strict")
    except UnicodeDecodeError as exc:
        raise InvalidUtf8(str(exc)) from None


def neutralise(text: str) -> str:
    """Return ``text`` with every terminal-unsafe character replaced by U+FFFD."""
    if text.isascii():
        if text.isprintable():
            return text
        return _UNSAFE_OUTPUT.sub(REPLACEMENT, text)
    return _UNSAFE_OUTPUT.sub(REPLACEMENT, text)


_ASCII_LOWER: Final = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_ASCII_UPPER: Final = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def fold(name: str) -> str:
    """The one case-folding function for nicks and channel names (ASCII lower case only)."""
    # str.lower() is the same on ASCII text and much faster than translate().
    return name.lower() if name.isascii() else name.translate(_ASCII_LOWER)


def ascii_upper(word: str) -> str:
    """Upper-case ASCII letters only (so ``mſg`` is not read as ``MSG``)."""
    return word.upper() if word.isascii() else word.translate(_ASCII_UPPER)


def is_valid_nick(nick: str) -> bool:
    """1-16 ASCII characters: a letter, then letters, digits, ``_`` or ``-``."""
    return _NICK.fullmatch(nick) is not None and fold(nick) not in RESERVED_NICKS


def is_valid_channel(name: str) -> bool:
    """``#`` then 1-32 ASCII letters, digits, ``_`` or ``-``."""
    return _CHANNEL.fullmatch(name) is not None


def is_channel(target: str) -> bool:
    """True when a target names a channel rather than a nick."""
    return target.startswith("#")

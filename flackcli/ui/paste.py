"""Text typed or pasted into the full-screen client: cleaning, sizing, splitting.

Owns: :func:`clean_text`, :func:`max_text_bytes` (how much text fits one protocol line),
:func:`split_paste` (pasted or over-long text as messages that fit) and the paste guard
(:func:`needs_confirmation`). Must not import anything but the standard library and
``flackd.codec``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Final

from flackcli.ui.intents import DEFAULT_MAX_LINE

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

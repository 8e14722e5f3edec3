"""Terminal cells, wrapping, nick colours and cleaning text for display: the pure helpers
of the full-screen client's view model, each a function of its arguments only.

Owns: cell widths (wide characters take 2 cells, combining marks 0; never ``len()``),
truncating and wrapping by cells, centred banners, nick colours (djb2 of the folded nick,
never Python's salted ``hash()``) and their xterm-256 values, which side panes fit a width,
and the last line of defence before the screen: :func:`clean` and :func:`safe` pass every
string through :func:`flackd.codec.text.neutralise` (TAB becomes a space), so no terminal
control sequence, C1 control or bidi override is ever drawn. Also the fragment types
(:data:`Fragment`, :data:`Row`), the shape of prompt-toolkit's formatted text as plain
tuples.

Must not import anything but the standard library and ``flackd.codec``: never trio, never
prompt_toolkit, no other flackcli module (the other ``ui`` view modules build on this one).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Final

from flackd.codec.text import fold, neutralise

__all__ = [
    "PALETTE",
    "Fragment",
    "Row",
    "ansi256_hex",
    "banner",
    "cells",
    "char_cells",
    "clean",
    "djb2",
    "nick_colour",
    "nick_colour_index",
    "nick_style",
    "panes_for_width",
    "safe",
    "truncate_cells",
    "wrap_cells",
]

#: Twelve ANSI-256 colours (indices into the xterm palette) that read on dark and light
#: backgrounds. A nick's colour is ``PALETTE[djb2(fold(nick)) % 12]``.
PALETTE: Final[tuple[int, ...]] = (31, 32, 35, 37, 62, 97, 130, 133, 136, 161, 166, 168)

Fragment = tuple[str, str]
"""One ``(style, text)`` pair, as in prompt-toolkit's ``FormattedText``."""
Row = list[Fragment]
"""One screen row."""


def char_cells(ch: str) -> int:
    """Terminal cells one character takes: 2 for wide (East Asian W/F), 0 for combining
    marks and format characters, else 1."""
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def cells(text: str) -> int:
    """Terminal cells ``text`` takes (never ``len()``)."""
    if text.isascii():
        return len(text)
    return sum(char_cells(ch) for ch in text)


def truncate_cells(text: str, width: int, ellipsis: str = "…") -> str:
    """``text`` cut to at most ``width`` cells, never inside a character; when something
    was cut, the last cell shows ``ellipsis``."""
    if width <= 0:
        return ""
    if cells(text) <= width:
        return text
    room = width - cells(ellipsis)
    if room < 0:
        return _take_cells(text, width)[0]
    return _take_cells(text, room)[0] + ellipsis


def _take_cells(text: str, width: int) -> tuple[str, str]:
    """The longest prefix of ``text`` that fits ``width`` cells, and the rest."""
    used = 0
    for i, ch in enumerate(text):
        w = char_cells(ch)
        if used + w > width:
            return text[:i], text[i:]
        used += w
    return text, ""


def wrap_cells(text: str, width: int) -> list[str]:
    """Wrap ``text`` to rows of at most ``width`` cells, breaking at spaces where it can
    and inside a word only when the word alone is wider than a row. TABs show as spaces.
    Always at least one row."""
    width = max(1, width)
    text = text.replace("\t", " ")
    if cells(text) <= width:
        return [text]
    rows: list[str] = []
    cur = ""
    cur_w = 0
    for token in re.findall(r" +|[^ ]+", text):
        tw = cells(token)
        if token.startswith(" "):
            if cur_w + tw <= width:
                cur += token
                cur_w += tw
            else:  # the break falls inside this run of spaces: drop it
                rows.append(cur)
                cur, cur_w = "", 0
            continue
        if cur_w + tw <= width:
            cur += token
            cur_w += tw
            continue
        if tw <= width:
            rows.append(cur.rstrip(" "))
            cur, cur_w = token, tw
            continue
        # A word wider than a row: fill the current row, then whole rows.
        rest = token
        while rest:
            head, rest = _take_cells(rest, width - cur_w)
            if not head:
                if cur_w == 0:  # a wide character in a 1-cell row: show it anyway
                    head, rest = rest[0], rest[1:]
                else:
                    rows.append(cur)
                    cur, cur_w = "", 0
                    continue
            cur += head
            cur_w += cells(head)
            if rest:
                rows.append(cur)
                cur, cur_w = "", 0
    rows.append(cur)
    return rows


def djb2(text: str) -> int:
    """Dan Bernstein's djb2 over the UTF-8 bytes of ``text``, 32 bits: the same in every
    process and on every run (unlike Python's salted ``hash()``)."""
    h = 5381
    for byte in text.encode("utf-8"):
        h = (h * 33 + byte) & 0xFFFFFFFF
    return h


def nick_colour_index(nick: str) -> int:
    """Index into :data:`PALETTE` for ``nick`` (case-insensitive)."""
    return djb2(fold(nick)) % len(PALETTE)


def nick_colour(nick: str) -> int:
    """The ANSI-256 colour of ``nick``."""
    return PALETTE[nick_colour_index(nick)]


def ansi256_hex(index: int) -> str:
    """``#rrggbb`` of an xterm-256 colour. prompt-toolkit maps these exact values back to
    the same index on a 256-colour terminal."""
    if not 0 <= index <= 255:
        raise ValueError(f"not an ANSI-256 colour: {index}")
    if index < 16:
        basic = (
            "000000", "cd0000", "00cd00", "cdcd00", "0000ee", "cd00cd", "00cdcd", "e5e5e5",
            "7f7f7f", "ff0000", "00ff00", "ffff00", "5c5cff", "ff00ff", "00ffff", "ffffff",
        )  # fmt: skip
        return "#" + basic[index]
    if index < 232:
        levels = (0x00, 0x5F, 0x87, 0xAF, 0xD7, 0xFF)
        i = index - 16
        r, g, b = levels[i // 36], levels[(i // 6) % 6], levels[i % 6]
        return f"#{r:02x}{g:02x}{b:02x}"
    v = 8 + (index - 232) * 10
    return f"#{v:02x}{v:02x}{v:02x}"


def nick_style(nick: str) -> str:
    """The style of a nick: ``class:nick`` plus its palette colour."""
    return f"class:nick fg:{ansi256_hex(nick_colour(nick))}"


def panes_for_width(columns: int) -> tuple[bool, bool]:
    """``(show_channels, show_members)``: below 80 columns both side panes fold away,
    from 80 to 99 only the member list hides, from 100 both are shown."""
    if columns < 80:
        return False, False
    if columns < 100:
        return True, False
    return True, True


def clean(text: str) -> str:
    """What may be shown: ``neutralise`` (no terminal control sequence, C1 control, bidi
    control or line separator), and TAB as a space so it cannot break the layout."""
    return neutralise(text).replace("\t", " ")


def safe(row: Sequence[Fragment]) -> Row:
    """The last line of defence: every fragment's text neutralised."""
    return [(style, clean(text)) for style, text in row]


def banner(label: str, width: int, fill: str) -> str:
    """``label`` centred in ``width`` cells, padded with ``fill`` (one cell per char)."""
    label = truncate_cells(label, width)
    spare = width - cells(label)
    if spare <= 0:
        return label
    left = spare // 2
    right = spare - left
    pad = fill * width
    return pad[:left] + label + pad[:right]

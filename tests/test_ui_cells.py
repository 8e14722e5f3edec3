"""ui.cells: cell widths, truncation and wrapping, nick colours and pane folding, as pure
functions of their arguments (client-ux.md section 14: a nick's colour is the same across
runs and processes)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from flackcli.ui.cells import (
    PALETTE,
    ansi256_hex,
    cells,
    djb2,
    nick_colour,
    nick_colour_index,
    nick_style,
    panes_for_width,
    truncate_cells,
    wrap_cells,
)

# --- colours ----------------------------------------------------------------------------


# djb2 by hand for "al": h = 5381*33 + 97 = 177670; h = 177670*33 + 108 = 5863218;
# 5863218 = 12*488601 + 6, so index 6. The others the same way, mod 2**32 where needed.
@pytest.mark.parametrize(
    ("nick", "hashed", "index"),
    [
        ("al", 5863218, 6),
        ("alice", 253185475, 7),
        ("bob", 193487480, 8),
        ("carol", 255172214, 2),
        ("dave", 2090176933, 1),
    ],
)
def test_nick_colour_is_djb2_of_the_lower_cased_nick(nick: str, hashed: int, index: int) -> None:
    assert djb2(nick) == hashed
    assert nick_colour_index(nick) == index
    assert nick_colour_index(nick.upper()) == index
    assert nick_colour(nick) == PALETTE[index]
    assert nick_style(nick) == f"class:nick fg:{ansi256_hex(PALETTE[index])}"


def test_djb2_wraps_at_32_bits() -> None:
    assert djb2("") == 5381
    h = 5381
    for ch in "a-very-long-nick-name":
        h = (h * 33 + ord(ch)) % 2**32
    assert djb2("a-very-long-nick-name") == h


def test_nick_colour_is_the_same_in_other_processes() -> None:
    code = "from flackcli.ui.cells import nick_colour; print([nick_colour(n) for n in "
    code += "['alice', 'bob', 'carol', 'dave', 'erin']])"
    outputs = set()
    for seed in ("1", "2", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        outputs.add(done.stdout)
    assert outputs == {str([nick_colour(n) for n in ["alice", "bob", "carol", "dave", "erin"]])
                       + "\n"}  # fmt: skip


def test_palette_has_twelve_distinct_cube_colours() -> None:
    assert len(PALETTE) == 12
    assert len(set(PALETTE)) == 12
    assert all(16 <= c < 232 for c in PALETTE)


@pytest.mark.parametrize(
    ("index", "hex_"),
    [(0, "#000000"), (16, "#000000"), (31, "#0087af"), (166, "#d75f00"), (231, "#ffffff"),
     (232, "#080808"), (255, "#eeeeee")],
)  # fmt: skip
def test_ansi256_hex(index: int, hex_: str) -> None:
    assert ansi256_hex(index) == hex_


# --- layout, cells, wrapping --------------------------------------------------------------


@pytest.mark.parametrize(
    ("columns", "panes"),
    [(0, (False, False)), (40, (False, False)), (79, (False, False)), (80, (True, False)),
     (99, (True, False)), (100, (True, True)), (250, (True, True))],
)  # fmt: skip
def test_panes_fold_away_on_narrow_terminals(columns: int, panes: tuple[bool, bool]) -> None:
    assert panes_for_width(columns) == panes


@pytest.mark.parametrize(
    ("text", "width"),
    [("abc", 3), ("漢字", 4), ("e\u0301", 1), ("✔ ok", 4), ("ｆｕｌｌ", 8), ("\u200d", 0), ("", 0)],
)  # fmt: skip
def test_cells_counts_wide_characters_twice(text: str, width: int) -> None:
    assert cells(text) == width


@pytest.mark.parametrize(
    ("text", "width", "cut"),
    [("bob", 10, "bob"), ("abcdefghijkl", 10, "abcdefghi…"), ("漢字漢字漢字", 7, "漢字漢…"),
     ("漢字漢字漢字", 8, "漢字漢…"), ("abc", 0, ""), ("abc", 1, "…")],
)  # fmt: skip
def test_truncate_by_cells(text: str, width: int, cut: str) -> None:
    assert truncate_cells(text, width) == cut
    assert cells(truncate_cells(text, width)) <= width


@pytest.mark.parametrize(
    ("text", "width"),
    [("the quick brown fox jumps over the lazy dog", 10), ("漢字 " * 20, 7),
     ("averyveryverylongwordwithoutspaces and more", 8), ("x", 1), ("漢漢", 1)],
)  # fmt: skip
def test_wrap_keeps_every_character_and_fits(text: str, width: int) -> None:
    rows = wrap_cells(text, width)
    assert "".join(rows).replace(" ", "") == text.replace(" ", "")
    assert all(cells(r) <= max(width, 2) for r in rows)
    if width >= 2:
        assert all(cells(r) <= width for r in rows)

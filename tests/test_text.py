"""text: strict input decoding, output neutralising, nick and channel rules, folding.

Covers decode_line (every refused control byte, TAB allowed, every kind of invalid UTF-8),
neutralise (every unsafe code point in the whole Unicode range replaced, everything else
left alone), the nick and channel name rules, and the ASCII case fold.
"""

from __future__ import annotations

import string

import pytest

from flackd.codec import (
    BadCharacter,
    InvalidUtf8,
    decode_line,
    fold,
    is_channel,
    is_valid_channel,
    is_valid_nick,
    neutralise,
)
from flackd.codec.text import REPLACEMENT, RESERVED_NICKS

#: Bytes decode_line refuses: C0 except TAB, and DEL.
REFUSED_BYTES = [*range(0x00, 0x09), *range(0x0A, 0x20), 0x7F]

#: Code points neutralise replaces, spelled out from protocol.md ("Output").
UNSAFE_CODE_POINTS = frozenset(
    [
        *range(0x00, 0x09),
        *range(0x0A, 0x20),
        0x7F,
        *range(0x80, 0xA0),
        0x061C,
        0x200E,
        0x200F,
        0x2028,
        0x2029,
        *range(0x202A, 0x202F),
        *range(0x2066, 0x206A),
    ]
)

ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


# ---------------------------------------------------------------------- decode_line


@pytest.mark.parametrize("byte", REFUSED_BYTES, ids=[f"0x{b:02X}" for b in REFUSED_BYTES])
def test_decode_refuses_control_bytes(byte: int) -> None:
    for raw in (bytes([byte]), b"MSG #c a" + bytes([byte]) + b"b", bytes([byte]) + b"tail"):
        with pytest.raises(BadCharacter) as info:
            decode_line(raw)
        assert info.value.byte == byte
        assert f"0x{byte:02X}" in str(info.value)


def test_bad_character_is_a_value_error() -> None:
    assert issubclass(BadCharacter, ValueError)
    assert issubclass(InvalidUtf8, ValueError)


def test_decode_reports_the_first_refused_byte() -> None:
    with pytest.raises(BadCharacter) as info:
        decode_line(b"ok \x1b[31m red \x00")
    assert info.value.byte == 0x1B


def test_control_byte_wins_over_invalid_utf8() -> None:
    with pytest.raises(BadCharacter) as info:
        decode_line(b"\xff\x07")
    assert info.value.byte == 0x07


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b"", ""),
        (b"a\tb", "a\tb"),
        (b"\t", "\t"),
        (b"MSG #c hello", "MSG #c hello"),
        (b" ~!@#$%^&*()_+{}|:\"<>?`-=[]\\;',./", " ~!@#$%^&*()_+{}|:\"<>?`-=[]\\;',./"),
        ("café".encode(), "café"),
        ("日本語".encode(), "日本語"),
        ("😀".encode(), "😀"),
        ("\U0010ffff".encode(), "\U0010ffff"),
        ("\ud7ff\ue000".encode(), "\ud7ff\ue000"),
        # C1 and bidi controls are legal UTF-8 and not refused on input; output neutralises.
        (b"\xc2\x85", "\x85"),
        ("\u202e".encode(), "\u202e"),
    ],
)
def test_decode_accepts(raw: bytes, text: str) -> None:
    assert decode_line(raw) == text


@pytest.mark.parametrize(
    "raw",
    [
        b"\x80",  # lone continuation byte
        b"abc\xbf",
        b"\xc0\xaf",  # overlong '/'
        b"\xc1\xbf",  # overlong
        b"\xe0\x80\xaf",  # overlong 3-byte '/'
        b"\xf0\x80\x80\xaf",  # overlong 4-byte '/'
        b"\xed\xa0\x80",  # UTF-16 surrogate U+D800
        b"\xed\xbf\xbf",  # surrogate U+DFFF
        b"\xed\xa0\xbd\xed\xb8\x80",  # surrogate pair written as CESU-8
        b"\xc3",  # truncated 2-byte
        b"\xe2\x82",  # truncated 3-byte
        b"\xf0\x9f\x98",  # truncated 4-byte
        b"caf\xc3 ok",  # truncated in the middle
        b"\xf4\x90\x80\x80",  # above U+10FFFF
        b"\xf5\x80\x80\x80",
        b"\xf8\x88\x80\x80\x80",  # 5-byte form
        b"\xfe",
        b"\xff",
        b"\xe9t\xe9",  # Latin-1
    ],
)
def test_decode_refuses_invalid_utf8(raw: bytes) -> None:
    with pytest.raises(InvalidUtf8):
        decode_line(raw)


# ------------------------------------------------------------------------ neutralise


def test_neutralise_every_code_point() -> None:
    """Exactly the unsafe set is replaced, over the whole of Unicode (minus surrogates)."""
    code_points = [cp for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF]
    text = "".join(map(chr, code_points))
    expected = "".join(REPLACEMENT if cp in UNSAFE_CODE_POINTS else chr(cp) for cp in code_points)
    result = neutralise(text)
    assert len(result) == len(text)
    assert result == expected


@pytest.mark.parametrize(
    "cp", sorted(UNSAFE_CODE_POINTS), ids=[f"U+{cp:04X}" for cp in sorted(UNSAFE_CODE_POINTS)]
)
def test_neutralise_replaces(cp: int) -> None:
    ch = chr(cp)
    assert neutralise(ch) == REPLACEMENT
    assert neutralise(f"a{ch}b") == f"a{REPLACEMENT}b"  # ASCII surroundings
    assert neutralise(f"é{ch}{ch}日") == f"é{REPLACEMENT}{REPLACEMENT}日"  # non-ASCII


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hello world",
        "".join(map(chr, range(0x20, 0x7F))) + "\t",  # all printable ASCII and TAB
        "a\tb\t",
        "👩\u200d💻 and 👨\u200d👩\u200d👧",  # ZWJ sequences keep their U+200D
        "Привет, мир",
        "مرحبا بالعالم",
        "שלום עולם",
        "नमस्ते दुनिया",
        "日本語のテキスト",
        "\u00a0\u00ad\u00e9",  # first characters after C1
        "\u200b\u200c\u200d\u2027\u202f\u2065\u206a",  # neighbours of the unsafe ranges
        "\ufffd\ufeff",
        "\U0001f600\U0010ffff",
    ],
)
def test_neutralise_leaves_safe_text_alone(text: str) -> None:
    assert neutralise(text) == text


def test_neutralise_escape_sequence() -> None:
    assert neutralise("\x1b[2J\x1b]0;pwned\x07") == "\ufffd[2J\ufffd]0;pwned\ufffd"


def test_neutralise_is_idempotent() -> None:
    text = "a\r\nb\x85c\u2028d\u202ee\x1b"
    once = neutralise(text)
    assert neutralise(once) == once
    assert once == "a\ufffd\ufffdb\ufffdc\ufffdd\ufffde\ufffd"


# ----------------------------------------------------------------------------- nicks


@pytest.mark.parametrize(
    "nick",
    ["a", "Z", "alice", "Bob_2", "night-owl", "a" * 16, "x-_9", "A1234567890_-xyz", "servers"],
)
def test_valid_nicks(nick: str) -> None:
    assert is_valid_nick(nick)


@pytest.mark.parametrize(
    "nick",
    [
        "",
        "a" * 17,
        "1abc",
        "_abc",
        "-abc",
        "#abc",
        "al ice",
        "alice ",
        " alice",
        "alice\n",
        "al\tice",
        "a.b",
        "a@b",
        "a:b",
        "é",
        "alicé",
        "ａlice",  # fullwidth a
        "\u212aelvin",  # Kelvin sign, lower-cases to ASCII k
        "ſam",  # long s, upper-cases to ASCII S
        "al\u200bice",
        "a١",  # Arabic-Indic digit
    ],
)
def test_invalid_nicks(nick: str) -> None:
    assert not is_valid_nick(nick)


@pytest.mark.parametrize(
    "nick", ["server", "SERVER", "Server", "system", "sYsTeM", "flack", "FLACK", "flackd", "FlackD"]
)
def test_reserved_nicks(nick: str) -> None:
    assert not is_valid_nick(nick)


def test_reserved_set() -> None:
    assert frozenset({"server", "system", "flack", "flackd"}) == RESERVED_NICKS


@pytest.mark.parametrize("nick", ["server1", "systems", "flackdd", "xflack", "flack-bot"])
def test_names_near_reserved_ones_are_allowed(nick: str) -> None:
    assert is_valid_nick(nick)


# -------------------------------------------------------------------------- channels


@pytest.mark.parametrize(
    "name", ["#a", "#general", "#release-2", "#A_b-9", "#" + "c" * 32, "#1", "#_", "#-"]
)
def test_valid_channels(name: str) -> None:
    assert is_valid_channel(name)
    assert is_channel(name)


@pytest.mark.parametrize(
    "name",
    [
        "",
        "#",
        "general",
        "##a",
        "#" + "c" * 33,
        "#a b",
        "#a\n",
        " #a",
        "#a,b",
        "#a.b",
        "#a:b",
        "#é",
        "#日本",
        "＃a",  # fullwidth number sign
        "&a",
    ],
)
def test_invalid_channels(name: str) -> None:
    assert not is_valid_channel(name)


@pytest.mark.parametrize(
    ("target", "channel"), [("#x", True), ("##", True), ("#", True), ("x", False), ("", False)]
)
def test_is_channel(target: str, channel: bool) -> None:
    assert is_channel(target) is channel


# ------------------------------------------------------------------------------ fold


@pytest.mark.parametrize(
    ("name", "folded"),
    [
        ("ALICE", "alice"),
        ("alice", "alice"),
        ("AlIcE_-9", "alice_-9"),
        ("#General", "#general"),
        ("#RELEASE-2", "#release-2"),
    ],
)
def test_fold(name: str, folded: str) -> None:
    assert fold(name) == folded
    assert fold(folded) == folded


def test_fold_makes_case_variants_equal() -> None:
    assert fold("Bob_2") == fold("bOB_2") == fold("BOB_2")
    assert fold("#Chan") == fold("#CHAN")
    assert fold("alice") != fold("alicf")


@pytest.mark.parametrize("name", ["\u212aELVIN", "\u0130X", "ÄB", "ΣA"])
def test_fold_is_ascii_only(name: str) -> None:
    assert fold(name) == name.translate(ASCII_LOWER)

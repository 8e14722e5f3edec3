"""irc.wire: the sans-IO IRC line format.

Covers parse (examples from the IRCv3 message-tags spec and the modern IRC documents, tag
escapes, sloppy spacing, numerics, and every way a line can fail), format_message (where
the ':' goes, source and tags, CR/LF/NUL sanitising, bad middle parameters), round trips
through both, the size-limit helpers, ASCII case mapping, stripping or keeping mIRC
formatting, CTCP framing, and server-time stamps.
"""

from __future__ import annotations

import re

import pytest

from flackd.irc.wire import (
    MAX_CLIENT_TAG_BYTES,
    MAX_LINE_BYTES,
    MAX_TAG_BYTES,
    IrcMessage,
    IrcParseError,
    ctcp,
    escape_tag_value,
    format_message,
    irc_casefold,
    parse,
    parse_ctcp,
    server_time,
    split_tags,
    strip_formatting,
    unescape_tag_value,
)

# -- parse ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "tags", "source", "command", "params"),
    [
        (
            "@id=234AB :dan!d@localhost PRIVMSG #chan :Hey what's up!",
            {"id": "234AB"},
            "dan!d@localhost",
            "PRIVMSG",
            ("#chan", "Hey what's up!"),
        ),
        (
            ":irc.example.com CAP LS * :multi-prefix extended-join sasl",
            {},
            "irc.example.com",
            "CAP",
            ("LS", "*", "multi-prefix extended-join sasl"),
        ),
        ("PRIVMSG #chan :", {}, None, "PRIVMSG", ("#chan", "")),
        ("JOIN :", {}, None, "JOIN", ("",)),
        ("PING x  ", {}, None, "PING", ("x",)),
        ("  PING x", {}, None, "PING", ("x",)),
        ("USER u 0 * :Real Name", {}, None, "USER", ("u", "0", "*", "Real Name")),
        (
            ":irc.example.com 001 nick :Welcome to the network",
            {},
            "irc.example.com",
            "001",
            ("nick", "Welcome to the network"),
        ),
        (
            "@aaa=bbb;ccc;example.com/ddd=eee :nick!ident@host.com PRIVMSG me :Hello",
            {"aaa": "bbb", "ccc": "", "example.com/ddd": "eee"},
            "nick!ident@host.com",
            "PRIVMSG",
            ("me", "Hello"),
        ),
        (
            "@+icon=https://example.com/favicon.png :url_bot!bot@example.com "
            "PRIVMSG #channel :Example.com: A News Story",
            {"+icon": "https://example.com/favicon.png"},
            "url_bot!bot@example.com",
            "PRIVMSG",
            ("#channel", "Example.com: A News Story"),
        ),
        (
            "@tag1=value1;tag2;vendor1/tag3=value2;vendor2/tag4= :irc.example.com "
            "COMMAND param1 param2 :param3 param3",
            {"tag1": "value1", "tag2": "", "vendor1/tag3": "value2", "vendor2/tag4": ""},
            "irc.example.com",
            "COMMAND",
            ("param1", "param2", "param3 param3"),
        ),
        ("@c;h=;a=b :quux ab cd", {"c": "", "h": "", "a": "b"}, "quux", "AB", ("cd",)),
        (
            ":gravel.mozilla.org 432  #momo :Erroneous Nickname: Illegal characters",
            {},
            "gravel.mozilla.org",
            "432",
            ("#momo", "Erroneous Nickname: Illegal characters"),
        ),
        (":src JOIN #chan", {}, "src", "JOIN", ("#chan",)),
        (":src JOIN :#chan", {}, "src", "JOIN", ("#chan",)),
        (":src AWAY", {}, "src", "AWAY", ()),
        (":src AWAY ", {}, "src", "AWAY", ()),
        (":cool\tguy foo bar baz", {}, "cool\tguy", "FOO", ("bar", "baz")),
        ("privmsg #c :lower-case command", {}, None, "PRIVMSG", ("#c", "lower-case command")),
        ("PRIVMSG #c :  spaced  out  ", {}, None, "PRIVMSG", ("#c", "  spaced  out  ")),
        ("PRIVMSG #c ::-)", {}, None, "PRIVMSG", ("#c", ":-)")),
        ("PRIVMSG #c a:b", {}, None, "PRIVMSG", ("#c", "a:b")),
        ("@a=1;;a=2; CMD", {"a": "2"}, None, "CMD", ()),
        (
            "CMD 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 :17",
            {},
            None,
            "CMD",
            tuple(str(i) for i in range(1, 18)),
        ),
        ("PRIVMSG #c :héllo ✓", {}, None, "PRIVMSG", ("#c", "héllo ✓")),
    ],
)
def test_parse(
    line: str,
    tags: dict[str, str],
    source: str | None,
    command: str,
    params: tuple[str, ...],
) -> None:
    assert parse(line) == IrcMessage(source, command, params, tags=tags)


@pytest.mark.parametrize(
    ("wire_value", "value"),
    [
        # ircdocs parser-tests: every escape at once.
        ("\\\\\\\\\\:\\\\s\\s\\r\\n", "\\\\;\\s \r\n"),
        ("b\\\\and\\nk", "b\\and\nk"),
        ("72\\s45", "72 45"),
        ("gh\\:764", "gh;764"),
        ("x\\", "x"),  # a trailing lone backslash is dropped
        ("\\b\\", "b"),  # an unknown escape is the character itself
        ("a\\\\", "a\\"),
        ("", ""),
        ("plain", "plain"),
    ],
)
def test_tag_value_unescaping(wire_value: str, value: str) -> None:
    assert unescape_tag_value(wire_value) == value
    assert parse(f"@k={wire_value} CMD").tags == {"k": value}


@pytest.mark.parametrize(
    "value", ["", "plain", "a;b c", "back\\slash", "\r\n", "\\s", "\\:;\\ ;", "héllo ✓", "x\\"]
)
def test_tag_value_escaping_round_trips(value: str) -> None:
    escaped = escape_tag_value(value)
    assert not re.search("[; \r\n\x00]", escaped)
    assert unescape_tag_value(escaped) == value


def test_escape_tag_value_drops_nul_and_spells_every_escape() -> None:
    assert escape_tag_value("a\x00b") == "ab"
    assert escape_tag_value("\\; \r\n") == "\\\\\\:\\s\\r\\n"


@pytest.mark.parametrize(
    "line",
    [
        "",
        " ",
        "    ",
        ":src",
        ":src ",
        ":src   ",
        ": PRIVMSG #c :x",
        "@a=b",
        "@a=b ",
        "@a=b :src",
        "@a=b :src  ",
        ":x",
        "ÉTÉ x",
        "PRİVMSG #c",
        "PRIVMSG #c :a\x00b",
        "PRIVMSG #c :a\rb",
        "PRIVMSG #c :a\nb",
    ],
)
def test_bad_lines_raise(line: str) -> None:
    with pytest.raises(IrcParseError):
        parse(line)


def test_parse_error_is_a_value_error() -> None:
    assert issubclass(IrcParseError, ValueError)


def test_message_defaults_and_immutability() -> None:
    message = IrcMessage(None, "PING", ("x",))
    assert message.tags == {}
    with pytest.raises(AttributeError):
        message.command = "PONG"  # type: ignore[misc]


# -- format_message -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "params", "expected"),
    [
        ("PING", [], b"PING\r\n"),
        ("PRIVMSG", ["#c", "hi"], b"PRIVMSG #c hi\r\n"),
        ("PRIVMSG", ["#c", ""], b"PRIVMSG #c :\r\n"),
        ("PRIVMSG", ["#c", ":)"], b"PRIVMSG #c ::)\r\n"),
        ("PRIVMSG", ["#c", "hello world"], b"PRIVMSG #c :hello world\r\n"),
        ("PRIVMSG", ("#c", " lead"), b"PRIVMSG #c : lead\r\n"),
        ("JOIN", [""], b"JOIN :\r\n"),
        ("PRIVMSG", ["#c", "a:b"], b"PRIVMSG #c a:b\r\n"),
        ("PRIVMSG", ["#c", "héllo ✓"], "PRIVMSG #c :héllo ✓\r\n".encode()),
        ("001", ["nick", "Welcome"], b"001 nick Welcome\r\n"),
    ],
)
def test_format_message(command: str, params: list[str], expected: bytes) -> None:
    assert format_message(command, params) == expected


def test_format_message_with_source_and_tags() -> None:
    line = format_message(
        "PRIVMSG",
        ["#c", "hello world"],
        source="n!u@h",
        tags={"time": "2026-12-03T02:51:22.123Z", "+draft/x": "", "msgid": "a;b c\\"},
    )
    assert line == (
        b"@time=2026-12-03T02:51:22.123Z;+draft/x;msgid=a\\:b\\sc\\\\ "
        b":n!u@h PRIVMSG #c :hello world\r\n"
    )


def test_format_message_empty_tags_mapping_writes_no_tag_part() -> None:
    assert format_message("PING", ["x"], tags={}) == b"PING x\r\n"


def test_format_message_replaces_cr_lf_nul_with_spaces() -> None:
    line = format_message("PRIVMSG", ["#c", "a\r\nb\x00c"])
    assert line == b"PRIVMSG #c :a  b c\r\n"
    assert line.count(b"\r\n") == 1
    assert format_message("NOTICE", ["#c", "\n"]) == b"NOTICE #c : \r\n"


@pytest.mark.parametrize("middle", ["", "a b", ":x", "a\nb", "\r"])
def test_format_message_refuses_a_bad_middle_parameter(middle: str) -> None:
    with pytest.raises(ValueError, match="middle"):
        format_message("PRIVMSG", [middle, "text"])


def test_format_message_refuses_a_string_as_params() -> None:
    with pytest.raises(TypeError):
        format_message("PING", "token")


@pytest.mark.parametrize(
    "message",
    [
        IrcMessage(None, "PING", ()),
        IrcMessage(None, "PRIVMSG", ("#c", "")),
        IrcMessage(None, "PRIVMSG", ("#c", ":-) hi")),
        IrcMessage("srv", "001", ("nick", "Welcome to flack, nick")),
        IrcMessage("n!u@h", "JOIN", ("#c", "*", "Real Name")),
        IrcMessage(
            "n!u@h",
            "PRIVMSG",
            ("#c", "  spaced  "),
            tags={"time": "2026-12-03T02:51:22.123Z", "msgid": "x;y z\\", "+draft/r": ""},
        ),
        IrcMessage(None, "CMD", tuple(str(i) for i in range(20))),
    ],
)
def test_round_trip(message: IrcMessage) -> None:
    line = format_message(message.command, message.params, source=message.source, tags=message.tags)
    assert line.endswith(b"\r\n")
    assert parse(line[:-2].decode()) == message


# -- limits ---------------------------------------------------------------------------------


def test_limits() -> None:
    assert (MAX_LINE_BYTES, MAX_CLIENT_TAG_BYTES, MAX_TAG_BYTES) == (512, 4094, 8191)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"", (0, 0)),
        (b"PING x", (0, 6)),
        (b"@a=b PING x", (5, 6)),
        (b"@a=b", (4, 0)),
        (b"@ PING", (2, 4)),
        (b" @a=b PING", (0, 10)),
        (b":src PRIVMSG #c :@not tags", (0, 26)),
    ],
)
def test_split_tags(raw: bytes, expected: tuple[int, int]) -> None:
    assert split_tags(raw) == expected
    assert sum(split_tags(raw)) == len(raw)


def test_split_tags_measures_bytes_not_characters() -> None:
    raw = "@k=é PRIVMSG #c :✓".encode()
    assert split_tags(raw) == (6, len(raw) - 6)


# -- case mapping ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "folded"),
    [
        ("NiCk", "nick"),
        ("#Chan-1", "#chan-1"),
        ("A[]\\~^", "a[]\\~^"),  # ascii casemapping: brackets are not folded
        ("ÉCOLE", "École"),
        ("İI", "İi"),
        ("", ""),
    ],
)
def test_irc_casefold(name: str, folded: str) -> None:
    assert irc_casefold(name) == folded


# -- formatting -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "clean"),
    [
        ("plain text", "plain text"),
        ("\x02bold\x02", "bold"),
        (
            "\x1ditalic\x1d \x1funder\x1f \x1estrike\x1e \x11mono\x11 \x16rev\x16\x0f",
            "italic under strike mono rev",
        ),
        ("\x0304,12red", "red"),
        ("\x03", ""),
        ("a\x03b", "ab"),
        ("\x031,2x", "x"),
        ("\x03,5", ",5"),
        ("\x034,x", ",x"),
        ("\x03123", "3"),
        ("\x0312,345", "5"),
        ("\x0304red\x03 plain", "red plain"),
        ("\x04FF0000,00ff00text", "text"),
        ("\x04abcdefx", "x"),
        ("\x04FF00red", "FF00red"),
        ("\x04FF0000,00x", ",00x"),
        ("\x1b[31mred", "[31mred"),
        ("a\x9bb\x85c\x80d", "abcd"),
        ("del\x7f", "del"),
        ("tab\tkept", "tab\tkept"),
        ("no\r\nnewline\x00\x07", "nonewline"),
        ("\x01ACTION waves\x01", "ACTION waves"),
        ("héllo ✓ \u00a0", "héllo ✓ \u00a0"),
    ],
)
def test_strip_formatting(text: str, clean: str) -> None:
    assert strip_formatting(text) == clean


def test_strip_formatting_removes_every_control_but_tab() -> None:
    every = "".join(map(chr, [*range(0x20), *range(0x7F, 0xA0)]))
    assert strip_formatting(every) == "\t"


# -- CTCP -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\x01ACTION waves\x01", ("ACTION", "waves")),
        ("\x01VERSION\x01", ("VERSION", "")),
        ("\x01ACTION waves hello", ("ACTION", "waves hello")),
        ("\x01action waves\x01", ("ACTION", "waves")),
        ("\x01PING 12345\x01", ("PING", "12345")),
        ("\x01ACTION \x01", ("ACTION", "")),
        ("\x01\x01", ("", "")),
        ("\x01", ("", "")),
        ("hello", None),
        ("", None),
        ("hi \x01ACTION x\x01", None),
    ],
)
def test_parse_ctcp(text: str, expected: tuple[str, str] | None) -> None:
    assert parse_ctcp(text) == expected


def test_ctcp() -> None:
    assert ctcp("ACTION", "waves") == "\x01ACTION waves\x01"
    assert ctcp("VERSION", "") == "\x01VERSION\x01"
    assert parse_ctcp(ctcp("ACTION", "waves at you")) == ("ACTION", "waves at you")


# -- server-time ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("iso", "expected"),
    [
        ("2026-12-03T02:51:22.123Z", "2026-12-03T02:51:22.123Z"),
        ("2026-12-03T02:51:22Z", "2026-12-03T02:51:22.000Z"),
        ("2026-12-03T02:51:22.1Z", "2026-12-03T02:51:22.100Z"),
        ("2026-12-03T02:51:22.12Z", "2026-12-03T02:51:22.120Z"),
        ("2026-12-03T02:51:22.123456Z", "2026-12-03T02:51:22.123Z"),
        ("2026-12-03T02:51:22.999999Z", "2026-12-03T02:51:22.999Z"),
    ],
)
def test_server_time(iso: str, expected: str) -> None:
    assert server_time(iso) == expected


@pytest.mark.parametrize(
    "iso",
    [
        "",
        "2026-12-03",
        "2026-12-03T02:51:22",
        "2026-12-03T02:51:22.Z",
        "2026-12-03T02:51:22.123+00:00",
        "2026-12-03 02:51:22.123Z",
        " 2026-12-03T02:51:22.123Z",
    ],
)
def test_server_time_refuses_other_shapes(iso: str) -> None:
    with pytest.raises(ValueError, match="ISO 8601"):
        server_time(iso)


@pytest.mark.parametrize(
    ("line", "command"),
    [("12 x", "12"), ("1234 x", "1234"), ("0a1 x", "0A1"), ("PRIV-MSG #c", "PRIV-MSG"),
     ("NONEXISTENT_COMMAND", "NONEXISTENT_COMMAND"), ("privmsg2 #c", "PRIVMSG2")],
)  # fmt: skip
def test_any_printable_word_is_a_command(line: str, command: str) -> None:
    """Unknown commands parse (the command table answers them with 421)."""
    assert parse(line).command == command

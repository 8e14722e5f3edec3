"""grammar: client lines to commands, server lines to and from text, and the error codes.

Covers parse_command for every verb (any case, optional ``/``, aliases, rest-of-line text),
every usage error and its syntax-bearing reply, HISTORY/DELETE/PING forms,
format_command round trips, format_event/parse_event for every event class, the
neutralised and single-line wire encoding, parse_event's refusals, and that ERROR_CODES
lists every code the flackd source uses.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from pathlib import Path

import pytest

import flackd
from flackd.codec import (
    ERROR_CODES,
    TEMPORARY_CODES,
    VERBS,
    LineBuffer,
    ProtocolError,
    commands,
    decode_line,
    encode_event,
    events,
    format_command,
    format_event,
    parse_command,
    parse_event,
    usage_error,
)
from flackd.codec.grammar import MAX_COUNT
from tests.test_text import UNSAFE_CODE_POINTS

c = commands
e = events

#: Nothing a client or an event field holds may reach the wire as a control character.
NASTY = "\x1b[31mred\x1b]0;title\x07\r\nMSG #x fake\x85\u2028\u2029\u202e\u2066\x00\x7f\x9b\ttab"


def assert_clean_wire(data: bytes) -> str:
    """Check one encoded server line; return it decoded, without its CRLF."""
    assert data.endswith(b"\r\n")
    assert data.count(b"\n") == 1
    assert data.count(b"\r") == 1
    text = data.decode("utf-8")  # strict: raises on invalid UTF-8
    body = text[:-2]
    unsafe = [f"U+{ord(ch):04X}" for ch in body if ord(ch) in UNSAFE_CODE_POINTS]
    assert unsafe == []
    assert len(body.splitlines()) <= 1  # even str.splitlines() sees one line
    return body


def parse_error(line: str) -> ProtocolError:
    """The ProtocolError parse_command raises for ``line`` (fails if it returns)."""
    with pytest.raises(ProtocolError) as info:
        parse_command(line)
    return info.value


# ------------------------------------------------------------------------ the verbs

VERB_CASES: dict[str, tuple[str, c.Command]] = {
    "NICK": ("nick alice", c.Nick("alice")),
    "RESUME": ("resume 3q2m0fQ1bW8yZ4nKx7Lr5A", c.Resume("3q2m0fQ1bW8yZ4nKx7Lr5A")),
    "PASS": ("pass correct horse battery", c.Pass("correct horse battery")),
    "JOIN": ("join #general", c.Join("#general")),
    "CREATE": ("create #release-planning", c.Create("#release-planning")),
    "PART": ("part #general see you", c.Part("#general", "see you")),
    "INVITE": ("invite bob #general", c.Invite("bob", "#general")),
    "MSG": ("msg #general hello there", c.Msg("#general", "hello there")),
    "LIST": ("list", c.ListChannels()),
    "NAMES": ("names #general", c.Names("#general")),
    "WHO": ("who #general", c.Names("#general")),
    "TOPIC": ("topic #general release planning", c.Topic("#general", "release planning")),
    "HISTORY": ("history #general 20", c.History("#general", count=20)),
    "DELETE": ("delete 1795507200000-42", c.Delete("1795507200000-42")),
    "EDIT": ("edit 1795507200000-42 fixed  it ", c.Edit("1795507200000-42", "fixed  it ")),
    "ACTION": ("action #general waves", c.Action("#general", "waves")),
    "ME": ("/me bob waves back", c.Action("bob", "waves back")),
    "MARK": ("mark bob 1795507200000-42", c.Mark("bob", "1795507200000-42")),
    "UNREAD": ("unread", c.Unread()),
    "PING": ("ping 42", c.Ping("42")),
    "PONG": ("pong 42", c.Pong("42")),
    "QUIT": ("quit lunch", c.Quit("lunch")),
    "MODE": ("mode #ops +ov bob eve", c.Mode("#ops", ("+ov", "bob", "eve"))),
    "KICK": ("kick #ops bob stop that", c.Kick("#ops", "bob", "stop that")),
    "NOTICE": ("notice #builds build 7 passed", c.Notice("#builds", "build 7 passed")),
    "HELP": ("help history", c.Help("HISTORY")),
    "CTCP": ("ctcp #general version", c.Ctcp("#general", "VERSION")),
    "OPER": ("oper admin correct-horse", c.Oper("admin", "correct-horse")),
    "KILL": ("kill spammer  flooding #general ", c.Kill("spammer", "flooding #general")),
    "WALLOPS": ("wallops restart at 18:00", c.Wallops("restart at 18:00")),
}


def spellings(verb: str) -> list[str]:
    """Ways a client may type a verb: any letter case, optional ``/``, leading spaces."""
    mixed = "".join(ch.upper() if i % 2 else ch.lower() for i, ch in enumerate(verb))
    forms = [verb.upper(), verb.lower(), verb.capitalize(), mixed, mixed.swapcase()]
    return [*forms, *(f"/{form}" for form in forms), f"  {verb.lower()}", f" /{mixed}"]


def test_verb_table_covers_every_verb() -> None:
    assert set(VERB_CASES) == set(VERBS)


def test_verb_table_rows() -> None:
    for name, row in VERBS.items():
        assert name == name.upper()
        assert name == row.name or name in row.aliases
        assert row.syntax.split(" ")[0] == row.name
        assert row.example.split(" ")[0] == row.name
        assert row.summary
        assert row.cost >= 0
    assert VERBS["WHO"] is VERBS["NAMES"]


def test_verbs_allowed_before_registration() -> None:
    early = {name for name, row in VERBS.items() if row.before_registration}
    assert early == {"NICK", "RESUME", "PASS", "PING", "PONG", "QUIT", "HELP"}


@pytest.mark.parametrize("verb", sorted(VERBS))
def test_every_example_parses(verb: str) -> None:
    row = VERBS[verb]
    parsed_row, _ = parse_command(row.example)
    assert parsed_row is row


@pytest.mark.parametrize("verb", sorted(VERB_CASES))
def test_every_verb_in_any_case_with_or_without_slash(verb: str) -> None:
    line, expected = VERB_CASES[verb]
    args = line.partition(" ")[2]
    for spelling in spellings(verb):
        typed = f"{spelling} {args}" if args else spelling
        row, command = parse_command(typed)
        assert row is VERBS[verb], typed
        assert command == expected, typed


def test_alias_who_is_names() -> None:
    row, command = parse_command("WHO #c")
    assert row.name == "NAMES"
    assert command == c.Names("#c")
    err = parse_error("who")
    assert err.reply.code == "NEED_MORE_PARAMS"
    assert err.reply.command == "NAMES"


# ------------------------------------------------------------------ rest of the line


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("MSG #c :hi", c.Msg("#c", ":hi")),
        ("MSG #c hello   there  ", c.Msg("#c", "hello   there  ")),
        ("MSG #c  leading", c.Msg("#c", " leading")),  # one space separates; the rest is text
        ("MSG   #c x", c.Msg("#c", "x")),
        ("MSG bob private hello", c.Msg("bob", "private hello")),
        ("MSG #c \ttab", c.Msg("#c", "\ttab")),
        ("MSG #c a :b :c", c.Msg("#c", "a :b :c")),
        ("MSG #c MSG #d x", c.Msg("#c", "MSG #d x")),
        ("TOPIC #c :new  topic ", c.Topic("#c", ":new  topic ")),
        ("TOPIC #c", c.Topic("#c", None)),
        ("TOPIC #c ", c.Topic("#c", None)),
        ("PART #c", c.Part("#c", "")),
        ("PART #c :gone for  now", c.Part("#c", ":gone for  now")),
        ("QUIT", c.Quit("")),
        ("QUIT   see you  ", c.Quit("see you")),
        ("QUIT :bye", c.Quit(":bye")),
        ("NICK  alice ", c.Nick("alice")),
        ("JOIN #a\tb", c.Join("#a\tb")),  # only U+0020 separates parameters
        ("LIST ", c.ListChannels()),
        ("HELP", c.Help(None)),
        ("HELP /msg", c.Help("MSG")),
        ("HELP nosuch", c.Help("NOSUCH")),
    ],
)
def test_parameters(line: str, expected: c.Command) -> None:
    assert parse_command(line)[1] == expected


# --------------------------------------------------------------------- usage errors


@pytest.mark.parametrize(
    ("line", "code", "verb"),
    [
        ("NICK", "NEED_MORE_PARAMS", "NICK"),
        ("NICK alice bob", "INVALID_PARAMS", "NICK"),
        ("RESUME", "NEED_MORE_PARAMS", "RESUME"),
        ("PASS", "NEED_MORE_PARAMS", "PASS"),
        ("PASS   ", "NEED_MORE_PARAMS", "PASS"),
        ("RESUME a b", "INVALID_PARAMS", "RESUME"),
        ("JOIN", "NEED_MORE_PARAMS", "JOIN"),
        ("JOIN   ", "NEED_MORE_PARAMS", "JOIN"),
        ("JOIN #a key extra", "INVALID_PARAMS", "JOIN"),
        ("CREATE", "NEED_MORE_PARAMS", "CREATE"),
        ("CREATE #a #b", "INVALID_PARAMS", "CREATE"),
        ("PART", "NEED_MORE_PARAMS", "PART"),
        ("PART  ", "NEED_MORE_PARAMS", "PART"),
        ("MSG", "NEED_MORE_PARAMS", "MSG"),
        ("MSG #c", "NEED_MORE_PARAMS", "MSG"),
        ("MSG #c ", "NEED_MORE_PARAMS", "MSG"),
        ("LIST all", "INVALID_PARAMS", "LIST"),
        ("NAMES", "NEED_MORE_PARAMS", "NAMES"),
        ("NAMES #a #b", "INVALID_PARAMS", "NAMES"),
        ("TOPIC", "NEED_MORE_PARAMS", "TOPIC"),
        ("HISTORY", "NEED_MORE_PARAMS", "HISTORY"),
        ("HISTORY #c 1 2", "INVALID_PARAMS", "HISTORY"),
        ("DELETE", "NEED_MORE_PARAMS", "DELETE"),
        ("DELETE nope", "INVALID_PARAMS", "DELETE"),
        ("DELETE nonsense", "INVALID_PARAMS", "DELETE"),
        ("PING a b", "INVALID_PARAMS", "PING"),
        ("PONG a b", "INVALID_PARAMS", "PONG"),
        ("HELP MSG JOIN", "INVALID_PARAMS", "HELP"),
    ],
)
def test_usage_errors_carry_syntax_and_example(line: str, code: str, verb: str) -> None:
    for typed in (line, line.lower(), "/" + line):
        err = parse_error(typed)
        reply = err.reply
        assert isinstance(reply, e.Error)
        assert (reply.code, reply.command, reply.params) == (code, verb, ())
        row = VERBS[verb]
        assert row.syntax in reply.text
        assert "example:" in reply.text
        assert row.example in reply.text
        assert code in str(err)
        assert_clean_wire(encode_event(reply))


def test_usage_error_wire_format_matches_protocol_md() -> None:
    err = parse_error("/ping a b")
    assert encode_event(err.reply) == (
        b"ERR INVALID_PARAMS PING :too many parameters; usage: PING [token]  (example: PING 42)\r\n"
    )


def test_usage_error_function() -> None:
    plain = usage_error("MSG")
    assert plain.reply == e.Error(
        "NEED_MORE_PARAMS",
        "MSG",
        (),
        "usage: MSG <#channel|nick> <text>  (example: MSG #general hello everyone)",
    )
    why = usage_error("JOIN", "INVALID_PARAMS", "bad name")
    assert why.reply.code == "INVALID_PARAMS"
    assert why.reply.text.startswith("bad name; usage: JOIN <#channel>")


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        ("FOO bar", "FOO"),
        ("foo", "FOO"),
        ("PRIVMSG #c :hi", "PRIVMSG"),
        ("//msg #c hi", "/MSG"),
        ("MSG\t#c hi", "MSG\t#C"),
        ("MSGX #c hi", "MSGX"),
        ("", "(empty)"),
        ("   ", "(empty)"),
        ("/", "(empty)"),
        ("/ msg #c hi", "(empty)"),
        ("x" * 100, "X" * 32),
    ],
)
def test_unknown_command(line: str, shown: str) -> None:
    err = parse_error(line)
    assert err.reply.code == "UNKNOWN_COMMAND"
    assert err.reply.command == "*"
    assert f"unknown command {shown};" in err.reply.text
    assert "HELP" in err.reply.text
    assert_clean_wire(encode_event(err.reply))


# -------------------------------------------------------------------------- HISTORY


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("HISTORY #c", c.History("#c")),
        ("HISTORY #c 50", c.History("#c", count=50)),
        ("HISTORY #c 1", c.History("#c", count=1)),
        (f"HISTORY #c {MAX_COUNT}", c.History("#c", count=MAX_COUNT)),
        ("HISTORY #c 007", c.History("#c", count=7)),
        ("HISTORY #c BEFORE 1-2", c.History("#c", before="1-2")),
        ("HISTORY #c before 1795507200000-41", c.History("#c", before="1795507200000-41")),
        ("HISTORY #c AFTER 1-2", c.History("#c", after="1-2")),
        ("HISTORY #c After 1-2 5", c.History("#c", after="1-2", count=5)),
        ("HISTORY #c BEFORE 1-2 5", c.History("#c", before="1-2", count=5)),
        ("HISTORY  #c   AFTER  1-2   5  ", c.History("#c", after="1-2", count=5)),
    ],
)
def test_history_forms(line: str, expected: c.History) -> None:
    assert parse_command(line)[1] == expected


@pytest.mark.parametrize(
    ("line", "code", "why"),
    [
        ("HISTORY #c BEFORE", "NEED_MORE_PARAMS", "BEFORE needs a message id"),
        ("HISTORY #c after", "NEED_MORE_PARAMS", "AFTER needs a message id"),
        ("HISTORY #c BEFORE x", "INVALID_PARAMS", "not a message id"),
        ("HISTORY #c AFTER 1-", "INVALID_PARAMS", "not a message id"),
        ("HISTORY #c AFTER -1 5", "INVALID_PARAMS", "not a message id"),
        ("HISTORY #c BEFORE 1-2-3", "INVALID_PARAMS", "not a message id"),
        ("HISTORY #c 0", "INVALID_PARAMS", "count must be"),
        ("HISTORY #c -1", "INVALID_PARAMS", "count must be"),
        ("HISTORY #c 99999", "INVALID_PARAMS", "count must be"),
        (f"HISTORY #c {MAX_COUNT + 1}", "INVALID_PARAMS", "count must be"),
        ("HISTORY #c abc", "INVALID_PARAMS", "count must be"),
        ("HISTORY #c 1.5", "INVALID_PARAMS", "count must be"),
        ("HISTORY #c +5", "INVALID_PARAMS", "count must be"),
        ("HISTORY #c ١٢", "INVALID_PARAMS", "count must be"),  # Arabic-Indic digits
        ("HISTORY #c １２", "INVALID_PARAMS", "count must be"),  # fullwidth digits
        ("HISTORY #c ²", "INVALID_PARAMS", "count must be"),  # superscript two
        ("HISTORY #c AFTER 1-2 0", "INVALID_PARAMS", "count must be"),
        ("HISTORY #c 5 10", "INVALID_PARAMS", "too many parameters"),
        ("HISTORY #c AFTER 1-2 5 6", "INVALID_PARAMS", "too many parameters"),
        ("HISTORY #c BEFORE 1-2 AFTER 3-4", "INVALID_PARAMS", "too many parameters"),
        ("HISTORY #c 5 BEFORE 1-2", "INVALID_PARAMS", "too many parameters"),
    ],
)
def test_history_errors(line: str, code: str, why: str) -> None:
    err = parse_error(line)
    assert err.reply.code == code
    assert err.reply.command == "HISTORY"
    assert why in err.reply.text
    assert VERBS["HISTORY"].syntax in err.reply.text
    assert "example:" in err.reply.text


def test_history_huge_count_is_a_protocol_error() -> None:
    err = parse_error("HISTORY #c " + "0" * 4300 + "1")
    assert err.reply.code == "INVALID_PARAMS"


def test_history_count_message_names_the_bounds() -> None:
    assert f"from 1 to {MAX_COUNT}" in parse_error("HISTORY #c 0").reply.text


# --------------------------------------------------------------- DELETE, PING, PONG


@pytest.mark.parametrize("word", ["x", "1-", "-1", "1-2-3", "a-1", "1_2", "١-٢", "1-2\t"])
def test_delete_with_bad_id(word: str) -> None:
    err = parse_error(f"DELETE {word}")
    assert err.reply.code == "INVALID_PARAMS"
    assert err.reply.command == "DELETE"
    assert "not a message id" in err.reply.text
    assert VERBS["DELETE"].syntax in err.reply.text


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("PING", c.Ping(None)),
        ("PING  ", c.Ping(None)),
        ("PING 42", c.Ping("42")),
        ("PiNg  spaced", c.Ping("spaced")),
        ("PING :tok", c.Ping(":tok")),
        ("PONG", c.Pong(None)),
        ("PONG abc", c.Pong("abc")),
    ],
)
def test_ping_and_pong(line: str, expected: c.Command) -> None:
    assert parse_command(line)[1] == expected


# ------------------------------------------------------------------- format_command


@pytest.mark.parametrize(
    "line",
    [
        "NICK alice",
        "RESUME 3q2m0fQ1bW8yZ4nKx7Lr5A",
        "JOIN #general",
        "CREATE #release-planning",
        "PART #general",
        "PART #general see you tomorrow",
        "MSG #general hello everyone",
        "MSG #general  two  spaces ",
        "MSG bob :colon",
        "LIST",
        "NAMES #general",
        "TOPIC #general",
        "TOPIC #general release planning",
        "HISTORY #general",
        "HISTORY #general 20",
        "HISTORY #general BEFORE 1795507200000-41",
        "HISTORY #general AFTER 1795507200000-41 50",
        "DELETE 1795507200000-42",
        "PING",
        "PING 42",
        "PONG",
        "PONG 42",
        "QUIT",
        "QUIT gone fishing",
        "HELP",
        "HELP HISTORY",
        "INVITE",
        "CTCP #general PING 12345 6",
        "CTCP bob CLIENTINFO",
    ],
)
def test_format_command_round_trip(line: str) -> None:
    command = parse_command(line)[1]
    assert format_command(command) == line
    assert parse_command(format_command(command))[1] == command


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ("CTCP #general", "NEED_MORE_PARAMS"),
        ("CTCP #general AC/TION", "INVALID_PARAMS"),
        ("CTCP #general " + "X" * 33, "INVALID_PARAMS"),
        ("CTCP bob action waves", "INVALID_PARAMS"),
        ("INVITE bob", "NEED_MORE_PARAMS"),
    ],
)
def test_bad_ctcp_and_invite(line: str, code: str) -> None:
    assert parse_error(line).reply.code == code


def test_format_command_covers_every_command_class() -> None:
    for line, command in VERB_CASES.values():
        formatted = format_command(command)
        assert parse_command(formatted)[1] == command
        assert formatted.split(" ")[0] == parse_command(line)[0].name


# ----------------------------------------------------------------- events and text

EVENT_LINES: list[tuple[e.Event, str]] = [
    (
        e.Hello("flackd", "0.1.0", 512, 100, "welcome to Flack; type NICK <name> to start"),
        "HELLO flackd 0.1.0 maxline=512 history=100 protocol=1.3 :welcome to Flack; type NICK "
        "<name> to start",
    ),
    (
        e.Hello("flackd", "0.3.0", 512, 100, "PASS first", password=True),
        "HELLO flackd 0.3.0 maxline=512 history=100 protocol=1.3 password=required :PASS first",
    ),
    (
        e.Ok("NICK", ("alice", "token=m0uPlBdZdl4io5SNy20Qzg"), "welcome, alice"),
        "OK NICK alice token=m0uPlBdZdl4io5SNy20Qzg :welcome, alice",
    ),
    (e.Ok("JOIN"), "OK JOIN :"),
    (
        e.Error("NO_SUCH_NICK", "MSG", ("bob",), "bob is not connected"),
        "ERR NO_SUCH_NICK MSG bob :bob is not connected",
    ),
    (e.Error("UNKNOWN_COMMAND", "*", (), "x :y"), "ERR UNKNOWN_COMMAND * :x :y"),
    (
        e.Bye("SHUTDOWN", ("retry=5",), "server shutting down"),
        "BYE SHUTDOWN retry=5 :server shutting down",
    ),
    (e.Bye("QUIT"), "BYE QUIT :"),
    (
        e.Note("SLOW_DOWN", ("retry=2",), "you are sending too fast"),
        "NOTE SLOW_DOWN retry=2 :you are sending too fast",
    ),
    (e.Note("X"), "NOTE X :"),
    (
        e.Message("#general", "1795507200000-57", "2026-11-24T09:20:03.123Z", "alice", "hi all"),
        "MSG #general 1795507200000-57 2026-11-24T09:20:03.123Z alice :hi all",
    ),
    (
        e.Message("bob", "1-2", "2026-11-24T09:20:05.870Z", "alice", ":colon  and :more "),
        "MSG bob 1-2 2026-11-24T09:20:05.870Z alice ::colon  and :more ",
    ),
    (
        e.Message("#c", "1-3", "1970-01-01T00:00:00.000Z", "a", ""),
        "MSG #c 1-3 1970-01-01T00:00:00.000Z a :",
    ),
    (e.Joined("#general", "bob"), "JOIN #general bob"),
    (e.Parted("#general", "bob", "see you"), "PART #general bob :see you"),
    (e.Parted("#general", "bob"), "PART #general bob :"),
    (e.Quit("bob", "connection reset"), "QUIT bob :connection reset"),
    (e.Quit("bob"), "QUIT bob :"),
    (e.NickChanged("bob", "robert"), "NICK bob robert"),
    (e.Topic("#general", "*", "*", ""), "TOPIC #general * * :"),
    (
        e.Topic("#general", "alice", "2026-11-24T09:20:03.123Z", "release planning"),
        "TOPIC #general alice 2026-11-24T09:20:03.123Z :release planning",
    ),
    (e.Deleted("#general", "1795507200000-42", "alice"), "DELETED #general 1795507200000-42 alice"),
    (
        e.Deleted("#general", "1795507200000-42", "alice", "spam"),
        "DELETED #general 1795507200000-42 alice :spam",
    ),
    (
        e.Message("#c", "1-4", "2026-11-24T09:20:03.123Z", "alice", "waves", action=True),
        "MSG #c 1-4 2026-11-24T09:20:03.123Z alice kind=action :waves",
    ),
    (
        e.Message(
            "bob",
            "1-5",
            "2026-11-24T09:20:03.123Z",
            "alice",
            "fixed",
            False,
            "2026-11-24T09:21:00.000Z",
        ),
        "MSG bob 1-5 2026-11-24T09:20:03.123Z alice edited=2026-11-24T09:21:00.000Z :fixed",
    ),
    (
        e.Message(
            "#c", "1-6", "2026-11-24T09:20:03.123Z", "alice", "", True, "2026-11-24T09:21:00.000Z"
        ),
        "MSG #c 1-6 2026-11-24T09:20:03.123Z alice kind=action edited=2026-11-24T09:21:00.000Z :",
    ),
    (
        e.Edited("#c", "1-4", "2026-11-24T09:21:00.000Z", "alice", "dances"),
        "EDITED #c 1-4 2026-11-24T09:21:00.000Z alice :dances",
    ),
    (
        e.UnreadCount("bob", 2, 1, "1795507200000-9"),
        "COUNT bob unread=2 mentions=1 newest=1795507200000-9",
    ),
    (e.BlockStart("UNREAD", ("1",)), "UNREAD 1"),
    (e.BlockEnd("UNREAD", ()), "END UNREAD"),
    (e.BlockStart("LIST", ("3",)), "LIST 3"),
    (e.BlockStart("NAMES", ("#general", "2")), "NAMES #general 2"),
    (e.BlockStart("HISTORY", ("#general", "0")), "HISTORY #general 0"),
    (e.BlockStart("HELP", ("*", "16")), "HELP * 16"),
    (e.ChannelEntry("#general", 3, "the topic"), "CHANNEL #general 3 :the topic"),
    (e.ChannelEntry("#empty", 0, ""), "CHANNEL #empty 0 :"),
    (e.Member("alice"), "MEMBER alice"),
    (e.Member("alice", "op"), "MEMBER alice role=op"),
    (e.Member("robot", "", bot=True), "MEMBER robot bot=yes"),
    (e.Member("alice", "voice", True, True), "MEMBER alice role=voice bot=yes oper=yes"),
    (e.Member("root", oper=True), "MEMBER root oper=yes"),
    (e.Wallops("alice", "restart at 18:00 :)"), "WALLOPS alice :restart at 18:00 :)"),
    (e.ModeChanged("alice", "alice", ("+Bw",)), "MODE alice alice +Bw"),
    (e.ModeChanged("alice", "*", ("+o",)), "MODE alice * +o"),
    (
        e.Message("#b", "1-2", "2026-12-03T12:00:00.000Z", "ci", "passed", notice=True),
        "MSG #b 1-2 2026-12-03T12:00:00.000Z ci kind=notice :passed",
    ),
    (e.ModeChanged("#ops", "alice", ("+kl", "sesame", "5")), "MODE #ops alice +kl sesame 5"),
    (e.ModeChanged("#ops", "*", ("+nt",)), "MODE #ops * +nt"),
    (e.Kicked("#ops", "bob", "alice", "stop that"), "KICK #ops bob alice :stop that"),
    (
        e.BanEntry("spam*!*@*", "alice", "2026-12-03T12:00:00.000Z"),
        "BAN spam*!*@* alice 2026-12-03T12:00:00.000Z",
    ),
    (e.BlockStart("BANS", ("#ops", "1")), "BANS #ops 1"),
    (
        e.ExceptEntry("spam1!*@*", "alice", "2026-12-03T12:00:00.000Z"),
        "EXCEPT spam1!*@* alice 2026-12-03T12:00:00.000Z",
    ),
    (e.BlockStart("EXCEPTS", ("#ops", "1")), "EXCEPTS #ops 1"),
    (
        e.InvexEntry("bob!*@*", "alice", "2026-12-03T12:00:00.000Z"),
        "INVEX bob!*@* alice 2026-12-03T12:00:00.000Z",
    ),
    (e.BlockStart("INVEXES", ("#ops", "0")), "INVEXES #ops 0"),
    (e.BlockStart("INVITES", ("2",)), "INVITES 2"),
    (e.BlockEnd("INVITES", ()), "END INVITES"),
    (e.Ctcp("#ops", "bob", "PING", "12345"), "CTCP #ops bob PING :12345"),
    (e.Ctcp("alice", "bob", "VERSION"), "CTCP alice bob VERSION :"),
    (e.Info("usage: MSG <#channel|nick> <text>"), "INFO :usage: MSG <#channel|nick> <text>"),
    (e.Info(""), "INFO :"),
    (
        e.BlockEnd("HISTORY", ("#general", "more=no", "gap=no")),
        "END HISTORY #general more=no gap=no",
    ),
    (e.BlockEnd("LIST", ("more=no",)), "END LIST more=no"),
    (e.BlockEnd("NAMES", ("#general",)), "END NAMES #general"),
    (e.Ping(), "PING"),
    (e.Ping("42"), "PING 42"),
    (e.Pong(), "PONG"),
    (e.Pong("spaced"), "PONG spaced"),
]

EVENT_CLASSES: tuple[type, ...] = typing.get_args(e.Event)


def test_event_table_covers_every_event_class() -> None:
    assert len(EVENT_CLASSES) == len(e.__all__) - 1  # every name in __all__ but Event
    assert {type(event) for event, _ in EVENT_LINES} == set(EVENT_CLASSES)


@pytest.mark.parametrize(("event", "line"), EVENT_LINES, ids=[line for _, line in EVENT_LINES])
def test_format_and_parse_event(event: e.Event, line: str) -> None:
    assert format_event(event) == line
    assert parse_event(line) == event
    assert parse_event(format_event(event)) == event
    assert encode_event(event) == line.encode() + b"\r\n"


def test_event_helpers() -> None:
    ok = e.Ok("NICK", ("alice", "token=abc", "last=#c"), "")
    assert ok.param("token") == "abc"
    assert ok.param("last") == "#c"
    assert ok.param("tok") is None
    assert ok.param("alice") is None
    end = e.BlockEnd("HISTORY", ("#c", "more=yes", "gap=no"))
    assert end.flag("more")
    assert not end.flag("gap")
    assert not end.flag("other")
    start = e.BlockStart("NAMES", ("#c", "12"))
    assert start.count == 12
    assert start.VERB == "NAMES"


def _nasty_value(annotation: object) -> object:
    """A field value full of control characters, by the field's (string) annotation."""
    match annotation:
        case "str" | "str | None":
            return NASTY
        case "int":
            return 7
        case "bool":
            return True
        case "tuple[str, ...]":
            return (NASTY, "ok", NASTY)
        case _:
            raise AssertionError(f"no nasty value for a field of type {annotation!r}")


def nasty_event(cls: type) -> e.Event:
    """An instance of ``cls`` with every text-like field full of control characters."""
    values = {f.name: _nasty_value(f.type) for f in dataclasses.fields(cls)}
    event = cls(**values)
    assert isinstance(event, EVENT_CLASSES)
    return typing.cast(e.Event, event)


@pytest.mark.parametrize("cls", EVENT_CLASSES, ids=lambda cls: cls.__name__)
def test_encode_event_neutralises_every_field(cls: type) -> None:
    event = nasty_event(cls)
    body = assert_clean_wire(encode_event(event))
    assert "\ufffd" in body
    assert format_event(event) == body


def test_message_text_cannot_fake_a_second_line() -> None:
    message = e.Message("#c", "1-1", "2026-11-24T09:20:03.123Z", "mallory", "hi\r\nMSG #x fake")
    data = encode_event(message)
    assert_clean_wire(data)
    lines = LineBuffer(4096).feed(data)
    assert len(lines) == 1
    line = lines[0]
    assert isinstance(line, bytes)
    parsed = parse_event(decode_line(line))
    assert parsed == e.Message(
        "#c", "1-1", "2026-11-24T09:20:03.123Z", "mallory", "hi\ufffd\ufffdMSG #x fake"
    )


@pytest.mark.parametrize("separator", ["\n", "\r", "\r\n", "\x85", "\u2028", "\u2029", "\x0b"])
def test_no_separator_survives_in_any_position(separator: str) -> None:
    for event in (
        e.Message("#c" + separator, "1-1", "t", "a" + separator, separator),
        e.Error("X", "MSG", ("p" + separator,), separator + "text"),
        e.Joined(separator, separator),
        e.Info(separator * 3),
    ):
        assert_clean_wire(encode_event(event))


def test_tab_survives_encoding() -> None:
    assert encode_event(e.Info("a\tb")) == b"INFO :a\tb\r\n"


def test_encoded_output_is_utf8() -> None:
    data = encode_event(e.Info("café 日本 😀 👩\u200d💻"))
    assert data == "INFO :café 日本 😀 👩\u200d💻\r\n".encode()


# ------------------------------------------------------------------- parse_event refuses


@pytest.mark.parametrize(
    "line",
    ["", "FOO", "FOO bar :baz", "PRIVMSG #c :hi", "msg #c 1-1 t a :x", "ok NICK :x", ":x", " MSG"],
)
def test_parse_event_unknown_verb(line: str) -> None:
    with pytest.raises(ValueError, match="unknown server line"):
        parse_event(line)


@pytest.mark.parametrize(
    "line",
    [
        "MSG #c 1-1 2026-11-24T09:20:03.123Z :text",
        "MSG",
        "OK",
        "OK :text",
        "ERR CODE",
        "ERR CODE :text",
        "NOTE",
        "NOTE :text",
        "BYE",
        "BYE :text",
        "HELLO flackd 0.1.0 maxline=512 :text",
        "JOIN #c",
        "PART #c :reason",
        "QUIT",
        "QUIT :reason",
        "NICK old",
        "TOPIC #c alice :text",
        "DELETED #c 1-1",
        "CHANNEL #c",
        "MEMBER",
        "END",
        "LIST",
        "NAMES",
        "HISTORY",
        "HELP",
    ],
)
def test_parse_event_too_few_params(line: str) -> None:
    with pytest.raises(ValueError, match="needs"):
        parse_event(line)


@pytest.mark.parametrize(
    "line",
    [
        "HELLO flackd 0.1.0 maxline=big history=100 :t",
        "HELLO flackd 0.1.0 maxline=512 history=-1 :t",
        "CHANNEL #c many :topic",
        "CHANNEL #c ٣ :topic",
        "LIST three",
        "NAMES #c",
        "HISTORY #c x",
    ],
)
def test_parse_event_bad_numbers(line: str) -> None:
    with pytest.raises(ValueError, match="not a number"):
        parse_event(line)


# ------------------------------------------------------------------------ error codes

FLACKD_SOURCE = Path(flackd.__file__).resolve().parent

#: Places in the source that name an error code as a string literal.
CODE_PATTERNS = [
    re.compile(r'ProtocolError\(\s*"([A-Z][A-Z0-9_]*)"'),
    re.compile(r'\bError\(\s*"([A-Z][A-Z0-9_]*)"'),
    re.compile(r'usage_error\(\s*[^,()]+,\s*"([A-Z][A-Z0-9_]*)"'),
    re.compile(r'\bline_error\(\s*"([A-Z][A-Z0-9_]*)"'),
    re.compile(r'\bcode: str = "([A-Z][A-Z0-9_]*)"'),
]


def codes_used_in_source() -> set[str]:
    found: set[str] = set()
    for path in sorted(FLACKD_SOURCE.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        for pattern in CODE_PATTERNS:
            found.update(pattern.findall(source))
    return found


def test_source_scan_finds_codes() -> None:
    found = codes_used_in_source()
    # If the patterns stop matching, the next test would pass vacuously.
    assert len(found) >= 15
    assert {"NICK_IN_USE", "UNKNOWN_COMMAND", "NEED_MORE_PARAMS", "LINE_TOO_LONG"} <= found
    assert {"INVALID_PARAMS", "NO_SUCH_NICK", "BAD_CHARACTER", "NOT_REGISTERED"} <= found
    assert "INVALID_UTF8" in found  # codes may hold digits


def test_every_code_used_in_flackd_is_documented() -> None:
    assert codes_used_in_source() - set(ERROR_CODES) == set()


def test_error_code_table() -> None:
    for code, meaning in ERROR_CODES.items():
        assert re.fullmatch(r"[A-Z][A-Z0-9_]*", code)
        assert meaning
    assert set(ERROR_CODES) >= TEMPORARY_CODES
    assert "RATE_LIMITED" in TEMPORARY_CODES


def test_protocol_error_reply() -> None:
    err = ProtocolError("NO_SUCH_CHANNEL", "JOIN", "no such channel", ("#x",))
    assert err.reply == e.Error("NO_SUCH_CHANNEL", "JOIN", ("#x",), "no such channel")
    assert str(err) == "NO_SUCH_CHANNEL JOIN: no such channel"
    assert isinstance(err, Exception)

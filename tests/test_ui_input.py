"""ui.input: slash-command parsing, completion and paste splitting, tested as data.

Covers every slash command and alias (client-ux.md section 5) in a table, usage errors
with the command's syntax, channel and nick validation with the codec's rules, ``//``
escapes, plain text per buffer kind, completion order, and paste splitting: every word
kept, every piece within the byte limit, never inside a UTF-8 character.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flackcli.ui.input import (
    COMMAND_NAMES,
    DM_HISTORY_UNSUPPORTED,
    EDIT_UNSUPPORTED,
    ME_UNSUPPORTED,
    SLASH_COMMANDS,
    Action,
    ClearBuffer,
    CloseBuffer,
    Connect,
    DeleteLast,
    LoadOlder,
    LocalError,
    MarkRead,
    Nothing,
    OpenBuffer,
    Quit,
    Raw,
    Reconnect,
    Reply,
    SendCommand,
    SendMessages,
    SetLogging,
    ShowHelp,
    StartEdit,
    UserModes,
    clean_text,
    complete,
    current_word,
    help_lines,
    lookup,
    max_text_bytes,
    needs_confirmation,
    parse,
    parse_edit,
    say,
    split_paste,
)
from flackd.codec import commands as c
from flackd.codec.grammar import format_command

# --- plain text -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "buffer", "action"),
    [
        ("hello world", "#dev", SendCommand(c.Msg("#dev", "hello world"))),
        ("hello world", "bob", SendCommand(c.Msg("bob", "hello world"))),
        ("  indented", "#dev", SendCommand(c.Msg("#dev", "  indented"))),
        ("//help is literal", "#dev", SendCommand(c.Msg("#dev", "/help is literal"))),
        ("//", "#dev", SendCommand(c.Msg("#dev", "/"))),
        ("not /a command", "#dev", SendCommand(c.Msg("#dev", "not /a command"))),
        ("hello\n", "#dev", SendCommand(c.Msg("#dev", "hello"))),
        ("", "#dev", Nothing()),
        ("   ", "#dev", Nothing()),
        ("\n\n", "bob", Nothing()),
        ("one\ntwo\r\nthree\rfour", "#dev",
         SendMessages("#dev", ("one", "two", "three", "four"))),
        ("/join #x\n/part", "#dev", SendMessages("#dev", ("/join #x", "/part"))),
    ],
)  # fmt: skip
def test_plain_text_goes_to_the_current_buffer(text: str, buffer: str, action: Action) -> None:
    assert parse(text, buffer) == action


@pytest.mark.parametrize("buffer", [None, "server", "", "#", "9lives"])
def test_plain_text_in_a_buffer_without_target_is_refused(buffer: str | None) -> None:
    action = parse("hello", buffer)
    assert isinstance(action, LocalError)
    assert "/join #channel" in action.text


def test_a_long_line_is_split_into_messages_that_fit() -> None:
    text = " ".join(["word"] * 300)  # 1499 bytes
    action = parse(text, "#general")
    assert isinstance(action, SendMessages)
    assert action.target == "#general"
    assert needs_confirmation(action.texts)
    assert " ".join(action.texts).split() == text.split()
    for command in action.commands:
        assert len(format_command(command).encode()) + 2 <= 512


def test_the_server_line_limit_is_a_parameter() -> None:
    text = "x" * 100
    assert isinstance(parse(text, "#dev"), SendCommand)
    action = parse(text, "#dev", max_line=64)
    assert isinstance(action, SendMessages)
    assert all(len(f"MSG #dev {t}\r\n".encode()) <= 64 for t in action.texts)
    assert "".join(action.texts) == text


# --- every slash command and alias ----------------------------------------------------------


COMMAND_TABLE: list[tuple[str, str | None, Action]] = [
    ("/join #dev", "#general", SendCommand(c.Join("#dev"), focus="#dev")),
    ("/j #dev", "#general", SendCommand(c.Join("#dev"), focus="#dev")),
    ("/join dev", None, SendCommand(c.Join("#dev"), focus="#dev")),
    ("/JOIN #Dev", "#general", SendCommand(c.Join("#Dev"), focus="#Dev")),
    ("/join #vault sesame", None, SendCommand(c.Join("#vault", "sesame"), focus="#vault")),
    ("/part", "#dev", SendCommand(c.Part("#dev"))),
    ("/part see you", "#dev", SendCommand(c.Part("#dev", "see you"))),
    ("/part #ops", "#dev", SendCommand(c.Part("#ops"))),
    ("/part #ops lunch time", "bob", SendCommand(c.Part("#ops", "lunch time"))),
    ("/leave", "#dev", SendCommand(c.Part("#dev"))),
    ("/close", "#dev", SendCommand(c.Part("#dev"))),
    ("/part", "bob", CloseBuffer("bob")),
    ("/close", "bob", CloseBuffer("bob")),
    ("/leave bye", "bob", CloseBuffer("bob")),
    ("/msg bob hi there", "#dev", SendCommand(c.Msg("bob", "hi there"), focus="bob")),
    ("/msg #ops deploy done", "#dev", SendCommand(c.Msg("#ops", "deploy done"))),
    ("/MSG bob  two spaces", None, SendCommand(c.Msg("bob", "two spaces"), focus="bob")),
    ("/query bob", "#dev", OpenBuffer("bob")),
    ("/q bob", "#dev", OpenBuffer("bob")),
    ("/dm bob", None, OpenBuffer("bob")),
    ("/query bob hello", "#dev", SendCommand(c.Msg("bob", "hello"), focus="bob")),
    ("/reply on my way", "#dev", Reply("on my way")),
    ("/me waves", "#dev", SendCommand(c.Action("#dev", "waves"))),
    ("/ME waves back", "bob", SendCommand(c.Action("bob", "waves back"))),
    ("/nick alicia", "#dev", SendCommand(c.Nick("alicia"))),
    ("/list", "#dev", SendCommand(c.ListChannels())),
    ("/names", "#dev", SendCommand(c.Names("#dev"))),
    ("/who", "#dev", SendCommand(c.Names("#dev"))),
    ("/names #ops", "bob", SendCommand(c.Names("#ops"))),
    ("/topic", "#dev", SendCommand(c.Topic("#dev"))),
    ("/topic release on Thursday", "#dev", SendCommand(c.Topic("#dev", "release on Thursday"))),
    ("/topic #ops", "#dev", SendCommand(c.Topic("#ops"))),
    ("/topic #ops on call: bob", "#dev", SendCommand(c.Topic("#ops", "on call: bob"))),
    ("/invite bob", "#dev", SendCommand(c.Invite("bob", "#dev"))),
    ("/invite bob #ops", "bob", SendCommand(c.Invite("bob", "#ops"))),
    ("/invite", "bob", SendCommand(c.Invites())),
    ("/history", "#dev", LoadOlder("#dev")),
    ("/history 50", "#dev", LoadOlder("#dev", 50)),
    ("/history", "bob", LoadOlder("bob")),
    ("/delete", "#dev", DeleteLast("#dev")),
    ("/delete", "bob", DeleteLast("bob")),
    ("/delete oops, wrong window", "#dev", DeleteLast("#dev", "oops, wrong window")),
    ("/delete 1795507200000-42", "#dev", SendCommand(c.Delete("1795507200000-42"))),
    ("/delete 1795507200000-42 spam", None, SendCommand(c.Delete("1795507200000-42", "spam"))),
    ("/mode", "#dev", SendCommand(c.Mode("#dev"))),
    ("/mode #ops", "bob", SendCommand(c.Mode("#ops"))),
    ("/mode +mt", "#dev", SendCommand(c.Mode("#dev", ("+mt",)))),
    ("/mode +o-v bob carol", "#dev", SendCommand(c.Mode("#dev", ("+o-v", "bob", "carol")))),
    ("/mode #ops +kl sesame 20", "#dev", SendCommand(c.Mode("#ops", ("+kl", "sesame", "20")))),
    ("/mode -k", "#dev", SendCommand(c.Mode("#dev", ("-k",)))),
    ("/mode +b", "#dev", SendCommand(c.Mode("#dev", ("+b",)))),
    ("/mode +e", "#dev", SendCommand(c.Mode("#dev", ("+e",)))),
    ("/mode +eIC spam1 bob", "#dev", SendCommand(c.Mode("#dev", ("+eIC", "spam1", "bob")))),
    ("/kick bob", "#dev", SendCommand(c.Kick("#dev", "bob"))),
    ("/kick bob take a break", "#dev", SendCommand(c.Kick("#dev", "bob", "take a break"))),
    ("/kick #ops bob spam", "carol", SendCommand(c.Kick("#ops", "bob", "spam"))),
    ("/op bob", "#dev", SendCommand(c.Mode("#dev", ("+o", "bob")))),
    ("/op bob carol", "#dev", SendCommand(c.Mode("#dev", ("+oo", "bob", "carol")))),
    ("/deop bob", "#dev", SendCommand(c.Mode("#dev", ("-o", "bob")))),
    ("/voice bob", "#dev", SendCommand(c.Mode("#dev", ("+v", "bob")))),
    ("/devoice bob", "#dev", SendCommand(c.Mode("#dev", ("-v", "bob")))),
    ("/ban spam*", "#dev", SendCommand(c.Mode("#dev", ("+b", "spam*")))),
    ("/ban *!*@flack", "#dev", SendCommand(c.Mode("#dev", ("+b", "*!*@flack")))),
    ("/ban", "#dev", SendCommand(c.Mode("#dev", ("+b",)))),
    ("/unban spam*", "#dev", SendCommand(c.Mode("#dev", ("-b", "spam*")))),
    ("/edit", "#dev", StartEdit("#dev")),
    ("/edit", "bob", StartEdit("bob")),
    ("/edit 1795507200000-42", "#dev", StartEdit("#dev", "1795507200000-42")),
    ("/edit 1795507200000-42", None, StartEdit(None, "1795507200000-42")),
    ("/read", "#dev", MarkRead()),
    ("/read -all", "#dev", MarkRead(all_buffers=True)),
    ("/clear", "#dev", ClearBuffer()),
    ("/reconnect", "#dev", Reconnect()),
    ("/connect example.org:7777", "#dev", Connect("example.org:7777")),
    ("/connect localhost", None, Connect("localhost")),
    ("/connect [::1]:7777", None, Connect("[::1]:7777")),
    ("/raw PING 42", "#dev", Raw("PING 42")),
    ("/raw msg #dev  spaced", "#dev", Raw("msg #dev  spaced")),
    ("/log on", "#dev", SetLogging(True)),
    ("/log OFF", "#dev", SetLogging(False)),
    ("/help", "#dev", ShowHelp()),
    ("/help join", "#dev", ShowHelp("join")),
    ("/help /J", "#dev", ShowHelp("join")),
    ("/help who", "#dev", ShowHelp("names")),
    ("/quit", "#dev", Quit()),
    ("/quit see you tomorrow", "#dev", Quit("see you tomorrow")),
    ("/oper admin correct-horse", "#dev", SendCommand(c.Oper("admin", "correct-horse"))),
    ("/kill spammer", "#dev", SendCommand(c.Kill("spammer"))),
    ("/kill spammer  flooding #dev", None, SendCommand(c.Kill("spammer", "flooding #dev"))),
    ("/wallops restart at 18:00", "#dev", SendCommand(c.Wallops("restart at 18:00"))),
    ("/umode", "#dev", UserModes()),
    ("/umode +B -w", "#dev", UserModes(("+B", "-w"))),
    ("/umode -o", None, UserModes(("-o",))),
    ("/exit", None, Quit()),
    ("/Exit bye", None, Quit("bye")),
]


@pytest.mark.parametrize(("text", "buffer", "action"), COMMAND_TABLE)
def test_slash_commands(text: str, buffer: str | None, action: Action) -> None:
    assert parse(text, buffer) == action


def test_the_table_covers_every_command_and_alias() -> None:
    covered = {lookup(text.split()[0]) for text, _, _ in COMMAND_TABLE}
    assert covered == set(SLASH_COMMANDS)
    typed = {text.split()[0][1:].lower() for text, _, _ in COMMAND_TABLE}
    for cmd in SLASH_COMMANDS:
        assert {cmd.name, *cmd.aliases} <= typed, cmd.name


@pytest.mark.parametrize(
    "alias",
    ["j", "leave", "close", "q", "dm", "who", "exit"],
)
def test_aliases_resolve(alias: str) -> None:
    cmd = lookup("/" + alias.upper())
    assert cmd is not None
    assert alias in cmd.aliases


# --- usage errors and validation -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "buffer", "expected"),
    [
        ("/join", "#dev", "usage: /join <#channel>"),
        ("/join #a #b", "#dev", "one channel at a time"),
        ("/join #a key more", "#dev", "usage: /join <#channel> [key]"),
        ("/join #a no,comma", "#dev", "a key is 1-32 printable ASCII characters"),
        ("/join #a " + "k" * 33, "#dev", "a key is 1-32 printable ASCII characters"),
        ("/mode", "bob", "usage: /mode [#channel]"),
        ("/mode +x", "#dev", "x is not a channel mode"),
        ("/mode +o", "#dev", "+o needs a parameter"),
        ("/mode +m bob", "#dev", "more parameters than the modes take"),
        ("/mode +ooooooo a b c d e f g", "#dev", "at most 6 changes"),
        ("/mode #bad! +m", "#dev", "#bad! is not a channel name"),
        ("/kick", "#dev", "usage: /kick [#channel] <nick> [reason]"),
        ("/kick bob", None, "usage: /kick"),
        ("/kick 9lives", "#dev", "9lives is not a nick"),
        ("/op", "#dev", "usage: /op <nick>..."),
        ("/op bob", "bob", "this is not a channel"),
        ("/op a b c d e f g", "#dev", "give 1 to 6 nicks"),
        ("/voice bob!", "#dev", "bob! is not a nick"),
        ("/ban a b", "#dev", "one mask at a time"),
        ("/ban bad\u00e9", "#dev", "is not a mask"),
        ("/unban", "#dev", "usage: /unban <mask>"),
        ("/ban spam", None, "this is not a channel"),
        ("/part", None, "usage: /part [#channel] [reason]"),
        ("/msg", "#dev", "usage: /msg <nick|#channel> <text>"),
        ("/msg bob", "#dev", "usage: /msg <nick|#channel> <text>"),
        ("/msg bob    ", "#dev", "usage: /msg <nick|#channel> <text>"),
        ("/query", "#dev", "usage: /query <nick> [text]"),
        ("/reply", "#dev", "usage: /reply <text>"),
        ("/nick", "#dev", "usage: /nick <new-nick>"),
        ("/nick a b", "#dev", "usage: /nick <new-nick>"),
        ("/list everything", "#dev", "usage: /list"),
        ("/names", "bob", "usage: /names [#channel]"),
        ("/names #a #b", "#dev", "usage: /names [#channel]"),
        ("/topic", None, "usage: /topic [#channel] [text]"),
        ("/topic hello", "bob", "usage: /topic [#channel] [text]"),
        ("/invite bob", "bob", "usage: /invite [<nick> [#channel]]"),
        ("/invite bob #a #b", "#dev", "usage: /invite [<nick> [#channel]]"),
        ("/history", None, "usage: /history [n]"),
        ("/history 0", "#dev", "usage: /history [n]"),
        ("/history 10001", "#dev", "usage: /history [n]"),
        ("/history ten", "#dev", "usage: /history [n]"),
        ("/history 1 2", "#dev", "usage: /history [n]"),
        ("/history ٣", "#dev", "usage: /history [n]"),
        ("/delete", None, "usage: /delete"),
        ("/me", "#dev", "usage: /me <text>"),
        ("/me waves", None, "no one to talk to"),
        ("/edit", None, "usage: /edit [id]"),
        ("/edit 42", "#dev", "42 is not a message id"),
        ("/edit 1-2 3-4", "#dev", "usage: /edit [id]"),
        ("/read everything", "#dev", "usage: /read [-all]"),
        ("/clear now", "#dev", "usage: /clear"),
        ("/reconnect now", "#dev", "usage: /reconnect"),
        ("/connect", "#dev", "usage: /connect <host[:port]>"),
        ("/connect host:99999", "#dev", "usage: /connect <host[:port]>"),
        ("/connect host:port", "#dev", "usage: /connect <host[:port]>"),
        ("/connect a b", "#dev", "usage: /connect <host[:port]>"),
        ("/raw", "#dev", "usage: /raw <line>"),
        ("/log", "#dev", "usage: /log on|off"),
        ("/log maybe", "#dev", "usage: /log on|off"),
        ("/help a b", "#dev", "usage: /help [command]"),
    ],
)
def test_usage_errors_give_the_syntax(text: str, buffer: str | None, expected: str) -> None:
    action = parse(text, buffer)
    assert isinstance(action, LocalError)
    assert expected in action.text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/join #no spaces here", "usage: /join"),
        ("/join #bad!", "#bad! is not a channel name"),
        ("/join #" + "x" * 33, "is not a channel name"),
        ("/part #bad!", "#bad! is not a channel name"),
        ("/names #bad!", "#bad! is not a channel name"),
        ("/msg #bad! hi", "#bad! is not a channel name"),
        ("/msg 9lives hi", "9lives is not a nick"),
        ("/msg server hi", "server is not a nick"),
        ("/query bob!", "bob! is not a nick"),
        ("/nick 9lives", "9lives is not a nick"),
        ("/nick " + "a" * 17, "is not a nick"),
        ("/nick flackd", "flackd is not a nick"),
        ("/dance", "unknown command /dance; /help lists them (//dance sends it as text)"),
        ("/", "unknown command /;"),
        ("/help dance", "no command /dance"),
    ],
)
def test_names_are_validated_with_the_codec_rules(text: str, expected: str) -> None:
    action = parse(text, "#dev")
    assert isinstance(action, LocalError)
    assert expected in action.text


@pytest.mark.parametrize(
    ("text", "buffer", "refusal"),
    [
        ("/me waves", "#dev", ME_UNSUPPORTED),
        ("/ME dances", "bob", ME_UNSUPPORTED),
        ("/edit", "#dev", EDIT_UNSUPPORTED),
        ("/edit 1795507200000-42", "#dev", EDIT_UNSUPPORTED),
        ("/history", "bob", DM_HISTORY_UNSUPPORTED),
        ("/delete", "bob", DM_HISTORY_UNSUPPORTED),
    ],
)
def test_a_version_1_server_refuses_clearly(text: str, buffer: str, refusal: str) -> None:
    assert parse(text, buffer, protocol="1") == LocalError(refusal)
    assert "protocol 1" in refusal


@pytest.mark.parametrize(
    "text",
    ["/mode", "/mode +m", "/kick bob", "/op bob", "/ban spam", "/join #vault sesame",
     "/delete wrong window", "/delete 1795507200000-42 spam"],
)  # fmt: skip
@pytest.mark.parametrize("protocol", ["1", "1.1"])
def test_a_server_before_1_2_has_no_operators(text: str, protocol: str) -> None:
    refusal = parse(text, "#dev", protocol=protocol)
    assert isinstance(refusal, LocalError)
    assert f"protocol {protocol}" in refusal.text
    assert "MODE and KICK came with 1.2" in refusal.text


@pytest.mark.parametrize(
    "text", ["/oper admin pw", "/kill bob", "/wallops hi", "/umode", "/umode +B"]
)
@pytest.mark.parametrize("protocol", ["1", "1.1", "1.2"])
def test_a_server_before_1_3_has_no_server_operators(text: str, protocol: str) -> None:
    refusal = parse(text, "#dev", protocol=protocol)
    assert isinstance(refusal, LocalError)
    assert f"protocol {protocol}" in refusal.text
    assert "came with 1.3" in refusal.text


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("/oper admin", "usage: /oper"),
        ("/oper admin two words", "usage: /oper"),
        ("/kill", "usage: /kill"),
        ("/kill #dev spam", "is not a nick"),
        ("/wallops", "usage: /wallops"),
        ("/umode +x", "x is not a user mode"),
        ("/umode w", "starts with + or -"),
    ],
)
def test_server_operator_commands_are_checked_before_sending(text: str, why: str) -> None:
    refusal = parse(text, "#dev")
    assert isinstance(refusal, LocalError)
    assert why in refusal.text


@pytest.mark.parametrize(
    "text", ["/join #vault", "/delete", "/delete 1795507200000-42", "/names", "/invite bob"]
)
def test_a_1_1_server_still_gets_what_it_knows(text: str) -> None:
    assert isinstance(parse(text, "#dev", protocol="1.1"), SendCommand | DeleteLast)


@pytest.mark.parametrize(
    ("text", "action"),
    [
        ("/history", LoadOlder("#dev")),
        ("/delete", DeleteLast("#dev")),
        ("hello", SendCommand(c.Msg("#dev", "hello"))),
    ],
)
def test_a_version_1_server_keeps_the_channel_commands(text: str, action: Action) -> None:
    assert parse(text, "#dev", protocol="1") == action


@pytest.mark.parametrize(
    ("text", "action"),
    [
        ("fixed the typo", SendCommand(c.Edit("1795507200000-42", "fixed the typo"))),
        ("  trimmed  ", SendCommand(c.Edit("1795507200000-42", "trimmed"))),
        ("two\nlines", SendCommand(c.Edit("1795507200000-42", "two lines"))),
        ("esc\x1bape", SendCommand(c.Edit("1795507200000-42", "esc\ufffdape"))),
        ("   ", LocalError("an edit cannot be empty: /delete deletes a message")),
    ],
)
def test_parse_edit_sends_edit_with_the_new_text(text: str, action: Action) -> None:
    assert parse_edit(text, "1795507200000-42") == action


def test_an_edit_too_long_for_one_line_is_refused() -> None:
    action = parse_edit("x" * 600, "1795507200000-42")
    assert isinstance(action, LocalError)
    assert "at most 512 bytes" in action.text


@pytest.mark.parametrize(
    "text",
    [
        "/part #dev " + "r" * 600,
        "/topic " + "t" * 600,
        "/quit " + "q" * 600,
        "/raw " + "x" * 600,
    ],
)
def test_commands_that_cannot_fit_one_line_are_refused(text: str) -> None:
    action = parse(text, "#dev")
    assert isinstance(action, LocalError)
    assert "at most 512 bytes" in action.text


def test_control_characters_in_arguments_are_replaced() -> None:
    assert parse("/topic a\x1bb", "#dev") == SendCommand(c.Topic("#dev", "a\ufffdb"))
    assert parse("hi\x07there\tok", "#dev") == SendCommand(c.Msg("#dev", "hi\ufffdthere\tok"))
    assert clean_text("\x00\x7f\t") == "\ufffd\ufffd\t"


def test_say_splits_and_focuses() -> None:
    assert say("bob", "hi", focus="bob") == SendCommand(c.Msg("bob", "hi"), "bob")
    assert say("bob", "a\nb") == SendMessages("bob", ("a", "b"))
    assert say("bob", "\n") == Nothing()


# --- help -------------------------------------------------------------------------------------


def test_help_lists_every_command_and_explains_one() -> None:
    lines = help_lines()
    for cmd in SLASH_COMMANDS:
        assert any(cmd.syntax in line for line in lines), cmd.name
    assert help_lines("J") == [
        "usage: /join <#channel> [key]",
        "join a channel (with its key, if it has one), open its buffer and catch up",
        "aliases: /j",
    ]
    assert help_lines("nope") == ["no command /nope; /help lists them"]


# --- completion -------------------------------------------------------------------------------

NICKS = ["carol", "bob", "Bobby", "alice", "dave"]  # last speaker first
CHANNELS = ["#general", "#dev", "#devops"]


@pytest.mark.parametrize(
    ("before", "candidates"),
    [
        ("b", ["bob: ", "Bobby: "]),
        ("B", ["bob: ", "Bobby: "]),
        ("  b", ["bob: ", "Bobby: "]),
        ("hi b", ["bob ", "Bobby "]),
        ("@b", ["@bob ", "@Bobby "]),
        ("hi @ca", ["@carol "]),
        ("c", ["carol: "]),
        ("x", []),
        ("", []),
        ("hello ", []),
        ("al", []),  # my own nick is never offered
        ("#d", ["#dev ", "#devops "]),
        ("see #G", ["#general "]),
        ("/jo", ["/join "]),
        ("/J", ["/join "]),
        ("/qu", ["/query ", "/quit "]),
        ("hi /jo", []),
        ("/msg b", ["bob ", "Bobby "]),
        ("/query d", ["dave "]),
        ("/kick b", ["bob ", "Bobby "]),
        ("/op c", ["carol "]),
        ("/devoice d", ["dave "]),
        ("/join #de", ["#dev ", "#devops "]),
        ("/help to", ["topic "]),
        ("/help /re", ["read ", "reconnect ", "reply "]),
    ],
)
def test_completion(before: str, candidates: list[str]) -> None:
    assert complete(before, NICKS, CHANNELS, COMMAND_NAMES, me="alice") == candidates


def test_completion_keeps_the_recency_order_and_drops_duplicates() -> None:
    assert complete("d", ["dave", "Dan", "DAVE", "dora"], []) == ["dave: ", "Dan: ", "dora: "]


def test_completion_accepts_command_names_without_slash() -> None:
    assert complete("/x", [], [], ["xyzzy", "/xray"]) == ["/xyzzy ", "/xray "]


@pytest.mark.parametrize(
    ("before", "word"), [("", ""), ("abc", "abc"), ("hi bo", "bo"), ("hi ", ""), ("/msg b", "b")]
)
def test_current_word(before: str, word: str) -> None:
    assert current_word(before) == word


# --- paste splitting --------------------------------------------------------------------------


def test_max_text_bytes_accounts_for_the_msg_prefix_and_crlf() -> None:
    assert max_text_bytes("#general") == 512 - len("MSG #general ") - 2 == 497
    assert max_text_bytes("bob", 100) == 100 - 8 - 2


@pytest.mark.parametrize(
    ("text", "lines"),
    [
        ("one", ["one"]),
        ("one\ntwo\nthree", ["one", "two", "three"]),
        ("one\r\ntwo\r\n", ["one", "two"]),
        ("one\rtwo", ["one", "two"]),
        ("one\n\n  \n\ttwo", ["one", "\ttwo"]),
        ("\n\n", []),
        ("", []),
        ("keep  inner   spaces", ["keep  inner   spaces"]),
    ],
)
def test_split_paste_lines(text: str, lines: list[str]) -> None:
    assert split_paste(text, 100) == lines


@pytest.mark.parametrize(
    ("text", "max_bytes", "pieces"),
    [
        ("aaa bbb ccc", 7, ["aaa bbb", "ccc"]),
        ("aaa bbb ccc", 8, ["aaa bbb", "ccc"]),
        ("aaa bbb ccc", 6, ["aaa", "bbb", "ccc"]),
        ("abcdefghij", 4, ["abcd", "efgh", "ij"]),
        ("ab abcdefghij", 4, ["ab", "abcd", "efgh", "ij"]),
        ("ééééé", 4, ["éé", "éé", "é"]),  # 2 bytes each
        ("ééééé", 5, ["éé", "éé", "é"]),  # never half a character
        ("漢字漢字", 7, ["漢字", "漢字"]),  # 3 bytes each
        ("😀😀 😀", 5, ["😀", "😀", "😀"]),  # 4 bytes each
        ("e\u0301e\u0301e\u0301", 5, ["e\u0301"] * 3),  # a mark stays with its letter
        ("e\u0301e\u0301e\u0301", 6, ["e\u0301e\u0301", "e\u0301"]),
        ("aaa    bbb", 5, ["aaa", "bbb"]),
        ("  ab cdefg", 5, ["  ab", "cdefg"]),  # indentation kept where it fits
        ("  abcd efgh", 4, ["abcd", "efgh"]),  # blanks that would cut a word go
        (" \x1ba bc", 4, ["\ufffda", "bc"]),  # a refused control shows as U+FFFD
    ],
)
def test_long_lines_split_at_spaces_and_character_boundaries(
    text: str, max_bytes: int, pieces: list[str]
) -> None:
    assert split_paste(text, max_bytes) == pieces


def test_split_paste_rejects_a_limit_below_one_character() -> None:
    with pytest.raises(ValueError, match="at least one character"):
        split_paste("abc", 3)


_WORD_CHARS = st.sampled_from([*"abcxyz", "é", "ß", "漢", "字", "😀", "\u0301", "\t"])
_WORDS = st.lists(st.text(_WORD_CHARS, min_size=1, max_size=30), min_size=1, max_size=40)


@given(words=_WORDS, seps=st.lists(st.sampled_from([" ", "  ", "\n", "\r\n", "\r"]), max_size=40),
       max_bytes=st.integers(min_value=4, max_value=60))  # fmt: skip
def test_split_paste_keeps_every_word_within_the_limit(
    words: list[str], seps: list[str], max_bytes: int
) -> None:
    text = ""
    for i, word in enumerate(words):
        text += word + (seps[i] if i < len(seps) else " ")
    pieces = split_paste(text, max_bytes)
    assert all(0 < len(p.encode("utf-8")) <= max_bytes for p in pieces)
    assert all(p.strip() for p in pieces)
    # Nothing but blanks is lost, and nothing is reordered.
    assert "".join("".join(pieces).split()) == "".join(text.split())
    # A word that fits the limit is never cut.
    kept = [w for p in pieces for w in p.split(" ") if w]
    for word in words:
        if len(word.encode("utf-8")) <= max_bytes and word.strip():
            assert word in kept


@pytest.mark.parametrize(
    ("lines", "confirm"), [([], False), (["one"], False), (["one", "two"], True)]
)
def test_needs_confirmation_for_more_than_one_message(lines: list[str], confirm: bool) -> None:
    assert needs_confirmation(lines) is confirm

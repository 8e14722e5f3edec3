"""ui.view: the pure view model of the full-screen client, tested as data.

Covers the unit-level acceptance checks of client-ux.md section 14 (unread and mention
counts, the read marker, local time in Asia/Kolkata), dedupe by id, the gap line's position
for either order of notices, neutralised rendering, the row layout, member lists, topics,
the connection countdown, a session the server forgot, switching and scrolling, and the
channel operators' lines (protocol 1.2): members' roles from NAMES and MODE, mode changes
and kicks in words, being kicked, and messages an operator deleted. The pure
helpers of ``ui.cells`` (colours, cells, wrapping, pane folding) are in test_ui_cells.py.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from flackcli.notices import (
    CaughtUp,
    ConnectionState,
    Gap,
    Members,
    Registered,
    SendFailed,
    SessionLost,
)
from flackcli.ui.view import (
    GAP_TEXT,
    SERVER,
    SESSION_LOST_TEXT,
    Row,
    View,
    cells,
    nick_style,
)
from flackd.codec import events as ev

KOLKATA = ZoneInfo("Asia/Kolkata")

#: What must never reach the terminal: C0 (TAB included: rendering turns it into a space),
#: DEL, C1, the bidi controls and the line/paragraph separators.
UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")

NASTY = "a\x1b[31mred\x1b[0m \x9b2J \u202eevil\u202c \x07bell\ttab \u2028 end \x00"


class Clock:
    """An injected clock: ``now()`` returns ``t``; tests move ``t``."""

    def __init__(self, t: datetime = datetime(2026, 11, 24, 8, 30, tzinfo=UTC)) -> None:
        self.t = t

    def __call__(self) -> datetime:
        return self.t


def make_view(nick: str = "alice", tz: ZoneInfo | None = None, **kw: object) -> View:
    return View(nick, tz=tz or ZoneInfo("UTC"), now=Clock(), **kw)  # type: ignore[arg-type]


def msg(
    target: str, msg_id: str, author: str, text: str, time: str = "2026-11-24T08:20:03.123Z"
) -> ev.Message:
    return ev.Message(target, msg_id, time, author, text)


def join(view: View, channel: str, *members: str, caught_up: bool = True) -> None:
    """What the supervisor emits for our own join: topic, members, then CaughtUp."""
    view.apply(ev.Topic(channel, "*", "*", ""))
    view.apply(Members(channel, (view.my_nick, *members)))
    if caught_up:
        view.apply(CaughtUp(channel))


def texts(rows: list[Row]) -> list[str]:
    return ["".join(text for _style, text in row) for row in rows]


def message_texts(view: View, name: str) -> list[str]:
    buf = view.buffer(name)
    assert buf is not None
    return [line.text for line in buf.lines if line.kind == "message"]


def marker_text(view: View, name: str) -> str | None:
    buf = view.buffer(name)
    assert buf is not None
    return buf.marker.text if buf.marker is not None else None


def counts(view: View, name: str) -> tuple[int, int]:
    buf = view.buffer(name)
    assert buf is not None
    return buf.unread, buf.mentions


# --- acceptance: unread, mentions, read marker ----------------------------------------


def test_three_messages_off_screen_give_unread_3_and_a_mention_gives_1() -> None:
    view = make_view()
    join(view, "#general", "bob")
    join(view, "#dev", "bob")
    assert view.current.name == "#general"  # the first join is shown
    for i in range(3):
        view.apply(msg("#dev", f"1-{i}", "bob", f"build {i} finished"))
    assert counts(view, "#dev") == (3, 0)
    assert counts(view, "#general") == (0, 0)
    view.apply(msg("#dev", "1-9", "bob", "alice: can you look at runner 3?"))
    assert counts(view, "#dev") == (4, 1)
    row = next(r for r in view.channel_list() if r.name == "#dev")
    assert (row.name, row.unread, row.mentions, row.is_current) == ("#dev", 4, 1, False)
    assert view.status().activity == "2@"


def test_switching_clears_the_counts_and_places_the_read_marker() -> None:
    view = make_view()
    join(view, "#general", "bob")
    join(view, "#dev", "bob")
    assert view.select_name("#dev")
    view.apply(msg("#dev", "1-1", "bob", "seen before leaving"))
    assert view.select_name("#general")
    for i in range(3):
        view.apply(msg("#dev", f"1-{i + 2}", "bob", f"new {i}"))
    assert counts(view, "#dev") == (3, 0)

    assert view.select_name("#dev")
    assert counts(view, "#dev") == (0, 0)
    buf = view.current
    assert buf.marker is not None
    assert buf.marker.text == "seen before leaving"
    shown = texts(view.render_lines(None, 60, 20))
    marker = next(i for i, t in enumerate(shown) if "new since 08:30" in t)
    assert "seen before leaving" in shown[marker - 1]
    assert "new 0" in shown[marker + 1]
    assert [t for t in shown if "new since" in t] == [shown[marker]]


def test_no_marker_when_nothing_new_and_marker_removed_on_leaving() -> None:
    view = make_view()
    join(view, "#general", "bob")
    join(view, "#dev", "bob")
    view.select_name("#dev")
    view.apply(msg("#dev", "1-1", "bob", "one"))
    view.select_name("#general")
    view.select_name("#dev")
    assert marker_text(view, "#dev") is None
    view.select_name("#general")
    view.apply(msg("#dev", "1-2", "bob", "two"))
    view.select_name("#dev")
    assert marker_text(view, "#dev") == "one"
    view.select_name("#general")
    assert marker_text(view, "#dev") is None


@pytest.mark.parametrize(
    ("event", "counted"),
    [
        (ev.Joined("#dev", "carol"), False),
        (ev.Parted("#dev", "bob", "lunch"), False),
        (ev.Quit("bob", "connection closed"), False),
        (ev.NickChanged("bob", "robert"), False),
        (ev.Topic("#dev", "bob", "2026-11-24T08:00:00.000Z", "new topic"), False),
        (msg("#dev", "1-1", "alice", "my own line"), False),
        (msg("#dev", "1-1", "bob", "a message"), True),
    ],
)
def test_only_messages_of_others_count_as_unread(event: ev.Event, counted: bool) -> None:
    view = make_view()
    join(view, "#general", "bob")
    join(view, "#dev", "bob")
    view.apply(event)
    assert counts(view, "#dev") == ((1, 0) if counted else (0, 0))


def test_my_own_mention_of_myself_never_counts() -> None:
    view = make_view()
    join(view, "#general")
    join(view, "#dev")
    view.apply(msg("#dev", "1-1", "alice", "note to alice: remember"))
    assert counts(view, "#dev") == (0, 0)
    buf = view.buffer("#dev")
    assert buf is not None
    assert not buf.lines[-1].mention


def test_a_private_message_opens_one_buffer_per_partner_and_counts_as_a_mention() -> None:
    view = make_view()
    join(view, "#general", "bob")
    view.apply(msg("alice", "1-1", "bob", "psst"))  # to me: partner is the author
    view.apply(msg("Bob", "1-2", "alice", "yes?"))  # my echo: partner is the target
    names = [b.name for b in view.buffers]
    assert names == [SERVER, "#general", "bob"]
    assert message_texts(view, "BOB") == ["psst", "yes?"]
    assert counts(view, "bob") == (1, 1)
    assert view.status().activity == "2•"
    assert view.last_private_from == "bob"


def test_counts_rise_while_scrolled_up_and_clear_at_the_bottom() -> None:
    view = make_view()
    join(view, "#general", "bob")
    for i in range(30):
        view.apply(msg("#general", f"1-{i}", "bob", f"line {i}"))
    view.render_lines(None, 60, 10)
    view.page_up(5)
    view.apply(msg("#general", "1-100", "bob", "while scrolled"))
    assert counts(view, "#general") == (1, 0)
    assert view.status().more == 6  # 5 rows scrolled + the new row below
    view.page_down(100)
    assert view.current.scroll == 0
    assert counts(view, "#general") == (0, 0)


def test_bell_once_for_an_off_screen_mention() -> None:
    view = make_view()
    join(view, "#general", "bob")
    join(view, "#dev", "bob")
    view.apply(msg("#dev", "1-1", "bob", "plain"))
    assert not view.take_bell()
    view.apply(msg("#dev", "1-2", "bob", "@alice look"))
    assert view.take_bell()
    assert not view.take_bell()


def test_restored_read_position_counts_only_what_follows() -> None:
    view = make_view()
    join(view, "#general", "bob")
    join(view, "#dev", "bob", caught_up=False)
    view.restore_read("#dev", "1-3")
    for i in range(1, 6):
        view.apply(msg("#dev", f"1-{i}", "bob", f"m{i}"))
    assert counts(view, "#dev") == (2, 0)
    assert view.last_read_id("#dev") == "1-3"


# --- mentions ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "mention"),
    [
        ("alice: are you there?", True),
        ("hi alice", True),
        ("@alice look", True),
        ("ALICE!", True),
        ("(alice)", True),
        ("malice aforethought", False),
        ("alice2 is someone else", False),
        ("alice_bot is a bot", False),
        ("alice-bot too", False),
        ("ask the deploy bot", True),  # a highlight word
        ("Deploy now", True),
        ("deployment", False),
        ("nothing here", False),
    ],
)
def test_mentions_are_whole_words_any_case_with_optional_at(text: str, mention: bool) -> None:
    view = make_view(highlight_words=["deploy", "  "])
    assert view.is_mention(text) is mention


def test_mention_follows_my_new_nick() -> None:
    view = make_view()
    join(view, "#general", "bob")
    view.apply(Registered("alice_", resumed=False, last_channel=None))
    assert view.my_nick == "alice_"
    assert view.is_mention("alice_: hi")
    assert not view.is_mention("alice: hi")
    view.apply(ev.NickChanged("alice_", "alicia"))
    assert view.my_nick == "alicia"
    assert view.is_mention("hey @alicia")


def test_mention_lines_are_styled() -> None:
    view = make_view()
    join(view, "#general", "bob")
    view.apply(msg("#general", "1-1", "bob", "alice: ping"))
    view.apply(msg("#general", "1-2", "bob", "not for you"))
    rows = view.render_lines(None, 60, 10)
    mention_row, plain_row = rows[-2], rows[-1]
    assert ("class:mention-margin", "▌") in mention_row
    assert any(style == "class:text.mention" for style, _ in mention_row)
    assert not any("mention" in style for style, _ in plain_row)


# --- time -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tz", "shown"),
    [(KOLKATA, "13:50"), (ZoneInfo("UTC"), "08:20"), (ZoneInfo("America/New_York"), "03:20")],
)
def test_utc_time_is_shown_in_local_time(tz: ZoneInfo, shown: str) -> None:
    view = make_view(tz=tz)
    join(view, "#general", "bob")
    view.apply(msg("#general", "1-1", "bob", "hello", time="2026-11-24T08:20:03.123Z"))
    row = view.render_lines(None, 60, 5)[-1]
    assert ("class:time", shown) in row


def test_day_separator_when_the_local_date_changes() -> None:
    view = make_view(tz=KOLKATA)
    join(view, "#general", "bob")
    view.apply(msg("#general", "1-1", "bob", "late", time="2026-11-24T18:20:00.000Z"))  # 23:50
    view.apply(msg("#general", "1-2", "bob", "later", time="2026-11-24T18:40:00.000Z"))  # 00:10
    view.apply(msg("#general", "1-3", "bob", "same day", time="2026-11-24T18:45:00.000Z"))
    shown = texts(view.render_lines(None, 60, 10))
    days = [t for t in shown if "November 2026" in t]
    assert len(days) == 2
    assert "Tuesday 24 November 2026" in days[0]
    assert "Wednesday 25 November 2026" in days[1]
    assert shown.index(days[1]) == next(i for i, t in enumerate(shown) if "later" in t) - 1
    assert all(cells(t) == 60 for t in days)


# --- dedupe, limits, deletion -------------------------------------------------------------


def test_dedupe_by_id_within_a_buffer() -> None:
    view = make_view()
    join(view, "#general", "bob")
    join(view, "#dev", "bob")
    m = msg("#general", "1-1", "bob", "once")
    view.apply(m)
    view.apply(m)
    view.apply(msg("#general", "1-1", "bob", "same id, other text"))
    view.apply(msg("#dev", "1-1", "bob", "same id in another buffer"))
    assert message_texts(view, "#general") == ["once"]
    assert message_texts(view, "#dev") == ["same id in another buffer"]


def test_lines_and_ids_are_bounded() -> None:
    view = make_view(max_lines=10, max_ids=15)
    join(view, "#general", "bob")
    for i in range(40):
        view.apply(msg("#general", f"1-{i}", "bob", f"m{i}"))
    buf = view.current
    assert message_texts(view, "#general") == [f"m{i}" for i in range(30, 40)]
    assert len(buf.ids) == 15
    view.apply(msg("#general", "1-39", "bob", "duplicate of a recent one"))
    assert len(buf.lines) == 10
    assert buf.lines[-1].text == "m39"


def test_clear_keeps_ids_so_nothing_comes_back() -> None:
    view = make_view()
    join(view, "#general", "bob")
    view.apply(msg("#general", "1-1", "bob", "old"))
    view.clear()
    assert view.current.lines == []
    view.apply(msg("#general", "1-1", "bob", "old"))
    assert view.current.lines == []


def test_deleted_marks_the_line_and_uncounts_it() -> None:
    view = make_view()
    join(view, "#general", "bob")
    join(view, "#dev", "bob")
    view.apply(msg("#dev", "1-1", "bob", "alice: secret"))
    view.apply(msg("#dev", "1-2", "bob", "kept"))
    assert counts(view, "#dev") == (2, 1)
    view.apply(ev.Deleted("#dev", "1-1", "bob"))
    assert counts(view, "#dev") == (1, 0)
    buf = view.buffer("#dev")
    assert buf is not None
    assert buf.lines[0].deleted
    assert buf.lines[0].text == "(message deleted)"
    view.select_name("#dev")
    assert "secret" not in "".join(texts(view.render_lines(None, 60, 10)))


def test_last_own_id_skips_deleted_messages() -> None:
    view = make_view()
    join(view, "#general", "bob")
    view.apply(msg("#general", "1-1", "alice", "first"))
    view.apply(msg("#general", "1-2", "bob", "theirs"))
    view.apply(msg("#general", "1-3", "alice", "second"))
    assert view.last_own_id() == "1-3"
    view.apply(ev.Deleted("#general", "1-3", "alice"))
    assert view.last_own_id() == "1-1"
    assert view.oldest_id() == "1-1"


def test_insert_older_goes_on_top_and_is_not_unread() -> None:
    view = make_view()
    join(view, "#general", "bob")
    join(view, "#dev", "bob")
    view.apply(msg("#dev", "1-5", "bob", "five"))
    added = view.insert_older(
        "#dev", [msg("#dev", "1-3", "bob", "three"), msg("#dev", "1-4", "bob", "four"),
                 msg("#dev", "1-5", "bob", "five again")]
    )  # fmt: skip
    assert added == 2
    assert message_texts(view, "#dev") == ["three", "four", "five"]
    assert counts(view, "#dev") == (1, 0)


# --- the gap line -------------------------------------------------------------------------


def _kinds(view: View, name: str) -> list[str]:
    buf = view.buffer(name)
    assert buf is not None
    return [line.text if line.kind == "message" else line.kind for line in buf.lines]


def test_gap_before_the_block_goes_after_the_last_seen_message() -> None:
    view = make_view()
    join(view, "#general", "bob")
    view.apply(msg("#general", "1-4", "bob", "four"))
    view.apply(ConnectionState("offline", "reset", retry_in=1.0, attempt=1))
    view.apply(ConnectionState("live"))
    view.apply(ev.Topic("#general", "*", "*", ""))
    view.apply(Gap("#general", "1-4"))
    view.apply(msg("#general", "2-1", "bob", "after restart"))
    view.apply(CaughtUp("#general"))
    assert _kinds(view, "#general") == ["four", "gap", "after restart"]


def test_gap_after_the_block_still_goes_after_the_last_seen_message() -> None:
    view = make_view()
    join(view, "#general", "bob")
    view.apply(msg("#general", "1-4", "bob", "four"))
    view.apply(msg("#general", "2-1", "bob", "block 1"))
    view.apply(msg("#general", "2-2", "bob", "block 2"))
    view.apply(Gap("#general", "1-4"))
    assert _kinds(view, "#general") == ["four", "gap", "block 1", "block 2"]


def test_gap_for_a_fresh_buffer_goes_on_top_of_the_catch_up() -> None:
    view = make_view()  # a restart: last_seen_id is from state.json, not in any buffer
    view.apply(ev.Topic("#general", "*", "*", ""))
    view.apply(Members("#general", ("alice", "bob")))
    view.apply(msg("#general", "2-1", "bob", "block 1"))
    view.apply(Gap("#general", "1-99"))
    view.apply(msg("#general", "2-2", "bob", "block 2"))
    view.apply(CaughtUp("#general"))
    assert _kinds(view, "#general") == ["gap", "block 1", "block 2"]


def test_gap_with_an_unknown_id_while_live_goes_at_the_end_once() -> None:
    view = make_view()
    join(view, "#general", "bob")
    view.apply(msg("#general", "1-1", "bob", "one"))
    view.apply(Gap("#general", "0-7"))
    view.apply(Gap("#general", "0-7"))
    assert _kinds(view, "#general") == ["one", "gap"]
    shown = texts(view.render_lines(None, 80, 10))
    assert any(GAP_TEXT in t for t in shown)


def test_gap_line_wraps_on_a_narrow_pane() -> None:
    view = make_view()
    join(view, "#general", "bob")
    view.apply(Gap("#general", None))
    shown = texts(view.render_lines(None, 40, 10))
    assert len(shown) == 2
    assert " ".join(t.strip() for t in shown) == GAP_TEXT
    assert all(cells(t) <= 40 for t in shown)


# --- neutralised rendering ----------------------------------------------------------------


def _all_rendered(view: View) -> list[str]:
    out: list[str] = []
    for buf in view.buffers:
        out += [text for row in view.render_lines(buf, 50, 100) for _style, text in row]
    st = view.status()
    out += [st.connection, st.nick, st.buffer, st.topic, st.activity]
    out += [row.name for row in view.channel_list()]
    for buf in view.buffers:
        out += view.members(buf.key) + view.recent_speakers(buf.key)
    return out


def test_control_characters_are_rendered_neutralised() -> None:
    view = make_view()
    join(view, "#general", "bob")
    bad_nick = "ev\x1bil\u202e"
    view.apply(msg("#general", "1-1", "bob", NASTY))
    view.apply(msg("#general", "1-2", bad_nick, "from a strange nick"))
    view.apply(msg("alice", "1-3", bad_nick, NASTY))
    view.apply(ev.Topic("#general", "bob", "2026-11-24T08:00:00.000Z", NASTY))
    view.apply(ev.Parted("#general", "bob", NASTY))
    view.apply(ev.Joined("#general", bad_nick))
    view.apply(Members("#dev", ("alice", bad_nick)))
    view.apply(SendFailed("MSG", "NOT_IN_CHANNEL", NASTY))
    view.apply(ConnectionState("stopped", NASTY))
    view.note(NASTY)
    rendered = _all_rendered(view)
    assert rendered
    bad = [t for t in rendered if UNSAFE.search(t)]
    assert bad == []
    assert any("\ufffd[31mred" in t for t in rendered)


# --- row layout ------------------------------------------------------------------------


def test_message_row_layout_time_nick_separator_text() -> None:
    view = make_view(tz=KOLKATA)
    join(view, "#general", "bob")
    view.apply(msg("#general", "1-1", "bob", "morning!"))
    (row,) = view.render_lines(None, 60, 5)[-1:]
    assert texts([row]) == [" 13:50        bob │ morning!"]
    assert all(type(fragment) is tuple and len(fragment) == 2 for fragment in row)
    assert (nick_style("bob"), "bob") in row
    assert ("class:separator", "│") in row


def test_long_text_wraps_with_a_hanging_indent_within_the_width() -> None:
    view = make_view()
    join(view, "#general", "bob")
    words = " ".join(f"word{i}" for i in range(40)) + " 漢字漢字漢字"
    view.apply(msg("#general", "1-1", "bob", words))
    shown = texts(view.render_lines(None, 50, 50))
    body = [t for t in shown if "│" in t and "--" not in t]
    assert len(body) > 3
    column = body[0].index("│")
    assert all(t.index("│") == column for t in body)
    assert all(t[:column].strip() == "" for t in body[1:])
    assert all(cells(t) <= 50 for t in shown)
    assert " ".join(t[column + 2 :] for t in body).split() == words.split()


def test_long_and_wide_nicks_are_truncated_by_cells() -> None:
    view = make_view(nick_cells=8)
    join(view, "#general", "bob")
    view.apply(msg("#general", "1-1", "night-owl-the-great", "hoot"))
    view.apply(msg("#general", "1-2", "漢字漢字漢字", "wide"))
    a, b = texts(view.render_lines(None, 60, 10))[-2:]
    column = 1 + 5 + 1 + 8 + 1  # margin, time, space, nick cell, space
    assert cells(a[: a.index("│")]) == cells(b[: b.index("│")]) == column
    assert "night-o…" in a
    assert " 漢字漢… " in b


# --- members, topic, nick changes ---------------------------------------------------------


def test_member_list_follows_joins_parts_quits_and_nick_changes() -> None:
    view = make_view()
    view.apply(ev.Topic("#general", "*", "*", ""))
    view.apply(Members("#general", ("alice", "Bob", "carol")))
    assert view.members("#general") == ["alice", "Bob", "carol"]
    view.apply(ev.Joined("#general", "dave"))
    view.apply(ev.Parted("#general", "carol", "lunch"))
    view.apply(ev.NickChanged("Bob", "Robert"))
    view.apply(ev.Quit("dave", "connection closed"))
    assert view.members("#general") == ["alice", "Robert"]
    lines = [ln.text for ln in view.current.lines]
    assert lines == [
        "dave joined #general",
        "carol left #general (lunch)",
        "Bob is now known as Robert",
        "dave quit (connection closed)",
    ]
    assert view.status().members == 2


# --- operators and modes (protocol 1.2) ----------------------------------------------------


def system_lines(view: View, name: str) -> list[str]:
    buf = view.buffer(name)
    assert buf is not None
    return [line.text for line in buf.lines if line.kind == "system"]


def test_member_roles_from_names_put_operators_then_voiced_first() -> None:
    view = make_view()
    view.apply(Members("#ops", ("alice", "bob", "Carol", "dave"), ("", "voice", "op", "")))
    assert view.members("#ops") == ["@Carol", "+bob", "alice", "dave"]
    view.apply(Members("#ops", ("alice", "bob")))  # a NAMES with no roles forgets them
    assert view.members("#ops") == ["alice", "bob"]


def test_mode_lines_are_said_in_words_and_roles_follow_o_and_v() -> None:
    view = make_view()
    view.apply(Members("#ops", ("alice", "bob", "carol"), ("op", "", "")))
    view.apply(ev.ModeChanged("#ops", "alice", ("+o-v+m", "bob", "carol")))
    view.apply(ev.ModeChanged("#ops", "alice", ("+v", "carol")))
    assert view.members("#ops") == ["@alice", "@bob", "+carol"]
    view.apply(ev.ModeChanged("#ops", "bob", ("+v-o", "bob", "alice")))
    assert view.members("#ops") == ["@bob", "+carol", "alice"]
    view.apply(ev.ModeChanged("#ops", "bob", ("-o", "bob")))  # still voiced
    assert view.members("#ops") == ["+bob", "+carol", "alice"]
    view.apply(ev.NickChanged("carol", "Caro"))  # the role follows a nick change
    view.apply(ev.ModeChanged("#ops", "alice", ("+b", "spam*!*@*")))
    assert view.members("#ops") == ["+bob", "+Caro", "alice"]
    assert system_lines(view, "#ops") == [
        "alice sets mode +o-v+m bob carol",
        "alice sets mode +v carol",
        "bob sets mode +v-o bob alice",
        "bob sets mode -o bob",
        "carol is now known as Caro",
        "alice sets mode +b spam*!*@*",
    ]


def test_a_mode_line_flackcli_cannot_read_is_still_shown() -> None:
    view = make_view()
    view.apply(Members("#ops", ("alice", "bob"), ("", "op")))
    view.apply(ev.ModeChanged("#ops", "bob", ("+Z", "alice")))
    assert view.members("#ops") == ["@bob", "alice"]
    assert system_lines(view, "#ops") == ["bob sets mode +Z alice"]


def test_the_answer_to_a_mode_query_shows_where_it_was_asked() -> None:
    view = make_view()
    join(view, "#general", "bob")
    join(view, "#ops", "bob")
    view.select_name("#general")
    view.apply(ev.ModeChanged("#ops", "*", ("+ntk", "sesame")))
    view.apply(ev.ModeChanged("#elsewhere", "*", ("+n",)))
    assert system_lines(view, "#general") == [
        "modes of #ops: +ntk sesame",
        "modes of #elsewhere: +n",
    ]
    assert system_lines(view, "#ops") == []


def test_a_kick_of_someone_else_is_a_line_and_leaves_the_member_list() -> None:
    view = make_view()
    view.apply(ev.Topic("#ops", "*", "*", ""))
    view.apply(Members("#ops", ("alice", "bob", "carol"), ("op", "voice", "")))
    view.apply(ev.Kicked("#ops", "bob", "alice", "spam"))
    view.apply(ev.Kicked("#ops", "carol", "alice", ""))
    assert view.members("#ops") == ["@alice"]
    assert system_lines(view, "#ops") == ["alice kicked bob (spam)", "alice kicked carol"]
    view.apply(ev.Joined("#ops", "bob"))  # back: no role kept from before the kick
    assert view.members("#ops") == ["@alice", "bob"]


def test_being_kicked_leaves_the_channel_and_says_so_loudly() -> None:
    view = make_view()
    join(view, "#general", "bob")
    join(view, "#ops", "bob")
    view.select_name("#ops")
    view.apply(ev.Kicked("#ops", "Alice", "bob", "take a break"))
    assert view.buffer("#ops") is None
    assert view.channel_names() == ["#general"]
    said = "you were kicked from #ops by bob (take a break)"
    for name in ("#general", SERVER):  # where I look now, and the server buffer
        buf = view.buffer(name)
        assert buf is not None
        assert [(ln.kind, ln.text) for ln in buf.lines][-1] == ("error", said)


def test_a_message_deleted_by_an_operator_says_by_whom_and_why() -> None:
    view = make_view()
    join(view, "#ops", "bob", "carol")
    view.apply(msg("#ops", "1-1", "carol", "buy pills"))
    view.apply(msg("#ops", "1-2", "carol", "oops"))
    view.apply(msg("#ops", "1-3", "carol", "typo"))
    view.apply(ev.Deleted("#ops", "1-1", "bob", "spam"))
    view.apply(ev.Deleted("#ops", "1-2", "bob"))
    view.apply(ev.Deleted("#ops", "1-3", "carol"))
    assert message_texts(view, "#ops") == [
        "(message deleted by bob: spam)",
        "(message deleted by bob)",
        "(message deleted)",
    ]


def test_my_part_closes_the_channel_buffer() -> None:
    view = make_view()
    join(view, "#general", "bob")
    join(view, "#dev", "bob")
    view.select_name("#dev")
    view.apply(ev.Parted("#dev", "alice", ""))
    assert view.buffer("#dev") is None
    assert view.current.name == "#general"
    assert view.channel_names() == ["#general"]


def test_a_private_buffer_follows_its_partners_nick_change() -> None:
    view = make_view()
    join(view, "#general", "bob")
    view.apply(msg("alice", "1-1", "bob", "hi"))
    view.select_name("bob")
    view.apply(ev.NickChanged("bob", "robert"))
    assert view.current.name == "robert"
    assert view.buffer("bob") is None
    view.apply(msg("alice", "1-2", "robert", "me again"))
    assert message_texts(view, "robert") == ["hi", "me again"]


def test_topic_from_the_join_reply_is_quiet_and_a_change_is_a_line() -> None:
    view = make_view()
    view.apply(ev.Topic("#dev", "bob", "2026-11-24T08:00:00.000Z", "Deploys and CI talk"))
    view.apply(Members("#dev", ("alice", "bob")))
    view.apply(CaughtUp("#dev"))
    assert view.current.lines == []
    assert view.status().topic == "Deploys and CI talk"
    view.apply(ev.Topic("#dev", "bob", "2026-11-24T09:00:00.000Z", "release Thursday"))
    assert [ln.text for ln in view.current.lines] == ["bob changed the topic to: release Thursday"]
    assert view.status().topic == "release Thursday"


def test_a_topic_before_its_buffer_waits_for_the_buffer_and_makes_none() -> None:
    view = make_view()
    join(view, "#general", "bob")
    view.apply(ev.Topic("#elsewhere", "bob", "2026-11-24T08:00:00.000Z", "not joined"))
    assert view.buffer("#elsewhere") is None
    assert view.current.lines == []
    view.apply(Members("#elsewhere", ("alice", "bob")))
    buf = view.buffer("#elsewhere")
    assert buf is not None
    assert buf.topic == "not joined"
    assert buf.lines == []


def test_the_answer_to_a_topic_query_shows_in_the_current_buffer() -> None:
    view = make_view()
    for channel, setter, text in [("#dev", "bob", "CI talk"), ("#general", "*", "")]:
        view.apply(ev.Topic(channel, setter, "2026-11-24T08:00:00.000Z", text))
        view.apply(Members(channel, ("alice", "bob")))
        view.apply(CaughtUp(channel))
    view.select_name("#general")
    view.apply(ev.Topic("#general", "*", "*", ""))
    view.apply(ev.Topic("#dev", "bob", "2026-11-24T08:00:00.000Z", "CI talk"))
    assert [ln.text for ln in view.current.lines] == [
        "#general has no topic",
        "topic of #dev: CI talk (set by bob)",
    ]
    dev = view.buffer("#dev")
    assert dev is not None
    assert dev.lines == []


def test_restoring_the_read_position_of_the_shown_buffer_counts_nothing() -> None:
    view = make_view()
    join(view, "#general", "bob", caught_up=False)
    view.restore_read("#general", "1-1")
    view.apply(msg("#general", "1-1", "bob", "read"))
    view.apply(msg("#general", "1-2", "bob", "on screen"))
    assert counts(view, "#general") == (0, 0)


def test_send_failed_is_an_error_line_in_the_current_buffer() -> None:
    view = make_view()
    join(view, "#general", "bob")
    join(view, "#dev", "bob")
    view.apply(SendFailed("MSG", "NOT_IN_CHANNEL", "you are not in #x; JOIN #x first"))
    line = view.current.lines[-1]
    assert view.current.name == "#general"
    assert (line.kind, line.text) == ("error", "MSG: you are not in #x; JOIN #x first")
    assert counts(view, "#general") == (0, 0)
    assert any(style == "class:error" for style, _ in view.render_lines(None, 60, 5)[-1])


# --- connection status ----------------------------------------------------------------------


def test_status_shows_state_and_the_retry_countdown() -> None:
    clock = Clock()
    view = View("alice", tz=ZoneInfo("UTC"), now=clock)
    assert view.status().connection == "connecting…"
    view.apply(ConnectionState("registering"))
    assert view.status().connection == "registering…"
    view.apply(ConnectionState("live"))
    assert view.status().connection == "live"
    view.apply(ConnectionState("offline", "connection reset", retry_in=8.0, attempt=4))
    assert view.status().connection == "⟳ reconnecting in 8s (try 4)"
    clock.t += timedelta(seconds=3.5)
    assert view.status().connection == "⟳ reconnecting in 5s (try 4)"
    clock.t += timedelta(seconds=10)
    assert view.status().connection == "⟳ reconnecting now (try 4)"
    view.apply(ConnectionState("stopped", "banned"))
    assert view.status().connection == "stopped: banned"
    assert view.status().state == "stopped"
    server = view.buffer(SERVER)
    assert server is not None
    assert [ln.text for ln in server.lines] == ["disconnected: connection reset"]


def test_a_forgotten_session_is_said_in_words_where_the_user_looks() -> None:
    view = make_view()
    join(view, "#general", "bob")
    join(view, "#dev", "bob")
    view.apply(msg("alice", "1-1", "bob", "psst"))  # a private conversation, not shown
    view.select_name("#general")
    view.apply(ConnectionState("offline", "connection reset", retry_in=1.0, attempt=1))
    view.apply(SessionLost("alice", ("#general", "#dev")))
    said = SESSION_LOST_TEXT.format(nick="alice")
    assert said.startswith("the server restarted or forgot your session")
    for name in (SERVER, "#general", "#dev"):
        buf = view.buffer(name)
        assert buf is not None
        assert [(ln.kind, ln.text) for ln in buf.lines if ln.text == said] == [("system", said)]
    dm = view.buffer("bob")
    assert dm is not None
    assert said not in [ln.text for ln in dm.lines]
    assert not [ln for b in view.buffers for ln in b.lines if ln.kind == "error"]
    assert counts(view, "#dev") == (0, 0)  # a notice, not an unread message
    view.apply(Registered("alice_", False, None, wanted="alice"))
    server = view.buffer(SERVER)
    assert server is not None
    assert server.lines[-1].text == "registered as alice_ (alice is taken)"


# --- switching and order --------------------------------------------------------------------


def test_buffer_order_switching_and_wrapping() -> None:
    view = make_view()
    join(view, "#general", "bob")
    view.apply(msg("alice", "1-1", "bob", "dm first"))
    join(view, "#dev", "bob")
    assert [r.name for r in view.channel_list()] == [SERVER, "#general", "#dev", "bob"]
    assert [r.number for r in view.channel_list()] == [0, 1, 2, 3]
    assert view.select(2)
    assert view.current.name == "#dev"
    assert not view.select(4)
    view.next()
    assert view.current.name == "bob"
    view.next()
    assert view.current.name == SERVER
    view.prev()
    assert view.current.name == "bob"
    assert view.select_name("#GENERAL")
    assert view.current.name == "#general"
    assert view.toggle_previous()
    assert view.current.name == "bob"
    assert not view.select_name("#nowhere")
    assert [r.is_current for r in view.channel_list()] == [False, False, False, True]


def test_next_active_prefers_mentions_and_dms() -> None:
    view = make_view()
    join(view, "#general", "bob")
    join(view, "#dev", "bob")
    join(view, "#ops", "bob")
    view.apply(msg("#dev", "1-1", "bob", "plain"))
    view.apply(msg("#ops", "1-2", "bob", "alice: help"))
    assert view.next_active()
    assert view.current.name == "#ops"
    assert view.next_active()
    assert view.current.name == "#dev"
    assert not view.next_active()


def test_request_focus_selects_a_buffer_when_it_opens() -> None:
    view = make_view()
    join(view, "#general", "bob")
    view.request_focus("#dev")
    assert view.current.name == "#general"
    join(view, "#dev", "bob")
    assert view.current.name == "#dev"
    join(view, "#ops", "bob")
    assert view.current.name == "#dev"


# --- scrolling ------------------------------------------------------------------------------


def test_scrolling_is_clamped_and_the_bottom_stays_pinned() -> None:
    view = make_view()
    join(view, "#general", "bob")
    for i in range(20):
        view.apply(msg("#general", f"1-{i}", "bob", f"line {i}"))
    rows = texts(view.render_lines(None, 60, 5))
    assert "line 19" in rows[-1]
    view.apply(msg("#general", "1-20", "bob", "line 20"))
    assert "line 20" in texts(view.render_lines(None, 60, 5))[-1]  # pinned at the bottom

    view.page_up(1000)
    total = 21 + 1  # 21 message rows and the day separator
    assert view.current.scroll == total - 5
    top = texts(view.render_lines(None, 60, 5))
    assert "November 2026" in top[0]
    assert "line 3" in top[-1]

    view.page_down(3)
    assert view.current.scroll == total - 8
    before = texts(view.render_lines(None, 60, 5))
    view.apply(msg("#general", "1-21", "bob", "line 21"))
    assert texts(view.render_lines(None, 60, 5)) == before  # scrolled up: the view holds
    view.page_down(1000)
    assert view.current.scroll == 0
    view.page_down(5)
    assert view.current.scroll == 0


def test_render_is_short_for_a_short_buffer_and_empty_for_no_height() -> None:
    view = make_view()
    join(view, "#general", "bob")
    view.apply(msg("#general", "1-1", "bob", "only"))
    assert len(view.render_lines(None, 60, 10)) == 2  # day separator and the line
    assert view.render_lines(None, 60, 0) == []


def test_jump_to_marker_and_mentions() -> None:
    view = make_view()
    join(view, "#general", "bob")
    join(view, "#dev", "bob")
    view.select_name("#dev")
    view.apply(msg("#dev", "1-0", "bob", "read"))
    view.select_name("#general")
    view.apply(msg("#dev", "1-1", "bob", "alice: first mention"))
    for i in range(2, 30):
        text = "alice: second mention" if i == 15 else f"filler {i}"
        view.apply(msg("#dev", f"1-{i}", "bob", text))
    view.select_name("#dev")
    view.render_lines(None, 60, 5)
    assert view.jump_to_marker()
    assert "new since" in texts(view.render_lines(None, 60, 5))[0]

    view.scroll_bottom()
    assert not view.next_mention()  # at the bottom: nothing below
    assert view.prev_mention()
    assert "second mention" in texts(view.render_lines(None, 60, 5))[0]
    assert view.prev_mention()
    assert "first mention" in texts(view.render_lines(None, 60, 5))[0]
    assert not view.prev_mention()
    assert view.next_mention()
    assert "second mention" in texts(view.render_lines(None, 60, 5))[0]
    assert not view.next_mention()


def test_recent_speakers_last_speaker_first_then_members() -> None:
    view = make_view()
    view.apply(ev.Topic("#general", "*", "*", ""))
    view.apply(Members("#general", ("alice", "bob", "carol", "dave", "Erin")))
    view.apply(msg("#general", "1-1", "carol", "one"))
    view.apply(msg("#general", "1-2", "bob", "two"))
    view.apply(msg("#general", "1-3", "alice", "mine"))
    view.apply(msg("#general", "1-4", "carol", "three"))
    assert view.recent_speakers() == ["carol", "bob", "dave", "Erin"]


def test_note_adds_local_lines_that_never_count() -> None:
    view = make_view()
    join(view, "#general", "bob")
    join(view, "#dev", "bob")
    view.note("usage: /join <#channel>", "#dev", error=True)
    view.note("line one\nline two")
    buf = view.buffer("#dev")
    assert buf is not None
    assert buf.lines[-1].kind == "error"
    assert [ln.text for ln in view.current.lines] == ["line one", "line two"]
    assert counts(view, "#dev") == (0, 0)


def test_mark_read_clears_counts() -> None:
    view = make_view()
    join(view, "#general", "bob")
    join(view, "#dev", "bob")
    view.apply(msg("#dev", "1-1", "bob", "x"))
    view.apply(msg("#ops", "1-2", "bob", "y"))
    view.mark_read("#dev")
    assert counts(view, "#dev") == (0, 0)
    assert counts(view, "#ops") == (1, 0)
    view.mark_all_read()
    assert counts(view, "#ops") == (0, 0)
    assert view.status().activity == ""


# --- server operators and user modes (protocol 1.3) ----------------------------------------


def test_user_modes_oper_kill_and_wallops_are_shown_where_you_are() -> None:
    view = make_view()
    view.apply(Members("#ops", ("alice", "bob"), ("op", "")))
    assert view.select_name("#ops")
    view.apply(ev.ModeChanged("alice", "alice", ("+o",)))
    view.apply(ev.Ok("OPER", ("admin",), "you are a server operator now (admin)"))
    view.apply(ev.ModeChanged("alice", "*", ("+Bow",)))
    view.apply(ev.Wallops("alice", "restart at 18:00"))
    view.apply(ev.Ok("KILL", ("carol",), "carol's session has ended"))
    view.apply(ev.Ok("MARK", ("#ops", "1-1")))  # other OKs still say nothing
    assert system_lines(view, "#ops") == [
        "mode change of alice: +o",
        "you are a server operator now (admin)",
        "modes of alice: +Bow",
        "-alice/wallops- restart at 18:00",
        "carol's session has ended",
    ]
    assert view.members("#ops") == ["@alice", "bob"]  # a user mode is not a channel role

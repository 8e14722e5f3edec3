"""Conversations in the view model (protocol 1.1), tested as data: private conversations
as buffers of their own (messages, deletions and edits found by the other person), edits
shown in place with a dim "(edited)", actions as ``* alice waves``, the server's unread
counts (``UNREAD``) replacing the local ones without counting a message twice, the read
positions that ``MARK`` is sent for, and the MARK debounce rule (``ui.marks``).
"""

from __future__ import annotations

import pytest

from flackcli.notices import CaughtUp, ConnectionState, Count, UnreadCounts
from flackcli.ui.marks import MarkTracker, moves_forward, should_mark
from flackcli.ui.view import View
from flackd.codec import events as ev
from tests.test_ui_view import counts, join, make_view, texts

TIME = "2026-11-24T08:20:03.123Z"


def msg(target: str, msg_id: str, author: str, text: str, **flags: object) -> ev.Message:
    return ev.Message(target, msg_id, TIME, author, text, **flags)  # type: ignore[arg-type]


def lines_of(view: View, name: str) -> list[tuple[str, bool]]:
    buf = view.buffer(name)
    assert buf is not None
    return [(ln.text, ln.edited) for ln in buf.lines if ln.kind == "message"]


def general_and_dev() -> View:
    """alice in #general (shown) and #dev, with bob."""
    view = make_view()
    join(view, "#general", "bob")
    join(view, "#dev", "bob")
    view.select_name("#general")
    return view


# --- private conversations: edits, deletions, actions ----------------------------------


def test_an_edit_changes_the_text_in_place_and_shows_edited() -> None:
    view = make_view()
    join(view, "#dev", "bob")
    view.apply(msg("#dev", "1-1", "bob", "helo"))
    view.apply(msg("#dev", "1-2", "bob", "next"))
    view.apply(ev.Edited("#dev", "1-1", "2026-11-24T08:21:00.000Z", "bob", "hello"))
    assert lines_of(view, "#dev") == [("hello", True), ("next", False)]
    rows = view.render_lines("#dev", width=60, height=5)
    assert texts(rows)[-2].endswith("│ hello (edited)")
    assert rows[-2][-1] == ("class:edited", "(edited)")  # dim, in its own style
    assert texts(rows)[-1].endswith("│ next")


def test_edits_and_deletions_of_private_messages_find_the_other_person() -> None:
    view = make_view()
    view.apply(msg("alice", "1-1", "bob", "from bob"))  # to me: bob's conversation
    view.apply(msg("bob", "1-2", "alice", "from me"))  # my echo: also bob's
    view.apply(ev.Edited("alice", "1-1", TIME, "bob", "from bob, edited"))
    view.apply(ev.Edited("bob", "1-2", TIME, "alice", "from me, edited"))
    assert lines_of(view, "bob") == [("from bob, edited", True), ("from me, edited", True)]
    view.apply(ev.Deleted("bob", "1-2", "alice"))
    view.apply(ev.Deleted("alice", "1-1", "bob"))
    assert lines_of(view, "bob") == [("(message deleted)", True), ("(message deleted)", True)]
    assert view.buffer("alice") is None  # no buffer named after myself
    rows = texts(view.render_lines("bob", width=60, height=5))
    assert rows[-1].endswith("│ (message deleted)")  # no "(edited)" on a deleted line


def test_a_message_edited_before_it_arrived_shows_edited() -> None:
    view = make_view()
    view.apply(msg("alice", "1-1", "bob", "fixed", edited="2026-11-24T08:22:00.000Z"))
    assert lines_of(view, "bob") == [("fixed", True)]


def test_an_edit_of_a_deleted_or_unknown_message_changes_nothing() -> None:
    view = make_view()
    join(view, "#dev", "bob")
    view.apply(msg("#dev", "1-1", "bob", "gone"))
    view.apply(ev.Deleted("#dev", "1-1", "bob"))
    view.apply(ev.Edited("#dev", "1-1", TIME, "bob", "back?"))
    view.apply(ev.Edited("#dev", "1-9", TIME, "bob", "never seen"))
    assert lines_of(view, "#dev") == [("(message deleted)", False)]


def test_an_edit_that_adds_a_mention_counts_it_while_unread() -> None:
    view = general_and_dev()
    view.apply(msg("#dev", "1-1", "bob", "hi all"))
    assert counts(view, "#dev") == (1, 0)
    view.apply(ev.Edited("#dev", "1-1", TIME, "bob", "hi alice"))
    assert counts(view, "#dev") == (1, 1)


def test_an_action_shows_as_star_nick_text() -> None:
    view = make_view()
    join(view, "#dev", "bob")
    view.apply(msg("#dev", "1-1", "bob", "waves", action=True))
    view.apply(msg("#dev", "1-2", "alice", "waves back", action=True, edited=TIME))
    rows = view.render_lines("#dev", width=60, height=5)
    assert texts(rows)[-2].endswith("    * │ bob waves")
    assert texts(rows)[-1].endswith("    * │ alice waves back (edited)")
    assert ("class:text.action", "bob waves") in rows[-2]


def test_a_notice_shows_with_its_sender_between_dashes() -> None:
    view = make_view()
    join(view, "#dev", "ci")
    view.apply(msg("#dev", "1-1", "ci", "build 7 passed", notice=True))
    rows = view.render_lines("#dev", width=60, height=5)
    assert texts(rows)[-1].endswith(" -ci- │ build 7 passed")
    assert ("class:text.action", "build 7 passed") in rows[-1]


# --- unread counts from the server ------------------------------------------------------


def test_the_servers_unread_counts_replace_ours_and_open_the_conversation() -> None:
    view = make_view()
    join(view, "#general", "bob")
    join(view, "#dev", "bob")
    join(view, "#ops", "bob")
    view.select_name("#general")
    view.apply(msg("#ops", "1-1", "bob", "counted locally"))
    assert counts(view, "#ops") == (1, 0)
    unread = UnreadCounts(
        (Count("#dev", 5, 1, "1-20"), Count("bob", 2, 0, "1-22"), Count("#general", 3, 0, "1-9"))
    )
    view.apply(unread)
    assert counts(view, "#dev") == (5, 1)
    assert counts(view, "bob") == (2, 2)  # a private message counts as a mention
    assert counts(view, "#ops") == (0, 0)  # not listed: read (by the server's marker)
    assert counts(view, "#general") == (0, 0)  # on screen at the bottom: being read
    rows = {row.name: (row.unread, row.mentions) for row in view.channel_list()}
    assert rows["bob"] == (2, 2)
    assert view.activity() == "2@,4•"


def test_messages_the_server_counted_are_not_counted_again_when_they_arrive() -> None:
    view = make_view()
    join(view, "#general", "bob")
    view.apply(UnreadCounts((Count("bob", 2, 0, "1-22"),)))
    view.apply(msg("alice", "1-21", "bob", "one"))  # caught up after the RESUME
    view.apply(msg("alice", "1-22", "bob", "two"))
    assert counts(view, "bob") == (2, 2)
    view.apply(msg("alice", "1-23", "bob", "three, live"))
    assert counts(view, "bob") == (3, 3)
    view.select_name("bob")  # reading it clears the counts
    assert counts(view, "bob") == (0, 0)


def test_the_servers_counts_cancel_a_restored_read_position() -> None:
    view = make_view()
    view.restore_read("#dev", "1-3")
    join(view, "#general")
    view.apply(UnreadCounts((Count("#dev", 1, 0, "1-5"),)))
    join(view, "#dev", "bob")
    for i in range(1, 6):
        view.apply(msg("#dev", f"1-{i}", "bob", f"m{i}"))
    assert counts(view, "#dev") == (1, 0)  # the server's, not "two after 1-3"


def test_a_version_1_server_keeps_local_counting_and_no_dm_sync() -> None:
    view = make_view()
    view.apply(ev.Hello("flackd", "0.1.0", 512, 100, "hi", "1"))
    join(view, "#general", "bob")
    view.apply(msg("alice", "1-1", "bob", "psst"))
    assert counts(view, "bob") == (1, 1)
    view.apply(ConnectionState("offline", "reset", retry_in=1.0))
    buf = view.buffer("bob")
    assert buf is not None
    syncing = [buf.syncing]
    view.apply(ev.Hello("flackd", "0.2.0", 512, 100, "hi", "1.1"))
    view.apply(ConnectionState("offline", "reset", retry_in=1.0))
    syncing.append(buf.syncing)  # a 1.1 server catches private conversations up too
    view.apply(CaughtUp("bob"))
    syncing.append(buf.syncing)
    assert syncing == [False, True, False]


# --- what the read markers should say ------------------------------------------------


def test_read_positions_are_the_newest_messages_seen() -> None:
    view = general_and_dev()
    view.apply(msg("#general", "1-1", "bob", "seen at once"))
    view.apply(msg("#dev", "1-2", "bob", "not seen yet"))
    assert view.read_positions() == [("#general", "1-1", False)]
    view.apply(msg("#general", "1-3", "alice", "mine"))
    view.select_name("#dev")
    assert view.read_positions() == [("#general", "1-3", True), ("#dev", "1-2", False)]
    view.render_lines("#dev", width=60, height=1)
    view.page_up(1)  # scrolled up: a new line is not seen
    view.apply(msg("#dev", "1-4", "bob", "below the view"))
    assert ("#dev", "1-2", False) in view.read_positions()


def test_own_message_by_id_is_found_in_any_buffer_and_only_if_mine() -> None:
    view = make_view()
    join(view, "#dev", "bob")
    view.apply(msg("#dev", "1-3", "bob", "not mine"))
    view.apply(msg("bob", "1-4", "alice", "private"))
    line = view.own_message("#dev", "1-4")  # /edit 1-4 typed in #dev
    assert line is not None
    assert line.text == "private"
    assert view.own_message("#dev", "1-3") is None
    assert view.own_message("#dev") is None  # none of mine in #dev itself
    assert view.own_message("server") is None


# --- the MARK debounce rule ------------------------------------------------------------


@pytest.mark.parametrize(
    ("seen", "marked", "last_sent", "now", "send"),
    [
        ("1-5", None, None, 0.0, True),  # nothing marked yet
        ("1-5", "1-4", 10.0, 11.0, True),  # forward, a second later
        ("1-5", "1-4", 10.0, 10.5, False),  # forward, but too soon
        ("1-5", "1-5", None, 99.0, False),  # not forward
        ("1-5", "1-9", None, 99.0, False),  # backwards: markers only move forward
        ("2-1", "1-9", 0.0, 5.0, True),  # a later boot is newer
        ("1-10", "1-9", 0.0, 5.0, True),  # numbers, not strings
    ],
)
def test_should_mark(
    seen: str, marked: str | None, last_sent: float | None, now: float, send: bool
) -> None:
    assert should_mark(seen, marked, last_sent, now, interval=1.0) is send


def test_moves_forward_ignores_what_is_not_an_id() -> None:
    assert moves_forward("junk", None)  # nothing marked: anything goes
    assert not moves_forward("junk", "1-1")


def test_the_tracker_sends_at_most_one_mark_a_second_and_the_newest() -> None:
    marks = MarkTracker(interval=1.0)
    marks.seen("#dev", "1-1")
    assert marks.due(0.0) == [("#dev", "1-1")]
    assert marks.due(0.1) == []  # nothing new
    marks.seen("#dev", "1-2")
    marks.seen("#dev", "1-3")
    marks.seen("#Dev", "1-2")  # older, any case: ignored
    assert marks.due(0.5) == []  # owed, but too soon
    assert marks.due(1.0) == [("#dev", "1-3")]  # sent once the interval passed
    marks.seen("bob", "1-4")
    assert marks.due(1.2) == [("bob", "1-4")]  # each conversation on its own


def test_the_tracker_sends_nothing_for_my_own_newest_message() -> None:
    marks = MarkTracker()
    marks.seen("#dev", "1-5", own=True)  # sending it moved the server's marker
    marks.seen("#dev", "1-4")
    assert marks.due(0.0) == []
    marks.seen("#dev", "1-6")
    assert marks.due(0.0) == [("#dev", "1-6")]

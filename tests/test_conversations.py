"""The hub's conversation rules (protocol 1.1), as plain functions: direct messages kept as
conversations, edits, actions, read markers, unread and mention counts, and their limits.
"""

from __future__ import annotations

import pytest

from flackd.codec import events as e
from flackd.codec.errors import ProtocolError
from flackd.codec.grammar import parse_command
from flackd.hub import Hub
from flackd.limits import Limits
from tests.test_hub import (
    BOOT,
    NOW,
    connect,
    lines,
    make_hub,
    post,
    refused,
    register,
    say,
    user,
)


def unread(hub: Hub[str], conn: str) -> list[str]:
    """The COUNT lines of an UNREAD block, as text."""
    block = say(hub, conn, "UNREAD").lines(conn)
    assert block[0] == f"UNREAD {len(block) - 2}"
    assert block[-1] == "END UNREAD"
    return block[1:-1]


def history(hub: Hub[str], conn: str, args: str) -> list[str]:
    return say(hub, conn, f"HISTORY {args}").lines(conn)


# ---------------------------------------------------------------------------- direct messages


def test_a_direct_message_is_kept_and_paged_like_a_channel() -> None:
    hub = make_hub()
    register(hub, "a", "alice")
    register(hub, "b", "bob")
    first = post(hub, "a", "bob", "hi bob")
    second = post(hub, "b", "alice", "hi alice")
    for conn, peer in (("a", "bob"), ("b", "alice")):
        block = history(hub, conn, peer)
        assert block[0] == f"HISTORY {peer} 2"
        assert [ln.split()[2] for ln in block[1:-1]] == [first.id, second.id]
        assert block[-1] == f"END HISTORY {peer} more=no gap=no"
    assert history(hub, "a", f"bob AFTER {first.id}")[1:-1] == lines([second])
    assert history(hub, "a", f"bob BEFORE {second.id}")[1:-1] == lines([first])


def test_history_with_someone_you_never_wrote_is_empty() -> None:
    hub = make_hub()
    register(hub, "a", "alice")
    register(hub, "b", "bob")
    assert history(hub, "a", "BOB") == ["HISTORY bob 0", "END HISTORY bob more=no gap=no"]


def test_the_conversation_ring_and_its_gap() -> None:
    hub = make_hub(Limits(dm_history=3, history_page=3, join_replay=3))
    register(hub, "a", "alice")
    register(hub, "b", "bob")
    ids = [post(hub, "a", "bob", f"m{i}").id for i in range(5)]
    block = history(hub, "b", f"alice AFTER {ids[0]} 10")
    assert [ln.split()[2] for ln in block[1:-1]] == ids[2:]
    assert block[-1] == "END HISTORY alice more=no gap=yes"


def test_the_conversation_goes_on_after_a_nick_change() -> None:
    hub = make_hub()
    register(hub, "a", "alice")
    register(hub, "b", "bob")
    old = post(hub, "a", "bob", "before")
    d = say(hub, "a", "NICK alicia")
    assert d.receivers == {"a", "b"}  # the other side of a conversation hears of it
    new = post(hub, "a", "bob", "after")
    block = history(hub, "b", "alicia")
    assert block[0] == "HISTORY alicia 2"
    assert [ln.split()[2] for ln in block[1:-1]] == [old.id, new.id]
    assert block[1].split()[4] == "alice"  # each message keeps the nick it was written under


def test_a_conversation_belongs_to_sessions_not_nicks() -> None:
    hub = make_hub()
    register(hub, "a", "alice")
    register(hub, "b", "bob")
    post(hub, "a", "bob", "for the first bob")
    say(hub, "b", "QUIT")
    # alice can still read it, under the old nick...
    assert len(history(hub, "a", "bob")) == 3
    # ...until someone else takes the nick: that is another person, another conversation.
    register(hub, "b2", "bob")
    assert history(hub, "b2", "alice") == [
        "HISTORY alice 0",
        "END HISTORY alice more=no gap=no",
    ]
    post(hub, "b2", "alice", "hello, I am the new bob")
    block = history(hub, "a", "bob")
    assert [ln.rsplit(":", 1)[1] for ln in block[1:-1]] == ["hello, I am the new bob"]


def test_a_conversation_is_released_when_both_sides_end() -> None:
    hub = make_hub()
    register(hub, "a", "alice")
    register(hub, "b", "bob")
    msg = post(hub, "a", "bob", "soon gone")
    say(hub, "a", "QUIT")
    say(hub, "b", "QUIT")
    register(hub, "c", "carol")
    refused(say(hub, "c", f"DELETE {msg.id}"), "c", "NO_SUCH_MESSAGE", "DELETE")
    assert hub._where == {}  # nothing of it is held


def test_a_message_to_a_dropped_session_waits_and_is_counted() -> None:
    hub = make_hub()
    token = register(hub, "a", "alice")
    register(hub, "b", "bob")
    hub.disconnect("a", "connection closed", NOW)
    post(hub, "b", "alice", "are you there, Alice?")
    post(hub, "b", "alice", "ping me")
    connect(hub, "a2")
    reply = say(hub, "a2", f"RESUME {token}").lines("a2")
    assert reply[:3] == [
        "UNREAD 1",
        f"COUNT bob unread=2 mentions=1 newest={BOOT}-2",
        "END UNREAD",
    ]
    assert reply[3].startswith("OK RESUME alice ")


def test_a_nick_that_is_nobody_is_refused() -> None:
    hub = make_hub(Limits(resume_ttl=60))
    register(hub, "a", "alice")
    register(hub, "b", "bob")
    hub.disconnect("b", "connection closed", NOW)
    register(hub, "c", "carol", now=NOW + 61)  # bob's session expires here
    error = refused(say(hub, "a", "MSG bob hi", NOW + 61), "a", "NO_SUCH_NICK", "MSG")
    assert error.params == ("bob",)
    refused(say(hub, "a", "HISTORY zed"), "a", "NO_SUCH_NICK", "HISTORY")


def test_notes_to_yourself() -> None:
    hub = make_hub()
    register(hub, "a", "alice")
    d = say(hub, "a", "MSG alice remember the milk")
    assert d.receivers == {"a"}
    assert len(d.to("a")) == 1
    assert history(hub, "a", "alice")[0] == "HISTORY alice 1"
    assert unread(hub, "a") == []  # what you write is not unread


def test_too_many_conversations() -> None:
    hub = make_hub(Limits(max_conversations=2))
    for conn, nick in (("a", "alice"), ("b", "bob"), ("c", "carol"), ("d", "dave")):
        register(hub, conn, nick)
    post(hub, "a", "bob", "1")
    post(hub, "a", "carol", "2")
    error = refused(say(hub, "a", "MSG dave 3"), "a", "TOO_MANY_CONVERSATIONS", "MSG")
    assert "you have 2 conversations" in error.text
    post(hub, "a", "bob", "an existing one goes on")
    post(hub, "d", "bob", "4")  # bob has alice and dave now
    error = refused(say(hub, "c", "MSG bob 5"), "c", "TOO_MANY_CONVERSATIONS", "MSG")
    assert "bob has 2 conversations" in error.text


def test_delete_of_a_direct_message() -> None:
    hub = make_hub()
    register(hub, "a", "alice")
    register(hub, "b", "bob")
    msg = post(hub, "a", "bob", "oops")
    refused(say(hub, "b", f"DELETE {msg.id}"), "b", "NOT_AUTHOR", "DELETE")
    d = say(hub, "a", f"DELETE {msg.id}")
    assert d.receivers == {"a", "b"}
    assert d.lines("b") == [f"DELETED bob {msg.id} alice"]
    assert history(hub, "b", "alice")[0] == "HISTORY alice 0"


# ---------------------------------------------------------------------------- edits, actions


def test_edit_own_message_everywhere() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#c")
    user(hub, "b", "bob", "#c")
    msg = post(hub, "a", "#c", "teh typo")
    d = say(hub, "a", f"EDIT {msg.id} the typo", NOW + 5)
    assert d.receivers == {"a", "b"}
    (edited,) = d.to("b")
    assert edited == e.Edited("#c", msg.id, "1970-01-01T00:16:45.000Z", "alice", "the typo")
    block = history(hub, "b", "#c")
    assert block[1] == f"MSG #c {msg.id} {msg.time} alice edited={edited.time} :the typo"
    dm = post(hub, "b", "alice", "helo")
    assert say(hub, "b", f"EDIT {dm.id} hello").lines("a") == [
        f"EDITED alice {dm.id} 1970-01-01T00:16:40.000Z bob :hello"
    ]


def test_edit_refusals_each_have_their_code() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#c")
    user(hub, "b", "bob", "#c")
    msg = post(hub, "a", "#c", "mine")
    refused(say(hub, "b", f"EDIT {msg.id} yours"), "b", "NOT_AUTHOR", "EDIT")
    refused(say(hub, "a", f"EDIT {BOOT}-999 what"), "a", "NO_SUCH_MESSAGE", "EDIT")
    say(hub, "a", f"DELETE {msg.id}")
    error = refused(say(hub, "a", f"EDIT {msg.id} again"), "a", "MESSAGE_DELETED", "EDIT")
    assert error.params == (msg.id,)
    for line, code in (
        (f"EDIT {msg.id}", "NEED_MORE_PARAMS"),
        ("EDIT soon text", "INVALID_PARAMS"),
    ):
        with pytest.raises(ProtocolError) as info:
            parse_command(line)
        assert (info.value.reply.code, info.value.reply.command) == (code, "EDIT")


def test_an_author_may_edit_after_leaving_the_channel() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#c")
    user(hub, "b", "bob", "#c")
    msg = post(hub, "a", "#c", "bye all")
    say(hub, "a", "PART #c")
    d = say(hub, "a", f"EDIT {msg.id} bye, all")
    assert d.receivers == {"a", "b"}


def test_actions_are_messages_of_the_action_kind() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#c")
    register(hub, "b", "bob")
    (line,) = say(hub, "a", "ACTION #c waves").lines("a")
    assert line.endswith(" alice kind=action :waves")
    msgid = line.split()[2]
    (edited,) = say(hub, "a", f"EDIT {msgid} waves twice").lines("a")
    assert edited.startswith("EDITED #c ")
    block = history(hub, "a", "#c")
    assert " kind=action edited=" in block[1]
    assert say(hub, "a", "ME bob nods").lines("b")[0].endswith(" alice kind=action :nods")


# ---------------------------------------------------------------------------- markers


def test_unread_counts_what_others_wrote_after_your_marker() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#c")
    user(hub, "b", "bob", "#c")
    post(hub, "a", "#c", "mine")
    ids = [post(hub, "b", "#c", f"theirs {i}").id for i in range(3)]
    assert unread(hub, "a") == [f"COUNT #c unread=3 mentions=0 newest={ids[-1]}"]
    assert unread(hub, "b") == []  # bob wrote the newest: he has read up to it
    assert say(hub, "a", f"MARK #c {ids[0]}").lines("a") == [
        f"OK MARK #c {ids[0]} :read up to {ids[0]} in #c"
    ]
    assert unread(hub, "a") == [f"COUNT #c unread=2 mentions=0 newest={ids[-1]}"]


def test_a_marker_only_moves_forward() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#c")
    user(hub, "b", "bob", "#c")
    ids = [post(hub, "b", "#c", f"m{i}").id for i in range(3)]
    say(hub, "a", f"MARK #c {ids[2]}")
    assert say(hub, "a", f"MARK #c {ids[0]}").lines("a")[0].startswith(f"OK MARK #c {ids[2]} ")
    assert unread(hub, "a") == []


def test_mark_refusals() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#c")
    user(hub, "b", "bob", "#c", "#other")
    msg = post(hub, "b", "#c", "hello")
    refused(say(hub, "a", f"MARK #other {msg.id}"), "a", "NOT_IN_CHANNEL", "MARK")
    refused(say(hub, "a", f"MARK #c {BOOT}-999"), "a", "NO_SUCH_MESSAGE", "MARK")
    refused(say(hub, "a", "MARK #c 1700000000000-1"), "a", "NO_SUCH_MESSAGE", "MARK")
    refused(say(hub, "a", f"MARK bob {msg.id}"), "a", "NO_SUCH_MESSAGE", "MARK")  # no DMs yet
    refused(say(hub, "a", f"MARK zed {msg.id}"), "a", "NO_SUCH_NICK", "MARK")
    with pytest.raises(ProtocolError) as info:
        parse_command("MARK #c soon")
    assert info.value.reply.code == "INVALID_PARAMS"


def test_joining_starts_the_marker_at_the_newest_message() -> None:
    hub = make_hub()
    user(hub, "b", "bob", "#c")
    post(hub, "b", "#c", "said before you came")
    user(hub, "a", "alice", "#c")
    assert unread(hub, "a") == []
    newer = post(hub, "b", "#c", "said after")
    assert unread(hub, "a") == [f"COUNT #c unread=1 mentions=0 newest={newer.id}"]


def test_parting_forgets_the_channel_marker() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#c")
    user(hub, "b", "bob", "#c")
    post(hub, "b", "#c", "unread")
    say(hub, "a", "PART #c")
    assert unread(hub, "a") == []


@pytest.mark.parametrize(
    ("text", "mentions"),
    [
        ("alice", 1),
        ("ALICE: the build", 1),
        ("hey @alice!", 1),
        ("(alice)", 1),
        ("alice's turn", 1),
        ("malice aforethought", 0),
        ("alice_bot says hi", 0),
        ("alice-2 is another nick", 0),
        ("alicea", 0),
        ("al ice", 0),
    ],
)
def test_mentions_are_whole_words_in_any_case(text: str, mentions: int) -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#c")
    user(hub, "b", "bob", "#c")
    msg = post(hub, "b", "#c", text)
    assert unread(hub, "a") == [f"COUNT #c unread=1 mentions={mentions} newest={msg.id}"]


def test_unread_lists_channels_then_conversations() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#zeta", "#alpha")
    user(hub, "b", "bob", "#zeta", "#alpha")
    register(hub, "c", "carol")
    z = post(hub, "b", "#zeta", "z")
    x = post(hub, "b", "#alpha", "x")
    dm_c = post(hub, "c", "alice", "from carol")
    dm_b = post(hub, "b", "alice", "from bob")
    assert unread(hub, "a") == [
        f"COUNT #alpha unread=1 mentions=0 newest={x.id}",
        f"COUNT #zeta unread=1 mentions=0 newest={z.id}",
        f"COUNT bob unread=1 mentions=0 newest={dm_b.id}",
        f"COUNT carol unread=1 mentions=0 newest={dm_c.id}",
    ]


def test_deleted_messages_are_not_unread() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#c")
    user(hub, "b", "bob", "#c")
    msg = post(hub, "b", "#c", "regret")
    say(hub, "b", f"DELETE {msg.id}")
    assert unread(hub, "a") == []


# ---------------------------------------------------------------------------- review cases


def test_changes_of_1_1_are_refused_during_a_store_failure() -> None:
    from flackd.committer import writes

    for line in ("ACTION #c hi", f"EDIT {BOOT}-1 x", f"MARK #c {BOOT}-1"):
        assert writes(parse_command(line)[1]), line
    assert not writes(parse_command("UNREAD")[1])


def test_a_session_past_its_resume_time_cannot_be_written() -> None:
    hub = make_hub(Limits(resume_ttl=10))
    register(hub, "a", "alice")
    register(hub, "b", "bob")
    hub.disconnect("a", "gone", NOW)
    refused(say(hub, "b", "MSG alice hello", NOW + 100), "b", "NO_SUCH_NICK", "MSG")


def test_a_conversation_with_someone_gone_stays_reachable_under_their_nick() -> None:
    hub = make_hub()
    register(hub, "a", "alice")
    register(hub, "b", "bob")
    msg = post(hub, "a", "bob", "hi bob")
    say(hub, "a", "QUIT")
    register(hub, "a2", "alice")  # someone new has the nick, and has not written bob
    assert unread(hub, "b") == [f"COUNT alice unread=1 mentions=1 newest={msg.id}"]
    assert history(hub, "b", "alice")[1].split()[2] == msg.id
    say(hub, "b", f"MARK alice {msg.id}")
    assert unread(hub, "b") == []


def test_conversations_with_people_gone_make_room_for_new_ones() -> None:
    hub = make_hub(Limits(max_conversations=2))
    register(hub, "v", "victim")
    for i in range(2):
        register(hub, f"t{i}", f"throwaway{i}")
        post(hub, f"t{i}", "victim", "spam")
        say(hub, f"t{i}", "QUIT")
    register(hub, "f", "friend")
    post(hub, "f", "victim", "a real message")  # the oldest spam is let go
    assert [ln.split()[1] for ln in unread(hub, "v")] == ["friend", "throwaway1"]


def test_too_many_conversations_names_the_verb() -> None:
    hub = make_hub(Limits(max_conversations=1))
    register(hub, "a", "alice")
    register(hub, "b", "bob")
    register(hub, "c", "carol")
    post(hub, "a", "bob", "x")
    refused(say(hub, "a", "ACTION carol waves"), "a", "TOO_MANY_CONVERSATIONS", "ACTION")


def test_mark_of_a_deleted_newest_message() -> None:
    hub = make_hub()
    register(hub, "a", "alice")
    register(hub, "b", "bob")
    post(hub, "b", "alice", "one")
    two = post(hub, "b", "alice", "two")
    say(hub, "b", f"DELETE {two.id}")
    assert say(hub, "a", f"MARK bob {two.id}").lines("a")[0].startswith(f"OK MARK bob {two.id}")
    assert unread(hub, "a") == []


def test_unread_all_lists_every_place_even_with_nothing_unread() -> None:
    """What a client that comes back needs to list all its conversations, not only those
    with news: a channel without a message shows ``newest=*``."""
    hub = make_hub()
    register(hub, "a", "alice")
    register(hub, "b", "bob")
    say(hub, "a", "JOIN #quiet")
    say(hub, "a", "JOIN #busy")
    say(hub, "b", "JOIN #busy")
    news = post(hub, "b", "#busy", "hello alice")
    dm = post(hub, "a", "bob", "hi")
    assert unread(hub, "a") == [f"COUNT #busy unread=1 mentions=1 newest={news.id}"]
    block = say(hub, "a", "UNREAD all").lines("a")
    assert block == [
        "UNREAD 3",
        f"COUNT #busy unread=1 mentions=1 newest={news.id}",
        "COUNT #quiet unread=0 mentions=0 newest=*",
        f"COUNT bob unread=0 mentions=0 newest={dm.id}",
        "END UNREAD",
    ]
    with pytest.raises(ProtocolError) as bad:
        parse_command("UNREAD everything")
    assert isinstance(bad.value.reply, e.Error)
    assert bad.value.reply.code == "INVALID_PARAMS"

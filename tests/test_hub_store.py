"""The hub with a store: its journal, a restart from a snapshot, and a reload after a
failed commit. Plain functions, no sockets: the store is the in-memory reference store,
committed after every command as the server's committer would.
"""

from __future__ import annotations

import re

import pytest

from flackd.codec import events as e
from flackd.hub import Hub
from flackd.limits import Limits
from flackd.store import StoreFull
from flackd.store.memory import MemoryStore
from tests.test_hub import BOOT, NOW, Delivery, connect, deliver, send

ID = re.compile(rf"{BOOT}-(\d+)")


class Durable:
    """A hub over a store, committing after every command; ``restart()`` makes a new hub
    from what the store holds, as a new flackd process would."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits(history=5, history_page=5, join_replay=5)
        self.store = MemoryStore(BOOT)
        self.hub: Hub[str] = Hub(self.limits, snapshot=self.store.load(), now=NOW)

    def say(self, conn: str, line: str, now: float = NOW) -> Delivery:
        d = deliver(send(self.hub, conn, line, now))
        self.commit()
        return d

    def commit(self) -> None:
        changes = self.hub.take_changes()
        if changes is not None:
            self.store.commit(changes)

    def connect(self, conn: str) -> None:
        connect(self.hub, conn)

    def register(self, conn: str, nick: str, *channels: str) -> str:
        self.connect(conn)
        (ok,) = self.say(conn, f"NICK {nick}").to(conn)
        assert isinstance(ok, e.Ok), ok
        token = ok.param("token")
        assert token
        for channel in channels:
            assert isinstance(self.say(conn, f"JOIN {channel}").to(conn)[0], e.Ok)
        return token

    def post(self, conn: str, target: str, text: str) -> str:
        (echo,) = self.say(conn, f"MSG {target} {text}").to(conn)
        assert isinstance(echo, e.Message), echo
        return echo.id

    def restart(self, now: float = NOW + 60) -> None:
        self.hub = Hub(self.limits, snapshot=self.store.load(), now=now)


def test_without_a_snapshot_the_hub_keeps_no_journal() -> None:
    hub: Hub[str] = Hub(Limits())
    assert hub.journal is None
    connect(hub, "a")
    send(hub, "a", "NICK alice")
    assert hub.take_changes() is None


def test_reads_write_nothing_and_writes_are_noted() -> None:
    d = Durable()
    d.register("a", "alice", "#c")
    journal = d.hub.journal
    assert journal is not None
    for line in ("PING x", "HISTORY #c", "NAMES #c", "LIST", "TOPIC #c", "HELP MSG"):
        before = journal.count
        d.say("a", line)
        assert journal.count == before, line
    for line in ("MSG #c hi", "TOPIC #c new", "NICK alicia", "PART #c", "JOIN #c"):
        before = journal.count
        d.say("a", line)
        assert journal.count > before, line


def test_a_restart_keeps_channels_topics_history_and_ids() -> None:
    d = Durable()
    d.register("a", "alice", "#general")
    d.say("a", "TOPIC #general release planning")
    ids = [d.post("a", "#general", f"m{i}") for i in range(3)]
    d.restart()
    d.register("b", "bob")
    block = d.say("b", "JOIN #general").lines("b")
    assert "TOPIC #general alice 2026" in block[1] or block[1].startswith("TOPIC #general alice ")
    assert block[1].endswith(":release planning")
    assert [line.split()[2] for line in block if line.startswith("MSG ")] == ids
    # The next id continues the sequence under the same prefix.
    new = d.post("b", "#general", "after the restart")
    assert new == f"{BOOT}-{int(ids[-1].split('-')[1]) + 1}"


def test_resume_after_a_restart_brings_the_session_back() -> None:
    d = Durable()
    token = d.register("a", "alice", "#one", "#two")
    d.say("a", "MSG #one last words")
    d.restart()
    d.connect("a2")
    # The nick is held for the dropped session, as after a dropped connection.
    d.connect("x")
    assert d.say("x", "NICK alice", now=NOW + 60).to("x")[0] == e.Error(
        "NICK_IN_USE",
        "NICK",
        ("alice",),
        "alice is held for a dropped session for up to 600 s more; if it is yours, send "
        "RESUME <token>, otherwise pick another nick",
    )
    lines = d.say("a2", f"RESUME {token}").lines("a2")
    assert lines[:4] == ["JOIN #two alice", "JOIN #one alice", "UNREAD 0", "END UNREAD"]
    assert lines[4].startswith("OK RESUME alice token=")
    assert "last=#one" in lines[4]
    new_token = lines[4].split("token=")[1].split()[0]
    assert new_token != token
    # The old token is spent, the new one is stored.
    d.restart()
    d.connect("a3")
    assert d.say("a3", f"RESUME {token}").to("a3")[0].code == "UNKNOWN_TOKEN"  # type: ignore[union-attr]
    assert d.say("a3", f"RESUME {new_token}").lines("a3")[-1].startswith("OK RESUME alice")


def test_history_after_a_cursor_from_before_the_restart_has_no_gap() -> None:
    d = Durable()
    d.register("a", "alice", "#c")
    seen = d.post("a", "#c", "seen")
    missed = d.post("a", "#c", "missed")
    d.restart()
    d.register("b", "bob", "#c")
    block = d.say("b", f"HISTORY #c AFTER {seen}").lines("b")
    assert block[1].split()[2] == missed
    assert block[-1] == "END HISTORY #c more=no gap=no"


def test_the_ring_trim_and_the_gap_survive_a_restart() -> None:
    d = Durable()  # history=5
    d.register("a", "alice", "#c")
    ids = [d.post("a", "#c", f"m{i}") for i in range(8)]
    d.restart()
    d.register("b", "bob", "#c")
    block = d.say("b", f"HISTORY #c AFTER {ids[0]} 10").lines("b")
    assert [line.split()[2] for line in block[1:-1]] == ids[3:]
    assert block[-1] == "END HISTORY #c more=no gap=yes"  # ids[1] and ids[2] fell off
    # The store holds the ring, and until its next trim (every quarter ring of drops) at
    # most that many more: here m2, which the ring dropped last, is still stored.
    assert sorted(m.msgid for m in d.store.messages.values()) == sorted(ids[2:])


def test_deletions_survive_a_restart_and_authors_stay_authors() -> None:
    d = Durable()
    d.register("a", "alice", "#c")
    keep = d.post("a", "#c", "keep")
    gone = d.post("a", "#c", "gone")
    d.say("a", f"DELETE {gone}")
    d.restart()
    d.connect("a2")
    d.register("b", "bob", "#c")
    assert [line.split()[2] for line in d.say("b", "HISTORY #c").lines("b")[1:-1]] == [keep]
    # bob cannot delete alice's message after the restart either: authorship is stored.
    assert d.say("b", f"DELETE {keep}").to("b")[0].code == "NOT_AUTHOR"  # type: ignore[union-attr]


def test_quit_and_expiry_remove_sessions_from_the_store() -> None:
    d = Durable(Limits(resume_ttl=60))
    d.register("a", "alice")
    d.register("b", "bob")
    d.say("a", "QUIT")
    assert [s.nick for s in d.store.sessions.values()] == ["bob"]
    d.hub.disconnect("b", "gone", NOW)
    d.commit()
    (row,) = d.store.sessions.values()
    assert row.detached_at == NOW
    # Past the resume time, the next registration forgets bob, in the store too.
    d.register("c", "carol")
    d.say("c", "NICK bob", now=NOW + 61)
    assert sorted(s.nick for s in d.store.sessions.values()) == ["bob"]  # carol renamed


def test_a_restart_keeps_the_time_a_session_was_dropped() -> None:
    d = Durable(Limits(resume_ttl=60))
    token = d.register("a", "alice")
    d.hub.disconnect("a", "gone", NOW)
    d.commit()
    d.restart(now=NOW + 59)
    d.connect("a2")
    d.connect("x")
    # Still held 59 s after the drop, not 60 s after the restart...
    err = d.say("x", "NICK alice", now=NOW + 59).to("x")[0]
    assert isinstance(err, e.Error)
    assert "up to 1 s more" in err.text
    # ...and gone a second later.
    assert d.say("a2", f"RESUME {token}", now=NOW + 61).to("a2")[0].code == "UNKNOWN_TOKEN"  # type: ignore[union-attr]


def test_restore_after_a_failed_commit_forgets_the_failed_changes() -> None:
    d = Durable()
    d.register("a", "alice", "#c")
    d.register("b", "bob", "#c")
    kept = d.post("a", "#c", "stored")
    # These changes are never stored: the commit fails.
    send(d.hub, "a", "MSG #c lost")
    send(d.hub, "a", "TOPIC #c lost topic")
    send(d.hub, "b", "PART #c")
    connect(d.hub, "n")
    send(d.hub, "n", "NICK newcomer")
    d.store.fail_next = StoreFull("disk full")
    changes = d.hub.take_changes()
    assert changes is not None
    with pytest.raises(StoreFull):
        d.store.commit(changes)
    d.hub.restore(d.store.load(), NOW, unregister={"n"})
    assert [ln.split()[2] for ln in d.say("a", "HISTORY #c").lines("a")[1:-1]] == [kept]
    assert d.say("a", "TOPIC #c").lines("a") == ["TOPIC #c * * :"]
    assert d.say("a", "NAMES #c").lines("a")[1:3] == ["MEMBER alice role=op", "MEMBER bob"]
    assert not d.hub.is_registered("n")
    assert d.hub.session("newcomer") is None
    # Live connections keep their sessions and go on as before.
    assert d.say("b", "MSG #c still here").receivers == {"a", "b"}
    # The lost message's id is not handed out again.
    again = d.post("a", "#c", "again")
    assert int(again.split("-")[1]) > int(kept.split("-")[1]) + 1


def test_a_lowered_history_limit_trims_on_load() -> None:
    d = Durable(Limits(history=10, history_page=5, join_replay=5))
    d.register("a", "alice", "#c")
    ids = [d.post("a", "#c", f"m{i}") for i in range(10)]
    d.limits = Limits(history=5, history_page=5, join_replay=5)
    d.restart()
    d.register("b", "bob", "#c")
    block = d.say("b", "HISTORY #c").lines("b")
    assert [ln.split()[2] for ln in block[1:-1]] == ids[5:]


def test_conversations_edits_actions_and_markers_survive_a_restart() -> None:
    d = Durable()
    alice = d.register("a", "alice", "#c")
    d.register("b", "bob", "#c")
    dm = d.post("b", "alice", "psst alice")
    act = d.say("b", "ACTION #c waves").lines("b")[0].split()[2]
    d.say("b", f"EDIT {act} waves back")
    d.post("b", "#c", "read this")
    d.say("a", f"MARK #c {act}")
    before = d.say("a", "UNREAD").lines("a")
    d.restart()
    d.connect("a2")
    reply = d.say("a2", f"RESUME {alice}").lines("a2")
    assert reply[1 : 1 + len(before)] == before  # the same unread counts, markers kept
    block = d.say("a2", "HISTORY bob").lines("a2")
    assert block[1].split()[2] == dm
    assert block[1].endswith(" bob :psst alice")
    line = d.say("a2", "HISTORY #c").lines("a2")[1]
    assert " kind=action edited=" in line
    assert line.endswith(":waves back")
    # the DM's id is not handed out again
    assert int(d.post("a2", "bob", "next").split("-")[1]) > int(dm.split("-")[1])


def test_a_conversation_with_someone_who_left_survives_a_restart() -> None:
    d = Durable()
    alice = d.register("a", "alice")
    d.register("b", "bob")
    note = d.post("b", "alice", "goodbye note")
    d.say("b", "QUIT")
    d.restart()
    (row,) = d.store.conversations.values()
    assert (row.nick_a, row.nick_b) == ("alice", "bob")
    d.connect("a2")
    reply = d.say("a2", f"RESUME {alice}").lines("a2")
    assert f"COUNT bob unread=1 mentions=0 newest={note}" in reply
    block = d.say("a2", "HISTORY bob").lines("a2")  # bob is gone, his note is not
    assert block[0] == "HISTORY bob 1"
    assert block[1].split()[2] == note


def test_a_conversation_is_deleted_from_the_store_when_both_sides_end() -> None:
    d = Durable()
    d.register("a", "alice")
    d.register("b", "bob")
    d.post("a", "bob", "short-lived")
    d.say("a", "QUIT")
    assert d.store.conversations
    d.say("b", "QUIT")
    assert d.store.conversations == {}
    assert d.store.messages == {}


def test_deleting_your_newest_message_keeps_your_marker_across_a_restart() -> None:
    d = Durable()
    alice = d.register("a", "alice", "#c")
    d.register("b", "bob", "#c")
    d.post("b", "#c", "one")
    two = d.post("a", "#c", "two")  # alice has read up to here
    d.say("a", f"DELETE {two}")
    d.restart()
    d.connect("a2")
    assert d.say("a2", f"RESUME {alice}").lines("a2")[1:3] == ["UNREAD 0", "END UNREAD"]


def test_a_delete_before_the_next_trim_does_not_bring_back_what_fell_off() -> None:
    d = Durable(Limits(history=8, history_page=8, join_replay=8))
    d.register("a", "alice", "#c")
    ids = [d.post("a", "#c", f"m{i}") for i in range(9)]  # m0 fell off, not yet trimmed
    d.say("a", f"DELETE {ids[8]}")
    before = d.say("a", "HISTORY #c AFTER 1795507200000-0 20").lines("a")
    d.restart()
    d.register("b", "bob", "#c")
    assert d.say("b", "HISTORY #c AFTER 1795507200000-0 20").lines("b") == before
    assert before[-1].endswith("gap=yes")


def test_a_released_conversation_leaves_no_marker_behind_a_restart() -> None:
    d = Durable()
    d.register("a", "alice")
    bob = d.register("b", "bob")
    first = d.post("a", "bob", "from the first alice")
    d.say("b", f"MARK alice {first}")
    d.say("a", "QUIT")
    d.register("a2", "alice")
    d.post("a2", "bob", "from the second alice")  # one nick, one conversation
    d.restart()
    (row,) = (r for r in d.store.sessions.values() if r.nick == "bob")
    assert [key for key, _ in row.markers] == []  # the old conversation's marker is gone
    d.connect("b2")
    assert d.say("b2", f"RESUME {bob}").lines("b2")[1].startswith("COUNT alice unread=1 ")

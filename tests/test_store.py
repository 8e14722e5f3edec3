"""The store contract, run against every store, and what only the SQLite store has.

The same cases run against :class:`MemoryStore` (the reference) and :class:`SqliteStore`
(real files in a temporary directory): what a commit stores is what the next load returns,
a failed commit stores nothing, history beyond a channel's ``last_dropped_seq`` is deleted,
dropped sessions and channels are gone. Then the SQLite store's own promises: the
directory lock, clear errors for a directory it cannot use, a database from a newer
flackd, a damaged or foreign file, a full database, the schema version, and a file that
does not grow without bound.
"""

from __future__ import annotations

import dataclasses
import os
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from flackd.store import (
    Changes,
    ChannelRow,
    ConversationRow,
    MessageRow,
    SessionRow,
    Store,
    StoreCorrupt,
    StoreError,
    StoreFull,
    StoreUnavailable,
)
from flackd.store.memory import MemoryStore
from flackd.store.sqlite import DB_NAME, SCHEMA_VERSION, WAL_HARD_BYTES, SqliteStore

BOOT = 1795507200000


def _memory(_: Path) -> Store:
    return MemoryStore(BOOT)


def _sqlite(path: Path) -> Store:
    return SqliteStore.open(path / "data", boot=BOOT)


@pytest.fixture(params=[_memory, _sqlite], ids=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    make: Callable[[Path], Store] = request.param
    opened = make(tmp_path)
    yield opened
    opened.close()


def channel(key: str = "#general", dropped: int = 0, topic: str = "") -> ChannelRow:
    return ChannelRow(key, key.upper(), topic, "alice" if topic else "*", "*", dropped)


def message(seq: int, key: str = "#general", text: str | None = None) -> MessageRow:
    body = text if text is not None else f"message {seq}"
    stamp = "2026-11-24T09:20:03.123Z"
    return MessageRow(seq, key, f"{BOOT}-{seq}", stamp, "alice", 1, body, key.upper())


def session(
    sid: int = 1, nick: str = "alice", *chans: str, detached: float | None = None
) -> SessionRow:
    return SessionRow(sid, nick, f"hash-{sid}", chans, chans[-1] if chans else None, detached)


def test_a_new_store_is_empty_with_its_boot(store: Store) -> None:
    snap = store.load()
    assert (snap.boot, snap.last_seq, snap.last_sid) == (BOOT, 0, 0)
    assert (snap.channels, snap.messages, snap.sessions) == ([], [], [])


def test_what_is_committed_is_loaded(store: Store) -> None:
    store.commit(
        Changes(
            sessions=[session(1, "alice", "#general", "#ops", detached=12.5)],
            channels=[channel("#general", topic="plans"), channel("#ops")],
            messages=[message(1), message(2, "#ops"), message(3, text="ünïcode ✓ and \t tab")],
            last_seq=3,
            last_sid=1,
        )
    )
    snap = store.load()
    assert (snap.last_seq, snap.last_sid) == (3, 1)
    assert sorted(snap.channels, key=lambda r: r.key) == [
        channel("#general", topic="plans"),
        channel("#ops"),
    ]
    assert sorted(snap.messages, key=lambda m: m.seq) == [
        message(1),
        message(2, "#ops"),
        message(3, text="ünïcode ✓ and \t tab"),
    ]
    assert snap.sessions == [session(1, "alice", "#general", "#ops", detached=12.5)]


def test_rows_are_replaced_deleted_and_trimmed(store: Store) -> None:
    store.commit(
        Changes(
            sessions=[session(1, "alice", "#a"), session(2, "bob", "#a")],
            channels=[channel("#a"), channel("#b")],
            messages=[message(seq, "#a") for seq in range(1, 6)] + [message(6, "#b")],
            last_seq=6,
            last_sid=2,
        )
    )
    store.commit(
        Changes(
            sessions=[session(1, "zed", "#a")],  # renamed
            dropped_sessions=[2],
            channels=[channel("#a", dropped=2)],  # the ring dropped 1 and 2
            dropped_channels=["#b"],  # reclaimed, with its history
            messages=[message(7, "#a"), 4, 7],  # 4 and the new 7 deleted, in order
            last_seq=7,
            last_sid=2,
        )
    )
    snap = store.load()
    assert [m.seq for m in sorted(snap.messages, key=lambda m: m.seq)] == [3, 5]
    assert [c.key for c in snap.channels] == ["#a"]
    assert snap.sessions == [session(1, "zed", "#a")]
    assert snap.last_seq == 7


def test_one_commit_of_every_kind_of_message_loads_the_newest_row_of_each(store: Store) -> None:
    # Plain messages, /me actions and NOTICEs mixed in one commit, some edited in the same
    # commit (an edit is the row again, newer), enough of them for statements of every size.
    edited = "2026-11-24T09:21:00.000Z"
    rows: list[MessageRow | int] = []
    for seq in range(1, 301):
        row = message(seq)
        if seq % 3 == 1:
            row = row._replace(action=True)
        elif seq % 7 == 0:
            row = row._replace(notice=True)
        rows.append(row)
    for seq in (1, 2, 14, 299):  # an action, a plain one, a notice, a plain one: edited
        original = rows[seq - 1]
        assert isinstance(original, MessageRow)
        rows.append(original._replace(text=f"edited {seq}", edited=edited))
    store.commit(Changes(channels=[channel()], messages=rows, last_seq=300))
    loaded = {m.seq: m for m in store.load().messages}
    assert len(loaded) == 300
    assert loaded[1] == message(1, text="edited 1")._replace(action=True, edited=edited)
    assert loaded[2] == message(2, text="edited 2")._replace(edited=edited)
    assert loaded[14] == message(14, text="edited 14")._replace(notice=True, edited=edited)
    assert loaded[299] == message(299, text="edited 299")._replace(edited=edited)
    assert loaded[4] == message(4)._replace(action=True)
    assert loaded[21] == message(21)._replace(notice=True)
    assert loaded[300] == message(300)
    assert [m.action for m in (loaded[4], loaded[5])] == [True, False]
    assert all(type(m.action) is bool and type(m.notice) is bool for m in loaded.values())


def test_counters_never_go_back(store: Store) -> None:
    store.commit(Changes(last_seq=10, last_sid=4))
    store.commit(Changes(last_seq=3, last_sid=1))
    snap = store.load()
    assert (snap.last_seq, snap.last_sid) == (10, 4)


# ---------------------------------------------------------------------------- sqlite


def open_store(path: Path, **kwargs: object) -> SqliteStore:
    return SqliteStore.open(path, boot=BOOT, **kwargs)  # type: ignore[arg-type]


def test_a_failed_commit_stores_nothing(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.commit(Changes(channels=[channel("#a")], messages=[message(1, "#a")], last_seq=1))
    with pytest.raises(StoreError):
        # A row without text breaks a NOT NULL constraint half-way through the commit.
        store.commit(
            Changes(
                channels=[channel("#a", topic="changed")],
                messages=[message(2, "#a"), message(3, "#a")._replace(text=None)],  # type: ignore[arg-type]
                last_seq=2,
            )
        )
    snap = store.load()
    assert snap.channels == [channel("#a")]
    assert [m.seq for m in snap.messages] == [1]
    assert snap.last_seq == 1
    store.commit(Changes(messages=[message(2, "#a")], last_seq=2))  # usable afterwards
    assert [m.seq for m in store.load().messages] == [1, 2]
    store.close()


def test_reopened_after_close_holds_everything(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.commit(Changes(channels=[channel("#a")], messages=[message(1, "#a")], last_seq=1))
    store.close()
    again = SqliteStore.open(tmp_path, boot=42)  # the boot of an existing store stays
    snap = again.load()
    assert snap.boot == BOOT
    assert [m.text for m in snap.messages] == ["message 1"]
    again.close()


def test_the_wal_survives_without_a_clean_close(tmp_path: Path) -> None:
    """What a ``kill -9`` leaves: a WAL that was never checkpointed. Simulated by copying
    the files while the store is open, as the kernel would keep them."""
    store = open_store(tmp_path / "live")
    store.commit(Changes(channels=[channel("#a")], messages=[message(1, "#a")], last_seq=1))
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in os.listdir(tmp_path / "live"):
        if name.startswith(DB_NAME):
            (copy / name).write_bytes((tmp_path / "live" / name).read_bytes())
    assert (copy / (DB_NAME + "-wal")).stat().st_size > 0
    recovered = open_store(copy)
    assert [m.seq for m in recovered.load().messages] == [1]
    recovered.close()
    store.close()


def test_a_second_flackd_on_the_same_directory_is_refused(tmp_path: Path) -> None:
    first = open_store(tmp_path)
    with pytest.raises(StoreUnavailable, match=rf"in use by another flackd \(pid {os.getpid()}\)"):
        open_store(tmp_path)
    first.close()
    open_store(tmp_path).close()  # free again once the first one closed


def test_a_directory_that_cannot_be_made(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreUnavailable, match="cannot create the data directory"):
        open_store(blocker / "data")


def test_a_database_from_a_newer_flackd_is_refused(tmp_path: Path) -> None:
    open_store(tmp_path).close()
    db = sqlite3.connect(tmp_path / DB_NAME)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(StoreUnavailable, match="newer flackd"):
        open_store(tmp_path)


def test_a_damaged_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / DB_NAME).write_bytes(b"this is not an SQLite database at all" * 200)
    with pytest.raises(StoreCorrupt, match="damaged or is not a database"):
        open_store(tmp_path)


def test_someone_elses_database_is_refused(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / DB_NAME)
    db.execute("CREATE TABLE orders (id INTEGER)")
    db.close()
    with pytest.raises(StoreCorrupt, match="not flackd's"):
        open_store(tmp_path)


def test_a_new_database_is_at_the_current_schema_version(tmp_path: Path) -> None:
    open_store(tmp_path).close()
    db = sqlite3.connect(tmp_path / DB_NAME)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def test_a_full_database_fails_the_commit_and_keeps_what_it_had(tmp_path: Path) -> None:
    store = open_store(tmp_path, max_bytes=256 * 1024)
    store.commit(Changes(channels=[channel("#a")], last_seq=0))
    big = "x" * 400
    seq = 0
    error: StoreFull | None = None
    for _ in range(10_000):  # bounded: 256 KiB holds far fewer than this
        batch = [message(seq + i, "#a", big) for i in range(1, 11)]
        try:
            store.commit(Changes(messages=batch, last_seq=seq + 10))
        except StoreFull as exc:
            error = exc
            break
        seq += 10
    assert error is not None
    assert "full" in str(error)
    assert 0 < seq < 10_000
    snap = store.load()
    assert len(snap.messages) == seq  # every commit before the failing one, and no more
    # Deleting makes room again: the store is usable, not wedged.
    store.commit(Changes(channels=[channel("#a", dropped=seq - 10)], last_seq=seq))
    store.commit(Changes(messages=[message(seq + 1, "#a", big)], last_seq=seq + 1))
    assert len(store.load().messages) == 11
    store.close()


def test_the_file_stays_bounded_when_history_is_trimmed(tmp_path: Path) -> None:
    """A long run: 20,000 messages through a 100-message ring, as the hub trims it. The WAL
    is bounded by WAL_HARD_BYTES even when commits never pause, and the database file,
    once checkpointed, holds about what the ring holds, whatever went through it."""
    store = open_store(tmp_path)
    store.commit(Changes(channels=[channel("#a")]))
    text = "a typical chat line of some sixty characters, give or take..."
    sizes = []
    for batch in range(200):
        first = batch * 100 + 1
        store.commit(
            Changes(
                channels=[channel("#a", dropped=max(0, first + 99 - 100))],
                messages=[message(seq, "#a", text) for seq in range(first, first + 100)],
                last_seq=first + 99,
            )
        )
        sizes.append(store.size_bytes())
    assert len(store.load().messages) == 100
    assert max(sizes) <= WAL_HARD_BYTES + (1 << 20)
    store.close()
    one_ring = 100 * (len(text) + 100)
    assert (tmp_path / DB_NAME).stat().st_size < 20 * one_ring  # pages, index, slack
    assert not (tmp_path / (DB_NAME + "-wal")).exists() or (
        (tmp_path / (DB_NAME + "-wal")).stat().st_size == 0
    )


def test_backup_is_a_consistent_copy(tmp_path: Path) -> None:
    store = open_store(tmp_path / "live")
    store.commit(Changes(channels=[channel("#a")], messages=[message(1, "#a")], last_seq=1))
    store.backup(tmp_path / "backup.db")
    store.close()
    target = tmp_path / "restored"
    target.mkdir()
    (tmp_path / "backup.db").rename(target / DB_NAME)
    restored = open_store(target)
    assert [m.seq for m in restored.load().messages] == [1]
    restored.close()


@pytest.mark.parametrize(("choice", "pragma"), [("normal", 1), ("full", 2)])
def test_the_synchronous_setting_is_applied(tmp_path: Path, choice: str, pragma: int) -> None:
    store = open_store(tmp_path, synchronous=choice)
    assert store._db.execute("PRAGMA synchronous").fetchone()[0] == pragma
    store.commit(Changes(channels=[channel("#a")], messages=[message(1, "#a")], last_seq=1))
    store.close()
    with pytest.raises(ValueError, match="synchronous must be one of"):
        open_store(tmp_path, synchronous="sometimes")


def test_conversations_and_markers_round_trip(store: Store) -> None:
    conv = ConversationRow("@1.2", 1, "alice", 2, "bob", 0)
    dm = message(1, "@1.2", "psst")._replace(target="bob")
    act = message(2, "#general", "waves")._replace(action=True, edited="2026-11-24T09:21:00.000Z")
    note = message(3, "#general", "build passed")._replace(notice=True)
    markers = (("#general", 2), ("@1.2", 1))
    alice = SessionRow(1, "alice", "hash-1", ("#general",), "#general", None, markers)
    store.commit(
        Changes(
            sessions=[alice],
            channels=[channel("#general")],
            conversations=[conv],
            messages=[dm, act, note],
            last_seq=3,
            last_sid=2,
        )
    )
    snap = store.load()
    assert snap.conversations == [conv]
    assert sorted(snap.messages) == [dm, act, note]
    assert snap.sessions == [alice]
    # An edit writes the row again; a dropped conversation goes with its messages.
    store.commit(Changes(messages=[dm._replace(text="psst!", edited="2026-11-24T09:22:00.000Z")]))
    assert [m.text for m in store.load().messages if m.holder == "@1.2"] == ["psst!"]
    store.commit(Changes(dropped_conversations=["@1.2"]))
    snap = store.load()
    assert snap.conversations == []
    assert [m.seq for m in snap.messages] == [2, 3]


def test_channel_modes_round_trip(store: Store) -> None:
    plain = channel("#plain")
    ruled = dataclasses.replace(
        channel("#ruled"),
        created=1795507200.5,
        ops=(1, 3),
        voiced=(2,),
        flags="Cimst",
        passkey="sesame",
        limit=20,
        bans=(("spam*!*@*", "alice", "2026-12-03T12:00:00.000Z"),),
        invited=(7, 5),
        excepts=(("spam1!*@*", "bob", "2026-12-03T12:00:01.000Z"),),
        invexes=(("*!*@flack", "alice", "2026-12-03T12:00:02.000Z"),),
    )
    store.commit(Changes(channels=[plain, ruled], last_seq=0, last_sid=7))
    assert store.load().channels == [plain, ruled]


def test_modes_written_before_exception_lists_still_load(tmp_path: Path) -> None:
    """A ``modes`` column from flackd before +e and +I: no such keys, empty lists."""
    store = SqliteStore.open(tmp_path)
    store.commit(Changes(channels=[channel("#old")], last_seq=0, last_sid=1))
    store.close()
    db = sqlite3.connect(tmp_path / DB_NAME)
    old = '{"ops":[1],"flags":"inst","bans":[["x!*@*","alice","2026-12-03T12:00:00.000Z"]]}'
    db.execute("UPDATE channels SET modes = ?", (old,))
    db.commit()
    db.close()
    store = SqliteStore.open(tmp_path)
    (row,) = store.load().channels
    assert (row.flags, row.ops, row.excepts, row.invexes) == ("inst", (1,), (), ())
    assert row.bans == (("x!*@*", "alice", "2026-12-03T12:00:00.000Z"),)
    store.close()


def test_a_version_2_database_gets_channels_with_no_operator(tmp_path: Path) -> None:
    from flackd.store.sqlite import MIGRATIONS

    db = sqlite3.connect(tmp_path / DB_NAME)
    db.execute("PRAGMA application_id=1181508459")
    for script in MIGRATIONS[:2]:
        for statement in script.split(";"):
            if statement.strip():
                db.execute(statement)
    db.execute("INSERT INTO meta VALUES ('boot', 42), ('last_seq', 0), ('last_sid', 0)")
    db.execute("INSERT INTO channels VALUES ('#old', '#Old', 'a topic', 'bob', '*', 0)")
    db.execute("PRAGMA user_version=2")
    db.commit()
    db.close()
    store = SqliteStore.open(tmp_path)
    (row,) = store.load().channels
    assert (row.name, row.topic, row.flags, row.ops, row.bans, row.created) == (
        "#Old",
        "a topic",
        "n",
        (),
        (),
        0.0,
    )
    store.close()


def test_a_version_1_database_is_migrated(tmp_path: Path) -> None:
    from flackd.store.sqlite import MIGRATIONS

    db = sqlite3.connect(tmp_path / DB_NAME)
    db.execute("PRAGMA application_id=1181508459")
    for statement in MIGRATIONS[0].split(";"):
        if statement.strip():
            db.execute(statement)
    db.execute("INSERT INTO meta VALUES ('boot', 42), ('last_seq', 7), ('last_sid', 1)")
    db.execute("INSERT INTO channels VALUES ('#old', '#Old', 'kept', 'alice', '*', 0)")
    db.execute(
        "INSERT INTO messages VALUES (7, '#old', '42-7', '2026-11-24T09:20:03.123Z', 'alice', 1, "
        "'from version 1')"
    )
    db.execute("INSERT INTO sessions VALUES (1, 'alice', 'h', '#old', '#old', NULL)")
    db.execute("PRAGMA user_version=1")
    db.commit()
    db.close()
    store = SqliteStore.open(tmp_path)
    snap = store.load()
    assert snap.boot == 42
    (msg,) = snap.messages
    assert (msg.holder, msg.target, msg.text, msg.action, msg.edited) == (
        "#old",
        "#Old",
        "from version 1",
        False,
        None,
    )
    assert snap.sessions[0].markers == ()
    assert snap.conversations == []
    store.close()
    check = sqlite3.connect(tmp_path / DB_NAME)
    assert check.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
    check.close()


def test_a_wal_past_its_bound_asks_for_maintenance(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import flackd.store.sqlite as sqlite_store

    monkeypatch.setattr(sqlite_store, "WAL_HARD_BYTES", 64 * 1024)
    store = open_store(tmp_path)
    assert not store.maintenance_due()
    store.commit(Changes(channels=[channel("#a")]))
    seq = 0
    for _ in range(1000):  # bounded; 64 KiB of WAL takes a few commits
        if store.maintenance_due():
            break
        store.commit(Changes(messages=[message(seq + i, "#a", "x" * 400) for i in range(1, 21)]))
        seq += 20
    assert store.maintenance_due()
    store.maintain()
    assert not store.maintenance_due()
    assert (tmp_path / (DB_NAME + "-wal")).stat().st_size == 0
    assert len(store.load().messages) == seq  # nothing lost by the checkpoint
    store.close()

"""The server with a store, in process, over real loopback TCP: acknowledged means stored,
one order behind a commit, group commit, the commit queue bound, a failed commit, and a
restart on a real SQLite file.

A *gated* store wraps the reference store and holds each commit until the test opens the
gate, so "the echo has not gone out while the commit runs" is checked at a moment the test
controls, not by waiting and hoping. ``trio.testing.wait_all_tasks_blocked`` says when
the server has taken in everything sent to it.
"""

from __future__ import annotations

import threading
from pathlib import Path

import trio
import trio.testing

from flackd.committer import Committer
from flackd.connection import Connection
from flackd.hub import Hub
from flackd.limits import Limits
from flackd.server import Server
from flackd.store import Changes, Snapshot, StoreFull
from flackd.store.memory import MemoryStore
from flackd.store.sqlite import SqliteStore
from tests.support import TEST_LIMITS, WAIT, LineClient, RunningServer, start_server

BOOT = 1795507200000


class GatedStore:
    """A MemoryStore whose commits wait, in their worker thread, for an open gate."""

    def __init__(self) -> None:
        self.inner = MemoryStore(BOOT)
        self.where = "gated memory"
        self.commit_in_thread = True  # so the event loop runs on while a commit waits
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()

    def load(self) -> Snapshot:
        return self.inner.load()

    def commit(self, changes: Changes) -> None:
        self.entered.set()
        assert self.gate.wait(WAIT), "the test never opened the gate"
        self.inner.commit(changes)

    def maintenance_due(self) -> bool:
        return False

    def maintain(self) -> None:
        pass

    def close(self) -> None:
        pass

    async def wait_entered(self) -> None:
        assert await trio.to_thread.run_sync(self.entered.wait, WAIT)


class MaintainedStore(MemoryStore):
    """A MemoryStore committed on the event loop (as SQLite's ``synchronous=normal`` is)
    that asks for housekeeping after its first commit and holds it, in its worker
    thread, until the test opens the gate."""

    def __init__(self) -> None:
        super().__init__(BOOT)
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.maintained = 0

    def maintenance_due(self) -> bool:
        return self.commits == 1 and not self.maintained

    def maintain(self) -> None:
        self.entered.set()
        assert self.gate.wait(WAIT), "the test never opened the gate"
        self.maintained += 1


def outbox(server: Server, nick: str) -> int:
    """Bytes queued by the server for ``nick`` and not yet written to its socket."""
    session = server.hub.session(nick)  # type: ignore[attr-defined]
    conn: Connection = session.conn
    return conn.queued


async def two_in(flackd: RunningServer) -> tuple[LineClient, LineClient]:
    alice = await flackd.client("alice", "#c")
    bob = await flackd.client("bob", "#c")
    assert await alice.recv() == "JOIN #c bob"
    return alice, bob


async def test_the_echo_and_deliveries_wait_for_the_commit(nursery: trio.Nursery) -> None:
    store = GatedStore()
    flackd = await start_server(nursery, store=store)
    alice, bob = await two_in(flackd)
    store.gate.clear()
    store.entered.clear()
    await alice.send("MSG #c hello")
    await store.wait_entered()  # the commit holding the message is running now
    await bob.send("PING during")  # a read from someone else, behind the commit
    await trio.testing.wait_all_tasks_blocked()
    assert store.inner.messages == {}
    assert outbox(flackd.server, "alice") == 0
    assert outbox(flackd.server, "bob") == 0
    store.gate.set()
    echo = await alice.recv()
    assert echo.startswith("MSG #c ")
    assert echo.endswith(" alice :hello")
    assert [m.text for m in store.inner.messages.values()] == ["hello"]  # stored first
    # One order: bob's PONG was held behind the message he was sent before it.
    assert (await bob.recv()).endswith(" alice :hello")
    assert await bob.recv() == "PONG during"


async def test_reads_go_out_at_once_when_nothing_is_held(nursery: trio.Nursery) -> None:
    store = GatedStore()
    flackd = await start_server(nursery, store=store)
    alice, _ = await two_in(flackd)
    store.gate.clear()  # any commit now would block: reads must not need one
    store.entered.clear()
    await alice.send("PING x")
    assert await alice.recv() == "PONG x"
    for line in ("HISTORY #c", "NAMES #c", "LIST"):
        await alice.send(line)
        assert (await alice.recv_until("END "))[-1].startswith("END " + line.split()[0])
    await alice.send("TOPIC #c")
    assert await alice.recv() == "TOPIC #c * * :"
    assert not store.entered.is_set()
    store.gate.set()


async def test_errors_about_lines_keep_their_place(nursery: trio.Nursery) -> None:
    store = GatedStore()
    flackd = await start_server(nursery, store=store)
    alice, _ = await two_in(flackd)
    store.gate.clear()
    store.entered.clear()
    await alice.send_raw(b"MSG #c first\nMSG #c \xff\xfe\nBOGUS\n")
    await store.wait_entered()
    store.gate.set()
    assert (await alice.recv()).endswith(" alice :first")
    assert (await alice.recv()).startswith("ERR INVALID_UTF8 ")
    assert (await alice.recv()).startswith("ERR UNKNOWN_COMMAND ")


async def test_what_arrives_during_a_commit_is_committed_at_once(nursery: trio.Nursery) -> None:
    store = GatedStore()
    flackd = await start_server(nursery, store=store)
    alice, bob = await two_in(flackd)
    before = store.inner.commits
    store.gate.clear()
    store.entered.clear()
    await alice.send("MSG #c one")
    await store.wait_entered()
    await alice.send(*[f"MSG #c a{i}" for i in range(30)])
    await bob.send(*[f"MSG #c b{i}" for i in range(30)])
    await trio.testing.wait_all_tasks_blocked()
    store.gate.set()
    lines = [await alice.recv() for _ in range(61)]
    await alice.expect_quiet()
    assert store.inner.commits - before == 2  # the first message, then the other sixty
    # Each sender's messages keep their order; all members see one order.
    texts = [line.rsplit(":", 1)[1] for line in lines]
    assert [t for t in texts if t.startswith("a")] == [f"a{i}" for i in range(30)]
    assert [await bob.recv() for _ in range(61)] == lines


async def test_the_commit_queue_bound_stops_reading(nursery: trio.Nursery) -> None:
    store = GatedStore()
    limits = Limits(flood_burst=10_000, flood_rate=10_000.0, commit_queue=8)
    flackd = await start_server(nursery, limits, store=store)
    alice, _ = await two_in(flackd)
    store.gate.clear()
    store.entered.clear()
    await alice.send(*[f"MSG #c m{i}" for i in range(50)])
    await store.wait_entered()
    await trio.testing.wait_all_tasks_blocked()
    hub: Hub[Connection] = flackd.server.hub  # type: ignore[assignment]
    channel = hub.channel("#c")
    assert channel is not None
    # At most one batch of 8 in the running commit and 8 held behind it: the reader
    # stopped reading, and the rest of the 50 lines wait in the socket.
    assert len(channel.history) <= 8 + 8
    store.gate.set()
    echoes = [await alice.recv() for _ in range(50)]
    assert [line.rsplit(":", 1)[1] for line in echoes] == [f"m{i}" for i in range(50)]
    assert len(store.inner.messages) == 50


async def test_a_failed_commit_is_refused_and_nothing_is_delivered(nursery: trio.Nursery) -> None:
    store = MemoryStore(BOOT)
    flackd = await start_server(nursery, store=store)
    alice, bob = await two_in(flackd)
    await alice.send("MSG #c kept")
    kept = await alice.recv()
    await bob.recv()
    store.fail_next = StoreFull("disk full")
    await alice.send("MSG #c lost")
    error = await alice.recv()
    assert error.startswith("ERR STORAGE_FAILED MSG retry=")
    assert "not carried out" in error
    await bob.expect_quiet()  # bob never saw it
    # While the store is failing: changes are refused at once, reads go on.
    await alice.send("TOPIC #c nope")
    assert (await alice.recv()).startswith("ERR STORAGE_FAILED TOPIC retry=")
    await alice.send("HISTORY #c")
    block = await alice.recv_until("END HISTORY")
    assert [line for line in block if line.startswith("MSG ")] == [kept]
    # After the retry window the store is tried again, and it works.
    committer = flackd.server.committer
    assert committer is not None
    assert committer.failures == 1
    committer.refusing_until = -1.0
    await alice.send("MSG #c back")
    assert (await alice.recv()).endswith(" alice :back")
    assert (await bob.recv()).endswith(" alice :back")
    assert sorted(m.text for m in store.messages.values()) == ["back", "kept"]


async def test_a_failed_nick_leaves_the_connection_unregistered(nursery: trio.Nursery) -> None:
    store = MemoryStore(BOOT)
    flackd = await start_server(nursery, store=store)
    store.fail_next = StoreFull("disk full")
    client = await LineClient.connect(flackd.port)
    await client.send("NICK alice")
    assert (await client.recv()).startswith("ERR STORAGE_FAILED NICK ")
    await client.send("LIST")
    assert (await client.recv()).startswith("ERR NOT_REGISTERED LIST ")
    flackd.server.committer.refusing_until = -1.0  # type: ignore[union-attr]
    assert await client.register("alice")


async def test_a_restart_on_a_real_database(nursery: trio.Nursery, tmp_path: Path) -> None:
    """Run, stop abruptly (cancel, as a kill would), reopen the same file: all is there."""
    store = SqliteStore.open(tmp_path)
    scope = trio.CancelScope()

    async def run(*, task_status: trio.TaskStatus[RunningServer]) -> None:
        with scope:
            async with trio.open_nursery() as inner:
                task_status.started(await start_server(inner, TEST_LIMITS, store=store))

    flackd = await nursery.start(run)
    alice = await flackd.client("alice", "#c")
    await alice.send("TOPIC #c durable", "MSG #c one", "MSG #c two")
    lines = [await alice.recv() for _ in range(3)]
    scope.cancel()
    store.close()

    store2 = SqliteStore.open(tmp_path)
    again = await start_server(nursery, store=store2)
    carol = await again.client("carol")
    block = await carol.join("#c")
    assert block[1] == lines[0]  # the topic line, setter and time included
    assert [ln for ln in block if ln.startswith("MSG ")] == lines[1:]


def test_commits_run_at_the_end_of_a_pass_unless_they_wait_for_the_disk(tmp_path: Path) -> None:
    """SQLite with ``synchronous=normal`` commits on the event loop, at the end of each
    pass (the flusher asks the committer first); ``full`` waits for the disk, in the
    commit loop's worker thread."""
    for synchronous, on_pass in (("normal", True), ("full", False)):
        store = SqliteStore.open(tmp_path / synchronous, synchronous=synchronous)
        try:
            server = Server(TEST_LIMITS, store=store)
            committer = server.committer
            assert isinstance(committer, Committer)
            assert committer.on_pass is on_pass
            assert (server.flusher.commit is not None) is on_pass
        finally:
            store.close()


async def test_housekeeping_holds_commits_until_it_is_done(nursery: trio.Nursery) -> None:
    """While the commit loop copies the WAL in its worker thread, what arrives waits for
    it: nothing is committed or echoed meanwhile, and all of it goes out afterwards."""
    store = MaintainedStore()
    flackd = await start_server(nursery, store=store)
    alice = await flackd.client("alice")
    assert store.commits == 1
    assert await store_entered(store)
    await alice.send("JOIN #c", "MSG #c one")
    await trio.testing.wait_all_tasks_blocked()
    committer = flackd.server.committer
    assert isinstance(committer, Committer)
    assert committer.on_pass
    assert committer.holding()  # both read and held, neither committed
    assert store.commits == 1
    assert store.messages == {}
    store.gate.set()
    block = await alice.recv_until("END HISTORY")
    assert block[0].startswith("OK JOIN #c ")
    assert (await alice.recv()).endswith(" alice :one")
    assert store.maintained == 1
    assert [m.text for m in store.messages.values()] == ["one"]


async def store_entered(store: MaintainedStore) -> bool:
    return await trio.to_thread.run_sync(store.entered.wait, WAIT)

"""The committer's edges: what must still hold when replies wait for a commit.

Each test is a case a review found broken once: lines piped before an EOF, a read held
behind a commit that then fails, ids of direct messages across a crash, lines after QUIT,
a RESUME whose commit fails, reads during the refusal window, a BYE while an echo waits,
and the registration deadline of a connection whose NICK was lost.
"""

from __future__ import annotations

import math

import trio
import trio.testing

from flackd.server import Server
from flackd.store import StoreFull
from flackd.store.memory import MemoryStore
from tests.support import TEST_LIMITS, LineClient, start_server
from tests.test_durable import BOOT, GatedStore, two_in


async def test_lines_piped_before_eof_are_all_answered(nursery: trio.Nursery) -> None:
    """``printf 'NICK a\\nJOIN #c\\nMSG #c hi\\n' | nc -N``: every reply, then the close."""
    store = MemoryStore(BOOT)
    flackd = await start_server(nursery, store=store)
    client = await LineClient.connect(flackd.port)
    await client.send("NICK a", "JOIN #c", "MSG #c hi")
    await client.stream.send_eof()
    lines = await client.expect_eof()
    assert lines[0].startswith("OK NICK a ")
    assert lines[1].startswith("OK JOIN #c 1 ")
    assert lines[-1].endswith(" a :hi")
    assert [m.text for m in store.messages.values()] == ["hi"]


async def test_a_read_behind_a_failed_commit_does_not_show_the_lost_change(
    nursery: trio.Nursery,
) -> None:
    store = GatedStore()
    flackd = await start_server(nursery, store=store)
    alice, bob = await two_in(flackd)
    store.gate.clear()
    store.entered.clear()
    store.inner.fail_next = StoreFull("disk full")
    await alice.send("MSG #c secret")
    await store.wait_entered()
    await bob.send("HISTORY #c", "NAMES #c")  # reads, held behind the failing commit
    await trio.testing.wait_all_tasks_blocked()
    store.gate.set()
    assert (await alice.recv()).startswith("ERR STORAGE_FAILED MSG ")
    history = await bob.recv_until("END HISTORY")
    assert history == ["HISTORY #c 0", "END HISTORY #c more=no gap=no"]
    assert (await bob.recv_until("END NAMES"))[1:3] == ["MEMBER alice role=op", "MEMBER bob"]
    assert store.inner.messages == {}


async def test_direct_message_ids_are_not_reused_after_a_crash(nursery: trio.Nursery) -> None:
    store = MemoryStore(BOOT)
    flackd = await start_server(nursery, store=store)
    alice, bob = await two_in(flackd)
    await alice.send("MSG bob psst")
    seq = int((await alice.recv()).split()[2].split("-")[1])
    await bob.recv()
    # A new server on what the store holds, as after kill -9: the next id is a new one.
    again = Server(TEST_LIMITS, store=store)
    assert again.hub.ids.last_seq >= seq  # type: ignore[attr-defined]
    assert [m.text for m in store.messages.values()] == ["psst"]


async def test_lines_after_quit_do_nothing(nursery: trio.Nursery) -> None:
    store = MemoryStore(BOOT)
    flackd = await start_server(nursery, store=store)
    client = await LineClient.connect(flackd.port)
    await client.send("NICK alice", "QUIT", "NICK mallory", "MSG #c hi")
    lines = await client.expect_eof()
    assert lines[0].startswith("OK NICK alice ")
    assert lines[1:] == ["BYE QUIT :bye"]
    assert flackd.server.hub.session("mallory") is None  # type: ignore[attr-defined]
    assert store.sessions == {}


async def test_a_failed_resume_closes_the_ghost_and_keeps_the_old_token(
    nursery: trio.Nursery,
) -> None:
    store = MemoryStore(BOOT)
    flackd = await start_server(nursery, store=store)
    ghost = await LineClient.connect(flackd.port)
    token = await ghost.register("zed")
    store.fail_next = StoreFull("disk full")
    laptop = await LineClient.connect(flackd.port)
    await laptop.send(f"RESUME {token}")
    assert (await laptop.recv()).startswith("ERR STORAGE_FAILED RESUME ")
    # The ghost is not left open and logged out: it is told and closed...
    assert await ghost.expect_eof() == [
        "BYE RESUMED :your session was resumed from another connection"
    ]
    # ...and the session, stored as it was, comes back with the token it had.
    flackd.server.committer.refusing_until = -math.inf  # type: ignore[union-attr]
    await laptop.send(f"RESUME {token}")
    assert (await laptop.recv_until("OK RESUME"))[-1].startswith("OK RESUME zed ")


async def test_reads_are_served_during_the_refusal_window(nursery: trio.Nursery) -> None:
    store = MemoryStore(BOOT)
    flackd = await start_server(nursery, store=store)
    alice, bob = await two_in(flackd)
    store.fail_next = StoreFull("disk full")
    await alice.send("MSG #c lost")
    assert (await alice.recv()).startswith("ERR STORAGE_FAILED MSG ")
    await bob.aclose()  # a disconnect: a change, held for a commit
    assert await alice.recv() == "QUIT bob :connection closed"
    await alice.send("PING still-there")
    assert await alice.recv() == "PONG still-there"
    committer = flackd.server.committer
    assert committer is not None
    assert committer.refusing_until > trio.current_time()  # answered inside the window


async def test_a_bye_waits_behind_an_acknowledgement_already_due(nursery: trio.Nursery) -> None:
    store = GatedStore()
    flackd = await start_server(nursery, store=store)
    alice, bob = await two_in(flackd)
    store.gate.clear()
    store.entered.clear()
    await alice.send("MSG #c acked")
    await store.wait_entered()
    await alice.send_raw(b"x" * (TEST_LIMITS.max_junk_bytes + 10_000))  # a BYE offence
    await trio.testing.wait_all_tasks_blocked()
    store.gate.set()
    lines = await alice.expect_eof()
    assert lines[0].endswith(" alice :acked")
    assert lines[-1].startswith("BYE LINE_TOO_LONG ")
    assert (await bob.recv()).endswith(" alice :acked")


async def test_a_lost_nick_restarts_the_registration_deadline(nursery: trio.Nursery) -> None:
    store = MemoryStore(BOOT)
    flackd = await start_server(nursery, store=store)
    store.fail_next = StoreFull("disk full")
    client = await LineClient.connect(flackd.port)
    await client.send("NICK alice")
    assert (await client.recv()).startswith("ERR STORAGE_FAILED NICK ")
    (conn,) = flackd.server.connections
    assert not flackd.server.hub.is_registered(conn)
    assert conn.registration_deadline != math.inf
    assert conn in flackd.server._unregistered

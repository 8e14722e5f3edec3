"""flackd.flusher.Flusher on real TCP sockets: a Trio instrument writes every
connection with lines queued at the end of each pass of the event loop, and a connection
it writes has no writer task until the kernel has no room (rule 6 of flackd.connection).

What is checked: lines pushed in one pass leave in one ``writev`` per connection, in
order, with no writer task; many connections are written in one pass; a write the kernel
does not take whole is finished by a writer task started for it (order kept), the
flusher takes the connection back, and the next such write wakes the same task; closing
flushes what is queued, the BYE last, even behind such a writer task, and gives up at
the grace deadline on a peer that never reads; a peer's reset closes the connection;
when busy, the flusher gathers the lines of several passes into one write, but never
holds them while the loop would sleep; an unexpected error in one write leaves the
flusher installed; every server's plain TCP connections use it, with or without a
delay; and a task woken by the commit it makes first (a durable server's end of pass)
runs at once. No timing is asserted: a MockClock stands still where the delay matters.
"""

from __future__ import annotations

import os
import socket
import struct
from collections.abc import AsyncIterator, Sequence

import pytest
import trio
import trio.testing

from flackd.connection import Connection
from flackd.fanout import push_to_all
from flackd.flusher import GATHER_PASSES, Flusher
from flackd.limits import Limits
from flackd.server import Server
from tests.support import TEST_LIMITS, WAIT, start_server
from tests.test_connection import BYE, read_exactly, tcp_pair

#: More than a loopback socket's buffers hold, so that a write comes back short.
BURST_LINES = 4000


def connection(stream: trio.SocketStream, flusher: Flusher, grace: float = 5.0) -> Connection:
    conn = Connection(stream, "test", 1 << 26, grace, BYE, 30.0)
    conn.use_flusher(flusher)
    return conn


@pytest.fixture
async def flusher(nursery: trio.Nursery) -> AsyncIterator[Flusher]:
    """A flusher with no delay (it writes at the end of every pass), installed, starting
    its writer tasks in the test's nursery."""
    flusher = Flusher(0.0)
    flusher.nursery = nursery
    trio.lowlevel.add_instrument(flusher)
    yield flusher
    trio.lowlevel.remove_instrument(flusher)


def burst(tag: str) -> list[bytes]:
    return [f"{tag}-{i:05d} {'y' * 200}\r\n".encode() for i in range(BURST_LINES)]


async def test_lines_pushed_in_one_pass_leave_in_one_write_in_order(flusher: Flusher) -> None:
    server, client = await tcp_pair()
    conn = connection(server, flusher)
    lines = [f"line {i:03d}\r\n".encode() for i in range(50)]
    for line in lines:  # one pass: no checkpoint between the pushes
        conn.push(line)
    expected = b"".join(lines)
    assert await read_exactly(client, len(expected)) == expected
    assert (flusher.passes, flusher.writes, flusher.started) == (1, 1, 0)  # no writer task
    conn.finish("done")
    await conn.finish_writes()
    assert conn.queued == 0


async def test_lines_queued_before_the_flusher_are_written_in_its_first_pass(
    flusher: Flusher,
) -> None:
    """The server queues the greeting before it hands the connection to the flusher."""
    server, client = await tcp_pair()
    conn = Connection(server, "test", 1 << 20, 5.0, BYE, 30.0)
    conn.push(b"HELLO\r\n")
    conn.use_flusher(flusher)
    assert await read_exactly(client, 7) == b"HELLO\r\n"
    assert flusher.writes == 1


async def test_many_connections_are_written_in_one_pass(flusher: Flusher) -> None:
    pairs = [await tcp_pair() for _ in range(20)]
    conns = [connection(server, flusher) for server, _ in pairs]
    for i in range(3):
        push_to_all(conns, f"MSG #c :hello {i}\r\n".encode())
    expected = b"".join(f"MSG #c :hello {i}\r\n".encode() for i in range(3))
    for _, client in pairs:
        assert await read_exactly(client, len(expected)) == expected
    assert (flusher.passes, flusher.writes) == (1, 20)


async def test_a_write_the_kernel_does_not_take_whole_is_finished_in_order(
    flusher: Flusher,
) -> None:
    """Far more than the kernel buffer holds, pushed in bursts: the flusher's write is
    short, a writer task is started to wait for room, and the flusher takes the
    connection back once its queue is empty. Every byte arrives once, in order."""
    server, client = await tcp_pair()
    conn = connection(server, flusher)
    sent: list[bytes] = []
    for n in range(5):
        batch = burst(f"{n:02d}")
        push_to_all([conn], b"".join(batch[:50]))
        for line in batch[50:]:
            conn.push(line)
        sent += batch
        await trio.lowlevel.checkpoint()
    expected = b"".join(sent)
    assert await read_exactly(client, len(expected)) == expected
    assert flusher.started >= 1
    await trio.testing.wait_all_tasks_blocked()  # the writer task is parked
    writes, started = flusher.writes, flusher.started
    conn.push(b"after the writer\r\n")  # back with the flusher
    assert await read_exactly(client, 18) == b"after the writer\r\n"
    assert (flusher.writes, flusher.started) == (writes + 1, started)
    second = burst("again")
    for line in second:  # another short write: the parked writer task takes it
        conn.push(line)
    expected = b"".join(second)
    assert await read_exactly(client, len(expected)) == expected
    assert flusher.started == started  # one writer task per connection, not per burst


async def test_closing_flushes_what_is_queued_then_the_bye(flusher: Flusher) -> None:
    server, client = await tcp_pair()
    conn = connection(server, flusher)
    conn.push(b"first\r\n")
    conn.close(BYE, "closed")
    await conn.finish_writes()
    await server.aclose()  # as the server does once finish_writes has returned
    received = b""
    with trio.fail_after(WAIT):
        while chunk := await client.receive_some(65536):
            received += chunk
    assert received == b"first\r\n" + BYE


async def test_closing_waits_for_a_writer_task_then_sends_the_bye_last(
    flusher: Flusher, nursery: trio.Nursery
) -> None:
    server, client = await tcp_pair()
    conn = connection(server, flusher)
    lines = burst("slow")
    for line in lines:
        conn.push(line)
    await trio.lowlevel.checkpoint()  # the pass ends: a short write, a writer task
    assert flusher.started == 1
    conn.close(BYE, "closed")
    received = bytearray()
    at_eof = trio.Event()

    async def read_all() -> None:
        while chunk := await client.receive_some(65536):
            received.extend(chunk)
        at_eof.set()

    nursery.start_soon(read_all)
    with trio.fail_after(WAIT):
        await conn.finish_writes()
    await server.aclose()
    with trio.fail_after(WAIT):
        await at_eof.wait()
    assert bytes(received) == b"".join(lines) + BYE


async def test_closing_gives_up_at_the_grace_deadline_on_a_peer_that_never_reads(
    autojump_clock: trio.testing.MockClock,
) -> None:
    flusher = Flusher(0.0)
    async with trio.open_nursery() as nursery:
        flusher.nursery = nursery
        trio.lowlevel.add_instrument(flusher)
        try:
            server, _client = await tcp_pair()
            conn = connection(server, flusher, grace=2.0)
            for line in burst("never read"):
                conn.push(line)
            await trio.lowlevel.checkpoint()
            closed_at = trio.current_time()  # the MockClock's: exact, and only it moves
            conn.close(BYE, "closed")
            await conn.finish_writes()  # the writer task is stuck: the deadline ends it
            assert trio.current_time() == pytest.approx(closed_at + 2.0)
            assert conn.queued > 0
            await server.aclose()  # the writer task meets the closed socket and ends
        finally:
            trio.lowlevel.remove_instrument(flusher)


async def test_a_peer_reset_closes_the_connection(flusher: Flusher) -> None:
    server, client = await tcp_pair()
    conn = connection(server, flusher)
    client.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.socket.close()  # linger 0: the kernel sends RST
    with trio.fail_after(WAIT):
        for _ in range(2000):  # bounded: the reset is seen within a few writes
            if conn.is_closing():
                break
            conn.push(b"x" * 1000 + b"\r\n")
            await trio.sleep(0)
    assert conn.close_reason == "connection reset"
    await conn.finish_writes()  # returns at once: the peer has gone


async def test_when_busy_the_lines_of_several_passes_leave_in_one_write(
    nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    """The clock stands still, so the delay never runs out: while a task is ready (the
    loop is busy) the flusher holds the lines for up to GATHER_PASSES passes, and lines
    pushed one pass apart meanwhile leave together; once every task waits (the loop would
    sleep) it writes what it holds at once."""
    flusher = Flusher(0.001)
    flusher.nursery = nursery
    trio.lowlevel.add_instrument(flusher)
    try:
        server, client = await tcp_pair()
        conn = connection(server, flusher)
        conn.push(b"not busy yet\r\n")  # the test then waits: the loop is idle, written at once
        assert await read_exactly(client, 14) == b"not busy yet\r\n"
        assert flusher.writes == 1
        lines = [f"pass {i}\r\n".encode() for i in range(GATHER_PASSES // 4)]
        for line in lines:  # a task is ready in every pass: busy
            conn.push(line)
            await trio.lowlevel.cancel_shielded_checkpoint()
        expected = b"".join(lines)
        assert await read_exactly(client, len(expected)) == expected
        assert flusher.writes == 2
    finally:
        trio.lowlevel.remove_instrument(flusher)


@pytest.mark.parametrize("delay_us", [0, 100])
async def test_a_chat_goes_through_the_flusher_with_and_without_a_delay(
    nursery: trio.Nursery, delay_us: int
) -> None:
    limits = Limits(
        flood_burst=TEST_LIMITS.flood_burst,
        flood_rate=TEST_LIMITS.flood_rate,
        write_delay_us=delay_us,
    )
    running = await start_server(nursery, limits)
    server: Server = running.server
    alice = await running.client("alice", "#c")
    bob = await running.client("bob", "#c")
    await alice.recv()  # JOIN #c bob
    await alice.send(*[f"MSG #c hello {i}" for i in range(30)])
    texts = [(await bob.recv()).rsplit(" :", 1)[1] for _ in range(30)]
    assert texts == [f"hello {i}" for i in range(30)]
    assert server.flusher.writes > 0  # the lines left through the flusher


async def test_what_the_pollers_reads_queue_is_written_when_its_pass_ends(
    nursery: trio.Nursery,
) -> None:
    """With no delay, the poller's pass ends by writing what its reads queued
    (``Flusher.after_reads``), ahead of the rest of the event loop's pass: with the
    instrument taken out, so that the end of the loop's pass writes nothing, a message
    still reaches the channel."""
    running = await start_server(nursery)
    server: Server = running.server
    alice = await running.client("alice", "#c")
    bob = await running.client("bob", "#c")
    await alice.recv()  # JOIN #c bob
    trio.lowlevel.remove_instrument(server.flusher)
    try:
        passes = server.flusher.passes
        await alice.send("MSG #c straight out")
        with trio.fail_after(WAIT):
            assert (await bob.recv()).endswith(" :straight out")
            assert (await alice.recv()).endswith(" :straight out")  # the echo, too
        assert server.flusher.passes > passes
    finally:
        trio.lowlevel.add_instrument(server.flusher)


def test_the_flusher_holds_nothing_by_default_and_its_delay_is_bounded() -> None:
    assert Limits().write_delay_us == 0  # measured: a delay costs p99 latency
    with pytest.raises(ValueError, match="write_delay_us"):
        Limits(write_delay_us=10_001)


async def test_an_error_in_a_write_leaves_the_flusher_installed(
    flusher: Flusher, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Trio removes an instrument whose hook raises, which would leave every connection
    unwritten: an unexpected error in one connection's write starts a writer task for
    that connection instead, and the flusher goes on writing the others."""
    (server_a, client_a), (server_b, client_b) = await tcp_pair(), await tcp_pair()
    a, b = connection(server_a, flusher), connection(server_b, flusher)
    real_writev = os.writev
    failures: list[int] = []

    def fail_once(fd: int, buffers: Sequence[bytes]) -> int:
        # Injected below the write method (os.writev), which flackd's compiled build
        # calls as the pure one does: a patched method would not reach compiled callers.
        if fd == a.sock.fileno() and not failures:
            failures.append(fd)
            raise RuntimeError("a bug in one write")
        return real_writev(fd, buffers)

    monkeypatch.setattr(os, "writev", fail_once)
    push_to_all([a, b], b"first\r\n")
    assert await read_exactly(client_a, 7) == b"first\r\n"  # a writer task wrote it
    assert await read_exactly(client_b, 7) == b"first\r\n"
    assert failures
    assert flusher.started == 1
    await trio.testing.wait_all_tasks_blocked()
    writes = flusher.writes
    push_to_all([a, b], b"second\r\n")
    assert await read_exactly(client_a, 8) == b"second\r\n"
    assert await read_exactly(client_b, 8) == b"second\r\n"
    assert flusher.writes == writes + 2  # still installed, writing both


async def test_the_last_writes_wait_for_a_close_that_comes_later(flusher: Flusher) -> None:
    """A reader may return before its connection closes (a BYE that waits behind a
    commit): the flusher goes on writing meanwhile, and the last writes follow the
    close, the BYE last."""
    server, client = await tcp_pair()
    conn = connection(server, flusher)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(conn.finish_writes)
        await trio.testing.wait_all_tasks_blocked()
        conn.push(b"acknowledged\r\n")  # released by the commit, before the BYE
        assert await read_exactly(client, 14) == b"acknowledged\r\n"
        conn.close(BYE, "closed")
    await server.aclose()
    received = b""
    with trio.fail_after(WAIT):
        while chunk := await client.receive_some(65536):
            received += chunk
    assert received == BYE


async def test_a_task_its_commit_wakes_does_not_wait_for_the_loop_to_sleep(
    nursery: trio.Nursery, flusher: Flusher
) -> None:
    """The flusher first calls its ``commit`` (the committer's end of pass), inside
    ``before_io_wait``: the loop has already chosen how long to sleep. A task that commit
    wakes (a reader waiting at a barrier, a TLS writer) must run at once, not when the
    loop's timeout (here a sleeper's deadline, WAIT away) runs out."""
    woken = trio.Event()
    armed = False

    def commit() -> bool:
        nonlocal armed
        if not armed:
            return False
        armed = False
        woken.set()  # wakes this test's task from inside the instrument
        return True

    flusher.commit = commit
    deadline = trio.current_time() + WAIT
    nursery.start_soon(trio.sleep_until, deadline)  # the loop's only timeout (cancelled
    await trio.testing.wait_all_tasks_blocked()  # with the test's nursery at the end)
    armed = True
    await woken.wait()  # every task waits now: the loop would sleep until the deadline
    assert trio.current_time() < deadline

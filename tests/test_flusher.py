"""flackd.connection.Flusher on real TCP sockets: a Trio instrument writes every
connection with lines queued at the end of each pass of the event loop (rule 6 of
flackd.connection).

What is checked: lines pushed in one pass leave in one ``writev`` per connection, in
order; many connections are written in one pass without waking their writer tasks; a
write the kernel does not take whole is finished by the connection's own writer (order
kept); closing still flushes, and a peer's reset still closes; when busy, the flusher
gathers the lines of several passes into one write, but never holds them while the loop
would sleep; an instrument that Trio would remove never sees an exception; and every
server's plain TCP connections use it, with or without a delay. No timing is asserted:
a MockClock stands still where the delay matters.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import trio
import trio.testing

from flackd.connection import GATHER_PASSES, Connection, Flusher, push_to_all
from flackd.limits import Limits
from flackd.server import Server
from tests.support import TEST_LIMITS, WAIT, start_server
from tests.test_connection import BYE, read_exactly, tcp_pair, write_into_a_reset


def connection(stream: trio.SocketStream, flusher: Flusher) -> Connection:
    conn = Connection(stream, "test", 1 << 24, 5.0, BYE, 30.0)
    conn.use_flusher(flusher)
    return conn


@pytest.fixture
async def flusher() -> AsyncIterator[Flusher]:
    """A flusher with no delay (it writes at the end of every pass), installed."""
    flusher = Flusher(0.0)
    trio.lowlevel.add_instrument(flusher)
    yield flusher
    trio.lowlevel.remove_instrument(flusher)


async def test_lines_pushed_in_one_pass_leave_in_one_write_in_order(flusher: Flusher) -> None:
    server, client = await tcp_pair()
    conn = connection(server, flusher)
    lines = [f"line {i:03d}\r\n".encode() for i in range(50)]
    async with trio.open_nursery() as nursery:
        nursery.start_soon(conn.writer)
        await trio.testing.wait_all_tasks_blocked()  # the writer waits, the flusher too
        for line in lines:  # one pass: no checkpoint between the pushes
            conn.push(line)
        expected = b"".join(lines)
        assert await read_exactly(client, len(expected)) == expected
        assert (flusher.passes, flusher.writes) == (1, 1)
        conn.finish("done")
    assert conn.queued == 0


async def test_many_connections_are_written_in_one_pass(flusher: Flusher) -> None:
    pairs = [await tcp_pair() for _ in range(20)]
    conns = [connection(server, flusher) for server, _ in pairs]
    async with trio.open_nursery() as nursery:
        for conn in conns:
            nursery.start_soon(conn.writer)
        await trio.testing.wait_all_tasks_blocked()
        for i in range(3):
            push_to_all(conns, f"MSG #c :hello {i}\r\n".encode())
        expected = b"".join(f"MSG #c :hello {i}\r\n".encode() for i in range(3))
        for _, client in pairs:
            assert await read_exactly(client, len(expected)) == expected
        assert (flusher.passes, flusher.writes) == (1, 20)
        for conn in conns:
            conn.finish("done")


async def test_a_write_the_kernel_does_not_take_whole_is_finished_in_order(
    flusher: Flusher,
) -> None:
    """Far more than the kernel buffer holds, pushed in bursts: the flusher's write is
    short, the writer task takes over and waits for room, and the flusher takes the
    connection back once its queue is empty. Every byte arrives once, in order."""
    server, client = await tcp_pair()
    conn = connection(server, flusher)
    sent: list[bytes] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(conn.writer)
        await trio.testing.wait_all_tasks_blocked()
        for burst in range(20):
            batch = [f"{burst:02d}-{i:04d} {'y' * 200}\r\n".encode() for i in range(200)]
            push_to_all([conn], b"".join(batch[:50]))
            for line in batch[50:]:
                conn.push(line)
            sent += batch
            await trio.lowlevel.checkpoint()
        expected = b"".join(sent)
        assert await read_exactly(client, len(expected)) == expected
        await trio.testing.wait_all_tasks_blocked()
        writes = flusher.writes
        conn.push(b"after the take-over\r\n")  # back with the flusher
        assert await read_exactly(client, 21) == b"after the take-over\r\n"
        assert flusher.writes == writes + 1
        conn.finish("done")


async def test_closing_flushes_what_is_queued_then_the_bye(flusher: Flusher) -> None:
    server, client = await tcp_pair()
    conn = connection(server, flusher)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(conn.writer)
        await trio.testing.wait_all_tasks_blocked()
        conn.push(b"first\r\n")  # the flusher has it...
        conn.close(BYE, "closed")  # ...and closing hands it to the writer, which returns
    await server.aclose()  # as the server does once the writer has returned
    received = b""
    with trio.fail_after(WAIT):
        while chunk := await client.receive_some(65536):
            received += chunk
    assert received == b"first\r\n" + BYE


async def test_a_peer_reset_closes_the_connection(flusher: Flusher) -> None:
    server, client = await tcp_pair()
    conn = connection(server, flusher)
    await write_into_a_reset(conn, client)
    assert conn.close_reason == "connection reset"


async def test_when_busy_the_lines_of_several_passes_leave_in_one_write(
    nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    """The clock stands still, so the delay never runs out: while a task is ready (the
    loop is busy) the flusher holds the lines for up to GATHER_PASSES passes, and lines
    pushed one pass apart meanwhile leave together; once every task waits (the loop would
    sleep) it writes what it holds at once."""
    flusher = Flusher(0.001)
    trio.lowlevel.add_instrument(flusher)
    server, client = await tcp_pair()
    conn = connection(server, flusher)
    nursery.start_soon(conn.writer)
    await trio.testing.wait_all_tasks_blocked()
    conn.push(b"not busy yet\r\n")  # the test then waits: the loop is idle, written at once
    assert await read_exactly(client, 14) == b"not busy yet\r\n"
    assert flusher.writes == 1
    lines = [f"pass {i}\r\n".encode() for i in range(GATHER_PASSES // 4)]
    for line in lines:  # woken again at the same (mock) time: busy
        conn.push(line)
        await trio.lowlevel.cancel_shielded_checkpoint()
    expected = b"".join(lines)
    assert await read_exactly(client, len(expected)) == expected
    assert flusher.writes == 2
    conn.finish("done")


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


def test_the_flusher_holds_nothing_by_default_and_its_delay_is_bounded() -> None:
    assert Limits().write_delay_us == 0  # measured: a delay costs p99 latency
    with pytest.raises(ValueError, match="write_delay_us"):
        Limits(write_delay_us=10_001)


async def test_an_error_in_a_write_leaves_the_flusher_installed(
    flusher: Flusher, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Trio removes an instrument whose hook raises, which would leave every connection
    unwritten: an unexpected error in one connection's write hands that connection to
    its writer task instead, and the flusher goes on writing the others."""
    (server_a, client_a), (server_b, client_b) = await tcp_pair(), await tcp_pair()
    a, b = connection(server_a, flusher), connection(server_b, flusher)
    real_write = Connection._write_some
    failures: list[int] = []

    def fail_once(self: Connection, fd: int) -> bool:
        if self is a and not failures:
            failures.append(fd)
            raise RuntimeError("a bug in one write")
        return real_write(self, fd)

    monkeypatch.setattr(Connection, "_write_some", fail_once)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(a.writer)
        nursery.start_soon(b.writer)
        await trio.testing.wait_all_tasks_blocked()
        push_to_all([a, b], b"first\r\n")
        assert await read_exactly(client_a, 7) == b"first\r\n"  # a's own writer wrote it
        assert await read_exactly(client_b, 7) == b"first\r\n"
        assert failures
        await trio.testing.wait_all_tasks_blocked()
        writes = flusher.writes
        push_to_all([a, b], b"second\r\n")
        assert await read_exactly(client_a, 8) == b"second\r\n"
        assert await read_exactly(client_b, 8) == b"second\r\n"
        assert flusher.writes == writes + 2  # still installed, writing both
        a.finish("done")
        b.finish("done")

"""flackd.connection on real TCP sockets: the outbox, the writev writer, and receive.

The writer hands the queue to the kernel with ``os.writev``; these tests force the paths
the fast case never takes (short writes into a full kernel buffer, more lines than one
``writev`` takes, a peer that resets) and check that every byte arrives once, in order.
"""

from __future__ import annotations

import socket
import struct

import pytest
import trio

from flackd.connection import IOV_MAX, Connection
from flackd.fanout import push_to_all
from tests.support import WAIT

BYE = b"BYE SENDQ_EXCEEDED :slow\r\n"


async def tcp_pair() -> tuple[trio.SocketStream, trio.SocketStream]:
    """Two ends of a real loopback TCP connection (server side first).

    The server side's kernel send buffer is small, so a few lines fill it and the writer's
    short-write path runs. (A tiny receive buffer too would make the kernel's persist
    timer, not flackd, decide the pace.)
    """
    listener = trio.socket.socket()
    await listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    client = trio.socket.socket()
    await client.connect(listener.getsockname())
    server, _ = await listener.accept()
    listener.close()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)
    return trio.SocketStream(server), trio.SocketStream(client)


def connection(stream: trio.SocketStream, sendq: int = 1 << 24) -> Connection:
    return Connection(stream, "test", sendq, 5.0, BYE, 30.0)


async def read_exactly(stream: trio.SocketStream, size: int) -> bytes:
    data = bytearray()
    with trio.fail_after(WAIT):
        while len(data) < size:
            chunk = await stream.receive_some(65536)
            assert chunk, f"EOF after {len(data)} of {size} bytes"
            data += chunk
    return bytes(data)


@pytest.mark.parametrize("count", [1, 3, IOV_MAX - 1, IOV_MAX, IOV_MAX + 1, 3 * IOV_MAX + 7])
async def test_everything_queued_arrives_once_in_order(count: int) -> None:
    """More lines than one writev takes, and far more bytes than the kernel buffer holds."""
    server, client = await tcp_pair()
    conn = connection(server)
    lines = [f"line {i:06d} {'x' * (i % 97)}\r\n".encode() for i in range(count)]
    async with trio.open_nursery() as nursery:
        nursery.start_soon(conn.writer)
        for line in lines:  # queued while the writer has not run yet: one big batch
            conn.push(line)
        expected = b"".join(lines)
        assert await read_exactly(client, len(expected)) == expected
        conn.finish("done")
    assert conn.queued == 0


async def test_lines_pushed_while_the_writer_waits_for_room_keep_their_order() -> None:
    """Short writes: the writer waits for writability while more lines are queued behind."""
    server, client = await tcp_pair()
    conn = connection(server)
    sent: list[bytes] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(conn.writer)
        for burst in range(20):
            batch = [f"{burst:02d}-{i:04d} {'y' * 200}\r\n".encode() for i in range(200)]
            push_to_all([conn], b"".join(batch[:50]))
            for line in batch[50:]:
                conn.push(line)
            sent += batch
            await trio.lowlevel.checkpoint()  # let the writer fill the kernel buffer
        expected = b"".join(sent)
        assert await read_exactly(client, len(expected)) == expected
        conn.finish("done")


async def test_a_full_send_queue_closes_with_only_the_bye() -> None:
    server, client = await tcp_pair()
    conn = connection(server, sendq=10_000)
    line = b"z" * 998 + b"\r\n"
    async with trio.open_nursery() as nursery:
        for _ in range(10):
            conn.push(line)  # exactly the limit: still accepted
        assert not conn.is_closing()
        conn.push(b"one byte too many\r\n")
        assert conn.is_closing()
        assert conn.close_reason == "send queue exceeded"
        conn.push(b"ignored once closing\r\n")
        nursery.start_soon(conn.writer)  # returns once the BYE is flushed
    await server.aclose()  # as the server does once the writer has returned
    with trio.fail_after(WAIT):
        received = b""
        while chunk := await client.receive_some(65536):
            received += chunk
    assert received == BYE  # the queue was dropped; the BYE is all that is sent


async def write_into_a_reset(conn: Connection, client: trio.SocketStream) -> None:
    """Reset the peer's end (linger 0), then push lines until ``conn``'s writer sees it."""
    client.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.socket.close()  # linger 0: the kernel sends RST
    with trio.fail_after(WAIT):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(conn.writer)
            for _ in range(2000):  # bounded: the reset is seen within a few writes
                if conn.is_closing():
                    break
                conn.push(b"x" * 1000 + b"\r\n")
                await trio.sleep(0)


async def test_a_peer_reset_ends_the_writer_as_a_reset() -> None:
    server, client = await tcp_pair()
    conn = connection(server)
    await write_into_a_reset(conn, client)
    assert conn.is_closing()
    assert conn.close_reason == "connection reset"


async def test_receive_returns_bytes_then_empty_at_eof() -> None:
    server, client = await tcp_pair()
    conn = connection(server)
    await client.send_all(b"NICK alice\r\n")
    await client.send_eof()
    received = b""
    with trio.fail_after(WAIT):
        while chunk := await conn.receive(4096):
            received += chunk
    assert received == b"NICK alice\r\n"


async def test_overflow_after_a_short_write_keeps_whole_lines_before_the_bye() -> None:
    """The kernel took the start of a line when the queue overflows: its rest still goes."""
    server, client = await tcp_pair()
    line = b"L" * 997 + b"\r\n"  # 999 bytes: a short write is unlikely to end on a line
    conn = connection(server, sendq=200_000)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(conn.writer)
        for _ in range(150):
            conn.push(line)
        await trio.testing.wait_all_tasks_blocked()  # the writer waits for room now
        for _ in range(1000):  # bounded: 200 more lines overflow the 200 kB queue
            if conn.is_closing():
                break
            conn.push(line)
        assert conn.close_reason == "send queue exceeded"
    await server.aclose()
    received = b""
    with trio.fail_after(WAIT):
        while chunk := await client.receive_some(65536):
            received += chunk
    assert received.endswith(b"\r\n" + BYE)
    before = received[: -len(BYE)]
    assert before
    assert len(before) % len(line) == 0  # whole lines only, then the BYE
    assert before == line * (len(before) // len(line))


async def test_a_closed_connection_reads_nothing_more() -> None:
    server, client = await tcp_pair()
    conn = connection(server)
    await client.send_all(b"NICK mallory\r\n")
    with trio.fail_after(WAIT):
        await trio.lowlevel.wait_readable(server.socket)  # the line is there to be read
    got: bytes | None = None
    with trio.CancelScope() as conn.read_scope:
        conn.close(b"", "resumed elsewhere")  # cancels read_scope
        got = await conn.receive(4096)
    assert got is None

"""Taking in a plain TCP connection that fails half-way (``Entry.door`` and
``Lifecycle._enter``) releases everything it had taken: its place in the per-address
count, its place among the server's connections and in the hub, and its socket; the
server goes on taking in others.

What is checked, with ``--max-per-ip 1`` so that a slot still held shows as a refusal:
a failure before anything learnt of the connection (its IRC front end) closes it and
frees the slot; a failure after the server and the hub have (the kernel refusing the
poller's registration) closes it through its last task with the server's error, and the
slot and its entry among the connections are freed too.
"""

from __future__ import annotations

import errno

import pytest
import trio

from flackd.connection import Connection
from flackd.limits import Limits
from flackd.server import Server
from tests.ircsupport import start_irc_server
from tests.support import TEST_LIMITS, LineClient, start_server


def one_per_address() -> Limits:
    return Limits(flood_burst=TEST_LIMITS.flood_burst, flood_rate=TEST_LIMITS.flood_rate,
                  max_per_ip=1)  # fmt: skip


async def connect_from(source: str, port: int) -> LineClient:
    sock = trio.socket.socket()
    await sock.bind((source, 0))
    await sock.connect(("127.0.0.1", port))
    return LineClient(trio.SocketStream(sock), source)


async def test_a_failure_after_the_hub_learnt_of_it_closes_it_and_frees_it(
    nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    running = await start_server(nursery, one_per_address())
    server: Server = running.server
    assert server.poller is not None
    add = server.poller.add
    failed: list[int] = []

    def refuse_once(fd: int, item: object) -> None:
        if not failed:
            failed.append(fd)
            raise OSError(errno.ENOSPC, "no room for another epoll registration")
        add(fd, item)  # type: ignore[arg-type]

    monkeypatch.setattr(server.poller, "add", refuse_once)
    released = trio.Event()
    closed = server.admission.closed

    def closed_and_told(source: str) -> None:
        closed(source)
        released.set()

    monkeypatch.setattr(server.admission, "closed", closed_and_told)
    first = await connect_from("127.0.0.2", running.port)
    lines = await first.expect_eof()
    assert lines[0].startswith("HELLO")  # the hub had greeted it
    assert lines[-1] == "BYE SERVER_ERROR :internal error; please reconnect"
    assert failed
    assert "internal error while taking it in" in caplog.text
    await first.aclose()  # the server's linger ends: its last task releases the slot
    with trio.fail_after(5):
        await released.wait()
    second = await connect_from("127.0.0.2", running.port)  # its slot was freed
    assert (await second.recv()).startswith("HELLO")
    await second.register("second")
    assert len(server.connections) == 1  # the first is gone from the server's count


async def test_a_failure_before_anything_learnt_of_it_frees_its_slot(
    nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    running = await start_irc_server(nursery, one_per_address())
    server = running.server
    irc_client = server._irc_client
    failed: list[Connection] = []

    def fail_once(conn: Connection) -> object:
        if not failed:
            failed.append(conn)
            raise RuntimeError("a bug in the IRC front end's setup")
        return irc_client(conn)

    monkeypatch.setattr(server, "_irc_client", fail_once)
    sock = trio.socket.socket()
    await sock.bind(("127.0.0.2", 0))
    await sock.connect(("127.0.0.1", running.irc_port))
    first = trio.SocketStream(sock)
    with trio.fail_after(5):
        assert await first.receive_some(100) == b""  # closed, without a word
    assert failed
    assert "taking in a connection: internal error" in caplog.text
    assert not server.connections
    again = await connect_from("127.0.0.2", running.port)  # the slot was freed
    assert (await again.recv()).startswith("HELLO")

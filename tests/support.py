"""Test helpers: a netcat-like line client and an in-process server on an ephemeral port.

Loopback only; every wait is bounded by ``trio.fail_after`` (never a sleep to wait for
readiness); readiness comes from ``nursery.start``; "nothing else arrived" is proved with
a PING barrier.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

import trio

from flackd.admission import ServerPassword
from flackd.codec import OVERLONG, LineBuffer, events, parse_event
from flackd.limits import Limits
from flackd.server import Server
from flackd.store import Store

#: Generous bound for any single wait in a test; a hang fails instead of blocking CI.
WAIT = 10.0

#: Limits for most tests: production values except flood control, which would pace a
#: test that sends many lines (flood control has tests of its own).
TEST_LIMITS = Limits(flood_burst=10_000, flood_rate=10_000.0)

_barriers = itertools.count(1)


class LineClient:
    """Talks to flackd the way netcat does: raw bytes out, CRLF lines in."""

    def __init__(self, stream: trio.SocketStream, name: str = "client") -> None:
        self.stream = stream
        self.name = name
        self._buffer = LineBuffer(64 * 1024)
        self._lines: deque[str] = deque()
        self.eof = False

    @classmethod
    async def connect(cls, port: int, name: str = "client", *, hello: bool = True) -> LineClient:
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        client = cls(stream, name)
        if hello:
            line = await client.recv()
            assert line.startswith("HELLO flackd "), line
        return client

    async def send_raw(self, data: bytes) -> None:
        await self.stream.send_all(data)

    async def send(self, *lines: str) -> None:
        await self.stream.send_all("".join(line + "\n" for line in lines).encode())

    async def recv(self, timeout: float = WAIT) -> str:
        """The next line (without CRLF). Fails if none arrives in ``timeout`` seconds."""
        with trio.fail_after(timeout):
            while not self._lines:
                data = await self.stream.receive_some(65536)
                if not data:
                    self.eof = True
                    raise EOFError(f"{self.name}: server closed the connection")
                for item in self._buffer.feed(data):
                    assert item is not OVERLONG
                    assert isinstance(item, bytes)
                    assert b"\r" not in item, item  # the server never sends a raw CR
                    self._lines.append(item.decode("utf-8"))
            return self._lines.popleft()

    async def recv_event(self, timeout: float = WAIT) -> events.Event:
        return parse_event(await self.recv(timeout))

    async def recv_until(self, prefix: str) -> list[str]:
        """Lines up to and including the first one that starts with ``prefix``."""
        lines = []
        while True:
            line = await self.recv()
            lines.append(line)
            if line.startswith(prefix):
                return lines

    async def expect_eof(self, timeout: float = WAIT) -> list[str]:
        """Read until the server closes; return the lines that came before."""
        lines = []
        while True:
            try:
                lines.append(await self.recv(timeout))
            except EOFError:
                return lines

    async def barrier(self) -> list[str]:
        """Send PING and return every line that arrived before its PONG."""
        token = f"barrier-{next(_barriers)}"
        await self.send(f"PING {token}")
        lines = await self.recv_until(f"PONG {token}")
        assert lines[-1] == f"PONG {token}", lines
        return lines[:-1]

    async def expect_quiet(self) -> None:
        """Assert that nothing is pending for this client (PING barrier)."""
        assert await self.barrier() == []

    async def register(self, nick: str) -> str:
        """NICK; return the resume token."""
        await self.send(f"NICK {nick}")
        ok = await self.recv_event()
        assert isinstance(ok, events.Ok), ok
        assert ok.command == "NICK", ok
        token = ok.param("token")
        assert token
        return token

    async def join(self, channel: str) -> list[str]:
        """JOIN; return the whole reply block (up to END HISTORY)."""
        await self.send(f"JOIN {channel}")
        return await self.recv_until("END HISTORY")

    async def aclose(self) -> None:
        await self.stream.aclose()


@dataclass
class RunningServer:
    server: Server
    port: int

    async def client(self, nick: str | None = None, *channels: str) -> LineClient:
        """A connected client, registered as ``nick`` and joined to ``channels``."""
        client = await LineClient.connect(self.port, nick or "client")
        if nick is not None:
            await client.register(nick)
        for channel in channels:
            await client.join(channel)
        return client


async def start_server(
    nursery: trio.Nursery,
    limits: Limits = TEST_LIMITS,
    shutdown: trio.Event | None = None,
    store: Store | None = None,
    password: ServerPassword | None = None,
    opers: Mapping[str, str] | None = None,
) -> RunningServer:
    """Start an in-process flackd on 127.0.0.1 and an ephemeral port (with ``store``, one
    that keeps its state there, as ``--data-dir`` does).

    The hub's clock (timestamps, resume and quota windows) follows Trio's clock, so tests
    on a MockClock move the hub's time too.
    """
    wall_start, trio_start = time.time(), trio.current_time()
    server = Server(
        limits,
        clock=lambda: wall_start + trio.current_time() - trio_start,
        store=store,
        password=password,
        opers=opers,
    )
    listeners = await nursery.start(server.serve, "127.0.0.1", 0, shutdown)
    port = listeners[0].socket.getsockname()[1]
    return RunningServer(server, port)


async def run_server(
    scope: trio.CancelScope,
    port: int = 0,
    *,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """A server that ``scope.cancel()`` stops at once, as a killed process would."""
    with scope:
        async with trio.open_nursery() as inner:
            listeners = await inner.start(Server(TEST_LIMITS).serve, "127.0.0.1", port)
            task_status.started(listeners[0].socket.getsockname()[1])


def cut(server: Server, nick: str) -> None:
    """Close ``nick``'s connection from the server side, as a dropped network would."""
    session = server.hub.session(nick)  # type: ignore[attr-defined]
    assert session is not None, f"{nick} has no session"
    assert session.conn is not None, f"{nick} is not connected"
    session.conn.close(b"", "connection reset")

"""An IRC test client (raw lines on a real socket) and in-process servers with an IRC port.

Waits are bounded (``WAIT``); "nothing else arrived" is proved with a PING barrier
(:meth:`IrcClient.sync`): flackd answers PING in order, after everything it owed before.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass

import trio

from flackd.irc.wire import IrcMessage, parse
from flackd.limits import Limits
from flackd.server import Server
from flackd.store import Store
from tests.support import TEST_LIMITS, WAIT, LineClient

_tokens = itertools.count(1)


class IrcClient:
    """One IRC connection: send raw lines, read parsed ones."""

    def __init__(self, stream: trio.SocketStream, name: str) -> None:
        self.stream = stream
        self.name = name
        self._buffer = b""
        #: Every line received, raw, in order (for messages in failed assertions).
        self.seen: list[str] = []

    @classmethod
    async def connect(cls, port: int, name: str = "irc") -> IrcClient:
        return cls(await trio.open_tcp_stream("127.0.0.1", port), name)

    async def send(self, *lines: str) -> None:
        await self.stream.send_all("".join(f"{line}\r\n" for line in lines).encode())

    async def send_raw(self, data: bytes) -> None:
        await self.stream.send_all(data)

    async def line(self) -> str:
        """The next line (without CRLF); AssertionError at EOF."""
        with trio.fail_after(WAIT):
            while b"\n" not in self._buffer:
                data = await self.stream.receive_some(65536)
                assert data, f"{self.name}: EOF; saw {self.seen[-10:]}"
                self._buffer += data
        raw, self._buffer = self._buffer.split(b"\n", 1)
        text = raw.rstrip(b"\r").decode()
        self.seen.append(text)
        return text

    async def message(self) -> IrcMessage:
        return parse(await self.line())

    async def expect(self, command: str) -> IrcMessage:
        """Read until a line with ``command`` (a numeric or a word); the skipped ones are
        in :attr:`seen`."""
        while True:
            message = await self.message()
            if message.command == command:
                return message

    async def sync(self) -> list[IrcMessage]:
        """Everything the server sent before the PONG to a PING sent now."""
        token = f"sync{next(_tokens)}"
        await self.send(f"PING :{token}")
        got: list[IrcMessage] = []
        while True:
            message = await self.message()
            if message.command == "PONG" and message.params[-1] == token:
                return got
            got.append(message)

    async def eof(self) -> bool:
        """True if the server closes the connection (after any lines still to come)."""
        with trio.fail_after(WAIT):
            while True:
                data = await self.stream.receive_some(65536)
                if not data:
                    return True
                self._buffer += data

    async def register(self, nick: str, *, caps: str = "") -> list[IrcMessage]:
        """Register as ``nick`` (asking for ``caps`` first); the lines up to 422."""
        if caps:
            await self.send("CAP LS 302", f"NICK {nick}", f"USER {nick} 0 * :{nick} tester")
            await self.send(f"CAP REQ :{caps}", "CAP END")
        else:
            await self.send(f"NICK {nick}", f"USER {nick} 0 * :{nick} tester")
        got: list[IrcMessage] = []
        while True:
            message = await self.message()
            got.append(message)
            if message.command == "422":
                return got

    async def aclose(self) -> None:
        await self.stream.aclose()


@dataclass
class IrcServer:
    server: Server
    port: int  # Flack's
    irc_port: int

    async def irc(self, nick: str | None = None, *, caps: str = "") -> IrcClient:
        client = await IrcClient.connect(self.irc_port, nick or "irc")
        if nick is not None:
            await client.register(nick, caps=caps)
        return client

    async def flack(self, nick: str) -> LineClient:
        client = await LineClient.connect(self.port, nick)
        await client.send(f"NICK {nick}")
        line = await client.recv()
        assert line.startswith(f"OK NICK {nick} "), line
        return client


async def start_irc_server(
    nursery: trio.Nursery,
    limits: Limits = TEST_LIMITS,
    store: Store | None = None,
    opers: Mapping[str, str] | None = None,
) -> IrcServer:
    """An in-process flackd with a Flack port and an IRC port, both ephemeral (``opers``:
    its server operators, name -> password hash)."""
    server = Server(limits, store=store, irc_name="irc.test", opers=opers)

    async def serve(*, task_status: trio.TaskStatus[list[trio.SocketListener]]) -> None:
        await server.serve("127.0.0.1", 0, irc_port=0, task_status=task_status)

    listeners = await nursery.start(serve)
    port = listeners[0].socket.getsockname()[1]
    irc_port = server.irc_listeners[0].socket.getsockname()[1]
    return IrcServer(server, port, irc_port)

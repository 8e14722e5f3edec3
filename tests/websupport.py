"""Test helpers for the web port: a WebSocket client that reads like netcat, and raw HTTP.

:class:`WsStream` is the client side of a WebSocket (wsproto over a trio stream), shaped
as a line stream: ``send_all`` sends each line as one text message, ``receive_some``
returns each text message received as a CRLF-ended line. So :class:`WebClient`, a
:class:`tests.support.LineClient` over it, has every helper the line-port tests use
(``register``, ``join``, ``barrier``...). Loopback only; every wait is bounded.
"""

from __future__ import annotations

import contextlib
import ssl
from dataclasses import dataclass

import trio
from wsproto import WSConnection
from wsproto.connection import ConnectionType
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Event,
    Ping,
    Pong,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)

from tests.support import WAIT, LineClient


@dataclass
class Refused(Exception):
    """The server answered the upgrade with an HTTP status instead of 101."""

    status: int
    body: bytes


class WsStream(trio.abc.Stream):
    """The client side of a WebSocket as a stream of lines (see the module docstring)."""

    def __init__(self, stream: trio.abc.Stream, ws: WSConnection) -> None:
        self.stream = stream
        self.ws = ws
        self._text: list[str] = []
        self._out = bytearray()
        #: The close frame the server sent (code, reason), once it has.
        self.closed: tuple[int, str] | None = None
        #: Pongs received (their payloads).
        self.pongs: list[bytes] = []

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        for line in bytes(data).split(b"\n")[:-1]:
            await self.send_message(line.removesuffix(b"\r").decode("utf-8", "surrogateescape"))

    async def send_message(self, message: str | bytes, *, final: bool = True) -> None:
        """One message (text if ``str``, binary if ``bytes``), or one fragment of it."""
        event: Event = (
            TextMessage(data=message, message_finished=final)
            if isinstance(message, str)
            else BytesMessage(data=message, message_finished=final)
        )
        await self.send_event(event)

    async def send_event(self, event: Event) -> None:
        await self.stream.send_all(self.ws.send(event))

    async def send_raw(self, data: bytes) -> None:
        await self.stream.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.stream.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        # What wsproto holds already comes first: the handshake's answer may have
        # arrived in the same packet as the first frames.
        await self._take_events()
        while not self._out:
            if self.closed is not None:
                return b""
            data = await self.stream.receive_some(65536)
            self.ws.receive_data(bytes(data) if data else None)
            await self._take_events()
            if not data and self.closed is None:
                self.closed = (1006, "")  # TCP closed without a closing handshake
        size = len(self._out) if max_bytes is None else max_bytes
        out = bytes(self._out[:size])
        del self._out[:size]
        return out

    async def _take_events(self) -> None:
        for event in self.ws.events():
            if isinstance(event, TextMessage):
                self._text.append(event.data)
                if event.message_finished:
                    self._out += "".join(self._text).encode() + b"\r\n"
                    self._text.clear()
            elif isinstance(event, BytesMessage):
                raise AssertionError("the server sent a binary message")
            elif isinstance(event, Ping):
                await self.send_event(event.response())
            elif isinstance(event, Pong):
                self.pongs.append(bytes(event.payload))
            elif isinstance(event, CloseConnection):
                self.closed = (event.code, event.reason or "")
                with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                    await self.send_event(event.response())

    async def aclose(self) -> None:
        await self.stream.aclose()


async def ws_connect(
    port: int,
    *,
    origin: str | None = "same",
    host: str | None = None,
    target: str = "/ws",
    extra: list[tuple[str, str]] | None = None,
    tls: ssl.SSLContext | None = None,
) -> WsStream:
    """Open a WebSocket to 127.0.0.1:``port`` (over TLS with ``tls``). ``origin="same"``
    sends the page's own origin (as a browser does); None sends none. Raises
    :class:`Refused` on a non-101."""
    stream = await _open(port, tls)
    host = host or f"127.0.0.1:{port}"
    headers = [(k.encode(), v.encode()) for k, v in extra or []]
    scheme = "https" if tls else "http"
    if origin is not None:
        headers.append((b"Origin", (f"{scheme}://{host}" if origin == "same" else origin).encode()))
    ws = WSConnection(ConnectionType.CLIENT)
    await stream.send_all(ws.send(Request(host=host, target=target, extra_headers=headers)))
    with trio.fail_after(WAIT):
        while True:
            data = await stream.receive_some(65536)
            ws.receive_data(bytes(data) if data else None)
            body = b""
            for event in ws.events():
                if isinstance(event, AcceptConnection):
                    return WsStream(stream, ws)
                if isinstance(event, RejectConnection):
                    status = event.status_code
                    if not event.has_body:
                        raise Refused(status, b"")
                elif isinstance(event, RejectData):
                    body += event.data
                    if event.body_finished:
                        raise Refused(status, body)
            if not data:
                raise Refused(0, b"connection closed without an answer")


class WebClient(LineClient):
    """A netcat-like client over a WebSocket: :class:`LineClient`'s helpers, and the
    WebSocket underneath (``ws``) for frame-level checks."""

    ws: WsStream

    @classmethod
    async def open(cls, port: int, name: str = "web", *, hello: bool = True) -> WebClient:
        ws = await ws_connect(port)
        client = cls(ws, name)  # type: ignore[arg-type]
        client.ws = ws
        if hello:
            line = await client.recv()
            assert line.startswith("HELLO flackd "), line
        return client


@dataclass
class Answer:
    """One HTTP response as the test saw it (header names in lower case)."""

    status: int
    headers: dict[str, str]
    body: bytes


async def _open(port: int, tls: ssl.SSLContext | None) -> trio.abc.Stream:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    if tls is None:
        return stream
    wrapped = trio.SSLStream(stream, tls, server_hostname="127.0.0.1")
    await wrapped.do_handshake()
    return wrapped


async def http(
    port: int, request: bytes, *, heads: int = 0, tls: ssl.SSLContext | None = None
) -> list[Answer]:
    """Send raw request bytes and read until the server closes (bounded by ``WAIT``);
    every response in what came back. The first ``heads`` responses answer HEAD requests
    (no body whatever their content-length). Over TLS with ``tls``."""
    stream = await _open(port, tls)
    data = b""
    await stream.send_all(request)
    with trio.fail_after(WAIT):
        try:
            while chunk := await stream.receive_some(65536):
                data += chunk
        except trio.BrokenResourceError:
            pass  # TLS without close_notify: what came is what there is
    await trio.aclose_forcefully(stream)
    answers: list[Answer] = []
    while data:
        head, _, data = data.partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        size = 0 if len(answers) < heads else int(headers.get("content-length", "0"))
        answers.append(Answer(int(status_line.split()[1]), headers, data[:size]))
        data = data[size:]
    return answers

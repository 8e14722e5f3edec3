"""The WebSocket as a stream of protocol lines: one text message is one line.

Owns: :class:`WebSocketStream`, a :class:`trio.abc.HalfCloseableStream` over the accepted
socket (or its TLS stream) that the server's :class:`flackd.stream_connection.StreamConnection`
reads and writes like any other transport, so every limit of the line port (line length
and junk, flood pacing, the send queue) holds for a browser unchanged. Incoming: each
text message's bytes, as wsproto delivers them (fragment by fragment, never buffered
whole), then a newline; a message may end with a line end of its own (it is dropped),
but a CR or LF inside one becomes a CR, which the line reader refuses
(``ERR BAD_CHARACTER``), so one message can never be two commands.
Outgoing: each line, without its CRLF, as one unmasked text frame (RFC 6455 section 5.2).
Also the rest of the protocol: pings answered, binary messages refused (close 1003),
malformed frames answered with wsproto's close code (1002, 1007), the closing handshake
with a code that says why (1000 for QUIT and shutdown, 1009 for over-long lines, 1008
for the other policy closes). Frames that carry no line bytes (pings, pongs, empty
fragments) are paced by a bucket of their own (the line reader's liveness bucket, the
same burst and rate): past it, reading stops for a while and TCP pushes back, so no
client can keep the server busy with frames that no line limit would see. Imports trio,
wsproto, ``flackd.ratelimit`` and the standard library only: never the hub, never the
Flack codec.
"""

from __future__ import annotations

from typing import Final

import trio
from wsproto import WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    BytesMessage,
    CloseConnection,
    Event,
    Ping,
    TextMessage,
)
from wsproto.utilities import LocalProtocolError

from flackd.ratelimit import TokenBucket

__all__ = ["RECEIVE_BYTES", "WebSocketStream", "close_code", "text_frames"]

#: Bytes read from the socket at a time (so at most this much is decoded at once).
RECEIVE_BYTES: Final = 4096
#: Close codes (RFC 6455 section 7.4.1).
NORMAL: Final = 1000
UNSUPPORTED_DATA: Final = 1003
POLICY: Final = 1008
TOO_BIG: Final = 1009
#: BYE codes that end a connection normally; BYE LINE_TOO_LONG is "message too big".
_NORMAL_BYES: Final = frozenset({b"QUIT", b"SHUTDOWN", b"RESUMED", b"CLOSED"})


def text_frames(lines: bytes) -> bytes:
    """Whole CRLF-ended lines as one unmasked, unfragmented text frame each."""
    out = bytearray()
    for line in lines.split(b"\r\n")[:-1]:
        size = len(line)
        if size < 126:
            out += bytes((0x81, size))
        elif size < 65536:
            out += b"\x81\x7e" + size.to_bytes(2, "big")
        else:
            out += b"\x81\x7f" + size.to_bytes(8, "big")
        out += line
    return bytes(out)


def close_code(bye: bytes | None) -> int:
    """The close code after the last line the client was sent (a ``BYE <code>``, if any)."""
    if bye is None:
        return NORMAL
    code = bye.split(b" ", 2)[1] if bye.count(b" ") else b""
    if code in _NORMAL_BYES:
        return NORMAL
    return TOO_BIG if code == b"LINE_TOO_LONG" else POLICY


class WebSocketStream(trio.abc.HalfCloseableStream):
    """Protocol lines over an accepted WebSocket (see the module docstring).

    ``receive_some`` returns line bytes (``b""`` once the peer closed, or after a
    binary message); ``send_all`` takes whole CRLF-ended lines; ``send_eof`` starts the
    closing handshake, after which ``receive_some`` drains until the peer's answer.
    The connection's reader and writer may use it at once: sends (theirs and the
    pong or close the reader owes) take turns under one lock.
    """

    def __init__(
        self,
        stream: trio.abc.Stream,
        ws: WSConnection,
        pending: bytes,
        frames: tuple[int, float],
    ) -> None:
        """``frames``: the burst and rate (per second) of frames without line bytes."""
        self.stream = stream
        self._ws = ws
        self._frames = TokenBucket(frames[0], frames[1], trio.current_time())
        self._send_lock = trio.Lock()
        self._lines = bytearray()
        self._eof = False
        #: The last BYE sent (its close code follows it).
        self._bye: bytes | None = None
        if pending:
            ws.receive_data(pending)

    # -- receiving ------------------------------------------------------------------

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        while True:
            if self._lines:
                size = len(self._lines) if max_bytes is None else max_bytes
                data = bytes(self._lines[:size])
                del self._lines[:size]
                return data
            if self._eof:
                return b""
            await self._take_events()
            if self._lines or self._eof:
                continue
            received = await self.stream.receive_some(RECEIVE_BYTES)
            self._ws.receive_data(bytes(received) if received else None)
            if not received and self._ws.state is not ConnectionState.CLOSED:
                self._eof = True  # TCP ended without a closing handshake

    async def _take_events(self) -> None:
        for event in self._ws.events():
            if not isinstance(event, TextMessage) or not event.data:
                # No line bytes: charged to the frame bucket; reading waits when it is empty.
                wait = self._frames.charge(1, trio.current_time())
                if wait > 0:
                    await trio.sleep(wait)
            if isinstance(event, TextMessage):
                data = event.data.encode("utf-8")
                if event.message_finished:  # a line end of its own is allowed, as on TCP
                    data = data.removesuffix(b"\n").removesuffix(b"\r")
                self._lines += data.replace(b"\n", b"\r")  # one message is never two lines
                if event.message_finished:
                    self._lines += b"\n"
            elif isinstance(event, BytesMessage):
                await self._close(UNSUPPORTED_DATA, "text messages only, one line each")
                self._eof = True
                return
            elif isinstance(event, Ping):
                if self._ws.state is ConnectionState.OPEN:  # not once we are closing
                    await self._send(self._frame(event.response()))
            elif isinstance(event, CloseConnection):
                if self._ws.state is ConnectionState.REMOTE_CLOSING:
                    await self._send(self._frame(event.response()))
                elif self._ws.state is ConnectionState.OPEN:
                    # wsproto found a malformed frame: say why (1002, 1007), then end.
                    await self._close(event.code, event.reason or "")
                self._eof = True
                return

    # -- sending --------------------------------------------------------------------

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        if self._ws.state is not ConnectionState.OPEN:
            raise trio.ClosedResourceError("the WebSocket is closing")
        data = bytes(data)
        if data.startswith(b"BYE ") or b"\r\nBYE " in data:
            self._bye = data[data.rfind(b"BYE ") :]
        await self._send(text_frames(data))

    async def wait_send_all_might_not_block(self) -> None:
        await self.stream.wait_send_all_might_not_block()

    async def send_eof(self) -> None:
        """Start the closing handshake (the code says why: see :func:`close_code`)."""
        if self._ws.state is ConnectionState.OPEN:
            await self._close(close_code(self._bye), "")

    async def _close(self, code: int, reason: str) -> None:
        if self._ws.state is ConnectionState.OPEN:
            await self._send(self._frame(CloseConnection(code=code, reason=reason)))

    async def _send(self, data: bytes) -> None:
        if data:
            async with self._send_lock:
                await self.stream.send_all(data)

    def _frame(self, event: Event) -> bytes:
        """wsproto's bytes for ``event``; a state that cannot send it is a closed stream."""
        try:
            return self._ws.send(event)
        except LocalProtocolError as exc:
            raise trio.ClosedResourceError(f"the WebSocket is closing: {exc}") from None

    async def aclose(self) -> None:
        await self.stream.aclose()

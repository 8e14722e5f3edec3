"""One connection to the web port, until it becomes a WebSocket or closes.

Owns: the HTTP/1.1 loop over an accepted stream (h11 parses; :class:`Site` decides;
keep-alive between requests), its bounds (``--web-head-bytes`` for a request head,
``--web-timeout`` to send one and to idle between them), the refusals sent before any
request was read, and the upgrade: a valid ``GET /ws`` from an allowed origin is accepted
by wsproto and handed back as a :class:`WebSocketStream`, which the server then serves
like any other connection. Imports trio, h11, wsproto and ``flackd.web``; never the hub.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Final

import h11
import trio
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Request
from wsproto.utilities import RemoteProtocolError as WsProtocolError

from flackd.web.site import Answer, Site, header, is_upgrade
from flackd.web.websocket import RECEIVE_BYTES, WebSocketStream

__all__ = ["refusal", "serve_http"]

_BROKEN: Final = (trio.BrokenResourceError, trio.ClosedResourceError, OSError)


def refusal(answer: Answer) -> bytes:
    """``answer`` as bytes for a connection refused at the door: no request has been read,
    so there is no h11 exchange to send it through."""
    lines = [b"HTTP/1.1 %d %s" % (answer.status, answer.reason)]
    lines += [name + b": " + value for name, value in answer.headers]
    return b"\r\n".join(lines) + b"\r\n\r\n" + answer.body


class _Reader:
    """h11's input side, counting the bytes each request head took: h11 bounds only a
    head that is still incomplete, so one that arrives whole in a single read is
    measured here against the same limit."""

    def __init__(self, conn: h11.Connection, stream: trio.abc.Stream) -> None:
        self.conn = conn
        self.stream = stream
        self.fed = 0
        self._cycle_start = 0

    def start_cycle(self) -> None:
        """A new request begins with the bytes not yet parsed."""
        self._cycle_start = self.fed - len(self.conn.trailing_data[0])

    def head_size(self) -> int:
        """Bytes parsed since :meth:`start_cycle` (after a Request event: its head)."""
        return self.fed - len(self.conn.trailing_data[0]) - self._cycle_start

    async def next_event(self) -> object:
        conn = self.conn
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                data = bytes(await self.stream.receive_some(RECEIVE_BYTES))
                self.fed += len(data)
                conn.receive_data(data)
                continue
            return event


async def _send(
    conn: h11.Connection, stream: trio.abc.Stream, answer: Answer, head: bool = False
) -> None:
    """``answer`` through h11; without its body when it answers a HEAD request."""
    data = conn.send(answer.response()) or b""
    if answer.body and not head:
        data += conn.send(h11.Data(data=answer.body)) or b""
    data += conn.send(h11.EndOfMessage()) or b""
    await stream.send_all(data)


async def serve_http(
    stream: trio.abc.Stream,
    site: Site,
    *,
    tls: bool,
    head_bytes: int,
    request_seconds: float,
    admit: Callable[[], Answer | None],
    frames: tuple[int, float],
) -> WebSocketStream | None:
    """Answer requests on ``stream`` until it closes or upgrades; the WebSocket, if any.

    ``admit`` is asked before a valid upgrade is accepted (the per-address rate of new
    chat connections); its answer, if any, is the refusal. ``frames``: the burst and rate
    of the WebSocket's frames without line bytes (:class:`WebSocketStream`). Never raises
    for what the peer does: a broken stream, a bad request (400), a head over
    ``head_bytes`` (431) or a request that takes longer than ``request_seconds`` (408) end
    the connection.
    """
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=head_bytes)
    reader = _Reader(conn, stream)
    try:
        while True:
            reader.start_cycle()
            with trio.move_on_after(request_seconds) as waited:
                event = await reader.next_event()
            if waited.cancelled_caught:
                if _mid_request(conn):  # an idle keep-alive connection just closes
                    late = site.error(408, "request took too long", close=True)
                    with trio.move_on_after(1):
                        await _send(conn, stream, late)
                return None
            if not isinstance(event, h11.Request):
                return None  # ConnectionClosed, or the peer's EOF
            if reader.head_size() > head_bytes:
                host = header(event.headers, b"host") or b""
                await _send(conn, stream, site.error(431, "request head too large", host, True))
                return None
            with trio.fail_after(request_seconds):
                if is_upgrade(event):
                    return await _upgrade(conn, stream, site, event, tls, admit, frames)
                answer = site.answer(event)
                await _send(conn, stream, answer, head=event.method == b"HEAD")
                if answer.close or conn.our_state is h11.MUST_CLOSE:
                    return None
                while not isinstance(event, h11.EndOfMessage):  # a GET has no body
                    event = await reader.next_event()
                    if isinstance(event, h11.ConnectionClosed):
                        return None
                conn.start_next_cycle()
    except h11.RemoteProtocolError as exc:
        if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
            status = exc.error_status_hint
            text = "request head too large" if status == 431 else "malformed HTTP request"
            with trio.move_on_after(1), contextlib.suppress(*_BROKEN, h11.LocalProtocolError):
                await _send(conn, stream, site.error(status, text, close=True))
        return None
    except (*_BROKEN, trio.TooSlowError):
        return None


def _mid_request(conn: h11.Connection) -> bool:
    """Some bytes of a request head arrived (so a 408 is owed rather than a quiet close)."""
    data, _closed = conn.trailing_data
    return bool(data)


async def _upgrade(
    conn: h11.Connection,
    stream: trio.abc.Stream,
    site: Site,
    request: h11.Request,
    tls: bool,
    admit: Callable[[], Answer | None],
    frames: tuple[int, float],
) -> WebSocketStream | None:
    refused = site.check_upgrade(request, tls)
    ws = WSConnection(ConnectionType.SERVER)
    if refused is None:
        try:
            ws.initiate_upgrade_connection(list(request.headers), request.target)
        except (WsProtocolError, UnicodeDecodeError, ValueError) as exc:
            host = header(request.headers, b"host") or b""
            refused = site.error(400, f"bad WebSocket handshake: {exc}", host, close=True)
    if refused is None:
        refused = admit()  # counted only for a handshake that would succeed
    if refused is not None:
        await _send(conn, stream, refused)
        return None
    for event in ws.events():
        if isinstance(event, Request):
            break
    else:  # pragma: no cover - wsproto always yields the request it was given
        return None
    # No extensions (permessage-deflate is declined: no decompression to bound) and no
    # subprotocol: one text message is one line of the Flack protocol.
    await stream.send_all(ws.send(AcceptConnection()))
    trailing, _closed = conn.trailing_data
    return WebSocketStream(stream, ws, bytes(trailing), frames)

"""The server: listeners, connections, the reader loop, and effects turned into I/O.

Owns: the task tree (one nursery accepting, one holding connections, one per connection
with a reader and a writer), the connection limit, socket options, per-connection flood
control, the registration deadline, applying hub effects to outboxes, and graceful
shutdown. This is the only module that turns hub effects into I/O. Imports trio, the
standard library and the other flackd modules; never flackcli.

Task tree::

    serve()
    ├── accepting: trio.serve_listeners(..., handler_nursery=connections)
    └── connections (outlives accepting; gets a deadline at shutdown)
        └── per connection: writer task + the reader loop in the handler itself

Rules:

1. The reader processes every complete line it received, in order, before it looks at
   EOF, so ``printf 'NICK a\\nJOIN #c\\nMSG #c hi\\n' | nc -N`` is carried out in full.
2. Fan-out never awaits: :meth:`Server.apply` encodes a broadcast line once and pushes the
   same bytes into each member's outbox.
3. One connection's failure (reset, bug) ends only that connection; the server goes on.
4. Shutdown: stop accepting, ``BYE SHUTDOWN`` to everyone through the outboxes, flush
   within ``shutdown_grace``, then cancel what is left.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Final

import trio

from flackd.codec import events as e
from flackd.codec.framing import OVERLONG, LineBuffer
from flackd.codec.grammar import ProtocolError, encode_event, parse_command
from flackd.codec.text import BadCharacter, InvalidUtf8, decode_line
from flackd.connection import Connection
from flackd.hub import Broadcast, Close, Effect, Hub, HubProtocol, Reply
from flackd.limits import Limits
from flackd.ratelimit import TokenBucket

__all__ = ["Server", "serve"]

log = logging.getLogger("flackd")

RECEIVE_BYTES: Final = 4096
#: First words that mark an HTTP request (a browser page posting to our port).
HTTP_METHODS: Final = (b"GET ", b"POST ", b"PUT ", b"HEAD ", b"OPTIONS ", b"CONNECT ", b"PRI ",
                       b"DELETE ", b"PATCH ")  # fmt: skip
#: Longest time a closing connection waits for the peer's EOF before closing, so that
#: unread input does not turn our close into a reset that destroys the last lines sent.
LINGER_SECONDS: Final = 1.0


def _line_error(code: str, text: str) -> bytes:
    return encode_event(e.Error(code, "*", (), text))


class Server:
    """One flackd server: a hub, the limits, and the connections it holds."""

    def __init__(
        self,
        limits: Limits | None = None,
        hub: HubProtocol[Connection] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.limits = limits or Limits()
        self.hub: HubProtocol[Connection] = hub or Hub(self.limits)
        self.clock = clock
        self.connections: set[Connection] = set()
        self._bye_sendq = encode_event(
            e.Bye("SENDQ_EXCEEDED", (), "you were not reading fast enough; reconnect and catch up")
        )
        self._too_long = _line_error(
            "LINE_TOO_LONG",
            f"line longer than {self.limits.max_line_bytes} bytes (line ending included); "
            "it was dropped",
        )
        self._bad_utf8 = _line_error("INVALID_UTF8", "line is not valid UTF-8; it was dropped")

    # -- effects -> outboxes -------------------------------------------------------------

    def apply(self, effects: Sequence[Effect[Connection]]) -> None:
        """Turn hub effects into outbox pushes. Synchronous: never awaits a peer."""
        for effect in effects:
            if type(effect) is Broadcast:
                data = encode_event(effect.event)
                for conn in effect.conns:
                    conn.push(data)
            elif type(effect) is Reply:
                effect.conn.push(b"".join([encode_event(ev) for ev in effect.events]))
            elif type(effect) is Close:
                effect.conn.close(encode_event(effect.bye), effect.reason)
            else:  # pragma: no cover - the Effect union is closed
                raise TypeError(effect)

    # -- one line ------------------------------------------------------------------------

    def _process(self, conn: Connection, raw: bytes) -> int:
        """Carry out one complete client line; return its flood cost."""
        try:
            text = decode_line(raw)
        except InvalidUtf8:
            conn.push(self._bad_utf8)
            return 1
        except BadCharacter as bad:
            conn.push(
                _line_error(
                    "BAD_CHARACTER",
                    f"line holds control character 0x{bad.byte:02X}; only TAB is allowed; "
                    "it was dropped",
                )
            )
            return 1
        try:
            verb, command = parse_command(text)
        except ProtocolError as err:
            conn.push(encode_event(err.reply))
            return 1
        self.apply(self.hub.handle(conn, verb, command, self.clock()))
        return verb.cost

    # -- one connection ------------------------------------------------------------------

    async def _read(self, conn: Connection) -> None:
        """The reader loop. Returns once the connection is closing."""
        limits = self.limits
        lines = LineBuffer(limits.max_line_bytes)
        bucket = TokenBucket(limits.flood_burst, limits.flood_rate, trio.current_time())
        registration_deadline = trio.current_time() + limits.reg_timeout
        first = True
        with conn.read_scope:
            while not conn.closing:
                if self.hub.is_registered(conn):
                    data = await conn.stream.receive_some(RECEIVE_BYTES)
                else:
                    data = b""
                    with trio.move_on_at(registration_deadline) as timer:
                        data = await conn.stream.receive_some(RECEIVE_BYTES)
                    if timer.cancelled_caught:
                        bye = e.Bye(
                            "REGISTRATION_TIMEOUT",
                            (),
                            f"no NICK within {limits.reg_timeout:g} seconds",
                        )
                        conn.close(encode_event(bye), "registration timeout")
                        return
                if not data:
                    conn.finish("connection closed")
                    return
                for item in lines.feed(data):
                    if first:
                        first = False
                        if item is not OVERLONG and item.startswith(HTTP_METHODS):
                            conn.close(b"", "HTTP request on the chat port")
                            return
                    if item is OVERLONG:
                        conn.push(self._too_long)
                        cost = 1
                    else:
                        cost = self._process(conn, item)
                    if conn.is_closing():
                        return
                    wait = bucket.charge(cost, trio.current_time())
                    if wait > 0:
                        await trio.sleep(wait)

    async def handle_stream(self, stream: trio.SocketStream) -> None:
        """Serve one accepted connection until it closes. Never raises."""
        peer = _peer_name(stream)
        if len(self.connections) >= self.limits.max_connections:
            bye = e.Bye("BUSY", ("retry=5",), "the server is full; try again in a few seconds")
            with (
                trio.move_on_after(1),
                contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError),
            ):
                await stream.send_all(encode_event(bye))
            await trio.aclose_forcefully(stream)
            return
        _tune_socket(stream, self.limits.socket_sndbuf)
        conn = Connection(
            stream, peer, self.limits.sendq_bytes, self.limits.shutdown_grace, self._bye_sendq
        )
        self.connections.add(conn)
        log.debug("%r connected", conn)
        saw_eof = False
        try:
            self.apply(self.hub.connect(conn, self.clock()))
            async with trio.open_nursery() as nursery:
                nursery.start_soon(conn.writer)
                try:
                    await self._read(conn)
                    saw_eof = conn.close_reason == "connection closed"
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    conn.close(b"", "connection reset")
                except Exception:
                    log.exception("%r: internal error; closing this connection only", conn)
                    bye = e.Bye("SERVER_ERROR", (), "internal error; please reconnect")
                    conn.close(encode_event(bye), "server error")
            if not saw_eof:
                await _linger(stream)
        finally:
            self.connections.discard(conn)
            self.apply(self.hub.disconnect(conn, conn.close_reason, self.clock()))
            log.debug("%r closed: %s", conn, conn.close_reason)
            await trio.aclose_forcefully(stream)

    # -- the whole server ----------------------------------------------------------------

    async def serve(
        self,
        host: str | Sequence[str] | None,
        port: int,
        shutdown: trio.Event | None = None,
        *,
        task_status: trio.TaskStatus[list[trio.SocketListener]] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Listen on ``host:port`` and serve until ``shutdown`` is set (or cancelled).

        ``task_status.started`` receives the listeners, so callers learn the real port when
        they pass 0. Cancellation: cancelling this task closes every connection at once;
        setting ``shutdown`` closes them gracefully.
        """
        hosts: list[str | None] = [host] if host is None or isinstance(host, str) else list(host)
        listeners: list[trio.SocketListener] = []
        for h in hosts:
            listeners += await trio.open_tcp_listeners(port, host=h)
        try:
            async with trio.open_nursery() as connections:
                async with trio.open_nursery() as accepting:
                    accepting.start_soon(
                        partial(trio.serve_listeners, handler_nursery=connections),
                        self.handle_stream,
                        listeners,
                    )
                    task_status.started(listeners)
                    if shutdown is None:
                        await trio.sleep_forever()
                    await shutdown.wait()
                    accepting.cancel_scope.cancel()
                log.info("shutting down: %d connection(s) to close", len(self.connections))
                self.apply(self.hub.shutdown(self.clock()))
                connections.cancel_scope.deadline = (
                    trio.current_time() + self.limits.shutdown_grace + LINGER_SECONDS + 0.5
                )
        finally:
            for listener in listeners:
                await trio.aclose_forcefully(listener)


async def serve(
    host: str | Sequence[str] | None,
    port: int,
    limits: Limits | None = None,
    shutdown: trio.Event | None = None,
    *,
    task_status: trio.TaskStatus[list[trio.SocketListener]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run a new :class:`Server` (see :meth:`Server.serve`)."""
    await Server(limits).serve(host, port, shutdown, task_status=task_status)


def _peer_name(stream: trio.SocketStream) -> str:
    try:
        addr = stream.socket.getpeername()
    except OSError:
        return "?"
    if isinstance(addr, tuple):
        return f"{addr[0]}:{addr[1]}"
    return str(addr)


def _tune_socket(stream: trio.SocketStream, sndbuf: int) -> None:
    """A modest kernel send buffer (so the send queue limit is real) and TCP keepalive (so
    a peer that vanished without a FIN is found in about two minutes)."""
    try:
        stream.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
        stream.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        if hasattr(socket, "TCP_KEEPIDLE"):
            stream.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 60)
            stream.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 15)
            stream.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 4)
    except OSError:  # pragma: no cover - the peer may already be gone
        pass


async def _linger(stream: trio.SocketStream) -> None:
    """Half-close, then read and discard until the peer's EOF, for at most a second.

    Closing a socket that still has unread input makes the kernel send a reset, and a
    reset can destroy the last lines (the BYE) before the peer reads them.
    """
    with trio.move_on_after(LINGER_SECONDS):
        try:
            await stream.send_eof()
            while await stream.receive_some(RECEIVE_BYTES):
                pass
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass

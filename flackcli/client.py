"""Client: one connection to flackd, as a Trio async context manager (no reconnecting).

Owns: the socket (plain TCP, or TLS when given an ``ssl.SSLContext``: the handshake and
its failure as :class:`TLSError`, never a fallback to plain text), one reader task that
turns lines into typed events, the write lock,
``call()`` (a command and its reply, delimited by a PING barrier), answering the server's
PINGs, and the client-side keepalive. Reconnecting, resuming and catching up live in
``flackcli.supervisor``. Imports trio, the standard library and ``flackd.codec`` only.

Limits: at most ``max_events`` received lines wait for the consumer of :meth:`Client.events`;
one more closes the connection with :class:`ConnectionClosed` ("event queue overflow"), the
same policy flackd applies to a slow client: nothing is dropped silently, and a supervisor
reconnects and catches up with HISTORY. Without a subscriber, lines not taken by ``call()``
are discarded. A server line longer than ``max_line_bytes`` is a protocol violation and
closes the connection.

Cancellation: leaving the ``open_client`` block cancels the reader and keepalive tasks and
closes the socket. ``call()`` raises :class:`ConnectionClosed` if the link goes down first.
"""

from __future__ import annotations

import itertools
import os
import ssl
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Final

import trio

from flackd.codec import OVERLONG, LineBuffer, format_command, parse_event
from flackd.codec import commands as c
from flackd.codec import events as e
from flackd.codec.grammar import split_verb

__all__ = [
    "ENV_PASSWORD",
    "Client",
    "ConnectionClosed",
    "FlackError",
    "TLSError",
    "block",
    "open_client",
]

_tokens = itertools.count(1)


class FlackError(Exception):
    """The server refused a command with ``ERR <code>``."""

    def __init__(self, error: e.Error) -> None:
        super().__init__(f"{error.code}: {error.text}")
        self.error = error
        self.code = error.code


class TLSError(OSError):
    """The TLS handshake failed: the certificate was not trusted or not for this host, or
    the server does not speak TLS there. The message names the host and the reason. An
    :class:`OSError`, like every other way of not getting connected."""


class ConnectionClosed(Exception):
    """The connection ended; ``bye`` is the server's last line when it sent one."""

    def __init__(self, reason: str, bye: e.Bye | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.bye = bye


@dataclass
class _Call:
    token: str
    lines: list[e.Event] = field(default_factory=list)
    done: trio.Event = field(default_factory=trio.Event)


class Client:
    """A connected client. Create it with :func:`open_client`."""

    def __init__(
        self,
        stream: trio.abc.Stream,
        *,
        max_events: int = 4096,
        max_line_bytes: int = 32768,
        keepalive: float = 60.0,
        keepalive_timeout: float = 30.0,
    ) -> None:
        self._stream = stream
        self._send_lock = trio.Lock()
        self._call_lock = trio.Lock()
        self._call: _Call | None = None
        self._subscribed = False
        self._events_in, self._events_out = trio.open_memory_channel[e.Event](max_events)
        self._max_line_bytes = max_line_bytes
        self._keepalive = keepalive
        self._keepalive_timeout = keepalive_timeout
        self._last_heard = trio.current_time()
        self.hello: e.Hello | None = None
        self._hello_seen = trio.Event()
        self.closed = trio.Event()
        self.close_reason: ConnectionClosed | None = None
        self._cancel = trio.CancelScope()

    # -- sending ---------------------------------------------------------------------

    async def send(self, command: c.Command | str) -> None:
        """Send one command (or a raw protocol line) without waiting for its reply."""
        line = command if isinstance(command, str) else format_command(command)
        await self._send_lines(line)

    async def _send_lines(self, *lines: str) -> None:
        if self.closed.is_set():
            raise self._closed_error()
        data = "".join(line + "\n" for line in lines).encode("utf-8")
        async with self._send_lock:
            try:
                await self._stream.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                self._close(ConnectionClosed(f"connection lost: {exc}"))
                raise self._closed_error() from None

    async def call(self, command: c.Command | str) -> list[e.Event]:
        """Send a command and return every line that arrived until its PING barrier.

        The command's reply is among them (a server answers in order), possibly with other
        people's lines that arrived meanwhile. Raises :class:`FlackError` when the server
        answered this command with ``ERR``, :class:`ConnectionClosed` when the link ends.
        """
        line = command if isinstance(command, str) else format_command(command)
        verb, _ = split_verb(line)
        async with self._call_lock:
            call = _Call(f"call-{next(_tokens)}")
            self._call = call
            try:
                await self._send_lines(line, f"PING {call.token}")
                await _wait_or_closed(call.done, self.closed)
            finally:
                self._call = None
        if not call.done.is_set():
            raise self._closed_error()
        for event in call.lines:
            if isinstance(event, e.Error) and event.command in (verb, "*"):
                raise FlackError(event)
        return call.lines

    async def ping(self) -> None:
        """A round trip to the server (a barrier: everything sent before is answered)."""
        await self.call(c.Ping(f"ping-{next(_tokens)}"))

    # -- receiving -------------------------------------------------------------------

    def events(self) -> trio.MemoryReceiveChannel[e.Event]:
        """Every line the server sends, in order (barrier PONGs of ``call()`` excepted).

        One consumer only. Subscribe before sending commands whose lines you want to see.
        """
        self._subscribed = True
        return self._events_out

    async def wait_hello(self) -> e.Hello:
        await _wait_or_closed(self._hello_seen, self.closed)
        if self.hello is None:
            raise self._closed_error()
        return self.hello

    async def _reader(self) -> None:
        lines = LineBuffer(self._max_line_bytes)
        try:
            while True:
                data = await self._stream.receive_some(65536)
                if not data:
                    self._close(ConnectionClosed("the server closed the connection"))
                    return
                self._last_heard = trio.current_time()
                for raw in lines.feed(data):
                    if raw is OVERLONG:
                        self._close(ConnectionClosed("protocol error: server line too long"))
                        return
                    assert isinstance(raw, bytes)
                    try:
                        event = parse_event(raw.decode("utf-8", "replace"))
                    except ValueError:
                        continue  # a line kind this client does not know yet: skip it
                    await self._dispatch(event)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            self._close(ConnectionClosed(f"connection lost: {exc}"))

    async def _dispatch(self, event: e.Event) -> None:
        call = self._call
        if isinstance(event, e.Pong) and call is not None and event.token == call.token:
            call.done.set()
            return
        if isinstance(event, e.Ping):
            await self._send_lines(format_command(c.Pong(event.token)))
        elif isinstance(event, e.Hello) and self.hello is None:
            self.hello = event
            self._hello_seen.set()
        elif isinstance(event, e.Bye):
            self._close(ConnectionClosed(f"server said {event.code}: {event.text}", event))
        if call is not None:
            call.lines.append(event)
        if self._subscribed:
            try:
                self._events_in.send_nowait(event)
            except trio.WouldBlock:
                self._close(ConnectionClosed("event queue overflow: events were not consumed"))

    async def _keepalive_loop(self) -> None:
        """PING after ``keepalive`` seconds of silence; no answer in time: the link is dead."""
        while True:
            quiet_until = self._last_heard + self._keepalive
            if trio.current_time() < quiet_until:
                await trio.sleep_until(quiet_until)
                continue
            sent_at = trio.current_time()
            await self._send_lines(f"PING keepalive-{next(_tokens)}")
            await trio.sleep_until(sent_at + self._keepalive_timeout)
            if self._last_heard < sent_at:
                self._close(ConnectionClosed(f"no answer for {self._keepalive_timeout:g} s"))
                return

    # -- closing ---------------------------------------------------------------------

    def _close(self, reason: ConnectionClosed) -> None:
        if self.close_reason is None:
            self.close_reason = reason
        self.closed.set()
        self._events_in.close()
        self._cancel.cancel()

    def _closed_error(self) -> ConnectionClosed:
        return self.close_reason or ConnectionClosed("connection closed")

    async def aclose(self) -> None:
        self._close(ConnectionClosed("closed by the client"))
        await trio.aclose_forcefully(self._stream)


async def _wait_or_closed(event: trio.Event, closed: trio.Event) -> None:
    """Wait until ``event`` is set or ``closed`` is."""
    if event.is_set() or closed.is_set():
        return
    async with trio.open_nursery() as nursery:

        async def watch(ev: trio.Event) -> None:
            await ev.wait()
            nursery.cancel_scope.cancel()

        nursery.start_soon(watch, event)
        nursery.start_soon(watch, closed)


#: Where :func:`open_client` finds the server's password when it is not given one.
ENV_PASSWORD: Final = "FLACK_PASSWORD"


@asynccontextmanager
async def open_client(
    host: str,
    port: int,
    *,
    tls: ssl.SSLContext | None = None,
    max_events: int = 4096,
    keepalive: float = 60.0,
    keepalive_timeout: float = 30.0,
    connect_timeout: float = 10.0,
    password: str | None = None,
) -> AsyncIterator[Client]:
    """Connect to flackd and yield a :class:`Client` once its greeting has arrived.

    With ``tls`` (see :func:`flackcli.address.tls_context`), speak TLS, checking the
    server's certificate against ``host``. Raises OSError when the server cannot be reached
    (:class:`TLSError` when the TLS handshake fails), :class:`ConnectionClosed` when it
    closes before greeting (for example ``BYE BUSY``) or refuses the password
    (``BYE BAD_PASSWORD``).

    A server with a password (its HELLO says ``password=required``) is given ``password``,
    else ``$FLACK_PASSWORD``, with ``PASS`` before the client is yielded; with neither, the
    NICK or RESUME that follows gets ``ERR PASSWORD_REQUIRED``.
    """
    stream: trio.abc.Stream
    with trio.fail_after(connect_timeout):
        stream = await trio.open_tcp_stream(host, port)
        if tls is not None:
            stream = await _start_tls(stream, tls, host)
    client = Client(
        stream, max_events=max_events, keepalive=keepalive, keepalive_timeout=keepalive_timeout
    )
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_run_until_closed, client)
            with trio.fail_after(connect_timeout):
                hello = await client.wait_hello()
                if password is None:
                    password = os.environ.get(ENV_PASSWORD) or None
                if hello.password and password:
                    await client.call(c.Pass(password))
            yield client
            nursery.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        # The nursery wraps even a lone exception of the caller's block (or of the
        # reader) in a group; give callers the exception itself (FlackError,
        # ConnectionClosed, ...) so that ``except FlackError`` works around this block.
        raise _sole(group) from None
    finally:
        client.closed.set()
        await trio.aclose_forcefully(stream)


async def _start_tls(tcp: trio.abc.Stream, context: ssl.SSLContext, host: str) -> trio.abc.Stream:
    """TLS over ``tcp``, the handshake done; on failure ``tcp`` is closed."""
    stream = trio.SSLStream(tcp, context, server_hostname=host)
    try:
        await stream.do_handshake()
    except trio.BrokenResourceError as exc:
        await trio.aclose_forcefully(tcp)
        raise TLSError(_tls_failure(exc.__cause__, host)) from None
    except BaseException:
        await trio.aclose_forcefully(tcp)
        raise
    return stream


def _tls_failure(cause: BaseException | None, host: str) -> str:
    if isinstance(cause, ssl.SSLCertVerificationError):
        return f"cannot verify the TLS certificate of {host}: {cause.verify_message}"
    if isinstance(cause, ssl.SSLEOFError | ssl.SSLZeroReturnError) or cause is None:
        return f"TLS handshake with {host} failed: the server closed the connection"
    if isinstance(cause, ssl.SSLError):
        hint = " (is that port plain text, not TLS?)" if "VERSION" in str(cause.reason) else ""
        return f"TLS handshake with {host} failed: {cause.reason or cause}{hint}"
    return f"TLS handshake with {host} failed: {cause}"


def _sole(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The one exception inside nested one-exception groups, else the group itself."""
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


async def _run_until_closed(client: Client) -> None:
    """The reader and the keepalive, until the connection closes for any reason."""
    with client._cancel:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(client._keepalive_loop)
            await client._reader()
            nursery.cancel_scope.cancel()


def block(lines: Iterable[e.Event], kind: str) -> tuple[list[e.Event], e.BlockEnd | None]:
    """The body lines of the first ``kind`` block (``HISTORY``, ``NAMES``, ``LIST``,
    ``HELP``) among a reply's ``lines``, and its END line (None if it never ended)."""
    body: list[e.Event] = []
    inside = False
    for line in lines:
        if isinstance(line, e.BlockStart) and line.kind == kind:
            inside = True
        elif inside and isinstance(line, e.BlockEnd):
            return body, line
        elif inside:
            body.append(line)
    return body, None

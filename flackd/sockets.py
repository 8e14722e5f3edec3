"""Socket details every listener shares: options, the linger before a close, the HTTP
tripwire.

Owns: the accept loop of every listener, the socket options of an accepted connection
(send buffer, keepalive), the half-close-and-drain that keeps a reset from destroying the
last lines sent, and recognising an HTTP request sent to a line port. Imports trio and
``flackd.tls``.
"""

from __future__ import annotations

import errno
import functools
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Sequence
from typing import Final, NoReturn

import trio

from flackd.tls import end_tls

__all__ = [
    "HTTP_METHODS",
    "LINGER_SECONDS",
    "RECEIVE_BYTES",
    "REFUSAL_LINGER_SECONDS",
    "Job",
    "accept_forever",
    "linger",
    "looks_like_http",
    "tune_socket",
]

RECEIVE_BYTES: Final = 4096
#: First words that mark an HTTP request (a browser page posting to our port).
HTTP_METHODS: Final = (b"GET ", b"POST ", b"PUT ", b"HEAD ", b"OPTIONS ", b"CONNECT ", b"PRI ",
                       b"DELETE ", b"PATCH ")  # fmt: skip
#: Longest time a closing connection waits for the peer's EOF before closing, so that
#: unread input does not turn our close into a reset that destroys the last lines sent.
LINGER_SECONDS: Final = 1.0
#: The same for a connection refused at the door (BUSY, TOO_MANY_CONNECTIONS): shorter,
#: because a flood of refused connections must not hold sockets for long.
REFUSAL_LINGER_SECONDS: Final = 0.25


#: What ``accept`` fails with when the process or the machine is out of a resource: the
#: listener waits :data:`ACCEPT_RETRY_SECONDS` and tries again (as ``trio.serve_listeners``).
ACCEPT_CAPACITY_ERRNOS: Final = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS})
ACCEPT_RETRY_SECONDS: Final = 0.1

log = logging.getLogger("flackd")


#: A task to start for an accepted stream, or None when the door took it in at once.
Job = Callable[[], Awaitable[None]] | None
#: Most connections one wake-up of a listener accepts before it lets other tasks run.
ACCEPT_BATCH: Final = 64
#: ``accept`` errors that concern only the connection being accepted (it was reset, its
#: network went away or a firewall refused it before we took it): skip it (Trio's list).
_SKIP_NAMES: Final = "EPERM ECONNABORTED EPROTO ENETDOWN ENOPROTOOPT EHOSTDOWN ENONET \
EHOSTUNREACH EOPNOTSUPP ENETUNREACH ENOSR ESOCKTNOSUPPORT EPROTONOSUPPORT ETIMEDOUT ECONNRESET"
ACCEPT_SKIP_ERRNOS: Final = frozenset(
    getattr(errno, name) for name in _SKIP_NAMES.split() if hasattr(errno, name)
)


async def accept_forever(
    listeners: Sequence[trio.abc.Listener[trio.SocketStream]],
    door: Callable[[trio.SocketStream], Job],
    handler_nursery: trio.Nursery,
) -> NoReturn:
    """Accept on every listener, for ever: each accepted stream goes to ``door`` at once,
    in the accept loop, which either takes it in without a task (a plain TCP connection
    the poller reads) or returns the task to start for it in ``handler_nursery`` (TLS,
    WebSocket, a refusal), which must close the stream and never raise.

    A Trio :class:`~trio.SocketListener` is accepted from directly, up to
    :data:`ACCEPT_BATCH` connections per wake-up (a connection storm costs one wake-up
    for many, not a task and a pass of the event loop each); any other listener through
    its ``accept``."""
    async with trio.open_nursery() as nursery:
        for listener in listeners:
            nursery.start_soon(_accept, listener, door, handler_nursery)
    raise AssertionError("unreachable: every accept loop runs forever")  # pragma: no cover


async def _accept(
    listener: trio.abc.Listener[trio.SocketStream],
    door: Callable[[trio.SocketStream], Job],
    handler_nursery: trio.Nursery,
) -> NoReturn:
    # One name for every task of this listener (Trio would format a new string per task).
    func = door.func if isinstance(door, functools.partial) else door
    name = getattr(func, "__qualname__", repr(func))
    async with listener:
        if isinstance(listener, trio.SocketListener):
            await _accept_batches(listener, door, handler_nursery, name)
        while True:
            try:
                stream = await listener.accept()
            except OSError as exc:
                await _out_of(exc)
            else:
                _hand_over(stream, door, handler_nursery, name)


async def _accept_batches(
    listener: trio.SocketListener,
    door: Callable[[trio.SocketStream], Job],
    handler_nursery: trio.Nursery,
    name: str,
) -> NoReturn:
    """The accept loop of a listening socket: wait until it is readable, then accept
    what is there (at most :data:`ACCEPT_BATCH`) without waiting in between."""
    listening = listener.socket
    # The same descriptor as a standard socket, for a plain non-blocking accept(); it is
    # detached, not closed, when the loop ends (the listener closes the descriptor).
    raw = socket.socket(fileno=listening.fileno())
    raw.setblocking(False)
    try:
        while True:
            await trio.lowlevel.wait_readable(listening)
            for _ in range(ACCEPT_BATCH):
                try:
                    accepted, _ = raw.accept()
                except BlockingIOError:
                    break
                except OSError as exc:
                    if exc.errno in ACCEPT_SKIP_ERRNOS:
                        continue
                    await _out_of(exc)
                    break
                stream = trio.SocketStream(trio.socket.from_stdlib_socket(accepted))
                _hand_over(stream, door, handler_nursery, name)
    finally:
        raw.detach()


def _hand_over(
    stream: trio.SocketStream,
    door: Callable[[trio.SocketStream], Job],
    handler_nursery: trio.Nursery,
    name: str,
) -> None:
    """Give ``stream`` to the door and start the task it asks for. A bug in the door ends
    only this connection (rule 3 of :mod:`flackd.server`): logged, its socket closed, and
    the accept loop goes on."""
    try:
        job = door(stream)
    except Exception:
        log.exception("taking in a connection: internal error; closing it")
        stream.socket.close()
        return
    if job is not None:
        handler_nursery.start_soon(job, name=name)


async def _out_of(exc: OSError) -> None:
    """An accept that failed for want of a resource (EMFILE and kin) is logged and tried
    again after a pause; any other failure is raised."""
    if exc.errno not in ACCEPT_CAPACITY_ERRNOS:
        raise exc
    log.error(
        "accept failed: %s (%s); trying again in %g s",
        errno.errorcode[exc.errno],
        os.strerror(exc.errno),
        ACCEPT_RETRY_SECONDS,
    )
    await trio.sleep(ACCEPT_RETRY_SECONDS)


def looks_like_http(line: bytes, first: bool) -> bool:
    """An HTTP request line first, or a ``Host:`` header before registration."""
    return (first and line.startswith(HTTP_METHODS)) or line[:5].lower() == b"host:"


def tune_socket(stream: trio.SocketStream, sndbuf: int) -> None:
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


async def linger(stream: trio.abc.Stream, seconds: float = LINGER_SECONDS) -> None:
    """Half-close, then read and discard until the peer's EOF, for at most a second.

    Closing a socket that still has unread input makes the kernel send a reset, and a
    reset can destroy the last lines (the BYE) before the peer reads them. Over TLS the
    half-close is ``close_notify`` first (and waiting for the peer's), then the same on the
    TCP stream beneath.
    """
    with trio.move_on_after(seconds):
        try:
            if isinstance(stream, trio.SSLStream):
                stream = await end_tls(stream)
            if isinstance(stream, trio.abc.HalfCloseableStream):
                await stream.send_eof()
            while await stream.receive_some(RECEIVE_BYTES):
                pass
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass

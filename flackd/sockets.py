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


async def accept_forever(
    listeners: Sequence[trio.abc.Listener[trio.SocketStream]],
    handler: Callable[[trio.SocketStream], Awaitable[None]],
    handler_nursery: trio.Nursery,
) -> NoReturn:
    """``trio.serve_listeners`` without its wrapper: each accepted stream's task runs
    ``handler(stream)`` itself, which must close the stream and never raise. (Trio's
    wrapper coroutine, which only closes the stream afterwards, would stay suspended in
    every connection's task for as long as it lives: a frame per idle client.)"""
    async with trio.open_nursery() as nursery:
        for listener in listeners:
            nursery.start_soon(_accept, listener, handler, handler_nursery)
    raise AssertionError("unreachable: every accept loop runs forever")  # pragma: no cover


async def _accept(
    listener: trio.abc.Listener[trio.SocketStream],
    handler: Callable[[trio.SocketStream], Awaitable[None]],
    handler_nursery: trio.Nursery,
) -> NoReturn:
    # One name for every task of this listener (Trio would format a new string per task).
    func = handler.func if isinstance(handler, functools.partial) else handler
    name = getattr(func, "__qualname__", repr(func))
    async with listener:
        while True:
            try:
                stream = await listener.accept()
            except OSError as exc:
                if exc.errno not in ACCEPT_CAPACITY_ERRNOS:
                    raise
                log.error(
                    "accept failed: %s (%s); trying again in %g s",
                    errno.errorcode[exc.errno],
                    os.strerror(exc.errno),
                    ACCEPT_RETRY_SECONDS,
                )
                await trio.sleep(ACCEPT_RETRY_SECONDS)
            else:
                handler_nursery.start_soon(handler, stream, name=name)


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

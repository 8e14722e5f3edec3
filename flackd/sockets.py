"""Socket details every listener shares: options, the linger before a close, the HTTP
tripwire.

Owns: the socket options of an accepted connection (send buffer, keepalive), the
half-close-and-drain that keeps a reset from destroying the last lines sent, and
recognising an HTTP request sent to a line port. Imports trio and ``flackd.tls``.
"""

from __future__ import annotations

import socket
from typing import Final

import trio

from flackd.tls import end_tls

__all__ = [
    "HTTP_METHODS",
    "LINGER_SECONDS",
    "RECEIVE_BYTES",
    "REFUSAL_LINGER_SECONDS",
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

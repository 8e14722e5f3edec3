"""StreamConnection: a connection whose lines travel through a Trio stream (TLS, WebSocket).

Owns: reading from and writing to a :class:`trio.abc.Stream` layered on the TCP socket (a
:class:`trio.SSLStream` for TLS, :class:`flackd.web.WebSocketStream` for the web port):
``receive_some``, and ``send_all`` of the queued lines joined, at most
:data:`STREAM_BATCH_BYTES` (and whole lines) at a time, so at most that much is in flight
beyond the send queue limit. Everything else (the outbox, its limit, the closing sequence,
the writer task) is :class:`flackd.connection.Connection`'s. Imports trio, the standard
library and :mod:`flackd.connection`.
"""

from __future__ import annotations

from typing import Final

import trio
from trio.lowlevel import checkpoint_if_cancelled

from flackd.connection import Connection

__all__ = ["STREAM_BATCH_BYTES", "StreamConnection"]

#: Most bytes :class:`StreamConnection` hands to one ``send_all`` (one TLS record's worth).
STREAM_BATCH_BYTES: Final = 16 * 1024


class StreamConnection(Connection):
    """A connection whose lines travel through a :class:`trio.abc.Stream` (TLS, WebSocket).

    ``stream`` stays the TCP socket underneath (its peer, its socket options); ``transport``
    is what the lines are read from and written to. Everything but :meth:`receive` and
    :meth:`_send_queued` is :class:`Connection`'s, so every limit applies alike.
    """

    __slots__ = ("transport",)

    def __init__(
        self,
        transport: trio.abc.Stream,
        stream: trio.SocketStream,
        peer: str,
        sendq_limit: int,
        grace: float,
        bye_sendq: bytes,
        registration_timeout: float,
    ) -> None:
        super().__init__(stream, peer, sendq_limit, grace, bye_sendq, registration_timeout)
        self.transport = transport

    async def receive(self, max_bytes: int) -> bytes:
        """Up to ``max_bytes`` from the peer (``transport.receive_some``); ``b""`` at EOF.

        A closed connection reads nothing more; the bytes a cancelled read had taken from
        the socket are not lost (trio's streams guarantee it). Raises
        :class:`trio.BrokenResourceError` when the connection broke.
        """
        await checkpoint_if_cancelled()
        data = await self.transport.receive_some(max_bytes)
        return data if type(data) is bytes else bytes(data)

    async def _send_queued(self) -> None:
        """Hand the queued lines to ``transport.send_all``, joined, whole lines at most
        :data:`STREAM_BATCH_BYTES` at a time (more only for one longer line), until the
        queue is empty. ``send_all`` waits while the peer is not reading, and meanwhile
        :func:`push_to_all` keeps counting against the same send queue limit."""
        queue = self._queue
        send_all = self.transport.send_all
        while queue:
            size = 0
            count = 0
            for line in queue:
                size += len(line)
                count += 1
                if size >= STREAM_BATCH_BYTES:
                    break
            if count == len(queue):
                data = b"".join(queue)
                queue.clear()
            else:
                data = b"".join(queue[:count])
                del queue[:count]
            self.queued -= size
            await send_all(data)

"""Lifecycle: an admitted connection's life, from the hub's hello to its goodbye.

Owns: who reads a connection and when its last writes happen. A plain TCP connection
(Flack's or IRC's wire) is read by the server's :class:`flackd.poller.Poller`, with no
task of its own while it is idle or its lines go straight through; a task is started
for it only while its lines must wait (flood pacing, a full commit queue, the shared
log), which hands it back once it has caught up, and for its close (its last writes,
the linger, the hub told it is gone, the socket closed). A TLS or WebSocket connection,
and any connection where the kernel has no ``epoll``, has a task for its whole life
(:meth:`Lifecycle._live`), with the TLS handshake first. Either way the reader's rules
are :mod:`flackd.reader`'s. A mixin of :class:`flackd.server.Server`. Imports trio,
the standard library and the flackd modules it drives; never flackcli.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

import trio

from flackd.admission import Admission
from flackd.codec import events as e
from flackd.codec.commands import Oper
from flackd.codec.grammar import Verb
from flackd.committer import Committer
from flackd.connection import Connection
from flackd.dispatch import render
from flackd.flusher import Flusher
from flackd.hub import Effect, HubProtocol
from flackd.irc import Monitors
from flackd.poller import Poller
from flackd.reader import CLOSED, DONE, ReadState
from flackd.replica import Replica
from flackd.sockets import RECEIVE_BYTES, linger
from flackd.stream_connection import StreamConnection
from flackd.tls import failure_reason

__all__ = ["Lifecycle"]

log = logging.getLogger("flackd")


class Lifecycle:
    """The connection side of :class:`flackd.server.Server` (see the module docstring)."""

    hub: HubProtocol[Connection]
    committer: Committer[Connection] | Replica | None
    replica: Replica | None
    clock: Callable[[], float]
    connections: set[Connection]
    _unregistered: set[Connection]
    _byes: set[Connection]
    #: OPERs waiting for their password's check (see flackd.dispatch).
    oper_checks: dict[Connection, tuple[Verb, Oper]]
    monitors: Monitors
    flusher: Flusher
    admission: Admission
    _sleep: trio.CancelScope
    _server_error: e.Bye
    #: Reads every plain TCP connection no task reads (None: a task reads each one).
    poller: Poller[ReadState] | None
    #: Where the tasks of connections start (the server's connections nursery).
    nursery: trio.Nursery | None
    #: Set once the last connection is gone, while the server shuts down.
    _all_gone: trio.Event | None
    #: :meth:`_closed`, bound once (every polled connection's ``ReadState.closed``).
    _on_closed: Callable[[ReadState], None]

    if TYPE_CHECKING:

        def apply(self, effects: list[Effect[Connection]]) -> None: ...
        def tell_presence(self, nick: str, *, online: bool) -> None: ...
        def _reading(self, conn: Connection, ip: str = "") -> ReadState: ...
        def _take(self, st: ReadState, data: bytes) -> int: ...
        async def _read(
            self, st: ReadState, outcome: int = DONE, *, until_caught_up: bool = False
        ) -> bool: ...

    # -- the hub's hello and goodbye -----------------------------------------------------

    def _begin(self, conn: Connection) -> None:
        """``conn`` is admitted: the server counts it, the hub learns of it."""
        self.connections.add(conn)
        if conn.registration_deadline < self._sleep.deadline:
            self._sleep.deadline = conn.registration_deadline  # wake housekeeping in time
        self._unregistered.add(conn)
        log.debug("%r connected", conn)
        if self.committer is None:
            self.apply(self.hub.connect(conn, self.clock()))
        else:
            self.committer.submit(conn, "*", self.hub.connect(conn, self.clock()))

    def _forget(self, conn: Connection) -> None:
        """``conn`` is closed: the hub learns it is gone, and those who MONITOR it."""
        self.connections.discard(conn)
        self._unregistered.discard(conn)
        self._byes.discard(conn)
        self.oper_checks.pop(conn, None)  # an OPER whose check was cut short: nobody to answer
        gone = self.hub.nick_of(conn) if self.monitors and not self.replica else None
        if conn.frontend is not None:
            self.monitors.forget(conn)
        if self.committer is None:
            self.apply(self.hub.disconnect(conn, conn.close_reason, self.clock()))
        else:
            self.committer.disconnect(conn, conn.close_reason, self.clock())
        if gone is not None:
            self.tell_presence(gone, online=False)
        log.debug("%r closed: %s", conn, conn.close_reason)
        if not self.connections and self._all_gone is not None:
            self._all_gone.set()

    def _reader_failed(self, conn: Connection, exc: Exception) -> None:
        """``conn``'s reader raised: a reset closes it quietly, a bug (logged) with the
        server's error; either way this connection only."""
        if isinstance(exc, (OSError, trio.BrokenResourceError, trio.ClosedResourceError)):
            conn.close(b"", "connection reset")
        else:
            log.error("%r: internal error; closing this connection only", conn, exc_info=exc)
            conn.close(render(conn, (self._server_error,)), "server error")

    # -- read by the poller --------------------------------------------------------------

    def _enter(self, conn: Connection, ip: str) -> None:
        """An admitted plain TCP connection (its stream not closed until its last task
        is done with it; ``ip`` is released from admission then): the hub learns of it,
        the flusher writes it, the poller reads it. Raises only before the server or the
        hub has learnt of it; once they have, a failure (a bug, or the kernel refusing
        the poller's registration) closes it through its last task like any other, which
        releases all of it, with the server's error for the client."""
        assert self.poller is not None
        assert type(conn) is Connection
        st = self._reading(conn, ip)
        st.closed = self._on_closed
        try:
            self._begin(conn)
            conn.use_flusher(self.flusher)
            self._poll(st)
        except Exception:
            log.exception("%r: internal error while taking it in; closing it", conn)
            conn.on_close = None  # its last task starts here, once
            self.poller.remove(conn.sock.fileno())
            try:
                bye = render(conn, (self._server_error,))
            except Exception:  # its front end is what failed: close without a word
                bye = b""
            conn.close(bye, "server error")
            self._start_end(st)

    def _poll(self, st: ReadState) -> None:
        """The poller reads ``st.conn`` from now on; closing it starts its last task."""
        conn = st.conn
        if conn.is_closing():
            self._start_end(st)
            return
        conn.on_close = st  # calls _closed(st)
        assert self.poller is not None
        self.poller.add(conn.sock.fileno(), st)

    def _ready(self, st: ReadState) -> None:
        """The poller's callback: ``st.conn`` is readable. One read, its lines carried
        out; if one must wait, a task of the connection's own takes over. Never raises."""
        conn = st.conn
        try:
            data = os.read(conn.sock.fileno(), RECEIVE_BYTES)
            outcome = self._take(st, data)
        except BlockingIOError:
            return
        except Exception as exc:
            self._reader_failed(conn, exc)  # closes it: its last task starts
            return
        if outcome == DONE:
            return
        assert self.poller is not None
        self.poller.remove(conn.sock.fileno())
        if outcome != CLOSED:
            conn.on_close = None  # the task's now, and so is the close
            assert self.nursery is not None
            self.nursery.start_soon(self._carry_on, st, outcome)
        # CLOSED: closed already (its last task started), or its BYE waits behind a
        # commit (the close will start it).

    def _closed(self, st: ReadState) -> None:
        """``Connection.on_close`` of a connection no task reads: its last task starts."""
        if self.poller is not None:
            self.poller.remove(st.conn.sock.fileno())
        self._start_end(st)

    def _start_end(self, st: ReadState) -> None:
        assert self.nursery is not None
        self.nursery.start_soon(self._end, st)

    async def _carry_on(self, st: ReadState, outcome: int) -> None:
        """A task for a connection whose lines must wait (``outcome``): once they are
        carried out, the poller reads it again; if it closes, its last writes."""
        conn = st.conn
        ended = True
        try:
            try:
                caught_up = await self._read(st, outcome, until_caught_up=True)
            except Exception as exc:
                self._reader_failed(conn, exc)
                caught_up = False
            if not conn.is_closing():
                ended = False
                if caught_up:
                    self._poll(st)
                else:  # its BYE waits behind a commit: the close starts its last task
                    conn.on_close = st
        finally:
            if ended:
                await self._end(st)

    async def _end(self, st: ReadState) -> None:
        """The last task of a connection the poller read: its last writes (the BYE
        last) within the grace, the linger, then the hub learns it is gone, and its
        address and socket are released. Never raises."""
        conn = st.conn
        try:
            await conn.finish_writes()
            await self._linger(conn)
        finally:
            self._forget(conn)
            self.admission.closed(st.ip)
            await trio.aclose_forcefully(conn.stream)

    def _abandon(self) -> None:
        """The server was cancelled (not shut down): every connection no task holds is
        closed at once, as those with a task were when it was cancelled."""
        for conn in list(self.connections):
            st = conn.on_close
            if isinstance(st, ReadState):
                conn.on_close = None
                self._forget(conn)
                self.admission.closed(st.ip)
                conn.stream.socket.close()

    # -- a task for its whole life ---------------------------------------------------------

    async def _live(
        self,
        conn: Connection,
        handshake: trio.SSLStream[trio.SocketStream] | None = None,
    ) -> None:
        """Serve one admitted connection with a task of its own until it closes: the hub
        learns of it, the TLS handshake (``handshake``) if any, then its writer and its
        reader; then the linger, and the hub learns it is gone. Never raises."""
        try:
            self._begin(conn)
            if handshake is not None and not await self._handshake(conn, handshake):
                return  # the caller closes it, without a linger: TLS never began
            st = self._reading(conn)
            if type(conn) is Connection:
                # Plain TCP where there is no poller: the flusher writes it, and no writer
                # task waits beside the reader (one is started only while the kernel has
                # no room); this task makes the last writes once the reader has returned.
                conn.use_flusher(self.flusher)
                try:
                    await self._read(st)
                except Exception as exc:
                    self._reader_failed(conn, exc)
                await conn.finish_writes()
            else:  # TLS and WebSocket: a writer task makes every write
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(conn.writer)
                    try:
                        await self._read(st)
                    except Exception as exc:
                        self._reader_failed(conn, exc)
            await self._linger(conn)
        finally:
            self._forget(conn)

    async def _linger(self, conn: Connection) -> None:
        """Unless the peer ended it (EOF), wait a moment for the peer's EOF before the
        close, so unread input does not turn it into a reset that destroys the BYE."""
        if conn.closing and conn.close_reason == "connection closed":
            return
        try:
            await linger(conn.transport if isinstance(conn, StreamConnection) else conn.stream)
        except Exception:  # a transport's own protocol error: this connection only
            log.exception("%r: error while closing", conn)

    async def _handshake(self, conn: Connection, stream: trio.SSLStream[trio.SocketStream]) -> bool:
        """Complete the TLS handshake before the reader and the writer start; True if done.

        It runs in the connection's read scope, so whatever closes the connection meanwhile
        ends it: shutdown, or the registration deadline (a client that opens TLS and stalls
        is closed like one that never sends NICK: the handshake counts against
        ``--reg-timeout``). A failed handshake (plain text sent to the TLS port, a client
        that rejects the certificate) closes the connection; it is logged at debug level.
        """
        try:
            with trio.CancelScope() as conn.read_scope:
                if not conn.is_closing():  # closed before it began: said below
                    await stream.do_handshake()
        except (OSError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            conn.close(b"", f"TLS handshake failed: {failure_reason(exc)}")
            return False
        if conn.is_closing():
            conn.close_reason = f"no TLS handshake: {conn.close_reason}"
            return False
        return True  # the reader enters a scope of its own

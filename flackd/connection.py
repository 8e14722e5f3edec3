"""Connection: one client's socket, its bounded outbox and its writes.

Owns: the socket's I/O (``os.read`` for the reader, ``os.writev`` for the writes, on the
non-blocking file descriptor, waiting with ``trio.lowlevel.wait_readable``/``wait_writable``
only when the kernel has nothing to give or no room), the outbox (a list of encoded lines
with byte accounting; the fan-out into outboxes is :mod:`flackd.fanout`), the write the
flusher makes for a connection (:meth:`Connection._flush`) and the writer tasks that write
when the kernel had no room, the closing sequence (last line, flush under a deadline),
and the liveness fields the server's housekeeping task reads. Knows nothing about the hub
or the protocol's meaning. Imports trio, the standard library, :mod:`flackd.flusher`
(whose flusher wakes on a connection's first line) and :mod:`flackd.fanout` (which
pushes into outboxes; it names this module only as a type).

Two transports, one outbox: :class:`Connection` is plain TCP, the fast path above, on the
socket's file descriptor; :class:`flackd.stream_connection.StreamConnection` carries the
same lines through any :class:`trio.abc.Stream` layered on that socket (TLS, WebSocket),
overriding only the two I/O methods, so the outbox, its limit, the closing sequence and
every rule below hold for both alike. A normal install compiles this module with mypyc
(``COMPILED`` in setup.py), and mypyc makes no instance of an interpreted subclass of a
compiled class: a subclass of :class:`Connection` is compiled too, in its own module
(StreamConnection, and the replica's ``Remote``; tests/test_compiled.py checks).

Rules:

1. :func:`~flackd.fanout.push_to_all` (and :meth:`Connection.push`, its one-connection
   form) never awaits and never blocks: fan-out to N members is N appends. If the bytes queued would
   pass ``sendq_bytes``, the queue is dropped, ``BYE SENDQ_EXCEEDED`` becomes the only
   queued line, and the connection closes. Nobody else waits for a slow reader.
   This is the hot path (a 200-member channel runs it 200 times per message), so it does
   the least it can: one addition and comparison for the byte accounting, one append, and
   only for the first line since the last write (the queue was empty) one more step: the
   connection joins the flusher's list (rule 6), or its parked writer is woken.
2. Lines leave in the order they were pushed; nothing is reordered or dropped except by
   the closing of the whole connection. During a pass of the poller a channel's
   broadcasts are held for company (:func:`~flackd.fanout.broadcast`): the next
   broadcast to the same members joins them, and anything else pushed to any
   connection, or a close, pushes them first, so they too keep their place.
3. A closing connection accepts no more lines, flushes what it has within
   ``shutdown_grace`` seconds, and then closes whatever the peer does.
4. The file descriptor is used only while the stream is open: the server closes the
   stream only after the reader and the last writes (:meth:`Connection.finish_writes`,
   or the writer task) have returned; a writer task started for a short write that is
   still waiting then meets the closed socket and ends without writing.
5. "Queued" means not yet handed to the transport: the kernel on the fast path, the
   stream's ``send_all`` for a ``StreamConnection`` (at most one batch in flight beyond
   the limit, like the kernel's send buffer on the fast path).
6. A plain TCP connection given the server's :class:`flackd.flusher.Flusher` (every one
   flackd accepts) is written by it, at the end of each pass of the event loop, one
   ``os.writev`` per connection with lines queued; a writer task of its own only while
   the kernel has no room (:meth:`Connection._start_writer`) and for its last writes
   (:meth:`Connection.finish_writes`). Exactly one of them writes at any time, and one
   queue feeds both (rule 2). Without a flusher (a
   :class:`flackd.stream_connection.StreamConnection`: TLS or WebSocket) a writer task
   runs beside the reader, is woken by the first line pushed and makes one write per
   wake-up. (The flusher's own rules: :mod:`flackd.flusher`.)
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Callable
from typing import Final, Protocol

import trio
from trio.lowlevel import (
    Abort,
    Task,
    cancel_shielded_checkpoint,
    checkpoint_if_cancelled,
    current_task,
    reschedule,
    wait_readable,
    wait_task_rescheduled,
    wait_writable,
)

from flackd.fanout import HeldEvents, push_to_all, release_hold
from flackd.flusher import Flusher

__all__ = [
    "Connection",
    "Frontend",
]

log = logging.getLogger("flackd")

_ids: Final = itertools.count(1)


class Frontend(Protocol):
    """What a connection needs from the front end of a wire that is not Flack's."""

    def render(self, event: object) -> bytes:
        """The bytes of ``event`` (a broadcast) for this connection; b"" for none."""
        ...

    def passthrough(self, data: bytes) -> bytes:
        """Every line on its way into the outbox (rendered or not): what goes in instead
        (the same bytes, usually; IRC's labeled responses are kept until they are whole)."""
        ...


class HasFileno(Protocol):
    """A socket, as far as writing to it goes."""

    def fileno(self) -> int: ...


#: Most buffers one ``os.writev`` call takes (Linux's IOV_MAX).
IOV_MAX: Final = os.sysconf("SC_IOV_MAX") if hasattr(os, "sysconf") else 1024


class Connection:
    """The server side of one TCP connection. Hashable by identity (the hub's handle)."""

    __slots__ = (
        "_blocked",
        "_drained",
        "_flusher",
        "_head_is_partial",
        "_parked",
        "_queue",
        "_spare",
        "_writer_done",
        "_writing",
        "answers_pings",
        "awaiting_pong",
        "bye_sendq",
        "close_reason",
        "closing",
        "frontend",
        "grace",
        "id",
        "idle_pings",
        "last_input",
        "on_close",
        "password_given",
        "peer",
        "ping_sent_at",
        "queued",
        "read_scope",
        "registration_deadline",
        "sendq_bytes",
        "sendq_limit",
        "sock",
        "stream",
        "write_scope",
    )

    def __init__(
        self,
        stream: trio.SocketStream,
        peer: str,
        sendq_limit: int,
        grace: float,
        bye_sendq: bytes,
        registration_timeout: float,
    ) -> None:
        self.id = next(_ids)
        self.stream = stream
        #: The standard socket beneath Trio's, for its ``fileno()``: a C call, -1 once the
        #: socket is closed (Trio's is a Python method around the same call, paid on
        #: every write the flusher makes). Trio's own where it has none.
        self.sock: HasFileno = getattr(stream.socket, "_sock", stream.socket)
        self.peer = peer
        #: The send queue limit, and the one :func:`~flackd.fanout.push_to_all` checks:
        #: the same, except for a connection with a ``frontend`` (where it is -1, see
        #: :meth:`_slow_push`) and a closing one.
        self.sendq_bytes = sendq_limit
        self.sendq_limit = sendq_limit
        #: What renders events for this connection when its wire is not Flack's (the IRC
        #: front end); None for Flack's own lines (the fast path).
        self.frontend: Frontend | None = None
        self.grace = grace
        self.bye_sendq = bye_sendq
        #: Encoded lines not yet taken by the kernel, oldest first (a list: cheaper than a
        #: deque per idle connection). After a short write the first one may be the rest
        #: of a line whose start was sent: a memoryview, and _head_is_partial is True.
        self._queue: list[bytes | memoryview] = []
        self._head_is_partial = False
        #: The last read took less than it asked for (so the kernel had nothing more):
        #: the next one waits for readability before it reads.
        self._drained = True
        #: What the next line pushed wakes, else None: the writer task while it waits for
        #: lines (then the queue is empty), or, for a connection the server's
        #: :class:`Flusher` writes, that flusher while the connection is not in its list
        #: and no writer task writes it (rule 6).
        self._parked: Task | Flusher | None = None
        #: The writer task (of a connection without a flusher) while it is blocked
        #: waiting to be woken, by a line or to close, else None.
        self._blocked: Task | None = None
        #: The server's flusher, for a connection whose writes it makes (see
        #: :meth:`use_flusher`); None: the writer task makes them all.
        self._flusher: Flusher | None = None
        #: With a flusher: a task is writing this connection (a writer task started for
        #: a write the kernel did not take whole, or :meth:`finish_writes`), so the
        #: flusher leaves it alone.
        self._writing = False
        #: Set when the writer task started for this connection has finished.
        self._writer_done: trio.Event | None = None
        #: That writer task while it waits, parked, for the flusher's next short write.
        self._spare: Task | None = None
        #: Bytes in the queue, not yet taken by the kernel.
        self.queued = 0
        self.closing = False
        self.close_reason = "connection closed"
        #: The scope the reader runs in while a task reads (closing cancels it); made by
        #: that task (an idle connection the poller reads has none).
        self.read_scope: trio.CancelScope | None = None
        #: The scope the last writes run in (closing gives it its deadline); made by
        #: the close or by the writer task, whichever comes first.
        self.write_scope: trio.CancelScope | None = None
        #: Called once when the connection begins to close, if set: the server's, for a
        #: connection no task reads (its poller's), to start the task of its last writes.
        self.on_close: Callable[[], None] | None = None
        # Liveness, kept here for the server's housekeeping task (trio.current_time() values).
        now = trio.current_time()
        #: When the client must have registered; math.inf once it has.
        self.registration_deadline = now + registration_timeout
        #: When the last bytes arrived.
        self.last_input = now
        #: Token of the server PING this client has not answered yet, and when it was sent.
        self.awaiting_pong: str | None = None
        self.ping_sent_at = 0.0
        #: True once the client has answered a server PING (so it is a program that will).
        self.answers_pings = False
        #: It gave the server's password (PASS), on a server that has one.
        self.password_given = False
        #: False once a PING went unanswered by a client that never answers (a person).
        self.idle_pings = True

    def __repr__(self) -> str:
        return f"<Connection {self.id} {self.peer}>"

    def is_closing(self) -> bool:
        """True once the connection has begun to close (a call, so type checkers re-read it)."""
        return self.closing

    # -- called by fan-out: synchronous, never blocks --------------------------------

    def push(self, data: bytes) -> None:
        """Queue encoded lines for this client, or close it if its send queue is full."""
        push_to_all((self,), data)

    def use_frontend(self, frontend: Frontend) -> None:
        """Lines for this connection are rendered by ``frontend`` (a wire that is not
        Flack's). Every broadcast then takes :meth:`_slow_push`, which renders it."""
        self.frontend = frontend
        self.sendq_limit = -1

    def use_flusher(self, flusher: Flusher) -> None:
        """Let ``flusher`` make this connection's writes (rule 6): no writer task then,
        but :meth:`finish_writes` once the reader has returned. Only for the plain TCP
        fast path, before any other write."""
        assert type(self) is Connection, "a StreamConnection's writer does its own writes"
        self._flusher = flusher
        if self._queue:
            flusher.add(self)  # lines queued already (the greeting): this pass
        else:
            self._parked = flusher

    def _slow_push(self, data: bytes, event: object) -> None:
        """:func:`~flackd.fanout.push_to_all`'s slow path: a full send queue, a closing
        connection, or a connection with a ``frontend``. For those, ``event`` (when given:
        a broadcast) is rendered by the front end instead of ``data`` (Flack's line);
        without an event, ``data`` is already this connection's own bytes (:meth:`push`)."""
        if self.closing:
            return
        frontend = self.frontend
        if frontend is not None:
            try:
                if type(event) is HeldEvents:  # a held broadcast: each line, rendered in turn
                    data = b"".join(
                        [frontend.passthrough(frontend.render(ev)) for ev in event.events]
                    )
                else:
                    if event is not None:
                        data = frontend.render(event)
                    data = frontend.passthrough(data)
            except Exception:  # a bug in the front end ends this connection only
                log.exception("%r: internal error rendering a line; closing it", self)
                self.close(b"", "server error")
                return
            if not data:
                return
            queued = self.queued + len(data)
            if queued <= self.sendq_bytes:
                self.queued = queued
                self._queue.append(data)
                self._wake_writer()
                return
        self._no_room()

    def _no_room(self) -> None:
        """The slow path of :meth:`push`: closing already, or the send queue is full."""
        if self.closing:
            return  # a closing connection accepts nothing more
        queue = self._queue
        # Drop what is queued, but not the rest of a line the kernel has already taken the
        # start of: the client must get whole lines, then the BYE on a line of its own.
        head = queue[0] if queue and self._head_is_partial else None
        queue.clear()
        self.queued = 0
        if head is not None:
            queue.append(head)
            self.queued = len(head)
        self.close(self.bye_sendq, "send queue exceeded")

    def close(self, last_line: bytes, reason: str) -> None:
        """Queue ``last_line`` (a BYE), stop reading, flush within the grace, then close."""
        # Lines held for this connection go before its BYE. First: pushing them may close
        # it (a full send queue), and then that close is the one that counts.
        release_hold()
        if self.closing:
            return
        self.closing = True
        self.sendq_limit = -1  # so every push takes the slow path, which drops it
        self.close_reason = reason
        if last_line:
            self._queue.append(last_line)
            self.queued += len(last_line)
        if self.read_scope is not None:
            self.read_scope.cancel()
        deadline = trio.current_time() + self.grace
        scope = self.write_scope
        if scope is None:
            self.write_scope = trio.CancelScope(deadline=deadline)
        else:
            scope.deadline = min(scope.deadline, deadline)
        self._take_over()  # a writer task flushes what is queued, and returns
        spare = self._spare
        if spare is not None:  # a parked writer task of the flusher's: it ends
            self._spare = None
            reschedule(spare)
        on_close = self.on_close
        if on_close is not None:
            self.on_close = None
            on_close()

    def _wake_writer(self) -> None:
        """A line was queued: wake what :attr:`_parked` names (as
        :func:`~flackd.fanout.push_to_all` does)."""
        waker = self._parked
        if waker is not None:
            self._parked = None
            if type(waker) is Flusher:
                waker.add(self)
            else:
                self._blocked = None
                reschedule(waker)

    def _take_over(self) -> None:
        """Wake the writer task of a connection without a flusher (if it is blocked), to
        write what is queued and return: the connection is closing. (A connection the
        flusher writes makes its last writes in :meth:`finish_writes`.)"""
        task = self._blocked
        if task is not None:
            self._blocked = None
            self._parked = None
            reschedule(task)

    def finish(self, reason: str) -> None:
        """The peer is done sending: flush what is queued within the grace, then close."""
        self.close(b"", reason)

    # -- the reader's side -----------------------------------------------------------------

    async def receive(self, max_bytes: int) -> bytes:
        """Up to ``max_bytes`` from the peer, waiting until some arrive; ``b""`` at EOF.

        ``os.read`` on the non-blocking socket (the writer's ``os.writev`` in reverse).
        After a read that filled ``max_bytes`` more is likely waiting, so it reads again
        at once (with a checkpoint, so a client that never stops sending cannot hold the
        event loop); after a shorter one the kernel had nothing more, so it waits for
        readability first instead of paying a read that would find nothing.
        Raises :class:`OSError` when the connection was reset. (Where the server has a
        poller, :mod:`flackd.lifecycle`, it reads plain TCP connections itself.)
        """
        await checkpoint_if_cancelled()  # a closed connection reads nothing more
        sock = self.stream.socket
        if not self._drained:
            try:
                data: bytes | None = os.read(sock.fileno(), max_bytes)
            except BlockingIOError:
                data = None  # wait outside the except block: it would keep the exception
            if data is not None:
                self._drained = len(data) < max_bytes
                await cancel_shielded_checkpoint()  # shielded: these bytes must not be lost
                return data
        while True:
            await wait_readable(sock)
            try:
                data = os.read(sock.fileno(), max_bytes)
            except BlockingIOError:  # pragma: no cover - a spurious wake-up
                continue
            self._drained = len(data) < max_bytes
            return data

    # -- the writer task ----------------------------------------------------------------

    async def writer(self) -> None:
        """Send everything queued, one ``os.writev`` per wake-up, until closed and flushed:
        the writer task of a connection without a flusher (TLS, WebSocket).

        Cancellation: runs inside :attr:`write_scope`, whose deadline :meth:`close` sets.
        Returns normally when the connection is closing and the queue is empty, when the
        deadline passes, or when the peer has gone (broken or closed stream).
        """
        assert self._flusher is None, "the flusher writes this connection: finish_writes"
        queue = self._queue
        with self._write_scope():
            try:
                while True:
                    if queue:
                        await self._send_queued()
                    elif self.closing:
                        return
                    else:
                        task = current_task()
                        self._blocked = task
                        self._parked = task
                        await wait_task_rescheduled(self._unpark_on_cancel)
            except (OSError, trio.BrokenResourceError, trio.ClosedResourceError):
                self.close(b"", "connection reset")  # no-op if it was closing already

    async def finish_writes(self) -> None:
        """The last writes of a connection the flusher writes, from its own task once the
        reader has returned: wait until the connection closes (a BYE may wait behind a
        commit, and the flusher goes on writing meanwhile), then for a writer task
        started for a short write to finish, then flush what is queued (its BYE last)
        within ``shutdown_grace``. Returns when the queue is empty, when the deadline
        passes, or when the peer has gone; the stream may then be closed (rule 4)."""
        with self._write_scope():
            try:
                if not self.closing:  # woken by close() (_take_over)
                    self._blocked = current_task()
                    await wait_task_rescheduled(self._unpark_on_cancel)
                done = self._writer_done
                if done is not None:
                    await done.wait()
                self._writing = True  # the flusher leaves it alone from now on
                self._parked = None
                await self._send_queued()
            except (OSError, trio.BrokenResourceError, trio.ClosedResourceError):
                self.close(b"", "connection reset")  # no-op if it was closing already

    async def _write_rest(self) -> None:
        """The writer task the flusher starts at a connection's first write the kernel did
        not take whole: wait for room and write everything queued, then give the
        connection back to the flusher and wait, parked, until the next such write or
        the close (so a busy connection pays for one task, not one per burst; a
        connection that never fills its socket buffer never has one). At the close it
        ends, and :meth:`finish_writes` makes the last writes. Never raises (it runs in
        the server's connections nursery): a bug closes this connection only."""
        try:
            while True:
                await self._send_queued()
                if self.closing:
                    return
                self._writing = False  # back to the flusher
                self._parked = self._flusher
                self._spare = current_task()
                await wait_task_rescheduled(self._unspare_on_cancel)
                if self.is_closing():  # woken by close(), not by a short write
                    return
        except (OSError, trio.BrokenResourceError, trio.ClosedResourceError):
            self.close(b"", "connection reset")
        except Exception:
            log.exception("%r: internal error while writing; closing this connection only", self)
            self.close(b"", "server error")
        finally:
            self._spare = None
            done = self._writer_done
            if done is not None:
                done.set()

    def _write_scope(self) -> trio.CancelScope:
        scope = self.write_scope
        if scope is None:
            scope = self.write_scope = trio.CancelScope()
        return scope

    def _unspare_on_cancel(self, _raise_cancel: object) -> Abort:
        """The parked writer task is being cancelled (the server is stopping)."""
        self._spare = None
        return Abort.SUCCEEDED

    async def _send_queued(self) -> None:
        """Hand everything queued to the kernel, waiting only while its buffer is full.

        ``os.writev`` takes the queued lines as they are (no join, no copy) in one system
        call per wake-up; the socket is non-blocking, so a full kernel buffer shows as a
        short count or ``BlockingIOError``, and then the writer waits for the socket to
        become writable. Safe because the stream is closed only after the writer returns.
        """
        queue = self._queue
        sock = self.stream.socket
        fd = self.sock.fileno()
        while queue:
            if not self._write_some(fd):
                await wait_writable(sock)

    def _write_some(self, fd: int) -> bool:
        """One ``os.writev`` of the queued lines (the first :data:`IOV_MAX` of them), as
        they are; what the kernel took leaves the queue. True if it took all it was given,
        False after a short write or none at all (its buffer is full: wait until the
        socket is writable). Raises :class:`OSError` when the peer has gone."""
        queue = self._queue
        batch = queue if len(queue) <= IOV_MAX else queue[:IOV_MAX]
        try:
            sent = os.writev(fd, batch)
        except BlockingIOError:
            return False
        if sent == self.queued:  # all of it: the usual case
            self.queued = 0
            queue.clear()
            self._head_is_partial = False
            return True
        return self._took(batch, sent)

    def _took(self, batch: list[bytes | memoryview], sent: int) -> bool:
        """The kernel took ``sent`` bytes of ``batch`` (the queue, or its first
        :data:`IOV_MAX` lines), not everything queued: they leave the queue. True if it
        took the whole batch."""
        queue = self._queue
        self.queued -= sent
        whole = 0  # lines sent in full
        for line in batch:
            if sent < len(line):
                break
            sent -= len(line)
            whole += 1
        if sent:  # the kernel took the start of a line: keep the rest, uncopied
            queue[whole] = memoryview(queue[whole])[sent:]
        del queue[:whole]
        self._head_is_partial = sent > 0
        return batch is not queue and not sent  # else a short write: the buffer is full

    def _flush(self) -> bool:
        """The flusher's write (rule 6): one ``os.writev`` of everything queued, unless a
        task is writing this connection. If the kernel did not take it all, a writer task
        is started to wait for room (True: the loop must not sleep); if the peer has gone,
        the connection closes. (:meth:`_write_some` written out, as this is paid for
        every connection written in every pass.)"""
        if self._writing:
            return False
        queue = self._queue
        batch = queue if len(queue) <= IOV_MAX else queue[:IOV_MAX]
        try:
            sent = os.writev(self.sock.fileno(), batch)
        except BlockingIOError:
            return self._start_writer()
        except OSError:
            self.close(b"", "connection reset")  # its reader ends; finish_writes returns
            return True  # the close woke a task or started one
        if sent == self.queued:  # all of it: the usual case
            self.queued = 0
            queue.clear()
            self._head_is_partial = False
            self._parked = self._flusher
            return False
        self._took(batch, sent)
        if not queue:
            self._parked = self._flusher
            return False
        return self._start_writer()

    def _start_writer(self) -> bool:
        """Wake this connection's writer task, or start it, for what the flusher could not
        write (True if it did). A closing connection's last writes are
        :meth:`finish_writes`'s."""
        flusher = self._flusher
        if self._writing or self.closing or flusher is None or flusher.nursery is None:
            return False
        self._writing = True
        self._parked = None
        spare = self._spare
        if spare is not None:
            self._spare = None
            reschedule(spare)
            return True
        self._writer_done = trio.Event()
        flusher.started += 1
        flusher.nursery.start_soon(self._write_rest)
        return True

    def _unpark_on_cancel(self, _raise_cancel: object) -> Abort:
        """The parked writer is being cancelled (the grace deadline passed)."""
        self._parked = None
        self._blocked = None
        return Abort.SUCCEEDED

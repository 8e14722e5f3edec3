"""The flusher: one Trio instrument that writes every plain TCP connection's lines at the
end of each pass of the event loop (and of each pass of the poller).

Owns: :class:`Flusher`, when a connection's queued lines are handed to the kernel (the
write itself is :meth:`flackd.connection.Connection._flush`), how long they may wait for
company, and the writer tasks it starts for writes the kernel did not take whole. Imports
trio and the standard library; :mod:`flackd.connection` only for its type (that module
imports this one).

Rule 6 of :mod:`flackd.connection`, in full (the rules it names are that module's):

Fewer system calls, no task switch per delivery, and no writer task per connection:
a plain TCP connection given the server's :class:`Flusher` (every one flackd
accepts) is written by it. The flusher is a Trio instrument: at the end of each pass
of the event loop, once every task that was ready has run and just before the loop
asks the kernel for I/O, it makes one ``os.writev`` per connection with lines queued,
so the lines of every message read in that pass leave together. The poller's pass,
which reads the plain TCP connections, ends the same way (:meth:`Flusher.after_reads`):
what its reads queued leaves before the rest of the loop's pass runs, not after it,
which at low load is the difference between a quiet event loop and Trio's own pass
(tens of µs on a cold cache) before the first delivery. While the loop is
busy it may first let at most ``--write-delay-us`` (0 by default: none) and
:data:`GATHER_PASSES` passes go by, so that more lines ride in each call; it never
holds lines while the loop is about to sleep. Such a connection has no writer task
until the kernel first does not take its lines whole: then the flusher starts one (in
the server's connections nursery), which waits for room, writes everything queued,
hands the connection back when its queue is empty, and waits, parked, for the next
such write (an idle connection never has one); while it writes the flusher leaves
the connection alone, so exactly one of them writes at any time and lines keep their
order (rule 2: one queue feeds both). Closing is the connection's last task's (its
own, or the one :attr:`Connection.on_close` starts for a connection no task reads):
once its reader has returned it waits for such a writer task, then flushes the
rest, the BYE last (rule 3), with :meth:`Connection.finish_writes`. Without a flusher
(a :class:`flackd.stream_connection.StreamConnection`, TLS or WebSocket) a writer task
runs beside the reader, is woken by the first line pushed and makes one write per
wake-up.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Final, final

import trio

if TYPE_CHECKING:
    from flackd.connection import Connection

__all__ = ["GATHER_PASSES", "Flusher"]

#: Most passes of the scheduler the :class:`Flusher` lets run while it gathers lines (its
#: bound besides its delay: a pass is a few µs when the loop is idle, and a clock that
#: stands still while tasks run, such as Trio's MockClock, must not hold it forever).
GATHER_PASSES: Final = 16


@final
class Flusher(trio.abc.Instrument):
    """Writes every connection with lines queued at the end of each pass of the scheduler
    (rule 6), so that no connection needs a writer task of its own.

    It is a Trio instrument, not a task: its :meth:`before_io_wait` runs once per pass of
    the event loop, after every task that was ready has run and just before the loop asks
    the kernel for I/O, which is the one moment at which every line that pass produced
    (the readers', the committer's) is queued. A connection's first line since its last
    write adds it to the flusher's list; the lines after it are appends. When the loop is
    busy (tasks are ready, so it will not sleep) and ``delay`` is above 0, the lines may
    wait for at most ``delay`` seconds and :data:`GATHER_PASSES` passes, so that more of
    them ride in each ``os.writev``; they never wait while the loop is about to sleep.
    For a connection whose lines the kernel did not take whole it starts a writer task
    in :attr:`nursery`, which waits for room and hands the connection back.
    """

    __slots__ = (
        "_dirty",
        "_held",
        "_since",
        "commit",
        "delay",
        "nursery",
        "passes",
        "started",
        "writes",
    )

    def __init__(self, delay: float) -> None:
        #: Seconds lines may wait for company while the loop is busy (0: none).
        self.delay = delay
        self._dirty: list[Connection] = []
        #: trio.current_time() when the oldest connection in the list joined it.
        self._since = 0.0
        #: Passes the list has been held back for (at most GATHER_PASSES).
        self._held = 0
        #: Where writer tasks for short writes are started (the server's connections
        #: nursery, set once it is open).
        self.nursery: trio.Nursery | None = None
        #: Passes that wrote, connections written in them, and writer tasks started for
        #: writes the kernel did not take whole (for tests and profiling).
        self.passes = 0
        self.writes = 0
        self.started = 0
        #: Called first at the end of every pass, if set: commits what the pass held (the
        #: server sets :meth:`flackd.committer.Committer.end_of_pass`), so the lines it
        #: releases are written in the same pass. Returns whether it released anything.
        self.commit: Callable[[], bool] | None = None

    def add(self, conn: Connection) -> None:
        """``conn`` has lines queued and its writer task waits: write them this pass."""
        dirty = self._dirty
        if not dirty and self.delay:
            self._since = trio.current_time()
        dirty.append(conn)

    def before_io_wait(self, timeout: float) -> None:
        """The end of a pass: one ``os.writev`` per connection with lines queued."""
        commit = self.commit
        woke = commit is not None and commit()  # what it released may have woken a task
        dirty = self._dirty
        if dirty:
            if (
                self.delay
                and timeout == 0  # tasks are ready: the loop will not sleep
                and self._held < GATHER_PASSES
                and trio.current_time() - self._since < self.delay
            ):
                self._held += 1
                return
            woke |= self._write(dirty)
        if woke and timeout:  # the loop would sleep with a task ready: wake it
            trio.lowlevel.current_trio_token().run_sync_soon(_nothing)

    def after_reads(self) -> None:
        """The poller's pass is over (:meth:`flackd.poller.Poller.run`): write what its
        reads queued now, before the rest of the event loop's pass, unless lines may wait
        for company (``delay``). Called from the poller's task, so a writer task this
        wakes runs in this pass or the next: the loop is not about to sleep."""
        dirty = self._dirty
        if dirty and not self.delay:
            self._write(dirty)

    def _write(self, dirty: list[Connection]) -> bool:
        """One ``os.writev`` per connection in ``dirty`` (the whole list, which is
        emptied); whether that woke a task."""
        self._held = 0
        self._dirty = []
        woke = False
        for conn in dirty:
            try:
                woke |= conn._flush()
            except Exception:  # an instrument that raises is removed: never let it
                woke |= conn._start_writer()
        self.passes += 1
        self.writes += len(dirty)
        return woke


def _nothing() -> None:
    """What the flusher asks the event loop to run, only to keep it from sleeping."""

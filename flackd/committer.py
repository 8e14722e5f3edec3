"""Committer: effects wait for the store to confirm what they acknowledge (group commit).

Owns: the queue of effects held back while a commit runs, the commit loop (one task),
group commit, the bound on how much may wait, and what a failed commit does. Imports trio,
the standard library, ``flackd.codec``, ``flackd.hub`` and ``flackd.store`` (the
interface only: it never names a database).

Used only when flackd has a store (``--data-dir``); without one the server applies effects
at once and none of this runs.

Rules:

1. **Acknowledged means stored.** A command that changed state (the hub's journal grew)
   has its effects held until the commit holding the change has returned: the sender's
   echo, the OK, and every other member's copy. Nobody sees a change the store may lose.
2. **One order.** Once anything is held, every later effect and line queues behind it,
   whoever it is for, so each connection gets its lines in the order the hub made them.
   When nothing is held and a command changed nothing (PING, HISTORY, LIST...), its
   effects go out at once: reads cost nothing extra.
3. **Group commit.** Each commit takes everything submitted since the last one. A commit
   that is short CPU work (SQLite with ``synchronous=normal``) runs on the event loop at
   the end of each pass of the scheduler (:meth:`Committer.end_of_pass`, called by the
   server's flusher just before it writes): everything the readers of that pass held is
   committed at once, and the lines it releases leave in the same pass, as they would
   without a store. Bounded by ``commit_queue``, it holds the loop for a millisecond or
   two at most, far less than a worker thread costs on a busy core (measured in
   docs/performance.md). A commit that waits for the disk (``synchronous=full``) runs in
   a worker thread (``trio.to_thread``) from the commit loop, a task. Housekeeping that
   may take long (copying a large WAL) runs in a worker thread between commits, from the
   same task. Fan-out never awaits.
4. **Bounded.** At most ``commit_queue`` commands wait behind the running commit (which
   itself holds at most as many); past it, readers stop reading
   (:meth:`Committer.wait_room`) until a commit frees room, so TCP pushes back.
5. **A failed commit** (disk full, I/O error) stores nothing. The hub is reset to what the
   store holds (so its memory never runs ahead of the disk), every command whose changes
   were lost gets ``ERR STORAGE_FAILED`` instead of its effects (nothing echoed, nothing
   delivered), reads that waited behind it are answered again from the restored state,
   and for ``store_retry`` seconds commands that would change state are refused with the
   same error at once, while reads (and disconnects) go on. A connection closing still
   closes (a QUIT; the old connection of a RESUME, whose session is restored as a dropped
   one), and others still hear that it left. A connection whose NICK or RESUME was lost is
   unregistered again, and the server restarts its registration deadline.
6. **Closing keeps the order.** While anything is held, a BYE of the server's own (a
   timeout, too much junk) is held too, behind the lines already due; and a client's EOF
   is acted on only after everything it sent before has been answered
   (:meth:`Committer.barrier`).
"""

from __future__ import annotations

import logging
import math
import sys
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

import trio

from flackd.codec import commands as c
from flackd.codec import events as e
from flackd.codec.grammar import Verb
from flackd.hub import Close, Effect, HubProtocol, Reply
from flackd.store import Changes, Store, StoreError

__all__ = ["Committer", "carry_out", "writes"]

C = TypeVar("C", bound=Hashable)

log = logging.getLogger("flackd")

#: Samples kept for the timing summary (:meth:`Committer.summary`).
STATS_SAMPLES: Final = 10_000

#: Kinds of held work.
READ: Final = 0
WRITE: Final = 1
LEAVE: Final = 2  # a disconnect: carried out even if its commit fails

#: Python's GIL switch interval while the committer runs (seconds; the default is 0.005).
#: A commit in its worker thread gives the GIL up inside SQLite and must get it back to go
#: on; while the event loop is busy that wait lasts up to one switch interval, every time.
#: The interval matters only while another thread waits, so a short one costs nothing
#: when no commit is running.
SWITCH_INTERVAL: Final = 0.0002

_REGISTERING: Final = (c.Nick, c.Resume)
_WRITING: Final = (
    c.Nick, c.Resume, c.Join, c.Create, c.Part, c.Invite, c.Kick, c.Msg, c.Action, c.Notice,
    c.Delete, c.Edit, c.Mark, c.Oper, c.Kill,
)  # fmt: skip


def carry_out(
    hub: HubProtocol[C], conn: C, verb: Verb, command: c.Command, now: float, verdict: str | None
) -> list[Effect[C]]:
    """``command`` through the hub; an OPER whose password was checked already (off the
    event loop: ``verdict``, :meth:`HubProtocol.check_oper`) through ``oper_checked``."""
    if verdict is not None:
        assert isinstance(command, c.Oper)
        return hub.oper_checked(conn, command.name, verdict, now)
    return hub.handle(conn, verb, command, now)


def writes(command: c.Command) -> bool:
    """Whether ``command`` may change stored state (refused while the store is failing)."""
    if isinstance(command, c.Topic):
        return command.text is not None  # a query reads
    if isinstance(command, c.Mode):
        return bool(command.words)  # a query reads (a ban list, too, but goes in order)
    return isinstance(command, _WRITING)


@dataclass(slots=True)
class _Held(Generic[C]):
    conn: C | None  # the connection the command came from, or the line is for
    verb: str
    effects: Sequence[Effect[C]] | bytes
    kind: int
    was_registered: bool
    #: A read's command, to run again if the commit it waited behind fails (its effects
    #: were made from a state that is then undone).
    command: tuple[Verb, c.Command, float, str | None] | None = None
    #: Set once the item has gone out (see :meth:`Committer.barrier`).
    done: trio.Event | None = None


class Committer(Generic[C]):
    """Holds effects behind the store's commits (see the module docstring)."""

    def __init__(
        self,
        hub: HubProtocol[C],
        store: Store,
        apply: Callable[[Sequence[Effect[C]]], None],
        push: Callable[[C, bytes], None],
        *,
        clock: Callable[[], float],
        max_queue: int,
        retry_seconds: float,
        unregistered: Callable[[C], None] = lambda _conn: None,
    ) -> None:
        """``unregistered`` is told of each connection a failed commit left without a
        session (its NICK or RESUME was lost), so the server can start its registration
        deadline again."""
        self.hub = hub
        self.store = store
        self._apply = apply
        self._push = push
        self._unregistered = unregistered
        self._clock = clock
        self.max_queue = max_queue
        self.retry_seconds = retry_seconds
        self._open: list[_Held[C]] = []
        self._busy = False
        self._work = trio.Event()
        self._room = trio.Event()
        self._idle = trio.Event()
        self._idle.set()
        #: trio.current_time() until which changes are refused after a failed commit.
        self.refusing_until = -math.inf
        #: Commits made and failed (for tests and logs).
        self.commits = 0
        self.failures = 0
        #: Recent commit durations and, per commit, how long the oldest of its effects
        #: had waited when it went out (seconds), for the summary logged at the end
        #: (:meth:`summary`); bounded reservoirs.
        self._commit_times: deque[float] = deque(maxlen=STATS_SAMPLES)
        self._waits: deque[float] = deque(maxlen=STATS_SAMPLES)
        #: trio.current_time() when the oldest of :attr:`_open` was held, and when the
        #: oldest of the batch being committed was.
        self._held_since = 0.0
        self._batch_since = 0.0
        self._changes = 0
        #: Whether commits are made by :meth:`end_of_pass` (the server's flusher calls it
        #: at the end of every pass) rather than by the commit loop; see :meth:`on_passes`.
        self.on_pass = False
        #: An error :meth:`end_of_pass` could not raise (it runs inside an instrument),
        #: raised by the commit loop instead.
        self._crash: BaseException | None = None

    # -- called by the server, synchronously -------------------------------------------

    def handle(
        self, conn: C, verb: Verb, command: c.Command, now: float, verdict: str | None = None
    ) -> None:
        """Run ``command`` through the hub and hold its effects as the rules say
        (``verdict``: an OPER's, checked already, see :func:`carry_out`)."""
        hub = self.hub
        journal = hub.journal
        assert journal is not None
        if self.refusing_until != -math.inf and self._refusing() and writes(command):
            self.submit(conn, "*", [Reply(conn, [_storage_error(verb.name, self.refusing_until)])])
            return
        # Only NICK and RESUME register a connection: for them, note whether it already was
        # (a failed commit then knows whom to unregister again).
        registered = type(command) not in _REGISTERING or hub.is_registered(conn)
        before = journal.count
        effects = carry_out(hub, conn, verb, command, now, verdict)
        if journal.count != before:
            self.submit(conn, verb.name, effects, WRITE, registered)
        elif not self._busy and not self._open:
            self._apply(effects)  # a read with nothing held: out at once
        else:
            again = (verb, command, now, verdict)
            self._hold(_Held(conn, verb.name, effects, READ, registered, again))

    def disconnect(self, conn: C, reason: str, now: float) -> None:
        self.submit(conn, "*", self.hub.disconnect(conn, reason, now), LEAVE, True)

    def submit(
        self,
        conn: C | None,
        verb: str,
        effects: Sequence[Effect[C]] | bytes,
        kind: int = READ,
        was_registered: bool = True,
    ) -> None:
        """Apply ``effects`` now if nothing is held and they acknowledge no change;
        otherwise hold them for the commit loop."""
        if kind == READ and not self._busy and not self._open:
            if isinstance(effects, bytes):
                self._push_to(conn, effects)
            else:
                self._apply(effects)
            return
        self._hold(_Held(conn, verb, effects, kind, was_registered))

    def _refusing(self) -> bool:
        """Whether changes are refused still (after a failed commit)."""
        if self.refusing_until > trio.current_time():
            return True
        self.refusing_until = -math.inf  # over: no clock reading per command until the next
        return False

    def _hold(self, held: _Held[C]) -> None:
        if not self._open:
            # The first held since the last commit: its wait is the longest of its batch,
            # the one the statistics keep (a clock reading per commit, not per command).
            self._held_since = trio.current_time()
            if self._idle.is_set():
                self._idle = trio.Event()
        self._open.append(held)
        if not self.on_pass:
            self._work.set()

    def holding(self) -> bool:
        """True while anything waits for a commit (then a close must wait its turn too)."""
        return self._busy or bool(self._open)

    async def barrier(self, conn: C | None = None) -> None:
        """Wait until everything submitted so far has gone out (or been refused). (All
        of it, whoever it is for: ``conn`` is the one that asks.)

        Unlike :meth:`flush`, this waits only for what is held now, not for everything
        others submit meanwhile, so it ends even under constant load.
        """
        if not self.holding():
            return
        done = trio.Event()
        self._hold(_Held(None, "*", b"", READ, True, done=done))
        await done.wait()

    def _push_to(self, conn: C | None, data: bytes) -> None:
        if conn is not None:
            self._push(conn, data)

    def full(self) -> bool:
        return len(self._open) >= self.max_queue

    async def wait_room(self) -> None:
        """Wait until fewer than ``max_queue`` commands are held (readers call this)."""
        while self.full():
            if self._room.is_set():
                self._room = trio.Event()
            await self._room.wait()

    def summary(self) -> str:
        """Commits so far and their recent timings, for the log."""
        if not self.commits:
            return f"{self.failures} failed commits, none made"
        mean = self._changes / max(1, self.commits + self.failures)
        return (
            f"{self.commits} commits ({self.failures} failed), {mean:.1f} commands each on "
            f"average; commit time {_quantiles(self._commit_times)}; longest hold per commit "
            f"{_quantiles(self._waits)}"
        )

    async def flush(self) -> None:
        """Wait until everything submitted so far has been committed and applied."""
        while self._open or self._busy:
            await self._idle.wait()

    # -- commits at the end of each pass -----------------------------------------------

    def on_passes(self) -> bool:
        """Make commits at the end of each pass (:meth:`end_of_pass`) from now on, if the
        store's commits are short CPU work; returns whether it does. Call it before
        :meth:`run` starts, and only with something that calls :meth:`end_of_pass` once
        per pass of the event loop (the server's flusher)."""
        self.on_pass = not self.store.commit_in_thread
        return self.on_pass

    def end_of_pass(self) -> bool:
        """Commit everything held and release its effects, now, on the event loop.

        Called once at the end of each pass of the scheduler, before the flusher writes,
        so what the readers of the pass held is committed together and its lines leave
        in the same pass. Returns whether anything was released (a task may then have been
        woken, and the loop must not sleep). Never raises: it runs inside a Trio
        instrument, which Trio would remove; an unexpected error is raised by the commit
        loop instead.
        """
        if self._busy or not self._open:
            return False
        try:
            self._commit_open()
            if not self._open:
                self._idle.set()
            if self.store.maintenance_due():
                self._busy = True  # what arrives meanwhile waits for it (see _maintain)
                self._work.set()
        except Exception as exc:  # pragma: no cover - a bug: crash as the task would
            self._crash = exc
            self._busy = True
            self._work.set()
        return True

    def _commit_open(self) -> None:
        """Commit everything held, on the event loop, and release it (or undo it)."""
        taken = self._take()
        if taken is None:
            return
        batch, changes = taken
        started = trio.current_time()
        try:
            self.store.commit(changes)
        except StoreError as exc:
            self._failed(batch, exc)
        else:
            self._committed(batch, started)

    def _take(self) -> tuple[list[_Held[C]], Changes] | None:
        """Take everything held and the changes it made; None if it made none (then it
        has been released already)."""
        batch, self._open = self._open, []
        self._batch_since = self._held_since
        self._room.set()
        changes = self.hub.take_changes()
        if changes is None:
            self._release(batch)
            return None
        self._changes += len(batch)
        return batch, changes

    def _committed(self, batch: list[_Held[C]], started: float) -> None:
        now = trio.current_time()
        self._commit_times.append(now - started)
        self._waits.append(now - self._batch_since)
        self.commits += 1
        self._release(batch)

    async def _maintain(self) -> None:
        """The commit loop when :meth:`end_of_pass` commits: housekeeping only."""
        while True:
            await self._work.wait()
            self._work = trio.Event()
            if self._crash is not None:
                raise self._crash
            try:
                # Off the loop; end_of_pass commits nothing meanwhile (``_busy``).
                await trio.to_thread.run_sync(self.store.maintain)
            finally:
                self._busy = False
            if not self._open:
                self._idle.set()

    # -- the commit loop ---------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Commit and release, forever. Cancel it only after :meth:`flush`."""
        previous = sys.getswitchinterval()
        sys.setswitchinterval(min(previous, SWITCH_INTERVAL))
        try:
            await self._run(task_status)
        finally:
            sys.setswitchinterval(previous)

    async def _run(self, task_status: trio.TaskStatus[None]) -> None:
        """Commits that wait for the disk, each in a worker thread; or, when
        :meth:`end_of_pass` commits, housekeeping only."""
        task_status.started()
        if self.on_pass:
            await self._maintain()
        while True:
            if not self._open:
                self._idle.set()
                self._work = trio.Event()
                await self._work.wait()
            # No waiting out a refusal window here: changes are refused up front by
            # handle(), and what is held now (reads, disconnects) must not wait for it.
            # One more turn of the scheduler first: every reader already woken adds its
            # lines to this commit (fewer, larger commits when busy; a turn when idle).
            await trio.lowlevel.checkpoint()
            taken = self._take()
            if taken is None:
                continue
            batch, changes = taken
            self._busy = True
            started = trio.current_time()
            try:
                # Not abandoned on cancellation: a commit, once started, is waited for.
                await trio.to_thread.run_sync(self.store.commit, changes)
            except StoreError as exc:
                self._failed(batch, exc)
            else:
                self._committed(batch, started)
                if self.store.maintenance_due():
                    # Between commits, off the loop: what arrives meanwhile waits for it.
                    await trio.to_thread.run_sync(self.store.maintain)
            finally:
                self._busy = False

    def _release(self, batch: list[_Held[C]]) -> None:
        for held in batch:
            if isinstance(held.effects, bytes):
                self._push_to(held.conn, held.effects)
            else:
                self._apply(held.effects)
            if held.done is not None:
                held.done.set()

    def _failed(self, batch: list[_Held[C]], exc: StoreError) -> None:
        """Nothing of ``batch`` (nor of what was submitted since) was stored: undo it."""
        self.failures += 1
        self.refusing_until = trio.current_time() + self.retry_seconds
        log.error(
            "could not store changes in %s: %s; refusing changes for %g s",
            self.store.where,
            exc,
            self.retry_seconds,
        )
        pending = batch + self._open
        self._open = []
        self._room.set()
        self.hub.take_changes()  # the journal's notes are void: the reload below rules
        lost = {
            h.conn
            for h in pending
            if h.kind == WRITE and not h.was_registered and h.conn is not None
        }
        self.hub.restore(self.store.load(), self._clock(), unregister=lost)
        for conn in lost:
            self._unregistered(conn)
        for held in pending:
            if held.kind == WRITE:
                if held.conn is not None:
                    error = _storage_error(held.verb, self.refusing_until)
                    self._apply([Reply(held.conn, [error])])
                assert not isinstance(held.effects, bytes)
                # Connections still close: a QUIT's own, and a RESUME's ghost (its session,
                # restored, is a dropped one that its old token brings back). Nothing else
                # of a lost change goes out.
                self._apply([ef for ef in held.effects if type(ef) is Close])
            elif held.command is not None and held.conn is not None:
                # A read made from the undone state: answer it from the restored one.
                verb, command, now, verdict = held.command
                self._apply(carry_out(self.hub, held.conn, verb, command, now, verdict))
            else:
                self._release([held])
                continue
            if held.done is not None:
                held.done.set()


def _quantiles(values: deque[float]) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    pick = [ordered[int(len(ordered) * q)] * 1e3 for q in (0.5, 0.99)]
    return f"p50 {pick[0]:.2f} ms, p99 {pick[1]:.2f} ms, max {ordered[-1] * 1e3:.2f} ms"


def _storage_error(verb: str, until: float) -> e.Error:
    retry = max(1, math.ceil(until - trio.current_time()))
    return e.Error(
        "STORAGE_FAILED",
        verb,
        (f"retry={retry}",),
        f"the server could not store this, so it was not carried out; try again in {retry} s",
    )

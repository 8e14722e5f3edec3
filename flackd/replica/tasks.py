"""The tasks of a node of a shared chat: joining, the log reader, the writer, the lease
keeper, snapshots, starting again, leaving.

Owns: :class:`ReplicaTasks`, a mixin of :class:`flackd.replica.Replica`: everything
that waits for the shared store. Imports trio, the standard library, ``flackd.codec``,
``flackd.connection``, ``flackd.hub``, ``flackd.limits``, the shared-log interface
(``flackd.store.log``) and ``flackd.replica.entries``.
"""

from __future__ import annotations

import gc
import json
import logging
import math
import zlib
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import trio

from flackd.connection import Connection
from flackd.hub import Hub
from flackd.hub import image as hub_image
from flackd.limits import Limits
from flackd.replica.entries import (
    BATCH,
    BYE,
    CMD,
    RETRY_FIRST,
    RETRY_MAX,
    Append,
    empty_image,
    entry_body,
    pack_image,
)
from flackd.store.log import (
    EpochChanged,
    LogEntry,
    LogError,
    LogGap,
    LogRefused,
    LogUncertain,
    NodeFenced,
    SharedLog,
)

__all__ = ["ReplicaTasks"]

log = logging.getLogger("flackd")


class ReplicaTasks:
    """The waiting side of :class:`flackd.replica.Replica` (see the module docstring)."""

    hub: Hub[Connection]
    log: SharedLog
    limits: Limits
    config: str
    applied: int
    started_from: int
    ready: bool
    refusing_until: float
    restarts: int
    appends: int
    _stopping: bool
    _joined: trio.Event
    _restart: trio.Event
    _restart_reason: str
    _retire_first: bool
    _snapshot_wanted: trio.Event
    _snapshotting: bool
    _outgoing: deque[Append]
    _awaiting: dict[int, Append]
    _next_num: int
    _work: trio.Event
    _room: trio.Event
    _idle: trio.Event
    _by_key: dict[str, Connection]
    _clock: Callable[[], float]
    _local_conns: Callable[[], Iterable[Connection]]
    _close_all: Callable[[str], None]

    if TYPE_CHECKING:

        async def flush(self) -> None: ...
        def _reset_state(self) -> None: ...
        def _run_entries(self, entries: list[LogEntry]) -> None: ...
        def _conn_of(self, key: str) -> Connection: ...
        def _key_of(self, conn: Connection) -> str | None: ...
        def _answer_failed(self, item: Append, code: str) -> None: ...
        def _refused(self, batch: list[Append], exc: LogError, code: str) -> None: ...

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Join the cluster, catch up, then read, write and keep the lease, forever; start
        again as a new incarnation whenever this node must (see rule 5)."""
        started = False
        while True:
            await self._join()
            if not started:
                started = True
                task_status.started()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._reader)
                nursery.start_soon(self._writer)
                nursery.start_soon(self._keeper)
                nursery.start_soon(self._snapshots)
                await self._restart.wait()
                nursery.cancel_scope.cancel()
            await self._start_over(self._restart_reason)

    async def stop(self, deadline: float) -> None:
        """Shutdown: wait (until ``deadline``) for what is on its way, then leave."""
        self._stopping = True
        with trio.move_on_at(deadline):
            await self.flush()
        with trio.move_on_at(deadline + 1.0):
            try:
                await self.log.retire()
            except LogError as exc:
                log.warning("cluster: could not retire node %s: %s", self.log.node, exc)

    async def _join(self) -> None:
        """Join as a new incarnation, load the newest snapshot and read the log to its end."""
        delay = RETRY_FIRST
        while True:
            try:
                epoch = await self.log.join(self.config)
                found = await self.log.load_snapshot()
                self._load(epoch, found)
                for conn in self._local_conns():  # accepted meanwhile: the hub knows it
                    if not conn.is_closing():
                        self.hub.connect(conn, self._clock())
                while entries := await self.log.read(self.applied, 0):
                    self._run_entries(entries)
                break
            except (LogRefused, LogUncertain, EpochChanged, LogGap, NodeFenced) as exc:
                log.warning("cluster: cannot join yet (%s); trying again", exc)
                await trio.sleep(delay)
                delay = min(RETRY_MAX * 5, delay * 2)
        self.ready = True
        self._joined.set()
        log.info(
            "cluster: node %s joined %s at log entry %d (epoch %d)",
            self.log.node, self.log.where, self.applied, epoch,
        )  # fmt: skip

    def _load(self, epoch: int, found: tuple[int, bytes] | None) -> None:
        hub = self.hub
        self.applied = self.started_from = 0
        if found is None:
            hub_image.load(hub, empty_image(hub, epoch), self._conn_of)
            return
        seq, data = found
        try:
            image = json.loads(zlib.decompress(data))
        except (zlib.error, ValueError) as exc:
            raise LogError(f"the snapshot in {self.log.where} cannot be read: {exc}") from exc
        self.started_from = seq
        if image.get("boot") != epoch:
            hub_image.load(hub, empty_image(hub, epoch), self._conn_of)
            return
        try:
            hub_image.load(hub, image, self._conn_of)
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise LogError(
                f"the snapshot in {self.log.where} is not one this flackd can load: {exc}"
            ) from exc
        for key in image.get("let_go", ()):
            self._conn_of(key)
        self.applied = seq

    async def _start_over(self, reason: str) -> None:
        log.warning("cluster: node %s starts again: %s", self.log.node, reason)
        self.restarts += 1
        for item in list(self._awaiting.values()):  # sent: it may be in the log
            if item.kind == CMD and not item.done:
                self._answer_failed(item, "STORAGE_UNKNOWN")
        for item in list(self._outgoing):  # never sent
            if item.kind == CMD and not item.done:
                self._answer_failed(item, "STORAGE_FAILED")
        self._close_all(reason)
        if self._retire_first:
            # Still alive in Redis (it fell behind, say): let the old incarnation go now,
            # so its users are not left looking present until its lease runs out.
            with trio.move_on_after(self.limits.redis_timeout):
                try:
                    await self.log.retire()
                except LogError as exc:
                    log.warning("cluster: could not retire %s: %s", self.log.node, exc)
        self._room.set()  # whoever waits for room or an answer looks again
        self._idle.set()
        self._reset_state()

    def _must_restart(self, reason: str, *, alive: bool = False) -> None:
        """Start again as a new incarnation; ``alive``: this one is still alive in the
        store (not fenced, same epoch), so it retires first."""
        if self._stopping:
            return  # retiring: being declared dead is the point
        if not self._restart.is_set():
            self._retire_first = alive
            self._restart_reason = reason
            self._restart.set()

    async def _reader(self) -> None:
        delay = RETRY_FIRST
        while True:
            try:
                entries = await self.log.read(self.applied, 1.0)
            except LogRefused as exc:
                log.warning("cluster: cannot read the log (%s); trying again", exc)
                await trio.sleep(delay)
                delay = min(RETRY_MAX, delay * 2)
                continue
            except LogGap as exc:
                self._must_restart(str(exc), alive=True)
                return
            except (EpochChanged, NodeFenced) as exc:
                self._must_restart(str(exc))
                return
            delay = RETRY_FIRST
            self._run_entries(entries)

    async def _writer(self) -> None:
        bye_delay = RETRY_FIRST
        while True:
            while not self._outgoing:
                self._work = trio.Event()
                await self._work.wait()
            await trio.lowlevel.checkpoint()  # every reader already woken adds its lines
            batch = [self._outgoing.popleft() for _ in range(min(BATCH, len(self._outgoing)))]
            first = self._next_num
            for i, item in enumerate(batch):
                item.num = first + i
            bodies = [entry_body(item) for item in batch]
            for item in batch:
                self._awaiting[item.num] = item
            deadline = trio.current_time() + self.limits.redis_timeout
            delay = RETRY_FIRST
            sent = False  # once an attempt may have run, a refusal proves nothing
            leaving = any(item.kind == BYE for item in batch)
            while True:
                try:
                    await self.log.append(first, bodies)
                except (LogRefused, LogUncertain) as exc:
                    sent = sent or isinstance(exc, LogUncertain)
                    if not sent:
                        self._next_num = first  # nothing was stored: the numbers are free
                        self._refused(batch, exc, "STORAGE_FAILED")
                        if leaving:  # sent again, but not in a tight loop
                            await trio.sleep(bye_delay)
                            bye_delay = min(RETRY_MAX, bye_delay * 2)
                        break
                    if trio.current_time() + delay >= deadline and not self._gave_up(batch):
                        # Past --redis-timeout: the senders are told the outcome is
                        # unknown. A batch with a connection's going away in it is tried
                        # on with the same numbers until Redis answers: stored once.
                        self._refused(batch, exc, "STORAGE_UNKNOWN")
                        if not leaving:
                            self._next_num = first + len(batch)
                            break
                    await trio.sleep(delay)
                    delay = min(RETRY_MAX, delay * 2)
                    continue  # the same numbers: stored at most once
                except (NodeFenced, EpochChanged) as exc:
                    self._must_restart(str(exc))
                    return
                else:
                    self._next_num = first + len(batch)
                    self.appends += 1
                    self.refusing_until = -math.inf  # the store answers again
                    bye_delay = RETRY_FIRST
                    break

    @staticmethod
    def _gave_up(batch: list[Append]) -> bool:
        """Whether the senders of ``batch`` were already told its outcome is unknown."""
        return all(item.done for item in batch if item.kind == CMD)

    async def _keeper(self) -> None:
        """Renew the lease, declare dead nodes dead, and save a snapshot when one is due."""
        lease = self.limits.redis_lease
        # Reap only after a whole lease in touch with Redis: after an outage (or Redis's
        # restart) every lease has run out, and the other nodes need that long to renew
        # theirs before anyone may call them dead.
        in_touch_since = trio.current_time()
        while True:
            await trio.sleep(lease / 3)
            try:
                await self.log.renew()
                self.refusing_until = -math.inf  # the store answers again
                in_touch_since = min(in_touch_since, trio.current_time())
                if trio.current_time() - in_touch_since >= lease:
                    dead = await self.log.reap()
                    if dead:
                        log.warning("cluster: node(s) %s declared dead (lease ran out)", dead)
                if not self._snapshotting and not self._stopping:
                    self._snapshot_wanted.set()  # its own task: renewals never wait for it
            except (NodeFenced, EpochChanged) as exc:
                self._must_restart(str(exc))
                return
            except LogError as exc:
                in_touch_since = math.inf
                log.warning("cluster: cannot keep the lease (%s); trying again", exc)

    async def _snapshots(self) -> None:
        """Save a snapshot when one is due (asked by the keeper, checked in Redis)."""
        while True:
            await self._snapshot_wanted.wait()
            self._snapshot_wanted = trio.Event()
            self._snapshotting = True
            try:
                if await self.log.snapshot_due(self.applied, self.limits.redis_snapshot_every):
                    await self.snapshot()
            except (NodeFenced, EpochChanged) as exc:
                self._must_restart(str(exc))
                return
            except LogError as exc:
                log.warning("cluster: could not save a snapshot (%s)", exc)
            finally:
                self._snapshotting = False

    async def snapshot(self) -> None:
        """Save an image of the hub as of the last entry run (one node does, now and then;
        tests call it directly)."""
        seq = self.applied
        collecting = gc.isenabled()
        gc.disable()  # the dump makes many objects and no cycles: no collection halfway
        try:
            image = hub_image.dump(self.hub, self._key_of)  # on the loop: one state
        finally:
            if collecting:
                gc.enable()
        # Connections the hub let go of (QUIT, a RESUME elsewhere) whose BYE is still to
        # come: their entries until then must find them known, and do nothing.
        held = {key for key, _sid in image["conns"]}
        image["let_go"] = [key for key in self._by_key if key not in held]
        data = await trio.to_thread.run_sync(pack_image, image)
        if await self.log.save_snapshot(seq, data):
            log.info("cluster: snapshot at log entry %d saved (%d bytes)", seq, len(data))

    # -- appends -----------------------------------------------------------------------------

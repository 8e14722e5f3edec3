"""Replica: this node's copy of a chat that several flackd nodes share through one log.

Owns: what the server does instead of running a command through its hub at once when
flackd runs as one node of several (``--redis``): turning each command that changes the
shared state into a log entry, reading the log and running every entry, from every
node, through the local hub in log order, keeping each local connection's replies in
the order of its lines, the handles of other nodes' connections (:class:`Remote`),
leases, snapshots, and what a failure of the shared store does. Imports trio, the
standard library, ``flackd.codec``, ``flackd.connection``, ``flackd.hub``,
``flackd.limits`` and the shared-log interface (``flackd.store.log``): never a concrete
store (no Redis here), never a front end.

How it works (docs/cluster.md, "How it works"):

1. **One log, one order.** Every command that changes shared state (NICK, JOIN, MSG...,
   and a connection going away) is appended to the shared log, with the time and number
   the store gives it. Every node reads the whole log and runs each entry through its
   own hub in that order, so every hub holds the same state, message ids included: the
   rules live in the hub, once, and the store only orders and keeps entries.
2. **Acknowledged means stored.** A command's effects (the sender's echo, the OK, every
   member's copy, on every node) exist only once its entry came back from the log, so
   nothing is acknowledged that the store does not hold.
3. **Each connection's order.** A command that changes nothing (HISTORY, NAMES, PING...)
   is answered at once from the local hub, unless a change of the same connection is
   still on its way through the log: then it waits behind it, so replies keep the order
   of the lines. Deliveries of others' changes go out as their entries are run.
4. **Other nodes' connections** are :class:`Remote` handles: the hub treats them as it
   treats local ones; nothing is ever sent to them from here (their node sends).
5. **Failures.** A write the store refused is answered ``ERR STORAGE_FAILED`` (it did not
   happen); one whose outcome is unknown past ``--redis-timeout`` gets
   ``ERR STORAGE_UNKNOWN`` (it may have: HISTORY tells); for ``--store-retry`` seconds after
   either, changes are refused at once while reads go on. A connection going away is
   retried until it is stored. If this node was declared dead (it was paused or cut off
   past its lease) or the store lost its data, the node closes every client connection
   with ``BYE SHUTDOWN`` (they resume elsewhere, or here), forgets its copy and joins
   again as a new incarnation.
6. **Snapshots.** Now and then one node saves an image of its hub (:mod:`flackd.hub.image`)
   with the log number it covers; a new node starts from the newest image, and the log
   behind it is trimmed.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import logging
import math
import secrets
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import trio

from flackd import __version__
from flackd.codec import commands as c
from flackd.codec import events as e
from flackd.codec.grammar import VERBS, Verb
from flackd.connection import Connection
from flackd.hub import Broadcast, Effect, Hub, Reply, hash_token
from flackd.hub import image as hub_image
from flackd.limits import Limits
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

__all__ = ["Remote", "Replica", "shared"]

log = logging.getLogger("flackd")

#: Entries one append carries at most.
BATCH: Final = 256
#: Seconds between two attempts of an append whose outcome was unknown, and between reads
#: while the store is unreachable (doubling up to the second one).
RETRY_FIRST: Final = 0.05
RETRY_MAX: Final = 1.0
#: The limits every node of a cluster must share: they shape the state the rules build.
SHARED_LIMITS: Final = (
    "history", "dm_history", "max_conversations", "max_channels", "max_joins",
    "channel_creates", "resume_ttl", "max_detached", "whowas",
)  # fmt: skip

#: Kinds of appended work.
CMD: Final = "c"
BYE: Final = "b"

_SHARED: Final = (
    c.Nick, c.Resume, c.Join, c.Create, c.Part, c.Msg, c.Action, c.Delete, c.Edit, c.Mark,
    c.Invite, c.Quit,
)  # fmt: skip
_NAMING: Final = (c.Nick, c.Resume, c.Quit)
_REGISTERING: Final = (c.Nick, c.Resume)
_COMMANDS: Final = {name: getattr(c, name) for name in c.__all__ if name != "Command"}


def shared(command: c.Command) -> bool:
    """Whether ``command`` changes (or reaches beyond this node into) the shared state,
    and so goes through the log."""
    return isinstance(command, _SHARED) or (type(command) is c.Topic and command.text is not None)


class Remote(Connection):
    """The hub's handle for a connection of another node. It is always "closing", so
    fan-out (:func:`flackd.connection.push_to_all`) skips it at the cost of one check."""

    __slots__ = ("key",)

    def __init__(self, key: str) -> None:  # no socket: nothing of Connection's is used
        self.key = key
        self.id = -1
        self.peer = key
        self.closing = True
        self.close_reason = "remote"
        self.sendq_limit = -1
        self.sendq_bytes = 0
        self.queued = 0
        self.frontend = None
        self._queue = []
        self._parked = None

    def __repr__(self) -> str:
        return f"<Remote {self.key}>"


@dataclass(slots=True, eq=False)
class _Append:
    """One entry this node wants in the log."""

    kind: str
    conn: Connection
    key: str  # the connection's key in the log: "<node>/<n>"
    parts: list[Any]  # the body, without its number
    verb: str = "*"
    token: str = ""  # the new resume token of a NICK or RESUME (the log holds its hash)
    num: int = 0  # set when sent
    #: Set once it was answered (applied, or refused): its connection's queue moves on.
    done: bool = False
    since: float = 0.0


@dataclass(slots=True, eq=False)
class _Local:
    """A local connection's side of the log."""

    n: int
    key: str = ""
    appended: bool = False
    #: What waits for an append of this connection: _Append markers, reads (verb and
    #: command), lines of the server's own (bytes) and effects, in the order they came.
    queue: deque[Any] = field(default_factory=deque)


class Replica:
    """This node's side of a shared chat (see the module docstring). It offers the
    server the same calls as :class:`flackd.committer.Committer`."""

    def __init__(
        self,
        hub: Hub[Connection],
        shared_log: SharedLog,
        apply: Callable[[Sequence[Effect[Connection]]], None],
        *,
        limits: Limits,
        registered: Callable[[Connection], None],
        presence: Callable[[str, bool], None],
        close_all: Callable[[str], None],
        clock: Callable[[], float],
        local_conns: Callable[[], Iterable[Connection]] = tuple,
    ) -> None:
        """``registered`` is told of each local connection that has just registered;
        ``presence`` of each nick that came online (True) or went offline (False);
        ``close_all`` is asked to close every client connection (with a reason) when this
        node must start again."""
        self.hub = hub
        self.log = shared_log
        self._apply_out = apply
        self.limits = limits
        self._registered = registered
        self._presence = presence
        self._close_all = close_all
        self._clock = clock
        self._local_conns = local_conns
        self.config = json.dumps(
            {"flackd": __version__, **{k: getattr(limits, k) for k in SHARED_LIMITS}},
            sort_keys=True,
        )
        self._reset_state()
        self.restarts = 0
        self.appends = 0
        self.failures = 0
        self._stopping = False

    def _reset_state(self) -> None:
        #: trio.current_time() until which changes are refused after a failed append.
        self.refusing_until = -math.inf
        #: False until this incarnation has joined and caught up: changes are refused.
        self.ready = False
        self._joined = trio.Event()
        self._locals: dict[Connection, _Local] = {}
        #: Every connection the log has spoken of, by key: local ones until their going
        #: away is run, other nodes' (Remote) until theirs is, or their node's death.
        self._by_key: dict[str, Connection] = {}
        self._key_for: dict[Connection, str] = {}
        self._outgoing: deque[_Append] = deque()
        self._awaiting: dict[int, _Append] = {}
        self._next_num = 1
        self._next_conn = 0
        self.applied = 0
        #: The log entry the snapshot this node started from covers (0: none).
        self.started_from = 0
        self._ran = trio.Event()  # set (and replaced) each time entries have been run
        self._running: _Append | None = None  # this node's own entry being run
        self._work = trio.Event()
        self._room = trio.Event()
        self._idle = trio.Event()
        self._idle.set()
        self._restart = trio.Event()
        self._snapshot_wanted = trio.Event()
        self._snapshotting = False
        self._restart_reason = ""
        self._retire_first = False
        self._open = 0  # appends not yet answered

    # -- called by the server, synchronously (the Committer's interface) ---------------

    def handle(self, conn: Connection, verb: Verb, command: c.Command, now: float) -> None:
        """Run ``command``: through the log if it changes shared state, else at once (or
        behind this connection's own changes still on their way)."""
        local = self._local(conn)
        if shared(command) and (
            local.queue or type(command) in _REGISTERING or self.hub.is_registered(conn)
        ):
            if self.refusing_until > trio.current_time() or not self.ready:
                self.submit(conn, "*", [Reply(conn, [_storage_error(verb.name, self)])])
                return
            if not local.appended:
                local.key = f"{self.log.node}/{local.n}"
            token = ""
            extra: Any = None
            if type(command) is c.Nick:
                token = secrets.token_urlsafe(16)
                extra = hash_token(token)
            elif type(command) is c.Resume:
                token = secrets.token_urlsafe(16)
                extra = [hash_token(command.token), hash_token(token)]
                command = c.Resume("")  # the log holds hashes, never a token
            body = [local.n, verb.name, _encode(command), extra]
            local.appended = True
            self._send(_Append(CMD, conn, local.key, body, verb.name, token))
            return
        if local.queue:
            local.queue.append((verb, command))
        else:
            self._out(self.hub.handle(conn, verb, command, now))

    def disconnect(self, conn: Connection, reason: str, now: float) -> None:
        local = self._locals.pop(conn, None)
        if local is None or not local.appended:
            self._out(self.hub.disconnect(conn, reason, now))
            return
        local.queue.clear()  # nobody left to answer
        self._send(_Append(BYE, conn, local.key, [local.n, reason]))

    def submit(
        self,
        conn: Connection | None,
        verb: str,
        effects: Sequence[Effect[Connection]] | bytes,
        kind: int = 0,
        was_registered: bool = True,
    ) -> None:
        """Send ``effects`` (or a line of the server's own) now, or behind the changes of
        ``conn`` still on their way."""
        local = self._locals.get(conn) if conn is not None else None
        if local is not None and local.queue:
            local.queue.append(effects)
            return
        if isinstance(effects, bytes):
            if conn is not None:
                conn.push(effects)
        else:
            self._out(effects)

    def holding(self) -> bool:
        return self._open > 0

    async def barrier(self, conn: Connection | None = None) -> None:
        """Wait until what ``conn`` sent so far has been answered."""
        if conn is None:
            return
        local = self._locals.get(conn)
        while local is not None and local.queue and self._locals.get(conn) is local:
            await self._answered()

    def full(self) -> bool:
        return self._open >= self.limits.commit_queue

    async def wait_room(self) -> None:
        while self.full():
            await self._answered()

    async def flush(self) -> None:
        """Wait until every append so far has been answered (bounded at shutdown by the
        caller's deadline)."""
        while self._open:
            await self._idle.wait()

    async def wait_ready(self) -> None:
        """Wait until this node (or its current incarnation) has joined and caught up."""
        await self._joined.wait()

    async def wait_applied(self, seq: int) -> None:
        """Wait until this node has run the log up to entry ``seq``."""
        while self.applied < seq:
            await self._ran.wait()

    def summary(self) -> str:
        return (
            f"node {self.log.node}: {self.applied} log entries run, {self.appends} appends "
            f"({self.failures} failed), {self.restarts} restarts"
        )

    # -- the tasks -------------------------------------------------------------------------

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
            hub_image.load(hub, _empty_image(hub, epoch), self._conn_of)
            return
        seq, data = found
        try:
            image = json.loads(zlib.decompress(data))
        except (zlib.error, ValueError) as exc:
            raise LogError(f"the snapshot in {self.log.where} cannot be read: {exc}") from exc
        self.started_from = seq
        if image.get("boot") != epoch:
            hub_image.load(hub, _empty_image(hub, epoch), self._conn_of)
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
            bodies = [_body(item) for item in batch]
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
    def _gave_up(batch: list[_Append]) -> bool:
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
        data = await trio.to_thread.run_sync(_pack, image)
        if await self.log.save_snapshot(seq, data):
            log.info("cluster: snapshot at log entry %d saved (%d bytes)", seq, len(data))

    # -- appends -----------------------------------------------------------------------------

    def _local(self, conn: Connection) -> _Local:
        local = self._locals.get(conn)
        if local is None:
            self._next_conn += 1
            local = _Local(self._next_conn)
            self._locals[conn] = local
        return local

    def _send(self, item: _Append) -> None:
        item.since = trio.current_time()
        if item.key not in self._by_key:
            self._remember(item.key, item.conn)
        local = self._locals.get(item.conn)
        if local is not None and item.kind == CMD:
            local.queue.append(item)
        self._outgoing.append(item)
        self._open += 1
        if self._idle.is_set():
            self._idle = trio.Event()
        self._work.set()

    def _refused(self, batch: list[_Append], exc: LogError, code: str) -> None:
        self.failures += 1
        self.refusing_until = trio.current_time() + self.limits.store_retry
        log.error("cluster: could not store %d change(s): %s", len(batch), exc)
        leaving: list[_Append] = []
        for item in batch:
            if item.kind == BYE:
                if code == "STORAGE_FAILED":  # not stored: sent again, sooner or later
                    leaving.append(item)
                continue
            if code == "STORAGE_FAILED":
                self._awaiting.pop(item.num, None)
            self._answer_failed(item, code)
        for item in reversed(leaving):
            self._awaiting.pop(item.num, None)
            self._outgoing.appendleft(item)
        self._answered_one()

    def _answer_failed(self, item: _Append, code: str) -> None:
        """``item`` will not be (or may not have been) carried out: tell its connection
        in its turn, and let what waited behind it go on."""
        if item.done:
            return
        item.done = True
        self._open -= 1
        local = self._locals.get(item.conn)
        if local is not None:
            error = _storage_error(item.verb, self, code)
            _replace(local.queue, item, [Reply(item.conn, [error])])
            self._drain(item.conn, local)
        self._answered_one()

    # -- running the log -------------------------------------------------------------------

    def _run_entries(self, entries: list[LogEntry]) -> None:
        for entry in entries:
            try:
                self._run(entry)
            except Exception:  # a bug: every node hits it alike; the log goes on
                log.exception("cluster: entry %d could not be run", entry.seq)
                item, self._running = self._running, None
                if item is not None and not item.done:  # its connection must not hang
                    item.done = True
                    local = self._locals.get(item.conn)
                    if local is not None:
                        error = _storage_error(item.verb, self, "STORAGE_UNKNOWN")
                        _replace(local.queue, item, [Reply(item.conn, [error])])
                        self._drain(item.conn, local)
            self._running = None
            self.applied = entry.seq
            if self._restart.is_set():
                break  # this node is dead (or lost the store): nothing after counts here
        self._answered_one()
        self._ran.set()
        self._ran = trio.Event()

    def _run(self, entry: LogEntry) -> None:
        body = json.loads(entry.body)
        kind = body[0]
        now = entry.time
        mine = entry.origin == self.log.node
        if kind == "dead":
            self._node_died(body[1], now)
            return
        num, n = body[1], body[2]
        key = f"{entry.origin}/{n}"
        item = self._running = self._take(num) if mine else None
        hub = self.hub
        conn = self._by_key.get(key)
        if conn is None:
            # A connection the log has not spoken of: a new one (of another node; this
            # node's own are known from their first append). Its BYE is its last entry, so
            # a key forgotten is never seen again.
            conn = self._conn_of(key)
            if not mine:
                hub.connect(conn, now)
        if kind == BYE:
            before = hub.nick_of(conn)
            self._out(hub.disconnect(conn, body[3], now))
            self._forget(key)
            if before is not None:
                self._presence(before, False)
            if item is not None:
                item.done = True
            return
        verb_name, data, extra = body[3], body[4], body[5]
        verb = VERBS[verb_name]
        command = _decode(data)
        naming = isinstance(command, _NAMING)
        before = hub.nick_of(conn) if naming else None
        token = item.token if item is not None else ""
        if type(command) is c.Resume:
            hub.mint = lambda: (token, extra[1])
            effects = hub.resume_hashed(conn, extra[0], now)
        else:
            if type(command) is c.Nick:
                hub.mint = lambda: (token, extra)
            effects = hub.handle(conn, verb, command, now)
        hub.mint = None
        local = self._locals.get(conn) if mine else None
        if local is not None and item is not None and not item.done:
            item.done = True
            _replace(local.queue, item, effects)
            self._drain(conn, local)
        else:
            self._out(effects)
        if naming:
            after = hub.nick_of(conn)
            if local is not None and before is None and after is not None:
                self._registered(conn)
            if (before or "").lower() != (after or "").lower():
                if before:
                    self._presence(before, False)
                if after:
                    self._presence(after, True)

    def _take(self, num: int) -> _Append | None:
        """This node's append ``num``, now run; earlier ones not run by now never will be
        (one node's entries are in the log in the order of their numbers): forget them."""
        awaiting = self._awaiting
        while awaiting:
            first = next(iter(awaiting))
            if first >= num:
                break
            lost = awaiting.pop(first)
            if not lost.done:  # pragma: no cover - refusals are answered when they happen
                self._answer_failed(lost, "STORAGE_FAILED")
        item = awaiting.pop(num, None)
        if item is not None and not item.done:
            self._open -= 1
        return item

    def _node_died(self, node: str, now: float) -> None:
        if node == self.log.node:
            self._must_restart("this node was declared dead (its lease ran out)")
            return
        prefix = node + "/"
        # In an order every node shares (the connections' numbers), whether it ran the
        # whole log or started from a snapshot: it decides which dropped sessions a full
        # --max-detached forgets.
        keys = [k for k in self._by_key if k.startswith(prefix)]
        for key in sorted(keys, key=lambda k: int(k.rsplit("/", 1)[1])):
            conn = self._by_key[key]
            self._forget(key)
            before = self.hub.nick_of(conn)
            self._out(self.hub.disconnect(conn, f"node {node} lost", now))
            if before is not None:
                self._presence(before, False)

    def _drain(self, conn: Connection, local: _Local) -> None:
        """Carry out what waited in ``conn``'s queue, up to its next change on its way."""
        queue = local.queue
        while queue:
            head = queue[0]
            if type(head) is _Append:
                if not head.done:
                    return
                queue.popleft()
                continue
            queue.popleft()
            if isinstance(head, tuple):
                verb, command = head
                self._out(self.hub.handle(conn, verb, command, self._clock()))
            elif isinstance(head, bytes):
                conn.push(head)
            else:
                self._out(head)

    def _out(self, effects: Sequence[Effect[Connection]]) -> None:
        """Apply ``effects``, leaving out what is addressed to other nodes' connections."""
        if any(not isinstance(ef, Broadcast) and type(ef.conn) is Remote for ef in effects):
            effects = [
                ef for ef in effects if isinstance(ef, Broadcast) or type(ef.conn) is not Remote
            ]
        if effects:
            self._apply_out(effects)

    def _answered_one(self) -> None:
        self._room.set()
        self._room = trio.Event()
        if self._open <= 0:
            self._open = 0
            self._idle.set()

    async def _answered(self) -> None:
        await self._room.wait()

    # -- keys ------------------------------------------------------------------------------

    def _key_of(self, conn: Connection) -> str | None:
        """The key of a connection the log has spoken of (None for one it has not)."""
        return self._key_for.get(conn)

    def _conn_of(self, key: str) -> Connection:
        conn = self._by_key.get(key)
        if conn is None:
            conn = Remote(key)
            self._remember(key, conn)
        return conn

    def _remember(self, key: str, conn: Connection) -> None:
        self._by_key[key] = conn
        self._key_for[conn] = key

    def _forget(self, key: str) -> None:
        conn = self._by_key.pop(key, None)
        if conn is not None:
            self._key_for.pop(conn, None)


def _encode(command: c.Command) -> list[Any]:
    return [type(command).__name__, *dataclasses.astuple(command)]


def _decode(data: list[Any]) -> c.Command:
    kind = _COMMANDS[data[0]]
    command: c.Command = kind(*data[1:])
    return command


def _body(item: _Append) -> bytes:
    return json.dumps([item.kind, item.num, *item.parts], separators=(",", ":")).encode()


def _pack(image: dict[str, Any]) -> bytes:
    """The image as compressed JSON. Run in a worker thread: its long lists are encoded an
    item at a time, so the thread lets the event loop have the GIL between items rather
    than holding it for one long encoding (zlib lets it go by itself)."""
    compact = (",", ":")
    parts = []
    for key, value in image.items():
        if isinstance(value, list):
            items = ",".join([json.dumps(item, separators=compact) for item in value])
            parts.append(f"{json.dumps(key)}:[{items}]")
        else:
            parts.append(f"{json.dumps(key)}:{json.dumps(value, separators=compact)}")
    return zlib.compress(("{" + ",".join(parts) + "}").encode(), 1)


def _empty_image(hub: Hub[Connection], epoch: int) -> dict[str, Any]:
    empty: Hub[Connection] = Hub(hub.limits)
    image = hub_image.dump(empty, lambda _conn: None)
    image["boot"] = epoch
    return image


def _replace(queue: deque[Any], item: _Append, effects: Any) -> None:
    """Put ``effects`` where ``item`` waits in ``queue`` (so they go out in its turn)."""
    for i, queued in enumerate(queue):
        if queued is item:
            queue[i] = effects
            return


def _storage_error(verb: str, replica: Replica, code: str = "STORAGE_FAILED") -> e.Error:
    retry = max(1, math.ceil(max(0.0, replica.refusing_until - trio.current_time())))
    if code == "STORAGE_UNKNOWN":
        text = (
            "the shared store did not answer, so this may or may not have been carried out; "
            "check with HISTORY before sending it again"
        )
    else:
        text = (
            "the shared store could not be reached, so this was not carried out; try again "
            f"in {retry} s"
        )
    return e.Error(code, verb, (f"retry={retry}",), text)

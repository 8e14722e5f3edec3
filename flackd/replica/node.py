"""A node of a shared chat: the server's side of it, and running the log through the hub.

Owns: :class:`Replica`: what the server calls instead of the committer (``handle``,
``disconnect``, ``submit``, ``barrier``...), each local connection's order, this node's
appends, running each entry of the log through the local hub (and the effects for local
connections only), the keys of connections in the log. Its waiting side (the tasks) is
:class:`flackd.replica.tasks.ReplicaTasks`. Imports trio, the standard library,
``flackd``, ``flackd.codec``, ``flackd.connection``, ``flackd.hub``, ``flackd.limits``,
the shared-log interface and the replica's own modules.
"""

from __future__ import annotations

import json
import logging
import math
import secrets
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import trio

from flackd import __version__
from flackd.codec import commands as c
from flackd.codec.grammar import VERBS, Verb
from flackd.committer import carry_out
from flackd.connection import Connection
from flackd.hub import Broadcast, Effect, Hub, Reply, hash_token
from flackd.limits import Limits
from flackd.replica.entries import (
    BYE,
    CMD,
    NAMING,
    REGISTERING,
    SHARED_LIMITS,
    Append,
    Local,
    Remote,
    decode_command,
    encode_command,
    replace_in_queue,
    shared,
    storage_error,
)
from flackd.replica.tasks import ReplicaTasks
from flackd.store.log import LogEntry, LogError, SharedLog

__all__ = ["Replica"]

log = logging.getLogger("flackd")


class Replica(ReplicaTasks):
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
        self._locals: dict[Connection, Local] = {}
        #: Every connection the log has spoken of, by key: local ones until their going
        #: away is run, other nodes' (Remote) until theirs is, or their node's death.
        self._by_key: dict[str, Connection] = {}
        self._key_for: dict[Connection, str] = {}
        self._outgoing: deque[Append] = deque()
        self._awaiting: dict[int, Append] = {}
        self._next_num = 1
        self._next_conn = 0
        self.applied = 0
        #: The log entry the snapshot this node started from covers (0: none).
        self.started_from = 0
        self._ran = trio.Event()  # set (and replaced) each time entries have been run
        self._running: Append | None = None  # this node's own entry being run
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

    def handle(
        self,
        conn: Connection,
        verb: Verb,
        command: c.Command,
        now: float,
        verdict: str | None = None,
    ) -> None:
        """Run ``command``: through the log if it changes shared state, else at once (or
        behind this connection's own changes still on their way). ``verdict``: an OPER's,
        checked already off the event loop (:func:`flackd.committer.carry_out`)."""
        local = self._local(conn)
        if shared(command) and (
            local.queue or type(command) in REGISTERING or self.hub.is_registered(conn)
        ):
            if self.refusing_until > trio.current_time() or not self.ready:
                self.submit(
                    conn, "*", [Reply(conn, [storage_error(verb.name, self.refusing_until)])]
                )
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
            elif type(command) is c.Oper:
                # Checked off the event loop before it came here (the reader, see
                # flackd.dispatch); the log holds the verdict, never the password.
                assert verdict is not None, "an OPER reaches the replica checked"
                extra = verdict
                command = c.Oper(command.name, "")
            body = [local.n, verb.name, encode_command(command), extra]
            local.appended = True
            self._send(Append(CMD, conn, local.key, body, verb.name, token))
            return
        if local.queue:
            local.queue.append((verb, command, verdict))
        else:
            self._out(carry_out(self.hub, conn, verb, command, now, verdict))

    def disconnect(self, conn: Connection, reason: str, now: float) -> None:
        local = self._locals.pop(conn, None)
        if local is None or not local.appended:
            self._out(self.hub.disconnect(conn, reason, now))
            return
        local.queue.clear()  # nobody left to answer
        self._send(Append(BYE, conn, local.key, [local.n, reason]))

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

    def _local(self, conn: Connection) -> Local:
        local = self._locals.get(conn)
        if local is None:
            self._next_conn += 1
            local = Local(self._next_conn)
            self._locals[conn] = local
        return local

    def _send(self, item: Append) -> None:
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

    def _refused(self, batch: list[Append], exc: LogError, code: str) -> None:
        self.failures += 1
        self.refusing_until = trio.current_time() + self.limits.store_retry
        log.error("cluster: could not store %d change(s): %s", len(batch), exc)
        leaving: list[Append] = []
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

    def _answer_failed(self, item: Append, code: str) -> None:
        """``item`` will not be (or may not have been) carried out: tell its connection
        in its turn, and let what waited behind it go on."""
        if item.done:
            return
        item.done = True
        self._open -= 1
        local = self._locals.get(item.conn)
        if local is not None:
            error = storage_error(item.verb, self.refusing_until, code)
            replace_in_queue(local.queue, item, [Reply(item.conn, [error])])
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
                        error = storage_error(item.verb, self.refusing_until, "STORAGE_UNKNOWN")
                        replace_in_queue(local.queue, item, [Reply(item.conn, [error])])
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
        command = decode_command(data)
        naming = isinstance(command, NAMING)
        before = hub.nick_of(conn) if naming else None
        victim = hub.user_info(command.nick) if type(command) is c.Kill else None
        token = item.token if item is not None else ""
        if type(command) is c.Resume:
            hub.mint = lambda: (token, extra[1])
            effects = hub.resume_hashed(conn, extra[0], now)
        elif type(command) is c.Oper:
            effects = hub.oper_checked(conn, command.name, str(extra), now)
        else:
            if type(command) is c.Nick:
                hub.mint = lambda: (token, extra)
            effects = hub.handle(conn, verb, command, now)
        hub.mint = None
        local = self._locals.get(conn) if mine else None
        if local is not None and item is not None and not item.done:
            item.done = True
            replace_in_queue(local.queue, item, effects)
            self._drain(conn, local)
        else:
            self._out(effects)
        if victim is not None and victim.connected and hub.user_info(victim.nick) is None:
            self._presence(victim.nick, False)  # a session a KILL ended is offline
        if naming:
            after = hub.nick_of(conn)
            if local is not None and before is None and after is not None:
                self._registered(conn)
            if (before or "").lower() != (after or "").lower():
                if before:
                    self._presence(before, False)
                if after:
                    self._presence(after, True)

    def _take(self, num: int) -> Append | None:
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

    def _drain(self, conn: Connection, local: Local) -> None:
        """Carry out what waited in ``conn``'s queue, up to its next change on its way."""
        queue = local.queue
        while queue:
            head = queue[0]
            if type(head) is Append:
                if not head.done:
                    return
                queue.popleft()
                continue
            queue.popleft()
            if isinstance(head, tuple):
                verb, command, verdict = head
                self._out(carry_out(self.hub, conn, verb, command, self._clock(), verdict))
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

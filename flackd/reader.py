"""The reader: bytes from one connection, as lines, into the hub, with every input limit.

Owns: what the reader keeps of a connection between reads (:class:`ReadState`), one
read's lines carried out in order without awaiting (:meth:`LineReader._take`,
:meth:`LineReader._drain`: framing, over-long lines and junk, the HTTP tripwire, flood
pacing and the FLOOD note) until a line must wait, what it must wait for (the outcomes
below), and the loop that waits and reads again (:meth:`LineReader._read`), run by a
connection's task; the server's poller calls ``_take`` itself. Each line is carried out
by :class:`flackd.dispatch.Dispatch`. A mixin of :class:`flackd.server.Server`: it reads
the server's hub, committer and limits. Imports trio, the standard library and the
flackd modules it drives; never flackcli.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Generator, Iterator
from typing import TYPE_CHECKING, Final

import trio

from flackd.codec import events as e
from flackd.codec.framing import OVERLONG, LineBuffer, Overlong
from flackd.committer import Committer
from flackd.connection import Connection
from flackd.dispatch import Dispatch
from flackd.hub import HubProtocol
from flackd.irc import IrcClient
from flackd.irc.wire import MAX_TAG_BYTES
from flackd.limits import Limits
from flackd.ratelimit import TokenBucket
from flackd.replica import Replica
from flackd.sockets import RECEIVE_BYTES, looks_like_http

__all__ = [
    "BARRIER",
    "CLOSED",
    "DONE",
    "EOF",
    "FLOOD_QUIET_SECONDS",
    "FREE_FACTOR",
    "OPER_CHECKS",
    "OVERLONG_WINDOW",
    "ROOM",
    "SLEEP",
    "LineReader",
    "ReadState",
]

#: OPER password checks (scrypt) running at once, in worker threads; more wait their turn.
OPER_CHECKS: Final = 1
#: Seconds over which --max-overlong-lines counts.
OVERLONG_WINDOW: Final = 60.0
#: PING and PONG have their own bucket, this many times the flood bucket's burst and rate.
FREE_FACTOR: Final = 4
#: A flood episode ends (and the next delay is told again with a NOTE) once the bucket is
#: full and no line was delayed for this long: a busy machine that reads a flooder in
#: small pieces must not turn one episode into a NOTE per read.
FLOOD_QUIET_SECONDS: Final = 1.0


# What carrying out the lines of a read came to (:meth:`LineReader._take`): done or
# closing, or what must be awaited before :meth:`LineReader._drain` goes on.
#: The connection is closing (or its BYE waits behind a commit): it reads no more.
CLOSED: Final = 0
#: Every line read so far is carried out: read again.
DONE: Final = 1
#: The flood bucket is empty: sleep ``ReadState.wait`` seconds.
SLEEP: Final = 2
#: The commit queue is full: wait for room.
ROOM: Final = 3
#: The last command waits: for its password's check in a worker thread (OPER, on any
#: wire) and, an IRC command as one node of several, for the shared log.
BARRIER: Final = 4
#: The peer's EOF, with a committer: what came before it is answered first.
EOF: Final = 5


class ReadState:
    """What the reader keeps of one connection between reads (so that no task need hold
    it in its frame: the poller reads most connections)."""

    __slots__ = (
        "bucket",
        "closed",
        "conn",
        "delayed_at",
        "first_line",
        "ip",
        "irc",
        "lines",
        "liveness",
        "now",
        "overlong",
        "overlong_at",
        "pending",
        "told_to_slow_down",
        "wait",
    )

    def __init__(
        self,
        conn: Connection,
        lines: LineBuffer,
        bucket: TokenBucket,
        liveness: TokenBucket,
        ip: str,
    ) -> None:
        self.conn = conn
        self.lines = lines
        self.bucket = bucket
        #: PING and PONG's own bucket.
        self.liveness = liveness
        #: The peer's address (what admission counts), for the poller's connections.
        self.ip = ip
        self.first_line = True
        #: When the over-long lines were sent (made on the first over-long line).
        self.overlong_at: deque[float] | None = None
        #: The last read held an over-long line.
        self.overlong = False
        self.told_to_slow_down = False
        #: When a line of this connection was last delayed.
        self.delayed_at = -math.inf
        #: When the last read came (the time its lines are charged at).
        self.now = 0.0
        #: The lines of the last read not carried out yet.
        self.pending: Iterator[bytes | Overlong] | None = None
        #: An IRC line under way (waiting for the shared log), see ``_process_irc``.
        self.irc: Generator[None, None, tuple[int, int]] | None = None
        #: Seconds the flood bucket asks to wait (:data:`SLEEP`).
        self.wait = 0.0
        #: What :meth:`__call__` calls (the server's, for a connection its poller reads).
        self.closed: Callable[[ReadState], None] | None = None

    def __call__(self) -> None:
        """The connection's ``on_close`` while no task reads it: ``closed(self)`` (one
        callable the server shares, so an idle connection holds no bound method)."""
        closed = self.closed
        if closed is not None:
            closed(self)


class LineReader(Dispatch):
    """The reader side of :class:`flackd.server.Server` (see the module docstring)."""

    limits: Limits
    hub: HubProtocol[Connection]
    committer: Committer[Connection] | Replica | None
    connections: set[Connection]
    _unregistered: set[Connection]
    peak_users: int
    _too_long: bytes
    _too_long_error: e.Error
    replica: Replica | None
    oper_limiter: trio.CapacityLimiter

    if TYPE_CHECKING:

        def _bye(self, conn: Connection, code: str, text: str) -> None: ...

    def _reading(self, conn: Connection, ip: str = "") -> ReadState:
        """The reader's state of a new connection (``ip``: its address, for the poller's
        connections, whose closing task releases it)."""
        limits = self.limits
        now = trio.current_time()
        # An IRC line may carry up to MAX_TAG_BYTES of tags before its max_line_bytes.
        lines = LineBuffer(limits.max_line_bytes + (MAX_TAG_BYTES if conn.frontend else 0))
        bucket = TokenBucket(limits.flood_burst, limits.flood_rate, now)
        # PING and PONG do not spend the flood bucket, but they are not unlimited either.
        liveness = TokenBucket(
            limits.flood_burst * FREE_FACTOR, limits.flood_rate * FREE_FACTOR, now
        )
        return ReadState(conn, lines, bucket, liveness, ip)

    def _take(self, st: ReadState, data: bytes) -> int:
        """What one read gave (``b""``: EOF): carry out its complete lines, in order, until
        they are done or one must wait; the outcome (:data:`DONE`, :data:`CLOSED`, or what
        to wait for before :meth:`_drain` goes on). Never awaits."""
        conn = st.conn
        if not data:
            if self.committer is not None:
                return EOF  # what this client sent before its EOF is answered first
            conn.finish("connection closed")
            return CLOSED
        conn.last_input = st.now = trio.current_time()
        st.overlong = False
        st.pending = iter(st.lines.feed(data))
        return self._drain(st)

    def _drain(self, st: ReadState) -> int:
        """Carry out the lines of the last read still held (in order, with every input
        limit), until none is left (:data:`DONE`), the connection closes (:data:`CLOSED`)
        or a line must wait: for the flood bucket (:data:`SLEEP`), for room in the commit
        queue (:data:`ROOM`) or for the shared log (:data:`BARRIER`, an IRC command as one
        node of several). Called again once the wait is over. Never awaits."""
        conn = st.conn
        limits = self.limits
        committer = self.committer
        pending = st.pending
        assert pending is not None
        while True:
            steps = st.irc
            if steps is not None:  # an IRC line (its steps wait for the shared log)
                try:
                    next(steps)
                except StopIteration as done:
                    st.irc = None
                    cost, free = done.value
                else:
                    return BARRIER
            else:
                if self.oper_checks and conn in self.oper_checks:
                    return BARRIER  # an OPER's password is being checked: wait for it
                if committer is not None and committer.full():
                    return ROOM  # the store is behind: stop reading
                item = next(pending, None)
                if item is None:
                    break
                now = st.now
                registered = conn.registration_deadline == math.inf
                if item is OVERLONG:
                    st.overlong = True
                    overlong_at = st.overlong_at
                    if overlong_at is None:
                        st.overlong_at = overlong_at = deque(maxlen=limits.max_overlong_lines)
                    overlong_at.append(now)
                    if not registered or (
                        len(overlong_at) == overlong_at.maxlen
                        and overlong_at[-1] - overlong_at[0] <= OVERLONG_WINDOW
                    ):
                        self._bye(conn, "LINE_TOO_LONG", "too many over-long lines")
                        return CLOSED
                    self._tell(conn, self._too_long_error, self._too_long)
                    cost, free = 1, 0
                else:
                    if not registered and looks_like_http(item, st.first_line):
                        conn.close(b"", "HTTP request on the chat port")
                        return CLOSED
                    st.first_line = False
                    frontend = conn.frontend
                    if frontend is not None:
                        assert isinstance(frontend, IrcClient)
                        st.irc = self._process_irc(conn, frontend, item)
                        continue  # carried out above, step by step
                    cost, free = self._process(conn, item)
            if conn.registration_deadline != math.inf and self.hub.is_registered(conn):
                self._now_registered(conn)
            if conn.closing:
                return CLOSED
            now = st.now
            if (
                st.told_to_slow_down
                and now - st.delayed_at >= FLOOD_QUIET_SECONDS
                and st.bucket.full(now)
                and st.liveness.full(now)
            ):
                st.told_to_slow_down = False  # the episode is over: tell again next time
            # One of the two costs is 0 for almost every line: no call for it.
            wait = st.bucket.charge(cost, now) if cost else 0.0
            if free:
                wait = max(wait, st.liveness.charge(free, now))
            if wait > 0:
                st.delayed_at = now
                if not st.told_to_slow_down:
                    st.told_to_slow_down = True
                    self._tell(conn, self._flood_note(wait))
                st.wait = wait
                return SLEEP
        st.pending = None
        lines = st.lines
        if (st.overlong or lines.discarding) and lines.junk_bytes > limits.max_junk_bytes:
            text = f"over {limits.max_junk_bytes} bytes without a newline"
            self._bye(conn, "LINE_TOO_LONG", text)
            return CLOSED
        return DONE

    async def _read(
        self, st: ReadState, outcome: int = DONE, *, until_caught_up: bool = False
    ) -> bool:
        """The reader loop: bytes -> lines -> hub, with every input-side limit, and the
        waits its lines call for (``outcome``: the first, for a connection the poller
        handed over). Runs in the connection's read scope, which closing it cancels.

        Returns once the connection is done reading (False), or, with
        ``until_caught_up``, once every line read so far is carried out (True: the
        poller reads it again). Enforces (protocol.md, "Limits"): over-long lines and
        junk, the HTTP tripwire and flood pacing (see :meth:`_drain`). The deadlines
        (registration, idle PING, PONG) belong to the housekeeping task
        (:meth:`_keep_time`), which closes the connection, and so ends this loop, even
        while flood control has it waiting.
        """
        conn = st.conn
        scope = conn.read_scope = trio.CancelScope()  # a scope is entered once
        if conn.is_closing():
            return False
        try:
            with scope:
                while True:
                    while outcome > DONE:
                        if outcome == SLEEP:
                            await trio.sleep(st.wait)
                            st.now = trio.current_time()
                        elif outcome == ROOM:
                            assert self.committer is not None
                            await self.committer.wait_room()
                        elif outcome == BARRIER:
                            if conn in self.oper_checks:
                                await self._check_oper(conn)
                            if self.replica is not None and st.irc is not None:
                                await self.replica.barrier(conn)
                        else:  # EOF: what came before it is answered first
                            assert self.committer is not None
                            await self.committer.barrier(conn)
                            conn.finish("connection closed")
                            return False
                        outcome = self._drain(st)
                    if outcome == CLOSED:
                        return False
                    if until_caught_up:
                        return True
                    outcome = self._take(st, await conn.receive(RECEIVE_BYTES))
            return False  # cancelled: the connection is closing
        finally:
            if st.irc is not None:  # an IRC line cut short: its labeled batch ends
                st.irc.close()
                st.irc = None

    async def _check_oper(self, conn: Connection) -> None:
        """Check the password of ``conn``'s OPER in a worker thread (scrypt takes tens of
        milliseconds: on the event loop it would stall every client), at most
        :data:`OPER_CHECKS` at once (each takes 16 MiB), then carry the OPER out. Only
        this connection's later lines wait for it. A check cut short by the connection's
        close leaves its entry to :meth:`flackd.lifecycle.Lifecycle._forget`."""
        command = self.oper_checks[conn][1]
        verdict = await trio.to_thread.run_sync(
            self.hub.check_oper, command.name, command.password, limiter=self.oper_limiter
        )
        self._carry_out_oper(conn, verdict)

    def _now_registered(self, conn: Connection) -> None:
        """``conn`` has registered: its registration deadline no longer applies."""
        if conn.registration_deadline == math.inf:
            return
        conn.registration_deadline = math.inf
        self._unregistered.discard(conn)
        users = len(self.connections) - len(self._unregistered)
        self.peak_users = max(self.peak_users, users)

    def _flood_note(self, wait: float) -> e.Note:
        limits = self.limits
        return e.Note(
            "FLOOD",
            (f"retry={math.ceil(wait)}",),
            f"you are sending more than {limits.flood_rate:g} lines a second (after a "
            f"burst of {limits.flood_burst}); your lines are delayed, not dropped",
        )

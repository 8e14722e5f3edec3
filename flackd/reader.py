"""The reader: bytes from one connection, as lines, into the hub, with every input limit.

Owns: the reader loop (framing, over-long lines and junk, the HTTP tripwire, flood pacing
and the FLOOD note), the server's password (PASS, checked at the door before NICK or
RESUME on every wire), one line of each wire carried out in order (Flack's lines parsed by
``flackd.codec``; IRC's handed to the connection's :class:`flackd.irc.IrcClient`, whose
actions run through the same path), and :func:`render`, which turns events into the
bytes of a connection's wire. A mixin of :class:`flackd.server.Server`: it reads the
server's hub, committer and limits. Imports trio, the standard library and the flackd
modules it drives; never flackcli.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from typing import TYPE_CHECKING, Final

import trio

from flackd.admission import ServerPassword
from flackd.codec import commands
from flackd.codec import events as e
from flackd.codec.framing import OVERLONG, LineBuffer, Overlong
from flackd.codec.grammar import ProtocolError, Verb, parse_command
from flackd.codec.lines import encode_event
from flackd.codec.text import BadCharacter, InvalidUtf8, decode_line
from flackd.committer import Committer
from flackd.connection import Connection, push_to_all
from flackd.hub import Effect, HubProtocol
from flackd.irc import (
    Announce,
    Disconnect,
    IrcClient,
    IrcParseError,
    Monitored,
    Monitors,
    NickPresence,
    Run,
    labels,
)
from flackd.irc import parse as parse_irc
from flackd.irc.wire import MAX_CLIENT_TAG_BYTES, MAX_TAG_BYTES, split_tags
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
    "OVERLONG_WINDOW",
    "ROOM",
    "SLEEP",
    "LineReader",
    "ReadState",
    "line_error",
    "render",
]

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
#: An IRC command, as one node of several, waits for the shared log.
BARRIER: Final = 4
#: The peer's EOF, with a committer: what came before it is answered first.
EOF: Final = 5


class ReadState:
    """What the reader keeps of one connection between reads (so that no task need hold
    it in its frame: the poller reads most connections)."""

    __slots__ = (
        "bucket",
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


#: The commands that can give a connection a nick, change it or end it (MONITOR's concern).
_NAMING: Final = frozenset({commands.Nick, commands.Resume, commands.Quit})


def _password_required(verb: str) -> e.Error:
    return e.Error(
        "PASSWORD_REQUIRED",
        verb,
        (),
        "this server has a password: send PASS <password> first, then NICK <name>",
    )


def line_error(code: str, text: str) -> bytes:
    """An ``ERR <code> * :text`` line: the server's answer to a line it could not read."""
    return encode_event(e.Error(code, "*", (), text))


class LineReader:
    """The reader side of :class:`flackd.server.Server` (see the module docstring)."""

    limits: Limits
    hub: HubProtocol[Connection]
    committer: Committer[Connection] | Replica | None
    clock: Callable[[], float]
    connections: set[Connection]
    _unregistered: set[Connection]
    peak_users: int
    _bad_utf8: bytes
    _too_long: bytes
    _too_long_error: e.Error
    monitors: Monitors
    replica: Replica | None
    password: ServerPassword | None

    if TYPE_CHECKING:

        def apply(self, effects: Sequence[Effect[Connection]]) -> None: ...
        def _bye(self, conn: Connection, code: str, text: str) -> None: ...

    def _process(self, conn: Connection, raw: bytes) -> tuple[int, int]:
        """Carry out one complete client line; return its flood cost and liveness cost.

        PING and PONG cost nothing from the flood bucket but 1 from the (larger) liveness
        bucket; the PONG that answers our own PING costs nothing at all.
        """
        try:
            text = decode_line(raw)
        except InvalidUtf8:
            self._say(conn, self._bad_utf8)
            return 1, 0
        except BadCharacter as bad:
            self._say(
                conn,
                line_error(
                    "BAD_CHARACTER",
                    f"line holds control character 0x{bad.byte:02X}; only TAB is allowed; "
                    "it was dropped",
                ),
            )
            return 1, 0
        try:
            verb, command = parse_command(text)
        except ProtocolError as err:
            self._say(conn, encode_event(err.reply))
            return 1, 0
        if not self._run(conn, verb, command):
            return 0, 0
        return verb.cost, 0 if verb.cost else 1

    def _run(self, conn: Connection, verb: Verb, command: commands.Command) -> bool:
        """Carry out a parsed command through the hub; False if it was the PONG that
        answers the server's own PING (which costs nothing)."""
        if (
            type(command) is commands.Pong
            and conn.awaiting_pong is not None
            and command.token == conn.awaiting_pong
        ):
            conn.awaiting_pong = None
            conn.answers_pings = True
            return False
        if verb.before_registration and self._at_the_door(conn, verb, command):
            return True
        # One set lookup for MSG. A replica tells presence as it runs the log.
        naming = type(command) in _NAMING and bool(self.monitors) and not self.replica
        before = self.hub.nick_of(conn) if naming else None
        victim = None
        if type(command) is commands.Kill and self.monitors and not self.replica:
            victim = self.hub.user_info(command.nick)  # told offline if the KILL ends it
        if self.committer is None:
            self.apply(self.hub.handle(conn, verb, command, self.clock()))
        else:
            self.committer.handle(conn, verb, command, self.clock())
        if naming:
            after = self.hub.nick_of(conn)
            if (before or "").lower() != (after or "").lower():
                if before:
                    self.tell_presence(before, online=False)
                if after:
                    self.tell_presence(after, online=True)
        elif victim is not None and victim.connected and self.hub.user_info(victim.nick) is None:
            self.tell_presence(victim.nick, online=False)
        return True

    def _at_the_door(self, conn: Connection, verb: Verb, command: commands.Command) -> bool:
        """The server's password, for the verbs a connection may send before it has
        registered: PASS is answered here, and NICK or RESUME without the password is
        refused here. True if the command was dealt with (the hub never sees it)."""
        if type(command) is commands.Pass:
            self._pass(conn, command.password)
            return True
        if (
            self.password is not None
            and not conn.password_given
            and type(command) in (commands.Nick, commands.Resume)
            and not self.hub.is_registered(conn)
        ):
            self._tell(conn, _password_required(verb.name))
            return True
        return False

    def _pass(self, conn: Connection, given: str) -> None:
        """``PASS``: the server's password, checked here, at the door, on every wire (it
        never reaches the hub, its store or a shared log). A wrong one closes the
        connection, so guessing costs a connection each time (and --new-per-ip counts them)."""
        if self.hub.is_registered(conn):
            text = "PASS comes before NICK or RESUME; you are registered already"
            self._tell(conn, e.Error("ALREADY_REGISTERED", "PASS", (), text))
        elif self.password is None:
            self._tell(conn, e.Ok("PASS", (), "this server has no password; go on with NICK"))
        elif self.password.matches(given):
            conn.password_given = True
            self._tell(conn, e.Ok("PASS", (), "password accepted; now NICK <name> or RESUME"))
        else:
            self._bye(conn, "BAD_PASSWORD", "wrong server password")

    def _tell_watchers(self, conn: Connection, told: list[Connection], action: Announce) -> None:
        """Those who MONITOR the nick of ``action`` and were not told as neighbours get it
        as :class:`Monitored` (rendered only for clients with ``extended-monitor``)."""
        skip = {conn, *told}
        watchers = [
            w
            for w in self.monitors.watchers(action.event.nick)
            if isinstance(w, Connection) and w not in skip
        ]
        if watchers:
            push_to_all(watchers, b"", Monitored(action.event))

    def tell_presence(self, nick: str, *, online: bool) -> None:
        """Tell those who MONITOR ``nick`` (IRC clients) that it came online or went
        offline, whatever wire its user is on."""
        watchers = [w for w in self.monitors.watchers(nick) if isinstance(w, Connection)]
        if watchers:
            push_to_all(watchers, b"", NickPresence(nick, online))

    def _process_irc(
        self, conn: Connection, client: IrcClient, raw: bytes
    ) -> Generator[None, None, tuple[int, int]]:
        """One IRC line (see :mod:`flackd.irc`): the same hub, in the same order, with the
        same flood and liveness costs as a Flack line (PING and PONG are free).

        The translator reads the hub right after each command it hands over (did the NICK
        register? is the client in that channel now?). As one node of several (``--redis``)
        a command is carried out only when it comes back from the shared log, so there the
        translator waits for it before it goes on, and so does the connection's next line:
        this generator yields, the reader awaits the barrier and resumes it. Elsewhere it
        never yields. Returns the line's flood and liveness costs.
        """
        tags, rest = split_tags(raw)
        # A client's tags: at most 4094 bytes, with the '@' and the space (IRCv3).
        if rest + 2 > self.limits.max_line_bytes or tags > MAX_CLIENT_TAG_BYTES + 2:
            self._say(conn, client.too_long(self.limits.max_line_bytes))
            return 1, 0
        try:
            message = parse_irc(raw.decode("utf-8"))
        except UnicodeDecodeError:
            self._say(conn, client.invalid_utf8())
            return 1, 0
        except IrcParseError:
            return (1, 0) if raw.strip() else (0, 1)  # an empty line: ignored, like PING
        cost = 0 if message.command in ("PING", "PONG") else 1
        labeled = client.label_of(message) is not None
        if labeled:
            self._say(conn, labels.BEGIN)  # in its turn: behind what a commit holds
        try:
            for action in client.receive(message):
                if type(action) is Run:
                    if not self._run(conn, action.verb, action.command):
                        return 0, 0
                    if self.replica is not None:
                        yield  # the reader awaits the replica's barrier, then goes on
                elif type(action) is Announce:
                    # A volatile change (AWAY, SETNAME): the others' front ends render it;
                    # Flack's wire has no word for it, so only other wires' members hear.
                    others = [c for c in self.hub.neighbours(conn) if c.frontend is not None]
                    push_to_all(others, b"", action.event)
                    if self.monitors:  # extended-monitor: watchers who share no channel
                        self._tell_watchers(conn, others, action)
                elif type(action) is Disconnect:
                    if labeled:  # what the command said goes out, labeled, before the close
                        labeled = False
                        self._say(conn, labels.END)
                    self._bye(conn, "CLOSED", action.reason)
                    break
                elif action:
                    assert isinstance(action, bytes)
                    self._say(conn, action)
                if conn.is_closing():
                    break
        finally:
            if labeled:
                self._say(conn, labels.END)
        return cost, 0 if cost else 1

    def _tell(self, conn: Connection, event: e.Event, flack: bytes | None = None) -> None:
        """:meth:`_say` of one event of the server's own, in the connection's wire
        (``flack``: the event already encoded for Flack's)."""
        if conn.frontend is None and flack is not None:
            self._say(conn, flack)
        else:
            self._say(conn, render(conn, (event,)))

    def _say(self, conn: Connection, data: bytes) -> None:
        """Queue a line of the server's own (an error about a line) in its turn: behind the
        effects held for a commit, if any, so that replies keep the order of the lines."""
        if self.committer is None:
            conn.push(data)
        else:
            self.committer.submit(conn, "*", data)

    # -- one connection ------------------------------------------------------------------

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
            if steps is not None:  # an IRC line, under way
                try:
                    next(steps)
                except StopIteration as done:
                    st.irc = None
                    cost, free = done.value
                else:
                    return BARRIER
            else:
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
                        steps = self._process_irc(conn, frontend, item)
                        try:
                            next(steps)
                        except StopIteration as done:
                            cost, free = done.value
                        else:
                            st.irc = steps
                            return BARRIER
                    else:
                        cost, free = self._process(conn, item)
            if conn.registration_deadline != math.inf and self.hub.is_registered(conn):
                self._now_registered(conn)
            if conn.is_closing():
                return CLOSED
            now = st.now
            if (
                st.told_to_slow_down
                and now - st.delayed_at >= FLOOD_QUIET_SECONDS
                and st.bucket.full(now)
                and st.liveness.full(now)
            ):
                st.told_to_slow_down = False  # the episode is over: tell again next time
            wait = max(st.bucket.charge(cost, now), st.liveness.charge(free, now))
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
                            assert self.replica is not None
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


def render(conn: Connection, events: Sequence[e.Event]) -> bytes:
    """``events`` as the bytes of ``conn``'s wire: Flack's lines, or its front end's."""
    frontend = conn.frontend
    if frontend is None:
        return b"".join([encode_event(ev) for ev in events])
    assert isinstance(frontend, IrcClient)
    return frontend.render_reply(events)

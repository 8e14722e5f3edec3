"""The server: listeners, connections, the reader loop, and effects turned into I/O.

Owns: the task tree (one nursery accepting, one holding connections, one per connection
with a reader and a writer), the connection limit, socket options, per-connection flood
control, the deadlines (registration, idle PING, PONG) kept by one housekeeping task,
applying hub effects to outboxes, and graceful shutdown. This is the only module that
turns hub effects into I/O. Imports trio, the standard library and the other flackd
modules; never flackcli.

Task tree::

    serve()
    ├── accepting (cancelled first at shutdown)
    │   ├── trio.serve_listeners(..., handler_nursery=connections)
    │   └── _keep_time: the housekeeping task (every connection's deadlines)
    └── connections (outlives accepting; gets a deadline at shutdown)
        └── per connection: writer task + the reader loop in the handler itself

Rules:

1. The reader processes every complete line it received, in order, before it looks at
   EOF, so ``printf 'NICK a\\nJOIN #c\\nMSG #c hi\\n' | nc -N`` is carried out in full.
2. Fan-out never awaits: :meth:`Server.apply` encodes a broadcast line once and pushes the
   same bytes into each member's outbox (:func:`flackd.connection.push_to_all`).
3. One connection's failure (reset, bug) ends only that connection; the server goes on.
4. Shutdown: stop accepting, ``BYE SHUTDOWN`` to everyone through the outboxes, flush
   within ``shutdown_grace``, then cancel what is left.
"""

from __future__ import annotations

import contextlib
import ipaddress
import itertools
import logging
import math
import socket
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from functools import partial
from typing import Final

import trio

from flackd import __version__
from flackd.codec import commands
from flackd.codec import events as e
from flackd.codec.framing import OVERLONG, LineBuffer
from flackd.codec.grammar import ProtocolError, Verb, encode_event, parse_command
from flackd.codec.text import BadCharacter, InvalidUtf8, decode_line
from flackd.committer import Committer
from flackd.connection import Connection, StreamConnection, push_to_all
from flackd.hub import Broadcast, Close, Effect, Hub, HubProtocol, Reply
from flackd.irc import Disconnect, IrcClient, IrcParseError, Renderer, Run
from flackd.irc import parse as parse_irc
from flackd.irc.outbound import DEFAULT_IRC_NAME, irc_isupport
from flackd.irc.wire import MAX_TAG_BYTES, split_tags
from flackd.limits import Limits
from flackd.ratelimit import TokenBucket
from flackd.store import Store
from flackd.tls import ServerTLS, end_tls, failure_reason

__all__ = ["Server", "serve"]

log = logging.getLogger("flackd")

RECEIVE_BYTES: Final = 4096
#: Seconds over which --max-overlong-lines and --new-per-ip count.
OVERLONG_WINDOW: Final = 60.0
NEW_CONNECTION_WINDOW: Final = 60.0
#: The housekeeping task looks at the deadlines at most this often (their precision).
SWEEP_SECONDS: Final = 1.0
#: PING and PONG have their own bucket, this many times the flood bucket's burst and rate.
FREE_FACTOR: Final = 4
#: First words that mark an HTTP request (a browser page posting to our port).
HTTP_METHODS: Final = (b"GET ", b"POST ", b"PUT ", b"HEAD ", b"OPTIONS ", b"CONNECT ", b"PRI ",
                       b"DELETE ", b"PATCH ")  # fmt: skip
#: Longest time a closing connection waits for the peer's EOF before closing, so that
#: unread input does not turn our close into a reset that destroys the last lines sent.
LINGER_SECONDS: Final = 1.0
#: The same for a connection refused at the door (BUSY, TOO_MANY_CONNECTIONS): shorter,
#: because a flood of refused connections must not hold sockets for long.
REFUSAL_LINGER_SECONDS: Final = 0.25


_ping_tokens = itertools.count(1)


def _line_error(code: str, text: str) -> bytes:
    return encode_event(e.Error(code, "*", (), text))


class Server:
    """One flackd server: a hub, the limits, and the connections it holds."""

    def __init__(
        self,
        limits: Limits | None = None,
        hub: HubProtocol[Connection] | None = None,
        clock: Callable[[], float] = time.time,
        store: Store | None = None,
        tls: ServerTLS | None = None,
        irc_name: str = DEFAULT_IRC_NAME,
    ) -> None:
        """A server with no store (the state lives in memory only) or with one.

        With a ``store`` the hub starts from what it holds (unless a ``hub`` is given,
        already built from it) and every change is committed before it is acknowledged
        (:mod:`flackd.committer`).
        """
        self.limits = limits or Limits()
        self.clock = clock
        if hub is None:
            snapshot = store.load() if store is not None else None
            hub = Hub(self.limits, snapshot=snapshot, now=clock())
        self.hub: HubProtocol[Connection] = hub
        self.store = store
        self.committer: Committer[Connection] | None = None
        if store is not None:
            self.committer = Committer(
                hub,
                store,
                self.apply,
                _push,
                clock=clock,
                max_queue=self.limits.commit_queue,
                retry_seconds=self.limits.store_retry,
                unregistered=self._unregistered_again,
            )
        #: Connections whose BYE waits behind a commit (see :meth:`_bye`).
        self._byes: set[Connection] = set()
        #: The certificate of the TLS listeners (``serve(..., tls_port=...)``), if any.
        self.tls = tls
        #: The TLS listeners once :meth:`serve` has opened them (the rest are plain).
        self.tls_listeners: list[trio.SocketListener] = []
        #: The IRC listeners (plain and TLS) once :meth:`serve` has opened them.
        self.irc_listeners: list[trio.SocketListener] = []
        #: The IRC server name (``001`` and the source of numerics; irctest wants its own).
        self.irc_name = irc_name
        self.connections: set[Connection] = set()
        self._unregistered: set[Connection] = set()
        self._per_ip: dict[str, int] = {}
        # Admission times per address, the address admitted most recently last.
        self._recent: OrderedDict[str, deque[float]] = OrderedDict()
        self._bye_sendq_event = e.Bye(
            "SENDQ_EXCEEDED", (), "you were not reading fast enough; reconnect and catch up"
        )
        self._bye_sendq = encode_event(self._bye_sendq_event)
        self._too_long_error = e.Error(
            "LINE_TOO_LONG",
            "*",
            (),
            f"line longer than {self.limits.max_line_bytes} bytes (line ending included); "
            "it was dropped",
        )
        self._too_long = encode_event(self._too_long_error)
        self._bad_utf8 = _line_error("INVALID_UTF8", "line is not valid UTF-8; it was dropped")
        self._server_error = e.Bye("SERVER_ERROR", (), "internal error; please reconnect")
        #: The housekeeping task's sleep (see :meth:`_keep_time`).
        self._sleep = trio.CancelScope()

    # -- effects -> outboxes -------------------------------------------------------------

    def apply(self, effects: Sequence[Effect[Connection]]) -> None:
        """Turn hub effects into outbox pushes. Synchronous: never awaits a peer."""
        for effect in effects:
            if type(effect) is Broadcast:
                push_to_all(effect.conns, encode_event(effect.event), effect.event)
            elif type(effect) is Reply:
                effect.conn.push(_render(effect.conn, effect.events))
            elif type(effect) is Close:
                effect.conn.close(_render(effect.conn, (effect.bye,)), effect.reason)
            else:  # pragma: no cover - the Effect union is closed
                raise TypeError(effect)

    # -- one line ------------------------------------------------------------------------

    def _process(self, conn: Connection, raw: bytes) -> tuple[int, int]:
        """Carry out one complete client line; return its flood cost and liveness cost.

        PING and PONG cost nothing from the flood bucket but 1 from the (larger) liveness
        bucket; the PONG that answers our own PING costs nothing at all.
        """
        frontend = conn.frontend
        if frontend is not None:
            assert isinstance(frontend, IrcClient)
            return self._process_irc(conn, frontend, raw)
        try:
            text = decode_line(raw)
        except InvalidUtf8:
            self._say(conn, self._bad_utf8)
            return 1, 0
        except BadCharacter as bad:
            self._say(
                conn,
                _line_error(
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
        if self.committer is None:
            self.apply(self.hub.handle(conn, verb, command, self.clock()))
        else:
            self.committer.handle(conn, verb, command, self.clock())
        return True

    def _process_irc(self, conn: Connection, client: IrcClient, raw: bytes) -> tuple[int, int]:
        """One IRC line (see :mod:`flackd.irc`): the same hub, in the same order, with the
        same flood and liveness costs as a Flack line (PING and PONG are free)."""
        tags, rest = split_tags(raw)
        if rest + 2 > self.limits.max_line_bytes or tags > MAX_TAG_BYTES:
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
        for action in client.receive(message):
            if type(action) is Run:
                if not self._run(conn, action.verb, action.command):
                    return 0, 0
            elif type(action) is Disconnect:
                self._bye(conn, "CLOSED", action.reason)
                break
            elif action:
                assert isinstance(action, bytes)
                self._say(conn, action)
            if conn.is_closing():
                break
        return cost, 0 if cost else 1

    def _tell(self, conn: Connection, event: e.Event, flack: bytes | None = None) -> None:
        """:meth:`_say` of one event of the server's own, in the connection's wire
        (``flack``: the event already encoded for Flack's)."""
        if conn.frontend is None and flack is not None:
            self._say(conn, flack)
        else:
            self._say(conn, _render(conn, (event,)))

    def _say(self, conn: Connection, data: bytes) -> None:
        """Queue a line of the server's own (an error about a line) in its turn: behind the
        effects held for a commit, if any, so that replies keep the order of the lines."""
        if self.committer is None:
            conn.push(data)
        else:
            self.committer.submit(conn, "*", data)

    # -- one connection ------------------------------------------------------------------

    async def _read(self, conn: Connection) -> None:
        """The reader loop: bytes -> lines -> hub, with every input-side limit.

        Returns once the connection is closing. Enforces (protocol.md, "Limits"): over-long
        lines and junk, the HTTP tripwire and flood pacing. The deadlines (registration,
        idle PING, PONG) belong to the housekeeping task (:meth:`_keep_time`), which closes
        the connection, and so ends this loop, even while flood control has it waiting.
        """
        limits = self.limits
        clock = trio.current_time
        # An IRC line may carry up to MAX_TAG_BYTES of tags before its max_line_bytes.
        lines = LineBuffer(limits.max_line_bytes + (MAX_TAG_BYTES if conn.frontend else 0))
        bucket = TokenBucket(limits.flood_burst, limits.flood_rate, clock())
        # PING and PONG do not spend the flood bucket, but they are not unlimited either.
        liveness = TokenBucket(
            limits.flood_burst * FREE_FACTOR, limits.flood_rate * FREE_FACTOR, clock()
        )
        first_line = True
        overlong_at: deque[float] | None = None  # made on the first over-long line
        told_to_slow_down = False
        with conn.read_scope:
            while True:
                data = await conn.receive(RECEIVE_BYTES)
                if not data:
                    if self.committer is not None:
                        # What this client sent before its EOF is answered first.
                        await self.committer.barrier()
                    conn.finish("connection closed")
                    return
                conn.last_input = now = clock()
                overlong = False
                for item in lines.feed(data):
                    registered = conn.registration_deadline == math.inf
                    if item is OVERLONG:
                        overlong = True
                        if overlong_at is None:
                            overlong_at = deque(maxlen=limits.max_overlong_lines)
                        overlong_at.append(now)
                        if not registered or (
                            len(overlong_at) == overlong_at.maxlen
                            and overlong_at[-1] - overlong_at[0] <= OVERLONG_WINDOW
                        ):
                            self._bye(conn, "LINE_TOO_LONG", "too many over-long lines")
                            return
                        self._tell(conn, self._too_long_error, self._too_long)
                        cost, free = 1, 0
                    else:
                        if not registered and _looks_like_http(item, first_line):
                            conn.close(b"", "HTTP request on the chat port")
                            return
                        first_line = False
                        cost, free = self._process(conn, item)
                        if not registered and self.hub.is_registered(conn):
                            conn.registration_deadline = math.inf
                            self._unregistered.discard(conn)
                    if conn.is_closing():
                        return
                    if self.committer is not None and self.committer.full():
                        await self.committer.wait_room()  # the store is behind: stop reading
                    if told_to_slow_down and bucket.full(now) and liveness.full(now):
                        told_to_slow_down = False  # the episode is over: tell again next time
                    wait = max(bucket.charge(cost, now), liveness.charge(free, now))
                    if wait > 0:
                        if not told_to_slow_down:
                            told_to_slow_down = True
                            self._tell(conn, self._flood_note(wait))
                        await trio.sleep(wait)
                        now = clock()
                if (overlong or lines.discarding) and lines.junk_bytes > limits.max_junk_bytes:
                    text = f"over {limits.max_junk_bytes} bytes without a newline"
                    self._bye(conn, "LINE_TOO_LONG", text)
                    return

    # -- deadlines -----------------------------------------------------------------------

    async def _keep_time(self) -> None:
        """The housekeeping task: every connection's deadlines, in one place.

        Wakes when the earliest deadline falls due (but at most once a second, so that
        deadlines are exact to within a second), acts on those that have passed, and
        sleeps again. A new connection brings the wake-up forward if its registration
        deadline comes first. One task instead of a timer per connection keeps idle
        connections small and the reader loop free of timeouts.
        """
        while True:
            now = trio.current_time()
            due = math.inf
            for conn in tuple(self.connections):
                try:
                    due = min(due, self._deadline(conn, now))
                except Exception:  # a bug: it ends that connection, not the server (rule 3)
                    log.exception("%r: internal error in housekeeping; closing it", conn)
                    conn.close(_render(conn, (self._server_error,)), "server error")
            with trio.CancelScope(deadline=max(due, now + SWEEP_SECONDS)) as self._sleep:
                await trio.sleep_forever()

    def _deadline(self, conn: Connection, now: float) -> float:
        """Act on ``conn``'s deadline if it has passed; return when its next one falls due."""
        limits = self.limits
        if conn.closing or conn in self._byes:
            return math.inf
        if conn.registration_deadline != math.inf:
            if now < conn.registration_deadline:
                return conn.registration_deadline
            self._bye(
                conn, "REGISTRATION_TIMEOUT", f"no NICK within {limits.reg_timeout:g} seconds"
            )
            return math.inf
        if conn.awaiting_pong is not None:
            due = conn.ping_sent_at + limits.pong_timeout
            if now < due:
                return due
            if conn.answers_pings:
                text = f"no PONG within {limits.pong_timeout:g} seconds"
                self._bye(conn, "PING_TIMEOUT", text)
                return math.inf
            conn.awaiting_pong = None  # a person in netcat: quiet is fine
            conn.idle_pings = False
            return math.inf
        if not conn.idle_pings:
            return math.inf
        due = conn.last_input + limits.ping_idle
        if now < due:
            return due
        conn.awaiting_pong = f"flackd-{next(_ping_tokens)}"
        conn.ping_sent_at = now
        conn.push(_render(conn, (e.Ping(conn.awaiting_pong),)))
        return now + limits.pong_timeout

    def _bye(self, conn: Connection, code: str, text: str) -> None:
        """Close ``conn`` with ``BYE <code>``: at once, or, while lines wait for a commit,
        in its turn behind them (so an acknowledgement already due is not lost)."""
        bye = e.Bye(code, (), text)
        if self.committer is not None and self.committer.holding():
            self._byes.add(conn)
            self.committer.submit(conn, "*", [Close(conn, bye, text)])
        else:
            conn.close(_render(conn, (bye,)), text)

    def _unregistered_again(self, conn: Connection) -> None:
        """A failed commit undid ``conn``'s NICK or RESUME: its registration deadline and
        the unregistered count apply again."""
        if conn.closing:
            return
        conn.registration_deadline = trio.current_time() + self.limits.reg_timeout
        self._unregistered.add(conn)
        if conn.registration_deadline < self._sleep.deadline:
            self._sleep.deadline = conn.registration_deadline

    def _flood_note(self, wait: float) -> e.Note:
        limits = self.limits
        return e.Note(
            "FLOOD",
            (f"retry={math.ceil(wait)}",),
            f"you are sending more than {limits.flood_rate:g} lines a second (after a "
            f"burst of {limits.flood_burst}); your lines are delayed, not dropped",
        )

    def _admit(self, source: str) -> e.Bye | None:
        """Decide whether a new connection from ``source`` may stay; None means yes.

        ``source`` is the address the per-address limits count: an IPv4 address, or the
        /64 network of an IPv6 address (one machine usually has a whole /64).
        """
        limits = self.limits
        if len(self.connections) >= limits.max_connections or (
            len(self._unregistered) >= limits.max_unregistered
        ):
            return e.Bye("BUSY", ("retry=5",), "the server is full; try again in a few seconds")
        if limits.trusted_loopback and _is_loopback(source):
            return None
        if self._per_ip.get(source, 0) >= limits.max_per_ip:
            return e.Bye(
                "TOO_MANY_CONNECTIONS",
                (),
                f"at most {limits.max_per_ip} connections from one address; close one first",
            )
        now = trio.current_time()
        # Forget addresses whose newest admission left the window: the dict is ordered by
        # newest admission, so this stops at the first one still inside it.
        while self._recent:
            oldest, times = next(iter(self._recent.items()))
            if times[-1] > now - NEW_CONNECTION_WINDOW:
                break
            del self._recent[oldest]
        recent = self._recent.pop(source, None) or deque()
        while recent and recent[0] <= now - NEW_CONNECTION_WINDOW:
            recent.popleft()
        self._recent[source] = recent  # now the newest entry
        if len(recent) >= limits.new_per_ip:
            retry = math.ceil(recent[0] + NEW_CONNECTION_WINDOW - now)
            return e.Bye(
                "TOO_MANY_CONNECTIONS",
                (f"retry={retry}",),
                f"at most {limits.new_per_ip} new connections a minute from one address",
            )
        recent.append(now)
        return None

    async def handle_stream(
        self, stream: trio.SocketStream, tls: ServerTLS | None = None, irc: bool = False
    ) -> None:
        """Serve one accepted connection until it closes. Never raises.

        With ``tls`` (a TLS listener) the connection is admitted or refused first, by the
        same per-address limits, before any handshake work; a refusal is then a close
        without a BYE (there is no channel to say it on yet).
        """
        ip, peer = _peer_name(stream)
        refusal = self._admit(ip)
        if refusal is not None:
            log.debug("refused %s: %s", peer, refusal.code)
            if tls is None:
                with (
                    trio.move_on_after(1),
                    contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError),
                ):
                    await stream.send_all(encode_event(refusal))
                await _linger(stream, REFUSAL_LINGER_SECONDS)  # so a reset cannot eat the BYE
            await trio.aclose_forcefully(stream)
            return
        _tune_socket(stream, self.limits.socket_sndbuf)
        limits = self.limits
        tls_stream = None if tls is None else tls.wrap(stream)
        settings = (
            peer,
            limits.sendq_bytes,
            limits.shutdown_grace,
            self._bye_sendq,
            limits.reg_timeout,
        )
        conn = (
            Connection(stream, *settings)
            if tls_stream is None
            else StreamConnection(tls_stream, stream, *settings)
        )
        if irc:
            client = self._irc_client(conn)
            conn.use_frontend(client)
            conn.bye_sendq = client.render_reply([self._bye_sendq_event])
        self.connections.add(conn)
        if conn.registration_deadline < self._sleep.deadline:
            self._sleep.deadline = conn.registration_deadline  # wake housekeeping in time
        self._unregistered.add(conn)
        self._per_ip[ip] = self._per_ip.get(ip, 0) + 1
        log.debug("%r connected", conn)
        saw_eof = False
        try:
            if self.committer is None:
                self.apply(self.hub.connect(conn, self.clock()))
            else:
                self.committer.submit(conn, "*", self.hub.connect(conn, self.clock()))
            if tls_stream is not None and not await self._handshake(conn, tls_stream):
                return  # the finally block closes it, without a linger: TLS never began
            async with trio.open_nursery() as nursery:
                nursery.start_soon(conn.writer)
                try:
                    await self._read(conn)
                    saw_eof = conn.closing and conn.close_reason == "connection closed"
                except (OSError, trio.BrokenResourceError, trio.ClosedResourceError):
                    conn.close(b"", "connection reset")
                except Exception:
                    log.exception("%r: internal error; closing this connection only", conn)
                    conn.close(_render(conn, (self._server_error,)), "server error")
            if not saw_eof:
                await _linger(stream if tls_stream is None else tls_stream)
        finally:
            self.connections.discard(conn)
            self._unregistered.discard(conn)
            self._byes.discard(conn)
            left = self._per_ip.pop(ip) - 1
            if left:
                self._per_ip[ip] = left
            if self.committer is None:
                self.apply(self.hub.disconnect(conn, conn.close_reason, self.clock()))
            else:
                self.committer.disconnect(conn, conn.close_reason, self.clock())
            log.debug("%r closed: %s", conn, conn.close_reason)
            await trio.aclose_forcefully(stream)

    async def _handshake(self, conn: Connection, stream: trio.SSLStream[trio.SocketStream]) -> bool:
        """Complete the TLS handshake before the reader and the writer start; True if done.

        It runs in the connection's read scope, so whatever closes the connection meanwhile
        ends it: shutdown, or the registration deadline (a client that opens TLS and stalls
        is closed like one that never sends NICK: the handshake counts against
        ``--reg-timeout``). A failed handshake (plain text sent to the TLS port, a client
        that rejects the certificate) closes the connection; it is logged at debug level.
        """
        try:
            with conn.read_scope:
                await stream.do_handshake()
        except (OSError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            conn.close(b"", f"TLS handshake failed: {failure_reason(exc)}")
            return False
        if conn.is_closing():
            conn.close_reason = f"no TLS handshake: {conn.close_reason}"
            return False
        conn.read_scope = trio.CancelScope()  # a scope is entered once: the reader's own
        return True

    def _irc_client(self, conn: Connection) -> IrcClient:
        """The IRC front end of one connection (see :mod:`flackd.irc`)."""
        limits = self.limits
        isupport = irc_isupport(limits, "Flack")
        renderer = Renderer(
            self.irc_name,
            f"flackd-{__version__}",
            min(limits.irc_history, limits.join_replay),
            isupport,
            self.hub.counts,
        )
        return IrcClient(renderer, self.hub, partial(self.hub.is_registered, conn), isupport)

    # -- the whole server ----------------------------------------------------------------

    async def serve(
        self,
        host: str | Sequence[str] | None,
        port: int | None,
        shutdown: trio.Event | None = None,
        *,
        tls_port: int | None = None,
        irc_port: int | None = None,
        irc_tls_port: int | None = None,
        task_status: trio.TaskStatus[list[trio.SocketListener]] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Listen on ``host:port`` and serve until ``shutdown`` is set (or cancelled).

        ``task_status.started`` receives the listeners, so callers learn the real port when
        they pass 0. Cancellation: cancelling this task closes every connection at once;
        setting ``shutdown`` closes them gracefully.

        ``tls_port`` (with the server's ``tls``) adds TLS listeners for the same protocol,
        listed after the plain ones and in :attr:`tls_listeners`; ``port=None`` leaves the
        plain ones out. Connections from both share every limit, the hub and shutdown.

        ``irc_port`` and ``irc_tls_port`` (with ``tls``) add listeners for IRC clients
        (:mod:`flackd.irc`), listed last and in :attr:`irc_listeners`, into the same hub.
        """
        if (tls_port is not None or irc_tls_port is not None) and self.tls is None:
            raise ValueError("TLS ports need a certificate: Server(..., tls=ServerTLS(...))")
        if port is None and tls_port is None and irc_port is None and irc_tls_port is None:
            raise ValueError("nothing to listen on: give a port, a tls_port or both")
        hosts: list[str | None] = [host] if host is None or isinstance(host, str) else list(host)
        listeners: list[trio.SocketListener] = []
        self.tls_listeners = tls_listeners = []
        self.irc_listeners = irc_listeners = []
        irc_tls_listeners: list[trio.SocketListener] = []
        try:
            for h in hosts:
                if port is not None:
                    listeners += await trio.open_tcp_listeners(port, host=h)
                if tls_port is not None:
                    tls_listeners += await trio.open_tcp_listeners(tls_port, host=h)
                if irc_port is not None:
                    irc_listeners += await trio.open_tcp_listeners(irc_port, host=h)
                if irc_tls_port is not None:
                    irc_tls_listeners += await trio.open_tcp_listeners(irc_tls_port, host=h)
            self.irc_listeners = irc_listeners + irc_tls_listeners
            self.tls_listeners = tls_listeners + irc_tls_listeners
            async with trio.open_nursery() as store_side:
                if self.committer is not None:
                    await store_side.start(self.committer.run)
                async with trio.open_nursery() as connections:
                    async with trio.open_nursery() as accepting:
                        accepting.start_soon(self._keep_time)
                        groups = (
                            (listeners, None, False),
                            (tls_listeners, self.tls, False),
                            (irc_listeners, None, True),
                            (irc_tls_listeners, self.tls, True),
                        )
                        for group, tls, irc in groups:
                            if group:
                                accepting.start_soon(
                                    partial(trio.serve_listeners, handler_nursery=connections),
                                    partial(self.handle_stream, tls=tls, irc=irc),
                                    group,
                                )
                        task_status.started(
                            listeners + tls_listeners + irc_listeners + irc_tls_listeners
                        )
                        if shutdown is None:
                            await trio.sleep_forever()
                        await shutdown.wait()
                        accepting.cancel_scope.cancel()
                    log.info("shutting down: %d connection(s) to close", len(self.connections))
                    if self.committer is None:
                        self.apply(self.hub.shutdown(self.clock()))
                    else:
                        self.committer.submit(None, "*", self.hub.shutdown(self.clock()))
                    connections.cancel_scope.deadline = (
                        trio.current_time() + self.limits.shutdown_grace + LINGER_SECONDS + 0.5
                    )
                if self.committer is not None:
                    await self.committer.flush()  # the last disconnects are stored
                    log.info("committer: %s", self.committer.summary())
                store_side.cancel_scope.cancel()
        finally:
            for listener in listeners + tls_listeners + irc_listeners + irc_tls_listeners:
                await trio.aclose_forcefully(listener)


async def serve(
    host: str | Sequence[str] | None,
    port: int | None,
    limits: Limits | None = None,
    shutdown: trio.Event | None = None,
    *,
    tls: ServerTLS | None = None,
    tls_port: int | None = None,
    task_status: trio.TaskStatus[list[trio.SocketListener]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run a new :class:`Server` (see :meth:`Server.serve`)."""
    await Server(limits, tls=tls).serve(
        host, port, shutdown, tls_port=tls_port, task_status=task_status
    )


def _push(conn: Connection, data: bytes) -> None:
    conn.push(data)


def _render(conn: Connection, events: Sequence[e.Event]) -> bytes:
    """``events`` as the bytes of ``conn``'s wire: Flack's lines, or its front end's."""
    frontend = conn.frontend
    if frontend is None:
        return b"".join([encode_event(ev) for ev in events])
    assert isinstance(frontend, IrcClient)
    return frontend.render_reply(events)


def _peer_name(stream: trio.SocketStream) -> tuple[str, str]:
    """What the per-address limits count (see :meth:`Server._admit`), and ``address:port``."""
    try:
        addr = stream.socket.getpeername()
    except OSError:
        return "?", "?"
    if not isinstance(addr, tuple):
        return str(addr), str(addr)
    host = str(addr[0])
    peer = f"{host}:{addr[1]}"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host, peer
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped), peer
        if not ip.is_loopback:
            return str(ipaddress.IPv6Network((ip, 64), strict=False)), peer
    return host, peer


def _is_loopback(source: str) -> bool:
    try:
        return ipaddress.ip_network(source, strict=False).is_loopback
    except ValueError:
        return False


def _looks_like_http(line: bytes, first: bool) -> bool:
    """An HTTP request line first, or a ``Host:`` header before registration."""
    return (first and line.startswith(HTTP_METHODS)) or line[:5].lower() == b"host:"


def _tune_socket(stream: trio.SocketStream, sndbuf: int) -> None:
    """A modest kernel send buffer (so the send queue limit is real) and TCP keepalive (so
    a peer that vanished without a FIN is found in about two minutes)."""
    try:
        stream.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
        stream.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        if hasattr(socket, "TCP_KEEPIDLE"):
            stream.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 60)
            stream.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 15)
            stream.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 4)
    except OSError:  # pragma: no cover - the peer may already be gone
        pass


async def _linger(stream: trio.abc.Stream, seconds: float = LINGER_SECONDS) -> None:
    """Half-close, then read and discard until the peer's EOF, for at most a second.

    Closing a socket that still has unread input makes the kernel send a reset, and a
    reset can destroy the last lines (the BYE) before the peer reads them. Over TLS the
    half-close is ``close_notify`` first (and waiting for the peer's), then the same on the
    TCP stream beneath.
    """
    with trio.move_on_after(seconds):
        try:
            if isinstance(stream, trio.SSLStream):
                stream = await end_tls(stream)
            if isinstance(stream, trio.abc.HalfCloseableStream):
                await stream.send_eof()
            while await stream.receive_some(RECEIVE_BYTES):
                pass
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass

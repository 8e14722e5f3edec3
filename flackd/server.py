"""The server: listeners, connections, and effects turned into I/O.

Owns: the task tree (one nursery accepting, one holding the connections' tasks), the
listeners of every wire (Flack's and IRC's, plain and TLS) and the front end each
connection gets, applying hub effects to outboxes, and graceful shutdown. This is the
only module that turns hub effects into I/O. Its other concerns live beside it: an
admitted connection's life (who reads it, the TLS handshake, its last writes) in
:mod:`flackd.lifecycle`, the reader loop and its input limits in :mod:`flackd.reader`,
the deadlines in :mod:`flackd.housekeeping` (mixins of :class:`Server`), who may connect
in :mod:`flackd.admission`, socket details in :mod:`flackd.sockets`. Imports trio, the
standard library and the other flackd modules; never flackcli.

Task tree::

    serve()
    ├── accepting (cancelled first at shutdown)
    │   ├── accept_forever(...): a loop per listener; a plain TCP connection is
    │   │   admitted in it and handed to the poller, with no task ...
    │   ├── the poller: reads every plain TCP connection no task reads
    │   └── _keep_time: the housekeeping task (every connection's deadlines)
    └── connections (outlives accepting; gets a deadline at shutdown)
        ├── ... anything else gets a task of its own for its whole life (TLS,
        │   WebSocket), or for its refusal
        ├── per plain connection, only while needed: its lines waiting (flood pacing,
        │   a full commit queue), a write the kernel did not take whole, its last writes
        └── at shutdown: a task waiting until every connection is gone

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
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial

import trio

from flackd.admission import Admission, ServerPassword
from flackd.codec import events as e
from flackd.codec.lines import encode_event
from flackd.committer import Committer
from flackd.connection import Connection
from flackd.dispatch import line_error, render
from flackd.entry import Entry
from flackd.fanout import broadcast, close_hold, holding, open_hold
from flackd.flusher import Flusher
from flackd.housekeeping import Housekeeping
from flackd.hub import Broadcast, Close, Effect, Hub, HubProtocol, Reply
from flackd.irc import Monitors
from flackd.irc.numerics import DEFAULT_IRC_INFO, DEFAULT_IRC_NAME
from flackd.lifecycle import Lifecycle
from flackd.limits import Limits
from flackd.poller import Poller, available
from flackd.reader import OPER_CHECKS, LineReader, ReadState
from flackd.replica import Replica
from flackd.sockets import (
    LINGER_SECONDS,
    accept_forever,
)
from flackd.store import Store
from flackd.store.log import SharedLog
from flackd.tls import ServerTLS
from flackd.web import Site

__all__ = ["Server", "serve"]

log = logging.getLogger("flackd")


class Server(Entry, Lifecycle, LineReader, Housekeeping):
    """One flackd server: a hub, the limits, and the connections it holds."""

    def __init__(
        self,
        limits: Limits | None = None,
        hub: HubProtocol[Connection] | None = None,
        clock: Callable[[], float] = time.time,
        store: Store | None = None,
        tls: ServerTLS | None = None,
        irc_name: str = DEFAULT_IRC_NAME,
        irc_info: str = DEFAULT_IRC_INFO,
        web_origins: Sequence[str] = (),
        shared_log: SharedLog | None = None,
        password: ServerPassword | None = None,
        opers: Mapping[str, str] | None = None,
    ) -> None:
        """A server with no store (the state lives in memory only) or with one, or one
        node of several sharing ``shared_log`` (:mod:`flackd.replica`).

        With a ``store`` the hub starts from what it holds (unless a ``hub`` is given,
        already built from it) and every change is committed before it is acknowledged
        (:mod:`flackd.committer`). ``opers``: the server operators (name -> password
        hash, :mod:`flackd.hub.credentials`) of the hub made here.
        """
        self.limits = limits or Limits()
        self.clock = clock
        if hub is None:
            snapshot = store.load() if store is not None else None
            hub = Hub(self.limits, snapshot=snapshot, now=clock(), opers=opers)
        self.hub: HubProtocol[Connection] = hub
        #: The server's password (``--password-file``), checked at PASS (see the reader).
        self.password = password
        hub.password_required = password is not None
        self.store = store
        self.committer: Committer[Connection] | Replica | None = None
        #: With a shared log: this node's side of the shared chat.
        self.replica: Replica | None = None
        if shared_log is not None:
            assert isinstance(hub, Hub)
            assert store is None
            self.committer = self.replica = Replica(
                hub,
                shared_log,
                self.apply,
                limits=self.limits,
                registered=self._now_registered,
                presence=lambda nick, online: self.tell_presence(nick, online=online),
                close_all=self._close_all,
                clock=clock,
                local_conns=lambda: self.connections,
            )
        elif store is not None:
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
        #: Writes every plain TCP connection's lines at the end of each pass of the event
        #: loop (:class:`flackd.flusher.Flusher`, a Trio instrument),
        #: and first has the committer commit what the pass held (rule 3 there).
        self.flusher = Flusher(self.limits.write_delay_us / 1e6)
        if isinstance(self.committer, Committer) and self.committer.on_passes():
            # The messages committed at the end of a pass are released together: a
            # channel's are pushed once per member, as in a pass of the poller.
            self.flusher.commit = holding(self.committer.end_of_pass)
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
        #: What IRC clients are told the server is (312, 364).
        self.irc_info = irc_info
        #: The web listeners (plain and TLS) once :meth:`serve` has opened them.
        self.web_listeners: list[trio.SocketListener] = []
        #: What the web port answers (the page, its headers, the Host and Origin checks).
        self.site = Site(web_origins)
        self._http_scopes: set[trio.CancelScope] = set()
        #: Who watches which nick with IRC's MONITOR (see :mod:`flackd.irc.presence`).
        self.monitors = Monitors()
        self.oper_checks = {}
        #: OPER's password checks in worker threads, :data:`flackd.reader.OPER_CHECKS` at once.
        self.oper_limiter = trio.CapacityLimiter(OPER_CHECKS)
        self.connections: set[Connection] = set()
        self._unregistered: set[Connection] = set()
        #: The most registered connections there were at once (LUSERS' "max").
        self.peak_users = 0
        self.admission = Admission(self.limits)
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
        self._bad_utf8 = line_error("INVALID_UTF8", "line is not valid UTF-8; it was dropped")
        self._server_error = e.Bye("SERVER_ERROR", (), "internal error; please reconnect")
        #: The housekeeping task's sleep (see :meth:`_keep_time`).
        self._sleep = trio.CancelScope()
        #: Reads every plain TCP connection no task reads, while :meth:`serve` runs
        #: (:mod:`flackd.lifecycle`); None where the kernel has no epoll.
        self.poller: Poller[ReadState] | None = None
        #: The connections nursery, while :meth:`serve` runs.
        self.nursery: trio.Nursery | None = None
        self._all_gone: trio.Event | None = None
        self._on_closed = self._closed

    # -- effects -> outboxes -------------------------------------------------------------

    def apply(self, effects: Sequence[Effect[Connection]]) -> None:
        """Turn hub effects into outbox pushes. Synchronous: never awaits a peer."""
        for effect in effects:
            if type(effect) is Broadcast:
                broadcast(effect.conns, encode_event(effect.event), effect.event)
            elif type(effect) is Reply:
                effect.conn.push(render(effect.conn, effect.events))
            elif type(effect) is Close:
                effect.conn.close(render(effect.conn, (effect.bye,)), effect.reason)
            else:  # pragma: no cover - the Effect union is closed
                raise TypeError(effect)

    def _pass_done(self) -> None:
        """The poller's pass is over: push the broadcast it held (rule 2), then write
        what the pass queued (:meth:`flackd.flusher.Flusher.after_reads`)."""
        close_hold()
        self.flusher.after_reads()

    def _close_all(self, reason: str) -> None:
        """Close every client connection with ``BYE SHUTDOWN`` (this node starts again)."""
        bye = e.Bye("SHUTDOWN", ("retry=1",), f"this node is starting again ({reason}); "
                    "reconnect and RESUME")  # fmt: skip
        for conn in list(self.connections):
            conn.close(render(conn, (bye,)), "node restarting")

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
        web_port: int | None = None,
        web_tls_port: int | None = None,
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
        (:mod:`flackd.irc`), listed after those and in :attr:`irc_listeners`, into the
        same hub. ``web_port`` and ``web_tls_port`` add the web front end's (the page over
        HTTP, the chat over a WebSocket: :mod:`flackd.web`), listed last and in
        :attr:`web_listeners`.
        """
        tls_ports = (tls_port, irc_tls_port, web_tls_port)
        if any(p is not None for p in tls_ports) and self.tls is None:
            raise ValueError("TLS ports need a certificate: Server(..., tls=ServerTLS(...))")
        if all(p is None for p in (port, irc_port, web_port, *tls_ports)):
            raise ValueError("nothing to listen on: give a port, a tls_port or both")
        hosts: list[str | None] = [host] if host is None or isinstance(host, str) else list(host)
        listeners: list[trio.SocketListener] = []
        self.tls_listeners = tls_listeners = []
        self.irc_listeners = irc_listeners = []
        irc_tls_listeners: list[trio.SocketListener] = []
        self.web_listeners = web_listeners = []
        web_tls_listeners: list[trio.SocketListener] = []
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
                if web_port is not None:
                    web_listeners += await trio.open_tcp_listeners(web_port, host=h)
                if web_tls_port is not None:
                    web_tls_listeners += await trio.open_tcp_listeners(web_tls_port, host=h)
            self.irc_listeners = irc_listeners + irc_tls_listeners
            self.web_listeners = web_listeners + web_tls_listeners
            self.tls_listeners = tls_listeners + irc_tls_listeners + web_tls_listeners
            everything = (
                listeners + tls_listeners + irc_listeners + irc_tls_listeners + self.web_listeners
            )
            trio.lowlevel.add_instrument(self.flusher)  # writes at the end of every pass
            async with trio.open_nursery() as store_side:
                if self.committer is not None:
                    await store_side.start(self.committer.run)
                async with trio.open_nursery() as connections:
                    self.flusher.nursery = connections  # writer tasks for short writes
                    self.nursery = connections  # the connections' tasks
                    async with trio.open_nursery() as accepting:
                        accepting.start_soon(self._keep_time)
                        if available():
                            self.poller = Poller()
                            accepting.start_soon(
                                self.poller.run, self._ready, self._pass_done, open_hold
                            )
                        groups = (
                            (listeners, None, False, False),
                            (tls_listeners, self.tls, False, False),
                            (irc_listeners, None, True, False),
                            (irc_tls_listeners, self.tls, True, False),
                            (web_listeners, None, False, True),
                            (web_tls_listeners, self.tls, False, True),
                        )
                        for group, tls, irc, web in groups:
                            if group:
                                accepting.start_soon(
                                    accept_forever,
                                    group,
                                    partial(self.door, tls=tls, irc=irc, web=web),
                                    connections,
                                )
                        task_status.started(everything)
                        if shutdown is None:
                            await trio.sleep_forever()
                        await shutdown.wait()
                        accepting.cancel_scope.cancel()
                    for scope in self._http_scopes:  # pages, not sessions: no BYE owed
                        scope.cancel()
                    log.info("shutting down: %d connection(s) to close", len(self.connections))
                    if self.committer is None:
                        self.apply(self.hub.shutdown(self.clock()))
                    else:
                        self.committer.submit(None, "*", self.hub.shutdown(self.clock()))
                    connections.cancel_scope.deadline = (
                        trio.current_time() + self.limits.shutdown_grace + LINGER_SECONDS + 0.5
                    )
                    if self.connections:  # some may have no task yet: the BYE starts it
                        self._all_gone = trio.Event()
                        connections.start_soon(self._all_gone.wait)
                if self.replica is not None:
                    deadline = trio.current_time() + self.limits.redis_timeout
                    await self.replica.stop(deadline)  # the last disconnects are stored
                    log.info("cluster: %s", self.replica.summary())
                elif self.committer is not None:
                    await self.committer.flush()  # the last disconnects are stored
                    log.info("committer: %s", self.committer.summary())
                store_side.cancel_scope.cancel()
        finally:
            with contextlib.suppress(KeyError):  # not added yet, or removed by Trio
                trio.lowlevel.remove_instrument(self.flusher)
            self._abandon()  # cancelled: connections no task holds close at once
            if self.poller is not None:
                self.poller.close()
            for listener in (*listeners, *tls_listeners, *irc_listeners, *irc_tls_listeners,
                             *web_listeners, *web_tls_listeners):  # fmt: skip
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

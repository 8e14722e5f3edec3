"""Entry: how an accepted connection comes in, on each kind of listener.

Owns: :meth:`Entry.door` (admission, with the refusal each wire understands: a
``BYE``, an IRC ``ERROR`` or an HTTP status; socket tuning; which transport and which
front end a connection gets), the web port's HTTP phase until a WebSocket is accepted
(:mod:`flackd.web` answers the requests; the per-address rate of chat connections is
counted at the upgrade), and the IRC front end of a connection. What happens to an
admitted connection after that is :meth:`flackd.server.Server._live`, the same for every
wire and transport. A mixin of :class:`flackd.server.Server`. Imports trio, the standard
library and the flackd modules it drives; never flackcli.
"""

from __future__ import annotations

import contextlib
import logging
from functools import partial
from typing import TYPE_CHECKING

import trio

from flackd import __version__
from flackd.admission import Admission, ServerPassword, peer_name
from flackd.codec import events as e
from flackd.codec.lines import encode_event
from flackd.connection import Connection
from flackd.hub import HubProtocol
from flackd.irc import IrcClient, Monitors, Renderer
from flackd.irc.numerics import error_line, irc_isupport
from flackd.limits import Limits
from flackd.poller import Poller
from flackd.reader import FREE_FACTOR, ReadState
from flackd.sockets import REFUSAL_LINGER_SECONDS, Job, linger, tune_socket
from flackd.stream_connection import StreamConnection
from flackd.tls import ServerTLS
from flackd.web import Answer, Site, WebSocketStream, refusal, serve_http

__all__ = ["Entry"]

log = logging.getLogger("flackd")


class Entry:
    """The door side of :class:`flackd.server.Server` (see the module docstring)."""

    limits: Limits
    hub: HubProtocol[Connection]
    admission: Admission
    password: ServerPassword | None
    connections: set[Connection]
    _unregistered: set[Connection]
    peak_users: int
    irc_name: str
    irc_info: str
    monitors: Monitors
    site: Site
    #: The HTTP phases under way (shutdown ends them at once: they hold no session).
    _http_scopes: set[trio.CancelScope]
    _bye_sendq: bytes
    _bye_sendq_event: e.Bye

    #: Reads the plain TCP connections (:mod:`flackd.lifecycle`); None: tasks do.
    poller: Poller[ReadState] | None

    if TYPE_CHECKING:

        def _enter(self, conn: Connection, ip: str) -> None: ...

        async def _live(
            self, conn: Connection, handshake: trio.SSLStream[trio.SocketStream] | None = None
        ) -> None: ...

    def door(
        self,
        stream: trio.SocketStream,
        tls: ServerTLS | None = None,
        irc: bool = False,
        web: bool = False,
    ) -> Job:
        """Take in one accepted connection, in the accept loop. Never raises.

        Admission first, by the same per-address limits on every listener and before any
        handshake work. A plain TCP connection it admits is handed to the poller here and
        needs no task (None); anything else returns the task that serves it, which closes
        the stream: a refusal (said in the wire's words, or for ``tls`` a close without a
        word: there is no channel to say it on yet), a TLS connection, a web connection.
        ``irc``: the connection speaks IRC. ``web``: it speaks HTTP, and may become a
        WebSocket carrying Flack's lines.
        """
        ip, peer = peer_name(stream)
        # Connections still fetching pages count against --max-connections too.
        connections = len(self.connections) + len(self._http_scopes)
        refused = self.admission.admit(ip, connections, len(self._unregistered), new_chat=not web)
        if refused is not None:
            log.debug("refused %s: %s", peer, refused.code)
            said = None if tls is not None else self._refusal(refused, irc, web)
            return partial(_refuse, stream, said)
        tune_socket(stream, self.limits.socket_sndbuf)
        limits = self.limits
        settings = (
            peer,
            limits.sendq_bytes,
            limits.shutdown_grace,
            self._bye_sendq,
            limits.reg_timeout,
        )
        self.admission.opened(ip)
        if tls is None and not web and self.poller is not None:
            # Plain TCP: the poller reads it, and its last task releases ``ip`` and the
            # stream (:mod:`flackd.lifecycle`), even if taking it in fails half-way.
            try:
                conn = Connection(stream, *settings)
                if irc:
                    self._speak_irc(conn)
                self._enter(conn, ip)  # raises only before anything has learnt of conn
            except Exception:
                self.admission.closed(ip)  # the accept loop logs it and closes the socket
                raise
            return None
        return partial(self._serve, stream, ip, settings, tls, irc, web)

    async def _serve(
        self,
        stream: trio.SocketStream,
        ip: str,
        settings: tuple[str, int, float, bytes, float],
        tls: ServerTLS | None,
        irc: bool,
        web: bool,
    ) -> None:
        """The task of an admitted connection that the poller does not read (TLS, a web
        connection, or any where ``epoll`` is missing), for its whole life."""
        try:
            tls_stream = None if tls is None else tls.wrap(stream)
            if web:
                transport = await self._web(stream, tls_stream, ip)
                if transport is not None:
                    await self._live(StreamConnection(transport, stream, *settings))
                return
            conn = (
                Connection(stream, *settings)
                if tls_stream is None
                else StreamConnection(tls_stream, stream, *settings)
            )
            if irc:
                self._speak_irc(conn)
            await self._live(conn, tls_stream)
        finally:
            self.admission.closed(ip)
            await trio.aclose_forcefully(stream)

    def _refusal(self, bye: e.Bye, irc: bool, web: bool) -> bytes:
        if web:
            return refusal(self._http_refusal(bye))
        return error_line(bye.text) if irc else encode_event(bye)

    def _http_refusal(self, bye: e.Bye) -> Answer:
        """A refusal of the connection limits as the web port says it."""
        retry = next((p[6:] for p in bye.params if p.startswith("retry=")), None)
        return self.site.refused(bye.code, bye.text, retry)

    # -- the web port ------------------------------------------------------------------

    async def _web(
        self,
        stream: trio.SocketStream,
        tls_stream: trio.SSLStream[trio.SocketStream] | None,
        ip: str,
    ) -> WebSocketStream | None:
        """The HTTP phase of a web-port connection: pages until it asks for the
        WebSocket. The WebSocket once accepted; None once the connection is done."""
        limits = self.limits
        scope = trio.CancelScope()
        self._http_scopes.add(scope)
        try:
            with scope:
                if tls_stream is not None:
                    try:
                        with trio.fail_after(limits.web_timeout):
                            await tls_stream.do_handshake()
                    except (OSError, trio.BrokenResourceError, trio.ClosedResourceError,
                            trio.TooSlowError):  # fmt: skip
                        return None  # failed, or longer than --web-timeout
                try:
                    return await serve_http(
                        stream if tls_stream is None else tls_stream,
                        self.site,
                        tls=tls_stream is not None,
                        head_bytes=limits.web_head_bytes,
                        request_seconds=limits.web_timeout,
                        admit=lambda: self._admit_websocket(ip),
                        frames=(
                            limits.flood_burst * FREE_FACTOR,
                            limits.flood_rate * FREE_FACTOR,
                        ),
                    )
                except Exception:
                    log.exception("web connection from %s: internal error; closing it", ip)
                    return None
            return None  # shutdown began during the HTTP phase
        finally:
            self._http_scopes.discard(scope)

    def _admit_websocket(self, ip: str) -> Answer | None:
        """A WebSocket is a new chat connection: the server's size and ``--new-per-ip``."""
        admission = self.admission
        bye = admission.busy(len(self.connections), len(self._unregistered))
        bye = bye or admission.admit_chat(ip)
        return None if bye is None else self._http_refusal(bye)

    # -- IRC ---------------------------------------------------------------------------

    def _irc_stats(self) -> tuple[int, int, int, int]:
        """LUSERS: registered connections (every wire) not closing, channels, the most
        users at once, and how many of those connections are server operators. One pass
        over the connections: LUSERS and IRC registrations only."""
        unregistered, registered = self._unregistered, self.hub.is_registered
        users = [
            c
            for c in self.connections
            if not c.closing and (c not in unregistered or registered(c))  # one registering
        ]
        self.peak_users = max(self.peak_users, len(users))
        operators = self.hub.operator_count(users)
        return len(users), self.hub.channel_count(), self.peak_users, operators

    def _speak_irc(self, conn: Connection) -> None:
        """``conn`` speaks IRC: its front end renders what it is sent."""
        client = self._irc_client(conn)
        conn.use_frontend(client)
        conn.answers_pings = True  # IRC clients must: one that stops is closed
        conn.bye_sendq = client.render_reply([self._bye_sendq_event])

    def _irc_client(self, conn: Connection) -> IrcClient:
        """The IRC front end of one connection (see :mod:`flackd.irc`)."""
        limits = self.limits
        isupport = irc_isupport(limits, "Flack")
        renderer = Renderer(
            self.irc_name,
            f"flackd-{__version__}",
            min(limits.irc_history, limits.join_replay),
            isupport,
            self._irc_stats,
            self.irc_info,
        )
        hub = self.hub
        return IrcClient(
            renderer,
            hub,
            hub.own_view(conn),
            isupport,
            limits.history,
            monitors=self.monitors,
            handle=conn,
            monitor_limit=limits.irc_monitor,
            server_password=self.password is not None,
            list_max=limits.list_max,
        )


async def _refuse(stream: trio.SocketStream, said: bytes | None) -> None:
    """A refused connection's task: say why (when there is a wire to say it on), linger
    so that a reset cannot eat it, close."""
    if said is not None:
        with (
            trio.move_on_after(1),
            contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError),
        ):
            await stream.send_all(said)
        await linger(stream, REFUSAL_LINGER_SECONDS)
    await trio.aclose_forcefully(stream)

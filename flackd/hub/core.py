"""The hub itself: the rules composed behind the interface the server uses.

Owns: :class:`Hub`: creating it (empty, or from a store's snapshot), the interface the
server uses (connect, handle and its dispatch, disconnect, shutdown), the store's side
(take_changes, restore) and views for tests and operators. The rules themselves live in
:mod:`flackd.hub.sessions`, :mod:`flackd.hub.channels` (with :mod:`flackd.hub.modes`
and :mod:`flackd.hub.gates`) and :mod:`flackd.hub.messages`.
Imports only the standard library, the package's version (``flackd``), ``flackd.codec``,
``flackd.history``, ``flackd.limits``, the store's interface (``flackd.store``) and the
hub's own modules: never trio, never a concrete store.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Final, assert_never

from flackd import __version__
from flackd.codec import commands as c
from flackd.codec import events as e
from flackd.codec.errors import ProtocolError
from flackd.codec.grammar import Verb
from flackd.codec.ids import IdGenerator
from flackd.codec.text import fold, is_channel
from flackd.history import ChannelHistory, Entry
from flackd.hub.blocks import help_block, names_block
from flackd.hub.effects import Close, Effect, Reply
from flackd.hub.gates import visible
from flackd.hub.journal import Journal
from flackd.hub.messages import MessageRules
from flackd.hub.modes import ModeRules
from flackd.hub.opers import OperRules
from flackd.hub.sessions import SessionRules
from flackd.hub.state import C, Channel, Conversation, Holder, Session, hash_token
from flackd.hub.views import Views
from flackd.limits import Limits
from flackd.store import Changes, Snapshot

_WELCOME: Final = "welcome to Flack; type NICK <name> to start, HELP for commands"
_WELCOME_PASSWORD: Final = (
    "welcome to Flack; this server has a password: type PASS <password>, then NICK <name>"
)


class Hub(SessionRules[C], ModeRules[C], MessageRules[C], OperRules[C], Views[C]):
    """The in-memory chat state of one server. See :mod:`flackd.hub` for the rules."""

    def __init__(
        self,
        limits: Limits | None = None,
        ids: IdGenerator | None = None,
        *,
        snapshot: Snapshot | None = None,
        now: float | None = None,
        opers: Mapping[str, str] | None = None,
    ) -> None:
        """A hub with no store (``snapshot`` None), or one whose state a store keeps.

        With a ``snapshot`` (what :meth:`flackd.store.Store.load` returned), the hub starts
        from it, with every session dropped at ``now`` unless it already was, and keeps a
        :attr:`journal` of its changes for the server to commit. ``opers``: the server
        operators, name -> password hash (:mod:`flackd.hub.credentials`).
        """
        self.limits = limits or Limits()
        self.opers = dict(opers or {})
        self.ids = ids or IdGenerator()
        #: The server checks a password (PASS) before NICK or RESUME; only the greeting
        #: says so here: the check is the server's (:mod:`flackd.admission`).
        self.password_required = False
        self.journal: Journal[C] | None = None
        self._conns: dict[C, Session[C] | None] = {}
        self._reset()
        if snapshot is not None:
            self.journal = Journal()
            self.ids = IdGenerator(snapshot.boot)
            self.restore(snapshot, 0.0 if now is None else now)

    # -- the store's side ----------------------------------------------------------------

    def take_changes(self) -> Changes | None:
        """What changed since the last call, as rows for the store; None if nothing did."""
        journal = self.journal
        if journal is None or journal.empty():
            return None
        return journal.take(self.ids.last_seq, self._next_sid)

    def restore(self, snapshot: Snapshot, now: float, *, unregister: Collection[C] = ()) -> None:
        """Make the stored state the hub's state, keeping its live connections.

        Used at start-up and after a failed commit (the store then still holds the state
        before the failed changes, which are forgotten here). A live connection whose
        session is stored gets it back, in its stored channels; one whose session is not
        (it registered in the failed batch), or that is in ``unregister`` (its NICK or
        RESUME failed), is unregistered again. Stored sessions without
        a connection are dropped sessions, resumable for ``resume_ttl`` from when they
        were dropped (or from ``now`` if they were connected when the state was stored).
        """
        live: dict[int, C] = {}
        for conn, attached in self._conns.items():
            if attached is not None and attached.conn == conn and conn not in unregister:
                live[attached.sid] = conn
        self._reset()
        # Never below what was handed out: a read in a failed batch may have shown an id.
        self.ids.last_seq = max(self.ids.last_seq, snapshot.last_seq)
        self._next_sid = snapshot.last_sid
        history = self.limits.history
        for crow in snapshot.channels:
            channel: Channel[C] = Channel(crow.name, ChannelHistory(history))
            channel.topic = crow.topic
            channel.topic_setter = crow.topic_setter
            channel.topic_time = crow.topic_time
            channel.history.last_dropped_seq = crow.last_dropped_seq
            channel.vacated_at = now
            channel.created = crow.created or now
            channel.ops = set(crow.ops)
            channel.voiced = set(crow.voiced)
            channel.flags = crow.flags
            channel.passkey = crow.passkey
            channel.limit = crow.limit
            channel.bans = list(crow.bans)
            channel.invited = dict.fromkeys(crow.invited)
            channel.excepts = list(crow.excepts)
            channel.invexes = list(crow.invexes)
            channel.regate()
            self._channels[crow.key] = channel
        for conn in list(self._conns):
            self._conns[conn] = None
        sessions: dict[int, Session[C]] = {}
        resumable = sorted(
            snapshot.sessions,
            key=lambda r: now if r.detached_at is None or r.sid in live else r.detached_at,
        )
        for srow in resumable:
            session: Session[C] = Session(srow.sid, srow.nick, srow.token_hash, None)
            sessions[srow.sid] = session
            for key in srow.channels:
                held = self._channels.get(key)
                if held is not None:
                    session.channels[key] = held
            if srow.last_channel in session.channels:
                session.last_channel = srow.last_channel
            session.markers = dict(srow.markers)
            session.modes = srow.modes
            self._sessions[session.key] = session
            self._tokens[session.token_hash] = session
            back = live.get(srow.sid)
            if back is not None and back in self._conns:
                session.conn = back
                self._conns[back] = session
                for held in session.channels.values():
                    held.add(session)
            else:
                session.detached_at = now if srow.detached_at is None else srow.detached_at
                self._detached[session] = None
        holders: dict[str, Holder[C]] = dict(self._channels)
        for vrow in snapshot.conversations:
            a = sessions.get(vrow.sid_a) or _ended(vrow.sid_a, vrow.nick_a)
            b = a if vrow.sid_b == vrow.sid_a else sessions.get(vrow.sid_b)
            b = b or _ended(vrow.sid_b, vrow.nick_b)
            conversation = Conversation(vrow.key, a, b, ChannelHistory(self.limits.dm_history))
            conversation.history.last_dropped_seq = vrow.last_dropped_seq
            a.conversations[b.sid] = conversation
            b.conversations[a.sid] = conversation
            holders[vrow.key] = conversation
        own: dict[tuple[int, str], int] = {}  # (author sid, holder key) -> newest seq
        for mrow in snapshot.messages:
            holder = holders.get(mrow.holder)
            if holder is None:  # pragma: no cover - a store keeps no orphans
                continue
            own[mrow.author_sid, mrow.holder] = mrow.seq
            message = e.Message(mrow.target, mrow.msgid, mrow.time, mrow.author, mrow.text,
                                mrow.action, mrow.edited, mrow.notice)  # fmt: skip
            dropped = holder.history.append(Entry(mrow.seq, message, mrow.author_sid))
            if dropped is not None:  # a history limit was lowered since the rows were stored
                self._where.pop(dropped.seq, None)
            self._where[mrow.seq] = holder
        # What a session wrote it has read: markers moved by writing are not stored.
        for (sid, key), seq in own.items():
            writer = sessions.get(sid)
            if writer is None or not (key in writer.channels or key.startswith("@")):
                continue
            writer.markers[key] = max(writer.markers.get(key, 0), seq)
        for session in sessions.values():
            places = set(session.channels) | {cv.key for cv in session.conversations.values()}
            session.markers = {k: v for k, v in session.markers.items() if k in places}
            for key, held in session.channels.items():
                # A database from before read markers: what it holds counts as read.
                session.markers.setdefault(key, held.history.newest_seq)

    # -- the interface the server uses -------------------------------------------------

    def connect(self, conn: C, now: float) -> list[Effect[C]]:
        """A new connection: remember it and greet it."""
        self._conns[conn] = None
        hello = e.Hello(
            "flackd",
            __version__,
            self.limits.max_line_bytes,
            self.limits.history,
            _WELCOME_PASSWORD if self.password_required else _WELCOME,
            password=self.password_required,
        )
        return [Reply(conn, [hello])]

    def is_registered(self, conn: C) -> bool:
        return self._conns.get(conn) is not None

    def handle(self, conn: C, verb: Verb, command: c.Command, now: float) -> list[Effect[C]]:
        """Carry out one parsed command from ``conn``.

        A connection the hub has let go of (after its QUIT, or taken over by a RESUME
        elsewhere) gets nothing done: its closing may still wait for a commit, and what it
        sends meanwhile must not act, least of all register a new session.
        """
        session = self._conns.get(conn)
        if session is None:
            if conn not in self._conns:
                return []
            if not verb.before_registration:
                return [Reply(conn, [self._not_registered(verb.name)])]
        try:
            if type(command) is c.Msg and session is not None:  # the hot path, looked at first
                return self._msg(session, command.target, command.text, now)
            return self._dispatch(conn, session, command, now)
        except ProtocolError as err:
            return [Reply(conn, [err.reply])]

    def resume_hashed(self, conn: C, token_hash: str, now: float) -> list[Effect[C]]:
        """``RESUME`` given the token's hash: how a replica of a shared hub carries out a
        RESUME from its log, which holds hashes, never tokens (:mod:`flackd.replica`)."""
        if conn not in self._conns:
            return []
        try:
            return self._resume(conn, self._conns[conn], token_hash, now)
        except ProtocolError as err:
            return [Reply(conn, [err.reply])]

    def oper_checked(self, conn: C, name: str, verdict: str, now: float) -> list[Effect[C]]:
        """``OPER`` whose credentials were already checked (:meth:`check_oper`): how a
        replica of a shared hub carries out an OPER from its log, which holds the verdict,
        never a password (:mod:`flackd.replica`)."""
        session = self._conns.get(conn)
        if session is None:
            if conn not in self._conns:
                return []
            return [Reply(conn, [self._not_registered("OPER")])]
        try:
            return self._oper(session, name, verdict)
        except ProtocolError as err:
            return [Reply(conn, [err.reply])]

    def disconnect(self, conn: C, reason: str, now: float) -> list[Effect[C]]:
        """The connection is gone (for any reason). Idempotent."""
        if conn not in self._conns:
            return []
        session = self._conns.pop(conn)
        if session is None or session.conn != conn:
            return []
        effects = self._leave_all(session, e.Quit(session.nick, reason), now)
        session.conn = None
        session.away = None
        session.identity = None
        session.detached_at = now
        self._detached[session] = None
        if self.journal is not None:
            self.journal.session(session)
        self._expire(now)
        return effects

    def shutdown(self, now: float) -> list[Effect[C]]:
        """Say goodbye to every connection."""
        bye = e.Bye("SHUTDOWN", ("retry=5",), "server shutting down; reconnect in a few seconds")
        return [Close(conn, bye, "server shutting down") for conn in self._conns]

    # -- views for tests and operators -------------------------------------------------

    @property
    def connection_count(self) -> int:
        return len(self._conns)

    def channel(self, name: str) -> Channel[C] | None:
        return self._channels.get(fold(name))

    def session(self, nick: str) -> Session[C] | None:
        return self._sessions.get(fold(nick))

    # -- dispatch ----------------------------------------------------------------------

    def _dispatch(
        self, conn: C, session: Session[C] | None, command: c.Command, now: float
    ) -> list[Effect[C]]:
        match command:
            case c.Nick(nick):
                if session is None:
                    return self._register(conn, nick, now)
                return self._rename(session, nick, now)
            case c.Resume(token):
                return self._resume(conn, session, hash_token(token), now)
            case c.Ping(token):
                return [Reply(conn, [e.Pong(token)])]
            case c.Pong():
                return []
            case c.Pass():  # the server checks it at the door (flackd.reader): never here
                return []
            case c.Help(topic):
                return [Reply(conn, help_block(topic))]
            case c.Quit(reason):
                return self._quit(conn, session, reason, now)
            case _:
                pass
        assert session is not None  # guaranteed by handle(): other verbs need registration
        match command:
            case c.Join(name, key):
                return self._join(session, name, now, create_only=False, passkey=key)
            case c.Create(name):
                return self._join(session, name, now, create_only=True)
            case c.Part(name, reason):
                return self._part(session, name, reason, now)
            case c.Invite(nick, name):
                return self._invite(session, nick, name)
            case c.Invites():
                return [Reply(conn, self._invites(session))]
            case c.Ctcp(target, verb, text):
                return self._ctcp(session, target, verb, text)
            case c.Mode(name, words):
                if not is_channel(name):
                    return self._user_mode(session, name, words)
                return self._mode(session, name, words, now)
            case c.Oper(name, password):
                return self._oper(session, name, self.check_oper(name, password))
            case c.Kill(nick, reason):
                return self._kill(session, nick, reason, now)
            case c.Wallops(text):
                return self._wallops(session, text)
            case c.Kick(name, nick, reason):
                return self._kick(session, name, nick, reason, now)
            case c.Msg(target, text):
                return self._msg(session, target, text, now)
            case c.ListChannels(after):
                return [Reply(conn, self._list(session, after))]
            case c.Names(name):
                channel = self._existing("NAMES", name)
                if not visible(channel, session):
                    channel = self._membership(session, "NAMES", name)  # NOT_IN_CHANNEL
                return [Reply(conn, names_block(channel))]
            case c.Topic(name, text):
                return self._topic(session, name, text, now)
            case c.History():
                return [Reply(conn, self._history(session, command))]
            case c.Delete(msgid, reason):
                return self._delete(session, msgid, reason)
            case c.Action(target, text):
                return self._msg(session, target, text, now, action=True)
            case c.Notice(target, text):
                return self._msg(session, target, text, now, notice=True)
            case c.Edit(msgid, text):
                return self._edit(session, msgid, text, now)
            case c.Mark(target, msgid):
                return self._mark(session, target, msgid)
            case c.Unread(every):
                return [Reply(conn, self._unread_block(session, every))]
            case _:
                assert_never(command)


def _ended(sid: int, nick: str) -> Session[C]:
    """The ended side of a restored conversation: a session in name only."""
    session: Session[C] = Session(sid, nick, "", None)
    session.ended = True
    return session

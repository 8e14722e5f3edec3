"""The hub: users, nicks, sessions, channels and history; commands in, effects out.

Owns: all chat state of one flackd process and every rule about it (who may do what,
name uniqueness, resume tokens, ordering). It never awaits and does no I/O: each call takes
the current time and returns a list of effects (:class:`Reply`, :class:`Broadcast`,
:class:`Close`) that only ``flackd.server`` turns into socket writes. So it needs no
locks: no two commands interleave inside it. Imports only the standard library,
``flackd.codec``, ``flackd.history`` and ``flackd.limits``.

The server sees the hub only through :class:`HubProtocol`. A later multi-node backplane
replaces the part that delivers to local members behind that interface; the codec and
the connection code stay as they are.

Connections are opaque, hashable handles (``C``) chosen by the server; the hub never calls
them.

Rules:

1. Registration completes inside the NICK (or RESUME) handler, so lines pipelined behind
   it in the same packet already count as registered.
2. A nick is checked and taken in one synchronous step: of twenty racing ``NICK x``
   exactly one wins.
3. Each channel has one total order: the order of :meth:`ChannelHistory.append`. Every
   member's copy of a message is queued in that order, sender included (the echo is the
   sender's acknowledgement and carries the id).
4. A change that others see is acknowledged by the very line they get (MSG, PART, a nick
   change, a topic change, DELETED); JOIN, CREATE, NICK (registration) and RESUME answer
   with ``OK``.
5. A dropped connection leaves a *detached* session: its nick stays reserved and it can be
   resumed for ``resume_ttl`` seconds. QUIT ends the session at once.
"""

from __future__ import annotations

import bisect
import math
import secrets
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar, assert_never

from flackd import __version__
from flackd.codec import commands as c
from flackd.codec import events as e
from flackd.codec.grammar import VERBS, ProtocolError, Verb
from flackd.codec.ids import IdGenerator, format_timestamp, parse_id
from flackd.codec.text import (
    CHANNEL_MAX_CHARS,
    NICK_MAX_CHARS,
    fold,
    is_channel,
    is_valid_channel,
    is_valid_nick,
)
from flackd.history import ChannelHistory, Entry, Page
from flackd.limits import Limits

__all__ = [
    "Broadcast",
    "Channel",
    "Close",
    "Effect",
    "Hub",
    "HubProtocol",
    "Reply",
    "Session",
]

C = TypeVar("C", bound=Hashable)

#: Seconds over which ``Limits.channel_creates`` counts.
CREATION_WINDOW = 60.0


# ---------------------------------------------------------------------------- effects


# Effects and history entries are plain dataclasses, not frozen ones: at least one is
# made per message, and a frozen dataclass takes three times as long to make. Nothing
# changes them after they are made.


@dataclass(slots=True)
class Reply(Generic[C]):
    """Queue ``events`` for one connection, in order."""

    conn: C
    events: list[e.Event]


@dataclass(slots=True)
class Broadcast(Generic[C]):
    """Queue one line for each of ``conns`` (formatted and encoded once)."""

    conns: Sequence[C]
    event: e.Event


@dataclass(slots=True)
class Close(Generic[C]):
    """Queue ``bye`` as the connection's last line, flush, then close it."""

    conn: C
    bye: e.Bye
    reason: str


Effect = Reply[C] | Broadcast[C] | Close[C]


class HubProtocol(Protocol[C]):
    """What the server needs from a hub."""

    def connect(self, conn: C, now: float) -> list[Effect[C]]: ...
    def handle(self, conn: C, verb: Verb, command: c.Command, now: float) -> list[Effect[C]]: ...
    def disconnect(self, conn: C, reason: str, now: float) -> list[Effect[C]]: ...
    def shutdown(self, now: float) -> list[Effect[C]]: ...
    def is_registered(self, conn: C) -> bool: ...


# ---------------------------------------------------------------------------- state


@dataclass(eq=False, slots=True)
class Session(Generic[C]):
    """A registered user, connected or detached."""

    sid: int
    nick: str
    token: str
    conn: C | None
    # By folded name, least recently used first (joining or writing moves one to the end).
    channels: dict[str, Channel[C]] = field(default_factory=dict)
    last_channel: str | None = None  # folded name
    detached_at: float | None = None
    created: list[float] = field(default_factory=list)  # times of recent channel creations
    key: str = field(init=False)  # fold(nick): kept, not recomputed, as every MSG needs it

    def __post_init__(self) -> None:
        self.key = fold(self.nick)

    def rename(self, nick: str) -> None:
        self.nick = nick
        self.key = fold(nick)


@dataclass(eq=False, slots=True)
class Channel(Generic[C]):
    """A channel: its display name, topic, live members and history.

    Change ``members`` only through :meth:`add` and :meth:`remove` (and call
    :meth:`member_moved` when a member's connection changes), so that the tuple of member
    connections every message is broadcast to is built once per change, not per message.
    """

    name: str
    history: ChannelHistory
    members: dict[str, Session[C]] = field(default_factory=dict)  # by folded nick
    topic: str = ""
    topic_setter: str = "*"
    topic_time: str = "*"
    vacated_at: float | None = None  # when the last member left (None while anyone is in)
    _conns: tuple[C, ...] | None = None  # cache of conns(); None when stale

    def conns(self) -> tuple[C, ...]:
        """The connections of the members that are connected, in joining order."""
        conns = self._conns
        if conns is None:
            conns = tuple(s.conn for s in self.members.values() if s.conn is not None)
            self._conns = conns
        return conns

    def add(self, session: Session[C]) -> None:
        self.members[session.key] = session
        self.vacated_at = None
        self._conns = None

    def remove(self, session: Session[C], now: float) -> None:
        """Take ``session`` out (if it is in); note the time when the last member leaves."""
        if self.members.pop(session.key, None) is not None:
            self._conns = None
            if not self.members:
                self.vacated_at = now

    def member_moved(self) -> None:
        """A member's connection changed (a session resumed on a new connection)."""
        self._conns = None


# ---------------------------------------------------------------------------- the hub


class Hub(Generic[C]):
    """The in-memory chat state of one server. See the module docstring for the rules."""

    def __init__(self, limits: Limits | None = None, ids: IdGenerator | None = None) -> None:
        self.limits = limits or Limits()
        self.ids = ids or IdGenerator()
        self._conns: dict[C, Session[C] | None] = {}
        self._sessions: dict[str, Session[C]] = {}  # by folded nick, connected or detached
        self._tokens: dict[str, Session[C]] = {}
        self._detached: OrderedDict[Session[C], None] = OrderedDict()  # oldest first
        self._channels: dict[str, Channel[C]] = {}  # by folded name
        self._where: dict[int, Channel[C]] = {}  # message seq -> channel holding it
        self._next_sid = 0

    # -- the interface the server uses -------------------------------------------------

    def connect(self, conn: C, now: float) -> list[Effect[C]]:
        """A new connection: remember it and greet it."""
        self._conns[conn] = None
        hello = e.Hello(
            "flackd",
            __version__,
            self.limits.max_line_bytes,
            self.limits.history,
            "welcome to Flack; type NICK <name> to start, HELP for commands",
        )
        return [Reply(conn, [hello])]

    def is_registered(self, conn: C) -> bool:
        return self._conns.get(conn) is not None

    def handle(self, conn: C, verb: Verb, command: c.Command, now: float) -> list[Effect[C]]:
        """Carry out one parsed command from ``conn``."""
        session = self._conns.get(conn)
        if session is None and not verb.before_registration:
            return [Reply(conn, [self._not_registered(verb.name)])]
        try:
            return self._dispatch(conn, session, command, now)
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
        session.detached_at = now
        self._detached[session] = None
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
        if type(command) is c.Msg and session is not None:  # the hot path, looked at first
            return self._msg(session, command.target, command.text, now)
        match command:
            case c.Nick(nick):
                if session is None:
                    return self._register(conn, nick, now)
                return self._rename(session, nick, now)
            case c.Resume(token):
                return self._resume(conn, session, token, now)
            case c.Ping(token):
                return [Reply(conn, [e.Pong(token)])]
            case c.Pong():
                return []
            case c.Help(topic):
                return [Reply(conn, _help(topic))]
            case c.Quit(reason):
                return self._quit(conn, session, reason, now)
            case _:
                pass
        assert session is not None  # guaranteed by handle(): other verbs need registration
        match command:
            case c.Join(name):
                return self._join(session, name, now, create_only=False)
            case c.Create(name):
                return self._join(session, name, now, create_only=True)
            case c.Part(name, reason):
                return self._part(session, name, reason, now)
            case c.Msg(target, text):
                return self._msg(session, target, text, now)
            case c.ListChannels(after):
                return [Reply(conn, self._list(after))]
            case c.Names(name):
                return [Reply(conn, _names_block(self._existing("NAMES", name)))]
            case c.Topic(name, text):
                return self._topic(session, name, text, now)
            case c.History():
                return [Reply(conn, self._history(command))]
            case c.Delete(msgid):
                return self._delete(session, msgid)
            case _:
                assert_never(command)

    # -- registration, nicks, sessions -------------------------------------------------

    @staticmethod
    def _not_registered(verb: str) -> e.Error:
        return e.Error(
            "NOT_REGISTERED",
            verb,
            (),
            "choose a nick first: NICK <name> (or RESUME <token> to come back)",
        )

    def _check_nick(self, command: str, nick: str, session: Session[C] | None, now: float) -> None:
        if not is_valid_nick(nick):
            raise ProtocolError(
                "INVALID_NICK",
                command,
                f"a nick is 1-{NICK_MAX_CHARS} ASCII letters, digits, _ or -, starting with a "
                "letter (server, system, flack and flackd are reserved); example: NICK alice",
            )
        self._expire(now)
        holder = self._sessions.get(fold(nick))
        if holder is not None and holder is not session:
            if holder.conn is None:
                assert holder.detached_at is not None
                left = max(1, math.ceil(holder.detached_at + self.limits.resume_ttl - now))
                text = (
                    f"{holder.nick} is held for a dropped session for up to {left} s more; "
                    "if it is yours, send RESUME <token>, otherwise pick another nick"
                )
            else:
                text = f"{holder.nick} is taken; pick another nick"
            raise ProtocolError("NICK_IN_USE", command, text, (holder.nick,))

    def _new_token(self) -> str:
        token = secrets.token_urlsafe(16)
        while token in self._tokens:  # pragma: no cover - 128 random bits
            token = secrets.token_urlsafe(16)
        return token

    def _register(self, conn: C, nick: str, now: float) -> list[Effect[C]]:
        self._check_nick("NICK", nick, None, now)
        self._next_sid += 1
        session: Session[C] = Session(self._next_sid, nick, self._new_token(), conn)
        self._sessions[session.key] = session
        self._tokens[session.token] = session
        self._conns[conn] = session
        ok = e.Ok(
            "NICK",
            (nick, f"token={session.token}"),
            f"welcome, {nick}; keep the token to come back with RESUME; try LIST or JOIN #general",
        )
        return [Reply(conn, [ok])]

    def _rename(self, session: Session[C], nick: str, now: float) -> list[Effect[C]]:
        self._check_nick("NICK", nick, session, now)
        old = session.nick
        if nick == old:  # nothing changes: tell only the sender
            assert session.conn is not None
            return [Reply(session.conn, [e.NickChanged(old, nick)])]
        del self._sessions[session.key]
        for channel in session.channels.values():
            channel.remove(session, now)
        session.rename(nick)
        self._sessions[session.key] = session
        for channel in session.channels.values():
            channel.add(session)
        return [Broadcast(self._audience(session), e.NickChanged(old, nick))]

    def _audience(self, session: Session[C]) -> list[C]:
        """Every connection that shares a channel with ``session``, and its own."""
        seen: dict[C, None] = {}
        if session.conn is not None:
            seen[session.conn] = None
        for channel in session.channels.values():
            for member in channel.members.values():
                if member.conn is not None:
                    seen[member.conn] = None
        return list(seen)

    def _resume(
        self, conn: C, current: Session[C] | None, token: str, now: float
    ) -> list[Effect[C]]:
        if current is not None:
            raise ProtocolError(
                "ALREADY_REGISTERED",
                "RESUME",
                f"this connection is already {current.nick}; RESUME only works as the first "
                "command on a new connection",
            )
        self._expire(now)
        session = self._tokens.get(token)
        if session is None:
            raise ProtocolError(
                "UNKNOWN_TOKEN",
                "RESUME",
                "that token is unknown, expired or from before a server restart; "
                "use NICK <name> instead",
            )
        effects: list[Effect[C]] = []
        ghost = session.conn
        if ghost is not None:
            # The old connection is still open (the client's network died silently):
            # hand the session over without telling the channels anything.
            self._conns.pop(ghost, None)
            bye = e.Bye("RESUMED", (), "your session was resumed from another connection")
            effects.append(Close(ghost, bye, "resumed elsewhere"))
        else:
            self._detached.pop(session, None)
            session.detached_at = None
        del self._tokens[session.token]
        session.token = self._new_token()
        self._tokens[session.token] = session
        session.conn = conn
        self._conns[conn] = session
        lines: list[e.Event] = []
        for channel in session.channels.values():
            if ghost is None:
                others = channel.conns()
                channel.add(session)
                if others:
                    effects.append(Broadcast(others, e.Joined(channel.name, session.nick)))
            else:
                channel.member_moved()
            lines.append(e.Joined(channel.name, session.nick))
        last = self._channels.get(session.last_channel or "")
        lines.append(
            e.Ok(
                "RESUME",
                (session.nick, f"token={session.token}", f"last={last.name if last else '*'}"),
                f"welcome back, {session.nick}; you are in {len(session.channels)} channel(s); "
                "use HISTORY <#channel> AFTER <last id you saw> to catch up",
            )
        )
        effects.append(Reply(conn, lines))
        return effects

    def _quit(
        self, conn: C, session: Session[C] | None, reason: str, now: float
    ) -> list[Effect[C]]:
        bye = e.Bye("QUIT", (), "bye")
        effects: list[Effect[C]] = [Close(conn, bye, "quit")]
        self._conns.pop(conn, None)
        if session is not None:
            effects[:0] = self._leave_all(session, e.Quit(session.nick, reason or "quit"), now)
            self._forget(session)
        return effects

    def _leave_all(self, session: Session[C], notice: e.Event, now: float) -> list[Effect[C]]:
        """Take ``session`` out of every member list (it keeps its channel memory)."""
        audience: dict[C, None] = {}
        for channel in session.channels.values():
            channel.remove(session, now)
            for conn in channel.conns():
                audience[conn] = None
        return [Broadcast(list(audience), notice)] if audience else []

    def _forget(self, session: Session[C]) -> None:
        self._sessions.pop(session.key, None)
        self._tokens.pop(session.token, None)
        self._detached.pop(session, None)
        session.channels.clear()

    def _expire(self, now: float) -> None:
        """Forget detached sessions past their time or beyond ``max_detached``."""
        ttl = self.limits.resume_ttl
        while self._detached:
            oldest = next(iter(self._detached))
            assert oldest.detached_at is not None
            if oldest.detached_at + ttl > now and len(self._detached) <= self.limits.max_detached:
                break
            self._forget(oldest)

    # -- channels ----------------------------------------------------------------------

    @staticmethod
    def _check_channel_name(command: str, name: str) -> None:
        if not is_valid_channel(name):
            raise ProtocolError(
                "INVALID_CHANNEL",
                command,
                f"a channel name is # and then 1-{CHANNEL_MAX_CHARS} ASCII letters, digits, "
                "_ or -; example: JOIN #general",
            )

    def _existing(self, command: str, name: str) -> Channel[C]:
        channel = self._channels.get(fold(name))
        if channel is None:
            # Checked only on a miss: a name that folds to an existing channel's is valid.
            self._check_channel_name(command, name)
            raise ProtocolError(
                "NO_SUCH_CHANNEL",
                command,
                f"there is no channel {name}; LIST shows them, JOIN {name} creates it",
                (name,),
            )
        return channel

    def _membership(self, session: Session[C], command: str, name: str) -> Channel[C]:
        channel = self._existing(command, name)
        if session.key not in channel.members:
            raise ProtocolError(
                "NOT_IN_CHANNEL",
                command,
                f"you are not in {channel.name}; JOIN {channel.name} first",
                (channel.name,),
            )
        return channel

    def _join(
        self, session: Session[C], name: str, now: float, *, create_only: bool
    ) -> list[Effect[C]]:
        verb = "CREATE" if create_only else "JOIN"
        self._check_channel_name(verb, name)
        key = fold(name)
        channel = self._channels.get(key)
        if channel is not None and create_only:
            raise ProtocolError(
                "CHANNEL_EXISTS",
                verb,
                f"{channel.name} already exists (names ignore case); JOIN {channel.name} to "
                "enter it, or pick another name",
                (channel.name,),
            )
        effects: list[Effect[C]] = []
        if channel is None or key not in session.channels:
            if len(session.channels) >= self.limits.max_joins:
                raise ProtocolError(
                    "TOO_MANY_CHANNELS",
                    verb,
                    f"you are in {len(session.channels)} channels, the most allowed; "
                    "PART one first",
                )
            if channel is None:
                self._check_creation_quota(session, verb, now)
                if len(self._channels) >= self.limits.max_channels and not self._reclaim(now):
                    raise ProtocolError(
                        "TOO_MANY_CHANNELS",
                        verb,
                        "the server has as many channels as it allows; JOIN an existing one",
                    )
                channel = Channel(name, ChannelHistory(self.limits.history))
                self._channels[key] = channel
                session.created.append(now)
            others = channel.conns()
            if others:
                effects.append(Broadcast(others, e.Joined(channel.name, session.nick)))
            channel.add(session)
            session.channels[key] = channel
        _touch(session, key)
        count = len(channel.members)
        members = "member" if count == 1 else "members"
        lines: list[e.Event] = [
            e.Ok(verb, (channel.name, str(count)), f"joined {channel.name} ({count} {members})"),
            _topic_line(channel),
            *_names_block(channel),
            *_history_block(channel.name, channel.history.latest(self.limits.join_replay)),
        ]
        assert session.conn is not None
        effects.append(Reply(session.conn, lines))
        return effects

    def _check_creation_quota(self, session: Session[C], verb: str, now: float) -> None:
        """At most ``channel_creates`` new channels per client per minute."""
        recent = session.created
        while recent and recent[0] <= now - CREATION_WINDOW:
            del recent[0]  # at most channel_creates entries
        if len(recent) >= self.limits.channel_creates:
            retry = max(1, math.ceil(recent[0] + CREATION_WINDOW - now))
            raise ProtocolError(
                "RATE_LIMITED",
                verb,
                f"at most {self.limits.channel_creates} new channels a minute; try again in "
                f"{retry} s, or JOIN an existing channel",
                (f"retry={retry}",),
            )

    def _reclaim(self, now: float) -> bool:
        """Make room for a channel: delete the one empty the longest, if it has been empty
        for ``resume_ttl`` seconds (so no resumable session can still expect it)."""
        self._expire(now)
        ttl = self.limits.resume_ttl
        idle = [
            (channel.vacated_at, key)
            for key, channel in self._channels.items()
            if not channel.members
            and channel.vacated_at is not None
            and channel.vacated_at + ttl <= now
        ]
        if not idle:
            return False
        _, key = min(idle)
        channel = self._channels.pop(key)
        for seq in list(self._where):
            if self._where[seq] is channel:
                del self._where[seq]
        return True

    def _part(self, session: Session[C], name: str, reason: str, now: float) -> list[Effect[C]]:
        channel = self._membership(session, "PART", name)
        conns = channel.conns()
        channel.remove(session, now)
        del session.channels[fold(channel.name)]
        if session.last_channel == fold(channel.name):
            session.last_channel = next(reversed(session.channels), None)
        return [Broadcast(conns, e.Parted(channel.name, session.nick, reason))]

    def _msg(self, session: Session[C], target: str, text: str, now: float) -> list[Effect[C]]:
        assert session.conn is not None
        if is_channel(target):
            channel = self._membership(session, "MSG", target)
            msgid = self.ids.next()
            message = e.Message(channel.name, str(msgid), format_timestamp(now), session.nick, text)
            dropped = channel.history.append(Entry(msgid.seq, message, session.sid))
            if dropped is not None:
                del self._where[dropped.seq]
            self._where[msgid.seq] = channel
            _touch(session, fold(channel.name))
            return [Broadcast(channel.conns(), message)]
        if not is_valid_nick(target):
            raise ProtocolError(
                "NO_SUCH_NICK",
                "MSG",
                "that is not a nick anyone can have; a target is #channel or a nick "
                "(example: MSG #general hello, MSG alice hello)",
            )
        peer = self._sessions.get(fold(target))
        if peer is None or peer.conn is None:
            raise ProtocolError(
                "NO_SUCH_NICK",
                "MSG",
                f"{target} is not connected; private messages reach only people online",
                (target,),
            )
        msgid = self.ids.next()
        message = e.Message(peer.nick, str(msgid), format_timestamp(now), session.nick, text)
        conns = [session.conn] if peer is session else [peer.conn, session.conn]
        return [Broadcast(conns, message)]

    def _list(self, after: str | None) -> list[e.Event]:
        """At most ``list_max`` channels in name order, after ``after`` if given."""
        if after is not None:
            self._check_channel_name("LIST", after)
        names = sorted(self._channels)
        start = bisect.bisect_right(names, fold(after)) if after is not None else 0
        page = names[start : start + self.limits.list_max]
        more = "yes" if start + len(page) < len(names) else "no"
        lines: list[e.Event] = [e.BlockStart("LIST", (str(len(page)),))]
        for key in page:
            ch = self._channels[key]
            lines.append(e.ChannelEntry(ch.name, len(ch.members), ch.topic))
        lines.append(e.BlockEnd("LIST", (f"more={more}",)))
        return lines

    def _topic(
        self, session: Session[C], name: str, text: str | None, now: float
    ) -> list[Effect[C]]:
        if text is None:
            assert session.conn is not None
            return [Reply(session.conn, [_topic_line(self._existing("TOPIC", name))])]
        channel = self._membership(session, "TOPIC", name)
        channel.topic = text
        channel.topic_setter = session.nick
        channel.topic_time = format_timestamp(now)
        return [Broadcast(channel.conns(), _topic_line(channel))]

    def _history(self, command: c.History) -> list[e.Event]:
        channel = self._existing("HISTORY", command.channel)
        count = min(command.count or self.limits.history_page, self.limits.history)
        ring = channel.history
        page: Page
        if command.after is not None:
            cursor = parse_id(command.after)
            assert cursor is not None  # checked by the grammar
            if cursor.boot != self.ids.boot:
                # From an earlier boot: everything held is newer, and what came between
                # the cursor and this boot is lost.
                full = ring.after(0, count)
                page = Page(full.messages, full.more, gap=True)
            else:
                page = ring.after(cursor.seq, count)
        elif command.before is not None:
            cursor = parse_id(command.before)
            assert cursor is not None
            if cursor.boot != self.ids.boot:
                page = Page([], more=False)
            else:
                page = ring.before(cursor.seq, count)
        else:
            page = ring.latest(count)
        return _history_block(channel.name, page)

    def _delete(self, session: Session[C], text_id: str) -> list[Effect[C]]:
        assert session.conn is not None
        msgid = parse_id(text_id)
        assert msgid is not None  # checked by the grammar
        channel = self._where.get(msgid.seq) if msgid.boot == self.ids.boot else None
        entry = channel.history.find(msgid.seq) if channel is not None else None
        if channel is None or entry is None:
            raise ProtocolError(
                "NO_SUCH_MESSAGE",
                "DELETE",
                f"no message {text_id} is in history (it may be older than the last "
                f"{self.limits.history}, deleted, private, or from before a restart)",
                (text_id,),
            )
        if entry.author_sid != session.sid:
            raise ProtocolError(
                "NOT_AUTHOR",
                "DELETE",
                f"message {text_id} is by {entry.message.author}; you can delete only your own",
                (text_id,),
            )
        channel.history.delete(msgid.seq)
        del self._where[msgid.seq]
        conns = channel.conns()
        if session.conn not in conns:
            conns += (session.conn,)
        return [Broadcast(conns, e.Deleted(channel.name, text_id, session.nick))]


# ---------------------------------------------------------------------------- blocks


def _touch(session: Session[C], key: str) -> None:
    """Make ``key`` the channel ``session`` was last in (and the most recent in its order)."""
    if session.last_channel == key:
        return  # already the most recent
    channel = session.channels.pop(key)
    session.channels[key] = channel
    session.last_channel = key


def _topic_line(channel: Channel[C]) -> e.Topic:
    return e.Topic(channel.name, channel.topic_setter, channel.topic_time, channel.topic)


def _names_block(channel: Channel[C]) -> list[e.Event]:
    members = sorted(channel.members.items())
    lines: list[e.Event] = [e.BlockStart("NAMES", (channel.name, str(len(members))))]
    lines += [e.Member(s.nick) for _, s in members]
    lines.append(e.BlockEnd("NAMES", (channel.name,)))
    return lines


def _history_block(name: str, page: Page) -> list[e.Event]:
    lines: list[e.Event] = [e.BlockStart("HISTORY", (name, str(len(page.messages))))]
    lines += page.messages
    more = "yes" if page.more else "no"
    gap = "yes" if page.gap else "no"
    lines.append(e.BlockEnd("HISTORY", (name, f"more={more}", f"gap={gap}")))
    return lines


def _help(topic: str | None) -> list[e.Event]:
    if topic is None:
        rows = [VERBS[name] for name in dict.fromkeys(v.name for v in VERBS.values())]
        body: list[e.Event] = [e.Info(f"{row.syntax} - {row.summary}") for row in rows]
        body.append(e.Info("Commands work in any case, with or without a leading /."))
        subject = "*"
    else:
        row = VERBS.get(topic)
        if row is None:
            raise ProtocolError(
                "UNKNOWN_COMMAND", "HELP", f"no command {topic[:32]}; HELP lists them all"
            )
        subject = row.name
        body = [
            e.Info(f"usage: {row.syntax}"),
            e.Info(row.summary),
            e.Info(f"example: {row.example}"),
        ]
        if row.aliases:
            body.append(e.Info("also: " + ", ".join(row.aliases)))
        if not row.before_registration:
            body.append(e.Info("needs a nick first (NICK or RESUME)"))
    return [e.BlockStart("HELP", (subject, str(len(body)))), *body, e.BlockEnd("HELP", (subject,))]

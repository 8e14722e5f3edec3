"""Read-only views of the hub for front ends whose wire asks more than Flack's (IRC).

Owns: :class:`Views`, a mixin of :class:`flackd.hub.Hub`: a channel's members and topic,
a user's channels and away message, the channels one may list (with their times: IRC's
ELIST), who a resume token belongs to (WHO, WHOIS, SASL), the away mark (IRC's AWAY:
volatile, never stored), a channel's modes and its members' roles as one session may see
them (:class:`ChannelState`: IRC's NAMES, WHO and WHOIS prefixes, ``329``), the time of a
read marker (IRC's MARKREAD), and history windows by message id or by time (IRCv3's
CHATHISTORY: BEFORE, AFTER, LATEST, AROUND, BETWEEN, TARGETS). They change
nothing a store keeps and send nothing: the front end renders what they return. The rules
of who may read what are the same as HISTORY's. Imports only the standard library,
``flackd.codec``, ``flackd.history`` and the hub's own modules: never trio, never a store.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from typing import TYPE_CHECKING, Generic, NamedTuple

from flackd.codec.errors import ProtocolError
from flackd.codec.ids import parse_id
from flackd.codec.text import fold, is_channel
from flackd.codec.usermodes import OPER_MODE
from flackd.hub.base import HubBase
from flackd.hub.gates import visible
from flackd.hub.state import C, Conversation, Holder, Session, hash_token
from flackd.views import HISTORY_WINDOWS, ChannelListing, ChannelView, Ref, UserView, Window

__all__ = ["ChannelState", "OwnView", "Views"]


class ChannelState(NamedTuple):
    """A channel's modes and roles as one session may see them (a plain tuple to front
    ends: ``(flags, created, roles)``)."""

    #: Its flag modes, a subset of ``imnst`` in that order.
    flags: str
    #: When it was made (seconds since the epoch; 0 if unknown).
    created: float
    #: Each member's nick -> its member modes: ``"o"``, ``"v"``, ``"ov"`` or ``""``.
    roles: dict[str, str]


class Views(HubBase[C]):
    """Read-only views (see the module docstring)."""

    def own_view(self, conn: C) -> OwnView[C]:
        """The views of ``conn``'s own session, bound to it."""
        return OwnView(self, conn)

    if TYPE_CHECKING:

        def _find_conversation(
            self, session: Session[C], verb: str, nick: str
        ) -> tuple[str, Conversation[C] | None]: ...

    def channel_info(self, name: str) -> ChannelView | None:
        """A channel's name, members (nicks sorted), topic, its setter and time, if any."""
        channel = self._channels.get(fold(name))
        if channel is None:
            return None
        nicks = [s.nick for _, s in sorted(channel.members.items())]
        return ChannelView(
            channel.name, nicks, channel.topic, channel.topic_setter, channel.topic_time
        )

    def channel_state(self, conn: C, name: str) -> ChannelState | None:
        """The modes and member roles of channel ``name`` as ``conn``'s session may see
        them; None if there is no such channel, or it is secret (``+s``) and the session
        is not in it."""
        channel = self._channels.get(fold(name))
        if channel is None or not visible(channel, self._conns.get(conn)):
            return None
        ops, voiced = channel.ops, channel.voiced
        roles = {
            s.nick: ("o" if s.sid in ops else "") + ("v" if s.sid in voiced else "")
            for s in channel.members.values()
        }
        return ChannelState(channel.flags, channel.created, roles)

    def channel_list(self, conn: C) -> list[ChannelListing]:
        """Every channel ``conn``'s session may see (LIST's rule: a secret one only from
        inside), in name order: what a front end filters itself (IRC's ELIST)."""
        session = self._conns.get(conn)
        return [
            ChannelListing(ch.name, len(ch.members), ch.topic, ch.topic_time, ch.created)
            for _, ch in sorted(self._channels.items())
            if visible(ch, session)
        ]

    def user_info(self, nick: str) -> UserView | None:
        """A live session as others may see it, if any."""
        session = self._sessions.get(fold(nick))
        if session is None or session.ended:
            return None
        names = [ch.name for ch in session.channels.values()]
        username, realname = session.identity or (session.nick, session.nick)
        return UserView(
            session.nick,
            session.conn is not None,
            names,
            session.away,
            username,
            realname,
            session.modes,
        )

    def whowas(self, nick: str, count: int) -> list[tuple[str, str, str]]:
        """(nick, username, realname) of the last ``count`` (0: all) times ``nick`` was
        given up, newest first."""
        key = fold(nick)
        found = [entry for entry in reversed(self._whowas) if fold(entry[0]) == key]
        return found[:count] if count > 0 else found

    def set_identity(self, conn: C, username: str, realname: str) -> None:
        """What an IRC client said in USER, shown by WHO and WHOIS while it is connected
        (volatile, like :meth:`set_away`)."""
        session = self._conns.get(conn)
        if session is not None:
            session.identity = (username, realname)

    def set_away(self, conn: C, text: str | None) -> None:
        """Mark ``conn``'s session away (IRC's AWAY), or back with None. Not a change a
        store keeps: it lasts while the connection does."""
        session = self._conns.get(conn)
        if session is not None:
            session.away = text

    def nick_of(self, conn: C) -> str | None:
        """The nick of ``conn``'s session now (None before registration, or once another
        connection has resumed it)."""
        session = self._conns.get(conn)
        return session.nick if session is not None else None

    def neighbours(self, conn: C) -> list[C]:
        """The connections of the others who share a channel with ``conn``'s session, each
        once: who hears of a volatile change (IRC's away-notify and setname)."""
        session = self._conns.get(conn)
        if session is None:
            return []
        seen: dict[C, None] = {}
        for channel in session.channels.values():
            for other in channel.conns():
                if other is not conn:
                    seen[other] = None
        return list(seen)

    def channel_count(self) -> int:
        return len(self._channels)

    def operator_count(self, conns: Iterable[C]) -> int:
        """How many of ``conns`` are registered sessions with user mode ``+o`` (server
        operators: LUSERS' 252, over the connections the server asks about)."""
        sessions = self._conns
        return sum(1 for c in conns if (s := sessions.get(c)) is not None and OPER_MODE in s.modes)

    def token_owner(self, token: str) -> str | None:
        """The nick of the live session ``token`` would resume (RESUME's check, read-only)."""
        session = self._tokens.get(hash_token(token))
        return None if session is None or session.ended else session.nick

    def message_info(self, conn: C, msgid: str) -> tuple[str, str] | None:
        """(where it is as ``conn``'s session names it: a channel's name or the other
        side's nick, its author) of a message held now that the session may read; None for
        anything else (not an id, an earlier boot's, deleted, dropped, someone else's
        conversation)."""
        session = self._conns.get(conn)
        parsed = parse_id(msgid)
        if session is None or parsed is None or parsed.boot != self.ids.boot:
            return None
        holder = self._where.get(parsed.seq)
        entry = holder.history.find(parsed.seq) if holder is not None else None
        if holder is None or entry is None:
            return None
        if isinstance(holder, Conversation):
            if session not in (holder.a, holder.b):
                return None
            return holder.peer(session).nick, entry.message.author
        return holder.name, entry.message.author

    def read_marker(self, conn: C, target: str) -> str | None:
        """When the newest message held at or before ``conn``'s session's read marker in
        ``target`` (a channel it is in, or its conversation with a nick) was sent: ``""``
        if it has read nothing there that is still held; None if it has no marker there."""
        session = self._conns.get(conn)
        if session is None:
            return None
        holder: Holder[C] | None
        if is_channel(target):
            holder = session.channels.get(fold(target))
        else:
            try:
                _, holder = self._find_conversation(session, "MARK", target)
            except ProtocolError:
                return None
        if holder is None:
            return None
        seq = session.markers.get(holder.key, 0)
        read = [entry for entry in holder.history.entries_after(0) if entry.seq <= seq]
        return read[-1].message.time if read else ""

    # -- history windows -------------------------------------------------------------------

    def history_window(
        self, conn: C, kind: str, target: str, refs: tuple[Ref, ...], limit: int
    ) -> Window:
        """At most ``limit`` messages of ``target`` (a channel, or the conversation with a
        nick) around ``refs`` as ``kind`` says, oldest first. Bounds are exclusive, but
        AROUND's message is included: ``LATEST`` (no ref: the newest; a ref: the newest
        after it), ``BEFORE``, ``AFTER``, ``AROUND``, ``BETWEEN`` (two refs, either
        order: from the first towards the second)."""
        session = self._conns.get(conn)
        if session is None or kind not in HISTORY_WINDOWS or limit < 1:
            return Window(target, [], "INVALID_PARAMS")
        try:
            name, holder = self._readable(session, target)
        except ProtocolError:
            return Window(target, [], "INVALID_TARGET")
        if holder is None:
            return Window(name, [])
        entries = list(holder.history.entries_after(0))
        seqs = [entry.seq for entry in entries]
        times = [entry.message.time for entry in entries]
        messages = [entry.message for entry in entries]

        def left(ref: Ref) -> int:
            if ref.time is not None:
                return bisect.bisect_left(times, ref.time)
            return bisect.bisect_left(seqs, self._seq_of(ref))

        def right(ref: Ref) -> int:
            if ref.time is not None:
                return bisect.bisect_right(times, ref.time)
            return bisect.bisect_right(seqs, self._seq_of(ref))

        n = len(entries)
        if kind == "LATEST":
            start = max(0, n - limit)
            if refs:
                start = max(start, right(refs[0]))
            return Window(name, messages[start:])
        if not refs or (kind == "BETWEEN" and len(refs) < 2):
            return Window(name, [], "INVALID_PARAMS")
        ref = refs[0]
        if kind == "BEFORE":
            stop = left(ref)
            return Window(name, messages[max(0, stop - limit) : stop])
        if kind == "AFTER":
            start = right(ref)
            return Window(name, messages[start : start + limit])
        if kind == "AROUND":
            start = max(0, min(left(ref) - (limit - 1) // 2, n - limit))
            return Window(name, messages[start : start + limit])
        # BETWEEN: from the first ref towards the second, exclusive of both.
        low, high = refs
        if left(low) <= left(high):
            start, stop = right(low), left(high)
            return Window(name, messages[start : min(stop, start + limit)])
        start, stop = right(high), left(low)
        return Window(name, messages[max(start, stop - limit) : stop])

    def history_targets(
        self, conn: C, after: str, before: str, limit: int
    ) -> list[tuple[str, str]]:
        """(target, time of its newest message) for each channel ``conn``'s session is in
        and each of its conversations whose newest message falls strictly between the two
        times; the oldest first, at most ``limit``."""
        session = self._conns.get(conn)
        if session is None:
            return []
        found: list[tuple[str, str]] = []
        holders: list[tuple[str, Holder[C]]] = [(ch.name, ch) for ch in session.channels.values()]
        holders += [(cv.peer(session).nick, cv) for cv in session.conversations.values()]
        for name, holder in holders:
            newest = holder.history.latest(1).messages
            if newest and after < newest[0].time < before:
                found.append((newest[0].time, name))
        return [(name, when) for when, name in sorted(found)[:limit]]

    def _readable(self, session: Session[C], target: str) -> tuple[str, Holder[C] | None]:
        """The channel (any: HISTORY's rule) or conversation ``target`` names."""
        if is_channel(target):
            channel = self._existing("HISTORY", target)
            return channel.name, channel
        return self._find_conversation(session, "HISTORY", target)

    def _seq_of(self, ref: Ref) -> int:
        """The sequence number of a message id; 0 (before everything held) for an id of an
        earlier boot or one that is not an id."""
        parsed = parse_id(ref.msgid or "")
        if parsed is None or parsed.boot != self.ids.boot:
            return 0
        return parsed.seq


class OwnView(Generic[C]):
    """One connection's own side of the views: whether it is registered, its away mark and
    USER fields, and history as its session may read it (bound to the connection, so a
    front end's translator needs no connection handle)."""

    __slots__ = ("_conn", "_hub")

    def __init__(self, hub: Views[C], conn: C) -> None:
        self._hub = hub
        self._conn = conn

    def registered(self) -> bool:
        return self._hub._conns.get(self._conn) is not None

    def nick(self) -> str | None:
        """The session's nick now (None before registration)."""
        return self._hub.nick_of(self._conn)

    def set_away(self, text: str | None) -> None:
        self._hub.set_away(self._conn, text)

    def set_identity(self, username: str, realname: str) -> None:
        self._hub.set_identity(self._conn, username, realname)

    def history(self, kind: str, target: str, refs: tuple[Ref, ...], limit: int) -> Window:
        return self._hub.history_window(self._conn, kind, target, refs, limit)

    def targets(self, after: str, before: str, limit: int) -> list[tuple[str, str]]:
        return self._hub.history_targets(self._conn, after, before, limit)

    def message_info(self, msgid: str) -> tuple[str, str] | None:
        return self._hub.message_info(self._conn, msgid)

    def channel_state(self, name: str) -> ChannelState | None:
        return self._hub.channel_state(self._conn, name)

    def channel_list(self) -> list[ChannelListing]:
        return self._hub.channel_list(self._conn)

    def read_marker(self, target: str) -> str | None:
        return self._hub.read_marker(self._conn, target)

"""The channel rules: JOIN and CREATE, PART, INVITE, TOPIC, LIST, and room for channels.

Owns: :class:`ChannelRules`: membership (a session's channels, at most ``max_joins``;
leaving, for PART and KICK), a channel's creation (the per-client quota,
``max_channels``, reclaiming the channel empty the longest; the creator is its operator),
invitations (and the list of one's own pending ones), topics and the LIST page, each past
the gates of :mod:`flackd.hub.gates`.
Imports only the standard library, ``flackd.codec``, ``flackd.history`` and the hub's own
modules: never trio, never a store.
"""

from __future__ import annotations

import bisect
import math

from flackd.codec import events as e
from flackd.codec.errors import ProtocolError
from flackd.codec.ids import format_timestamp
from flackd.codec.text import fold, is_valid_nick
from flackd.history import ChannelHistory
from flackd.hub.base import HubBase
from flackd.hub.blocks import history_block, names_block, topic_line
from flackd.hub.effects import Broadcast, Effect, Reply
from flackd.hub.gates import admit, check_invite, check_topic, visible
from flackd.hub.state import C, Channel, Session, touch

#: Seconds over which ``Limits.channel_creates`` counts.
CREATION_WINDOW = 60.0


class ChannelRules(HubBase[C]):
    """Channels: joining, creating, leaving, topics and the list of them."""

    def _join(
        self,
        session: Session[C],
        name: str,
        now: float,
        *,
        create_only: bool,
        passkey: str | None = None,
    ) -> list[Effect[C]]:
        verb = "CREATE" if create_only else "JOIN"
        self._check_channel_name(verb, name)
        channel = self._channels.get(fold(name))
        if channel is not None and create_only:
            raise ProtocolError(
                "CHANNEL_EXISTS",
                verb,
                f"{channel.name} already exists (names ignore case); JOIN {channel.name} to "
                "enter it, or pick another name",
                (channel.name,),
            )
        effects: list[Effect[C]] = []
        if channel is None or channel.key not in session.channels:
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
                self._channels[fold(name)] = channel
                session.created.append(now)
                channel.created = now
                channel.ops.add(session.sid)  # whoever creates a channel is its operator
                changed = True
            elif not channel.members and not channel.ops:
                # Nobody in it and no operator left: open again (rule 3 of hub/modes.py).
                channel.reset_modes()
                channel.ops.add(session.sid)
                changed = True
            else:
                changed = admit(channel, session, passkey, verb)
            if changed and self.journal is not None:
                self.journal.channel(channel.key, channel)
            others = channel.conns()
            if others:
                effects.append(Broadcast(others, e.Joined(channel.name, session.nick)))
            channel.add(session)
            session.channels[channel.key] = channel
            # What was said before you came is not unread (rule 2 of conversations.py).
            session.markers[channel.key] = channel.history.newest_seq
            if self.journal is not None:
                self.journal.session(session)
        if touch(session, channel.key) and self.journal is not None:
            self.journal.session(session)
        count = len(channel.members)
        members = "member" if count == 1 else "members"
        lines: list[e.Event] = [
            e.Ok(verb, (channel.name, str(count)), f"joined {channel.name} ({count} {members})"),
            topic_line(channel),
            *names_block(channel),
            *history_block(channel.name, channel.history.latest(self.limits.join_replay)),
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
        if self.journal is not None:
            self.journal.drop_channel(key)
        return True

    def _part(self, session: Session[C], name: str, reason: str, now: float) -> list[Effect[C]]:
        channel = self._membership(session, "PART", name)
        conns = channel.conns()
        self._leave_channel(session, channel, now)
        return [Broadcast(conns, e.Parted(channel.name, session.nick, reason))]

    def _leave_channel(self, session: Session[C], channel: Channel[C], now: float) -> None:
        """Take ``session`` (connected or dropped) out of ``channel``: PART and KICK."""
        channel.remove(session, now)
        del session.channels[channel.key]
        session.markers.pop(channel.key, None)
        if session.last_channel == channel.key:
            session.last_channel = next(reversed(session.channels), None)
        roles = session.sid in channel.ops or session.sid in channel.voiced
        channel.ops.discard(session.sid)
        channel.voiced.discard(session.sid)
        if self.journal is not None:
            self.journal.session(session)
            if roles:
                self.journal.channel(channel.key, channel)

    def _invite(self, session: Session[C], nick: str, name: str) -> list[Effect[C]]:
        """``INVITE``: tell a connected user that ``session`` asks them into one of its
        channels (an operator's, when it is invite only). The invitee gets ``NOTE
        INVITED`` and may JOIN once past ``+i``, ``+k`` and ``+l`` (rule 1 of
        :mod:`flackd.hub.gates`), or not."""
        peer = self._sessions.get(fold(nick)) if is_valid_nick(nick) else None
        if peer is None or peer.ended or peer.conn is None:
            raise ProtocolError(
                "NO_SUCH_NICK", "INVITE", f"nobody called {nick} is connected", (nick,)
            )
        channel = self._membership(session, "INVITE", name)
        if peer.key in channel.members:
            raise ProtocolError(
                "ALREADY_IN_CHANNEL",
                "INVITE",
                f"{peer.nick} is in {channel.name} already",
                (peer.nick, channel.name),
            )
        check_invite(channel, session)
        assert session.conn is not None
        invited = channel.invited
        invited.pop(peer.sid, None)
        invited[peer.sid] = None  # the newest last
        while len(invited) > self.limits.channel_list_max:
            del invited[next(iter(invited))]
        if self.journal is not None:
            self.journal.channel(channel.key, channel)
        note = e.Note(
            "INVITED",
            (channel.name, session.nick),
            f"{session.nick} invites you to {channel.name} (JOIN {channel.name})",
        )
        ok = e.Ok("INVITE", (peer.nick, channel.name), f"{peer.nick} was invited")
        return [Reply(session.conn, [ok]), Reply(peer.conn, [note])]

    def _invites(self, session: Session[C]) -> list[e.Event]:
        """``INVITE`` alone: an INVITES block of the channels ``session`` has a pending
        invitation to, in name order, as LIST's ``CHANNEL`` lines (a secret channel's
        member count and topic shown as 0 and empty: they are for its members)."""
        keys = sorted(k for k, ch in self._channels.items() if session.sid in ch.invited)
        lines: list[e.Event] = [e.BlockStart("INVITES", (str(len(keys)),))]
        for key in keys:
            ch = self._channels[key]
            if visible(ch, session):
                lines.append(e.ChannelEntry(ch.name, len(ch.members), ch.topic))
            else:
                lines.append(e.ChannelEntry(ch.name, 0, ""))
        lines.append(e.BlockEnd("INVITES"))
        return lines

    def _list(self, session: Session[C], after: str | None) -> list[e.Event]:
        """At most ``list_max`` channels in name order, after ``after`` if given; secret
        channels only to their members."""
        if after is not None:
            self._check_channel_name("LIST", after)
        names = sorted(k for k, ch in self._channels.items() if visible(ch, session))
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
            channel = self._existing("TOPIC", name)
            if not visible(channel, session):
                channel = self._membership(session, "TOPIC", name)  # raises NOT_IN_CHANNEL
            return [Reply(session.conn, [topic_line(channel)])]
        channel = self._membership(session, "TOPIC", name)
        check_topic(channel, session)
        channel.topic = text
        channel.topic_setter = session.nick
        channel.topic_time = format_timestamp(now)
        if self.journal is not None:
            self.journal.channel(fold(channel.name), channel)
        return [Broadcast(channel.conns(), topic_line(channel))]

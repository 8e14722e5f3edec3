"""The message rules: MSG and ACTION (to a channel or a nick), CTCP, HISTORY and DELETE.

Owns: :class:`MessageRules`: the hot path (a channel message: the next id, the channel's
ring, one broadcast to its members), direct messages (kept in conversations), relaying a
CTCP query (not kept: no id, no history; ``+C`` refuses it, :func:`gates.check_ctcp`), paging a
channel's or a conversation's history (ids of an earlier boot included) and deleting one's
own messages. Imports only the standard
library, ``flackd.codec``, ``flackd.history`` and the hub's own modules: never trio, never
a store.
"""

from __future__ import annotations

from flackd.codec import commands as c
from flackd.codec import events as e
from flackd.codec.errors import ProtocolError
from flackd.codec.ids import format_timestamp, parse_id
from flackd.codec.text import fold, is_channel, is_valid_nick
from flackd.history import Entry, Page
from flackd.hub.blocks import history_block
from flackd.hub.conversations import ConversationRules
from flackd.hub.effects import Broadcast, Effect
from flackd.hub.gates import check_ctcp, check_write, visible
from flackd.hub.state import C, Channel, Holder, Session, touch

#: How many deleted message ids the hub remembers, so that EDIT of one of them answers
#: MESSAGE_DELETED rather than NO_SUCH_MESSAGE (older ones, and all after a restart, get
#: the latter).
DELETED_MEMORY = 1024


class MessageRules(ConversationRules[C]):
    """Messages: sending (to channels and as direct messages), paging, deleting.

    A store is trimmed (the messages that fell off a ring deleted) when a ring has dropped
    a quarter of its size since the last trim, not for every message: rewriting a
    channel's row in every commit would cost as much as the messages. The store holds at
    most that many more than the ring, and a restore drops them again.
    """

    def _msg(
        self,
        session: Session[C],
        target: str,
        text: str,
        now: float,
        action: bool = False,
        notice: bool = False,
    ) -> list[Effect[C]]:
        assert session.conn is not None
        if is_channel(target):
            verb = "ACTION" if action else "NOTICE" if notice else "MSG"
            channel = self._existing(verb, target)
            outside = session.key not in channel.members
            if outside or channel.gated:
                check_write(channel, session, verb)
            seq, msgid = self.ids.issue()
            if action or notice:
                message = e.Message(channel.name, msgid, format_timestamp(now),
                                    session.nick, text, action, None, notice)  # fmt: skip
            else:
                message = e.Message(channel.name, msgid, format_timestamp(now),
                                    session.nick, text)  # fmt: skip
            entry = Entry(seq, message, session.sid)
            dropped = channel.history.append(entry)
            if dropped is not None:
                del self._where[dropped.seq]
            self._where[seq] = channel
            key = channel.key
            # What you write you have read. Not journaled: a restore puts each marker at
            # least at the session's own newest message (see Hub.restore).
            touched = False
            if not outside:
                session.markers[key] = seq
                touched = touch(session, key)
            journal = self.journal
            if journal is not None:
                journal.message(key, entry)
                if dropped is not None:
                    channel.untrimmed += 1
                    if channel.untrimmed * 4 >= channel.history.size:
                        journal.channel(key, channel)  # trim the store now and then
                if touched:
                    journal.session(session)
            if outside:  # a channel without +n: the writer still gets the echo
                return [Broadcast((*channel.conns(), session.conn), message)]
            return [Broadcast(channel.conns(), message)]
        return self._direct(session, target, text, now, action, notice)

    def _ctcp(self, session: Session[C], target: str, verb: str, text: str) -> list[Effect[C]]:
        """``CTCP``: relayed to a channel's members (as MSG, you included) or to a
        connected nick and you; never kept."""
        assert session.conn is not None
        if is_channel(target):
            channel = self._existing("CTCP", target)
            check_ctcp(channel, session)
            line = e.Ctcp(channel.name, session.nick, verb, text)
            if session.key not in channel.members:
                return [Broadcast((*channel.conns(), session.conn), line)]
            return [Broadcast(channel.conns(), line)]
        peer = self._sessions.get(fold(target)) if is_valid_nick(target) else None
        if peer is None or peer.ended or peer.conn is None:
            raise ProtocolError(
                "NO_SUCH_NICK", "CTCP", f"nobody called {target} is connected", (target,)
            )
        line = e.Ctcp(peer.nick, session.nick, verb, text)
        conns = [session.conn] if peer is session else [peer.conn, session.conn]
        return [Broadcast(conns, line)]

    def _direct(
        self, session: Session[C], target: str, text: str, now: float, action: bool, notice: bool
    ) -> list[Effect[C]]:
        """A direct message: kept in the conversation of the two sessions."""
        assert session.conn is not None
        verb = "ACTION" if action else "NOTICE" if notice else "MSG"
        if not is_valid_nick(target):
            raise ProtocolError(
                "NO_SUCH_NICK",
                verb,
                "that is not a nick anyone can have; a target is #channel or a nick "
                "(example: MSG #general hello, MSG alice hello)",
            )
        self._expire(now)  # a session past its resume time is nobody
        peer = self._sessions.get(fold(target))
        if peer is None:
            raise ProtocolError(
                "NO_SUCH_NICK",
                verb,
                f"nobody is {target} (no one connected, nor a dropped session that can come back)",
                (target,),
            )
        conversation = self._conversation_with(session, peer, verb)
        seq, msgid = self.ids.issue()
        message = e.Message(peer.nick, msgid, format_timestamp(now), session.nick, text,
                            action, None, notice)  # fmt: skip
        entry = Entry(seq, message, session.sid)
        dropped = conversation.history.append(entry)
        if dropped is not None:
            del self._where[dropped.seq]
        self._where[seq] = conversation
        session.markers[conversation.key] = seq
        # Most recently used last, on both sides.
        session.conversations[peer.sid] = session.conversations.pop(peer.sid)
        peer.conversations[session.sid] = peer.conversations.pop(session.sid)
        journal = self.journal
        if journal is not None:
            journal.message(conversation.key, entry)
            if dropped is not None:
                conversation.untrimmed += 1
                if conversation.untrimmed * 4 >= conversation.history.size:
                    journal.conversation(conversation)  # trim the store now and then
        conns = [session.conn]
        if peer is not session and peer.conn is not None:
            conns.insert(0, peer.conn)
        return [Broadcast(conns, message)]

    def _history(self, session: Session[C], command: c.History) -> list[e.Event]:
        name, holder = self._holder_or_channel(session, command.target)
        if holder is None:  # a nick you have no conversation with yet
            return history_block(name, Page([], more=False))
        ring = holder.history
        count = min(command.count or self.limits.history_page, ring.size)
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
        return history_block(name, page)

    def _holder_or_channel(self, session: Session[C], target: str) -> tuple[str, Holder[C] | None]:
        """HISTORY's target: any channel (members or not may read it, but only members a
        secret one), or a conversation."""
        if is_channel(target):
            channel = self._existing("HISTORY", target)
            if not visible(channel, session):
                channel = self._membership(session, "HISTORY", target)  # NOT_IN_CHANNEL
            return channel.name, channel
        return self._find_conversation(session, "HISTORY", target)

    def _delete(self, session: Session[C], text_id: str, reason: str = "") -> list[Effect[C]]:
        assert session.conn is not None
        msgid = parse_id(text_id)
        assert msgid is not None  # checked by the grammar
        holder = self._where.get(msgid.seq) if msgid.boot == self.ids.boot else None
        entry = holder.history.find(msgid.seq) if holder is not None else None
        if holder is None or entry is None:
            raise ProtocolError(
                "NO_SUCH_MESSAGE",
                "DELETE",
                f"no message {text_id} is in history (it may be older than what is kept, "
                "deleted, or from before a restart)",
                (text_id,),
            )
        if entry.author_sid != session.sid and not (
            isinstance(holder, Channel) and session.sid in holder.ops
        ):
            raise ProtocolError(
                "NOT_AUTHOR",
                "DELETE",
                f"message {text_id} is by {entry.message.author}; you can delete only your "
                "own (and, as a channel's operator, any in it)",
                (text_id,),
            )
        holder.history.delete(msgid.seq)
        del self._where[msgid.seq]
        deleted = self._deleted
        deleted[msgid.seq] = None
        if len(deleted) > DELETED_MEMORY:
            del deleted[next(iter(deleted))]
        journal = self.journal
        if journal is not None:
            journal.deleted(msgid.seq)
            if holder.untrimmed:  # trim the store too, or a restore could bring back
                if isinstance(holder, Channel):  # what the ring dropped since
                    journal.channel(holder.key, holder)
                else:
                    journal.conversation(holder)
            if session.markers.get(holder.key, 0) >= msgid.seq:
                journal.session(session)  # its marker can no longer be rebuilt from it
        conns = list(holder.conns())
        if session.conn not in conns:
            conns.append(session.conn)
        return [Broadcast(conns, e.Deleted(entry.message.target, text_id, session.nick, reason))]

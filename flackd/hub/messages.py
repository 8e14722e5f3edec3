"""The message rules: MSG (to a channel or a nick), HISTORY and DELETE.

Owns: :class:`MessageRules`: the hot path (a channel message: the next id, the channel's
ring, one broadcast to its members), private messages, paging a channel's history (ids of
an earlier boot included) and deleting one's own messages. Imports only the standard
library, ``flackd.codec``, ``flackd.history`` and the hub's own modules: never trio, never
a store.
"""

from __future__ import annotations

from flackd.codec import commands as c
from flackd.codec import events as e
from flackd.codec.grammar import ProtocolError
from flackd.codec.ids import format_timestamp, parse_id
from flackd.codec.text import fold, is_channel, is_valid_nick
from flackd.history import Entry, Page
from flackd.hub.base import HubBase
from flackd.hub.blocks import history_block
from flackd.hub.effects import Broadcast, Effect
from flackd.hub.state import C, Session, touch


class MessageRules(HubBase[C]):
    """Messages: sending, paging through history, deleting."""

    def _msg(self, session: Session[C], target: str, text: str, now: float) -> list[Effect[C]]:
        assert session.conn is not None
        if is_channel(target):
            channel = self._membership(session, "MSG", target)
            msgid = self.ids.next()
            message = e.Message(channel.name, str(msgid), format_timestamp(now), session.nick, text)
            entry = Entry(msgid.seq, message, session.sid)
            dropped = channel.history.append(entry)
            if dropped is not None:
                del self._where[dropped.seq]
            self._where[msgid.seq] = channel
            key = fold(channel.name)
            touched = touch(session, key)
            journal = self.journal
            if journal is not None:
                journal.message(key, entry)
                if dropped is not None:
                    journal.channel(key, channel)  # its last_dropped_seq moved: trim
                if touched:
                    journal.session(session)
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
        return history_block(channel.name, page)

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
        if self.journal is not None:
            self.journal.deleted(msgid.seq)
        conns = channel.conns()
        if session.conn not in conns:
            conns += (session.conn,)
        return [Broadcast(conns, e.Deleted(channel.name, text_id, session.nick))]

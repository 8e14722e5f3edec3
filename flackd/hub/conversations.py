"""The conversation rules: direct messages kept as conversations, read markers, unread
counts and mentions, and editing.

Owns: :class:`ConversationRules`: finding or opening the conversation of two sessions
(within ``max_conversations``), releasing it when both have ended, resolving a target
(``#channel`` or nick) to the place its messages are kept, ``MARK``, the ``UNREAD`` block
(also part of RESUME's reply) and ``EDIT``. Imports only the standard library,
``flackd.codec``, ``flackd.history`` and the hub's own modules: never trio, never a store.

Rules:

1. A conversation belongs to two sessions, not two nicks: after a session ends, a new
   holder of its nick starts a new conversation. The one left behind stays readable (by
   the old nick) for the side still there, and is released when both sides have ended.
2. A marker only moves forward. Sending a message moves the sender's marker to it;
   joining a channel puts the marker at its newest message.
3. Unread messages are those after your marker not written by you; a mention is one of
   them holding your nick as a word (letters, digits, ``_`` and ``-`` around it do not
   count), in any case.
"""

from __future__ import annotations

import re
from dataclasses import replace

from flackd.codec import events as e
from flackd.codec.errors import ProtocolError
from flackd.codec.ids import format_timestamp, parse_id
from flackd.codec.text import fold, is_channel
from flackd.history import ChannelHistory
from flackd.hub.base import HubBase
from flackd.hub.effects import Broadcast, Effect, Reply
from flackd.hub.state import C, Conversation, Holder, Session, conversation_key


class ConversationRules(HubBase[C]):
    """Conversations, markers, unread counts and edits."""

    # -- conversations -------------------------------------------------------------------

    def _conversation_with(
        self, session: Session[C], peer: Session[C], verb: str
    ) -> Conversation[C]:
        """The conversation of ``session`` and ``peer``, opened if they have none.

        At ``max_conversations``, a side first lets go of its least recently used
        conversation with someone who has left; only if it has none is the message refused
        (so conversations with people long gone cannot keep anyone from being written to).
        """
        conversation = session.conversations.get(peer.sid)
        if conversation is not None:
            return conversation
        limit = self.limits.max_conversations
        for side in (session, peer):
            self._drop_stale(side, session if side is peer else peer)
            if len(side.conversations) >= limit:
                self._drop_oldest_ended(side)
            if len(side.conversations) >= limit:
                who = "you have" if side is session else f"{peer.nick} has"
                raise ProtocolError(
                    "TOO_MANY_CONVERSATIONS",
                    verb,
                    f"{who} {limit} conversations, the most allowed; a conversation is "
                    "released when both of its people have left",
                    (peer.nick,),
                )
        a, b = (session, peer) if session.sid <= peer.sid else (peer, session)
        conversation = Conversation(
            conversation_key(a.sid, b.sid), a, b, ChannelHistory(self.limits.dm_history)
        )
        session.conversations[peer.sid] = conversation
        peer.conversations[session.sid] = conversation
        if self.journal is not None:
            self.journal.conversation(conversation)
        return conversation

    def _drop_stale(self, side: Session[C], other: Session[C]) -> None:
        """Release ``side``'s conversation with an ended session that had ``other``'s nick,
        so that one nick names one conversation."""
        for sid, conversation in list(side.conversations.items()):
            peer = conversation.peer(side)
            if peer.ended and peer.key == other.key:
                del side.conversations[sid]
                self._release(conversation)

    def _drop_oldest_ended(self, side: Session[C]) -> None:
        """Release ``side``'s least recently used conversation whose other side has left."""
        for sid, conversation in side.conversations.items():  # least recently used first
            if conversation.peer(side).ended:
                del side.conversations[sid]
                self._release(conversation)
                return

    def _release(self, conversation: Conversation[C]) -> None:
        """Forget a conversation and its messages."""
        for entry in conversation.history.entries_after(0):
            self._where.pop(entry.seq, None)
        journal = self.journal
        for side in (conversation.a, conversation.b):
            marked = side.markers.pop(conversation.key, None) is not None
            if marked and not side.ended and journal is not None:
                journal.session(side)  # the marker is gone from the store too
        if self.journal is not None:
            self.journal.drop_conversation(conversation.key)

    def _release_conversations(self, session: Session[C]) -> None:
        """``session`` has ended: release the conversations whose other side has too."""
        for conversation in list(session.conversations.values()):
            peer = conversation.peer(session)
            if peer is session or peer.ended:
                peer.conversations.pop(session.sid, None)
                self._release(conversation)
        session.conversations = {
            sid: cv for sid, cv in session.conversations.items() if not cv.peer(session).ended
        }

    def _find_conversation(
        self, session: Session[C], verb: str, nick: str
    ) -> tuple[str, Conversation[C] | None]:
        """The peer's display nick and the conversation with ``nick`` (None: none yet).

        ``nick`` names a session that is connected or resumable, or the ended session at
        the other end of one of ``session``'s conversations.
        """
        key = fold(nick)
        peer = self._sessions.get(key)
        if peer is not None and peer.sid in session.conversations:
            return peer.nick, session.conversations[peer.sid]
        # The ended session that had this nick, if you still have its conversation (until
        # you and the nick's new holder write each other: one nick, one conversation).
        for conversation in session.conversations.values():
            other = conversation.peer(session)
            if other.ended and other.key == key:
                return other.nick, conversation
        if peer is not None:
            return peer.nick, None
        raise ProtocolError(
            "NO_SUCH_NICK",
            verb,
            f"nobody is {nick}, and you have no conversation with a {nick} who left",
            (nick,),
        )

    def _holder(self, session: Session[C], verb: str, target: str) -> tuple[str, Holder[C] | None]:
        """What ``target`` names for ``session``: a channel it is in, or a conversation."""
        if is_channel(target):
            channel = self._membership(session, verb, target)
            return channel.name, channel
        return self._find_conversation(session, verb, target)

    # -- markers and unread counts --------------------------------------------------------

    def _advance(self, session: Session[C], key: str, seq: int) -> bool:
        """Move ``session``'s marker in ``key`` forward to ``seq``; True if it moved."""
        if session.markers.get(key, 0) >= seq:
            return False
        session.markers[key] = seq
        return True

    def _mark(self, session: Session[C], target: str, text_id: str) -> list[Effect[C]]:
        assert session.conn is not None
        name, holder = self._holder(session, "MARK", target)
        msgid = parse_id(text_id)
        assert msgid is not None  # checked by the grammar
        newest = holder.history.newest_seq if holder is not None else 0
        if holder is None or msgid.boot != self.ids.boot or msgid.seq > newest:
            raise ProtocolError(
                "NO_SUCH_MESSAGE",
                "MARK",
                f"{text_id} is not a message of {name} (nor older than its newest)",
                (text_id,),
            )
        if self._advance(session, holder.key, msgid.seq) and self.journal is not None:
            self.journal.session(session)
        marker = f"{self.ids.boot}-{session.markers[holder.key]}"
        ok = e.Ok("MARK", (name, marker), f"read up to {marker} in {name}")
        return [Reply(session.conn, [ok])]

    def _unread_block(self, session: Session[C], every: bool = False) -> list[e.Event]:
        """``UNREAD <n>``, a ``COUNT`` line per conversation with unread messages (with
        ``every``: per channel and conversation of the session, even with none; ``newest``
        is ``*`` for one that holds no message), ``END``."""
        mention = re.compile(
            rf"(?<![A-Za-z0-9_-]){re.escape(session.nick)}(?![A-Za-z0-9_-])", re.IGNORECASE
        )
        places: list[tuple[str, Holder[C]]] = [
            (ch.name, ch) for ch in sorted(session.channels.values(), key=lambda ch: ch.key)
        ]
        places += sorted(
            ((cv.peer(session).nick, cv) for cv in session.conversations.values()),
            key=lambda item: fold(item[0]),
        )
        counts: list[e.Event] = []
        for name, holder in places:
            after = holder.history.entries_after(session.markers.get(holder.key, 0))
            unread = [entry for entry in after if entry.author_sid != session.sid]
            if unread:
                mentions = sum(1 for entry in unread if mention.search(entry.message.text))
                newest = after[-1].message.id
                counts.append(e.UnreadCount(name, len(unread), mentions, newest))
            elif every:
                seq = holder.history.newest_seq
                newest = f"{self.ids.boot}-{seq}" if seq else "*"
                counts.append(e.UnreadCount(name, 0, 0, newest))
        return [e.BlockStart("UNREAD", (str(len(counts)),)), *counts, e.BlockEnd("UNREAD", ())]

    # -- edits ----------------------------------------------------------------------------

    def _edit(self, session: Session[C], text_id: str, text: str, now: float) -> list[Effect[C]]:
        assert session.conn is not None
        msgid = parse_id(text_id)
        assert msgid is not None  # checked by the grammar
        holder = self._where.get(msgid.seq) if msgid.boot == self.ids.boot else None
        entry = holder.history.find(msgid.seq) if holder is not None else None
        if holder is None or entry is None:
            if msgid.boot == self.ids.boot and msgid.seq in self._deleted:
                raise ProtocolError(
                    "MESSAGE_DELETED", "EDIT", f"message {text_id} was deleted", (text_id,)
                )
            raise ProtocolError(
                "NO_SUCH_MESSAGE",
                "EDIT",
                f"no message {text_id} is in history (it may be older than what is kept, "
                "or from before a restart)",
                (text_id,),
            )
        if entry.author_sid != session.sid:
            raise ProtocolError(
                "NOT_AUTHOR",
                "EDIT",
                f"message {text_id} is by {entry.message.author}; you can edit only your own",
                (text_id,),
            )
        stamp = format_timestamp(now)
        entry.message = replace(entry.message, text=text, edited=stamp)
        if self.journal is not None:
            self.journal.message(holder.key, entry)
        conns = list(holder.conns())
        if session.conn not in conns:
            conns.append(session.conn)
        return [
            Broadcast(conns, e.Edited(entry.message.target, text_id, stamp, session.nick, text))
        ]

"""The journal: what the hub's commands changed, as rows for a store.

Owns: :class:`Journal` (sessions, channels and conversations noted by identity, messages,
edits and deletions in order) and the builders that turn hub state into ``flackd.store``
rows. Only a hub with a store keeps one. Imports only the standard library,
``flackd.history``, the store's interface (``flackd.store``: rows and
:class:`~flackd.store.Changes`, never a concrete store) and the hub's state objects: never
trio.
"""

from __future__ import annotations

from typing import Generic

from flackd.history import Entry
from flackd.hub.state import C, Channel, Conversation, Session
from flackd.store import Changes, ChannelRow, ConversationRow, MessageRow, SessionRow


class Journal(Generic[C]):
    """What the commands since the last :meth:`Hub.take_changes` changed, for a store.

    Only a hub with a store keeps one. Sessions, channels and conversations are noted by
    identity and written as they are when the changes are taken (so a session changed ten
    times in one batch is written once); messages, edits and deletions are kept in order.
    ``count`` grows with every note: the server compares it before and after a command to
    learn whether the command changed anything that must be stored before its effects go
    out.
    """

    __slots__ = (
        "channels",
        "conversations",
        "count",
        "dropped_channels",
        "dropped_conversations",
        "dropped_sessions",
        "messages",
        "sessions",
    )

    def __init__(self) -> None:
        self.sessions: dict[int, Session[C]] = {}
        self.dropped_sessions: dict[int, None] = {}
        self.channels: dict[str, Channel[C]] = {}  # by folded name
        self.dropped_channels: dict[str, None] = {}
        self.conversations: dict[str, Conversation[C]] = {}  # by key
        self.dropped_conversations: dict[str, None] = {}
        self.messages: list[MessageRow | int] = []
        self.count = 0

    def session(self, session: Session[C]) -> None:
        self.sessions[session.sid] = session
        self.count += 1

    def drop_session(self, session: Session[C]) -> None:
        self.sessions.pop(session.sid, None)
        self.dropped_sessions[session.sid] = None
        self.count += 1

    def channel(self, key: str, channel: Channel[C]) -> None:
        self.channels[key] = channel
        self.count += 1

    def drop_channel(self, key: str) -> None:
        self.channels.pop(key, None)
        self.dropped_channels[key] = None
        self._forget_messages(key)

    def conversation(self, conversation: Conversation[C]) -> None:
        self.conversations[conversation.key] = conversation
        self.count += 1

    def drop_conversation(self, key: str) -> None:
        self.conversations.pop(key, None)
        self.dropped_conversations[key] = None
        self._forget_messages(key)

    def _forget_messages(self, key: str) -> None:
        # Its messages noted in this batch go with it (deletions by number are harmless).
        self.messages = [m for m in self.messages if isinstance(m, int) or m.holder != key]
        self.count += 1

    def message(self, key: str, entry: Entry) -> None:
        """A message stored, or stored again after an edit (the newest row wins)."""
        message = entry.message
        self.messages.append(
            MessageRow(
                entry.seq,
                key,
                message.id,
                message.time,
                message.author,
                entry.author_sid,
                message.text,
                message.target,
                message.action,
                message.edited,
                message.notice,
            )
        )
        self.count += 1

    def deleted(self, seq: int) -> None:
        self.messages.append(seq)
        self.count += 1

    def empty(self) -> bool:
        return not (
            self.sessions
            or self.dropped_sessions
            or self.channels
            or self.dropped_channels
            or self.conversations
            or self.dropped_conversations
            or self.messages
        )

    def take(self, last_seq: int, last_sid: int) -> Changes:
        """The notes as rows (plain data, safe for another thread); the journal empties."""
        changes = Changes(
            sessions=[_session_row(s) for s in self.sessions.values()],
            dropped_sessions=list(self.dropped_sessions),
            channels=[_channel_row(key, ch) for key, ch in self.channels.items()],
            dropped_channels=list(self.dropped_channels),
            conversations=[_conversation_row(cv) for cv in self.conversations.values()],
            dropped_conversations=list(self.dropped_conversations),
            messages=self.messages,
            last_seq=last_seq,
            last_sid=last_sid,
        )
        self.sessions = {}
        self.dropped_sessions = {}
        self.channels = {}
        self.dropped_channels = {}
        self.conversations = {}
        self.dropped_conversations = {}
        self.messages = []
        return changes


def _session_row(session: Session[C]) -> SessionRow:
    return SessionRow(
        session.sid,
        session.nick,
        session.token_hash,
        tuple(session.channels),
        session.last_channel,
        session.detached_at,
        tuple(session.markers.items()),
        session.modes,
    )


def _channel_row(key: str, channel: Channel[C]) -> ChannelRow:
    channel.untrimmed = 0  # the row carries last_dropped_seq: the store trims to it
    return ChannelRow(
        key,
        channel.name,
        channel.topic,
        channel.topic_setter,
        channel.topic_time,
        channel.history.last_dropped_seq,
        channel.created,
        tuple(sorted(channel.ops)),
        tuple(sorted(channel.voiced)),
        channel.flags,
        channel.passkey,
        channel.limit,
        tuple(channel.bans),
        tuple(channel.invited),
        tuple(channel.excepts),
        tuple(channel.invexes),
    )


def _conversation_row(conversation: Conversation[C]) -> ConversationRow:
    a, b = conversation.a, conversation.b
    conversation.untrimmed = 0
    return ConversationRow(
        conversation.key, a.sid, a.nick, b.sid, b.nick, conversation.history.last_dropped_seq
    )

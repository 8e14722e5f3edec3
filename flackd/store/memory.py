"""MemoryStore: a store kept in this process's memory, the reference for every other.

Owns: dictionaries that hold exactly what :meth:`commit` was given, and a way to make the
next commit fail (for tests of the failure path). Imports only the standard library and
``flackd.store``.

flackd's default mode has no store at all: the hub's working set is then the only copy
and nothing waits. This store is for tests: a "restart" that reloads from it exercises the
hub's journal and reload without a database, and the store contract tests run the same
cases against it and against :class:`flackd.store.sqlite.SqliteStore`, so the two cannot
drift apart.
"""

from __future__ import annotations

from flackd.store import (
    Changes,
    ChannelRow,
    ConversationRow,
    MessageRow,
    SessionRow,
    Snapshot,
    StoreError,
    StoreFull,
)

__all__ = ["MemoryStore"]


class MemoryStore:
    """Holds the committed state in dicts; see the module docstring."""

    def __init__(self, boot: int = 1, *, max_messages: int | None = None) -> None:
        self.where = "memory"
        self.commit_in_thread = False
        self.boot = boot
        self.last_seq = 0
        self.last_sid = 0
        self.channels: dict[str, ChannelRow] = {}
        self.conversations: dict[str, ConversationRow] = {}
        self.messages: dict[int, MessageRow] = {}
        self.sessions: dict[int, SessionRow] = {}
        #: Raise StoreFull when a commit would hold more messages than this (like a disk).
        self.max_messages = max_messages
        #: When set, the next commit raises it (and stores nothing).
        self.fail_next: StoreError | None = None
        self.commits = 0

    def load(self) -> Snapshot:
        return Snapshot(
            boot=self.boot,
            last_seq=self.last_seq,
            last_sid=self.last_sid,
            channels=list(self.channels.values()),
            conversations=list(self.conversations.values()),
            messages=sorted(self.messages.values(), key=lambda m: m.seq),
            sessions=list(self.sessions.values()),
        )

    def commit(self, changes: Changes) -> None:
        if self.fail_next is not None:
            error, self.fail_next = self.fail_next, None
            raise error
        channels = dict(self.channels)
        conversations = dict(self.conversations)
        messages = dict(self.messages)
        sessions = dict(self.sessions)
        for sid in changes.dropped_sessions:
            sessions.pop(sid, None)
        gone = [*changes.dropped_channels, *changes.dropped_conversations]
        for key in changes.dropped_channels:
            channels.pop(key, None)
        for key in changes.dropped_conversations:
            conversations.pop(key, None)
        for seq in [s for s, m in messages.items() if m.holder in gone]:
            del messages[seq]
        for row in changes.channels:
            channels[row.key] = row
        for crow in changes.conversations:
            conversations[crow.key] = crow
        for item in changes.messages:
            if isinstance(item, int):
                messages.pop(item, None)
            else:
                messages[item.seq] = item
        trims = {r.key: r.last_dropped_seq for r in changes.channels}
        trims.update((r.key, r.last_dropped_seq) for r in changes.conversations)
        for seq in [s for s, m in messages.items() if s <= trims.get(m.holder, 0)]:
            del messages[seq]
        for srow in changes.sessions:
            sessions[srow.sid] = srow
        if self.max_messages is not None and len(messages) > self.max_messages:
            raise StoreFull(f"more than {self.max_messages} messages")
        self.channels, self.conversations = channels, conversations
        self.messages, self.sessions = messages, sessions
        self.last_seq = max(self.last_seq, changes.last_seq)
        self.last_sid = max(self.last_sid, changes.last_sid)
        self.commits += 1

    def maintenance_due(self) -> bool:
        return False

    def maintain(self) -> None:
        pass

    def close(self) -> None:
        pass

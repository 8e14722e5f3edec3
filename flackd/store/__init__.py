"""The storage seam: what a store keeps, and the one interface every store implements.

Owns: the plain-data shapes that cross the seam (:class:`Snapshot` at start-up,
:class:`Changes` for each group commit, the row types), the :class:`Store` protocol, and
the errors a store raises. Imports only the standard library and ``flackd.codec``: it
knows neither the hub's objects nor any database, so the hub can speak to any store and
no store can reach into the hub.

How the pieces fit (docs/architecture.md, "The storage seam"):

1. The hub keeps the rules and a working set of the state in memory (channels, their
   history rings, sessions). It never awaits and never sees a store.
2. When a store is configured, the hub notes what each command changed (a *journal*) and
   :meth:`flackd.hub.Hub.take_changes` turns the notes into one :class:`Changes`: rows,
   plain data, safe to hand to another thread.
3. The server's committer (``flackd.committer``) hands each :class:`Changes` to
   :meth:`Store.commit` (on the event loop, or in a worker thread for a store whose commits
   wait for I/O: :attr:`Store.commit_in_thread`) and releases the effects the changes
   acknowledge (echoes, replies, deliveries) only after it returned. Everything that
   arrived while one commit ran is committed by the next one, at once (group commit).
4. At start-up, :meth:`Store.load` returns a :class:`Snapshot` and the hub rebuilds its
   working set from it; after a failed commit the hub does the same, so its memory is
   again exactly what the store holds.

Rules every store keeps:

- ``commit`` is all or nothing: after :class:`StoreError` nothing of that
  :class:`Changes` is stored, and the next ``load`` returns the state before it.
- ``commit`` returns only when the change is as durable as the store promises (for
  SQLite: written to the database file, which survives the process being killed).
- A store is bounded by what it is given: history rows beyond ``last_dropped_seq`` of
  their channel, dropped sessions and dropped channels are deleted in the same commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

__all__ = [
    "Changes",
    "ChannelRow",
    "ConversationRow",
    "MessageRow",
    "SessionRow",
    "Snapshot",
    "Store",
    "StoreCorrupt",
    "StoreError",
    "StoreFull",
    "StoreUnavailable",
]


class StoreError(Exception):
    """A commit failed: nothing of it was stored. The text says why, for the log."""


class StoreFull(StoreError):
    """The store is out of room (disk full, or its configured size limit reached)."""


class StoreUnavailable(Exception):
    """The store cannot be opened at all (start-up): the text is for the operator."""


class StoreCorrupt(StoreUnavailable):
    """The store's files exist but are damaged or not a Flack store."""


@dataclass(frozen=True, slots=True)
class SessionRow:
    """A session as stored: no connection, only what a RESUME needs to bring it back."""

    sid: int
    nick: str
    #: SHA-256 (hex) of the resume token: a stolen database file holds no usable token.
    token_hash: str
    #: Folded channel names, least recently used first.
    channels: tuple[str, ...]
    #: Folded name of the channel the session was last in, if any.
    last_channel: str | None
    #: Unix time the session was dropped; None while it was connected.
    detached_at: float | None
    #: Read markers: (holder key, sequence number read up to), a holder key being a folded
    #: channel name or a conversation's key.
    markers: tuple[tuple[str, int], ...] = ()
    #: User modes (``flackd.codec.usermodes``): ``o`` server operator, ``w``, ``B`` bot.
    modes: str = ""


@dataclass(frozen=True, slots=True)
class ChannelRow:
    """A channel as stored (its members are derived from the sessions)."""

    key: str  # folded name
    name: str  # display name
    topic: str
    topic_setter: str
    topic_time: str
    #: The history ring's memory of what it dropped (see ``flackd.history``): messages
    #: with a sequence number up to this one are gone, and the store deletes them.
    last_dropped_seq: int
    #: Its modes (``flackd.codec.modes``): the session ids of its operators and voiced
    #: members, the on/off modes set (of ``Cimnst``), key, limit, bans (mask, setter, time)
    #: and the session ids invited, oldest first; when it was made (Unix time; 0: unknown);
    #: ban exceptions (+e) and invite exceptions (+I), shaped as bans.
    created: float = 0.0
    ops: tuple[int, ...] = ()
    voiced: tuple[int, ...] = ()
    flags: str = "n"
    passkey: str | None = None
    limit: int | None = None
    bans: tuple[tuple[str, str, str], ...] = ()
    invited: tuple[int, ...] = ()
    excepts: tuple[tuple[str, str, str], ...] = ()
    invexes: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class ConversationRow:
    """A direct-message conversation between two sessions (``sid_a <= sid_b``). A side
    whose session has ended is no longer among the sessions; its nick is kept here."""

    key: str  # "@<sid_a>.<sid_b>"
    sid_a: int
    nick_a: str
    sid_b: int
    nick_b: str
    last_dropped_seq: int


class MessageRow(NamedTuple):
    """One message of a channel's or a conversation's history. A named tuple: one is made
    per message on the hot path, and a store may hand the rows on as they are (JSON
    arrays, SQL rows). A message edited is written again, whole (the newest row wins)."""

    seq: int
    holder: str  # the folded channel name, or the conversation's key
    msgid: str
    time: str
    author: str
    author_sid: int
    text: str
    target: str  # as on the MSG line: the channel's name, or the nick it was sent to
    action: bool = False  # a /me action
    edited: str | None = None  # when it was last edited
    notice: bool = False  # a NOTICE


@dataclass(slots=True)
class Changes:
    """Everything one group commit writes. Plain data; built by the hub, read by a store.

    Order of application: dropped sessions, channels and conversations (with their
    messages), channel and conversation rows, then message rows and deletions in the order
    given, then trimming (each holder's messages up to its ``last_dropped_seq``), then
    session rows, then the counters.
    """

    sessions: list[SessionRow] = field(default_factory=list)
    dropped_sessions: list[int] = field(default_factory=list)
    channels: list[ChannelRow] = field(default_factory=list)
    dropped_channels: list[str] = field(default_factory=list)
    conversations: list[ConversationRow] = field(default_factory=list)
    dropped_conversations: list[str] = field(default_factory=list)
    #: Messages stored (or edited), and sequence numbers of messages deleted, in the order
    #: they happened.
    messages: Sequence[MessageRow | int] = field(default_factory=list)
    #: The message sequence number handed out last (never reused after a restart).
    last_seq: int = 0
    #: The session id handed out last.
    last_sid: int = 0


@dataclass(slots=True)
class Snapshot:
    """Everything a store holds, as loaded at start-up (or after a failed commit)."""

    #: The id prefix of this store's messages (see ``flackd.codec.ids``): fixed when the
    #: store was created, so ids stay one increasing sequence across restarts.
    boot: int
    last_seq: int = 0
    last_sid: int = 0
    channels: list[ChannelRow] = field(default_factory=list)
    conversations: list[ConversationRow] = field(default_factory=list)
    #: Oldest first within each holder.
    messages: list[MessageRow] = field(default_factory=list)
    sessions: list[SessionRow] = field(default_factory=list)


class Store(Protocol):
    """What the server needs from a store. ``load`` and ``close`` run at start-up, after a
    failed commit and at exit; ``commit`` runs for each group commit, on the event loop or
    in a worker thread as :attr:`commit_in_thread` says; ``maintain`` runs in a worker
    thread, between commits, when :meth:`maintenance_due` says so."""

    #: Where the state lives, for logs and errors (a path, a URL).
    where: str
    #: True when a commit waits for I/O (a disk flush, a network round trip): then it runs
    #: in a worker thread, so the event loop goes on meanwhile. False when a commit is
    #: short CPU work: then it runs on the loop, which on a busy single core is far cheaper
    #: than a thread that must win the core and the GIL back for every statement.
    commit_in_thread: bool

    def load(self) -> Snapshot: ...

    def commit(self, changes: Changes) -> None:
        """Store ``changes`` atomically; raise :class:`StoreError` (nothing stored) if not."""
        ...

    def maintenance_due(self) -> bool:
        """Whether :meth:`maintain` should run before the next commit (cheap to ask)."""
        ...

    def maintain(self) -> None:
        """Housekeeping that must not run beside a commit (it may take a while)."""
        ...

    def close(self) -> None: ...

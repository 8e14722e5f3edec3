"""The hub's state objects: sessions, channels, conversations, and what is kept of a token.

Owns: :class:`Session` (a registered user, connected or detached, with its read markers),
:class:`Channel` (its members, topic and history ring, and the cached tuple of member
connections every message is broadcast to), :class:`Conversation` (the direct messages
of two sessions), ``Holder`` (either: a place messages are kept), :func:`hash_token`,
:func:`touch` (a session's most recent channel), and ``C``, the type of the server's
connection handles. Imports only the standard library,
``flackd.codec`` and ``flackd.history``: never trio, never a store.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from flackd.codec.text import fold
from flackd.history import ChannelHistory

C = TypeVar("C", bound=Hashable)


@dataclass(eq=False, slots=True)
class Session(Generic[C]):
    """A registered user, connected or detached."""

    sid: int
    nick: str
    token_hash: str  # hash_token() of the resume token: the token itself is not kept
    conn: C | None
    # By folded name, least recently used first (joining or writing moves one to the end).
    channels: dict[str, Channel[C]] = field(default_factory=dict)
    last_channel: str | None = None  # folded name
    detached_at: float | None = None
    created: list[float] = field(default_factory=list)  # times of recent channel creations
    #: Direct-message conversations, by the other session's id (its own id for notes to
    #: oneself), least recently used first.
    conversations: dict[int, Conversation[C]] = field(default_factory=dict)
    #: Read markers: the sequence number read up to, by holder key (a folded channel name
    #: or a conversation's key).
    markers: dict[str, int] = field(default_factory=dict)
    #: True once the session has ended (QUIT, expiry): it lives on only as the other side
    #: of conversations the other session still has.
    ended: bool = False
    #: User modes (of ``flackd.codec.usermodes.USER_MODES``, in that order): ``o`` a
    #: server operator, ``w`` gets WALLOPS, ``B`` a bot. Stored; kept by RESUME.
    modes: str = ""
    #: An away message (IRC's AWAY) while set; volatile: not stored, cleared on disconnect.
    away: str | None = None
    #: (username, realname) an IRC client gave in USER; volatile like ``away``.
    identity: tuple[str, str] | None = None
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
    #: Messages the ring dropped since a store last trimmed it (see MessageRules).
    untrimmed: int = 0
    # -- modes (flackd.hub.modes; the letters are flackd.codec.modes's) --
    #: Session ids of its operators (``+o``) and voiced members (``+v``), connected or not.
    ops: set[int] = field(default_factory=set)
    voiced: set[int] = field(default_factory=set)
    #: The on/off modes set, of ``Cimnst``, in that order (a new channel has ``n``).
    flags: str = "n"
    passkey: str | None = None  # +k (``key`` is the folded name)
    limit: int | None = None  # +l
    #: Bans (+b): (mask, who set it, when), oldest first, at most ``channel_list_max``.
    bans: list[tuple[str, str, str]] = field(default_factory=list)
    #: Ban exceptions (+e) and invite exceptions (+I), the same shape and bound as ``bans``.
    excepts: list[tuple[str, str, str]] = field(default_factory=list)
    invexes: list[tuple[str, str, str]] = field(default_factory=list)
    #: Session ids invited (and not yet joined), oldest first, at most ``channel_list_max``.
    invited: dict[int, None] = field(default_factory=dict)
    #: Unix time the channel was made (IRC's 329), or when this flackd first knew it.
    created: float = 0.0
    #: True when MSG must ask flackd.hub.modes first (moderated, or someone is banned):
    #: the hot path reads this one attribute.
    gated: bool = False
    key: str = field(init=False)  # fold(name): the channel's key in markers and a store

    def __post_init__(self) -> None:
        self.key = fold(self.name)

    def regate(self) -> None:
        """Recompute :attr:`gated` after a change of ``flags`` or ``bans``."""
        self.gated = "m" in self.flags or bool(self.bans)

    def masks(self, letter: str) -> list[tuple[str, str, str]]:
        """The mask list of ``letter``: ``b`` bans, ``e`` ban exceptions, ``I`` invite
        exceptions."""
        return self.bans if letter == "b" else self.excepts if letter == "e" else self.invexes

    def reset_modes(self) -> None:
        """Back to a new channel's modes: nobody is operator, nothing is restricted."""
        self.ops.clear()
        self.voiced.clear()
        self.flags = "n"
        self.passkey = None
        self.limit = None
        self.bans.clear()
        self.excepts.clear()
        self.invexes.clear()
        self.invited.clear()
        self.gated = False

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


@dataclass(eq=False, slots=True)
class Conversation(Generic[C]):
    """The direct messages of two sessions (``a.sid <= b.sid``; ``a is b`` for notes to
    oneself), kept while either of them lives."""

    key: str  # conversation_key(a.sid, b.sid): how markers, ``_where`` and a store name it
    a: Session[C]
    b: Session[C]
    history: ChannelHistory
    #: Messages the ring dropped since a store last trimmed it (see MessageRules).
    untrimmed: int = 0

    def peer(self, session: Session[C]) -> Session[C]:
        """The other side of the conversation (``session`` itself for notes to oneself)."""
        return self.b if session is self.a else self.a

    def conns(self) -> list[C]:
        """The connected sides' connections."""
        if self.a is self.b:
            return [self.a.conn] if self.a.conn is not None else []
        return [s.conn for s in (self.a, self.b) if s.conn is not None]


def conversation_key(sid_a: int, sid_b: int) -> str:
    """``@<smaller sid>.<larger sid>``: never a folded channel name (those start with #)."""
    low, high = sorted((sid_a, sid_b))
    return f"@{low}.{high}"


#: A place messages are kept: a channel or a conversation.
Holder = Channel[C] | Conversation[C]


def hash_token(token: str) -> str:
    """What the hub (and a store) keeps of a resume token: its SHA-256, in hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def touch(session: Session[C], key: str) -> bool:
    """Make ``key`` the channel ``session`` was last in (and the most recent in its order);
    False if it already was (nothing changed)."""
    if session.last_channel == key:
        return False  # already the most recent
    channel = session.channels.pop(key)
    session.channels[key] = channel
    session.last_channel = key
    return True

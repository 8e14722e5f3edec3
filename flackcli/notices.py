"""What the reconnecting session tells its users besides the server's own lines.

Owns: the client-level notices the supervisor emits next to ``flackd.codec.events``
(connection state, gaps, member lists, registration, a session the server forgot, the
server's unread counts). The UI
view model, the script commands and bots all consume ``Notice | flackd.codec.events.Event``.
Imports only the standard library.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

__all__ = [
    "CaughtUp",
    "ConnectionState",
    "Count",
    "Gap",
    "Members",
    "Notice",
    "Registered",
    "SendFailed",
    "SessionLost",
    "UnreadCounts",
]

State = Literal["connecting", "registering", "live", "offline", "stopped"]


@dataclass(frozen=True, slots=True)
class ConnectionState:
    """The link changed state. ``retry_in`` is set while offline and waiting to retry."""

    state: State
    reason: str = ""
    retry_in: float | None = None
    attempt: int = 0


@dataclass(frozen=True, slots=True)
class Registered:
    """We have a nick on the server: a fresh NICK or a RESUME of our session. ``wanted`` is
    the nick asked for when it was taken and ``nick`` is its fallback (``nick_``), else
    empty."""

    nick: str
    resumed: bool
    last_channel: str | None
    wanted: str = ""


@dataclass(frozen=True, slots=True)
class SessionLost:
    """The server no longer knew our session: RESUME got ``ERR UNKNOWN_TOKEN`` because the
    server restarted without keeping sessions, or we were away longer than it keeps them.

    Comes instead of that raw error line. The supervisor then registers again with NICK
    (``nick``, or ``nick_`` / ``nick__`` when taken; a :class:`Registered` follows) and
    re-joins ``channels``; what was said while we were away may be gone, and a
    :class:`Gap` per channel says so when it is."""

    nick: str
    channels: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Members:
    """The full member list of a channel (from a JOIN or NAMES reply). ``roles``, when
    given, runs alongside ``nicks``: each member's channel role from NAMES (``op``,
    ``voice``, or "" for none; protocol 1.2)."""

    channel: str
    nicks: tuple[str, ...]
    roles: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Gap:
    """Messages of ``channel`` after ``after_id`` were missed and cannot be fetched (the
    server's ring moved past them, or the server restarted)."""

    channel: str
    after_id: str | None


@dataclass(frozen=True, slots=True)
class CaughtUp:
    """``channel`` is in sync: everything up to now has been delivered once, in order."""

    channel: str


@dataclass(frozen=True, slots=True)
class SendFailed:
    """A command was refused by the server (``code``) or could not be sent."""

    command: str
    code: str
    text: str


class Count(NamedTuple):
    """One conversation with unread messages, by the server's read marker (``COUNT``):
    ``target`` is a ``#channel`` or the other person's nick; ``newest`` the id of the
    newest unread message."""

    target: str
    unread: int
    mentions: int
    newest: str


@dataclass(frozen=True, slots=True)
class UnreadCounts:
    """The server's ``UNREAD`` block (protocol 1.1; in the reply to ``RESUME``): every
    conversation with unread messages. Conversations not listed have none."""

    counts: tuple[Count, ...]


Notice = (
    ConnectionState
    | Registered
    | SessionLost
    | Members
    | Gap
    | CaughtUp
    | SendFailed
    | UnreadCounts
)

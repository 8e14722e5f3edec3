"""Buffers and lines: the data the view model is made of.

Owns: :class:`Line` (one logical line: a message, a system or error line, the gap line),
:class:`Buffer` (a channel, a private conversation or the server buffer, with its lines,
members, topic, counts, read position, scroll offset and sync state), the plain records the
bars are drawn from (:class:`ChannelRow`, :class:`Status`), the fixed texts the view shows
(:data:`GAP_TEXT`, :data:`SESSION_LOST_TEXT`), and the bounded memory of ids a buffer has
shown (:func:`remember_id`). Data only: what changes these objects and when lives in
``ui.reading``, ``ui.render``, ``ui.model`` and ``ui.view``.

Must not import anything but the standard library and ``flackcli.ui.cells``: never trio,
never prompt_toolkit, never the network side of flackcli.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, Literal, NamedTuple

from flackcli.ui.cells import Fragment

__all__ = [
    "DELETED_TEXT",
    "EDITED_MARK",
    "GAP_TEXT",
    "SERVER",
    "SESSION_LOST_TEXT",
    "Buffer",
    "BufferKind",
    "ChannelRow",
    "Line",
    "LineKind",
    "Status",
    "id_after",
    "remember_id",
]

#: Key and shown name of the server buffer. ``server`` is a reserved nick, so no private
#: conversation can ever have this key.
SERVER: Final = "server"

#: The line shown where messages were missed (catch-up found ``gap=yes``).
GAP_TEXT: Final = "─ ─ some messages were missed (the server keeps the last 100) ─ ─"

#: The line shown when the server no longer knew our session (it restarted without keeping
#: sessions, or we were away longer than it keeps them), instead of its raw error.
SESSION_LOST_TEXT: Final = (
    "the server restarted or forgot your session; signing in again as {nick}. "
    "Messages sent while you were away may be lost."
)

#: What a deleted message shows instead of its text.
DELETED_TEXT: Final = "(message deleted)"

#: What follows the text of an edited message (dimmed).
EDITED_MARK: Final = "(edited)"

LineKind = Literal["message", "system", "error", "gap"]
BufferKind = Literal["server", "channel", "dm"]


@dataclass(slots=True, eq=False)
class Line:
    """One logical line of a buffer. Compared by identity (the read marker and the sync
    anchor point at a line object). ``time`` is already in the view's local time zone;
    ``nick`` and ``text`` are already neutralised."""

    kind: LineKind
    text: str
    nick: str = ""
    time: datetime | None = None
    id: str | None = None
    own: bool = False
    mention: bool = False
    deleted: bool = False
    action: bool = False  # a /me action: shown as "* nick text"
    edited: bool = False  # the text was changed (EDIT): shown with a dim "(edited)"
    _cache: tuple[int, tuple[tuple[Fragment, ...], ...]] | None = field(default=None, repr=False)


@dataclass(eq=False)
class Buffer:
    """A channel (``#name``), a private conversation (the other person's nick) or the
    server buffer. ``key`` is the folded name; ``name`` is shown."""

    key: str
    name: str
    kind: BufferKind
    lines: list[Line] = field(default_factory=list)
    topic: str = ""
    topic_setter: str = ""
    topic_known: bool = False  # a TOPIC line arrived since the buffer opened
    members: dict[str, str] = field(default_factory=dict)  # folded -> as shown
    unread: int = 0
    mentions: int = 0
    scroll: int = 0  # rows between the bottom of the view and the newest row
    marker: Line | None = None  # the read-marker row is drawn after this line
    last_read: Line | None = None  # the newest line the user has seen
    read_at: datetime | None = None  # when the user last saw the bottom
    syncing: bool = False  # (re)joining: from the join reply or a disconnect to CaughtUp
    sync_anchor: Line | None = None  # the last line before the sync began (None: top)
    speakers: list[str] = field(default_factory=list)  # newest first, shown spelling
    ids: dict[str, None] = field(default_factory=dict)  # bounded, insertion ordered
    counted: dict[str, bool] = field(default_factory=dict)  # unread id -> was a mention
    pending_read_id: str | None = None  # restored last_read_id not yet seen
    counted_through: str | None = None  # the server's UNREAD counted messages up to this id
    view_width: int = 80  # size of the last render, for scrolling
    view_height: int = 24


class ChannelRow(NamedTuple):
    """One row of the channel list. ``number`` is what ``View.select`` takes (the server
    buffer is 0, then channels in join order, then private conversations)."""

    name: str
    unread: int
    mentions: int
    is_current: bool
    number: int
    kind: BufferKind


@dataclass(frozen=True, slots=True)
class Status:
    """Everything the status and title bars show, as plain data."""

    connection: str  # "live", "⟳ reconnecting in 8s (try 4)", ...
    state: str  # the raw ConnectionState.state ("connecting" before any notice)
    nick: str
    buffer: str
    topic: str
    members: int
    activity: str  # "1,3@,4•": buffers with unread messages, @ mentions, • DMs
    more: int  # rows below the view when scrolled up (0 at the bottom)


def remember_id(buf: Buffer, msg_id: str, max_ids: int) -> None:
    """``msg_id`` is shown in ``buf`` (so it is never shown twice); the oldest ids are
    forgotten beyond ``max_ids``."""
    buf.ids[msg_id] = None
    while len(buf.ids) > max_ids:
        del buf.ids[next(iter(buf.ids))]


def _id_key(msg_id: str) -> tuple[int, int] | None:
    boot, dash, seq = msg_id.partition("-")
    if not (dash and boot.isascii() and boot.isdigit() and seq.isascii() and seq.isdigit()):
        return None
    return int(boot), int(seq)


def id_after(msg_id: str, other: str | None) -> bool:
    """Message ``msg_id`` came after ``other`` (ids ``<boot>-<seq>`` grow; None: no other,
    so True). An id that does not parse counts as after."""
    if other is None:
        return True
    a, b = _id_key(msg_id), _id_key(other)
    return a is None or b is None or a > b

"""Buffers and lines: the data the view model is made of.

Owns: :class:`Line` (one logical line: a message, a system or error line, the gap line),
:class:`Buffer` (a channel, a private conversation or the server buffer, with its lines,
members and their roles, topic, counts, read position, scroll offset and sync state), the
plain records the bars are drawn from (:class:`ChannelRow`, :class:`Status`), the fixed
texts the view shows (:data:`GAP_TEXT`, :data:`SESSION_LOST_TEXT`), and the small
operations that keep a buffer's fields consistent: the bounded memory of ids it has shown
(:func:`remember_id`), where a gap line goes (:func:`gap_position`), and its members with
their roles (operator ``@``, voiced ``+``; protocol 1.2), kept together by
:func:`set_members`, :func:`set_role`, :func:`drop_member` and :func:`rename_member` and
listed as the member pane shows them by :func:`member_labels`. What changes these objects
and when lives in ``ui.reading``, ``ui.render``, ``ui.model`` and ``ui.view``.

Must not import anything but the standard library and ``flackcli.ui.cells``: never trio,
never prompt_toolkit, never the network side of flackcli.
"""

from __future__ import annotations

from collections.abc import Sequence
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
    "drop_member",
    "gap_position",
    "id_after",
    "member_labels",
    "remember_id",
    "rename_member",
    "set_members",
    "set_role",
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
    notice: bool = False  # a NOTICE: shown as "-nick-", in the notice style
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
    roles: dict[str, str] = field(default_factory=dict)  # folded -> mode letters: "o", "v", "ov"
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


def gap_position(buf: Buffer, after_id: str | None) -> int | None:
    """Where the gap line goes for messages missed after ``after_id``: right after that
    message when shown, else (while syncing) after the line the sync began at, else at the
    end; None when a gap line is there already."""
    at = len(buf.lines)
    found = None
    if after_id is not None:
        found = next((i for i in range(len(buf.lines) - 1, -1, -1)
                      if buf.lines[i].id == after_id), None)  # fmt: skip
    if found is not None:
        at = found + 1
    elif buf.syncing:
        anchor = buf.sync_anchor
        at = 0
        if anchor is not None:
            at = next((i + 1 for i, ln in enumerate(buf.lines) if ln is anchor), 0)
    if at < len(buf.lines) and buf.lines[at].kind == "gap":
        return None
    if at > 0 and buf.lines[at - 1].kind == "gap":
        return None
    return at


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


# -- members and their roles (protocol 1.2) -------------------------------------------------

#: The mode letter of each role NAMES gives (``MEMBER alice role=op``).
_ROLE_LETTER: Final = {"op": "o", "voice": "v"}


def set_members(
    buf: Buffer, keys: Sequence[str], names: Sequence[str], roles: Sequence[str] = ()
) -> None:
    """The whole member list, replacing what ``buf`` knew: folded nicks, the nicks as
    shown, and alongside them the roles NAMES gave (``op``, ``voice`` or ""; fewer roles
    than nicks, or none, when the caller knows none)."""
    buf.members = dict(zip(keys, names, strict=True))
    buf.roles = {k: _ROLE_LETTER[r] for k, r in zip(keys, roles, strict=False) if r in _ROLE_LETTER}


def set_role(buf: Buffer, key: str, letter: str, on: bool) -> None:
    """Member ``key`` (folded) got (``on``) or lost mode ``letter`` (``o`` or ``v``)."""
    if key not in buf.members or letter not in "ov":
        return
    have = buf.roles.get(key, "").replace(letter, "")
    have = "".join(sorted(have + letter)) if on else have
    if have:
        buf.roles[key] = have
    else:
        buf.roles.pop(key, None)


def drop_member(buf: Buffer, key: str) -> bool:
    """Member ``key`` (folded) left; False if it was not a member."""
    buf.roles.pop(key, None)
    return buf.members.pop(key, None) is not None


def rename_member(buf: Buffer, old_key: str, new_key: str, new: str) -> bool:
    """Member ``old_key`` is now ``new`` (folded ``new_key``), keeping its roles; False if
    it was not a member."""
    if old_key not in buf.members:
        return False
    del buf.members[old_key]
    buf.members[new_key] = new
    role = buf.roles.pop(old_key, None)
    if role:
        buf.roles[new_key] = role
    return True


def member_labels(buf: Buffer) -> list[str]:
    """The members as the member pane lists them, as IRC clients do: operators
    (``@alice``), then voiced members (``+bob``), then the others, each alphabetically."""

    def rank(key: str) -> tuple[int, str]:
        role = buf.roles.get(key, "")
        return (0 if "o" in role else 1 if "v" in role else 2), key

    return [_prefix(buf.roles.get(k, "")) + buf.members[k] for k in sorted(buf.members, key=rank)]


def _prefix(role: str) -> str:
    return "@" if "o" in role else "+" if "v" in role else ""

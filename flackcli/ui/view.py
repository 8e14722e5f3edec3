"""The view model of the full-screen client: buffers, counts, read marker, scrollback, and
rendering to plain formatted-text fragments.

Owns: one :class:`Buffer` per channel, per private conversation and for the server's
notices; applying server lines (``flackd.codec.events``) and client notices
(``flackcli.notices``) to them (dedupe by id, member lists, topics, gap lines, deletions);
the current buffer and switching; unread and mention counts and the read marker; the scroll
offset; nick colours (djb2, never the salted ``hash()``); terminal-cell widths; and rendering
to ``list[list[tuple[style, text]]]`` rows, the shape of prompt-toolkit's formatted text,
built from plain tuples.

Must not import anything but the standard library, ``flackd.codec`` and
``flackcli.notices``: never trio, never prompt_toolkit, nothing else from flackd. It is
data in, data out, so it is tested with plain pytest (time and time zone are injected).

Defence in depth: every string shown passes :func:`flackd.codec.text.neutralise` (and TAB
becomes a space) when it enters the model and again when it is rendered, so no terminal
control sequence, C1 control or bidi override ever reaches the screen, whatever the server
sent.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Final, Literal, NamedTuple

from flackcli.notices import (
    CaughtUp,
    ConnectionState,
    Gap,
    Members,
    Notice,
    Registered,
    SendFailed,
)
from flackd.codec import events as ev
from flackd.codec.ids import parse_timestamp
from flackd.codec.text import fold, is_channel, neutralise

__all__ = [
    "GAP_TEXT",
    "PALETTE",
    "SERVER",
    "Buffer",
    "BufferKind",
    "ChannelRow",
    "Fragment",
    "Line",
    "LineKind",
    "Row",
    "Status",
    "View",
    "ansi256_hex",
    "cells",
    "char_cells",
    "djb2",
    "nick_colour",
    "nick_colour_index",
    "nick_style",
    "panes_for_width",
    "truncate_cells",
    "wrap_cells",
]

#: Key and shown name of the server buffer. ``server`` is a reserved nick, so no private
#: conversation can ever have this key.
SERVER: Final = "server"

#: The line shown where messages were missed (catch-up found ``gap=yes``).
GAP_TEXT: Final = "─ ─ some messages were missed (the server keeps the last 100) ─ ─"

#: Twelve ANSI-256 colours (indices into the xterm palette) that read on dark and light
#: backgrounds. A nick's colour is ``PALETTE[djb2(fold(nick)) % 12]``.
PALETTE: Final[tuple[int, ...]] = (31, 32, 35, 37, 62, 97, 130, 133, 136, 161, 166, 168)

Fragment = tuple[str, str]
"""One ``(style, text)`` pair, as in prompt-toolkit's ``FormattedText``."""
Row = list[Fragment]
"""One screen row."""

LineKind = Literal["message", "system", "error", "gap"]
BufferKind = Literal["server", "channel", "dm"]
Bell = Literal["mentions", "off", "all"]

_MAX_SPEAKERS: Final = 50
_MAX_ORPHAN_TOPICS: Final = 50
_DELETED_TEXT: Final = "(message deleted)"
_MIN_TEXT_CELLS: Final = 10


# ---------------------------------------------------------------------------------------
# Cells, colours, wrapping: module-level helpers, pure functions of their arguments.


def char_cells(ch: str) -> int:
    """Terminal cells one character takes: 2 for wide (East Asian W/F), 0 for combining
    marks and format characters, else 1."""
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def cells(text: str) -> int:
    """Terminal cells ``text`` takes (never ``len()``)."""
    if text.isascii():
        return len(text)
    return sum(char_cells(ch) for ch in text)


def truncate_cells(text: str, width: int, ellipsis: str = "…") -> str:
    """``text`` cut to at most ``width`` cells, never inside a character; when something
    was cut, the last cell shows ``ellipsis``."""
    if width <= 0:
        return ""
    if cells(text) <= width:
        return text
    room = width - cells(ellipsis)
    if room < 0:
        return _take_cells(text, width)[0]
    return _take_cells(text, room)[0] + ellipsis


def _take_cells(text: str, width: int) -> tuple[str, str]:
    """The longest prefix of ``text`` that fits ``width`` cells, and the rest."""
    used = 0
    for i, ch in enumerate(text):
        w = char_cells(ch)
        if used + w > width:
            return text[:i], text[i:]
        used += w
    return text, ""


def wrap_cells(text: str, width: int) -> list[str]:
    """Wrap ``text`` to rows of at most ``width`` cells, breaking at spaces where it can
    and inside a word only when the word alone is wider than a row. TABs show as spaces.
    Always at least one row."""
    width = max(1, width)
    text = text.replace("\t", " ")
    if cells(text) <= width:
        return [text]
    rows: list[str] = []
    cur = ""
    cur_w = 0
    for token in re.findall(r" +|[^ ]+", text):
        tw = cells(token)
        if token.startswith(" "):
            if cur_w + tw <= width:
                cur += token
                cur_w += tw
            else:  # the break falls inside this run of spaces: drop it
                rows.append(cur)
                cur, cur_w = "", 0
            continue
        if cur_w + tw <= width:
            cur += token
            cur_w += tw
            continue
        if tw <= width:
            rows.append(cur.rstrip(" "))
            cur, cur_w = token, tw
            continue
        # A word wider than a row: fill the current row, then whole rows.
        rest = token
        while rest:
            head, rest = _take_cells(rest, width - cur_w)
            if not head:
                if cur_w == 0:  # a wide character in a 1-cell row: show it anyway
                    head, rest = rest[0], rest[1:]
                else:
                    rows.append(cur)
                    cur, cur_w = "", 0
                    continue
            cur += head
            cur_w += cells(head)
            if rest:
                rows.append(cur)
                cur, cur_w = "", 0
    rows.append(cur)
    return rows


def djb2(text: str) -> int:
    """Dan Bernstein's djb2 over the UTF-8 bytes of ``text``, 32 bits: the same in every
    process and on every run (unlike Python's salted ``hash()``)."""
    h = 5381
    for byte in text.encode("utf-8"):
        h = (h * 33 + byte) & 0xFFFFFFFF
    return h


def nick_colour_index(nick: str) -> int:
    """Index into :data:`PALETTE` for ``nick`` (case-insensitive)."""
    return djb2(fold(nick)) % len(PALETTE)


def nick_colour(nick: str) -> int:
    """The ANSI-256 colour of ``nick``."""
    return PALETTE[nick_colour_index(nick)]


def ansi256_hex(index: int) -> str:
    """``#rrggbb`` of an xterm-256 colour. prompt-toolkit maps these exact values back to
    the same index on a 256-colour terminal."""
    if not 0 <= index <= 255:
        raise ValueError(f"not an ANSI-256 colour: {index}")
    if index < 16:
        basic = (
            "000000", "cd0000", "00cd00", "cdcd00", "0000ee", "cd00cd", "00cdcd", "e5e5e5",
            "7f7f7f", "ff0000", "00ff00", "ffff00", "5c5cff", "ff00ff", "00ffff", "ffffff",
        )  # fmt: skip
        return "#" + basic[index]
    if index < 232:
        levels = (0x00, 0x5F, 0x87, 0xAF, 0xD7, 0xFF)
        i = index - 16
        r, g, b = levels[i // 36], levels[(i // 6) % 6], levels[i % 6]
        return f"#{r:02x}{g:02x}{b:02x}"
    v = 8 + (index - 232) * 10
    return f"#{v:02x}{v:02x}{v:02x}"


def nick_style(nick: str) -> str:
    """The style of a nick: ``class:nick`` plus its palette colour."""
    return f"class:nick fg:{ansi256_hex(nick_colour(nick))}"


def panes_for_width(columns: int) -> tuple[bool, bool]:
    """``(show_channels, show_members)``: below 80 columns both side panes fold away,
    from 80 to 99 only the member list hides, from 100 both are shown."""
    if columns < 80:
        return False, False
    if columns < 100:
        return True, False
    return True, True


def _clean(text: str) -> str:
    """What may be shown: ``neutralise`` (no terminal control sequence, C1 control, bidi
    control or line separator), and TAB as a space so it cannot break the layout."""
    return neutralise(text).replace("\t", " ")


def _safe(row: Sequence[Fragment]) -> Row:
    """The last line of defence: every fragment's text neutralised."""
    return [(style, _clean(text)) for style, text in row]


def _banner(label: str, width: int, fill: str) -> str:
    """``label`` centred in ``width`` cells, padded with ``fill`` (one cell per char)."""
    label = truncate_cells(label, width)
    spare = width - cells(label)
    if spare <= 0:
        return label
    left = spare // 2
    right = spare - left
    pad = fill * width
    return pad[:left] + label + pad[:right]


# ---------------------------------------------------------------------------------------
# The model.


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


def _default_now() -> datetime:
    return datetime.now(UTC)


class View:
    """The state of the full-screen client. Feed it with :meth:`apply`; read it with
    :meth:`render_lines`, :meth:`channel_list`, :meth:`status`, :meth:`members`.

    ``tz`` is the zone times are shown in (None: the system's local zone); ``now`` returns
    an aware datetime (for system lines, the read marker and the retry countdown).
    """

    def __init__(
        self,
        my_nick: str,
        *,
        tz: tzinfo | None = None,
        now: Callable[[], datetime] | None = None,
        highlight_words: Iterable[str] = (),
        max_lines: int = 2000,
        max_ids: int | None = None,
        nick_cells: int = 10,
        time_format: str = "%H:%M",
        bell: Bell = "mentions",
    ) -> None:
        if max_lines < 1:
            raise ValueError("max_lines must be at least 1")
        self.tz = tz
        self.now: Callable[[], datetime] = now or _default_now
        self.max_lines = max_lines
        self.max_ids = max_ids if max_ids is not None else max(1000, max_lines)
        self.nick_cells = max(1, nick_cells)
        self.time_format = time_format
        self.bell_mode: Bell = bell
        self.highlight_words = tuple(w for w in highlight_words if w.strip())
        self.my_nick = my_nick
        self._mention_re = self._compile_mentions()
        self.connection = ConnectionState("connecting")
        self._retry_at: datetime | None = None
        self._bell = False
        self.last_private_from: str | None = None  # for /reply
        self._buffers: dict[str, Buffer] = {}
        server = Buffer(SERVER, SERVER, "server")
        self._buffers[SERVER] = server
        self._current = SERVER
        self._previous: str | None = None
        self._focus: set[str] = set()
        self._orphan_topics: dict[str, ev.Topic] = {}  # TOPIC before its buffer opened
        self._seen(server)

    # -- buffers and switching --------------------------------------------------------

    @property
    def buffers(self) -> list[Buffer]:
        """The buffers in list order: the server buffer, channels in join order, then
        private conversations in the order they opened."""
        server = self._buffers[SERVER]
        channels = [b for b in self._buffers.values() if b.kind == "channel"]
        dms = [b for b in self._buffers.values() if b.kind == "dm"]
        return [server, *channels, *dms]

    @property
    def current(self) -> Buffer:
        return self._buffers[self._current]

    def buffer(self, name: str | None = None) -> Buffer | None:
        """The buffer called ``name`` (any letter case), the current one for None."""
        if name is None:
            return self.current
        return self._buffers.get(fold(name))

    def channel_names(self) -> list[str]:
        """Open channel buffers in join order (for completion and state.json)."""
        return [b.name for b in self.buffers if b.kind == "channel"]

    def open(self, name: str, *, select: bool = False) -> Buffer:
        """The buffer for ``name`` (a ``#channel`` or a nick), created if needed."""
        buf = self._ensure(name)
        if select:
            self._switch(buf.key)
        return buf

    def close(self, name: str | None = None) -> bool:
        """Close a buffer (not the server buffer). Its lines are forgotten."""
        buf = self.buffer(name)
        if buf is None or buf.kind == "server":
            return False
        order = [b.key for b in self.buffers]
        pos = order.index(buf.key)
        del self._buffers[buf.key]
        self._focus.discard(buf.key)
        if self._previous == buf.key:
            self._previous = None
        if self._current == buf.key:
            remaining = [k for k in order if k != buf.key]
            self._current = remaining[max(0, pos - 1)]
            self._arrive(self.current)
        return True

    def request_focus(self, name: str) -> None:
        """Select ``name`` now if it is open, else as soon as it opens (``/join``)."""
        key = fold(name)
        if key in self._buffers:
            self._switch(key)
        else:
            self._focus.add(key)

    def select(self, index: int) -> bool:
        """Select the buffer numbered ``index`` (0 is the server buffer)."""
        order = self.buffers
        if not 0 <= index < len(order):
            return False
        self._switch(order[index].key)
        return True

    def select_name(self, name: str) -> bool:
        key = fold(name)
        if key not in self._buffers:
            return False
        self._switch(key)
        return True

    def next(self) -> None:
        """The next buffer, wrapping around."""
        self._step(1)

    def prev(self) -> None:
        """The previous buffer, wrapping around."""
        self._step(-1)

    def toggle_previous(self) -> bool:
        """Back to the buffer shown before this one (Alt+/)."""
        if self._previous is None or self._previous not in self._buffers:
            return False
        self._switch(self._previous)
        return True

    def next_active(self) -> bool:
        """The next buffer with activity, mentions and DMs first (Alt+A)."""
        order = self.buffers
        start = next(i for i, b in enumerate(order) if b.key == self._current)
        rotated = order[start + 1 :] + order[:start]
        for buf in [b for b in rotated if b.mentions > 0] + [b for b in rotated if b.unread > 0]:
            self._switch(buf.key)
            return True
        return False

    def _step(self, delta: int) -> None:
        order = self.buffers
        i = next(i for i, b in enumerate(order) if b.key == self._current)
        self._switch(order[(i + delta) % len(order)].key)

    def _switch(self, key: str) -> None:
        if key == self._current:
            return
        old = self.current
        if old.scroll == 0:
            self._seen(old)
        old.marker = None
        self._previous = old.key
        self._current = key
        self._focus.discard(key)
        self._arrive(self.current)

    def _arrive(self, buf: Buffer) -> None:
        """Switching to ``buf``: place the read marker, clear counts if at the bottom."""
        has_new = buf.unread > 0 or buf.mentions > 0
        if has_new and buf.last_read is not None and buf.lines[-1] is not buf.last_read:
            buf.marker = buf.last_read
        else:
            buf.marker = None
        if buf.scroll == 0:
            self._seen(buf)

    def _seen(self, buf: Buffer) -> None:
        """The user sees the bottom of ``buf``: everything in it is read."""
        buf.unread = 0
        buf.mentions = 0
        buf.counted.clear()
        buf.last_read = buf.lines[-1] if buf.lines else None
        buf.read_at = self.now()

    def _visible_at_bottom(self, buf: Buffer) -> bool:
        return buf.key == self._current and buf.scroll == 0

    # -- reading state ----------------------------------------------------------------

    def mark_read(self, name: str | None = None) -> None:
        """Esc or ``/read``: clear the counts and the read marker of one buffer."""
        buf = self.buffer(name)
        if buf is not None:
            self._seen(buf)
            buf.marker = None

    def mark_all_read(self) -> None:
        """``/read -all``."""
        for buf in self.buffers:
            self.mark_read(buf.key)

    def restore_read(self, name: str, last_read_id: str) -> None:
        """After a restart: the user had read ``name`` up to ``last_read_id`` (from
        state.json). When that message arrives (JOIN replay or catch-up), it and
        everything before it count as read; what follows counts as unread."""
        buf = self._ensure(name)
        if last_read_id in buf.ids:
            self._read_up_to(buf, last_read_id)
        else:
            buf.pending_read_id = last_read_id

    def _read_up_to(self, buf: Buffer, msg_id: str) -> None:
        line = next((ln for ln in reversed(buf.lines) if ln.id == msg_id), None)
        if line is None:
            return
        buf.pending_read_id = None
        if self._visible_at_bottom(buf):
            self._seen(buf)
            return
        idx = buf.lines.index(line)
        after = buf.lines[idx + 1 :]
        buf.unread = 0
        buf.mentions = 0
        buf.counted.clear()
        buf.last_read = line
        for ln in after:
            if ln.kind == "message" and not ln.own and ln.id is not None:
                mention = ln.mention or buf.kind == "dm"
                buf.unread += 1
                buf.mentions += mention
                buf.counted[ln.id] = mention
        buf.pending_read_id = None

    def last_read_id(self, name: str | None = None) -> str | None:
        """Id of the newest message the user has seen in ``name`` (for state.json)."""
        buf = self.buffer(name)
        if buf is None:
            return None
        if self._visible_at_bottom(buf):
            self._seen(buf)
        if buf.last_read is None:
            return None
        idx = buf.lines.index(buf.last_read)
        for ln in reversed(buf.lines[: idx + 1]):
            if ln.kind == "message" and ln.id is not None:
                return ln.id
        return None

    def oldest_id(self, name: str | None = None) -> str | None:
        """Id of the oldest message shown in ``name`` (``/history``: ``BEFORE`` it)."""
        buf = self.buffer(name)
        if buf is None:
            return None
        return next((ln.id for ln in buf.lines if ln.kind == "message" and ln.id), None)

    def last_own_id(self, name: str | None = None) -> str | None:
        """Id of my newest message in ``name`` that is not deleted (``/delete``)."""
        buf = self.buffer(name)
        if buf is None:
            return None
        for ln in reversed(buf.lines):
            if ln.kind == "message" and ln.own and not ln.deleted and ln.id:
                return ln.id
        return None

    def recent_speakers(self, name: str | None = None) -> list[str]:
        """Nicks for completion: the last speakers first, then the other members
        alphabetically; never my own nick."""
        buf = self.buffer(name)
        if buf is None:
            return []
        me = fold(self.my_nick)
        out: list[str] = []
        seen: set[str] = {me}
        for nick in buf.speakers:
            if fold(nick) not in seen:
                seen.add(fold(nick))
                out.append(nick)
        if buf.kind == "dm" and buf.key not in seen:
            seen.add(buf.key)
            out.append(buf.name)
        for nick in sorted(buf.members.values(), key=fold):
            if fold(nick) not in seen:
                seen.add(fold(nick))
                out.append(nick)
        return out

    def members(self, name: str | None = None) -> list[str]:
        """Members of a channel alphabetically (ignoring case); for a private
        conversation, its two people."""
        buf = self.buffer(name)
        if buf is None or buf.kind == "server":
            return []
        if buf.kind == "dm":
            return sorted({buf.name, self.my_nick}, key=fold)
        return sorted(buf.members.values(), key=fold)

    def take_bell(self) -> bool:
        """True once after a mention or DM arrived off screen (per ``bell``)."""
        bell, self._bell = self._bell, False
        return bell

    # -- local lines ------------------------------------------------------------------

    def note(self, text: str, name: str | None = None, *, error: bool = False) -> None:
        """Add a local line (help text, a usage error, "not connected: message kept")
        to ``name`` or the current buffer. Local lines never count as unread."""
        buf = self.buffer(name) or self.current
        for part in text.split("\n"):
            self._add(buf, Line("error" if error else "system", _clean(part),
                                time=self._local_now()))  # fmt: skip

    def clear(self, name: str | None = None) -> None:
        """``/clear``: forget the lines on screen (ids stay known, so nothing returns)."""
        buf = self.buffer(name)
        if buf is None:
            return
        buf.lines.clear()
        buf.marker = None
        buf.last_read = None
        buf.sync_anchor = None
        buf.scroll = 0
        buf.unread = 0
        buf.mentions = 0
        buf.counted.clear()

    def insert_older(self, name: str, messages: Sequence[ev.Message]) -> int:
        """Put a ``HISTORY ... BEFORE`` block (oldest first) above the oldest line of
        ``name``; ids already shown are skipped. Older lines never count as unread.
        Returns how many lines were added."""
        buf = self._ensure(name)
        new: list[Line] = []
        for msg in messages:
            if msg.id in buf.ids:
                continue
            self._remember_id(buf, msg.id)
            new.append(self._message_line(msg, buf))
        room = max(0, self.max_lines - len(buf.lines))
        new = new[len(new) - room :] if room < len(new) else new
        buf.lines[0:0] = new
        return len(new)

    # -- applying events and notices --------------------------------------------------

    def apply(self, item: ev.Event | Notice) -> None:
        """Update the model with one server line or client notice."""
        match item:
            case ev.Message():
                self._on_message(item)
            case ev.Joined(channel, nick):
                self._on_joined(channel, nick)
            case ev.Parted(channel, nick, reason):
                self._on_parted(channel, nick, reason)
            case ev.Quit(nick, reason):
                self._on_quit(nick, reason)
            case ev.NickChanged(old, new):
                self._on_nick(old, new)
            case ev.Topic(channel):
                if fold(channel) in self._buffers:
                    self._on_topic(item)
                else:  # a join reply sends the topic before the member list
                    self._orphan_topics[fold(channel)] = item
                    while len(self._orphan_topics) > _MAX_ORPHAN_TOPICS:
                        del self._orphan_topics[next(iter(self._orphan_topics))]
            case ev.Deleted(channel, msg_id, _nick):
                self._on_deleted(channel, msg_id)
            case ev.Ok(command, params) if command in ("JOIN", "CREATE") and params:
                self._own_join(params[0])
            case ev.Error(code, command, _params, text):
                self._error_line(command, code, text)
            case ev.Note(code, _params, text):
                self._system(self._buffers[SERVER], text or code)
            case ev.Bye(code, _params, text):
                self._system(self._buffers[SERVER], f"the server closed the connection: "
                             f"{text or code} ({code})")  # fmt: skip
            case ev.Hello(server, version):
                self._system(self._buffers[SERVER], f"connected to {server} {version}")
            case ev.ChannelEntry(channel, count, topic):
                shown = f"{channel} ({count})" + (f" {topic}" if topic else "")
                self._system(self.current, shown)
            case ev.Info(text):
                self._system(self.current, text)
            case Members(channel, nicks):
                buf = self._ensure(channel, joining=True)
                buf.members = {fold(n): _clean(n) for n in nicks}
            case Gap(channel, after_id):
                self._on_gap(channel, after_id)
            case CaughtUp(channel):
                buf_or_none = self.buffer(channel)
                if buf_or_none is not None:
                    buf_or_none.syncing = False
                    buf_or_none.sync_anchor = None
            case ConnectionState():
                self._on_connection(item)
            case Registered(nick, resumed, _last):
                self._set_my_nick(nick)
                how = "resumed the session as" if resumed else "registered as"
                self._system(self._buffers[SERVER], f"{how} {nick}")
            case SendFailed(command, code, text):
                self._error_line(command, code, text)
            case _:
                pass  # Ok, Ping, Pong, blocks, Member lines: nothing to show

    def _ensure(self, name: str, *, joining: bool = False) -> Buffer:
        """The buffer for ``name``, created if needed. ``joining``: the line is part of
        our own join (the reply's topic or member list), so a new channel buffer starts
        in sync mode and, when only the server buffer was shown, is selected."""
        key = fold(name)
        buf = self._buffers.get(key)
        if buf is None:
            kind: BufferKind = "channel" if is_channel(name) else "dm"
            buf = Buffer(key, _clean(name), kind)
            self._buffers[key] = buf
            if kind == "channel" and joining:
                buf.syncing = True
                buf.sync_anchor = None
                if self._current == SERVER:
                    self._focus.add(key)
            topic = self._orphan_topics.pop(key, None)
            if topic is not None:
                self._on_topic(topic)
            if key in self._focus:
                self._switch(key)
        return buf

    def _own_join(self, channel: str) -> None:
        buf = self._ensure(channel, joining=True)
        if not buf.syncing:
            buf.syncing = True
            buf.sync_anchor = buf.lines[-1] if buf.lines else None

    def _on_message(self, msg: ev.Message) -> None:
        if is_channel(msg.target):
            buf = self._ensure(msg.target)
        else:
            mine_to = fold(msg.target) == fold(self.my_nick)
            partner = msg.author if mine_to else msg.target
            buf = self._ensure(partner)
            if mine_to and fold(msg.author) != fold(self.my_nick):
                self.last_private_from = _clean(msg.author)
        if msg.id in buf.ids:
            return
        self._remember_id(buf, msg.id)
        line = self._message_line(msg, buf)
        if not line.own:
            key = fold(msg.author)
            buf.speakers = [line.nick, *(n for n in buf.speakers if fold(n) != key)]
            del buf.speakers[_MAX_SPEAKERS:]
        self._add(buf, line)
        if buf.pending_read_id == msg.id:
            self._read_up_to(buf, msg.id)

    def _message_line(self, msg: ev.Message, buf: Buffer) -> Line:
        own = fold(msg.author) == fold(self.my_nick)
        text = _clean(msg.text)
        when = parse_timestamp(msg.time)
        return Line(
            "message",
            text,
            nick=_clean(msg.author),
            time=when.astimezone(self.tz) if when else self._local_now(),
            id=msg.id,
            own=own,
            mention=not own and self.is_mention(text),
        )

    def _remember_id(self, buf: Buffer, msg_id: str) -> None:
        buf.ids[msg_id] = None
        while len(buf.ids) > self.max_ids:
            del buf.ids[next(iter(buf.ids))]

    def _add(self, buf: Buffer, line: Line, at: int | None = None) -> None:
        """Add a line at the end (or at index ``at``), count it, keep the view steady."""
        if at is None or at >= len(buf.lines):
            buf.lines.append(line)
        else:
            buf.lines.insert(at, line)
        excess = len(buf.lines) - self.max_lines
        if excess > 0:
            del buf.lines[:excess]
        if buf.scroll > 0:  # scrolled up: keep the same rows on screen
            buf.scroll += len(self._line_rows(line, buf.view_width))
        if self._visible_at_bottom(buf):
            if at is None:
                buf.last_read = buf.lines[-1]
                buf.read_at = self.now()
            return
        if line.kind != "message" or line.own or line.id is None or at is not None:
            return
        mention = line.mention or buf.kind == "dm"
        buf.unread += 1
        buf.mentions += mention
        buf.counted[line.id] = mention
        if self.bell_mode == "all" or (self.bell_mode == "mentions" and mention):
            self._bell = True

    def _system(self, buf: Buffer, text: str) -> None:
        self._add(buf, Line("system", _clean(text), time=self._local_now()))

    def _error_line(self, command: str, code: str, text: str) -> None:
        shown = text or code
        if command and command != "*":
            shown = f"{command}: {shown}"
        self._add(self.current, Line("error", _clean(shown), time=self._local_now()))

    def _on_joined(self, channel: str, nick: str) -> None:
        if fold(nick) == fold(self.my_nick):
            self._own_join(channel)  # RESUME tells us our channels this way
            return
        buf = self._ensure(channel)
        buf.members[fold(nick)] = _clean(nick)
        self._system(buf, f"{nick} joined {buf.name}")

    def _on_parted(self, channel: str, nick: str, reason: str) -> None:
        buf = self.buffer(channel)
        why = f" ({reason})" if reason else ""
        if fold(nick) == fold(self.my_nick):
            name = buf.name if buf is not None else channel
            if buf is not None:
                self.close(buf.key)
            self._system(self._buffers[SERVER], f"you left {name}{why}")
            return
        if buf is None:
            return
        buf.members.pop(fold(nick), None)
        self._system(buf, f"{nick} left {buf.name}{why}")

    def _on_quit(self, nick: str, reason: str) -> None:
        key = fold(nick)
        why = f" ({reason})" if reason else ""
        for buf in self.buffers:
            if buf.kind == "channel" and key in buf.members:
                del buf.members[key]
                self._system(buf, f"{nick} quit{why}")
            elif buf.kind == "dm" and buf.key == key:
                self._system(buf, f"{nick} quit{why}")

    def _on_nick(self, old: str, new: str) -> None:
        old_key, new_key = fold(old), fold(new)
        if old_key == fold(self.my_nick):
            self._set_my_nick(new)
            for buf in self.buffers:
                if buf.kind == "channel" and old_key in buf.members:
                    del buf.members[old_key]
                    buf.members[new_key] = _clean(new)
            self._system(self.current, f"you are now known as {new}")
            return
        for buf in self.buffers:
            if buf.kind == "channel" and old_key in buf.members:
                del buf.members[old_key]
                buf.members[new_key] = _clean(new)
                self._system(buf, f"{old} is now known as {new}")
        dm = self._buffers.get(old_key)
        if dm is not None and dm.kind == "dm":
            self._system(dm, f"{old} is now known as {new}")
            if new_key == old_key or new_key not in self._buffers:
                self._rekey(dm, new)

    def _rekey(self, buf: Buffer, new_name: str) -> None:
        old_key, new_key = buf.key, fold(new_name)
        self._buffers = {(new_key if k == old_key else k): b for k, b in self._buffers.items()}
        buf.key, buf.name = new_key, _clean(new_name)
        if self._current == old_key:
            self._current = new_key
        if self._previous == old_key:
            self._previous = new_key

    def _on_topic(self, topic: ev.Topic) -> None:
        buf = self._ensure(topic.channel)
        text = _clean(topic.text)
        changed = text != buf.topic
        known, buf.topic_known = buf.topic_known, True
        buf.topic = text
        buf.topic_setter = _clean(topic.setter) if topic.setter != "*" else ""
        if not known or (buf.syncing and not changed):
            return  # part of a (re)join reply: shown in the title, not as a line
        if changed and topic.setter != "*":
            self._system(buf, f"{topic.setter} changed the topic to: {text}")
        elif topic.setter == "*":  # the answer to /topic: shown where it was asked
            self._system(self.current, f"{buf.name} has no topic")
        else:
            self._system(self.current, f"topic of {buf.name}: {text} (set by {topic.setter})")

    def _on_deleted(self, channel: str, msg_id: str) -> None:
        buf = self.buffer(channel)
        if buf is None:
            return
        for line in reversed(buf.lines):
            if line.id == msg_id and line.kind == "message":
                line.deleted = True
                line.mention = False
                line.text = _DELETED_TEXT
                line._cache = None
                break
        if msg_id in buf.counted:
            mention = buf.counted.pop(msg_id)
            buf.unread = max(0, buf.unread - 1)
            buf.mentions = max(0, buf.mentions - mention)

    def _on_gap(self, channel: str, after_id: str | None) -> None:
        buf = self._ensure(channel)
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
            return
        if at > 0 and buf.lines[at - 1].kind == "gap":
            return
        self._add(buf, Line("gap", GAP_TEXT), at=at if at < len(buf.lines) else None)

    def _on_connection(self, state: ConnectionState) -> None:
        previous = self.connection.state
        self.connection = state
        self._retry_at = None
        if state.retry_in is not None:
            self._retry_at = self.now() + timedelta(seconds=state.retry_in)
        if state.state == "live":
            return
        for buf in self.buffers:  # every channel re-joins and catches up on reconnect
            if buf.kind == "channel" and not buf.syncing:
                buf.syncing = True
                buf.sync_anchor = buf.lines[-1] if buf.lines else None
        if state.state in ("offline", "stopped") and previous not in ("offline", "stopped"):
            why = f": {state.reason}" if state.reason else ""
            self._system(self._buffers[SERVER], f"disconnected{why}")

    def _set_my_nick(self, nick: str) -> None:
        self.my_nick = nick
        self._mention_re = self._compile_mentions()

    # -- mentions ---------------------------------------------------------------------

    def _compile_mentions(self) -> re.Pattern[str]:
        nick_chars = r"A-Za-z0-9_\-"
        parts = [rf"(?<![{nick_chars}@])@?{re.escape(self.my_nick)}(?![{nick_chars}])"]
        parts += [rf"(?<!\w){re.escape(w.strip())}(?!\w)" for w in self.highlight_words]
        return re.compile("|".join(parts), re.IGNORECASE)

    def set_highlight_words(self, words: Iterable[str]) -> None:
        self.highlight_words = tuple(w for w in words if w.strip())
        self._mention_re = self._compile_mentions()

    def is_mention(self, text: str) -> bool:
        """My nick as a whole word (any case, optional ``@``) or a highlight word."""
        return bool(self.my_nick) and self._mention_re.search(text) is not None

    # -- time -------------------------------------------------------------------------

    def _local_now(self) -> datetime:
        return self.now().astimezone(self.tz)

    # -- status -----------------------------------------------------------------------

    def connection_text(self) -> str:
        """``live``, ``connecting…``, ``⟳ reconnecting in 8s (try 4)``, ..."""
        st = self.connection
        if st.state == "live":
            return "live"
        if st.state in ("connecting", "registering"):
            return f"{st.state}…"
        if st.state == "stopped":
            return f"stopped: {st.reason}" if st.reason else "stopped"
        if self._retry_at is not None:
            left = (self._retry_at - self.now()).total_seconds()
            secs = max(0, math.ceil(round(left, 3)))
            when = f"in {secs}s" if secs > 0 else "now"
            attempt = f" (try {st.attempt})" if st.attempt else ""
            return f"⟳ reconnecting {when}{attempt}"
        return f"offline: {st.reason}" if st.reason else "offline"

    def activity(self) -> str:
        """``1,3@,4•``: numbers of the other buffers with unread messages; ``@`` marks
        mentions, ``•`` a private conversation."""
        out: list[str] = []
        for number, buf in enumerate(self.buffers):
            if buf.key == self._current and buf.scroll == 0:
                continue
            if buf.unread == 0 and buf.mentions == 0:
                continue
            mark = "•" if buf.kind == "dm" else ("@" if buf.mentions else "")
            out.append(f"{number}{mark}")
        return ",".join(out)

    def status(self) -> Status:
        buf = self.current
        return Status(
            connection=_clean(self.connection_text()),
            state=self.connection.state,
            nick=_clean(self.my_nick),
            buffer=buf.name,
            topic=buf.topic,
            members=len(buf.members) if buf.kind == "channel" else 0,
            activity=self.activity(),
            more=buf.scroll,
        )

    def channel_list(self) -> list[ChannelRow]:
        """One row per buffer, in list order; ``number`` is what :meth:`select` takes."""
        return [
            ChannelRow(b.name, b.unread, b.mentions, b.key == self._current, n, b.kind)
            for n, b in enumerate(self.buffers)
        ]

    # -- scrolling --------------------------------------------------------------------

    def page_up(self, rows: int | None = None, name: str | None = None) -> None:
        """Scroll up by ``rows`` (default: a page), clamped to the top."""
        buf = self.buffer(name) or self.current
        step = rows if rows is not None else max(1, buf.view_height - 1)
        buf.scroll = min(buf.scroll + max(0, step), self._max_scroll(buf))

    def page_down(self, rows: int | None = None, name: str | None = None) -> None:
        """Scroll down by ``rows`` (default: a page); reaching the bottom reads it."""
        buf = self.buffer(name) or self.current
        step = rows if rows is not None else max(1, buf.view_height - 1)
        buf.scroll = max(0, min(buf.scroll, self._max_scroll(buf)) - max(0, step))
        if buf.scroll == 0 and buf.key == self._current:
            self._seen(buf)

    def scroll_top(self, name: str | None = None) -> None:
        buf = self.buffer(name) or self.current
        buf.scroll = self._max_scroll(buf)

    def scroll_bottom(self, name: str | None = None) -> None:
        buf = self.buffer(name) or self.current
        buf.scroll = 0
        if buf.key == self._current:
            self._seen(buf)

    def jump_to_marker(self) -> bool:
        """Alt+U: show the read marker at the top of the view."""
        buf = self.current
        rows = self._all_rows(buf, buf.view_width)
        idx = next((i for i, (tag, _r) in enumerate(rows) if tag == "marker"), None)
        if idx is None:
            return False
        self._show_row(buf, rows, idx)
        return True

    def prev_mention(self) -> bool:
        """Alt+P: the nearest mention above the top of the view."""
        buf = self.current
        rows = self._all_rows(buf, buf.view_width)
        top = len(rows) - buf.scroll - buf.view_height
        hits = [i for i, (tag, _r) in enumerate(rows) if tag == "mention" and i < top]
        if not hits:
            return False
        self._show_row(buf, rows, hits[-1])
        return True

    def next_mention(self) -> bool:
        """Alt+N: the nearest mention below the top of the view."""
        buf = self.current
        rows = self._all_rows(buf, buf.view_width)
        top = len(rows) - buf.scroll - buf.view_height
        hits = [i for i, (tag, _r) in enumerate(rows) if tag == "mention" and i > top]
        if not hits or buf.scroll == 0:
            return False
        self._show_row(buf, rows, hits[0])
        return True

    def _show_row(self, buf: Buffer, rows: Sequence[object], idx: int) -> None:
        top_scroll = max(0, len(rows) - buf.view_height)
        buf.scroll = max(0, min(top_scroll, len(rows) - buf.view_height - idx))
        if buf.scroll == 0 and buf.key == self._current:
            self._seen(buf)

    def _max_scroll(self, buf: Buffer) -> int:
        total = len(self._all_rows(buf, buf.view_width))
        return max(0, total - buf.view_height)

    # -- rendering --------------------------------------------------------------------

    def render_lines(
        self, buffer: Buffer | str | None = None, width: int = 80, height: int = 24
    ) -> list[Row]:
        """The rows of the message pane, top to bottom: at most ``height`` rows of
        ``(style, text)`` fragments, none wider than ``width`` cells (unless ``width``
        is too small for the time and nick columns). Fewer rows than ``height`` when the
        buffer is short; the newest row is last unless scrolled up. Remembers the size
        for paging and clamps the scroll offset."""
        buf = buffer if isinstance(buffer, Buffer) else (self.buffer(buffer) or self.current)
        width = max(1, width)
        height = max(0, height)
        buf.view_width, buf.view_height = width, height
        need = buf.scroll + height
        collected: list[tuple[Fragment, ...]] = []  # newest row first
        exhausted = True
        for block in self._blocks_reversed(buf, width):
            collected.extend(row for _tag, row in reversed(block))
            if len(collected) >= need:
                exhausted = False
                break
        if exhausted:
            buf.scroll = max(0, min(buf.scroll, len(collected) - height))
        window = collected[buf.scroll : buf.scroll + height]
        window.reverse()
        return [_safe(row) for row in window]

    def _all_rows(self, buf: Buffer, width: int) -> list[tuple[str, tuple[Fragment, ...]]]:
        """Every row of ``buf``, top to bottom, tagged: ``mention`` (first row of a
        mention line), ``marker``, or ``""``."""
        out: list[tuple[str, tuple[Fragment, ...]]] = []
        for block in self._blocks_reversed(buf, width):
            out.extend(reversed(block))
        out.reverse()
        return out

    def _blocks_reversed(
        self, buf: Buffer, width: int
    ) -> Iterator[list[tuple[str, tuple[Fragment, ...]]]]:
        """Per line, newest first: its rows top to bottom, with the day separator before
        it and the read marker after it."""
        lines = buf.lines
        last = len(lines) - 1
        for i in range(last, -1, -1):
            line = lines[i]
            block: list[tuple[str, tuple[Fragment, ...]]] = []
            day = self._day_change(lines, i)
            if day is not None:
                label = f"{day:%A} {day.day} {day:%B %Y}"
                block.append(("day", (("class:day", _banner(f" {label} ", width, "─")),)))
            rows = self._line_rows(line, width)
            for n, row in enumerate(rows):
                block.append(("mention" if n == 0 and line.mention else "", row))
            if line is buf.marker and i < last:
                since = buf.read_at.astimezone(self.tz) if buf.read_at else line.time
                label = f" new since {since:%H:%M} " if since else " new "
                block.append(("marker", (("class:read-marker", _banner(label, width, "─ ")),)))
            yield block

    @staticmethod
    def _day_change(lines: Sequence[Line], i: int) -> date | None:
        """The local date of line ``i`` when it differs from the previous dated line's
        (or it is the first dated line), else None."""
        when = lines[i].time
        if when is None:
            return None
        for j in range(i - 1, -1, -1):
            prev = lines[j].time
            if prev is not None:
                return when.date() if prev.date() != when.date() else None
        return when.date()

    def _line_rows(self, line: Line, width: int) -> tuple[tuple[Fragment, ...], ...]:
        if line._cache is not None and line._cache[0] == width:
            return line._cache[1]
        rows = self._build_rows(line, width)
        line._cache = (width, rows)
        return rows

    def _build_rows(self, line: Line, width: int) -> tuple[tuple[Fragment, ...], ...]:
        margin: Fragment = ("class:mention-margin", "▌") if line.mention else ("", " ")
        if line.kind == "gap":
            room = max(1, width - 1)
            return tuple(
                (margin, ("class:gap", _banner(part, room, " ")))
                for part in wrap_cells(line.text, room)
            )
        stamp = line.time.strftime(self.time_format) if line.time else ""
        time_w = cells(stamp)
        fixed = 1 + time_w + 1 + 3  # margin, time, space, " │ "
        nick_w = min(self.nick_cells, max(1, width - fixed - _MIN_TEXT_CELLS))
        text_w = max(1, width - fixed - nick_w)
        if line.kind == "message":
            shown = truncate_cells(line.nick, nick_w)
            nick_frag: Fragment = (nick_style(line.nick), shown)
            if line.own:
                nick_frag = (nick_frag[0] + " class:nick.self", shown)
            text_style = "class:text"
            if line.deleted:
                text_style = "class:text.deleted"
            elif line.mention:
                text_style = "class:text.mention"
        elif line.kind == "error":
            shown = "!!"
            nick_frag = ("class:error", shown)
            text_style = "class:error"
        else:
            shown = "--"
            nick_frag = ("class:system", shown)
            text_style = "class:system"
        pad = " " * (nick_w - cells(shown))
        rows: list[tuple[Fragment, ...]] = []
        for n, chunk in enumerate(wrap_cells(line.text, text_w)):
            if n == 0:
                head: tuple[Fragment, ...] = (
                    margin,
                    ("class:time", stamp),
                    ("", " " + pad),
                    nick_frag,
                    ("", " "),
                )
            else:
                head = (margin, ("", " " * (time_w + 1 + nick_w + 1)))
            rows.append((*head, ("class:separator", "│"), ("", " "), (text_style, chunk)))
        return tuple(rows)

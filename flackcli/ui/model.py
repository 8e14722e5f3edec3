"""Lines into buffers, reading them, scrolling and drawing them: the second layer of the
view model, on top of ``ui.buffer_list``.

Owns: the view's settings (time zone, clock, line and id bounds, nick column, time
format, bell, highlight words, my nick) and what follows from them: making a message line
(neutralised, local time, own or mention), adding a line to a buffer (bounded, counted as
unread when the user does not see it, the view kept steady when scrolled up, the bell),
de-duplication memory, the read position (mark read, a restored ``last_read_id``, the ids
for state.json, ``MARK``, ``/history``, ``/delete`` and ``/edit``), editing a line in
place, nick completion and member lists, local lines (``note``, ``/clear``, older history
on top), scrolling (pages, top, bottom, the read marker, mentions) and rendering through
``ui.render``. Server lines and notices are applied by ``ui.view.View``, the class the
rest of flackcli uses.

Must not import anything but the standard library, ``flackd.codec`` and the ``ui`` view
modules below it (``cells``, ``buffers``, ``reading``, ``render``, ``buffer_list``): never
trio, never prompt_toolkit, never the network side of flackcli.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, tzinfo
from typing import TypedDict

import flackcli.ui.reading as reading
from flackcli.ui.buffer_list import BufferList
from flackcli.ui.buffers import Buffer, Line, member_labels, remember_id
from flackcli.ui.cells import Row, clean
from flackcli.ui.reading import Bell
from flackcli.ui.render import Renderer
from flackd.codec import events as ev
from flackd.codec.ids import parse_timestamp
from flackd.codec.text import fold, is_channel

__all__ = ["BufferModel", "ModelOptions"]


class ModelOptions(TypedDict, total=False):
    """The settings :class:`BufferModel` takes besides the nick (see its ``__init__``)."""

    tz: tzinfo | None
    now: Callable[[], datetime] | None
    highlight_words: Iterable[str]
    max_lines: int
    max_ids: int | None
    nick_cells: int
    time_format: str
    bell: Bell


def _default_now() -> datetime:
    return datetime.now(UTC)


class BufferModel(BufferList):
    """Buffers with their lines, read position and scroll offset; see ``ui.view.View``.

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
        super().__init__(now or _default_now)
        self._render = Renderer(tz, time_format, nick_cells)
        self.max_lines = max_lines
        self.max_ids = max_ids if max_ids is not None else max(1000, max_lines)
        self.bell_mode: Bell = bell
        self.highlight_words = tuple(w for w in highlight_words if w.strip())
        self.my_nick = my_nick
        self._mention_re = reading.mention_pattern(my_nick, self.highlight_words)
        self._bell = False
        self._seen(self.current)

    # -- settings shared with the renderer -----------------------------------------------

    @property
    def tz(self) -> tzinfo | None:
        return self._render.tz

    @tz.setter
    def tz(self, value: tzinfo | None) -> None:
        self._render.tz = value

    @property
    def time_format(self) -> str:
        return self._render.time_format

    @time_format.setter
    def time_format(self, value: str) -> None:
        self._render.time_format = value

    @property
    def nick_cells(self) -> int:
        return self._render.nick_cells

    @nick_cells.setter
    def nick_cells(self, value: int) -> None:
        self._render.nick_cells = value

    # -- mentions ------------------------------------------------------------------------

    def set_highlight_words(self, words: Iterable[str]) -> None:
        self.highlight_words = tuple(w for w in words if w.strip())
        self._mention_re = reading.mention_pattern(self.my_nick, self.highlight_words)

    def is_mention(self, text: str) -> bool:
        """My nick as a whole word (any case, optional ``@``) or a highlight word."""
        return bool(self.my_nick) and self._mention_re.search(text) is not None

    def _set_my_nick(self, nick: str) -> None:
        self.my_nick = nick
        self._mention_re = reading.mention_pattern(nick, self.highlight_words)

    # -- reading state -------------------------------------------------------------------

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
        reading.read_up_to(buf, line)

    def last_read_id(self, name: str | None = None) -> str | None:
        """Id of the newest message the user has seen in ``name`` (for state.json)."""
        buf = self.buffer(name)
        if buf is None:
            return None
        if self._visible_at_bottom(buf):
            self._seen(buf)
        return reading.last_read_message_id(buf)

    def oldest_id(self, name: str | None = None) -> str | None:
        """Id of the oldest message shown in ``name`` (``/history``: ``BEFORE`` it)."""
        buf = self.buffer(name)
        if buf is None:
            return None
        return next((ln.id for ln in buf.lines if ln.kind == "message" and ln.id), None)

    def last_own_id(self, name: str | None = None) -> str | None:
        """Id of my newest message in ``name`` that is not deleted (``/delete``)."""
        line = self.own_message(name)
        return line.id if line is not None else None

    def own_message(self, name: str | None = None, msg_id: str | None = None) -> Line | None:
        """My message ``msg_id`` in ``name`` (any buffer when ``msg_id`` is given and not
        found there), or my newest one in ``name``; never a deleted one (``/edit``)."""
        buf = self.buffer(name)
        where = [buf] if buf is not None else []
        if msg_id is not None:
            where += [b for b in self.buffers if b is not buf]
        for b in where:
            for ln in reversed(b.lines):
                if ln.kind != "message" or not ln.own or ln.deleted or not ln.id:
                    continue
                if msg_id is None or ln.id == msg_id:
                    return ln
        return None

    def read_positions(self) -> list[tuple[str, str, bool]]:
        """``(buffer name, id, own)`` of the newest message the user has seen, per channel
        or private conversation: what the server's read marker should say (``MARK``)."""
        out: list[tuple[str, str, bool]] = []
        for buf in self.buffers:
            if buf.kind == "server":
                continue
            msg_id = self.last_read_id(buf.key)
            line = next((ln for ln in reversed(buf.lines) if ln.id == msg_id), None)
            if msg_id is not None and line is not None:
                out.append((buf.name, msg_id, line.own))
        return out

    def conversation_of(self, target: str, author: str) -> str:
        """The buffer of a line about a message to ``target`` by ``author``: the channel,
        or for a private message the other person."""
        if is_channel(target) or fold(target) != fold(self.my_nick):
            return target
        return author

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
        """Members of a channel: operators (``@alice``), voiced (``+bob``), then the
        others, each alphabetically (ignoring case); for a private conversation, its two
        people."""
        buf = self.buffer(name)
        if buf is None or buf.kind == "server":
            return []
        if buf.kind == "dm":
            return sorted({buf.name, self.my_nick}, key=fold)
        return member_labels(buf)

    def take_bell(self) -> bool:
        """True once after a mention or DM arrived off screen (per ``bell``)."""
        bell, self._bell = self._bell, False
        return bell

    # -- local lines ---------------------------------------------------------------------

    def note(self, text: str, name: str | None = None, *, error: bool = False) -> None:
        """Add a local line (help text, a usage error, "not connected: message kept")
        to ``name`` or the current buffer. Local lines never count as unread."""
        buf = self.buffer(name) or self.current
        for part in text.split("\n"):
            self._add(buf, Line("error" if error else "system", clean(part),
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
            remember_id(buf, msg.id, self.max_ids)
            new.append(self._message_line(msg, buf))
        room = max(0, self.max_lines - len(buf.lines))
        new = new[len(new) - room :] if room < len(new) else new
        buf.lines[0:0] = new
        return len(new)

    # -- adding lines --------------------------------------------------------------------

    def _message_line(self, msg: ev.Message, buf: Buffer) -> Line:
        own = fold(msg.author) == fold(self.my_nick)
        text = clean(msg.text)
        when = parse_timestamp(msg.time)
        return Line(
            "message",
            text,
            nick=clean(msg.author),
            time=when.astimezone(self.tz) if when else self._local_now(),
            id=msg.id,
            own=own,
            mention=not own and self.is_mention(text),
            action=msg.action,
            notice=msg.notice,
            edited=msg.edited is not None,
        )

    def _edit(self, name: str, msg_id: str, text: str) -> None:
        """Message ``msg_id`` of ``name`` has a new text (``EDITED``): shown in place."""
        buf = self.buffer(name)
        line = (
            None
            if buf is None
            else next(
                (ln for ln in reversed(buf.lines) if ln.id == msg_id and ln.kind == "message"), None
            )
        )
        if buf is None or line is None or line.deleted:
            return
        line.text, line.edited, line._cache = clean(text), True, None
        line.mention = not line.own and self.is_mention(line.text)
        if msg_id in buf.counted and buf.kind == "channel":  # still unread: recount
            buf.mentions += line.mention - buf.counted[msg_id]
            buf.counted[msg_id] = line.mention

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
            buf.scroll += len(self._render.line_rows(line, buf.view_width))
        if self._visible_at_bottom(buf):
            if at is None:
                buf.last_read = buf.lines[-1]
                buf.read_at = self.now()
            return
        if at is None and reading.count_unread(buf, line, self.bell_mode):
            self._bell = True

    def _system(self, buf: Buffer, text: str) -> None:
        self._add(buf, Line("system", clean(text), time=self._local_now()))

    def _local_now(self) -> datetime:
        return self.now().astimezone(self.tz)

    # -- scrolling -----------------------------------------------------------------------

    def page_up(self, rows: int | None = None, name: str | None = None) -> None:
        """Scroll up by ``rows`` (default: a page), clamped to the top."""
        buf = self.buffer(name) or self.current
        step = rows if rows is not None else max(1, buf.view_height - 1)
        buf.scroll = min(buf.scroll + max(0, step), self._render.max_scroll(buf))

    def page_down(self, rows: int | None = None, name: str | None = None) -> None:
        """Scroll down by ``rows`` (default: a page); reaching the bottom reads it."""
        buf = self.buffer(name) or self.current
        step = rows if rows is not None else max(1, buf.view_height - 1)
        buf.scroll = max(0, min(buf.scroll, self._render.max_scroll(buf)) - max(0, step))
        if buf.scroll == 0 and buf.key == self._current:
            self._seen(buf)

    def scroll_top(self, name: str | None = None) -> None:
        buf = self.buffer(name) or self.current
        buf.scroll = self._render.max_scroll(buf)

    def scroll_bottom(self, name: str | None = None) -> None:
        buf = self.buffer(name) or self.current
        buf.scroll = 0
        if buf.key == self._current:
            self._seen(buf)

    def jump_to_marker(self) -> bool:
        """Alt+U: show the read marker at the top of the view."""
        return self._scroll_to(self._render.marker_scroll(self.current))

    def prev_mention(self) -> bool:
        """Alt+P: the nearest mention above the top of the view."""
        return self._scroll_to(self._render.prev_mention_scroll(self.current))

    def next_mention(self) -> bool:
        """Alt+N: the nearest mention below the top of the view."""
        return self._scroll_to(self._render.next_mention_scroll(self.current))

    def _scroll_to(self, scroll: int | None) -> bool:
        """Scroll the current buffer to ``scroll`` (None: nowhere to go)."""
        if scroll is None:
            return False
        buf = self.current
        buf.scroll = scroll
        if scroll == 0:
            self._seen(buf)
        return True

    # -- rendering -----------------------------------------------------------------------

    def render_lines(
        self, buffer: Buffer | str | None = None, width: int = 80, height: int = 24
    ) -> list[Row]:
        """The rows of the message pane, top to bottom: at most ``height`` rows of
        ``(style, text)`` fragments, none wider than ``width`` cells (unless ``width``
        is too small for the time and nick columns). Fewer rows than ``height`` when the
        buffer is short; the newest row is last unless scrolled up. Remembers the size
        for paging and clamps the scroll offset."""
        buf = buffer if isinstance(buffer, Buffer) else (self.buffer(buffer) or self.current)
        return self._render.window(buf, width, height)

"""Rendering a buffer to rows of ``(style, text)`` fragments, and the row geometry that
scrolling needs.

Owns: one line's rows (time in the view's zone, nick right-aligned in a fixed column and
coloured, ``│``, text wrapped by cells with a hanging indent; ``*`` and the nick for an
action; a dim ``(edited)`` after an edited text; the gap line centred; mention margin and
styles), cached per line and width; day separators where the local date
changes and the read-marker row; the window of rows at a scroll offset (clamping the
offset); and where to scroll to show the read marker or a mention. Every fragment passes
:func:`flackcli.ui.cells.safe` on its way out. Which buffer is shown, and reading it when
the bottom is reached, is the view model's job (``ui.model``).

Must not import anything but the standard library, ``flackcli.ui.cells`` and
``flackcli.ui.buffers``: never trio, never prompt_toolkit, never the network side.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, tzinfo
from typing import Final

from flackcli.ui.buffers import EDITED_MARK, Buffer, Line
from flackcli.ui.cells import (
    Fragment,
    Row,
    banner,
    cells,
    nick_style,
    safe,
    truncate_cells,
    wrap_cells,
)

__all__ = ["Renderer", "Tagged"]

Tagged = tuple[str, tuple[Fragment, ...]]
"""A row with its tag: ``mention`` (first row of a mention line), ``marker``, ``day`` or ``""``."""

_MIN_TEXT_CELLS: Final = 10


class Renderer:
    """Draws buffers with the view's settings: ``tz`` (None: the system's zone) for the
    read marker's time, ``time_format`` for each line's time, ``nick_cells`` for the nick
    column. Pure: it changes only a buffer's scroll offset (clamped) and remembered size."""

    def __init__(self, tz: tzinfo | None, time_format: str, nick_cells: int) -> None:
        self.tz = tz
        self.time_format = time_format
        self.nick_cells = max(1, nick_cells)

    def window(self, buf: Buffer, width: int, height: int) -> list[Row]:
        """The rows of the message pane, top to bottom: at most ``height`` rows of
        ``(style, text)`` fragments, none wider than ``width`` cells (unless ``width``
        is too small for the time and nick columns). Fewer rows than ``height`` when the
        buffer is short; the newest row is last unless scrolled up. Remembers the size
        for paging and clamps the scroll offset."""
        width = max(1, width)
        height = max(0, height)
        buf.view_width, buf.view_height = width, height
        need = buf.scroll + height
        collected: list[tuple[Fragment, ...]] = []  # newest row first
        exhausted = True
        for block in self.blocks_reversed(buf, width):
            collected.extend(row for _tag, row in reversed(block))
            if len(collected) >= need:
                exhausted = False
                break
        if exhausted:
            buf.scroll = max(0, min(buf.scroll, len(collected) - height))
        window = collected[buf.scroll : buf.scroll + height]
        window.reverse()
        return [safe(row) for row in window]

    # -- where to scroll -----------------------------------------------------------------

    def max_scroll(self, buf: Buffer) -> int:
        """The largest scroll offset of ``buf``: its top row at the top of the view."""
        total = len(self.all_rows(buf, buf.view_width))
        return max(0, total - buf.view_height)

    def marker_scroll(self, buf: Buffer) -> int | None:
        """The offset that shows the read marker at the top of the view, if there is one."""
        rows = self.all_rows(buf, buf.view_width)
        idx = next((i for i, (tag, _r) in enumerate(rows) if tag == "marker"), None)
        return None if idx is None else _showing(buf, len(rows), idx)

    def prev_mention_scroll(self, buf: Buffer) -> int | None:
        """The offset that shows the nearest mention above the top of the view."""
        rows = self.all_rows(buf, buf.view_width)
        top = len(rows) - buf.scroll - buf.view_height
        hits = [i for i, (tag, _r) in enumerate(rows) if tag == "mention" and i < top]
        return _showing(buf, len(rows), hits[-1]) if hits else None

    def next_mention_scroll(self, buf: Buffer) -> int | None:
        """The offset that shows the nearest mention below the top of the view (None at
        the bottom already)."""
        rows = self.all_rows(buf, buf.view_width)
        top = len(rows) - buf.scroll - buf.view_height
        hits = [i for i, (tag, _r) in enumerate(rows) if tag == "mention" and i > top]
        if not hits or buf.scroll == 0:
            return None
        return _showing(buf, len(rows), hits[0])

    # -- rows ----------------------------------------------------------------------------

    def all_rows(self, buf: Buffer, width: int) -> list[Tagged]:
        """Every row of ``buf``, top to bottom, tagged: ``mention`` (first row of a
        mention line), ``marker``, or ``""``."""
        out: list[Tagged] = []
        for block in self.blocks_reversed(buf, width):
            out.extend(reversed(block))
        out.reverse()
        return out

    def blocks_reversed(self, buf: Buffer, width: int) -> Iterator[list[Tagged]]:
        """Per line, newest first: its rows top to bottom, with the day separator before
        it and the read marker after it."""
        lines = buf.lines
        last = len(lines) - 1
        for i in range(last, -1, -1):
            line = lines[i]
            block: list[Tagged] = []
            day = self.day_change(lines, i)
            if day is not None:
                label = f"{day:%A} {day.day} {day:%B %Y}"
                block.append(("day", (("class:day", banner(f" {label} ", width, "─")),)))
            rows = self.line_rows(line, width)
            for n, row in enumerate(rows):
                block.append(("mention" if n == 0 and line.mention else "", row))
            if line is buf.marker and i < last:
                since = buf.read_at.astimezone(self.tz) if buf.read_at else line.time
                label = f" new since {since:%H:%M} " if since else " new "
                block.append(("marker", (("class:read-marker", banner(label, width, "─ ")),)))
            yield block

    @staticmethod
    def day_change(lines: Sequence[Line], i: int) -> date | None:
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

    def line_rows(self, line: Line, width: int) -> tuple[tuple[Fragment, ...], ...]:
        """The rows of one line at ``width`` (cached on the line per width)."""
        if line._cache is not None and line._cache[0] == width:
            return line._cache[1]
        rows = self.build_rows(line, width)
        line._cache = (width, rows)
        return rows

    def build_rows(self, line: Line, width: int) -> tuple[tuple[Fragment, ...], ...]:
        """Rows of ``line``: margin, time, right-aligned nick, ``│``, text wrapped with a
        hanging indent; the gap line centred."""
        margin: Fragment = ("class:mention-margin", "▌") if line.mention else ("", " ")
        if line.kind == "gap":
            room = max(1, width - 1)
            return tuple(
                (margin, ("class:gap", banner(part, room, " ")))
                for part in wrap_cells(line.text, room)
            )
        stamp = line.time.strftime(self.time_format) if line.time else ""
        time_w = cells(stamp)
        fixed = 1 + time_w + 1 + 3  # margin, time, space, " │ "
        nick_w = min(self.nick_cells, max(1, width - fixed - _MIN_TEXT_CELLS))
        text_w = max(1, width - fixed - nick_w)
        body = line.text
        marked = line.kind == "message" and line.edited and not line.deleted
        if line.kind == "message":
            shown = "*" if line.action else truncate_cells(line.nick, nick_w)
            if line.notice:
                shown = truncate_cells(f"-{line.nick}-", nick_w)
            nick_frag: Fragment = (nick_style(line.nick), shown)
            if line.own:
                nick_frag = (nick_frag[0] + " class:nick.self", shown)
            text_style = "class:text.action" if line.action or line.notice else "class:text"
            if line.deleted:
                text_style = "class:text.deleted"
            elif line.mention:
                text_style = "class:text.mention"
            if line.action and not line.deleted:
                body = f"{line.nick} {body}"
            if marked:
                body = f"{body} {EDITED_MARK}"
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
        chunks = wrap_cells(body, text_w)
        for n, chunk in enumerate(chunks):
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
            tail: tuple[Fragment, ...] = ((text_style, chunk),)
            if marked and n == len(chunks) - 1:
                tail = _edited_tail(text_style, chunk)
            rows.append((*head, ("class:separator", "│"), ("", " "), *tail))
        return tuple(rows)


def _edited_tail(style: str, chunk: str) -> tuple[Fragment, ...]:
    """The last row of an edited message: its text, then the mark in its own style."""
    if not chunk.endswith(EDITED_MARK):
        return ((style, chunk),)
    text = chunk[: -len(EDITED_MARK)]
    return ((style, text), ("class:edited", EDITED_MARK)) if text else (("class:edited", chunk),)


def _showing(buf: Buffer, total: int, idx: int) -> int:
    """The scroll offset that puts row ``idx`` of ``total`` at the top of the view."""
    top_scroll = max(0, total - buf.view_height)
    return max(0, min(top_scroll, total - buf.view_height - idx))

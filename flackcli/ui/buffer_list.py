"""The list of buffers and which one is shown: the first layer of the view model.

Owns: the buffers by folded name, their order (the server buffer, channels in join order,
private conversations in the order they opened: the numbers of Alt+1..9), opening and
closing them, the current and the previous buffer, switching (next, previous, by number or
name, back to the previous one, the next with activity), the channel list and the ``Act:``
list (buffers by number), focus requested for a buffer not open yet, and what switching
means for reading: leaving a buffer at its bottom reads it, coming to one places the read
marker (rules in ``ui.reading``). Renaming a private conversation's buffer when its
partner changes nick.

:class:`BufferList` is the base of ``ui.model.BufferModel`` and ``ui.view.View``; it knows
nothing of server lines, rendering or scrolling. Must not import anything but the standard
library, ``flackd.codec`` and the ``ui`` view modules below it (``cells``, ``buffers``,
``reading``): never trio, never prompt_toolkit, never the network side of flackcli.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import flackcli.ui.reading as reading
from flackcli.ui.buffers import SERVER, Buffer, BufferKind, ChannelRow
from flackcli.ui.cells import clean
from flackd.codec.text import fold, is_channel

__all__ = ["BufferList"]


class BufferList:
    """Buffers, their order and the current one. ``now`` returns an aware datetime (when
    a buffer was last read)."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        self.now = now
        self._buffers: dict[str, Buffer] = {}
        server = Buffer(SERVER, SERVER, "server")
        self._buffers[SERVER] = server
        self._current = SERVER
        self._previous: str | None = None
        self._focus: set[str] = set()

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

    def channel_list(self) -> list[ChannelRow]:
        """One row per buffer, in list order; ``number`` is what :meth:`select` takes."""
        return [
            ChannelRow(b.name, b.unread, b.mentions, b.key == self._current, n, b.kind)
            for n, b in enumerate(self.buffers)
        ]

    def activity(self) -> str:
        """``1,3@,4•``: numbers of the other buffers with unread messages; ``@`` marks
        mentions, ``•`` a private conversation."""
        return reading.activity(self.buffers, self._current)

    # -- inside the view model ---------------------------------------------------------

    def _ensure(self, name: str, *, joining: bool = False) -> Buffer:
        """The buffer for ``name``, created if needed. ``joining``: the line is part of
        our own join (the reply's topic or member list), so a new channel buffer starts
        in sync mode and, when only the server buffer was shown, is selected."""
        key = fold(name)
        buf = self._buffers.get(key)
        if buf is None:
            kind: BufferKind = "channel" if is_channel(name) else "dm"
            buf = Buffer(key, clean(name), kind)
            self._buffers[key] = buf
            if kind == "channel" and joining:
                buf.syncing = True
                buf.sync_anchor = None
                if self._current == SERVER:
                    self._focus.add(key)
            self._opened(buf)
            if key in self._focus:
                self._switch(key)
        return buf

    def _opened(self, buf: Buffer) -> None:
        """A buffer was just created (before it may be selected); for subclasses."""

    def _rekey(self, buf: Buffer, new_name: str) -> None:
        """Rename ``buf`` (a private conversation whose partner changed nick)."""
        old_key, new_key = buf.key, fold(new_name)
        self._buffers = {(new_key if k == old_key else k): b for k, b in self._buffers.items()}
        buf.key, buf.name = new_key, clean(new_name)
        if self._current == old_key:
            self._current = new_key
        if self._previous == old_key:
            self._previous = new_key

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
        reading.place_marker(buf)
        if buf.scroll == 0:
            self._seen(buf)

    def _seen(self, buf: Buffer) -> None:
        """The user sees the bottom of ``buf``: everything in it is read."""
        reading.seen(buf, self.now())

    def _visible_at_bottom(self, buf: Buffer) -> bool:
        return buf.key == self._current and buf.scroll == 0

"""ChannelHistory: one channel's ring of recent messages and its cursors.

Owns: the bounded ring (oldest dropped first), paging by message sequence number
(latest / BEFORE / AFTER), the ``more`` and ``gap`` flags, and deletion. Knows nothing
about connections. Imports only the standard library and ``flackd.codec``.

``gap`` is exact: the ring remembers the sequence number of the newest message it ever
dropped for lack of room, so an AFTER cursor older than that has missed something.
Deleted messages do not count as missed.
"""

from __future__ import annotations

import bisect
from collections import deque
from dataclasses import dataclass

from flackd.codec.events import Message

__all__ = ["ChannelHistory", "Entry", "Page"]


@dataclass(slots=True)
class Entry:
    """One stored message: its sequence number, the line, and its author's session id."""

    seq: int
    message: Message
    author_sid: int


@dataclass(frozen=True, slots=True)
class Page:
    """A slice of history, oldest first."""

    messages: list[Message]
    more: bool
    gap: bool = False


class ChannelHistory:
    """A ring of at most ``size`` messages in append (= sequence) order."""

    __slots__ = ("_entries", "_newest", "_seqs", "last_dropped_seq", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: deque[Entry] = deque()
        self._seqs: deque[int] = deque()
        #: Sequence number of the newest message dropped because the ring was full (0: none).
        self.last_dropped_seq = 0
        self._newest = 0  # the newest sequence number ever appended

    def load(self, entries: list[Entry], last_dropped_seq: int, newest_seq: int) -> None:
        """Hold exactly ``entries`` (oldest first) with the given memory of what was
        dropped and appended: a ring as another process described it (a replica's image)."""
        self._entries = deque(entries)
        self._seqs = deque(entry.seq for entry in entries)
        self.last_dropped_seq = last_dropped_seq
        self._newest = newest_seq

    def entries(self) -> list[Entry]:
        """Every entry held, oldest first."""
        return list(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def append(self, entry: Entry) -> Entry | None:
        """Store ``entry``; return the entry that fell off the ring, if any."""
        dropped = None
        if len(self._entries) >= self.size:
            dropped = self._entries.popleft()
            self._seqs.popleft()
            self.last_dropped_seq = dropped.seq
        self._entries.append(entry)
        self._seqs.append(entry.seq)
        self._newest = entry.seq
        return dropped

    @property
    def newest_seq(self) -> int:
        """The sequence number of the newest message ever appended (0: none yet), deleted
        or not."""
        return max(self._newest, self.last_dropped_seq)

    def entries_after(self, seq: int) -> list[Entry]:
        """Every entry held with a sequence number above ``seq``, oldest first."""
        start = bisect.bisect_right(self._seqs, seq)
        return [self._entries[i] for i in range(start, len(self._entries))]

    def find(self, seq: int) -> Entry | None:
        i = bisect.bisect_left(self._seqs, seq)
        if i < len(self._seqs) and self._seqs[i] == seq:
            return self._entries[i]
        return None

    def delete(self, seq: int) -> Entry | None:
        i = bisect.bisect_left(self._seqs, seq)
        if i < len(self._seqs) and self._seqs[i] == seq:
            entry = self._entries[i]
            del self._entries[i]
            del self._seqs[i]
            return entry
        return None

    def _slice(self, start: int, stop: int) -> list[Message]:
        return [self._entries[i].message for i in range(start, stop)]

    def latest(self, count: int) -> Page:
        """The newest ``count`` messages."""
        start = max(0, len(self._entries) - count)
        return Page(self._slice(start, len(self._entries)), more=start > 0)

    def before(self, seq: int, count: int) -> Page:
        """Up to ``count`` messages immediately before sequence number ``seq``."""
        stop = bisect.bisect_left(self._seqs, seq)
        start = max(0, stop - count)
        return Page(self._slice(start, stop), more=start > 0)

    def after(self, seq: int, count: int) -> Page:
        """Up to ``count`` messages immediately after ``seq``; ``gap`` if any were lost."""
        start = bisect.bisect_right(self._seqs, seq)
        stop = min(len(self._entries), start + count)
        return Page(
            self._slice(start, stop),
            more=stop < len(self._entries),
            gap=seq < self.last_dropped_seq,
        )

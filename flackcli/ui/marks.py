"""When to tell the server what the user has read: ``MARK <target> <id>`` (protocol 1.1).

Owns the rule, as data: a conversation's read marker moves when the user has seen a newer
message in it (its window on screen and scrolled to the bottom, or marked read), at most
one ``MARK`` per conversation per :data:`MARK_INTERVAL` seconds, and only forward. The
user's own newest message needs no ``MARK``: sending it moved the server's marker already.
A newer message seen too soon after the last ``MARK`` is owed, and goes out once the
interval has passed, even if the user has switched away meanwhile.

Pure: the caller passes the clock and sends what :meth:`MarkTracker.due` returns.
Imports the standard library and ``flackd.codec`` only.
"""

from __future__ import annotations

from typing import Final

from flackd.codec.ids import parse_id
from flackd.codec.text import fold

__all__ = ["MARK_INTERVAL", "MarkTracker", "moves_forward", "should_mark"]

#: At most one MARK per conversation in this many seconds.
MARK_INTERVAL: Final = 1.0


def moves_forward(msg_id: str, marked: str | None) -> bool:
    """``msg_id`` is newer than the marker ``marked`` (None: no marker yet)."""
    if marked is None:
        return True
    new, old = parse_id(msg_id), parse_id(marked)
    return new is not None and (old is None or new > old)


def should_mark(
    seen: str,
    marked: str | None,
    last_sent: float | None,
    now: float,
    interval: float = MARK_INTERVAL,
) -> bool:
    """The debounce decision: send ``MARK`` for ``seen`` now, given the marker in force
    (``marked``) and when the last MARK of this conversation went out (None: never)."""
    if not moves_forward(seen, marked):
        return False
    return last_sent is None or now - last_sent >= interval


class MarkTracker:
    """The read markers sent, and owed, per conversation (folded ``#channel`` or nick)."""

    def __init__(self, interval: float = MARK_INTERVAL) -> None:
        self.interval = interval
        self._marked: dict[str, str] = {}  # the marker in force, as far as we know
        self._sent_at: dict[str, float] = {}
        self._owed: dict[str, tuple[str, str]] = {}  # key -> (target, id) not sent yet

    def seen(self, target: str, msg_id: str, own: bool = False) -> None:
        """The user has seen message ``msg_id`` of ``target`` (and everything before it);
        ``own``: it is the user's own message (its sending moved the marker)."""
        key = fold(target)
        owed = self._owed.get(key)
        if not moves_forward(msg_id, owed[1] if owed else self._marked.get(key)):
            return
        if own:
            self._marked[key] = msg_id
            self._owed.pop(key, None)
        else:
            self._owed[key] = (target, msg_id)

    def due(self, now: float) -> list[tuple[str, str]]:
        """The ``(target, id)`` MARKs to send now; they count as sent."""
        out: list[tuple[str, str]] = []
        for key, (target, msg_id) in list(self._owed.items()):
            marked, last = self._marked.get(key), self._sent_at.get(key)
            if not moves_forward(msg_id, marked):
                del self._owed[key]
            elif should_mark(msg_id, marked, last, now, self.interval):
                out.append((target, msg_id))
                self._marked[key] = msg_id
                self._sent_at[key] = now
                del self._owed[key]
        return out

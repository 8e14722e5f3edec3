"""Fan-out: the same encoded line into many connections' outboxes, and a channel's
broadcasts held for company during a pass of the poller.

Owns: :func:`push_to_all` (every push to a connection goes through it:
:meth:`flackd.connection.Connection.push` is its one-connection form) and the hold
(:func:`broadcast`, :func:`open_hold`, :func:`close_hold`, :data:`HOLD_LINES`). Knows
nothing about the hub or the protocol: a broadcast is bytes, the event they encode (for
a connection whose front end renders it), and the members' tuple they go to. Imports
trio and :mod:`flackd.flusher` (whose flusher a connection's first line wakes); the
connections' module only for its type (that module imports this one).

Rules (1 and 2 of :mod:`flackd.connection`, as far as fan-out goes):

1. Fan-out never awaits and never blocks: to N members it is N appends, with the byte
   accounting against each one's send queue limit; a member over its limit is closed
   (``BYE SENDQ_EXCEEDED``) and nobody else waits for it.
2. Every connection gets its lines in the order they were made. A held broadcast is
   pushed before anything else is pushed to any connection, before any close, before
   the hub carries out anything but a MSG, and at the end of the pass that made it
   (whose end writes it). A connection whose front end cannot render its lines is
   closed alone (:meth:`flackd.connection.Connection._slow_push`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Final, TypeVar, final

from trio.lowlevel import reschedule

from flackd.flusher import Flusher

if TYPE_CHECKING:
    from flackd.connection import Connection

T = TypeVar("T")

__all__ = [
    "HOLD_LINES",
    "HeldEvents",
    "broadcast",
    "close_hold",
    "holding",
    "open_hold",
    "push_to_all",
    "release_hold",
]


def push_to_all(conns: Iterable[Connection], data: bytes, event: object = None) -> None:
    """:meth:`Connection.push` of the same bytes to each of ``conns``, in one loop.

    This is the whole cost of fan-out per member, so it is written out once here rather
    than paid as a method call per member: take the room, append, wake a parked writer.
    ``event`` is what ``data`` encodes: a connection with a front end of another wire
    (IRC) renders it instead, on the slow path (its ``sendq_limit`` of -1 sends it there),
    so Flack's own connections pay nothing for the others. A broadcast held open
    (:func:`broadcast`) is pushed first, so every connection's lines keep their order.
    """
    if _hold.conns is not None:
        _release()
    size = len(data)
    for conn in conns:
        queued = conn.queued + size
        if queued > conn.sendq_limit:
            conn._slow_push(data, event)
            continue
        conn.queued = queued
        conn._queue.append(data)
        waker = conn._parked
        if waker is not None:
            conn._parked = None
            if type(waker) is Flusher:
                waker.add(conn)
            else:
                conn._blocked = None
                reschedule(waker)


# -- holding a broadcast for company (the poller's pass) ---------------------------------

#: Most lines a held broadcast gathers (:func:`broadcast`) before they are pushed, joined,
#: and a new one begins: bounds the one bytes object they become (a pass of the poller
#: reads at most :data:`flackd.poller.POLL_EVENTS` connections, each at most
#: ``RECEIVE_BYTES``, so it is bounded anyway; this keeps each join small).
HOLD_LINES: Final = 256


@final
class HeldEvents:
    """The events of the lines a held broadcast pushed as one bytes object, in order: a
    connection with a front end renders each of them in turn
    (:meth:`Connection._slow_push`). (A class of its own, not a tuple's subclass, so that
    the module compiles with mypyc.)"""

    __slots__ = ("events",)

    def __init__(self, events: Sequence[object]) -> None:
        #: The hold's own list, handed over: a release starts the next hold with new lists.
        self.events = events


class _Hold:
    """The broadcast held open, if any: the members' tuple it goes to, its lines and their
    events (see :func:`broadcast`)."""

    __slots__ = ("conns", "events", "lines", "open")

    def __init__(self) -> None:
        #: True during a pass of the poller (:func:`open_hold` to :func:`close_hold`).
        self.open = False
        self.conns: Sequence[Connection] | None = None
        self.lines: list[bytes] = []
        self.events: list[object] = []


#: One per process: every connection of the process runs on one Trio thread, and order
#: is per connection, so one hold is all the rule "any other push comes after it" needs.
_hold: Final = _Hold()


def broadcast(conns: Sequence[Connection], data: bytes, event: object) -> None:
    """:func:`push_to_all` of a broadcast to ``conns``, the tuple of a channel's members
    the hub keeps (:meth:`flackd.hub.state.Channel.conns`: immutable, and the same object
    until the membership changes), held for company during a pass of the poller.

    In that pass the next broadcast to the *same* tuple joins the held lines (an append,
    whatever the number of members); anything else pushed to any connection, a close,
    a command other than MSG or any IRC line (:mod:`flackd.dispatch`: the hub may change
    what a front end reads as it renders the held lines), the end of the pass, or
    :data:`HOLD_LINES` lines push the held lines first, joined into one bytes object, to
    each member once. So a busy channel costs one push per member per pass instead of
    one per member per message, no line waits beyond the pass that made it (whose end
    writes it: :meth:`flackd.flusher.Flusher.after_reads`), and every connection gets its
    lines in the order they were pushed (rule 2). Outside a pass of the poller (the
    committer's task, a connection's own task) it pushes at once.
    """
    hold = _hold
    if conns is hold.conns:
        lines = hold.lines
        lines.append(data)
        hold.events.append(event)
        if len(lines) >= HOLD_LINES:
            _release()
        return
    if not hold.open:
        push_to_all(conns, data, event)
        return
    if hold.conns is not None:
        _release()
    hold.conns = conns
    hold.lines = [data]
    hold.events = [event]


def _release() -> None:
    """Push the held broadcast, which there is (the hold stays open for the next one).
    The hot paths test ``_hold.conns`` themselves; elsewhere :func:`release_hold`."""
    hold = _hold
    conns = hold.conns
    assert conns is not None
    hold.conns = None
    lines = hold.lines
    if len(lines) == 1:
        push_to_all(conns, lines[0], hold.events[0])
    else:
        push_to_all(conns, b"".join(lines), HeldEvents(hold.events))


def open_hold() -> None:
    """A pass of the poller begins: :func:`broadcast` may hold lines until it ends."""
    _hold.open = True


def close_hold() -> None:
    """The pass of the poller is over: push what is held, and hold nothing until the next."""
    _hold.open = False
    release_hold()


def release_hold() -> None:
    """Push what is held now, if anything (before a line that does not go through
    :func:`push_to_all`: a connection's BYE)."""
    if _hold.conns is not None:
        _release()


def holding(run: Callable[[], T]) -> Callable[[], T]:
    """``run`` made to hold its broadcasts for company as a pass of the poller does (for
    the committer's end of pass, which releases a pass's committed messages together);
    if the hold is open already, it is left to whoever opened it."""

    def held() -> T:
        if _hold.open:
            return run()
        _hold.open = True
        try:
            return run()
        finally:
            close_hold()

    return held

"""The poller: one task that reads every idle plain TCP connection, instead of a task each.

Owns: an ``epoll`` set of its own (level-triggered, ``EPOLLIN``) holding the file
descriptor of every plain TCP connection no task is reading, and the task that waits on
it (:meth:`Poller.run`): when the set is readable it asks the kernel which connections
are, and hands each to the server's callback once per pass of the event loop, which reads
it once and carries out its lines without awaiting. A connection whose lines must wait
(flood pacing, a full commit queue, a barrier) leaves the set for a task of its own until
it has caught up, then comes back. Knows nothing about connections, lines or the hub:
items are whatever the server registers. Imports trio and the standard library only.

Why: a task per connection costs an idle client its task, its coroutine frames and a
cancel scope (about 3 KB), and every message read costs a task switch and two
``epoll_ctl`` calls to arm and disarm Trio's registration. Here an idle connection is one
entry in the set, registered once, and a busy pass costs one ``epoll_wait`` for all of
them (the C servers' shape). Linux only (``select.epoll``); elsewhere :func:`available`
is False and each connection's task reads it, as before.
"""

from __future__ import annotations

import select
from collections.abc import Callable
from typing import Final, Generic, NoReturn, TypeVar

from trio.lowlevel import wait_readable

__all__ = ["POLL_EVENTS", "Poller", "available"]

#: Most connections one pass hands over (the rest are still readable: the next pass).
POLL_EVENTS: Final = 1024

T = TypeVar("T")


def available() -> bool:
    """True where the kernel has ``epoll`` (Linux)."""
    return hasattr(select, "epoll")


class Poller(Generic[T]):
    """An ``epoll`` set of file descriptors, each with the item it stands for."""

    def __init__(self) -> None:
        self._epoll = select.epoll()
        self._items: dict[int, T] = {}

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, fd: int) -> bool:
        return fd in self._items

    def add(self, fd: int, item: T) -> None:
        """Hand ``item`` over from the next pass on whenever ``fd`` is readable."""
        self._epoll.register(fd, select.EPOLLIN)
        self._items[fd] = item

    def remove(self, fd: int) -> T | None:
        """Stop watching ``fd`` (at once: not even a readiness already reported this pass
        is handed over); its item, or None if it was not in the set."""
        item = self._items.pop(fd, None)
        if item is not None and not self._epoll.closed:
            self._epoll.unregister(fd)
        return item

    async def run(
        self,
        ready: Callable[[T], None],
        done: Callable[[], None] | None = None,
        begin: Callable[[], None] | None = None,
    ) -> NoReturn:
        """Forever: wait until some file descriptor in the set is readable, then call
        ``begin()`` once, if given, ``ready(item)`` for each (at most :data:`POLL_EVENTS`
        a pass; level-triggered, so one with more to read is handed over again the next
        pass), then ``done()`` once, if given. None may raise; ``ready`` may add and
        remove items. A pass never awaits, so nothing else runs between ``begin`` and
        ``done``."""
        epoll = self._epoll
        items = self._items
        fd = epoll.fileno()
        while True:
            await wait_readable(fd)
            if begin is not None:
                begin()
            for ready_fd, _ in epoll.poll(0, POLL_EVENTS):
                item = items.get(ready_fd)
                if item is not None:
                    ready(item)
            if done is not None:
                done()

    def close(self) -> None:
        """Close the set (once the server is done with every connection in it)."""
        self._items.clear()
        self._epoll.close()

"""The shared-log seam: what several flackd nodes need from the store they share.

Owns: :class:`SharedLog` (the interface a shared store implements: join, append, read,
leases, snapshots), :class:`LogEntry`, and the errors it raises. Imports only the
standard library: it knows neither the hub nor any database, so the server's replica side
(:mod:`flackd.replica`) can use any shared store, and the Redis one
(:mod:`flackd.store.redis`) reaches into nothing.

How several nodes share one chat (docs/cluster.md): every change any node accepts is one
opaque *body* appended to one totally ordered log; every node reads the whole log in that
order and runs each entry through its own copy of the hub, so every copy holds the same
state, and the rules stay in the hub, in one place. A snapshot (an image of the hub at a
log position) lets a new node start without the whole log, and lets the log be trimmed.

Rules every shared log keeps:

- ``append`` stores all of its bodies, in order, as consecutive entries, or none of them.
  It is idempotent per ``first``: calling it again with the same numbers (after an
  unknown outcome) never stores a body twice.
- Entries are numbered 1, 2, 3... within one *epoch*. The epoch changes only when the
  store lost its data; then every node starts again as after a restart.
- A node appends only while it holds its lease. Once the lease ran out and the node was
  declared dead (an entry says so), every append of it fails with :class:`NodeFenced`:
  a paused or cut-off node cannot act for sessions that moved to another node.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, Protocol

__all__ = [
    "EpochChanged",
    "LogEntry",
    "LogError",
    "LogGap",
    "LogRefused",
    "LogUncertain",
    "NodeFenced",
    "SharedLog",
]


class LogError(Exception):
    """Something went wrong with the shared store; the text is for the log."""


class LogRefused(LogError):
    """The request did not reach the store (it is unreachable): nothing was stored."""


class LogUncertain(LogError):
    """The request was sent but its answer never came: it may or may not have been
    carried out. Retrying an ``append`` with the same numbers is safe."""


class NodeFenced(LogError):
    """This node's lease ran out and it was declared dead: it may not append."""


class EpochChanged(LogError):
    """The store lost its data (or was reset): the log started again."""


class LogGap(LogError):
    """Entries this node has not read were trimmed: it cannot catch up by reading."""


class LogEntry(NamedTuple):
    """One entry of the log."""

    seq: int  # its number within the epoch: 1, 2, 3...
    time: float  # the store's clock when it was appended (Unix seconds)
    origin: str  # the node that appended it ("" for the store's own, e.g. a death)
    body: bytes


class SharedLog(Protocol):
    """What the replica side of the server needs from a shared store (see above)."""

    #: Where the store is, for logs (a URL without its password).
    where: str
    #: This node's identity in the log (its id and incarnation), set by :meth:`join`.
    node: str

    async def join(self, config: str) -> int:
        """Take a lease as a new incarnation of this node and return the epoch. ``config``
        is what every node must agree on (the rules' limits); a node whose config differs
        from that of the live nodes is refused with :class:`LogError`."""
        ...

    async def append(self, first: int, bodies: Sequence[bytes]) -> None:
        """Append ``bodies`` as this node's numbers ``first``, ``first + 1``...; numbers
        already stored are skipped. Raises :class:`LogRefused`, :class:`LogUncertain`,
        :class:`NodeFenced` or :class:`EpochChanged`."""
        ...

    async def read(self, after: int, wait: float) -> list[LogEntry]:
        """The entries after number ``after``, oldest first, waiting up to ``wait``
        seconds for one (an empty list then). Raises :class:`LogRefused` (try again),
        :class:`EpochChanged` or :class:`LogGap`."""
        ...

    async def renew(self) -> None:
        """Extend this node's lease. Raises :class:`NodeFenced`, :class:`EpochChanged`
        or :class:`LogRefused`/:class:`LogUncertain`."""
        ...

    async def reap(self) -> list[str]:
        """Declare dead every node whose lease ran out (one entry each in the log); return
        them. Any node may call it; it is atomic in the store."""
        ...

    async def load_snapshot(self) -> tuple[int, bytes] | None:
        """The newest snapshot (the log number it covers, its data), if any."""
        ...

    async def save_snapshot(self, seq: int, data: bytes) -> bool:
        """Store a snapshot covering the log up to ``seq`` (unless a newer one is stored)
        and trim the log behind it; False if another node's was newer."""
        ...

    async def snapshot_due(self, seq: int, every: int) -> bool:
        """Whether this node should save a snapshot at ``seq`` now: the newest one is at
        least ``every`` entries old and no other node is saving one."""
        ...

    async def retire(self) -> None:
        """Leave the cluster on purpose (shutdown): declared dead at once."""
        ...

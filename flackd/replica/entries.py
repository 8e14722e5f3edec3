"""The pieces of a shared chat that cross the log, and a node's bookkeeping of its own.

Owns: which commands go through the log (:func:`shared`), :class:`Remote` (the hub's
handle for another node's connection), what this node has on its way to the log
(:class:`Append`) and per local connection (:class:`Local`), the entry bodies and the
snapshot's packing, and the storage errors clients get. Imports trio, the standard
library, ``flackd.codec``, ``flackd.connection`` and ``flackd.hub``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import zlib
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Final

import trio

from flackd.codec import commands as c
from flackd.codec import events as e
from flackd.committer import writes
from flackd.connection import Connection
from flackd.hub import Hub
from flackd.hub import image as hub_image

__all__ = [
    "BATCH", "BYE", "CMD", "NAMING", "REGISTERING", "RETRY_FIRST", "RETRY_MAX",
    "SHARED_LIMITS", "Append", "Local", "Remote", "decode_command", "empty_image",
    "encode_command", "entry_body", "pack_image", "replace_in_queue", "shared",
    "storage_error",
]  # fmt: skip
#: Entries one append carries at most.
BATCH: Final = 256
#: Seconds between two attempts of an append whose outcome was unknown, and between reads
#: while the store is unreachable (doubling up to the second one).
RETRY_FIRST: Final = 0.05
RETRY_MAX: Final = 1.0
#: The limits every node of a cluster must share: they shape the state the rules build.
SHARED_LIMITS: Final = (
    "history", "dm_history", "max_conversations", "max_channels", "max_joins",
    "channel_creates", "resume_ttl", "max_detached", "whowas", "channel_list_max",
)  # fmt: skip

#: Kinds of appended work.
CMD: Final = "c"
BYE: Final = "b"

#: Beyond what changes stored state (:func:`flackd.committer.writes`): what changes the
#: shared state a store does not keep (QUIT ends a session) or reaches users on other
#: nodes without changing state (a CTCP query is relayed, not kept; WALLOPS reaches every
#: node's connections).
BEYOND_WRITES: Final = (c.Quit, c.Ctcp, c.Wallops)
NAMING: Final = (c.Nick, c.Resume, c.Quit)
REGISTERING: Final = (c.Nick, c.Resume)
COMMANDS: Final = {name: getattr(c, name) for name in c.__all__ if name != "Command"}


def shared(command: c.Command) -> bool:
    """Whether ``command`` changes (or reaches beyond this node into) the shared state,
    and so goes through the log."""
    return writes(command) or isinstance(command, BEYOND_WRITES)


class Remote(Connection):
    """The hub's handle for a connection of another node. It is always "closing", so
    fan-out (:func:`flackd.fanout.push_to_all`) skips it at the cost of one check."""

    __slots__ = ("key",)

    def __init__(self, key: str) -> None:  # no socket: nothing of Connection's is used
        self.key = key
        self.id = -1
        self.peer = key
        self.closing = True
        self.close_reason = "remote"
        self.sendq_limit = -1
        self.sendq_bytes = 0
        self.queued = 0
        self.frontend = None
        self._queue = []
        self._parked = None

    def __repr__(self) -> str:
        return f"<Remote {self.key}>"


@dataclass(slots=True, eq=False)
class Append:
    """One entry this node wants in the log."""

    kind: str
    conn: Connection
    key: str  # the connection's key in the log: "<node>/<n>"
    parts: list[Any]  # the body, without its number
    verb: str = "*"
    token: str = ""  # the new resume token of a NICK or RESUME (the log holds its hash)
    num: int = 0  # set when sent
    #: Set once it was answered (applied, or refused): its connection's queue moves on.
    done: bool = False
    since: float = 0.0


@dataclass(slots=True, eq=False)
class Local:
    """A local connection's side of the log."""

    n: int
    key: str = ""
    appended: bool = False
    #: What waits for an append of this connection: Append markers, reads (verb and
    #: command), lines of the server's own (bytes) and effects, in the order they came.
    queue: deque[Any] = field(default_factory=deque)


def encode_command(command: c.Command) -> list[Any]:
    return [type(command).__name__, *dataclasses.astuple(command)]


def decode_command(data: list[Any]) -> c.Command:
    """The command :func:`encode_command` wrote (JSON gives lists: back to the tuples the
    commands declare, such as ``Mode.words``, so the command equals the one sent and
    stays hashable)."""
    kind = COMMANDS[data[0]]
    command: c.Command = kind(*(tuple(v) if isinstance(v, list) else v for v in data[1:]))
    return command


def entry_body(item: Append) -> bytes:
    return json.dumps([item.kind, item.num, *item.parts], separators=(",", ":")).encode()


def pack_image(image: dict[str, Any]) -> bytes:
    """The image as compressed JSON. Run in a worker thread: its long lists are encoded an
    item at a time, so the thread lets the event loop have the GIL between items rather
    than holding it for one long encoding (zlib lets it go by itself)."""
    compact = (",", ":")
    parts = []
    for key, value in image.items():
        if isinstance(value, list):
            items = ",".join([json.dumps(item, separators=compact) for item in value])
            parts.append(f"{json.dumps(key)}:[{items}]")
        else:
            parts.append(f"{json.dumps(key)}:{json.dumps(value, separators=compact)}")
    return zlib.compress(("{" + ",".join(parts) + "}").encode(), 1)


def empty_image(hub: Hub[Connection], epoch: int) -> dict[str, Any]:
    empty: Hub[Connection] = Hub(hub.limits)
    image = hub_image.dump(empty, lambda _conn: None)
    image["boot"] = epoch
    return image


def replace_in_queue(queue: deque[Any], item: Append, effects: Any) -> None:
    """Put ``effects`` where ``item`` waits in ``queue`` (so they go out in its turn)."""
    for i, queued in enumerate(queue):
        if queued is item:
            queue[i] = effects
            return


def storage_error(verb: str, refusing_until: float, code: str = "STORAGE_FAILED") -> e.Error:
    """``ERR STORAGE_FAILED`` (not done) or ``ERR STORAGE_UNKNOWN`` (perhaps done) for
    ``verb``, with the seconds until changes are taken again."""
    retry = max(1, math.ceil(max(0.0, refusing_until - trio.current_time())))
    if code == "STORAGE_UNKNOWN":
        text = (
            "the shared store did not answer, so this may or may not have been carried out; "
            "check with HISTORY before sending it again"
        )
    else:
        text = (
            "the shared store could not be reached, so this was not carried out; try again "
            f"in {retry} s"
        )
    return e.Error(code, verb, (f"retry={retry}",), text)

"""Message ids and timestamps.

Owns: the message id format ``<boot>-<seq>`` and the UTC millisecond timestamp format.
Must not import anything outside the standard library.

An id is the server's boot time in Unix milliseconds, a dash, and a sequence number that
starts at 1 for each boot and grows by one per message across all channels. Two boots
never share a prefix, so ids are unique across restarts; within one boot, a larger
sequence number means a later message. Clients treat ids as opaque and compare them only
for equality; the server parses its own ids to answer ``HISTORY ... BEFORE/AFTER``.
"""

from __future__ import annotations

import functools
import re
import time
from datetime import UTC, datetime
from typing import Final, NamedTuple

__all__ = ["IdGenerator", "MessageId", "format_timestamp", "parse_id", "parse_timestamp"]

# Canonical spelling only (no leading zeros): an id has exactly one way to be written, so
# clients that compare ids as strings never miss one.
_ID: Final = re.compile(r"(0|[1-9][0-9]{0,19})-(0|[1-9][0-9]{0,19})")
_TIMESTAMP: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z")


class MessageId(NamedTuple):
    """A message id: ordered by boot, then sequence number; immutable and hashable.

    A named tuple rather than a frozen dataclass: the hub makes one per message, and a
    tuple is made in a third of the time.
    """

    boot: int
    seq: int

    def __str__(self) -> str:
        return f"{self.boot}-{self.seq}"


def parse_id(text: str) -> MessageId | None:
    """Parse ``<boot>-<seq>``; None when ``text`` is not an id."""
    match = _ID.fullmatch(text)
    if match is None:
        return None
    return MessageId(int(match[1]), int(match[2]))


class IdGenerator:
    """Hands out the ids of one server boot, in order."""

    __slots__ = ("boot", "last_seq")

    def __init__(self, boot: int | None = None) -> None:
        self.boot = boot if boot is not None else time.time_ns() // 1_000_000
        self.last_seq = 0

    def issue(self) -> tuple[int, str]:
        """The next id as the hub stores and sends it: its sequence number and its text
        (``<boot>-<seq>``; :func:`parse_id` reads it back as a :class:`MessageId`, which is
        not made here: once per message, that took three times as long)."""
        self.last_seq += 1
        seq = self.last_seq
        return seq, f"{self.boot}-{seq}"


def format_timestamp(unix_seconds: float) -> str:
    """``YYYY-MM-DDThh:mm:ss.sssZ`` in UTC (IRCv3 server-time), milliseconds truncated."""
    return _format_millis(int(unix_seconds * 1000))


@functools.lru_cache(maxsize=64)
def _format_millis(millis: int) -> str:
    """A busy server stamps many messages within the same millisecond: made once each."""
    seconds, ms = divmod(millis, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{ms:03d}Z"


def parse_timestamp(text: str) -> datetime | None:
    """Parse a timestamp made by :func:`format_timestamp`; None when malformed."""
    if _TIMESTAMP.fullmatch(text) is None:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except ValueError:  # well-shaped but impossible, e.g. month 13
        return None

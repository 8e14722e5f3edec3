"""Reconnect policy: how long to wait before the next attempt, and when not to retry.

Owns: the exponential backoff with jitter (1 s doubling to 60 s, times 0.8-1.2) and the
reading of ``BYE`` codes into "retry after at least N seconds" or "stop". Pure: the caller
passes the random source and does the waiting. Imports only the standard library and
``flackd.codec``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final

from flackd.codec import events

__all__ = ["BASE_DELAY", "MAX_DELAY", "Retry", "Stop", "after_bye", "delay"]

BASE_DELAY: Final = 1.0
MAX_DELAY: Final = 60.0
JITTER: Final = (0.8, 1.2)

#: BYE codes after which reconnecting on our own would be wrong: we asked to leave, or
#: another connection of ours took the session over (retrying would fight it forever).
STOP_CODES: Final = frozenset({"QUIT", "RESUMED"})


@dataclass(frozen=True, slots=True)
class Retry:
    """Reconnect, waiting at least ``at_least`` seconds (the server's ``retry=``)."""

    at_least: float = 0.0


@dataclass(frozen=True, slots=True)
class Stop:
    """Do not reconnect on our own; ``reason`` is for the user."""

    reason: str


def delay(attempt: int, rng: random.Random | None = None) -> float:
    """Seconds to wait before reconnect attempt ``attempt`` (0 for the first retry)."""
    base = min(MAX_DELAY, BASE_DELAY * 2.0 ** min(attempt, 16))
    source: random.Random = rng or random.Random()
    return base * source.uniform(*JITTER)


def after_bye(bye: events.Bye | None) -> Retry | Stop:
    """What to do after the server closed the connection with ``bye`` (None: no BYE)."""
    if bye is None:
        return Retry()
    if bye.code in STOP_CODES:
        return Stop(f"{bye.code}: {bye.text}")
    for param in bye.params:
        if param.startswith("retry="):
            try:
                return Retry(float(param.removeprefix("retry=")))
            except ValueError:
                break
    return Retry()

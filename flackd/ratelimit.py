"""TokenBucket: flood control as pure arithmetic on a clock passed in.

Owns: the token-bucket arithmetic. Does no sleeping itself: the connection's reader asks
how long to wait and stops reading the socket for that long, so TCP pushes back on a
flooder and nothing is dropped. Imports only the standard library.
"""

from __future__ import annotations

__all__ = ["TokenBucket"]


class TokenBucket:
    """``burst`` tokens, refilled at ``rate`` tokens per second."""

    __slots__ = ("_stamp", "_tokens", "burst", "rate")

    def __init__(self, burst: float, rate: float, now: float) -> None:
        self.burst = float(burst)
        self.rate = float(rate)
        self._tokens = float(burst)
        self._stamp = now

    def _refill(self, now: float) -> None:
        if now > self._stamp:
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now

    def full(self, now: float) -> bool:
        """True when the bucket has refilled to its burst."""
        self._refill(now)
        return self._tokens >= self.burst

    def charge(self, cost: float, now: float) -> float:
        """Spend ``cost`` tokens; return the seconds to wait before the next read (0: none).

        The bucket may go negative by one charge, so a command is never refused: it is
        carried out, and the reader then waits until the bucket is back at zero.
        """
        if cost <= 0:
            return 0.0
        tokens = self._tokens  # _refill written out: this is paid for every line read
        if now > self._stamp:
            tokens = min(self.burst, tokens + (now - self._stamp) * self.rate)
            self._stamp = now
        self._tokens = tokens = tokens - cost
        if tokens >= 0:
            return 0.0
        return -tokens / self.rate

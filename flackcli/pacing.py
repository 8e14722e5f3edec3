"""Pacing under flackd's flood control, and cutting long text into lines: for script
commands and bots alike.

Owns: :class:`Pacer` (a token bucket like the server's, so the server never has to hold
our lines back) and :func:`split_text` (a text cut at spaces into pieces that fit one
line). Imports only trio and the standard library.
"""

from __future__ import annotations

from typing import Final

import trio

__all__ = ["FLOOD_BURST", "FLOOD_RATE", "Pacer", "split_text"]

#: flackd's default flood control: a burst of 10 lines, then 2 lines a second.
FLOOD_BURST: Final = 10
FLOOD_RATE: Final = 2.0


class Pacer:
    """A token bucket like flackd's (burst 10, 2 lines a second), so the server never has
    to hold our lines back: every line we send is charged here first."""

    def __init__(self, burst: int = FLOOD_BURST, rate: float = FLOOD_RATE) -> None:
        self.burst = float(burst)
        self.rate = rate
        self.tokens = float(burst)
        self._last = trio.current_time()

    async def take(self, cost: float = 1.0) -> None:
        while True:
            now = trio.current_time()
            self.tokens = min(self.burst, self.tokens + (now - self._last) * self.rate)
            self._last = now
            if self.tokens >= cost:
                self.tokens -= cost
                return
            await trio.sleep((cost - self.tokens) / self.rate)


def split_text(text: str, budget: int) -> list[str]:
    """Cut ``text`` into pieces of at most ``budget`` UTF-8 bytes, at spaces when possible.

    Pieces that hold nothing but spaces are dropped (the server would refuse them).
    """
    budget = max(budget, 4)  # room for any one character
    pieces: list[str] = []
    while len(text.encode("utf-8")) > budget:
        size = cut = 0
        for ch in text:
            size += len(ch.encode("utf-8"))
            if size > budget:
                break
            cut += 1
        space = text.rfind(" ", 0, cut + 1)
        if space > 0:
            head, text = text[:space], text[space + 1 :]
        else:
            head, text = text[:cut], text[cut:]
        pieces.append(head)
    pieces.append(text)
    return [piece for piece in pieces if piece.strip(" ")]

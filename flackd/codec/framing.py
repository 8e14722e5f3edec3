"""Framing: bytes from a socket in, complete lines out, with a hard byte limit.

Owns: splitting a byte stream into lines and the per-line byte limit; encoding one
outgoing line. Must not import anything outside the standard library.

Rules (protocol.md, "Framing"):

1. A line ends at LF (``\\n``). One CR immediately before the LF is stripped. Nothing else
   ends a line: not a lone CR, not VT/FF/NEL/U+2028 (never ``str.splitlines()``).
2. A line may be at most ``max_line_bytes`` long, its terminator included.
3. A terminated line over the limit is reported as one :data:`OVERLONG` item and dropped.
   Unterminated input that passes the limit is reported once and then *discarded* up to the
   next LF without being kept, so memory stays below ``max_line_bytes`` whatever the peer
   sends.
4. Each byte is scanned for LF exactly once (no quadratic re-scans of a growing buffer).
5. Empty lines are ignored. Decoding is not done here: it happens per complete line
   (``text.decode_line``), never per read, so UTF-8 split across reads arrives intact.
"""

from __future__ import annotations

import enum
from typing import Final

__all__ = ["CRLF", "OVERLONG", "LineBuffer", "Overlong"]

CRLF: Final = b"\r\n"


class Overlong(enum.Enum):
    """Marker yielded by :meth:`LineBuffer.feed` where a line broke the byte limit."""

    OVERLONG = "OVERLONG"


OVERLONG: Final = Overlong.OVERLONG


class LineBuffer:
    """Incremental LF splitter with a byte limit (sans-IO).

    Limits: holds at most ``max_line_bytes - 1`` bytes of an unfinished line.
    """

    __slots__ = ("_discarding", "_max", "_partial", "discarded_bytes", "junk_bytes")

    def __init__(self, max_line_bytes: int = 512) -> None:
        if max_line_bytes < 3:
            raise ValueError("max_line_bytes must be at least 3")
        self._max = max_line_bytes
        self._partial = bytearray()
        self._discarding = False
        #: Bytes thrown away so far because they belonged to over-long lines.
        self.discarded_bytes = 0
        #: Bytes of the latest over-long line, counted so far (it grows while discarding).
        self.junk_bytes = 0

    @property
    def pending(self) -> int:
        """Bytes of an unfinished line currently held."""
        return len(self._partial)

    @property
    def discarding(self) -> bool:
        """True while skipping the rest of an over-long line up to its LF."""
        return self._discarding

    def feed(self, data: bytes | bytearray) -> list[bytes | Overlong]:
        """Consume ``data``; return the complete lines (without terminator) it finished.

        Over-long lines appear as :data:`OVERLONG`, once per line.
        """
        if not isinstance(data, bytes):
            data = bytes(data)
        out: list[bytes | Overlong] = []
        limit = self._max - 1  # room for content; the LF takes the last byte
        partial = self._partial
        start = 0
        end = len(data)
        while start < end:
            newline = data.find(b"\n", start)
            if self._discarding:
                if newline < 0:
                    self.discarded_bytes += end - start
                    self.junk_bytes += end - start
                    return out
                self.discarded_bytes += newline + 1 - start
                self.junk_bytes += newline + 1 - start
                self._discarding = False
                start = newline + 1
                continue
            if newline < 0:
                if len(partial) + end - start > limit:
                    out.append(OVERLONG)
                    self.discarded_bytes += len(partial) + end - start
                    self.junk_bytes = len(partial) + end - start
                    partial.clear()
                    self._discarding = True
                else:
                    partial += data[start:]
                return out
            if len(partial) + newline - start > limit:
                out.append(OVERLONG)
                self.discarded_bytes += len(partial) + newline + 1 - start
                self.junk_bytes = len(partial) + newline + 1 - start
                partial.clear()
            else:
                if partial:
                    partial += data[start:newline]
                    line = bytes(partial)
                    partial.clear()
                else:
                    line = data[start:newline]
                if line.endswith(b"\r"):
                    line = line[:-1]
                if line:
                    out.append(line)
            start = newline + 1
        return out

"""IRCv3 labeled-response: everything one labeled command caused, tied to its label.

Owns: :class:`LabelCapture`, which sits on a connection's output (every line for an IRC
connection passes :meth:`LabelCapture.passthrough` on the way into its outbox) and, between
the two markers the server queues around a labeled command (:data:`BEGIN` and
:data:`END`, queued in their turn behind anything a commit holds, like the command's own
lines), keeps the lines instead of passing them on; at the END it sends them labeled: one
line with the ``label`` tag, several as a ``labeled-response`` batch, none as ``ACK``; a
note to oneself with echo-message as the labeled echo, then the message received.
Imports only the standard library and ``flackd.irc.wire``: never trio, never the hub.
"""

from __future__ import annotations

import itertools
from collections import deque
from typing import Final

from flackd.irc.wire import escape_tag_value, format_message

__all__ = ["BEGIN", "END", "LabelCapture"]

#: The markers: compared by identity (made at run time, so no other bytes object is them).
BEGIN: Final = b"".join([b"\x00", b"label-begin"])
END: Final = b"".join([b"\x00", b"label-end"])


class LabelCapture:
    """One connection's labeled responses (see the module docstring)."""

    __slots__ = ("_batches", "_captured", "_labels", "_open", "server")

    def __init__(self, server: str) -> None:
        self.server = server
        #: Labels of commands whose BEGIN has not been reached yet, oldest first.
        self._labels: deque[str] = deque()
        self._open: str | None = None
        self._captured: list[bytes] = []
        self._batches = itertools.count(1)

    def expect(self, label: str) -> None:
        """A labeled command is being carried out: its BEGIN marker follows."""
        self._labels.append(label)

    def passthrough(self, data: bytes) -> bytes:
        """``data`` on its way to the outbox: kept while a label is open, else passed on
        (and the markers turned into the labeled lines)."""
        if data is BEGIN:
            self._open = self._labels.popleft() if self._labels else None
            self._captured = []
            return b""
        if data is END:
            label, self._open = self._open, None
            captured, self._captured = self._captured, []
            return self._labeled(label, captured) if label is not None else b""
        if self._open is not None:
            self._captured.append(data)
            return b""
        return data

    def _labeled(self, label: str, captured: list[bytes]) -> bytes:
        lines = [line + b"\n" for line in b"".join(captured).split(b"\n") if line]
        tag = f"label={escape_tag_value(label)}".encode()
        if not lines:
            return format_message("ACK", (), source=self.server, tags={"label": label})
        if len(lines) == 1:
            return _tagged(lines[0], tag)
        if len(lines) == 2 and lines[0] == lines[1]:
            # A note to oneself with echo-message: the echo (the response, labeled) and the
            # message received (not a response: it goes out as it is). Only that pair is
            # two identical lines: every other line carries its own msgid or content.
            return _tagged(lines[0], tag) + lines[1]
        ref = f"l{next(self._batches)}"
        start = format_message(
            "BATCH", (f"+{ref}", "labeled-response"), source=self.server, tags={"label": label}
        )
        end = format_message("BATCH", (f"-{ref}",), source=self.server)
        batch = f"batch={ref}".encode()
        body = [line if _in_batch(line) else _tagged(line, batch) for line in lines]
        return start + b"".join(body) + end


def _in_batch(line: bytes) -> bool:
    """Whether ``line`` already belongs to a batch (nested: a chathistory batch inside a
    labeled response; only its own BATCH lines get the outer batch's tag)."""
    if not line.startswith(b"@"):
        return False
    tags = line[1 : line.find(b" ")]
    return any(tag.startswith(b"batch=") for tag in tags.split(b";"))


def _tagged(line: bytes, tag: bytes) -> bytes:
    """``line`` (one formatted IRC line) with one more tag."""
    if line.startswith(b"@"):
        return b"@" + tag + b";" + line[1:]
    return b"@" + tag + b" " + line

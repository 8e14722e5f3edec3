"""Unread counts, mentions, the read marker and the bell: what the user has and has not seen.

Owns the rules of client-ux.md section 7 as functions on a :class:`~flackcli.ui.buffers.Buffer`:
which lines count (other people's messages, never joins, parts, local lines or one's own;
a private message counts as a mention), the server's own counts from its read markers
(:func:`server_counts`, protocol 1.1), what a mention is (:func:`mention_pattern`: the
nick as a whole word, any case, optional ``@``, or a highlight word), reading a buffer to
its bottom (:func:`seen`), where the read marker goes when the user comes back
(:func:`place_marker`), a restored read position (:func:`read_up_to`), un-counting a
deleted message, when the bell rings, and the ``Act:`` list of the status bar. Deciding
*when* a buffer is seen (on screen, at the bottom) is the view model's job (``ui.model``).

Must not import anything but the standard library and ``flackcli.ui.buffers``: never trio,
never prompt_toolkit, never the network side of flackcli.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Literal

from flackcli.ui.buffers import Buffer, Line, id_after

__all__ = [
    "Bell",
    "activity",
    "count_unread",
    "last_read_message_id",
    "mention_pattern",
    "place_marker",
    "read_up_to",
    "seen",
    "server_counts",
    "uncount",
]

Bell = Literal["mentions", "off", "all"]
"""When the bell rings for a line off screen: on mentions and DMs, never, or on any."""


def mention_pattern(nick: str, words: Iterable[str]) -> re.Pattern[str]:
    """What counts as a mention: ``nick`` as a whole word (any case, optional ``@``), or
    one of the highlight ``words`` as a whole word."""
    nick_chars = r"A-Za-z0-9_\-"
    parts = [rf"(?<![{nick_chars}@])@?{re.escape(nick)}(?![{nick_chars}])"]
    parts += [rf"(?<!\w){re.escape(w.strip())}(?!\w)" for w in words]
    return re.compile("|".join(parts), re.IGNORECASE)


def seen(buf: Buffer, now: datetime) -> None:
    """The user sees the bottom of ``buf``: everything in it is read."""
    buf.unread = 0
    buf.mentions = 0
    buf.counted.clear()
    buf.last_read = buf.lines[-1] if buf.lines else None
    buf.read_at = now


def place_marker(buf: Buffer) -> None:
    """Coming to ``buf``: the read marker goes after the last line read, when something
    new arrived since; otherwise there is none."""
    has_new = buf.unread > 0 or buf.mentions > 0
    if has_new and buf.last_read is not None and buf.lines[-1] is not buf.last_read:
        buf.marker = buf.last_read
    else:
        buf.marker = None


def count_unread(buf: Buffer, line: Line, bell: Bell) -> bool:
    """``line`` was added at the end of ``buf`` while the user does not see it: count it
    if it is someone else's message. Returns True when the bell should ring."""
    if line.kind != "message" or line.own or line.id is None:
        return False
    if not id_after(line.id, buf.counted_through):
        return False  # the server's UNREAD numbers already count it
    mention = line.mention or buf.kind == "dm"
    buf.unread += 1
    buf.mentions += mention
    buf.counted[line.id] = mention
    return bell == "all" or (bell == "mentions" and mention)


def server_counts(buf: Buffer, unread: int, mentions: int, newest: str | None) -> None:
    """The server's numbers for ``buf`` (its read marker, from ``UNREAD``) replace the
    local counts; messages up to ``newest`` are among them, so they are not counted again
    when they arrive. A private message counts as a mention, as it does locally."""
    buf.unread = max(0, unread)
    buf.mentions = buf.unread if buf.kind == "dm" else min(buf.unread, max(0, mentions))
    buf.counted.clear()
    buf.counted_through = newest
    buf.pending_read_id = None


def uncount(buf: Buffer, msg_id: str) -> None:
    """Message ``msg_id`` was deleted: if it was counted as unread, it no longer is."""
    if msg_id in buf.counted:
        mention = buf.counted.pop(msg_id)
        buf.unread = max(0, buf.unread - 1)
        buf.mentions = max(0, buf.mentions - mention)


def read_up_to(buf: Buffer, line: Line) -> None:
    """The user had read ``buf`` up to ``line`` (a restored position, off screen): it and
    everything before it are read, the messages of others after it are unread."""
    after = buf.lines[buf.lines.index(line) + 1 :]
    buf.unread = 0
    buf.mentions = 0
    buf.counted.clear()
    buf.last_read = line
    for ln in after:
        if ln.kind == "message" and not ln.own and ln.id is not None:
            mention = ln.mention or buf.kind == "dm"
            buf.unread += 1
            buf.mentions += mention
            buf.counted[ln.id] = mention
    buf.pending_read_id = None


def last_read_message_id(buf: Buffer) -> str | None:
    """Id of the newest message at or before the last line read (for state.json)."""
    if buf.last_read is None:
        return None
    idx = buf.lines.index(buf.last_read)
    for ln in reversed(buf.lines[: idx + 1]):
        if ln.kind == "message" and ln.id is not None:
            return ln.id
    return None


def activity(buffers: Sequence[Buffer], current: str) -> str:
    """``1,3@,4•``: numbers of the buffers (in list order) with unread messages other than
    the one shown at its bottom (key ``current``); ``@`` marks mentions, ``•`` a private
    conversation."""
    out: list[str] = []
    for number, buf in enumerate(buffers):
        if buf.key == current and buf.scroll == 0:
            continue
        if buf.unread == 0 and buf.mentions == 0:
            continue
        mark = "•" if buf.kind == "dm" else ("@" if buf.mentions else "")
        out.append(f"{number}{mark}")
    return ",".join(out)

"""IRCv3 ``draft/read-marker``: ``MARKREAD`` as Flack's read markers (``MARK``).

Owns: the ``MARKREAD`` command and line. Flack keeps, per session, the id of the last
message read in each channel it is in and each conversation (protocol.md, "MARK and
UNREAD"); IRC's marker is a time. So:

- ``MARKREAD <target>`` answers ``MARKREAD <target> timestamp=<time>``: the time of the
  newest message still held at or before the marker, or ``*`` if there is none (nothing
  read yet that is still held, not in that channel, no such conversation);
- ``MARKREAD <target> timestamp=<time>`` is Flack's ``MARK`` of the newest message sent at
  or before that time (none: nothing changes), then the same answer. A marker only moves
  forward, and a time between two messages is kept as the earlier one's;
- the marker of a channel comes before the 366 of a JOIN's NAMES
  (:mod:`flackd.irc.outbound`), and of each channel a resume brings back.

Imports only the standard library, ``flackd.codec``, ``flackd.views`` and ``flackd.irc``:
never trio, never the hub.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final

from flackd.codec import commands as c
from flackd.irc.wire import format_message, server_time
from flackd.views import Ref

if TYPE_CHECKING:
    from flackd.irc.inbound import IrcClient

__all__ = ["CAPABILITY", "markread", "markread_line"]

#: The capability that asks for MARKREAD lines (CAP LS).
CAPABILITY: Final = "draft/read-marker"
_MILLISECOND: Final = timedelta(milliseconds=1)


def markread_line(server: str, target: str, when: str | None) -> bytes:
    """``:server MARKREAD <target> timestamp=<when>`` (``*`` when there is no time)."""
    shown = f"timestamp={server_time(when)}" if when else "*"
    return format_message("MARKREAD", (target, shown), source=server)


def markread(client: IrcClient, params: Sequence[str]) -> Iterator[bytes | c.Mark]:
    """``MARKREAD <target> [timestamp=<time>]`` (see the module docstring): lines for the
    client, and the Flack ``MARK`` to carry out, if any."""
    fail = client.out.fail
    if not params or not params[0]:
        yield fail("MARKREAD", "NEED_MORE_PARAMS", "MARKREAD", "Not enough parameters")
        return
    target = params[0]
    own = client.own
    if len(params) > 1:
        when = _time(params[1])
        if when is None:
            yield fail(
                "MARKREAD", "INVALID_PARAMS", target, "give timestamp=YYYY-MM-DDThh:mm:ss.sssZ"
            )
            return
        if own.read_marker(target) is not None:
            # The newest message at or before that time: the one before a millisecond later.
            later = (when + _MILLISECOND).strftime("%Y-%m-%dT%H:%M:%S.%f")[:23] + "Z"
            window = own.history("BEFORE", target, (Ref(time=later),), 1)
            if window.error is None and window.messages:
                yield c.Mark(target, window.messages[-1].id)
    yield markread_line(client.out.server, target, own.read_marker(target))


def _time(param: str) -> datetime | None:
    """``timestamp=<ISO 8601 UTC time>`` as a time; None if it is not one."""
    if not param.startswith("timestamp="):
        return None
    try:
        text = server_time(param[10:])
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except ValueError:
        return None

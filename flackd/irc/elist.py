"""IRC's LIST with conditions (ISUPPORT ``ELIST=CMNTU``): channels by name or mask, by
the masks they do not match, by user count, by creation and topic time.

Owns: parsing LIST's conditions and filtering the channels the hub's views show the
client (a secret channel only to its members: the hub's rule, :meth:`channel_list`),
then 321, at most ``list_max`` 322s (in name order, as Flack's LIST), 323. ``LIST``
without conditions is Flack's own LIST (:mod:`flackd.irc.inbound`). Imports only the
standard library, ``flackd.codec``, ``flackd.views`` and ``flackd.irc``: never trio,
never the hub.

Conditions, comma-separated; a channel is listed when it matches one of the names or
masks given (any, if none is given), none of the ``!`` masks, and every count and time:

- ``#name`` or a mask with ``*`` and ``?`` (M), ignoring case; ``!mask`` (N): not those;
- ``<n``, ``>n`` (U): fewer, more than ``n`` users;
- ``C<m``, ``C>m`` (C): made less, more than ``m`` minutes ago;
- ``T<m``, ``T>m`` (T): topic set less, more than ``m`` minutes ago (a channel without a
  topic matches neither).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from flackd.codec.modes import mask_matches
from flackd.codec.text import neutralise
from flackd.irc.numerics import Numerics, unix_time
from flackd.views import ChannelListing

__all__ = ["MAX_CONDITIONS", "ListQuery", "list_lines", "parse_query"]
#: The most conditions one LIST may carry (the rest are ignored).
MAX_CONDITIONS: Final = 20


@dataclass(slots=True)
class ListQuery:
    """LIST's conditions: masks, masks excluded, and (what, op, number) bounds:
    ``U`` users, ``C`` minutes since made, ``T`` minutes since the topic was set."""

    masks: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    bounds: list[tuple[str, str, int]] = field(default_factory=list)

    def matches(self, channel: ChannelListing, now: float) -> bool:
        name = channel.name
        if self.masks and not any(mask_matches(m, name) for m in self.masks):
            return False
        if any(mask_matches(m, name) for m in self.excluded):
            return False
        for what, op, number in self.bounds:
            if what == "U":
                value = float(channel.members)
            elif what == "C":
                value = (now - channel.created) / 60
            else:
                if not channel.topic:
                    return False
                value = (now - unix_time(channel.topic_time)) / 60
            if not (value < number if op == "<" else value > number):
                return False
        return True


def parse_query(text: str) -> ListQuery:
    """LIST's first parameter as conditions (a term that is no count or time is a mask,
    matched as a ban mask is: :func:`flackd.codec.modes.mask_matches`)."""
    query = ListQuery()
    for term in [t for t in text.split(",") if t][:MAX_CONDITIONS]:
        head = term[:2] if term[:1] in "CT" else term[:1]
        number = term[len(head) :]
        if head[-1:] in ("<", ">") and number.isdecimal() and len(number) < 10:
            what = head[0] if len(head) == 2 else "U"
            query.bounds.append((what, head[-1], int(number)))
        elif term.startswith("!"):
            query.excluded.append(term[1:])
        else:
            query.masks.append(term)
    return query


def list_lines(
    out: Numerics,
    channels: Sequence[ChannelListing],
    query: ListQuery,
    list_max: int,
    clock: Callable[[], float] = time.time,
) -> bytes:
    """321, a 322 for each of the first ``list_max`` channels that match, 323."""
    now = clock()
    lines = [out.numeric("321", "Channel", "Users  Name")]
    shown = 0
    for channel in channels:
        if shown >= list_max:
            break
        if query.matches(channel, now):
            shown += 1
            lines.append(
                out.numeric("322", channel.name, str(channel.members), neutralise(channel.topic))
            )
    lines.append(out.numeric("323", "End of /LIST"))
    return b"".join(lines)

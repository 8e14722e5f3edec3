"""IRC actions: what one IRC client's translator hands the server to carry out, in order.

Owns: :class:`Run` (a Flack command through the hub, exactly as if a Flack client had
sent it) and :func:`run`, which makes one by the command's name; :class:`Disconnect`; and
:data:`Action`, their union with ``bytes`` (lines for this client, in their turn) and
:class:`~flackd.irc.presence.Announce` (a volatile change told to those who share a
channel). Imports only the standard library, ``flackd.codec``
and ``flackd.irc``: never trio, never the hub.
"""

from __future__ import annotations

from dataclasses import dataclass

from flackd.codec import commands as c
from flackd.codec.grammar import VERBS, Verb
from flackd.irc.presence import Announce

__all__ = ["Action", "Disconnect", "Run", "run"]


@dataclass(frozen=True, slots=True)
class Run:
    """Carry out this Flack command for the client, through the hub."""

    verb: Verb
    command: c.Command


@dataclass(frozen=True, slots=True)
class Disconnect:
    """Close the connection, saying ``reason`` in its last line (ERROR)."""

    reason: str


Action = Run | Disconnect | Announce | bytes


def run(name: str, command: c.Command) -> Run:
    """:class:`Run` Flack's command ``name``."""
    return Run(VERBS[name], command)

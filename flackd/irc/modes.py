"""IRC channel modes and operators: MODE and KICK in, the hub's answers out.

Owns: ``MODE`` of a channel (shown, its bans listed, changed, each through Flack's MODE
command; a user's own modes are :mod:`flackd.irc.opers`') and ``KICK`` (Flack's KICK, one per
nick) as the translator's handlers, and the lines of the hub's mode events for one
client: a query's ``MODE #c *`` as ``324`` and ``329``, a change as ``:nick MODE #c +o
bob``, a ``BAN`` as ``367`` (``368`` ends the list), ``KICK`` as ``:op KICK #c bob
:reason``. Who may do what (operators, the order of the checks) is the hub's; the errors
become numerics in :mod:`flackd.irc.numerics`. Imports only the standard library,
``flackd.codec`` and ``flackd.irc``: never trio, never the hub.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from flackd.codec import commands as c
from flackd.codec import events as e
from flackd.codec.text import neutralise
from flackd.irc.numerics import Numerics, prefix, unix_time, word
from flackd.irc.wire import format_message, strip_formatting

if TYPE_CHECKING:
    from flackd.irc.inbound import IrcClient

__all__ = ["ban_line", "bans_end", "kick", "kicked_line", "mode", "mode_line"]


def mode(client: IrcClient, params: Sequence[str]) -> Iterator[bytes | c.Mode]:
    """``MODE #channel [changes [params...]]``: Flack's MODE, whose answers the renderer
    shows (324 and 329, 367 and 368, a ``MODE`` line, or a numeric). (``MODE <nick>``, a
    user's own modes, is :func:`flackd.irc.opers.user_mode`.)"""
    if not params:
        yield client.out.numeric("461", "MODE", "Not enough parameters")
        return
    yield c.Mode(params[0], tuple(params[1:]))


def kick(client: IrcClient, params: Sequence[str]) -> Iterator[bytes | c.Kick]:
    """``KICK <#channel> <nick>[,<nick>...] [:reason]``: one Flack KICK per nick (also
    ``KICK #a,#b x,y``: channels and nicks paired in order)."""
    if len(params) < 2 or not params[0] or not params[1]:
        yield client.out.numeric("461", "KICK", "Not enough parameters")
        return
    channels = params[0].split(",")
    nicks = [nick for nick in params[1].split(",") if nick]
    reason = strip_formatting(params[2]).strip() if len(params) > 2 else ""
    if len(channels) == 1:
        channels = channels * len(nicks)
    elif len(channels) != len(nicks):
        yield client.out.numeric("461", "KICK", "Not enough parameters")
        return
    for channel, nick in zip(channels, nicks, strict=True):
        yield c.Kick(channel, nick, reason)


def mode_line(out: Numerics, event: e.ModeChanged, created: float | None) -> bytes:
    """A change as ``:nick!nick@flack MODE #c +o bob``; a query's answer (``nick`` is
    ``*``) as ``324 <me> #c +modes [params]`` and ``329 <me> #c <when it was made>``."""
    if event.nick == "*":
        changes = event.changes or ("+",)
        return out.numeric("324", event.channel, *changes[:-1], changes[-1]) + out.numeric(
            "329", event.channel, str(int(created or 0))
        )
    *middle, last = event.changes or ("+",)
    params = (event.channel, *map(word, middle), neutralise(last))
    return format_message("MODE", params, source=prefix(event.nick))


def ban_line(out: Numerics, channel: str, ban: e.BanEntry) -> bytes:
    """One ban as ``367 <me> #c <mask> <setter> <unix time>``."""
    return out.numeric("367", channel, ban.mask, ban.setter, str(unix_time(ban.time)))


def bans_end(out: Numerics, channel: str) -> bytes:
    return out.numeric("368", channel, "End of channel ban list")


def kicked_line(event: e.Kicked) -> bytes:
    """``:op!op@flack KICK #c bob :reason``; without a reason, the kicker's nick (as IRC
    servers say it)."""
    reason = neutralise(event.reason) or event.by
    return format_message("KICK", (event.channel, event.nick, reason), source=prefix(event.by))

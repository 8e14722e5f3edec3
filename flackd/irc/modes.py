"""IRC channel modes and operators: MODE and KICK in, the hub's answers out.

Owns: ``MODE`` of a channel (shown, its bans and exceptions listed, changed, each through
Flack's MODE command; a user's own modes are :mod:`flackd.irc.opers`') and ``KICK`` (Flack's KICK,
one per nick, at most ``KICK_TARGETS``) as the translator's handlers, and the lines of the
hub's mode events for one client: a query's ``MODE #c *`` as ``324`` and ``329``, a change
as ``:nick MODE #c +o bob``, a ``BAN`` as ``367`` (``368`` ends the list), an ``EXCEPT``
as ``348`` (``349``), an ``INVEX`` as ``346`` (``347``), ``KICK`` as ``:op KICK #c bob
:reason``. Who may do what (operators, the order of the checks) is the hub's; the errors
become numerics in :mod:`flackd.irc.numerics`. Imports only the standard library,
``flackd.codec`` and ``flackd.irc``: never trio, never the hub.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Final

from flackd.codec import commands as c
from flackd.codec import events as e
from flackd.codec.text import neutralise
from flackd.irc.numerics import KICK_TARGETS, Numerics, prefix, unix_time, word
from flackd.irc.wire import format_message, strip_formatting

if TYPE_CHECKING:
    from flackd.irc.inbound import IrcClient

__all__ = ["MASK_BLOCKS", "kick", "kicked_line", "mask_end", "mask_line", "mode", "mode_line"]

#: The hub's mask-list blocks and their numerics: (an entry, the end, the end's text).
MASK_BLOCKS: Final = {
    "BANS": ("367", "368", "End of channel ban list"),
    "EXCEPTS": ("348", "349", "End of channel exception list"),
    "INVEXES": ("346", "347", "End of channel invite exception list"),
}
_BLOCK_OF: Final = {e.BanEntry: "BANS", e.ExceptEntry: "EXCEPTS", e.InvexEntry: "INVEXES"}


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
    ``KICK #a,#b x,y``: channels and nicks paired in order), at most ``KICK_TARGETS``
    (407 for more: nobody is kicked)."""
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
    if len(nicks) > KICK_TARGETS:
        text = f"Too many targets: at most {KICK_TARGETS} nicks in one KICK"
        yield client.out.numeric("407", params[1][:64], text)
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


def mask_line(out: Numerics, channel: str, entry: e.MaskEntry) -> bytes:
    """One ban as ``367 <me> #c <mask> <setter> <unix time>`` (an exception 348, an
    invite exception 346)."""
    code = MASK_BLOCKS[_BLOCK_OF[type(entry)]][0]
    return out.numeric(code, channel, entry.mask, entry.setter, str(unix_time(entry.time)))


def mask_end(out: Numerics, kind: str, channel: str) -> bytes:
    """The end of a mask list: ``368`` (``349``, ``347``) ``<me> #c :End of ...``."""
    _, code, text = MASK_BLOCKS[kind]
    return out.numeric(code, channel, text)


def kicked_line(event: e.Kicked) -> bytes:
    """``:op!op@flack KICK #c bob :reason``; without a reason, the kicker's nick (as IRC
    servers say it)."""
    reason = neutralise(event.reason) or event.by
    return format_message("KICK", (event.channel, event.nick, reason), source=prefix(event.by))

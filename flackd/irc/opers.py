"""IRC server operators and user modes: OPER, KILL, WALLOPS, ``MODE <own nick>``, INFO.

Owns: those commands as the translator's handlers (each a Flack command through the hub,
which keeps the rules: :mod:`flackd.hub.opers`), and the lines of their answers for one
client: a user's modes (``221``, ``:nick MODE nick +o``), ``381`` for OPER, ``WALLOPS``
lines, the ``bot`` tag (IRCv3 bot mode) and the WHO flags and WHOIS numerics
(``313``, ``335``) of operators and bots. INFO is the server's own (``371``/``374``).
The hub's refusals become numerics in :mod:`flackd.irc.numerics` (481, 491, 464, 502).
Imports only the standard library, ``flackd`` (its version), ``flackd.codec`` and
``flackd.irc``: never trio, never the hub.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Final

from flackd import __version__
from flackd.codec import commands as c
from flackd.codec import events as e
from flackd.codec.modes import mask_matches
from flackd.codec.text import neutralise
from flackd.codec.usermodes import BOT_MODE, OPER_MODE, USER_MODES
from flackd.irc.numerics import Numerics, prefix
from flackd.irc.wire import format_message, strip_formatting

if TYPE_CHECKING:
    from flackd.irc.inbound import IrcClient

__all__ = [
    "IRC_USER_MODES",
    "info",
    "kill",
    "oper",
    "user_mode",
    "user_mode_line",
    "wallops",
    "wallops_line",
    "whois_lines",
]

#: The user modes an IRC client sees (004): Flack's and ``i``, which every user has.
IRC_USER_MODES: Final = "".join(sorted(USER_MODES + "i"))


def oper(client: IrcClient, params: Sequence[str]) -> Iterator[bytes | c.Command]:
    """``OPER <name> <password>``: Flack's OPER (381 and ``MODE <nick> +o``; 491 for a
    name the server does not have, 464 for a wrong password)."""
    if len(params) < 2 or not params[0] or not params[1]:
        yield client.out.numeric("461", "OPER", "Not enough parameters")
        return
    yield c.Oper(params[0], params[1])


def kill(client: IrcClient, params: Sequence[str]) -> Iterator[bytes | c.Command]:
    """``KILL <nick> [:reason]``: Flack's KILL (481 to a user who is not an operator)."""
    if not params or not params[0]:
        yield client.out.numeric("461", "KILL", "Not enough parameters")
        return
    reason = strip_formatting(params[1]).strip() if len(params) > 1 else ""
    yield c.Kill(params[0], reason)


def wallops(client: IrcClient, params: Sequence[str]) -> Iterator[bytes | c.Command]:
    """``WALLOPS :text``: Flack's WALLOPS, to every user with ``+w`` and its sender."""
    text = strip_formatting(params[0]).strip() if params else ""
    if not text:
        yield client.out.numeric("461", "WALLOPS", "Not enough parameters")
        return
    yield c.Wallops(text)


def user_mode(client: IrcClient, params: Sequence[str]) -> Iterator[bytes | c.Command]:
    """``MODE <nick> [changes]``: the client's own user modes, through Flack's MODE.
    ``i`` is what every Flack user is: accepted and left out; a letter that is not a user
    mode gets 501 and nothing changes; another user's modes are the hub's 502."""
    target, words = params[0], [w for w in params[1:] if w]
    if not words:
        yield c.Mode(target)
        return
    letters = "".join(words).replace("+", "").replace("-", "")
    if any(ch not in IRC_USER_MODES for ch in letters):
        yield client.out.numeric("501", "Unknown MODE flag")
        return
    flack = [w.replace("i", "") for w in words]
    if not any(ch in USER_MODES for ch in "".join(flack)):
        yield b""  # only i: what every Flack user is already
        return
    yield c.Mode(target, tuple(w for w in flack if w.strip("+-")))


def info(client: IrcClient, params: Sequence[str]) -> Iterator[bytes]:
    """``INFO [target]``: a few 371 lines about the server, then 374; a target that is
    neither this server (a mask may match it) nor a user gets 402."""
    out = client.out
    target = params[0] if params and params[0] else None
    if (
        target is not None
        and not mask_matches(target, out.server)
        and client.directory.user_info(target) is None
    ):
        yield out.numeric("402", target, "No such server")
        return
    lines = [
        out.numeric("371", f"flackd {__version__}: Flack's chat server"),
        out.numeric("371", "One chat for Flack's line protocol, IRC and the web"),
        out.numeric("371", "Its wire protocol: protocol.md; IRC: docs/irc.md"),
        out.numeric("374", "End of INFO list"),
    ]
    yield b"".join(lines)


def user_mode_line(out: Numerics, event: e.ModeChanged) -> bytes:
    """A user's modes: the answer to ``MODE <nick>`` (``nick`` ``*``) as ``221 <me>
    +i...``; a change as ``:nick!nick@flack MODE nick +w``."""
    changes = event.changes[0] if event.changes else "+"
    if event.nick == "*":
        return out.numeric("221", "+i" + changes.lstrip("+"))
    return format_message("MODE", (event.channel, changes), source=prefix(event.nick))


def wallops_line(event: e.Wallops) -> bytes:
    return format_message("WALLOPS", (neutralise(event.text),), source=prefix(event.nick))


def whois_lines(out: Numerics, nick: str, modes: str) -> list[bytes]:
    """WHOIS's ``313`` (a server operator) and ``335`` (a bot)."""
    lines = []
    if OPER_MODE in modes:
        lines.append(out.numeric("313", nick, "is an IRC operator"))
    if BOT_MODE in modes:
        lines.append(out.numeric("335", nick, "is a bot"))
    return lines

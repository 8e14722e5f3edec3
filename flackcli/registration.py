"""Registration: how a reconnecting session comes back into the chat on a new connection.

Owns: RESUME with the remembered token, else NICK (``nick_`` and ``nick__`` when the nick
is taken); a token the server no longer knows (after a restart without durable state)
becoming one :class:`~flackcli.notices.SessionLost` notice and a new registration; the
refusals that end the session for good (:class:`Refused`: the server has a password and
none was given, an invalid nick, every candidate taken); and the
:class:`~flackcli.notices.Registered` notice. The reconnect loop around it is
:mod:`flackcli.supervisor`'s. Imports the standard library, ``flackd.codec`` and
flackcli's client, memory and notices: never trio itself, nor ``ui``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

from flackcli.client import Client, FlackError
from flackcli.memory import Memory
from flackcli.notices import Notice, Registered, SessionLost
from flackd.codec import commands as c
from flackd.codec import events as e

__all__ = ["REGISTRATION", "Refused", "Welcome", "register"]

#: The verbs of registration: until one is answered OK, only :func:`register` sends them.
REGISTRATION: Final = frozenset({"NICK", "RESUME"})

#: Why the client stops when the server has a password and it was given none.
NO_PASSWORD: Final = (
    "this server has a password: set FLACK_PASSWORD to it (see flackcli --help) and start again"
)


class Refused(Exception):
    """Registration was refused for good (e.g. an invalid nick)."""


@dataclass(frozen=True, slots=True)
class Welcome:
    """A session registered (its nick went to ``named``): the channels a RESUME already
    put it back in, and the RESUME's reply (its UNREAD block; empty after a NICK)."""

    back: frozenset[str]
    reply: tuple[e.Event, ...]


async def register(
    client: Client,
    memory: Memory,
    *,
    named: Callable[[str], None],
    changed: Callable[[], None],
    notice: Callable[[Notice], Awaitable[None]],
) -> Welcome:
    """RESUME or NICK on ``client``. ``memory``'s token is kept up to date (``changed``
    after each change); ``named`` is told the nick before the notices go out."""
    if memory.token:
        try:
            lines = await client.call(c.Resume(memory.token))
        except FlackError as err:
            if err.code == "PASSWORD_REQUIRED":
                raise Refused(NO_PASSWORD) from None
            if err.code != "UNKNOWN_TOKEN":
                raise
            # The server restarted without keeping sessions, or kept ours for less time
            # than we were away: say so in words (the supervisor's pump drops the raw
            # ERR), then register anew (the caller re-joins).
            memory.token = None
            changed()
            await notice(SessionLost(memory.nick, tuple(memory.channels)))
        else:
            ok = next(x for x in lines if isinstance(x, e.Ok) and x.command == "RESUME")
            nick = ok.params[0]
            named(nick)
            memory.token = ok.param("token")
            last = ok.param("last")
            back = {x.channel for x in lines if isinstance(x, e.Joined) and x.nick == nick}
            changed()
            await notice(Registered(nick, True, None if last == "*" else last))
            return Welcome(frozenset(back), tuple(lines))
    for candidate in (memory.nick, memory.nick + "_", memory.nick + "__"):
        try:
            lines = await client.call(c.Nick(candidate))
        except FlackError as err:
            if err.code == "NICK_IN_USE":
                continue
            if err.code == "PASSWORD_REQUIRED":
                raise Refused(NO_PASSWORD) from None
            raise Refused(f"{err.code}: {err.error.text}") from None
        ok = next(x for x in lines if isinstance(x, e.Ok) and x.command == "NICK")
        named(candidate)
        memory.token = ok.param("token")
        changed()
        wanted = memory.nick if candidate != memory.nick else ""
        await notice(Registered(candidate, False, memory.last_channel, wanted))
        return Welcome(frozenset(), ())
    raise Refused(f"the nicks {memory.nick}, {memory.nick}_ and {memory.nick}__ are taken")

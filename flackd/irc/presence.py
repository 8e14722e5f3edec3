"""IRC presence: AWAY and SETNAME, and telling the others (away-notify, setname).

Owns: the ``AWAY`` and ``SETNAME`` commands, the volatile changes they make (an away
mark and a real name, kept by the hub while the connection lasts, never stored), and
:class:`Announce`, the action that asks the server to tell everyone who shares a channel
with the client; each of those renders the change for its own wire, and only IRC clients
that negotiated ``away-notify`` or ``setname`` get a line (Flack's protocol has no word
for either). Imports only the standard library and ``flackd.irc``: never trio, never
the hub.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from flackd.irc.numerics import prefix
from flackd.irc.wire import format_message, strip_formatting

if TYPE_CHECKING:
    from flackd.irc.inbound import IrcClient

__all__ = ["AWAYLEN", "REALLEN", "Announce", "AwayChanged", "RealnameChanged", "away", "setname"]

#: The most characters of an AWAY message kept (ISUPPORT AWAYLEN).
AWAYLEN: Final = 200
#: The most characters of a real name (USER's is cut to it; SETNAME's longer one refused).
REALLEN: Final = 100


@dataclass(frozen=True, slots=True)
class AwayChanged:
    """``nick`` is away with ``text``, or back (None)."""

    nick: str
    text: str | None


@dataclass(frozen=True, slots=True)
class RealnameChanged:
    """``nick`` now calls itself ``realname``."""

    nick: str
    realname: str


@dataclass(frozen=True, slots=True)
class Announce:
    """Tell the others who share a channel with this client of ``event`` (each renders it
    for its own wire, or not at all)."""

    event: AwayChanged | RealnameChanged


def away(client: IrcClient, params: Sequence[str]) -> Iterator[bytes | Announce]:
    """``AWAY :text`` marks you away for everyone (301 to those who write you, G in WHO,
    - in USERHOST, AWAY to those with away-notify); ``AWAY`` alone (or empty) marks you
    back."""
    text = strip_formatting(params[0])[:AWAYLEN] if params and params[0] else None
    client.set_away(text)
    if text is None:
        yield client.out.numeric("305", "You are no longer marked as being away")
    else:
        yield client.out.numeric("306", "You have been marked as being away")
    yield Announce(AwayChanged(client.nick, text))


def setname(client: IrcClient, params: Sequence[str]) -> Iterator[bytes | Announce]:
    """``SETNAME :real name`` (IRCv3 setname): shown by WHO and WHOIS, and told to the
    client itself and those with ``setname`` who share a channel with it."""
    realname = strip_formatting(params[0]).strip() if params else ""
    if not realname or len(realname) > REALLEN:
        yield format_message(
            "FAIL",
            ("SETNAME", "INVALID_REALNAME", f"Real names are 1 to {REALLEN} characters"),
            source=client.out.server,
        )
        return
    client.user.realname = realname
    client.set_identity(client.user.username, realname)
    if "setname" in client.out.caps:
        yield format_message("SETNAME", (realname,), source=prefix(client.nick))
    yield Announce(RealnameChanged(client.nick, realname))

"""IRC presence: AWAY, SETNAME and MONITOR, and telling the others (away-notify, setname,
who comes online and goes offline).

Owns: the ``AWAY`` and ``SETNAME`` commands, the volatile changes they make (an away
mark and a real name, kept by the hub while the connection lasts, never stored), and
:class:`Announce`, the action that asks the server to tell everyone who shares a channel
with the client; each of those renders the change for its own wire, and only IRC clients
that negotiated ``away-notify`` or ``setname`` get a line (Flack's protocol has no word
for either). ``MONITOR`` keeps, in :class:`Monitors` (one per server), who watches which
nick; the server tells the watchers (:class:`NickPresence`) when a nick comes online or
goes offline, whichever wire its user is on, and (IRCv3 ``extended-monitor``,
:class:`Monitored`) of its away and real name changes. Imports only the standard library,
``flackd.codec`` and ``flackd.irc``: never trio, never the hub.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from flackd.codec.text import is_valid_nick
from flackd.irc.numerics import prefix, word
from flackd.irc.wire import format_message, irc_casefold, strip_formatting

if TYPE_CHECKING:
    from flackd.irc.inbound import IrcClient

__all__ = [
    "AWAYLEN",
    "REALLEN",
    "Announce",
    "AwayChanged",
    "Monitored",
    "Monitors",
    "NickPresence",
    "RealnameChanged",
    "away",
    "monitor",
    "setname",
]

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
        yield client.out.fail(
            "SETNAME", "INVALID_REALNAME", f"Real names are 1 to {REALLEN} characters"
        )
        return
    client.user.realname = realname
    client.set_identity(client.user.username, realname)
    if "setname" in client.out.caps:
        yield format_message("SETNAME", (realname,), source=prefix(client.nick))
    yield Announce(RealnameChanged(client.nick, realname))


# -- MONITOR (IRCv3): who is online, told when it changes ----------------------------------


@dataclass(frozen=True, slots=True)
class Monitored:
    """``event`` of a nick the client MONITORs and shares no channel with: told only to a
    client with ``extended-monitor`` (and then as ``event`` itself is: ``AWAY`` with
    ``away-notify``, ``SETNAME`` with ``setname``)."""

    event: AwayChanged | RealnameChanged


@dataclass(frozen=True, slots=True)
class NickPresence:
    """``nick`` came online (``True``) or went offline: told to those who MONITOR it."""

    nick: str
    online: bool


class Monitors:
    """Who watches which nick (one per server, shared by its IRC clients; sans I/O).

    A watcher is an opaque handle (the server's connection); nicks are kept folded, with
    the spelling each watcher gave for ``MONITOR L``.
    """

    __slots__ = ("_by_nick", "_by_watcher")

    def __init__(self) -> None:
        self._by_nick: dict[str, set[object]] = {}
        self._by_watcher: dict[object, dict[str, str]] = {}

    def __bool__(self) -> bool:
        """Whether anyone watches anything (the server's one check per NICK or RESUME)."""
        return bool(self._by_nick)

    def add(self, watcher: object, nick: str) -> None:
        key = irc_casefold(nick)
        self._by_watcher.setdefault(watcher, {})[key] = nick
        self._by_nick.setdefault(key, set()).add(watcher)

    def remove(self, watcher: object, nick: str) -> None:
        key = irc_casefold(nick)
        mine = self._by_watcher.get(watcher)
        if mine is None or mine.pop(key, None) is None:
            return
        watchers = self._by_nick[key]
        watchers.discard(watcher)
        if not watchers:
            del self._by_nick[key]
        if not mine:
            del self._by_watcher[watcher]

    def forget(self, watcher: object) -> None:
        """``watcher`` is gone (or sent ``MONITOR C``): it watches nothing any more."""
        for nick in list(self._by_watcher.get(watcher, {}).values()):
            self.remove(watcher, nick)

    def targets(self, watcher: object) -> list[str]:
        return sorted(self._by_watcher.get(watcher, {}).values(), key=irc_casefold)

    def count(self, watcher: object) -> int:
        return len(self._by_watcher.get(watcher, ()))

    def watchers(self, nick: str) -> list[object]:
        return list(self._by_nick.get(irc_casefold(nick), ()))


def monitor(client: IrcClient, params: Sequence[str]) -> Iterator[bytes]:
    """``MONITOR + nicks``, ``- nicks``, ``C`` (clear), ``L`` (list), ``S`` (status)."""
    out = client.out
    monitors, me = client.monitors, client.handle
    if not params:
        yield out.numeric("461", "MONITOR", "Not enough parameters")
        return
    sub = params[0].upper()
    nicks = [n for n in (params[1] if len(params) > 1 else "").split(",") if n]
    if sub == "+":
        online: list[str] = []
        offline: list[str] = []
        refused = ""
        for index, nick in enumerate(nicks):
            if not is_valid_nick(nick):
                offline.append(word(nick))  # a mask or a bad name: never online
                continue
            if monitors.count(me) >= client.monitor_limit:
                refused = ",".join(nicks[index:])
                break
            monitors.add(me, nick)
            user = client.directory.user_info(nick)
            if user is not None and user.connected:
                online.append(prefix(user.nick))
            else:
                offline.append(nick)
        if online:
            yield out.numeric("730", ",".join(online))
        if offline:
            yield out.numeric("731", ",".join(offline))
        if refused:
            yield out.numeric("734", str(client.monitor_limit), refused, "Monitor list is full")
    elif sub == "-":
        for nick in nicks:
            monitors.remove(me, nick)
    elif sub == "C":
        monitors.forget(me)
    elif sub == "L":
        targets = monitors.targets(me)
        for start in range(0, len(targets), 20):
            yield out.numeric("732", ",".join(targets[start : start + 20]))
        yield out.numeric("733", "End of MONITOR list")
    elif sub == "S":
        for nick in monitors.targets(me):
            user = client.directory.user_info(nick)
            if user is not None and user.connected:
                yield out.numeric("730", prefix(user.nick))
            else:
                yield out.numeric("731", nick)
    else:
        yield out.numeric("421", "MONITOR", "Unknown MONITOR subcommand (+, -, C, L or S)")

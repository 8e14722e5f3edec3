"""IRC queries flackd answers itself: NAMES, WHO, WHOIS, WHOWAS, ISON, USERHOST and the
server's own (LUSERS, MOTD, VERSION, TIME).

Owns: those replies, built from the read-only :class:`~flackd.irc.inbound.Directory` of
the hub and the client's own state; they change nothing in the hub, so they need no hub
command. Imports only the standard library, ``flackd`` (its version),
``flackd.codec.modes`` (mask matching) and ``flackd.irc``: never trio, never the hub.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Final

from flackd import __version__
from flackd.codec.modes import mask_matches
from flackd.irc.numerics import USER_HOST, status
from flackd.irc.opers import whois_lines

if TYPE_CHECKING:
    from flackd.irc.inbound import IrcClient
    from flackd.views import UserView

__all__ = ["QUERIES"]


def names(client: IrcClient, params: Sequence[str]) -> Iterator[bytes]:
    """``NAMES #a[,#b...]``: each channel's members with their status prefixes (353s; a
    secret channel only to its members), then one 366 for them all (its parameter the
    channels as asked, or the one channel's own spelling)."""
    out = client.out
    if not params:
        yield out.numeric("366", "*", "End of /NAMES list")
        return
    wanted = [name for name in params[0].split(",") if name]
    lines: list[bytes] = []
    shown = params[0] or "*"
    for name in wanted:
        found = client.directory.channel_info(name)
        state = client.channel_state(name) if found is not None else None
        if found is None or state is None:
            continue
        flags, _, roles = state
        members = [(nick, roles.get(nick, "")) for nick in found.members]
        lines.append(out.names(found.name, members, secret="s" in flags, end=False))
        if len(wanted) == 1:
            shown = found.name
    lines.append(out.numeric("366", shown, "End of /NAMES list"))
    yield b"".join(lines)


def who(client: IrcClient, params: Sequence[str]) -> Iterator[bytes]:
    """``WHO #channel``: its members (flags: H or G, then their status prefixes; none
    of a secret channel one is not in). ``WHO <mask>``: the connected users whose nick
    matches (``*`` and ``?``, ignoring case) among those who share a channel with you
    (every Flack user is +i), and a nick given in full whoever has it. With a second
    parameter ``%<fields>[,<token>]`` (IRCv3 WHOX) each one is a 354 line of those
    fields instead of a 352."""
    mask = params[0] if params else "*"
    out = client.out
    directory = client.directory
    whox = params[1][1:] if len(params) > 1 and params[1].startswith("%") else None
    fields, _, token = (whox or "").partition(",")
    token = token if token.isdigit() and len(token) <= 3 else ""

    def line(channel: str, user: UserView, modes: str = "") -> bytes:
        if whox is None:
            return out.who_line(channel, user, modes)
        return out.whox_line(channel, user, fields, token, modes)

    lines: list[bytes] = []
    found = directory.channel_info(mask)
    if found is not None:
        state = client.channel_state(found.name)
        roles = state[2] if state is not None else {}
        for nick in found.members if state is not None else []:
            user = directory.user_info(nick)
            if user is not None:
                lines.append(line(found.name, user, roles.get(nick, "")))
    else:
        user = directory.user_info(mask)
        if user is not None and user.connected:
            lines.append(line("*", user))
        elif any(ch in mask for ch in "*?"):
            for nick in sorted(_neighbours(client)):
                match = directory.user_info(nick)
                if match is not None and mask_matches(mask, nick):
                    lines.append(line("*", match))
    lines.append(out.numeric("315", mask, "End of /WHO list"))
    yield b"".join(lines)


def _neighbours(client: IrcClient) -> set[str]:
    """The nicks of everyone who shares a channel with the client, the client included."""
    directory = client.directory
    me = directory.user_info(client.nick)
    nicks = {client.nick}
    for channel in me[2] if me is not None else []:
        found = directory.channel_info(channel)
        if found is not None:
            nicks.update(found[1])
    return nicks


def whois(client: IrcClient, params: Sequence[str]) -> Iterator[bytes]:
    if not params:
        yield client.out.numeric("431", "No nickname given")
        return
    nick = params[-1]
    out = client.out
    user = client.directory.user_info(nick)
    if user is None:
        yield out.numeric("401", nick, "No such nick/channel") + out.numeric(
            "318", nick, "End of /WHOIS list"
        )
        return
    name, connected, channels, away_text = user.nick, user.connected, user.channels, user.away
    lines = [
        out.numeric("311", name, user.username, USER_HOST, "*", user.realname),
        out.numeric("312", name, out.server, out.info),
    ]
    shown = []
    for channel in channels:  # with its status there; a secret one only to its members
        state = client.channel_state(channel)
        if state is not None:
            shown.append(status(state[2].get(name, ""), out.caps) + channel)
    if shown:
        lines.append(out.numeric("319", name, " ".join(shown)))
    lines += whois_lines(out, name, user.modes)
    if not connected:
        lines.append(out.numeric("301", name, "connection dropped; may come back"))
    elif away_text:
        lines.append(out.numeric("301", name, away_text))
    lines.append(out.numeric("318", name, "End of /WHOIS list"))
    yield b"".join(lines)


def whowas(client: IrcClient, params: Sequence[str]) -> Iterator[bytes]:
    """``WHOWAS <nick> [count]``: who had that nick before (bounded by --whowas)."""
    out = client.out
    if not params or not params[0]:
        yield out.numeric("461", "WHOWAS", "Not enough parameters")
        return
    nick = params[0]
    given = params[1] if len(params) > 1 else ""
    count = int(given) if given.isdecimal() and len(given) < 9 else 0
    lines = []
    for name, username, realname in client.directory.whowas(nick, count):
        lines.append(out.numeric("314", name, username, USER_HOST, "*", realname))
        lines.append(out.numeric("312", name, out.server, out.info))
    if not lines:
        lines.append(out.numeric("406", nick, "There was no such nickname"))
    lines.append(out.numeric("369", nick, "End of WHOWAS"))
    yield b"".join(lines)


def ison(client: IrcClient, params: Sequence[str]) -> Iterator[bytes]:
    online = []
    for word in " ".join(params).split():
        user = client.directory.user_info(word)
        if user is not None and user[1]:
            online.append(user[0])
    yield client.out.numeric("303", " ".join(online))


def userhost(client: IrcClient, params: Sequence[str]) -> Iterator[bytes]:
    replies = []
    for word in params[:5]:
        user = client.directory.user_info(word)
        if user is not None and user[1]:
            here = "-" if user.away else "+"
            replies.append(f"{user.nick}={here}{user.username}@{USER_HOST}")
    yield client.out.numeric("302", " ".join(replies))


def lusers(client: IrcClient, params: Sequence[str]) -> Iterator[bytes]:
    yield client.out.lusers()


def motd(client: IrcClient, params: Sequence[str]) -> Iterator[bytes]:
    yield client.out.numeric("422", "MOTD File is missing")


def version(client: IrcClient, params: Sequence[str]) -> Iterator[bytes]:
    out = client.out
    yield out.numeric("351", f"flackd-{__version__}", out.server, "Flack") + out.numeric(
        "005", *client.isupport[:12], "are supported by this server"
    )


def server_time(client: IrcClient, params: Sequence[str]) -> Iterator[bytes]:
    now = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    yield client.out.numeric("391", client.out.server, now)


QUERIES: Final[dict[str, Callable[[IrcClient, Sequence[str]], Iterator[bytes]]]] = {
    "ISON": ison,
    "LUSERS": lusers,
    "MOTD": motd,
    "NAMES": names,
    "TIME": server_time,
    "USERHOST": userhost,
    "VERSION": version,
    "WHO": who,
    "WHOIS": whois,
    "WHOWAS": whowas,
}

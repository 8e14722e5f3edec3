"""IRC registration: what an IRC client says before it is in the chat.

Owns: ``CAP`` (capability negotiation: LS, LIST, REQ, END; registration waits for END),
``PASS``, ``NICK`` and ``USER`` before registration, ``AUTHENTICATE`` (its SASL PLAIN
exchange is :mod:`flackd.irc.sasl`'s), and registering once NICK and USER are in: as
Flack's ``NICK``, or as ``RESUME`` when a password or SASL gave a resume token (then the
channels the session is in are shown again: topic, names, read marker). What the client
said meanwhile is its :class:`Registration`; what it said about itself, its
:class:`UserInfo`. Imports only the standard library, ``flackd.codec`` and
``flackd.irc``: never trio, never the hub.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Final

from flackd.codec import commands as c
from flackd.codec.text import is_valid_nick
from flackd.irc.actions import Action, Disconnect, run
from flackd.irc.markers import markread_line
from flackd.irc.numerics import word
from flackd.irc.outbound import CAPABILITIES
from flackd.irc.presence import REALLEN
from flackd.irc.sasl import MECHANISMS
from flackd.irc.wire import format_message, strip_formatting

if TYPE_CHECKING:
    from flackd.irc.inbound import IrcClient

__all__ = [
    "BEFORE_REGISTRATION",
    "USERLEN",
    "Registration",
    "UserInfo",
    "authenticate",
    "cap",
    "cap_line",
    "nick",
    "pass_",
    "try_register",
    "user",
]

#: The most characters of USER's username and realname kept (ISUPPORT USERLEN).
USERLEN: Final = 10
#: Commands a client may send before it is registered (the rest get 451).
BEFORE_REGISTRATION: Final = frozenset(
    {"AUTHENTICATE", "CAP", "PASS", "NICK", "USER", "PING", "PONG", "QUIT"}
)


class UserInfo:
    """What an IRC client said about itself at registration (Flack keeps none of it)."""

    __slots__ = ("realname", "username")

    def __init__(self, username: str = "", realname: str = "") -> None:
        self.username = username
        self.realname = realname


class Registration:
    """What an IRC client has said on its way in: the nick it asked for, the password
    (a resume token, from PASS or SASL), whether CAP negotiation holds registration
    back, and the highest CAP version it named (302 gets capability values)."""

    __slots__ = ("cap_version", "negotiating", "nick", "password")

    def __init__(self) -> None:
        self.nick: str | None = None
        self.password: str | None = None
        self.negotiating = False
        self.cap_version = 0


def cap(client: IrcClient, params: Sequence[str]) -> Iterator[Action]:
    """``CAP LS [302]``, ``LIST``, ``REQ :caps`` (all or none), ``END``; LS or REQ
    before registration holds it back until END."""
    sub = params[0].upper() if params else ""
    target = client.out.nick
    if sub == "LS":
        if not client.registered():
            client.joining.negotiating = True
        version = params[1] if len(params) > 1 else ""
        number = int(version) if version.isdecimal() and len(version) < 6 else 0
        client.joining.cap_version = max(client.joining.cap_version, number)
        values = client.joining.cap_version >= 302  # 302 clients get values: sasl=PLAIN
        sasl = f"sasl={MECHANISMS}" if values else "sasl"
        offered = [sasl if name == "sasl" else name for name in CAPABILITIES]
        yield cap_line(target, "LS", " ".join(offered))
    elif sub == "LIST":
        yield cap_line(target, "LIST", " ".join(sorted(client.out.caps)))
    elif sub == "REQ":
        if not client.registered():
            client.joining.negotiating = True
        asked = params[1].split() if len(params) > 1 else []
        names = [a.lstrip("-") for a in asked]
        if asked and all(n in CAPABILITIES for n in names):
            for a in asked:
                if a.startswith("-"):
                    client.out.caps.discard(a[1:])
                else:
                    client.out.caps.add(a)
            yield cap_line(target, "ACK", " ".join(asked))
        else:
            yield cap_line(target, "NAK", " ".join(asked))
    elif sub == "END":
        if client.joining.negotiating and not client.registered():
            client.joining.negotiating = False
            yield from try_register(client)
    else:
        yield client.out.numeric("410", sub or "*", "Invalid CAP command")


def pass_(client: IrcClient, params: Sequence[str]) -> Iterator[Action]:
    """``PASS``: the server's password where it has one (checked as Flack's PASS),
    else a resume token kept for registration."""
    if client.registered():
        yield client.out.numeric("462", "You may not reregister")
    elif not params or not params[0]:
        yield client.out.numeric("461", "PASS", "Not enough parameters")
    elif client.server_password:
        yield run("PASS", c.Pass(params[0]))
    else:
        client.joining.password = params[0]


def nick(client: IrcClient, params: Sequence[str]) -> Iterator[Action]:
    """``NICK``: Flack's NICK once registered; before, the nick to register with."""
    if not params or not params[0]:
        yield client.out.numeric("431", "No nickname given")
        return
    if not is_valid_nick(params[0]):
        yield client.out.numeric(
            "432", params[0], "Erroneous nickname: 1-16 letters, digits, _ or -"
        )
        return
    if client.registered():
        yield run("NICK", c.Nick(params[0]))
        return
    client.joining.nick = params[0]
    yield from try_register(client)


def authenticate(client: IrcClient, params: Sequence[str]) -> Iterator[Action]:
    """``AUTHENTICATE``: a step of SASL PLAIN; its password is a resume token."""
    if not params:
        yield client.out.numeric("461", "AUTHENTICATE", "Not enough parameters")
        return
    negotiated = "sasl" in client.out.caps
    yield from client.sasl.step(params[0], registered=client.registered(), negotiated=negotiated)
    if client.sasl.token is not None:
        client.joining.password = client.sasl.token


def user(client: IrcClient, params: Sequence[str]) -> Iterator[Action]:
    """``USER <user> <mode> <unused> :real name``, once, before registration."""
    if client.registered():
        yield client.out.numeric("462", "You may not reregister")
        return
    if len(params) < 4 or not params[0] or not params[3]:
        yield client.out.numeric("461", "USER", "Not enough parameters")
        return
    username = "".join(ch for ch in params[0] if (ch.isascii() and ch.isalnum()) or ch in "._-")
    client.user = UserInfo(f"~{username[:USERLEN]}", strip_formatting(params[3])[:REALLEN])
    yield from try_register(client)


def try_register(client: IrcClient) -> Iterator[Action]:
    """NICK and USER are in, and CAP negotiation (if any) is over: register."""
    if client.joining.nick is None or not client.user.username or client.joining.negotiating:
        return
    if client.joining.password is None:
        yield run("NICK", c.Nick(client.joining.nick))
        if client.registered():
            client.set_identity(client.user.username, client.user.realname)
        return
    client.out.wanted = client.joining.nick
    yield run("RESUME", c.Resume(client.joining.password))
    if not client.registered():
        yield Disconnect("that password is not a resume token this server knows")
        return
    client.set_identity(client.user.username, client.user.realname)
    for name in client.my_channels():
        found = client.directory.channel_info(name)
        if found is not None:
            yield client.out.topic(found[0], found[2], found[3], found[4])
        yield run("NAMES", c.Names(name))
        if "draft/read-marker" in client.out.caps:
            yield markread_line(client.out.server, name, client.own.read_marker(name))


def cap_line(target: str, sub: str, text: str) -> bytes:
    """``CAP <target> <sub> :text``."""
    return format_message("CAP", (word(target), word(sub), text))

"""The plain types of the hub's read-only views, shared by the hub and the front ends.

Owns: :class:`UserView` and :class:`ChannelView` (what WHO, WHOIS, NAMES-like queries of a
front end read), :class:`Ref` and :class:`Window` (a history window by message id or by
time: IRCv3's CHATHISTORY). Plain data: the hub builds them
(:class:`flackd.hub.views.Views`), front ends read them. Imports only the standard library
and ``flackd.codec``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, NamedTuple

from flackd.codec.events import Message

__all__ = ["HISTORY_WINDOWS", "ChannelListing", "ChannelView", "Ref", "UserView", "Window"]


class UserView(NamedTuple):
    """A live session as others may see it."""

    nick: str
    connected: bool
    channels: list[str]
    away: str | None
    #: What an IRC client said in USER (the nick for anyone else: Flack keeps none).
    username: str
    realname: str
    #: Its user modes (``flackd.codec.usermodes``): ``o`` server operator, ``B`` bot,
    #: ``w`` gets WALLOPS.
    modes: str = ""


class ChannelView(NamedTuple):
    """A channel as anyone may see it."""

    name: str
    members: list[str]  # nicks, sorted ignoring case
    topic: str
    topic_setter: str
    topic_time: str


class ChannelListing(NamedTuple):
    """A channel as LIST shows it, with its times (IRC's ELIST filters on them)."""

    name: str
    members: int
    topic: str
    #: When its topic was set (``YYYY-MM-DDThh:mm:ss.sssZ``; empty if it has none).
    topic_time: str
    #: When it was made (seconds since the epoch; 0 if unknown).
    created: float


#: The windows :meth:`flackd.hub.Hub.history_window` knows (CHATHISTORY's subcommands but TARGETS).
HISTORY_WINDOWS: Final = ("LATEST", "BEFORE", "AFTER", "AROUND", "BETWEEN")


@dataclass(frozen=True, slots=True)
class Ref:
    """A point in a history: a message id, or a time (``YYYY-MM-DDThh:mm:ss.sssZ``)."""

    msgid: str | None = None
    time: str | None = None


@dataclass(frozen=True, slots=True)
class Window:
    """What :meth:`flackd.hub.Hub.history_window` found: the target's name as the asker knows it
    and its messages, oldest first; or ``error`` (``INVALID_TARGET``, ``INVALID_PARAMS``)."""

    name: str
    messages: list[Message]
    error: str | None = None

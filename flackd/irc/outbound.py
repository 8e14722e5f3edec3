"""IRC out: the hub's events as IRC lines for one client, and IRC's numerics.

Owns: :class:`Renderer` (one per IRC connection: what that client negotiated and the
state of the reply block being rendered), every numeric reply flackd sends, the welcome
burst and ISUPPORT. Imports only the standard library, ``flackd.codec`` (the event
types, the name rules), ``flackd.limits`` and ``flackd.irc.wire``: never trio, never the
hub.

Rules:

1. A client gets tags only for capabilities it negotiated (``server-time``: the stored
   time; ``message-tags``: ``msgid``, the Flack id).
2. Without ``echo-message`` a client does not get its own messages back (IRC clients show
   what they sent themselves); with it, the echo carries the stored id and time.
3. Text from Flack passes :func:`~flackd.irc.wire.strip_controls`: no ESC, no C1, no
   control bytes reach an IRC client that Flack would not show.
4. Events IRC has no word for are said as NOTICEs from the server (edits, unread counts,
   notes), never dropped silently; deletions are dropped (IRC cannot take a line back).
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Final

from flackd.codec import events as e
from flackd.codec.text import CHANNEL_MAX_CHARS, NICK_MAX_CHARS
from flackd.irc.wire import format_message, server_time, strip_controls
from flackd.limits import Limits

__all__ = ["CAPABILITIES", "DEFAULT_IRC_NAME", "Renderer", "UserInfo", "irc_isupport"]

#: The server name IRC clients see (001, the source of numerics): ``--irc-name``.
DEFAULT_IRC_NAME: Final = "flackd.local"

#: The capabilities flackd offers (CAP LS), each one honest: see docs/irc.md.
CAPABILITIES: Final = ("echo-message", "message-tags", "multi-prefix", "server-time")
#: Host part of every user's prefix (``nick!nick@flack``): Flack does not show addresses.
USER_HOST: Final = "flack"
#: Names per 353 line at most (its bytes stay far under 512 with 16-character nicks).
NAMES_PER_LINE: Final = 20

#: Flack error codes as IRC numerics, by the Flack command they answer (``*``: any).
_NUMERIC_ERRORS: Final[dict[tuple[str, str], tuple[str, str]]] = {
    ("NICK_IN_USE", "*"): ("433", "Nickname is already in use"),
    ("INVALID_NICK", "*"): ("432", "Erroneous nickname"),
    ("NO_SUCH_NICK", "*"): ("401", "No such nick/channel"),
    ("NO_SUCH_CHANNEL", "*"): ("403", "No such channel"),
    ("INVALID_CHANNEL", "*"): ("403", "No such channel"),
    ("NOT_IN_CHANNEL", "MSG"): ("404", "Cannot send to channel"),
    ("NOT_IN_CHANNEL", "ACTION"): ("404", "Cannot send to channel"),
    ("NOT_IN_CHANNEL", "*"): ("442", "You're not on that channel"),
    ("TOO_MANY_CHANNELS", "*"): ("405", "You have joined too many channels"),
    ("NOT_REGISTERED", "*"): ("451", "You have not registered"),
    ("UNKNOWN_TOKEN", "*"): ("464", "Password incorrect"),
}
#: Flack command names as the IRC commands that lead to them (for 461 and 421 texts).
_IRC_COMMAND: Final = {"MSG": "PRIVMSG", "ACTION": "PRIVMSG", "LIST": "LIST"}


class UserInfo:
    """What an IRC client said about itself at registration (Flack keeps none of it)."""

    __slots__ = ("realname", "username")

    def __init__(self, username: str = "", realname: str = "") -> None:
        self.username = username
        self.realname = realname


class Renderer:
    """Events -> IRC lines for one client (see the module docstring)."""

    __slots__ = (
        "_block",
        "_history_skip",
        "_names",
        "caps",
        "history_lines",
        "isupport",
        "nick",
        "server",
        "stats",
        "version",
        "wanted",
    )

    def __init__(
        self,
        server: str,
        version: str,
        history_lines: int,
        isupport: Sequence[str],
        stats: Callable[[], tuple[int, int]],
    ) -> None:
        self.server = server
        self.version = version
        self.isupport = tuple(isupport)
        #: (users, channels) for the welcome burst's LUSERS.
        self.stats = stats
        #: The nick the client asked for when it resumed a session by its token (PASS):
        #: the session's own nick may differ, and the client is told with a NICK line.
        self.wanted: str | None = None
        #: Messages of a channel's history shown on JOIN (``--irc-history``).
        self.history_lines = history_lines
        self.nick = "*"
        self.caps: set[str] = set()
        self._block: str | None = None
        self._names: list[str] = []
        self._history_skip = 0

    # -- building lines ----------------------------------------------------------------

    def numeric(self, code: str, *params: str) -> bytes:
        return format_message(code, (self.nick, *params), source=self.server)

    def server_notice(self, text: str) -> bytes:
        return format_message("NOTICE", (self.nick, strip_controls(text)), source=self.server)

    def _tags(self, when: str | None, msgid: str | None) -> dict[str, str] | None:
        caps = self.caps
        if not caps:
            return None
        tags: dict[str, str] = {}
        if when is not None and "server-time" in caps:
            tags["time"] = server_time(when)
        if msgid is not None and "message-tags" in caps:
            tags["msgid"] = msgid
        return tags or None

    def welcome(self) -> bytes:
        """001-005 and LUSERS: what a client waits for after NICK/USER (the MOTD's 422
        follows the resume token's NOTICE)."""
        users, channels = self.stats()
        isupport = self.isupport
        lines = [
            self.numeric("001", f"Welcome to the Flack IRC network, {self.nick}"),
            self.numeric("002", f"Your host is {self.server}, running version {self.version}"),
            self.numeric("003", "This server speaks Flack and IRC into one chat"),
            self.numeric("004", self.server, self.version, "i", "n"),
        ]
        for start in range(0, len(isupport), 12):
            chunk = isupport[start : start + 12]
            lines.append(self.numeric("005", *chunk, "are supported by this server"))
        lines.append(self.lusers(users=users, channels=channels))
        return b"".join(lines)

    def lusers(self, *, users: int, channels: int) -> bytes:
        return b"".join(
            [
                self.numeric("251", f"There are {users} users and 0 invisible on 1 servers"),
                self.numeric("252", "0", "operator(s) online"),
                self.numeric("254", str(channels), "channels formed"),
                self.numeric("255", f"I have {users} clients and 0 servers"),
                self.numeric("265", str(users), str(users), f"Current local users {users}"),
                self.numeric("266", str(users), str(users), f"Current global users {users}"),
            ]
        )

    def topic(self, channel: str, text: str, setter: str, when: str) -> bytes:
        """332 and 333 for a channel with a topic; nothing for one without."""
        if not text:
            return b""
        return self.numeric("332", channel, strip_controls(text)) + self.numeric(
            "333", channel, setter, str(_unix(when))
        )

    def who_line(self, channel: str, nick: str, flag: str) -> bytes:
        """One 352 line (Flack has no user names, hosts or real names: the nick stands in)."""
        return self.numeric("352", channel, nick, USER_HOST, self.server, nick, flag, f"0 {nick}")

    def names(self, channel: str, nicks: Iterable[str]) -> bytes:
        nicks = list(nicks)
        lines = [
            self.numeric("353", "=", channel, " ".join(nicks[i : i + NAMES_PER_LINE]))
            for i in range(0, len(nicks), NAMES_PER_LINE)
        ]
        lines.append(self.numeric("366", channel, "End of /NAMES list"))
        return b"".join(lines)

    # -- rendering events --------------------------------------------------------------

    def render(self, event: object) -> bytes:
        """A broadcast event (someone else's doing, or the echo of one's own)."""
        kind = type(event)
        if kind is e.Message:
            assert isinstance(event, e.Message)
            return self._message(event, live=True)
        if kind is e.Joined:
            assert isinstance(event, e.Joined)
            return format_message("JOIN", (event.channel,), source=_prefix(event.nick))
        if kind is e.Parted:
            assert isinstance(event, e.Parted)
            params = (event.channel, event.reason) if event.reason else (event.channel,)
            return format_message("PART", params, source=_prefix(event.nick))
        if kind is e.Quit:
            assert isinstance(event, e.Quit)
            return format_message("QUIT", (f"Quit: {event.reason}",), source=_prefix(event.nick))
        if kind is e.NickChanged:
            assert isinstance(event, e.NickChanged)
            line = format_message("NICK", (event.new,), source=_prefix(event.old))
            if event.old.lower() == self.nick.lower():
                self.nick = event.new
            return line
        if kind is e.Topic:
            assert isinstance(event, e.Topic)
            return format_message(
                "TOPIC", (event.channel, strip_controls(event.text)), source=_prefix(event.setter)
            )
        return self.render_reply((event,))

    def render_reply(self, events: Iterable[object]) -> bytes:
        """The lines that answer one command of this client (or the server's own)."""
        out: list[bytes] = []
        joined: str | None = None
        events = list(events)
        for event in events:  # a registration: the welcome burst comes first
            if type(event) is e.Ok and event.command in ("NICK", "RESUME"):
                out.append(self._registered(event))
        for event in events:
            kind = type(event)
            if kind is e.Ok:
                assert isinstance(event, e.Ok)
                if event.command in ("JOIN", "CREATE"):
                    joined = event.params[0]
                    out.append(format_message("JOIN", (joined,), source=_prefix(self.nick)))
                # MARK has no IRC form.
            elif kind is e.Topic:
                assert isinstance(event, e.Topic)
                out.append(self._topic_reply(event, on_join=joined == event.channel))
            elif kind is e.BlockStart:
                assert isinstance(event, e.BlockStart)
                out.append(self._block_start(event))
            elif kind is e.BlockEnd:
                assert isinstance(event, e.BlockEnd)
                out.append(self._block_end(event))
            elif kind is e.Member:
                assert isinstance(event, e.Member)
                self._names.append(event.nick)
            elif kind is e.Message:
                assert isinstance(event, e.Message)
                if self._history_skip > 0:
                    self._history_skip -= 1
                else:
                    out.append(self._message(event, live=self._block != "HISTORY"))
            elif kind is e.ChannelEntry:
                assert isinstance(event, e.ChannelEntry)
                out.append(
                    self.numeric(
                        "322", event.channel, str(event.members), strip_controls(event.topic)
                    )
                )
            elif kind is e.Joined:  # RESUME: the channels one is back in
                assert isinstance(event, e.Joined)
                out.append(format_message("JOIN", (event.channel,), source=_prefix(event.nick)))
            else:
                out.append(self._other(event))
        return b"".join(out)

    def _registered(self, ok: e.Ok) -> bytes:
        self.nick = ok.params[0]
        token = next((p[6:] for p in ok.params if p.startswith("token=")), "")
        lines = [self.welcome()]
        wanted, self.wanted = self.wanted, None
        if wanted is not None and wanted != self.nick:
            lines.append(format_message("NICK", (self.nick,), source=_prefix(wanted)))
        lines.append(
            self.server_notice(
                f"Your Flack resume token is {token} (it changes each time you use it). Keep "
                "it secret; give it as the server password (PASS) to come back as "
                f"{self.nick}, with your channels, from any IRC or Flack client."
            )
        )
        lines.append(self.numeric("422", "MOTD File is missing"))
        return b"".join(lines)

    def _other(self, event: object) -> bytes:
        if isinstance(event, e.Error):
            return self.error(event)
        if isinstance(event, e.Bye):
            return format_message("ERROR", (f"Closing link: {strip_controls(event.text)}",))
        if isinstance(event, e.Ping):
            return format_message("PING", (event.token or self.server,))
        if isinstance(event, e.Pong):
            return format_message(
                "PONG", (self.server, event.token or self.server), source=self.server
            )
        if isinstance(event, e.Info):
            return self.server_notice(event.text)
        if isinstance(event, e.Note):
            return self.server_notice(f"{event.code}: {event.text}")
        if isinstance(event, e.UnreadCount):
            return self.server_notice(
                f"unread in {event.target}: {event.unread} ({event.mentions} mentioning you)"
            )
        if isinstance(event, e.Edited):
            return format_message(
                "NOTICE",
                (_irc_target(event.target), f"(edited) {strip_controls(event.text)}"),
                source=_prefix(event.editor),
                tags=self._tags(event.time, event.id),
            )
        return b""  # HELLO, DELETED, ...: nothing an IRC client would understand

    def error(self, error: e.Error) -> bytes:
        known = _NUMERIC_ERRORS.get((error.code, error.command)) or _NUMERIC_ERRORS.get(
            (error.code, "*")
        )
        if known is not None:
            code, text = known
            if code == "451":
                return format_message(code, ("*", text), source=self.server)
            target = error.params[0] if error.params else "*"
            return self.numeric(code, target, text)
        if error.code == "NEED_MORE_PARAMS":
            return self.numeric(
                "461", _IRC_COMMAND.get(error.command, error.command), "Not enough parameters"
            )
        return self.server_notice(f"{error.code} {error.command}: {error.text}")

    def _topic_reply(self, topic: e.Topic, *, on_join: bool) -> bytes:
        if not topic.text:
            return b"" if on_join else self.numeric("331", topic.channel, "No topic is set")
        return self.numeric("332", topic.channel, strip_controls(topic.text)) + self.numeric(
            "333", topic.channel, topic.setter, str(_unix(topic.time))
        )

    def _block_start(self, start: e.BlockStart) -> bytes:
        self._block = start.kind
        if start.kind == "NAMES":
            self._names = []
        elif start.kind == "HISTORY":
            count = int(start.params[-1])
            self._history_skip = max(0, count - self.history_lines)
        elif start.kind == "LIST":
            return self.numeric("321", "Channel", "Users  Name")
        return b""

    def _block_end(self, end: e.BlockEnd) -> bytes:
        self._block = None
        if end.kind == "NAMES":
            names, self._names = self._names, []
            return self.names(end.params[0], names)
        if end.kind == "LIST":
            return self.numeric("323", "End of /LIST")
        self._history_skip = 0
        return b""

    def _message(self, message: e.Message, *, live: bool) -> bytes:
        me = self.nick.lower()
        mine = live and message.author.lower() == me and message.target.lower() != me
        if mine and "echo-message" not in self.caps:
            return b""  # the client showed it when it sent it (a note to oneself it gets)
        text = strip_controls(message.text)
        if not live and "server-time" not in self.caps:
            text = f"[{_clock(message.time)}] {text}"
        if message.action:
            text = f"\x01ACTION {text}\x01"
        return format_message(
            "PRIVMSG",
            (_irc_target(message.target), text or " "),
            source=_prefix(message.author),
            tags=self._tags(message.time, message.id),
        )


def irc_isupport(limits: Limits, network: str) -> list[str]:
    """The ISUPPORT (005) tokens: what Flack's names and limits really are."""
    return [
        "CASEMAPPING=ascii",
        "CHANTYPES=#",
        f"CHANNELLEN={CHANNEL_MAX_CHARS + 1}",
        f"NICKLEN={NICK_MAX_CHARS}",
        f"TOPICLEN={limits.max_line_bytes}",
        "PREFIX=",
        "CHANMODES=,,,n",
        f"CHANLIMIT=#:{limits.max_joins}",
        f"NETWORK={network}",
        "UTF8ONLY",
        "TARGMAX=JOIN:,PART:,PRIVMSG:,NOTICE:,NAMES:",
        "AWAYLEN=200",
    ]


def _prefix(nick: str) -> str:
    return f"{nick}!{nick}@{USER_HOST}"


def _irc_target(target: str) -> str:
    return target


def _unix(iso: str) -> int:
    """Seconds since the epoch of a Flack time (``2026-12-03T02:51:22.123Z``); 0 if none."""
    try:
        return calendar.timegm(time.strptime(iso[:19], "%Y-%m-%dT%H:%M:%S"))
    except ValueError:
        return 0


def _clock(iso: str) -> str:
    """``YYYY-MM-DD HH:MM`` UTC of a Flack time, for history lines of clients without
    server-time."""
    return f"{iso[:10]} {iso[11:16]}Z" if len(iso) >= 16 else iso

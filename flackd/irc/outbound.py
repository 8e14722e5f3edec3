"""IRC out: the hub's events as IRC lines for one client.

Owns: :class:`Renderer` (one per IRC connection: the state of the reply block being
rendered, history batches, tags by negotiated capability) and the capabilities flackd
offers; the numerics themselves are :mod:`flackd.irc.numerics`. Imports only the
standard library, ``flackd.codec`` (the event types) and ``flackd.irc``: never trio,
never the hub.

Rules:

1. A client gets tags only for capabilities it negotiated (``server-time``: the stored
   time; ``message-tags``: ``msgid``, the Flack id, and ``bot`` on the messages of a
   user who is a bot now, user mode ``+B``).
2. Without ``echo-message`` a client does not get its own messages back (IRC clients show
   what they sent themselves); with it, the echo carries the stored id and time.
3. Text from Flack passes :func:`~flackd.codec.text.neutralise`, as on Flack's port: no
   ESC, no C1, no control bytes reach an IRC client.
4. Events IRC has no word for are said as NOTICEs from the server (edits, unread counts,
   notes), never dropped silently; deletions are dropped (IRC cannot take a line back)
   but to clients with ``draft/message-redaction`` (``REDACT``, with the reason if any).
5. Membership prefixes (``@``, ``+``; all of them with ``multi-prefix``) and a secret
   channel's ``@`` in 353 come from the hub's views at the time the NAMES is rendered.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from typing import Final

from flackd.codec import events as e
from flackd.codec.text import neutralise
from flackd.codec.usermodes import BOT_MODE
from flackd.irc.ctcp import ctcp_line
from flackd.irc.markers import CAPABILITY as MARKER_CAP
from flackd.irc.markers import markread_line
from flackd.irc.modes import MASK_BLOCKS, kicked_line, mask_end, mask_line, mode_line
from flackd.irc.numerics import (
    DEFAULT_IRC_INFO,
    ChannelState,
    Numerics,
    error_line,
    prefix,
    unix_time,
)
from flackd.irc.opers import user_mode_line, wallops_line
from flackd.irc.presence import AwayChanged, Monitored, NickPresence, RealnameChanged
from flackd.irc.wire import ctcp, format_message, server_time
from flackd.views import UserView

__all__ = ["CAPABILITIES", "Renderer"]

#: The capabilities flackd offers (CAP LS), each one honest: see docs/irc.md.
CAPABILITIES: Final = (
    "away-notify",
    "batch",
    "cap-notify",
    "draft/chathistory",
    "draft/message-redaction",
    "draft/read-marker",
    "echo-message",
    "extended-join",
    "extended-monitor",
    "labeled-response",
    "message-tags",
    "multi-prefix",
    "sasl",
    "server-time",
    "setname",
    "userhost-in-names",
)


class Renderer(Numerics):
    """Events -> IRC lines for one client (see the module docstring)."""

    __slots__ = (
        "_bans",
        "_batch",
        "_batches",
        "_block",
        "_history_skip",
        "_names",
        "channels",
        "history_lines",
        "markers",
        "users",
    )

    def __init__(
        self,
        server: str,
        version: str,
        history_lines: int,
        isupport: Sequence[str],
        stats: Callable[[], tuple[int, int, int, int]],
        info: str = DEFAULT_IRC_INFO,
    ) -> None:
        super().__init__(server, version, isupport, stats, info)
        #: Messages of a channel's history shown on JOIN (``--irc-history``).
        self.history_lines = history_lines
        self._block: str | None = None
        self._names: list[tuple[str, str]] = []  # (nick, role) of the open NAMES block
        #: The channel of the open BANS (EXCEPTS, INVEXES) block.
        self._bans = "*"
        self._history_skip = 0
        #: The reference of the open ``chathistory`` batch (``batch`` capability), if any.
        self._batch: str | None = None
        self._batches = itertools.count(1)
        #: Who a nick is now (extended-join's real name, away-notify's mark on JOIN).
        self.users: Callable[[str], UserView | None] = lambda nick: None
        #: A channel's modes and roles as this client may see them (NAMES prefixes, 329).
        self.channels: Callable[[str], ChannelState | None] = lambda name: None
        #: The time of the client's read marker in a channel (draft/read-marker on JOIN).
        self.markers: Callable[[str], str | None] = lambda name: None

    # -- building lines ----------------------------------------------------------------

    def _tags(self, when: str | None, msgid: str | None) -> dict[str, str] | None:
        caps = self.caps
        if not caps:
            return None
        tags: dict[str, str] = {}
        if self._batch is not None:
            tags["batch"] = self._batch
        if when is not None and "server-time" in caps:
            tags["time"] = server_time(when)
        if msgid is not None and "message-tags" in caps:
            tags["msgid"] = msgid
        return tags or None

    # -- rendering events --------------------------------------------------------------

    def _open_batch(self, *kind_and_params: str) -> bytes:
        """``BATCH +<ref> <kind> [params]`` to a client with ``batch`` (the lines rendered
        until :meth:`_close_batch` carry its tag); nothing to one without."""
        if "batch" not in self.caps:
            return b""
        self._batch = f"b{next(self._batches)}"
        return format_message("BATCH", (f"+{self._batch}", *kind_and_params), source=self.server)

    def _close_batch(self) -> bytes:
        batch, self._batch = self._batch, None
        return b"" if batch is None else format_message("BATCH", (f"-{batch}",), source=self.server)

    def history_batch(self, target: str, messages: Sequence[e.Message]) -> bytes:
        """A CHATHISTORY answer: ``messages`` as a ``chathistory`` batch (with ``batch``),
        else as plain lines."""
        lines = [self._open_batch("chathistory", target)]
        lines += [self._message(message, live=False) for message in messages]
        lines.append(self._close_batch())
        return b"".join(lines)

    def targets_batch(self, targets: Sequence[tuple[str, str]]) -> bytes:
        """CHATHISTORY TARGETS' answer: a ``draft/chathistory-targets`` batch of
        ``CHATHISTORY TARGETS <target> <time of its newest message>`` lines."""
        lines = [self._open_batch("draft/chathistory-targets")]
        tags = {"batch": self._batch} if self._batch is not None else None
        lines += [
            format_message(
                "CHATHISTORY", ("TARGETS", target, server_time(when)), source=self.server, tags=tags
            )
            for target, when in targets
        ]
        lines.append(self._close_batch())
        return b"".join(lines)

    def render(self, event: object) -> bytes:
        """A broadcast event (someone else's doing, or the echo of one's own)."""
        kind = type(event)
        if kind is e.Message:
            assert isinstance(event, e.Message)
            return self._message(event, live=True)
        if kind is e.Joined:
            assert isinstance(event, e.Joined)
            return self._join(event.channel, event.nick)
        if kind is AwayChanged:
            assert isinstance(event, AwayChanged)
            if "away-notify" not in self.caps:
                return b""
            text = (event.text,) if event.text else ()
            return format_message("AWAY", text, source=prefix(event.nick))
        if kind is NickPresence:
            assert isinstance(event, NickPresence)
            if event.online:
                return self.numeric("730", prefix(event.nick))
            return self.numeric("731", event.nick)
        if kind is Monitored:
            assert isinstance(event, Monitored)
            return self.render(event.event) if "extended-monitor" in self.caps else b""
        if kind is RealnameChanged:
            assert isinstance(event, RealnameChanged)
            if "setname" not in self.caps:
                return b""
            return format_message("SETNAME", (event.realname,), source=prefix(event.nick))
        if kind is e.Parted:
            assert isinstance(event, e.Parted)
            reason = neutralise(event.reason)
            params = (event.channel, reason) if reason else (event.channel,)
            return format_message("PART", params, source=prefix(event.nick))
        if kind is e.Quit:
            assert isinstance(event, e.Quit)
            return format_message(
                "QUIT", (f"Quit: {neutralise(event.reason)}",), source=prefix(event.nick)
            )
        if kind is e.NickChanged:
            assert isinstance(event, e.NickChanged)
            line = format_message("NICK", (event.new,), source=prefix(event.old))
            if event.old.lower() == self.nick.lower():
                self.nick = event.new
            return line
        if kind is e.Topic:
            assert isinstance(event, e.Topic)
            return format_message(
                "TOPIC", (event.channel, neutralise(event.text)), source=prefix(event.setter)
            )
        if kind is e.ModeChanged:
            assert isinstance(event, e.ModeChanged)
            if event.channel[:1] != "#":
                return user_mode_line(self, event)
            return mode_line(self, event, None)
        if kind is e.Kicked:
            assert isinstance(event, e.Kicked)
            return kicked_line(event)
        return self.render_reply((event,))

    def render_reply(self, events: Iterable[object]) -> bytes:
        """The lines that answer one command of this client (or the server's own)."""
        out: list[bytes] = []
        joined: str | None = None
        events = list(events)
        for event in events:  # a registration: the welcome burst comes first
            if type(event) is e.Ok and event.command in ("NICK", "RESUME"):
                out.append(self.registered(event))
        for event in events:
            kind = type(event)
            if kind is e.Ok:
                assert isinstance(event, e.Ok)
                if event.command in ("JOIN", "CREATE"):
                    joined = event.params[0]
                    out.append(self._join(joined, self.nick))
                elif event.command == "INVITE":
                    out.append(self.numeric("341", *event.params[:2]))
                elif event.command == "OPER":
                    out.append(self.numeric("381", "You are now an IRC operator"))
                # MARK has no IRC form.
            elif kind is e.Topic:
                assert isinstance(event, e.Topic)
                out.append(self._topic_reply(event, on_join=joined == event.channel))
            elif kind is e.BlockStart:
                assert isinstance(event, e.BlockStart)
                out.append(self._block_start(event))
            elif kind is e.BlockEnd:
                assert isinstance(event, e.BlockEnd)
                out.append(self._block_end(event, joined))
            elif kind is e.Member:
                assert isinstance(event, e.Member)
                self._names.append((event.nick, event.role))
            elif kind is e.BanEntry or kind is e.ExceptEntry or kind is e.InvexEntry:
                assert isinstance(event, e.MaskEntry)
                out.append(mask_line(self, self._bans, event))
            elif kind is e.ModeChanged:  # MODE #c: the answer to the query
                assert isinstance(event, e.ModeChanged)
                if event.channel[:1] != "#":  # a user's own modes
                    out.append(user_mode_line(self, event))
                    continue
                state = self.channels(event.channel)
                out.append(mode_line(self, event, state[1] if state is not None else None))
            elif kind is e.Message:
                assert isinstance(event, e.Message)
                if self._history_skip > 0:
                    self._history_skip -= 1
                else:
                    out.append(self._message(event, live=self._block != "HISTORY"))
            elif kind is e.ChannelEntry and self._block == "INVITES":  # INVITE alone
                assert isinstance(event, e.ChannelEntry)
                out.append(self.numeric("336", event.channel))
            elif kind is e.ChannelEntry:
                assert isinstance(event, e.ChannelEntry)
                out.append(
                    self.numeric("322", event.channel, str(event.members), neutralise(event.topic))
                )
            elif kind is e.Joined:  # RESUME: the channels one is back in
                assert isinstance(event, e.Joined)
                out.append(self._join(event.channel, event.nick))
            else:
                out.append(self._other(event))
        return b"".join(out)

    def _join(self, channel: str, nick: str) -> bytes:
        """``nick`` joined ``channel``: with ``extended-join`` also the account (``*``:
        Flack has no accounts) and the real name; with ``away-notify`` then its away mark,
        if it has one."""
        caps = self.caps
        if "extended-join" not in caps and "away-notify" not in caps:
            return format_message("JOIN", (channel,), source=prefix(nick))
        user = self.users(nick)
        params: tuple[str, ...] = (channel,)
        if "extended-join" in caps:
            params = (channel, "*", user.realname if user is not None else nick)
        line = format_message("JOIN", params, source=prefix(nick))
        if "away-notify" in caps and user is not None and user.away:
            line += format_message("AWAY", (user.away,), source=prefix(nick))
        return line

    def _other(self, event: object) -> bytes:
        if isinstance(event, e.Error):
            return self.error(event)
        if isinstance(event, e.Bye):
            if event.code == "BAD_PASSWORD":  # ERR_PASSWDMISMATCH, then ERROR (Modern)
                return self.numeric("464", "Password incorrect") + error_line(event.text)
            return error_line(event.text)
        if isinstance(event, e.Ping):
            return format_message("PING", (event.token or self.server,))
        if isinstance(event, e.Pong):
            return format_message(
                "PONG", (self.server, event.token or self.server), source=self.server
            )
        if isinstance(event, e.Info):
            return self.server_notice(event.text)
        if isinstance(event, e.Ctcp):
            return ctcp_line(event, self.nick, self.caps)
        if isinstance(event, e.Wallops):
            return wallops_line(event)
        if isinstance(event, e.Note):
            if event.code == "INVITED" and len(event.params) == 2:
                channel, inviter = event.params
                return format_message("INVITE", (self.nick, channel), source=prefix(inviter))
            return self.server_notice(f"{event.code}: {event.text}")
        if isinstance(event, e.UnreadCount):
            return self.server_notice(
                f"unread in {event.target}: {event.unread} ({event.mentions} mentioning you)"
            )
        if isinstance(event, e.Edited):
            return format_message(
                "NOTICE",
                (event.target, f"(edited) {neutralise(event.text)}"),
                source=prefix(event.editor),
                tags=self._tags(event.time, event.id),
            )
        if isinstance(event, e.Deleted):
            if "draft/message-redaction" not in self.caps:
                return b""  # IRC without redaction cannot take a line back
            reason = neutralise(event.reason)
            params = (event.channel, event.id, reason) if reason else (event.channel, event.id)
            return format_message("REDACT", params, source=prefix(event.nick))
        return b""  # HELLO, ...: nothing an IRC client would understand

    def _topic_reply(self, topic: e.Topic, *, on_join: bool) -> bytes:
        if not topic.text:
            return b"" if on_join else self.numeric("331", topic.channel, "No topic is set")
        return self.numeric("332", topic.channel, neutralise(topic.text)) + self.numeric(
            "333", topic.channel, topic.setter, str(unix_time(topic.time))
        )

    def _block_start(self, start: e.BlockStart) -> bytes:
        self._block = start.kind
        if start.kind == "NAMES":
            self._names = []
        elif start.kind == "HISTORY":
            # A JOIN's recent messages (CHATHISTORY is answered from the hub's views, not
            # with HISTORY): at most --irc-history of them, a chathistory batch with
            # ``batch``.
            target, count = start.params[0], int(start.params[-1])
            self._history_skip = max(0, count - self.history_lines)
            if count > self._history_skip:
                return self._open_batch("chathistory", target)
        elif start.kind == "LIST":
            return self.numeric("321", "Channel", "Users  Name")
        elif start.kind in MASK_BLOCKS:
            self._bans = start.params[0] if start.params else "*"
        return b""

    def _block_end(self, end: e.BlockEnd, joined: str | None = None) -> bytes:
        self._block = None
        if end.kind == "NAMES":
            names, self._names = self._names, []
            channel = end.params[0]
            if joined != channel or MARKER_CAP not in self.caps:
                return self._names_lines(channel, names)
            # draft/read-marker: a JOIN's MARKREAD comes before its 366.
            return (
                self._names_lines(channel, names, end=False)
                + markread_line(self.server, channel, self.markers(channel))
                + self.numeric("366", channel, "End of /NAMES list")
            )
        if end.kind == "LIST":
            return self.numeric("323", "End of /LIST")
        if end.kind in MASK_BLOCKS:
            return mask_end(self, end.kind, end.params[0] if end.params else self._bans)
        if end.kind == "INVITES":
            return self.numeric("337", "End of /INVITE list")
        self._history_skip = 0
        return self._close_batch()

    def _names_lines(self, channel: str, names: list[tuple[str, str]], end: bool = True) -> bytes:
        """353s and 366 of a NAMES block. The block has each member's highest role; the
        views add the others (an operator's voice, for multi-prefix) when they agree with
        it (a reply held for a commit is rendered later: the block says how it was)."""
        state = self.channels(channel)
        roles = state[2] if state is not None else {}
        members = []
        for nick, role in names:
            said = _ROLE_MODES.get(role, "")
            modes = roles.get(nick, said)
            highest = "o" if "o" in modes else modes[:1]
            members.append((nick, modes if highest == said else said))
        return self.names(channel, members, secret=state is not None and "s" in state[0], end=end)

    def _message(self, message: e.Message, *, live: bool) -> bytes:
        me = self.nick.lower()
        mine = live and message.author.lower() == me and message.target.lower() != me
        if mine and "echo-message" not in self.caps:
            return b""  # the client showed it when it sent it (a note to oneself it gets)
        text = neutralise(message.text)
        if not live and "server-time" not in self.caps:
            text = f"[{_clock(message.time)}] {text}"
        if message.action:
            text = ctcp("ACTION", text)
        tags = self._tags(message.time, message.id)
        if tags is not None and "message-tags" in self.caps:
            author = self.users(message.author)  # IRCv3 bot mode: the author is +B now
            if author is not None and BOT_MODE in author.modes:
                tags["bot"] = ""
        line = format_message(
            "NOTICE" if message.notice and not message.action else "PRIVMSG",
            (message.target, text or " "),
            source=prefix(message.author),
            tags=tags,
        )
        if (
            live
            and "echo-message" in self.caps
            and message.author.lower() == me == (message.target.lower())
        ):
            return line + line  # to oneself: the echo, then the message received
        return line


#: A NAMES block's roles as member modes.
_ROLE_MODES: Final = {"op": "o", "voice": "v"}


def _clock(iso: str) -> str:
    """``YYYY-MM-DD HH:MM`` UTC of a Flack time, for history lines of clients without
    server-time."""
    return f"{iso[:10]} {iso[11:16]}Z" if len(iso) >= 16 else iso

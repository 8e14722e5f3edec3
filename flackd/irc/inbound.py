"""IRC in: one IRC client's lines as hub commands (the IRC-only queries: flackd.irc.queries).

Owns: :class:`IrcClient` (registration: CAP, PASS, NICK, USER; then the command table),
the :class:`Directory` it reads for queries the hub has no command for (answered in
:mod:`flackd.irc.queries`), and the actions it hands the server. Channel modes and KICK
are translated in :mod:`flackd.irc.modes`, CHATHISTORY and REDACT in
:mod:`flackd.irc.chathistory`. Imports only the
standard library, ``flackd.codec`` and ``flackd.irc``: never trio, never the hub.

:meth:`IrcClient.receive` is a generator of actions, carried out by the server in order
(:class:`Run`: a Flack command through the hub, exactly as if a Flack client had sent it;
``bytes``: lines for this client, in their turn; :class:`Announce`: a volatile change told
to those who share a channel (:mod:`flackd.irc.presence`); :class:`Disconnect`). The server carries
out each action before it asks for the next, so what follows a command sees its outcome
(registration completes inside NICK or RESUME, as on Flack's port).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from flackd.codec import commands as c
from flackd.codec.grammar import VERBS, Verb
from flackd.codec.text import is_valid_channel, is_valid_nick
from flackd.irc.chathistory import chathistory, redact
from flackd.irc.ctcp import queries
from flackd.irc.elist import list_lines, parse_query
from flackd.irc.help import INFO_QUERIES
from flackd.irc.labels import LabelCapture
from flackd.irc.markers import markread, markread_line
from flackd.irc.modes import kick, mode
from flackd.irc.numerics import ChannelState, word
from flackd.irc.opers import info, kill, oper, user_mode, wallops
from flackd.irc.outbound import CAPABILITIES, Renderer
from flackd.irc.presence import REALLEN, Announce, Monitors, away, monitor, setname
from flackd.irc.queries import QUERIES
from flackd.irc.sasl import MECHANISMS, SaslPlain
from flackd.irc.wire import IrcMessage, format_message, parse_ctcp, strip_formatting
from flackd.views import ChannelListing, ChannelView, Ref, UserView, Window

__all__ = ["Announce", "Directory", "Disconnect", "IrcClient", "Own", "Run"]


@dataclass(frozen=True, slots=True)
class Run:
    """Carry out this Flack command for the client, through the hub."""

    verb: Verb
    command: c.Command


@dataclass(frozen=True, slots=True)
class Disconnect:
    """Close the connection, saying ``reason`` in its last line (ERROR)."""

    reason: str


Action = Run | Disconnect | Announce | bytes


class Own(Protocol):
    """What the IRC side may read and set of its own connection's session."""

    def registered(self) -> bool: ...
    def set_away(self, text: str | None) -> None: ...
    def set_identity(self, username: str, realname: str) -> None: ...
    def history(self, kind: str, target: str, refs: tuple[Ref, ...], limit: int) -> Window: ...
    def targets(self, after: str, before: str, limit: int) -> list[tuple[str, str]]: ...
    def message_info(self, msgid: str) -> tuple[str, str] | None: ...
    def nick(self) -> str | None: ...
    def channel_state(self, name: str) -> ChannelState | None:
        """A channel's flags, when it was made and its members' modes, if the session may
        see it (a secret one only from inside)."""
        ...

    def channel_list(self) -> list[ChannelListing]:
        """The channels the session may list (a secret one only from inside), by name."""
        ...

    def read_marker(self, target: str) -> str | None:
        """When the last message read there was sent ("" none held); None: no marker."""
        ...


class Directory(Protocol):
    """What the IRC side may read of the hub's state (queries only, never rules)."""

    def channel_info(self, name: str) -> ChannelView | None:
        """A channel's name, members, topic, its setter and time, if any."""
        ...

    def user_info(self, nick: str) -> UserView | None:
        """A live session as others see it, if any."""
        ...

    def token_owner(self, token: str) -> str | None:
        """The nick of the live session ``token`` would resume, if any."""
        ...

    def whowas(self, nick: str, count: int) -> list[tuple[str, str, str]]:
        """(nick, username, realname) of the last times ``nick`` was given up."""
        ...


#: Commands a client may send before it is registered (the rest get 451).
#: The most characters of USER's username and realname kept (ISUPPORT USERLEN).
USERLEN: Final = 10
_BEFORE_REGISTRATION: Final = frozenset(
    {"AUTHENTICATE", "CAP", "PASS", "NICK", "USER", "PING", "PONG", "QUIT"}
)


class UserInfo:
    """What an IRC client said about itself at registration (Flack keeps none of it)."""

    __slots__ = ("realname", "username")

    def __init__(self, username: str = "", realname: str = "") -> None:
        self.username = username
        self.realname = realname


def _run(name: str, command: c.Command) -> Run:
    return Run(VERBS[name], command)


class IrcClient:
    """One IRC connection's translator (see the module docstring)."""

    def __init__(
        self,
        renderer: Renderer,
        directory: Directory,
        own: Own,
        isupport: Sequence[str],
        max_history: int = 100,
        monitors: Monitors | None = None,
        handle: object = None,
        monitor_limit: int = 100,
        server_password: bool = False,
        list_max: int = 100,
    ) -> None:
        """``directory`` reads anyone's state; ``own`` acts on this client's own session;
        ``monitors`` is the server's MONITOR registry, where this client is ``handle``.
        ``server_password``: the server has a password, so PASS carries it (checked by the
        server as Flack's PASS) and a session is resumed with SASL only."""
        self.out = renderer
        self.directory = directory
        self.own = own
        self.registered = own.registered
        self.set_away = own.set_away
        self.set_identity = own.set_identity
        self.history = own.history
        self.targets = own.targets
        self.message_info = own.message_info
        self.channel_state = own.channel_state
        self.max_history = max_history
        self.monitors = monitors if monitors is not None else Monitors()
        self.handle = handle if handle is not None else self
        self.monitor_limit = monitor_limit
        self.server_password = server_password
        if server_password:
            renderer.resume_by = "give it as the SASL PLAIN password, with your nick as the user,"
        self.list_max = list_max
        self.isupport = tuple(isupport)
        self.user = UserInfo()
        self._nick: str | None = None
        self._password: str | None = None
        self._negotiating = False
        self._cap_version = 0
        self.sasl = SaslPlain(renderer, directory.token_owner)
        self.labels = LabelCapture(renderer.server)
        renderer.users = directory.user_info
        renderer.channels = own.channel_state
        renderer.markers = own.read_marker

    # -- the server's side ---------------------------------------------------------------

    def render(self, event: object) -> bytes:
        return self.out.render(event)

    def passthrough(self, data: bytes) -> bytes:
        return self.labels.passthrough(data)

    def label_of(self, message: IrcMessage) -> str | None:
        """The label of ``message`` if its answer is to be labeled (labeled-response);
        the server then queues :data:`~flackd.irc.labels.BEGIN` and ``END`` around it."""
        label = message.tags.get("label")
        if not label or "labeled-response" not in self.out.caps:
            return None
        self.labels.expect(label)
        return label

    def render_reply(self, events: Iterable[object]) -> bytes:
        return self.out.render_reply(events)

    def too_long(self, limit: int) -> bytes:
        return self.out.numeric("417", f"Input line was too long (over {limit} bytes)")

    def invalid_utf8(self) -> bytes:
        return format_message(
            "FAIL",
            ("*", "INVALID_UTF8", "Message rejected, your message was not UTF-8"),
            source=self.out.server,
        )

    # -- entry -------------------------------------------------------------------------

    def receive(self, message: IrcMessage) -> Iterator[Action]:
        """The actions that carry out ``message`` (see the module docstring)."""
        command = message.command
        current = self.own.nick()
        if current is not None:
            # Replies built now address the nick the hub has now, even while the NICK line
            # that changed it still waits for a commit (--data-dir).
            self.out.nick = current
        if not self.registered() and command not in _BEFORE_REGISTRATION:
            yield self.out.numeric("451", "You have not registered")
            return
        handler = _HANDLERS.get(command)
        if handler is None:
            yield self.out.numeric("421", command, "Unknown command")
            return
        yield from handler(self, message.params)

    # -- registration ------------------------------------------------------------------

    def _cap(self, params: Sequence[str]) -> Iterator[Action]:
        sub = params[0].upper() if params else ""
        target = self.out.nick
        if sub == "LS":
            if not self.registered():
                self._negotiating = True
            version = params[1] if len(params) > 1 else ""
            number = int(version) if version.isdecimal() and len(version) < 6 else 0
            self._cap_version = max(self._cap_version, number)
            values = self._cap_version >= 302  # 302 clients get values: sasl=PLAIN
            sasl = f"sasl={MECHANISMS}" if values else "sasl"
            offered = [sasl if cap == "sasl" else cap for cap in CAPABILITIES]
            yield _cap_line(target, "LS", " ".join(offered))
        elif sub == "LIST":
            yield _cap_line(target, "LIST", " ".join(sorted(self.out.caps)))
        elif sub == "REQ":
            if not self.registered():
                self._negotiating = True
            asked = params[1].split() if len(params) > 1 else []
            names = [a.lstrip("-") for a in asked]
            if asked and all(n in CAPABILITIES for n in names):
                for a in asked:
                    if a.startswith("-"):
                        self.out.caps.discard(a[1:])
                    else:
                        self.out.caps.add(a)
                yield _cap_line(target, "ACK", " ".join(asked))
            else:
                yield _cap_line(target, "NAK", " ".join(asked))
        elif sub == "END":
            if self._negotiating and not self.registered():
                self._negotiating = False
                yield from self._try_register()
        else:
            yield self.out.numeric("410", sub or "*", "Invalid CAP command")

    def _pass(self, params: Sequence[str]) -> Iterator[Action]:
        if self.registered():
            yield self.out.numeric("462", "You may not reregister")
        elif not params or not params[0]:
            yield self.out.numeric("461", "PASS", "Not enough parameters")
        elif self.server_password:
            yield _run("PASS", c.Pass(params[0]))
        else:
            self._password = params[0]

    def _nick_command(self, params: Sequence[str]) -> Iterator[Action]:
        if not params or not params[0]:
            yield self.out.numeric("431", "No nickname given")
            return
        if not is_valid_nick(params[0]):
            yield self.out.numeric(
                "432", params[0], "Erroneous nickname: 1-16 letters, digits, _ or -"
            )
            return
        if self.registered():
            yield _run("NICK", c.Nick(params[0]))
            return
        self._nick = params[0]
        yield from self._try_register()

    def _authenticate(self, params: Sequence[str]) -> Iterator[Action]:
        if not params:
            yield self.out.numeric("461", "AUTHENTICATE", "Not enough parameters")
            return
        negotiated = "sasl" in self.out.caps
        yield from self.sasl.step(params[0], registered=self.registered(), negotiated=negotiated)
        if self.sasl.token is not None:
            self._password = self.sasl.token

    def _user_command(self, params: Sequence[str]) -> Iterator[Action]:
        if self.registered():
            yield self.out.numeric("462", "You may not reregister")
            return
        if len(params) < 4 or not params[0] or not params[3]:
            yield self.out.numeric("461", "USER", "Not enough parameters")
            return
        username = "".join(ch for ch in params[0] if (ch.isascii() and ch.isalnum()) or ch in "._-")
        self.user = UserInfo(f"~{username[:USERLEN]}", strip_formatting(params[3])[:REALLEN])
        yield from self._try_register()

    def _try_register(self) -> Iterator[Action]:
        """NICK and USER are in, and CAP negotiation (if any) is over: register."""
        if self._nick is None or not self.user.username or self._negotiating:
            return
        if self._password is None:
            yield _run("NICK", c.Nick(self._nick))
            if self.registered():
                self.set_identity(self.user.username, self.user.realname)
            return
        self.out.wanted = self._nick
        yield _run("RESUME", c.Resume(self._password))
        if not self.registered():
            yield Disconnect("that password is not a resume token this server knows")
            return
        self.set_identity(self.user.username, self.user.realname)
        for name in self._my_channels():
            found = self.directory.channel_info(name)
            if found is not None:
                yield self.out.topic(found[0], found[2], found[3], found[4])
            yield _run("NAMES", c.Names(name))
            if "draft/read-marker" in self.out.caps:
                yield markread_line(self.out.server, name, self.own.read_marker(name))

    @property
    def nick(self) -> str:
        """The client's nick as the hub has it now (the renderer's may lag behind a commit)."""
        return self.own.nick() or self.out.nick

    def _my_channels(self) -> list[str]:
        me = self.directory.user_info(self.nick)
        return me[2] if me is not None else []

    # -- channels ----------------------------------------------------------------------

    def _join(self, params: Sequence[str]) -> Iterator[Action]:
        if not params:
            yield self.out.numeric("461", "JOIN", "Not enough parameters")
            return
        if params[0] == "0":
            for name in self._my_channels():
                yield _run("PART", c.Part(name, "Left all channels"))
            return
        keys = params[1].split(",") if len(params) > 1 else []
        for index, name in enumerate(params[0].split(",")):
            if not is_valid_channel(name):
                yield self.out.numeric("403", name or "*", "No such channel")
            else:
                key = keys[index] if index < len(keys) else ""
                yield _run("JOIN", c.Join(name, key or None))

    def _invite(self, params: Sequence[str]) -> Iterator[Action]:
        if not params:  # the channels one is invited to: 336 each, 337
            yield _run("INVITE", c.Invites())
            return
        if len(params) < 2:
            yield self.out.numeric("461", "INVITE", "Not enough parameters")
            return
        yield _run("INVITE", c.Invite(params[0], params[1]))

    def _mode(self, params: Sequence[str]) -> Iterator[Action]:
        steps = user_mode(self, params) if params and params[0][:1] != "#" else mode(self, params)
        for step in steps:
            yield step if isinstance(step, bytes) else _run("MODE", step)

    def _markread(self, params: Sequence[str]) -> Iterator[Action]:
        for step in markread(self, params):
            yield step if isinstance(step, bytes) else _run("MARK", step)

    def _kick(self, params: Sequence[str]) -> Iterator[Action]:
        for step in kick(self, params):
            yield step if isinstance(step, bytes) else _run("KICK", step)

    def _part(self, params: Sequence[str]) -> Iterator[Action]:
        if not params:
            yield self.out.numeric("461", "PART", "Not enough parameters")
            return
        reason = strip_formatting(params[1]) if len(params) > 1 else ""
        for name in params[0].split(","):
            if name:
                yield _run("PART", c.Part(name, reason))

    def _topic(self, params: Sequence[str]) -> Iterator[Action]:
        if not params:
            yield self.out.numeric("461", "TOPIC", "Not enough parameters")
        elif len(params) == 1:
            yield _run("TOPIC", c.Topic(params[0]))
        else:
            yield _run("TOPIC", c.Topic(params[0], strip_formatting(params[1])))

    def _list(self, params: Sequence[str]) -> Iterator[Action]:
        if params and params[0]:  # ELIST's conditions (flackd.irc.elist)
            query = parse_query(params[0])
            yield list_lines(self.out, self.own.channel_list(), query, self.list_max)
        else:
            yield _run("LIST", c.ListChannels())

    # -- messages ----------------------------------------------------------------------

    def _privmsg(self, params: Sequence[str], notice: bool = False) -> Iterator[Action]:
        verb = "NOTICE" if notice else "PRIVMSG"
        if not params or not params[0]:
            if not notice:
                yield self.out.numeric("411", f"No recipient given ({verb})")
            return
        if len(params) < 2 or not params[1]:
            if not notice:
                yield self.out.numeric("412", "No text to send")
            return
        text = params[1]
        ctcp = parse_ctcp(text)
        action = False
        if ctcp is not None:
            if ctcp[0] != "ACTION":
                yield from (_run("CTCP", q) for q in queries(params[0], ctcp, notice))
                return
            action, text = True, ctcp[1]
        text = strip_formatting(text).strip()
        if not text:
            if not notice:
                yield self.out.numeric("412", "No text to send")
            return
        for target in params[0].split(","):
            if not target:
                continue  # (the hub's refusal of a NOTICE is not sent: numerics.error)
            if action:
                yield _run("ACTION", c.Action(target, text))
            elif notice:
                yield _run("NOTICE", c.Notice(target, text))
            else:
                yield _run("MSG", c.Msg(target, text))
            if not notice and not target.startswith("#"):
                user = self.directory.user_info(target)
                if user is not None and user[1] and user[3]:
                    yield self.out.numeric("301", user[0], user[3])  # they are away

    def _notice(self, params: Sequence[str]) -> Iterator[Action]:
        return self._privmsg(params, notice=True)

    def _ping(self, params: Sequence[str]) -> Iterator[Action]:
        if not params or not params[0]:
            yield self.out.numeric("409", "No origin specified")
        else:
            yield _run("PING", c.Ping(params[-1]))

    def _pong(self, params: Sequence[str]) -> Iterator[Action]:
        yield _run("PONG", c.Pong(params[-1] if params else None))

    def _quit(self, params: Sequence[str]) -> Iterator[Action]:
        reason = strip_formatting(params[0]) if params else ""
        yield _run("QUIT", c.Quit(reason))


def _cap_line(target: str, sub: str, text: str) -> bytes:
    return format_message("CAP", (word(target), word(sub), text))


_Handler = Callable[[IrcClient, Sequence[str]], Iterator[Action]]


def _through_hub(
    verb: str, handler: Callable[[IrcClient, Sequence[str]], Iterator[bytes | c.Command]]
) -> _Handler:
    """A handler whose commands are Flack's ``verb``, run through the hub."""

    def run(client: IrcClient, params: Sequence[str]) -> Iterator[Action]:
        for step in handler(client, params):
            yield step if isinstance(step, bytes) else _run(verb, step)

    return run


_HANDLERS: Final[dict[str, _Handler]] = {
    **QUERIES,
    **INFO_QUERIES,
    "INFO": info,
    "KILL": _through_hub("KILL", kill),
    "OPER": _through_hub("OPER", oper),
    "WALLOPS": _through_hub("WALLOPS", wallops),
    "AWAY": away,
    "MONITOR": monitor,
    "SETNAME": setname,
    "AUTHENTICATE": IrcClient._authenticate,
    "CAP": IrcClient._cap,
    "CHATHISTORY": chathistory,
    "INVITE": IrcClient._invite,
    "JOIN": IrcClient._join,
    "KICK": IrcClient._kick,
    "LIST": IrcClient._list,
    "MARKREAD": IrcClient._markread,
    "MODE": IrcClient._mode,
    "NICK": IrcClient._nick_command,
    "NOTICE": IrcClient._notice,
    "PART": IrcClient._part,
    "PASS": IrcClient._pass,
    "PING": IrcClient._ping,
    "PONG": IrcClient._pong,
    "PRIVMSG": IrcClient._privmsg,
    "QUIT": IrcClient._quit,
    "REDACT": _through_hub("DELETE", redact),
    "TOPIC": IrcClient._topic,
    "USER": IrcClient._user_command,
}

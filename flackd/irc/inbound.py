"""IRC in: one IRC client's lines as hub commands (the IRC-only queries: flackd.irc.queries).

Owns: :class:`IrcClient` (one connection's translator: its state, the command table,
channel and message commands), and the :class:`Directory` and :class:`Own` it reads for
queries the hub has no command for (answered in :mod:`flackd.irc.queries`).
Registration (CAP, PASS, NICK, USER, AUTHENTICATE) is :mod:`flackd.irc.registration`'s,
channel modes and KICK :mod:`flackd.irc.modes`', CHATHISTORY and REDACT
:mod:`flackd.irc.chathistory`'s. Imports only the standard library, ``flackd.codec``,
``flackd.views`` and ``flackd.irc``: never trio, never the hub.

:meth:`IrcClient.receive` is a generator of actions (:mod:`flackd.irc.actions`), carried
out by the server in order (:class:`~flackd.irc.actions.Run`: a Flack command through the
hub, exactly as if a Flack client had sent it; ``bytes``: lines for this client, in their
turn; :class:`~flackd.irc.presence.Announce`: a volatile change told to those who share a
channel; :class:`~flackd.irc.actions.Disconnect`). The server carries out each action
before it asks for the next, so what follows a command sees its outcome (registration
completes inside NICK or RESUME, as on Flack's port).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Final, Protocol

from flackd.codec import commands as c
from flackd.codec.text import is_valid_channel
from flackd.irc.actions import Action, run
from flackd.irc.chathistory import chathistory, redact
from flackd.irc.ctcp import queries
from flackd.irc.elist import list_lines, parse_query
from flackd.irc.help import INFO_QUERIES
from flackd.irc.labels import LabelCapture
from flackd.irc.markers import markread
from flackd.irc.modes import kick, mode
from flackd.irc.numerics import ChannelState
from flackd.irc.opers import info, kill, oper, user_mode, wallops
from flackd.irc.outbound import Renderer
from flackd.irc.presence import Monitors, away, monitor, setname
from flackd.irc.queries import QUERIES
from flackd.irc.registration import (
    BEFORE_REGISTRATION,
    Registration,
    UserInfo,
    authenticate,
    cap,
    nick,
    pass_,
    user,
)
from flackd.irc.sasl import SaslPlain
from flackd.irc.wire import IrcMessage, format_message, parse_ctcp, strip_formatting
from flackd.views import ChannelListing, ChannelView, Ref, UserView, Window

__all__ = ["Directory", "IrcClient", "Own"]


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
        #: What it said on its way in (:mod:`flackd.irc.registration`).
        self.joining = Registration()
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
        if not self.registered() and command not in BEFORE_REGISTRATION:
            yield self.out.numeric("451", "You have not registered")
            return
        handler = _HANDLERS.get(command)
        if handler is None:
            yield self.out.numeric("421", command, "Unknown command")
            return
        yield from handler(self, message.params)

    @property
    def nick(self) -> str:
        """The client's nick as the hub has it now (the renderer's may lag behind a commit)."""
        return self.own.nick() or self.out.nick

    def my_channels(self) -> list[str]:
        """The channels the client is in, as the hub has them now."""
        me = self.directory.user_info(self.nick)
        return me[2] if me is not None else []

    # -- channels ----------------------------------------------------------------------

    def _join(self, params: Sequence[str]) -> Iterator[Action]:
        if not params:
            yield self.out.numeric("461", "JOIN", "Not enough parameters")
            return
        if params[0] == "0":
            for name in self.my_channels():
                yield run("PART", c.Part(name, "Left all channels"))
            return
        keys = params[1].split(",") if len(params) > 1 else []
        for index, name in enumerate(params[0].split(",")):
            if not is_valid_channel(name):
                yield self.out.numeric("403", name or "*", "No such channel")
            else:
                key = keys[index] if index < len(keys) else ""
                yield run("JOIN", c.Join(name, key or None))

    def _invite(self, params: Sequence[str]) -> Iterator[Action]:
        if not params:  # the channels one is invited to: 336 each, 337
            yield run("INVITE", c.Invites())
            return
        if len(params) < 2:
            yield self.out.numeric("461", "INVITE", "Not enough parameters")
            return
        yield run("INVITE", c.Invite(params[0], params[1]))

    def _mode(self, params: Sequence[str]) -> Iterator[Action]:
        steps = user_mode(self, params) if params and params[0][:1] != "#" else mode(self, params)
        for step in steps:
            yield step if isinstance(step, bytes) else run("MODE", step)

    def _markread(self, params: Sequence[str]) -> Iterator[Action]:
        for step in markread(self, params):
            yield step if isinstance(step, bytes) else run("MARK", step)

    def _kick(self, params: Sequence[str]) -> Iterator[Action]:
        for step in kick(self, params):
            yield step if isinstance(step, bytes) else run("KICK", step)

    def _part(self, params: Sequence[str]) -> Iterator[Action]:
        if not params:
            yield self.out.numeric("461", "PART", "Not enough parameters")
            return
        reason = strip_formatting(params[1]) if len(params) > 1 else ""
        for name in params[0].split(","):
            if name:
                yield run("PART", c.Part(name, reason))

    def _topic(self, params: Sequence[str]) -> Iterator[Action]:
        if not params:
            yield self.out.numeric("461", "TOPIC", "Not enough parameters")
        elif len(params) == 1:
            yield run("TOPIC", c.Topic(params[0]))
        else:
            yield run("TOPIC", c.Topic(params[0], strip_formatting(params[1])))

    def _list(self, params: Sequence[str]) -> Iterator[Action]:
        if params and params[0]:  # ELIST's conditions (flackd.irc.elist)
            query = parse_query(params[0])
            yield list_lines(self.out, self.own.channel_list(), query, self.list_max)
        else:
            yield run("LIST", c.ListChannels())

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
                yield from (run("CTCP", q) for q in queries(params[0], ctcp, notice))
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
                yield run("ACTION", c.Action(target, text))
            elif notice:
                yield run("NOTICE", c.Notice(target, text))
            else:
                yield run("MSG", c.Msg(target, text))
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
            yield run("PING", c.Ping(params[-1]))

    def _pong(self, params: Sequence[str]) -> Iterator[Action]:
        yield run("PONG", c.Pong(params[-1] if params else None))

    def _quit(self, params: Sequence[str]) -> Iterator[Action]:
        reason = strip_formatting(params[0]) if params else ""
        yield run("QUIT", c.Quit(reason))


_Handler = Callable[[IrcClient, Sequence[str]], Iterator[Action]]


def _through_hub(
    verb: str, handler: Callable[[IrcClient, Sequence[str]], Iterator[bytes | c.Command]]
) -> _Handler:
    """A handler whose commands are Flack's ``verb``, run through the hub."""

    def through(client: IrcClient, params: Sequence[str]) -> Iterator[Action]:
        for step in handler(client, params):
            yield step if isinstance(step, bytes) else run(verb, step)

    return through


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
    "AUTHENTICATE": authenticate,
    "CAP": cap,
    "CHATHISTORY": chathistory,
    "INVITE": IrcClient._invite,
    "JOIN": IrcClient._join,
    "KICK": IrcClient._kick,
    "LIST": IrcClient._list,
    "MARKREAD": IrcClient._markread,
    "MODE": IrcClient._mode,
    "NICK": nick,
    "NOTICE": IrcClient._notice,
    "PART": IrcClient._part,
    "PASS": pass_,
    "PING": IrcClient._ping,
    "PONG": IrcClient._pong,
    "PRIVMSG": IrcClient._privmsg,
    "QUIT": IrcClient._quit,
    "REDACT": _through_hub("DELETE", redact),
    "TOPIC": IrcClient._topic,
    "USER": user,
}

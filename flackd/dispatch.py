"""Dispatch: one line of each wire carried out, in order, without awaiting.

Owns: Flack's lines decoded and parsed (``flackd.codec``) and handed to the hub, or to the
committer that holds their effects for a commit; IRC's lines handed to the connection's
:class:`flackd.irc.IrcClient`, whose actions run through the same path (a generator that
yields where a command must wait: for its password's check, or as one node of several
for the shared log); the server's password (PASS, checked at the door before NICK or
RESUME on every wire); OPER, set aside for the reader to check its password (scrypt) in a
worker thread and carried out after (:meth:`Dispatch._carry_out_oper`); the MONITOR
watchers told when a nick comes or goes; the server's own replies in their turn
(:meth:`Dispatch._say`); and :func:`render`, which turns events into the bytes of a
connection's wire. A mixin of :class:`flackd.server.Server` (through
:class:`flackd.reader.LineReader`, which frames the lines and keeps their limits).
Imports the standard library and the flackd modules it drives; never trio's I/O, never
flackcli.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from typing import TYPE_CHECKING, Final

from flackd.admission import ServerPassword
from flackd.codec import commands
from flackd.codec import events as e
from flackd.codec.errors import ProtocolError
from flackd.codec.grammar import Verb, parse_command
from flackd.codec.lines import encode_event
from flackd.codec.text import BadCharacter, InvalidUtf8, decode_line
from flackd.committer import Committer, carry_out
from flackd.connection import Connection
from flackd.fanout import push_to_all, release_hold
from flackd.hub import Effect, HubProtocol
from flackd.irc import (
    Announce,
    Disconnect,
    IrcClient,
    IrcParseError,
    Monitored,
    Monitors,
    NickPresence,
    Run,
    labels,
)
from flackd.irc import parse as parse_irc
from flackd.irc.wire import MAX_CLIENT_TAG_BYTES, split_tags
from flackd.limits import Limits
from flackd.replica import Replica

__all__ = ["Dispatch", "line_error", "render"]


#: The commands that can give a connection a nick, change it or end it (MONITOR's concern).
_NAMING: Final = frozenset({commands.Nick, commands.Resume, commands.Quit})


def _password_required(verb: str) -> e.Error:
    return e.Error(
        "PASSWORD_REQUIRED",
        verb,
        (),
        "this server has a password: send PASS <password> first, then NICK <name>",
    )


def line_error(code: str, text: str) -> bytes:
    """An ``ERR <code> * :text`` line: the server's answer to a line it could not read."""
    return encode_event(e.Error(code, "*", (), text))


class Dispatch:
    """The line side of :class:`flackd.server.Server` (see the module docstring)."""

    limits: Limits
    hub: HubProtocol[Connection]
    committer: Committer[Connection] | Replica | None
    clock: Callable[[], float]
    _bad_utf8: bytes
    monitors: Monitors
    replica: Replica | None
    password: ServerPassword | None
    #: Connections whose OPER waits for its password's check (scrypt, tens of
    #: milliseconds: run off the event loop by the reader, which reads no more of the
    #: connection until it is carried out: :meth:`_carry_out_oper`).
    oper_checks: dict[Connection, tuple[Verb, commands.Oper]]

    if TYPE_CHECKING:

        def apply(self, effects: Sequence[Effect[Connection]]) -> None: ...
        def _bye(self, conn: Connection, code: str, text: str) -> None: ...

    def _process(self, conn: Connection, raw: bytes) -> tuple[int, int]:
        """Carry out one complete client line; return its flood cost and liveness cost.

        PING and PONG cost nothing from the flood bucket but 1 from the (larger) liveness
        bucket; the PONG that answers our own PING costs nothing at all.
        """
        try:
            text = decode_line(raw)
        except InvalidUtf8:
            self._say(conn, self._bad_utf8)
            return 1, 0
        except BadCharacter as bad:
            self._say(
                conn,
                line_error(
                    "BAD_CHARACTER",
                    f"line holds control character 0x{bad.byte:02X}; only TAB is allowed; "
                    "it was dropped",
                ),
            )
            return 1, 0
        try:
            verb, command = parse_command(text)
        except ProtocolError as err:
            self._say(conn, encode_event(err.reply))
            return 1, 0
        if not self._run(conn, verb, command):
            return 0, 0
        return verb.cost, 0 if verb.cost else 1

    def _run(self, conn: Connection, verb: Verb, command: commands.Command) -> bool:
        """Carry out a parsed command through the hub; False if it was the PONG that
        answers the server's own PING (which costs nothing)."""
        naming = False
        victim = None
        if type(command) is not commands.Msg:  # the hot path: MSG concerns none of these
            # What the hub changes now, a front end may read as it renders the lines held
            # in this pass (an IRC JOIN's realname and away): they go out as they were.
            release_hold()
            if (
                type(command) is commands.Pong
                and conn.awaiting_pong is not None
                and command.token == conn.awaiting_pong
            ):
                conn.awaiting_pong = None
                conn.answers_pings = True
                return False
            if verb.before_registration and self._at_the_door(conn, verb, command):
                return True
            if type(command) is commands.Oper and (
                self.replica is not None or self.hub.is_registered(conn)
            ):  # (unregistered: refused by the hub below, with no password checked)
                self.oper_checks[conn] = (verb, command)  # checked off the loop, then run
                return True
            # A replica tells presence as it runs the log.
            naming = type(command) in _NAMING and bool(self.monitors) and not self.replica
            if type(command) is commands.Kill and self.monitors and not self.replica:
                victim = self.hub.user_info(command.nick)  # told offline if the KILL ends it
        before = self.hub.nick_of(conn) if naming else None
        if self.committer is None:
            self.apply(self.hub.handle(conn, verb, command, self.clock()))
        else:
            self.committer.handle(conn, verb, command, self.clock())
        if naming:
            after = self.hub.nick_of(conn)
            if (before or "").lower() != (after or "").lower():
                if before:
                    self.tell_presence(before, online=False)
                if after:
                    self.tell_presence(after, online=True)
        elif victim is not None and victim.connected and self.hub.user_info(victim.nick) is None:
            self.tell_presence(victim.nick, online=False)
        return True

    def _carry_out_oper(self, conn: Connection, verdict: str) -> None:
        """The OPER of ``conn`` whose password was checked (``verdict``, from
        :meth:`flackd.hub.HubProtocol.check_oper` in a worker thread), carried out in its
        turn: through the committer (or the shared log) like any command."""
        verb, command = self.oper_checks.pop(conn)
        if self.committer is None:
            self.apply(carry_out(self.hub, conn, verb, command, self.clock(), verdict))
        else:
            self.committer.handle(conn, verb, command, self.clock(), verdict)

    def _at_the_door(self, conn: Connection, verb: Verb, command: commands.Command) -> bool:
        """The server's password, for the verbs a connection may send before it has
        registered: PASS is answered here, and NICK or RESUME without the password is
        refused here. True if the command was dealt with (the hub never sees it)."""
        if type(command) is commands.Pass:
            self._pass(conn, command.password)
            return True
        if (
            self.password is not None
            and not conn.password_given
            and type(command) in (commands.Nick, commands.Resume)
            and not self.hub.is_registered(conn)
        ):
            self._tell(conn, _password_required(verb.name))
            return True
        return False

    def _pass(self, conn: Connection, given: str) -> None:
        """``PASS``: the server's password, checked here, at the door, on every wire (it
        never reaches the hub, its store or a shared log). A wrong one closes the
        connection, so guessing costs a connection each time (and --new-per-ip counts them)."""
        if self.hub.is_registered(conn):
            text = "PASS comes before NICK or RESUME; you are registered already"
            self._tell(conn, e.Error("ALREADY_REGISTERED", "PASS", (), text))
        elif self.password is None:
            self._tell(conn, e.Ok("PASS", (), "this server has no password; go on with NICK"))
        elif self.password.matches(given):
            conn.password_given = True
            self._tell(conn, e.Ok("PASS", (), "password accepted; now NICK <name> or RESUME"))
        else:
            self._bye(conn, "BAD_PASSWORD", "wrong server password")

    def _tell_watchers(self, conn: Connection, told: list[Connection], action: Announce) -> None:
        """Those who MONITOR the nick of ``action`` and were not told as neighbours get it
        as :class:`Monitored` (rendered only for clients with ``extended-monitor``)."""
        skip = {conn, *told}
        watchers = [
            w
            for w in self.monitors.watchers(action.event.nick)
            if isinstance(w, Connection) and w not in skip
        ]
        if watchers:
            push_to_all(watchers, b"", Monitored(action.event))

    def tell_presence(self, nick: str, *, online: bool) -> None:
        """Tell those who MONITOR ``nick`` (IRC clients) that it came online or went
        offline, whatever wire its user is on."""
        watchers = [w for w in self.monitors.watchers(nick) if isinstance(w, Connection)]
        if watchers:
            push_to_all(watchers, b"", NickPresence(nick, online))

    def _process_irc(
        self, conn: Connection, client: IrcClient, raw: bytes
    ) -> Generator[None, None, tuple[int, int]]:
        """One IRC line (see :mod:`flackd.irc`): the same hub, in the same order, with the
        same flood and liveness costs as a Flack line (PING and PONG are free).

        The translator reads the hub right after each command it hands over (did the NICK
        register? is the client in that channel now?). As one node of several (``--redis``)
        a command is carried out only when it comes back from the shared log, so there the
        translator waits for it before it goes on, and so does the connection's next line:
        this generator yields, the reader awaits the barrier and resumes it. Elsewhere it
        never yields. Returns the line's flood and liveness costs.
        """
        # Every IRC line may change what its own front end renders (a CAP, a NICK): the
        # lines held in this pass go out first, rendered as they were.
        release_hold()
        tags, rest = split_tags(raw)
        # A client's tags: at most 4094 bytes, with the '@' and the space (IRCv3).
        if rest + 2 > self.limits.max_line_bytes or tags > MAX_CLIENT_TAG_BYTES + 2:
            self._say(conn, client.too_long(self.limits.max_line_bytes))
            return 1, 0
        try:
            message = parse_irc(raw.decode("utf-8"))
        except UnicodeDecodeError:
            self._say(conn, client.invalid_utf8())
            return 1, 0
        except IrcParseError:
            return (1, 0) if raw.strip() else (0, 1)  # an empty line: ignored, like PING
        cost = 0 if message.command in ("PING", "PONG") else 1
        labeled = client.label_of(message) is not None
        if labeled:
            self._say(conn, labels.BEGIN)  # in its turn: behind what a commit holds
        try:
            for action in client.receive(message):
                if type(action) is Run:
                    if not self._run(conn, action.verb, action.command):
                        return 0, 0
                    if self.replica is not None or conn in self.oper_checks:
                        yield  # the reader awaits the check and the replica, then goes on
                elif type(action) is Announce:
                    # A volatile change (AWAY, SETNAME): the others' front ends render it;
                    # Flack's wire has no word for it, so only other wires' members hear.
                    others = [c for c in self.hub.neighbours(conn) if c.frontend is not None]
                    push_to_all(others, b"", action.event)
                    if self.monitors:  # extended-monitor: watchers who share no channel
                        self._tell_watchers(conn, others, action)
                elif type(action) is Disconnect:
                    if labeled:  # what the command said goes out, labeled, before the close
                        labeled = False
                        self._say(conn, labels.END)
                    self._bye(conn, "CLOSED", action.reason)
                    break
                elif action:
                    assert isinstance(action, bytes)
                    self._say(conn, action)
                if conn.is_closing():
                    break
        finally:
            if labeled:
                self._say(conn, labels.END)
        return cost, 0 if cost else 1

    def _tell(self, conn: Connection, event: e.Event, flack: bytes | None = None) -> None:
        """:meth:`_say` of one event of the server's own, in the connection's wire
        (``flack``: the event already encoded for Flack's)."""
        if conn.frontend is None and flack is not None:
            self._say(conn, flack)
        else:
            self._say(conn, render(conn, (event,)))

    def _say(self, conn: Connection, data: bytes) -> None:
        """Queue a line of the server's own (an error about a line) in its turn: behind the
        effects held for a commit, if any, so that replies keep the order of the lines."""
        if self.committer is None:
            conn.push(data)
        else:
            self.committer.submit(conn, "*", data)

    # -- one connection ------------------------------------------------------------------


def render(conn: Connection, events: Sequence[e.Event]) -> bytes:
    """``events`` as the bytes of ``conn``'s wire: Flack's lines, or its front end's."""
    frontend = conn.frontend
    if frontend is None:
        return b"".join([encode_event(ev) for ev in events])
    assert isinstance(frontend, IrcClient)
    return frontend.render_reply(events)

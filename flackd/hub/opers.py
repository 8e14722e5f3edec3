"""The server operators' rules and user modes: OPER, KILL, WALLOPS, ``MODE <own nick>``.

Owns: :class:`OperRules` (a mixin of :class:`flackd.hub.Hub`): checking OPER's
credentials against the administrator's (:mod:`flackd.hub.credentials`), a session's
user modes (``o`` server operator, ``w`` gets WALLOPS, ``B`` a bot: the letters are
:mod:`flackd.codec.usermodes`'), KILL and WALLOPS. Imports only the standard library,
``flackd.codec`` and the hub's own modules: never trio, never a store.

Rules (protocol.md, "Server operators and user modes"):

1. Server operators are configured by the administrator (``--oper NAME:HASH``), never by
   a client. ``OPER <name> <password>`` with a configured name and its password gives
   the session ``+o``; nothing else does.
2. User modes belong to the session: they last across a dropped connection and RESUME,
   are stored with the session, and end with it. ``-o`` (giving up being an operator),
   ``+w``/``-w`` and ``+B``/``-B`` are the user's own ``MODE``; nobody changes or reads
   another's user modes (NAMES shows who is a bot or an operator).
3. ``KILL`` ends a session as QUIT would (its token stops working, everyone who shared a
   channel with it sees its QUIT, with the operator's reason); its connection, if any,
   gets ``BYE KILLED``.
4. ``WALLOPS`` goes to every connected session with ``+w``, and back to its sender.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flackd.codec import events as e
from flackd.codec.errors import ProtocolError
from flackd.codec.text import fold, is_valid_nick
from flackd.codec.usermodes import (
    OPER_MODE,
    USER_MODES,
    WALLOPS_MODE,
    UserModeError,
    format_user_changes,
    format_user_modes,
    parse_user_changes,
)
from flackd.hub.base import HubBase
from flackd.hub.credentials import verify_password
from flackd.hub.effects import Broadcast, Close, Effect, Reply
from flackd.hub.state import C, Session

__all__ = ["OPER_OK", "OperRules"]

#: :meth:`OperRules.check_oper`'s verdict for a name and its password.
OPER_OK = "OK"


class OperRules(HubBase[C]):
    """Server operators and user modes (see the module docstring)."""

    if TYPE_CHECKING:
        # Session rules (flackd.hub.sessions) that KILL shares with QUIT.
        def _leave_all(
            self, session: Session[C], notice: e.Event, now: float
        ) -> list[Effect[C]]: ...
        def _forget(self, session: Session[C]) -> None: ...

    def check_oper(self, name: str, password: str) -> str:
        """:data:`OPER_OK`, ``UNKNOWN_OPER`` or ``BAD_PASSWORD``: what OPER's credentials
        are worth here. The one slow step of OPER (scrypt), and the only one that sees the
        password: a replica of a shared hub asks it before the OPER goes to the log, which
        then holds only the verdict (:mod:`flackd.replica`)."""
        encoded = self.opers.get(name)
        if encoded is None:
            return "UNKNOWN_OPER"
        return OPER_OK if verify_password(password, encoded) else "BAD_PASSWORD"

    def _oper(self, session: Session[C], name: str, verdict: str) -> list[Effect[C]]:
        assert session.conn is not None
        if verdict == "UNKNOWN_OPER":
            raise ProtocolError(
                "UNKNOWN_OPER",
                "OPER",
                f"this server has no operator called {name[:32]}",
                (name[:32],),
            )
        if verdict != OPER_OK:
            raise ProtocolError("BAD_PASSWORD", "OPER", "that password is not that operator's")
        lines: list[e.Event] = []
        if OPER_MODE not in session.modes:
            self._set_modes(session, session.modes + OPER_MODE)
            lines.append(e.ModeChanged(session.nick, session.nick, ("+o",)))
        text = (
            f"you are a server operator now ({name}): KILL and WALLOPS; "
            f"MODE {session.nick} -o ends it"
        )
        lines.append(e.Ok("OPER", (name,), text))
        return [Reply(session.conn, lines)]

    def _set_modes(self, session: Session[C], modes: str) -> None:
        session.modes = "".join(letter for letter in USER_MODES if letter in modes)
        if self.journal is not None:
            self.journal.session(session)

    def _check_server_operator(self, session: Session[C], verb: str) -> None:
        if OPER_MODE not in session.modes:
            raise ProtocolError(
                "NOT_SERVER_OPERATOR",
                verb,
                f"only server operators may use {verb}; OPER <name> <password> first",
            )

    def _user_mode(self, session: Session[C], nick: str, words: tuple[str, ...]) -> list[Effect[C]]:
        """``MODE <own nick> [changes]``: one's user modes shown, or changed."""
        assert session.conn is not None
        if fold(nick) != session.key:
            other = self._sessions.get(fold(nick)) if is_valid_nick(nick) else None
            if other is None or other.ended:
                raise ProtocolError("NO_SUCH_NICK", "MODE", f"nobody is called {nick}", (nick,))
            raise ProtocolError(
                "USERS_DONT_MATCH",
                "MODE",
                f"only your own user modes: MODE {session.nick} [+|-Bw]",
                (other.nick,),
            )
        if not words:
            shown = e.ModeChanged(session.nick, "*", (format_user_modes(session.modes),))
            return [Reply(session.conn, [shown])]
        try:
            changes = parse_user_changes(list(words))
        except UserModeError as err:
            raise ProtocolError(
                err.code,
                "MODE",
                f"{err}; user modes: B (bot), w (get WALLOPS), -o (stop being an operator)",
                (err.param,) if err.param else (),
            ) from None
        modes = session.modes
        applied: list[tuple[bool, str]] = []
        for on, letter in changes:
            if on and letter == OPER_MODE:
                continue  # only OPER gives +o (IRC servers ignore it the same way)
            if (letter in modes) == on:
                continue
            modes = modes + letter if on else modes.replace(letter, "")
            applied.append((on, letter))
        if not applied:
            text = f"nothing changed: your user modes are {format_user_modes(modes)}"
            return [Reply(session.conn, [e.Ok("MODE", (session.nick,), text)])]
        self._set_modes(session, modes)
        line = e.ModeChanged(session.nick, session.nick, (format_user_changes(applied),))
        return [Reply(session.conn, [line])]

    def _kill(self, session: Session[C], nick: str, reason: str, now: float) -> list[Effect[C]]:
        assert session.conn is not None
        self._check_server_operator(session, "KILL")
        target = self._sessions.get(fold(nick)) if is_valid_nick(nick) else None
        if target is None or target.ended:
            raise ProtocolError("NO_SUCH_NICK", "KILL", f"nobody is called {nick}", (nick,))
        said = f"Killed ({session.nick} ({reason or 'no reason given'}))"
        effects: list[Effect[C]] = []
        victim = target.conn
        if victim is not None:  # (a dropped session's channels saw it go already)
            effects += self._leave_all(target, e.Quit(target.nick, said), now)
            self._conns.pop(victim, None)
            effects.append(Close(victim, e.Bye("KILLED", (session.nick,), said), "killed"))
        name = target.nick
        self._forget(target)
        if target is not session:
            ok = e.Ok("KILL", (name,), f"{name}'s session has ended")
            effects.append(Reply(session.conn, [ok]))
        return effects

    def _wallops(self, session: Session[C], text: str) -> list[Effect[C]]:
        assert session.conn is not None
        self._check_server_operator(session, "WALLOPS")
        audience: dict[C, None] = {session.conn: None}
        for conn, other in self._conns.items():
            if other is not None and other.conn == conn and WALLOPS_MODE in other.modes:
                audience[conn] = None
        return [Broadcast(list(audience), e.Wallops(session.nick, text))]

"""The session rules: nicks, registration, resume tokens, quitting, detaching, expiry.

Owns: :class:`SessionRules`: NICK (registering and renaming; of twenty racing ``NICK x``
exactly one wins), RESUME (a new token each time; a ghost connection is closed), QUIT,
leaving every channel when a connection drops, and forgetting detached sessions past
``resume_ttl`` or beyond ``max_detached``. Imports only the standard library,
``flackd.codec`` and the hub's own modules: never trio, never a store.
"""

from __future__ import annotations

import math
import secrets

from flackd.codec import events as e
from flackd.codec.errors import ProtocolError
from flackd.codec.text import NICK_MAX_CHARS, fold, is_valid_nick
from flackd.hub.base import HubBase
from flackd.hub.effects import Broadcast, Close, Effect, Reply
from flackd.hub.state import C, Session, hash_token


class SessionRules(HubBase[C]):
    """Registration, nicks and sessions: who a connection is, and for how long."""

    @staticmethod
    def _not_registered(verb: str) -> e.Error:
        return e.Error(
            "NOT_REGISTERED",
            verb,
            (),
            "choose a nick first: NICK <name> (or RESUME <token> to come back)",
        )

    def _check_nick(self, command: str, nick: str, session: Session[C] | None, now: float) -> None:
        if not is_valid_nick(nick):
            raise ProtocolError(
                "INVALID_NICK",
                command,
                f"a nick is 1-{NICK_MAX_CHARS} ASCII letters, digits, _ or -, starting with a "
                "letter (server, system, flack and flackd are reserved); example: NICK alice",
            )
        self._expire(now)
        holder = self._sessions.get(fold(nick))
        if holder is not None and holder is not session:
            if holder.conn is None:
                assert holder.detached_at is not None
                left = max(1, math.ceil(holder.detached_at + self.limits.resume_ttl - now))
                text = (
                    f"{holder.nick} is held for a dropped session for up to {left} s more; "
                    "if it is yours, send RESUME <token>, otherwise pick another nick"
                )
            else:
                text = f"{holder.nick} is taken; pick another nick"
            raise ProtocolError("NICK_IN_USE", command, text, (holder.nick,))

    def _new_token(self) -> tuple[str, str]:
        """A new resume token and its hash (from :attr:`mint` when one is set: a replica
        of a shared hub is handed the token its NICK or RESUME was logged with)."""
        if self.mint is not None:
            return self.mint()
        token = secrets.token_urlsafe(16)
        while hash_token(token) in self._tokens:  # pragma: no cover - 128 random bits
            token = secrets.token_urlsafe(16)
        return token, hash_token(token)

    def _register(self, conn: C, nick: str, now: float) -> list[Effect[C]]:
        self._check_nick("NICK", nick, None, now)
        self._next_sid += 1
        token, token_hash = self._new_token()
        session: Session[C] = Session(self._next_sid, nick, token_hash, conn)
        self._sessions[session.key] = session
        self._tokens[token_hash] = session
        self._conns[conn] = session
        if self.journal is not None:
            self.journal.session(session)
        ok = e.Ok(
            "NICK",
            (nick, f"token={token}"),
            f"welcome, {nick}; keep the token to come back with RESUME; try LIST or JOIN #general",
        )
        return [Reply(conn, [ok])]

    def _rename(self, session: Session[C], nick: str, now: float) -> list[Effect[C]]:
        self._check_nick("NICK", nick, session, now)
        old = session.nick
        if nick == old:  # nothing changes: tell only the sender
            assert session.conn is not None
            return [Reply(session.conn, [e.NickChanged(old, nick)])]
        del self._sessions[session.key]
        for channel in session.channels.values():
            channel.remove(session, now)
        self._was(session)
        session.rename(nick)
        self._sessions[session.key] = session
        for channel in session.channels.values():
            channel.add(session)
        if self.journal is not None:
            self.journal.session(session)
            for conversation in session.conversations.values():
                self.journal.conversation(conversation)  # it keeps both nicks
        return [Broadcast(self._audience(session), e.NickChanged(old, nick))]

    def _audience(self, session: Session[C]) -> list[C]:
        """Every connection that shares a channel or a conversation with ``session``, and
        its own."""
        seen: dict[C, None] = {}
        if session.conn is not None:
            seen[session.conn] = None
        for channel in session.channels.values():
            for member in channel.members.values():
                if member.conn is not None:
                    seen[member.conn] = None
        for conversation in session.conversations.values():
            peer = conversation.peer(session)
            if peer.conn is not None:
                seen[peer.conn] = None
        return list(seen)

    def _resume(
        self, conn: C, current: Session[C] | None, token_hash: str, now: float
    ) -> list[Effect[C]]:
        if current is not None:
            raise ProtocolError(
                "ALREADY_REGISTERED",
                "RESUME",
                f"this connection is already {current.nick}; RESUME only works as the first "
                "command on a new connection",
            )
        self._expire(now)
        session = self._tokens.get(token_hash)
        if session is None:
            raise ProtocolError(
                "UNKNOWN_TOKEN",
                "RESUME",
                "that token is unknown, expired or from before a server restart; "
                "use NICK <name> instead",
            )
        effects: list[Effect[C]] = []
        ghost = session.conn
        if ghost is not None:
            # The old connection is still open (the client's network died silently):
            # hand the session over without telling the channels anything.
            self._conns.pop(ghost, None)
            bye = e.Bye("RESUMED", (), "your session was resumed from another connection")
            effects.append(Close(ghost, bye, "resumed elsewhere"))
        else:
            self._detached.pop(session, None)
            session.detached_at = None
        del self._tokens[session.token_hash]
        token, session.token_hash = self._new_token()
        self._tokens[session.token_hash] = session
        session.conn = conn
        session.away = session.identity = None  # the new connection says its own
        self._conns[conn] = session
        if self.journal is not None:
            self.journal.session(session)
        lines: list[e.Event] = []
        for channel in session.channels.values():
            if ghost is None:
                others = channel.conns()
                channel.add(session)
                if others:
                    effects.append(Broadcast(others, e.Joined(channel.name, session.nick)))
            else:
                channel.member_moved()
            lines.append(e.Joined(channel.name, session.nick))
        lines += self._unread_block(session)
        last = self._channels.get(session.last_channel or "")
        lines.append(
            e.Ok(
                "RESUME",
                (session.nick, f"token={token}", f"last={last.name if last else '*'}"),
                f"welcome back, {session.nick}; you are in {len(session.channels)} channel(s); "
                "use HISTORY <#channel|nick> AFTER <last id you saw> to catch up",
            )
        )
        effects.append(Reply(conn, lines))
        return effects

    def _quit(
        self, conn: C, session: Session[C] | None, reason: str, now: float
    ) -> list[Effect[C]]:
        bye = e.Bye("QUIT", (), "bye")
        effects: list[Effect[C]] = [Close(conn, bye, "quit")]
        self._conns.pop(conn, None)
        if session is not None:
            effects[:0] = self._leave_all(session, e.Quit(session.nick, reason or "quit"), now)
            self._forget(session)
        return effects

    def _leave_all(self, session: Session[C], notice: e.Event, now: float) -> list[Effect[C]]:
        """Take ``session`` out of every member list (it keeps its channel memory)."""
        audience: dict[C, None] = {}
        for channel in session.channels.values():
            channel.remove(session, now)
            for conn in channel.conns():
                audience[conn] = None
        return [Broadcast(list(audience), notice)] if audience else []

    def _forget(self, session: Session[C]) -> None:
        self._was(session)
        self._sessions.pop(session.key, None)
        self._tokens.pop(session.token_hash, None)
        self._detached.pop(session, None)
        for channel in session.channels.values():  # its roles end with it
            if session.sid in channel.ops or session.sid in channel.voiced:
                channel.ops.discard(session.sid)
                channel.voiced.discard(session.sid)
                if self.journal is not None:
                    self.journal.channel(channel.key, channel)
        session.channels.clear()
        session.markers.clear()
        session.ended = True
        session.conn = None  # an ended session has no connection (its QUIT's is closing)
        self._release_conversations(session)
        if self.journal is not None:
            self.journal.drop_session(session)

    def _was(self, session: Session[C]) -> None:
        """Remember the nick ``session`` gives up, for WHOWAS."""
        if self._whowas.maxlen != 0:
            username, realname = session.identity or (session.nick, session.nick)
            self._whowas.append((session.nick, username, realname))

    def _expire(self, now: float) -> None:
        """Forget detached sessions past their time or beyond ``max_detached``."""
        ttl = self.limits.resume_ttl
        while self._detached:
            oldest = next(iter(self._detached))
            assert oldest.detached_at is not None
            if oldest.detached_at + ttl > now and len(self._detached) <= self.limits.max_detached:
                break
            self._forget(oldest)

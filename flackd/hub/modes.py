"""The operator rules: MODE (show, list bans and exceptions, change) and KICK.

Owns: :class:`ModeRules`: answering ``MODE <#channel>`` with the channel's modes and
``MODE <#channel> +b`` (``+e``, ``+I``) with its bans (ban exceptions, invite exceptions),
carrying out a change list (operators only, checked
whole before any of it is applied, then told to every member as one ``MODE`` line with
what actually changed), and ``KICK``. What the modes refuse is :mod:`flackd.hub.gates`;
the words are :mod:`flackd.codec.modes`'s. Imports only the standard library,
``flackd.codec`` and the hub's own modules: never trio, never a store.

Who is an operator (protocol.md, "Channel operators and modes"):

1. Whoever creates a channel is its operator; operators make others operators (``+o``).
2. Operator and voice belong to a session in one channel: they last while it is in the
   channel (resumes included), and end when it leaves, is kicked, or ends.
3. A channel nobody is in and with no operator left (every operator left or ended) is
   open again: the next to join becomes its operator and its modes start over (+n), as an
   IRC channel that emptied would. Its topic and history stay.
"""

from __future__ import annotations

from flackd.codec import events as e
from flackd.codec.errors import ProtocolError
from flackd.codec.ids import format_timestamp
from flackd.codec.modes import (
    FLAG_MODES,
    LIMIT_MAX,
    LIST_MODES,
    MAX_CHANGES,
    Change,
    ModeError,
    format_changes,
    is_valid_key,
    normalise_mask,
    parse_changes,
)
from flackd.codec.text import fold, is_valid_nick
from flackd.hub.channels import ChannelRules
from flackd.hub.effects import Broadcast, Effect, Reply
from flackd.hub.gates import check_operator, visible
from flackd.hub.state import C, Channel, Session


def modes_line(channel: Channel[C], session: Session[C] | None) -> e.ModeChanged:
    """The answer to ``MODE <#channel>``: ``MODE #c * +nt`` (the key shown to members)."""
    spec = "+" + channel.flags
    params: list[str] = []
    if channel.passkey is not None:
        spec += "k"
        member = session is not None and channel.key in session.channels
        params.append(channel.passkey if member else "*")
    if channel.limit is not None:
        spec += "l"
        params.append(str(channel.limit))
    return e.ModeChanged(channel.name, "*", (spec, *params))


#: Each mask list: its block, the line of one entry, what one mask is called (errors).
_LISTS: dict[str, tuple[str, type[e.BanEntry | e.ExceptEntry | e.InvexEntry], str]] = {
    "b": ("BANS", e.BanEntry, "ban"),
    "e": ("EXCEPTS", e.ExceptEntry, "ban exception"),
    "I": ("INVEXES", e.InvexEntry, "invite exception"),
}


def list_block(channel: Channel[C], letter: str) -> list[e.Event]:
    """``BANS #c <n>``, a ``BAN`` line each, ``END BANS #c`` (``EXCEPTS``/``EXCEPT`` for
    ``e``, ``INVEXES``/``INVEX`` for ``I``)."""
    kind, entry, _ = _LISTS[letter]
    masks = channel.masks(letter)
    lines: list[e.Event] = [e.BlockStart(kind, (channel.name, str(len(masks))))]
    lines += [entry(mask, setter, time) for mask, setter, time in masks]
    lines.append(e.BlockEnd(kind, (channel.name,)))
    return lines


class ModeRules(ChannelRules[C]):
    """Channel operators: MODE and KICK."""

    def _mode(
        self, session: Session[C], name: str, words: tuple[str, ...], now: float
    ) -> list[Effect[C]]:
        assert session.conn is not None
        channel = self._existing("MODE", name)
        try:
            changes = parse_changes(list(words))
        except ModeError as err:
            raise ProtocolError(
                err.code,
                "MODE",
                f"{err}; usage: MODE <#channel> [+|-modes [params...]] (HELP MODE)",
                (err.param,) if err.param else (),
            ) from None
        if not changes:
            if not visible(channel, session):
                raise self._secret("MODE", channel)
            return [Reply(session.conn, [modes_line(channel, session)])]
        wanted = [ch for ch in changes if not (ch.letter in LIST_MODES and ch.param is None)]
        if not wanted:  # "MODE #c +b": the ban list (+e, +I: theirs; +be: both)
            if not visible(channel, session):
                raise self._secret("MODE", channel)
            asked = dict.fromkeys(ch.letter for ch in changes)
            return [Reply(session.conn, [x for k in asked for x in list_block(channel, k)])]
        channel = self._membership(session, "MODE", name)
        check_operator(channel, session, "MODE", "change its modes")
        if len(wanted) > MAX_CHANGES:
            raise ProtocolError(
                "INVALID_PARAMS",
                "MODE",
                f"at most {MAX_CHANGES} mode changes in one MODE; send the rest in another",
            )
        checked = [self._check_change(channel, change) for change in wanted]
        applied = [
            done for change in checked if (done := self._apply(channel, session, change, now))
        ]
        if not applied:
            text = f"nothing changed: {channel.name} has those modes already"
            ok = e.Ok("MODE", (channel.name,), text)
            return [Reply(session.conn, [ok])]
        channel.regate()
        if self.journal is not None:
            self.journal.channel(channel.key, channel)
        line = e.ModeChanged(channel.name, session.nick, tuple(format_changes(applied)))
        return [Broadcast(channel.conns(), line)]

    @staticmethod
    def _secret(verb: str, channel: Channel[C]) -> ProtocolError:
        return ProtocolError(
            "NOT_IN_CHANNEL",
            verb,
            f"{channel.name} is secret (+s): only its members see it",
            (channel.name,),
        )

    def _member_named(self, channel: Channel[C], verb: str, nick: str) -> Session[C]:
        """The session called ``nick`` that is in ``channel`` (connected or dropped)."""
        peer = self._sessions.get(fold(nick)) if is_valid_nick(nick) else None
        if peer is None or peer.ended:
            raise ProtocolError("NO_SUCH_NICK", verb, f"nobody is called {nick}", (nick,))
        if channel.key not in peer.channels:
            raise ProtocolError(
                "NOT_A_MEMBER",
                verb,
                f"{peer.nick} is not in {channel.name}",
                (peer.nick, channel.name),
            )
        return peer

    def _check_change(self, channel: Channel[C], change: Change) -> Change:
        """The change, its parameter made canonical; ProtocolError if it is not valid."""
        letter, param = change.letter, change.param
        if letter in "ov":
            assert param is not None
            return Change(change.on, letter, self._member_named(channel, "MODE", param).nick)
        if letter == "k" and change.on:
            assert param is not None
            if not is_valid_key(param):
                raise ProtocolError(
                    "INVALID_PARAMS",
                    "MODE",
                    "a key is 1-32 printable ASCII characters without spaces or commas",
                    (channel.name, "k", "*"),
                )
        if letter == "l" and change.on:
            assert param is not None
            if not (param.isascii() and param.isdigit() and 1 <= int(param[:8]) <= LIMIT_MAX):
                raise ProtocolError(
                    "INVALID_PARAMS",
                    "MODE",
                    f"a limit is a number from 1 to {LIMIT_MAX}",
                    (channel.name, "l", param[:16] or "*"),
                )
            return Change(True, "l", str(int(param)))
        if letter in LIST_MODES:
            assert param is not None
            what = _LISTS[letter][2]
            mask = normalise_mask(param)
            if mask is None:
                raise ProtocolError(
                    "INVALID_PARAMS",
                    "MODE",
                    f"a {what} mask is nick!user@host with * and ? (up to 100 characters)",
                    (channel.name, letter, "*"),
                )
            masks = channel.masks(letter)
            present = any(fold(m) == fold(mask) for m, _, _ in masks)
            if change.on and not present and len(masks) >= self.limits.channel_list_max:
                raise ProtocolError(
                    "LIST_FULL",
                    "MODE",
                    f"{channel.name} has {len(masks)} {what}s (+{letter}), the most it keeps; "
                    f"remove one first (MODE -{letter})",
                    (channel.name, letter, mask),
                )
            return Change(change.on, letter, mask)
        return change

    def _apply(
        self, channel: Channel[C], session: Session[C], change: Change, now: float
    ) -> Change | None:
        """Make a checked change; the change as told, or None if it changed nothing."""
        letter, on, param = change.letter, change.on, change.param
        if letter in "ov":
            assert param is not None
            sid = self._sessions[fold(param)].sid
            group = channel.ops if letter == "o" else channel.voiced
            if (sid in group) == on:
                return None
            if on:
                group.add(sid)
            else:
                group.discard(sid)
            return change
        if letter in FLAG_MODES:
            if (letter in channel.flags) == on:
                return None
            flags = set(channel.flags) ^ {letter}
            channel.flags = "".join(f for f in FLAG_MODES if f in flags)
            return change
        if letter == "k":
            if on:
                if channel.passkey == param:
                    return None
                channel.passkey = param
                return change
            if channel.passkey is None:
                return None
            channel.passkey = None
            return Change(False, "k", "*")
        if letter == "l":
            if on:
                limit = int(param or "0")
                if channel.limit == limit:
                    return None
                channel.limit = limit
                return change
            if channel.limit is None:
                return None
            channel.limit = None
            return Change(False, "l")
        assert letter in LIST_MODES
        assert param is not None
        masks = channel.masks(letter)
        index = next((i for i, (m, _, _) in enumerate(masks) if fold(m) == fold(param)), -1)
        if on == (index >= 0):
            return None
        if on:
            masks.append((param, session.nick, format_timestamp(now)))
        else:
            del masks[index]
        return change

    def _kick(
        self, session: Session[C], name: str, nick: str, reason: str, now: float
    ) -> list[Effect[C]]:
        channel = self._membership(session, "KICK", name)
        check_operator(channel, session, "KICK", "kick")
        peer = self._member_named(channel, "KICK", nick)
        conns = channel.conns()
        self._leave_channel(peer, channel, now)
        return [Broadcast(conns, e.Kicked(channel.name, peer.nick, session.nick, reason))]

"""What a channel's modes refuse: the checks JOIN, MSG, TOPIC, INVITE and the readers ask.

Owns: the gate functions over one channel and one session: :func:`admit` (JOIN past
``+i`` and its exceptions ``+I``, ``+k``, ``+l`` and bans less their exceptions ``+e``),
:func:`check_write` (MSG past ``+m`` and bans), :func:`check_ctcp` (``+C``),
:func:`check_topic` (``+t``), :func:`check_invite` (``+i``: operators invite),
:func:`visible` (``+s``) and :func:`role` (a member's role in NAMES). Changing modes is
:mod:`flackd.hub.modes`. Imports only the standard library, ``flackd.codec`` and the hub's
state objects: never trio, never a store.

Rules (protocol.md, "Channel operators and modes"):

1. An invitation (``INVITE`` by a member; by an operator when ``+i``) lets its invitee
   past ``+i``, ``+k`` and ``+l`` once: joining uses it up. It does not lift a ban.
   An invite exception (``+I``) that matches lets its user past ``+i`` (not ``+k`` nor
   ``+l``) every time, with no invitation.
2. Only members write to a channel with ``+n`` (a new channel's only mode), anyone may
   without it. Operators and voiced members write whatever the modes; others not when the
   channel is moderated (``+m``) or a ban matches them (they stay members, and may read).
   A ban exception (``+e``) that matches a user lifts every ban for them, for JOIN and MSG.
3. A secret channel (``+s``) shows its members, history and topic to members only, and
   LIST leaves it out for everyone else.
4. A channel with ``+C`` refuses CTCP queries (Flack's ``CTCP`` command; an IRC
   ``PRIVMSG`` of ``\x01VERB ...\x01``) from everyone, operators included. An action
   (``/me``) is not a CTCP on Flack's wire and always passes.
"""

from __future__ import annotations

from flackd.codec.errors import ProtocolError
from flackd.codec.modes import hostmask, mask_matches
from flackd.hub.state import C, Channel, Session


def _matches(masks: list[tuple[str, str, str]], seen: str) -> bool:
    return any(mask_matches(mask, seen) for mask, _, _ in masks)


def banned(channel: Channel[C], nick: str) -> bool:
    """Whether a ban matches ``nick`` and no ban exception does."""
    if not channel.bans:
        return False
    seen = hostmask(nick)
    return _matches(channel.bans, seen) and not _matches(channel.excepts, seen)


def admit(channel: Channel[C], session: Session[C], key: str | None, verb: str) -> bool:
    """Raise the error that keeps ``session`` out of ``channel``, if any; use up its
    invitation when it gets in (True: one was used up)."""
    name = channel.name
    if banned(channel, session.nick):
        raise ProtocolError("BANNED", verb, f"you are banned from {name}", (name,))
    invited = session.sid in channel.invited
    if not invited:
        if "i" in channel.flags and not _matches(channel.invexes, hostmask(session.nick)):
            raise ProtocolError(
                "INVITE_ONLY",
                verb,
                f"{name} is invite only; ask one of its operators to INVITE you",
                (name,),
            )
        if channel.passkey is not None and key != channel.passkey:
            raise ProtocolError(
                "BAD_KEY", verb, f"{name} needs its key: JOIN {name} <key>", (name,)
            )
        if channel.limit is not None and len(channel.members) >= channel.limit:
            raise ProtocolError(
                "CHANNEL_FULL",
                verb,
                f"{name} has {len(channel.members)} members, its limit",
                (name,),
            )
    return channel.invited.pop(session.sid, 0) is None


def check_write(channel: Channel[C], session: Session[C], verb: str) -> None:
    """Raise the error that keeps ``session`` from writing to ``channel``, if any: called
    when it is not a member, or ``channel.gated``."""
    if session.key not in channel.members and "n" in channel.flags:
        raise ProtocolError(
            "NOT_IN_CHANNEL",
            verb,
            f"you are not in {channel.name}; JOIN {channel.name} first",
            (channel.name,),
        )
    if session.sid in channel.ops or session.sid in channel.voiced:
        return
    if "m" in channel.flags:
        why = "is moderated: only its operators and voiced members write"
    elif banned(channel, session.nick):
        why = "bans you: you may read, not write"
    else:
        return
    raise ProtocolError("CANNOT_SEND", verb, f"{channel.name} {why}", (channel.name,))


def check_ctcp(channel: Channel[C], session: Session[C]) -> None:
    """Raise the error that keeps ``session`` from sending a CTCP query to ``channel``."""
    check_write(channel, session, "CTCP")
    if "C" in channel.flags:
        raise ProtocolError(
            "CANNOT_SEND",
            "CTCP",
            f"{channel.name} refuses CTCP (+C); an ACTION (/me) is still fine",
            (channel.name,),
        )


def check_operator(channel: Channel[C], session: Session[C], verb: str, what: str) -> None:
    if session.sid not in channel.ops:
        raise ProtocolError(
            "NOT_OPERATOR",
            verb,
            f"only operators of {channel.name} {what}",
            (channel.name,),
        )


def check_topic(channel: Channel[C], session: Session[C]) -> None:
    if "t" in channel.flags:
        check_operator(channel, session, "TOPIC", "set its topic (+t)")


def check_invite(channel: Channel[C], session: Session[C]) -> None:
    if "i" in channel.flags:
        check_operator(channel, session, "INVITE", "invite to it (+i)")


def visible(channel: Channel[C], session: Session[C] | None) -> bool:
    """Whether ``session`` may see ``channel``'s members, history and topic."""
    if "s" not in channel.flags:
        return True
    return session is not None and channel.key in session.channels


def role(channel: Channel[C], session: Session[C]) -> str:
    """``op``, ``voice`` or "": what NAMES shows beside a member."""
    if session.sid in channel.ops:
        return "op"
    if session.sid in channel.voiced:
        return "voice"
    return ""

"""The channel operators' slash commands: ``/mode``, ``/kick``, ``/op``, ``/deop``,
``/voice``, ``/devoice``, ``/ban`` and ``/unban``, checked before anything is sent.

Owns: their handlers (:data:`CHANNEL_OPERATORS`, by canonical name, with the same
signature as :data:`flackcli.ui.handlers.GENERAL`'s) and how each becomes ``MODE`` or
``KICK``: modes are read with ``flackd.codec.modes`` as the server reads them, so a typo
is a local error, not a round trip. Which protocol they need (1.2) is
:mod:`flackcli.ui.input`'s to say. Must not import anything but the standard library,
``flackd.codec``, :mod:`flackcli.ui.intents` and :mod:`flackcli.ui.handlers`.
"""

from __future__ import annotations

from typing import Final

from flackcli.ui.handlers import (
    Handler,
    bad_channel,
    bad_nick,
    channel_of,
    send,
    split_words,
    usage,
)
from flackcli.ui.intents import Action, LocalError
from flackd.codec import commands as c
from flackd.codec.modes import MAX_CHANGES, ModeError, normalise_mask, parse_changes
from flackd.codec.text import is_valid_channel, is_valid_nick

__all__ = ["CHANNEL_OPERATORS"]


def _channel_and_rest(args: str, buffer: str | None, name: str) -> tuple[str, str] | LocalError:
    """``#channel rest`` or, in a channel's buffer, ``rest`` for that channel."""
    first, _, rest = args.partition(" ")
    if first.startswith("#"):
        return (first, rest.strip(" ")) if is_valid_channel(first) else bad_channel(first)
    here = channel_of(buffer)
    return (here, args) if here is not None else usage(name, "this is not a channel")


def _mode_command(channel: str, words: list[str], max_line: int) -> Action:
    """``MODE <channel> <words>``, the words checked as the server reads them."""
    try:
        changes = parse_changes(words)
    except ModeError as err:
        return usage("mode", str(err))
    if len(changes) > MAX_CHANGES:
        return usage("mode", f"at most {MAX_CHANGES} changes at once")
    return send(c.Mode(channel, tuple(words)), max_line)


def _mode(args: str, buffer: str | None, max_line: int) -> Action:
    found = _channel_and_rest(args, buffer, "mode")
    if isinstance(found, LocalError):
        return found
    channel, rest = found
    return _mode_command(channel, split_words(rest), max_line)


def _kick(args: str, buffer: str | None, max_line: int) -> Action:
    found = _channel_and_rest(args, buffer, "kick")
    if isinstance(found, LocalError):
        return found
    channel, rest = found
    nick, _, reason = rest.partition(" ")
    if not nick:
        return usage("kick")
    if not is_valid_nick(nick):
        return bad_nick(nick)
    return send(c.Kick(channel, nick, reason.strip(" ")), max_line)


def _member_mode(sign: str, letter: str, name: str) -> Handler:
    """``/op bob carol`` and the like: ``MODE <this channel> +oo bob carol``."""

    def handler(args: str, buffer: str | None, max_line: int) -> Action:
        channel = channel_of(buffer)
        nicks = split_words(args)
        if channel is None:
            return usage(name, "this is not a channel")
        if not 1 <= len(nicks) <= MAX_CHANGES:
            return usage(name, f"give 1 to {MAX_CHANGES} nicks" if nicks else "")
        bad = next((nick for nick in nicks if not is_valid_nick(nick)), None)
        if bad is not None:
            return bad_nick(bad)
        return send(c.Mode(channel, (sign + letter * len(nicks), *nicks)), max_line)

    return handler


def _ban_mode(sign: str, name: str) -> Handler:
    """``/ban mask`` (``/ban`` alone lists the bans) and ``/unban mask``."""

    def handler(args: str, buffer: str | None, max_line: int) -> Action:
        channel = channel_of(buffer)
        masks = split_words(args)
        if channel is None:
            return usage(name, "this is not a channel")
        if not masks and sign == "+":
            return send(c.Mode(channel, ("+b",)), max_line)
        if len(masks) != 1:
            return usage(name, "one mask at a time" if masks else "")
        if normalise_mask(masks[0]) is None:
            return usage(name, f"{masks[0]} is not a mask: nick, or nick!user@host")
        return send(c.Mode(channel, (sign + "b", masks[0])), max_line)

    return handler


#: The handlers of the channel operators' commands, by canonical name.
CHANNEL_OPERATORS: Final[dict[str, Handler]] = {
    "mode": _mode,
    "kick": _kick,
    "op": _member_mode("+", "o", "op"),
    "deop": _member_mode("-", "o", "deop"),
    "voice": _member_mode("+", "v", "voice"),
    "devoice": _member_mode("-", "v", "devoice"),
    "ban": _ban_mode("+", "ban"),
    "unban": _ban_mode("-", "unban"),
}

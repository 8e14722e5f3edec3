"""The server operators' slash commands and user modes: ``/oper``, ``/kill``, ``/wallops``,
``/umode``, checked before anything is sent.

Owns: their handlers (input text to an action, with the same signature as the others in
:mod:`flackcli.ui.input`, which registers them) and which actions need protocol 1.3
(:func:`needs_server_operators`). User modes are read with ``flackd.codec.usermodes``, so a
typo is a local error, not a round trip. Must not import anything but the standard
library, ``flackd.codec`` and :mod:`flackcli.ui.intents`.
"""

from __future__ import annotations

from flackcli.ui.intents import Action, LocalError, SendCommand, UserModes
from flackd.codec import commands as c
from flackd.codec import format_command
from flackd.codec.text import is_valid_nick
from flackd.codec.usermodes import UserModeError, parse_user_changes

__all__ = ["kill", "needs_server_operators", "oper", "umode", "wallops"]


def _checked(command: c.Command, max_line: int, usage: str) -> Action:
    if len(format_command(command).encode("utf-8")) + 2 > max_line:
        return LocalError(f"too long: a line may be at most {max_line} bytes; usage: {usage}")
    return SendCommand(command)


def oper(args: str, buffer: str | None, max_line: int) -> Action:
    """``/oper <name> <password>``: become a server operator."""
    words = args.split()
    if len(words) != 2:
        return LocalError("usage: /oper <name> <password>  (the password is one word)")
    return _checked(c.Oper(words[0], words[1]), max_line, "/oper <name> <password>")


def kill(args: str, buffer: str | None, max_line: int) -> Action:
    """``/kill <nick> [reason]``: end someone's session (server operators)."""
    nick, _, reason = args.partition(" ")
    if not nick:
        return LocalError("usage: /kill <nick> [reason]")
    if not is_valid_nick(nick):
        return LocalError(f"{nick[:32]} is not a nick; usage: /kill <nick> [reason]")
    return _checked(c.Kill(nick, reason.strip(" ")), max_line, "/kill <nick> [reason]")


def wallops(args: str, buffer: str | None, max_line: int) -> Action:
    """``/wallops <text>``: to everyone with user mode +w (server operators)."""
    if not args.strip(" "):
        return LocalError("usage: /wallops <text>")
    return _checked(c.Wallops(args.strip(" ")), max_line, "/wallops <text>")


def umode(args: str, buffer: str | None, max_line: int) -> Action:
    """``/umode [+|-Bw]``: show or change one's user modes (``-o``: stop being a server
    operator)."""
    words = tuple(args.split())
    try:
        parse_user_changes(list(words))
    except UserModeError as err:
        return LocalError(f"{err}; usage: /umode [+|-Bw] (B bot, w wallops, -o)")
    return UserModes(words)


def needs_server_operators(action: Action) -> bool:
    """Whether ``action`` needs protocol 1.3 (server operators, user modes)."""
    match action:
        case SendCommand(c.Oper() | c.Kill() | c.Wallops()) | UserModes():
            return True
    return False

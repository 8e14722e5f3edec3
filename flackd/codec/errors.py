"""Every error code of the protocol, and the exception that carries one.

Owns: :data:`ERROR_CODES` (each code with its meaning; protocol.md's table is checked
against it), :data:`TEMPORARY_CODES`, and :class:`ProtocolError`, which the grammar and
the hub raise for a line that cannot be carried out and whose :attr:`ProtocolError.reply`
is the ``ERR`` line. Must not import anything outside the standard library.
"""

from __future__ import annotations

from typing import Final

from flackd.codec import events as e

__all__ = ["ERROR_CODES", "TEMPORARY_CODES", "ProtocolError"]

#: Every error code with its meaning. Codes are stable: programs may switch on them.
ERROR_CODES: Final[dict[str, str]] = {
    "UNKNOWN_COMMAND": "the verb is not one flackd knows; HELP lists them",
    "NEED_MORE_PARAMS": "a required parameter is missing; the text gives the syntax",
    "INVALID_PARAMS": "a parameter is malformed or there are too many; the text gives the syntax",
    "NOT_REGISTERED": "the command needs a nick first: NICK <name> or RESUME <token>",
    "ALREADY_REGISTERED": "RESUME or PASS was sent on a connection that already has a nick",
    "PASSWORD_REQUIRED": "the server has a password: send PASS <password> before NICK or RESUME",
    "NICK_IN_USE": "someone else has that nick (compared case-insensitively)",
    "INVALID_NICK": "the nick breaks the nick rules",
    "INVALID_CHANNEL": "the channel name breaks the channel rules",
    "CHANNEL_EXISTS": "CREATE named a channel that already exists (case-insensitively)",
    "NO_SUCH_CHANNEL": "no channel has that name",
    "NO_SUCH_NICK": "nobody connected or resumable has that nick",
    "NOT_IN_CHANNEL": "the command needs you to be a member of the channel",
    "ALREADY_IN_CHANNEL": "INVITE named someone who is in the channel already",
    "NOT_OPERATOR": "the command needs you to be an operator of the channel (MODE +o)",
    "NOT_A_MEMBER": "KICK or MODE named someone who is not in the channel",
    "UNKNOWN_MODE": "MODE named a letter that is not a mode (of a channel, or of a user); "
    "the letter follows",
    "USERS_DONT_MATCH": "MODE named another user: only your own user modes may be read or changed",
    "NOT_SERVER_OPERATOR": "the command needs you to be a server operator (OPER, user mode +o)",
    "UNKNOWN_OPER": "OPER named an operator the server does not have",
    "BAD_PASSWORD": "OPER's password is not that operator's",
    "INVITE_ONLY": "the channel is invite only (+i): an operator must INVITE you first",
    "BAD_KEY": "the channel has a key (+k) and JOIN did not give it",
    "CHANNEL_FULL": "the channel has as many members as its limit (+l) allows",
    "BANNED": "a ban (+b) of the channel matches you",
    "CANNOT_SEND": "the channel is moderated (+m) or bans you: only operators and voiced write; "
    "or it refuses CTCP (+C)",
    "LIST_FULL": "the channel has as many bans (or exceptions) as it keeps (--channel-list-max)",
    "NO_SUCH_MESSAGE": "no message with that id is in the server's history",
    "NOT_AUTHOR": "only the author of a message may edit it, or delete it (a channel's "
    "operators may delete any message in it)",
    "MESSAGE_DELETED": "the message was deleted; it cannot be edited",
    "TOO_MANY_CONVERSATIONS": "you or the other side has as many conversations as allowed",
    "UNKNOWN_TOKEN": "the resume token is unknown, expired, or from before a restart",
    "LINE_TOO_LONG": "the line was longer than the line limit and was dropped",
    "INVALID_UTF8": "the line was not valid UTF-8 and was dropped",
    "BAD_CHARACTER": "the line held a control character (NUL, CR, ESC, ...) and was dropped",
    "TOO_MANY_CHANNELS": "a per-client or per-server channel limit was reached",
    "RATE_LIMITED": "temporary: a per-action quota is used up; retry after retry= seconds",
    "STORAGE_FAILED": "temporary: the server could not store the change, so it did not happen",
    "STORAGE_UNKNOWN": "the shared store did not answer: the change may or may not have happened",
}

#: Codes that describe a temporary condition: the same command may succeed later.
TEMPORARY_CODES: Final = frozenset({"RATE_LIMITED", "STORAGE_FAILED"})


class ProtocolError(Exception):
    """A client line that cannot be carried out; :attr:`reply` is the ``ERR`` line."""

    def __init__(self, code: str, command: str, text: str, params: tuple[str, ...] = ()) -> None:
        super().__init__(f"{code} {command}: {text}")
        self.reply = e.Error(code, command, params, text)

"""IRC's messages by id: CHATHISTORY (draft/chathistory) and REDACT
(draft/message-redaction).

Owns: those two commands as the translator's handlers: CHATHISTORY's windows of Flack's
history (``LATEST``, ``BEFORE``, ``AFTER``, ``AROUND``, ``BETWEEN`` by message id or
time, and ``TARGETS``), answered from the hub's views as batches, with its ``FAIL``
lines; REDACT checked against what the hub's views say about the message (whose it is,
where) and carried out as Flack's DELETE through the hub, which keeps the rules. Imports
only the standard library, ``flackd.codec``, ``flackd.views`` and ``flackd.irc``: never
trio, never the hub.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Final

from flackd.codec import commands as c
from flackd.irc.wire import server_time, strip_formatting
from flackd.views import HISTORY_WINDOWS, Ref

if TYPE_CHECKING:
    from flackd.irc.inbound import IrcClient

__all__ = ["chathistory", "redact"]

#: CHATHISTORY's ``*`` reference (LATEST only: no bound).
_ANY: Final = Ref()


def redact(client: IrcClient, params: Sequence[str]) -> Iterator[bytes | c.Command]:
    """``REDACT <target> <msgid> [:reason]`` (draft/message-redaction): Flack's DELETE."""
    fail = client.out.fail
    if len(params) < 2:
        yield client.out.numeric("461", "REDACT", "Not enough parameters")
        return
    target, msgid = params[0], params[1]
    found = client.message_info(msgid)
    if found is None or found[0].lower() != target.lower():
        if target.startswith("#") and client.directory.channel_info(target) is None:
            yield fail("REDACT", "INVALID_TARGET", target, "no such channel")
        else:
            yield fail("REDACT", "UNKNOWN_MSGID", target, msgid, "no such message there")
        return
    if found[1].lower() != client.nick.lower() and not _operator(client, found[0]):
        yield fail(
            "REDACT",
            "REDACT_FORBIDDEN",
            target,
            msgid,
            "only your own messages (a channel's operators: any in it)",
        )
        return
    reason = strip_formatting(params[2]).strip() if len(params) > 2 else ""
    yield c.Delete(msgid, reason)


def _operator(client: IrcClient, channel: str) -> bool:
    """Whether the client is an operator of ``channel`` (a channel's name)."""
    state = client.channel_state(channel) if channel.startswith("#") else None
    return state is not None and "o" in state[2].get(client.nick, "")


def chathistory(client: IrcClient, params: Sequence[str]) -> Iterator[bytes]:
    """``CHATHISTORY LATEST|BEFORE|AFTER|AROUND|BETWEEN <target> <ref> [<ref>] <limit>``
    and ``CHATHISTORY TARGETS <ref> <ref> <limit>`` (draft/chathistory): windows of
    Flack's history by message id or time, answered from the hub's views as batches."""
    fail = client.out.fail
    sub = params[0].upper() if params else ""
    two = sub in ("BETWEEN", "TARGETS")
    wanted = 4 + two - (sub == "TARGETS")
    if len(params) < wanted:
        yield fail("CHATHISTORY", "NEED_MORE_PARAMS", sub or "*", "Not enough parameters")
        return
    if sub not in (*HISTORY_WINDOWS, "TARGETS"):
        yield fail("CHATHISTORY", "INVALID_PARAMS", sub, "unknown subcommand")
        return
    limit = params[wanted - 1]
    first = 2 if sub != "TARGETS" else 1
    refs = [_ref(p) for p in params[first : wanted - 1]]
    if not limit.isdecimal() or len(limit) > 9 or any(r is None for r in refs):
        yield fail("CHATHISTORY", "INVALID_PARAMS", sub, "refs are msgid=, timestamp= or *")
        return
    if int(limit) < 1:
        yield fail("CHATHISTORY", "INVALID_PARAMS", sub, "refs are msgid=, timestamp= or *")
        return
    count = min(int(limit), client.max_history)
    given = tuple(r for r in refs if r is not None and r != _ANY)
    if sub == "TARGETS":
        low, high = (r.time if r is not None else None for r in refs)
        if low is None or high is None:
            yield fail("CHATHISTORY", "INVALID_PARAMS", sub, "TARGETS takes timestamps")
            return
        yield client.out.targets_batch(client.targets(min(low, high), max(low, high), count))
        return
    if sub != "LATEST" and len(given) != len(refs):
        yield fail("CHATHISTORY", "INVALID_PARAMS", sub, "* is only for LATEST")
        return
    window = client.history(sub, params[1], given, count)
    if window.error is not None:
        yield fail("CHATHISTORY", window.error, sub, params[1], "no such target here")
        return
    yield client.out.history_batch(params[1], window.messages)  # the name as it was asked


def _ref(text: str) -> Ref | None:
    """A CHATHISTORY reference: ``*``, ``msgid=<id>`` or ``timestamp=<ISO time>``."""
    if text == "*":
        return _ANY
    if text.startswith("msgid=") and len(text) > 6:
        return Ref(msgid=text[6:])
    if text.startswith("timestamp="):
        try:
            return Ref(time=server_time(text[10:]))
        except ValueError:
            return None
    return None

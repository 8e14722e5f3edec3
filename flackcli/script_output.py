"""What the script commands print: the JSON-lines schema and the text lines for people.

Owns: one record per message, unread count, channel event, gap and connection state, in
JSON (client-ux.md section 11; keys are stable, later versions only add keys) or as
``HH:MM <nick> text`` in local time with every text passed through
:func:`flackd.codec.text.neutralise`; and :class:`Output`, which writes them, flushing
each line so ``| jq`` streams, and turns a reader that went away (``| head -1``) into
:class:`StdoutClosed`. Imports only the standard library, ``flackd.codec`` and
``flackcli.notices``: never trio, never a socket.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import IO

from flackcli.notices import ConnectionState, Gap
from flackd.codec import events as e
from flackd.codec.ids import format_timestamp, parse_timestamp
from flackd.codec.text import neutralise

__all__ = [
    "Output",
    "StdoutClosed",
    "event_json",
    "event_text",
    "gap_json",
    "gap_text",
    "local_time",
    "message_json",
    "message_text",
    "now_ts",
    "status_json",
    "unread_json",
    "unread_text",
]


class StdoutClosed(Exception):
    """Whoever read our output went away (``| head -1``): stop quietly."""


def now_ts() -> str:
    return format_timestamp(time.time())


def local_time(ts: str | None) -> str:
    """``HH:MM`` in local time for a server timestamp (now if there is none)."""
    parsed = parse_timestamp(ts) if ts else None
    if parsed is None:
        return time.strftime("%H:%M")
    return parsed.astimezone().strftime("%H:%M")


def message_json(message: e.Message) -> dict[str, object]:
    """A message record; ``channel`` is the line's target (for a private message, the
    nick it was sent to); ``edited`` the time of the last edit, or null."""
    return {
        "type": "message",
        "channel": message.target,
        "id": message.id,
        "ts": message.time,
        "nick": message.author,
        "text": message.text,
        "action": message.action,
        "edited": message.edited,
    }


def message_text(message: e.Message) -> str:
    edited = " (edited)" if message.edited is not None else ""
    if message.action:
        return f"{local_time(message.time)} * {message.author} {message.text}{edited}"
    return f"{local_time(message.time)} <{message.author}> {message.text}{edited}"


def unread_json(count: e.UnreadCount) -> dict[str, object]:
    return {
        "target": count.target,
        "unread": count.unread,
        "mentions": count.mentions,
        "newest": count.newest,
    }


def unread_text(count: e.UnreadCount) -> str:
    """``bob: 2 unread``, ``#general: 5 unread, 1 mention``."""
    plural = "" if count.mentions == 1 else "s"
    mentions = f", {count.mentions} mention{plural}" if count.mentions else ""
    return f"{count.target}: {count.unread} unread{mentions}"


def event_json(event: e.Event, channel: str, ts: str) -> dict[str, object] | None:
    """The JSON object for a non-message event of ``channel`` (``ts``: when it arrived,
    for lines that carry no time of their own), or None for lines not shown."""
    if isinstance(event, e.Joined):
        return {"type": "join", "channel": event.channel, "ts": ts, "nick": event.nick}
    if isinstance(event, e.Parted):
        return {
            "type": "part",
            "channel": event.channel,
            "ts": ts,
            "nick": event.nick,
            "reason": event.reason,
        }
    if isinstance(event, e.Quit):
        return {
            "type": "quit",
            "channel": channel,
            "ts": ts,
            "nick": event.nick,
            "reason": event.reason,
        }
    if isinstance(event, e.NickChanged):
        return {"type": "nick", "channel": channel, "ts": ts, "nick": event.old, "new": event.new}
    if isinstance(event, e.Topic):
        return {
            "type": "topic",
            "channel": event.channel,
            "ts": None if event.time == "*" else event.time,
            "nick": None if event.setter == "*" else event.setter,
            "text": event.text,
        }
    if isinstance(event, e.Deleted):
        return {
            "type": "deleted",
            "channel": event.channel,
            "ts": ts,
            "id": event.id,
            "nick": event.nick,
            "reason": event.reason,
        }
    if isinstance(event, e.ModeChanged):
        return {
            "type": "mode",
            "channel": event.channel,
            "ts": ts,
            "nick": None if event.nick == "*" else event.nick,
            "changes": list(event.changes),
        }
    if isinstance(event, e.Kicked):
        return {
            "type": "kick",
            "channel": event.channel,
            "ts": ts,
            "nick": event.nick,
            "by": event.by,
            "reason": event.reason,
        }
    return None


def event_text(event: e.Event, ts: str) -> str | None:
    clock = local_time(ts)
    if isinstance(event, e.Joined):
        return f"{clock} -- {event.nick} joined {event.channel}"
    if isinstance(event, e.Parted):
        why = f" ({event.reason})" if event.reason else ""
        return f"{clock} -- {event.nick} left {event.channel}{why}"
    if isinstance(event, e.Quit):
        why = f" ({event.reason})" if event.reason else ""
        return f"{clock} -- {event.nick} quit{why}"
    if isinstance(event, e.NickChanged):
        return f"{clock} -- {event.old} is now known as {event.new}"
    if isinstance(event, e.Topic):
        when = local_time(event.time if event.time != "*" else None)
        if event.setter == "*":
            return f"{when} -- the topic of {event.channel} is not set"
        return f"{when} -- {event.setter} set the topic of {event.channel}: {event.text}"
    if isinstance(event, e.Deleted):
        why = f" ({event.reason})" if event.reason else ""
        return f"{clock} -- {event.nick} deleted message {event.id}{why}"
    if isinstance(event, e.ModeChanged):
        changes = " ".join(event.changes)
        if event.nick == "*":
            return f"{clock} -- modes of {event.channel}: {changes}"
        return f"{clock} -- {event.nick} sets mode {changes} on {event.channel}"
    if isinstance(event, e.Kicked):
        why = f" ({event.reason})" if event.reason else ""
        return f"{clock} -- {event.by} kicked {event.nick} from {event.channel}{why}"
    return None


def gap_json(gap: Gap) -> dict[str, object]:
    return {"type": "gap", "channel": gap.channel, "after_id": gap.after_id}


def gap_text(gap: Gap) -> str:
    after = f" after {gap.after_id}" if gap.after_id else ""
    return (
        f"-- some messages of {gap.channel}{after} were missed "
        "(the server keeps only the newest ones)"
    )


def status_json(state: ConnectionState) -> dict[str, object]:
    name = "reconnecting" if state.state == "offline" else state.state
    return {"type": "status", "state": name, "retry_in": state.retry_in, "reason": state.reason}


class Output:
    """Writes JSON lines or text lines, flushing each one."""

    def __init__(
        self, json_mode: bool, stdout: IO[str] | None = None, stderr: IO[str] | None = None
    ) -> None:
        self.json = json_mode
        self._stdout = stdout or sys.stdout
        self._stderr = stderr or sys.stderr

    def line(self, obj: dict[str, object], text: str) -> None:
        """One record on stdout: ``obj`` in JSON mode, else ``text`` (neutralised)."""
        if self.json:
            self._write(json.dumps(obj, ensure_ascii=False, separators=(",", ":")))
        else:
            self._write(neutralise(text))

    def status(self, obj: dict[str, object], text: str) -> None:
        """A status record: JSON on stdout, or text on stderr."""
        if self.json:
            self.line(obj, text)
        else:
            self.error(text)

    def error(self, text: str) -> None:
        try:
            self._stderr.write(f"flackcli: {neutralise(text)}\n")
            self._stderr.flush()
        except (BrokenPipeError, ValueError):
            pass

    def message(self, message: e.Message) -> None:
        self.line(message_json(message), message_text(message))

    def _write(self, text: str) -> None:
        try:
            self._stdout.write(text + "\n")
            self._stdout.flush()
        except BrokenPipeError:
            # Point stdout at /dev/null so the interpreter's last flush stays quiet.
            try:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, self._stdout.fileno())
                os.close(devnull)
            except (OSError, ValueError):
                pass
            raise StdoutClosed from None

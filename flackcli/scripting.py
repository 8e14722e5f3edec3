"""Script commands: ``send``, ``tail``, ``history``, ``channels``, ``who`` and ``unread``.

Owns: what each script command does on the wire (each one a ``trio.run`` of the client
library: :func:`~flackcli.client.open_client` for the one-shot commands, the reconnecting
:class:`~flackcli.supervisor.Supervisor` for ``tail``), pacing under flackd's flood control,
the JSON-lines schema and the text lines they print, and their exit codes. Never imports
prompt_toolkit. Imports trio, the standard library, ``flackd.codec`` and flackcli.

Output: one JSON object per line (client-ux.md section 11; keys are stable, later versions
only add keys) or, for people, ``HH:MM <nick> text`` in local time with every text passed
through :func:`flackd.codec.text.neutralise`. Every line is flushed at once so ``| jq``
streams. A reader that goes away (``| head -1``) ends the command quietly with status 0.

Exit codes: 0 ok; 1 cannot connect or connection lost; 2 usage error; 3 refused by the
server (no such channel, nick in use, ...); 4 timed out waiting for the echo; 130
interrupted (143 when ``tail`` is ended by SIGTERM).
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from dataclasses import dataclass
from typing import IO, Final

import trio

from flackcli.address import Address
from flackcli.client import Client, ConnectionClosed, FlackError, block, open_client
from flackcli.notices import CaughtUp, ConnectionState, Gap, Registered, SendFailed, SessionLost
from flackcli.supervisor import Item, Memory, Supervisor
from flackd.codec import commands as c
from flackd.codec import events as e
from flackd.codec.ids import format_timestamp, parse_id, parse_timestamp
from flackd.codec.text import fold, is_channel, is_valid_channel, is_valid_nick, neutralise

__all__ = [
    "EXIT_CONNECTION",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_REFUSED",
    "EXIT_TERMINATED",
    "EXIT_TIMEOUT",
    "EXIT_USAGE",
    "Output",
    "Pacer",
    "ScriptError",
    "Target",
    "event_json",
    "message_json",
    "run_channels",
    "run_history",
    "run_send",
    "run_tail",
    "run_unread",
    "run_who",
    "split_text",
    "unread_json",
    "unread_text",
]

EXIT_OK: Final = 0
EXIT_CONNECTION: Final = 1
EXIT_USAGE: Final = 2
EXIT_REFUSED: Final = 3
EXIT_TIMEOUT: Final = 4
EXIT_INTERRUPTED: Final = 130
EXIT_TERMINATED: Final = 143

#: flackd's default flood control: a burst of 10 lines, then 2 lines a second.
FLOOD_BURST: Final = 10
FLOOD_RATE: Final = 2.0
#: What HISTORY and LIST cost in flackd's flood bucket (PING, PONG and QUIT cost nothing).
BLOCK_COST: Final = 3
HISTORY_MAX: Final = 100
#: How long a polite QUIT may take when a command ends.
QUIT_GRACE: Final = 2.0
NICK_MAX: Final = 16


class ScriptError(Exception):
    """Ends a script command with ``code``; ``message`` goes to stderr."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class StdoutClosed(Exception):
    """Whoever read our output went away (``| head -1``): stop quietly."""


@dataclass(frozen=True)
class Target:
    """Where to connect and as whom. ``exact``: the nick was asked for with ``--nick``, so
    no ``nick_`` fallback is tried when it is taken. ``tls``: the TLS context for a
    ``tls://`` server (:func:`flackcli.address.tls_context`), None for plain TCP."""

    host: str
    port: int
    nick: str
    exact: bool = False
    tls: ssl.SSLContext | None = None
    #: Resume this session (the interactive client's, from state.json) instead of
    #: registering a new nick; it stays resumable afterwards (no QUIT).
    token: str | None = None

    @property
    def where(self) -> str:
        return str(Address(self.host, self.port, self.tls is not None))


# -- output ----------------------------------------------------------------------------


def _now_ts() -> str:
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


# -- pacing and splitting ----------------------------------------------------------------


class Pacer:
    """A token bucket like flackd's (burst 10, 2 lines a second), so the server never has
    to hold our lines back: every line we send is charged here first."""

    def __init__(self, burst: int = FLOOD_BURST, rate: float = FLOOD_RATE) -> None:
        self.burst = float(burst)
        self.rate = rate
        self.tokens = float(burst)
        self._last = trio.current_time()

    async def take(self, cost: float = 1.0) -> None:
        while True:
            now = trio.current_time()
            self.tokens = min(self.burst, self.tokens + (now - self._last) * self.rate)
            self._last = now
            if self.tokens >= cost:
                self.tokens -= cost
                return
            await trio.sleep((cost - self.tokens) / self.rate)


def split_text(text: str, budget: int) -> list[str]:
    """Cut ``text`` into pieces of at most ``budget`` UTF-8 bytes, at spaces when possible.

    Pieces that hold nothing but spaces are dropped (the server would refuse them).
    """
    budget = max(budget, 4)  # room for any one character
    pieces: list[str] = []
    while len(text.encode("utf-8")) > budget:
        size = cut = 0
        for ch in text:
            size += len(ch.encode("utf-8"))
            if size > budget:
                break
            cut += 1
        space = text.rfind(" ", 0, cut + 1)
        if space > 0:
            head, text = text[:space], text[space + 1 :]
        else:
            head, text = text[:cut], text[cut:]
        pieces.append(head)
    pieces.append(text)
    return [piece for piece in pieces if piece.strip(" ")]


# -- connecting and registering ------------------------------------------------------------


def nick_candidates(nick: str, exact: bool) -> list[str]:
    """The nicks to try in turn: ``nick``, then (unless exact) ``nick_`` and ``nick__``."""
    if exact:
        return [nick]
    return [nick] + [nick[: NICK_MAX - len(s)] + s for s in ("_", "__")]


async def register(client: Client, target: Target, pacer: Pacer | None = None) -> str:
    """NICK, trying the candidates; return the nick we got. Raises :class:`ScriptError`."""
    for candidate in nick_candidates(target.nick, target.exact):
        if pacer is not None:
            await pacer.take()
        try:
            await client.call(c.Nick(candidate))
        except FlackError as err:
            if err.code == "NICK_IN_USE":
                continue
            raise ScriptError(EXIT_REFUSED, f"refused by the server: {err}") from None
        return candidate
    tried = ", ".join(nick_candidates(target.nick, target.exact))
    hint = "" if target.exact else "; pick another with --nick"
    raise ScriptError(EXIT_REFUSED, f"refused by the server: NICK_IN_USE: {tried} taken{hint}")


@dataclass
class Session:
    """A registered connection and the nick it got; ``token``: the session's new resume
    token, when it was resumed (the old one is spent)."""

    client: Client
    nick: str
    token: str | None = None


async def resume(client: Client, target: Target) -> Session:
    """RESUME ``target.token``; a refusal (an unknown token) is exit code 3."""
    assert target.token is not None
    try:
        lines = await client.call(c.Resume(target.token))
    except FlackError as err:
        raise ScriptError(
            EXIT_REFUSED,
            f"cannot resume the session of {target.nick}: {err} (start flackcli to sign in)",
        ) from None
    ok = next(x for x in lines if isinstance(x, e.Ok) and x.command == "RESUME")
    return Session(client, ok.params[0], ok.param("token"))


@asynccontextmanager
async def connected(
    target: Target, pacer: Pacer | None = None, *, conversations: bool = False
) -> AsyncIterator[Session]:
    """A registered connection that says QUIT when the block ends, so the nick is free at
    once; with ``target.token``, the resumed session, closed without QUIT (it stays
    resumable). Connection failures become :class:`ScriptError` with exit code 1.
    ``conversations``: the command needs protocol 1.1 (exit code 3 before registering
    with a version-1 server)."""
    async with AsyncExitStack() as stack:
        try:
            client = await stack.enter_async_context(
                open_client(target.host, target.port, tls=target.tls)
            )
        except OSError as exc:
            raise ScriptError(
                EXIT_CONNECTION, f"cannot connect to {target.where}: {exc.strerror or exc}"
            ) from None
        except trio.TooSlowError:
            raise ScriptError(
                EXIT_CONNECTION, f"cannot connect to {target.where}: timed out"
            ) from None
        except ConnectionClosed as exc:
            raise ScriptError(
                EXIT_CONNECTION, f"cannot connect to {target.where}: {exc.reason}"
            ) from None
        if conversations and client.hello is not None and client.hello.protocol == "1":
            raise ScriptError(
                EXIT_REFUSED,
                f"{target.where} speaks protocol 1: it keeps no private conversations "
                "and no read markers",
            )
        try:
            if target.token is not None:
                yield await resume(client, target)
                return
            nick = await register(client, target, pacer)
            yield Session(client, nick)
        except ConnectionClosed as exc:
            raise ScriptError(EXIT_CONNECTION, f"connection lost: {exc.reason}") from None
        finally:
            if target.token is None:
                await _quit(client)


async def _quit(client: Client) -> None:
    """QUIT and wait (briefly) for the server's BYE, so that it is carried out for sure."""
    if client.closed.is_set():
        return
    with trio.move_on_after(QUIT_GRACE) as scope:
        scope.shield = True
        with suppress(ConnectionClosed, FlackError):
            await client.call(c.Quit("flackcli script done"))


async def _call(client: Client, command: c.Command, action: str) -> list[e.Event]:
    """``client.call``; a refusal becomes exit code 3 with ``action`` in the message."""
    try:
        return await client.call(command)
    except FlackError as err:
        raise ScriptError(EXIT_REFUSED, f"{action}: refused by the server: {err}") from None


def _history_messages(lines: Iterable[e.Event]) -> list[e.Message]:
    body, _ = block(lines, "HISTORY")
    return [line for line in body if isinstance(line, e.Message)]


def check_channel(channel: str) -> None:
    """A usage error (exit 2) unless ``channel`` is a valid channel name."""
    if not is_valid_channel(channel):
        raise ScriptError(
            EXIT_USAGE,
            f"{channel!r} is not a channel name: # and then 1-32 ASCII letters, digits, _ or - "
            "(quote it in the shell: '#ops')",
        )


# -- running a command -------------------------------------------------------------------


def _sole(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def _run(out: Output, main: Callable[[], Awaitable[int]]) -> int:
    """``trio.run(main)``, with every way out turned into an exit code."""
    try:
        return trio.run(main)
    except BaseException as raised:
        exc = _sole(raised)
        if isinstance(exc, ScriptError):
            out.error(exc.message)
            return exc.code
        if isinstance(exc, KeyboardInterrupt):
            return EXIT_INTERRUPTED
        if isinstance(exc, StdoutClosed):
            return EXIT_OK
        if isinstance(exc, FlackError):
            out.error(f"refused by the server: {exc}")
            return EXIT_REFUSED
        if isinstance(exc, ConnectionClosed):
            out.error(f"connection lost: {exc.reason}")
            return EXIT_CONNECTION
        raise


# -- send --------------------------------------------------------------------------------


class _StdinLines:
    """Lines of a byte stream, each read in a worker thread (abandoned if cancelled)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream

    async def readline(self) -> str | None:
        raw = await trio.to_thread.run_sync(self._stream.readline, abandon_on_cancel=True)
        if not raw:
            return None
        return raw.decode("utf-8", "replace").removesuffix("\n").removesuffix("\r")


def run_send(
    target: Target,
    destination: str,
    text: str,
    *,
    out: Output,
    create: bool = False,
    timeout: float = 10.0,
    stdin: IO[bytes] | None = None,
    print_echoes: bool = False,
) -> int:
    """``flackcli send``: ``text`` (``-``: each line of stdin) to a channel or a nick, one
    message per line, paced; returns 0 only after the server echoed every message.
    ``print_echoes``: print each echo (as a message record, with its id)."""

    async def main() -> int:
        if is_channel(destination):
            check_channel(destination)
        elif not is_valid_nick(destination):
            raise ScriptError(EXIT_USAGE, f"{destination!r} is neither a #channel nor a nick")
        next_line: Callable[[], Awaitable[str | None]]
        if text == "-":
            next_line = _StdinLines(stdin or sys.stdin.buffer).readline
        else:
            pending = [line.removesuffix("\r") for line in text.split("\n")]

            async def from_argument() -> str | None:
                return pending.pop(0) if pending else None

            next_line = from_argument
        pacer = Pacer()
        async with connected(target, pacer) as session:
            client = session.client
            if is_channel(destination):
                if not create:  # JOIN would create it: make sure it exists first
                    await pacer.take()
                    await _call(client, c.Names(destination), f"cannot send to {destination}")
                await pacer.take()
                await _call(client, c.Join(destination), f"cannot join {destination}")
            max_line = client.hello.max_line if client.hello is not None else 512
            budget = max_line - len(f"MSG {destination} \n".encode())
            sent = 0
            while (line := await next_line()) is not None:
                for piece in split_text(line, budget):
                    await pacer.take()
                    echo = await _send_one(session, destination, piece, timeout, sent)
                    sent += 1
                    if print_echoes:
                        out.message(echo)
        return EXIT_OK

    return _run(out, main)


async def _send_one(
    session: Session, destination: str, text: str, echo_wait: float, sent: int
) -> e.Message:
    """MSG and wait for its echo (exit 3 if refused, 4 if none in ``echo_wait`` s)."""
    lines: list[e.Event] = []
    with trio.move_on_after(echo_wait) as scope:
        try:
            lines = await session.client.call(c.Msg(destination, text))
        except FlackError as err:
            raise ScriptError(
                EXIT_REFUSED, f"message {sent + 1} refused by the server: {err}"
            ) from None
        except ConnectionClosed as exc:
            raise ScriptError(
                EXIT_CONNECTION, f"connection lost after {sent} message(s): {exc.reason}"
            ) from None
    if scope.cancelled_caught:
        raise ScriptError(
            EXIT_TIMEOUT, f"no echo of message {sent + 1} from the server within {echo_wait:g} s"
        )
    me, key = fold(session.nick), fold(destination)
    for line in lines:
        if (
            isinstance(line, e.Message)
            and fold(line.author) == me
            and key in (fold(line.target), me)
        ):
            return line
    raise ScriptError(EXIT_TIMEOUT, f"the server did not echo message {sent + 1}")


# -- history, channels, who ----------------------------------------------------------------


def run_history(
    target: Target,
    channel: str,
    *,
    out: Output,
    count: int = 20,
    on_token: Callable[[str], None] | None = None,
) -> int:
    """``flackcli history``: the newest ``count`` messages of a channel, or of the
    conversation with a nick (in the session of ``target.token``; ``on_token`` gets its
    new resume token), oldest first."""

    async def main() -> int:
        private = not is_channel(channel)
        if private and not is_valid_nick(channel):
            raise ScriptError(EXIT_USAGE, f"{channel!r} is neither a #channel nor a nick")
        if not private:
            check_channel(channel)
        async with connected(target, conversations=private) as session:
            if session.token is not None and on_token is not None:
                on_token(session.token)
            lines = await _call(
                session.client, c.History(channel, count=count), f"no history of {channel}"
            )
        for message in _history_messages(lines):
            out.message(message)
        return EXIT_OK

    return _run(out, main)


def run_unread(
    target: Target, *, out: Output, on_token: Callable[[str], None] | None = None
) -> int:
    """``flackcli unread``: the conversations of the session of ``target.token`` with
    unread messages (``UNREAD``, by the server's read markers); ``on_token`` gets the
    session's new resume token."""

    async def main() -> int:
        async with connected(target, conversations=True) as session:
            if session.token is not None and on_token is not None:
                on_token(session.token)
            lines = await _call(session.client, c.Unread(), "cannot count unread messages")
        body, _ = block(lines, "UNREAD")
        counts = [x for x in body if isinstance(x, e.UnreadCount)]
        for count in counts:
            out.line(unread_json(count), unread_text(count))
        if not counts and not out.json:
            out.line({}, "nothing unread")
        return EXIT_OK

    return _run(out, main)


def run_channels(target: Target, *, out: Output) -> int:
    """``flackcli channels``: every channel (LIST, all pages), with members and topic."""

    async def main() -> int:
        entries: list[e.ChannelEntry] = []
        pacer = Pacer()
        async with connected(target, pacer) as session:
            after: str | None = None
            for _ in range(100_000):  # bounded: each page moves the cursor on
                await pacer.take(BLOCK_COST)
                lines = await _call(session.client, c.ListChannels(after), "cannot list")
                body, end = block(lines, "LIST")
                page = [x for x in body if isinstance(x, e.ChannelEntry)]
                entries += page
                if not page or end is None or not end.flag("more"):
                    break
                after = page[-1].channel
        width = max((len(x.channel) for x in entries), default=0)
        for entry in entries:
            out.line(
                {
                    "type": "channel",
                    "channel": entry.channel,
                    "members": entry.members,
                    "topic": entry.topic,
                },
                f"{entry.channel:<{width}} {entry.members:>5}  {entry.topic}".rstrip(),
            )
        return EXIT_OK

    return _run(out, main)


def run_who(target: Target, channel: str, *, out: Output) -> int:
    """``flackcli who``: the members of a channel (NAMES)."""

    async def main() -> int:
        check_channel(channel)
        async with connected(target) as session:
            lines = await _call(session.client, c.Names(channel), f"cannot list {channel}")
        body, _ = block(lines, "NAMES")
        start = next((x for x in lines if isinstance(x, e.BlockStart) and x.kind == "NAMES"), None)
        name = start.params[0] if start is not None and start.params else channel
        for member in body:
            if isinstance(member, e.Member):
                record = {"type": "member", "channel": name, "nick": member.nick}
                out.line({**record, "role": member.role or None}, member.nick)
        return EXIT_OK

    return _run(out, main)


# -- tail ----------------------------------------------------------------------------------


def run_tail(
    target: Target,
    channel: str,
    *,
    out: Output,
    history: int = 10,
    since_id: str | None = None,
) -> int:
    """``flackcli tail``: follow a channel until interrupted, reconnecting and catching up.

    Starts with the newest ``history`` messages, or with everything after ``since_id``
    (``HISTORY AFTER``, de-duplicated; a ``gap`` record when the server no longer has all
    of it). The session is not saved: a restarted tail resumes only through ``--since-id``.
    """

    async def main() -> int:
        check_channel(channel)
        if since_id is not None and parse_id(since_id) is None:
            raise ScriptError(
                EXIT_USAGE, f"{since_id!r} is not a message id (like 1795507200000-57)"
            )
        return await _Tail(target, channel, out, history, since_id).run()

    return _run(out, main)


_CHANNEL_EVENTS: Final = (e.Joined, e.Parted, e.Topic, e.Deleted, e.ModeChanged, e.Kicked)


class _Tail:
    def __init__(
        self, target: Target, channel: str, out: Output, history: int, since_id: str | None
    ) -> None:
        self.target = target
        self.channel = channel
        self.key = fold(channel)
        self.out = out
        self.history = history
        self.since_id = since_id
        self.memory = Memory(target.nick)
        self.sup = Supervisor(target.host, target.port, self.memory, tls=target.tls)
        self.result: int | None = None
        self.message: str | None = None
        self.registered = False
        self.join_started = False
        self.synced = since_id is not None  # --since-id: the supervisor's catch-up is it
        self.buffer: list[e.Message] = []
        self.topic: tuple[str, str, str] | None = None
        self.stopped = trio.Event()
        self.offline = False
        self._nursery: trio.Nursery | None = None

    async def run(self) -> int:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            nursery.start_soon(self.sup.run)
            nursery.start_soon(self._watch_signals)
            while not self.stopped.is_set():
                try:
                    await self._consume()
                except StdoutClosed:  # nobody reads us any more: leave, printing nothing
                    self._finish(EXIT_OK)
            nursery.cancel_scope.cancel()
        if self.message:
            self.out.error(self.message)
        return EXIT_OK if self.result is None else self.result

    # -- ending ----------------------------------------------------------------------------

    def _finish(self, code: int, message: str | None = None) -> None:
        """End with ``code``: QUIT if connected (the nick is free at once), then stop."""
        if self.result is not None:
            return
        self.result, self.message = code, message
        if self._nursery is not None:
            self._nursery.start_soon(self._leave)

    def _refused(self, why: str) -> None:
        self._finish(EXIT_REFUSED, f"cannot follow {self.channel}: refused by the server: {why}")

    async def _leave(self) -> None:
        if self.sup.live:
            with trio.move_on_after(QUIT_GRACE):
                await self.sup.send(c.Quit("flackcli tail done"))
                await self.stopped.wait()
        self.sup.stop()
        with trio.move_on_after(QUIT_GRACE):
            await self.stopped.wait()
        if not self.stopped.is_set():  # stop() does not interrupt a connection attempt
            self.stopped.set()
            assert self._nursery is not None
            self._nursery.cancel_scope.cancel()

    async def _watch_signals(self) -> None:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for signum in signals:
                if self.result is not None:  # a second signal: stop at once
                    assert self._nursery is not None
                    self._nursery.cancel_scope.cancel()
                    return
                interrupted = signum == signal.SIGINT
                self._finish(EXIT_INTERRUPTED if interrupted else EXIT_TERMINATED)

    # -- what the supervisor says ------------------------------------------------------------

    async def _consume(self) -> None:
        async for item in self.sup.events:
            if isinstance(item, ConnectionState):
                if self._state(item):
                    self.stopped.set()
                    return
            else:
                await self._item(item)

    def _state(self, state: ConnectionState) -> bool:
        """Handle a state change; True when the supervisor has stopped."""
        if state.state == "stopped":
            if self.result is None:
                self.result = EXIT_CONNECTION if self.registered else EXIT_REFUSED
                self.message = f"stopped: {state.reason}"
                if self.out.json:
                    self.out.line(status_json(state), "")
            return True
        if self.result is not None:
            return False
        if state.state == "live":
            was_offline, self.offline = self.offline, False
            text = "reconnected" if was_offline else "connected"
            self.out.status(
                status_json(state),
                f"{text} to {self.target.where} as {self.sup.nick}; following {self.channel}",
            )
            if not self.join_started:
                self.join_started = True
                assert self._nursery is not None
                self._nursery.start_soon(self._join)
        elif state.state == "offline":
            self.offline = True
            if not self.registered:  # never got in: a wrong address, not a blip
                self._finish(
                    EXIT_CONNECTION, state.reason or f"cannot connect to {self.target.where}"
                )
                return False
            wait = f" in {state.retry_in:.0f}s" if state.retry_in is not None else ""
            self.out.status(status_json(state), f"reconnecting{wait} ({state.reason})")
        return False

    async def _join(self) -> None:
        """Check that the channel exists (JOIN would create it), then join and catch up."""
        try:
            await self.sup.call(c.Names(self.channel))
        except FlackError as err:
            self._refused(f"{err}")
            return
        except ConnectionClosed:
            self.join_started = False  # again when we are live again
            return
        if self.since_id is not None:
            self.memory.last_seen[self.key] = self.since_id
        await self.sup.join(self.channel)

    async def _item(self, item: Item) -> None:
        if self.result is not None:
            return
        if isinstance(item, Registered):
            self.registered = True
        elif isinstance(item, SessionLost):  # instead of the raw ERR UNKNOWN_TOKEN
            self.out.status(
                {
                    "type": "session_lost",
                    "channel": self.channel,
                    "ts": _now_ts(),
                    "nick": item.nick,
                },
                f"the server restarted or forgot this session; signing in again as "
                f"{item.nick} (messages sent meanwhile may be lost)",
            )
        elif isinstance(item, SendFailed):
            if item.command == "JOIN":
                self._refused(f"{item.code}: {item.text}")
            else:
                self.out.error(f"{item.command} failed: {item.code}: {item.text}")
        elif isinstance(item, Gap):
            if fold(item.channel) == self.key:
                self.out.line(gap_json(item), gap_text(item))
        elif isinstance(item, CaughtUp):
            if fold(item.channel) == self.key and not self.synced:
                await self._first_sync()
        elif isinstance(item, e.Message):
            if is_channel(item.target) and fold(item.target) == self.key:
                if self.synced:
                    self.out.message(item)
                else:
                    self.buffer.append(item)
        elif isinstance(item, e.Event):
            self._event(item)

    def _event(self, event: e.Event) -> None:
        me = fold(self.sup.nick)
        if isinstance(event, _CHANNEL_EVENTS) and fold(event.channel) != self.key:
            return
        if isinstance(event, e.Joined | e.Parted | e.Quit) and fold(event.nick) == me:
            return  # our own comings and goings (a RESUME replies with JOIN lines)
        if isinstance(event, e.Topic):
            seen = (event.setter, event.time, event.text)
            if seen == self.topic or (self.topic is None and event.setter == "*"):
                return  # the same topic again (a rejoin shows it), or none was ever set
            self.topic = seen
        ts = _now_ts()
        obj = event_json(event, self.channel, ts)
        text = event_text(event, ts)
        if obj is not None and text is not None:
            self.out.line(obj, text)
        if isinstance(event, e.Kicked) and fold(event.nick) == me:
            why = f": {event.reason}" if event.reason else ""
            self._refused(f"{event.by} kicked you out{why}")

    async def _first_sync(self) -> None:
        """The channel is in sync for the first time: show the newest ``history`` messages."""
        self.synced = True
        messages, self.buffer = self.buffer, []
        if messages and len(messages) < self.history:
            try:
                lines = await self.sup.call(
                    c.History(
                        self.channel,
                        before=messages[0].id,
                        count=min(self.history - len(messages), HISTORY_MAX),
                    )
                )
                messages = _history_messages(lines) + messages
            except (FlackError, ConnectionClosed):
                pass  # show what we have
        for message in messages[-self.history :] if self.history > 0 else []:
            self.out.message(message)

"""Script commands: ``send``, ``history``, ``unread``, ``channels`` and ``who`` (``tail``,
which follows a channel for as long as it runs, is :mod:`flackcli.script_tail`).

Owns: what each one-shot command does on the wire (a ``trio.run`` of the client library,
:func:`~flackcli.client.open_client`, through :func:`flackcli.script_session.connected`)
and what it prints. Never imports prompt_toolkit. Imports trio, the standard library,
``flackd.codec`` and flackcli. What the commands share lives beside it: connecting and
the exit codes in :mod:`flackcli.script_session`, the output schema in
:mod:`flackcli.script_output`, pacing and splitting in :mod:`flackcli.pacing`.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import IO

import trio

from flackcli.client import ConnectionClosed, FlackError, block
from flackcli.pacing import Pacer, split_text
from flackcli.script_output import Output, unread_json, unread_text
from flackcli.script_session import (
    BLOCK_COST,
    EXIT_CONNECTION,
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_TIMEOUT,
    EXIT_USAGE,
    ScriptError,
    Session,
    Target,
    call,
    check_channel,
    connected,
    history_messages,
    run_command,
)
from flackd.codec import commands as c
from flackd.codec import events as e
from flackd.codec.text import fold, is_channel, is_valid_nick

__all__ = ["run_channels", "run_history", "run_send", "run_unread", "run_who"]


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
                    await call(client, c.Names(destination), f"cannot send to {destination}")
                await pacer.take()
                await call(client, c.Join(destination), f"cannot join {destination}")
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

    return run_command(out, main)


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
            lines = await call(
                session.client, c.History(channel, count=count), f"no history of {channel}"
            )
        for message in history_messages(lines):
            out.message(message)
        return EXIT_OK

    return run_command(out, main)


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
            lines = await call(session.client, c.Unread(), "cannot count unread messages")
        body, _ = block(lines, "UNREAD")
        counts = [x for x in body if isinstance(x, e.UnreadCount)]
        for count in counts:
            out.line(unread_json(count), unread_text(count))
        if not counts and not out.json:
            out.line({}, "nothing unread")
        return EXIT_OK

    return run_command(out, main)


def run_channels(target: Target, *, out: Output) -> int:
    """``flackcli channels``: every channel (LIST, all pages), with members and topic."""

    async def main() -> int:
        entries: list[e.ChannelEntry] = []
        pacer = Pacer()
        async with connected(target, pacer) as session:
            after: str | None = None
            for _ in range(100_000):  # bounded: each page moves the cursor on
                await pacer.take(BLOCK_COST)
                lines = await call(session.client, c.ListChannels(after), "cannot list")
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

    return run_command(out, main)


def run_who(target: Target, channel: str, *, out: Output) -> int:
    """``flackcli who``: the members of a channel (NAMES)."""

    async def main() -> int:
        check_channel(channel)
        async with connected(target) as session:
            lines = await call(session.client, c.Names(channel), f"cannot list {channel}")
        body, _ = block(lines, "NAMES")
        start = next((x for x in lines if isinstance(x, e.BlockStart) and x.kind == "NAMES"), None)
        name = start.params[0] if start is not None and start.params else channel
        for member in body:
            if isinstance(member, e.Member):
                record = {"type": "member", "channel": name, "nick": member.nick}
                out.line({**record, "role": member.role or None}, member.nick)
        return EXIT_OK

    return run_command(out, main)

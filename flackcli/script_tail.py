"""``flackcli tail``: follow a channel until interrupted, reconnecting and catching up.

Owns: the tail's run over the reconnecting :class:`~flackcli.supervisor.Supervisor`
(its first sync, the events it shows, leaving with QUIT on SIGINT or SIGTERM) and its
exit codes. Never imports prompt_toolkit. Imports trio, the standard library,
``flackd.codec`` and flackcli.
"""

from __future__ import annotations

import signal
from typing import Final

import trio

from flackcli.client import ConnectionClosed, FlackError
from flackcli.notices import CaughtUp, ConnectionState, Gap, Registered, SendFailed, SessionLost
from flackcli.script_output import (
    Output,
    StdoutClosed,
    event_json,
    event_text,
    gap_json,
    gap_text,
    now_ts,
    status_json,
)
from flackcli.script_session import (
    EXIT_CONNECTION,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_TERMINATED,
    EXIT_USAGE,
    HISTORY_MAX,
    QUIT_GRACE,
    ScriptError,
    Target,
    check_channel,
    history_messages,
    run_command,
)
from flackcli.supervisor import Item, Memory, Supervisor
from flackd.codec import commands as c
from flackd.codec import events as e
from flackd.codec.ids import parse_id
from flackd.codec.text import fold, is_channel

__all__ = ["run_tail"]


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

    return run_command(out, main)


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
                    "ts": now_ts(),
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
        ts = now_ts()
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
                messages = history_messages(lines) + messages
            except (FlackError, ConnectionClosed):
                pass  # show what we have
        for message in messages[-self.history :] if self.history > 0 else []:
            self.out.message(message)

"""Supervisor: a chat session that survives disconnections, with no gap and no duplicate.

Owns: the reconnect loop (backoff with jitter, no retry after a refusal), registration
(RESUME with the remembered token, else NICK, trying ``nick_`` and ``nick__`` when taken;
a token the server no longer knows, after a restart without durable state, becomes one
:class:`SessionLost` notice instead of a raw ``ERR UNKNOWN_TOKEN`` line),
re-joining remembered channels, catching each one up with ``HISTORY AFTER <last seen id>``
(reporting a :class:`Gap` when the server no longer has everything), holding back live lines
of a channel while it catches up, de-duplicating by id, and the bounded queue of commands
sent while offline (each sent once, after the next catch-up). Imports trio, the standard
library, ``flackd.codec`` and flackcli modules outside ``ui``.

What it remembers lives in :class:`Memory`; the caller persists it (``on_change`` is called
after each change) and passes it back next time, which is how flackcli comes back as the same
nick, in the same channels, without missing anything.

Limits: ``max_pending`` commands queued while offline (one more is refused with a
``SendFailed`` notice); ``out_capacity`` items waiting for the consumer of :attr:`events`
(when full the supervisor waits, the client's own queue fills, and that connection is
closed and later caught up: nothing is lost); ``DEDUPE_IDS`` remembered ids per channel.

Cancellation: cancelling :meth:`Supervisor.run` closes the connection at once.
"""

from __future__ import annotations

import random
import ssl
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

import trio

from flackcli import backoff
from flackcli.client import Client, ConnectionClosed, FlackError, block, open_client
from flackcli.notices import (
    CaughtUp,
    ConnectionState,
    Gap,
    Members,
    Notice,
    Registered,
    SendFailed,
    SessionLost,
)
from flackd.codec import commands as c
from flackd.codec import events as e
from flackd.codec.text import fold, is_channel

__all__ = ["DEDUPE_IDS", "Item", "Memory", "Supervisor"]

DEDUPE_IDS: Final = 1000
HISTORY_PAGE: Final = 100
#: A connection that lasted this long resets the backoff.
STABLE_AFTER: Final = 60.0
#: The verbs of registration: until one is answered OK, only ``_register`` sends them.
_REGISTRATION: Final = frozenset({"NICK", "RESUME"})

Item = e.Event | Notice


@dataclass
class Memory:
    """What a session remembers between runs (persisted by the caller as JSON)."""

    nick: str
    token: str | None = None
    channels: list[str] = field(default_factory=list)  # display names, in join order
    last_seen: dict[str, str] = field(default_factory=dict)  # folded channel -> message id
    last_channel: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "nick": self.nick,
            "token": self.token,
            "channels": list(self.channels),
            "last_seen": dict(self.last_seen),
            "last_channel": self.last_channel,
        }

    @classmethod
    def from_json(cls, data: dict[str, object], nick: str) -> Memory:
        def strings(value: object) -> list[str]:
            return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []

        seen = data.get("last_seen")
        token = data.get("token")
        last = data.get("last_channel")
        return cls(
            nick=str(data.get("nick") or nick),
            token=token if isinstance(token, str) else None,
            channels=strings(data.get("channels")),
            last_seen={
                str(k): v
                for k, v in (seen.items() if isinstance(seen, dict) else [])
                if isinstance(v, str)
            },
            last_channel=last if isinstance(last, str) else None,
        )


class _Refused(Exception):
    """Registration was refused for good (e.g. an invalid nick)."""


class Supervisor:
    """A reconnecting session. Run :meth:`run` in a nursery; read :attr:`events`."""

    def __init__(
        self,
        host: str,
        port: int,
        memory: Memory,
        *,
        on_change: Callable[[Memory], None] | None = None,
        rng: random.Random | None = None,
        max_pending: int = 100,
        out_capacity: int = 1024,
        keepalive: float = 60.0,
        keepalive_timeout: float = 30.0,
        reconnect: bool = True,
        context: int = 0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self._tls = tls  # see flackcli.address.tls_context; None: plain TCP
        self.memory = memory
        self._on_change = on_change
        self._rng = rng or random.Random()
        self._max_pending = max_pending
        self._keepalive = keepalive
        self._keepalive_timeout = keepalive_timeout
        self._reconnect = reconnect
        self._context = min(context, HISTORY_PAGE)
        self._out, self.events = trio.open_memory_channel[Item](out_capacity)
        self._client: Client | None = None
        self._pending: deque[c.Command] = deque()
        self._syncing: set[str] = set()
        self._held: dict[str, list[e.Message]] = {}
        self._seen: dict[str, tuple[deque[str], set[str]]] = {}
        self._retry_now = trio.Event()
        self._stop = trio.Event()
        self.nick = memory.nick
        self.state: ConnectionState = ConnectionState("connecting")

    # -- the public surface ------------------------------------------------------------

    @property
    def live(self) -> bool:
        return self._client is not None and not self._client.closed.is_set()

    def stop(self) -> None:
        """End :meth:`run` (the connection is closed; the session stays resumable)."""
        self._stop.set()
        self._retry_now.set()
        if self._client is not None:
            self._client._close(ConnectionClosed("stopped by the user"))

    def reconnect_now(self) -> None:
        """Skip the rest of the backoff wait."""
        self._retry_now.set()

    async def send(self, command: c.Command) -> None:
        """Send now if live, else queue it to be sent once after the next catch-up."""
        if isinstance(command, c.Join):
            await self.join(command.channel)
            return
        if isinstance(command, c.Part):
            self._forget_channel(command.channel)
        client = self._client
        if client is not None and self.live:
            try:
                await client.send(command)
            except ConnectionClosed:
                await self._notice(
                    SendFailed(
                        type(command).__name__.upper(),
                        "NOT_CONNECTED",
                        "the connection dropped while sending; if the server got it, "
                        "it will appear after the reconnect",
                    )
                )
            return
        if len(self._pending) >= self._max_pending:
            await self._notice(
                SendFailed(
                    type(command).__name__.upper(),
                    "QUEUE_FULL",
                    f"offline, and {self._max_pending} commands already wait",
                )
            )
            return
        self._pending.append(command)

    async def call(self, command: c.Command | str) -> list[e.Event]:
        """Send a command and return its reply lines (see :meth:`Client.call`); live only."""
        client = self._client
        if client is None:
            raise ConnectionClosed("not connected")
        return await client.call(command)

    async def join(self, channel: str) -> None:
        """Join (remembered from now on) and catch up; while offline, join on reconnect."""
        if fold(channel) not in {fold(name) for name in self.memory.channels}:
            self.memory.channels.append(channel)
        self.memory.last_channel = channel
        self._changed()
        client = self._client
        if client is not None and self.live:
            try:
                await self._join_and_catch_up(client, channel, resumed=False)
            except FlackError as err:
                self._forget_channel(channel)
                await self._notice(SendFailed("JOIN", err.code, err.error.text))
            except ConnectionClosed:
                pass  # joined on reconnect

    # -- the loop ----------------------------------------------------------------------

    async def run(self) -> None:
        """Connect, register, catch up and stay live, reconnecting until stopped."""
        attempt = 0
        while not self._stop.is_set():
            await self._state(ConnectionState("connecting", attempt=attempt))
            started = trio.current_time()
            bye: e.Bye | None = None
            reason = ""
            try:
                async with open_client(
                    self.host,
                    self.port,
                    tls=self._tls,
                    keepalive=self._keepalive,
                    keepalive_timeout=self._keepalive_timeout,
                ) as client:
                    await self._session(client)
                    closed = client.close_reason or ConnectionClosed("connection closed")
                    reason, bye = closed.reason, closed.bye
            except OSError as exc:
                reason = f"cannot connect to {self.host}:{self.port}: {exc.strerror or exc}"
            except trio.TooSlowError:
                reason = f"cannot connect to {self.host}:{self.port}: timed out"
            except ConnectionClosed as exc:
                reason, bye = exc.reason, exc.bye
            except _Refused as exc:
                await self._state(ConnectionState("stopped", str(exc)))
                return
            finally:
                self._client = None
            if self._stop.is_set():
                break
            policy = backoff.after_bye(bye)
            if isinstance(policy, backoff.Stop) or not self._reconnect:
                text = policy.reason if isinstance(policy, backoff.Stop) else reason
                await self._state(ConnectionState("stopped", text))
                return
            if trio.current_time() - started >= STABLE_AFTER:
                attempt = 0
            wait = max(policy.at_least, backoff.delay(attempt, self._rng))
            attempt += 1
            await self._state(ConnectionState("offline", reason, retry_in=wait, attempt=attempt))
            self._retry_now = trio.Event()
            with trio.move_on_after(wait):
                await self._retry_now.wait()
        await self._state(ConnectionState("stopped", "stopped by the user"))

    async def _session(self, client: Client) -> None:
        events = client.events()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._pump, events)
            try:
                await self._state(ConnectionState("registering"))
                # A RESUME puts us back in our channels at once, before they are caught up:
                # hold their live lines from now on, or one could move last_seen past what
                # the catch-up still has to fetch.
                for channel in self.memory.channels:
                    self._syncing.add(fold(channel))
                    self._held.setdefault(fold(channel), [])
                resumed = await self._register(client)
                self._client = client
                for channel in list(self.memory.channels):
                    try:
                        await self._join_and_catch_up(client, channel, resumed=channel in resumed)
                    except FlackError as err:  # e.g. TOO_MANY_CHANNELS: drop it, go on
                        self._forget_channel(channel)
                        await self._notice(SendFailed("JOIN", err.code, err.error.text))
                await self._state(ConnectionState("live"))
                while self._pending and not client.closed.is_set():
                    await client.send(self._pending.popleft())  # popped first: never twice
                await client.closed.wait()
            except ConnectionClosed:
                pass
            finally:
                self._client = None
                self._syncing.clear()
                self._held.clear()
                nursery.cancel_scope.cancel()

    # -- registration --------------------------------------------------------------------

    async def _register(self, client: Client) -> set[str]:
        """RESUME or NICK; return the channels the server already put us back in."""
        memory = self.memory
        if memory.token:
            try:
                lines = await client.call(c.Resume(memory.token))
            except FlackError as err:
                if err.code != "UNKNOWN_TOKEN":
                    raise
                # The server restarted without keeping sessions, or kept ours for less
                # time than we were away: say so in words (the pump drops the raw ERR),
                # then register anew and re-join below.
                memory.token = None
                self._changed()
                await self._notice(SessionLost(memory.nick, tuple(memory.channels)))
            else:
                ok = next(x for x in lines if isinstance(x, e.Ok) and x.command == "RESUME")
                self.nick = ok.params[0]
                memory.token = ok.param("token")
                last = ok.param("last")
                back = {x.channel for x in lines if isinstance(x, e.Joined) and x.nick == self.nick}
                self._changed()
                await self._notice(Registered(self.nick, True, None if last == "*" else last))
                return back
        for candidate in (memory.nick, memory.nick + "_", memory.nick + "__"):
            try:
                lines = await client.call(c.Nick(candidate))
            except FlackError as err:
                if err.code == "NICK_IN_USE":
                    continue
                raise _Refused(f"{err.code}: {err.error.text}") from None
            ok = next(x for x in lines if isinstance(x, e.Ok) and x.command == "NICK")
            self.nick = candidate
            memory.token = ok.param("token")
            self._changed()
            wanted = memory.nick if candidate != memory.nick else ""
            await self._notice(Registered(candidate, False, memory.last_channel, wanted))
            return set()
        raise _Refused(f"the nicks {memory.nick}, {memory.nick}_ and {memory.nick}__ are taken")

    # -- joining and catching up -------------------------------------------------------

    async def _join_and_catch_up(self, client: Client, channel: str, *, resumed: bool) -> None:
        key = fold(channel)
        self._syncing.add(key)
        self._held.setdefault(key, [])
        try:
            if resumed:
                names = await client.call(c.Names(channel))
                await self._notice(_members(channel, names))
                await client.call(c.Topic(channel))  # the TOPIC line reaches the pump
                replay: list[e.Message] = []
                if key not in self.memory.last_seen or self._wants_context(key):
                    # Nothing seen here yet (it was empty when we joined), so there is no
                    # cursor: everything it holds now arrived while we were away.
                    count = self._context if key in self.memory.last_seen else HISTORY_PAGE
                    lines = await client.call(c.History(channel, count=count))
                    replay = _block_messages(lines, "HISTORY")[0]
            else:
                lines = await client.call(c.Join(channel))
                ok = next(x for x in lines if isinstance(x, e.Ok) and x.command == "JOIN")
                channel = ok.params[0]  # the server's spelling (its TOPIC line reached the pump)
                await self._notice(_members(channel, lines))
                replay = _block_messages(lines, "HISTORY")[0]
            after = self.memory.last_seen.get(key)
            if after is None or (self._wants_context(key) and any(m.id == after for m in replay)):
                # Nothing seen yet, or (first sync in this process) the recent page still
                # reaches back to what we saw last: show it whole, the seen part as context.
                for message in replay:
                    await self._deliver(key, message)
            else:
                await self._catch_up(client, channel, after)
            self.memory.last_channel = self.memory.last_channel or channel
            # Held-back live lines, then live: no await between the last check and going live.
            # (If the connection dropped meanwhile, the session's teardown took the list.)
            while held := self._held.get(key):
                self._held[key] = []
                for message in held:
                    await self._deliver(key, message)
            if client.closed.is_set():
                raise ConnectionClosed("connection lost while catching up")
        finally:
            self._syncing.discard(key)
            self._held.pop(key, None)
        await self._notice(CaughtUp(channel))

    def _wants_context(self, key: str) -> bool:
        """First sync of ``key`` in this process, and the caller asked for context."""
        return self._context > 0 and key not in self._seen

    async def _catch_up(self, client: Client, channel: str, after: str) -> None:
        key = fold(channel)
        first = True
        for _ in range(10_000):  # bounded: each page moves the cursor forward
            lines = await client.call(c.History(channel, after=after, count=HISTORY_PAGE))
            messages, end = _block_messages(lines, "HISTORY")
            if first and end is not None and end.flag("gap"):
                await self._notice(Gap(channel, after))
            first = False
            for message in messages:
                await self._deliver(key, message)
            if not messages or end is None or not end.flag("more"):
                return
            after = messages[-1].id

    # -- live lines ----------------------------------------------------------------------

    async def _pump(self, events: trio.MemoryReceiveChannel[e.Event]) -> None:
        """Forward live lines; block bodies belong to ``call()`` replies and are skipped,
        and so are refusals of registration, which ``_register`` answers with notices
        (an unknown token: :class:`SessionLost`; a taken nick: the next one)."""
        in_block = False
        registered = False  # an OK NICK or OK RESUME went by: later refusals are the user's
        async for event in events:
            if isinstance(event, e.BlockStart):
                in_block = True
                continue
            if isinstance(event, e.BlockEnd):
                in_block = False
                continue
            if isinstance(event, e.Ok) and event.command in _REGISTRATION:
                registered = True
            if in_block or isinstance(event, e.Ok | e.Pong | e.Ping | e.Hello):
                continue
            if not registered and isinstance(event, e.Error) and event.command in _REGISTRATION:
                continue
            if isinstance(event, e.Message) and is_channel(event.target):
                key = fold(event.target)
                if key in self._syncing:
                    self._held[key].append(event)
                else:
                    await self._deliver(key, event)
                continue
            if isinstance(event, e.Parted) and event.nick == self.nick:
                self._forget_channel(event.channel)
            elif isinstance(event, e.NickChanged) and event.old == self.nick:
                self.nick = event.new
                self.memory.nick = event.new
                self._changed()
            await self._emit(event)

    async def _deliver(self, key: str, message: e.Message) -> None:
        """Emit a channel message once (dedupe by id) and remember it as seen."""
        order, ids = self._seen.setdefault(key, (deque(), set()))
        if message.id in ids:
            return
        ids.add(message.id)
        order.append(message.id)
        if len(order) > DEDUPE_IDS:
            ids.discard(order.popleft())
        self.memory.last_seen[key] = message.id
        self._changed()
        await self._emit(message)

    # -- helpers -----------------------------------------------------------------------

    def _forget_channel(self, channel: str) -> None:
        key = fold(channel)
        before = len(self.memory.channels)
        self.memory.channels = [name for name in self.memory.channels if fold(name) != key]
        self.memory.last_seen.pop(key, None)
        if self.memory.last_channel and fold(self.memory.last_channel) == key:
            self.memory.last_channel = self.memory.channels[-1] if self.memory.channels else None
        if len(self.memory.channels) != before:
            self._changed()

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change(self.memory)

    async def _emit(self, item: Item) -> None:
        await self._out.send(item)

    async def _notice(self, notice: Notice) -> None:
        await self._out.send(notice)

    async def _state(self, state: ConnectionState) -> None:
        self.state = state
        await self._out.send(state)


def _block_messages(lines: list[e.Event], kind: str) -> tuple[list[e.Message], e.BlockEnd | None]:
    """The messages of the first ``kind`` block in ``lines``, and its END line."""
    body, end = block(lines, kind)
    return [line for line in body if isinstance(line, e.Message)], end


def _members(channel: str, lines: list[e.Event]) -> Members:
    body, _ = block(lines, "NAMES")
    return Members(channel, tuple(line.nick for line in body if isinstance(line, e.Member)))

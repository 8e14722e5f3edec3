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
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Final

import trio

from flackcli import backoff
from flackcli.client import Client, ConnectionClosed, FlackError, block, open_client
from flackcli.notices import (
    CaughtUp,
    ConnectionState,
    Count,
    Gap,
    Members,
    Notice,
    Registered,
    SendFailed,
    SessionLost,
    UnreadCounts,
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
#: A live line held back while its conversation catches up.
_Held = e.Message | e.Edited | e.Deleted


@dataclass
class Memory:
    """What a session remembers between runs (persisted by the caller as JSON)."""

    nick: str
    token: str | None = None
    channels: list[str] = field(default_factory=list)  # display names, in join order
    #: folded channel or nick (a private conversation) -> the newest message id seen
    last_seen: dict[str, str] = field(default_factory=dict)
    last_channel: str | None = None
    #: private conversations (the other person's nick), in the order they opened
    dms: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {
            "nick": self.nick,
            "token": self.token,
            "channels": list(self.channels),
            "last_seen": dict(self.last_seen),
            "last_channel": self.last_channel,
            "dms": list(self.dms),
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
            dms=strings(data.get("dms")),
        )


#: Why the client stops when the server has a password and it was given none.
_NO_PASSWORD: Final = (
    "this server has a password: set FLACK_PASSWORD to it (see flackcli --help) and start again"
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
        fallbacks: Sequence[tuple[str, int]] = (),
    ) -> None:
        self.host = host
        self.port = port
        #: Every address of the chat, in the order to try them (``fallbacks``: more nodes
        #: of one cluster); a connection that cannot be made moves on to the next.
        self._addresses = [(host, port), *fallbacks]
        self._which = 0
        self._failed_in_a_row = 0  # connections that could not be made since one could
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
        self._held: dict[str, list[_Held]] = {}
        self._seen: dict[str, tuple[deque[str], set[str]]] = {}
        #: Keys of channels joined with one (``+k``), folded name -> key, for re-joins in
        #: this process only: never written to the memory (its file is not a secret store).
        self._keys: dict[str, str] = {}
        self._retry_now = trio.Event()
        self._stop = trio.Event()
        self.nick = memory.nick
        self.state: ConnectionState = ConnectionState("connecting")
        #: The server's protocol version (HELLO ``protocol=``): "1.1" keeps private
        #: conversations and has EDIT, ACTION, MARK and UNREAD; "1" has none of them.
        self.protocol = "1"

    # -- the public surface ------------------------------------------------------------

    @property
    def live(self) -> bool:
        return self._client is not None and not self._client.closed.is_set()

    @property
    def conversations(self) -> bool:
        """The server keeps private conversations (protocol 1.1): they have history,
        catch up after a reconnect, and take EDIT, ACTION, MARK and UNREAD."""
        return self.protocol != "1"

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
            await self.join(command.channel, command.key)
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

    async def join(self, channel: str, key: str | None = None) -> None:
        """Join (remembered from now on) and catch up; while offline, join on reconnect.
        ``key``: the channel's key (``+k``), also used when re-joining it later."""
        if key:
            self._keys[fold(channel)] = key
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

    async def open_conversation(self, nick: str) -> None:
        """A private conversation is open (remembered from now on): load its history,
        or catch it up; while offline, on reconnect. Nothing to do with a version-1
        server, which keeps no private history."""
        self._remember_dm(nick)
        client, key = self._client, fold(nick)
        if client is None or not self.live or not self.conversations:
            return
        if key in self._seen or key in self._syncing:
            return  # already shown in this process, or being loaded
        try:
            await self._sync_conversation(client, nick)
        except FlackError as err:
            await self._notice(SendFailed("HISTORY", err.code, err.error.text))
        except ConnectionClosed:
            pass  # caught up on reconnect

    def close_conversation(self, nick: str) -> None:
        """Forget a private conversation (its window was closed)."""
        key = fold(nick)
        dms = [name for name in self.memory.dms if fold(name) != key]
        if len(dms) != len(self.memory.dms):
            self.memory.dms = dms
            self.memory.last_seen.pop(key, None)
            self._changed()

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
                if self._next_address():
                    continue  # another node of the chat, at once
            except trio.TooSlowError:
                reason = f"cannot connect to {self.host}:{self.port}: timed out"
                if self._next_address():
                    continue
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

    def _next_address(self) -> bool:
        """Move on to the next address of the chat; True if it has not been tried since
        a connection last worked (try it at once), False once every one has failed (wait
        as the backoff says, then go round again)."""
        if len(self._addresses) < 2:
            return False
        self._which = (self._which + 1) % len(self._addresses)
        self.host, self.port = self._addresses[self._which]
        self._failed_in_a_row += 1
        if self._failed_in_a_row < len(self._addresses):
            return True
        self._failed_in_a_row = 0
        return False

    async def _session(self, client: Client) -> None:
        events = client.events()
        self.protocol = client.hello.protocol if client.hello is not None else "1"
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._pump, events, client, nursery)
            try:
                await self._state(ConnectionState("registering"))
                # A RESUME puts us back in our channels at once, before they are caught up:
                # hold their live lines from now on, or one could move last_seen past what
                # the catch-up still has to fetch.
                for name in self.memory.channels + (self.memory.dms if self.conversations else []):
                    self._syncing.add(fold(name))
                    self._held.setdefault(fold(name), [])
                resumed = await self._register(client)
                self._client = client
                self._failed_in_a_row = 0  # this address works: a new round from here
                for channel in list(self.memory.channels):
                    try:
                        await self._join_and_catch_up(client, channel, resumed=channel in resumed)
                    except FlackError as err:  # e.g. TOO_MANY_CHANNELS: drop it, go on
                        self._forget_channel(channel)
                        await self._notice(SendFailed("JOIN", err.code, err.error.text))
                for nick in list(self.memory.dms) if self.conversations else []:
                    try:
                        await self._sync_conversation(client, nick)
                    except FlackError:  # that person is gone, and the conversation with them
                        self.close_conversation(nick)
                        await self._notice(CaughtUp(nick))  # nothing more will come
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
                if err.code == "PASSWORD_REQUIRED":
                    raise _Refused(_NO_PASSWORD) from None
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
                if self.conversations:
                    await self._unread(lines)
                return back
        for candidate in (memory.nick, memory.nick + "_", memory.nick + "__"):
            try:
                lines = await client.call(c.Nick(candidate))
            except FlackError as err:
                if err.code == "NICK_IN_USE":
                    continue
                if err.code == "PASSWORD_REQUIRED":
                    raise _Refused(_NO_PASSWORD) from None
                raise _Refused(f"{err.code}: {err.error.text}") from None
            ok = next(x for x in lines if isinstance(x, e.Ok) and x.command == "NICK")
            self.nick = candidate
            memory.token = ok.param("token")
            self._changed()
            wanted = memory.nick if candidate != memory.nick else ""
            await self._notice(Registered(candidate, False, memory.last_channel, wanted))
            return set()
        raise _Refused(f"the nicks {memory.nick}, {memory.nick}_ and {memory.nick}__ are taken")

    async def _unread(self, lines: list[e.Event]) -> None:
        """The UNREAD block of a RESUME reply: the counts, as a notice; a private
        conversation with unread messages is remembered, so it is caught up below."""
        body, end = block(lines, "UNREAD")
        if end is None:
            return
        counts = [x for x in body if isinstance(x, e.UnreadCount)]
        for count in counts:
            if not is_channel(count.target) and fold(count.target) not in self._dm_keys():
                self._remember_dm(count.target)
                self._syncing.add(fold(count.target))
                self._held.setdefault(fold(count.target), [])
        await self._notice(
            UnreadCounts(tuple(Count(x.target, x.unread, x.mentions, x.newest) for x in counts))
        )

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
                lines = await client.call(c.Join(channel, self._keys.get(key)))
                ok = next(x for x in lines if isinstance(x, e.Ok) and x.command == "JOIN")
                channel = ok.params[0]  # the server's spelling (its TOPIC line reached the pump)
                await self._notice(_members(channel, lines))
                replay = _block_messages(lines, "HISTORY")[0]
            await self._bring_up_to_date(client, channel, replay)
            self.memory.last_channel = self.memory.last_channel or channel
        finally:
            self._syncing.discard(key)
            self._held.pop(key, None)
        await self._notice(CaughtUp(channel))

    async def _sync_conversation(self, client: Client, nick: str) -> None:
        """Load a private conversation (``HISTORY <nick>``) or catch it up, as a channel
        is on (re)join; its live lines wait meanwhile. A refusal (that person is gone)
        still shows the lines that waited, then raises :class:`FlackError`."""
        key = fold(nick)
        self._syncing.add(key)
        self._held.setdefault(key, [])
        try:
            replay: list[e.Message] = []
            if key not in self.memory.last_seen or self._wants_context(key):
                count = self._context if key in self.memory.last_seen else HISTORY_PAGE
                lines = await client.call(c.History(nick, count=count))
                replay = _block_messages(lines, "HISTORY")[0]
            await self._bring_up_to_date(client, nick, replay)
        except FlackError:
            await self._release_held(key)
            raise
        finally:
            self._syncing.discard(key)
            self._held.pop(key, None)
        await self._notice(CaughtUp(nick))

    async def _bring_up_to_date(self, client: Client, target: str, replay: list[e.Message]) -> None:
        """Deliver ``replay`` (what a join or a first HISTORY showed) or catch up after
        the last id seen, then the lines held back meanwhile; the caller then goes live."""
        key = fold(target)
        after = self.memory.last_seen.get(key)
        if after is None or (self._wants_context(key) and any(m.id == after for m in replay)):
            # Nothing seen yet, or (first sync in this process) the recent page still
            # reaches back to what we saw last: show it whole, the seen part as context.
            for message in replay:
                await self._deliver(key, message)
        else:
            await self._catch_up(client, target, after)
        # Held-back live lines, then live: no await between the last check and going live.
        # (If the connection dropped meanwhile, the session's teardown took the list.)
        await self._release_held(key)
        if client.closed.is_set():
            raise ConnectionClosed("connection lost while catching up")

    async def _release_held(self, key: str) -> None:
        while held := self._held.get(key):
            self._held[key] = []
            for item in held:
                if isinstance(item, e.Message):
                    await self._deliver(key, item)
                else:
                    await self._emit(item)

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

    async def _pump(
        self,
        events: trio.MemoryReceiveChannel[e.Event],
        client: Client,
        nursery: trio.Nursery,
    ) -> None:
        """Forward live lines; block bodies belong to ``call()`` replies and are skipped,
        and so are refusals of registration, which ``_register`` answers with notices
        (an unknown token: :class:`SessionLost`; a taken nick: the next one). A private
        message from or to someone new opens that conversation: its history is loaded
        in the background while its live lines wait."""
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
            key = self._conversation_key(event)
            if key is not None and isinstance(event, e.Message | e.Edited | e.Deleted):
                if key not in self._syncing and not is_channel(key) and key not in self._dm_keys():
                    target, author = _parties(event) or ("", "")
                    partner = target if fold(target) == key else author
                    self._remember_dm(partner)
                    self._syncing.add(key)
                    self._held[key] = []
                    nursery.start_soon(self._load_conversation, client, partner)
                if key in self._syncing:
                    self._held[key].append(event)
                elif isinstance(event, e.Message):
                    await self._deliver(key, event)
                else:
                    await self._emit(event)
                continue
            if isinstance(event, e.Parted | e.Kicked) and event.nick == self.nick:
                self._forget_channel(event.channel)  # a kick leaves the channel as a part does
            elif isinstance(event, e.NickChanged) and event.old == self.nick:
                self.nick = event.new
                self.memory.nick = event.new
                self._changed()
            elif isinstance(event, e.NickChanged):
                self._rename_dm(event.old, event.new)
            elif isinstance(event, e.Ctcp):  # said where one looks, as IRC clients do; unanswered
                text = f" {event.text}" if event.text else ""
                event = e.Info(f"{event.sender} sent CTCP {event.verb}{text} to {event.target}")
            await self._emit(event)

    def _conversation_key(self, event: e.Event) -> str | None:
        """The folded channel or partner a message line (or its edit or deletion) belongs
        to; None for lines of private messages from a version-1 server (no ids kept)."""
        parties = _parties(event)
        if parties is None:
            return None
        target, author = parties
        if is_channel(target):
            return fold(target)
        if not self.conversations:
            return None
        return fold(author) if fold(target) == fold(self.nick) else fold(target)

    async def _load_conversation(self, client: Client, nick: str) -> None:
        """A conversation the pump found: load it; a refusal or a drop only ends this."""
        with suppress(FlackError, ConnectionClosed):
            await self._sync_conversation(client, nick)

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

    def _dm_keys(self) -> set[str]:
        return {fold(name) for name in self.memory.dms}

    def _remember_dm(self, nick: str) -> None:
        if fold(nick) not in self._dm_keys():
            self.memory.dms.append(nick)
            self._changed()

    def _rename_dm(self, old: str, new: str) -> None:
        """The other person of a private conversation changed nick: follow them."""
        old_key, new_key = fold(old), fold(new)
        if old_key not in self._dm_keys() or old_key == new_key:
            return
        self.memory.dms = [new if fold(name) == old_key else name for name in self.memory.dms]
        if old_key in self.memory.last_seen:
            self.memory.last_seen[new_key] = self.memory.last_seen.pop(old_key)
        if old_key in self._seen:
            self._seen[new_key] = self._seen.pop(old_key)
        self._changed()

    def _forget_channel(self, channel: str) -> None:
        key = fold(channel)
        self._keys.pop(key, None)
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
    members = [line for line in body if isinstance(line, e.Member)]
    return Members(channel, tuple(m.nick for m in members), tuple(m.role for m in members))


def _parties(event: e.Event) -> tuple[str, str] | None:
    """``(target, author)`` of a message line, its edit or its deletion, else None."""
    if isinstance(event, e.Message):
        return event.target, event.author
    if isinstance(event, e.Edited):
        return event.target, event.editor
    if isinstance(event, e.Deleted):
        return event.channel, event.nick
    return None

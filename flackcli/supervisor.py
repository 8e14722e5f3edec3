"""Supervisor: a chat session that survives disconnections, with no gap and no duplicate.

Owns: the reconnect loop (backoff with jitter, no retry after a refusal; the chat's other
addresses tried in turn), registering on each connection (RESUME, else NICK: how is
:mod:`flackcli.registration`'s), deciding when each remembered channel and private
conversation catches up (on every connection, on a join, on a first private message
from someone new), routing the live lines, and the bounded queue of commands sent while
offline (each sent once, after the next catch-up). The catching up itself (history
pages, held-back live lines, de-duplication by id) is :mod:`flackcli.catchup`'s. Imports
trio, the standard library, ``flackd.codec`` and flackcli modules outside ``ui``.

What it remembers lives in :class:`flackcli.memory.Memory` (also importable from here);
the caller persists it (``on_change`` is called after each change) and passes it back
next time, which is how flackcli comes back as the same nick, in the same channels,
without missing anything.

Limits: ``max_pending`` commands queued while offline (one more is refused with a
``SendFailed`` notice); ``out_capacity`` items waiting for the consumer of :attr:`events`
(when full the supervisor waits, the client's own queue fills, and that connection is
closed and later caught up: nothing is lost); ``DEDUPE_IDS`` remembered ids per channel
(:mod:`flackcli.catchup`).

Cancellation: cancelling :meth:`Supervisor.run` closes the connection at once.
"""

from __future__ import annotations

import random
import ssl
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import suppress
from typing import Final

import trio

from flackcli import backoff
from flackcli.catchup import DEDUPE_IDS, CatchUp, Item
from flackcli.client import Client, ConnectionClosed, FlackError, block, open_client
from flackcli.memory import Memory
from flackcli.notices import (
    CaughtUp,
    ConnectionState,
    Count,
    Notice,
    SendFailed,
    UnreadCounts,
)
from flackcli.registration import REGISTRATION, Refused, register
from flackd.codec import commands as c
from flackd.codec import events as e
from flackd.codec.text import fold, is_channel

__all__ = ["DEDUPE_IDS", "Item", "Memory", "Supervisor"]

#: A connection that lasted this long resets the backoff.
STABLE_AFTER: Final = 60.0


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
        self._out, self.events = trio.open_memory_channel[Item](out_capacity)
        self._client: Client | None = None
        self._pending: deque[c.Command] = deque()
        #: Brings each channel and private conversation up to date (flackcli.catchup).
        self.catchup = CatchUp(memory, context, self._emit, self._changed)
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
        self.memory.remember_channel(channel)
        self._changed()
        client = self._client
        if client is not None and self.live:
            try:
                await self.catchup.join(
                    client, channel, resumed=False, passkey=self._keys.get(fold(channel))
                )
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
        if self.catchup.known(key):
            return  # already shown in this process, or being loaded
        try:
            await self.catchup.conversation(client, nick)
        except FlackError as err:
            await self._notice(SendFailed("HISTORY", err.code, err.error.text))
        except ConnectionClosed:
            pass  # caught up on reconnect

    def close_conversation(self, nick: str) -> None:
        """Forget a private conversation (its window was closed)."""
        if self.memory.forget_dm(nick):
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
            except Refused as exc:
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
                    self.catchup.hold(fold(name))
                resumed = await self._register(client)
                self._client = client
                self._failed_in_a_row = 0  # this address works: a new round from here
                for channel in list(self.memory.channels):
                    try:
                        await self.catchup.join(
                            client,
                            channel,
                            resumed=channel in resumed,
                            passkey=self._keys.get(fold(channel)),
                        )
                    except FlackError as err:  # e.g. TOO_MANY_CHANNELS: drop it, go on
                        self._forget_channel(channel)
                        await self._notice(SendFailed("JOIN", err.code, err.error.text))
                for nick in list(self.memory.dms) if self.conversations else []:
                    try:
                        await self.catchup.conversation(client, nick)
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
                self.catchup.drop()
                nursery.cancel_scope.cancel()

    # -- registration --------------------------------------------------------------------

    async def _register(self, client: Client) -> frozenset[str]:
        """RESUME or NICK (:func:`flackcli.registration.register`); return the channels
        the server already put us back in."""
        welcome = await register(
            client, self.memory, named=self._named, changed=self._changed, notice=self._notice
        )
        if welcome.reply and self.conversations:
            await self._unread(welcome.reply)
        return welcome.back

    def _named(self, nick: str) -> None:
        self.nick = nick

    async def _unread(self, lines: Sequence[e.Event]) -> None:
        """The UNREAD block of a RESUME reply: the counts, as a notice; a private
        conversation with unread messages is remembered, so it is caught up below."""
        body, end = block(lines, "UNREAD")
        if end is None:
            return
        counts = [x for x in body if isinstance(x, e.UnreadCount)]
        for count in counts:
            if not is_channel(count.target) and fold(count.target) not in self.memory.dm_keys():
                self._remember_dm(count.target)
                self.catchup.hold(fold(count.target))
        await self._notice(
            UnreadCounts(tuple(Count(x.target, x.unread, x.mentions, x.newest) for x in counts))
        )

    # -- live lines ----------------------------------------------------------------------

    async def _pump(
        self,
        events: trio.MemoryReceiveChannel[e.Event],
        client: Client,
        nursery: trio.Nursery,
    ) -> None:
        """Forward live lines; block bodies belong to ``call()`` replies and are skipped,
        and so are refusals of registration, which :func:`~flackcli.registration.register` answers
        (an unknown token: a ``SessionLost`` notice; a taken nick: the next one). A private
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
            if isinstance(event, e.Ok) and event.command in REGISTRATION:
                registered = True
            if in_block or isinstance(event, e.Ok | e.Pong | e.Ping | e.Hello):
                continue
            if not registered and isinstance(event, e.Error) and event.command in REGISTRATION:
                continue
            key = self._conversation_key(event)
            if key is not None and isinstance(event, e.Message | e.Edited | e.Deleted):
                if (
                    key not in self.catchup.syncing
                    and not is_channel(key)
                    and key not in self.memory.dm_keys()
                ):
                    target, author = _parties(event) or ("", "")
                    partner = target if fold(target) == key else author
                    self._remember_dm(partner)
                    self.catchup.hold(key)
                    nursery.start_soon(self._load_conversation, client, partner)
                await self.catchup.live(key, event)
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
            await self.catchup.conversation(client, nick)

    # -- helpers -----------------------------------------------------------------------

    def _remember_dm(self, nick: str) -> None:
        if self.memory.remember_dm(nick):
            self._changed()

    def _rename_dm(self, old: str, new: str) -> None:
        """The other person of a private conversation changed nick: follow them."""
        if self.memory.rename_dm(old, new):
            self.catchup.rename(fold(old), fold(new))
            self._changed()

    def _forget_channel(self, channel: str) -> None:
        self._keys.pop(fold(channel), None)
        if self.memory.forget_channel(channel):
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


def _parties(event: e.Event) -> tuple[str, str] | None:
    """``(target, author)`` of a message line, its edit or its deletion, else None."""
    if isinstance(event, e.Message):
        return event.target, event.author
    if isinstance(event, e.Edited):
        return event.target, event.editor
    if isinstance(event, e.Deleted):
        return event.channel, event.nick
    return None

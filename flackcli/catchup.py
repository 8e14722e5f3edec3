"""Catching a conversation up: after a (re)join or a reconnect, nothing missed and
nothing shown twice.

Owns: :class:`CatchUp`, one per :class:`flackcli.supervisor.Supervisor`: bringing a channel
or a private conversation up to date (the JOIN, or the NAMES and TOPIC of a channel the
server put us back in with RESUME; its recent history, or ``HISTORY AFTER`` the last id
seen, page by page, with a :class:`flackcli.notices.Gap` when the server no longer has
everything), holding back the live lines of a conversation while it catches up and
releasing them in order, and de-duplicating by id (:data:`DEDUPE_IDS` per
conversation). It moves :attr:`flackcli.memory.Memory.last_seen`; the supervisor decides
when each conversation catches up and owns the connection. Imports the standard library,
``flackd.codec`` and flackcli modules outside ``ui`` (never trio itself: it only awaits
the client's calls).

Limits: :data:`DEDUPE_IDS` ids remembered per conversation; :data:`HISTORY_PAGE` lines a
``HISTORY`` page (the context shown on a first sync is at most that); at most 10,000
pages a catch-up (each page moves the cursor forward).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable
from typing import Final

from flackcli.client import Client, ConnectionClosed, FlackError, block
from flackcli.memory import Memory
from flackcli.notices import CaughtUp, Gap, Members, Notice
from flackd.codec import commands as c
from flackd.codec import events as e
from flackd.codec.text import fold

__all__ = ["DEDUPE_IDS", "HISTORY_PAGE", "CatchUp", "Item"]

DEDUPE_IDS: Final = 1000
HISTORY_PAGE: Final = 100

#: What a session hands its reader: a server line, or a notice about the session.
Item = e.Event | Notice
#: A live line held back while its conversation catches up.
_Held = e.Message | e.Edited | e.Deleted


class CatchUp:
    """The catch-up of one session's conversations (see the module). Keys are folded
    channel names or, for a private conversation, the other person's folded nick."""

    def __init__(
        self,
        memory: Memory,
        context: int,
        emit: Callable[[Item], Awaitable[None]],
        changed: Callable[[], None],
    ) -> None:
        self.memory = memory
        #: Lines of history shown as context on a conversation's first sync in this
        #: process (0: none; at most HISTORY_PAGE).
        self.context = min(context, HISTORY_PAGE)
        self._emit = emit
        self._changed = changed
        #: Conversations catching up now; their live lines wait in :attr:`held`, in order.
        self.syncing: set[str] = set()
        self.held: dict[str, list[_Held]] = {}
        #: The ids shown per conversation in this process (order, and the set to look up).
        self.seen: dict[str, tuple[deque[str], set[str]]] = {}

    def hold(self, key: str) -> None:
        """From now on, hold ``key``'s live lines until it has caught up."""
        self.syncing.add(key)
        self.held.setdefault(key, [])

    def drop(self) -> None:
        """The connection is gone: nothing is catching up any more (the next one will)."""
        self.syncing.clear()
        self.held.clear()

    def known(self, key: str) -> bool:
        """``key`` was shown in this process, or is being caught up now."""
        return key in self.seen or key in self.syncing

    def rename(self, old_key: str, new_key: str) -> None:
        """The other person of a private conversation changed nick: its ids follow."""
        if old_key in self.seen:
            self.seen[new_key] = self.seen.pop(old_key)

    async def live(self, key: str, event: _Held) -> None:
        """A live line of ``key``: held while it catches up, else shown (a message once)."""
        if key in self.syncing:
            self.held[key].append(event)
        elif isinstance(event, e.Message):
            await self.deliver(key, event)
        else:
            await self._emit(event)

    async def join(
        self, client: Client, channel: str, *, resumed: bool, passkey: str | None = None
    ) -> None:
        key = fold(channel)
        self.syncing.add(key)
        self.held.setdefault(key, [])
        try:
            if resumed:
                names = await client.call(c.Names(channel))
                await self._emit(_members(channel, names))
                await client.call(c.Topic(channel))  # the TOPIC line reaches the pump
                replay: list[e.Message] = []
                if key not in self.memory.last_seen or self.wants_context(key):
                    # Nothing seen here yet (it was empty when we joined), so there is no
                    # cursor: everything it holds now arrived while we were away.
                    count = self.context if key in self.memory.last_seen else HISTORY_PAGE
                    lines = await client.call(c.History(channel, count=count))
                    replay = _block_messages(lines, "HISTORY")[0]
            else:
                lines = await client.call(c.Join(channel, passkey))
                ok = next(x for x in lines if isinstance(x, e.Ok) and x.command == "JOIN")
                channel = ok.params[0]  # the server's spelling (its TOPIC line reached the pump)
                await self._emit(_members(channel, lines))
                replay = _block_messages(lines, "HISTORY")[0]
            await self._bring_up_to_date(client, channel, replay)
            self.memory.last_channel = self.memory.last_channel or channel
        finally:
            self.syncing.discard(key)
            self.held.pop(key, None)
        await self._emit(CaughtUp(channel))

    async def conversation(self, client: Client, nick: str) -> None:
        """Load a private conversation (``HISTORY <nick>``) or catch it up, as a channel
        is on (re)join; its live lines wait meanwhile. A refusal (that person is gone)
        still shows the lines that waited, then raises :class:`FlackError`."""
        key = fold(nick)
        self.syncing.add(key)
        self.held.setdefault(key, [])
        try:
            replay: list[e.Message] = []
            if key not in self.memory.last_seen or self.wants_context(key):
                count = self.context if key in self.memory.last_seen else HISTORY_PAGE
                lines = await client.call(c.History(nick, count=count))
                replay = _block_messages(lines, "HISTORY")[0]
            await self._bring_up_to_date(client, nick, replay)
        except FlackError:
            await self.release_held(key)
            raise
        finally:
            self.syncing.discard(key)
            self.held.pop(key, None)
        await self._emit(CaughtUp(nick))

    async def _bring_up_to_date(self, client: Client, target: str, replay: list[e.Message]) -> None:
        """Deliver ``replay`` (what a join or a first HISTORY showed) or catch up after
        the last id seen, then the lines held back meanwhile; the caller then goes live."""
        key = fold(target)
        after = self.memory.last_seen.get(key)
        if after is None or (self.wants_context(key) and any(m.id == after for m in replay)):
            # Nothing seen yet, or (first sync in this process) the recent page still
            # reaches back to what we saw last: show it whole, the seen part as context.
            for message in replay:
                await self.deliver(key, message)
        else:
            await self._catch_up(client, target, after)
        # Held-back live lines, then live: no await between the last check and going live.
        # (If the connection dropped meanwhile, the session's teardown took the list.)
        await self.release_held(key)
        if client.closed.is_set():
            raise ConnectionClosed("connection lost while catching up")

    async def release_held(self, key: str) -> None:
        while held := self.held.get(key):
            self.held[key] = []
            for item in held:
                if isinstance(item, e.Message):
                    await self.deliver(key, item)
                else:
                    await self._emit(item)

    def wants_context(self, key: str) -> bool:
        """First sync of ``key`` in this process, and the caller asked for context."""
        return self.context > 0 and key not in self.seen

    async def _catch_up(self, client: Client, channel: str, after: str) -> None:
        key = fold(channel)
        first = True
        for _ in range(10_000):  # bounded: each page moves the cursor forward
            lines = await client.call(c.History(channel, after=after, count=HISTORY_PAGE))
            messages, end = _block_messages(lines, "HISTORY")
            if first and end is not None and end.flag("gap"):
                await self._emit(Gap(channel, after))
            first = False
            for message in messages:
                await self.deliver(key, message)
            if not messages or end is None or not end.flag("more"):
                return
            after = messages[-1].id

    async def deliver(self, key: str, message: e.Message) -> None:
        """Emit a channel message once (dedupe by id) and remember it as seen."""
        order, ids = self.seen.setdefault(key, (deque(), set()))
        if message.id in ids:
            return
        ids.add(message.id)
        order.append(message.id)
        if len(order) > DEDUPE_IDS:
            ids.discard(order.popleft())
        self.memory.last_seen[key] = message.id
        self._changed()
        await self._emit(message)


def _block_messages(lines: list[e.Event], kind: str) -> tuple[list[e.Message], e.BlockEnd | None]:
    """The messages of the first ``kind`` block in ``lines``, and its END line."""
    body, end = block(lines, kind)
    return [line for line in body if isinstance(line, e.Message)], end


def _members(channel: str, lines: list[e.Event]) -> Members:
    body, _ = block(lines, "NAMES")
    members = [line for line in body if isinstance(line, e.Member)]
    return Members(channel, tuple(m.nick for m in members), tuple(m.role for m in members))

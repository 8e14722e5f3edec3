"""The one place where asyncio and Trio meet: Trio runs as a guest in prompt-toolkit's loop.

Owns: starting prompt-toolkit's asyncio event loop, starting Trio inside it in guest mode
(same thread), the bridge that carries user actions from prompt-toolkit callbacks to Trio
(``TrioToken.run_sync_soon``, which is safe to call from the host loop), pumping the
supervisor's events into the view model followed by ``app.invalidate()``, saving state
(debounced), sending read markers (``MARK``, debounced by ``ui.marks``), holding the
session's lock (so ``flackcli unread`` does not take the session over), and shutting both
loops down in order. No other module imports both asyncio
and trio (tests/test_architecture.py checks it).

Flow: keys -> ``ui.app`` -> ``ui.input.parse`` -> an action -> :class:`Bridge` -> Trio task
-> :class:`flackcli.supervisor.Supervisor` -> flackd; and back: supervisor events ->
``View.apply`` -> ``app.invalidate()`` -> prompt-toolkit redraws (merged).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Sequence
from typing import Any

import trio
from prompt_toolkit.application import Application

from flackcli import files
from flackcli.address import Address
from flackcli.supervisor import Memory, Supervisor
from flackcli.ui import input as ui_input
from flackcli.ui.actions import perform
from flackcli.ui.app import build as build_app
from flackcli.ui.marks import MarkTracker
from flackcli.ui.view import View
from flackd.codec import commands as c
from flackd.codec.text import fold

__all__ = ["Bridge", "run_tui"]

#: Seconds between state saves while things change (and once more at exit).
SAVE_EVERY = 2.0
#: Recent lines shown again on start when few were missed (context above the read marker).
CONTEXT_LINES = 20
#: Seconds between looks at what the user has read (for MARK; each conversation is
#: debounced to one MARK a second by MarkTracker).
MARK_POLL = 0.5


class Bridge:
    """Hands actions from prompt-toolkit callbacks (asyncio side) to a Trio task."""

    def __init__(self, capacity: int = 256) -> None:
        self.send, self.receive = trio.open_memory_channel[ui_input.Action](capacity)
        self.token: trio.lowlevel.TrioToken | None = None
        self.dropped = 0

    def submit(self, action: ui_input.Action) -> None:
        """Called from the UI: queue ``action`` for the Trio side (never blocks)."""
        if self.token is None:
            return

        def deliver() -> None:
            try:
                self.send.send_nowait(action)
            except trio.WouldBlock:  # the user typed faster than the network side runs
                self.dropped += 1

        self.token.run_sync_soon(deliver)


class _Dirty:
    """Set when the remembered state changed and should be saved."""

    def __init__(self) -> None:
        self.event = trio.Event()

    def mark(self, _memory: Memory) -> None:
        self.event.set()


async def _trio_main(
    supervisor: Supervisor,
    view: View,
    application: Application[Any],
    bridge: Bridge,
    dirty: _Dirty,
    save: Callable[[], None],
) -> None:
    bridge.token = trio.lowlevel.current_trio_token()
    try:
        async with trio.open_nursery() as nursery:

            async def run_supervisor() -> None:
                await supervisor.run()
                nursery.cancel_scope.cancel()

            async def pump() -> None:
                async for item in supervisor.events:
                    view.apply(item)
                    if view.take_bell():  # a mention or private message off screen
                        application.output.bell()
                    application.invalidate()

            async def act() -> None:
                async for action in bridge.receive:
                    if await perform(action, supervisor, view):
                        supervisor.stop()
                        nursery.cancel_scope.cancel()
                        return
                    application.invalidate()

            async def save_now_and_then() -> None:
                while True:
                    await dirty.event.wait()
                    dirty.event = trio.Event()
                    save()
                    await trio.sleep(SAVE_EVERY)

            nursery.start_soon(run_supervisor)
            nursery.start_soon(pump)
            nursery.start_soon(act)
            nursery.start_soon(save_now_and_then)
            nursery.start_soon(send_marks, supervisor, view)
    finally:
        save()


async def send_marks(supervisor: Supervisor, view: View) -> None:
    """Move the server's read markers to what the user has seen (protocol 1.1): every
    ``MARK_POLL`` seconds, the MARKs that :class:`MarkTracker` says are due."""
    tracker = MarkTracker()
    while True:
        await trio.sleep(MARK_POLL)
        if not (supervisor.live and supervisor.conversations):
            continue
        for name, msg_id, own in view.read_positions():
            tracker.seen(name, msg_id, own)
        for target, msg_id in tracker.due(trio.current_time()):
            await supervisor.send(c.Mark(target, msg_id))


async def _main(
    host: str,
    port: int,
    nick: str,
    config: files.Config,
    state: files.State,
    tls: ssl.SSLContext | None = None,
    fallbacks: Sequence[tuple[str, int]] = (),
) -> int:
    server = _key(host, port, tls, fallbacks)  # the key in state.json
    memory = files.memory_for(state, server, nick)
    dirty = _Dirty()
    supervisor = Supervisor(
        host,
        port,
        memory,
        on_change=dirty.mark,
        context=CONTEXT_LINES,
        tls=tls,
        fallbacks=fallbacks,
    )
    view = View(memory.nick, highlight_words=tuple(config.highlight_words))
    if memory.last_channel:  # come back to the channel you were in
        view.request_focus(memory.last_channel)
    for name in memory.channels + memory.dms:  # what was seen before counts as read
        seen = memory.last_seen.get(fold(name))
        if seen is not None:  # (a 1.1 server's UNREAD counts replace this)
            view.restore_read(name, seen)
    bridge = Bridge()
    application = build_app(view, bridge.submit)

    def save() -> None:
        current = view.current.name
        if current.startswith("#") and current in view.channel_names():
            supervisor.memory.last_channel = current  # the channel on screen: come back to it
        files.remember(state, server, supervisor.memory)
        files.save_state(state)

    loop = asyncio.get_running_loop()
    trio_done: asyncio.Future[Any] = loop.create_future()

    def on_trio_done(outcome: Any) -> None:
        if not trio_done.done():
            trio_done.set_result(outcome)

    trio.lowlevel.start_guest_run(
        _trio_main,
        supervisor,
        view,
        application,
        bridge,
        dirty,
        save,
        run_sync_soon_threadsafe=loop.call_soon_threadsafe,
        done_callback=on_trio_done,
        host_uses_signal_set_wakeup_fd=True,
    )
    ui_task = asyncio.ensure_future(application.run_async())
    await asyncio.wait([ui_task, trio_done], return_when=asyncio.FIRST_COMPLETED)
    if not trio_done.done():  # the UI ended first (Ctrl+Q): stop the Trio side
        bridge.submit(ui_input.Quit(None))
    outcome = await trio_done
    if not ui_task.done():  # the session stopped for good: leave the screen
        application.exit()
    await ui_task
    outcome.unwrap()
    return 0


def _key(
    host: str, port: int, tls: ssl.SSLContext | None, fallbacks: Sequence[tuple[str, int]]
) -> str:
    """The server's key in state.json: its address, and its fallbacks after commas."""
    every = [(host, port), *fallbacks]
    return ",".join(str(Address(h, p, tls is not None)) for h, p in every)


def run_tui(
    host: str,
    port: int,
    nick: str,
    config: files.Config,
    state: files.State,
    *,
    tls: ssl.SSLContext | None = None,
    fallbacks: Sequence[tuple[str, int]] = (),
) -> int:
    """Run the full-screen client until the user quits; return the exit status.
    ``tls``: the context for a ``tls://`` server (None: plain TCP); ``fallbacks``: more
    addresses of the same chat, tried in turn when one cannot be reached."""
    server = _key(host, port, tls, fallbacks)
    with files.session_lock(server, nick):  # held even if another process holds it too
        return asyncio.run(_main(host, port, nick, config, state, tls, fallbacks))

"""An IRC bot written with the ``irc`` package (what most Python IRC bots use) in a Flack
channel, against the installed ``flackd`` as a subprocess.

The bot runs its own (blocking) reactor in a worker thread, bounded in time; a Flack client
talks to it over Flack's own port.
"""

from __future__ import annotations

import threading
from typing import Any

import irc.client
import trio

from tests.process import flackd_process, free_port
from tests.support import WAIT, LineClient


def run_bot(port: int, joined: trio.Event, stop: threading.Event) -> list[str]:
    """A bot that answers ``!ping`` with ``pong <nick>`` in #bots; returns what it heard."""
    heard: list[str] = []
    reactor = irc.client.Reactor()
    connection = reactor.server().connect("127.0.0.1", port, "pingbot")

    def on_welcome(conn: Any, _event: Any) -> None:
        conn.join("#bots")

    def on_join(_conn: Any, event: Any) -> None:
        if irc.client.NickMask(event.source).nick == "pingbot":
            trio.from_thread.run_sync(joined.set)  # tell the test, on its own thread

    def on_pubmsg(conn: Any, event: Any) -> None:
        text = event.arguments[0]
        heard.append(text)
        if text == "!ping":
            conn.privmsg(event.target, f"pong {irc.client.NickMask(event.source).nick}")

    connection.add_global_handler("welcome", on_welcome)
    connection.add_global_handler("join", on_join)
    connection.add_global_handler("pubmsg", on_pubmsg)
    for _ in range(int(WAIT * 20)):  # bounded: WAIT seconds in all
        if stop.is_set():
            break
        reactor.process_once(timeout=0.05)
    connection.quit("done")
    connection.close()
    return heard


async def test_an_irc_library_bot_answers_a_flack_user() -> None:
    port = free_port()
    async with flackd_process("--irc-port", str(port)) as flackd:
        assert flackd.irc_port == port
        joined, stop = trio.Event(), threading.Event()
        async with trio.open_nursery() as nursery:
            result: list[list[str]] = []

            async def bot() -> None:
                result.append(await trio.to_thread.run_sync(run_bot, port, joined, stop))

            nursery.start_soon(bot)
            with trio.fail_after(WAIT):
                await joined.wait()
            alice = await LineClient.connect(flackd.port, "alice")
            await alice.send("NICK alice", "JOIN #bots")
            await alice.recv_until("END HISTORY")
            await alice.send("MSG #bots !ping")
            lines = await alice.recv_until("MSG #bots")  # alice's echo
            reply = (await alice.recv_until("MSG #bots"))[-1]
            assert reply.endswith(" pingbot :pong alice"), (lines, reply)
            stop.set()
        assert result == [["!ping"]]

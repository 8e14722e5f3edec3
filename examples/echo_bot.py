"""A command bot on the flackcli library: answers ``!echo text``, ``!time`` and ``!help``.

It joins one channel through the reconnecting Supervisor, so it survives dropped
connections and server restarts, and after a reconnect it also answers the commands it
missed (the Supervisor catches up with ``HISTORY AFTER``, without duplicates). It ignores
its own lines and the old lines shown when it first joins, and paces its replies to
flackd's flood control. Run it::

    python examples/echo_bot.py --server 127.0.0.1:7777 '#bots'
    # then say in #bots:  !echo hello   !time   !help
"""

from __future__ import annotations

import argparse
import os
import time

import trio

from flackcli.files import parse_server
from flackcli.notices import CaughtUp, ConnectionState
from flackcli.scripting import Pacer
from flackcli.supervisor import Memory, Supervisor
from flackd.codec import commands as c
from flackd.codec import events as e
from flackd.codec.text import fold

HELP = "commands: !echo <text> (say it back), !time (UTC now), !help (this)"


def answer(text: str) -> str | None:
    """The reply to one chat line, or None when it is not a command."""
    command, _, rest = text.strip().partition(" ")
    if command == "!echo":
        return rest.strip() or "(nothing to echo)"
    if command == "!time":
        return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    if command == "!help":
        return HELP
    return None


async def run_bot(
    host: str,
    port: int,
    channel: str,
    nick: str = "echobot",
    *,
    task_status: trio.TaskStatus[Supervisor] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``channel`` until the session stops; ``nursery.start`` returns once it is in."""
    supervisor = Supervisor(host, port, Memory(nick, channels=[channel]))
    pacer = Pacer()  # a burst of 10 lines, then 2 a second: flackd never has to slow us
    ready = False
    async with trio.open_nursery() as nursery:
        nursery.start_soon(supervisor.run)
        async for item in supervisor.events:
            if isinstance(item, ConnectionState) and item.state == "stopped":
                break  # refused (nick taken thrice, ...) or stopped: nothing more to do
            if isinstance(item, CaughtUp) and fold(item.channel) == fold(channel) and not ready:
                ready = True  # what came before was said before we were here
                task_status.started(supervisor)
                continue
            if not ready or not isinstance(item, e.Message) or fold(item.target) != fold(channel):
                continue
            if fold(item.author) == fold(supervisor.nick):
                continue  # our own reply: never answer ourselves
            reply = answer(item.text)
            if reply is not None:
                await pacer.take()
                await supervisor.send(c.Msg(channel, reply))  # queued while offline
        nursery.cancel_scope.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(description="Answer !echo, !time and !help in a channel.")
    parser.add_argument("--server", default=os.environ.get("FLACK_SERVER", "127.0.0.1:7777"))
    parser.add_argument("--nick", default="echobot")
    parser.add_argument("channel", help="the channel to serve, like '#bots'")
    args = parser.parse_args()
    host, port = parse_server(args.server)
    try:
        trio.run(run_bot, host, port, args.channel, args.nick)
    except KeyboardInterrupt:
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()

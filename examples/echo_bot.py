"""A command bot on the flackcli library: answers ``!echo text``, ``!time`` and ``!help``.

It joins one channel through the reconnecting Supervisor, so it survives dropped
connections and server restarts, and after a reconnect it also answers the commands it
missed (the Supervisor catches up with ``HISTORY AFTER``, without duplicates). It ignores
its own lines and the old lines shown when it first joins, and paces its replies to
flackd's flood control. Run it::

    python examples/echo_bot.py --server 127.0.0.1:7777 '#bots'
    python examples/echo_bot.py --server tls://chat.example.org '#bots'   # over TLS
    # then say in #bots:  !echo hello   !time   !help
"""

from __future__ import annotations

import argparse
import os
import ssl
import time
from functools import partial

import trio

from flackcli.address import parse_address, tls_context
from flackcli.notices import CaughtUp, ConnectionState
from flackcli.pacing import Pacer
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
    tls: ssl.SSLContext | None = None,
    task_status: trio.TaskStatus[Supervisor] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``channel`` until the session stops; ``nursery.start`` returns once it is in.
    ``tls``: :func:`flackcli.address.tls_context` for a ``tls://`` server."""
    supervisor = Supervisor(host, port, Memory(nick, channels=[channel]), tls=tls)
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
    parser.add_argument(
        "--ca",
        default=os.environ.get("FLACK_CA"),
        help="for a tls:// server: trust only the CA certificates in this PEM file",
    )
    parser.add_argument("--nick", default="echobot")
    parser.add_argument("channel", help="the channel to serve, like '#bots'")
    args = parser.parse_args()
    try:
        where = parse_address(args.server)  # host:port, or tls://host:port
        tls = tls_context(where, args.ca)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        trio.run(partial(run_bot, where.host, where.port, args.channel, args.nick, tls=tls))
    except KeyboardInterrupt:
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()

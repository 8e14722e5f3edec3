"""Relays stdin into a channel: one message per line, paced, each confirmed by its echo.

Built on the plain client (``open_client``: one connection, no reconnecting), the right
tool for a job that must either finish or fail loudly. Run it::

    tail -F /var/log/deploy.log | python examples/relay_bot.py --server 127.0.0.1:7777 '#ops'
    ... | python examples/relay_bot.py --server tls://chat.example.org '#ops'   # over TLS

Exits 0 at the end of stdin once the server has echoed every line; 1 when it cannot connect
or the connection is lost; 3 when the server refuses (nick taken, bad channel name, ...).
"""

from __future__ import annotations

import argparse
import os
import ssl
import sys
from typing import IO

import trio

from flackcli.address import parse_address, tls_context
from flackcli.client import ConnectionClosed, FlackError, open_client
from flackcli.pacing import Pacer, split_text
from flackd.codec import commands as c
from flackd.codec import events as e


async def relay(
    host: str,
    port: int,
    channel: str,
    nick: str,
    lines: IO[bytes],
    tls: ssl.SSLContext | None = None,
) -> int:
    """Send every line of ``lines`` to ``channel``; return the number of messages sent."""
    sent = 0
    async with open_client(host, port, tls=tls) as client:
        await client.call(c.Nick(nick))  # FlackError (e.g. NICK_IN_USE) if refused
        await client.call(c.Join(channel))  # creates the channel if it does not exist
        budget = (client.hello.max_line if client.hello else 512) - len(f"MSG {channel} \n")
        pacer = Pacer()  # flackd allows a burst of 10 lines, then 2 a second
        while raw := await trio.to_thread.run_sync(lines.readline, abandon_on_cancel=True):
            for text in split_text(raw.decode("utf-8", "replace").rstrip("\r\n"), budget):
                await pacer.take()
                reply = await client.call(c.Msg(channel, text))  # waits for the echo
                if not any(isinstance(line, e.Message) for line in reply):
                    raise ConnectionClosed("the server did not echo a message")
                sent += 1
        await client.send(c.Quit("end of input"))  # frees the nick at once
        with trio.move_on_after(2):
            await client.closed.wait()  # the server's BYE: the QUIT was carried out
    return sent


def main() -> None:
    parser = argparse.ArgumentParser(description="Relay stdin lines into a channel.")
    parser.add_argument("--server", default=os.environ.get("FLACK_SERVER", "127.0.0.1:7777"))
    parser.add_argument(
        "--ca",
        default=os.environ.get("FLACK_CA"),
        help="for a tls:// server: trust only the CA certificates in this PEM file",
    )
    parser.add_argument("--nick", default="relaybot")
    parser.add_argument("channel", help="the channel to write to, like '#ops'")
    args = parser.parse_args()
    try:
        where = parse_address(args.server)  # host:port, or tls://host:port
        tls = tls_context(where, args.ca)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        trio.run(relay, where.host, where.port, args.channel, args.nick, sys.stdin.buffer, tls)
    except (OSError, ConnectionClosed, trio.TooSlowError) as exc:
        print(f"relay_bot: connection failed: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    except FlackError as exc:
        print(f"relay_bot: refused by the server: {exc}", file=sys.stderr)
        raise SystemExit(3) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()

"""The bare Trio relay: the floor flackd is measured against.

Same I/O shape as flackd: a reader and a writer task per client, a queue per client, one
``send_all`` per writer wake-up, 4 KiB reads. One difference: the writer is woken only when
its queue goes from empty to not empty (flackd's ``Connection.push`` wakes it on every
line). Just enough of the Flack wire shape for benchmarks/loadgen.c: a HELLO line,
``NICK`` -> ``OK NICK``, ``JOIN`` -> ``OK JOIN`` ... ``END HISTORY``, ``MSG #c text`` ->
``MSG #c <id> <ts> <nick> :text`` to every member (sender included), ``PING`` -> ``PONG``.
No history, no checks, no limits, no UTF-8 validation: whatever flackd does beyond this is
what its extra cost buys.

Usage: python benchmarks/relay.py --port 7000
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import sys
import time

import trio

HELLO = b"HELLO relay 0.1 maxline=512 history=0 :bare Trio relay\r\n"
channels: dict[bytes, set[Client]] = {}
ids = itertools.count(1)


class Client:
    __slots__ = ("joined", "lot", "nick", "queue", "stream")

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.nick = b"*"
        self.queue: list[bytes] = []
        self.lot = trio.lowlevel.ParkingLot()
        self.joined: set[bytes] = set()

    def push(self, data: bytes) -> None:
        self.queue.append(data)
        if len(self.queue) == 1:  # the writer is parked, or about to look at the queue
            self.lot.unpark()

    async def writer(self) -> None:
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            while True:
                if not self.queue:
                    await self.lot.park()
                    continue
                data = b"".join(self.queue)
                self.queue.clear()
                await self.stream.send_all(data)

    async def reader(self) -> None:
        buffer = b""
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            while data := await self.stream.receive_some(4096):
                *lines, buffer = (buffer + data).split(b"\n")
                for line in lines:
                    if line[:4].upper() == b"QUIT":
                        return
                    self.handle(line.rstrip(b"\r"))

    def handle(self, line: bytes) -> None:
        verb, _, rest = line.partition(b" ")
        verb = verb.upper()
        if verb == b"MSG":
            target, _, text = rest.partition(b" ")
            ts = b"%.3f" % time.time()
            out = b"MSG %s %d %s %s :%s\r\n" % (target, next(ids), ts, self.nick, text)
            for member in channels.get(target, ()):
                member.push(out)
        elif verb == b"NICK":
            self.nick = rest
            self.push(b"OK NICK %s token=- :welcome\r\n" % rest)
        elif verb == b"JOIN":
            members = channels.setdefault(rest, set())
            members.add(self)
            self.joined.add(rest)
            self.push(b"OK JOIN %s %d :joined\r\nEND HISTORY %s more=no gap=no\r\n"
                      % (rest, len(members), rest))  # fmt: skip
        elif verb == b"PING":
            self.push(b"PONG %s\r\n" % rest)


async def serve_client(stream: trio.SocketStream) -> None:
    client = Client(stream)
    client.push(HELLO)
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(client.writer)
            await client.reader()
            nursery.cancel_scope.cancel()
    finally:
        for name in client.joined:
            channels[name].discard(client)
        await trio.aclose_forcefully(stream)


async def main(port: int) -> None:
    listeners = await trio.open_tcp_listeners(port, host="127.0.0.1")
    print(f"relay listening on 127.0.0.1:{listeners[0].socket.getsockname()[1]}", file=sys.stderr)
    await trio.serve_listeners(serve_client, listeners)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="The bare Trio relay (see the docstring).")
    parser.add_argument("--port", type=int, default=7000)
    trio.run(main, parser.parse_args().port)

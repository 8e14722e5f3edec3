"""Time flackd's per-message hot path, piece by piece, without sockets.

One ``MSG #bench <100 bytes>`` line from a member of an N-member channel goes through the
same functions the reader calls: decode, parse, the hub, encode, and the fan-out into
every member's outbox. Each piece is timed on its own (microseconds per message), then
the whole ``Server._process`` path, then the reader's path around it for one read holding
the line (``LineReader._take``: framing, per-line checks, the flood buckets). Last, the
writes: the flusher's pass over connections
with a line queued each (real socket pairs, drained between rounds) against a bare
``os.writev`` per socket, so its Python per delivery shows. Deterministic enough to compare
before and after a change on one machine (run it twice); it measures CPython, not the
network.

Usage::

    .venv/bin/python benchmarks/hotpath.py [--members 200] [--count 20000]
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import socket
import time
from collections.abc import Callable

import trio

from flackd.codec.grammar import parse_command
from flackd.codec.lines import encode_event
from flackd.codec.text import decode_line
from flackd.connection import Connection
from flackd.fanout import push_to_all
from flackd.flusher import Flusher
from flackd.hub import Broadcast, Hub
from flackd.limits import Limits
from flackd.server import Server

LINE = b"MSG #bench BM001 00003 000000042 0000012345678901234 " + b"x" * 48


def timed(name: str, count: int, fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    for _ in range(count):
        fn()
    per = (time.perf_counter() - start) / count * 1e6
    print(f"  {name:<34} {per:8.2f} us")
    return per


async def main(members: int, count: int) -> None:
    limits = Limits(max_connections=max(members, 16))
    hub: Hub[Connection] = Hub(limits)
    # Connections that are never written to: pushes only queue (their writer never runs).
    client, _ = trio.socket.socketpair()
    stream = trio.SocketStream(client)
    conns = [Connection(stream, "bench", 1 << 40, 1.0, b"BYE\r\n", 30.0) for _ in range(members)]
    now = time.time()
    for i, conn in enumerate(conns):
        hub.connect(conn, now)
        for line in (f"NICK user{i}", "JOIN #bench"):
            verb, command = parse_command(line)
            hub.handle(conn, verb, command, now)

    def drain() -> None:
        for conn in conns:
            conn._queue.clear()
            conn.queued = 0

    print(f"one MSG line to a {members}-member channel ({count} times each):")
    text = decode_line(LINE)
    verb, command = parse_command(text)
    effect = hub.handle(conns[0], verb, command, now)[0]
    assert isinstance(effect, Broadcast)
    data = encode_event(effect.event)
    timed("decode_line", count, lambda: decode_line(LINE))
    timed("parse_command", count, lambda: parse_command(text))
    timed("Hub.handle", count, lambda: hub.handle(conns[0], verb, command, now))
    timed("encode_event", count, lambda: encode_event(effect.event))
    clearing = timed("(emptying the outboxes, subtracted)", count, drain)

    def fan_out() -> None:
        push_to_all(conns, data)
        drain()

    fanned = timed("push_to_all + emptying", count, fan_out) - clearing
    print(f"  {'push_to_all':<34} {fanned:8.2f} us ({fanned / members * 1000:.0f} ns a member)")
    server = Server(limits, hub)

    def process() -> None:
        server._process(conns[0], LINE)
        drain()

    whole = timed("Server._process + emptying", count, process) - clearing
    print(f"  {'Server._process (all of it)':<34} {whole:8.2f} us")
    # The reader's own path around it, as the poller calls it for one read holding one
    # line: framing, the checks of each line, and the flood buckets.
    for conn in conns:
        conn.registration_deadline = math.inf  # registered (the hub has them as such)
    state = server._reading(conns[0])
    state.bucket.rate = state.liveness.rate = 1e12  # never paced: the line is carried out
    read = LINE + b"\r\n"

    def take() -> None:
        server._take(state, read)
        drain()

    taken = timed("LineReader._take + emptying", count, take) - clearing
    print(f"  {'LineReader._take (one read, a line)':<34} {taken:8.2f} us")
    stream.socket.close()
    writes(min(members, 100), max(20, count // members))


def writes(members: int, rounds: int) -> None:
    """The flusher's pass against bare ``os.writev`` calls, per delivery (one line to each
    of ``members`` socket pairs, ``rounds`` times, the peers drained between rounds)."""
    pairs = [socket.socketpair() for _ in range(members)]
    try:
        for ours, theirs in pairs:
            ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
            theirs.setblocking(False)
        flusher = Flusher(0.0)
        conns = []
        for ours, _ in pairs:
            stream = trio.SocketStream(trio.socket.from_stdlib_socket(ours))
            conn = Connection(stream, "bench", 1 << 40, 1.0, b"BYE\r\n", 30.0)
            conn.use_flusher(flusher)
            conns.append(conn)
        fds = [ours.fileno() for ours, _ in pairs]
        line = b"MSG #bench BM001 1795507200000-57 2026-12-04T09:00:00.000Z :" + b"x" * 60 + b"\r\n"

        def drain() -> None:
            for _, theirs in pairs:
                with contextlib.suppress(BlockingIOError):
                    while theirs.recv(1 << 16):
                        pass

        bare = flushed = 0.0
        for _ in range(rounds):
            start = time.perf_counter()
            for fd in fds:
                os.writev(fd, [line])
            bare += time.perf_counter() - start
            drain()
            push_to_all(conns, line)
            start = time.perf_counter()
            flusher.before_io_wait(0)
            flushed += time.perf_counter() - start
            drain()
        per = 1e6 / (rounds * members)
        print(f"one line to each of {members} connections ({rounds} times):")
        print(f"  {'os.writev alone':<34} {bare * per:8.2f} us a delivery")
        print(f"  {'Flusher.before_io_wait':<34} {flushed * per:8.2f} us a delivery")
        print(f"  {'(the flusher Python alone)':<34} {(flushed - bare) * per:8.2f} us a delivery")
    finally:
        for ours, theirs in pairs:
            ours.close()
            theirs.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--count", type=int, default=20000)
    args = parser.parse_args()
    trio.run(main, args.members, args.count)

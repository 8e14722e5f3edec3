"""A long run of two flackd nodes over one Redis: does what Redis holds stay bounded?

Starts its own redis-server and two ``flackd --redis`` nodes on free loopback ports (all
stopped by PID at the end), connects ``--clients`` senders spread over both nodes and
``--channels`` channels, and sends ``--messages`` messages in total (bounded in count and
in ``--seconds``), each sender waiting for its own echoes in windows of ``--window``.
Every ``--every`` messages it prints what Redis holds: the log's length, the snapshot's
entry and size, Redis's used memory, the number of keys. Run::

    .venv/bin/python benchmarks/cluster_soak.py --messages 300000
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import coredis
import trio

ROOT = Path(__file__).resolve().parent.parent
FLACKD = Path(sys.executable).with_name("flackd")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def _wait_line(process: trio.Process, needle: bytes, found: trio.Event) -> None:
    stream = process.stderr if process.stderr is not None else process.stdout
    assert stream is not None
    buffer = b""
    async for chunk in stream:
        buffer = (buffer + chunk)[-4096:]
        if needle in buffer:
            found.set()


async def _start(argv: list[str], needle: bytes, *, stderr: bool) -> trio.Process:
    process = await trio.lowlevel.open_process(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL if stderr else subprocess.PIPE,
        stderr=subprocess.PIPE if stderr else subprocess.STDOUT,
    )
    found = trio.Event()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_wait_line, process, needle, found)
        with trio.fail_after(20):
            await found.wait()
        nursery.cancel_scope.cancel()
    return process


class Sender:
    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buffer = b""

    async def lines_until(self, prefix: bytes, count: int) -> None:
        seen = 0
        while seen < count:
            data = await self.stream.receive_some(1 << 16)
            if not data:
                raise EOFError("server closed")
            self.buffer += data
            *lines, self.buffer = self.buffer.split(b"\n")
            seen += sum(1 for line in lines if line.startswith(prefix))


async def _stats(redis: coredis.Redis[bytes]) -> str:
    length = await redis.xlen("{soak}:log")
    seq = await redis.hget("{soak}:snap", "seq")
    data = await redis.hstrlen("{soak}:snap", "data")
    info = await redis.info("memory")
    keys = await redis.dbsize()
    used = int(str(info["used_memory"])) / 1e6
    return (
        f"log {length:>7} entries | snapshot at {int(seq or 0):>7} ({data / 1e3:,.0f} kB) | "
        f"keys {keys} | used_memory {used:.1f} MB"
    )


async def main(args: argparse.Namespace) -> None:
    redis_bin = shutil.which("redis-server")
    if redis_bin is None:
        sys.exit("redis-server is not installed (scripts/setup.sh installs it)")
    tmp = Path(tempfile.mkdtemp(prefix="flack-soak-"))
    rport = _free_port()
    processes: list[trio.Process] = []
    try:
        processes.append(
            await _start(
                [
                    redis_bin,
                    "--port",
                    str(rport),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(tmp),
                ],
                b"Ready to accept connections",
                stderr=False,
            )
        )
        ports = [_free_port(), _free_port()]
        for i, port in enumerate(ports):
            processes.append(
                await _start(
                    [
                        str(FLACKD),
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(port),
                        "--irc-port",
                        "0",
                        "--web-port",
                        "0",
                        "--redis",
                        f"redis://127.0.0.1:{rport}/0",
                        "--redis-prefix",
                        "soak",
                        "--node-id",
                        f"n{i}",
                        "--flood-burst",
                        "100000",
                        "--flood-rate",
                        "100000",
                        "--new-per-ip",
                        "100000",
                        "--max-per-ip",
                        "100000",
                    ],
                    b"listening on",
                    stderr=True,
                )
            )
        senders: list[Sender] = []
        for n in range(args.clients):
            stream = await trio.open_tcp_stream("127.0.0.1", ports[n % 2])
            sender = Sender(stream)
            channel = f"#soak{n % args.channels}"
            await stream.send_all(f"NICK s{n}\nJOIN {channel}\n".encode())
            await sender.lines_until(b"END HISTORY", 1)
            senders.append(sender)
        async with coredis.Redis(host="127.0.0.1", port=rport) as redis:
            sent = 0
            started = time.monotonic()
            per_round = args.clients * args.window
            while sent < args.messages and time.monotonic() - started < args.seconds:

                async def one(n: int, sender: Sender, base: int) -> None:
                    channel = f"#soak{n % args.channels}"
                    lines = "".join(
                        f"MSG {channel} soak message {base + k}\n" for k in range(args.window)
                    )
                    await sender.stream.send_all(lines.encode())
                    # Own echoes and the others' copies: wait for the own ones only.
                    await sender.lines_until(f"MSG {channel} ".encode(), args.window)

                async with trio.open_nursery() as nursery:
                    for n, sender in enumerate(senders):
                        nursery.start_soon(one, n, sender, sent)
                before = sent // args.every
                sent += per_round
                if sent // args.every != before:
                    elapsed = time.monotonic() - started
                    print(f"{sent:>8} msgs {sent / elapsed:>7,.0f}/s | {await _stats(redis)}")
            print(f"done: {sent} messages in {time.monotonic() - started:.1f} s")
            print(f"at the end: {await _stats(redis)}")
    finally:
        for process in reversed(processes):  # only what this script started, by PID
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            with trio.move_on_after(10):
                await process.wait()
            if process.returncode is None:
                os.kill(process.pid, signal.SIGKILL)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=300_000)
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--clients", type=int, default=40)
    parser.add_argument("--channels", type=int, default=20)
    parser.add_argument("--window", type=int, default=20)
    parser.add_argument("--every", type=int, default=50_000)
    trio.run(main, parser.parse_args())

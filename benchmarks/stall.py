"""How long flackd's event loop stalls with --data-dir, against in memory, and commit times.

    .venv/bin/python benchmarks/stall.py                      # both modes, 20 members
    .venv/bin/python benchmarks/stall.py --synchronous full --messages 50000

Runs flackd in this process on a loopback port (in memory, then with a data directory in
a temporary folder) and a child process of this script as the clients: ``--members``
clients in one channel, ``--senders`` of them posting ``--messages`` messages in all as
fast as flow control lets them, until the first member has received every one. Meanwhile

- a probe task in the server asks Trio to wake it every millisecond and records how late
  it woke: the longest lateness is the longest the event loop was held (by the server's
  own work: reading, the hub, fan-out, and with a store its commits and the release of
  everything a commit held);
- every commit is timed (on the event loop with ``synchronous=normal``, in a worker thread
  with ``full``), and the database's size is shown after the run.

Loopback only; the run is bounded by ``--messages`` and ``--timeout``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import trio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flackd.limits import Limits  # noqa: E402
from flackd.server import Server  # noqa: E402
from flackd.store import Changes, Snapshot  # noqa: E402
from flackd.store.sqlite import DB_NAME, SqliteStore  # noqa: E402


class TimedStore:
    """The SQLite store, timing each commit (seconds) and counting its messages."""

    def __init__(self, inner: SqliteStore) -> None:
        self.inner = inner
        self.where = inner.where
        self.commit_in_thread = inner.commit_in_thread
        self.times: list[float] = []
        self.sizes: list[int] = []

    def load(self) -> Snapshot:
        return self.inner.load()

    def commit(self, changes: Changes) -> None:
        start = time.perf_counter()
        self.inner.commit(changes)
        self.times.append(time.perf_counter() - start)
        self.sizes.append(len(changes.messages))

    def maintenance_due(self) -> bool:
        return self.inner.maintenance_due()

    def maintain(self) -> None:
        self.inner.maintain()

    def close(self) -> None:
        self.inner.close()


def _quantiles(values: list[float]) -> str:
    values = sorted(values)
    p50 = values[len(values) // 2] * 1e3
    p99 = values[int(len(values) * 0.99)] * 1e3
    return f"p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {values[-1] * 1e3:.2f} ms"


async def serve_once(args: argparse.Namespace, directory: Path | None) -> None:
    """One run: the server here, the clients in a child process."""
    store = None
    if directory is not None:
        store = TimedStore(SqliteStore.open(directory, synchronous=args.synchronous))
    limits = Limits(
        flood_burst=1_000_000,
        flood_rate=1_000_000.0,
        sendq_bytes=16 << 20,
        trusted_loopback=True,  # all the clients come from 127.0.0.1
        history=args.history,
        history_page=min(20, args.history),
        join_replay=min(20, args.history),
    )
    server = Server(limits, store=store)
    lateness: list[float] = []
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(server.serve, "127.0.0.1", 0)
        port = listeners[0].socket.getsockname()[1]

        async def probe() -> None:
            while True:
                start = trio.current_time()
                await trio.sleep(0.001)
                lateness.append(trio.current_time() - start - 0.001)

        nursery.start_soon(probe)
        argv = [sys.executable, __file__, "--client", str(port)]
        if args.pin:
            argv = ["taskset", "-c", "1", *argv]
        argv += ["--members", str(args.members), "--senders", str(args.senders)]
        argv += ["--messages", str(args.messages), "--timeout", str(args.timeout)]
        started = time.perf_counter()
        with trio.fail_after(args.timeout):
            await trio.run_process(argv, stdin=subprocess.DEVNULL)
        elapsed = time.perf_counter() - started
        nursery.cancel_scope.cancel()
    mode = "in memory" if store is None else f"--data-dir, synchronous={args.synchronous}"
    print(f"{mode}: {args.messages} messages to {args.members} members in {elapsed:.2f} s "
          f"({args.messages / elapsed:,.0f} messages/s)")  # fmt: skip
    print("  event-loop stall (lateness of a 1 ms sleep):", _quantiles(lateness))
    if store is not None and directory is not None:
        store.close()
        where = "worker thread" if store.commit_in_thread else "on the event loop"
        print(
            f"  {len(store.times)} commits, {statistics.mean(store.sizes):.0f} messages each "
            f"on average; commit time ({where}): {_quantiles(store.times)}"
        )
        size = (directory / DB_NAME).stat().st_size
        print(f"  database after the run (--history {args.history}): {size / 1024:.0f} KiB")


async def clients(args: argparse.Namespace) -> None:
    """The child process: members join, senders post, wait until member 0 has it all."""
    streams = []
    for i in range(args.members):
        stream = await trio.open_tcp_stream("127.0.0.1", args.client)
        await stream.send_all(f"NICK m{i}\nJOIN #bench\nPING ready\n".encode())
        streams.append(stream)
    for stream in streams:  # everyone is in before anyone posts
        data = b""
        while b"PONG ready" not in data:
            more = await stream.receive_some(1 << 16)
            if not more:
                raise SystemExit(f"flackd closed a client: {data[-200:]!r}")
            data += more
    got_all = trio.Event()

    async def drain(stream: trio.SocketStream, counting: bool) -> None:
        seen = 0
        tail = b""
        while data := await stream.receive_some(1 << 16):
            if counting:
                chunk = tail + data
                seen += chunk.count(b"\nMSG #bench ") + chunk.startswith(b"MSG #bench ")
                tail = chunk[-16:]
                if seen >= args.messages:
                    got_all.set()

    per_sender = args.messages // args.senders
    text = "x" * 40
    with trio.fail_after(args.timeout):
        async with trio.open_nursery() as nursery:
            for i, stream in enumerate(streams):
                nursery.start_soon(drain, stream, i == 0)
            for stream in streams[: args.senders]:
                lines = "".join(f"MSG #bench message {n} {text}\n" for n in range(per_sender))
                nursery.start_soon(stream.send_all, lines.encode())
            await got_all.wait()
            nursery.cancel_scope.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=20)
    parser.add_argument("--senders", type=int, default=5)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--history", type=int, default=100, help="flackd --history")
    parser.add_argument("--synchronous", choices=("normal", "full"), default="normal")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--client", type=int, help=argparse.SUPPRESS)  # the child's port
    args = parser.parse_args()
    args.messages -= args.messages % args.senders
    if args.client:
        trio.run(clients, args)
        return
    args.pin = (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None
    if args.pin:  # the server on core 0 (with its commit thread), the clients on core 1
        os.sched_setaffinity(0, {0})
    trio.run(serve_once, args, None)
    with tempfile.TemporaryDirectory(prefix="flack-stall-") as tmp:
        trio.run(serve_once, args, Path(tmp))


if __name__ == "__main__":
    main()

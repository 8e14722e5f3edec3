"""A real Redis for the cluster tests, and flackd nodes in process that share it.

:func:`redis_server` starts Debian's ``redis-server`` on 127.0.0.1 and a free port, yields
once it says it is ready (its own log line, not a sleep), and stops it by its PID.
:func:`start_node` runs an in-process flackd node (``--redis``) that a test can kill at
once by cancelling its scope, as ``kill -9`` would.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import coredis
import pytest
import trio

from flackd.limits import Limits
from flackd.server import Server
from flackd.store.redis import RedisLog
from tests.process import free_port
from tests.support import WAIT, RunningServer

REDIS = shutil.which("redis-server")

#: Cluster limits for tests: a short lease, so a dead node is declared dead quickly.
CLUSTER_LIMITS = Limits(flood_burst=10_000, flood_rate=10_000.0, redis_lease=1.0, redis_timeout=1.0)


def need_redis() -> None:
    if REDIS is None:
        pytest.skip("redis-server is not installed (scripts/setup.sh installs it with apt)")


@dataclass
class RedisProcess:
    port: int
    directory: Path
    flags: tuple[str, ...]
    process: trio.Process | None = None
    log: list[str] = field(default_factory=list)

    #: What nodes are given as --redis (a test may point it at a TLS port).
    url: str = ""

    def __post_init__(self) -> None:
        self.url = self.url or f"redis://127.0.0.1:{self.port}/0"

    async def start(self, nursery: trio.Nursery) -> None:
        """Start (or start again) redis-server on the same port; return once it is ready."""
        assert REDIS is not None
        self.process = await trio.lowlevel.open_process(
            [
                REDIS,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.directory),
                "--daemonize",
                "no",
                *self.flags,
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        ready = trio.Event()
        nursery.start_soon(self._read_log, self.process, ready)
        with trio.fail_after(WAIT):
            await ready.wait()

    async def _read_log(self, process: trio.Process, ready: trio.Event) -> None:
        assert process.stdout is not None
        buffer = b""
        async for chunk in process.stdout:
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                self.log.append(line.decode("utf-8", "replace"))
                if b"Ready to accept connections" in line:
                    ready.set()

    async def kill(self) -> None:
        """SIGKILL by PID (a crash), and wait for it."""
        assert self.process is not None
        self.process.kill()
        with trio.fail_after(WAIT):
            await self.process.wait()

    async def save(self) -> None:
        """``SAVE``: write the RDB file now (what a later start loads)."""
        async with coredis.Redis(host="127.0.0.1", port=self.port) as client:
            await client.save()

    async def log_length(self, prefix: str = "flack") -> int:
        """How many entries the log stream holds now."""
        async with coredis.Redis(host="127.0.0.1", port=self.port) as client:
            return await client.xlen("{" + prefix + "}:log")

    async def log_text(self, prefix: str = "flack") -> str:
        """Every field of every entry the log stream holds now, as one text."""
        async with coredis.Redis(host="127.0.0.1", port=self.port) as client:
            entries = await client.xrange("{" + prefix + "}:log")
        return " ".join(
            (k.decode() if isinstance(k, bytes) else str(k))
            + "="
            + (v.decode(errors="replace") if isinstance(v, bytes) else str(v))
            for entry in entries
            for k, v in entry.field_values.items()
        )

    async def snapshot_seq(self, prefix: str = "flack") -> int:
        """The log entry the stored snapshot covers (0: none)."""
        async with coredis.Redis(host="127.0.0.1", port=self.port) as client:
            return int(await client.hget("{" + prefix + "}:snap", "seq") or 0)

    def pause(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)


@asynccontextmanager
async def redis_server(tmp_path: Path, *flags: str) -> AsyncIterator[RedisProcess]:
    """A redis-server of this test's own (no persistence unless ``flags`` ask for it)."""
    need_redis()
    flags = flags or ("--save", "", "--appendonly", "no")
    redis = RedisProcess(free_port(), tmp_path, flags)
    async with trio.open_nursery() as nursery:
        await redis.start(nursery)
        try:
            yield redis
        finally:
            if redis.process is not None and redis.process.returncode is None:
                redis.process.send_signal(signal.SIGCONT)
                redis.process.kill()  # only the process this test started, by its PID
                with trio.move_on_after(WAIT):
                    await redis.process.wait()
            nursery.cancel_scope.cancel()


@dataclass
class Node(RunningServer):
    scope: trio.CancelScope = field(default_factory=trio.CancelScope)
    #: The node's IRC and web (WebSocket) ports.
    irc_port: int = 0
    web_port: int = 0

    def kill(self) -> None:
        """Stop the node at once, without a goodbye to anyone (as ``kill -9`` would)."""
        self.scope.cancel()


async def _run_node(
    url: str,
    node_id: str,
    limits: Limits,
    scope: trio.CancelScope,
    shutdown: trio.Event | None,
    opers: Mapping[str, str] | None = None,
    *,
    task_status: trio.TaskStatus[Node],
) -> None:
    wall_start, trio_start = time.time(), trio.current_time()
    with scope:
        async with RedisLog.open(
            url,
            node_id,
            lease=limits.redis_lease,
            log_max=limits.redis_log_max,
            keep=limits.redis_snapshot_every,
            request_timeout=limits.redis_timeout,
        ) as shared:
            server = Server(
                limits,
                clock=lambda: wall_start + trio.current_time() - trio_start,
                shared_log=shared,
                opers=opers,
            )
            async with trio.open_nursery() as nursery:
                listeners = await nursery.start(
                    partial(server.serve, irc_port=0, web_port=0), "127.0.0.1", 0, shutdown
                )
                port = listeners[0].socket.getsockname()[1]
                irc_port = server.irc_listeners[0].socket.getsockname()[1]
                web_port = server.web_listeners[0].socket.getsockname()[1]
                task_status.started(Node(server, port, scope, irc_port, web_port))


async def start_node(
    nursery: trio.Nursery,
    redis: RedisProcess,
    node_id: str,
    limits: Limits = CLUSTER_LIMITS,
    shutdown: trio.Event | None = None,
    opers: Mapping[str, str] | None = None,
) -> Node:
    """An in-process flackd node sharing ``redis``; serving once it has caught up
    (``opers``: its server operators)."""
    node: Node = await nursery.start(
        _run_node, redis.url, node_id, limits, trio.CancelScope(), shutdown, opers
    )
    return node

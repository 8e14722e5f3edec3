"""The installed ``flackd`` as a child process that a test can stop and start again on the
same port, the way an operator restarts it (``systemctl restart flackd``).

The first start listens on 127.0.0.1 and a free port (port 0); every later start asks for
that same port, so clients that remember the address find the new process. Readiness is
the ``listening on`` log line (never a sleep); a start that fails (the process exits first)
raises with the log. Stopping sends a signal to the PID of the process this helper started
and waits for it to exit; on leaving the ``async with`` block a process still running is
killed the same way.

Usage::

    async with restartable_flackd("--data-dir", str(tmp_path / "data")) as flackd:
        ...                    # flackd.port stays the same across restarts
        await flackd.restart()  # SIGTERM by PID, wait for the exit, start again
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import trio

from tests.process import FLACKD
from tests.support import WAIT

__all__ = ["RestartableFlackd", "flackd_help", "restartable_flackd"]

_LISTENING = re.compile(r"listening on 127\.0\.0\.1:(\d+)")


@dataclass
class RestartableFlackd:
    """One flackd at a time on a port that stays the same; see :func:`restartable_flackd`."""

    nursery: trio.Nursery
    flags: tuple[str, ...]
    port: int = 0
    process: trio.Process | None = None
    log: list[str] = field(default_factory=list)  # every process's stderr, in order
    starts: int = 0

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    async def start(self) -> None:
        """Start flackd (on ``port`` after the first time) and return once it listens."""
        assert self.process is None or self.process.returncode is not None, "already running"
        assert FLACKD.exists(), f"flackd is not installed next to {FLACKD.parent}"
        process = await trio.lowlevel.open_process(
            [str(FLACKD), "--host", "127.0.0.1", "--port", str(self.port), *self.flags],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.process = process
        self.starts += 1
        listening = trio.Event()
        log_ended = trio.Event()

        async def read_log() -> None:
            assert process.stderr is not None
            buffer = b""
            try:
                async for chunk in process.stderr:
                    buffer += chunk
                    *lines, buffer = buffer.split(b"\n")
                    for raw in lines:
                        line = raw.decode("utf-8", "replace")
                        self.log.append(line)
                        match = _LISTENING.search(line)
                        if match and not listening.is_set():
                            self.port = int(match.group(1))
                            listening.set()
            finally:
                log_ended.set()

        self.nursery.start_soon(read_log)
        with trio.fail_after(WAIT):
            async with trio.open_nursery() as wait:

                async def until(event: trio.Event) -> None:
                    await event.wait()
                    wait.cancel_scope.cancel()

                wait.start_soon(until, listening)
                wait.start_soon(until, log_ended)
        if not listening.is_set():
            with trio.move_on_after(WAIT):
                await process.wait()
            log = "\n".join(self.log)
            raise AssertionError(f"flackd exited ({process.returncode}) before listening:\n{log}")

    async def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        """Send ``sig`` to the running flackd (by its PID) and return its exit status."""
        process = self.process
        assert process is not None, "flackd was never started"
        assert process.returncode is None, "flackd is not running"
        process.send_signal(sig)
        with trio.fail_after(WAIT):
            return await process.wait()

    async def restart(self, sig: signal.Signals = signal.SIGTERM) -> int:
        """Stop (``sig``, default SIGTERM: a graceful shutdown) and start again on the same
        port; return the old process's exit status."""
        status = await self.stop(sig)
        await self.start()
        return status


@asynccontextmanager
async def restartable_flackd(*flags: str) -> AsyncIterator[RestartableFlackd]:
    """A running flackd with ``flags`` that the test may :meth:`~RestartableFlackd.restart`."""
    async with trio.open_nursery() as nursery:
        flackd = RestartableFlackd(nursery, flags)
        try:
            await flackd.start()
            yield flackd
        finally:
            process = flackd.process
            if process is not None and process.returncode is None:
                process.kill()  # only the process this helper started, by its PID
                with trio.move_on_after(WAIT):
                    await process.wait()
            nursery.cancel_scope.cancel()


def flackd_help() -> str:
    """``flackd --help`` (for skip conditions on flags that may not exist yet)."""
    if not FLACKD.exists():
        return ""
    result = subprocess.run(
        [str(FLACKD), "--help"],
        capture_output=True,
        text=True,
        check=False,
        timeout=WAIT,
        env={**os.environ, "COLUMNS": "200"},
    )
    return result.stdout

"""Starting the installed ``flackd`` command as a child process for a test.

Each use starts its own process on 127.0.0.1 and port 0, learns the port from the log line
(and the TLS port from the ``(TLS)`` one, with ``--tls-cert``; the IRC port from the
``(IRC)`` one, with ``--irc-port``; the web port from the ``(web)`` one, with
``--web-port``), and ends the process by its
PID (SIGTERM in the test, SIGKILL as a last resort here).
"""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import trio

from tests.support import WAIT, LineClient

FLACKD = Path(sys.executable).with_name("flackd")


def free_port() -> int:
    """A loopback port that was free a moment ago (for a listener whose port 0 means "none",
    such as ``--irc-port``; flackd binds it next)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class FlackdProcess:
    process: trio.Process
    port: int
    log: list[str] = field(default_factory=list)
    tls_port: int = 0
    #: The IRC port, when the test gave ``--irc-port``.
    irc_port: int = 0
    #: The web port, when the test gave ``--web-port``.
    web_port: int = 0
    #: Woken whenever a log line arrives (see :meth:`wait_log`).
    log_grew: trio.lowlevel.ParkingLot = field(default_factory=trio.lowlevel.ParkingLot)

    async def client(self, name: str) -> LineClient:
        return await LineClient.connect(self.port, name)

    async def wait_log(self, pattern: str, start: int = 0) -> str:
        """The first log line at index ``start`` or later that matches ``pattern``,
        waiting (bounded) until it arrives."""
        with trio.fail_after(WAIT):
            while True:
                for line in self.log[start:]:
                    if re.search(pattern, line):
                        return line
                start = max(start, len(self.log))
                await self.log_grew.park()

    async def terminate(self) -> int:
        """SIGTERM by PID, then wait for the exit status."""
        self.process.send_signal(signal.SIGTERM)
        with trio.fail_after(WAIT):
            return await self.process.wait()


@asynccontextmanager
async def flackd_process(*flags: str) -> AsyncIterator[FlackdProcess]:
    """Start the installed flackd on 127.0.0.1 and a free port; yield once it listens."""
    assert FLACKD.exists(), f"flackd is not installed next to {sys.executable}"
    process = await trio.lowlevel.open_process(
        [str(FLACKD), "--host", "127.0.0.1", "--port", "0", *flags],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert process.stderr is not None
    log: list[str] = []
    log_grew = trio.lowlevel.ParkingLot()
    listening = trio.Event()
    port = tls_port = irc_port = web_port = 0
    want_plain, want_tls = "--no-plain" not in flags, "--tls-cert" in flags
    want_irc = "--irc-port" in flags and flags[flags.index("--irc-port") + 1] != "0"
    want_web = "--web-port" in flags and flags[flags.index("--web-port") + 1] != "0"

    async def read_log() -> None:
        nonlocal port, tls_port, irc_port, web_port
        assert process.stderr is not None
        buffer = b""
        async for chunk in process.stderr:
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for raw in lines:
                line = raw.decode("utf-8", "replace")
                log.append(line)
                log_grew.unpark_all()
                match = re.search(r"listening on 127\.0\.0\.1:(\d+)(?: \(([A-Za-z, ]+)\))?", line)
                kinds = (match.group(2) or "") if match else ""
                if match and "web" in kinds:
                    web_port = web_port or int(match.group(1))
                elif match and "IRC" in kinds:
                    irc_port = int(match.group(1))
                elif match and "TLS" in kinds:
                    tls_port = int(match.group(1))
                elif match:
                    port = int(match.group(1))
                ready = (port or not want_plain) and (tls_port or not want_tls)
                if ready and (irc_port or not want_irc) and (web_port or not want_web):
                    listening.set()

    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(read_log)
            with trio.fail_after(WAIT):
                await listening.wait()
            yield FlackdProcess(process, port, log, tls_port, irc_port, web_port, log_grew)
            nursery.cancel_scope.cancel()
    finally:
        if process.returncode is None:
            process.kill()  # only the process this test started, by its PID
            with trio.move_on_after(WAIT):
                await process.wait()


def rss_bytes(pid: int) -> int:
    """Resident memory of a process (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS line")

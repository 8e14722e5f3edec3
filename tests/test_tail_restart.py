"""``flackcli tail`` across a restart of the installed ``flackd`` (``tests/restart.py``):
without ``--data-dir`` the server forgets the session, and tail says so with one
``session_lost`` record (never the raw ``ERR UNKNOWN_TOKEN``), registers again under the
same nick, re-joins, reports the gap and goes on following the channel.

Waiting is reading tail's stdout line by line (bounded); the flackd and flackcli processes
are the test's own, ended by their PIDs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import trio

from tests.restart import restartable_flackd
from tests.support import WAIT, LineClient

FLACKCLI = Path(sys.executable).with_name("flackcli")


class Tail:
    """A running ``flackcli tail --json``, its records read one by one."""

    def __init__(self, process: trio.Process, stderr: Path) -> None:
        self.process = process
        self.stderr = stderr
        self._buffer = b""

    async def record(self) -> dict[str, object]:
        assert self.process.stdout is not None
        with trio.fail_after(WAIT):
            while b"\n" not in self._buffer:
                data = await self.process.stdout.receive_some(65536)
                assert data, f"tail ended: {self.stderr.read_text()}"
                self._buffer += data
        line, _, self._buffer = self._buffer.partition(b"\n")
        record: dict[str, object] = json.loads(line)
        return record

    async def until_message(self, text: str) -> list[dict[str, object]]:
        """Every record up to and including the message with ``text``."""
        seen = []
        while True:
            seen.append(await self.record())
            if seen[-1]["type"] == "message" and seen[-1]["text"] == text:
                return seen


@asynccontextmanager
async def tail_json(tmp_path: Path, port: int, channel: str) -> AsyncIterator[Tail]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLACK_", "XDG_"))}
    env.update(
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_STATE_HOME=str(tmp_path / "state"),
        XDG_DATA_HOME=str(tmp_path / "data"),
        FLACK_NICK="alice",
    )
    stderr = tmp_path / "tail.stderr"
    with stderr.open("wb") as err:
        process = await trio.lowlevel.open_process(
            [str(FLACKCLI), f"--server=127.0.0.1:{port}", "tail", channel, "--json"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
            env=env,
        )
    try:
        yield Tail(process, stderr)
    finally:
        if process.returncode is None:
            process.kill()  # only the process this test started, by its PID
            with trio.move_on_after(WAIT):
                await process.wait()


async def user(port: int, nick: str, channel: str) -> tuple[LineClient, list[str]]:
    """A netcat-style user in ``channel``, and the member lines of its JOIN reply."""
    client = await LineClient.connect(port, nick)
    await client.register(nick)
    reply = await client.join(channel)
    return client, [line for line in reply if line.startswith("MEMBER ")]


async def test_tail_says_when_a_restarted_server_forgot_its_session(tmp_path: Path) -> None:
    async with restartable_flackd() as flackd, tail_json(tmp_path, flackd.port, "#ops") as t:
        bob, _ = await user(flackd.port, "bob", "#ops")
        assert (await t.record())["state"] == "live"
        assert await bob.recv() == "JOIN #ops alice-cli"
        await bob.send("MSG #ops before the restart")
        before = (await t.until_message("before the restart"))[-1]
        await flackd.restart(signal.SIGKILL)  # a crash, by PID: no goodbye, nothing kept
        bob, members = await user(flackd.port, "bob", "#ops")
        if "MEMBER alice-cli" not in members:
            await bob.recv_until("JOIN #ops alice-cli")  # tail is back, as the same nick
        await bob.send("MSG #ops after the restart")
        seen = await t.until_message("after the restart")
        while not any(r["type"] == "status" and r["state"] == "live" for r in seen):
            seen.append(await t.record())  # "live" comes once the channel caught up
        lost = [r for r in seen if r["type"] == "session_lost"]
        assert len(lost) == 1, seen
        assert {k: v for k, v in lost[0].items() if k != "ts"} == {
            "type": "session_lost",
            "channel": "#ops",
            "nick": "alice-cli",
        }
        assert [r for r in seen if r["type"] == "gap"] == [
            {"type": "gap", "channel": "#ops", "after_id": before["id"]}
        ]
        assert [r["text"] for r in seen if r["type"] == "message"] == ["after the restart"]
        for raw in ("UNKNOWN_TOKEN", "token is unknown"):
            assert raw not in json.dumps(seen)
            assert raw not in t.stderr.read_text()

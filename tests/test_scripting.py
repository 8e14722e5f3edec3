"""The script commands: the installed ``flackcli`` as a child process against a live
in-process flackd (send, tail, history, channels, who; JSON and text; exit codes), plus
unit tests of the pieces they print with.

Every child gets XDG directories under ``tmp_path``, so no test touches the real home. Each
test ends only the processes it started, by their PID.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio
import trio.testing

from flackcli.notices import ConnectionState, Gap
from flackcli.pacing import Pacer, split_text
from flackcli.script_output import (
    Output,
    event_json,
    gap_json,
    local_time,
    message_json,
    status_json,
)
from flackd.codec import events as e
from flackd.codec import parse_event
from tests.support import WAIT, LineClient, RunningServer, cut

FLACKCLI = Path(sys.executable).with_name("flackcli")
MESSAGE_KEYS = ["type", "channel", "id", "ts", "nick", "text", "action", "edited"]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The environment of every child: private XDG directories, nick alice."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("FLACK_", "XDG_"))}
    clean.update(
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_STATE_HOME=str(tmp_path / "state"),
        XDG_DATA_HOME=str(tmp_path / "data"),
        FLACK_NICK="alice",
    )
    return clean


async def flackcli(
    env: dict[str, str], *args: str, stdin: bytes = b""
) -> subprocess.CompletedProcess[bytes]:
    """Run the installed flackcli to the end (bounded), stdin and stdout being pipes."""
    assert FLACKCLI.exists(), f"flackcli is not installed next to {sys.executable}"
    with trio.fail_after(WAIT):
        return await trio.run_process(
            [str(FLACKCLI), *args],
            stdin=stdin,
            capture_stdout=True,
            capture_stderr=True,
            check=False,
            env=env,
        )


def server_flag(port: int) -> str:
    return f"--server=127.0.0.1:{port}"


def records(stdout: bytes) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.decode().splitlines()]


async def history(client: LineClient, channel: str) -> list[e.Message]:
    """Everything the server holds for ``channel``."""
    await client.send(f"HISTORY {channel} 100")
    await client.recv_until(f"HISTORY {channel} ")  # live lines may come first
    block = await client.recv_until("END HISTORY")
    messages = [parse_event(line) for line in block[:-1]]
    return [m for m in messages if isinstance(m, e.Message)]


async def history_texts(client: LineClient, channel: str) -> list[tuple[str, str]]:
    """(author, text) of everything the server holds for ``channel``."""
    return [(m.author, m.text) for m in await history(client, channel)]


async def say(client: LineClient, channel: str, *texts: str) -> list[e.Message]:
    """Send messages and return their echoes (with ids)."""
    echoes = []
    for text in texts:
        await client.send(f"MSG {channel} {text}")
        echo = parse_event((await client.recv_until(f"MSG {channel} "))[-1])
        assert isinstance(echo, e.Message)
        echoes.append(echo)
    return echoes


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then closed)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# -- send ------------------------------------------------------------------------------


async def test_send_exits_0_after_the_echo_and_the_message_is_kept(
    flackd: RunningServer, env: dict[str, str]
) -> None:
    bob = await flackd.client("bob", "#ops")
    result = await flackcli(env, server_flag(flackd.port), "send", "#ops", "deploy 512 done")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b""
    assert await bob.recv() == "JOIN #ops alice-cli"
    assert (await bob.recv()).endswith(" alice-cli :deploy 512 done")
    assert (await bob.recv()).startswith("QUIT alice-cli")  # it said goodbye: nick free
    assert await history_texts(bob, "#ops") == [("alice-cli", "deploy 512 done")]


async def test_send_dash_sends_each_stdin_line(flackd: RunningServer, env: dict[str, str]) -> None:
    bob = await flackd.client("bob", "#ops")
    lines = "one\r\ntwo words\n\n   \nthree"
    result = await flackcli(
        env, server_flag(flackd.port), "send", "#ops", "-", stdin=lines.encode()
    )
    assert result.returncode == 0, result.stderr
    assert await history_texts(bob, "#ops") == [
        ("alice-cli", "one"),
        ("alice-cli", "two words"),
        ("alice-cli", "three"),
    ]


async def test_send_json_prints_each_echo_with_its_id(
    flackd: RunningServer, env: dict[str, str]
) -> None:
    bob = await flackd.client("bob", "#ops")
    result = await flackcli(
        env, server_flag(flackd.port), "send", "--json", "#ops", "-", stdin=b"one\ntwo\n"
    )
    assert result.returncode == 0, result.stderr
    got = records(result.stdout)
    assert [(r["nick"], r["text"]) for r in got] == [("alice-cli", "one"), ("alice-cli", "two")]
    assert [r["id"] for r in got] == [m.id for m in await history(bob, "#ops")]


async def test_send_splits_a_line_too_long_for_one_message(
    flackd: RunningServer, env: dict[str, str]
) -> None:
    bob = await flackd.client("bob", "#ops")
    words = " ".join(f"word{i:03d}" for i in range(100))  # 799 characters
    result = await flackcli(env, server_flag(flackd.port), "send", "#ops", words)
    assert result.returncode == 0, result.stderr
    texts = [text for _, text in await history_texts(bob, "#ops")]
    assert len(texts) == 2
    assert " ".join(texts) == words


async def test_send_to_an_unknown_channel_exits_3_and_creates_nothing(
    flackd: RunningServer, env: dict[str, str]
) -> None:
    result = await flackcli(env, server_flag(flackd.port), "send", "#nowhere", "hello?")
    assert result.returncode == 3
    assert b"NO_SUCH_CHANNEL" in result.stderr
    bob = await flackd.client("bob")
    await bob.send("LIST")
    assert await bob.recv_until("END LIST") == ["LIST 0", "END LIST more=no"]


async def test_send_create_makes_the_channel(flackd: RunningServer, env: dict[str, str]) -> None:
    result = await flackcli(env, server_flag(flackd.port), "send", "--create", "#new", "first")
    assert result.returncode == 0, result.stderr
    bob = await flackd.client("bob")
    assert await history_texts(bob, "#new") == [("alice-cli", "first")]


async def test_send_a_private_message(flackd: RunningServer, env: dict[str, str]) -> None:
    bob = await flackd.client("bob")
    result = await flackcli(env, server_flag(flackd.port), "send", "bob", "psst")
    assert result.returncode == 0, result.stderr
    assert (await bob.recv()).endswith(" alice-cli :psst")


async def test_a_taken_nick_falls_back_unless_asked_for_exactly(
    flackd: RunningServer, env: dict[str, str]
) -> None:
    bob = await flackd.client("bob", "#ops")
    squatter = await flackd.client("alice-cli")
    result = await flackcli(env, server_flag(flackd.port), "send", "#ops", "hi")
    assert result.returncode == 0, result.stderr
    assert await history_texts(bob, "#ops") == [("alice-cli_", "hi")]
    result = await flackcli(env, server_flag(flackd.port), "send", "--nick", "bob", "#ops", "x")
    assert result.returncode == 3
    assert b"NICK_IN_USE" in result.stderr
    await squatter.expect_quiet()


async def test_no_server_exits_1(env: dict[str, str]) -> None:
    port = closed_port()
    for command in (["send", "#ops", "hi"], ["history", "#ops"], ["channels"], ["who", "#ops"]):
        result = await flackcli(env, server_flag(port), *command)
        assert result.returncode == 1, command
        assert b"cannot connect to 127.0.0.1:" in result.stderr


async def test_no_echo_in_time_exits_4(nursery: trio.Nursery, env: dict[str, str]) -> None:
    """A server that accepts the message but never answers: the send gives up with 4."""

    async def stalling_server(stream: trio.SocketStream) -> None:
        await stream.send_all(b"HELLO flackd 0.1.0 maxline=512 history=100 :hi\r\n")
        stalled = False
        buffer = b""
        async for data in stream:
            buffer += data
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                verb, _, rest = line.decode().partition(" ")
                replies = {
                    "NICK": f"OK NICK {rest} token=t :hi",
                    "NAMES": f"NAMES {rest} 0\r\nEND NAMES {rest}",
                    "JOIN": f"OK JOIN {rest} 1 :joined\r\nHISTORY {rest} 0\r\n"
                    f"END HISTORY {rest} more=no gap=no",
                    "PING": f"PONG {rest}",
                }
                if verb == "QUIT":
                    await stream.send_all(b"BYE QUIT :bye\r\n")
                    return
                stalled = stalled or verb == "MSG"
                if verb in replies and not stalled:
                    await stream.send_all(replies[verb].encode() + b"\r\n")

    listeners = await nursery.start(trio.serve_tcp, stalling_server, 0)
    port = listeners[0].socket.getsockname()[1]
    result = await flackcli(env, server_flag(port), "send", "--timeout", "0.2", "#c", "hello")
    assert result.returncode == 4
    assert b"no echo" in result.stderr


# -- history, channels, who ---------------------------------------------------------------


async def test_history_prints_json_lines_off_a_terminal(
    flackd: RunningServer, env: dict[str, str]
) -> None:
    bob = await flackd.client("bob", "#ops")
    echoes = await say(bob, "#ops", "one", "two", "three")
    result = await flackcli(env, server_flag(flackd.port), "history", "#ops", "-n", "2")
    assert result.returncode == 0, result.stderr
    got = records(result.stdout)
    assert [list(r) for r in got] == [MESSAGE_KEYS, MESSAGE_KEYS]
    assert got == [message_json(m) for m in echoes[1:]]
    assert got[0] == {
        "type": "message",
        "channel": "#ops",
        "id": echoes[1].id,
        "ts": echoes[1].time,
        "nick": "bob",
        "text": "two",
        "action": False,
        "edited": None,
    }


async def test_history_text_mode(flackd: RunningServer, env: dict[str, str]) -> None:
    bob = await flackd.client("bob", "#ops")
    await say(bob, "#ops", "hello there")
    result = await flackcli(env, server_flag(flackd.port), "--text", "history", "#ops")
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(rb"\d\d:\d\d <bob> hello there\n", result.stdout), result.stdout


async def test_history_of_an_unknown_channel_exits_3(
    flackd: RunningServer, env: dict[str, str]
) -> None:
    result = await flackcli(env, server_flag(flackd.port), "history", "#nope")
    assert result.returncode == 3
    assert b"NO_SUCH_CHANNEL" in result.stderr
    assert result.stdout == b""


async def test_channels_and_who(flackd: RunningServer, env: dict[str, str]) -> None:
    bob = await flackd.client("bob", "#dev", "#ops")
    await bob.send("TOPIC #ops deploys here")
    await bob.recv()
    carol = await flackd.client("carol", "#ops")  # held: a dropped client would leave
    result = await flackcli(env, server_flag(flackd.port), "channels")
    assert result.returncode == 0, result.stderr
    assert records(result.stdout) == [
        {"type": "channel", "channel": "#dev", "members": 1, "topic": ""},
        {"type": "channel", "channel": "#ops", "members": 2, "topic": "deploys here"},
    ]
    result = await flackcli(env, server_flag(flackd.port), "channels", "--text")
    assert result.stdout.decode().splitlines() == ["#dev     1", "#ops     2  deploys here"]

    result = await flackcli(env, server_flag(flackd.port), "who", "#ops", "--json")
    assert records(result.stdout) == [
        {"type": "member", "channel": "#ops", "nick": "bob", "role": "op"},  # it made #ops
        {"type": "member", "channel": "#ops", "nick": "carol", "role": None},
    ]
    result = await flackcli(env, server_flag(flackd.port), "--text", "who", "#OPS")
    assert result.stdout == b"bob\ncarol\n"
    await carol.expect_quiet()
    result = await flackcli(env, server_flag(flackd.port), "who", "#nope")
    assert result.returncode == 3


# -- tail -------------------------------------------------------------------------------


class TailProcess:
    """A running ``flackcli tail``, its stdout read line by line."""

    def __init__(self, process: trio.Process, stderr: Path) -> None:
        self.process = process
        self.stderr = stderr
        self._buffer = b""

    async def line(self) -> bytes:
        assert self.process.stdout is not None
        with trio.fail_after(WAIT):
            while b"\n" not in self._buffer:
                data = await self.process.stdout.receive_some(65536)
                assert data, f"tail ended: {self.stderr.read_text()}"
                self._buffer += data
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    async def record(self) -> dict[str, object]:
        record: dict[str, object] = json.loads(await self.line())
        return record

    async def messages_until(self, text: str) -> list[dict[str, object]]:
        """Every record up to the message with ``text``."""
        seen = []
        while True:
            record = await self.record()
            seen.append(record)
            if record["type"] == "message" and record["text"] == text:
                return seen

    async def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)  # by PID: only the process we started
        with trio.fail_after(WAIT):
            return await self.process.wait()


@asynccontextmanager
async def tail(
    env: dict[str, str], tmp_path: Path, port: int, *args: str
) -> AsyncIterator[TailProcess]:
    stderr = tmp_path / "tail.stderr"
    with stderr.open("wb") as err:
        process = await trio.lowlevel.open_process(
            [str(FLACKCLI), server_flag(port), "tail", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
            env=env,
        )
    try:
        yield TailProcess(process, stderr)
    finally:
        if process.returncode is None:
            process.kill()
            with trio.move_on_after(WAIT):
                await process.wait()


def texts(seen: list[dict[str, object]]) -> list[object]:
    return [r["text"] for r in seen if r["type"] == "message"]


async def test_tail_json_prints_valid_json_lines(
    flackd: RunningServer, env: dict[str, str], tmp_path: Path
) -> None:
    bob = await flackd.client("bob", "#ops")
    await say(bob, "#ops", *[f"old {i}" for i in range(12)])
    async with tail(env, tmp_path, flackd.port, "#ops", "--json") as t:
        first = await t.record()
        assert first == {"type": "status", "state": "live", "retry_in": None, "reason": ""}
        assert await bob.recv() == "JOIN #ops alice-cli"  # it is in: what follows is live
        await say(bob, "#ops", "live one")
        seen = await t.messages_until("live one")
        assert texts(seen) == [f"old {i}" for i in range(2, 12)] + ["live one"]  # default: 10
        assert all(list(r) == MESSAGE_KEYS for r in seen if r["type"] == "message")
        await bob.send("TOPIC #ops new topic")
        topic = parse_event(await bob.recv())
        assert isinstance(topic, e.Topic)
        assert await t.record() == {
            "type": "topic",
            "channel": "#ops",
            "ts": topic.time,
            "nick": "bob",
            "text": "new topic",
        }
        await bob.send("PART #ops lunch")
        record = await t.record()
        assert {k: v for k, v in record.items() if k != "ts"} == {
            "type": "part",
            "channel": "#ops",
            "nick": "bob",
            "reason": "lunch",
        }
        assert await t.terminate() == 143
    assert await bob.recv() == "PART #ops bob :lunch"


async def test_tail_shows_modes_and_kicks_and_exits_3_when_kicked(
    flackd: RunningServer, env: dict[str, str], tmp_path: Path
) -> None:
    bob = await flackd.client("bob", "#ops")  # bob made #ops: its operator
    async with tail(env, tmp_path, flackd.port, "#ops", "--json", "--history", "0") as t:
        assert (await t.record())["state"] == "live"
        assert await bob.recv() == "JOIN #ops alice-cli"
        await bob.send("MODE #ops +v alice-cli")
        assert await bob.recv() == "MODE #ops bob +v alice-cli"
        record = await t.record()
        assert {k: v for k, v in record.items() if k != "ts"} == {
            "type": "mode",
            "channel": "#ops",
            "nick": "bob",
            "changes": ["+v", "alice-cli"],
        }
        await bob.send("KICK #ops alice-cli enough")
        assert await bob.recv() == "KICK #ops alice-cli bob :enough"
        record = await t.record()
        assert {k: v for k, v in record.items() if k != "ts"} == {
            "type": "kick",
            "channel": "#ops",
            "nick": "alice-cli",
            "by": "bob",
            "reason": "enough",
        }
        with trio.fail_after(WAIT):
            assert await t.process.wait() == 3
    assert "bob kicked you out: enough" in t.stderr.read_text()


async def test_tail_since_id_prints_exactly_what_came_after(
    flackd: RunningServer, env: dict[str, str], tmp_path: Path
) -> None:
    bob = await flackd.client("bob", "#ops")
    echoes = await say(bob, "#ops", "m1", "m2", "m3", "m4", "m5")
    async with tail(env, tmp_path, flackd.port, "#ops", "--since-id", echoes[1].id) as t:
        assert (await t.record())["state"] == "live"
        assert await bob.recv() == "JOIN #ops alice-cli"
        await say(bob, "#ops", "m6")
        seen = await t.messages_until("m6")
        assert [r["type"] for r in seen] == ["message"] * 4  # no gap, no duplicate
        assert [r["id"] for r in seen] == [m.id for m in echoes[2:]] + [seen[-1]["id"]]
        assert texts(seen) == ["m3", "m4", "m5", "m6"]


async def test_tail_since_an_id_the_server_no_longer_has_reports_a_gap(
    flackd: RunningServer, env: dict[str, str], tmp_path: Path
) -> None:
    bob = await flackd.client("bob", "#ops")
    await say(bob, "#ops", "kept 1", "kept 2")
    old = "1700000000000-42"  # from an earlier run of the server
    async with tail(env, tmp_path, flackd.port, "#ops", "--since-id", old, "--json") as t:
        assert (await t.record())["state"] == "live"
        assert await t.record() == {"type": "gap", "channel": "#ops", "after_id": old}
        assert texts(await t.messages_until("kept 2")) == ["kept 1", "kept 2"]


async def test_tail_history_n_and_text_mode(
    flackd: RunningServer, env: dict[str, str], tmp_path: Path
) -> None:
    bob = await flackd.client("bob", "#ops")
    await say(bob, "#ops", *[f"m{i}" for i in range(1, 26)])  # more than one JOIN replay
    async with tail(env, tmp_path, flackd.port, "#ops", "--text", "--history", "23") as t:
        assert await bob.recv() == "JOIN #ops alice-cli"
        await bob.send("MSG #ops live")
        lines = [(await t.line()).decode() for _ in range(24)]
        assert [line.split(" ", 2)[2] for line in lines] == [
            *(f"m{i}" for i in range(3, 26)),
            "live",
        ]
        assert all(re.fullmatch(r"\d\d:\d\d <bob> \S+", line) for line in lines)
    assert "connected to 127.0.0.1:" in t.stderr.read_text()


async def test_tail_reconnects_and_catches_up_without_duplicates(
    flackd: RunningServer, env: dict[str, str], tmp_path: Path
) -> None:
    bob = await flackd.client("bob", "#ops")
    async with tail(env, tmp_path, flackd.port, "#ops", "--json") as t:
        assert await bob.recv() == "JOIN #ops alice-cli"
        await say(bob, "#ops", "before")
        assert texts(await t.messages_until("before")) == ["before"]
        cut(flackd.server, "alice-cli")
        assert (await bob.recv()).startswith("QUIT alice-cli")
        await bob.send("MSG #ops while away")
        if "JOIN #ops alice-cli" not in await bob.recv_until("MSG #ops "):
            await bob.recv_until("JOIN #ops alice-cli")  # back (usually after the message)
        await say(bob, "#ops", "after")
        seen = await t.messages_until("after")
        while [r["state"] for r in seen if r["type"] == "status"] != ["reconnecting", "live"]:
            seen.append(await t.record())  # "live" comes once every channel caught up
        assert texts(seen) == ["while away", "after"]
        assert not [r for r in seen if r["type"] in ("gap", "join", "quit")]


async def test_tail_of_an_empty_channel_misses_nothing_across_a_reconnect(
    flackd: RunningServer, env: dict[str, str], tmp_path: Path
) -> None:
    """No message seen yet means no HISTORY AFTER cursor: the catch-up must still happen."""
    bob = await flackd.client("bob", "#ops")
    async with tail(env, tmp_path, flackd.port, "#ops", "--json") as t:
        assert await bob.recv() == "JOIN #ops alice-cli"
        cut(flackd.server, "alice-cli")
        assert (await bob.recv()).startswith("QUIT alice-cli")
        await say(bob, "#ops", "first ever", "second")
        seen = await t.messages_until("second")
        assert texts(seen) == ["first ever", "second"]


async def test_a_reader_that_goes_away_ends_tail_quietly(
    flackd: RunningServer, env: dict[str, str], tmp_path: Path
) -> None:
    """``flackcli tail '#ops' | head -1``"""
    bob = await flackd.client("bob", "#ops")
    async with tail(env, tmp_path, flackd.port, "#ops") as t:
        json.loads(await t.line())
        assert t.process.stdout is not None
        await t.process.stdout.aclose()
        assert await bob.recv() == "JOIN #ops alice-cli"
        await say(bob, "#ops", "into the void")
        with trio.fail_after(WAIT):
            assert await t.process.wait() == 0
    assert (await bob.recv()).startswith("QUIT alice-cli :")
    assert "Traceback" not in t.stderr.read_text()


async def test_tail_of_an_unknown_channel_exits_3(
    flackd: RunningServer, env: dict[str, str], tmp_path: Path
) -> None:
    async with tail(env, tmp_path, flackd.port, "#nope") as t:
        with trio.fail_after(WAIT):
            assert await t.process.wait() == 3
    assert "NO_SUCH_CHANNEL" in t.stderr.read_text()


async def test_tail_exits_3_when_every_nick_is_taken(
    flackd: RunningServer, env: dict[str, str], tmp_path: Path
) -> None:
    await flackd.client("bob", "#ops")
    squatters = [await flackd.client(n) for n in ("alice-cli", "alice-cli_", "alice-cli__")]
    async with tail(env, tmp_path, flackd.port, "#ops") as t:
        with trio.fail_after(WAIT):
            assert await t.process.wait() == 3
    assert "taken" in t.stderr.read_text()
    for squatter in squatters:
        await squatter.expect_quiet()


async def test_tail_with_no_server_exits_1(env: dict[str, str], tmp_path: Path) -> None:
    async with tail(env, tmp_path, closed_port(), "#ops") as t:
        with trio.fail_after(WAIT):
            assert await t.process.wait() == 1
    assert "cannot connect" in t.stderr.read_text()


# -- the command line ---------------------------------------------------------------------


async def test_no_terminal_no_subcommand_exits_2(env: dict[str, str]) -> None:
    result = await flackcli(env)
    assert result.returncode == 2
    assert result.stderr == (
        b"flackcli: the interactive client needs a terminal; try 'flackcli tail #chan'\n"
    )


async def test_help_shows_the_files_and_the_exit_codes(env: dict[str, str], tmp_path: Path) -> None:
    result = await flackcli(env, "--help")
    assert result.returncode == 0
    text = result.stdout.decode()
    assert str(tmp_path / "config" / "flackcli" / "config.toml") in text
    assert str(tmp_path / "state" / "flackcli" / "state.json") in text
    assert "Exit codes" in text
    for code in ("0", "1", "2", "3", "4", "130"):
        assert re.search(rf"^\s+{code}\s+\S", text, re.MULTILINE), code
    for command in ("send", "tail", "history", "channels", "who"):
        assert command in text
    assert "FLACK_SERVER" in text


@pytest.mark.parametrize(
    "args",
    [
        ["history", "no!nick"],
        ["history", "#ops", "-n", "0"],
        ["tail", "#ops", "--history", "3", "--since-id", "1-1"],
        ["tail", "#ops", "--since-id", "yesterday"],
        ["--server", "host:port", "channels"],
        ["send", "#ops"],
        ["send", "--nick", "9lives", "#ops", "hi"],
        ["--json", "--text", "channels"],
        ["dance"],
    ],
)
async def test_usage_errors_exit_2(env: dict[str, str], args: list[str]) -> None:
    env["FLACK_SERVER"] = f"127.0.0.1:{closed_port()}"
    result = await flackcli(env, *args)
    assert result.returncode == 2, result.stderr


async def test_server_and_nick_come_from_config_and_environment(
    flackd: RunningServer, env: dict[str, str], tmp_path: Path
) -> None:
    config = tmp_path / "config" / "flackcli" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'server = "127.0.0.1:{flackd.port}"\nnick = "zed"\n')
    del env["FLACK_NICK"]
    bob = await flackd.client("bob", "#ops")
    result = await flackcli(env, "send", "#ops", "from the config")
    assert result.returncode == 0, result.stderr
    assert await history_texts(bob, "#ops") == [("zed-cli", "from the config")]
    env["FLACK_SERVER"] = f"127.0.0.1:{closed_port()}"  # the environment beats the config
    assert (await flackcli(env, "send", "#ops", "x")).returncode == 1
    assert config.read_text() == f'server = "127.0.0.1:{flackd.port}"\nnick = "zed"\n'


async def test_a_broken_config_is_a_clear_error(env: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "config" / "flackcli" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text("server = \n")
    result = await flackcli(env, "channels")
    assert result.returncode == 2
    assert str(config).encode() in result.stderr
    assert b"not valid TOML" in result.stderr


# -- the pieces, without a server ------------------------------------------------------------


def test_local_time_follows_tz(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        assert local_time("2026-11-24T08:20:03.123Z") == "13:50"
    finally:
        monkeypatch.undo()
        time.tzset()


def test_text_output_is_neutralised_and_json_keeps_the_text() -> None:
    message = e.Message("#ops", "1-1", "2026-11-24T08:20:03.123Z", "eve", "\x1b[2Jgotcha\u202e")
    text, js = io.StringIO(), io.StringIO()
    Output(json_mode=False, stdout=text).message(message)
    Output(json_mode=True, stdout=js).message(message)
    assert "\x1b" not in text.getvalue()
    assert "\u202e" not in text.getvalue()
    assert text.getvalue().endswith("<eve> \ufffd[2Jgotcha\ufffd\n")
    assert json.loads(js.getvalue())["text"] == "\x1b[2Jgotcha\u202e"


def test_json_records_have_stable_keys() -> None:
    ts = "2026-11-24T08:21:00.000Z"
    assert event_json(e.Joined("#ops", "erin"), "#ops", ts) == {
        "type": "join",
        "channel": "#ops",
        "ts": ts,
        "nick": "erin",
    }
    assert event_json(e.Quit("erin", "bye"), "#ops", ts) == {
        "type": "quit",
        "channel": "#ops",
        "ts": ts,
        "nick": "erin",
        "reason": "bye",
    }
    assert event_json(e.Deleted("#ops", "1-2", "erin"), "#ops", ts) == {
        "type": "deleted",
        "channel": "#ops",
        "ts": ts,
        "id": "1-2",
        "nick": "erin",
        "reason": "",
    }
    assert event_json(e.ModeChanged("#ops", "alice", ("+o-v", "erin", "dave")), "#ops", ts) == {
        "type": "mode",
        "channel": "#ops",
        "ts": ts,
        "nick": "alice",
        "changes": ["+o-v", "erin", "dave"],
    }
    assert event_json(e.Kicked("#ops", "mallory", "alice", "spam"), "#ops", ts) == {
        "type": "kick",
        "channel": "#ops",
        "ts": ts,
        "nick": "mallory",
        "by": "alice",
        "reason": "spam",
    }
    assert event_json(e.NickChanged("erin", "erin2"), "#ops", ts) == {
        "type": "nick",
        "channel": "#ops",
        "ts": ts,
        "nick": "erin",
        "new": "erin2",
    }
    assert gap_json(Gap("#ops", "1-400")) == {"type": "gap", "channel": "#ops", "after_id": "1-400"}
    assert status_json(ConnectionState("offline", "reset", retry_in=4.0)) == {
        "type": "status",
        "state": "reconnecting",
        "retry_in": 4.0,
        "reason": "reset",
    }


@pytest.mark.parametrize(
    ("text", "budget", "pieces"),
    [
        ("short", 20, ["short"]),
        ("aaa bbb ccc", 7, ["aaa bbb", "ccc"]),
        ("abcdefghij", 4, ["abcd", "efgh", "ij"]),
        ("ééé", 4, ["éé", "é"]),  # never cuts a character in two
        ("   ", 10, []),
        ("", 10, []),
    ],
)
def test_split_text(text: str, budget: int, pieces: list[str]) -> None:
    got = split_text(text, budget)
    assert got == pieces
    assert all(len(piece.encode()) <= budget for piece in got)


async def test_pacer_allows_a_burst_then_two_a_second(
    mock_clock: trio.testing.MockClock,
) -> None:
    mock_clock.autojump_threshold = 0
    pacer = Pacer()
    start = trio.current_time()
    for _ in range(10):
        await pacer.take()
    assert trio.current_time() == start  # the burst costs no waiting
    for _ in range(4):
        await pacer.take()
    assert trio.current_time() - start == pytest.approx(2.0)

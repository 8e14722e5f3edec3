"""The example bots against a live flackd: the echo bot in-process (its coroutine), the
relay bot as the script people run, ``python examples/relay_bot.py``."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import trio

from examples.echo_bot import HELP, answer, run_bot
from flackd.codec import events as e
from flackd.codec import parse_event
from tests.support import WAIT, LineClient, RunningServer, cut

ROOT = Path(__file__).resolve().parent.parent


async def next_message(client: LineClient, author: str) -> e.Message:
    """The next message line from ``author`` (other lines are skipped)."""
    while True:
        event = parse_event(await client.recv())
        if isinstance(event, e.Message) and event.author == author:
            return event


def test_answer() -> None:
    assert answer("!echo hello  there ") == "hello  there"
    assert answer("!echo") == "(nothing to echo)"
    assert answer("!help") == HELP
    time = answer("!time")
    assert time is not None
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", time)
    assert answer("echo hi") is None
    assert answer("!unknown") is None


async def test_echo_bot_answers_commands(nursery: trio.Nursery, flackd: RunningServer) -> None:
    bob = await flackd.client("bob", "#bots")
    await bob.send("MSG #bots !echo said before the bot came")  # history, not a command
    await next_message(bob, "bob")
    supervisor = await nursery.start(run_bot, "127.0.0.1", flackd.port, "#bots")
    assert await bob.recv() == "JOIN #bots echobot"
    await bob.send("MSG #bots !echo hello bots")
    await next_message(bob, "bob")
    assert (await next_message(bob, "echobot")).text == "hello bots"
    await bob.send("MSG #bots !echo !echo loop?")  # the bot's reply is a command: ignored
    assert (await next_message(bob, "echobot")).text == "!echo loop?"
    await bob.send("MSG #bots !help")
    assert (await next_message(bob, "echobot")).text == HELP  # not a second "loop?"
    await bob.send("MSG #bots just chatting")
    await bob.send("MSG #bots !time")
    assert (await next_message(bob, "echobot")).text.endswith(" UTC")
    supervisor.stop()


async def test_echo_bot_reconnects_and_answers_what_it_missed(
    nursery: trio.Nursery, flackd: RunningServer
) -> None:
    bob = await flackd.client("bob", "#bots")
    await nursery.start(run_bot, "127.0.0.1", flackd.port, "#bots")
    assert await bob.recv() == "JOIN #bots echobot"
    cut(flackd.server, "echobot")
    assert (await bob.recv()).startswith("QUIT echobot")
    await bob.send("MSG #bots !echo while you were away")
    lines = await bob.recv_until("MSG #bots ")
    lines += await bob.recv_until("MSG #bots ")  # the bot's reply, once it is back
    assert "JOIN #bots echobot" in lines  # it came back (RESUME)
    assert lines[-1].endswith(" echobot :while you were away")
    await bob.expect_quiet()


async def test_relay_bot_sends_each_line_and_exits_0(flackd: RunningServer) -> None:
    bob = await flackd.client("bob", "#ops")
    lines = b"build 512 started\nbuild 512 passed\n\ndeploy done\n"
    with trio.fail_after(WAIT):
        result = await trio.run_process(
            [
                sys.executable,
                "examples/relay_bot.py",
                "--server",
                f"127.0.0.1:{flackd.port}",
                "#ops",
            ],
            cwd=ROOT,
            stdin=lines,
            capture_stdout=True,
            capture_stderr=True,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    await bob.send("HISTORY #ops")
    await bob.recv_until("HISTORY #ops ")
    block = await bob.recv_until("END HISTORY")
    messages = [parse_event(line) for line in block[:-1]]
    assert [(m.author, m.text) for m in messages if isinstance(m, e.Message)] == [
        ("relaybot", "build 512 started"),
        ("relaybot", "build 512 passed"),
        ("relaybot", "deploy done"),
    ]


async def test_relay_bot_with_no_server_exits_1(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with trio.fail_after(WAIT):
        result = await trio.run_process(
            [sys.executable, "examples/relay_bot.py", "--server", f"127.0.0.1:{port}", "#ops"],
            cwd=ROOT,
            stdin=b"hello\n",
            capture_stderr=True,
            check=False,
        )
    assert result.returncode == 1
    assert b"connection failed" in result.stderr


async def test_relay_bot_refused_exits_3(flackd: RunningServer) -> None:
    squatter = await flackd.client("relaybot")
    with trio.fail_after(WAIT):
        result = await trio.run_process(
            [
                sys.executable,
                "examples/relay_bot.py",
                "--server",
                f"127.0.0.1:{flackd.port}",
                "#ops",
            ],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            capture_stderr=True,
            check=False,
        )
    assert result.returncode == 3
    assert b"NICK_IN_USE" in result.stderr
    await squatter.expect_quiet()

"""The installed ``flackd`` command as a child process, driven over raw sockets like netcat.

Covers what only a real process shows: the console script, flags, the log line with the
port, a multi-user conversation with production limits, a ``printf ... | nc`` client,
SIGTERM (every client gets ``BYE SHUTDOWN``, exit status 0), and every protocol.md
transcript once more against the binary. Each test starts its own process on port 0 and
ends it by its PID.
"""

from __future__ import annotations

import gc
import os
import re
from pathlib import Path

import pytest
import trio

from flackd import __version__
from flackd.cli import GC_THRESHOLDS, _tune_gc
from flackd.codec import events, parse_event
from tests import transcript
from tests.process import FLACKD, flackd_process


async def test_help_lists_every_limit_with_its_environment_variable() -> None:
    result = await trio.run_process([str(FLACKD), "--help"], capture_stdout=True)
    text = result.stdout.decode()
    for flag in ("--host", "--port", "--max-line-bytes", "--sendq-bytes", "--history",
                 "--flood-burst", "--resume-ttl", "--shutdown-grace"):  # fmt: skip
        assert flag in text
    assert "FLACKD_MAX_LINE_BYTES" in text


async def test_version_names_the_build() -> None:
    """``flackd --version``: the version, and whether this flackd is compiled (the
    suite's compiled run, ``FLACK_EXPECT_COMPILED=1``) or pure Python (the development
    tree); the same words open the log."""
    result = await trio.run_process([str(FLACKD), "--version"], capture_stdout=True)
    line = result.stdout.decode()
    if os.environ.get("FLACK_EXPECT_COMPILED") == "1":
        compiled = r"\(\d+ modules compiled with mypyc\)"
        assert re.fullmatch(rf"flackd {re.escape(__version__)} {compiled}\n", line), line
    else:
        assert line == f"flackd {__version__} (pure Python)\n"
    async with flackd_process() as flackd:  # (it yields once the port's line is logged)
        assert any(line.strip() in logged for logged in flackd.log), flackd.log


async def test_bad_flag_value_is_refused() -> None:
    result = await trio.run_process(
        [str(FLACKD), "--history", "0"], capture_stderr=True, check=False
    )
    assert result.returncode == 2
    assert b"must be positive" in result.stderr


async def test_a_conversation_like_the_readme(nursery: trio.Nursery) -> None:
    """Two netcat users chat with production limits; a third pipes lines and leaves."""
    async with flackd_process() as flackd:
        alice = await flackd.client("alice")
        await alice.send("nick alice")
        alice_token = parse_event(await alice.recv())
        assert isinstance(alice_token, events.Ok)
        assert alice_token.param("token")
        await alice.send("/join #general", "topic #general welcome to Flack")
        join_block = await alice.recv_until("END HISTORY")
        assert join_block[0] == "OK JOIN #general 1 :joined #general (1 member)"
        assert re.fullmatch(r"TOPIC #general alice \S+Z :welcome to Flack", await alice.recv())

        bob = await flackd.client("bob")
        await bob.send("NICK bob")
        bob_ok = parse_event(await bob.recv())
        assert isinstance(bob_ok, events.Ok)
        bob_token = bob_ok.param("token")
        block = await bob.join("#general")
        assert "MEMBER alice role=op" in block
        assert "MEMBER bob" in block
        assert await alice.recv() == "JOIN #general bob"

        await alice.send("MSG #general hi bob")
        first = parse_event(await bob.recv())
        assert isinstance(first, events.Message)
        assert (first.target, first.author, first.text) == ("#general", "alice", "hi bob")
        assert re.fullmatch(r"\d+-\d+", first.id)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first.time)
        assert parse_event(await alice.recv()) == first  # the echo is the same line

        await bob.send("MSG alice a private word")
        private = parse_event(await alice.recv())
        assert isinstance(private, events.Message)
        assert (private.target, private.author) == ("alice", "bob")
        assert parse_event(await bob.recv()) == private

        # printf 'NICK carol\nJOIN #general\nMSG #general ...\n' | nc -N 127.0.0.1 PORT
        carol = await flackd.client("carol")
        await carol.send_raw(b"NICK carol\nJOIN #general\nMSG #general drive-by hello\n")
        await carol.stream.send_eof()
        carol_lines = await carol.expect_eof()
        assert carol_lines[-1].endswith(" carol :drive-by hello")
        for member in (alice, bob):
            assert await member.recv() == "JOIN #general carol"
            assert (await member.recv()).endswith(" carol :drive-by hello")
            assert await member.recv() == "QUIT carol :connection closed"

        await alice.send("LIST")
        assert await alice.recv_until("END LIST") == [
            "LIST 1",
            "CHANNEL #general 2 :welcome to Flack",
            "END LIST more=no",
        ]

        # bob deletes nothing of alice's, alice deletes her own message
        await bob.send(f"DELETE {first.id}")
        assert (await bob.recv()).startswith(f"ERR NOT_AUTHOR DELETE {first.id} ")
        await alice.send(f"DELETE {first.id}")
        deleted = f"DELETED #general {first.id} alice"
        assert await alice.recv() == deleted
        assert await bob.recv() == deleted

        # bob's connection dies; alice keeps talking; bob resumes and catches up
        await bob.aclose()
        assert await alice.recv() == "QUIT bob :connection closed"
        await alice.send("MSG #general are you back?")
        missed = parse_event(await alice.recv())
        assert isinstance(missed, events.Message)
        bob = await flackd.client("bob")
        await bob.send(f"RESUME {bob_token}")
        assert await bob.recv() == "JOIN #general bob"
        unread = await bob.recv_until("END UNREAD")  # he missed one message
        assert unread[0] == "UNREAD 1"
        assert unread[1].startswith("COUNT #general unread=")
        resumed = parse_event(await bob.recv())
        assert isinstance(resumed, events.Ok)
        assert resumed.param("last") == "#general"
        assert await alice.recv() == "JOIN #general bob"
        await bob.send(f"HISTORY #general AFTER {private.id}")
        catch_up = await bob.recv_until("END HISTORY")
        assert catch_up[-1] == "END HISTORY #general more=no gap=no"
        texts = [parse_event(line) for line in catch_up[1:-1]]
        assert [m.text for m in texts if isinstance(m, events.Message)] == [
            "drive-by hello",
            "are you back?",
        ]

        # SIGTERM: both get BYE SHUTDOWN, the process exits 0
        status = await flackd.terminate()
        for member in (alice, bob):
            assert await member.expect_eof() == [
                "BYE SHUTDOWN retry=5 :server shutting down; reconnect in a few seconds"
            ]
        assert status == 0
        assert any("shutting down" in line for line in flackd.log)
        secret = alice_token.param("token")
        assert secret
        assert all(secret not in line for line in flackd.log)


BLOCKS = transcript.blocks()


@pytest.mark.parametrize("block", BLOCKS, ids=[b.name for b in BLOCKS])
async def test_transcripts_against_the_installed_binary(
    block: transcript.Block, tmp_path: Path
) -> None:
    flags = ["--flood-burst", "1000", "--flood-rate", "1000", *transcript.OPER_FLAG]
    if block.password:
        (tmp_path / "password").write_text(block.password + "\n")
        flags += ["--password-file", str(tmp_path / "password")]
    async with flackd_process(*flags) as flackd:
        await transcript.run(block, flackd.port)
        assert await flackd.terminate() == 0


async def test_a_port_in_use_is_a_clear_error() -> None:
    with trio.socket.socket() as taken:
        await taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = await trio.run_process(
            [str(FLACKD), "--host", "127.0.0.1", "--port", str(port)],
            capture_stderr=True,
            check=False,
        )
    assert result.returncode == 2
    assert b"cannot listen on 127.0.0.1" in result.stderr
    assert b"Traceback" not in result.stderr


def test_serving_keeps_the_garbage_collector_off_the_hot_path() -> None:
    """flackd freezes what it made while starting and collects far less often than
    CPython's defaults (docs/performance.md, "Garbage collection"); collection stays on."""
    before = gc.get_threshold()
    frozen = gc.get_freeze_count()
    try:
        _tune_gc()
        assert gc.get_threshold() == GC_THRESHOLDS
        assert GC_THRESHOLDS[0] > before[0]
        assert gc.isenabled()
        assert gc.get_freeze_count() > frozen  # this process's objects: never scanned again
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)

"""The cluster's fault tests with the installed ``flackd``: nodes as child processes sharing
a real Redis, killed with SIGKILL or frozen with SIGSTOP by their PIDs.

- A node killed during a burst: every message its sender saw echoed is in HISTORY on the
  surviving node, in order, exactly once, and the sender's session resumes there.
- A node frozen past its lease while its user resumed elsewhere: once thawed it does not
  act for that session (nothing it sends is stored); it closes its clients and serves
  again as a new incarnation.
"""

from __future__ import annotations

import signal
from pathlib import Path

import trio

from tests.process import FLACKD, FlackdProcess, flackd_process
from tests.redissupport import RedisProcess, redis_server
from tests.support import WAIT, LineClient


def _flags(redis: RedisProcess, node: str, *more: str) -> tuple[str, ...]:
    return (
        "--redis", redis.url, "--node-id", node, "--redis-lease", "1",
        "--flood-burst", "10000", "--flood-rate", "10000", "--history", "1000",
        "--sendq-bytes", "2000000", *more,
    )  # fmt: skip


async def test_kill_9_during_a_burst_loses_no_acknowledged_message(tmp_path: Path) -> None:
    async with (
        redis_server(tmp_path) as redis,
        flackd_process(*_flags(redis, "a")) as a,
        flackd_process(*_flags(redis, "b")) as b,
    ):
        sender = await LineClient.connect(a.port, "sender")
        token = await sender.register("sender")
        await sender.join("#burst")
        watcher = await LineClient.connect(b.port, "watcher")
        await watcher.register("watcher")
        await watcher.join("#burst")
        assert await sender.recv() == "JOIN #burst watcher"  # run on its node too
        echoed: list[str] = []
        enough = trio.Event()
        total = 600

        async def read_echoes() -> None:
            try:
                while True:
                    line = await sender.recv()
                    if line.startswith("MSG #burst "):
                        echoed.append(line)
                        if len(echoed) == 100:
                            enough.set()
            except (EOFError, trio.BrokenResourceError, OSError):
                return

        async def send_burst() -> None:
            try:
                for start in range(0, total, 50):
                    await sender.send(*(f"MSG #burst m{n}" for n in range(start, start + 50)))
            except (trio.BrokenResourceError, OSError):
                return  # the node is gone: the rest was never sent

        async with trio.open_nursery() as nursery:
            nursery.start_soon(read_echoes)
            nursery.start_soon(send_burst)
            await enough.wait()
            a.process.send_signal(signal.SIGKILL)  # by PID: the node this test started
        assert len(echoed) >= 100

        back = await LineClient.connect(b.port, "sender-again")
        await back.send(f"RESUME {token}")
        assert (await back.recv_until("OK RESUME"))[-1].startswith("OK RESUME sender ")
        await back.send("HISTORY #burst 1000")
        lines = await back.recv_until("END HISTORY")
        stored = [line for line in lines if line.startswith("MSG #burst ")]
        assert stored[: len(echoed)] == echoed  # in order, once each
        texts = [line.rsplit(" :", 1)[1] for line in stored]
        assert texts == [f"m{n}" for n in range(len(texts))]  # no gap, no duplicate


async def test_a_frozen_node_does_not_act_for_a_session_that_moved(tmp_path: Path) -> None:
    async with (
        redis_server(tmp_path) as redis,
        flackd_process(*_flags(redis, "a")) as a,
        flackd_process(*_flags(redis, "b")) as b,
    ):
        alice = await LineClient.connect(a.port, "alice")
        token = await alice.register("alice")
        await alice.join("#c")
        bob = await LineClient.connect(b.port, "bob")
        await bob.register("bob")
        await bob.join("#c")
        assert await alice.recv() == "JOIN #c bob"  # run on its node too

        a.process.send_signal(signal.SIGSTOP)
        try:
            # b declares a dead once its lease ran out; alice's session is dropped ...
            assert (await bob.recv()).startswith("QUIT alice :node a.")
            # ... and she resumes it on b.
            moved = await LineClient.connect(b.port, "alice-on-b")
            await moved.send(f"RESUME {token}")
            assert (await moved.recv_until("OK RESUME"))[-1].startswith("OK RESUME alice ")
            assert await bob.recv() == "JOIN #c alice"
            # Typed into the frozen node: it must never be stored.
            await alice.send("MSG #c from the frozen node")
        finally:
            a.process.send_signal(signal.SIGCONT)
        lines = await alice.expect_eof()
        assert lines[-1].startswith("BYE SHUTDOWN retry=1 "), lines
        assert not any("from the frozen node" in line for line in lines)

        await moved.send("MSG #c still here")
        echo = await moved.recv()
        assert echo.endswith(" alice :still here")
        assert await bob.recv() == echo
        await bob.send("HISTORY #c")
        history = await bob.recv_until("END HISTORY")
        assert not any("from the frozen node" in line for line in history)
        await _serves_again(a, bob)


async def _serves_again(node: FlackdProcess, bob: LineClient) -> None:
    """The thawed node serves again, as a new incarnation, in the same chat."""
    pattern = r"cluster: node a\.\w+ joined"
    first = node.log.index(await node.wait_log(pattern))
    await node.wait_log(pattern, start=first + 1)
    carol = await LineClient.connect(node.port, "carol")
    await carol.register("carol")
    await carol.join("#c")
    assert await bob.recv() == "JOIN #c carol"


async def test_a_node_with_other_chat_limits_is_refused(tmp_path: Path) -> None:
    async with redis_server(tmp_path) as redis, flackd_process(*_flags(redis, "a")):
        with trio.fail_after(WAIT):
            done = await trio.run_process(
                [
                    str(FLACKD),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    "0",
                    "--irc-port",
                    "0",
                    *_flags(redis, "b", "--dm-history", "50"),
                ],
                capture_stderr=True,
                check=False,
                stdin=b"",
            )
        assert done.returncode == 2
        error = done.stderr.decode()
        assert "cannot join the cluster" in error
        assert '"dm_history": 50' in error

"""Durable state against the installed ``flackd`` with ``--data-dir``, as an operator runs it.

A conversation across a SIGTERM restart (RESUME and HISTORY AFTER as if nothing
happened); ``kill -9`` in the middle of a burst from several senders (every message any
client saw is stored, in the channel's order, and nothing else); a database that fills up
(the sender gets ``ERR STORAGE_FAILED`` and no echo, reads go on, nothing acknowledged is
lost); and the start-up errors an operator can meet. Every process is started here on
127.0.0.1 and ended by its PID.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import trio

from flackd.codec import events, parse_event
from flackd.store.sqlite import DB_NAME, SCHEMA_VERSION
from tests.process import FLACKD, FlackdProcess, flackd_process
from tests.support import WAIT, LineClient

FAST = ("--flood-burst", "100000", "--flood-rate", "100000")


def message(line: str) -> events.Message:
    event = parse_event(line)
    assert isinstance(event, events.Message), line
    return event


async def test_a_conversation_survives_a_restart(tmp_path: Path) -> None:
    data = ("--data-dir", str(tmp_path / "data"))
    async with flackd_process(*data) as flackd:
        alice = await flackd.client("alice")
        await alice.register("alice")
        await alice.join("#general")
        await alice.send("TOPIC #general durable chat")
        topic = await alice.recv()
        bob = await flackd.client("bob")
        bob_token = await bob.register("bob")
        await bob.join("#general")
        assert await alice.recv() == "JOIN #general bob"
        await alice.send("MSG #general before bob leaves")
        seen = message(await bob.recv())
        assert message(await alice.recv()) == seen  # her echo
        await bob.aclose()
        assert await alice.recv() == "QUIT bob :connection closed"
        await alice.send("MSG #general one for later", "MSG #general and another")
        missed = [await alice.recv(), await alice.recv()]
        assert await flackd.terminate() == 0

    async with flackd_process(*data) as flackd:
        bob = await flackd.client("bob")
        await bob.send(f"RESUME {bob_token}")
        assert await bob.recv() == "JOIN #general bob"
        # Unread counts, kept across the restart: bob never marked anything read.
        assert await bob.recv_until("END UNREAD") == [
            "UNREAD 1",
            f"COUNT #general unread=3 mentions=1 newest={message(missed[-1]).id}",
            "END UNREAD",
        ]
        ok = parse_event(await bob.recv())
        assert isinstance(ok, events.Ok)
        assert ok.command == "RESUME"
        assert (ok.params[0], ok.param("last")) == ("bob", "#general")
        await bob.send(f"HISTORY #general AFTER {seen.id}")
        block = await bob.recv_until("END HISTORY")
        assert block == ["HISTORY #general 2", *missed, "END HISTORY #general more=no gap=no"]
        await bob.send("TOPIC #general")
        assert await bob.recv() == topic
        # New messages continue the same id sequence.
        await bob.send("MSG #general back after the restart")
        new = message(await bob.recv())
        last = message(missed[-1])
        assert new.id.split("-")[0] == last.id.split("-")[0]
        assert int(new.id.split("-")[1]) > int(last.id.split("-")[1])
        assert await flackd.terminate() == 0


async def test_kill_9_in_a_burst_loses_nothing_anyone_saw(tmp_path: Path) -> None:
    data = ("--data-dir", str(tmp_path / "data"))
    flags = (*data, *FAST, "--history", "2000", "--sendq-bytes", "4000000")
    senders, per_sender = 4, 300
    seen: dict[str, str] = {}  # id -> the full line, as any client received it
    sent: dict[str, list[str]] = {}
    async with flackd_process(*flags) as flackd:
        clients = []
        for i in range(senders):
            client = await flackd.client(f"s{i}")
            await client.register(f"s{i}")
            await client.join("#burst")
            clients.append(client)
        for client in clients:
            await client.barrier()  # the JOIN lines of those who came later
        enough = trio.Event()

        async def collect(client: LineClient) -> None:
            while True:
                try:
                    line = await client.recv()
                except (EOFError, trio.BrokenResourceError):
                    return
                if line.startswith("MSG #burst "):
                    seen.setdefault(message(line).id, line)
                    if len(seen) >= senders * per_sender // 3:
                        enough.set()

        async with trio.open_nursery() as nursery:
            for client in clients:
                nursery.start_soon(collect, client)
            for i, client in enumerate(clients):
                sent[f"s{i}"] = [f"s{i} says {n}" for n in range(per_sender)]
                nursery.start_soon(client.send, *[f"MSG #burst {t}" for t in sent[f"s{i}"]])
            with trio.fail_after(WAIT):
                await enough.wait()
            flackd.process.kill()  # SIGKILL, by PID, while the burst is under way
    assert len(seen) >= senders * per_sender // 3

    async with flackd_process(*flags) as flackd:
        reader = await flackd.client("reader")
        await reader.register("reader")
        await reader.join("#burst")
        await reader.send("HISTORY #burst 2000")
        stored = (await reader.recv_until("END HISTORY"))[1:-1]
        assert await flackd.terminate() == 0
    stored_ids = [message(line).id for line in stored]
    # Every message any client saw is stored, exactly as it was seen...
    by_id = dict(zip(stored_ids, stored, strict=True))
    assert all(by_id.get(msgid) == line for msgid, line in seen.items())
    # ...once each, in one increasing order...
    seqs = [int(msgid.split("-")[1]) for msgid in stored_ids]
    assert seqs == sorted(set(seqs))
    # ...and nothing was invented: each sender's stored messages are the start of what it
    # sent, in its order, with no hole.
    for nick, texts in sent.items():
        mine = [message(line).text for line in stored if message(line).author == nick]
        assert mine == texts[: len(mine)]


async def test_a_full_database_refuses_changes_and_loses_nothing(tmp_path: Path) -> None:
    data = ("--data-dir", str(tmp_path / "data"))
    big = ("--history", "5000", "--sendq-bytes", "8000000", *FAST)
    text = "x" * 440
    async with flackd_process(*data, *big, "--data-max-mib", "1") as flackd:
        alice = await flackd.client("alice")
        await alice.register("alice")
        await alice.join("#c")
        bob = await flackd.client("bob")
        await bob.register("bob")
        await bob.join("#c")
        assert await alice.recv() == "JOIN #c bob"
        echoed: list[str] = []
        refused = 0
        for _ in range(100):  # at most 5,000 messages; 1 MiB holds about 2,000
            await alice.send(*[f"MSG #c {n} {text}" for n in range(len(echoed), len(echoed) + 50)])
            for _ in range(50):
                line = await alice.recv()
                if line.startswith("ERR "):
                    assert line.startswith("ERR STORAGE_FAILED MSG retry="), line
                    refused += 1
                else:
                    assert refused == 0, "an echo after a refusal in the same window"
                    echoed.append(line)
            if refused:
                break
        assert refused
        assert 0 < len(echoed) < 5000
        # bob got exactly the acknowledged messages, nothing refused
        assert [await bob.recv() for _ in echoed] == echoed
        await bob.expect_quiet()
        # reads go on
        await alice.send("HISTORY #c 1")
        assert (await alice.recv_until("END HISTORY"))[1] == echoed[-1]
        assert any("could not store changes" in line for line in flackd.log)
        flackd.process.kill()

    async with flackd_process(*data, *big) as flackd:  # no size limit now
        reader = await flackd.client("reader")
        await reader.register("reader")
        await reader.join("#c")
        await reader.send("HISTORY #c 5000")
        assert (await reader.recv_until("END HISTORY"))[1:-1] == echoed
        assert await flackd.terminate() == 0


async def start_error(*flags: str) -> str:
    """Run flackd expecting it to refuse to start; return its stderr."""
    result = await trio.run_process(
        [str(FLACKD), "--host", "127.0.0.1", "--port", "0", *flags],
        capture_stderr=True,
        check=False,
    )
    stderr: str = result.stderr.decode()
    assert result.returncode == 2, stderr
    assert "Traceback" not in stderr
    return stderr


async def test_a_data_dir_that_cannot_be_made(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("in the way")
    stderr = await start_error("--data-dir", str(tmp_path / "file" / "data"))
    assert "cannot create the data directory" in stderr


async def test_a_database_from_a_newer_flackd(tmp_path: Path) -> None:
    async with flackd_process("--data-dir", str(tmp_path)) as flackd:
        assert await flackd.terminate() == 0
    db = sqlite3.connect(tmp_path / DB_NAME)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.close()
    assert "written by a newer flackd" in await start_error("--data-dir", str(tmp_path))


async def test_a_damaged_database(tmp_path: Path) -> None:
    (tmp_path / DB_NAME).write_bytes(b"\x00garbage, not a database\xff" * 500)
    assert "damaged or is not a database" in await start_error("--data-dir", str(tmp_path))


async def test_a_second_flackd_on_the_same_data_dir(tmp_path: Path) -> None:
    async with flackd_process("--data-dir", str(tmp_path)) as flackd:
        stderr = await start_error("--data-dir", str(tmp_path))
        assert f"in use by another flackd (pid {flackd.process.pid})" in stderr
        # the first one is unharmed
        client = await flackd.client("alice")
        assert await client.register("alice")
        assert await flackd.terminate() == 0


async def test_the_log_says_where_the_state_is(tmp_path: Path) -> None:
    flackd: FlackdProcess
    async with flackd_process("--data-dir", str(tmp_path)) as flackd:
        assert any(f"state kept in {tmp_path / DB_NAME}" in line for line in flackd.log)
        assert await flackd.terminate() == 0
    async with flackd_process() as flackd:
        assert any("state kept in memory only" in line for line in flackd.log)
        assert await flackd.terminate() == 0

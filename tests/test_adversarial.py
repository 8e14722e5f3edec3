"""Hostile and broken clients against a live flackd: it stays up, fair and safe, and loses
nothing it accepted.

Most tests run the installed ``flackd`` as a child process (so memory can be read from
/proc and nothing is shared with the test); a few use the in-process server. Every loop is
bounded in count, every wait in time; no assertion is about speed. See
docs/reliability.md for the policy these tests pin down.
"""

from __future__ import annotations

import contextlib
import resource
import socket
import struct

import pytest
import trio

from flackd.codec import events, parse_event
from tests.process import FlackdProcess, flackd_process, rss_bytes
from tests.support import LineClient

FAST = ("--flood-burst", "100000", "--flood-rate", "100000", "--trusted-loopback")

#: Stated bound (docs/reliability.md): abusive input may grow flackd's memory by at most this.
MEMORY_GROWTH_BOUND = 16 * 1024 * 1024

# Everything that must never leave flackd raw: C0 except TAB, DEL, C1, bidi controls and the
# Unicode line/paragraph separators.
UNSAFE = (
    [chr(c) for c in range(0x20) if c != 0x09]
    + [chr(0x7F)]
    + [chr(c) for c in range(0x80, 0xA0)]
    + ["\u061c", "\u200e", "\u200f", "\u2028", "\u2029"]
    + [chr(c) for c in range(0x202A, 0x202F)]
    + [chr(c) for c in range(0x2066, 0x206A)]
)


def assert_clean(line: str) -> None:
    bad = sorted({f"U+{ord(ch):04X}" for ch in line if ch in UNSAFE})
    assert bad == [], f"unsafe characters reached a client: {bad} in {line!r}"


async def member(flackd: FlackdProcess, nick: str, channel: str = "#c") -> LineClient:
    client = await flackd.client(nick)
    await client.register(nick)
    await client.join(channel)
    return client


async def attack(port: int, payload_chunk: bytes, chunks: int, done: trio.Event) -> None:
    """Send ``chunks`` copies of a chunk without reading, until flackd closes the socket."""
    client = await LineClient.connect(port, "attacker")
    await client.register("attacker")
    with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError, OSError):
        for _ in range(chunks):
            await client.send_raw(payload_chunk)
    done.set()
    await client.aclose()


@pytest.mark.parametrize(
    ("label", "chunk", "chunks"),
    [
        ("1 MiB without newline", b"A" * 65536, 16),
        ("1 MiB lines with newlines", b"B" * 65535 + b"\n", 16),
        ("64 MiB without newline", b"C" * 65536, 1024),
    ],
)
async def test_giant_lines_keep_memory_bounded_and_others_served(
    label: str, chunk: bytes, chunks: int
) -> None:
    async with flackd_process(*FAST) as flackd:
        control = await member(flackd, "control")
        await control.expect_quiet()
        before = rss_bytes(flackd.process.pid)
        done = trio.Event()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(attack, flackd.port, chunk, chunks, done)
            for i in range(1000):  # bounded; the control client is served throughout
                await control.send(f"PING {i}")
                assert await control.recv() == f"PONG {i}"
                if done.is_set():
                    break
        growth = rss_bytes(flackd.process.pid) - before
        assert growth < MEMORY_GROWTH_BOUND, f"{label}: flackd grew by {growth} bytes"
        await control.send("MSG #c still fine")
        assert (await control.recv()).endswith("control :still fine")
        assert await flackd.terminate() == 0


async def test_control_and_bidi_characters_never_reach_another_client() -> None:
    async with flackd_process(*FAST) as flackd:
        sender = await member(flackd, "sender")
        observer = await member(flackd, "observer")
        assert await sender.recv() == "JOIN #c observer"
        sent = 0
        for ch in UNSAFE:
            if ch == "\n":
                continue  # LF ends the line by definition
            raw = f"MSG #c a{ch}b\n".encode()
            await sender.send_raw(raw)
            reply = await sender.recv()
            if reply.startswith("ERR BAD_CHARACTER"):
                assert ord(ch) < 0x20 or ch == "\x7f"  # refused on input
                continue
            sent += 1
            relayed = await observer.recv()
            assert_clean(reply)
            assert_clean(relayed)
            message = parse_event(relayed)
            assert isinstance(message, events.Message)
            assert message.text == "a\ufffdb"  # replaced visibly, not removed
        assert sent == len([ch for ch in UNSAFE if ord(ch) >= 0x80])  # the rest was refused
        # Names: every unsafe character is refused in nicks and channel names, and the
        # error line that quotes nothing raw back.
        for ch in UNSAFE:
            if ch in "\n\r":
                continue
            for command in (f"NICK ev{ch}il", f"JOIN #ev{ch}il", f"TOPIC #c t{ch}t"):
                await sender.send_raw(command.encode() + b"\n")
                reply = await sender.recv()
                assert_clean(reply)
                if command.startswith("TOPIC") and reply.startswith("TOPIC"):
                    assert_clean(await observer.recv())
        await observer.send("LIST", "NAMES #c")
        for line in await observer.recv_until("END NAMES"):
            assert_clean(line)
        await observer.expect_quiet()


@pytest.mark.parametrize(
    ("payload", "expected_error"),
    [
        (b"MSG #c one\rMSG #c two\n", "ERR BAD_CHARACTER"),  # a bare CR is not a line end
        (b"MSG #c one\x00MSG #c two\n", "ERR BAD_CHARACTER"),  # NUL neither
        ("MSG #c one\u2028MSG #c two\n".encode(), None),  # U+2028 is text, neutralised
        ("MSG #c one\u0085MSG #c two\n".encode(), None),  # NEL likewise
        (b"MSG #c one\x0bMSG #c two\n", "ERR BAD_CHARACTER"),  # VT
        (b"MSG #c one\x0cMSG #c two\n", "ERR BAD_CHARACTER"),  # FF
    ],
)
async def test_smuggling_a_second_command_inside_a_line_fails(
    payload: bytes, expected_error: str | None
) -> None:
    async with flackd_process(*FAST) as flackd:
        sender = await member(flackd, "sender")
        observer = await member(flackd, "observer")
        assert await sender.recv() == "JOIN #c observer"
        await sender.send_raw(payload)
        reply = await sender.recv()
        if expected_error:
            assert reply.startswith(expected_error)
            await observer.expect_quiet()
        else:
            relayed = await observer.recv()
            assert relayed == reply
            assert relayed.endswith(" sender :one\ufffdMSG #c two")
            await observer.expect_quiet()  # one line, not two


async def test_twenty_clients_racing_for_one_nick_exactly_one_wins() -> None:
    async with flackd_process(*FAST) as flackd:
        clients = [await flackd.client(f"racer{i}") for i in range(20)]
        # All twenty NICKs are on the wire before any answer is read.
        async with trio.open_nursery() as nursery:
            for client in clients:
                nursery.start_soon(client.send, "NICK Highlander")
        replies = [await client.recv() for client in clients]
        winners = [r for r in replies if r.startswith("OK NICK Highlander ")]
        losers = [r for r in replies if r.startswith("ERR NICK_IN_USE NICK Highlander ")]
        assert (len(winners), len(losers)) == (1, 19)
        # The nick is free again once its owner quits, in any letter case.
        owner = clients[replies.index(winners[0])]
        await owner.send("QUIT")
        assert await owner.expect_eof() == ["BYE QUIT :bye"]
        other = clients[(replies.index(winners[0]) + 1) % 20]
        await other.send("NICK HIGHLANDER")
        assert (await other.recv()).startswith("OK NICK HIGHLANDER ")


async def test_command_flood_is_paced_without_loss_or_reordering() -> None:
    flags = ("--flood-burst", "10", "--flood-rate", "2500", "--trusted-loopback")
    async with flackd_process(*flags) as flackd:
        flooder = await member(flackd, "flooder")
        bystander = await member(flackd, "bystander")
        assert await flooder.recv() == "JOIN #c bystander"
        total = 5000
        lines = b"".join(f"MSG #c {i}\n".encode() for i in range(total))
        echoes: list[int] = []
        notes: list[str] = []

        async def drain_echoes() -> None:
            while len(echoes) < total:
                line = await flooder.recv()
                if line.startswith("NOTE FLOOD retry="):
                    notes.append(line)
                else:
                    echoes.append(int(line.rsplit(" :", 1)[1]))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(drain_echoes)
            await flooder.send_raw(lines)  # 5,000 lines in one write
            seen: list[int] = []
            await bystander.send("PING mid-flood")
            pong_after = None
            while len(seen) < total:
                line = await bystander.recv()
                if line == "PONG mid-flood":
                    pong_after = len(seen)
                    continue
                seen.append(int(line.rsplit(" :", 1)[1]))
        assert seen == list(range(total))
        assert echoes == list(range(total))
        # Told once per episode (a new one starts only after the bucket refilled and a
        # second passed without a delay), never once per delayed line or per read.
        assert 1 <= len(notes) <= 3
        assert pong_after is not None
        assert pong_after < total  # answered while the flood was still being paced


async def test_reset_mid_line_loses_only_the_unfinished_line() -> None:
    async with flackd_process(*FAST) as flackd:
        observer = await member(flackd, "observer")
        sock = trio.socket.socket()
        await sock.connect(("127.0.0.1", flackd.port))
        rude = LineClient(trio.SocketStream(sock), "rude")
        assert (await rude.recv()).startswith("HELLO")
        await rude.send_raw(b"NICK rude\nJOIN #c\nMSG #c finished\nMSG #c unfinis")
        assert (await rude.recv()).startswith("OK NICK rude")
        await rude.recv_until("END HISTORY")
        assert (await rude.recv()).endswith(" rude :finished")
        # SO_LINGER 0: close() sends a TCP reset instead of a FIN.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
        assert await observer.recv() == "JOIN #c rude"
        assert (await observer.recv()).endswith(" rude :finished")
        assert (await observer.recv()).startswith("QUIT rude :connection ")
        await observer.send("HISTORY #c")
        block = await observer.recv_until("END HISTORY")
        assert [line.rsplit(" :", 1)[1] for line in block[1:-1]] == ["finished"]


async def test_http_get_from_a_browser_is_closed_silently() -> None:
    async with flackd_process() as flackd:
        browser = await flackd.client("browser")
        await browser.send_raw(
            b"GET /?q=NICK%20x HTTP/1.1\r\nHost: 127.0.0.1:7777\r\nUser-Agent: Mozilla/5.0\r\n"
            b"Accept: */*\r\n\r\n"
        )
        assert await browser.expect_eof() == []


async def test_thousands_of_connections() -> None:
    count, channels = 2000, 100
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < count + 200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, count * 2 + 200), hard))
    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < count + 200:
        pytest.skip("cannot raise this process's file-descriptor limit")
    flags = (*FAST, "--max-connections", str(count + 10), "--max-unregistered", str(count))
    async with flackd_process(*flags) as flackd:
        before = rss_bytes(flackd.process.pid)
        clients: list[trio.SocketStream] = []
        try:
            for i in range(count):
                stream = await trio.open_tcp_stream("127.0.0.1", flackd.port)
                await stream.send_all(f"NICK user{i}\nJOIN #crowd{i % channels}\n".encode())
                clients.append(stream)
            watcher = await member(flackd, "watcher", "#crowd7")
            await watcher.send("NAMES #crowd7")
            block = await watcher.recv_until("END NAMES")
            assert block[0] == f"NAMES #crowd7 {count // channels + 1}"
            per_connection = (rss_bytes(flackd.process.pid) - before) / count
            print(f"\n{count} joined connections: {per_connection / 1024:.1f} KiB each")
            await watcher.send("MSG #crowd7 hello crowd")
            assert (await watcher.recv()).endswith("watcher :hello crowd")
        finally:
            for stream in clients:
                await stream.aclose()
        assert await flackd.terminate() == 0


async def test_every_acknowledged_message_is_in_history_in_order() -> None:
    """The ordering and loss contract, end to end, while abusers do their worst."""
    async with flackd_process(*FAST, "--history", "200") as flackd:
        talkers = [await member(flackd, f"talker{i}") for i in range(4)]
        sleeper = await member(flackd, "sleeper")  # never reads again: will be dropped
        acked: dict[str, list[str]] = {t.name: [] for t in talkers}
        seen_by: dict[str, list[str]] = {t.name: [] for t in talkers}

        async def talk(client: LineClient, n: int) -> None:
            for k in range(n):
                await client.send(f"MSG #c {client.name} says {k} " + "x" * 360)

        async def listen(client: LineClient, expected: int) -> None:
            while len(seen_by[client.name]) < expected:
                event = parse_event(await client.recv())
                if isinstance(event, events.Message):
                    seen_by[client.name].append(event.id)
                    if event.author == client.name:
                        acked[client.name].append(event.id)

        async with trio.open_nursery() as nursery:
            for client in talkers:
                nursery.start_soon(listen, client, 4 * 50)
            for client in talkers:
                nursery.start_soon(talk, client, 50)
            nursery.start_soon(attack, flackd.port, b"Z" * 65536, 64, trio.Event())
        await talkers[0].send("HISTORY #c 200")
        block = await talkers[0].recv_until("END HISTORY")
        block = block[block.index("HISTORY #c 200") :]  # skip notices that came before
        history = [e.id for e in map(parse_event, block[1:-1]) if isinstance(e, events.Message)]
        assert len(history) == 200
        # One total order: every member saw exactly the history's order.
        for name, ids in seen_by.items():
            assert ids == history, name
        # Every acknowledged message is there, in the order its sender sent it.
        for name, ids in acked.items():
            assert len(ids) == 50
            assert [i for i in history if i in set(ids)] == ids, name
        await sleeper.aclose()

"""Hostile and broken clients on the IRC port: the adversarial checks of the Flack port
(tests/test_adversarial.py, and the limit tests of tests/test_server.py and
tests/test_limits.py) run against ``--irc-port``, in IRC's terms.

The IRC port shares Flack's limits and reader (docs/irc.md: "Every other limit of the
Flack port holds on the IRC port too"): an over-long line gets ``417`` and the connection
stays; junk past ``--max-junk-bytes`` closes with ``ERROR``; a flood is paced, not dropped,
and told once per episode in a NOTICE; a slow reader is closed with ``ERROR`` and the others
see it QUIT; control bytes never cross; idle connections get PING; the registration
deadline, the per-address limits and the HTTP tripwire hold.

Some tests run the installed ``flackd`` (memory from /proc, real pacing); the rest an
in-process server, timed ones on Trio's MockClock. Every loop is bounded, every wait too;
"nothing else arrived" is proved with PING barriers; no assertion is about speed.
"""

from __future__ import annotations

import contextlib
import resource
import socket
import struct

import pytest
import trio
import trio.testing

from flackd.codec import events, parse_event
from flackd.irc.wire import IrcMessage, parse
from flackd.limits import Limits
from tests.irc_clients import flackd_with_irc
from tests.ircsupport import IrcClient, IrcServer, start_irc_server
from tests.process import rss_bytes
from tests.support import TEST_LIMITS, WAIT, LineClient
from tests.test_adversarial import FAST, MEMORY_GROWTH_BOUND, UNSAFE, assert_clean

#: Control bytes (C0 but TAB, DEL, C1): never on an IRC client's wire from someone else.
#: (IRC's formatting codes are C0 too: flackd strips them from IRC input, and Flack input
#: cannot hold them, so none reaches an IRC client either.)
CONTROLS = (
    [chr(c) for c in range(0x20) if c != 0x09] + [chr(0x7F)] + [chr(c) for c in range(0x80, 0xA0)]
)


def has_controls(line: str) -> bool:
    """Whether a line an IRC client received (CRLF stripped) holds a control byte, other
    than the CTCP framing of an action (``\x01ACTION ...\x01``, IRC's /me)."""
    text = parse(line).params[-1:] or ("",)
    if text[0].startswith("\x01ACTION ") and text[0].endswith("\x01"):
        line = line.replace(text[0], text[0][8:-1])
    return any(ch in CONTROLS for ch in line)


def assert_no_controls(*clients: IrcClient) -> None:
    """Nothing any of ``clients`` received held a control byte."""
    bad = [line for client in clients for line in client.seen if has_controls(line)]
    assert not bad, f"{len(bad)} lines with control bytes reached IRC clients, e.g. {bad[:3]}"


def limits(**overrides: object) -> Limits:
    """TEST_LIMITS' flood control (none to speak of) with ``overrides``."""
    base = {"flood_burst": TEST_LIMITS.flood_burst, "flood_rate": TEST_LIMITS.flood_rate}
    return Limits(**{**base, **overrides})  # type: ignore[arg-type]


@pytest.fixture
async def chat(nursery: trio.Nursery) -> IrcServer:
    return await start_irc_server(nursery)


async def irc_member(port: int, nick: str, channel: str = "#c", *, caps: str = "") -> IrcClient:
    """A registered IRC client in ``channel`` (its JOIN block read up to 366)."""
    client = await IrcClient.connect(port, nick)
    await client.register(nick, caps=caps)
    await client.send(f"JOIN {channel}")
    await client.expect("366")
    return client


async def flack_member(port: int, nick: str, channel: str = "#c") -> LineClient:
    client = await LineClient.connect(port, nick)
    await client.register(nick)
    await client.join(channel)
    return client


async def irc_from(source: str, port: int, name: str = "") -> IrcClient:
    """An IRC connection from ``source`` (any 127.x.y.z address)."""
    sock = trio.socket.socket()
    await sock.bind((source, 0))
    await sock.connect(("127.0.0.1", port))
    return IrcClient(trio.SocketStream(sock), name or source)


async def flack_from(source: str, port: int) -> LineClient:
    sock = trio.socket.socket()
    await sock.bind((source, 0))
    await sock.connect(("127.0.0.1", port))
    client = LineClient(trio.SocketStream(sock), source)
    assert (await client.recv()).startswith("HELLO")
    return client


async def until_eof(client: IrcClient, timeout: float = WAIT) -> list[str]:
    """Every line still to come until the server closes the connection (which it must do
    within ``timeout`` seconds); the last line is whole."""
    with trio.move_on_after(timeout) as waited:
        while True:
            data = await client.stream.receive_some(65536)
            if not data:
                break
            client._buffer += data
    lines = [raw.rstrip(b"\r").decode() for raw in client._buffer.split(b"\n")]
    assert not waited.cancelled_caught, (
        f"{client.name}: still open after {timeout} s; got {lines[-5:]}, saw {client.seen[-5:]}"
    )
    assert lines[-1] == "", f"{client.name}: a partial last line {lines[-1]!r}"
    client._buffer = b""
    client.seen += lines[:-1]
    return lines[:-1]


def closing_error(lines: list[str]) -> IrcMessage:
    """The last line before a close: IRC's ``ERROR :Closing link: ...``."""
    assert lines, "closed without a line"
    last = parse(lines[-1])
    assert last.command == "ERROR", f"closed with {lines[-1]!r}, not ERROR"
    assert last.params[0].startswith("Closing link: "), lines[-1]
    return last


async def refusal(client: IrcClient) -> str:
    """A connection refused at the door: exactly one line, an IRC ERROR; its text."""
    lines = await until_eof(client)
    assert len(lines) == 1, lines
    return closing_error(lines).params[0]


async def first_of(client: IrcClient, *commands: str) -> IrcMessage:
    """The first message with one of ``commands``; the ones before it are skipped."""
    while True:
        message = await client.message()
        if message.command in commands:
            return message


def flood_notices(messages: list[IrcMessage]) -> list[IrcMessage]:
    return [m for m in messages if m.command == "NOTICE" and "FLOOD" in m.params[-1]]


# -- over-long lines and junk ------------------------------------------------------------


@pytest.mark.parametrize("size", [511, 512, 513, 4096])
async def test_line_length_limit_counts_the_crlf(chat: IrcServer, size: int) -> None:
    irc = await chat.irc("ircy")
    token = "x" * (size - len("PING :\r\n"))
    await irc.send(f"PING :{token}")
    reply = await irc.message()
    if size <= 512:
        assert reply.command == "PONG"
        assert reply.params[-1] == token
    else:
        assert reply.command == "417"
        assert reply.params[0] == "ircy"
    assert await irc.sync() == []


@pytest.mark.parametrize(
    ("size", "junk_limit"),
    [
        (600, 8192),  # over --max-line-bytes: refused by the IRC line check
        (12000, 16384),  # over --max-line-bytes plus the tags: refused by the framing
    ],
)
async def test_an_over_long_line_gets_417_and_the_connection_stays(
    nursery: trio.Nursery, size: int, junk_limit: int
) -> None:
    chat = await start_irc_server(nursery, limits(max_junk_bytes=junk_limit))
    sender = await irc_member(chat.irc_port, "sender")
    observer = await chat.flack("observer")
    await observer.join("#c")
    text = "y" * (size - len("PRIVMSG #c :\r\n"))
    await sender.send_raw(f"PRIVMSG #c :{text}\r\n".encode())
    got = await sender.sync()
    assert [m.command for m in got if m.command != "JOIN"] == ["417"], got
    await sender.send("PRIVMSG #c :short is fine")
    assert (await observer.recv()).endswith(" sender :short is fine")  # nothing before it
    await observer.expect_quiet()


async def test_an_over_long_line_before_registration_closes_with_error(chat: IrcServer) -> None:
    irc = await chat.irc()
    await irc.send_raw(b"N" * 10000)  # past the framing's limit without a newline
    closing_error(await until_eof(irc))


async def test_a_megabyte_without_newline_closes_after_the_junk_limit(chat: IrcServer) -> None:
    control = await irc_member(chat.irc_port, "control")
    watcher = await chat.flack("watcher")
    await watcher.join("#c")
    attacker = await irc_member(chat.irc_port, "attacker")
    assert await watcher.recv() == "JOIN #c attacker"
    with contextlib.suppress(trio.BrokenResourceError):
        for _ in range(16):  # 1 MiB, bounded; flackd gives up after --max-junk-bytes
            await attacker.send_raw(b"y" * 65536)
        await attacker.stream.send_eof()
    lines = await until_eof(attacker)
    error = closing_error(lines)
    assert "8192 bytes without a newline" in error.params[0]
    # Before the ERROR: the over-long line's refusal, as IRC says it (417).
    assert [parse(line).command for line in lines[:-1]] == ["417"], lines
    assert (await watcher.recv()).startswith("QUIT attacker :over 8192 bytes")
    await control.send("PING :still-served")
    assert (await control.expect("PONG")).params[-1] == "still-served"


async def attack(port: int, chunk: bytes, chunks: int, done: trio.Event) -> None:
    """An IRC client that sends ``chunks`` copies of ``chunk`` without reading, until
    flackd closes the socket."""
    client = await IrcClient.connect(port, "attacker")
    await client.register("attacker")
    with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError, OSError):
        for _ in range(chunks):
            await client.send_raw(chunk)
    done.set()
    await client.aclose()


@pytest.mark.parametrize(
    ("label", "chunk", "chunks"),
    [
        ("1 MiB without newline", b"A" * 65536, 16),
        ("1 MiB lines with newlines", b"B" * 65534 + b"\r\n", 16),
        ("64 MiB without newline", b"C" * 65536, 1024),
    ],
)
async def test_giant_lines_keep_memory_bounded_and_others_served(
    label: str, chunk: bytes, chunks: int
) -> None:
    async with flackd_with_irc(*FAST) as flackd:
        control = await irc_member(flackd.irc_port, "control")
        flacky = await flack_member(flackd.port, "flacky")
        assert await control.sync() != []  # flacky's JOIN
        before = rss_bytes(flackd.process.pid)
        done = trio.Event()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(attack, flackd.irc_port, chunk, chunks, done)
            for i in range(1000):  # bounded; the control client is served throughout
                await control.send(f"PING :p{i}")
                pong = await control.message()
                assert (pong.command, pong.params[-1]) == ("PONG", f"p{i}")
                if done.is_set():
                    break
        growth = rss_bytes(flackd.process.pid) - before
        assert growth < MEMORY_GROWTH_BOUND, f"{label}: flackd grew by {growth} bytes"
        await control.send("PRIVMSG #c :still fine")
        assert (await flacky.recv_until("MSG #c"))[-1].endswith(" control :still fine")
        assert await flackd.terminate() == 0


# -- control bytes -----------------------------------------------------------------------


async def test_control_bytes_from_irc_never_reach_another_client(chat: IrcServer) -> None:
    sender = await irc_member(chat.irc_port, "sender")
    observer = await irc_member(chat.irc_port, "observer")
    tagged = await irc_member(chat.irc_port, "tagged", caps="server-time message-tags")
    flacky = await flack_member(chat.port, "flacky")
    irc_observers = (observer, tagged)

    async def relayed() -> tuple[list[IrcMessage], list[str]]:
        """What the observers got for the lines ``sender`` sent so far (all checked)."""
        await sender.sync()  # the sender's lines are carried out: their fan-out is queued
        irc_got: list[IrcMessage] = []
        for client in irc_observers:
            irc_got += await client.sync()
        flack_got = await flacky.barrier()
        for line in flack_got:
            assert_clean(line)
        return irc_got, flack_got

    await relayed()
    for ch in UNSAFE:
        if ch == "\n":
            continue  # LF ends the line by definition
        await sender.send_raw(f"PRIVMSG #c :a{ch}b\r\n".encode())
        irc_got, flack_got = await relayed()
        if ch in "\r\x00":  # the IRC parser refuses the whole line
            assert irc_got == []
            assert flack_got == []
            continue
        message = parse_event(flack_got[0])
        assert isinstance(message, events.Message)
        assert message.text == ("ab" if ch in CONTROLS else "a\ufffdb"), repr(ch)
        assert [m.command for m in irc_got] == ["PRIVMSG", "PRIVMSG"], irc_got
        if ch in CONTROLS:
            assert [m.params for m in irc_got] == [("#c", "ab")] * 2
        # The rest: every place where IRC text reaches someone else.
        await sender.send_raw(f"PRIVMSG #c :\x01ACTION waves{ch}\x01\r\n".encode())
        await sender.send_raw(f"NOTICE #c :note{ch}x\r\n".encode())
        await sender.send_raw(f"TOPIC #c :t{ch}t\r\n".encode())
        await sender.send_raw(f"PART #c :bye{ch}x\r\nJOIN #c\r\n".encode())
        await sender.send_raw(f"AWAY :away{ch}x\r\n".encode())
        await relayed()
        await observer.send("PRIVMSG sender :you there?", "WHOIS sender")
        await observer.expect("318")
        await sender.send("AWAY")
    await flacky.send("TOPIC #c", "NAMES #c", "LIST")
    await flacky.recv_until("END LIST")
    for client in irc_observers:
        await client.send("TOPIC #c", "LIST", "WHO #c")
        await client.expect("315")
    # A user's own words about itself (USER) and its last words (QUIT).
    masked = await IrcClient.connect(chat.irc_port, "masked")
    await masked.send_raw(
        "NICK masked\r\nUSER u\x1b[1m\x9bx 0 * :real\x1b]0;x\x07\x85name\r\n".encode()
    )
    await masked.expect("422")
    await masked.send("JOIN #c")
    await masked.expect("366")
    await observer.send("WHOIS masked", "USERHOST masked", "WHO #c")
    await observer.expect("315")
    await masked.send_raw("QUIT :gone\x1b[31m\x9b\x07\x01VERSION\x01\r\n".encode())
    await masked.expect("ERROR")
    quit_line = (await flacky.recv_until("QUIT masked"))[-1]
    assert_clean(quit_line)
    await observer.expect("QUIT")
    for client in irc_observers:
        await client.sync()
    assert_no_controls(*irc_observers)


async def test_control_bytes_from_flack_never_reach_an_irc_client(chat: IrcServer) -> None:
    observer = await irc_member(chat.irc_port, "observer")
    flacky = await flack_member(chat.port, "flacky")
    await observer.expect("JOIN")
    c1 = "".join(chr(c) for c in range(0x80, 0xA0))
    await flacky.send(
        f"MSG #c a{c1}b", f"TOPIC #c t{c1}t", f"ACTION #c w{c1}w", "MSG observer d\u009bm"
    )
    got = await observer.sync()
    shown = "\ufffd" * len(c1)  # as on Flack's port: replaced, visibly, never relayed
    assert [m.params[-1] for m in got if m.command in ("PRIVMSG", "TOPIC")] == [
        f"a{shown}b", f"t{shown}t", f"\x01ACTION w{shown}w\x01", "d\ufffdm"
    ]  # fmt: skip
    assert_no_controls(observer)


async def test_control_bytes_in_names_are_refused_and_not_quoted_back(chat: IrcServer) -> None:
    """As on Flack's port (test_adversarial): a nick or a channel name with a control byte
    is refused, and the refusal does not quote the byte back raw."""
    sender = await irc_member(chat.irc_port, "sender")
    observer = await irc_member(chat.irc_port, "observer")
    await sender.sync()
    for ch in CONTROLS:
        if ch in "\r\n\x00":
            continue  # the line would not parse at all
        for command in (f"NICK ev{ch}il", f"JOIN #ev{ch}il", f"PRIVMSG ev{ch}il :hi"):
            await sender.send_raw(command.encode() + b"\r\n")
            replies = await sender.sync()
            assert [m.command for m in replies] in (["432"], ["403"], ["401"]), (command, replies)
    await observer.send("NAMES #c", "LIST")
    await observer.expect("323")
    assert [m for m in await observer.sync() if m.command in ("NICK", "JOIN")] == []
    assert_no_controls(sender, observer)


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"PRIVMSG #c :one\rPRIVMSG #c :two\r\n", None),  # a bare CR is not a line end
        (b"PRIVMSG #c :one\x00PRIVMSG #c :two\r\n", None),  # NUL neither
        ("PRIVMSG #c :one\u2028PRIVMSG #c :two\r\n".encode(), "one\ufffdPRIVMSG #c :two"),
        ("PRIVMSG #c :one\u0085PRIVMSG #c :two\r\n".encode(), "onePRIVMSG #c :two"),
        (b"PRIVMSG #c :one\x0bPRIVMSG #c :two\r\n", "onePRIVMSG #c :two"),
        (b"PRIVMSG #c :one\x0cPRIVMSG #c :two\r\n", "onePRIVMSG #c :two"),
    ],
)
async def test_smuggling_a_second_command_inside_a_line_fails(
    chat: IrcServer, payload: bytes, expected: str | None
) -> None:
    sender = await irc_member(chat.irc_port, "sender")
    observer = await irc_member(chat.irc_port, "observer")
    flacky = await flack_member(chat.port, "flacky")
    await sender.sync()
    await observer.sync()
    await sender.send_raw(payload)
    await sender.sync()
    flack_got = await flacky.barrier()
    irc_got = [m for m in await observer.sync() if m.command == "PRIVMSG"]
    if expected is None:  # refused whole
        assert flack_got == []
        assert irc_got == []
    else:  # one message, not two
        assert len(flack_got) == 1
        assert flack_got[0].endswith(f" sender :{expected}")
        assert len(irc_got) == 1
        assert irc_got[0].params[1].startswith("one")
        assert irc_got[0].params[1].endswith("PRIVMSG #c :two")
    assert_no_controls(observer)


# -- floods --------------------------------------------------------------------------------


async def test_command_flood_is_paced_without_loss_or_reordering() -> None:
    flags = ("--flood-burst", "10", "--flood-rate", "2500", "--trusted-loopback")
    async with flackd_with_irc(*flags) as flackd:
        flooder = await irc_member(flackd.irc_port, "flooder", caps="echo-message")
        bystander = await irc_member(flackd.irc_port, "bystander")
        watcher = await flack_member(flackd.port, "watcher")
        await flooder.sync()
        await bystander.sync()
        total = 5000
        lines = b"".join(f"PRIVMSG #c :{i}\r\n".encode() for i in range(total))
        echoes: list[int] = []
        notes: list[IrcMessage] = []
        watched: list[int] = []

        async def drain_echoes() -> None:
            while len(echoes) < total:
                message = await flooder.message()
                if message.command == "PRIVMSG":
                    echoes.append(int(message.params[1]))
                else:
                    notes.append(message)

        async def watch() -> None:
            while len(watched) < total:
                watched.append(int((await watcher.recv()).rsplit(" :", 1)[1]))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(drain_echoes)
            nursery.start_soon(watch)
            await flooder.send_raw(lines)  # 5,000 lines in one write
            seen: list[int] = []
            await bystander.send("PING :mid-flood")
            pong_after = None
            while len(seen) < total:
                message = await bystander.message()
                if message.command == "PONG":
                    assert message.params[-1] == "mid-flood"
                    pong_after = len(seen)
                    continue
                assert message.command == "PRIVMSG", message
                seen.append(int(message.params[1]))
        assert seen == list(range(total))
        assert watched == list(range(total))
        assert echoes == list(range(total))
        # Told in a NOTICE once per episode, never once per delayed line or per read.
        assert notes == flood_notices(notes), notes
        assert 1 <= len(notes) <= 3
        assert pong_after is not None
        assert pong_after < total  # answered while the flood was still being paced


async def test_each_flood_episode_gets_one_notice(
    nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    mock_clock.autojump_threshold = 0.05
    chat = await start_irc_server(nursery, Limits(flood_burst=3, flood_rate=1.0))
    flooder = await irc_member(chat.irc_port, "flooder")
    bystander = await chat.flack("bystander")
    await bystander.join("#c")
    await trio.sleep(60)  # virtual: the bucket is full again
    await flooder.sync()
    for episode in range(2):
        start = trio.current_time()
        await flooder.send(*[f"PRIVMSG #c :{episode}-{i}" for i in range(8)])
        await bystander.send("PING free")
        lines = [await bystander.recv() for _ in range(9)]
        assert "PONG free" in lines[:-1]  # the bystander is not slowed
        texts = [line.rsplit(" :", 1)[1] for line in lines if line.startswith("MSG")]
        assert texts == [f"{episode}-{i}" for i in range(8)]  # all, in order
        told = await flooder.sync()
        assert len(flood_notices(told)) == 1, told
        assert told == flood_notices(told)
        assert trio.current_time() - start >= 5  # virtual time: 8 lines after a burst of 3
        await trio.sleep(60)  # the bucket refills: the episode is over


async def test_ping_and_pong_are_paced_too(
    nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    mock_clock.autojump_threshold = 0.05
    chat = await start_irc_server(nursery, Limits(flood_burst=2, flood_rate=1.0))
    pinger = await chat.irc("pinger")
    start = trio.current_time()
    await pinger.send(*[f"PING :{i}" for i in range(24)])
    pongs: list[str] = []
    while len(pongs) < 24:
        message = await pinger.message()
        if message.command == "PONG":
            pongs.append(message.params[-1])
    assert pongs == [str(i) for i in range(24)]  # nothing dropped, in order
    # The liveness bucket (4 x burst 2, 4 x 1/s) lets 8 through, then 4 a second.
    assert trio.current_time() - start >= 3


async def test_twenty_clients_racing_for_one_nick_on_both_ports_exactly_one_wins() -> None:
    async with flackd_with_irc(*FAST) as flackd:
        ircs = [await IrcClient.connect(flackd.irc_port, f"irc{i}") for i in range(10)]
        flacks = [await flackd.client(f"flack{i}") for i in range(10)]
        async with trio.open_nursery() as nursery:  # every NICK on the wire before a reply
            for irc in ircs:
                nursery.start_soon(irc.send, "NICK Highlander", "USER h 0 * :H")
            for flack in flacks:
                nursery.start_soon(flack.send, "NICK Highlander")
        irc_won = [(await first_of(irc, "001", "433")).command == "001" for irc in ircs]
        flack_replies = [await flack.recv() for flack in flacks]
        flack_won = [r.startswith("OK NICK Highlander ") for r in flack_replies]
        assert all(
            w or r.startswith("ERR NICK_IN_USE")
            for w, r in zip(flack_won, flack_replies, strict=True)
        )
        assert sum(irc_won) + sum(flack_won) == 1
        # The nick is free again once its owner quits, in any letter case.
        if any(irc_won):
            owner = ircs[irc_won.index(True)]
            await owner.send("QUIT")
            closing_error(await until_eof(owner))
        else:
            owner_flack = flacks[flack_won.index(True)]
            await owner_flack.send("QUIT")
            assert await owner_flack.expect_eof() == ["BYE QUIT :bye"]
        other = next(irc for irc, won in zip(ircs, irc_won, strict=True) if not won)
        await other.send("NICK HIGHLANDER")
        assert (await other.expect("001")).params[0] == "HIGHLANDER"


# -- slow readers ------------------------------------------------------------------------


async def test_a_member_that_never_reads_is_closed_with_error_and_others_get_everything(
    nursery: trio.Nursery,
) -> None:
    chat = await start_irc_server(
        nursery,
        Limits(
            flood_burst=10_000, flood_rate=10_000.0, sendq_bytes=32768, socket_sndbuf=4096,
            shutdown_grace=5.0, history=20, dm_history=20, history_page=20, join_replay=20,
            list_max=20, max_connections=64,
        ),
    )  # fmt: skip
    # A client with a tiny receive buffer that reads nothing after joining.
    sock = trio.socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    await sock.connect(("127.0.0.1", chat.irc_port))
    sleeper = IrcClient(trio.SocketStream(sock), "sleeper")
    await sleeper.register("sleeper")
    await sleeper.send("JOIN #c")
    await sleeper.expect("366")
    sleeper_peer = f"127.0.0.1:{sock.getsockname()[1]}"
    (sleeper_conn,) = [c for c in chat.server.connections if c.peer == sleeper_peer]
    reader = await irc_member(chat.irc_port, "reader")
    flack_reader = await flack_member(chat.port, "flacky")
    talker = await irc_member(chat.irc_port, "talker", caps="echo-message")
    await reader.sync()
    await flack_reader.barrier()
    text = "z" * 400
    total = 600
    received: list[IrcMessage] = []
    flack_received: list[str] = []
    sleeper_last: list[str] = []
    for batch in range(total // 20):
        await talker.send(*[f"PRIVMSG #c :{batch * 20 + k:04d} {text}" for k in range(20)])
        echoes = 0
        while echoes < 20:  # the talker reads its echoes: it is not slow
            echoes += (await talker.message()).command == "PRIVMSG"
        if sleeper_conn.is_closing() and not sleeper_last:
            # Dropped: what it still gets (were it to read now) ends with the ERROR.
            assert sleeper_conn.close_reason == "send queue exceeded"
            sleeper_last = await until_eof(sleeper)
            await sleeper.aclose()
        while len([m for m in received if m.command == "PRIVMSG"]) < (batch + 1) * 20:
            received.append(await reader.message())
        while len([x for x in flack_received if x.startswith("MSG")]) < (batch + 1) * 20:
            flack_received.append(await flack_reader.recv())
    assert sleeper_last, "the sleeper was never dropped"
    error = closing_error(sleeper_last)
    assert "not reading fast enough" in error.params[0]
    if not any(m.command == "QUIT" for m in received):  # announced once it is closed
        received.append(await reader.expect("QUIT"))
    if not any(x.startswith("QUIT") for x in flack_received):
        flack_received.append(await flack_reader.recv())
    (quit_message,) = [m for m in received if m.command == "QUIT"]
    assert str(quit_message.source).startswith("sleeper!")
    assert "send queue exceeded" in quit_message.params[0]
    assert [x for x in flack_received if x.startswith("QUIT")] == [
        "QUIT sleeper :send queue exceeded"
    ]
    numbers = [int(m.params[1][:4]) for m in received if m.command == "PRIVMSG"]
    assert numbers == list(range(total))
    flack_numbers = [int(x.split(" :", 1)[1][:4]) for x in flack_received if x.startswith("MSG")]
    assert flack_numbers == list(range(total))
    assert await reader.sync() == []


# -- half-open, idle and half-closed connections ---------------------------------------------


async def test_an_idle_irc_client_is_pinged_and_closed_when_it_stops_answering(
    nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    mock_clock.autojump_threshold = 0.05
    chat = await start_irc_server(nursery, limits(reg_timeout=2.0, ping_idle=4.0, pong_timeout=3.0))
    bot = await irc_member(chat.irc_port, "bot")
    watcher = await flack_member(chat.port, "watcher")
    start = trio.current_time()
    ping = await bot.expect("PING")
    assert trio.current_time() - start >= 3  # virtual time: only after the idle period
    await bot.send(f"PONG :{ping.params[-1]}")
    second = await bot.expect("PING")
    assert second.params[-1] != ping.params[-1]
    # Having answered once, it must answer again: silence now closes it.
    error = closing_error(await until_eof(bot, timeout=30))
    assert error.params[0] == "Closing link: no PONG within 3 seconds"
    assert (await watcher.recv_until("QUIT bot"))[-1] == "QUIT bot :no PONG within 3 seconds"


async def test_a_half_open_irc_client_that_never_answers_ping_is_closed(
    nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    """IRC has no "person in netcat": every IRC client answers PING, so one that does not
    (its peer gone without a FIN, or hung) must not hold its nick and channels forever."""
    mock_clock.autojump_threshold = 0.05
    chat = await start_irc_server(nursery, limits(reg_timeout=2.0, ping_idle=4.0, pong_timeout=3.0))
    gone = await irc_member(chat.irc_port, "gone")
    watcher = await flack_member(chat.port, "watcher")
    assert (await gone.expect("PING")).params[-1].startswith("flackd-")
    lines = await until_eof(gone, timeout=60)  # virtual
    assert closing_error(lines).params[0] == "Closing link: no PONG within 3 seconds"
    assert (await watcher.recv_until("QUIT gone"))[-1].startswith("QUIT gone :")


async def test_pipelined_commands_then_eof_are_all_carried_out(chat: IrcServer) -> None:
    """``printf 'NICK ..\\r\\nUSER ..\\r\\nJOIN #c\\r\\nPRIVMSG #c :hi\\r\\n' | nc -N``."""
    watcher = await flack_member(chat.port, "watcher")
    piped = await IrcClient.connect(chat.irc_port, "piped")
    await piped.send_raw(
        b"NICK piper\r\nUSER p 0 * :P\r\nJOIN #c\r\nPRIVMSG #c :hi from a pipe\r\n"
    )
    await piped.stream.send_eof()
    commands = [parse(line).command for line in await until_eof(piped)]
    assert commands[0] == "001"
    assert commands[-3:] == ["JOIN", "353", "366"]
    assert await watcher.recv() == "JOIN #c piper"
    assert (await watcher.recv()).endswith(" piper :hi from a pipe")
    assert await watcher.recv() == "QUIT piper :connection closed"


async def test_reset_mid_line_loses_only_the_unfinished_line(chat: IrcServer) -> None:
    observer = await flack_member(chat.port, "observer")
    sock = trio.socket.socket()
    await sock.connect(("127.0.0.1", chat.irc_port))
    rude = IrcClient(trio.SocketStream(sock), "rude")
    await rude.send_raw(
        b"NICK rude\r\nUSER r 0 * :R\r\nJOIN #c\r\nPRIVMSG #c :finished\r\nPRIVMSG #c :unfinis"
    )
    await rude.expect("366")
    assert await observer.recv() == "JOIN #c rude"
    assert (await observer.recv()).endswith(" rude :finished")
    # SO_LINGER 0: close() sends a TCP reset instead of a FIN.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
    assert (await observer.recv()).startswith("QUIT rude :connection ")
    await observer.send("HISTORY #c")
    block = await observer.recv_until("END HISTORY")
    assert [line.rsplit(" :", 1)[1] for line in block[1:-1]] == ["finished"]


# -- registration deadline -----------------------------------------------------------------


async def test_registration_deadline(
    nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    mock_clock.autojump_threshold = 0.05
    chat = await start_irc_server(nursery, limits(reg_timeout=5.0))
    idle = await chat.irc()
    trickler = await chat.irc()
    await trickler.send_raw(b"NI")  # bytes do not extend the deadline
    nick_only = await chat.irc()
    await nick_only.send("NICK halfway")  # no USER: not registered
    negotiating = await chat.irc()
    await negotiating.send("CAP LS 302", "NICK capper", "USER c 0 * :C")  # no CAP END
    registered = await chat.irc("early")
    for client in (idle, trickler, nick_only, negotiating):
        lines = await until_eof(client)
        assert closing_error(lines).params[0] == "Closing link: no NICK within 5 seconds"
        assert "001" not in [parse(line).command for line in lines]
    await registered.send("PING :alive")
    assert (await registered.expect("PONG")).params[-1] == "alive"
    free = await chat.irc("halfway")  # the unregistered one held no nick
    await free.sync()


async def test_registration_deadline_holds_while_flood_control_waits(
    nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    mock_clock.autojump_threshold = 0.05
    chat = await start_irc_server(nursery, Limits(reg_timeout=5.0, flood_burst=2, flood_rate=0.1))
    stalling = await chat.irc()
    start = trio.current_time()
    await stalling.send(*["LIST"] * 50)  # 451 each, paced: a 480-second stall
    lines = await until_eof(stalling, timeout=60)
    assert closing_error(lines).params[0] == "Closing link: no NICK within 5 seconds"
    assert trio.current_time() - start < 60  # closed at its deadline, not after the pacing


# -- who may connect -----------------------------------------------------------------------


async def test_concurrent_connections_per_address_count_both_ports(nursery: trio.Nursery) -> None:
    chat = await start_irc_server(nursery, limits(max_per_ip=3))
    flack_side = [await flack_from("127.0.0.2", chat.port) for _ in range(2)]
    first = await irc_from("127.0.0.2", chat.irc_port, "first")
    await first.register("first")
    await first.send("JOIN #c")
    await first.expect("366")
    refused = await irc_from("127.0.0.2", chat.irc_port, "refused")
    assert "3 connections from one address" in await refusal(refused)
    observer = await irc_from("127.0.0.3", chat.irc_port)  # another address: unaffected
    await observer.register("observer")
    await observer.send("JOIN #c")
    await observer.expect("366")
    await first.aclose()
    # QUIT is announced after the server has released the connection's slot.
    quit_message = await observer.expect("QUIT")
    assert str(quit_message.source).startswith("first!")
    replacement = await irc_from("127.0.0.2", chat.irc_port)
    await replacement.register("replacement")
    for client in flack_side:
        await client.expect_quiet()


async def test_new_connections_per_address_per_minute(
    nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    mock_clock.autojump_threshold = 0.05
    chat = await start_irc_server(nursery, limits(new_per_ip=3, max_per_ip=100))
    for _ in range(3):
        client = await irc_from("127.0.0.4", chat.irc_port)
        await client.sync()
        await client.aclose()
    text = await refusal(await irc_from("127.0.0.4", chat.irc_port))
    assert "new connections a minute" in text
    await trio.sleep(60)  # virtual time
    again = await irc_from("127.0.0.4", chat.irc_port)
    await again.register("again")


async def test_the_connection_limits_say_busy_on_the_irc_port(nursery: trio.Nursery) -> None:
    chat = await start_irc_server(nursery, limits(max_connections=3, max_unregistered=2))
    first = await chat.irc()
    second = await chat.irc()
    text = await refusal(await chat.irc())  # a third unregistered one
    assert "full" in text
    await first.register("first")  # registering frees an unregistered slot
    third = await chat.irc()
    await third.sync()
    text = await refusal(await chat.irc())  # a fourth connection
    assert "full" in text
    await second.sync()
    await first.send("PING :still-here")
    assert (await first.expect("PONG")).params[-1] == "still-here"


async def test_trusted_loopback_is_exempt_on_the_irc_port(nursery: trio.Nursery) -> None:
    chat = await start_irc_server(nursery, limits(max_per_ip=2, trusted_loopback=True))
    clients = [await chat.irc() for _ in range(5)]
    for client in clients:
        assert await client.sync() == []


async def test_thousand_irc_connections() -> None:
    count, channels = 1000, 50
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < count + 200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, count * 2 + 200), hard))
    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < count + 200:
        pytest.skip("cannot raise this process's file-descriptor limit")
    flags = (*FAST, "--max-connections", str(count + 10), "--max-unregistered", str(count))
    async with flackd_with_irc(*flags) as flackd:
        before = rss_bytes(flackd.process.pid)
        streams: list[trio.SocketStream] = []
        try:
            for i in range(count):
                stream = await trio.open_tcp_stream("127.0.0.1", flackd.irc_port)
                await stream.send_all(
                    f"NICK user{i}\r\nUSER u 0 * :U\r\nJOIN #crowd{i % channels}\r\n".encode()
                )
                streams.append(stream)
            watcher = await irc_member(flackd.irc_port, "watcher", "#crowd7")
            expected = count // channels + 1
            names: list[str] = []
            for _ in range(100):  # bounded: until the crowd's JOINs are all carried out
                await watcher.send("NAMES #crowd7")
                names = []
                while (message := await watcher.message()).command != "366":
                    if message.command == "353":
                        names += message.params[-1].split()
                if len(names) == expected:
                    break
            assert len(names) == expected
            per_connection = (rss_bytes(flackd.process.pid) - before) / count
            print(f"\n{count} joined IRC connections: {per_connection / 1024:.1f} KiB each")
            flacky = await flack_member(flackd.port, "flacky", "#crowd7")
            await watcher.send("PRIVMSG #crowd7 :hello crowd")
            assert (await flacky.recv()).endswith(" watcher :hello crowd")
        finally:
            for stream in streams:
                await stream.aclose()
        assert await flackd.terminate() == 0


# -- HTTP ----------------------------------------------------------------------------------


async def test_http_request_is_closed_without_executing_anything(chat: IrcServer) -> None:
    watcher = await flack_member(chat.port, "watcher")
    browser = await chat.irc()
    await browser.send_raw(
        b"POST / HTTP/1.1\r\nHost: 127.0.0.1:6667\r\nContent-Length: 60\r\n\r\n"
        b"NICK evil\r\nUSER e 0 * :E\r\nJOIN #c\r\nPRIVMSG #c :pwned\r\n"
    )
    assert await until_eof(browser) == []
    await watcher.expect_quiet()
    await watcher.send("HISTORY #c")
    assert await watcher.recv_until("END HISTORY") == [
        "HISTORY #c 0",
        "END HISTORY #c more=no gap=no",
    ]


async def test_http_get_from_a_browser_is_closed_silently() -> None:
    async with flackd_with_irc() as flackd:
        browser = await IrcClient.connect(flackd.irc_port, "browser")
        await browser.send_raw(
            b"GET /?q=NICK%20x HTTP/1.1\r\nHost: 127.0.0.1:6667\r\nUser-Agent: Mozilla/5.0\r\n"
            b"Accept: */*\r\n\r\n"
        )
        assert await until_eof(browser) == []


async def test_host_header_before_registration_closes(chat: IrcServer) -> None:
    irc = await chat.irc()
    await irc.send("PING :fine", "Host: 127.0.0.1:6667", "NICK evil", "USER e 0 * :E")
    lines = await until_eof(irc)
    assert [(parse(x).command, parse(x).params[-1]) for x in lines] == [("PONG", "fine")]


# -- the ordering and loss contract, under attack ------------------------------------------


async def test_every_acknowledged_message_is_in_history_in_order() -> None:
    async with flackd_with_irc(*FAST, "--history", "200") as flackd:
        caps = "echo-message message-tags"
        talkers = [await irc_member(flackd.irc_port, f"talker{i}", caps=caps) for i in range(4)]
        sleeper = await irc_member(flackd.irc_port, "sleeper")  # never reads again
        for talker in talkers:
            await talker.sync()
        acked: dict[str, list[str]] = {t.name: [] for t in talkers}
        seen_by: dict[str, list[str]] = {t.name: [] for t in talkers}

        async def talk(client: IrcClient, n: int) -> None:
            for k in range(n):
                await client.send(f"PRIVMSG #c :{client.name} says {k} " + "x" * 360)

        async def listen(client: IrcClient, expected: int) -> None:
            while len(seen_by[client.name]) < expected:
                message = await client.message()
                if message.command == "PRIVMSG":
                    seen_by[client.name].append(message.tags["msgid"])
                    if str(message.source).startswith(f"{client.name}!"):
                        acked[client.name].append(message.tags["msgid"])

        async with trio.open_nursery() as nursery:
            for client in talkers:
                nursery.start_soon(listen, client, 4 * 50)
            for client in talkers:
                nursery.start_soon(talk, client, 50)
            nursery.start_soon(attack, flackd.irc_port, b"Z" * 65536, 64, trio.Event())
        reader = await flackd.client("reader")
        await reader.register("reader")
        await reader.send("HISTORY #c 200")
        block = await reader.recv_until("END HISTORY")
        block = block[block.index("HISTORY #c 200") :]
        history = [e.id for e in map(parse_event, block[1:-1]) if isinstance(e, events.Message)]
        assert len(history) == 200
        for name, ids in seen_by.items():  # one total order, the history's
            assert ids == history, name
        for name, ids in acked.items():  # every echo is there, in its sender's order
            assert len(ids) == 50
            assert [i for i in history if i in set(ids)] == ids, name
        await sleeper.aclose()

"""flackd over real loopback TCP: framing, bad input, fan-out, slow readers, limits, shutdown.

Each test starts an in-process server on an ephemeral port (``nursery.start``) and talks to
it with raw bytes, as netcat would. Timed behaviour (registration deadline, flood pacing)
runs on Trio's MockClock, so no test waits in real time and none asserts speed.
"""

from __future__ import annotations

import contextlib
import math
import socket

import pytest
import trio
import trio.testing

from flackd.codec import events, parse_event
from flackd.connection import Connection
from flackd.limits import Limits
from flackd.server import Server
from tests.support import TEST_LIMITS, LineClient, RunningServer, start_server


async def test_greeting_states_the_limits(flackd: RunningServer) -> None:
    client = await LineClient.connect(flackd.port, hello=False)
    hello = await client.recv_event()
    assert isinstance(hello, events.Hello)
    assert (hello.max_line, hello.history) == (512, 100)
    assert "NICK" in hello.text


async def test_lf_and_crlf_and_case_and_slash(flackd: RunningServer) -> None:
    client = await LineClient.connect(flackd.port)
    await client.send_raw(b"PING a\nping b\r\n/PiNg c\n\n\r\n")
    assert [await client.recv() for _ in range(3)] == ["PONG a", "PONG b", "PONG c"]
    await client.expect_quiet()


async def test_lines_split_anywhere_even_inside_utf8(flackd: RunningServer) -> None:
    alice = await flackd.client("alice", "#c")
    bob = await flackd.client("bob", "#c")
    await alice.recv()  # JOIN #c bob
    data = "MSG #c héllo wörld ✓ 🎉\r\n".encode()
    for i in range(len(data)):
        await alice.send_raw(data[i : i + 1])
    seen_by_bob = await bob.recv()
    assert await alice.recv() == seen_by_bob  # the echo is the same line
    line = parse_event(seen_by_bob)
    assert isinstance(line, events.Message)
    assert line.text == "héllo wörld ✓ 🎉"


@pytest.mark.parametrize("size", [511, 512, 513, 4096])
async def test_line_length_limit_counts_the_newline(flackd: RunningServer, size: int) -> None:
    client = await flackd.client("alice")
    token = "x" * (size - len("PING \n"))
    await client.send_raw(f"PING {token}\n".encode())
    reply = await client.recv()
    if size <= 512:
        assert reply == f"PONG {token}"
    else:
        assert reply.startswith("ERR LINE_TOO_LONG * :")
    await client.expect_quiet()


async def test_megabyte_without_newline_closes_after_the_junk_limit(
    flackd: RunningServer,
) -> None:
    control = await flackd.client("control")
    attacker = await flackd.client("attacker")
    chunk = b"y" * 65536
    with contextlib.suppress(trio.BrokenResourceError):
        for _ in range(16):  # 1 MiB, bounded loop; flackd gives up after 8 KiB
            await attacker.send_raw(chunk)
        await attacker.stream.send_eof()
    lines = await attacker.expect_eof()
    assert lines[0].startswith("ERR LINE_TOO_LONG * :")
    assert lines[1:] == ["BYE LINE_TOO_LONG :over 8192 bytes without a newline"]
    await control.send("PING still-served")
    assert await control.recv() == "PONG still-served"


async def test_an_over_long_line_before_registration_closes(flackd: RunningServer) -> None:
    client = await LineClient.connect(flackd.port)
    await client.send_raw(b"N" * 600)
    assert await client.expect_eof() == ["BYE LINE_TOO_LONG :too many over-long lines"]


async def test_repeated_over_long_lines_close(flackd: RunningServer) -> None:
    client = await flackd.client("alice")
    long_line = b"PING " + b"x" * 600 + b"\n"
    await client.send_raw(long_line * 2 + b"PING between\n")
    assert (await client.recv()).startswith("ERR LINE_TOO_LONG")
    assert (await client.recv()).startswith("ERR LINE_TOO_LONG")
    assert await client.recv() == "PONG between"
    await client.send_raw(long_line)
    assert await client.expect_eof() == ["BYE LINE_TOO_LONG :too many over-long lines"]


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"PING \xff\xfe\n", "INVALID_UTF8"),
        (b"PING \xc0\xaf\n", "INVALID_UTF8"),
        (b"PING \xed\xa0\x80\n", "INVALID_UTF8"),
        (b"PING a\x00b\n", "BAD_CHARACTER"),
        (b"PING a\rb\n", "BAD_CHARACTER"),
        (b"PING \x1b[31m\n", "BAD_CHARACTER"),
        (b"PING a\x7f\n", "BAD_CHARACTER"),
        (b"PING a\x07\n", "BAD_CHARACTER"),
    ],
)
async def test_bad_bytes_get_an_error_and_the_connection_stays(
    flackd: RunningServer, raw: bytes, code: str
) -> None:
    client = await LineClient.connect(flackd.port)
    await client.send_raw(raw)
    assert (await client.recv()).startswith(f"ERR {code} * :")
    await client.send("PING ok")
    assert await client.recv() == "PONG ok"


async def test_unsafe_characters_never_reach_another_client(flackd: RunningServer) -> None:
    alice = await flackd.client("alice", "#c")
    bob = await flackd.client("bob", "#c")
    await alice.recv()  # JOIN #c bob
    # C1 CSI, NEL, a bidi override, the Unicode line separator, an Arabic letter mark.
    text = "a\u009b31mb\u0085c\u202ed\u2028e\u061cf"
    await alice.send(f"MSG #c {text}", f"TOPIC #c {text}")
    raw_lines = []
    for _ in range(2):
        raw_lines.append(await bob.recv())
    for line in raw_lines:
        for bad in "\u009b\u0085\u202e\u2028\u061c":
            assert bad not in line
    message = parse_event(raw_lines[0])
    assert isinstance(message, events.Message)
    assert message.text == "a\ufffd31mb\ufffdc\ufffdd\ufffde\ufffdf"


async def test_pipelined_commands_then_eof_are_all_carried_out(flackd: RunningServer) -> None:
    """``printf 'NICK a\\nJOIN #c\\nMSG #c hi\\nQUIT\\n' | nc -N``: everything is answered."""
    watcher = await flackd.client("watcher", "#c")
    piped = await LineClient.connect(flackd.port, "piped")
    await piped.send_raw(b"NICK piper\nJOIN #c\nMSG #c hi from a pipe\n")
    await piped.stream.send_eof()
    lines = await piped.expect_eof()
    assert lines[0].startswith("OK NICK piper token=")
    assert lines[1] == "OK JOIN #c 2 :joined #c (2 members)"
    assert lines[-1].endswith(" piper :hi from a pipe")
    assert await watcher.recv() == "JOIN #c piper"
    assert (await watcher.recv()).endswith(" piper :hi from a pipe")
    assert await watcher.recv() == "QUIT piper :connection closed"


async def test_abrupt_close_mid_line_processes_complete_lines_only(flackd: RunningServer) -> None:
    watcher = await flackd.client("watcher", "#c")
    piped = await LineClient.connect(flackd.port, "piped")
    await piped.send_raw(b"NICK piper\nJOIN #c\nMSG #c complete\nMSG #c incompl")
    await piped.aclose()
    assert await watcher.recv() == "JOIN #c piper"
    assert (await watcher.recv()).endswith(" piper :complete")
    quit_line = await watcher.recv()
    assert quit_line.startswith("QUIT piper :connection")
    await watcher.send("HISTORY #c")
    block = await watcher.recv_until("END HISTORY")
    assert [line.rsplit(" :", 1)[1] for line in block[1:-1]] == ["complete"]


async def test_fan_out_keeps_one_order_for_everyone(flackd: RunningServer) -> None:
    clients = [await flackd.client(f"user{i}", "#c") for i in range(5)]
    for i, client in enumerate(clients):  # drain the JOIN notices of later joiners
        for _ in range(len(clients) - 1 - i):
            assert (await client.recv()).startswith("JOIN #c user")

    async def talk(client: LineClient, n: int) -> None:
        await client.send(*[f"MSG #c {client.name}-{k}" for k in range(n)])

    async with trio.open_nursery() as nursery:
        for client in clients:
            nursery.start_soon(talk, client, 40)
    seen = []
    for client in clients:
        lines = [await client.recv_event() for _ in range(200)]
        assert all(isinstance(m, events.Message) for m in lines)
        seen.append([m.id for m in lines if isinstance(m, events.Message)])
        await client.expect_quiet()
    assert all(ids == seen[0] for ids in seen)
    assert len(set(seen[0])) == 200
    await clients[0].send("HISTORY #c 100")
    block = await clients[0].recv_until("END HISTORY")
    history_ids = [parse_event(line).id for line in block[1:-1]]  # type: ignore[union-attr]
    assert history_ids == seen[0][-100:]


async def test_a_member_that_never_reads_is_dropped_and_others_get_everything(
    nursery: trio.Nursery,
) -> None:
    limits = Limits(
        flood_burst=10_000, flood_rate=10_000.0, sendq_bytes=32768, socket_sndbuf=4096,
        shutdown_grace=0.5, history=20, dm_history=20, history_page=20, join_replay=20, list_max=20,
        max_connections=64,
    )  # fmt: skip
    running = await start_server(nursery, limits)
    # A client with a tiny receive buffer that reads nothing after joining.
    sock = trio.socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    await sock.connect(("127.0.0.1", running.port))
    sleeper = LineClient(trio.SocketStream(sock), "sleeper")
    assert (await sleeper.recv()).startswith("HELLO")
    await sleeper.register("sleeper")
    await sleeper.join("#c")
    reader = await running.client("reader", "#c")
    talker = await running.client("talker", "#c")
    assert await reader.recv() == "JOIN #c talker"
    text = "z" * 400
    total = 600
    received: list[str] = []
    quit_seen = False
    for batch in range(total // 20):
        await talker.send(*[f"MSG #c {batch * 20 + k:04d} {text}" for k in range(20)])
        echoes = 0
        while echoes < 20:  # the talker reads its echoes, or it would be dropped too
            echoes += (await talker.recv()).startswith("MSG")
        while len([line for line in received if line.startswith("MSG")]) < (batch + 1) * 20:
            line = await reader.recv()
            received.append(line)
            if line.startswith("QUIT sleeper"):
                quit_seen = True
                assert line == "QUIT sleeper :send queue exceeded"
    if not quit_seen:  # announced once its connection is closed (flush grace, linger)
        assert await reader.recv() == "QUIT sleeper :send queue exceeded"
    numbers = [int(line.split(" :", 1)[1][:4]) for line in received if line.startswith("MSG")]
    assert numbers == list(range(total))
    await reader.expect_quiet()


async def test_shutdown_says_bye_to_everyone_and_returns(nursery: trio.Nursery) -> None:
    shutdown = trio.Event()
    done = trio.Event()
    server = Server(TEST_LIMITS)

    async def run(*, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as inner:
            listeners = await inner.start(server.serve, "127.0.0.1", 0, shutdown)
            task_status.started(listeners[0].socket.getsockname()[1])
        done.set()

    port = await nursery.start(run)
    running = RunningServer(server, port)
    alice = await running.client("alice", "#c")
    anonymous = await LineClient.connect(port)
    shutdown.set()
    for client in (alice, anonymous):
        lines = await client.expect_eof()
        assert lines == ["BYE SHUTDOWN retry=5 :server shutting down; reconnect in a few seconds"]
        await client.aclose()
    with trio.fail_after(10):
        await done.wait()
    with pytest.raises(OSError, match="connect"):
        await trio.open_tcp_stream("127.0.0.1", port)


async def test_connection_limit_says_busy(nursery: trio.Nursery) -> None:
    running = await start_server(nursery, Limits(max_connections=2))
    first = await LineClient.connect(running.port)
    second = await LineClient.connect(running.port)
    third = await LineClient.connect(running.port, hello=False)
    assert await third.expect_eof() == [
        "BYE BUSY retry=5 :the server is full; try again in a few seconds"
    ]
    await first.send("PING still-here")
    assert await first.recv() == "PONG still-here"
    await second.aclose()
    await first.expect_quiet()


async def test_http_request_is_closed_without_executing_anything(flackd: RunningServer) -> None:
    watcher = await flackd.client("watcher", "#c")
    browser = await LineClient.connect(flackd.port)
    await browser.send_raw(
        b"POST / HTTP/1.1\r\nHost: 127.0.0.1:7777\r\nContent-Length: 30\r\n\r\n"
        b"NICK evil\nJOIN #c\nMSG #c pwned\n"
    )
    assert await browser.expect_eof() == []
    await watcher.expect_quiet()
    await watcher.send("HISTORY #c")
    assert await watcher.recv_until("END HISTORY") == [
        "HISTORY #c 0",
        "END HISTORY #c more=no gap=no",
    ]


async def test_registration_deadline(
    nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    mock_clock.autojump_threshold = 0.05
    running = await start_server(nursery, Limits(reg_timeout=5.0))
    idle = await LineClient.connect(running.port)
    trickler = await LineClient.connect(running.port)
    await trickler.send_raw(b"NI")  # bytes do not extend the deadline
    registered = await LineClient.connect(running.port)
    await registered.register("early")
    for client in (idle, trickler):
        assert await client.expect_eof() == ["BYE REGISTRATION_TIMEOUT :no NICK within 5 seconds"]
    await registered.send("PING alive")
    assert await registered.recv() == "PONG alive"


async def test_flood_control_paces_but_drops_nothing(
    nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    mock_clock.autojump_threshold = 0.05
    running = await start_server(nursery, Limits(flood_burst=5, flood_rate=1.0))
    flooder = await running.client("flooder", "#c")
    bystander = await running.client("bystander", "#c")
    await flooder.recv()  # JOIN #c bystander
    start = trio.current_time()
    await flooder.send(*[f"MSG #c line {i}" for i in range(20)])
    await bystander.send("PING free")
    lines = [await bystander.recv() for _ in range(21)]
    # The bystander is not slowed: its PONG comes before the flooder's paced lines end.
    assert "PONG free" in lines[:-1]
    texts = [line.rsplit(" :", 1)[1] for line in lines if line.startswith("MSG")]
    assert texts == [f"line {i}" for i in range(20)]
    # Virtual time moved forward by the bucket's pacing: 20 lines after a burst of 5 (the
    # JOIN used 1 and NICK 1) at 1 line/s need at least 16 refill seconds.
    assert trio.current_time() - start >= 16


async def test_a_bug_in_one_command_closes_only_that_connection(
    nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch
) -> None:
    running = await start_server(nursery)
    bystander = await running.client("bystander", "#c")
    victim = await running.client("victim", "#c")
    await bystander.recv()  # JOIN #c victim
    hub = running.server.hub
    handle = hub.handle

    def buggy(conn: object, verb: object, command: object, now: float) -> object:
        if getattr(command, "text", None) == "boom":
            raise RuntimeError("a bug")
        return handle(conn, verb, command, now)  # type: ignore[arg-type]

    monkeypatch.setattr(hub, "handle", buggy)
    await victim.send("MSG #c boom")
    assert await victim.expect_eof() == ["BYE SERVER_ERROR :internal error; please reconnect"]
    assert await bystander.recv() == "QUIT victim :server error"
    await bystander.send("PING still-serving")
    assert await bystander.recv() == "PONG still-serving"


async def test_a_bug_in_housekeeping_closes_only_that_connection(
    nursery: trio.Nursery, mock_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    mock_clock.autojump_threshold = 0.05
    running = await start_server(nursery, Limits(reg_timeout=5.0))
    bystander = await running.client("bystander")
    victim = await LineClient.connect(running.port)  # unregistered: due in 5 s
    deadline = running.server._deadline

    def buggy(conn: Connection, now: float) -> float:
        if conn.registration_deadline != math.inf:
            raise RuntimeError("a bug")
        return deadline(conn, now)

    monkeypatch.setattr(running.server, "_deadline", buggy)
    assert await victim.expect_eof(timeout=60) == [
        "BYE SERVER_ERROR :internal error; please reconnect"
    ]
    await bystander.send("PING still-serving")
    assert await bystander.recv() == "PONG still-serving"
    late = await running.client("late")  # the server still accepts and registers
    await late.send("PING ok")
    assert await late.recv() == "PONG ok"

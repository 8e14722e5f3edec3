"""Connection-level limits over loopback TCP: per-address and unregistered caps, the
trusted-loopback exemption, idle PING / PONG, the HTTP and Host: tripwires, flood notices.

Per-address tests spread clients over several 127.0.0.0/8 source addresses, which Linux
routes to the loopback interface. Timed rules run on Trio's MockClock.
"""

from __future__ import annotations

import trio
import trio.testing

from flackd.limits import Limits
from tests.support import TEST_LIMITS, LineClient, start_server


async def connect_from(source: str, port: int) -> LineClient:
    """A client whose connection comes from ``source`` (any 127.x.y.z address)."""
    sock = trio.socket.socket()
    await sock.bind((source, 0))
    await sock.connect(("127.0.0.1", port))
    return LineClient(trio.SocketStream(sock), source)


def limits(**overrides: object) -> Limits:
    base = {
        name: getattr(TEST_LIMITS, name)
        for name in ("flood_burst", "flood_rate")
    }  # fmt: skip
    return Limits(**{**base, **overrides})


async def test_concurrent_connections_per_address(nursery: trio.Nursery) -> None:
    running = await start_server(nursery, limits(max_per_ip=3))
    same = [await connect_from("127.0.0.2", running.port) for _ in range(4)]
    for client in same[:3]:
        assert (await client.recv()).startswith("HELLO")
    assert await same[3].expect_eof() == [
        "BYE TOO_MANY_CONNECTIONS :at most 3 connections from one address; close one first"
    ]
    observer = await connect_from("127.0.0.3", running.port)  # another address: unaffected
    assert (await observer.recv()).startswith("HELLO")
    await observer.register("observer")
    await observer.join("#c")
    await same[0].register("leaver")
    await same[0].join("#c")
    assert await observer.recv() == "JOIN #c leaver"
    await same[0].aclose()
    # QUIT is announced after the server has released the connection's slot.
    assert await observer.recv() == "QUIT leaver :connection closed"
    replacement = await connect_from("127.0.0.2", running.port)
    assert (await replacement.recv()).startswith("HELLO")


async def test_new_connections_per_address_per_minute(
    nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    mock_clock.autojump_threshold = 0.05
    running = await start_server(nursery, limits(new_per_ip=3, max_per_ip=100))
    for _ in range(3):
        client = await connect_from("127.0.0.4", running.port)
        assert (await client.recv()).startswith("HELLO")
        await client.aclose()
    refused = await connect_from("127.0.0.4", running.port)
    (bye,) = await refused.expect_eof()
    assert bye.startswith("BYE TOO_MANY_CONNECTIONS retry=")
    retry = int(bye.split("retry=")[1].split(" ")[0])
    assert 0 < retry <= 60
    await trio.sleep(retry)  # virtual time
    again = await connect_from("127.0.0.4", running.port)
    assert (await again.recv()).startswith("HELLO")


async def test_trusted_loopback_is_exempt(nursery: trio.Nursery) -> None:
    running = await start_server(nursery, limits(max_per_ip=2, trusted_loopback=True))
    clients = [await LineClient.connect(running.port) for _ in range(5)]
    for client in clients:
        await client.expect_quiet()


async def test_unregistered_connections_are_capped(nursery: trio.Nursery) -> None:
    running = await start_server(nursery, limits(max_unregistered=2))
    first = await LineClient.connect(running.port)
    second = await LineClient.connect(running.port)
    third = await LineClient.connect(running.port, hello=False)
    assert await third.expect_eof() == [
        "BYE BUSY retry=5 :the server is full; try again in a few seconds"
    ]
    await first.register("first")  # registering frees a slot
    fourth = await LineClient.connect(running.port)
    await fourth.expect_quiet()
    await second.expect_quiet()


async def test_idle_ping_and_pong_deadline_for_programs(
    nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    mock_clock.autojump_threshold = 0.05
    running = await start_server(nursery, limits(ping_idle=90.0, pong_timeout=60.0))
    bot = await running.client("bot")
    start = trio.current_time()
    ping = await bot.recv(timeout=200)
    assert ping.startswith("PING flackd-")
    assert trio.current_time() - start >= 90  # virtual time: only after the idle period
    await bot.send("PONG " + ping.split(" ", 1)[1])
    second = await bot.recv(timeout=200)
    assert second.startswith("PING flackd-")
    # Having answered once, the bot must answer again: silence now closes it.
    assert await bot.expect_eof(timeout=200) == ["BYE PING_TIMEOUT :no PONG within 60 seconds"]


async def test_a_quiet_person_who_never_answers_ping_is_not_kicked(
    nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    mock_clock.autojump_threshold = 0.05
    running = await start_server(nursery, limits(ping_idle=90.0, pong_timeout=60.0))
    human = await running.client("human", "#c")
    ping = await human.recv(timeout=200)
    assert ping.startswith("PING flackd-")
    await trio.sleep(3600)  # an hour of virtual silence
    await human.send("MSG #c still here")
    assert (await human.recv()).endswith("human :still here")  # no BYE, no further PING


async def test_host_header_before_registration_closes(nursery: trio.Nursery) -> None:
    running = await start_server(nursery)
    client = await LineClient.connect(running.port)
    await client.send("PING fine", "Host: 127.0.0.1:7777", "NICK evil")
    assert await client.expect_eof() == ["PONG fine"]


async def test_flood_notice_is_sent_once_per_episode(
    nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    mock_clock.autojump_threshold = 0.05
    running = await start_server(nursery, Limits(flood_burst=3, flood_rate=1.0))
    client = await running.client("chatty")
    await client.send(*[f"HELP {verb}" for verb in ("NICK", "JOIN", "PART", "MSG", "LIST")])
    lines: list[str] = []
    while len([line for line in lines if line.startswith("END HELP")]) < 5:
        lines.append(await client.recv(timeout=60))
    notes = [line for line in lines if line.startswith("NOTE FLOOD")]
    assert len(notes) == 1
    assert notes[0].startswith("NOTE FLOOD retry=1 :")
    await client.expect_quiet()


async def test_channel_creation_quota(
    nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    mock_clock.autojump_threshold = 0.05
    running = await start_server(nursery, limits(channel_creates=2))
    maker = await running.client("maker", "#a", "#b")
    await maker.send("JOIN #c", "CREATE #d")
    for verb in ("JOIN", "CREATE"):
        refused = await maker.recv()
        assert refused.startswith(f"ERR RATE_LIMITED {verb} retry=")
        retry = int(refused.split("retry=")[1].split(" ")[0])
        assert 0 < retry <= 60
    other = await running.client("other", "#a")  # joining existing channels is not limited
    assert await maker.recv() == "JOIN #a other"
    await other.expect_quiet()
    await trio.sleep(60)  # virtual time
    block = await maker.join("#c")
    assert block[0] == "OK JOIN #c 1 :joined #c (1 member)"


async def test_list_pages(nursery: trio.Nursery) -> None:
    running = await start_server(nursery, limits(list_max=2))
    maker = await running.client("maker", "#a", "#b", "#c", "#d", "#e")
    seen: list[str] = []
    command = "LIST"
    for _ in range(5):  # bounded
        await maker.send(command)
        block = await maker.recv_until("END LIST")
        names = [line.split(" ")[1] for line in block[1:-1]]
        seen += names
        if block[-1] == "END LIST more=no":
            break
        assert block[-1] == "END LIST more=yes"
        command = f"LIST AFTER {names[-1]}"
    assert seen == ["#a", "#b", "#c", "#d", "#e"]


async def test_registration_deadline_holds_while_flood_control_waits(
    nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    mock_clock.autojump_threshold = 0.05
    running = await start_server(nursery, Limits(reg_timeout=5.0, flood_burst=2, flood_rate=0.1))
    stalling = await LineClient.connect(running.port)
    start = trio.current_time()
    await stalling.send(*["LIST"] * 50)  # refused, but paced: a 1,500-second stall
    lines = await stalling.expect_eof(timeout=60)
    assert lines[-1] == "BYE REGISTRATION_TIMEOUT :no NICK within 5 seconds"
    assert trio.current_time() - start < 60  # closed at its deadline, not after the pacing


async def test_a_bare_pong_does_not_make_a_person_a_program(
    nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    mock_clock.autojump_threshold = 0.05
    running = await start_server(nursery, limits(ping_idle=90.0, pong_timeout=60.0))
    human = await running.client("human", "#c")
    await human.send("PONG")  # not an answer to anything
    assert (await human.recv(timeout=200)).startswith("PING flackd-")
    await trio.sleep(3600)  # an hour of virtual silence: still connected
    await human.send("PING still-here")
    assert await human.recv() == "PONG still-here"


async def test_ping_and_pong_are_paced_too(
    nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    mock_clock.autojump_threshold = 0.05
    running = await start_server(nursery, Limits(flood_burst=2, flood_rate=1.0))
    client = await running.client("pinger")
    start = trio.current_time()
    await client.send(*[f"PING {i}" for i in range(24)])
    replies = [await client.recv(timeout=60) for _ in range(25)]
    pongs = [r for r in replies if r.startswith("PONG")]
    assert pongs == [f"PONG {i}" for i in range(24)]  # nothing dropped, in order
    # The liveness bucket (4 x burst 2, 4 x 1/s) lets 8 through, then 4 a second.
    assert trio.current_time() - start >= 3


async def test_each_flood_episode_gets_its_own_notice(
    nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    mock_clock.autojump_threshold = 0.05
    running = await start_server(nursery, Limits(flood_burst=3, flood_rate=1.0))
    client = await running.client("chatty")
    notes = 0
    for episode in range(2):
        await client.send(*[f"HELP {v}" for v in ("NICK", "JOIN", "PART", "MSG", "LIST")])
        ends = 0
        while ends < 5:
            line = await client.recv(timeout=60)
            notes += line.startswith("NOTE FLOOD")
            ends += line.startswith("END HELP")
        await trio.sleep(60)  # the bucket refills: the episode is over
        assert notes == episode + 1

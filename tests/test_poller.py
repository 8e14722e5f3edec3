"""The poller (one task reading every idle plain TCP connection) and the lives of the
connections it reads: no task per idle connection, a task only while lines must wait,
back to the poller afterwards, and every way a connection ends.

Real sockets on 127.0.0.1; timed rules (flood pacing) on Trio's MockClock.
"""

from __future__ import annotations

import socket

import pytest
import trio
import trio.testing

from flackd import poller as poller_module
from flackd.codec import events, parse_event
from flackd.connection import Connection
from flackd.limits import Limits
from flackd.poller import Poller
from tests.support import WAIT, LineClient, RunningServer, run_server, start_server

pytestmark = pytest.mark.skipif(not poller_module.available(), reason="no epoll (not Linux)")


# -- the poller on its own ---------------------------------------------------------------


async def test_it_hands_over_each_readable_item_once_a_pass_until_it_is_read() -> None:
    a, b = socket.socketpair()
    c, d = socket.socketpair()
    with a, b, c, d:
        a.setblocking(False)
        poller: Poller[str] = Poller()
        seen: list[str] = []
        got = trio.Event()

        def ready(item: str) -> None:
            seen.append(item)
            if item == "a" and len([s for s in seen if s == "a"]) == 2:
                assert a.recv(1) == b"x"  # the second byte: now it is read out
                got.set()
            elif item == "a":
                assert a.recv(1) == b"x"  # one of the two: still readable (level-triggered)

        poller.add(a.fileno(), "a")
        poller.add(c.fileno(), "c")
        assert len(poller) == 2
        assert a.fileno() in poller
        async with trio.open_nursery() as nursery:
            nursery.start_soon(poller.run, ready)
            b.send(b"xx")
            with trio.fail_after(WAIT):
                await got.wait()
            nursery.cancel_scope.cancel()
        assert seen == ["a", "a"]  # "c" had nothing to read: never handed over
        assert poller.remove(a.fileno()) == "a"
        assert poller.remove(a.fileno()) is None  # gone already
        poller.close()
        assert poller.remove(c.fileno()) is None  # closed: nothing left, and no error


async def test_each_pass_is_framed_by_begin_and_done() -> None:
    """``begin`` runs before the first item of a pass and ``done`` after the last: the
    server holds a channel's broadcasts for company between the two."""
    pairs = [socket.socketpair() for _ in range(2)]
    try:
        poller: Poller[int] = Poller()
        calls: list[str] = []
        passed = trio.Event()

        def ready(item: int) -> None:
            calls.append(f"ready {item}")
            pairs[item][0].recv(1)

        def done() -> None:
            calls.append("done")
            passed.set()

        for n, (mine, _) in enumerate(pairs):
            poller.add(mine.fileno(), n)
        for _, theirs in pairs:
            theirs.send(b"x")  # both readable before the poller looks: one pass
        async with trio.open_nursery() as nursery:
            nursery.start_soon(poller.run, ready, done, lambda: calls.append("begin"))
            with trio.fail_after(WAIT):
                await passed.wait()
            nursery.cancel_scope.cancel()
        assert calls[0] == "begin"
        assert calls[-1] == "done"
        assert sorted(calls[1:-1]) == ["ready 0", "ready 1"]
        poller.close()
    finally:
        for x, y in pairs:
            x.close()
            y.close()


async def test_an_item_removed_in_a_pass_is_not_handed_over_in_it() -> None:
    pairs = [socket.socketpair() for _ in range(2)]
    try:
        poller: Poller[int] = Poller()
        seen: list[int] = []
        two = trio.Event()

        def ready(item: int) -> None:
            seen.append(item)
            pairs[item][0].recv(1)
            other = 1 - item
            poller.remove(pairs[other][0].fileno())  # as a KILL would close the other
            two.set()

        for n, (mine, _) in enumerate(pairs):
            poller.add(mine.fileno(), n)
        for _, theirs in pairs:
            theirs.send(b"x")  # both readable before the poller looks
        async with trio.open_nursery() as nursery:
            nursery.start_soon(poller.run, ready)
            with trio.fail_after(WAIT):
                await two.wait()
            await trio.testing.wait_all_tasks_blocked()
            nursery.cancel_scope.cancel()
        assert len(seen) == 1
        poller.close()
    finally:
        for x, y in pairs:
            x.close()
            y.close()


# -- connections it reads -------------------------------------------------------------------


def connection_tasks(running: RunningServer) -> int:
    """Tasks in the server's connections nursery (writers, waits, last writes)."""
    nursery = running.server.nursery
    assert nursery is not None
    return len(nursery.child_tasks)


def polled(running: RunningServer, conn: Connection) -> bool:
    poller = running.server.poller
    assert poller is not None
    return conn.stream.socket.fileno() in poller


def conn_of(running: RunningServer, nick: str) -> Connection:
    session = running.server.hub.session(nick)  # type: ignore[attr-defined]
    assert session is not None
    conn = session.conn
    assert isinstance(conn, Connection)
    return conn


async def test_idle_connections_have_no_task(flackd: RunningServer) -> None:
    clients = [await flackd.client(f"user{n}", "#idle") for n in range(12)]
    for client in clients:
        await client.barrier()  # every JOIN notice read
    assert connection_tasks(flackd) == 0
    assert all(polled(flackd, conn_of(flackd, f"user{n}")) for n in range(12))
    await clients[0].send("MSG #idle hello")  # and they are read: the poller's work
    for client in clients:
        said = await client.recv_event()
        assert isinstance(said, events.Message)
        assert (said.target, said.author, said.text) == ("#idle", "user0", "hello")


async def test_a_paced_flooder_gets_a_task_and_goes_back_to_the_poller(
    nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    mock_clock.autojump_threshold = 0.05
    running = await start_server(nursery, Limits(flood_burst=3, flood_rate=1.0))
    chatty = await running.client("chatty")
    conn = conn_of(running, "chatty")
    assert polled(running, conn)
    await chatty.send(*[f"HELP {verb}" for verb in ("NICK", "JOIN", "PART", "MSG", "LIST")])
    await trio.testing.wait_all_tasks_blocked()
    assert not polled(running, conn)  # its lines wait for the bucket: a task of its own
    assert connection_tasks(running) == 1
    lines: list[str] = []
    while len([line for line in lines if line.startswith("END HELP")]) < 5:
        lines.append(await chatty.recv(timeout=60))
    helps = [line.split(" ")[2] for line in lines if line.startswith("END HELP")]
    assert helps == ["NICK", "JOIN", "PART", "MSG", "LIST"]  # all of them, in order
    assert len([line for line in lines if line.startswith("NOTE FLOOD")]) == 1
    await chatty.expect_quiet()
    assert polled(running, conn)  # caught up: the poller reads it again
    assert connection_tasks(running) == 0
    assert not conn.is_closing()


async def test_eof_is_answered_after_every_line_before_it(flackd: RunningServer) -> None:
    watcher = await flackd.client("watcher", "#c")
    sender = await LineClient.connect(flackd.port)
    await sender.send_raw(b"NICK sender\nJOIN #c\nMSG #c last words\n")
    await sender.stream.send_eof()
    echo = parse_event((await sender.expect_eof())[-1])
    assert isinstance(echo, events.Message)
    assert echo.text == "last words"
    assert await watcher.recv() == "JOIN #c sender"
    said = await watcher.recv_event()
    assert isinstance(said, events.Message)
    assert (said.author, said.text) == ("sender", "last words")


async def test_a_cancelled_server_closes_the_connections_the_poller_held() -> None:
    scope = trio.CancelScope()
    async with trio.open_nursery() as nursery:
        port = await nursery.start(run_server, scope)
        client = await LineClient.connect(port, "alice")
        await client.register("alice")
        await client.barrier()
        scope.cancel()
        assert await client.expect_eof() == []  # closed at once, without a word


async def test_graceful_shutdown_says_bye_to_the_poller_s_connections(
    nursery: trio.Nursery,
) -> None:
    shutdown = trio.Event()
    running = await start_server(nursery, shutdown=shutdown)
    clients = [await running.client(f"u{n}", "#c") for n in range(3)]
    for client in clients:
        await client.barrier()
    shutdown.set()
    for client in clients:
        lines = await client.expect_eof()
        assert lines[-1].startswith("BYE SHUTDOWN")

"""flackd.connection.broadcast: a channel's broadcasts held for company during a pass of
the poller, on real TCP sockets through the server's flusher.

What is checked: outside a pass a broadcast is pushed at once; in a pass the broadcasts
to one channel's members (the same tuple) become one push per member, joined, written in
one ``writev`` each when the pass ends; anything else pushed to any connection (a reply,
a broadcast to other members, a close and its BYE) pushes the held lines first, so each
connection gets its lines in the order they were made; the hold is bounded by
``HOLD_LINES``; a connection with a front end renders every held event in turn; the
committer's end of pass holds as the poller's pass does (``holding``); end to end,
lines read in one pass reach every member, Flack and IRC alike, in order, in memory and
on SQLite. And what a release could get wrong: a close that the held lines overtake (a
full send queue) is made once; a front end that cannot render a held line ends its own
connection only; an IRC line that changes how its front end renders (a CAP) comes after
the held lines are rendered as they were made.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio

from flackd.connection import Connection
from flackd.fanout import HOLD_LINES, broadcast, close_hold, holding, open_hold
from flackd.flusher import Flusher
from flackd.store.sqlite import SqliteStore
from tests.ircsupport import start_irc_server
from tests.support import TEST_LIMITS, start_server
from tests.test_connection import BYE, read_exactly, tcp_pair


@pytest.fixture
async def flusher(nursery: trio.Nursery) -> AsyncIterator[Flusher]:
    """A flusher with no delay, installed, starting its writer tasks in the nursery."""
    flusher = Flusher(0.0)
    flusher.nursery = nursery
    trio.lowlevel.add_instrument(flusher)
    yield flusher
    trio.lowlevel.remove_instrument(flusher)
    close_hold()  # a failed test must not leave the hold open for the next


async def members(
    flusher: Flusher, count: int
) -> tuple[tuple[Connection, ...], list[trio.SocketStream]]:
    """``count`` connections the flusher writes (a channel's members) and their peers."""
    conns, clients = [], []
    for _ in range(count):
        server, client = await tcp_pair()
        conn = Connection(server, "test", 1 << 20, 5.0, BYE, 30.0)
        conn.use_flusher(flusher)
        conns.append(conn)
        clients.append(client)
    return tuple(conns), clients


def line(text: str) -> bytes:
    return f"MSG #c 1 2026-12-04T00:00:00.000Z alice :{text}\r\n".encode()


async def test_outside_a_pass_a_broadcast_is_pushed_at_once(flusher: Flusher) -> None:
    conns, clients = await members(flusher, 2)
    broadcast(conns, line("now"), None)
    assert [c.queued for c in conns] == [len(line("now"))] * 2
    for client in clients:
        assert await read_exactly(client, len(line("now"))) == line("now")


async def test_a_channels_broadcasts_in_a_pass_are_one_push_per_member(
    flusher: Flusher,
) -> None:
    conns, clients = await members(flusher, 3)
    lines = [line(f"hello {i}") for i in range(5)]
    open_hold()
    for data in lines:
        broadcast(conns, data, None)
    assert [c.queued for c in conns] == [0, 0, 0]  # held, not yet pushed
    close_hold()
    expected = b"".join(lines)
    assert [c._queue for c in conns] == [[expected]] * 3  # one push each, joined
    for client in clients:
        assert await read_exactly(client, len(expected)) == expected
    assert (flusher.passes, flusher.writes) == (1, 3)  # one writev per member


async def test_anything_else_pushed_sends_the_held_lines_first(flusher: Flusher) -> None:
    """A reply to one member, then a broadcast to other members (another channel, which
    shares a member): each connection gets its lines in the order they were made."""
    (a, b, c), (ra, rb, rc) = await members(flusher, 3)
    room1, room2 = (a, b), (b, c)
    open_hold()
    broadcast(room1, line("one"), None)
    a.push(b"OK reply\r\n")  # to a member of the held broadcast
    broadcast(room1, line("two"), None)
    broadcast(room2, line("three"), None)  # other members: room1's lines go first
    broadcast(room1, line("four"), None)
    close_hold()
    want_a = line("one") + b"OK reply\r\n" + line("two") + line("four")
    want_b = line("one") + line("two") + line("three") + line("four")
    assert await read_exactly(ra, len(want_a)) == want_a
    assert await read_exactly(rb, len(want_b)) == want_b
    assert await read_exactly(rc, len(line("three"))) == line("three")


async def test_a_close_sends_the_held_lines_before_its_bye(flusher: Flusher) -> None:
    conns, clients = await members(flusher, 2)
    open_hold()
    broadcast(conns, line("last words"), None)
    conns[0].close(b"BYE KILLED :by an operator\r\n", "killed")
    close_hold()
    want = line("last words") + b"BYE KILLED :by an operator\r\n"
    assert conns[0]._queue == [line("last words"), b"BYE KILLED :by an operator\r\n"]
    await conns[0].finish_writes()
    assert await read_exactly(clients[0], len(want)) == want
    assert await read_exactly(clients[1], len(line("last words"))) == line("last words")


async def test_the_hold_is_bounded(flusher: Flusher) -> None:
    conns, clients = await members(flusher, 1)
    lines = [line(f"{i:04d}") for i in range(HOLD_LINES + 3)]
    open_hold()
    for n, data in enumerate(lines, 1):
        broadcast(conns, data, None)
        if n == HOLD_LINES:  # full: pushed at once, joined
            assert conns[0]._queue == [b"".join(lines[:HOLD_LINES])]
    assert len(conns[0]._queue) == 1  # the last three are held again
    close_hold()
    assert conns[0]._queue[1] == b"".join(lines[HOLD_LINES:])
    expected = b"".join(lines)
    assert await read_exactly(clients[0], len(expected)) == expected


class Brackets:
    """A front end that renders an event ``x`` as ``<x>\\n`` and keeps a log of what
    passed through it."""

    def __init__(self) -> None:
        self.passed: list[bytes] = []

    def render(self, event: object) -> bytes:
        return f"<{event}>\n".encode()

    def passthrough(self, data: bytes) -> bytes:
        self.passed.append(data)
        return data


async def test_a_front_end_renders_each_held_event_in_turn(flusher: Flusher) -> None:
    conns, clients = await members(flusher, 2)
    frontend = Brackets()
    conns[1].use_frontend(frontend)
    open_hold()
    for i in range(3):
        broadcast(conns, line(f"m{i}"), f"m{i}")
    close_hold()
    flack = b"".join(line(f"m{i}") for i in range(3))
    assert await read_exactly(clients[0], len(flack)) == flack
    assert await read_exactly(clients[1], 15) == b"<m0>\n<m1>\n<m2>\n"
    assert frontend.passed == [b"<m0>\n", b"<m1>\n", b"<m2>\n"]  # one line at a time


async def test_lines_read_in_one_pass_reach_every_member_in_order(
    nursery: trio.Nursery,
) -> None:
    """End to end: a burst of MSG lines in one write (one read, one pass of the poller),
    with an error for the sender between them, to a channel whose members are on
    Flack's wire and on IRC's; everyone gets every line, in order, and the sender's
    error comes between its echoes where it was made."""
    running = await start_irc_server(nursery)
    alice = await running.flack("alice")
    await alice.join("#c")
    bob = await running.flack("bob")
    await bob.join("#c")
    carol = await running.irc("carol")
    await carol.send("JOIN #c")
    await carol.expect("366")  # end of NAMES
    await alice.barrier()  # the JOINs of bob and carol, read
    await bob.barrier()
    burst = [f"MSG #c hello {i}" for i in range(20)]
    burst.insert(10, "MSG #nowhere lost")  # answered with an error between the echoes
    await alice.send(*burst)
    got_alice = [await alice.recv() for _ in range(21)]
    got_bob = [await bob.recv() for _ in range(20)]
    got_carol = [await carol.message() for _ in range(20)]
    texts = [f"hello {i}" for i in range(20)]
    assert [m.rsplit(" :", 1)[1] for m in got_bob] == texts
    assert [(m.command, m.params) for m in got_carol] == [("PRIVMSG", ("#c", t)) for t in texts]
    assert got_alice[10].startswith("ERR NO_SUCH_CHANNEL"), got_alice[10]
    assert [m.rsplit(" :", 1)[1] for m in got_alice[:10] + got_alice[11:]] == texts


async def test_holding_holds_for_a_call_and_leaves_an_open_hold_open(flusher: Flusher) -> None:
    conns, clients = await members(flusher, 2)

    def release_two() -> int:  # as the committer's end of pass releases a pass's messages
        before = [c.queued for c in conns]
        broadcast(conns, line("first"), None)
        broadcast(conns, line("second"), None)
        assert [c.queued for c in conns] == before  # held
        return 2

    assert holding(release_two)() == 2
    both = line("first") + line("second")
    assert [c._queue for c in conns] == [[both]] * 2  # pushed when the call returned
    open_hold()  # a pass of the poller is under way: its hold is its own to close
    assert holding(release_two)() == 2
    assert [len(c._queue) for c in conns] == [1, 1]  # still held
    close_hold()
    assert [c._queue for c in conns] == [[both, both]] * 2
    for client in clients:
        assert await read_exactly(client, 2 * len(both)) == both + both


async def test_a_burst_on_a_durable_server_reaches_every_member_in_order(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    """With SQLite, what a pass committed is released together, held: every member gets
    every line of a burst, in order, with an error for the sender where it was made."""
    running = await start_server(nursery, TEST_LIMITS, store=SqliteStore.open(tmp_path))
    alice = await running.client("alice", "#c")
    bob = await running.client("bob", "#c")
    await alice.recv()  # JOIN #c bob
    burst = [f"MSG #c kept {i}" for i in range(20)]
    burst.insert(5, "MSG #nowhere lost")
    await alice.send(*burst)
    got_alice = [await alice.recv() for _ in range(21)]
    got_bob = [await bob.recv() for _ in range(20)]
    texts = [f"kept {i}" for i in range(20)]
    assert [m.rsplit(" :", 1)[1] for m in got_bob] == texts
    assert got_alice[5].startswith("ERR NO_SUCH_CHANNEL"), got_alice[5]
    assert [m.rsplit(" :", 1)[1] for m in got_alice[:5] + got_alice[6:]] == texts


async def test_a_close_that_the_held_lines_overtake_is_not_made_twice(
    flusher: Flusher,
) -> None:
    """The held lines push a member over its send queue limit as it is being closed for
    another reason: it closes once, for the full queue, with one BYE."""
    server, client = await tcp_pair()
    conn = Connection(server, "test", 300, 5.0, BYE, 30.0)  # a 300-byte send queue
    conn.use_flusher(flusher)
    room = (conn,)
    open_hold()
    for i in range(8):  # about 400 bytes in all: more than the queue holds
        broadcast(room, line(f"{i}"), None)
    assert conn.queued == 0  # all held
    conn.close(b"BYE KILLED :by an operator\r\n", "killed")
    close_hold()
    assert conn._queue == [BYE]
    assert conn.close_reason == "send queue exceeded"
    await conn.finish_writes()
    assert await read_exactly(client, len(BYE)) == BYE


class Broken(Brackets):
    """A front end with a bug: it cannot render the event ``"bad"``."""

    def render(self, event: object) -> bytes:
        if event == "bad":
            raise RuntimeError("a bug in a front end")
        return super().render(event)


async def test_a_front_end_that_cannot_render_ends_its_own_connection_only(
    flusher: Flusher, caplog: pytest.LogCaptureFixture
) -> None:
    conns, clients = await members(flusher, 3)
    conns[1].use_frontend(Broken())
    open_hold()
    for name in ("good", "bad"):
        broadcast(conns, line(name), name)
    close_hold()  # does not raise
    assert conns[1].closing
    assert conns[1].close_reason == "server error"
    assert "internal error rendering a line" in caplog.text
    both = line("good") + line("bad")
    for i in (0, 2):  # the members after it got their lines too
        assert not conns[i].closing
        assert await read_exactly(clients[i], len(both)) == both


async def test_an_irc_line_is_rendered_as_things_were_when_it_was_made(
    nursery: trio.Nursery,
) -> None:
    """An IRC client without echo-message sends a PRIVMSG and then asks for echo-message,
    in one write: the message, made before the CAP, is not echoed to it (the lines held
    in a pass go out before an IRC line can change how its front end renders them)."""
    running = await start_irc_server(nursery)
    bob = await running.flack("bob")
    await bob.join("#c")
    carol = await running.irc("carol")
    await carol.send("JOIN #c")
    await carol.expect("366")
    await bob.barrier()  # carol's JOIN, read
    await carol.send("PRIVMSG #c :before", "CAP REQ :echo-message", "PRIVMSG #c :after")
    got = await carol.sync()
    assert [(m.command, m.params[-1]) for m in got] == [
        ("CAP", "echo-message"),
        ("PRIVMSG", "after"),  # echoed now that it asked
    ]
    assert [(await bob.recv()).rsplit(" :", 1)[1] for _ in range(2)] == ["before", "after"]

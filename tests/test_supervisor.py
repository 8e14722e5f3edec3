"""The client library against a live in-process flackd: calls and events, and the
reconnecting supervisor's promise of no gap and no duplicate.

Connections are cut from the server side (the server closes that client's connection), the
way a dropped network looks to flackd; the supervisor is told to retry at once instead of
waiting out its backoff, so no test waits in real time.
"""

from __future__ import annotations

import random

import pytest
import trio

from flackcli.client import ConnectionClosed, FlackError, open_client
from flackcli.notices import CaughtUp, ConnectionState, Gap, Members, Registered, SessionLost
from flackcli.supervisor import Item, Memory, Supervisor
from flackd.codec import commands as c
from flackd.codec import events as e
from flackd.limits import Limits
from tests.support import WAIT, LineClient, RunningServer, cut, run_server, start_server


async def test_call_returns_the_reply_and_raises_refusals(flackd: RunningServer) -> None:
    async with open_client("127.0.0.1", flackd.port) as client:
        assert client.hello is not None
        assert client.hello.max_line == 512
        lines = await client.call(c.Nick("alice"))
        ok = next(x for x in lines if isinstance(x, e.Ok))
        assert ok.param("token")
        lines = await client.call(c.Join("#c"))
        assert any(isinstance(x, e.BlockEnd) and x.kind == "HISTORY" for x in lines)
        with pytest.raises(FlackError) as refused:
            await client.call(c.Msg("#nope", "hi"))
        assert refused.value.code == "NO_SUCH_CHANNEL"
        lines = await client.call(c.Msg("#c", "hello"))
        echo = next(x for x in lines if isinstance(x, e.Message))
        assert (echo.author, echo.text) == ("alice", "hello")


async def test_events_stream_in_order(flackd: RunningServer) -> None:
    other = await flackd.client("bob", "#c")
    async with open_client("127.0.0.1", flackd.port) as client:
        events = client.events()
        await client.call(c.Nick("alice"))
        await client.call(c.Join("#c"))
        await other.send(*[f"MSG #c {i}" for i in range(5)])
        texts = []
        with trio.fail_after(WAIT):
            async for event in events:
                if isinstance(event, e.Message) and event.author == "bob":
                    texts.append(event.text)
                    if len(texts) == 5:
                        break
        assert texts == ["0", "1", "2", "3", "4"]


async def test_server_bye_closes_the_client(flackd: RunningServer) -> None:
    async with open_client("127.0.0.1", flackd.port) as client:
        await client.send(c.Quit("bye"))
        with trio.fail_after(WAIT):
            await client.closed.wait()
        assert client.close_reason is not None
        assert client.close_reason.bye is not None
        assert client.close_reason.bye.code == "QUIT"
        with pytest.raises(ConnectionClosed):
            await client.call(c.Ping("x"))


async def test_server_pings_are_answered(
    nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    mock_clock.autojump_threshold = 0.05
    running = await start_server(nursery, Limits(ping_idle=90.0, pong_timeout=60.0))
    async with open_client("127.0.0.1", running.port, keepalive=10_000) as client:
        await client.call(c.Nick("bot"))
        await trio.sleep(1000)  # many idle PINGs, each answered by the client library
        assert not client.closed.is_set()
        await client.ping()


# -- the supervisor -------------------------------------------------------------------


class Harness:
    """A supervisor under test, with its items collected as they arrive."""

    def __init__(self, supervisor: Supervisor) -> None:
        self.supervisor = supervisor
        self.items: list[Item] = []
        self._changed = trio.Event()

    async def collect(self) -> None:
        async for item in self.supervisor.events:
            self.items.append(item)
            if isinstance(item, ConnectionState) and item.state == "offline":
                self.supervisor.reconnect_now()  # tests do not wait out the backoff
            self._changed.set()
            self._changed = trio.Event()

    async def wait_for(self, predicate: type[Item] | object, count: int = 1) -> list[Item]:
        """Wait until ``count`` items match (a type, or a callable on the item)."""

        def matches(item: Item) -> bool:
            if isinstance(predicate, type):
                return isinstance(item, predicate)
            return bool(predicate(item))  # type: ignore[operator]

        with trio.fail_after(WAIT):
            while len([i for i in self.items if matches(i)]) < count:
                await self._changed.wait()
        return [i for i in self.items if matches(i)]

    def texts(self, channel: str = "#c") -> list[str]:
        return [i.text for i in self.items if isinstance(i, e.Message) and i.target == channel]


async def supervised(
    nursery: trio.Nursery, port: int, memory: Memory, **options: object
) -> Harness:
    supervisor = Supervisor("127.0.0.1", port, memory, rng=random.Random(7), **options)  # type: ignore[arg-type]
    harness = Harness(supervisor)
    nursery.start_soon(harness.collect)
    nursery.start_soon(supervisor.run)
    return harness


def is_live(item: Item) -> bool:
    return isinstance(item, ConnectionState) and item.state == "live"


async def test_first_run_joins_and_goes_live(nursery: trio.Nursery, flackd: RunningServer) -> None:
    bob = await flackd.client("bob", "#c")
    await bob.send("MSG #c before alice came")
    assert (await bob.recv()).endswith("before alice came")
    h = await supervised(nursery, flackd.port, Memory("alice", channels=["#c"]))
    await h.wait_for(is_live)
    registered = (await h.wait_for(Registered))[0]
    assert isinstance(registered, Registered)
    assert registered.resumed is False
    members = (await h.wait_for(Members))[0]
    assert isinstance(members, Members)
    assert members.nicks == ("alice", "bob")
    assert h.texts() == ["before alice came"]  # the JOIN replay, on a first join
    await h.supervisor.send(c.Msg("#c", "hi bob"))
    assert (await bob.recv()) == "JOIN #c alice"
    assert (await bob.recv()).endswith("alice :hi bob")
    h.supervisor.stop()


async def test_reconnect_resumes_and_catches_up_without_gap_or_duplicate(
    nursery: trio.Nursery, flackd: RunningServer
) -> None:
    bob = await flackd.client("bob", "#c")
    memory = Memory("alice", channels=["#c"])
    h = await supervised(nursery, flackd.port, memory)
    await h.wait_for(is_live)
    assert (await bob.recv()) == "JOIN #c alice"
    await bob.send("MSG #c one", "MSG #c two")
    await h.wait_for(lambda i: isinstance(i, e.Message) and i.text == "two")
    token_before = memory.token
    cut(flackd.server, "alice")
    assert (await bob.recv_until("QUIT alice"))[-1] == "QUIT alice :connection reset"
    await bob.send("MSG #c three", "MSG #c four")  # while alice is away
    await h.wait_for(is_live, count=2)
    assert (await bob.recv_until("JOIN #c alice"))[-1] == "JOIN #c alice"
    await bob.send("MSG #c five")  # live again
    await h.wait_for(lambda i: isinstance(i, e.Message) and i.text == "five")
    assert h.texts() == ["one", "two", "three", "four", "five"]
    assert not [i for i in h.items if isinstance(i, Gap)]
    resumed = [i for i in h.items if isinstance(i, Registered)]
    assert [r.resumed for r in resumed] == [False, True]
    assert memory.token != token_before  # rotated by RESUME
    h.supervisor.stop()


async def test_a_ring_that_moved_on_is_reported_as_a_gap(nursery: trio.Nursery) -> None:
    limits = Limits(
        flood_burst=10_000, flood_rate=10_000.0, history=5, history_page=5, join_replay=5
    )
    running = await start_server(nursery, limits)
    bob = await running.client("bob", "#c")
    h = await supervised(nursery, running.port, Memory("alice", channels=["#c"]))
    await h.wait_for(is_live)
    await bob.send("MSG #c seen")
    await h.wait_for(lambda i: isinstance(i, e.Message) and i.text == "seen")
    cut(running.server, "alice")
    assert (await bob.recv()).startswith("JOIN #c alice")
    await bob.recv_until("QUIT alice")
    await bob.send(*[f"MSG #c missed {i}" for i in range(12)])
    await h.wait_for(is_live, count=2)
    gap = (await h.wait_for(Gap))[0]
    assert isinstance(gap, Gap)
    assert gap.channel == "#c"
    # What the ring still held arrives after the gap notice, once, in order.
    after_gap = h.items[h.items.index(gap) :]
    texts = [i.text for i in after_gap if isinstance(i, e.Message)]
    assert texts == [f"missed {i}" for i in range(7, 12)]
    h.supervisor.stop()


async def test_a_server_restart_is_a_gap_and_the_session_comes_back(
    nursery: trio.Nursery,
) -> None:
    first = trio.CancelScope()
    port = await nursery.start(run_server, first)
    memory = Memory("alice", channels=["#c"])
    h = await supervised(nursery, port, memory)
    await h.wait_for(is_live)
    bob = await LineClient.connect(port, "bob")
    await bob.register("bob")
    await bob.join("#c")
    await bob.send("MSG #c before the restart")
    await h.wait_for(lambda i: isinstance(i, e.Message) and i.text == "before the restart")
    first.cancel()  # the server dies with everything it remembered
    await h.wait_for(lambda i: isinstance(i, ConnectionState) and i.state == "offline")
    await nursery.start(run_server, trio.CancelScope(), port)
    await h.wait_for(is_live, count=2)
    gap = (await h.wait_for(Gap))[0]
    assert isinstance(gap, Gap)
    assert gap.channel == "#c"
    registered = [i for i in h.items if isinstance(i, Registered)]
    assert [r.resumed for r in registered] == [False, False]  # the token was forgotten
    assert registered[-1].nick == "alice"
    assert memory.channels == ["#c"]
    h.supervisor.stop()


async def test_a_forgotten_session_is_a_notice_not_an_error_and_comes_back_as_before(
    nursery: trio.Nursery,
) -> None:
    first = trio.CancelScope()
    port = await nursery.start(run_server, first)
    memory = Memory("alice", channels=["#c", "#d"])
    h = await supervised(nursery, port, memory)
    await h.wait_for(is_live)
    token_before = memory.token
    first.cancel()  # a restart without durable state: every session is forgotten
    await h.wait_for(lambda i: isinstance(i, ConnectionState) and i.state == "offline")
    await nursery.start(run_server, trio.CancelScope(), port)
    bob = await LineClient.connect(port, "bob")
    await bob.register("bob")
    await bob.join("#d")
    await h.wait_for(is_live, count=2)
    # Said once, in words, with who we ask to be and where we go back to.
    lost = await h.wait_for(SessionLost)
    assert lost == [SessionLost("alice", ("#c", "#d"))]
    # ... and never as the raw refusal of the RESUME.
    assert not [i for i in h.items if isinstance(i, e.Error)]
    after = h.items[h.items.index(lost[0]) :]
    registered = [i for i in after if isinstance(i, Registered)]
    assert registered == [Registered("alice", False, "#c")]  # NICK, the same nick
    assert [i.channel for i in after if isinstance(i, CaughtUp)] == ["#c", "#d"]
    assert (await bob.recv()) == "JOIN #d alice"  # really back in the channel
    assert memory.channels == ["#c", "#d"]
    assert memory.token not in (None, token_before)  # the new session's token
    h.supervisor.stop()


async def test_a_forgotten_session_whose_nick_was_taken_falls_back_to_an_underscore(
    nursery: trio.Nursery,
) -> None:
    first = trio.CancelScope()
    port = await nursery.start(run_server, first)
    memory = Memory("alice", channels=["#c"])
    h = await supervised(nursery, port, memory)
    await h.wait_for(is_live)
    first.cancel()
    await h.wait_for(lambda i: isinstance(i, ConnectionState) and i.state == "offline")
    # The new server comes up where the supervisor cannot reach it yet, so that someone
    # else surely takes the nick first; then the supervisor is pointed at it.
    restarted = await nursery.start(run_server, trio.CancelScope())
    squatter = await LineClient.connect(restarted, "squatter")
    await squatter.register("alice")
    h.supervisor.port = restarted
    h.supervisor.reconnect_now()
    await h.wait_for(is_live, count=2)
    assert (await h.wait_for(SessionLost)) == [SessionLost("alice", ("#c",))]
    registered = [i for i in h.items if isinstance(i, Registered)]
    assert registered[1:] == [Registered("alice_", False, "#c", wanted="alice")]
    assert h.supervisor.nick == "alice_"
    assert memory.nick == "alice"  # the remembered nick is unchanged
    assert not [i for i in h.items if isinstance(i, e.Error)]
    await squatter.expect_quiet()
    h.supervisor.stop()


async def test_commands_sent_while_offline_go_out_once(nursery: trio.Nursery) -> None:
    first = trio.CancelScope()
    port = await nursery.start(run_server, first)
    h = await supervised(nursery, port, Memory("alice", channels=["#c"]))
    await h.wait_for(is_live)
    first.cancel()
    await h.wait_for(lambda i: isinstance(i, ConnectionState) and i.state == "offline")
    await h.supervisor.send(c.Msg("#c", "typed while offline"))
    await nursery.start(run_server, trio.CancelScope(), port)
    await h.wait_for(lambda i: isinstance(i, e.Message) and i.text == "typed while offline")
    watcher = await LineClient.connect(port, "watcher")
    await watcher.register("watcher")
    await watcher.send("HISTORY #c")
    block = await watcher.recv_until("END HISTORY")
    assert [line.rsplit(" :", 1)[1] for line in block[1:-1]] == ["typed while offline"]
    h.supervisor.stop()


async def test_a_session_taken_over_elsewhere_stops_instead_of_fighting(
    nursery: trio.Nursery, flackd: RunningServer
) -> None:
    memory = Memory("alice", channels=["#c"])
    first = await supervised(nursery, flackd.port, memory)
    await first.wait_for(is_live)
    second = await supervised(nursery, flackd.port, Memory(**vars(memory)))
    await second.wait_for(is_live)
    stopped = await first.wait_for(
        lambda i: isinstance(i, ConnectionState) and i.state == "stopped"
    )
    assert isinstance(stopped[0], ConnectionState)
    assert "RESUMED" in stopped[0].reason
    second.supervisor.stop()


async def test_a_taken_nick_falls_back_to_an_underscore(
    nursery: trio.Nursery, flackd: RunningServer
) -> None:
    squatter = await flackd.client("alice")
    h = await supervised(nursery, flackd.port, Memory("alice", channels=["#c"]))
    registered = (await h.wait_for(Registered))[0]
    assert registered == Registered("alice_", False, None, wanted="alice")
    assert h.supervisor.memory.nick == "alice"  # the remembered nick is unchanged
    await h.wait_for(CaughtUp)
    await squatter.expect_quiet()
    # The refusal of NICK alice was answered by trying alice_: not shown as an error.
    assert not [i for i in h.items if isinstance(i, e.Error)]
    # Once registered, a refusal of the user's own NICK is the user's to see.
    await h.supervisor.send(c.Nick("alice"))
    refused = (await h.wait_for(e.Error))[0]
    assert isinstance(refused, e.Error)
    assert (refused.code, refused.command) == ("NICK_IN_USE", "NICK")
    h.supervisor.stop()


@pytest.mark.parametrize("context", [0, 20])
async def test_a_new_process_shows_recent_context_only_when_asked(
    nursery: trio.Nursery, flackd: RunningServer, context: int
) -> None:
    bob = await flackd.client("bob", "#c")
    memory = Memory("alice", channels=["#c"])
    first = await supervised(nursery, flackd.port, memory)
    await first.wait_for(is_live)
    await bob.send("MSG #c old one", "MSG #c old two")
    await first.wait_for(lambda i: isinstance(i, e.Message) and i.text == "old two")
    first.supervisor.stop()
    await first.wait_for(lambda i: isinstance(i, ConnectionState) and i.state == "stopped")
    await bob.send("MSG #c new one")
    # A new process (a fresh supervisor) with what the first one remembered.
    second = await supervised(nursery, flackd.port, Memory(**vars(memory)), context=context)
    await second.wait_for(lambda i: isinstance(i, e.Message) and i.text == "new one")
    expected = ["old one", "old two", "new one"] if context else ["new one"]
    assert second.texts() == expected
    second.supervisor.stop()


async def test_a_key_joins_a_keyed_channel_and_a_kick_forgets_the_channel(
    nursery: trio.Nursery, flackd: RunningServer
) -> None:
    bob = await flackd.client("bob", "#c")  # bob made #c: its operator
    await bob.send("MODE #c +k sesame")
    assert await bob.recv() == "MODE #c bob +k sesame"
    memory = Memory("alice")
    h = await supervised(nursery, flackd.port, memory)
    await h.wait_for(is_live)
    await h.supervisor.send(c.Join("#c", "sesame"))
    assert await bob.recv() == "JOIN #c alice"
    members = (await h.wait_for(Members))[0]
    assert members == Members("#c", ("alice", "bob"), ("", "op"))
    assert memory.channels == ["#c"]
    await bob.send("KICK #c alice enough")
    assert await bob.recv() == "KICK #c alice bob :enough"
    kicked = (await h.wait_for(lambda i: isinstance(i, e.Kicked) and i.nick == "alice"))[0]
    assert memory.channels == []  # treated as a part of hers: not re-joined on reconnect
    cut(flackd.server, "alice")
    await h.wait_for(is_live, count=2)
    await bob.send("MSG #c still here?")
    assert (await bob.recv()).endswith("bob :still here?")  # no JOIN of alice came first
    assert CaughtUp("#c") not in h.items[h.items.index(kicked) :]
    h.supervisor.stop()

"""The reconnecting supervisor and private conversations (protocol 1.1), against a live
in-process flackd: a conversation's history loads when it opens, and after a reconnect it
catches up like a channel (no gap, no duplicate, a gap notice when the server no longer has
everything), edits made meanwhile included; the RESUME reply's unread counts arrive as one
notice. Connections are cut from the server side; the supervisor retries at once.
"""

from __future__ import annotations

import pytest
import trio

from flackcli.notices import CaughtUp, Count, Gap, UnreadCounts
from flackcli.supervisor import Memory
from flackd.codec import commands as c
from flackd.codec import events as e
from flackd.codec import parse_event
from flackd.limits import Limits
from tests.support import LineClient, RunningServer, cut, start_server
from tests.test_supervisor import Harness, is_live, supervised


def dm_texts(h: Harness, partner: str = "bob") -> list[str]:
    """Texts of the private messages with ``partner``, in the order they were emitted."""
    me = h.supervisor.nick
    return [
        i.text
        for i in h.items
        if isinstance(i, e.Message) and {i.target, i.author} == {me, partner}
    ]


async def dm(sender: LineClient, to: str, text: str) -> e.Message:
    """Send a private message and return its echo (with its id)."""
    await sender.send(f"MSG {to} {text}")
    echo = parse_event((await sender.recv_until(f"MSG {to} "))[-1])
    assert isinstance(echo, e.Message)
    return echo


async def alice_and_bob(
    nursery: trio.Nursery, flackd: RunningServer
) -> tuple[Harness, LineClient, Memory]:
    """bob on netcat, and alice's supervisor (new, no channels) live."""
    bob = await flackd.client("bob")
    memory = Memory("alice")
    h = await supervised(nursery, flackd.port, memory)
    await h.wait_for(is_live)
    return h, bob, memory


def text_is(text: str) -> object:
    return lambda i: isinstance(i, e.Message) and i.text == text


async def test_a_conversation_opened_later_loads_its_history(
    nursery: trio.Nursery, flackd: RunningServer
) -> None:
    alice = await LineClient.connect(flackd.port, "alice")
    token = await alice.register("alice")
    bob = await flackd.client("bob")
    await dm(bob, "alice", "one")
    await dm(alice, "bob", "two")  # alice wrote last: nothing unread
    await dm(bob, "alice", "three")
    await dm(alice, "bob", "four")
    await alice.aclose()  # the session stays resumable
    memory = Memory("alice", token=token)
    h = await supervised(nursery, flackd.port, memory)
    await h.wait_for(is_live)
    assert dm_texts(h) == []  # not open yet
    await h.supervisor.open_conversation("bob")
    await h.wait_for(lambda i: isinstance(i, CaughtUp) and i.channel == "bob")
    assert dm_texts(h) == ["one", "two", "three", "four"]
    assert memory.dms == ["bob"]
    await h.supervisor.open_conversation("BOB")  # already shown: nothing again
    await dm(bob, "alice", "five")
    await h.wait_for(text_is("five"))
    assert dm_texts(h) == ["one", "two", "three", "four", "five"]
    h.supervisor.stop()


async def test_a_private_conversation_catches_up_after_a_reconnect(
    nursery: trio.Nursery, flackd: RunningServer
) -> None:
    h, bob, memory = await alice_and_bob(nursery, flackd)
    await dm(bob, "alice", "one")  # a new conversation: its history loads around it
    await h.wait_for(text_is("one"))
    seen = memory.last_seen["bob"]
    cut(flackd.server, "alice")
    await bob.barrier()
    two = await dm(bob, "alice", "two")  # accepted while alice is away
    three = await dm(bob, "alice", "three")
    await bob.send(f"EDIT {two.id} two, edited")
    assert (await bob.recv()).startswith(f"EDITED alice {two.id} ")
    await h.wait_for(is_live, count=2)
    await h.wait_for(lambda i: isinstance(i, CaughtUp) and i.channel == "bob", count=2)
    await dm(bob, "alice", "four")  # live again
    await h.wait_for(text_is("four"))
    assert dm_texts(h) == ["one", "two, edited", "three", "four"]
    edited = [i for i in h.items if isinstance(i, e.Message) and i.id == two.id]
    assert edited[0].edited is not None  # HISTORY says it was edited
    assert not [i for i in h.items if isinstance(i, Gap)]
    (unread,) = [i for i in h.items if isinstance(i, UnreadCounts)]
    (count,) = unread.counts
    assert count.target == "bob"
    assert count.newest == three.id
    assert seen != memory.last_seen["bob"]
    assert memory.dms == ["bob"]
    h.supervisor.stop()


async def test_unread_conversations_are_caught_up_and_counted_once(
    nursery: trio.Nursery, flackd: RunningServer
) -> None:
    """A conversation alice never had open, written to while she was away: the RESUME
    reply's counts name it, and its messages arrive once."""
    alice = await LineClient.connect(flackd.port, "alice")
    token = await alice.register("alice")
    await alice.aclose()
    bob = await flackd.client("bob")
    await dm(bob, "alice", "while you were out")
    await dm(bob, "alice", "alice: ping")
    memory = Memory("alice", token=token)
    h = await supervised(nursery, flackd.port, memory)
    await h.wait_for(is_live)
    (unread,) = [i for i in h.items if isinstance(i, UnreadCounts)]
    assert [(x.target, x.unread, x.mentions) for x in unread.counts] == [("bob", 2, 1)]
    assert dm_texts(h) == ["while you were out", "alice: ping"]
    assert memory.dms == ["bob"]
    # The notice comes before the messages it counts, so a view can tell them apart.
    first = next(n for n, i in enumerate(h.items) if isinstance(i, e.Message))
    assert h.items.index(unread) < first
    assert isinstance(unread.counts[0], Count)
    h.supervisor.stop()


async def test_a_conversation_the_server_no_longer_fully_has_is_a_gap(
    nursery: trio.Nursery,
) -> None:
    limits = Limits(flood_burst=10_000, flood_rate=10_000.0, dm_history=5)
    running = await start_server(nursery, limits)
    h, bob, _memory = await alice_and_bob(nursery, running)
    await dm(bob, "alice", "seen")
    await h.wait_for(text_is("seen"))
    cut(running.server, "alice")
    await bob.barrier()
    await bob.send(*[f"MSG alice missed {i}" for i in range(12)])  # one batch, as for #c
    await h.wait_for(is_live, count=2)
    gap = (await h.wait_for(Gap))[0]
    assert isinstance(gap, Gap)
    assert gap.channel == "bob"
    after_gap = h.items[h.items.index(gap) :]
    texts = [i.text for i in after_gap if isinstance(i, e.Message)]
    assert texts == [f"missed {i}" for i in range(7, 12)]
    h.supervisor.stop()


async def test_closing_a_conversation_forgets_it(
    nursery: trio.Nursery, flackd: RunningServer
) -> None:
    h, bob, memory = await alice_and_bob(nursery, flackd)
    await dm(bob, "alice", "hi")
    await h.wait_for(lambda i: isinstance(i, CaughtUp) and i.channel == "bob")
    assert memory.dms == ["bob"]
    assert "bob" in memory.last_seen
    h.supervisor.close_conversation("Bob")
    assert memory.dms == []
    assert "bob" not in memory.last_seen
    h.supervisor.stop()


@pytest.mark.parametrize("action", [True, False])
async def test_actions_and_edits_go_out_as_commands(
    nursery: trio.Nursery, flackd: RunningServer, action: bool
) -> None:
    bob = await flackd.client("bob", "#c")
    h = await supervised(nursery, flackd.port, Memory("alice", channels=["#c"]))
    await h.wait_for(is_live)
    await bob.recv_until("JOIN #c alice")
    if action:
        await h.supervisor.send(c.Action("#c", "waves"))
        line = parse_event(await bob.recv())
        assert isinstance(line, e.Message)
        assert line.action
        assert line.text == "waves"
    else:
        await h.supervisor.send(c.Msg("#c", "helo"))
        sent = (await h.wait_for(text_is("helo")))[0]
        assert isinstance(sent, e.Message)
        await bob.recv()
        await h.supervisor.send(c.Edit(sent.id, "hello"))
        edited = (await h.wait_for(e.Edited))[0]
        assert isinstance(edited, e.Edited)
        assert edited.text == "hello"
        assert (await bob.recv()).endswith("alice :hello")
    h.supervisor.stop()

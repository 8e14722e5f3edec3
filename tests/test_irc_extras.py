"""IRC's HELP/HELPOP, LINKS, LIST's conditions (ELIST), extended-monitor and
draft/read-marker (MARKREAD as Flack's MARK), against an in-process flackd.

Real sockets on 127.0.0.1; every wait bounded; "nothing else" proved with PING barriers
(:meth:`IrcClient.sync`). ELIST's times are checked on the pure filter with a fixed clock.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from flackd.irc.elist import parse_query
from flackd.irc.help import HELP_TEXTS, help_lines
from flackd.irc.inbound import _HANDLERS
from flackd.limits import Limits
from flackd.store.sqlite import SqliteStore
from flackd.views import ChannelListing
from tests.ircsupport import IrcClient, IrcServer, start_irc_server
from tests.support import LineClient


@pytest.fixture
async def chat(nursery: trio.Nursery) -> IrcServer:
    return await start_irc_server(nursery)


async def listed(client: IrcClient, query: str) -> list[str]:
    """The channels of ``LIST <query>`` (its 322s, between 321 and 323)."""
    await client.send(f"LIST {query}")
    got = await client.sync()
    commands = [m.command for m in got]
    assert commands[0] == "321", commands
    assert commands[-1] == "323", commands
    return [m.params[1] for m in got if m.command == "322"]


# -- HELP, HELPOP, LINKS -------------------------------------------------------------------


def test_every_irc_command_has_one_help_text() -> None:
    assert set(HELP_TEXTS) == set(_HANDLERS)
    assert all(HELP_TEXTS[name][0].startswith(name) for name in HELP_TEXTS)  # its syntax


@pytest.mark.parametrize("command", ["HELP", "HELPOP"])
async def test_help_lists_commands_and_explains_one(chat: IrcServer, command: str) -> None:
    irc = await chat.irc("helped")
    await irc.send(command)
    got = await irc.sync()
    assert [m.command for m in got] == ["704"] + ["705"] * (len(got) - 2) + ["706"]
    assert {m.params[1] for m in got} == {"*"}
    text = " ".join(m.params[2] for m in got)
    for name in ("PRIVMSG", "MARKREAD", "LINKS", "HELPOP"):
        assert name in text.split()
    await irc.send(f"{command} privmsg")
    got = await irc.sync()
    assert [m.command for m in got] == ["704", "705", "706"]
    assert {m.params[1] for m in got} == {"PRIVMSG"}
    assert got[0].params[2] == HELP_TEXTS["PRIVMSG"][0]
    await irc.send(f"{command} NOSUCHCOMMAND")
    (missing,) = await irc.sync()
    assert (missing.command, missing.params[1]) == ("524", "NOSUCHCOMMAND")


def test_help_of_nothing_known_is_none() -> None:
    assert help_lines("FLY") is None
    found = help_lines("list")
    assert found is not None
    assert found[0] == "LIST"
    assert len(found[1]) == 3


async def test_links_shows_the_one_server(chat: IrcServer) -> None:
    irc = await chat.irc("linker")
    await irc.send("LINKS")
    link, end = await irc.sync()
    assert (link.command, link.params[1:]) == ("364", ("irc.test", "irc.test", "0 Flack"))
    assert (end.command, end.params[1]) == ("365", "*")
    await irc.send("LINKS *.test", "LINKS other.example")
    got = await irc.sync()
    assert [m.command for m in got] == ["364", "365", "365"]
    assert got[2].params[1] == "other.example"


# -- LIST's conditions (ELIST) -------------------------------------------------------------


async def test_list_filters_by_mask_negated_mask_and_users(chat: IrcServer) -> None:
    alice = await chat.irc("alice")
    isupport = " ".join(m for m in alice.seen if " 005 " in m)
    assert " ELIST=CMNTU" in f" {isupport} ", isupport
    bob = await chat.irc("bob")
    await alice.send("JOIN #chan1,#chan2,#other", "TOPIC #chan1 :first")
    await alice.expect("TOPIC")
    await bob.send("JOIN #chan2")
    await bob.expect("366")
    asker = await chat.irc("asker")
    assert await listed(asker, "*an1") == ["#chan1"]
    assert await listed(asker, "#CHAN*") == ["#chan1", "#chan2"]  # case ignored
    assert await listed(asker, "#chan2") == ["#chan2"]
    assert await listed(asker, "#nope") == []
    assert await listed(asker, "!#chan*") == ["#other"]
    assert await listed(asker, "#c*,!*2") == ["#chan1"]
    assert await listed(asker, ">1") == ["#chan2"]
    assert await listed(asker, "<2") == ["#chan1", "#other"]
    assert await listed(asker, ">0,<100,#o*") == ["#other"]
    assert await listed(asker, "C<5") == ["#chan1", "#chan2", "#other"]  # just made
    assert await listed(asker, "C>5") == []
    assert await listed(asker, "T<5") == ["#chan1"]  # the others have no topic
    first = (await listed(asker, "#chan1"))[0]
    assert first == "#chan1"


async def test_list_hides_a_secret_channel_from_outside_and_is_bounded(
    nursery: trio.Nursery,
) -> None:
    chat = await start_irc_server(
        nursery, Limits(flood_burst=10_000, flood_rate=10_000.0, list_max=2)
    )
    owner = await chat.irc("owner")
    await owner.send("JOIN #a,#b,#c,#hidden", "MODE #hidden +s")
    await owner.expect("MODE")
    outsider = await chat.irc("outsider")
    assert await listed(outsider, "#h*") == []
    assert await listed(owner, "#h*") == ["#hidden"]
    assert await listed(outsider, "#*") == ["#a", "#b"]  # the first --list-max, by name
    assert await listed(outsider, "!#a") == ["#b", "#c"]  # filtered, then bounded


def test_list_times_are_minutes_ago() -> None:
    now = 1_800_000_000.0
    old = ChannelListing("#old", 3, "t", "2027-01-15T07:50:00.000Z", now - 600)  # 10 min
    new = ChannelListing("#new", 1, "", "*", now - 60)
    found = {
        query: [c.name for c in (old, new) if parse_query(query).matches(c, now)]
        for query in ("C>5", "C<5", "C<0", "C>0", "T>5", "T<100000000", "<3", ">2", "<3x")
    }
    assert found == {
        "C>5": ["#old"],
        "C<5": ["#new"],
        "C<0": [],
        "C>0": ["#old", "#new"],
        "T>5": ["#old"],  # a channel without a topic matches no T
        "T<100000000": ["#old"],
        "<3": ["#new"],
        ">2": ["#old"],
        "<3x": [],  # not a count: a mask, which no channel name matches
    }


# -- extended-monitor ------------------------------------------------------------------------


async def test_extended_monitor_tells_away_and_setname_without_a_shared_channel(
    chat: IrcServer,
) -> None:
    watcher = await chat.irc("watcher", caps="extended-monitor away-notify setname")
    plain = await chat.irc("plain", caps="away-notify setname")  # no extended-monitor
    near = await chat.irc("near", caps="extended-monitor away-notify")
    bob = await chat.irc("bob")
    await join_all("#room", near, bob)
    for client in (watcher, plain, near):
        await client.send("MONITOR + bob")
        await client.expect("730")
    await bob.send("AWAY :lunch", "SETNAME :Bob B")
    await bob.sync()
    away = await watcher.expect("AWAY")
    assert (away.source, away.params) == ("bob!bob@flack", ("lunch",))
    assert (await watcher.expect("SETNAME")).params == ("Bob B",)
    assert [m.command for m in await plain.sync()] == []  # no extended-monitor: nothing
    got = await near.sync()  # shares #room and monitors: told once
    assert [m.command for m in got] == ["AWAY"]
    await bob.send("AWAY")
    await bob.sync()
    back = await watcher.expect("AWAY")
    assert back.params == ()


async def join_all(channel: str, *clients: IrcClient) -> None:
    for client in clients:
        await client.send(f"JOIN {channel}")
        await client.expect("366")


# -- draft/read-marker ---------------------------------------------------------------------


async def test_markread_is_flacks_read_marker(chat: IrcServer) -> None:
    reader = await chat.irc("reader", caps="draft/read-marker server-time")
    await reader.send("JOIN #news")
    got = await reader.sync()
    commands = [m.command for m in got]
    marker = got[commands.index("MARKREAD")]
    assert commands.index("MARKREAD") < commands.index("366")
    assert marker.params == ("#news", "*")  # nothing said there yet
    writer = await chat.flack("writer")
    await writer.send("JOIN #news")
    await writer.recv_until("END HISTORY")
    await writer.send("MSG #news one", "MSG #news two")
    one = await reader.expect("PRIVMSG")
    two = await reader.expect("PRIVMSG")
    await reader.send("MARKREAD #news")
    assert (await reader.expect("MARKREAD")).params == ("#news", "*")  # not read yet
    await reader.send(f"MARKREAD #news timestamp={one.tags['time']}")
    moved = await reader.expect("MARKREAD")
    assert moved.params == ("#news", f"timestamp={one.tags['time']}")
    await reader.send("MARKREAD #news timestamp=2001-01-01T00:00:00.000Z")  # only forward
    assert (await reader.expect("MARKREAD")).params == moved.params
    # A time after every message: the newest message then (not the time given).
    await reader.send("MARKREAD #news timestamp=2999-01-01T00:00:00Z")
    newest = await reader.expect("MARKREAD")
    assert newest.params == ("#news", f"timestamp={two.tags['time']}")
    assert [m.command for m in await reader.sync()] == []  # the MARK's OK says nothing
    # The same marker seen from Flack: the session's UNREAD counts nothing in #news.
    notice = next(line for line in reader.seen if "resume token is " in line)
    token = notice.split("resume token is ")[1].split()[0]
    flack = await LineClient.connect(chat.port, "back")
    await flack.send(f"RESUME {token}", "UNREAD ALL")
    lines = await flack.recv_until("END UNREAD")
    lines += await flack.recv_until("END UNREAD")
    assert "COUNT #news unread=0 mentions=0" in " ".join(lines)


async def test_markread_in_a_conversation_and_its_errors(chat: IrcServer) -> None:
    reader = await chat.irc("reader", caps="draft/read-marker server-time")
    writer = await chat.flack("writer")
    await writer.send("MSG reader hello")
    hello = await reader.expect("PRIVMSG")
    await reader.send("MARKREAD writer")
    assert (await reader.expect("MARKREAD")).params == ("writer", "*")
    await reader.send(f"MARKREAD writer timestamp={hello.tags['time']}")
    marked = await reader.expect("MARKREAD")
    assert marked.params == ("writer", f"timestamp={hello.tags['time']}")
    await reader.send("MARKREAD #nowhere", "MARKREAD nobody timestamp=2020-01-01T00:00:00Z")
    assert [m.params for m in await reader.sync()] == [("#nowhere", "*"), ("nobody", "*")]
    await reader.send("MARKREAD", "MARKREAD #x *", "MARKREAD #x timestamp=yesterday")
    fails = await reader.sync()
    assert [(m.command, *m.params[:2]) for m in fails] == [
        ("FAIL", "MARKREAD", "NEED_MORE_PARAMS"),
        ("FAIL", "MARKREAD", "INVALID_PARAMS"),
        ("FAIL", "MARKREAD", "INVALID_PARAMS"),
    ]


async def test_without_read_marker_a_join_has_no_markread(chat: IrcServer) -> None:
    irc = await chat.irc("plain")
    await irc.send("JOIN #quiet")
    assert "MARKREAD" not in [m.command for m in await irc.sync()]


async def test_an_irc_resume_tells_each_channels_marker(chat: IrcServer) -> None:
    first = await chat.irc("reader", caps="draft/read-marker server-time")
    await first.send("JOIN #kept")
    await first.expect("366")
    await first.send("PRIVMSG #kept :mine")  # writing moves one's own marker to it
    notice = next(line for line in first.seen if "resume token is " in line)
    token = notice.split("resume token is ")[1].split()[0]
    await first.sync()
    await first.aclose()  # dropped, not QUIT: the session waits
    again = await IrcClient.connect(chat.irc_port)
    await again.send("CAP LS 302", f"PASS {token}", "NICK reader", "USER r 0 * :R")
    await again.send("CAP REQ :draft/read-marker server-time", "CAP END")
    await again.expect("366")
    marker = await again.expect("MARKREAD")
    assert marker.params[0] == "#kept"
    assert marker.params[1].startswith("timestamp=20")


async def test_markread_with_durable_state_answers_after_the_commit(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    store = SqliteStore.open(tmp_path)
    try:
        chat = await start_irc_server(nursery, store=store)
        reader = await chat.irc("reader", caps="draft/read-marker server-time message-tags")
        writer = await chat.irc("writer")
        await join_all("#kept", reader, writer)
        await writer.send("PRIVMSG #kept :one")
        one = await reader.expect("PRIVMSG")
        await reader.send(f"MARKREAD #kept timestamp={one.tags['time']}", "MARKREAD #kept")
        got = await reader.sync()
        expected = ("#kept", f"timestamp={one.tags['time']}")
        assert [m.params for m in got] == [expected, expected]
        assert chat.server.committer is not None
        await chat.server.committer.flush()
        (session,) = [row for row in store.load().sessions if row.nick == "reader"]
        assert dict(session.markers)["#kept"] == int(one.tags["msgid"].split("-")[1])
    finally:
        store.close()

"""The IRC front end against an in-process flackd: IRC and Flack clients in one chat.

Real sockets on 127.0.0.1; every wait bounded; "nothing else" proved with PING barriers.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from flackd.irc.wire import IrcMessage
from flackd.limits import Limits
from flackd.store.sqlite import SqliteStore
from tests.ircsupport import IrcClient, IrcServer, start_irc_server
from tests.support import TEST_LIMITS, LineClient


@pytest.fixture
async def chat(nursery: trio.Nursery) -> IrcServer:
    return await start_irc_server(nursery)


def commands(messages: list[IrcMessage]) -> list[str]:
    return [m.command for m in messages]


async def both_in(chat: IrcServer, channel: str) -> tuple[IrcClient, LineClient]:
    """``ircy`` on IRC and ``flacky`` on Flack, both in ``channel`` (IRC first)."""
    irc = await chat.irc("ircy")
    flack = await chat.flack("flacky")
    await irc.send(f"JOIN {channel}")
    await irc.expect("366")
    await flack.send(f"JOIN {channel}")
    await until(flack, "END HISTORY")
    await irc.expect("JOIN")  # flacky's
    return irc, flack


async def join_all(channel: str, *clients: IrcClient) -> None:
    """Each of ``clients`` joins ``channel``, one after the other, up to its 366."""
    for client in clients:
        await client.send(f"JOIN {channel}")
        await client.expect("366")


async def until(client: LineClient, prefix: str) -> str:
    """The first line from ``client`` that starts with ``prefix``."""
    return (await client.recv_until(prefix))[-1]


# -- registration ----------------------------------------------------------------------


async def test_registration_without_cap_gets_the_welcome_burst(chat: IrcServer) -> None:
    irc = await chat.irc()
    burst = await irc.register("ircy")
    got = commands(burst)
    assert got[:4] == ["001", "002", "003", "004"]
    assert "005" in got
    assert "251" in got
    assert got[-1] == "422"
    assert burst[0].source == "irc.test"
    assert burst[0].params[0] == "ircy"
    assert burst[3].params[1] == "irc.test"  # 004 <nick> <server> ...
    isupport = " ".join(" ".join(m.params[1:-1]) for m in burst if m.command == "005")
    for token in ("CASEMAPPING=ascii", "CHANTYPES=#", "NICKLEN=16", "UTF8ONLY"):
        assert token in isupport.split()
    for token in ("PREFIX=(ov)@+", "CHANMODES=beI,k,l,Cimnst", "MODES=6", "KEYLEN=32"):
        assert token in isupport.split()
    for token in ("EXCEPTS=e", "INVEX=I", "MAXLIST=b:100,e:100,I:100"):
        assert token in isupport.split()
    (targmax,) = [t for t in isupport.split() if t.startswith("TARGMAX=")]
    assert "KICK:4" in targmax.split("=")[1].split(",")


async def test_cap_negotiation_holds_registration_until_cap_end(chat: IrcServer) -> None:
    irc = await chat.irc()
    await irc.send("CAP LS 302", "NICK capper", "USER c 0 * :C")
    ls = await irc.expect("CAP")
    assert ls.params[1] == "LS"
    assert "server-time" in ls.params[2].split()
    await irc.send("CAP REQ :server-time bogus-cap")
    nak = await irc.expect("CAP")
    assert nak.params[1:] == ("NAK", "server-time bogus-cap")
    await irc.send("CAP REQ :server-time message-tags")
    ack = await irc.expect("CAP")
    assert ack.params[1:] == ("ACK", "server-time message-tags")
    assert all(m.command != "001" for m in await irc.sync())  # not before CAP END
    await irc.send("CAP END")
    assert (await irc.expect("001")).params[0] == "capper"
    await irc.send("CAP LIST")
    listed = await irc.expect("CAP")
    assert sorted(listed.params[2].split()) == ["message-tags", "server-time"]


async def test_commands_before_registration_get_451(chat: IrcServer) -> None:
    irc = await chat.irc()
    await irc.send("JOIN :")  # what irssi sends first
    reply = await irc.message()
    assert reply.command == "451"
    await irc.send("PRIVMSG #x :hi")
    assert (await irc.message()).command == "451"


async def test_nick_in_use_gets_433_and_the_fallback_registers(chat: IrcServer) -> None:
    await chat.flack("taken")
    irc = await chat.irc()
    await irc.send("NICK taken", "USER t 0 * :T")
    refused = await irc.expect("433")
    assert refused.params[:2] == ("*", "taken")
    await irc.send("NICK [taken]")  # IRC allows brackets in nicks; Flack does not
    assert (await irc.expect("432")).params[1] == "[taken]"
    await irc.send("NICK taken_")  # weechat's and irssi's fallback
    assert (await irc.expect("001")).params[0] == "taken_"


async def test_a_dropped_flack_session_keeps_its_nick_from_irc(chat: IrcServer) -> None:
    alice = await chat.flack("alice")
    await alice.aclose()
    irc = await chat.irc()
    await irc.send("NICK alice", "USER a 0 * :A")
    assert (await irc.expect("433")).params[1] == "alice"


async def test_resume_a_flack_session_with_its_token_as_password(chat: IrcServer) -> None:
    bob = await chat.irc()
    burst = await bob.register("bob")
    notice = next(m for m in burst if m.command == "NOTICE")
    token = notice.params[1].split("token is ")[1].split()[0]
    await bob.send("JOIN #den", "TOPIC #den :the den")
    await bob.expect("TOPIC")
    await bob.aclose()  # dropped, not QUIT: the session stays resumable
    watcher = await chat.irc("watcher")
    await watcher.send("WHOIS bob")
    assert (await watcher.expect("311")).params[1] == "bob"
    back = await chat.irc()
    await back.send(f"PASS {token}", "NICK whatever", "USER b 0 * :B")
    welcome = await back.expect("001")
    assert welcome.params[0] == "bob"
    nick = await back.expect("NICK")  # the client asked for another nick: it is told
    assert nick.source is not None
    assert nick.source.startswith("whatever!")
    assert nick.params == ("bob",)
    joined = await back.expect("JOIN")
    assert joined.params == ("#den",)
    assert (await back.expect("332")).params[1:] == ("#den", "the den")
    names = await back.expect("353")
    assert names.params[-1].split() == ["@bob"]  # it made #den: still its operator


async def test_a_wrong_password_is_refused(chat: IrcServer) -> None:
    irc = await chat.irc()
    await irc.send("PASS not-a-token", "NICK nobody", "USER n 0 * :N")
    assert (await irc.expect("464")).params[0] == "*"
    assert (await irc.expect("ERROR")).params[0].startswith("Closing link")
    assert await irc.eof()


# -- one chat, two wires ----------------------------------------------------------------


async def test_irc_and_flack_users_see_each_other_in_one_channel(chat: IrcServer) -> None:
    irc = await chat.irc("ircy")
    await irc.send("JOIN #general")
    assert (await irc.expect("JOIN")).params == ("#general",)
    names = await irc.expect("353")
    assert names.params[-1] == "@ircy"  # whoever makes a channel is its operator
    await irc.expect("366")
    flack = await chat.flack("flacky")
    await flack.send("JOIN #general")
    await until(flack, "END HISTORY")
    joined = await irc.expect("JOIN")
    assert joined.source == "flacky!flacky@flack"
    await flack.send("MSG #general hello irc")
    got = await irc.expect("PRIVMSG")
    assert got.source == "flacky!flacky@flack"
    assert got.params == ("#general", "hello irc")
    assert got.tags == {}  # tags only for clients that asked
    await irc.send("PRIVMSG #general :hi \x02flack\x02 \x0304,12people\x03")
    await until(flack, "MSG #general")  # its own echo first
    line = await until(flack, "MSG #general")
    assert line.endswith(" ircy :hi flack people")  # formatting stripped, never relayed
    assert not [m for m in await irc.sync() if m.command == "PRIVMSG"]  # no echo


async def test_actions_cross_both_ways(chat: IrcServer) -> None:
    irc, flack = await both_in(chat, "#c")
    await irc.send("PRIVMSG #c :\x01ACTION waves\x01")
    assert (await until(flack, "MSG #c")).endswith("ircy kind=action :waves")
    await flack.send("ACTION #c nods")
    got = await irc.expect("PRIVMSG")
    assert got.params == ("#c", "\x01ACTION nods\x01")


async def test_direct_messages_cross_both_ways(chat: IrcServer) -> None:
    irc = await chat.irc("ircy")
    flack = await chat.flack("flacky")
    await irc.send("PRIVMSG flacky :psst")
    assert (await until(flack, "MSG flacky")).endswith(" ircy :psst")
    await flack.send("MSG ircy hello back")
    got = await irc.expect("PRIVMSG")
    assert got.source == "flacky!flacky@flack"
    assert got.params == ("ircy", "hello back")
    await irc.send("PRIVMSG nobody :hello?")
    assert (await irc.expect("401")).params[1] == "nobody"


async def test_echo_message_and_tags_carry_the_stored_id_and_time(chat: IrcServer) -> None:
    irc = await chat.irc("echoer", caps="echo-message server-time message-tags")
    flack = await chat.flack("flacky")
    await irc.send("JOIN #e")
    await irc.expect("366")
    await flack.send("JOIN #e")
    await until(flack, "END HISTORY")
    await irc.send("PRIVMSG #e :stored first")
    echo = await irc.expect("PRIVMSG")
    line = await until(flack, "MSG #e")
    _, _, msgid, when, *_ = line.split(" ")
    assert echo.tags["msgid"] == msgid
    assert echo.tags["time"].startswith(when[:19])
    assert echo.tags["time"].endswith("Z")


async def test_join_shows_recent_history_with_times(chat: IrcServer) -> None:
    flack = await chat.flack("flacky")
    await flack.send("JOIN #h", "MSG #h one", "MSG #h two")
    await until(flack, "MSG #h")
    await until(flack, "MSG #h")
    plain = await chat.irc("plain")
    await plain.send("JOIN #h")
    first = await plain.expect("PRIVMSG")
    second = await plain.expect("PRIVMSG")
    assert first.params[1].endswith("] one")
    assert first.params[1].startswith("[")
    assert second.params[1].endswith("] two")
    tagged = await chat.irc("tagged", caps="server-time")
    await tagged.send("JOIN #h")
    first = await tagged.expect("PRIVMSG")
    assert first.params[1] == "one"
    assert "time" in first.tags


async def test_join_history_count_is_a_limit(nursery: trio.Nursery) -> None:
    from dataclasses import replace

    chat = await start_irc_server(nursery, replace(TEST_LIMITS, irc_history=0))
    flack = await chat.flack("flacky")
    await flack.send("JOIN #h", "MSG #h one")
    await until(flack, "MSG #h")
    irc = await chat.irc("quiet")
    await irc.send("JOIN #h")
    await irc.expect("366")
    assert "PRIVMSG" not in commands(await irc.sync())


async def test_part_quit_nick_and_topic_reach_the_other_wire(chat: IrcServer) -> None:
    irc, flack = await both_in(chat, "#t")
    await flack.send("TOPIC #t fresh topic")
    topic = await irc.expect("TOPIC")
    assert topic.params == ("#t", "fresh topic")
    assert str(topic.source).startswith("flacky!")
    await irc.send("TOPIC #t")
    assert (await irc.expect("332")).params[1:] == ("#t", "fresh topic")
    assert (await irc.expect("333")).params[2] == "flacky"
    await irc.send("NICK ircier")
    renamed = await irc.expect("NICK")  # the IRC client's own NICK comes back
    assert renamed.params == ("ircier",)
    assert str(renamed.source).startswith("ircy!")
    assert await until(flack, "NICK") == "NICK ircy ircier"
    await flack.send("PART #t bye now")
    part = await irc.expect("PART")
    assert part.params == ("#t", "bye now")
    await flack.send("JOIN #t")
    await irc.expect("JOIN")
    await irc.send("QUIT :gone fishing")
    assert (await irc.expect("ERROR")).params[0].startswith("Closing link")
    assert await until(flack, "QUIT") == "QUIT ircier :gone fishing"


async def test_queries_who_whois_names_mode_list_ison(chat: IrcServer) -> None:
    irc = await chat.irc("ircy")
    flack = await chat.flack("flacky")
    await flack.send("JOIN #q")
    await until(flack, "END HISTORY")
    await irc.send("WHO #q")
    who = await irc.expect("352")
    assert who.params[1] == "#q"
    assert who.params[5] == "flacky"
    assert (await irc.expect("315")).params[1] == "#q"
    await irc.send("WHOIS flacky")
    assert (await irc.expect("311")).params[1] == "flacky"
    assert (await irc.expect("319")).params[2] == "@#q"
    await irc.expect("318")
    await irc.send("WHOIS ghost")
    assert (await irc.expect("401")).params[1] == "ghost"
    await irc.send("NAMES #q")
    assert (await irc.expect("353")).params[-1] == "@flacky"
    assert (await irc.expect("366")).params[1] == "#q"
    await irc.send("NAMES #none")
    assert (await irc.expect("366")).params[1] == "#none"
    await irc.send("MODE #q")
    assert (await irc.expect("324")).params[1:] == ("#q", "+n")
    assert (await irc.expect("329")).params[1] == "#q"
    await irc.send("MODE #q b")
    assert (await irc.expect("368")).params[1] == "#q"
    await irc.send("MODE #q +o flacky")
    assert (await irc.expect("442")).params[1] == "#q"  # not a member
    await irc.send("MODE ircy", "MODE ircy +x", "MODE flacky")
    assert (await irc.expect("221")).params[1] == "+i"
    await irc.expect("501")
    await irc.expect("502")
    await irc.send("LIST")
    await irc.expect("321")
    assert (await irc.expect("322")).params[1:3] == ("#q", "1")
    await irc.expect("323")
    await irc.send("ISON flacky ghost ircy")
    assert (await irc.expect("303")).params[1].split() == ["flacky", "ircy"]
    await irc.send("FROBNICATE")
    assert (await irc.expect("421")).params[1] == "FROBNICATE"


async def test_errors_map_to_numerics(chat: IrcServer) -> None:
    irc = await chat.irc("ircy")
    await irc.send("PRIVMSG #nowhere :hi")
    assert (await irc.expect("403")).params[1] == "#nowhere"
    await irc.send("PART #nowhere")
    assert (await irc.expect("403")).params[1] == "#nowhere"
    await irc.send("PRIVMSG #")
    assert (await irc.expect("412")).command == "412"
    await irc.send("PRIVMSG")
    await irc.expect("411")
    await irc.send("PING")
    await irc.expect("409")
    await irc.send("JOIN bad-name")
    assert (await irc.expect("403")).params[1] == "bad-name"


async def test_not_in_channel_is_404_for_messages_and_442_for_part(chat: IrcServer) -> None:
    flack = await chat.flack("flacky")
    await flack.send("JOIN #closed")
    await until(flack, "END HISTORY")
    irc = await chat.irc("ircy")
    await irc.send("PRIVMSG #closed :let me in")
    assert (await irc.expect("404")).params[1] == "#closed"
    await irc.send("PART #closed")
    assert (await irc.expect("442")).params[1] == "#closed"


async def test_line_limits_and_bad_utf8_keep_the_connection(chat: IrcServer) -> None:
    irc = await chat.irc("ircy")
    await irc.send("PRIVMSG ircy :" + "x" * 600)
    assert (await irc.expect("417")).params[0] == "ircy"
    await irc.send_raw(b"PRIVMSG ircy :\xff\xfe\r\n")
    fail = await irc.expect("FAIL")
    assert fail.params[:2] == ("*", "INVALID_UTF8")
    tags = "@+draft/x=" + "y" * 3000
    await irc.send(f"{tags} PRIVMSG ircy :tagged is fine")
    got = await irc.expect("PRIVMSG")  # a note to oneself comes back
    assert got.params == ("ircy", "tagged is fine")


async def test_ping_is_answered_in_order_after_what_was_owed(chat: IrcServer) -> None:
    irc = await chat.irc("ircy")
    await irc.send("JOIN #o", "PING :after-join")
    seen = []
    while True:
        message = await irc.message()
        seen.append(message.command)
        if message.command == "PONG":
            assert message.params == ("irc.test", "after-join")
            break
    assert seen.index("366") < seen.index("PONG")


async def test_a_slow_irc_reader_is_closed_with_error_not_waited_for(
    nursery: trio.Nursery,
) -> None:
    chat = await start_irc_server(nursery)
    slow = await chat.irc("slow")
    await slow.send("JOIN #flood")
    await slow.expect("366")
    talker = await chat.irc("talker")  # no echo-message: nothing comes back to it
    await talker.send("JOIN #flood")
    await talker.expect("366")
    # ``slow`` stops reading; the kernel buffers fill, then its send queue.
    sendq = TEST_LIMITS.sendq_bytes
    for i in range(4 * sendq // 400):  # bounded: several times what the queue may hold
        await talker.send(f"PRIVMSG #flood :{'z' * 380} {i}")
    quit = await talker.expect("QUIT")
    assert str(quit.source).startswith("slow!")
    assert "send queue" in quit.params[0]


# -- IRCv3: batch, chathistory, redaction ---------------------------------------------------

V3 = "batch server-time message-tags draft/chathistory draft/message-redaction"


async def test_join_history_comes_as_a_chathistory_batch(chat: IrcServer) -> None:
    flack = await chat.flack("flacky")
    await flack.send("JOIN #b", "MSG #b one", "MSG #b two")
    await until(flack, "MSG #b")
    await until(flack, "MSG #b")
    irc = await chat.irc("batcher", caps=V3)
    await irc.send("JOIN #b")
    start = await irc.expect("BATCH")
    ref = start.params[0]
    assert ref.startswith("+")
    assert start.params[1:] == ("chathistory", "#b")
    lines = [await irc.message() for _ in range(3)]
    assert [m.params[-1] for m in lines[:2]] == ["one", "two"]
    assert all(m.tags["batch"] == ref[1:] for m in lines[:2])
    assert lines[2].command == "BATCH"
    assert lines[2].params == (f"-{ref[1:]}",)


async def test_chathistory_pages_with_msgid_cursors(chat: IrcServer) -> None:
    flack = await chat.flack("flacky")
    await flack.send("JOIN #p")
    await until(flack, "END HISTORY")
    ids = []
    for word in ("a", "b", "c", "d"):
        await flack.send(f"MSG #p {word}")
        ids.append((await until(flack, "MSG #p")).split(" ")[2])
    irc = await chat.irc("pager", caps=V3)

    async def page(*args: str) -> list[str]:
        await irc.send("CHATHISTORY " + " ".join(args))
        start = await irc.expect("BATCH")
        assert start.params[1:] == ("chathistory", "#p")
        texts: list[str] = []
        while True:
            message = await irc.message()
            if message.command == "BATCH":
                assert message.params == (f"-{start.params[0][1:]}",)
                return texts
            assert message.tags["batch"] == start.params[0][1:]
            texts.append(message.params[-1])

    assert await page("LATEST", "#p", "*", "2") == ["c", "d"]
    assert await page("LATEST", "#p", f"msgid={ids[1]}", "10") == ["c", "d"]
    assert await page("BEFORE", "#p", f"msgid={ids[2]}", "10") == ["a", "b"]
    assert await page("AFTER", "#p", f"msgid={ids[0]}", "2") == ["b", "c"]
    assert await page("AROUND", "#p", f"msgid={ids[1]}", "3") == ["a", "b", "c"]
    assert await page("AROUND", "#p", f"msgid={ids[2]}", "1") == ["c"]
    between = ("BETWEEN", "#p", f"msgid={ids[0]}", f"msgid={ids[3]}")
    assert await page(*between, "10") == ["b", "c"]
    assert await page(*between, "1") == ["b"]
    backwards = ("BETWEEN", "#p", f"msgid={ids[3]}", f"msgid={ids[0]}")
    assert await page(*backwards, "1") == ["c"]
    assert await page("AFTER", "#p", "timestamp=2020-01-01T00:00:00.000Z", "1") == ["a"]
    assert await page("BEFORE", "#p", "timestamp=2262-01-01T00:00:00.000Z", "1") == ["d"]
    await irc.send("CHATHISTORY AROUND #p * 5")
    fail = await irc.expect("FAIL")
    assert fail.params[:3] == ("CHATHISTORY", "INVALID_PARAMS", "AROUND")
    await irc.send("CHATHISTORY LATEST #nowhere * 5")
    assert (await irc.expect("FAIL")).params[:2] == ("CHATHISTORY", "INVALID_TARGET")


async def test_chathistory_targets_lists_conversations_by_their_newest_time(
    chat: IrcServer,
) -> None:
    irc, flack = await both_in(chat, "#tg")
    await irc.send("CAP REQ :batch server-time draft/chathistory")
    await irc.expect("CAP")
    await flack.send("MSG #tg in the channel")
    await irc.expect("PRIVMSG")
    await flack.send("MSG ircy in private")
    private = await irc.expect("PRIVMSG")
    await irc.send(
        "CHATHISTORY TARGETS timestamp=2020-01-01T00:00:00.000Z "
        "timestamp=2262-01-01T00:00:00.000Z 10"
    )
    start = await irc.expect("BATCH")
    assert start.params[1] == "draft/chathistory-targets"
    rows = [await irc.message() for _ in range(2)]
    assert [m.params[:2] for m in rows] == [("TARGETS", "#tg"), ("TARGETS", "flacky")]
    assert rows[1].params[2] == private.tags["time"]
    assert (await irc.message()).command == "BATCH"


async def test_redact_is_flack_delete_both_ways(chat: IrcServer) -> None:
    irc = await chat.irc("redactor", caps=V3 + " echo-message")
    flack = await chat.flack("flacky")
    await flack.send("JOIN #r")  # flacky makes #r: the operator is not the IRC user
    await until(flack, "END HISTORY")
    await irc.send("JOIN #r")
    await irc.expect("366")
    await irc.send("PRIVMSG #r :oops")
    msgid = (await irc.expect("PRIVMSG")).tags["msgid"]
    await irc.send(f"REDACT #r {msgid} :typo")
    redact = await irc.expect("REDACT")
    assert redact.params == ("#r", msgid, "typo")  # the reason is relayed
    assert await until(flack, "DELETED") == f"DELETED #r {msgid} redactor :typo"
    await flack.send("MSG #r mine")
    theirs = (await irc.expect("PRIVMSG")).tags["msgid"]
    await irc.send(f"REDACT #r {theirs}")
    assert (await irc.expect("FAIL")).params[:2] == ("REDACT", "REDACT_FORBIDDEN")
    await flack.send(f"DELETE {theirs}")
    assert (await irc.expect("REDACT")).params == ("#r", theirs)
    plain = await chat.irc("plain")  # without the capability: nothing to show
    await plain.send("JOIN #r")
    await plain.expect("366")
    await flack.send("MSG #r again")
    again = (await until(flack, "MSG #r")).split(" ")[2]
    await flack.send(f"DELETE {again}")
    await until(flack, "DELETED")
    assert "REDACT" not in commands(await plain.sync())


async def test_userhost_in_names(chat: IrcServer) -> None:
    irc = await chat.irc("full", caps="userhost-in-names")
    await irc.send("JOIN #u")
    assert (await irc.expect("353")).params[-1] == "@full!full@flack"


async def test_sasl_plain_with_nick_and_token_resumes_the_session(chat: IrcServer) -> None:
    import base64

    first = await chat.irc()
    burst = await first.register("sasha")
    notice = next(m for m in burst if m.command == "NOTICE")
    token = notice.params[1].split("token is ")[1].split()[0]
    await first.send("JOIN #s")
    await first.expect("366")
    await first.aclose()  # dropped: resumable
    irc = await chat.irc()
    await irc.send("CAP LS 302", "NICK other", "USER s 0 * :S")
    ls = await irc.expect("CAP")
    assert "sasl=PLAIN" in ls.params[-1].split()
    await irc.send("CAP REQ :sasl", "AUTHENTICATE EXTERNAL")
    assert (await irc.expect("908")).params[1] == "PLAIN"
    await irc.expect("904")
    wrong = base64.b64encode(b"\0sasha\0not-the-token").decode()
    await irc.send("AUTHENTICATE PLAIN")
    assert (await irc.expect("AUTHENTICATE")).params == ("+",)
    await irc.send(f"AUTHENTICATE {wrong}")
    await irc.expect("904")
    right = base64.b64encode(f"\0sasha\0{token}".encode()).decode()
    await irc.send("AUTHENTICATE PLAIN")
    await irc.expect("AUTHENTICATE")
    await irc.send(f"AUTHENTICATE {right}")
    assert (await irc.expect("900")).params[2] == "sasha"
    await irc.expect("903")
    await irc.send("CAP END")
    assert (await irc.expect("001")).params[0] == "sasha"
    assert (await irc.expect("JOIN")).params == ("#s",)
    await irc.send("AUTHENTICATE PLAIN")
    await irc.expect("907")


async def test_away_is_seen_by_others_and_notice_gets_no_errors(chat: IrcServer) -> None:
    away = await chat.irc("dozer")
    other = await chat.irc("poker")
    await away.send("AWAY :back at five")
    await away.expect("306")
    await other.send("PRIVMSG dozer :you there?")
    assert (await other.expect("301")).params[1:] == ("dozer", "back at five")
    await other.send("WHOIS dozer")
    assert (await other.expect("301")).params[2] == "back at five"
    await other.send("USERHOST dozer")
    assert (await other.expect("302")).params[1] == "dozer=-~dozer@flack"
    await other.send("NOTICE #nowhere :hello", "NOTICE ghost :hello")
    assert not [m for m in await other.sync() if m.command.isdigit()]  # silence
    await away.send("AWAY")
    await away.expect("305")
    await other.send("USERHOST dozer")
    assert (await other.expect("302")).params[1] == "dozer=+~dozer@flack"


async def test_away_notify_tells_those_who_share_a_channel(chat: IrcServer) -> None:
    dozer = await chat.irc("dozer", caps="away-notify")
    watcher = await chat.irc("watcher", caps="away-notify")
    plain = await chat.irc("plain")  # did not ask: no AWAY lines
    stranger = await chat.irc("stranger", caps="away-notify")  # shares no channel
    flacky = await chat.flack("flacky")  # Flack's wire has no AWAY
    await join_all("#room", dozer, watcher, plain)
    await flacky.send("JOIN #room")
    await flacky.recv_until("END HISTORY")
    await dozer.sync()
    await watcher.sync()
    await plain.sync()
    await dozer.send("AWAY :lunch")
    await dozer.expect("306")
    away = await watcher.expect("AWAY")
    assert away.source == "dozer!dozer@flack"
    assert away.params == ("lunch",)
    assert [m.command for m in await plain.sync()] == []
    assert [m.command for m in await stranger.sync()] == []
    assert await flacky.barrier() == []
    # Someone who joins while away is shown away at once.
    late = await chat.irc("late", caps="away-notify")
    await late.send("JOIN #room")
    await late.expect("366")
    await dozer.send("PART #room", "JOIN #room")
    join = await late.expect("JOIN")
    assert join.source == "dozer!dozer@flack"
    follow = await late.message()
    assert (follow.command, follow.params) == ("AWAY", ("lunch",))
    assert (await watcher.expect("AWAY")).params == ("lunch",)  # the same re-join
    await dozer.send("AWAY")
    await dozer.expect("305")
    back = await watcher.expect("AWAY")
    assert back.params == ()


async def test_extended_join_shows_the_real_name(chat: IrcServer) -> None:
    ext = await chat.irc("ext", caps="extended-join")
    await ext.send("JOIN #x")
    own = await ext.expect("JOIN")
    assert own.params == ("#x", "*", "ext tester")  # its own, from USER
    await ext.expect("366")
    other = await chat.irc("other")
    await other.send("JOIN #x")
    join = await ext.expect("JOIN")
    assert join.params == ("#x", "*", "other tester")
    flacky = await chat.flack("flacky")  # a Flack user's real name is its nick
    await flacky.send("JOIN #x")
    join = await ext.expect("JOIN")
    assert join.params == ("#x", "*", "flacky")
    # A client that did not ask sees the plain JOIN.
    await other.sync()
    await flacky.send("PART #x", "JOIN #x")
    assert (await other.expect("JOIN")).params == ("#x",)


async def test_setname_changes_the_real_name_for_everyone(chat: IrcServer) -> None:
    namer = await chat.irc("namer", caps="setname")
    seer = await chat.irc("seer", caps="setname")
    blind = await chat.irc("blind")
    await join_all("#n", namer, seer, blind)
    await seer.sync()
    await blind.sync()
    await namer.send("SETNAME :Namer McName")
    echo = await namer.expect("SETNAME")
    assert echo.source == "namer!namer@flack"
    assert echo.params == ("Namer McName",)
    told = await seer.expect("SETNAME")
    assert told.params == ("Namer McName",)
    assert [m.command for m in await blind.sync()] == []
    await blind.send("WHOIS namer")
    assert (await blind.expect("311")).params[-1] == "Namer McName"
    await namer.send("SETNAME :" + "x" * 101, "SETNAME :")
    for _ in range(2):
        fail = await namer.expect("FAIL")
        assert fail.params[:2] == ("SETNAME", "INVALID_REALNAME")
    await blind.send("WHOIS namer")
    assert (await blind.expect("311")).params[-1] == "Namer McName"


async def test_who_with_a_mask_lists_only_neighbours(chat: IrcServer) -> None:
    me, _flacky = await both_in(chat, "#w")
    _flacker = await chat.flack("flacker")  # shares no channel with ircy: not in masks
    await me.send("WHO flack*")
    got = [m for m in await me.sync() if m.command == "352"]
    assert [m.params[5] for m in got] == ["flacky"]
    await me.send("WHO flacker")  # a nick in full: whoever has it
    assert (await me.expect("352")).params[5] == "flacker"


async def test_lusers_counts_users_now_and_the_most_at_once(chat: IrcServer) -> None:
    first = await chat.irc("one")
    second = await chat.irc("two")
    await second.send("QUIT")
    await second.expect("ERROR")
    await first.send("LUSERS")
    local = await first.expect("265")
    assert local.params[1:3] == ("1", "2")


async def test_labeled_response_ties_every_answer_to_its_label(chat: IrcServer) -> None:
    irc = await chat.irc("labeler", caps="labeled-response batch message-tags echo-message")
    await irc.send("@label=p1 PING :tok")
    pong = await irc.expect("PONG")
    assert pong.tags.get("label") == "p1"
    await irc.send("@label=j1 JOIN #lab")
    start = await irc.expect("BATCH")
    assert start.tags.get("label") == "j1"
    assert start.params[1] == "labeled-response"
    ref = start.params[0][1:]
    inside = []
    while True:
        message = await irc.message()
        if message.command == "BATCH":
            assert message.params == (f"-{ref}",)
            break
        assert message.tags.get("batch") == ref
        inside.append(message.command)
    assert inside == ["JOIN", "353", "366"]
    await irc.send("@label=m1 PRIVMSG #lab :echoed")
    echo = await irc.expect("PRIVMSG")
    assert echo.tags.get("label") == "m1"
    assert "msgid" in echo.tags
    # a note to oneself: the labeled echo, then the message received, unlabeled, no batch
    await irc.send("@label=s1 NOTICE labeler :note", "PING :after-note")
    echo, received = await irc.message(), await irc.message()
    assert (echo.command, echo.tags.get("label")) == ("NOTICE", "s1")
    assert (received.command, received.params) == ("NOTICE", ("labeler", "note"))
    assert "label" not in received.tags
    assert received.tags["msgid"] == echo.tags["msgid"]
    assert (await irc.message()).command == "PONG"
    await irc.send("CAP REQ :-echo-message")
    await irc.expect("CAP")
    await irc.send("@label=m2 PRIVMSG #lab :quiet")
    ack = await irc.expect("ACK")
    assert ack.tags.get("label") == "m2"


async def test_with_durable_state_irc_lines_wait_for_the_commit_in_order(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    store = SqliteStore.open(tmp_path)
    try:
        chat = await start_irc_server(nursery, store=store)
        irc = await chat.irc("keeper", caps="labeled-response batch message-tags echo-message")
        await irc.send("@label=j JOIN #d", "@label=m PRIVMSG #d :kept", "PING :after")
        start = await irc.expect("BATCH")
        assert start.tags.get("label") == "j"
        echo = await irc.expect("PRIVMSG")
        assert echo.tags.get("label") == "m"
        assert (await irc.message()).command == "PONG"  # nothing out of order
        assert chat.server.committer is not None
        await chat.server.committer.flush()
        msgid = echo.tags["msgid"]
        assert any(row.msgid == msgid for row in store.load().messages)
    finally:
        store.close()


async def test_whowas_remembers_nicks_given_up(chat: IrcServer) -> None:
    gone = await chat.irc("leaver")
    await gone.send("NICK renamed")
    await gone.expect("NICK")
    await gone.send("QUIT :bye")
    await gone.expect("ERROR")
    asker = await chat.irc("asker")
    await asker.send("WHOWAS leaver")
    was = await asker.expect("314")
    assert was.params[1:3] == ("leaver", "~leaver")
    assert was.params[-1] == "leaver tester"
    assert (await asker.expect("369")).params[1] == "leaver"
    await asker.send("WHOWAS nobody")
    assert (await asker.expect("406")).params[1] == "nobody"
    await asker.expect("369")
    await asker.send("WHOWAS")
    await asker.expect("461")


@pytest.mark.parametrize(
    "line",
    ["JOIN :#a b", "NAMES :", "WHO :", "WHOIS :x y", "MODE :#a b", "REDACT x :a b",
     "CHATHISTORY :a b", "CAP :x y", "CAP LS \u00b2", "WHOWAS x --5", "WHOWAS x \u00b2",
     "CHATHISTORY LATEST #a * \u00b2", "KICK :#a b :c d"],
)  # fmt: skip
async def test_odd_parameters_get_answers_not_a_dropped_connection(
    chat: IrcServer, line: str
) -> None:
    irc = await chat.irc("oddball")
    await irc.send(line)
    await irc.sync()  # still here, and answered in order
    await irc.send("NICK :a b")
    assert (await irc.expect("432")).params[1] == "ab"


async def test_after_a_nick_change_commands_use_the_new_nick_at_once(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    store = SqliteStore.open(tmp_path)
    try:
        chat = await start_irc_server(nursery, store=store)
        irc = await chat.irc("before")
        await irc.send("JOIN #n")
        await irc.expect("366")
        await irc.send("NICK after", "JOIN 0", "MODE after")
        assert (await irc.expect("PART")).params[0] == "#n"
        assert (await irc.expect("221")).params[0] == "after"
    finally:
        store.close()


async def test_whox_answers_the_fields_asked_for_in_their_order(chat: IrcServer) -> None:
    asker = await chat.irc("asker")
    target = await chat.irc("target")
    await join_all("#w", asker, target)
    isupport = [m for m in asker.seen if " 005 " in m]
    assert any(" WHOX " in f" {line} " for line in isupport), isupport
    await asker.send("WHO target %rnctf,42")  # asked in any order
    reply = await asker.expect("354")
    assert reply.params == ("asker", "42", "*", "target", "H", "target tester")
    assert (await asker.expect("315")).params[1] == "target"
    await asker.send("WHO #w %na")
    first, second = await asker.expect("354"), await asker.expect("354")
    assert {first.params[1:], second.params[1:]} == {("asker", "0"), ("target", "0")}
    await asker.expect("315")
    await asker.send("WHO target")  # without %: the classic 352
    assert (await asker.expect("352")).params[5] == "target"


async def test_monitor_tells_when_a_nick_comes_and_goes_on_any_wire(chat: IrcServer) -> None:
    watcher = await chat.irc("watcher")
    isupport = " ".join(m for m in watcher.seen if " 005 " in m)
    assert " MONITOR=100" in f" {isupport} ", isupport
    online = await chat.irc("online")
    await watcher.send("MONITOR + online,flacky,*!x@y")
    assert (await watcher.expect("730")).params[1] == "online!online@flack"
    assert (await watcher.expect("731")).params[1] == "flacky,*!x@y"  # a mask is never online
    flacky = await chat.flack("flacky")  # a Flack user counts like anyone
    assert (await watcher.expect("730")).params[1] == "flacky!flacky@flack"
    await flacky.send("NICK flacker")
    assert (await watcher.expect("731")).params[1] == "flacky"  # that nick is free now
    await watcher.send("MONITOR + flacker")
    assert (await watcher.expect("730")).params[1] == "flacker!flacker@flack"
    await online.send("QUIT :bye")
    assert (await watcher.expect("731")).params[1] == "online"
    await watcher.send("MONITOR L")
    listed = await watcher.expect("732")
    assert set(listed.params[1].split(",")) == {"online", "flacky", "flacker"}
    await watcher.expect("733")
    await watcher.send("MONITOR - flacker", "MONITOR S")
    status = [await watcher.message() for _ in range(2)]
    assert sorted((m.command, m.params[1]) for m in status) == [
        ("731", "flacky"),
        ("731", "online"),
    ]
    await flacky.send("QUIT")
    await watcher.send("MONITOR C", "MONITOR L")
    assert (await watcher.message()).command == "733"  # nothing watched, no 731 for flacker


async def test_monitor_list_is_bounded(nursery: trio.Nursery) -> None:
    chat = await start_irc_server(
        nursery, Limits(flood_burst=10_000, flood_rate=10_000.0, irc_monitor=3)
    )
    watcher = await chat.irc("watcher")
    await watcher.send("MONITOR + a1,a2,a3,a4,a5")
    await watcher.expect("731")
    full = await watcher.expect("734")
    assert full.params[1:3] == ("3", "a4,a5")
    await watcher.send("MONITOR L")
    assert set((await watcher.expect("732")).params[1].split(",")) == {"a1", "a2", "a3"}


async def test_invite_reaches_the_invitee_on_either_wire(chat: IrcServer) -> None:
    host = await chat.irc("host")
    guest = await chat.irc("guest")
    flacky = await chat.flack("flacky")
    await host.send("JOIN #party")
    await host.expect("366")
    await host.send("INVITE guest #party")
    assert (await host.expect("341")).params == ("host", "guest", "#party")
    invite = await guest.expect("INVITE")
    assert invite.source == "host!host@flack"
    assert invite.params == ("guest", "#party")
    await host.send("INVITE flacky #party")
    await host.expect("341")
    assert await flacky.recv() == (
        "NOTE INVITED #party host :host invites you to #party (JOIN #party)"
    )
    await host.send("INVITE host #party", "INVITE nobody #party", "INVITE guest #elsewhere")
    assert (await host.expect("443")).params[1:3] == ("host", "#party")
    assert (await host.expect("401")).params[1] == "nobody"
    assert (await host.expect("403")).params[1] == "#elsewhere"
    await guest.send("INVITE host #party")  # guest is not in #party
    assert (await guest.expect("442")).params[1] == "#party"

"""Channel operators and modes on the IRC port: MODE, KICK, prefixes, the numerics of
what the modes refuse, and REDACT by an operator (flackd.irc.modes and the mapping of
the hub's errors in flackd.irc.numerics); ban and invite exceptions (348/349, 346/347),
+C with CTCP relayed between both wires, INVITE alone (336/337) and KICK of several nicks.

Real sockets on 127.0.0.1; every wait bounded; "nothing else" proved with PING barriers.
"""

from __future__ import annotations

import time

import pytest
import trio

from flackd.irc.wire import IrcMessage
from tests.ircsupport import IrcClient, IrcServer, start_irc_server
from tests.support import LineClient

V3 = "message-tags echo-message batch labeled-response draft/message-redaction"


@pytest.fixture
async def chat(nursery: trio.Nursery) -> IrcServer:
    return await start_irc_server(nursery)


def commands(messages: list[IrcMessage]) -> list[str]:
    return [m.command for m in messages]


async def joined(chat: IrcServer, channel: str, *nicks: str, caps: str = "") -> list[IrcClient]:
    """IRC clients called ``nicks`` in ``channel``, in that order (the first made it, so
    it is its operator); every JOIN seen by everyone, nothing left unread."""
    clients: list[IrcClient] = []
    for nick in nicks:
        client = await chat.irc(nick, caps=caps)
        await client.send(f"JOIN {channel}")
        await client.expect("366")
        clients.append(client)
    for client in clients:
        await client.sync()
    return clients


async def only(client: IrcClient) -> IrcMessage:
    """The one line the client got since its last command (asserted: exactly one)."""
    got = await client.sync()
    assert len(got) == 1, got
    return got[0]


async def test_mode_query_is_324_and_329_only(chat: IrcServer) -> None:
    (op,) = await joined(chat, "#m", "op")
    before = int(time.time())
    await op.send("MODE #m")
    got = await op.sync()
    assert commands(got) == ["324", "329"]
    assert got[0].params == ("op", "#m", "+n")
    assert got[1].params[:2] == ("op", "#m")
    assert before - 60 <= int(got[1].params[2]) <= before + 1  # when #m was made
    await op.send("MODE #m +tk sesame", "MODE #m +l 5")
    await op.sync()
    await op.send("MODE #m")
    got = await op.sync()
    assert got[0].params == ("op", "#m", "+ntkl", "sesame", "5")
    await op.send("MODE #m -ntkl *")
    await op.sync()
    await op.send("MODE #m")
    assert (await op.sync())[0].params == ("op", "#m", "+")


async def test_op_is_told_to_irc_and_flack_members(chat: IrcServer) -> None:
    op, bob = await joined(chat, "#m", "op", "bob")
    flack = await chat.flack("flacky")
    await flack.send("JOIN #m")
    await flack.recv_until("END HISTORY")
    await op.sync()
    await bob.sync()
    await op.send("MODE #m +o bob")
    for client in (op, bob):
        line = await only(client)
        assert line.command == "MODE"
        assert line.source == "op!op@flack"
        assert line.params == ("#m", "+o", "bob")
    assert (await flack.recv_until("MODE"))[-1] == "MODE #m op +o bob"
    await op.send("MODE #m +o bob")  # nothing changes: nothing is said
    assert await op.sync() == []


async def test_mode_errors_are_the_irc_numerics(chat: IrcServer) -> None:
    op, bob = await joined(chat, "#m", "op", "bob")
    (other,) = await joined(chat, "#elsewhere", "other")
    await bob.send("MODE #m +o bob")
    assert (await only(bob)).command == "482"
    await op.send("MODE #m +o other")
    line = await only(op)
    assert (line.command, line.params[:3]) == ("441", ("op", "other", "#m"))
    await op.send("MODE #m +o nobody")
    assert (await only(op)).command == "401"
    await op.send("MODE #none +o op")
    assert (await only(op)).command == "403"
    await op.send("MODE #elsewhere +o op")
    assert (await only(op)).command == "442"
    await op.send("MODE #m +z")
    line = await only(op)
    assert (line.command, line.params[1]) == ("472", "z")
    await op.send("MODE #m +k :has spaces")
    line = await only(op)
    assert (line.command, line.params[:4]) == ("696", ("op", "#m", "k", "*"))
    await op.send("MODE #m +l :0")
    line = await only(op)
    assert (line.command, line.params[:4]) == ("696", ("op", "#m", "l", "0"))
    await op.send("MODE #m +o")
    line = await only(op)
    assert (line.command, line.params[1]) == ("461", "MODE")
    await op.send("MODE op", "MODE op +x", "MODE bob")  # user modes: as before
    assert commands(await op.sync()) == ["221", "501", "502"]
    await other.aclose()


async def test_join_refusals_and_keys_by_position(chat: IrcServer) -> None:
    (op,) = await joined(chat, "#k", "op")
    await op.send("JOIN #l", "JOIN #i", "JOIN #b")
    await op.send("MODE #k +k sesame", "MODE #l +l 1", "MODE #i +i", "MODE #b +b Guest!*@*")
    await op.sync()
    guest = await chat.irc("guest")
    for channel, numeric in (("#k", "475"), ("#l", "471"), ("#i", "473"), ("#b", "474")):
        await guest.send(f"JOIN {channel}")
        line = await only(guest)  # exactly one line: the refusal
        assert (line.command, line.params[:2]) == (numeric, ("guest", channel))
    await guest.send("JOIN #k,#new wrong")  # keys go by position: #new has none
    got = await guest.sync()
    assert got[0].command == "475"
    assert ("JOIN", ("#new",)) in [(m.command, m.params) for m in got]
    await guest.send("JOIN #new,#k ,sesame")
    await guest.expect("JOIN")
    assert (await guest.expect("JOIN")).params == ("#k",)
    got = await guest.sync()
    assert not {"MODE", "324", "329"} & set(commands(got))  # no modes in the burst
    await op.send("INVITE guest #i")
    assert (await op.expect("341")).params == ("op", "guest", "#i")
    assert (await guest.expect("INVITE")).params == ("guest", "#i")
    await guest.send("JOIN #i")
    assert (await guest.expect("JOIN")).params == ("#i",)


async def test_invite_only_needs_an_operator_to_invite(chat: IrcServer) -> None:
    op, member = await joined(chat, "#i", "op", "member")
    guest = await chat.irc("guest")
    await op.send("MODE #i +i")
    await op.sync()
    await member.sync()
    await member.send("INVITE guest #i")
    line = await only(member)
    assert (line.command, line.params[:2]) == ("482", ("member", "#i"))
    assert await guest.sync() == []


async def test_moderated_and_no_external_messages(chat: IrcServer) -> None:
    op, talker = await joined(chat, "#m", "op", "talker")
    outsider = await chat.irc("outsider")
    await outsider.send("PRIVMSG #m :knock knock")  # +n: members only
    line = await only(outsider)
    assert (line.command, line.params[1]) == ("404", "#m")
    await op.send("MODE #m -n")
    await op.sync()
    await talker.sync()
    await outsider.send("PRIVMSG #m :hello from outside")
    assert await outsider.sync() == []  # no echo without echo-message
    line = await only(op)
    assert (line.command, line.params) == ("PRIVMSG", ("#m", "hello from outside"))
    await talker.sync()
    await op.send("MODE #m +m")
    await op.sync()
    await talker.sync()
    await talker.send("PRIVMSG #m :may I?")
    assert (await only(talker)).command == "404"
    assert await op.sync() == []
    await talker.send("NOTICE #m :a notice gets no error")
    assert await talker.sync() == []
    await op.send("MODE #m +v talker")
    await op.sync()
    await talker.sync()
    await talker.send("PRIVMSG #m :now I may")
    line = await only(op)
    assert (line.command, line.params) == ("PRIVMSG", ("#m", "now I may"))


async def test_topic_lock_is_for_operators(chat: IrcServer) -> None:
    op, member = await joined(chat, "#t", "op", "member")
    await op.send("MODE #t +t")
    await op.sync()
    await member.sync()
    await member.send("TOPIC #t :mine now")
    line = await only(member)
    assert (line.command, line.params[:2]) == ("482", ("member", "#t"))
    assert await op.sync() == []


async def test_ban_list_is_367_then_368(chat: IrcServer) -> None:
    (op,) = await joined(chat, "#b", "op")
    await op.send("MODE #b +b bad")  # a nick alone is bad!*@*
    line = await only(op)
    assert line.params == ("#b", "+b", "bad!*@*")
    await op.send("MODE #b +b")
    got = await op.sync()
    assert commands(got) == ["367", "368"]
    assert got[0].params[:4] == ("op", "#b", "bad!*@*", "op")
    assert abs(int(got[0].params[4]) - time.time()) < 60
    assert got[1].params[:2] == ("op", "#b")
    await op.send("MODE #b -b bad!*@*", "MODE #b b")
    got = await op.sync()
    assert commands(got) == ["MODE", "368"]


async def test_names_who_whois_show_prefixes(chat: IrcServer) -> None:
    op, voiced = await joined(chat, "#p", "op", "voiced")
    (multi,) = await joined(chat, "#p", "multi", caps="multi-prefix")
    await op.send("MODE #p +vv op voiced")
    await op.sync()
    for client in (voiced, multi):
        await client.sync()
    await voiced.send("NAMES #p")
    names = await voiced.expect("353")
    assert names.params[1:] == ("=", "#p", "multi @op +voiced")
    await multi.send("NAMES #p")
    assert (await multi.expect("353")).params[-1] == "multi @+op +voiced"
    await voiced.send("WHO #p")
    flags = {m.params[5]: m.params[6] for m in await voiced.sync() if m.command == "352"}
    assert flags == {"multi": "H", "op": "H@", "voiced": "H+"}
    await multi.send("WHO #p")
    flags = {m.params[5]: m.params[6] for m in await multi.sync() if m.command == "352"}
    assert flags["op"] == "H@+"
    await voiced.send("WHO op")  # a nick: no channel, no prefix
    assert (await voiced.expect("352")).params[1:2] == ("*",)
    await op.send("JOIN #q")
    await op.expect("366")
    await voiced.send("WHOIS op")
    assert (await voiced.expect("319")).params[2].split() == ["@#p", "@#q"]
    await op.send("MODE #q +s")
    await op.sync()
    await voiced.send("WHOIS op")  # a secret channel only to its members
    assert (await voiced.expect("319")).params[2] == "@#p"
    await op.send("NAMES #q,#p")
    got = await op.sync()
    assert [(m.command, m.params[1:3]) for m in got] == [
        ("353", ("@", "#q")),
        ("353", ("=", "#p")),
        ("366", ("#q,#p", "End of /NAMES list")),
    ]


async def test_kick_is_told_to_everyone_with_a_reason(chat: IrcServer) -> None:
    op, bob, eve = await joined(chat, "#k", "op", "bob", "eve")
    flack = await chat.flack("flacky")
    await flack.send("JOIN #k")
    await flack.recv_until("END HISTORY")
    for client in (op, bob, eve):
        await client.sync()
    await eve.send("KICK #k bob")
    line = await only(eve)
    assert (line.command, line.params[:2]) == ("482", ("eve", "#k"))
    await op.send("KICK #k bob")
    for client in (op, bob, eve):
        line = await only(client)
        assert line.source == "op!op@flack"
        assert line.params == ("#k", "bob", "op")  # no reason: the kicker's nick
    assert (await flack.recv_until("KICK"))[-1].startswith("KICK #k bob op")
    await op.send("KICK #k eve :behave")
    assert (await only(eve)).params == ("#k", "eve", "behave")
    await op.send("KICK #k bob", "KICK #k nobody")
    got = await op.sync()
    assert [(m.command, m.params[1]) for m in got if m.command != "KICK"] == [
        ("441", "bob"),
        ("401", "nobody"),
    ]


async def test_an_operator_redacts_anyones_message_with_a_reason(chat: IrcServer) -> None:
    op, bob = await joined(chat, "#r", "op", "bob", caps=V3)
    flack: LineClient = await chat.flack("flacky")
    await flack.send("JOIN #r")
    await flack.recv_until("END HISTORY")
    await op.sync()
    await bob.send("PRIVMSG #r :spam spam")
    msgid = (await bob.expect("PRIVMSG")).tags["msgid"]
    await op.expect("PRIVMSG")
    await bob.sync()
    await op.sync()
    await op.send("PRIVMSG #r :by op")  # bob, no operator, may not redact it
    ops_msgid = (await op.expect("PRIVMSG")).tags["msgid"]
    await bob.expect("PRIVMSG")
    await bob.sync()
    await bob.send(f"REDACT #r {ops_msgid} :no")
    fail = await bob.expect("FAIL")
    assert fail.params[:4] == ("REDACT", "REDACT_FORBIDDEN", "#r", ops_msgid)
    await op.send(f"REDACT #r {msgid} :spam")
    for client in (op, bob):
        line = await client.expect("REDACT")
        assert line.source == "op!op@flack"
        assert line.params == ("#r", msgid, "spam")
    assert (await flack.recv_until("DELETED"))[-1] == f"DELETED #r {msgid} op :spam"


async def test_a_notice_stays_a_notice_on_both_wires(chat: IrcServer) -> None:
    (bot,) = await joined(chat, "#n", "bot")
    flack = await chat.flack("flacky")
    await flack.send("JOIN #n")
    await flack.recv_until("END HISTORY")
    await bot.sync()
    await bot.send("NOTICE #n :build 7 passed")
    assert (await flack.recv()).endswith(" bot kind=notice :build 7 passed")
    await flack.send("NOTICE #n deploy done")
    line = await only(bot)
    assert (line.command, line.source, line.params) == (
        "NOTICE",
        "flacky!flacky@flack",
        ("#n", "deploy done"),
    )
    await bot.send("NOTICE #nowhere :anyone?")  # a NOTICE never gets an error back
    assert await bot.sync() == []


async def test_exception_lists_are_348_349_and_346_347(chat: IrcServer) -> None:
    (op,) = await joined(chat, "#x", "op")
    flack = await chat.flack("flacky")
    await flack.send("JOIN #x")
    await flack.recv_until("END HISTORY")
    await op.sync()
    await op.send("MODE #x +bie ba* *ar")
    line = await only(op)
    assert line.params == ("#x", "+bie", "ba*!*@*", "*ar!*@*")
    assert (await flack.recv_until("MODE"))[-1] == "MODE #x op +bie ba*!*@* *ar!*@*"
    bar, baz = await chat.irc("bar"), await chat.irc("baz")
    await bar.send("JOIN #x")
    assert (await bar.expect("473")).params[:2] == ("bar", "#x")  # past the ban, not +i
    await op.send("MODE #x +I b*")
    await op.sync()
    await bar.send("JOIN #x")
    await bar.expect("366")
    await baz.send("JOIN #x")
    assert (await baz.expect("474")).params[:2] == ("baz", "#x")  # no exception for baz
    await op.sync()
    await op.send("MODE #x e", "MODE #x +I")
    got = await op.sync()
    assert commands(got) == ["348", "349", "346", "347"]
    assert got[0].params[:4] == ("op", "#x", "*ar!*@*", "op")
    assert got[1].params[:2] == ("op", "#x")
    assert got[2].params[:4] == ("op", "#x", "b*!*@*", "op")
    assert abs(int(got[2].params[4]) - time.time()) < 60
    await op.send("MODE #x +eeeeee a b c d e f")  # six exceptions in one MODE (MODES=6)
    assert commands(await op.sync()) == ["MODE"]


async def test_no_ctcp_and_ctcp_between_both_wires(chat: IrcServer) -> None:
    op, bob = await joined(chat, "#c", "op", "bob")
    flack = await chat.flack("flacky")
    await flack.send("JOIN #c")
    await flack.recv_until("END HISTORY")
    for client in (op, bob):
        await client.sync()
    await bob.send("PRIVMSG #c :\x01PING 12345\x01", "PRIVMSG #c :\x01ACTION waves\x01")
    assert await bob.sync() == []  # no echo without echo-message
    got = await op.sync()
    assert [(m.command, m.params) for m in got] == [
        ("PRIVMSG", ("#c", "\x01PING 12345\x01")),
        ("PRIVMSG", ("#c", "\x01ACTION waves\x01")),
    ]
    assert got[0].source == "bob!bob@flack"
    assert (await flack.recv_until("CTCP"))[-1] == "CTCP #c bob PING :12345"
    await flack.send("CTCP #c version")
    assert (await only(op)).params == ("#c", "\x01VERSION\x01")
    assert (await flack.recv_until("CTCP"))[-1] == "CTCP #c flacky VERSION :"
    await bob.sync()
    await op.send("MODE #c +C")
    for client in (op, bob):
        await client.sync()
    await bob.send("PRIVMSG #c :\x01PING 1\x01")
    line = await only(bob)
    assert (line.command, line.params[:2]) == ("404", ("bob", "#c"))
    await bob.send("PRIVMSG #c :\x01ACTION still\x01", "NOTICE #c :\x01PING 2\x01")
    assert await bob.sync() == []
    assert [m.params[1] for m in await op.sync()] == ["\x01ACTION still\x01"]
    await flack.send("CTCP #c PING 3")
    assert (await flack.recv_until("ERR"))[-1].startswith("ERR CANNOT_SEND CTCP #c :")
    await bob.send("PRIVMSG op :\x01TIME\x01")  # to a nick: no channel's modes
    assert (await only(op)).params == ("op", "\x01TIME\x01")


async def test_invite_alone_is_336_then_337(chat: IrcServer) -> None:
    (op,) = await joined(chat, "#i", "op")
    bar = await chat.irc("bar")
    await bar.send("INVITE")
    assert [(m.command, m.params[:1]) for m in await bar.sync()] == [("337", ("bar",))]
    await op.send("INVITE bar #i")
    await op.sync()
    await bar.sync()
    await bar.send("INVITE")
    got = await bar.sync()
    assert [(m.command, m.params[:2]) for m in got] == [
        ("336", ("bar", "#i")),
        ("337", ("bar", "End of /INVITE list")),
    ]


async def test_kick_of_several_nicks(chat: IrcServer) -> None:
    op, bar, baz, qux = await joined(chat, "#k", "op", "bar", "baz", "qux")
    await op.send("KICK #k bar,baz :bye")
    got = await qux.sync()
    assert [(m.command, m.params) for m in got] == [
        ("KICK", ("#k", "bar", "bye")),
        ("KICK", ("#k", "baz", "bye")),
    ]
    assert [m.params[1] for m in await bar.sync()] == ["bar"]  # out before baz's
    assert [m.params[1] for m in await baz.sync()] == ["bar", "baz"]
    await op.sync()
    await op.send("KICK #k a,b,c,d,qux")
    line = await only(op)
    assert (line.command, line.params[:2]) == ("407", ("op", "a,b,c,d,qux"))
    assert await qux.sync() == []  # nobody was kicked

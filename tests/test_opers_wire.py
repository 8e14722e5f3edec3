"""Server operators and user modes on the wires: Flack's port, the IRC port (OPER, KILL,
WALLOPS, user MODE, INFO, WHO and WHOIS of operators and bots, the ``bot`` tag), and two
nodes sharing a Redis (an OPER's password never reaches the shared log), and ``flackd
hash-password`` with ``--oper`` on the installed command.

Real sockets on 127.0.0.1; every wait bounded; "nothing else" proved with PING barriers.
The hub's rules themselves are tests/test_opers.py.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from flackd.hub.credentials import hash_password, verify_password
from flackd.store.sqlite import SqliteStore
from tests.ircsupport import IrcServer, start_irc_server
from tests.process import FLACKD, flackd_process
from tests.redissupport import redis_server, start_node
from tests.support import WAIT, LineClient

PASSWORD = "sesame-oper"
OPERS = {"admin": hash_password(PASSWORD, n=1 << 10)}


@pytest.fixture
async def chat(nursery: trio.Nursery) -> IrcServer:
    return await start_irc_server(nursery, opers=OPERS)


async def test_oper_kill_and_wallops_on_flacks_port(chat: IrcServer) -> None:
    alice = await chat.flack("alice")
    bob = await chat.flack("bob")
    carol = await chat.flack("carol")
    for client in (alice, bob):
        await client.join("#dev")
    assert await alice.recv() == "JOIN #dev bob"
    await carol.send("MODE carol +w")
    assert await carol.recv() == "MODE carol carol +w"
    await bob.send("KILL alice")
    assert (await bob.recv()).startswith("ERR NOT_SERVER_OPERATOR KILL ")
    await alice.send("OPER admin wrong")
    assert (await alice.recv()).startswith("ERR BAD_PASSWORD OPER ")
    await alice.send(f"OPER admin {PASSWORD}")
    assert await alice.recv() == "MODE alice alice +o"
    assert (await alice.recv()).startswith("OK OPER admin ")
    await alice.send("WALLOPS deploy at noon")
    assert await alice.recv() == "WALLOPS alice :deploy at noon"
    assert await carol.recv() == "WALLOPS alice :deploy at noon"
    await bob.expect_quiet()  # not +w
    await alice.send("KILL bob flooding")
    assert await alice.recv() == "QUIT bob :Killed (alice (flooding))"
    assert (await alice.recv()).startswith("OK KILL bob ")
    assert await bob.expect_eof() == ["BYE KILLED alice :Killed (alice (flooding))"]
    await carol.expect_quiet()


async def test_oper_and_user_modes_on_the_irc_port(chat: IrcServer) -> None:
    op = await chat.irc("op")
    await op.send("OPER admin")
    assert (await op.expect("461")).params[1] == "OPER"
    await op.send("OPER nobody x")
    assert [m.command for m in await op.sync()] == ["491"]
    await op.send("OPER admin wrong")
    got = await op.sync()
    assert [(m.command, len(m.params)) for m in got] == [("464", 2)]
    await op.send(f"OPER admin {PASSWORD}")
    got = await op.sync()
    assert [m.command for m in got] == ["MODE", "381"]
    assert got[0].source is not None
    assert got[0].source.startswith("op!")
    assert got[0].params == ("op", "+o")
    await op.send("MODE op", "MODE op +iwB", "MODE op", "MODE op +x", "MODE op +o")
    got = await op.sync()
    assert [m.command for m in got] == ["221", "MODE", "221", "501"]  # +o: nothing said
    assert got[0].params[1] == "+io"
    assert got[1].params == ("op", "+wB")
    assert got[2].params[1] == "+iBow"
    await op.send("MODE op -o", "KILL nobody", "WALLOPS :x")
    got = await op.sync()
    assert [m.command for m in got] == ["MODE", "481", "481"]
    assert got[0].params == ("op", "-o")


async def test_kill_and_wallops_across_irc_and_flack(chat: IrcServer) -> None:
    op = await chat.irc("op")
    watcher = await chat.irc("watcher")
    victim = await chat.irc("victim")
    flacky = await chat.flack("flacky")
    await flacky.send("MODE flacky +w")
    assert await flacky.recv() == "MODE flacky flacky +w"
    await watcher.send("MODE watcher +w", "JOIN #x")
    await victim.send("JOIN #x")
    await victim.expect("366")
    await watcher.sync()
    await victim.send("KILL op :no")
    assert [m.command for m in await victim.sync()] == ["481"]
    await op.send(f"OPER admin {PASSWORD}", "WALLOPS :maintenance soon")
    got = await op.sync()
    assert [m.command for m in got] == ["MODE", "381", "WALLOPS"]  # echoed to its sender
    (wallops,) = await watcher.sync()
    assert (wallops.command, wallops.params) == ("WALLOPS", ("maintenance soon",))
    assert wallops.source is not None
    assert wallops.source.startswith("op!")
    assert await flacky.recv() == "WALLOPS op :maintenance soon"
    await op.send("KILL victim :spam")
    assert await op.sync() == []
    assert await victim.line() == "ERROR :Closing link: Killed (op (spam))"
    assert await victim.eof()
    (quit_line,) = await watcher.sync()
    assert quit_line.command == "QUIT"
    assert "Killed (op (spam))" in quit_line.params[0]
    await op.send("KILL flacky")
    assert await flacky.expect_eof() == ["BYE KILLED op :Killed (op (no reason given))"]


async def test_who_whois_and_the_bot_tag(chat: IrcServer) -> None:
    op = await chat.irc("op")
    bot = await chat.irc("bot")
    user = await chat.irc("user", caps="message-tags")
    plain = await chat.irc("plain")
    for client in (op, bot, user, plain):
        await client.send("JOIN #c")
        await client.expect("366")
    await op.send(f"OPER admin {PASSWORD}")
    await bot.send("MODE bot +B")
    await op.sync()
    assert [m.command for m in await bot.sync()] == ["JOIN", "JOIN", "MODE"]
    await user.sync()
    await plain.sync()
    await user.send("WHO #c", "WHO op %tnf,42")
    got = await user.sync()
    flags = {m.params[5]: m.params[6] for m in got if m.command == "352"}
    assert flags == {"bot": "HB", "op": "H*@", "plain": "H", "user": "H"}
    (whox,) = [m for m in got if m.command == "354"]
    assert whox.params[1:] == ("42", "op", "H*")
    await user.send("WHOIS op", "WHOIS bot", "WHOIS plain")
    got = await user.sync()
    assert [(m.command, m.params[1]) for m in got if m.command in ("313", "335")] == [
        ("313", "op"),
        ("335", "bot"),
    ]
    await bot.send("PRIVMSG #c :beep", "PRIVMSG user :boop")
    await bot.sync()
    channel, private = await user.sync()
    assert "bot" in channel.tags
    assert "bot" in private.tags
    (untagged,) = await plain.sync()
    assert untagged.tags == {}
    await op.send("PRIVMSG #c :not a bot")
    await op.sync()
    (human,) = await user.sync()
    assert "bot" not in human.tags
    await bot.send("MODE bot -B", "PRIVMSG #c :human now")
    await bot.sync()
    (now_human,) = await user.sync()
    assert "bot" not in now_human.tags


async def test_isupport_004_and_info(chat: IrcServer) -> None:
    client = await chat.irc()
    got = await client.register("someone")
    (myinfo,) = [m for m in got if m.command == "004"]
    assert myinfo.params[3] == "Biow"
    tokens = {p for m in got if m.command == "005" for p in m.params[1:-1]}
    assert "BOT=B" in tokens
    await client.send("INFO", "INFO irc.test", "INFO *.test", "INFO nowhere.example")
    got = await client.sync()
    commands = [m.command for m in got]
    assert commands.count("374") == 3
    assert set(commands) == {"371", "374", "402"}
    assert got[-1].command == "402"
    assert got[-1].params[1] == "nowhere.example"


async def test_a_resumed_irc_operator_is_still_one(chat: IrcServer) -> None:
    flack = await LineClient.connect(chat.port, "alice")
    token = await flack.register("alice")
    await flack.send(f"OPER admin {PASSWORD}", "MODE alice +B")
    assert await flack.recv() == "MODE alice alice +o"
    await flack.recv()
    assert await flack.recv() == "MODE alice alice +B"
    await flack.aclose()
    irc = await chat.irc()
    await irc.send(f"PASS {token}", "NICK alice", "USER alice 0 * :Alice")
    await irc.expect("422")
    await irc.send("MODE alice")
    assert (await irc.expect("221")).params[1] == "+iBo"
    await irc.send("WALLOPS :still here")
    assert (await irc.expect("WALLOPS")).params == ("still here",)


async def test_lusers_counts_the_server_operators_online(chat: IrcServer) -> None:
    watcher = await chat.irc("watcher")
    await watcher.send("LUSERS")
    assert (await watcher.expect("252")).params[1] == "0"
    alice = await chat.flack("alice")
    await alice.send(f"OPER admin {PASSWORD}")
    assert await alice.recv() == "MODE alice alice +o"
    await alice.recv()
    op = await chat.irc("op")
    await op.send(f"OPER admin {PASSWORD}")
    await op.expect("381")
    await watcher.send("LUSERS")
    got = await watcher.expect("252")
    assert got.params[1:] == ("2", "operator(s) online")  # one on each wire
    await alice.send("MODE alice -o")
    assert await alice.recv() == "MODE alice alice -o"
    await op.send("QUIT :bye")
    await op.expect("ERROR")  # the QUIT is carried out: op's session has ended
    await watcher.send("LUSERS")
    assert (await watcher.expect("252")).params[1] == "0"


class HeldCheck:
    """Stands in for the hub's ``check_oper``: the real check, but only once the test says
    so. A check run on the event loop would block the loop in ``release.wait`` (the test
    could not go on until it times out) and then refuse the password, so the tests below
    fail unless the check runs in a worker thread."""

    def __init__(self, real: object) -> None:
        self.real = real
        self.started = threading.Event()
        self.release = threading.Event()

    def __call__(self, name: str, password: str) -> str:
        self.started.set()
        if not self.release.wait(WAIT):
            return "BAD_PASSWORD"  # held on the loop: the loop was stuck
        assert callable(self.real)
        verdict = self.real(name, password)
        assert isinstance(verdict, str)
        return verdict

    async def under_way(self) -> None:
        assert await trio.to_thread.run_sync(self.started.wait, WAIT)


@pytest.fixture
def held(chat: IrcServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[HeldCheck]:
    check = HeldCheck(chat.server.hub.check_oper)
    monkeypatch.setattr(chat.server.hub, "check_oper", check)
    yield check
    check.release.set()


async def test_an_opers_password_is_checked_off_the_loop_and_its_lines_wait(
    chat: IrcServer, held: HeldCheck
) -> None:
    alice = await chat.flack("alice")
    bob = await chat.flack("bob")
    await alice.send(f"OPER admin {PASSWORD}", "PING after")
    await held.under_way()
    await bob.send("PING meanwhile")  # the server serves others while scrypt runs
    assert await bob.recv() == "PONG meanwhile"
    held.release.set()
    assert await alice.recv() == "MODE alice alice +o"
    assert (await alice.recv()).startswith("OK OPER admin ")
    assert await alice.recv() == "PONG after"  # alice's next line waited for her OPER


async def test_an_oper_before_registering_is_refused_without_a_check(
    chat: IrcServer, held: HeldCheck
) -> None:
    client = await LineClient.connect(chat.port, "early")
    await client.send(f"OPER admin {PASSWORD}", "PING after")
    assert (await client.recv()).startswith("ERR NOT_REGISTERED OPER ")
    assert await client.recv() == "PONG after"
    assert not held.started.is_set()  # no scrypt for a connection that is nobody yet


async def test_an_irc_oper_checked_off_the_loop_with_durable_state(
    nursery: trio.Nursery, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SqliteStore.open(tmp_path)
    try:
        chat = await start_irc_server(nursery, store=store, opers=OPERS)
        check = HeldCheck(chat.server.hub.check_oper)
        monkeypatch.setattr(chat.server.hub, "check_oper", check)
        op = await chat.irc("op")
        bob = await chat.flack("bob")
        await op.send(f"OPER admin {PASSWORD}", "MODE op")
        await check.under_way()
        await bob.send("PING meanwhile")
        assert await bob.recv() == "PONG meanwhile"
        check.release.set()
        got = await op.sync()
        assert [m.command for m in got] == ["MODE", "381", "221"]
        assert got[2].params[1] == "+io"  # the MODE query saw the OPER carried out
        assert chat.server.committer is not None
        await chat.server.committer.flush()
        (session,) = [s for s in store.load().sessions if s.nick == "op"]
        assert "o" in session.modes  # stored, as every OPER is
        await op.send("OPER admin wrong")
        await check.under_way()
        assert [(m.command, len(m.params)) for m in await op.sync()] == [("464", 2)]
    finally:
        store.close()


async def test_operators_across_two_nodes_and_no_password_in_the_log(tmp_path: Path) -> None:
    async with redis_server(tmp_path) as redis, trio.open_nursery() as nursery:
        a = await start_node(nursery, redis, "a", opers=OPERS)
        b = await start_node(nursery, redis, "b")  # no --oper of its own
        alice = await a.client("alice", "#ops")
        bob = await b.client("bob")
        carol = await b.client("carol")
        await bob.join("#ops")
        assert await alice.recv() == "JOIN #ops bob"
        await carol.send("MODE carol +w")
        assert await carol.recv() == "MODE carol carol +w"
        await bob.send(f"OPER admin {PASSWORD}")  # node b has no operators
        assert (await bob.recv()).startswith("ERR UNKNOWN_OPER OPER admin ")
        await alice.send("OPER admin not-it")
        assert (await alice.recv()).startswith("ERR BAD_PASSWORD OPER ")
        await alice.send(f"OPER admin {PASSWORD}")
        assert await alice.recv() == "MODE alice alice +o"
        assert (await alice.recv()).startswith("OK OPER admin ")
        await alice.send("WALLOPS from node a")
        assert await alice.recv() == "WALLOPS alice :from node a"
        assert await carol.recv() == "WALLOPS alice :from node a"
        await alice.send("KILL bob bye")
        assert await alice.recv() == "QUIT bob :Killed (alice (bye))"
        assert (await alice.recv()).startswith("OK KILL bob ")
        assert await bob.expect_eof() == ["BYE KILLED alice :Killed (alice (bye))"]
        log = await redis.log_text()
        assert "Oper" in log  # the OPERs are in the log ...
        assert PASSWORD not in log  # ... with their verdicts, never the password
        assert "not-it" not in log
        nursery.cancel_scope.cancel()


async def test_hash_password_prints_a_hash_that_oper_accepts() -> None:
    made = await trio.run_process(
        [str(FLACKD), "hash-password"], stdin=b"correct-horse\n", capture_stdout=True
    )
    encoded = made.stdout.decode().strip()
    assert encoded.startswith("scrypt$16384$8$1$")
    assert "correct-horse" not in encoded
    assert verify_password("correct-horse", encoded)
    refused = await trio.run_process(
        [str(FLACKD), "hash-password"], stdin=b"\n", capture_stderr=True, check=False
    )
    assert refused.returncode == 1
    assert b"give a password" in refused.stderr
    async with flackd_process("--oper", f"admin:{encoded}") as flackd:
        client = await LineClient.connect(flackd.port, "alice")
        await client.register("alice")
        await client.send("OPER admin correct-horse")
        assert await client.recv() == "MODE alice alice +o"
        await client.aclose()
        assert await flackd.terminate() == 0
    assert not any("correct-horse" in line or encoded in line for line in flackd.log)
    bad = await trio.run_process(
        [str(FLACKD), "--port", "0", "--oper", "admin:correct-horse"],
        capture_stderr=True,
        check=False,
    )
    assert bad.returncode == 2
    assert b"not a hash flackd makes" in bad.stderr

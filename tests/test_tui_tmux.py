"""flackcli end to end in a real terminal: tmux runs the installed ``flackcli`` against an
in-process flackd on an ephemeral loopback port, or against the installed ``flackd``
command, which the restart tests stop by its PID and start again on the same port
(``tests/restart.py``).

Each test uses a private tmux server (``tmux -L <unique name>``) and kills only that server.
Waiting means polling the captured screen for the expected text, bounded by an overall
timeout; nothing waits a fixed time. Every flackcli gets its own XDG folders under the
test's tmp_path, so nothing touches the real home. scripts/setup.sh installs tmux; without
it these tests are skipped.
"""

from __future__ import annotations

import itertools
import os
import re
import shlex
import shutil
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio

from flackcli.ui.view import SESSION_LOST_TEXT
from tests.restart import flackd_help, restartable_flackd
from tests.support import LineClient, RunningServer, cut, run_server

TMUX = shutil.which("tmux")
FLACKCLI = Path(sys.executable).with_name("flackcli")
SCREEN_WAIT = 30.0
pytestmark = pytest.mark.skipif(
    TMUX is None, reason="tmux is missing (scripts/setup.sh installs it)"
)

_servers = itertools.count(1)


class Terminal:
    """One tmux window running flackcli."""

    def __init__(self, socket: str, name: str) -> None:
        self.socket = socket
        self.name = name

    async def tmux(self, *args: str) -> str:
        assert TMUX is not None
        result = await trio.run_process([TMUX, "-L", self.socket, *args], capture_stdout=True)
        return result.stdout.decode("utf-8", "replace")

    async def screen(self) -> str:
        return await self.tmux("capture-pane", "-p", "-t", self.name)

    async def type(self, *keys: str) -> None:
        await self.tmux("send-keys", "-t", self.name, *keys)

    async def say(self, text: str) -> None:
        await self.type("-l", text)
        await self.type("Enter")

    async def wait_for(self, check: str | Callable[[str], bool]) -> str:
        """Poll the screen until ``check`` (a text, or a predicate) holds."""
        screen = ""
        with trio.move_on_after(SCREEN_WAIT):
            while True:
                screen = await self.screen()
                if (check in screen) if isinstance(check, str) else check(screen):
                    return screen
                await trio.sleep(0.1)  # polling interval, not a readiness guess
        raise AssertionError(f"{self.name}: gave up waiting for {check!r}; screen:\n{screen}")


class Tmux:
    def __init__(self, socket: str, home: Path) -> None:
        self.socket = socket
        self.home = home

    async def open(self, name: str, port: int, *extra: str, nick: str | None = None) -> Terminal:
        """Start flackcli for ``name`` (its own XDG folders) in a 110x30 window."""
        base = self.home / name
        env = {
            "XDG_CONFIG_HOME": str(base / "config"),
            "XDG_STATE_HOME": str(base / "state"),
            "XDG_DATA_HOME": str(base / "data"),
            "TERM": "xterm-256color",
            "LANG": "C.UTF-8",
        }
        argv = [str(FLACKCLI), "--server", f"127.0.0.1:{port}"]
        if nick is not None:
            argv += ["--nick", nick]
        command = " ".join(
            ["env", *(f"{k}={shlex.quote(v)}" for k, v in env.items()), *map(shlex.quote, argv)]
        )
        terminal = Terminal(self.socket, name)
        assert TMUX is not None
        args = [TMUX, "-L", self.socket]
        listed = await trio.run_process([*args, "has-session"], check=False, capture_stderr=True)
        verb = "new-window" if listed.returncode == 0 else "new-session"
        target = ["-n", name] if verb == "new-window" else ["-s", "flack", "-n", name]
        size = [] if verb == "new-window" else ["-x", "110", "-y", "30"]
        await trio.run_process([*args, verb, "-d", *target, *size, command, *extra])
        terminal.name = f"flack:{name}"
        return terminal


@asynccontextmanager
async def tmux(tmp_path: Path) -> AsyncIterator[Tmux]:
    socket = f"flacktest-{os.getpid()}-{next(_servers)}"
    try:
        yield Tmux(socket, tmp_path)
    finally:
        assert TMUX is not None
        await trio.run_process([TMUX, "-L", socket, "kill-server"], check=False,
                               capture_stderr=True)  # fmt: skip


async def netcat_user(port: int, nick: str, channel: str) -> LineClient:
    client = await LineClient.connect(port, nick)
    await client.register(nick)
    await client.join(channel)
    return client


async def test_two_terminals_and_netcat_chat(tmp_path: Path, flackd: RunningServer) -> None:
    async with tmux(tmp_path) as tm:
        alice = await tm.open("alice", flackd.port, nick="alice")
        bob = await tm.open("bob", flackd.port, nick="bob")
        for person in (alice, bob):
            await person.wait_for(" live ")
            await person.say("/join #test")
            await person.wait_for("[#test]")
        carol = await netcat_user(flackd.port, "carol", "#test")
        await alice.say("hello from alice")
        await bob.wait_for("hello from alice")
        line = await carol.recv_until("MSG #test")
        assert line[-1].endswith(" alice :hello from alice")
        await carol.send("MSG #test hi from netcat")
        for person in (alice, bob):
            await person.wait_for("hi from netcat")
        screen = await alice.wait_for("carol")  # the member list shows the netcat user
        assert "bob" in screen


async def test_a_cut_connection_catches_up_once(tmp_path: Path, flackd: RunningServer) -> None:
    async with tmux(tmp_path) as tm:
        alice = await tm.open("alice", flackd.port, nick="alice")
        await alice.wait_for(" live ")
        await alice.say("/join #test")
        await alice.wait_for("[#test]")
        carol = await netcat_user(flackd.port, "carol", "#test")
        await carol.send("MSG #test before the cut")
        await alice.wait_for("before the cut")
        cut(flackd.server, "alice")
        await carol.recv_until("QUIT alice")
        await carol.send(*[f"MSG #test missed number {i}" for i in range(1, 4)])
        screen = await alice.wait_for("missed number 3")
        await carol.recv_until("JOIN #test alice")  # alice is back in the channel
        screen = await alice.wait_for(" live ")
        for i in range(1, 4):
            assert screen.count(f"missed number {i}") == 1, screen
        assert screen.count("before the cut") == 1, screen
        assert "some messages were missed" not in screen


async def test_restarting_flackcli_comes_back_where_you_were(
    tmp_path: Path, flackd: RunningServer
) -> None:
    async with tmux(tmp_path) as tm:
        alice = await tm.open("alice", flackd.port, nick="alice")
        await alice.wait_for(" live ")
        await alice.say("/join #first")
        await alice.wait_for("[#first]")
        await alice.say("/join #second")
        await alice.wait_for("[#second]")
        await alice.type("C-q")
        carol = await netcat_user(flackd.port, "carol", "#second")
        await carol.send("MSG #second sent while alice was away")
        await carol.recv_until("MSG #second")
        # Same XDG folders, no --nick: flackcli remembers who and where alice was.
        again = await _reopen(tm, "alice2", tmp_path / "alice", flackd.port)
        screen = await again.wait_for("sent while alice was away")
        assert "[#second]" in screen  # the channel alice was last in
        assert "#first" in screen  # still in her other channel
        assert "[alice]" in screen


async def _reopen(tm: Tmux, name: str, home: Path, port: int) -> Terminal:
    """Start flackcli again with the XDG folders of an earlier run."""
    link = tm.home / name
    if not link.exists():
        link.symlink_to(home, target_is_directory=True)
    return await tm.open(name, port)


async def test_a_server_restart_is_shown_as_a_gap(tmp_path: Path, nursery: trio.Nursery) -> None:
    first = trio.CancelScope()
    port = await nursery.start(run_server, first)
    async with tmux(tmp_path) as tm:
        alice = await tm.open("alice", port, nick="alice")
        await alice.wait_for(" live ")
        await alice.say("/join #test")
        await alice.wait_for("[#test]")
        carol = await netcat_user(port, "carol", "#test")
        await carol.send("MSG #test said before the restart")
        await alice.wait_for("said before the restart")
        first.cancel()  # flackd dies, and its history with it
        await alice.wait_for(lambda screen: " live " not in screen)
        await nursery.start(run_server, trio.CancelScope(), port)
        screen = await alice.wait_for("some messages were missed")
        assert screen.count("said before the restart") == 1
        await alice.wait_for(" live ")


async def test_first_run_asks_for_a_nick_once(tmp_path: Path, flackd: RunningServer) -> None:
    async with tmux(tmp_path) as tm:
        first = await tm.open("dora", flackd.port)  # no --nick, empty XDG folders
        await first.wait_for("Server: 127.0.0.1:")
        await first.type("Enter")  # keep the offered server
        await first.wait_for("Nick: ")
        await first.type("C-u")
        await first.say("dora")
        await first.wait_for(" live ")
        await first.wait_for("[dora]")
        await first.type("C-q")
        again = await _reopen(tm, "dora-again", tmp_path / "dora", flackd.port)
        screen = await again.wait_for(" live ")
        assert "[dora]" in screen
        assert "Nick:" not in screen


async def test_operators_modes_and_kicks_in_words(tmp_path: Path, flackd: RunningServer) -> None:
    async with tmux(tmp_path) as tm:
        alice = await tm.open("alice", flackd.port, nick="alice")
        await alice.wait_for(" live ")
        await alice.say("/join #ops")  # alice makes #ops: its operator
        await alice.wait_for("@alice")  # the member pane marks operators
        bob = await netcat_user(flackd.port, "bob", "#ops")
        await alice.wait_for("bob joined #ops")
        await alice.say("/mode")
        await alice.wait_for("modes of #ops: +n")
        await alice.say("/op bob")
        await alice.wait_for("alice sets mode +o bob")
        await alice.wait_for("@bob")
        assert (await bob.recv_until("MODE #ops"))[-1] == "MODE #ops alice +o bob"
        await alice.say("/ban spam*")
        await alice.say("/ban")
        await alice.wait_for("spam*!*@* (set by alice")
        await alice.say("/mode +eC spam1")
        await alice.wait_for("alice sets mode +eC spam1!*@*")
        await alice.say("/mode +e")
        await alice.wait_for("#ops: 1 ban exception(s)")
        await alice.wait_for("spam1!*@* (set by alice")
        await alice.say("/invite")
        await alice.wait_for("invited to 0 channel(s)")
        await alice.say("/mode -C")
        assert (await bob.recv_until("MODE #ops alice -C"))[-1] == "MODE #ops alice -C"
        await bob.send("CTCP #ops PING 7")
        await alice.wait_for("bob sent CTCP PING 7")
        await bob.send("KICK #ops alice enough for today")
        screen = await alice.wait_for("you were kicked from #ops by bob (enough for")
        assert "[#ops]" not in screen  # the channel is left, as after /part


#: What the screen says when the server forgot the session (the first row of the line: it
#: wraps in the message pane), and what it must not show instead: the raw refusal.
SESSION_LOST_SHOWN = SESSION_LOST_TEXT.split(";")[0]
RAW_UNKNOWN_TOKEN = ("RESUME:", "token is unknown", "UNKNOWN_TOKEN")


async def test_a_restart_without_data_dir_is_said_in_words_and_the_session_comes_back(
    tmp_path: Path,
) -> None:
    async with restartable_flackd() as flackd, tmux(tmp_path) as tm:
        alice = await tm.open("alice", flackd.port, nick="alice")
        await alice.wait_for(" live ")
        await alice.say("/join #test")
        await alice.wait_for("[#test]")
        carol = await netcat_user(flackd.port, "carol", "#test")
        await carol.send("MSG #test said before the restart")
        await alice.wait_for("said before the restart")
        await flackd.restart()  # SIGTERM by PID; every session is forgotten
        screen = await alice.wait_for(SESSION_LOST_SHOWN)
        screen = await alice.wait_for(lambda s: " live " in s and "[#test]" in s)
        carol = await netcat_user(flackd.port, "carol", "#test")
        await carol.send("MSG #test said after the restart")
        screen = await alice.wait_for("said after the restart")
        assert SESSION_LOST_SHOWN in screen  # said in the channel alice looks at
        assert "[alice]" in screen  # the same nick
        assert "[alice] #test" in screen  # the same nick, back in the same channel
        assert screen.count("said before the restart") == 1, screen
        assert "some messages were missed" in screen  # the old history is gone
        for raw in RAW_UNKNOWN_TOKEN:
            assert raw not in screen, screen
        await alice.type("C-p")  # the server buffer: the notice, no raw error either
        screen = await alice.wait_for("registered as alice")
        assert SESSION_LOST_SHOWN in screen
        for raw in RAW_UNKNOWN_TOKEN:
            assert raw not in screen, screen


HAS_DATA_DIR = "--data-dir" in flackd_help()


@pytest.mark.skipif(
    not HAS_DATA_DIR, reason="flackd --help does not list --data-dir yet (durable state)"
)
async def test_a_restart_with_data_dir_resumes_with_no_gap(tmp_path: Path) -> None:
    data = tmp_path / "flackd-data"
    async with restartable_flackd("--data-dir", str(data)) as flackd, tmux(tmp_path) as tm:
        alice = await tm.open("alice", flackd.port, nick="alice")
        await alice.wait_for(" live ")
        await alice.say("/join #test")
        await alice.wait_for("[#test]")
        carol = await netcat_user(flackd.port, "carol", "#test")
        await carol.send("MSG #test said before the restart")
        await alice.wait_for("said before the restart")
        await flackd.restart()  # SIGTERM by PID; the state is in the data directory
        await alice.wait_for(lambda screen: " live " not in screen)
        screen = await alice.wait_for(lambda s: " live " in s and "[#test]" in s)
        carol = await netcat_user(flackd.port, "carol2", "#test")
        await carol.send("MSG #test said after the restart")
        screen = await alice.wait_for("said after the restart")
        assert "[alice]" in screen  # the same nick
        assert "[alice] #test" in screen  # the same nick, in the same channel
        assert screen.count("said before the restart") == 1, screen
        assert "some messages were missed" not in screen  # no gap line
        assert SESSION_LOST_SHOWN not in screen  # the session was resumed


# -- private conversations (protocol 1.1), against the installed flackd ------------------


class Proxy:
    """A loopback TCP relay in front of flackd that the test can take down (every
    connection through it closed, new ones refused) and bring back: a dropped network
    for the clients behind it, while flackd itself and everyone else stay up."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.up = True
        self._scopes: set[trio.CancelScope] = set()

    async def handle(self, client: trio.SocketStream) -> None:
        async with client:
            if not self.up:
                return
            with trio.CancelScope() as scope:
                self._scopes.add(scope)
                try:
                    server = await trio.open_tcp_stream("127.0.0.1", self.port)
                    async with server, trio.open_nursery() as nursery:
                        nursery.start_soon(self._pipe, client, server, nursery.cancel_scope)
                        nursery.start_soon(self._pipe, server, client, nursery.cancel_scope)
                finally:
                    self._scopes.discard(scope)

    @staticmethod
    async def _pipe(src: trio.SocketStream, dst: trio.SocketStream, done: trio.CancelScope) -> None:
        try:
            async for data in src:
                await dst.send_all(data)
        except trio.BrokenResourceError:
            pass
        done.cancel()

    def down(self) -> None:
        self.up = False
        for scope in list(self._scopes):
            scope.cancel()


async def proxied(nursery: trio.Nursery, port: int) -> tuple[Proxy, int]:
    proxy = Proxy(port)
    listeners = await nursery.start(trio.serve_tcp, proxy.handle, 0)
    return proxy, listeners[0].socket.getsockname()[1]


async def test_a_private_conversation_catches_up_after_a_reconnect_and_edits_show(
    tmp_path: Path, nursery: trio.Nursery
) -> None:
    async with restartable_flackd() as flackd, tmux(tmp_path) as tm:
        proxy, via = await proxied(nursery, flackd.port)
        alice = await tm.open("alice", via, nick="alice")  # through the proxy
        bob = await tm.open("bob", flackd.port, nick="bob")
        for person in (alice, bob):
            await person.wait_for(" live ")
        await bob.say("/query alice")
        await bob.wait_for("[alice]")
        await alice.say("/msg bob helo bob")
        await alice.wait_for("[bob]")  # alice's window with bob is open and shown
        await bob.wait_for("helo bob")
        await bob.say("hi alice")
        await alice.wait_for("hi alice")
        proxy.down()  # alice's network drops
        await alice.wait_for(lambda screen: " live " not in screen)
        await bob.say("missed one")
        await bob.say("missed two")
        await bob.wait_for("missed two")
        proxy.up = True
        await alice.say("/reconnect")
        screen = await alice.wait_for(lambda s: " live " in s and "missed two" in s)
        for text in ("helo bob", "hi alice", "missed one", "missed two"):
            assert screen.count(text) == 1, screen
        assert "some messages were missed" not in screen
        await alice.say("/edit")  # the old text comes back in the input line
        await alice.wait_for("[bob] edit: helo bob")
        await alice.type("C-a", "Right", "Right", "l")  # helo -> hello
        await alice.type("Enter")
        screen = await bob.wait_for("hello bob (edited)")  # in place, on bob's screen
        assert "helo bob" not in screen
        await alice.wait_for("hello bob (edited)")


async def test_coming_back_shows_unread_private_messages_at_once(
    tmp_path: Path, nursery: trio.Nursery
) -> None:
    """alice's connection drops; bob writes her twice and edits one; alice comes back and
    sees a count on the bob window at once, then finds both messages, one edited."""
    async with restartable_flackd() as flackd, tmux(tmp_path) as tm:
        proxy, via = await proxied(nursery, flackd.port)
        alice = await tm.open("alice", via, nick="alice")
        await alice.wait_for(" live ")
        await alice.say("/join #general")
        await alice.wait_for("[#general]")
        bob = await netcat_user(flackd.port, "bob", "#general")
        proxy.down()
        await alice.wait_for(lambda screen: " live " not in screen)
        await bob.send("MSG alice are you there?", "MSG alice lunch at noon?")
        first = (await bob.recv_until("MSG alice"))[-1].split()[2]
        await bob.recv_until("MSG alice")
        await bob.send(f"EDIT {first} are you there, alice?")
        await bob.recv_until("EDITED")
        proxy.up = True
        await alice.say("/reconnect")
        screen = await alice.wait_for(
            lambda s: " live " in s and re.search(BOB_2_UNREAD, s) is not None
        )
        assert "[#general]" in screen  # still where she was: the count says it
        await alice.say("/query bob")
        screen = await alice.wait_for("lunch at noon?")
        assert "are you there, alice? (edited)" in screen
        assert screen.count("lunch at noon?") == 1
        assert not re.search(BOB_2_UNREAD, screen)  # read now


#: The bob row of the channel list with a count of 2 (a private message counts as a
#: mention there, so the badge may read "@2").
BOB_2_UNREAD = r"\d bob +@?2 "

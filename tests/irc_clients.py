"""Real IRC clients against the installed flackd: weechat-headless and irssi in tmux.

Both clients are third-party programs that give no readiness signal a test could wait on,
so waiting means polling their log files (weechat's logger, irssi's autolog and rawlog)
in small steps, bounded by :data:`CLIENT_WAIT`; nothing waits a fixed time. Every client
keeps all its files under the test's tmp_path. weechat is ended by the PID this module
started; irssi runs in a private tmux server (``tmux -L <unique name>``), and only that
server is killed. Debian packages: weechat-headless and weechat-plugins (the fifo plugin),
irssi, tmux.
"""

from __future__ import annotations

import itertools
import os
import shlex
import shutil
import signal
import subprocess
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import trio

from tests.process import FlackdProcess, flackd_process, free_port
from tests.support import LineClient

#: Bound for every wait on a third-party client (it connects and joins in about a second).
CLIENT_WAIT = 20.0
#: Polling interval for log files (not a readiness guess: the deadline is CLIENT_WAIT).
POLL = 0.05

WEECHAT = shutil.which("weechat-headless")
IRSSI = shutil.which("irssi")
TMUX = shutil.which("tmux")

_sessions = itertools.count(1)


def weechat_fifo_plugin() -> Path | None:
    """weechat's fifo plugin (Debian ships it in weechat-plugins, not weechat-core)."""
    if WEECHAT is None:
        return None
    lib = Path(WEECHAT).resolve().parent.parent / "lib"
    for candidate in (*lib.glob("*/weechat/plugins/fifo.so"), lib / "weechat/plugins/fifo.so"):
        if candidate.exists():
            return candidate
    return None


@asynccontextmanager
async def flackd_with_irc(*flags: str) -> AsyncIterator[FlackdProcess]:
    """The installed flackd with an IRC listener on a free port; started a second time
    on another port if the first one was taken in between."""
    async with AsyncExitStack() as stack:
        process: FlackdProcess | None = None
        for attempt in (1, 2):
            failed = False
            try:
                process = await stack.enter_async_context(
                    flackd_process("--irc-port", str(free_port()), *flags)
                )
            except* trio.TooSlowError:
                if attempt == 2:
                    raise
                failed = True
            if not failed:
                break
        assert process is not None
        yield process


async def flack_user(flackd: FlackdProcess, nick: str, channel: str) -> LineClient:
    """A netcat-style Flack user, registered and in ``channel``."""
    client = await flackd.client(nick)
    await client.register(nick)
    await client.join(channel)
    return client


def _read(path: Path) -> str:
    try:
        return path.read_text("utf-8", "replace")
    except FileNotFoundError:
        return ""


async def wait_line(path: Path, *words: str, evidence: Sequence[Path] = ()) -> str:
    """The first line of the file at ``path`` that contains every one of ``words``,
    polling until it is written (bounded). On timeout the assertion shows the file and
    the ``evidence`` files (a client's wire log)."""
    with trio.move_on_after(CLIENT_WAIT):
        while True:
            for line in _read(path).splitlines():
                if all(word in line for word in words):
                    return line
            await trio.sleep(POLL)
    shown = "\n".join(f"--- {p}:\n{_read(p)[-4000:]}" for p in (path, *evidence))
    raise AssertionError(f"gave up waiting for a line with {words!r} in {path}\n{shown}")


class Weechat:
    """One weechat-headless, driven through its fifo and read through its logger."""

    def __init__(self, home: Path, process: trio.Process, server: str) -> None:
        self.home = home
        self.process = process
        self.server = server

    def log(self, buffer: str) -> Path:
        """The logger file of a buffer: ``#general``, a nick, or ``server``."""
        if buffer == "server":
            return self.home / "logs" / f"irc.server.{self.server}.weechatlog"
        return self.home / "logs" / f"irc.{self.server}.{buffer}.weechatlog"

    @property
    def evidence(self) -> list[Path]:
        return [self.log("server"), self.home / "weechat.log"]

    async def wait_line(self, buffer: str, *words: str) -> str:
        return await wait_line(self.log(buffer), *words, evidence=self.evidence)

    async def fifo(self) -> Path:
        """The fifo, named after the PID, once the plugin has created it."""
        path = self.home / f"weechat_fifo_{self.process.pid}"
        with trio.move_on_after(CLIENT_WAIT):
            while not path.exists():
                await trio.sleep(POLL)
            return path
        raise AssertionError(f"weechat made no fifo at {path}; log:\n{_read(self.evidence[1])}")

    async def run(self, buffer: str, text: str) -> None:
        """Type ``text`` into a buffer (``#general``, or ``server`` for commands)."""
        name = f"irc.server.{self.server}" if buffer == "server" else f"irc.{self.server}.{buffer}"
        fd = os.open(await self.fifo(), os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.write(fd, f"{name} *{text}\n".encode())
        finally:
            os.close(fd)


@asynccontextmanager
async def weechat(home: Path, port: int, nick: str, channel: str) -> AsyncIterator[Weechat]:
    """weechat-headless connected to flackd's IRC port (no TLS), autojoining ``channel``."""
    assert WEECHAT is not None
    server = "flack"
    settings = [
        "/set fifo.file.enabled on",
        "/set logger.file.flush_delay 0",  # the default holds lines back for 120 s
        "/set irc.server_default.anti_flood_prio_high 0",
        "/set irc.server_default.anti_flood_prio_low 0",
    ]
    argv = [
        WEECHAT, "--dir", str(home), "-P", "irc,fifo,logger",
        "-r", "; ".join(settings),
        "-r", f"/server add {server} 127.0.0.1/{port} -notls -nicks={nick} -autojoin={channel}",
        "-r", f"/connect {server}",
    ]  # fmt: skip
    home.mkdir(parents=True, exist_ok=True)
    process = await trio.lowlevel.open_process(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "HOME": str(home), "LANG": "C.UTF-8"},
    )
    try:
        yield Weechat(home, process, server)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)  # only the weechat this test started
            with trio.move_on_after(5):
                await process.wait()
        if process.returncode is None:
            process.kill()
            with trio.move_on_after(5):
                await process.wait()


class Irssi:
    """One irssi in a private tmux server, read through its autolog and rawlog."""

    def __init__(self, socket_name: str, home: Path, chatnet: str) -> None:
        self.socket = socket_name
        self.home = home
        self.chatnet = chatnet
        self.rawlog = home / "raw.log"

    def log(self, target: str) -> Path:
        """The autolog file of a window: ``#general`` or a nick."""
        return self.home / "logs" / self.chatnet / f"{target}.log"

    async def wait_line(self, target: str, *words: str) -> str:
        return await wait_line(self.log(target), *words, evidence=[self.rawlog])

    async def tmux(self, *args: str) -> str:
        assert TMUX is not None
        result = await trio.run_process(
            [TMUX, "-L", self.socket, *args], capture_stdout=True, capture_stderr=True
        )
        return result.stdout.decode("utf-8", "replace")

    async def command(self, text: str) -> None:
        """Type a line into irssi's active window."""
        await self.tmux("send-keys", "-t", "irssi", "-l", text)
        await self.tmux("send-keys", "-t", "irssi", "Enter")

    async def open_rawlog(self) -> None:
        """Start irssi's wire log (per server, so only once it is connected). irssi first
        writes the lines it already holds (``rawlog_lines``, 200), so the log starts with
        the connection."""
        await self.command(f"/rawlog open {self.rawlog}")

    async def wait_raw(self, *words: str) -> str:
        """The first line of the wire log with all of ``words`` (``>>`` in, ``<<`` out)."""
        return await wait_line(self.rawlog, *words)

    async def screen(self) -> str:
        return await self.tmux("capture-pane", "-p", "-t", "irssi")


def _irssi_config(port: int, nick: str, channel: str, home: Path, chatnet: str) -> str:
    logs = home / "logs"
    return f"""\
servers = (
  {{ address = "127.0.0.1"; chatnet = "{chatnet}"; port = "{port}"; use_tls = "no";
    autoconnect = "yes"; }}
);
chatnets = {{ {chatnet} = {{ type = "IRC"; }}; }};
channels = ( {{ name = "{channel}"; chatnet = "{chatnet}"; autojoin = "yes"; }} );
settings = {{
  core = {{ nick = "{nick}"; user_name = "{nick}"; real_name = "flackd test"; }};
  "irc/core" = {{ cmd_queue_speed = "0msec"; cmds_max_at_once = "0"; }};
  "fe-common/core" = {{
    autolog = "yes";
    autolog_path = "{logs}/$tag/$0.log";
    autolog_level = "ALL -CRAP -CLIENTCRAP";
  }};
}};
"""


@asynccontextmanager
async def irssi(home: Path, port: int, nick: str, channel: str) -> AsyncIterator[Irssi]:
    """irssi in a 160x40 tmux window, connected to flackd's IRC port (no TLS), autojoining
    ``channel`` (its wire log: :meth:`Irssi.open_rawlog`)."""
    assert TMUX is not None
    assert IRSSI is not None
    chatnet = "flack"
    home.mkdir(parents=True, exist_ok=True)
    (home / "config").write_text(_irssi_config(port, nick, channel, home, chatnet))
    client = Irssi(f"flackirc-{os.getpid()}-{next(_sessions)}", home, chatnet)
    command = shlex.join(["env", "LANG=C.UTF-8", IRSSI, f"--home={home}"])
    try:
        await client.tmux(
            "-f", "/dev/null", "new-session", "-d", "-s", "irssi", "-x", "160", "-y", "40", command
        )
        yield client
    finally:
        assert TMUX is not None
        await trio.run_process([TMUX, "-L", client.socket, "kill-server"], check=False,
                               capture_stderr=True)  # fmt: skip

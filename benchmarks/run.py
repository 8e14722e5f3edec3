"""Side-by-side benchmark: flackd against ngIRCd, InspIRCd, miniircd and a bare Trio relay.

One command (from the repository root)::

    .venv/bin/python benchmarks/run.py                 # everything, median of 3
    .venv/bin/python benchmarks/run.py --smoke         # seconds: flackd and the relay only
    .venv/bin/python benchmarks/run.py --servers flackd,ngircd --members 200 --repeat 1

It builds benchmarks/loadgen.c with the system C compiler into a temporary directory,
installs the peers that are missing (apt-get for ngircd and inspircd when root, pip for
miniircd; a server that cannot be had is skipped with a line saying why), writes each
server a minimal configuration with its flood limits relaxed as far as it allows (and
prints what it raised), then for every workload starts a fresh server pinned to core 0
(``taskset -c 0``) on a free loopback port, drives it with the load generator pinned to
core 1, and stops it by its PID (SIGTERM, then SIGKILL after a bounded wait). It prints a
table per workload with the ratio to the best C/C++ peer (ngIRCd, InspIRCd) and to the
bare relay, and writes every figure to benchmarks/results/<time>.json (and latest.json).

flackd's other modes run in the same pass and are shown as a ratio to flackd in memory:
flackd-durable (``--data-dir``) and flackd-cluster, two flackd nodes sharing the chat
through a redis-server of their own (``--redis``; skipped if redis-server is not on the
PATH). The cluster's senders connect to its first node and the other clients are spread
evenly over both; its processes share core 0, and the CPU time of each (read from
/proc/<pid>/stat around every measured step) is reported per 1,000 messages sent.

System calls: every measured step also records each server process's read and write
calls (/proc/<pid>/io, which counts read/write/readv/writev but not recv/send), shown as
write calls per delivery and read calls per message; ``--strace`` counts every call by
name with ``strace -c -f`` (slower: for fixed-rate workloads). A flackd server named
``flackd@write-delay-us=0`` (``NAME@FLAG=VALUE``, repeatable) runs with those flags as
one more server, so a change and its baseline are measured side by side.

flackd is measured as a normal install runs it: at the start the run builds this tree's
wheel (``setup.py``: the modules in ``COMPILED`` compiled with mypyc) from a copy of the
files git tracks into its temporary directory, 20-30 s, and every flackd server (durable
and cluster included) runs that build, so editing the tree during a run changes nothing
those servers run. ``--build pure`` (the default of ``--smoke``) runs flackd as
installed instead (the development tree, pure Python, or what ``PYTHONPATH`` names: the
suite's compiled run sets it to ``build/compiled``), and ``flackd@pure`` adds the
development tree, whatever ``PYTHONPATH`` says, as one more server (it runs the live
tree: an edit during the run reaches it). Where nothing can be compiled (no C compiler
or no Python headers) flackd runs pure and the report says so.

docs/performance.md describes the workloads and how to read the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import itertools
import json
import os
import platform
import re
import resource
import selectors
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "benchmarks"
RESULTS = HERE / "results"
VENV_BIN = ROOT / ".venv" / "bin"
PYTHON = str(VENV_BIN / "python") if (VENV_BIN / "python").exists() else sys.executable
SERVER_CORE, LOADGEN_CORE = "0", "1"
#: Loadgen CPU share (of its core) above which a failed step may be the loadgen's limit.
LOADGEN_BUSY = 0.9
C_PEERS = ("ngircd", "inspircd")
ALL_SERVERS = (
    "flackd",
    "flackd-durable",
    "flackd-cluster",
    "relay",
    "ngircd",
    "inspircd",
    "miniircd",
)
#: flackd's other modes, each measured against flackd in memory in the same run.
FLACKD_MODES = ("flackd-durable", "flackd-cluster")
#: flackd nodes of flackd-cluster, sharing one redis-server.
CLUSTER_NODES = 2

Json = dict[str, Any]


def say(text: str) -> None:
    print(text, flush=True)


# -- the servers -------------------------------------------------------------------------


@dataclass
class Server:
    """How to install, configure and start one server."""

    name: str
    protocol: str  # "flack" or "irc"
    raised: list[str]  # what this benchmark changes from the defaults, for the report
    command: Callable[[int, Path], list[str]]
    find: Callable[[], str | None]  # the executable, or None
    install: Callable[[], str] | None = None  # returns a log tail
    max_clients: int | None = None  # None: no known limit
    limit_reason: str = ""
    nodes: int = 1  # more than 1: that many nodes of a cluster, sharing a redis-server
    missing: str = ""  # why it cannot run when find() finds nothing and there is no install
    version: str = ""
    skipped: str = ""
    #: A flackd variant's code, when not the installed one (``@src=DIR``).
    source: str | None = None
    #: A flackd run with PYTHONPATH unset: the development tree whatever the run inherits
    #: (``@pure``).
    tree_only: bool = False


def _which(*candidates: str) -> str | None:
    for candidate in candidates:
        found = shutil.which(candidate) or (candidate if Path(candidate).is_file() else None)
        if found:
            return found
    return None


def _apt_install(package: str) -> str:
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return "not installed, and apt-get needs root (or is absent)"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for argv in (
        ["apt-get", "install", "-y", package],
        ["apt-get", "update"],
        ["apt-get", "install", "-y", package],
    ):
        say(f"  $ {shlex.join(argv)}")
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900)
        if argv[1] == "install" and done.returncode == 0:
            return ""
    return (done.stdout + done.stderr)[-400:]


def _pip_install(package: str) -> str:
    argv = [PYTHON, "-m", "pip", "install", "--quiet", package]
    say(f"  $ {shlex.join(argv)}")
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    return "" if done.returncode == 0 else (done.stdout + done.stderr)[-400:]


FLACKD_FLAGS = {
    "--flood-burst": ("1000000", "10"),
    "--flood-rate": ("1000000", "2"),
    "--trusted-loopback": ("", "off: 16 connections and 30 new a minute per address"),
    "--max-connections": ("12000", "4096"),
    "--max-unregistered": ("12000", "512"),
    "--sendq-bytes": ("786432", "262144"),
}
# --sendq-bytes is raised only because flackd refuses a send queue smaller than its largest
# reply, which grows with --max-connections (a NAMES block of every connection); no run
# here comes near 256 KiB queued for one client.


def _flackd_command(port: int, _tmp: Path) -> list[str]:
    exe = _which(str(VENV_BIN / "flackd"), "flackd") or "flackd"
    argv = [exe, "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    argv += ["--irc-port", "0", "--web-port", "0"]  # Flack's port only: what the load speaks
    for flag, (value, _default) in FLACKD_FLAGS.items():
        argv += [flag, value] if value else [flag]
    return argv


def _flackd_durable_command(port: int, tmp: Path) -> list[str]:
    """flackd with --data-dir: a new, empty database for every run (the port is new).
    Logs at info level, for the committer's timings at the end (a few lines in all)."""
    argv = [*_flackd_command(port, tmp), "--data-dir", str(tmp / f"flackd-data-{port}")]
    return [arg if arg != "warning" else "info" for arg in argv]


def _redis_command(port: int) -> list[str]:
    """A throwaway redis-server for one flackd-cluster run: loopback only, nothing saved."""
    exe = shutil.which("redis-server") or "redis-server"
    argv = [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly"]
    return [*argv, "no", "--daemonize", "no"]


def _cluster_flags(redis_port: int, node_id: str, prefix: str) -> list[str]:
    """What makes flackd (in memory otherwise: same flags) one node of a cluster."""
    url = f"redis://127.0.0.1:{redis_port}/0"
    return ["--redis", url, "--node-id", node_id, "--redis-prefix", prefix]


def _find_cluster() -> str | None:
    flackd = _which(str(VENV_BIN / "flackd"), "flackd")
    return flackd if shutil.which("redis-server") else None


def _relay_command(port: int, _tmp: Path) -> list[str]:
    return [PYTHON, str(HERE / "relay.py"), "--port", str(port)]


NGIRCD_CONF = """\
[Global]
\tName = bench.local
\tInfo = Flack benchmark
\tAdminInfo1 = benchmark
\tAdminInfo2 = benchmark
\tAdminEMail = bench@localhost
\tListen = 127.0.0.1
\tPorts = {port}
\tMotdPhrase = "benchmark"
[Limits]
\tMaxConnections = 0
\tMaxConnectionsIP = 0
\tMaxJoins = 0
\tMaxPenaltyTime = 0
\tPingTimeout = 600
\tPongTimeout = 600
[Options]
\tDNS = no
\tIdent = no
\tPAM = no
"""


def _ngircd_command(port: int, tmp: Path) -> list[str]:
    conf = tmp / f"ngircd-{port}.conf"
    conf.write_text(NGIRCD_CONF.format(port=port))
    return [_which("ngircd", "/usr/sbin/ngircd") or "ngircd", "--nodaemon", "--config", str(conf)]


INSPIRCD_CONF = """\
<server name="bench.local" description="Flack benchmark" network="bench">
<admin name="benchmark" nick="bench" email="bench@localhost">
<bind address="127.0.0.1" port="{port}" type="clients">
<connect name="bench" allow="127.0.0.1" timeout="60" pingfreq="10m"
         threshold="1000000" commandrate="1000000000" fakelag="no"
         hardsendq="16M" softsendq="16M" recvq="16M"
         localmax="100000" globalmax="100000" limit="100000" maxchans="100"
         resolvehostnames="no" useident="no">
<performance softlimit="20000" somaxconn="4096" netbuffersize="65536" clonesonconnect="no">
<security hideserver="" userstats="Pu" maxtargets="20">
<options prefixquit="Quit: " syntaxhints="no">
<channels users="100" opers="100">
<dns server="127.0.0.1" timeout="1">
<files motd="{motd}">
<log method="file" type="* -USERINPUT -USEROUTPUT" level="default" target="{log}">
"""


def _inspircd_command(port: int, tmp: Path) -> list[str]:
    motd = tmp / "motd.txt"
    motd.write_text("benchmark\n")
    conf = tmp / f"inspircd-{port}.conf"
    conf.write_text(INSPIRCD_CONF.format(port=port, motd=motd, log=tmp / f"inspircd-{port}.log"))
    exe = _which("inspircd", "/usr/sbin/inspircd") or "inspircd"
    argv = [exe, "--config", str(conf), "--nofork", "--nopid"]
    return argv + (["--runasroot"] if os.geteuid() == 0 else [])


def _miniircd_command(port: int, _tmp: Path) -> list[str]:
    exe = _which(str(VENV_BIN / "miniircd"), "miniircd") or "miniircd"
    argv = [exe, "--listen", "127.0.0.1", "--ports", str(port)]
    # miniircd refuses to run as root unless told so explicitly.
    return argv + (["--setuid", "root"] if os.geteuid() == 0 else [])


def make_servers() -> dict[str, Server]:
    flack_raised = [
        f"{flag} {value}".strip() + f" (default {default})"
        for flag, (value, default) in FLACKD_FLAGS.items()
    ]
    return {
        "flackd": Server(
            "flackd",
            "flack",
            flack_raised,
            _flackd_command,
            lambda: _which(str(VENV_BIN / "flackd"), "flackd"),
        ),
        "flackd-durable": Server(
            "flackd-durable",
            "flack",
            [*flack_raised, "--data-dir <new temporary directory> (default: in memory)"],
            _flackd_durable_command,
            lambda: _which(str(VENV_BIN / "flackd"), "flackd"),
        ),
        "flackd-cluster": Server(
            "flackd-cluster",
            "flack",
            [
                *flack_raised,
                f"{CLUSTER_NODES} nodes, --redis redis://127.0.0.1:<new port>/0 --node-id "
                "node<n> --redis-prefix <new for each run> (default: in memory, one process)",
                "a redis-server started for each run: --save '' --appendonly no",
                "senders on node1, the other clients spread evenly over the nodes; every "
                "node and redis-server share the server core",
            ],
            _flackd_command,
            _find_cluster,
            nodes=CLUSTER_NODES,
            missing="redis-server is not on the PATH (Debian: apt-get install redis-server)"
            if _which(str(VENV_BIN / "flackd"), "flackd")
            else "flackd not found",
        ),
        "relay": Server(
            "relay",
            "flack",
            ["nothing to raise: no limits, no history, no checks"],
            _relay_command,
            lambda: str(HERE / "relay.py"),
        ),
        "ngircd": Server(
            "ngircd",
            "irc",
            [
                "MaxConnectionsIP = 0 (default 5)",
                "MaxJoins = 0 (default 10)",
                "MaxPenaltyTime = 0, penalties off (default -1)",
                "MaxConnections = 0 (default 0)",
                "PingTimeout/PongTimeout = 600 (default 120/20)",
                "DNS, Ident, PAM = no",
                "the per-client write buffer is fixed in the source and cannot be raised",
            ],
            _ngircd_command,
            lambda: _which("ngircd", "/usr/sbin/ngircd"),
            lambda: _apt_install("ngircd"),
        ),
        "inspircd": Server(
            "inspircd",
            "irc",
            [
                '<connect threshold="1000000" commandrate="1000000000" fakelag="no"> '
                "(default 10, 1000, yes)",
                '<connect hardsendq="16M" softsendq="16M" recvq="16M"> (default 1M, 10K, 10K)',
                '<connect localmax="100000" globalmax="100000" limit="100000"> (default 3, 3, -)',
                '<connect resolvehostnames="no">, <dns server="127.0.0.1">: no DNS on the network',
                '<performance somaxconn="4096" softlimit="20000" clonesonconnect="no">',
                '<security maxtargets="20">',
            ],
            _inspircd_command,
            lambda: _which("inspircd", "/usr/sbin/inspircd"),
            lambda: _apt_install("inspircd"),
        ),
        "miniircd": Server(
            "miniircd",
            "irc",
            [
                "nothing to raise: miniircd has no flood control and no limits"
                + (" (--setuid root: it refuses root otherwise)" if os.geteuid() == 0 else "")
            ],
            _miniircd_command,
            lambda: _which(str(VENV_BIN / "miniircd"), "miniircd"),
            lambda: _pip_install("miniircd"),
            max_clients=1000,
            limit_reason="miniircd waits with select(), which takes file descriptors < 1024",
        ),
    }


def _first_line(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return "?"
    lines = (done.stdout + done.stderr).strip().splitlines()
    return lines[0] if lines else "?"


def server_version(server: Server, exe: str) -> str:
    if server.name == "relay":
        return "benchmarks/relay.py"
    if not server.name.startswith("flackd"):
        return _first_line([exe, "--version"])
    if server.source is not None:  # the code it runs: its flackd.__version__, and where
        # -P: not the current directory first, as for the flackd script the server runs.
        found = _first_line(["env", f"PYTHONPATH={server.source}", PYTHON, "-P", "-c", KIND])
        version = f"{found}, from {server.source}"
    elif server.tree_only or not os.environ.get("PYTHONPATH"):
        found = _first_line(["env", "-uPYTHONPATH", PYTHON, "-P", "-c", KIND])
        version = f"{found}, the development tree"
    else:  # the installed flackd, as the run's own PYTHONPATH has it
        found = _first_line([PYTHON, "-P", "-c", KIND])
        version = f"{found}, from PYTHONPATH={os.environ['PYTHONPATH']}"
    if server.nodes > 1:
        redis = _first_line([shutil.which("redis-server") or "redis-server", "--version"])
        version += f" x{server.nodes} nodes, {redis}"
    return version


#: Prints the version of the flackd that Python imports, and whether it is compiled.
KIND = (
    "import flackd, flackd.connection as c; print(flackd.__version__, "
    "'compiled' if c.__file__.endswith('.so') else 'pure Python')"
)


def build_compiled(tmp: Path) -> tuple[str | None, str]:
    """This tree built as a normal install builds it (its modules in ``setup.py``'s
    ``COMPILED`` compiled with mypyc) and unpacked into ``tmp``: the directory to put on
    ``PYTHONPATH``, and what was built. None, saying why, where nothing can be compiled (no
    C compiler, no Python headers: flackd then runs pure, as such an install does); any
    other failure ends the run (``FLACK_REQUIRE_COMPILED``: never a pure build passed off
    as the compiled one). The tree is copied first, so the run's code stays fixed."""
    compiler = os.environ.get("CC", "cc").split()[0]
    if shutil.which(compiler) is None:
        return None, f"no C compiler ({compiler}): flackd runs pure Python"
    include = Path(sysconfig.get_paths()["include"]) / "Python.h"
    if not include.is_file():
        return None, "no Python.h (Debian: python3-dev): flackd runs pure Python"
    started = time.monotonic()
    tree = tmp / "tree"
    revision = copy_tree(tree)
    argv = [PYTHON, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    argv += ["--disable-pip-version-check", "-w", str(tmp / "wheel"), str(tree)]
    env = dict(os.environ, FLACK_REQUIRE_COMPILED="1")
    env.pop("FLACK_PURE", None)
    env.pop("PYTHONPATH", None)
    try:
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        log = (_text(exc.stdout) + _text(exc.stderr))[-3000:]
        raise SystemExit(f"the compiled build took over {BUILD_TIMEOUT} s:\n{log}") from None
    if done.returncode != 0:
        raise SystemExit(f"the compiled build failed:\n{(done.stdout + done.stderr)[-3000:]}")
    (wheel,) = (tmp / "wheel").glob("flack-*.whl")
    unpacked = tmp / "compiled"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(unpacked)
    shutil.rmtree(tree)
    modules = sorted(unpacked.joinpath("flackd").rglob("*.so"))
    if not any(m.name.startswith("connection.") for m in modules):
        raise SystemExit(f"the compiled build holds no compiled flackd.connection: {wheel}")
    took = time.monotonic() - started
    return str(unpacked), f"{revision}: {len(modules)} modules compiled with mypyc in {took:.0f} s"


#: Seconds the compiled build may take (mypy's first run in a fresh copy, then C).
BUILD_TIMEOUT = 900


def _text(output: str | bytes | None) -> str:
    if isinstance(output, bytes):
        return output.decode(errors="replace")
    return output or ""


def copy_tree(dest: Path) -> str:
    """Copy the files of this tree a build reads into ``dest``: what git tracks or would
    (``git ls-files --cached --others --exclude-standard``: no virtual environment,
    build output, caches or results), or without git everything but those. Returns the
    revision copied, for the report (``abc1234``, ``+ changes`` when the tree has some)."""
    listed = (
        subprocess.run(
            [
                "git",
                "-C",
                str(ROOT),
                "ls-files",
                "-z",
                "--cached",
                "--others",
                "--exclude-standard",
            ],
            capture_output=True,
            timeout=60,
            check=False,
        )
        if shutil.which("git")
        else None
    )
    if listed is None or listed.returncode != 0:
        skip = shutil.ignore_patterns(
            ".git", ".venv", "build", "results", "__pycache__", "*.egg-info", ".*_cache"
        )
        shutil.copytree(ROOT, dest, ignore=skip)
        return "this tree (not a git checkout)"
    for name in listed.stdout.decode().split("\0"):
        source = ROOT / name
        if name and source.is_file():  # (a file deleted but not yet committed is gone)
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    head = _first_line(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    changed = _first_line(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"])
    return f"{head}" + (" + changes" if changed not in ("", "?") else "")


def variant(known: dict[str, Server], name: str, build: str | None = None) -> Server:
    """The server ``name`` names: one of ``known``, or a flackd one with flags of its own
    (``flackd@write-delay-us=0@history=50``: ``--write-delay-us 0 --history 50`` added
    to its command, on every node of a cluster). A flackd server runs the code in
    ``build`` (the compiled build of this tree, :func:`build_compiled`) when given, else
    the installed one (the development tree, pure Python); ``@pure`` runs the installed
    one regardless, and ``@src=DIR`` the flackd code in ``DIR`` (a checkout or ``git
    worktree add --detach DIR REV`` of another revision, or an unpacked build, through
    ``PYTHONPATH``), for a before/after in one run: ``--servers
    flackd@src=/tmp/before,flackd``."""
    base, *changes = name.split("@")
    server = known[base]
    if not base.startswith("flackd"):
        if changes:
            raise SystemExit(f"{name}: only flackd's servers take flags of their own")
        return server
    extra: list[str] = []
    source: str | None = build
    tree_only = False
    for change in changes:
        flag, _, value = change.partition("=")
        if flag == "pure" and not value:
            source, tree_only = None, True
            continue
        if flag == "src":
            if not (Path(value) / "flackd" / "__init__.py").is_file():
                raise SystemExit(f"{name}: {value} holds no flackd package")
            source = str(Path(value).resolve())
            continue
        extra += [f"--{flag}", value] if value else [f"--{flag}"]
    if source is None and not tree_only and not extra:
        return server  # the installed flackd (with the run's own PYTHONPATH, if any)
    original = server.command
    prefix: list[str] = []
    if source is not None:
        prefix = ["env", f"PYTHONPATH={source}"]
    elif tree_only:  # the development tree's, whatever PYTHONPATH the run inherits
        prefix = ["env", "-uPYTHONPATH"]
    raised = [f"{shlex.join(extra)} (this variant)"] if extra else []
    if source is not None and source != build:
        raised.append(f"the code in {source} (this variant)")
    return dataclasses.replace(
        server,
        name=name,
        raised=[*server.raised, *raised],
        command=lambda port, tmp: [*prefix, *original(port, tmp), *extra],
        source=source,
        tree_only=tree_only,
    )


def prepare_servers(
    names: list[str], install: bool, build: str | None = None
) -> tuple[list[Server], dict[str, str]]:
    """The servers that can run, and why the others cannot; flackd's run the code in
    ``build`` unless their name says otherwise (:func:`variant`)."""
    known = make_servers()
    ready: list[Server] = []
    skipped: dict[str, str] = {}
    for name in names:
        server = variant(known, name, build)
        exe = server.find()
        if exe is None and install and server.install is not None:
            say(f"{name}: not found; installing")
            log = server.install()
            exe = server.find()
            if exe is None:
                server.skipped = f"could not be installed: {log.strip() or 'unknown error'}"
        elif exe is None and server.missing:
            server.skipped = server.missing
        elif exe is None:
            server.skipped = "not installed (run without --no-install to install it)"
        if exe is None:
            server.skipped = server.skipped or "not found"
            say(f"{name}: SKIPPED, {server.skipped}")
            skipped[name] = server.skipped
            continue
        server.version = server_version(server, exe)
        ready.append(server)
    return ready, skipped


# -- processes ---------------------------------------------------------------------------


def pinned(core: str, argv: list[str]) -> list[str]:
    if shutil.which("taskset") and (os.cpu_count() or 1) >= 2:
        return ["taskset", "-c", core, *argv]
    return argv


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop(process: subprocess.Popen[Any], grace: float = 8.0) -> None:
    """SIGTERM this process (by its PID), then SIGKILL it if it has not exited in time."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait(timeout=10)


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_times(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of a process, all its threads, from /proc/<pid>/stat."""
    # The fields after the command name, which is in parentheses and may hold spaces:
    # utime and stime are the 14th and 15th fields of the line, so 12th and 13th here.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / CLOCK_TICKS, int(fields[12]) / CLOCK_TICKS


def io_calls(pid: int) -> tuple[int, int]:
    """(read calls, write calls) a process has made so far, all its threads, from
    /proc/<pid>/io (``syscr``, ``syscw``): read/readv/pread and write/writev/pwrite. Calls
    of the socket family (recv, send, sendto, sendmsg) are not counted there: a server
    that writes its sockets with send() shows 0 (``--strace`` counts every call).
    (-1, -1) when the file cannot be read."""
    try:
        text = Path(f"/proc/{pid}/io").read_text()
    except OSError:
        return -1, -1
    values = dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)
    return int(values.get("syscr", -1)), int(values.get("syscw", -1))


#: System calls that hand bytes to a socket or a file, and that take bytes from one
#: (for --strace's per-delivery summary).
WRITE_CALLS = frozenset({"write", "writev", "pwrite64", "pwritev", "send", "sendto", "sendmsg",
                         "sendmmsg"})  # fmt: skip
READ_CALLS = frozenset({"read", "readv", "pread64", "recv", "recvfrom", "recvmsg", "recvmmsg"})


def strace_counts(path: Path) -> dict[str, int]:
    """System call name -> calls, from the summary table ``strace -c`` wrote to ``path``."""
    counts: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in path.read_text().splitlines():
            parts = line.split()
            # % time, seconds, usecs/call, calls, [errors,] syscall
            if len(parts) >= 5 and parts[-1] != "total" and parts[3].isdigit():
                with contextlib.suppress(ValueError):
                    float(parts[0])
                    counts[parts[-1]] = int(parts[3])
    return counts


@contextlib.contextmanager
def straced(processes: dict[str, subprocess.Popen[bytes]], tmp: Path) -> Iterator[Json]:
    """``strace -c -f`` attached to every server process (by PID) for the ``with`` block;
    the dict it yields gets each one's counts (system call -> calls) when it ends. Each
    strace is stopped by its own PID (SIGINT: it detaches and writes its summary)."""
    counts: Json = {}
    tracers: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}
    try:
        for label, process in processes.items():
            out = tmp / f"strace-{process.pid}.txt"
            argv = ["strace", "-c", "-f", "-q", "-o", str(out), "-p", str(process.pid)]
            tracer = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            tracers[label] = (tracer, out)
        time.sleep(0.5)  # attaching to every thread: not instantaneous
        yield counts
    finally:
        for label, (tracer, out) in tracers.items():
            with contextlib.suppress(ProcessLookupError):
                tracer.send_signal(signal.SIGINT)
            try:
                tracer.wait(timeout=20)
            except subprocess.TimeoutExpired:
                tracer.kill()
                tracer.wait(timeout=10)
            counts[label] = strace_counts(out)


NOTABLE = re.compile(r"warn|error|exception|traceback|sendq|flood|excess|exhaust|kill", re.I)
#: Log lines that match NOTABLE but say nothing about a run (redis-server's advice about
#: overcommit is for background saves, which these runs switch off).
BENIGN = re.compile(r"overcommit", re.I)
REDIS_READY = "Ready to accept connections"


@dataclass
class Started:
    """What :func:`start` started: the ports clients connect to (senders to the first),
    and every process that is the server, by a label (their CPU time and memory are the
    server's)."""

    ports: list[int]
    processes: dict[str, subprocess.Popen[bytes]]


_cluster_runs = itertools.count(1)  # for flackd-cluster's key prefixes: new for every run


@contextlib.contextmanager
def child(
    label: str,
    argv: list[str],
    tmp: Path,
    notable: list[str],
    port: int,
    *,
    ready: str = "",
    tagged: bool = False,
) -> Iterator[subprocess.Popen[bytes]]:
    """One process pinned to SERVER_CORE, stopped by its PID afterwards.

    It is ready once ``port`` accepts a connection, or with ``ready`` once its output has
    that text. Log lines that look like trouble (warnings, errors, send queue, flood) are
    appended to ``notable`` once it has stopped (``tagged``: each after the label).
    """
    log_path = tmp / f"{re.sub(r'[^A-Za-z0-9@=.-]', '-', label)}-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            pinned(SERVER_CORE, argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=tmp,
        )
    try:
        deadline = time.monotonic() + 20
        while True:
            if process.poll() is not None:
                tail = log_path.read_text(errors="replace")[-600:]
                raise RuntimeError(f"{label} exited with {process.returncode}: {tail}")
            if ready:
                if ready in log_path.read_text(errors="replace"):
                    break
            else:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        break
                except OSError:
                    pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{label} was not ready within 20 s")
            time.sleep(0.05)
        time.sleep(0.1)  # let it finish with the probe connection
        yield process
    finally:
        stop(process)
        with contextlib.suppress(OSError):
            lines = log_path.read_text(errors="replace").splitlines()
            found = [line[:200] for line in lines if NOTABLE.search(line)]
            found = [line for line in found if not BENIGN.search(line)]
            if tagged:
                found = [f"{label}: {line}" for line in found]
            notable += found[:5] + ([f"... {len(found) - 5} more"] if len(found) > 5 else [])


@contextlib.contextmanager
def running(
    server: Server, tmp: Path, notable: list[str]
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """:func:`start` for one process and one port (a cluster's first node), as
    benchmarks/profile_flackd.py uses it."""
    with start(server, tmp, notable) as started:
        yield next(iter(started.processes.values())), started.ports[0]


@contextlib.contextmanager
def start(server: Server, tmp: Path, notable: list[str]) -> Iterator[Started]:
    """A fresh server on a free port, pinned to SERVER_CORE, stopped by its PID afterwards.

    A cluster (``server.nodes`` > 1) is a redis-server of its own, then that many flackd
    nodes on ports of their own with a key prefix new to this run; they are stopped
    (each by its PID) in the reverse order.
    """
    with contextlib.ExitStack() as stack:
        if server.nodes == 1:
            port = free_port()
            argv = server.command(port, tmp)
            process = stack.enter_context(child(server.name, argv, tmp, notable, port))
            started = Started([port], {server.name: process})
        else:
            redis_port = free_port()
            argv = _redis_command(redis_port)
            redis = child(
                "redis-server", argv, tmp, notable, redis_port, ready=REDIS_READY, tagged=True
            )
            redis_process = stack.enter_context(redis)
            prefix = f"bench{os.getpid()}-{next(_cluster_runs)}"
            started = Started([], {})
            for n in range(1, server.nodes + 1):
                port = free_port()
                argv = server.command(port, tmp) + _cluster_flags(redis_port, f"node{n}", prefix)
                node = child(f"node{n}", argv, tmp, notable, port, tagged=True)
                started.processes[f"node{n}"] = stack.enter_context(node)
                started.ports.append(port)
            started.processes["redis-server"] = redis_process
        yield started


class Loadgen:
    """The C load generator as a child process pinned to LOADGEN_CORE, driven over stdin.

    With several ports (a cluster's nodes) its senders connect to the first and the other
    clients are spread evenly over all of them."""

    serial = 0

    def __init__(
        self,
        binary: Path,
        ports: int | list[int],  # several: senders connect to the first
        protocol: str,
        clients: int,
        *,
        senders: int,
        channels: int = 1,
        connect_rate: float = 1000,
        window: int = 500,
        setup_timeout: float = 60,
        quickack: bool = False,
        log: Path,
    ) -> None:
        Loadgen.serial += 1
        n = Loadgen.serial
        prefix = "b" + chr(ord("a") + n // 26 % 26) + chr(ord("a") + n % 26)
        argv = [
            str(binary),
            "--port",
            ",".join(str(port) for port in ([ports] if isinstance(ports, int) else ports)),
            "--proto",
            protocol,
            "--clients",
            str(clients),
            "--senders",
            str(senders),
            "--channels",
            str(channels),
            "--connect-rate",
            str(connect_rate),
            "--connect-window",
            str(window),
            "--setup-timeout",
            str(setup_timeout),
            "--max-seconds",
            "1200",
            "--nick-prefix",
            prefix,
        ] + (["--quickack"] if quickack else [])
        self.setup_timeout = setup_timeout
        with log.open("ab") as err:
            self.process = subprocess.Popen(
                pinned(LOADGEN_CORE, argv),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
            )
        assert self.process.stdout is not None
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.process.stdout, selectors.EVENT_READ)
        self.buffer = b""

    def read(self, timeout: float) -> Json:
        """The next JSON line, waiting at most ``timeout`` seconds."""
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not self.selector.select(left):
                raise TimeoutError(f"loadgen said nothing for {timeout:.0f} s")
            chunk = os.read(self.process.stdout.fileno(), 65536)
            if not chunk:
                raise RuntimeError(f"loadgen exited ({self.process.wait()})")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        result: Json = json.loads(line)
        return result

    def ready(self) -> Json:
        return self.read(self.setup_timeout + 30)

    def send(self, line: str) -> None:
        """Give the loadgen a command without waiting for its answer (see :meth:`read`)."""
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")
        self.process.stdin.flush()

    def command(self, line: str, timeout: float) -> Json:
        self.send(line)
        return self.read(timeout)

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            assert self.process.stdin is not None
            self.process.stdin.write(b"quit\n")
            self.process.stdin.close()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            stop(self.process, grace=2)
        self.selector.close()
        if self.process.stdout is not None:
            self.process.stdout.close()


def build_loadgen(tmp: Path) -> Path:
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        raise SystemExit("no C compiler (cc or gcc) found: it is needed to build the loadgen")
    binary = tmp / "loadgen"
    argv = [cc, "-O2", "-o", str(binary), str(HERE / "loadgen.c")]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise SystemExit(f"building the loadgen failed:\n{done.stderr}")
    return binary


# -- workloads ---------------------------------------------------------------------------


@dataclass
class Settings:
    members: list[int]
    repeat: int
    step_seconds: float
    senders: int
    p99_limit_ms: float
    start_deliveries: float  # first offered rate of the ramp, deliveries per second
    max_deliveries: float  # the ramp stops doubling here
    max_steps: int
    bisect_steps: int
    drain_seconds: float
    fixed_seconds: float
    latency_members: int
    latency_rate: float
    channel_clients: int
    channel_count: int
    channel_rate: float
    idle_clients: int
    storm_clients: int
    storm_rate: float
    warmup_seconds: float = 2.0  # an unmeasured run after each setup (Bench.warm_up)
    #: A ramp step that fails is run again this many times, on fresh clients after a
    #: warm-up, and fails only if every try fails (a stall of the machine, not of the
    #: server, fails one try); the same for every server.
    retries: int = 1
    rooms_clients: int = 2000
    rooms_size: int = 10  # members per room: rooms_clients / rooms_size rooms
    rooms_senders: int = 500
    rooms_start_rate: float = 1000  # first offered rate of the rooms ramp, messages per second
    strace: bool = False  # count every system call of each step with strace -c -f
    workloads: list[str] = field(default_factory=list)

    @property
    def rooms_count(self) -> int:
        return self.rooms_clients // self.rooms_size


def passing(step: Json, limit_ms: float) -> bool:
    return bool(
        step["p99_ms"] < limit_ms
        and step["lost"] == 0
        and step["reordered"] == 0
        and step["unsent"] == 0
        and step["backlog_bytes"] == 0
        and step["disconnects"] == 0
        and step["delivered"] > 0
    )


def why_failed(step: Json, limit_ms: float) -> str:
    reasons = []
    if step["p99_ms"] >= limit_ms:
        reasons.append(f"p99 {step['p99_ms']:.0f} ms")
    if step["lost"]:
        reasons.append(f"{step['lost']} not delivered by the end of the drain")
    if step["disconnects"]:
        reasons.append(f"{step['disconnects']} disconnected")
    if step["unsent"] or step["backlog_bytes"]:
        reasons.append("input not absorbed")
    if step["reordered"]:
        reasons.append(f"{step['reordered']} reordered")
    if step["notes"]:
        reasons.append("; ".join(step["notes"][:2]))
    return ", ".join(reasons) or "no deliveries"


def fmt_rate(per_second: float) -> str:
    if per_second >= 1e6:
        return f"{per_second / 1e6:.2f} M/s"
    return f"{per_second / 1e3:.1f} k/s"


def fmt_cpu(step: Json) -> str:
    """The server's CPU seconds per 1,000 messages sent in this step, per process (and
    their total) for a cluster; "" for a step that has no CPU times (older results)."""
    cpu: dict[str, float] = step.get("cpu_s") or {}
    if not cpu or not step["sent"]:
        return ""
    per = {label: 1000 * seconds / step["sent"] for label, seconds in cpu.items()}
    if len(per) == 1:
        system: dict[str, float] = step.get("cpu_sys_s") or {}
        total = sum(cpu.values())
        kernel = f" ({sum(system.values()) / total:.0%} kernel)" if system and total else ""
        return f"{next(iter(per.values())):.3f}{kernel}"
    parts = " + ".join(f"{label} {value:.3f}" for label, value in per.items())
    return f"{parts} = {sum(per.values()):.3f}"


def calls_per_delivery(step: Json) -> tuple[float, float] | None:
    """(write calls per delivery, read calls per message sent) of the server's processes
    in this step: from ``strace -c`` when the step was traced, else from /proc/<pid>/io
    (write/writev only: see :func:`io_calls`). None for steps without counts."""
    delivered, sent = step.get("delivered") or 0, step.get("sent") or 0
    traced: dict[str, dict[str, int]] | None = step.get("strace")
    if traced:
        writes = sum(n for c in traced.values() for name, n in c.items() if name in WRITE_CALLS)
        reads = sum(n for c in traced.values() for name, n in c.items() if name in READ_CALLS)
    else:
        io: dict[str, list[int]] | None = step.get("io_calls")
        if not io or any(r < 0 or w < 0 for r, w in io.values()):
            return None
        reads = sum(r for r, _ in io.values())
        writes = sum(w for _, w in io.values())
    if not delivered or not sent:
        return None
    return writes / delivered, reads / sent


def fmt_calls(step: Json) -> str:
    calls = calls_per_delivery(step)
    if calls is None:
        return ""
    source = "strace" if step.get("strace") else "/proc io"
    return f"{calls[0]:.3f} writes/delivery, {calls[1]:.2f} reads/message ({source})"


def describe_step(step: Json, ok: bool) -> str:
    messages = step.get("messages_per_s")
    return (
        f"offered {fmt_rate(step['offered_deliveries_per_s']):>10} -> delivered "
        f"{fmt_rate(step['deliveries_per_s']):>10}"
        + (f" ({fmt_rate(messages)} msgs)" if messages else "")
        + f", p50 {step['p50_ms']:7.2f} ms, "
        f"p99 {step['p99_ms']:8.2f} ms, lost {step['lost']}, loadgen cpu "
        f"{step['loadgen_cpu']:.0%}, server cpu s/1k msgs {fmt_cpu(step) or '-'}, "
        f"{fmt_calls(step) or 'no call counts'}  {'pass' if ok else 'FAIL'}"
    )


class Bench:
    def __init__(self, settings: Settings, loadgen: Path, tmp: Path) -> None:
        self.s = settings
        self.loadgen = loadgen
        self.tmp = tmp
        self.notable: list[str] = []

    def spawn(
        self, server: Server, started: Started, clients: int, **kw: Any
    ) -> tuple[Loadgen, Json]:
        gen = Loadgen(
            self.loadgen,
            started.ports,
            server.protocol,
            clients,
            log=self.tmp / "loadgen.log",
            **kw,
        )
        try:
            ready = gen.ready()
        except Exception:
            gen.close()
            raise
        return gen, ready

    def warm_up(self, gen: Loadgen, rate: float) -> None:
        """An unmeasured run of ``warmup_seconds`` at ``rate`` after the clients have set
        up, for every server alike: the first messages after thousands of registrations
        and joins otherwise meet one-off costs (the setup's garbage, cold caches, the
        hypervisor's first scheduling of the load) that fail a step on a single stall."""
        if self.s.warmup_seconds > 0:
            gen.command("settle 10", 30)
            timeout = self.s.warmup_seconds + self.s.drain_seconds + 60
            gen.command(f"run {rate:.3f} {self.s.warmup_seconds} {self.s.drain_seconds}", timeout)

    def step(self, gen: Loadgen, started: Started, rate: float, seconds: float) -> Json:
        """One measured step; with the CPU time each server process spent in it, and the
        messages delivered per second (deliveries/s over the deliveries each message owed)."""
        gen.command("settle 10", 30)
        timeout = seconds + self.s.drain_seconds + 60
        processes = started.processes
        with contextlib.ExitStack() as stack:
            traced = stack.enter_context(straced(processes, self.tmp)) if self.s.strace else None
            before = {label: cpu_times(p.pid) for label, p in processes.items()}
            io_before = {label: io_calls(p.pid) for label, p in processes.items()}
            result = gen.command(f"run {rate:.3f} {seconds} {self.s.drain_seconds}", timeout)
            after = {label: cpu_times(p.pid) for label, p in processes.items()}
            io_after = {label: io_calls(p.pid) for label, p in processes.items()}
        # CPU seconds per process in the step, and the kernel's part of them (system
        # time: the system calls, and on loopback the receivers' side of each write).
        result["cpu_s"] = {
            label: round(sum(after[label]) - sum(before[label]), 3) for label in before
        }
        result["cpu_sys_s"] = {
            label: round(after[label][1] - before[label][1], 3) for label in before
        }
        # System calls the server made in the step (run and drain), per process: read
        # and write calls from /proc/<pid>/io, and with --strace every call by name.
        result["io_calls"] = {
            label: [
                a - b if min(a, b) >= 0 else -1
                for a, b in zip(io_after[label], io_before[label], strict=True)
            ]
            for label in io_before
        }
        if traced is not None:
            result["strace"] = traced
        per_message = result["expected"] / result["sent"] if result["sent"] else 0
        result["messages_per_s"] = (
            round(result["deliveries_per_s"] / per_message, 1) if per_message else 0.0
        )
        return result

    def fanout(self, server: Server, members: int) -> Json:
        """One channel of ``members``: ramp until p99 or loss fails."""
        s = self.s
        start_rate = max(1.0, s.start_deliveries / (members - 1))
        return self.ramp(server, members, 1, min(s.senders, members), start_rate)

    def rooms(self, server: Server) -> Json:
        """Many small rooms (rooms_clients in rooms of rooms_size, rooms_senders of them
        sending, spread round-robin over the rooms): ramp until p99 or loss fails. The
        receivers acknowledge every read at once, as in the fixed-load workloads."""
        s = self.s
        return self.ramp(
            server,
            s.rooms_clients,
            s.rooms_count,
            s.rooms_senders,
            s.rooms_start_rate,
            quickack=True,
        )

    def ramp(
        self,
        server: Server,
        clients: int,
        channels: int,
        senders: int,
        start_rate: float,
        *,
        quickack: bool = False,
    ) -> Json:
        """Ramp the offered rate (messages/s; doubling, then bisecting) until p99 or loss
        fails: at most ``max_steps`` steps, each bounded by the loadgen's command timeout."""
        s = self.s
        fan = max(1, clients // channels - 1)  # deliveries per message
        steps: list[Json] = []
        best: Json | None = None
        first_fail: Json | None = None
        with start(server, self.tmp, self.notable) as started:
            gen: Loadgen | None = None
            rate = start_rate
            lo, hi = 0.0, 0.0  # highest passing and lowest failing rate so far
            doubling, bisected = True, 0
            try:
                for n in range(s.max_steps):
                    for attempt in range(s.retries + 1):
                        if gen is None:  # the first step, or after a failed try: afresh
                            gen, ready = self.spawn(
                                server,
                                started,
                                clients,
                                senders=senders,
                                channels=channels,
                                quickack=quickack,
                            )
                            if ready["failed"]:
                                return {"error": f"setup failed: {ready}", "steps": steps}
                            self.warm_up(gen, rate)
                        result = self.step(gen, started, rate, s.step_seconds)
                        ok = passing(result, s.p99_limit_ms)
                        result["pass"] = ok
                        result["try"] = attempt + 1
                        steps.append(result)
                        again = f" (try {attempt + 1})" if attempt else ""
                        say(f"    step {n + 1:2d}{again}: {describe_step(result, ok)}")
                        if ok:
                            break
                        gen.close()  # a failed try leaves backlog behind
                        gen = None
                    if ok:
                        lo = max(lo, rate)
                        if best is None or result["deliveries_per_s"] > best["deliveries_per_s"]:
                            best = result
                    else:
                        hi = min(hi, rate) if hi else rate
                        if first_fail is None or rate < first_fail["rate"]:
                            first_fail = result
                    if doubling:
                        if ok and rate * 2 * fan <= s.max_deliveries:
                            rate *= 2
                            continue
                        if ok:
                            break  # the ceiling of the ramp, still passing
                        doubling = False
                    else:
                        bisected += 1
                    if bisected >= s.bisect_steps or (lo and hi / lo < 1.08):
                        break
                    rate = (lo + hi) / 2 if lo else hi / 2
            finally:
                if gen is not None:
                    gen.close()
        limit = why_failed(first_fail, s.p99_limit_ms) if first_fail else "not reached"
        if first_fail and first_fail["loadgen_cpu"] >= LOADGEN_BUSY:
            limit += f" (loadgen busy {first_fail['loadgen_cpu']:.0%}: may be the loadgen's limit)"
        return {"steps": steps, "best": best, "limit": limit}

    def fixed(self, server: Server, clients: int, channels: int, senders: int, rate: float) -> Json:
        with start(server, self.tmp, self.notable) as started:
            # Receivers acknowledge at once, as the figures were taken: otherwise a
            # server that leaves Nagle on waits up to 40 ms for a delayed ACK.
            gen, ready = self.spawn(
                server, started, clients, senders=senders, channels=channels, quickack=True
            )
            try:
                if ready["failed"]:
                    return {"error": f"setup failed: {ready}"}
                self.warm_up(gen, rate)
                result = self.step(gen, started, rate, self.s.fixed_seconds)
            finally:
                gen.close()
        result["pass"] = passing(result, self.s.p99_limit_ms)
        say(f"    {describe_step(result, result['pass'])}")
        return {"best": result, "steps": [result]}

    def idle(self, server: Server) -> Json:
        clients = self.s.idle_clients
        with start(server, self.tmp, self.notable) as started:
            # A cluster's memory is that of all its processes (every node holds the state).
            pids = [process.pid for process in started.processes.values()]
            time.sleep(0.2)
            base = sum(rss_bytes(pid) for pid in pids)
            # Connecting gently (500 a second): this workload is about memory, not about
            # how fast a server accepts (ngIRCd listens with a backlog of 10).
            gen, ready = self.spawn(
                server, started, clients, senders=0, channels=100, connect_rate=500, window=1000
            )
            try:
                gen.command("settle 10", 30)
                time.sleep(0.2)
                loaded = sum(rss_bytes(pid) for pid in pids)
            finally:
                gen.close()
        joined = ready["joined"]
        per = (loaded - base) / joined if joined else 0.0
        say(
            f"    {joined}/{clients} joined; RSS {base / 2**20:.1f} MiB -> "
            f"{loaded / 2**20:.1f} MiB: {per / 1024:.1f} KiB per connection"
        )
        return {
            "clients": clients,
            "joined": joined,
            "rss_before": base,
            "rss_after": loaded,
            "rss_per_connection": per,
            "setup_s": ready["setup_s"],
            "ready": ready,
        }

    def storm(self, server: Server) -> Json:
        clients = self.s.storm_clients
        with start(server, self.tmp, self.notable) as started:
            gen, ready = self.spawn(
                server,
                started,
                clients,
                senders=0,
                channels=100,
                connect_rate=self.s.storm_rate,
                window=clients,
            )
            gen.close()
        say(
            f"    {ready['joined']}/{clients} registered and joined in {ready['setup_s']:.2f} s"
            + (f"; stuck: {ready['stuck']}" if ready["failed"] else "")
        )
        return {
            "clients": clients,
            "joined": ready["joined"],
            "seconds": ready["setup_s"],
            "ready": ready,
        }

    def run(self, server: Server, workload: str) -> Json:
        self.notable = []
        result = self._run(server, workload)
        if self.notable:
            result["server_log"] = self.notable
            say(f"    {server.name} log: " + " | ".join(self.notable[:3]))
        return result

    def _run(self, server: Server, workload: str) -> Json:
        s = self.s
        if workload.startswith("fanout-"):
            return self.fanout(server, int(workload.split("-")[1]))
        if workload == "rooms":
            return self.rooms(server)
        if workload == "latency":
            senders = min(s.senders, s.latency_members)
            return self.fixed(server, s.latency_members, 1, senders, s.latency_rate)
        if workload == "channels":
            return self.fixed(
                server, s.channel_clients, s.channel_count, s.channel_count, s.channel_rate
            )
        if workload == "idle":
            return self.idle(server)
        if workload == "storm":
            return self.storm(server)
        raise ValueError(workload)


def clients_needed(workload: str, s: Settings) -> int:
    if workload.startswith("fanout-"):
        return int(workload.split("-")[1])
    return {
        "latency": s.latency_members,
        "channels": s.channel_clients,
        "idle": s.idle_clients,
        "storm": s.storm_clients,
        "rooms": s.rooms_clients,
    }[workload]


# -- summary -----------------------------------------------------------------------------

#: workload -> (metric key, label, higher is better)
METRICS = {
    "fanout": ("deliveries_per_s", "deliveries/s", True),
    "rooms": ("messages_per_s", "messages/s", True),
    "latency": ("p99_ms", "p99 ms", False),
    "channels": ("p99_ms", "p99 ms", False),
    "idle": ("rss_per_connection", "RSS/conn", False),
    "storm": ("seconds", "seconds", False),
}


#: every workload, in the order they run (fanout is one per --members size)
WORKLOADS = ("fanout", "rooms", "latency", "channels", "idle", "storm")


def metric_of(workload: str) -> tuple[str, str, bool]:
    return METRICS[workload.split("-")[0]]


def value_of(workload: str, run: Json) -> float | None:
    key, _label, _higher = metric_of(workload)
    if "error" in run or "skipped" in run:
        return None
    if workload.startswith("fanout-") or workload == "rooms":
        best = run.get("best")
        return float(best[key]) if best else 0.0
    if workload in ("latency", "channels"):
        best = run["best"]
        return float(best[key]) if passing(best, float("inf")) else None
    if workload == "storm" and run["joined"] < run["clients"]:
        return None
    if workload == "idle" and run["joined"] < run["clients"]:
        return None
    return float(run[key])


def failure(workload: str, run: Json) -> str:
    """Why a run has no figure, in a few words."""
    if "error" in run or "skipped" in run:
        return str(run.get("error") or run.get("skipped"))
    if "joined" in run:
        setup = run["ready"]
        return f"{run['joined']}/{run['clients']} joined in {setup['setup_s']:.0f} s"
    best = run.get("best")
    return why_failed(best, float("inf")) if best else "failed"


def summarize(workload: str, runs: list[Json]) -> Json:
    """The median run (by the workload's metric) across repeats."""
    values = [(v, r) for r in runs if (v := value_of(workload, r)) is not None]
    if not values:
        first = runs[0] if runs else {}
        return {"value": None, "run": first, "why": failure(workload, first)}
    values.sort(key=lambda vr: vr[0])
    _, run = values[(len(values) - 1) // 2]  # the run whose value is the (lower) median
    median = statistics.median(v for v, _ in values)
    return {"value": median, "run": run, "values": [v for v, _ in values]}


def fmt_value(workload: str, value: float | None) -> str:
    if value is None:
        return "-"
    kind = workload.split("-")[0]
    if kind in ("fanout", "rooms"):
        return fmt_rate(value)
    if kind == "idle":
        return f"{value / 1024:.1f} KiB"
    if kind == "storm":
        return f"{value:.2f} s"
    return f"{value:.2f} ms"


def ratio(value: float | None, ref: float | None) -> str:
    if value is None or not ref:
        return "-"
    return f"{value / ref:.2f}x"


def table(workload: str, summary: dict[str, Json]) -> list[str]:
    _, label, higher = metric_of(workload)
    c_values = [v for n in C_PEERS if n in summary and (v := summary[n]["value"]) is not None]
    best_c = (max(c_values) if higher else min(c_values)) if c_values else None
    relay = summary.get("relay", {}).get("value")
    better = "higher is better" if higher else "lower is better"
    lines = [f"{workload}  ({label}, {better}; ratios are server / reference)"]
    lines.append(
        f"  {'server':<14} {label:>13} {'p50':>9} {'p99':>9} {'loss':>6}  "
        f"{'/best C':>8} {'/relay':>7}"
    )
    for name, entry in summary.items():
        value = entry["value"]
        run = entry["run"]
        best = run.get("best") if isinstance(run, dict) else None
        p50 = f"{best['p50_ms']:.2f}" if best else "-"
        p99 = f"{best['p99_ms']:.2f}" if best else "-"
        loss = str(best["lost"]) if best else "-"
        if workload in ("idle", "storm"):
            p50 = p99 = "-"
            loss = f"{run.get('clients', 0) - run.get('joined', 0)}" if "joined" in run else "-"
        line = (
            f"  {name:<14} {fmt_value(workload, value):>13} {p50:>9} {p99:>9} {loss:>6}  "
            f"{ratio(value, best_c):>8} {ratio(value, relay):>7}"
        )
        if value is None:
            line += f"   ({entry.get('why', 'failed')})"[:160]
        elif workload == "rooms" and isinstance(run, dict) and best:
            line += f"   ({fmt_rate(best['deliveries_per_s'])} deliveries)"
            line += f"   next step: {run.get('limit', '')}"[:160]
        elif workload.startswith("fanout-") and isinstance(run, dict):
            line += f"   next step: {run.get('limit', '')}"[:160]
        lines.append(line)
    cpu = {
        name: text
        for name, entry in summary.items()
        if isinstance(best := (entry["run"] or {}).get("best"), dict) and (text := fmt_cpu(best))
    }
    if cpu:
        lines.append("  server CPU seconds per 1,000 messages sent, in the step shown:")
        lines += [f"    {name:<14} {text}" for name, text in cpu.items()]
    calls = {
        name: text
        for name, entry in summary.items()
        if isinstance(best := (entry["run"] or {}).get("best"), dict) and (text := fmt_calls(best))
    }
    if calls:
        lines.append(
            "  server system calls in the step shown (echoes to senders included; /proc io "
            "counts write/writev, not send/sendto):"
        )
        lines += [f"    {name:<14} {text}" for name, text in calls.items()]
    return lines


def headline(workloads: list[str], summaries: dict[str, dict[str, Json]]) -> list[str]:
    """One row per server, one column per workload, then flackd's ratios to the peers."""
    heads = {
        "latency": "latency p99",
        "channels": "channels p99",
        "idle": "idle RSS/conn",
        "storm": "storm time",
        "rooms": "rooms msgs/s",
    }
    names = list(dict.fromkeys(n for w in workloads for n in summaries[w]))
    width = 14
    lines = ["  " + f"{'':<20}" + "".join(f"{heads.get(w, w):>{width}}" for w in workloads)]
    for name in names:
        cells = [fmt_value(w, summaries[w].get(name, {}).get("value")) for w in workloads]
        lines.append("  " + f"{name:<20}" + "".join(f"{c:>{width}}" for c in cells))
    if "flackd" in names:
        for label, refs in (("flackd / best C/C++", C_PEERS), ("flackd / relay", ("relay",))):
            cells = []
            for w in workloads:
                _, _, higher = metric_of(w)
                ref_values = [v for n in refs if (v := summaries[w].get(n, {}).get("value"))]
                ref = (max(ref_values) if higher else min(ref_values)) if ref_values else None
                cells.append(ratio(summaries[w].get("flackd", {}).get("value"), ref))
            lines.append("  " + f"{label:<20}" + "".join(f"{c:>{width}}" for c in cells))
        for mode in FLACKD_MODES:
            if mode in names:
                cells = [
                    ratio(
                        summaries[w].get(mode, {}).get("value"),
                        summaries[w].get("flackd", {}).get("value"),
                    )
                    for w in workloads
                ]
                label = f"{mode} / flackd"
                lines.append("  " + f"{label:<20}" + "".join(f"{c:>{width}}" for c in cells))
    return lines


def markdown(settings: Json, workloads: list[str], summaries: dict[str, dict[str, Json]]) -> str:
    """The headline as a Markdown table (for docs/performance.md): one row per workload."""
    names = list(dict.fromkeys(n for w in workloads for n in summaries[w]))
    # (older results have no rooms settings)
    rooms_clients, rooms_size = settings.get("rooms_clients", 0), settings.get("rooms_size", 1)
    rows = {
        "latency": f"{settings['latency_members']} members, {settings['latency_rate']:g} msg/s: "
        "p50 / p99",
        "channels": f"{settings['channel_clients']} clients in {settings['channel_count']} "
        f"channels, {settings['channel_rate']:g} msg/s: p99",
        "idle": f"{settings['idle_clients']} idle joined clients: server memory per connection",
        "storm": f"{settings['storm_clients']} clients connecting at {settings['storm_rate']:g}/s:"
        " time until all registered and joined",
        "rooms": f"{rooms_clients} clients in {rooms_clients // rooms_size} rooms of {rooms_size}, "
        f"{settings.get('rooms_senders')} sending: messages/s (deliveries/s)",
    }
    modes = [m for m in FLACKD_MODES if m in names]
    head = ["workload", *names, "flackd / best C/C++", "flackd / relay"]
    head += [f"{m} / flackd" for m in modes]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for w in workloads:
        kind = w.split("-")[0]
        label = rows.get(kind, f"1 channel, {w.split('-')[-1]} members: deliveries/s")
        _, _, higher = metric_of(w)
        cells = []
        for name in names:
            entry = summaries[w].get(name, {})
            value = entry.get("value")
            run = entry.get("run") or {}
            if value is None and "joined" in run and run["joined"]:
                shown = run["rss_per_connection"] / 1024 if kind == "idle" else run["seconds"]
                unit = "KiB" if kind == "idle" else "s"
                cells.append(f"{shown:.1f} {unit} ({run['joined']}/{run['clients']} joined)")
            elif value is None:
                cells.append("-" if "skipped" in run else "failed")
            elif kind == "latency":
                best = run["best"]
                cells.append(f"{best['p50_ms']:.2f} / {best['p99_ms']:.2f} ms")
            elif kind == "rooms" and run.get("best"):
                deliveries = fmt_rate(run["best"]["deliveries_per_s"])
                cells.append(f"{fmt_value(w, value)} ({deliveries})")
            else:
                cells.append(fmt_value(w, value))
        for refs in (C_PEERS, ("relay",)):
            ref_values = [v for n in refs if (v := summaries[w].get(n, {}).get("value"))]
            ref = (max(ref_values) if higher else min(ref_values)) if ref_values else None
            cells.append(ratio(summaries[w].get("flackd", {}).get("value"), ref))
        for mode in modes:
            flackd = summaries[w].get("flackd", {}).get("value")
            cells.append(ratio(summaries[w].get(mode, {}).get("value"), flackd))
        out.append("| " + " | ".join([label, *cells]) + " |")
    return "\n".join(out)


def save(report: Json, out: Path, *, latest: bool) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report, indent=1) + "\n"
    out.write_text(text)
    if latest:
        (RESULTS / "latest.json").write_text(text)


def print_report(report: Json, command: str) -> None:
    """The per-workload tables, the headline and its Markdown form, from a results dict."""
    workloads = report["settings"]["workloads"]
    summaries = {
        w: {name: summarize(w, rs) for name, rs in report["runs"].get(w, {}).items()}
        for w in workloads
    }
    workloads = [w for w in workloads if summaries[w]]
    say(f"== Summary ({command})")
    for name, server in report.get("servers", {}).items():
        if name.startswith("flackd"):
            say(f"   {name}: {server['version']}")
    for workload in workloads:
        for line in table(workload, summaries[workload]):
            say(line)
    say(
        "== Headline (median of repeats; fan-out in deliveries/s and rooms in messages/s, "
        "higher is better; the rest lower is better)"
    )
    for line in headline(workloads, summaries):
        say(line)
    say("== Markdown")
    say(markdown(report["settings"], workloads, summaries))


# -- main --------------------------------------------------------------------------------


#: Lines the loopback writev probe writes (each one waking a receiver that waits for it).
PROBE_WRITES = 2000


def writev_probe(writes: int = PROBE_WRITES) -> Json:
    """What one loopback ``writev`` of a 62-byte line costs here, in µs (median): to a
    receiver on the load generator's core that sleeps until it arrives (the chat case:
    the write also wakes it), and back to back while the receiver is busy reading. Where
    the first is several µs, the server that makes fewer system calls per delivery wins;
    machines differ most in this. Bounded: ``writes`` lines each way, 127.0.0.1 only."""
    line = [b"x" * 60 + b"\r\n"]
    listener = socket.socket()
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        pid = os.fork()
        if pid == 0:  # the receiver: answer each line with one byte, then read to the end
            code = 0
            try:
                with contextlib.suppress(OSError):
                    os.sched_setaffinity(0, {int(LOADGEN_CORE)})
                peer = socket.create_connection(("127.0.0.1", port))
                peer.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                for _ in range(writes):
                    if not peer.recv(64):
                        break
                    peer.send(b"k")
                while peer.recv(65536):
                    pass
            except BaseException:
                code = 1
            os._exit(code)
        conn, _ = listener.accept()
    finally:
        listener.close()
    try:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {int(SERVER_CORE)})
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        fd = conn.fileno()
        waking: list[float] = []
        for _ in range(writes):  # one line at a time: the receiver sleeps between them
            t0 = time.perf_counter()
            os.writev(fd, line)
            waking.append(time.perf_counter() - t0)
            conn.recv(1)
        busy: list[float] = []
        for _ in range(writes):  # back to back: the receiver is awake, reading
            t0 = time.perf_counter()
            os.writev(fd, line)
            busy.append(time.perf_counter() - t0)
    finally:
        conn.close()
        os.waitpid(pid, 0)
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
    return {
        "writev_waking_us": round(statistics.median(waking) * 1e6, 2),
        "writev_busy_us": round(statistics.median(busy) * 1e6, 2),
    }


def machine() -> Json:
    model = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpus": os.cpu_count(),
        "cpu": model,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "pinned": bool(shutil.which("taskset")),
        **writev_probe(),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark flackd side by side with ngIRCd, InspIRCd, miniircd and a "
        "bare Trio relay (see docs/performance.md)."
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="a seconds-long run against flackd and the relay, tiny counts",
    )
    parser.add_argument(
        "--servers",
        help=f"comma-separated, from {','.join(ALL_SERVERS)}; a flackd server may be run "
        "as a variant with flags of its own, measured beside the others: NAME@FLAG=VALUE "
        "(repeatable), e.g. flackd@write-delay-us=0 runs flackd with --write-delay-us 0; "
        "@src=DIR runs the flackd code in DIR (a checkout or git worktree of another "
        "revision) instead of the installed one",
    )
    parser.add_argument("--members", help="fan-out channel sizes, comma-separated (200,50)")
    parser.add_argument("--repeat", type=int, help="runs of each workload; the median is shown (3)")
    parser.add_argument("--workloads", help=f"{','.join(WORKLOADS)} (all)")
    parser.add_argument("--step-seconds", type=float, help="seconds per ramp step (3)")
    parser.add_argument(
        "--warmup-seconds",
        type=float,
        help="an unmeasured run at the first rate after every setup, for every server (2; 0: none)",
    )
    parser.add_argument(
        "--p99-limit-ms",
        type=float,
        default=50.0,
        help="the p99 latency past which a ramp step fails (50)",
    )
    parser.add_argument(
        "--retries",
        type=int,
        help="times a failed ramp step is run again (fresh clients, a warm-up) before it "
        "counts as failed, for every server (1; 0: the first failure counts)",
    )
    parser.add_argument("--senders", type=int, default=10, help="senders per fan-out channel (10)")
    parser.add_argument("--rooms-clients", type=int, help="clients in the rooms workload (2000)")
    parser.add_argument("--rooms-size", type=int, help="members per room (10)")
    parser.add_argument("--rooms-senders", type=int, help="senders in the rooms workload (500)")
    parser.add_argument(
        "--rooms-start", type=float, help="first offered rate of the rooms ramp, messages/s (1000)"
    )
    parser.add_argument(
        "--strace",
        action="store_true",
        help="count every system call of each measured step with strace -c -f (slows the "
        "server: use it on fixed-rate workloads such as latency, not for throughput)",
    )
    parser.add_argument("--out", type=Path, help="results JSON (benchmarks/results/<time>.json)")
    parser.add_argument(
        "--build",
        choices=("compiled", "pure"),
        help="the flackd the flackd servers run: this tree built as a normal install "
        "builds it, with mypyc (compiled: the default), or flackd as installed (pure: the "
        "default of --smoke; the development tree, or what PYTHONPATH names); flackd@pure "
        "adds the development tree beside the others",
    )
    parser.add_argument("--no-install", action="store_true", help="never apt-get or pip install")
    parser.add_argument(
        "--report", type=Path, help="run nothing: print the tables of a results JSON again"
    )
    return parser.parse_args(argv)


def settings_from(args: argparse.Namespace) -> Settings:
    smoke = args.smoke
    members = [int(m) for m in (args.members or ("10" if smoke else "200,50")).split(",")]
    if any(m < 2 for m in members):
        raise SystemExit("--members: a fan-out channel needs at least 2 members")
    kinds = (args.workloads or ",".join(WORKLOADS)).split(",")
    workloads: list[str] = []
    for kind in kinds:
        if kind == "fanout":
            workloads += [f"fanout-{m}" for m in members]
        elif kind in METRICS:
            workloads.append(kind)
        else:
            raise SystemExit(f"unknown workload {kind!r}")
    rooms_clients = args.rooms_clients or (40 if smoke else 2000)
    rooms_size = args.rooms_size or (5 if smoke else 10)
    rooms_senders = args.rooms_senders or (10 if smoke else 500)
    if rooms_size < 2 or rooms_clients % rooms_size:
        raise SystemExit("--rooms-size: at least 2, and --rooms-clients a multiple of it")
    if not 0 < rooms_senders <= min(rooms_clients, 99999):
        raise SystemExit("--rooms-senders: from 1 to --rooms-clients")
    return Settings(
        members=members,
        repeat=args.repeat or (1 if smoke else 3),
        step_seconds=args.step_seconds or (0.5 if smoke else 3.0),
        warmup_seconds=(
            args.warmup_seconds if args.warmup_seconds is not None else (0.2 if smoke else 2.0)
        ),
        retries=args.retries if args.retries is not None else (0 if smoke else 1),
        senders=args.senders if not smoke else 3,
        p99_limit_ms=args.p99_limit_ms,
        start_deliveries=200 if smoke else 200_000,
        max_deliveries=400 if smoke else 13_000_000,
        max_steps=2 if smoke else 14,
        bisect_steps=0 if smoke else 4,
        drain_seconds=2.0 if smoke else 5.0,
        fixed_seconds=0.5 if smoke else 5.0,
        latency_members=10 if smoke else 50,
        latency_rate=20 if smoke else 200,
        channel_clients=40 if smoke else 1000,
        channel_count=4 if smoke else 100,
        channel_rate=40 if smoke else 500,
        idle_clients=30 if smoke else 10_000,
        storm_clients=30 if smoke else 5000,
        storm_rate=300 if smoke else 2000,
        rooms_clients=rooms_clients,
        rooms_size=rooms_size,
        rooms_senders=rooms_senders,
        rooms_start_rate=args.rooms_start or (40 if smoke else 1000),
        strace=args.strace,
        workloads=workloads,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.report is not None:
        saved = json.loads(args.report.read_text())
        print_report(saved, saved.get("command", str(args.report)))
        return 0
    settings = settings_from(args)
    # SIGTERM unwinds like Ctrl-C, so every server and loadgen started is stopped by its PID.
    signal.signal(signal.SIGTERM, lambda _sig, _frame: sys.exit(143))
    smoke_servers = "flackd,flackd-durable,relay"
    names = (args.servers or (smoke_servers if args.smoke else ",".join(ALL_SERVERS))).split(",")
    unknown = [n for n in names if n.split("@")[0] not in ALL_SERVERS]
    if unknown:
        raise SystemExit(f"unknown server(s): {', '.join(unknown)}")
    with contextlib.suppress(ValueError, OSError):
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # inherited by children
    if not (shutil.which("taskset") and (os.cpu_count() or 1) >= 2):
        say("WARNING: taskset or a second core is missing: server and loadgen are NOT pinned")
    started = dt.datetime.now(dt.UTC)
    given = sys.argv[1:] if argv is None else argv
    command = shlex.join(["python", "benchmarks/run.py", *given])
    say(f"== Flack benchmark, {started:%Y-%m-%d %H:%M} UTC: {command}")
    host = machine()
    say(f"   {host['cpus']} CPUs ({host['cpu']}), Linux {host['kernel']}, Python {host['python']}")
    say(
        f"   one loopback writev of a line: {host['writev_waking_us']} µs when it wakes the "
        f"receiver, {host['writev_busy_us']} µs back to back (median of {PROBE_WRITES})"
    )
    stack = contextlib.ExitStack()
    tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="flack-bench-")))
    with stack:
        return run_all(args, settings, names, command, started, host, tmp)


def needs_build(names: list[str]) -> bool:
    """Whether a flackd server among ``names`` runs the tree's build (not ``@pure`` nor
    ``@src=DIR``): as :func:`variant` reads the names."""
    known = make_servers()
    return any(variant(known, name, BUILD).source == BUILD for name in names)


#: Where :func:`needs_build` asks :func:`variant` to put the build, to see who takes it.
BUILD = "<this tree's build>"


def run_all(
    args: argparse.Namespace,
    settings: Settings,
    names: list[str],
    command: str,
    started: dt.datetime,
    host: Json,
    tmp: Path,
) -> int:
    """Build flackd, prepare the servers, run every workload and report (in ``tmp``)."""
    build: str | None = None
    if (args.build or ("pure" if args.smoke else "compiled")) == "pure":
        built = "none: flackd runs as installed (--build pure)"
    elif not needs_build(names):
        built = "none: no flackd here runs this tree's build (only @pure or @src=DIR)"
    else:
        say("== Building flackd as a normal install does (setup.py, mypyc)")
        build, built = build_compiled(tmp)
        say(f"   {built}")
    servers, skipped = prepare_servers(names, install=not args.no_install, build=build)
    say("== Limits raised for this benchmark")
    for server in servers:
        say(f"  {server.name} ({server.version}):")
        for item in server.raised:
            say(f"    {item}")
    out = args.out or RESULTS / f"{started:%Y%m%d-%H%M%S}.json"
    report: Json = {
        "started": started.isoformat(timespec="seconds"),
        "command": command,
        "smoke": args.smoke,
        "machine": host,
        "build": built,
        "settings": settings.__dict__,
        "servers": {s.name: {"version": s.version, "raised": s.raised} for s in servers},
        "skipped": skipped,
        "runs": {},
        "summary": {},
    }
    loadgen = build_loadgen(tmp)
    bench = Bench(settings, loadgen, tmp)
    # Repeats are the outer loop, so that a noisy minute on the machine lands on one
    # repeat of several servers rather than on every repeat of one server.
    for n in range(settings.repeat):
        for workload in settings.workloads:
            say(f"== {workload}, repeat {n + 1}/{settings.repeat}")
            runs: dict[str, list[Json]] = report["runs"].setdefault(workload, {})
            for server in servers:
                need = clients_needed(workload, settings)
                if server.max_clients is not None and need > server.max_clients:
                    reason = f"skipped: {need} clients; {server.limit_reason}"
                    runs.setdefault(server.name, []).append({"skipped": reason})
                    say(f"  {server.name}: {reason}")
                    continue
                say(f"  {server.name}")
                try:
                    result = bench.run(server, workload)
                except (RuntimeError, TimeoutError, OSError) as exc:
                    result = {"error": str(exc)[:500]}
                    say(f"    error: {result['error']}")
                runs.setdefault(server.name, []).append(result)
                save(report, out, latest=False)  # so far: a crash keeps what was measured
    summaries = {
        w: {name: summarize(w, rs) for name, rs in report["runs"][w].items()}
        for w in settings.workloads
    }
    report["summary"] = {
        w: {
            name: {"value": e["value"], "values": e.get("values"), "why": e.get("why")}
            for name, e in entries.items()
        }
        for w, entries in summaries.items()
    }
    report["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    save(report, out, latest=args.out is None)
    print_report(report, command)
    say(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

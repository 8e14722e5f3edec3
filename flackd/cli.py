"""The ``flackd`` command: flags and environment -> Limits, signals -> graceful shutdown.

Owns: the command line (typer; ``--version`` names the build: :func:`build_kind`),
logging set-up, raising the file-descriptor limit, and
turning SIGINT/SIGTERM into the server's shutdown event, and SIGHUP (with TLS) into
reloading the certificate. Every field of
:class:`flackd.limits.Limits` becomes a flag (``--max-line-bytes``) with an environment
variable (``FLACKD_MAX_LINE_BYTES``), so the two can never drift apart. Imports typer,
trio and the flackd modules it wires together.
"""

from __future__ import annotations

import gc
import getpass
import importlib.machinery
import logging
import signal
import sys
from pathlib import Path
from typing import Any, Final

import trio
import typer

from flackd import __version__
from flackd.admission import PasswordFileError, ServerPassword
from flackd.hub.credentials import hash_password, parse_opers
from flackd.irc.numerics import DEFAULT_IRC_INFO, DEFAULT_IRC_NAME
from flackd.limits import Limits
from flackd.options import build_signature
from flackd.server import Server
from flackd.store import Store, StoreUnavailable
from flackd.store.log import LogError, SharedLog
from flackd.store.redis import DEFAULT_PREFIX, RedisLog, valid_node_id
from flackd.store.sqlite import SYNCHRONOUS, SqliteStore
from flackd.tls import ServerTLS, TLSConfigError

__all__ = ["app", "main"]

log = logging.getLogger("flackd")

app = typer.Typer(add_completion=False, rich_markup_mode=None, pretty_exceptions_enable=False)


#: The cyclic garbage collector's thresholds while flackd serves (CPython's defaults are
#: 700, 10, 10). See :func:`_tune_gc`.
GC_THRESHOLDS: Final = (50_000, 20, 100)


def _tune_gc() -> None:
    """Keep the cyclic garbage collector off the hot path (docs/performance.md, "Garbage
    collection").

    With CPython's defaults a collection runs every 700 allocations, every tenth of them
    scans the middle generation, and the oldest one (thousands of connections, their
    tasks, every channel's history) is scanned whole whenever it has grown by a quarter.
    That work grows with the number of connections rather than with the load: in many
    small rooms it was a fifth of a busy server's samples and put its p99 latency in the
    hundreds of milliseconds. Everything made while starting (modules, the state loaded
    from the store) is frozen, so no collection scans it again, and collections run far
    less often. Most of flackd's garbage is freed at once by reference counting; what
    only the collector can free (cycles, such as a task with its exception) waits
    longer, and is still freed.
    """
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _raise_fd_limit(wanted: int) -> None:
    """Raise the soft RLIMIT_NOFILE towards ``wanted`` (up to the hard limit)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on POSIX
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as exc:  # pragma: no cover - depends on the system
            log.warning("could not raise the file-descriptor limit to %d: %s", target, exc)


async def _run(
    host: str,
    port: int | None,
    limits: Limits,
    store: Store | None = None,
    tls: ServerTLS | None = None,
    tls_port: int | None = None,
    irc: tuple[int | None, int | None, str, str] = (None, None, DEFAULT_IRC_NAME, DEFAULT_IRC_INFO),
    web: tuple[int | None, int | None, tuple[str, ...]] = (None, None, ()),
    redis: tuple[str, str, str, str | None] | None = None,
    password: ServerPassword | None = None,
    opers: dict[str, str] | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM, then shut down gracefully; a second signal stops at once.

    With ``redis`` (URL, node id, key prefix, password), this is one node of several
    sharing the chat through that Redis (docs/cluster.md).

    With ``tls``, SIGHUP reloads the certificate (without TLS, SIGHUP keeps its default
    effect: it ends the process)."""
    if redis is not None:
        url, node_id, prefix, redis_password = redis
        async with RedisLog.open(
            url,
            node_id or None,
            prefix=prefix,
            password=redis_password,
            lease=limits.redis_lease,
            log_max=limits.redis_log_max,
            keep=limits.redis_snapshot_every,
            request_timeout=limits.redis_timeout,
        ) as shared_log:
            log.info("state shared through Redis at %s (node %s)", shared_log.where,
                     shared_log.node_id)  # fmt: skip
            await _serve(
                host, port, limits, None, tls, tls_port, irc, web, shared_log, password, opers
            )
    else:
        await _serve(host, port, limits, store, tls, tls_port, irc, web, None, password, opers)


async def _serve(
    host: str,
    port: int | None,
    limits: Limits,
    store: Store | None,
    tls: ServerTLS | None,
    tls_port: int | None,
    irc: tuple[int | None, int | None, str, str],
    web: tuple[int | None, int | None, tuple[str, ...]],
    shared_log: SharedLog | None,
    password: ServerPassword | None,
    opers: dict[str, str] | None,
) -> None:
    shutdown = trio.Event()
    irc_port, irc_tls_port, irc_name, irc_info = irc
    web_port, web_tls_port, web_origins = web
    server = Server(
        limits,
        store=store,
        tls=tls,
        irc_name=irc_name,
        irc_info=irc_info,
        web_origins=web_origins,
        shared_log=shared_log,
        password=password,
        opers=opers,
    )
    _tune_gc()  # after the state is loaded: it is frozen too
    watched = (signal.SIGINT, signal.SIGTERM) + ((signal.SIGHUP,) if tls else ())
    with trio.open_signal_receiver(*watched) as signals:
        async with trio.open_nursery() as nursery:

            async def watch_signals() -> None:
                async for signum in signals:
                    if signum == signal.SIGHUP and tls is not None:
                        _reload_tls(tls)
                        continue
                    if shutdown.is_set():
                        log.warning("second signal: stopping now")
                        nursery.cancel_scope.cancel()
                        return
                    log.info("%s received: shutting down", signal.Signals(signum).name)
                    shutdown.set()

            async def serve_then_stop(
                *, task_status: trio.TaskStatus[list[trio.SocketListener]]
            ) -> None:
                await server.serve(
                    host,
                    port,
                    shutdown,
                    tls_port=tls_port,
                    irc_port=irc_port,
                    irc_tls_port=irc_tls_port,
                    web_port=web_port,
                    web_tls_port=web_tls_port,
                    task_status=task_status,
                )
                nursery.cancel_scope.cancel()  # serve() is done: stop watching signals

            nursery.start_soon(watch_signals)
            listeners = await nursery.start(serve_then_stop)
            for listener in listeners:
                addr = listener.socket.getsockname()
                groups = (
                    ("IRC", server.irc_listeners),
                    ("web", server.web_listeners),
                    ("TLS", server.tls_listeners),
                )
                kinds = [name for name, group in groups if listener in group]
                kind = f" ({', '.join(kinds)})" if kinds else ""
                log.info("flackd %s listening on %s:%d%s", __version__, addr[0], addr[1], kind)
                if listener in server.web_listeners:
                    scheme = "https" if listener in server.tls_listeners else "http"
                    name = f"[{addr[0]}]" if ":" in addr[0] else addr[0]
                    log.info("the web client: %s://%s:%d/", scheme, name, addr[1])
    log.info("flackd stopped")


def _reload_tls(tls: ServerTLS) -> None:
    """SIGHUP: new handshakes get the certificate now in the files; open connections keep
    theirs. A certificate that cannot be used is logged and the old one stays."""
    try:
        tls.reload()
    except TLSConfigError as exc:
        log.error("SIGHUP: kept the old TLS certificate: %s", exc)
    else:
        log.info("SIGHUP: TLS certificate reloaded from %s", tls.cert)


def _command(**options: Any) -> None:
    host = options.pop("host")
    port = options.pop("port")
    logging.basicConfig(
        level=options.pop("log_level").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    options.pop("version")  # (--version exits before this: _print_version)
    log.info("flackd %s (%s)", __version__, build_kind())
    # coredis logs each script it (re)loads at INFO: routine, not news.
    logging.getLogger("coredis").setLevel(max(logging.WARNING, logging.getLogger().level))
    tls_cert, tls_key = options.pop("tls_cert"), options.pop("tls_key")
    tls_port: int | None = options.pop("tls_port")
    irc_port: int | None = options.pop("irc_port") or None
    irc_tls_port: int | None = options.pop("irc_tls_port") or None
    irc_name: str = options.pop("irc_name")
    irc_info: str = options.pop("irc_info")
    web_port: int | None = options.pop("web_port") or None
    web_tls_port: int | None = options.pop("web_tls_port") or None
    web_origins = tuple(o for o in options.pop("web_origin").replace(",", " ").split() if o)
    for origin in web_origins:
        if not origin.startswith(("http://", "https://")) or origin.count("/") != 2:
            raise typer.BadParameter(
                f"--web-origin {origin!r}: give scheme://host[:port], e.g. https://chat.example.com"
            )
    if bool(tls_cert) != bool(tls_key):
        raise typer.BadParameter("--tls-cert and --tls-key go together: give both or neither")
    if options.pop("no_plain"):
        if not tls_cert:
            raise typer.BadParameter("--no-plain leaves nothing to listen on without --tls-cert")
        port = irc_port = web_port = None  # none of the plain listeners
    tls: ServerTLS | None = None
    if tls_cert:
        try:
            tls = ServerTLS(tls_cert, tls_key)
        except TLSConfigError as exc:
            log.error("cannot use --tls-cert/--tls-key: %s", exc)
            raise typer.Exit(2) from None
    else:
        tls_port = irc_tls_port = web_tls_port = None
    try:
        opers = parse_opers(options.pop("oper") or ())
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    if opers:
        log.info("server operators: %s", ", ".join(sorted(opers)))
    data_dir = options.pop("data_dir")
    redis_url: str = options.pop("redis")
    node_id: str = options.pop("node_id")
    redis_prefix: str = options.pop("redis_prefix")
    password_file: str = options.pop("redis_password_file")
    redis: tuple[str, str, str, str | None] | None = None
    if redis_url:
        if data_dir:
            raise typer.BadParameter(
                "--redis and --data-dir exclude each other: with --redis the state lives "
                "in Redis (make Redis durable with its own AOF settings; docs/cluster.md)"
            )
        if not redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise typer.BadParameter(f"--redis {redis_url!r}: give redis://host:port/db")
        if node_id and not valid_node_id(node_id):
            raise typer.BadParameter(f"--node-id {node_id!r}: 1-40 letters, digits, _ or -")
        if not valid_node_id(redis_prefix):
            raise typer.BadParameter(f"--redis-prefix {redis_prefix!r}: letters, digits, _ or -")
        password = None
        if password_file:
            try:
                with open(password_file, encoding="utf-8") as f:
                    password = f.read().strip()
            except OSError as exc:
                raise typer.BadParameter(f"--redis-password-file: {exc}") from None
        redis = (redis_url, node_id, redis_prefix, password)
    server_password: ServerPassword | None = None
    server_password_file: str = options.pop("password_file")
    if server_password_file:
        try:
            server_password = ServerPassword.from_file(server_password_file)
        except PasswordFileError as exc:
            log.error("cannot use --password-file: %s", exc)
            raise typer.Exit(2) from None
    synchronous = options.pop("synchronous").lower()
    data_max_mib = options.pop("data_max_mib")
    if synchronous not in SYNCHRONOUS:
        raise typer.BadParameter(f"--synchronous must be one of: {', '.join(SYNCHRONOUS)}")
    if data_max_mib < 0:
        raise typer.BadParameter("--data-max-mib must be 0 (no limit) or more")
    try:
        limits = Limits(**options)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    _raise_fd_limit(limits.max_connections * 2 + 64)
    store: SqliteStore | None = None
    if redis is not None:
        pass  # logged once connected
    elif data_dir:
        try:
            store = SqliteStore.open(
                data_dir,
                synchronous=synchronous,
                max_bytes=data_max_mib * 1024 * 1024 if data_max_mib else None,
            )
        except StoreUnavailable as exc:
            log.error("cannot use --data-dir: %s", exc)
            raise typer.Exit(2) from None
        log.info("state kept in %s (synchronous=%s)", store.where, synchronous)
    else:
        log.info("state kept in memory only (--data-dir keeps it across restarts)")
    try:
        trio.run(
            _run,
            host,
            port,
            limits,
            store,
            tls,
            tls_port,
            (irc_port, irc_tls_port, irc_name, irc_info),
            (web_port, web_tls_port, web_origins),
            redis,
            server_password,
            opers,
        )
    except* LogError as group:  # --redis: a node that may not join (other settings)
        reason: BaseException = group
        while isinstance(reason, BaseExceptionGroup):
            reason = reason.exceptions[0]
        log.error("cannot join the cluster: %s", reason)
        raise typer.Exit(2) from None
    except* OSError as group:  # Trio's nurseries wrap it in an ExceptionGroup
        every = (port, tls_port, irc_port, irc_tls_port, web_port, web_tls_port)
        ports = "/".join(str(p) for p in every if p is not None)
        log.error("cannot listen on %s:%s: %s", host, ports, group.exceptions[0])
        raise typer.Exit(2) from None
    finally:
        if store is not None:
            store.close()


def build_kind() -> str:
    """Which build of flackd runs: how many of its modules are compiled (a normal install
    compiles setup.py's ``COMPILED`` with mypyc where it can), or ``pure Python`` (an
    editable install, ``FLACK_PURE=1``, or no C compiler). Python imports a module's
    extension before its source, so each extension in the package is a compiled module."""
    package = Path(__file__).parent
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    compiled = sum(1 for path in package.rglob("*") if path.name.endswith(suffixes))
    return f"{compiled} modules compiled with mypyc" if compiled else "pure Python"


def _print_version(wanted: bool) -> None:
    """``--version``: the version and the build, then exit."""
    if wanted:
        sys.stdout.write(f"flackd {__version__} ({build_kind()})\n")
        raise typer.Exit()


_command.__signature__ = build_signature(  # type: ignore[attr-defined]
    irc_name=DEFAULT_IRC_NAME,
    irc_info=DEFAULT_IRC_INFO,
    redis_prefix=DEFAULT_PREFIX,
    on_version=_print_version,
)
_command.__doc__ = f"""flackd {__version__}: the Flack chat server.

Speaks a UTF-8 text line protocol (protocol.md) that people can type in nc or telnet and
bots can parse. Channels and the last messages of each live in memory. Logs go to stderr.
SIGINT or SIGTERM: stop accepting, send every client BYE SHUTDOWN, flush for up to
--shutdown-grace seconds, exit 0. With --tls-cert and --tls-key the same protocol is also
served over TLS on --tls-port; SIGHUP then reloads the certificate without dropping anyone.
Every flag can also be set by the environment variable shown beside it.
"""
app.command()(_command)


HASH_PASSWORD_HELP: Final = """usage: flackd hash-password

Reads a server operator's password (from the terminal without echo, or one line of
standard input) and prints its salted scrypt hash, for flackd --oper NAME:HASH (or
FLACKD_OPERS). The password itself is never given to flackd.
"""


def hash_password_command(args: list[str]) -> int:
    """``flackd hash-password``: a password in, its hash (:mod:`flackd.hub.credentials`)
    out; the exit status."""
    if args:
        out = sys.stdout if args[0] in ("-h", "--help") else sys.stderr
        out.write(HASH_PASSWORD_HELP)
        return 0 if out is sys.stdout else 2
    if sys.stdin.isatty():
        password = getpass.getpass("operator password: ")
        if getpass.getpass("again: ") != password:
            sys.stderr.write("flackd hash-password: the two passwords differ\n")
            return 1
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password or " " in password:
        sys.stderr.write("flackd hash-password: give a password, without spaces (OPER takes "
                         "one word)\n")  # fmt: skip
        return 1
    sys.stdout.write(hash_password(password) + "\n")
    return 0


def main() -> None:
    """Entry point of the ``flackd`` console script (``flackd hash-password`` is a
    command of its own; everything else is the server's flags)."""
    if sys.argv[1:2] == ["hash-password"]:
        sys.exit(hash_password_command(sys.argv[2:]))
    app()

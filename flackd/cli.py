"""The ``flackd`` command: flags and environment -> Limits, signals -> graceful shutdown.

Owns: the command line (typer), logging set-up, raising the file-descriptor limit, and
turning SIGINT/SIGTERM into the server's shutdown event. Every field of
:class:`flackd.limits.Limits` becomes a flag (``--max-line-bytes``) with an environment
variable (``FLACKD_MAX_LINE_BYTES``), so the two can never drift apart. Imports typer,
trio and the flackd modules it wires together.
"""

from __future__ import annotations

import inspect
import logging
import signal
import sys
from typing import Any, Final

import trio
import typer

from flackd import __version__
from flackd.limits import ENV_PREFIX, Limits, limit_fields
from flackd.server import Server

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "app", "main"]

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 7777

log = logging.getLogger("flackd")

app = typer.Typer(add_completion=False, rich_markup_mode=None, pretty_exceptions_enable=False)


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


async def _run(host: str, port: int, limits: Limits) -> None:
    """Serve until SIGINT/SIGTERM, then shut down gracefully; a second signal stops at once."""
    shutdown = trio.Event()
    server = Server(limits)
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:

            async def watch_signals() -> None:
                async for signum in signals:
                    if shutdown.is_set():
                        log.warning("second signal: stopping now")
                        nursery.cancel_scope.cancel()
                        return
                    log.info("%s received: shutting down", signal.Signals(signum).name)
                    shutdown.set()

            async def serve_then_stop(
                *, task_status: trio.TaskStatus[list[trio.SocketListener]]
            ) -> None:
                await server.serve(host, port, shutdown, task_status=task_status)
                nursery.cancel_scope.cancel()  # serve() is done: stop watching signals

            nursery.start_soon(watch_signals)
            listeners = await nursery.start(serve_then_stop)
            for listener in listeners:
                addr = listener.socket.getsockname()
                log.info("flackd %s listening on %s:%d", __version__, addr[0], addr[1])
    log.info("flackd stopped")


def _command(**options: Any) -> None:
    host = options.pop("host")
    port = options.pop("port")
    logging.basicConfig(
        level=options.pop("log_level").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        limits = Limits(**options)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    _raise_fd_limit(limits.max_connections * 2 + 64)
    try:
        trio.run(_run, host, port, limits)
    except* OSError as group:  # Trio's nurseries wrap it in an ExceptionGroup
        log.error("cannot listen on %s:%s: %s", host, port, group.exceptions[0])
        raise typer.Exit(2) from None


def _build_signature() -> inspect.Signature:
    def option(name: str, default: Any, help: str, *decls: str) -> inspect.Parameter:
        flag = "--" + name.replace("_", "-")
        info = typer.Option(default, flag, *decls, envvar=ENV_PREFIX + name.upper(), help=help)
        return inspect.Parameter(
            name, inspect.Parameter.KEYWORD_ONLY, default=info, annotation=type(default)
        )

    params = [
        option("host", DEFAULT_HOST, "Address to listen on (0.0.0.0 for every IPv4 address)."),
        option("port", DEFAULT_PORT, "TCP port to listen on (0 picks a free one)."),
        option("log_level", "info", "Log level on stderr: debug, info, warning or error."),
    ]
    params += [option(name, default, help) for name, default, help in limit_fields()]
    return inspect.Signature(params)


_command.__signature__ = _build_signature()  # type: ignore[attr-defined]
_command.__doc__ = f"""flackd {__version__}: the Flack chat server.

Speaks a UTF-8 text line protocol (protocol.md) that people can type in nc or telnet and
bots can parse. Channels and the last messages of each live in memory. Logs go to stderr.
SIGINT or SIGTERM: stop accepting, send every client BYE SHUTDOWN, flush for up to
--shutdown-grace seconds, exit 0. Every flag can also be set by the environment variable
shown beside it.
"""
app.command()(_command)


def main() -> None:
    """Entry point of the ``flackd`` console script."""
    app()

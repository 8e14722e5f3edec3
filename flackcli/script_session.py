"""What every script command shares: where to connect, registering or resuming, one
call at a time, and the exit codes.

Owns: :class:`Target`, :func:`connected` (a registered connection that says QUIT when
it ends, or a resumed session left resumable), :func:`register` with its nick
fallbacks, :func:`call` (a refusal as exit code 3), :class:`ScriptError` and the exit
codes, and :func:`run_command` (``trio.run`` with every way out turned into an exit
code). Never imports prompt_toolkit. Imports trio, the standard library,
``flackd.codec`` and flackcli.

Exit codes: 0 ok; 1 cannot connect or connection lost; 2 usage error; 3 refused by the
server (no such channel, nick in use, ...); 4 timed out waiting for the echo; 130
interrupted (143 when ``tail`` is ended by SIGTERM).
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Final

import trio

from flackcli.address import Address
from flackcli.client import Client, ConnectionClosed, FlackError, block, open_client
from flackcli.pacing import Pacer
from flackcli.script_output import Output, StdoutClosed
from flackd.codec import commands as c
from flackd.codec import events as e
from flackd.codec.text import is_valid_channel

__all__ = [
    "BLOCK_COST",
    "EXIT_CONNECTION",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_REFUSED",
    "EXIT_TERMINATED",
    "EXIT_TIMEOUT",
    "EXIT_USAGE",
    "HISTORY_MAX",
    "QUIT_GRACE",
    "ScriptError",
    "Session",
    "Target",
    "call",
    "check_channel",
    "connected",
    "history_messages",
    "nick_candidates",
    "register",
    "resume",
    "run_command",
]

EXIT_OK: Final = 0
EXIT_CONNECTION: Final = 1
EXIT_USAGE: Final = 2
EXIT_REFUSED: Final = 3
EXIT_TIMEOUT: Final = 4
EXIT_INTERRUPTED: Final = 130
EXIT_TERMINATED: Final = 143

#: What HISTORY and LIST cost in flackd's flood bucket (PING, PONG and QUIT cost nothing).
BLOCK_COST: Final = 3
HISTORY_MAX: Final = 100
#: How long a polite QUIT may take when a command ends.
QUIT_GRACE: Final = 2.0
NICK_MAX: Final = 16


class ScriptError(Exception):
    """Ends a script command with ``code``; ``message`` goes to stderr."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Target:
    """Where to connect and as whom. ``exact``: the nick was asked for with ``--nick``, so
    no ``nick_`` fallback is tried when it is taken. ``tls``: the TLS context for a
    ``tls://`` server (:func:`flackcli.address.tls_context`), None for plain TCP."""

    host: str
    port: int
    nick: str
    exact: bool = False
    tls: ssl.SSLContext | None = None
    #: Resume this session (the interactive client's, from state.json) instead of
    #: registering a new nick; it stays resumable afterwards (no QUIT).
    token: str | None = None

    @property
    def where(self) -> str:
        return str(Address(self.host, self.port, self.tls is not None))


# -- connecting and registering ------------------------------------------------------------


def nick_candidates(nick: str, exact: bool) -> list[str]:
    """The nicks to try in turn: ``nick``, then (unless exact) ``nick_`` and ``nick__``."""
    if exact:
        return [nick]
    return [nick] + [nick[: NICK_MAX - len(s)] + s for s in ("_", "__")]


async def register(client: Client, target: Target, pacer: Pacer | None = None) -> str:
    """NICK, trying the candidates; return the nick we got. Raises :class:`ScriptError`."""
    for candidate in nick_candidates(target.nick, target.exact):
        if pacer is not None:
            await pacer.take()
        try:
            await client.call(c.Nick(candidate))
        except FlackError as err:
            if err.code == "NICK_IN_USE":
                continue
            raise ScriptError(EXIT_REFUSED, f"refused by the server: {err}") from None
        return candidate
    tried = ", ".join(nick_candidates(target.nick, target.exact))
    hint = "" if target.exact else "; pick another with --nick"
    raise ScriptError(EXIT_REFUSED, f"refused by the server: NICK_IN_USE: {tried} taken{hint}")


@dataclass
class Session:
    """A registered connection and the nick it got; ``token``: the session's new resume
    token, when it was resumed (the old one is spent)."""

    client: Client
    nick: str
    token: str | None = None


async def resume(client: Client, target: Target) -> Session:
    """RESUME ``target.token``; a refusal (an unknown token) is exit code 3."""
    assert target.token is not None
    try:
        lines = await client.call(c.Resume(target.token))
    except FlackError as err:
        raise ScriptError(
            EXIT_REFUSED,
            f"cannot resume the session of {target.nick}: {err} (start flackcli to sign in)",
        ) from None
    ok = next(x for x in lines if isinstance(x, e.Ok) and x.command == "RESUME")
    return Session(client, ok.params[0], ok.param("token"))


@asynccontextmanager
async def connected(
    target: Target, pacer: Pacer | None = None, *, conversations: bool = False
) -> AsyncIterator[Session]:
    """A registered connection that says QUIT when the block ends, so the nick is free at
    once; with ``target.token``, the resumed session, closed without QUIT (it stays
    resumable). Connection failures become :class:`ScriptError` with exit code 1.
    ``conversations``: the command needs protocol 1.1 (exit code 3 before registering
    with a version-1 server)."""
    async with AsyncExitStack() as stack:
        try:
            client = await stack.enter_async_context(
                open_client(target.host, target.port, tls=target.tls)
            )
        except OSError as exc:
            raise ScriptError(
                EXIT_CONNECTION, f"cannot connect to {target.where}: {exc.strerror or exc}"
            ) from None
        except trio.TooSlowError:
            raise ScriptError(
                EXIT_CONNECTION, f"cannot connect to {target.where}: timed out"
            ) from None
        except ConnectionClosed as exc:
            raise ScriptError(
                EXIT_CONNECTION, f"cannot connect to {target.where}: {exc.reason}"
            ) from None
        if conversations and client.hello is not None and client.hello.protocol == "1":
            raise ScriptError(
                EXIT_REFUSED,
                f"{target.where} speaks protocol 1: it keeps no private conversations "
                "and no read markers",
            )
        try:
            if target.token is not None:
                yield await resume(client, target)
                return
            nick = await register(client, target, pacer)
            yield Session(client, nick)
        except ConnectionClosed as exc:
            raise ScriptError(EXIT_CONNECTION, f"connection lost: {exc.reason}") from None
        finally:
            if target.token is None:
                await _quit(client)


async def _quit(client: Client) -> None:
    """QUIT and wait (briefly) for the server's BYE, so that it is carried out for sure."""
    if client.closed.is_set():
        return
    with trio.move_on_after(QUIT_GRACE) as scope:
        scope.shield = True
        with suppress(ConnectionClosed, FlackError):
            await client.call(c.Quit("flackcli script done"))


async def call(client: Client, command: c.Command, action: str) -> list[e.Event]:
    """``client.call``; a refusal becomes exit code 3 with ``action`` in the message."""
    try:
        return await client.call(command)
    except FlackError as err:
        raise ScriptError(EXIT_REFUSED, f"{action}: refused by the server: {err}") from None


def history_messages(lines: Iterable[e.Event]) -> list[e.Message]:
    body, _ = block(lines, "HISTORY")
    return [line for line in body if isinstance(line, e.Message)]


def check_channel(channel: str) -> None:
    """A usage error (exit 2) unless ``channel`` is a valid channel name."""
    if not is_valid_channel(channel):
        raise ScriptError(
            EXIT_USAGE,
            f"{channel!r} is not a channel name: # and then 1-32 ASCII letters, digits, _ or - "
            "(quote it in the shell: '#ops')",
        )


# -- running a command -------------------------------------------------------------------


def _sole(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def run_command(out: Output, main: Callable[[], Awaitable[int]]) -> int:
    """``trio.run(main)``, with every way out turned into an exit code."""
    try:
        return trio.run(main)
    except BaseException as raised:
        exc = _sole(raised)
        if isinstance(exc, ScriptError):
            out.error(exc.message)
            return exc.code
        if isinstance(exc, KeyboardInterrupt):
            return EXIT_INTERRUPTED
        if isinstance(exc, StdoutClosed):
            return EXIT_OK
        if isinstance(exc, FlackError):
            out.error(f"refused by the server: {exc}")
            return EXIT_REFUSED
        if isinstance(exc, ConnectionClosed):
            out.error(f"connection lost: {exc.reason}")
            return EXIT_CONNECTION
        raise

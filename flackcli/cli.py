"""The ``flackcli`` command: global options, the script subcommands, the interactive client.

Owns: the command line (typer): ``--server``/``--nick``/``--ca`` (also ``FLACK_SERVER``,
``FLACK_NICK`` and ``FLACK_CA``), ``--json``/``--text``, the subcommands ``send``,
``tail``, ``history``, ``channels``, ``who`` and ``unread`` (carried out by
:mod:`flackcli.scripting` and :mod:`flackcli.script_tail`; ``unread`` and the history of
a conversation resume the interactive client's saved session, under its lock), and
starting the interactive client, which is imported only when it is wanted, so the script
commands never load prompt_toolkit. Imports typer, the standard library and flackcli.
"""

from __future__ import annotations

import dataclasses
import ssl
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, NoReturn

import typer

from flackcli import address, files, scripting
from flackcli.script_output import Output
from flackcli.script_session import EXIT_INTERRUPTED, EXIT_REFUSED, EXIT_USAGE, Target
from flackcli.script_tail import run_tail
from flackd.codec.text import is_valid_nick

__all__ = ["app", "main"]

NO_TERMINAL = "flackcli: the interactive client needs a terminal; try 'flackcli tail #chan'"

app = typer.Typer(add_completion=False, rich_markup_mode=None, pretty_exceptions_enable=False)


def _help_text() -> str:
    return f"""flackcli: the terminal client of Flack.

With no command it starts the interactive client, which needs a terminal (/help inside
lists its commands: /edit changes your last message, /me sends an action; the channel list
shows unread counts, from the server's read markers when it has them). The commands are
for scripts and bots: they print JSON lines when stdout is not a terminal (or with
--json) and text otherwise (or with --text). Script commands connect as <nick>-cli unless
given their own --nick, so they do not collide with your interactive client; 'unread' and
'history NICK' instead resume your own saved session while the interactive client is not
running.

\b
Files:
  config  {files.config_path()}
          (yours: flackcli only reads it)
  state   {files.state_path()}
          (flackcli's: last server, resume token, channels and private
          conversations, the last message seen in each)

\b
Server and nick, first found wins: --server/--nick, then FLACK_SERVER/FLACK_NICK,
then config.toml, then state.json, then {address.DEFAULT_HOST}:{address.DEFAULT_PORT} and $USER.

\b
TLS: --server tls://HOST (port {address.DEFAULT_TLS_PORT}) or tls://HOST:PORT. The
certificate is checked against the system's trusted CAs and HOST, or with --ca FILE
(FLACK_CA, config.toml: ca) against that CA only. A failed check is an error, never a
fall back to plain text.

\b
A server with a password (flackd --password-file): put it in FLACK_PASSWORD; it is
sent with PASS before NICK or RESUME, and only to a server that asks for one.

\b
Exit codes:
  0    ok
  1    cannot connect, or the connection was lost
  2    usage error
  3    refused by the server (no such channel, nick in use, ...), or (unread,
       history NICK) no saved session, or the interactive client is using it
  4    timed out waiting for the server's echo of a message
  130  interrupted (tail ended by SIGTERM: 143)
"""


@dataclass(frozen=True)
class _Globals:
    server: str | None
    nick: str | None
    json: bool
    text: bool
    ca: str | None = None


def _fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    typer.echo(f"flackcli: {message}", err=True)
    raise typer.Exit(code)


def _settings(
    ctx: typer.Context,
) -> tuple[files.Settings, files.Config, files.State]:
    g: _Globals = ctx.obj
    try:
        config = files.load_config()
    except files.ConfigError as exc:
        _fail(str(exc))
    for warning in config.warnings:
        typer.echo(f"flackcli: {warning}", err=True)
    state = files.load_state()
    if state.warning:
        typer.echo(f"flackcli: {state.warning}", err=True)
    try:
        settings = files.resolve(g.server, g.nick, config, state, ca_flag=g.ca)
    except ValueError as exc:
        _fail(str(exc))
    return settings, config, state


def _tls(settings: files.Settings) -> ssl.SSLContext | None:
    """The TLS context for a ``tls://`` server (None for plain TCP); a bad --ca fails."""
    try:
        return address.tls_context(settings.address, settings.ca)
    except ValueError as exc:
        _fail(str(exc))


def _target(ctx: typer.Context, nick: str | None) -> Target:
    settings, _, _ = _settings(ctx)
    tls = _tls(settings)
    if nick is not None:
        if not is_valid_nick(nick):
            _fail(f"--nick {nick!r} is not a valid nick (1-16 ASCII letters, digits, _ or -)")
        return Target(settings.host, settings.port, nick, exact=True, tls=tls)
    return Target(settings.host, settings.port, files.script_nick(settings.nick), tls=tls)


def _output(ctx: typer.Context, json_flag: bool, text_flag: bool) -> Output:
    g: _Globals = ctx.obj
    if json_flag and text_flag:
        _fail("--json and --text cannot be used together")
    if json_flag or text_flag:
        return Output(json_mode=json_flag)
    if g.json or g.text:
        return Output(json_mode=g.json)
    return Output(json_mode=not sys.stdout.isatty())


def _exit(code: int) -> NoReturn:
    raise typer.Exit(code)


# -- options shared by the subcommands -------------------------------------------------------

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON lines.")]
TextFlag = Annotated[bool, typer.Option("--text", help="Print text lines for people.")]
NickOption = Annotated[
    str | None,
    typer.Option(
        "--nick", metavar="NICK", help="Connect as exactly NICK (default: <your nick>-cli)."
    ),
]
Channel = Annotated[str, typer.Argument(metavar="CHANNEL", help="A channel, like '#ops'.")]


@app.callback(invoke_without_command=True)
def _root(
    ctx: typer.Context,
    server: Annotated[
        str | None,
        typer.Option(
            "--server",
            metavar="[tls://]HOST:PORT[,HOST:PORT...]",
            envvar=files.ENV_SERVER,
            help="The flackd to use; tls:// for TLS (default port 7778). Several addresses "
            "(the nodes of one cluster, comma-separated): the client moves on to the next "
            "when one cannot be reached, and resumes there.",
        ),
    ] = None,
    nick: Annotated[
        str | None,
        typer.Option("--nick", metavar="NICK", envvar=files.ENV_NICK, help="Your nick."),
    ] = None,
    json_: Annotated[bool, typer.Option("--json", help="Script commands print JSON.")] = False,
    text: Annotated[bool, typer.Option("--text", help="Script commands print text.")] = False,
    ca: Annotated[
        str | None,
        typer.Option(
            "--ca",
            metavar="FILE",
            envvar=files.ENV_CA,
            help="Trust only the CA certificates in this PEM file for a tls:// server.",
        ),
    ] = None,
) -> None:
    if json_ and text:
        _fail("--json and --text cannot be used together")
    ctx.obj = _Globals(server or None, nick or None, json_, text, ca or None)
    if ctx.invoked_subcommand is not None:
        return
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        typer.echo(NO_TERMINAL, err=True)
        raise typer.Exit(EXIT_USAGE)
    settings, config, state = _settings(ctx)
    try:
        from flackcli.ui.first_run import ask
        from flackcli.ui.runner import run_tui
    except ImportError as exc:
        _fail(f"the interactive client is not available in this installation ({exc})", 1)
    if settings.nick_from == "default":  # first run: nothing says who you are yet
        try:
            where, nick = ask(settings.server, settings.nick)
        except (EOFError, KeyboardInterrupt):
            raise typer.Exit(EXIT_INTERRUPTED) from None
        settings = dataclasses.replace(
            settings, address=where, nick=nick, server_from="asked", nick_from="asked"
        )
    tls = _tls(settings)
    state.server = settings.server
    state.nick = settings.nick
    status = run_tui(
        settings.host,
        settings.port,
        settings.nick,
        config,
        state,
        tls=tls,
        fallbacks=[(a.host, a.port) for a in settings.fallbacks],
    )
    raise typer.Exit(status if isinstance(status, int) else 0)


_root.__doc__ = _help_text()


@app.command()
def send(
    ctx: typer.Context,
    channel: Annotated[
        str, typer.Argument(metavar="CHANNEL", help="A channel like '#ops', or a nick.")
    ],
    words: Annotated[
        list[str],
        typer.Argument(metavar="TEXT", help="The message; '-' sends each line of stdin."),
    ],
    nick: NickOption = None,
    create: Annotated[
        bool, typer.Option("--create", help="Create the channel if it does not exist.")
    ] = False,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout", min=0.1, metavar="SECONDS", help="How long to wait for each echo."
        ),
    ] = 10.0,
    json_flag: JsonFlag = False,
    text_flag: TextFlag = False,
) -> None:
    """Send a message, wait for the server's echo, exit.

    Joins the channel first (it must exist unless --create is given). With TEXT '-', every
    line of stdin is one message, paced to the server's flood control (a burst of 10, then
    2 lines a second). Exits 0 only once the server has echoed every message; a line too
    long for one message is split at spaces. Prints nothing, or with --json the echo of
    each message (a 'message' record, with the id the server gave it).
    """
    out = _output(ctx, json_flag, text_flag)
    target = _target(ctx, nick)
    text = " ".join(words)
    g: _Globals = ctx.obj
    _exit(
        scripting.run_send(
            target,
            channel,
            text,
            out=out,
            create=create,
            timeout=timeout,
            print_echoes=json_flag or g.json,
        )
    )


@app.command()
def tail(
    ctx: typer.Context,
    channel: Channel,
    history: Annotated[
        int | None,
        typer.Option(
            "--history", "-n", min=0, max=100, metavar="N", help="Start with the last N messages."
        ),
    ] = None,
    since_id: Annotated[
        str | None,
        typer.Option(
            "--since-id", metavar="ID", help="Start with every message after ID, once each."
        ),
    ] = None,
    nick: NickOption = None,
    json_flag: JsonFlag = False,
    text_flag: TextFlag = False,
) -> None:
    """Follow a channel until interrupted, reconnecting on its own.

    Prints the last 10 messages (--history N), or every message after ID (--since-id: store
    the id of the last message you handled and pass it next time to miss nothing and see
    nothing twice), then each new message and event as it arrives. After a reconnect it
    catches up without duplicates; when the server no longer has everything, a 'gap' record
    says so. Connection status goes to stderr (in JSON mode: 'status' records on stdout).
    """
    if history is not None and since_id is not None:
        _fail("--history and --since-id cannot be used together")
    out = _output(ctx, json_flag, text_flag)
    target = _target(ctx, nick)
    start = 10 if history is None else history
    _exit(run_tail(target, channel, out=out, history=start, since_id=since_id))


@app.command("history")
def history_command(
    ctx: typer.Context,
    channel: Annotated[
        str,
        typer.Argument(
            metavar="TARGET", help="A channel like '#ops', or a nick for a conversation."
        ),
    ],
    count: Annotated[
        int,
        typer.Option(
            "--count", "-n", min=1, max=10_000, metavar="N", help="How many (the server keeps 100)."
        ),
    ] = 20,
    nick: NickOption = None,
    json_flag: JsonFlag = False,
    text_flag: TextFlag = False,
) -> None:
    """Print the last messages of a channel, or of a private conversation, oldest first.

    For a nick it prints your conversation with them: it resumes your own session (the
    one flackcli saved in state.json; --nick picks the session of another nick), so it
    works only while the interactive client is not running it, and the session stays
    resumable afterwards (your channels see you come and go).
    """
    out = _output(ctx, json_flag, text_flag)
    if channel.startswith("#"):
        _exit(scripting.run_history(_target(ctx, nick), channel, out=out, count=count))
    if not is_valid_nick(channel):
        _fail(f"{channel!r} is neither a #channel nor a nick (quote a channel: '#ops')")
    with _saved_session(ctx, nick) as (target, save_token):
        _exit(scripting.run_history(target, channel, out=out, count=count, on_token=save_token))


@app.command()
def unread(
    ctx: typer.Context,
    nick: Annotated[
        str | None,
        typer.Option("--nick", metavar="NICK", help="The saved session of NICK (default: yours)."),
    ] = None,
    json_flag: JsonFlag = False,
    text_flag: TextFlag = False,
) -> None:
    """Print the conversations with unread messages, by the server's read markers.

    One line each, like 'bob: 2 unread' or '#general: 5 unread, 1 mention' (JSON:
    target, unread, mentions, newest), or 'nothing unread'. It resumes your own session
    (the one flackcli saved in state.json), so it works only while the interactive client
    is not running it; the session stays resumable afterwards (your channels see you come
    and go). Needs a server with protocol 1.1.
    """
    out = _output(ctx, json_flag, text_flag)
    with _saved_session(ctx, nick) as (target, save_token):
        _exit(scripting.run_unread(target, out=out, on_token=save_token))


@contextmanager
def _saved_session(
    ctx: typer.Context, nick: str | None
) -> Iterator[tuple[Target, Callable[[str], None]]]:
    """The interactive client's saved session (of ``nick``, default yours), locked
    against the interactive client while the command runs, and how to save its next
    token. Fails (exit 3) when there is none, or when the interactive client runs it."""
    settings, _, state = _settings(ctx)
    tls = _tls(settings)
    who = nick or settings.nick
    if not is_valid_nick(who):
        _fail(f"--nick {who!r} is not a valid nick (1-16 ASCII letters, digits, _ or -)")
    server = str(settings.address)
    memory = files.memory_for(state, server, who)
    if memory.token is None:
        _fail(
            f"no saved session of {who} on {server}: start flackcli --nick {who} once",
            EXIT_REFUSED,
        )
    with files.session_lock(server, who) as free:
        if not free:
            _fail(
                f"the interactive client is using the session of {who} on {server} "
                "(its channel list shows the counts); try again once it has quit",
                EXIT_REFUSED,
            )

        def save_token(token: str) -> None:
            memory.token = token
            files.remember(state, server, memory, nick=who)
            files.save_state(state)

        target = Target(settings.host, settings.port, who, exact=True, tls=tls)
        yield dataclasses.replace(target, token=memory.token), save_token


@app.command()
def channels(
    ctx: typer.Context,
    nick: NickOption = None,
    json_flag: JsonFlag = False,
    text_flag: TextFlag = False,
) -> None:
    """List the channels with their member counts and topics."""
    out = _output(ctx, json_flag, text_flag)
    _exit(scripting.run_channels(_target(ctx, nick), out=out))


@app.command()
def who(
    ctx: typer.Context,
    channel: Channel,
    nick: NickOption = None,
    json_flag: JsonFlag = False,
    text_flag: TextFlag = False,
) -> None:
    """List the members of a channel."""
    out = _output(ctx, json_flag, text_flag)
    _exit(scripting.run_who(_target(ctx, nick), channel, out=out))


def main() -> None:
    """Entry point of the ``flackcli`` console script."""
    _root.__doc__ = _help_text()  # the paths as the environment says now
    app()

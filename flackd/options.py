"""The flags of the ``flackd`` command: every option, its default, its environment
variable and its help text.

Owns: the listeners' default ports, and :func:`build_signature`, the signature typer
reads for the ``flackd`` command: the server's own flags, ``--oper``, then one flag per
field of :class:`flackd.limits.Limits` (``--max-line-bytes``, ``FLACKD_MAX_LINE_BYTES``),
so flags and limits never drift apart. What the flags do is :mod:`flackd.cli`'s. Imports
typer and :mod:`flackd.limits`; never trio, a store or a front end (their defaults
are passed in).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Final

import typer

from flackd.limits import ENV_PREFIX, limit_fields

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_IRC_PORT",
    "DEFAULT_IRC_TLS_PORT",
    "DEFAULT_PORT",
    "DEFAULT_TLS_PORT",
    "DEFAULT_WEB_PORT",
    "DEFAULT_WEB_TLS_PORT",
    "build_signature",
]

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 7777
DEFAULT_TLS_PORT: Final = 7778
DEFAULT_IRC_PORT: Final = 6667
DEFAULT_IRC_TLS_PORT: Final = 6697
DEFAULT_WEB_PORT: Final = 8080
DEFAULT_WEB_TLS_PORT: Final = 8443


def build_signature(
    *,
    irc_name: str,
    irc_info: str,
    redis_prefix: str,
    on_version: Callable[[bool], None] | None = None,
) -> inspect.Signature:
    """The flags of ``flackd`` as the signature typer reads: the server's own, then
    ``--oper``, then one per field of :class:`flackd.limits.Limits`, each with its
    ``FLACKD_`` environment variable. The defaults of the IRC front end and of the Redis
    store's key prefix come from :mod:`flackd.cli`, which alone names them."""

    def option(name: str, default: Any, help: str, *decls: str) -> inspect.Parameter:
        flag = "--" + name.replace("_", "-")
        info = typer.Option(default, flag, *decls, envvar=ENV_PREFIX + name.upper(), help=help)
        return inspect.Parameter(
            name, inspect.Parameter.KEYWORD_ONLY, default=info, annotation=type(default)
        )

    params = [
        option("host", DEFAULT_HOST, "Address to listen on (0.0.0.0 for every IPv4 address)."),
        option(
            "port",
            DEFAULT_PORT,
            "TCP port for plain-text connections (0 picks a free one; --no-plain: none).",
        ),
        option(
            "no_plain",
            False,
            "No plain-text listener, Flack's, IRC's or the web's: TLS only (needs "
            "--tls-cert). --port 0 still means a free port, as for every listener.",
        ),
        option(
            "password_file",
            "",
            "A file whose first line is the server's password: every connection, on every "
            "wire (Flack, IRC, web), gives it with PASS before NICK or RESUME. None by default.",
        ),
        option(
            "tls_cert",
            "",
            "PEM file: the server's certificate, then any intermediates. With --tls-key, adds "
            "a TLS listener for the same protocol on --tls-port. Reloaded on SIGHUP.",
        ),
        option("tls_key", "", "PEM file: the private key of --tls-cert, without a pass phrase."),
        option(
            "tls_port",
            DEFAULT_TLS_PORT,
            "TCP port of the TLS listener, with --tls-cert (0 picks a free one).",
        ),
        option(
            "irc_port",
            DEFAULT_IRC_PORT,
            "TCP port for IRC clients (weechat, irssi, bots) in the same chat; 0: none. "
            "See docs/irc.md.",
        ),
        option(
            "irc_tls_port",
            DEFAULT_IRC_TLS_PORT,
            "TCP port for IRC clients over TLS, with --tls-cert; 0: none.",
        ),
        option("irc_name", irc_name, "The server name IRC clients are shown."),
        option(
            "irc_info",
            irc_info,
            "What IRC clients are told the server is (WHOIS, LINKS), in a few words.",
        ),
        option(
            "web_port",
            DEFAULT_WEB_PORT,
            "TCP port of the web client: the page over HTTP and the chat over a WebSocket "
            "at /ws; 0: none. See docs/web.md.",
        ),
        option(
            "web_tls_port",
            DEFAULT_WEB_TLS_PORT,
            "TCP port of the web client over TLS (https and wss), with --tls-cert; 0: none.",
        ),
        option(
            "web_origin",
            "",
            "Origins (scheme://host[:port], comma-separated) whose pages may open the "
            "WebSocket besides the page's own, and the host names requests may use besides "
            "IP addresses and localhost (the DNS-rebinding check). Give the public name "
            "here when flackd is reached by one, e.g. https://chat.example.com.",
        ),
        option("log_level", "info", "Log level on stderr: debug, info, warning or error."),
        option(
            "data_dir",
            "",
            "Keep channels, history and sessions in an SQLite database in this directory "
            "(created if missing), so a restart loses nothing. Empty: in memory only.",
        ),
        option(
            "redis",
            "",
            "Share the chat with every other flackd node given the same Redis "
            "(redis://host:port/db, rediss:// for TLS): channels, history, sessions and nicks "
            "live there, and RESUME works on any node. See docs/cluster.md.",
        ),
        option(
            "node_id",
            "",
            "With --redis: this node's name in logs and in Redis (letters, digits, _ or -); "
            "empty: a random one.",
        ),
        option(
            "redis_prefix",
            redis_prefix,
            "With --redis: the prefix (and hash tag) of every key, so several deployments "
            "can share one Redis.",
        ),
        option(
            "redis_password_file",
            "",
            "With --redis: a file holding Redis's password (rather than putting it in the URL).",
        ),
        option(
            "synchronous",
            "normal",
            "With --data-dir: 'normal' (a commit survives flackd being killed; a power loss "
            "can lose the last commits) or 'full' (each commit is also flushed to disk).",
        ),
        option(
            "data_max_mib",
            0,
            "With --data-dir: the most MiB the database may take (0: no limit but the "
            "disk's). When full, changes get ERR STORAGE_FAILED; reads go on.",
        ),
    ]
    params.append(
        inspect.Parameter(
            "oper",
            inspect.Parameter.KEYWORD_ONLY,
            default=typer.Option(
                None,
                "--oper",
                envvar=ENV_PREFIX + "OPERS",
                metavar="NAME:HASH",
                help="A server operator, as NAME:HASH (repeat for more; in FLACKD_OPERS, "
                "separate them with spaces). HASH is what `flackd hash-password` prints: a "
                "salted scrypt hash, never the password. OPER NAME <password> then makes a "
                "client a server operator (KILL, WALLOPS).",
            ),
            annotation=list[str] | None,
        )
    )
    params += [option(name, default, help) for name, default, help in limit_fields()]
    if on_version is not None:
        params.append(
            inspect.Parameter(
                "version",
                inspect.Parameter.KEYWORD_ONLY,
                default=typer.Option(
                    False,
                    "--version",
                    is_eager=True,
                    callback=on_version,
                    help="Print flackd's version and build (how many of its modules are "
                    "compiled with mypyc, or pure Python), and exit.",
                ),
                annotation=bool,
            )
        )
    return inspect.Signature(params)

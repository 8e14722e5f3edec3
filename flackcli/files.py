"""Files: where flackcli keeps things, reading config.toml and reading/writing state.json.

Owns: the XDG paths (through platformdirs, which honours ``XDG_CONFIG_HOME``,
``XDG_STATE_HOME`` and ``XDG_DATA_HOME`` on Linux), parsing the user's config.toml (read
only: flackcli never writes it), the flackcli-owned state.json (atomic write: a temporary
file in the same directory, then ``os.replace``; a corrupt file is moved aside to
``state.json.bad``), each server's remembered :class:`~flackcli.supervisor.Memory` and the
lock that says the interactive client is using it (:func:`session_lock`), and the
precedence of the server address, the CA file and the nick: flags > environment
(``FLACK_SERVER``, ``FLACK_CA``, ``FLACK_NICK``) > config.toml > state.json > defaults.
Addresses are parsed and written by :mod:`flackcli.address` only. Imports the standard library,
platformdirs, ``flackd.codec`` and flackcli.

state.json holds resume tokens, so it is written with mode 0600 in a 0700 directory.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import tempfile
import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import platformdirs

from flackcli.address import DEFAULT_HOST, DEFAULT_PORT, Address, parse_address
from flackcli.supervisor import Memory
from flackd.codec.text import fold, is_valid_nick

__all__ = [
    "APP_NAME",
    "DEFAULT_HOST",
    "DEFAULT_NICK",
    "DEFAULT_PORT",
    "ENV_CA",
    "ENV_NICK",
    "ENV_SERVER",
    "Config",
    "ConfigError",
    "Settings",
    "State",
    "config_path",
    "data_dir",
    "default_nick",
    "load_config",
    "load_state",
    "memory_for",
    "remember",
    "resolve",
    "save_state",
    "script_nick",
    "session_lock",
    "state_path",
]

APP_NAME: Final = "flackcli"
DEFAULT_NICK: Final = "user"
ENV_SERVER: Final = "FLACK_SERVER"
ENV_NICK: Final = "FLACK_NICK"
ENV_CA: Final = "FLACK_CA"
STATE_VERSION: Final = 1
#: Tables of config.toml that belong to the interactive client; passed through as read.
CONFIG_TABLES: Final = ("ui", "notify", "paste", "log", "keys")
NICK_MAX: Final = 16


# -- paths ---------------------------------------------------------------------------


def config_path() -> Path:
    """``$XDG_CONFIG_HOME/flackcli/config.toml`` (default ``~/.config/flackcli/...``)."""
    return platformdirs.user_config_path(APP_NAME) / "config.toml"


def state_path() -> Path:
    """``$XDG_STATE_HOME/flackcli/state.json`` (default ``~/.local/state/flackcli/...``)."""
    return platformdirs.user_state_path(APP_NAME) / "state.json"


def data_dir() -> Path:
    """``$XDG_DATA_HOME/flackcli`` (default ``~/.local/share/flackcli``): logs live here."""
    return platformdirs.user_data_path(APP_NAME)


# -- nicks ---------------------------------------------------------------------------


def default_nick(env: Mapping[str, str] | None = None) -> str:
    """``$USER`` made into a valid nick, or ``user``."""
    user = (os.environ if env is None else env).get("USER", "")
    cleaned = re.sub(r"[^A-Za-z0-9_-]", "", user).lstrip("0123456789_-")[:NICK_MAX]
    return cleaned if cleaned and is_valid_nick(cleaned) else DEFAULT_NICK


def script_nick(nick: str) -> str:
    """The nick script commands use by default: ``<nick>-cli``, cut to fit 16 characters."""
    return nick[: NICK_MAX - len("-cli")] + "-cli"


# -- config.toml -----------------------------------------------------------------------


class ConfigError(Exception):
    """config.toml cannot be used; the message says which file, where and why."""


@dataclass(frozen=True)
class Config:
    """What config.toml says. Every field is optional; ``None`` means "not set"."""

    server: str | None = None
    nick: str | None = None
    ca: str | None = None  # a PEM file of CA certificates for tls:// servers
    highlight_words: tuple[str, ...] = ()
    ui: dict[str, object] = field(default_factory=dict)
    notify: dict[str, object] = field(default_factory=dict)
    paste: dict[str, object] = field(default_factory=dict)
    log: dict[str, object] = field(default_factory=dict)
    keys: dict[str, object] = field(default_factory=dict)
    #: Keys flackcli does not know (probably typos): worth a warning, not a refusal.
    warnings: tuple[str, ...] = ()
    path: Path | None = None


def load_config(path: Path | None = None) -> Config:
    """Read config.toml; a missing file is an empty config. Raises :class:`ConfigError`."""
    path = path or config_path()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Config(path=path)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None

    def string(key: str) -> str | None:
        value = data.get(key)
        if value is None or isinstance(value, str):
            return value
        raise ConfigError(f'{path}: {key} must be a string, like {key} = "..."')

    server = string("server")
    if server is not None:
        try:
            parse_servers(server)
        except ValueError as exc:
            raise ConfigError(f"{path}: server: {exc}") from None
    ca = string("ca")
    nick = string("nick")
    if nick is not None and not is_valid_nick(nick):
        raise ConfigError(
            f"{path}: nick {nick!r} is not a valid nick (1-16 ASCII letters, digits, _ or -, "
            "starting with a letter)"
        )
    words = data.get("highlight_words", [])
    if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
        raise ConfigError(f'{path}: highlight_words must be a list of strings, like ["deploy"]')
    tables: dict[str, dict[str, object]] = {}
    for name in CONFIG_TABLES:
        table = data.get(name, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: {name} must be a table, like [{name}]")
        tables[name] = table
    known = {"server", "nick", "ca", "highlight_words", *CONFIG_TABLES}
    warnings = tuple(
        f"{path}: unknown key {key!r} ignored (known: {', '.join(sorted(known))})"
        for key in data
        if key not in known
    )
    return Config(
        server=server,
        nick=nick,
        ca=ca,
        highlight_words=tuple(words),
        ui=tables["ui"],
        notify=tables["notify"],
        paste=tables["paste"],
        log=tables["log"],
        keys=tables["keys"],
        warnings=warnings,
        path=path,
    )


# -- state.json ------------------------------------------------------------------------


@dataclass
class State:
    """What flackcli remembers between runs (state.json)."""

    server: str | None = None  # the last server used, "host:port"
    nick: str | None = None  # the last nick used by the interactive client
    active_buffer: str | None = None  # the buffer shown when the interactive client quit
    #: "host:port" -> folded nick the session was started as -> ``Memory.to_json()``
    servers: dict[str, dict[str, dict[str, object]]] = field(default_factory=dict)
    #: The interactive client's own keys (read markers, input history, pane widths...),
    #: saved as given.
    ui: dict[str, object] = field(default_factory=dict)
    #: Set by :func:`load_state` when it had to set a corrupt file aside (not saved).
    warning: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "version": STATE_VERSION,
            "server": self.server,
            "nick": self.nick,
            "active_buffer": self.active_buffer,
            "servers": self.servers,
            "ui": self.ui,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> State:
        """Lenient: a field of the wrong type is dropped, not fatal."""

        def text(key: str) -> str | None:
            value = data.get(key)
            return value if isinstance(value, str) else None

        servers: dict[str, dict[str, dict[str, object]]] = {}
        raw_servers = data.get("servers")
        if isinstance(raw_servers, dict):
            for server, sessions in raw_servers.items():
                if isinstance(server, str) and isinstance(sessions, dict):
                    servers[server] = {
                        str(nick): memory
                        for nick, memory in sessions.items()
                        if isinstance(memory, dict)
                    }
        ui = data.get("ui")
        return cls(
            server=text("server"),
            nick=text("nick"),
            active_buffer=text("active_buffer"),
            servers=servers,
            ui=ui if isinstance(ui, dict) else {},
        )


def load_state(path: Path | None = None) -> State:
    """Read state.json; missing: a fresh state; corrupt: moved to ``state.json.bad``."""
    path = path or state_path()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return State()
    except OSError as exc:
        return State(warning=f"cannot read {path} ({exc.strerror or exc}); starting afresh")
    try:
        data = json.loads(raw.decode("utf-8"))
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        bad = path.with_name(path.name + ".bad")
        try:
            os.replace(path, bad)
        except OSError as move_error:
            why = move_error.strerror or move_error
            return State(
                warning=f"{path} is corrupt ({exc}) and could not be moved aside ({why}); "
                "starting afresh"
            )
        return State(warning=f"{path} was corrupt ({exc}); moved it to {bad}, starting afresh")
    return State.from_json(data)


def save_state(state: State, path: Path | None = None) -> None:
    """Write state.json atomically: a temporary file beside it, fsync, then rename."""
    path = path or state_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    data = json.dumps(state.to_json(), indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:  # mkstemp: mode 0600
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def memory_for(state: State, server: str, nick: str) -> Memory:
    """The session remembered for ``server`` when started as ``nick`` (or a fresh one)."""
    remembered = state.servers.get(server, {}).get(fold(nick))
    if remembered is None:
        return Memory(nick)
    return Memory.from_json(remembered, nick)


def remember(state: State, server: str, memory: Memory, *, nick: str | None = None) -> None:
    """Store ``memory`` for ``server`` under ``nick`` (default: the memory's own nick).

    Pass the nick the session was started as when it may have changed since (``/nick``),
    so :func:`memory_for` finds it again under the same key.
    """
    state.servers.setdefault(server, {})[fold(nick or memory.nick)] = memory.to_json()


@contextmanager
def session_lock(server: str, nick: str, path: Path | None = None) -> Iterator[bool]:
    """Hold the lock of the session remembered for ``server`` and ``nick`` while the block
    runs (an advisory ``flock`` on a file beside state.json, released when the process
    ends, however it ends). Yields False when another process holds it: the interactive
    client is using that session, and resuming it elsewhere would take it over."""
    if path is None:
        name = re.sub(r"[^A-Za-z0-9._-]", "_", f"{server}_{fold(nick)}")
        path = state_path().with_name("locks") / f"{name}.lock"
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
        else:
            yield True
    finally:
        os.close(fd)  # releases the lock


# -- precedence --------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """The server, nick and CA file to use, and where each came from (for messages)."""

    address: Address
    nick: str
    server_from: str
    nick_from: str
    ca: str | None = None
    #: More addresses of the same chat (nodes of one cluster, docs/cluster.md): tried in
    #: turn when the one in use cannot be reached.
    fallbacks: tuple[Address, ...] = ()

    @property
    def host(self) -> str:
        return self.address.host

    @property
    def port(self) -> int:
        return self.address.port

    @property
    def server(self) -> str:
        """The address as written in state.json (``tls://`` in front for TLS), with the
        fallbacks after commas."""
        return ",".join(str(a) for a in (self.address, *self.fallbacks))


def resolve(
    server_flag: str | None,
    nick_flag: str | None,
    config: Config,
    state: State,
    env: Mapping[str, str] | None = None,
    *,
    ca_flag: str | None = None,
) -> Settings:
    """Flags > environment > config.toml > state.json > defaults. Raises ValueError.

    The CA file (``ca``: ``--ca``, else ``FLACK_CA``, else config.toml) is only found here;
    :func:`flackcli.address.tls_context` reads it."""
    env = os.environ if env is None else env
    server_choices = [
        ("--server", server_flag),
        (ENV_SERVER, env.get(ENV_SERVER) or None),
        ("config.toml", config.server),
        ("state.json", state.server if _parses(state.server) else None),
    ]
    server_from, server = next(
        ((where, value) for where, value in server_choices if value),
        ("default", str(Address(DEFAULT_HOST, DEFAULT_PORT))),
    )
    try:
        address, *fallbacks = parse_servers(server)
    except ValueError as exc:
        raise ValueError(f"{server_from}: {exc}") from None
    nick_choices = [
        ("--nick", nick_flag),
        (ENV_NICK, env.get(ENV_NICK) or None),
        ("config.toml", config.nick),
        ("state.json", state.nick if state.nick and is_valid_nick(state.nick) else None),
    ]
    nick_from, nick = next(
        ((where, value) for where, value in nick_choices if value),
        ("default", default_nick(env)),
    )
    if not is_valid_nick(nick):
        raise ValueError(
            f"{nick_from}: {nick!r} is not a valid nick (1-16 ASCII letters, digits, _ or -, "
            "starting with a letter)"
        )
    ca = ca_flag or env.get(ENV_CA) or config.ca or None
    return Settings(address, nick, server_from, nick_from, ca, tuple(fallbacks))


def parse_servers(text: str) -> list[Address]:
    """One address, or several of the same chat separated by commas (the nodes of a
    cluster: ``127.0.0.1:7001,127.0.0.1:7002``), all plain or all TLS. Raises ValueError."""
    addresses = [parse_address(part) for part in text.split(",") if part.strip()]
    if not addresses:
        raise ValueError(f"{text!r} is not HOST:PORT")
    if len({a.tls for a in addresses}) > 1:
        raise ValueError(f"{text!r}: the addresses of one chat are all tls:// or all plain")
    return addresses


def _parses(server: str | None) -> bool:
    if not server:
        return False
    try:
        parse_servers(server)
    except ValueError:
        return False
    return True

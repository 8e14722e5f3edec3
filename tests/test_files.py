"""flackcli's files: XDG paths, the read-only config.toml, the atomic state.json (a corrupt
one is set aside), remembered sessions, and the precedence of server and nick."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from flackcli import files
from flackcli.files import Config, ConfigError, State
from flackcli.supervisor import Memory


@pytest.fixture(autouse=True)
def xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Every test gets its own XDG directories (and no FLACK_* from the outside)."""
    for name in ("CONFIG", "STATE", "DATA"):
        monkeypatch.setenv(f"XDG_{name}_HOME", str(tmp_path / name.lower()))
    monkeypatch.delenv("FLACK_SERVER", raising=False)
    monkeypatch.delenv("FLACK_NICK", raising=False)
    return tmp_path


def test_paths_follow_the_xdg_variables(xdg: Path) -> None:
    assert files.config_path() == xdg / "config" / "flackcli" / "config.toml"
    assert files.state_path() == xdg / "state" / "flackcli" / "state.json"
    assert files.data_dir() == xdg / "data" / "flackcli"


def test_paths_default_under_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("CONFIG", "STATE", "DATA"):
        monkeypatch.delenv(f"XDG_{name}_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert files.config_path() == tmp_path / ".config" / "flackcli" / "config.toml"
    assert files.state_path() == tmp_path / ".local" / "state" / "flackcli" / "state.json"


# -- config.toml ------------------------------------------------------------------------


def write_config(text: str) -> Path:
    path = files.config_path()
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_no_config_file_is_an_empty_config() -> None:
    config = files.load_config()
    assert config.server is None
    assert config.nick is None
    assert config.highlight_words == ()
    assert not files.config_path().exists()  # never created


def test_config_is_parsed() -> None:
    write_config(
        'server = "chat.example:7000"\nnick = "alice"\nhighlight_words = ["deploy", "ci"]\n'
        "[ui]\ntime_format = '%H:%M'\n[notify]\nbell = 'off'\n"
    )
    config = files.load_config()
    assert config.server == "chat.example:7000"
    assert config.nick == "alice"
    assert config.highlight_words == ("deploy", "ci")
    assert config.ui == {"time_format": "%H:%M"}
    assert config.notify == {"bell": "off"}
    assert config.warnings == ()


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ('server = "a:1"\nnick = ', "not valid TOML"),
        ("server = 7777\n", "server must be a string"),
        ('server = "host:http"\n', "port must be a number"),
        ('nick = "9lives"\n', "not a valid nick"),
        ('highlight_words = "deploy"\n', "highlight_words must be a list"),
        ('ui = "wide"\n', "ui must be a table"),
    ],
)
def test_a_bad_config_is_a_clear_error_and_is_never_rewritten(text: str, complaint: str) -> None:
    path = write_config(text)
    with pytest.raises(ConfigError) as error:
        files.load_config()
    assert complaint in str(error.value)
    assert str(path) in str(error.value)
    assert path.read_text(encoding="utf-8") == text


def test_a_config_that_is_not_utf8_is_a_clear_error() -> None:
    path = files.config_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(b'nick = "\xff"\n')
    with pytest.raises(ConfigError, match="not UTF-8"):
        files.load_config()


def test_unknown_config_keys_are_warnings() -> None:
    write_config('sever = "typo:1"\nnick = "bob"\n')
    config = files.load_config()
    assert config.nick == "bob"
    assert len(config.warnings) == 1
    assert "'sever'" in config.warnings[0]


# -- state.json -------------------------------------------------------------------------


def test_a_missing_state_is_a_fresh_one() -> None:
    state = files.load_state()
    assert state == State()
    assert not files.state_path().exists()


def test_state_round_trips_with_remembered_sessions() -> None:
    state = State(server="127.0.0.1:7777", nick="alice", active_buffer="#dev")
    memory = Memory("alice", token="t0k3n", channels=["#dev", "#ops"])
    memory.last_seen["#dev"] = "1795507200000-57"
    files.remember(state, "127.0.0.1:7777", memory)
    files.remember(state, "127.0.0.1:7777", Memory("alice-cli", token="other"))
    state.ui["inputs"] = ["hello", "/join #ops"]
    files.save_state(state)

    loaded = files.load_state()
    assert loaded.server == "127.0.0.1:7777"
    assert loaded.nick == "alice"
    assert loaded.active_buffer == "#dev"
    assert loaded.ui == {"inputs": ["hello", "/join #ops"]}
    back = files.memory_for(loaded, "127.0.0.1:7777", "alice")
    assert back == memory
    assert files.memory_for(loaded, "127.0.0.1:7777", "alice-cli").token == "other"
    assert files.memory_for(loaded, "127.0.0.1:7777", "ALICE") == memory  # nicks ignore case
    assert files.memory_for(loaded, "other:1", "alice") == Memory("alice")


def test_a_session_is_found_under_the_nick_it_was_started_as() -> None:
    state = State()
    memory = Memory("alice", token="t")
    memory.nick = "alice2"  # /nick alice2 during the session
    files.remember(state, "h:1", memory, nick="alice")
    assert files.memory_for(state, "h:1", "alice").token == "t"


def test_state_is_private_and_written_atomically(xdg: Path) -> None:
    files.save_state(State(nick="one"))
    path = files.state_path()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # it holds resume tokens
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    files.save_state(State(nick="two"))
    assert json.loads(path.read_text(encoding="utf-8"))["nick"] == "two"
    assert sorted(p.name for p in path.parent.iterdir()) == ["state.json"]  # no temp left


def test_a_failed_save_leaves_the_old_state_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    files.save_state(State(nick="old"))
    before = files.state_path().read_bytes()

    def broken_replace(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="No space"):
        files.save_state(State(nick="new"))
    path = files.state_path()
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["state.json"]


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b"\xff\xfe", b""])
def test_a_corrupt_state_is_moved_aside(content: bytes) -> None:
    path = files.state_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    state = files.load_state()
    assert state.server is None
    assert state.servers == {}
    assert state.warning is not None
    assert "state.json.bad" in state.warning
    assert not path.exists()
    assert path.with_name("state.json.bad").read_bytes() == content
    files.save_state(state)  # and a fresh one can be written
    assert files.load_state().warning is None


def test_wrong_types_in_state_are_dropped_not_fatal() -> None:
    path = files.state_path()
    path.parent.mkdir(parents=True)
    path.write_text(
        json.dumps(
            {
                "server": 7,
                "nick": "bob",
                "servers": {"h:1": {"bob": "nope", "amy": {"nick": "amy"}}, "x:2": []},
                "ui": [],
            }
        ),
        encoding="utf-8",
    )
    state = files.load_state()
    assert state.server is None
    assert state.nick == "bob"
    assert state.servers == {"h:1": {"amy": {"nick": "amy"}}}
    assert state.ui == {}


# -- server, nick and precedence --------------------------------------------------------------


def test_resolve_keeps_tls_and_finds_the_ca_file() -> None:
    """A tls:// server remembered in state.json stays TLS; --ca beats FLACK_CA beats
    config.toml (address parsing itself: tests/test_address.py)."""
    state = State(server="tls://chat.example:7000")
    got = files.resolve(None, None, Config(ca="/c.pem"), state, env={})
    assert (got.host, got.port, got.address.tls) == ("chat.example", 7000, True)
    assert (got.server, got.ca) == ("tls://chat.example:7000", "/c.pem")
    got = files.resolve(None, None, Config(ca="/c.pem"), state, env={"FLACK_CA": "/e.pem"})
    assert got.ca == "/e.pem"
    got = files.resolve("tls://[::1]", None, Config(), state, env={}, ca_flag="/f.pem")
    assert (got.server, got.ca) == ("tls://[::1]:7778", "/f.pem")


@pytest.mark.parametrize(
    ("user", "nick"),
    [
        ("alice", "alice"),
        ("john.doe", "johndoe"),
        ("1337bob", "bob"),
        ("", "user"),
        ("üö", "user"),
        ("server", "user"),
        ("a" * 20, "a" * 16),
    ],
)
def test_default_nick_comes_from_user(user: str, nick: str) -> None:
    assert files.default_nick({"USER": user}) == nick
    assert files.default_nick({}) == "user"


def test_script_nick_fits_sixteen_characters() -> None:
    assert files.script_nick("alice") == "alice-cli"
    assert files.script_nick("abcdefghijklmnop") == "abcdefghijkl-cli"


CONFIG = Config(server="config:1", nick="cfgnick")
STATE = State(server="state:2", nick="statenick")
ENV = {"FLACK_SERVER": "env:3", "FLACK_NICK": "envnick", "USER": "unixuser"}
USER_ONLY = {"USER": "unixuser"}
DEFAULT = "127.0.0.1:7777"


@pytest.mark.parametrize(
    ("flags", "config", "state", "env", "server", "nick", "sources"),
    [
        (("flag:4", "flagn"), CONFIG, STATE, ENV, "flag:4", "flagn", ("--server", "--nick")),
        ((None, None), CONFIG, STATE, ENV, "env:3", "envnick", ("FLACK_SERVER", "FLACK_NICK")),
        ((None, None), CONFIG, STATE, USER_ONLY, "config:1", "cfgnick", ("config.toml",) * 2),
        ((None, None), Config(), STATE, USER_ONLY, "state:2", "statenick", ("state.json",) * 2),
        ((None, None), Config(), State(), USER_ONLY, DEFAULT, "unixuser", ("default",) * 2),
        ((None, None), Config(), State(), {}, DEFAULT, "user", ("default",) * 2),
        # An empty environment variable counts as unset.
        ((None, None), CONFIG, STATE, {"FLACK_SERVER": "", "FLACK_NICK": ""}, "config:1",
         "cfgnick", ("config.toml",) * 2),
        # Each source can set just one of the two.
        ((None, "flagn"), Config(nick="c"), State(server="s:5"), {}, "s:5", "flagn",
         ("state.json", "--nick")),
    ],
)  # fmt: skip
def test_precedence_flags_env_config_state_defaults(
    flags: tuple[str | None, str | None],
    config: Config,
    state: State,
    env: dict[str, str],
    server: str,
    nick: str,
    sources: tuple[str, str],
) -> None:
    got = files.resolve(*flags, config, state, env)
    assert (got.server, got.nick) == (server, nick)
    assert (got.server_from, got.nick_from) == sources


def test_bad_values_are_refused_with_their_source() -> None:
    with pytest.raises(ValueError, match="FLACK_SERVER"):
        files.resolve(None, None, Config(), State(), {"FLACK_SERVER": "host:port"})
    with pytest.raises(ValueError, match="--nick"):
        files.resolve(None, "no spaces", Config(), State(), {})


def test_unusable_remembered_values_fall_through_to_defaults() -> None:
    got = files.resolve(None, None, Config(), State(server="bad:port", nick="9x"), {"USER": "al"})
    assert (got.server, got.nick) == ("127.0.0.1:7777", "al")


def test_several_addresses_of_one_chat() -> None:
    """``--server a,b``: the nodes of one cluster; the first is used, the rest are tried in
    turn when it cannot be reached; state.json keeps them all."""
    got = files.resolve("127.0.0.1:7001, 127.0.0.1:7002", None, Config(), State(), env={})
    assert (got.host, got.port) == ("127.0.0.1", 7001)
    assert [(a.host, a.port) for a in got.fallbacks] == [("127.0.0.1", 7002)]
    assert got.server == "127.0.0.1:7001,127.0.0.1:7002"
    again = files.resolve(None, None, Config(), State(server=got.server), env={})
    assert again.server == got.server
    with pytest.raises(ValueError, match="all tls:// or all plain"):
        files.resolve("tls://a.example:7778,b.example:7777", None, Config(), State(), env={})

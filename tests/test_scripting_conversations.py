"""The script commands of conversations (protocol 1.1): ``flackcli unread`` and
``flackcli history <nick>``, the installed ``flackcli`` as a child process against a live
in-process flackd. Both resume the interactive client's saved session (state.json under
``tmp_path``), leave it resumable and save its new token; they refuse while the
interactive client holds the session's lock, when nothing is saved, and with a version-1
server. Plus the text and JSON of an unread line.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import trio

from flackcli import files
from flackcli.script_output import message_json, message_text, unread_json, unread_text
from flackcli.supervisor import Memory
from flackd.codec import events as e
from tests.support import LineClient, RunningServer
from tests.test_scripting import MESSAGE_KEYS, env, flackcli, records, say, server_flag
from tests.test_supervisor_conversations import dm

__all__ = ["env"]  # the fixture, shared with test_scripting


def server_key(port: int) -> str:
    return f"127.0.0.1:{port}"


def save_session(tmp_path: Path, port: int, nick: str, token: str) -> Path:
    """What the interactive client leaves in state.json: the session of ``nick``."""
    path = tmp_path / "state" / "flackcli" / "state.json"
    state = files.State(server=server_key(port), nick=nick)
    files.remember(state, server_key(port), Memory(nick, token=token, channels=["#general"]))
    files.save_state(state, path)
    return path


def saved_token(path: Path, port: int, nick: str) -> str | None:
    state = files.load_state(path)
    return files.memory_for(state, server_key(port), nick).token


async def away_alice(flackd: RunningServer) -> str:
    """alice joins #general and drops; her session stays resumable. Returns her token."""
    alice = await LineClient.connect(flackd.port, "alice")
    token = await alice.register("alice")
    await alice.join("#general")
    await alice.aclose()
    return token


async def test_unread_prints_the_servers_counts_and_keeps_the_session(
    flackd: RunningServer, env: dict[str, str], tmp_path: Path
) -> None:
    token = await away_alice(flackd)
    bob = await flackd.client("bob", "#general")
    channel = await say(bob, "#general", "one", "alice: two", "three")
    private = [await dm(bob, "alice", "psst"), await dm(bob, "alice", "still there?")]
    path = save_session(tmp_path, flackd.port, "alice", token)
    result = await flackcli(env, server_flag(flackd.port), "unread")
    assert result.returncode == 0, result.stderr
    got = sorted(records(result.stdout), key=lambda r: str(r["target"]))
    assert got == [
        {"target": "#general", "unread": 3, "mentions": 1, "newest": channel[-1].id},
        {"target": "bob", "unread": 2, "mentions": 0, "newest": private[-1].id},
    ]
    assert [list(r) for r in got] == [["target", "unread", "mentions", "newest"]] * 2
    new_token = saved_token(path, flackd.port, "alice")
    assert new_token not in (None, token)  # RESUME gave a new one, and it was saved
    # The session stayed resumable under the saved token: a second run works, as text.
    result = await flackcli(env, server_flag(flackd.port), "--text", "unread")
    assert result.returncode == 0, result.stderr
    assert sorted(result.stdout.decode().splitlines()) == [
        "#general: 3 unread, 1 mention",
        "bob: 2 unread",
    ]


async def test_unread_with_nothing_unread(
    flackd: RunningServer, env: dict[str, str], tmp_path: Path
) -> None:
    token = await away_alice(flackd)
    save_session(tmp_path, flackd.port, "alice", token)
    result = await flackcli(env, server_flag(flackd.port), "unread")
    assert (result.returncode, result.stdout) == (0, b"")
    result = await flackcli(env, server_flag(flackd.port), "--text", "unread")
    assert (result.returncode, result.stdout) == (0, b"nothing unread\n")


async def test_history_of_a_nick_prints_the_conversation(
    flackd: RunningServer, env: dict[str, str], tmp_path: Path
) -> None:
    token = await away_alice(flackd)
    bob = await flackd.client("bob")
    first = await dm(bob, "alice", "helo")
    await dm(bob, "alice", "waves")
    await bob.send(f"EDIT {first.id} hello")
    await bob.recv_until("EDITED")
    await bob.send("ACTION alice waves")
    await bob.recv_until("MSG alice")
    save_session(tmp_path, flackd.port, "alice", token)
    result = await flackcli(env, server_flag(flackd.port), "history", "bob", "-n", "10")
    assert result.returncode == 0, result.stderr
    got = records(result.stdout)
    assert [list(r) for r in got] == [MESSAGE_KEYS] * 3
    assert [(r["nick"], r["text"], r["action"]) for r in got] == [
        ("bob", "hello", False),
        ("bob", "waves", False),
        ("bob", "waves", True),
    ]
    assert got[0]["channel"] == "alice"
    assert got[0]["id"] == first.id
    assert got[0]["edited"] is not None
    assert got[1]["edited"] is None
    result = await flackcli(env, server_flag(flackd.port), "--text", "history", "bob")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.decode().splitlines()
    assert [re.sub(r"^\d\d:\d\d ", "", line) for line in lines] == [
        "<bob> hello (edited)",
        "<bob> waves",
        "* bob waves",
    ]


async def test_session_commands_refuse_without_a_saved_session_or_while_it_is_in_use(
    flackd: RunningServer,
    env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    result = await flackcli(env, server_flag(flackd.port), "unread")
    assert result.returncode == 3
    assert b"no saved session of alice on 127.0.0.1:" in result.stderr
    token = await away_alice(flackd)
    save_session(tmp_path, flackd.port, "alice", token)
    monkeypatch.setenv("XDG_STATE_HOME", env["XDG_STATE_HOME"])
    with files.session_lock(server_key(flackd.port), "alice") as free:
        assert free  # as the interactive client holds it while it runs
        for command in (["unread"], ["history", "bob"]):
            result = await flackcli(env, server_flag(flackd.port), *command)
            assert result.returncode == 3, command
            assert b"the interactive client is using the session of alice" in result.stderr
    result = await flackcli(env, server_flag(flackd.port), "history", "no!nick")
    assert result.returncode == 2
    assert b"is neither a #channel nor a nick" in result.stderr


async def test_session_commands_refuse_a_version_1_server(
    nursery: trio.Nursery, env: dict[str, str], tmp_path: Path
) -> None:
    """A version-1 server: refused before the session is touched (no RESUME is sent)."""
    heard: list[bytes] = []

    async def old_server(stream: trio.SocketStream) -> None:
        await stream.send_all(b"HELLO flackd 0.1.0 maxline=512 history=100 :hi\r\n")
        async for data in stream:
            heard.append(bytes(data))

    listeners = await nursery.start(trio.serve_tcp, old_server, 0)
    port = listeners[0].socket.getsockname()[1]
    save_session(tmp_path, port, "alice", "sometoken")
    for command in (["unread"], ["history", "bob"]):
        result = await flackcli(env, server_flag(port), *command)
        assert result.returncode == 3, command
        assert b"speaks protocol 1" in result.stderr
    assert b"RESUME" not in b"".join(heard)


def test_unread_lines() -> None:
    count = e.UnreadCount("#general", 5, 1, "1-9")
    assert unread_text(count) == "#general: 5 unread, 1 mention"
    assert unread_text(e.UnreadCount("bob", 2, 0, "1-3")) == "bob: 2 unread"
    assert unread_text(e.UnreadCount("#ops", 4, 2, "1-3")) == "#ops: 4 unread, 2 mentions"
    assert json.dumps(unread_json(count)) == (
        '{"target": "#general", "unread": 5, "mentions": 1, "newest": "1-9"}'
    )


def test_actions_and_edits_in_message_records() -> None:
    action = e.Message("#ops", "1-2", "2026-11-24T08:20:03.123Z", "bob", "waves", True, None)
    assert message_json(action)["action"] is True
    assert message_text(action).endswith(" * bob waves")
    edited = e.Message("#ops", "1-3", "2026-11-24T08:20:03.123Z", "bob", "fixed", False, "t")
    assert message_json(edited)["edited"] == "t"
    assert message_text(edited).endswith(" <bob> fixed (edited)")

"""The server's password (``flackd --password-file``): PASS before NICK or RESUME, on the
Flack wire, on IRC (PASS, and SASL for a resume) and through flackcli's client library;
the file's checks; and the installed flackd's flag. (The web page's form is in
tests/test_web_browser.py.)"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import trio

from flackcli.client import ConnectionClosed, open_client
from flackd.admission import MAX_PASSWORD_BYTES, PasswordFileError, ServerPassword
from flackd.codec import commands as c
from flackd.server import Server
from tests.ircsupport import IrcClient
from tests.process import FLACKD, flackd_process
from tests.support import TEST_LIMITS, WAIT, LineClient

SECRET = "open sesame"


class Chat:
    def __init__(self, server: Server, port: int, irc_port: int) -> None:
        self.server = server
        self.port = port
        self.irc_port = irc_port

    async def flack(self) -> tuple[LineClient, str]:
        client = await LineClient.connect(self.port, hello=False)
        return client, await client.recv()

    async def irc(self) -> IrcClient:
        return await IrcClient.connect(self.irc_port)


async def _start(nursery: trio.Nursery, password: str | None) -> Chat:
    server = Server(
        TEST_LIMITS,
        irc_name="irc.test",
        password=ServerPassword(password) if password is not None else None,
    )

    async def serve(*, task_status: trio.TaskStatus[list[trio.SocketListener]]) -> None:
        await server.serve("127.0.0.1", 0, irc_port=0, task_status=task_status)

    listeners = await nursery.start(serve)
    port = listeners[0].socket.getsockname()[1]
    return Chat(server, port, server.irc_listeners[0].socket.getsockname()[1])


@pytest.fixture
async def chat(nursery: trio.Nursery) -> Chat:
    return await _start(nursery, SECRET)


async def test_nick_and_resume_wait_for_the_password_and_the_connection_stays(
    chat: Chat,
) -> None:
    client, hello = await chat.flack()
    assert " protocol=1.3 password=required :" in hello
    assert "PASS <password>" in hello
    await client.send("NICK alice")
    assert (await client.recv()).startswith("ERR PASSWORD_REQUIRED NICK :")
    await client.send("RESUME 3q2m0fQ1bW8yZ4nKx7Lr5A")
    assert (await client.recv()).startswith("ERR PASSWORD_REQUIRED RESUME :")
    await client.send("JOIN #general")
    assert (await client.recv()).startswith("ERR NOT_REGISTERED JOIN ")
    await client.send("HELP PASS")  # what works before registration still does
    assert (await client.recv()).startswith("HELP PASS ")
    while not (await client.recv()).startswith("END HELP"):
        pass
    await client.send(f"PASS {SECRET}")  # the rest of the line: spaces and all
    assert (await client.recv()).startswith("OK PASS :password accepted")
    await client.send("NICK alice")
    assert (await client.recv()).startswith("OK NICK alice token=")
    await client.send("JOIN #general")
    assert (await client.recv()).startswith("OK JOIN #general ")
    await client.send("PING barrier")
    while await client.recv() != "PONG barrier":
        pass
    await client.send(f"PASS {SECRET}")
    assert (await client.recv()).startswith("ERR ALREADY_REGISTERED PASS :")


async def test_a_wrong_password_closes_the_connection(chat: Chat) -> None:
    client, _ = await chat.flack()
    await client.send("PASS open sesame!")
    assert (await client.recv()).startswith("BYE BAD_PASSWORD :")
    with trio.fail_after(WAIT):
        assert await client.stream.receive_some(100) == b""


async def test_a_server_without_a_password_says_so_and_accepts_pass(nursery: trio.Nursery) -> None:
    chat = await _start(nursery, None)
    client, hello = await chat.flack()
    assert "password=" not in hello
    await client.send("PASS anything")
    assert (await client.recv()).startswith("OK PASS :this server has no password")
    await client.send("NICK bob")
    assert (await client.recv()).startswith("OK NICK bob ")


async def test_irc_pass_registers_and_a_missing_or_wrong_one_gets_464(chat: Chat) -> None:
    ok = await chat.irc()
    await ok.send(f"PASS :{SECRET}", "NICK ivy", "USER ivy 0 * :Ivy")
    assert (await ok.expect("001")).params[0] == "ivy"
    notice = await ok.expect("NOTICE")  # the token goes back by SASL on this server
    assert "SASL PLAIN password" in notice.params[1]

    missing = await chat.irc()
    await missing.send("NICK jo", "USER jo 0 * :Jo", "PING :barrier")
    first = await missing.message()
    assert first.command == "464", first
    assert (await missing.expect("PONG")).params[-1] == "barrier"  # still connected
    assert all(line.split()[1:2] != ["001"] for line in missing.seen)

    wrong = await chat.irc()
    await wrong.send("PASS nope", "NICK kim", "USER kim 0 * :Kim")
    assert (await wrong.message()).command == "464"
    error = await wrong.message()
    assert error.command == "ERROR"
    with trio.fail_after(WAIT):
        assert await wrong.stream.receive_some(100) == b""


async def test_irc_resumes_with_sasl_behind_the_server_password(chat: Chat) -> None:
    flack, _ = await chat.flack()
    await flack.send(f"PASS {SECRET}", "NICK sasha", "JOIN #s", "PING barrier")
    assert (await flack.recv()).startswith("OK PASS")
    ok = await flack.recv()
    token = next(w for w in ok.split() if w.startswith("token="))[6:]
    while await flack.recv() != "PONG barrier":
        pass
    await flack.aclose()  # dropped: resumable
    irc = await chat.irc()
    await irc.send(f"PASS :{SECRET}", "CAP LS 302", "NICK other", "USER s 0 * :S")
    await irc.expect("CAP")
    right = base64.b64encode(f"\0sasha\0{token}".encode()).decode()
    await irc.send("CAP REQ :sasl", "AUTHENTICATE PLAIN")
    await irc.expect("AUTHENTICATE")
    await irc.send(f"AUTHENTICATE {right}")
    await irc.expect("903")
    await irc.send("CAP END")
    assert (await irc.expect("001")).params[0] == "sasha"
    assert (await irc.expect("JOIN")).params == ("#s",)


async def test_the_client_library_gives_the_password_when_asked(
    chat: Chat, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with open_client("127.0.0.1", chat.port, password=SECRET) as client:
        assert client.hello is not None
        assert client.hello.password
        lines = await client.call(c.Nick("lib"))
        assert any(getattr(x, "command", "") == "NICK" for x in lines)
    monkeypatch.setenv("FLACK_PASSWORD", SECRET)
    async with open_client("127.0.0.1", chat.port) as client:
        await client.call(c.Nick("envbot"))
    monkeypatch.setenv("FLACK_PASSWORD", "not it")
    with pytest.raises(ConnectionClosed) as closed:
        async with open_client("127.0.0.1", chat.port):
            pass
    assert closed.value.bye is not None
    assert closed.value.bye.code == "BAD_PASSWORD"


def test_the_password_file_is_checked_and_the_password_kept_only_as_a_digest(
    tmp_path: Path,
) -> None:
    good = tmp_path / "good"
    good.write_text(f"{SECRET}\r\nsecond line ignored\n")
    password = ServerPassword.from_file(str(good))
    assert password.matches(SECRET)
    assert not password.matches(SECRET + " ")
    assert not password.matches("")
    assert SECRET not in repr(password)
    assert SECRET not in repr(c.Pass(SECRET))
    refusals = {
        "missing": (None, "cannot read"),
        "empty": ("\n", "empty"),
        "long": ("x" * (MAX_PASSWORD_BYTES + 1), "over"),
        "spaced": (" secret\n", "spaces"),
        "control": ("se\x07cret\n", "control"),
    }
    for name, (text, why) in refusals.items():
        path = tmp_path / name
        if text is not None:
            path.write_text(text)
        with pytest.raises(PasswordFileError, match=why):
            ServerPassword.from_file(str(path))


@pytest.mark.subprocess
async def test_the_installed_flackd_takes_password_file(tmp_path: Path) -> None:
    missing = await trio.run_process(
        [str(FLACKD), "--port", "0", "--password-file", str(tmp_path / "nope")],
        capture_stderr=True,
        check=False,
    )
    assert missing.returncode == 2
    assert b"cannot use --password-file" in missing.stderr
    secret = tmp_path / "password"
    secret.write_text(SECRET + "\n")
    async with flackd_process("--password-file", str(secret)) as flackd:
        client = await LineClient.connect(flackd.port, hello=False)
        assert "password=required" in await client.recv()
        await client.send("NICK nope")
        assert (await client.recv()).startswith("ERR PASSWORD_REQUIRED NICK")
        await client.send(f"PASS {SECRET}", "NICK yes")
        assert (await client.recv()).startswith("OK PASS")
        assert (await client.recv()).startswith("OK NICK yes ")
        assert await flackd.terminate() == 0

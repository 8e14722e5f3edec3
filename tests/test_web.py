"""The web port without a browser: static files over HTTP, and the chat over a WebSocket.

Every test talks to a real server on a loopback port: raw HTTP requests (what curl or an
attacker sends) and a wsproto WebSocket client (:mod:`tests.websupport`). The browser's
side, the page itself in Chromium, is tests/test_web_browser.py.
"""

from __future__ import annotations

import gzip
import time
from dataclasses import dataclass

import pytest
import trio
from wsproto.events import Ping

from flackd.limits import Limits
from flackd.server import Server
from tests.process import flackd_process, free_port
from tests.support import TEST_LIMITS, WAIT, LineClient
from tests.websupport import Refused, WebClient, http, ws_connect

pytestmark = pytest.mark.trio


@dataclass
class Web:
    server: Server
    port: int
    web_port: int

    async def line(self, nick: str, *channels: str) -> LineClient:
        client = await LineClient.connect(self.port, nick)
        await client.register(nick)
        for channel in channels:
            await client.join(channel)
        return client

    async def web(self, nick: str, *channels: str) -> WebClient:
        client = await WebClient.open(self.web_port, nick)
        await client.register(nick)
        for channel in channels:
            await client.join(channel)
        return client


async def start_web(
    nursery: trio.Nursery, limits: Limits = TEST_LIMITS, origins: tuple[str, ...] = ()
) -> Web:
    wall_start, trio_start = time.time(), trio.current_time()
    server = Server(
        limits, clock=lambda: wall_start + trio.current_time() - trio_start, web_origins=origins
    )
    listeners = await nursery.start(
        lambda task_status: server.serve("127.0.0.1", 0, web_port=0, task_status=task_status)
    )
    return Web(
        server,
        listeners[0].socket.getsockname()[1],
        server.web_listeners[0].socket.getsockname()[1],
    )


@pytest.fixture
async def web(nursery: trio.Nursery) -> Web:
    return await start_web(nursery)


def get(path: str, port: int, *more: str, close: bool = True) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", *more]
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


# -- the page over HTTP ------------------------------------------------------------------


async def test_the_page_is_served_with_its_security_headers(web: Web) -> None:
    [page] = await http(web.web_port, get("/", web.web_port))
    assert page.status == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert b"<html" in page.body.lower()
    csp = page.headers["content-security-policy"]
    for directive in (
        "default-src 'none'",
        "script-src 'self'",
        f"connect-src 'self' ws://127.0.0.1:{web.web_port} wss://127.0.0.1:{web.web_port}",
        "frame-ancestors 'none'",
        "require-trusted-types-for 'script'",
    ):
        assert directive in csp
    assert "unsafe-inline" not in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "set-cookie" not in page.headers
    assert page.headers["etag"].startswith('"')


async def test_every_shipped_file_has_an_exact_type(web: Web) -> None:
    files = web.server.site.files
    assert "/index.html" in files
    assert "/favicon.svg" in files
    for path in files:
        [answer] = await http(web.web_port, get(path, web.web_port))
        assert answer.status == 200, path
        kind = answer.headers["content-type"]
        suffix = path.rsplit(".", 1)[-1] if "." in path else "html"
        expected = {"js": "text/javascript", "css": "text/css", "svg": "image/svg+xml"}
        assert kind.startswith(expected.get(suffix, "text/html" if suffix == "html" else "")), (
            path,
            kind,
        )


async def test_the_modules_the_page_imports_are_all_served(web: Web) -> None:
    """Every ``import ... from "./x.js"`` in a shipped module names a shipped file."""
    files = web.server.site.files
    for path, file in files.items():
        if not path.endswith(".js"):
            continue
        for line in file.body.decode().splitlines():
            if line.startswith("import ") and " from " in line:
                target = line.rsplit(" from ", 1)[1].strip(" ;'\"")
                assert target.startswith("./"), (path, line)
                folder = path.rsplit("/", 1)[0]
                assert f"{folder}/{target[2:]}" in files, (path, target)


async def test_etag_and_gzip(web: Web) -> None:
    site_files = web.server.site.files
    path = max((p for p in site_files if p.endswith(".js")), key=lambda p: len(site_files[p].body))
    [plain] = await http(web.web_port, get(path, web.web_port))
    [packed] = await http(web.web_port, get(path, web.web_port, "Accept-Encoding: gzip, br"))
    assert packed.headers.get("content-encoding") == "gzip"
    assert gzip.decompress(packed.body) == plain.body
    assert len(packed.body) < len(plain.body)
    assert packed.headers["vary"] == "accept-encoding"
    etag = plain.headers["etag"]
    [again] = await http(web.web_port, get(path, web.web_port, f"If-None-Match: {etag}"))
    assert again.status == 304
    assert again.body == b""


async def test_unknown_paths_traversal_and_listing_get_404(web: Web) -> None:
    for path in (
        "/nope",
        "/../pyproject.toml",
        "/%2e%2e/flackd/cli.py",
        "/static/",
        "//etc/passwd",
    ):
        [answer] = await http(web.web_port, get(path, web.web_port))
        assert answer.status == 404, path
        assert b"flackd" not in answer.body
        assert b"[" not in answer.body


async def test_other_methods_get_405_and_bodies_413(web: Web) -> None:
    request = f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{web.web_port}\r\nContent-Length: 0\r\n"
    [answer] = await http(web.web_port, (request + "Connection: close\r\n\r\n").encode())
    assert answer.status == 405
    assert answer.headers["allow"] == "GET, HEAD"
    body = f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{web.web_port}\r\nContent-Length: 5\r\n\r\nhello"
    [answer] = await http(web.web_port, body.encode())
    assert answer.status == 413


async def test_head_and_keep_alive_answer_several_requests_on_one_connection(web: Web) -> None:
    port = web.web_port
    head = f"HEAD / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    head_404 = f"HEAD /nope HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    requests = head + head_404 + get("/favicon.svg", port, close=False) + get("/", port)
    answers = await http(port, requests, heads=2)
    assert [a.status for a in answers] == [200, 404, 200, 200]
    assert answers[0].body == b""
    assert int(answers[0].headers["content-length"]) > 0
    assert answers[2].headers["content-type"] == "image/svg+xml"
    assert b"<html" in answers[3].body.lower()


async def test_a_foreign_host_name_is_refused(web: Web) -> None:
    """DNS rebinding: a page on evil.example that resolves to 127.0.0.1 names its own host."""
    for host in ("evil.example", "evil.example:80", "127.0.0.1;script-src *", ""):
        request = f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
        [answer] = await http(web.web_port, request)
        assert answer.status in (400, 421), host
    request = b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    [answer] = await http(web.web_port, request)
    assert answer.status == 200


async def test_a_configured_origin_names_a_host(nursery: trio.Nursery) -> None:
    web = await start_web(nursery, origins=("https://chat.example.com",))
    request = b"GET / HTTP/1.1\r\nHost: chat.example.com\r\nConnection: close\r\n\r\n"
    [answer] = await http(web.web_port, request)
    assert answer.status == 200
    ws = await ws_connect(web.web_port, host="chat.example.com", origin="https://chat.example.com")
    await ws.aclose()


async def test_a_request_head_over_the_limit_gets_431(nursery: trio.Nursery) -> None:
    web = await start_web(
        nursery, Limits(flood_burst=10_000, flood_rate=10_000.0, web_head_bytes=1024)
    )
    request = get("/", web.web_port, "X-Padding: " + "a" * 2000)
    [answer] = await http(web.web_port, request)
    assert answer.status == 431


async def test_a_slow_request_head_is_closed_after_the_timeout(nursery: trio.Nursery) -> None:
    limits = Limits(flood_burst=10_000, flood_rate=10_000.0, web_timeout=0.5)
    web = await start_web(nursery, limits)
    stream = await trio.open_tcp_stream("127.0.0.1", web.web_port)
    await stream.send_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and nothing more
    data = b""
    with trio.fail_after(WAIT):
        while chunk := await stream.receive_some(4096):
            data += chunk
    assert data.startswith(b"HTTP/1.1 408 ")
    await stream.aclose()


async def test_garbage_gets_400(web: Web) -> None:
    [answer] = await http(web.web_port, b"\x16\x03\x01 hello there\r\n\r\n")
    assert answer.status == 400


# -- the WebSocket ------------------------------------------------------------------------


async def test_a_websocket_user_and_a_netcat_user_chat_in_one_channel(web: Web) -> None:
    alice = await web.web("alice", "#general")
    bob = await web.line("bob", "#general")
    joined = await alice.recv()
    assert joined.startswith("JOIN #general bob")
    await alice.send("MSG #general hello from the browser")
    echo = await alice.recv()
    assert echo.startswith("MSG #general ")
    assert echo.endswith("alice :hello from the browser")
    assert await bob.recv() == echo
    await bob.send("MSG #general hi <b>alice</b>")
    line = await alice.recv()
    assert line.endswith("bob :hi <b>alice</b>")
    assert await bob.recv() == line


async def test_one_message_is_one_line_and_newlines_cannot_smuggle_a_second(web: Web) -> None:
    alice = await web.web("alice", "#general")
    bob = await web.line("bob", "#general")
    await alice.recv()  # bob's JOIN
    await alice.ws.send_message("MSG #general one\nJOIN #secret")
    error = await alice.recv()
    assert error.startswith("ERR BAD_CHARACTER"), error
    await alice.ws.send_message("MSG #general two\r\n")  # a trailing line end is allowed
    assert (await alice.recv()).endswith(":two")
    assert (await bob.recv()).endswith(":two")
    assert "JOIN #secret" not in "".join(await alice.barrier())


async def test_the_byte_limit_counts_the_line_end_a_message_does_not_carry(web: Web) -> None:
    alice = await web.web("alice", "#general")
    prefix = "MSG #general "
    await alice.ws.send_message(prefix + "a" * (511 - len(prefix)))  # + "\n" = 512 bytes
    assert (await alice.recv()).endswith("alice :" + "a" * (511 - len(prefix)))
    await alice.ws.send_message(prefix + "a" * (512 - len(prefix)))
    assert (await alice.recv()).startswith("ERR LINE_TOO_LONG")


async def test_fragments_make_one_line(web: Web) -> None:
    alice = await web.web("alice", "#general")
    await alice.ws.send_message("MSG #general he", final=False)
    await alice.ws.send_message("llo", final=False)
    await alice.ws.send_message("", final=True)
    assert (await alice.recv()).endswith("alice :hello")


async def test_an_over_long_message_gets_the_line_error_then_the_close(web: Web) -> None:
    alice = await web.web("alice", "#general")
    await alice.ws.send_message("MSG #general " + "é" * 300)  # 613 bytes, 313 characters
    error = await alice.recv()
    assert error.startswith("ERR LINE_TOO_LONG"), error
    await alice.send("MSG #general still here")
    assert (await alice.recv()).endswith(":still here")
    await alice.ws.send_message("x" * 20_000)  # past --max-junk-bytes
    lines = await alice.expect_eof()
    assert lines[-1].startswith("BYE LINE_TOO_LONG"), lines
    assert alice.ws.closed is not None
    assert alice.ws.closed[0] == 1009


async def test_a_binary_message_closes_with_1003(web: Web) -> None:
    alice = await web.web("alice")
    await alice.ws.send_message(b"\x00\x01")
    await alice.expect_eof()
    assert alice.ws.closed is not None
    assert alice.ws.closed[0] == 1003


async def test_pings_are_answered_and_quit_closes_with_1000(web: Web) -> None:
    alice = await web.web("alice")
    await alice.ws.send_event(Ping(payload=b"are you there"))
    await alice.barrier()
    assert alice.ws.pongs == [b"are you there"]
    await alice.send("QUIT bye now")
    lines = await alice.expect_eof()
    assert lines[-1].startswith("BYE QUIT"), lines
    assert alice.ws.closed == (1000, "")


async def test_a_foreign_origin_is_refused_and_a_missing_one_allowed(web: Web) -> None:
    with pytest.raises(Refused) as refused:
        await ws_connect(web.web_port, origin="http://evil.example")
    assert refused.value.status == 403
    with pytest.raises(Refused) as refused:
        await ws_connect(web.web_port, origin=f"https://127.0.0.1:{web.web_port}")  # wrong scheme
    assert refused.value.status == 403
    ws = await ws_connect(web.web_port, origin=None)  # not a browser: as on the line port
    client = LineClient(ws, "tool")  # type: ignore[arg-type]
    assert (await client.recv()).startswith("HELLO flackd ")


async def test_a_websocket_elsewhere_or_without_a_key_is_refused(web: Web) -> None:
    with pytest.raises(Refused) as refused:
        await ws_connect(web.web_port, target="/chat")
    assert refused.value.status == 404
    port = web.web_port
    request = (
        f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    [answer] = await http(port, request.encode())
    assert answer.status == 400
    [answer] = await http(port, get("/ws", port))  # a plain GET of the WebSocket's path
    assert answer.status == 426


async def test_websockets_share_the_per_address_limits(nursery: trio.Nursery) -> None:
    limits = Limits(flood_burst=10_000, flood_rate=10_000.0, new_per_ip=3)
    web = await start_web(nursery, limits)
    for _ in range(3):
        await (await ws_connect(web.web_port)).aclose()
    # Fetching the page is not a new chat connection...
    [page] = await http(web.web_port, get("/", web.web_port))
    assert page.status == 200
    # ...but a fourth WebSocket this minute is.
    with pytest.raises(Refused) as refused:
        await ws_connect(web.web_port)
    assert refused.value.status == 429
    assert b"new connections a minute" in refused.value.body


async def test_a_session_resumes_from_netcat_into_the_browser(web: Web) -> None:
    alice = await LineClient.connect(web.port, "alice")
    token = await alice.register("alice")
    await alice.join("#general")
    await alice.aclose()  # her network dropped
    browser = await WebClient.open(web.web_port, "alice")
    await browser.send(f"RESUME {token}")
    lines = await browser.barrier()
    assert any(line.startswith("OK RESUME alice ") for line in lines), lines
    await browser.send("MSG #general back, in a browser")
    assert (await browser.recv()).endswith("alice :back, in a browser")


async def test_shutdown_says_bye_and_closes_with_1000(nursery: trio.Nursery) -> None:
    shutdown = trio.Event()
    server = Server(TEST_LIMITS)
    listeners = await nursery.start(
        lambda task_status: server.serve(
            "127.0.0.1", 0, shutdown, web_port=0, task_status=task_status
        )
    )
    del listeners
    port = server.web_listeners[0].socket.getsockname()[1]
    alice = await WebClient.open(port, "alice")
    await alice.register("alice")
    idle = await trio.open_tcp_stream("127.0.0.1", port)  # a kept-alive page connection
    shutdown.set()
    lines = await alice.expect_eof()
    assert lines[-1].startswith("BYE SHUTDOWN"), lines
    assert alice.ws.closed == (1000, "")
    with trio.fail_after(WAIT):
        assert await idle.receive_some(100) == b""


async def test_the_installed_flackd_serves_the_web_client() -> None:
    async with flackd_process("--web-port", str(free_port())) as flackd:
        await flackd.wait_log(rf"the web client: http://127\.0\.0\.1:{flackd.web_port}/")
        [page] = await http(flackd.web_port, get("/", flackd.web_port))
        assert page.status == 200
        alice = await WebClient.open(flackd.web_port, "alice")
        await alice.register("alice")
        await alice.join("#general")
        bob = await flackd.client("bob")
        await bob.register("bob")
        await bob.join("#general")
        await alice.recv()  # bob's JOIN
        await bob.send("MSG #general hi from the line port")
        assert (await alice.recv()).endswith("bob :hi from the line port")
        assert await flackd.terminate() == 0
        lines = await alice.expect_eof()
        assert lines[-1].startswith("BYE SHUTDOWN"), lines


# -- frames that are not lines --------------------------------------------------------------

#: A client's (masked) ping frame with an empty payload.
PING_FRAME = b"\x89\x80\x00\x00\x00\x00"
#: A client's empty text message in fragments: its first, a middle one, its last.
FIRST_FRAGMENT = b"\x01\x80\x00\x00\x00\x00"
EMPTY_FRAGMENT = b"\x00\x80\x00\x00\x00\x00"
LAST_FRAGMENT = b"\x80\x80\x00\x00\x00\x00"


async def test_a_ping_after_the_servers_close_frame_is_ignored(web: Web) -> None:
    """Regression: a Ping that arrives while the server waits for the answer to its close
    frame must not be answered (wsproto refuses to), and nothing may escape to the server."""
    alice = await web.web("alice")
    await alice.send("QUIT bye")
    ws = alice.ws
    got_close = False
    with trio.fail_after(WAIT):
        while not got_close:  # read to the server's close frame, without answering it
            ws.ws.receive_data(bytes(await ws.stream.receive_some(4096)))
            got_close = any(type(ev).__name__ == "CloseConnection" for ev in ws.ws.events())
    await ws.send_raw(PING_FRAME * 3)
    with trio.fail_after(WAIT):  # the server closes the socket after its linger
        while await ws.stream.receive_some(4096):
            pass
    bob = await web.web("bob")  # and goes on serving
    await bob.send("MSG bob still up")
    assert (await bob.recv()).endswith("bob :still up")


async def test_frames_without_line_bytes_are_paced(
    nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    """Pings and empty fragments carry no line bytes, so no line limit sees them: they
    spend a bucket of their own (4 x --flood-burst, 4 x --flood-rate), and past it the
    server stops reading that socket (in virtual time here)."""
    mock_clock.autojump_threshold = 0.05
    web = await start_web(nursery, Limits(flood_burst=10, flood_rate=2.0))
    alice = await web.web("alice")
    start = trio.current_time()
    frames = FIRST_FRAGMENT + EMPTY_FRAGMENT * 38 + LAST_FRAGMENT  # one empty line, ignored
    await alice.ws.send_raw(PING_FRAME * 40 + frames)  # 80 frames against 40 at 8/s
    await alice.barrier()
    assert trio.current_time() - start >= (80 - 40) / 8  # virtual seconds of pacing
    assert len(alice.ws.pongs) == 40  # every ping answered, none dropped


async def test_a_malformed_frame_is_answered_with_its_close_code(web: Web) -> None:
    alice = await web.web("alice")
    await alice.ws.send_raw(b"\x81\x82\x00\x00\x00\x00\xc3\x28")  # invalid UTF-8 text
    await alice.expect_eof()
    assert alice.ws.closed is not None
    assert alice.ws.closed[0] == 1007


async def test_an_upgrade_must_be_a_get_without_a_body(web: Web) -> None:
    port = web.web_port
    for method, extra in (("POST", "Content-Length: 0\r\n"), ("GET", "Content-Length: 4\r\n")):
        request = (
            f"{method} /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{extra}\r\n"
        )
        [answer] = await http(port, request.encode() + b"\x81\x80\x00\x00")
        assert answer.status == 400, method
    bad = (
        f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Protocol: caf\xe9\r\n\r\n"
    ).encode("latin-1")
    [answer] = await http(port, bad)
    assert answer.status == 400

"""TLS end to end: flackd's TLS listener, its transport, reloading, and flackcli over tls://.

Certificates are made for each test by ``trustme`` (a throwaway CA on the spot); servers run
in process on 127.0.0.1 port 0 (readiness from ``nursery.start``), or as the installed
``flackd`` learning its ports from the log. Covered: a TLS and a plain client in one
channel; ``openssl s_client`` as the netcat of TLS; the handshake deadline (MockClock);
the per-address limits before any handshake; plain text sent to the TLS port; a
certificate the client must refuse (wrong CA, wrong name), with an error naming the host;
SIGHUP reloading the certificate while an old connection goes on; shutdown's BYE over
TLS; the stream transport's outbox (order, the send queue limit, closing); ``flackcli
send`` over tls:// with --ca.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import ssl
import subprocess
import sys
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import pytest
import trio
import trio.testing
import trustme

from flackcli.address import parse_address, tls_context
from flackcli.client import TLSError, open_client
from flackd.codec import OVERLONG, LineBuffer, events, parse_event
from flackd.limits import Limits
from flackd.server import Server
from flackd.stream_connection import STREAM_BATCH_BYTES, StreamConnection
from flackd.tls import ServerTLS, TLSConfigError, server_context
from tests.process import flackd_process, free_port
from tests.support import TEST_LIMITS, WAIT, LineClient
from tests.websupport import Refused, http, ws_connect

FLACKCLI = Path(sys.executable).with_name("flackcli")
OPENSSL = shutil.which("openssl")


# -- certificates ------------------------------------------------------------------------


@dataclass
class Pki:
    """A CA and a server certificate it issued, written as PEM files."""

    ca: trustme.CA
    ca_pem: Path
    cert: Path
    key: Path

    def client_context(self) -> ssl.SSLContext:
        context = tls_context(parse_address("tls://127.0.0.1"), str(self.ca_pem))
        assert context is not None
        return context


def make_pki(directory: Path, *names: str) -> Pki:
    """A fresh CA in ``directory`` and a certificate for ``names`` (default 127.0.0.1)."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    issued = ca.issue_cert(*(names or ("127.0.0.1", "localhost")))
    pki = Pki(ca, directory / "ca.pem", directory / "cert.pem", directory / "key.pem")
    ca.cert_pem.write_to_path(str(pki.ca_pem))
    pki.cert.write_bytes(b"".join(blob.bytes() for blob in issued.cert_chain_pems))
    issued.private_key_pem.write_to_path(str(pki.key))
    return pki


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "pki")


# -- a netcat-like client over TLS --------------------------------------------------------


class TLSLineClient:
    """Lines over TLS, like tests.support.LineClient over TCP."""

    def __init__(self, stream: trio.SSLStream[trio.SocketStream]) -> None:
        self.stream = stream
        self._buffer = LineBuffer(64 * 1024)
        self._lines: deque[str] = deque()

    @classmethod
    async def connect(cls, port: int, context: ssl.SSLContext) -> TLSLineClient:
        with trio.fail_after(WAIT):
            tcp = await trio.open_tcp_stream("127.0.0.1", port)
            stream = trio.SSLStream(tcp, context, server_hostname="127.0.0.1")
            await stream.do_handshake()
        client = cls(stream)
        assert (await client.recv()).startswith("HELLO flackd ")
        return client

    async def send(self, *lines: str) -> None:
        await self.stream.send_all("".join(line + "\n" for line in lines).encode())

    async def recv(self) -> str:
        with trio.fail_after(WAIT):
            while not self._lines:
                data = await self.stream.receive_some(65536)
                if not data:
                    raise EOFError("the server closed the connection")
                for item in self._buffer.feed(bytes(data)):
                    assert item is not OVERLONG
                    assert isinstance(item, bytes)
                    self._lines.append(item.decode("utf-8"))
            return self._lines.popleft()

    async def recv_until(self, prefix: str) -> list[str]:
        lines = [await self.recv()]
        while not lines[-1].startswith(prefix):
            lines.append(await self.recv())
        return lines

    async def register(self, nick: str) -> None:
        await self.send(f"NICK {nick}")
        ok = parse_event(await self.recv())
        assert isinstance(ok, events.Ok), ok
        assert ok.command == "NICK", ok

    async def expect_eof(self) -> list[str]:
        """The lines left before the server closes (which it must, in time)."""
        lines: list[str] = []
        while True:
            try:
                lines.append(await self.recv())
            except EOFError:
                return lines
            except trio.BrokenResourceError:  # closed without close_notify: still closed
                return lines


async def start_tls_server(
    nursery: trio.Nursery,
    pki: Pki,
    limits: Limits = TEST_LIMITS,
    shutdown: trio.Event | None = None,
) -> tuple[Server, int, int]:
    """An in-process flackd with a plain and a TLS listener; (server, plain, TLS port)."""
    server = Server(limits, tls=ServerTLS(pki.cert, pki.key))
    listeners = await nursery.start(
        lambda task_status: server.serve(
            "127.0.0.1", 0, shutdown, tls_port=0, task_status=task_status
        )
    )
    (plain,) = [x for x in listeners if x not in server.tls_listeners]
    (secure,) = server.tls_listeners
    return server, plain.socket.getsockname()[1], secure.socket.getsockname()[1]


async def read_until_eof(stream: trio.abc.ReceiveStream) -> bytes:
    received = b""
    with trio.fail_after(WAIT):
        try:
            while chunk := await stream.receive_some(65536):
                received += chunk
        except trio.BrokenResourceError:  # a reset is a close too
            pass
    return received


# -- the listener -------------------------------------------------------------------------


async def test_tls_and_plain_clients_share_one_chat(nursery: trio.Nursery, pki: Pki) -> None:
    _, plain_port, tls_port = await start_tls_server(nursery, pki)
    alice = await TLSLineClient.connect(tls_port, pki.client_context())
    assert alice.stream.version() in ("TLSv1.2", "TLSv1.3")
    await alice.register("alice")
    await alice.send("JOIN #c")
    await alice.recv_until("END HISTORY")
    bob = await LineClient.connect(plain_port, "bob")
    await bob.register("bob")
    await bob.join("#c")
    assert await alice.recv() == "JOIN #c bob"
    await alice.send("MSG #c over TLS")
    heard = parse_event(await bob.recv())
    assert isinstance(heard, events.Message)
    assert (heard.author, heard.text) == ("alice", "over TLS")
    assert parse_event(await alice.recv()) == heard  # the echo
    await bob.send("MSG #c in the clear")
    said = parse_event(await alice.recv())
    assert isinstance(said, events.Message)
    assert said.text == "in the clear"


async def irc_over_tls(
    port: int, pki: Pki, lines: bytes, until: bytes
) -> tuple[trio.SSLStream[trio.SocketStream], bytes]:
    """An IRC client over TLS that sent ``lines``, and what it read up to ``until``."""
    tcp = await trio.open_tcp_stream("127.0.0.1", port)
    stream = trio.SSLStream(tcp, pki.client_context(), server_hostname="localhost")
    await stream.send_all(lines)
    received = b""
    with trio.fail_after(WAIT):
        while until not in received:
            received += await stream.receive_some(65536)
    return stream, received


async def test_irc_clients_over_tls_join_the_same_chat(nursery: trio.Nursery, pki: Pki) -> None:
    server = Server(TEST_LIMITS, tls=ServerTLS(pki.cert, pki.key))
    listeners = await nursery.start(
        lambda task_status: server.serve(
            "127.0.0.1", 0, irc_port=0, irc_tls_port=0, task_status=task_status
        )
    )
    (plain,) = [x for x in listeners if x not in server.irc_listeners]
    (irc_tls,) = [x for x in server.irc_listeners if x in server.tls_listeners]
    hello = b"NICK secret\r\nUSER s 0 * :S\r\nJOIN #tls\r\n"
    stream, received = await irc_over_tls(irc_tls.socket.getsockname()[1], pki, hello, b" 366 ")
    assert b" 001 secret " in received
    bob = await LineClient.connect(plain.socket.getsockname()[1], "bob")
    await bob.register("bob")
    await bob.join("#tls")
    await stream.send_all(b"PRIVMSG #tls :sealed\r\n")
    heard = parse_event((await bob.recv_until("MSG #tls"))[-1])
    assert isinstance(heard, events.Message)
    assert (heard.author, heard.text) == ("secret", "sealed")


async def test_tls_only_server(nursery: trio.Nursery, pki: Pki) -> None:
    server = Server(TEST_LIMITS, tls=ServerTLS(pki.cert, pki.key))
    listeners = await nursery.start(
        lambda task_status: server.serve("127.0.0.1", None, tls_port=0, task_status=task_status)
    )
    assert listeners == server.tls_listeners  # no plain listener at all
    client = await TLSLineClient.connect(listeners[0].socket.getsockname()[1], pki.client_context())
    await client.register("solo")


def test_server_context_has_modern_defaults(pki: Pki) -> None:
    context = server_context(pki.cert, pki.key)
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert context.verify_mode == ssl.CERT_NONE  # no client certificates asked for
    assert context.options & ssl.OP_NO_COMPRESSION


def test_unusable_certificate_files_are_clear_errors(pki: Pki, tmp_path: Path) -> None:
    other = make_pki(tmp_path / "other")
    with pytest.raises(TLSConfigError, match=r"missing\.pem: no such file"):
        ServerTLS(tmp_path / "missing.pem", pki.key)
    with pytest.raises(TLSConfigError, match="KEY_VALUES_MISMATCH"):
        ServerTLS(pki.cert, other.key)
    with pytest.raises(TLSConfigError, match="not a PEM"):
        ServerTLS(pki.key, pki.key)
    tls = ServerTLS(pki.cert, pki.key)
    before = tls.context
    pki.cert.write_text("garbage\n")
    with pytest.raises(TLSConfigError):
        tls.reload()
    assert tls.context is before  # a failed reload keeps the certificate in use


@pytest.mark.skipif(OPENSSL is None, reason="needs the openssl command")
async def test_openssl_s_client_like_netcat(nursery: trio.Nursery, pki: Pki) -> None:
    """``openssl s_client -quiet`` is TLS's netcat: type lines, read lines."""
    _, _, tls_port = await start_tls_server(nursery, pki)
    assert OPENSSL is not None
    command = [OPENSSL, "s_client", "-quiet", "-connect", f"127.0.0.1:{tls_port}",
               "-CAfile", str(pki.ca_pem), "-verify_return_error",
               "-verify_ip", "127.0.0.1"]  # fmt: skip
    with trio.fail_after(WAIT):
        result = await trio.run_process(
            command,
            stdin=b"NICK carol\nJOIN #c\nMSG #c typed in s_client\nQUIT bye\n",
            capture_stdout=True,
            capture_stderr=True,
            check=False,
        )
    lines = result.stdout.decode().splitlines()
    assert lines[0].startswith("HELLO flackd "), (lines, result.stderr)
    assert any(line.startswith("OK NICK carol") for line in lines), lines
    assert any(line.endswith("carol :typed in s_client") for line in lines), lines
    assert lines[-1].startswith("BYE QUIT"), lines  # then the server closed: s_client ended
    assert result.returncode == 0, result.stderr


# -- the handshake ------------------------------------------------------------------------


async def test_a_stalled_handshake_is_closed_like_a_slow_registrant(
    nursery: trio.Nursery, mock_clock: trio.testing.MockClock, pki: Pki
) -> None:
    """The handshake counts against --reg-timeout: silence, or half a ClientHello, is
    closed when it passes; a client that completed its handshake in time is not."""
    mock_clock.autojump_threshold = 0.05
    limits = Limits(flood_burst=10_000, flood_rate=10_000.0, reg_timeout=5.0)
    server, _, tls_port = await start_tls_server(nursery, pki, limits)
    start = trio.current_time()
    silent = await trio.open_tcp_stream("127.0.0.1", tls_port)
    partial = await trio.open_tcp_stream("127.0.0.1", tls_port)
    await partial.send_all(client_hello()[:20])
    good = await TLSLineClient.connect(tls_port, pki.client_context())
    await good.register("punctual")
    for stream in (silent, partial):
        assert b"HELLO" not in await read_until_eof(stream)
    assert trio.current_time() - start >= 5.0  # virtual time: closed by the deadline
    await good.send("PING alive")
    assert await good.recv() == "PONG alive"
    assert len(server.connections) == 1


def client_hello() -> bytes:
    """The first bytes a TLS client sends (a ClientHello), made without a socket."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    context = ssl.create_default_context()
    tls = context.wrap_bio(incoming, outgoing, server_hostname="127.0.0.1")
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


async def test_per_address_limits_apply_before_the_handshake(
    nursery: trio.Nursery, pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    """With one connection allowed per address, a second is closed at once, though it
    never sent a byte: had flackd begun a handshake it would wait for the ClientHello."""
    caplog.set_level(logging.DEBUG, logger="flackd")
    limits = Limits(flood_burst=10_000, flood_rate=10_000.0, max_per_ip=1)
    _, _, tls_port = await start_tls_server(nursery, pki, limits)
    first = await trio.open_tcp_stream("127.0.0.1", tls_port)  # holds the one slot
    second = await trio.open_tcp_stream("127.0.0.1", tls_port)
    assert await read_until_eof(second) == b""  # no BYE: there is no TLS to say it in
    assert "TOO_MANY_CONNECTIONS" in caplog.text
    await first.aclose()


async def test_plain_text_on_the_tls_port_is_closed_and_logged(
    nursery: trio.Nursery, pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="flackd")
    server, _, tls_port = await start_tls_server(nursery, pki)
    stream = await trio.open_tcp_stream("127.0.0.1", tls_port)
    await stream.send_all(b"NICK mallory\nJOIN #c\n")
    answer = await read_until_eof(stream)
    assert b"HELLO" not in answer
    assert b"OK" not in answer
    failures = [r for r in caplog.records if "TLS handshake failed" in r.getMessage()]
    assert failures
    assert all(r.levelno == logging.DEBUG for r in failures)
    # The server is fine: the next TLS client is served.
    client = await TLSLineClient.connect(tls_port, pki.client_context())
    await client.register("after")
    assert len(server.connections) == 1


async def test_the_client_refuses_a_certificate_from_an_unknown_ca(
    nursery: trio.Nursery, pki: Pki, tmp_path: Path
) -> None:
    _, _, tls_port = await start_tls_server(nursery, pki)
    stranger = make_pki(tmp_path / "stranger")  # the client trusts another CA only
    with pytest.raises(TLSError, match=r"cannot verify the TLS certificate of 127\.0\.0\.1: "):
        async with open_client("127.0.0.1", tls_port, tls=stranger.client_context()):
            pass
    with pytest.raises(TLSError, match=r"certificate verify failed|unable to get local issuer"):
        async with open_client("127.0.0.1", tls_port, tls=stranger.client_context()):
            pass
    async with open_client("127.0.0.1", tls_port, tls=pki.client_context()) as client:
        assert client.hello is not None  # the right CA: connected


async def test_the_client_refuses_a_certificate_for_another_name(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    elsewhere = make_pki(tmp_path / "elsewhere", "chat.example.org")
    _, _, tls_port = await start_tls_server(nursery, elsewhere)
    with pytest.raises(TLSError, match=r"of 127\.0\.0\.1: .*mismatch"):
        async with open_client("127.0.0.1", tls_port, tls=elsewhere.client_context()):
            pass


async def test_tls_to_a_plain_port_fails_without_falling_back(
    nursery: trio.Nursery, pki: Pki
) -> None:
    _, plain_port, _ = await start_tls_server(nursery, pki)
    with pytest.raises(TLSError, match=r"TLS handshake with 127\.0\.0\.1 failed"):
        async with open_client("127.0.0.1", plain_port, tls=pki.client_context()):
            pass


# -- the stream transport ------------------------------------------------------------------


async def test_shutdown_says_bye_over_tls(nursery: trio.Nursery, pki: Pki) -> None:
    shutdown = trio.Event()
    _, _, tls_port = await start_tls_server(nursery, pki, shutdown=shutdown)
    client = await TLSLineClient.connect(tls_port, pki.client_context())
    await client.register("stayer")
    shutdown.set()
    lines = await client.expect_eof()
    assert [line.split(" :")[0] for line in lines] == ["BYE SHUTDOWN retry=5"]


BYE = b"BYE SENDQ_EXCEEDED :slow\r\n"


async def tls_pair(pki: Pki) -> tuple[StreamConnection, trio.SSLStream[trio.SocketStream]]:
    """A StreamConnection over real TLS on loopback, and the client end."""
    listener = (await trio.open_tcp_listeners(0, host="127.0.0.1"))[0]
    port = listener.socket.getsockname()[1]
    tcp_client = await trio.open_tcp_stream("127.0.0.1", port)
    tcp_server = await listener.accept()
    await listener.aclose()
    server_tls = ServerTLS(pki.cert, pki.key).wrap(tcp_server)
    client = trio.SSLStream(tcp_client, pki.client_context(), server_hostname="127.0.0.1")
    with trio.fail_after(WAIT):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(server_tls.do_handshake)
            nursery.start_soon(client.do_handshake)
    conn = StreamConnection(server_tls, tcp_server, "test", 200_000, 5.0, BYE, 30.0)
    return conn, client


async def test_stream_transport_delivers_everything_in_order(pki: Pki) -> None:
    conn, client = await tls_pair(pki)
    lines = [f"line {i:06d} {'x' * (i % 97)}\r\n".encode() for i in range(3000)]
    expected = b"".join(lines)
    assert len(expected) > 4 * STREAM_BATCH_BYTES  # several batches
    received = b""
    async with trio.open_nursery() as nursery:
        nursery.start_soon(conn.writer)
        for line in lines[:1500]:
            conn.push(line)
        await trio.sleep(0)  # the writer takes a batch; the rest is pushed meanwhile
        for line in lines[1500:]:
            conn.push(line)
        with trio.fail_after(WAIT):
            while len(received) < len(expected):
                received += await client.receive_some(65536)
        conn.finish("done")
    assert received == expected
    assert conn.queued == 0


async def test_stream_transport_enforces_the_send_queue(pki: Pki) -> None:
    """A reader that stops reading is closed with only whole lines, then the BYE."""
    conn, client = await tls_pair(pki)
    line = b"L" * 997 + b"\r\n"
    async with trio.open_nursery() as nursery:
        nursery.start_soon(conn.writer)
        for _ in range(20_000):  # bounded: the kernel buffers fill, then the 200 kB queue
            if conn.is_closing():
                break
            conn.push(line)
            if conn.queued > STREAM_BATCH_BYTES:
                await trio.testing.wait_all_tasks_blocked()  # send_all waits for room
        assert conn.close_reason == "send queue exceeded"
        received = b""
        with trio.fail_after(WAIT):
            while not received.endswith(BYE):
                received += await client.receive_some(65536)
    before = received[: -len(BYE)]
    assert before
    assert before == line * (len(before) // len(line))


async def test_stream_transport_reads_then_nothing_once_closed(pki: Pki) -> None:
    conn, client = await tls_pair(pki)
    await client.send_all(b"NICK alice\r\n")
    with trio.fail_after(WAIT):
        assert await conn.receive(4096) == b"NICK alice\r\n"
    got: bytes | None = None
    await client.send_all(b"NICK mallory\r\n")
    with trio.CancelScope() as conn.read_scope:
        conn.close(b"", "resumed elsewhere")
        got = await conn.receive(4096)
    assert got is None


# -- the installed commands -----------------------------------------------------------------


async def test_installed_flackd_serves_tls_and_reloads_on_sighup(tmp_path: Path) -> None:
    """Real flags and a real SIGHUP: new handshakes get the new certificate, the
    connection opened before goes on; an unusable new certificate keeps the old."""
    first = make_pki(tmp_path / "first")
    live = tmp_path / "live"
    live.mkdir()
    cert, key = live / "cert.pem", live / "key.pem"
    shutil.copy(first.cert, cert)
    shutil.copy(first.key, key)
    flags = ("--tls-cert", str(cert), "--tls-key", str(key), "--tls-port", "0")
    async with flackd_process(*flags) as flackd:
        assert flackd.tls_port
        assert flackd.port
        assert flackd.tls_port != flackd.port
        old = await TLSLineClient.connect(flackd.tls_port, first.client_context())
        await old.register("old")
        await old.send("JOIN #c")
        await old.recv_until("END HISTORY")

        second = make_pki(tmp_path / "second")
        shutil.copy(second.cert, cert)
        shutil.copy(second.key, key)
        mark = len(flackd.log)
        flackd.process.send_signal(signal.SIGHUP)
        await flackd.wait_log(r"SIGHUP: TLS certificate reloaded", mark)

        with pytest.raises(TLSError, match=r"certificate of 127\.0\.0\.1"):
            async with open_client("127.0.0.1", flackd.tls_port, tls=first.client_context()):
                pass  # the old CA no longer vouches for what new handshakes get
        new = await TLSLineClient.connect(flackd.tls_port, second.client_context())
        await new.register("new")
        await new.send("JOIN #c")
        await new.recv_until("END HISTORY")
        assert await old.recv() == "JOIN #c new"
        await old.send("MSG #c still here")  # the old connection keeps its session
        heard = parse_event(await new.recv())
        assert isinstance(heard, events.Message)
        assert heard.text == "still here"

        cert.write_text("not a certificate\n")
        mark = len(flackd.log)
        flackd.process.send_signal(signal.SIGHUP)
        await flackd.wait_log(r"kept the old TLS certificate", mark)
        third = await TLSLineClient.connect(flackd.tls_port, second.client_context())
        await third.register("third")
        assert await flackd.terminate() == 0


async def test_installed_flackd_tls_only(pki: Pki) -> None:
    flags = ("--tls-cert", str(pki.cert), "--tls-key", str(pki.key), "--tls-port", "0")
    async with flackd_process(*flags, "--no-plain") as flackd:
        assert flackd.port == 0
        assert flackd.tls_port
        assert not any("listening" in line and "(TLS)" not in line for line in flackd.log)
        client = await TLSLineClient.connect(flackd.tls_port, pki.client_context())
        await client.register("alone")
        assert await flackd.terminate() == 0


async def test_installed_flackd_tls_only_covers_irc_too(pki: Pki) -> None:
    """--no-plain leaves no plain listener of either wire: IRC is served over TLS only."""
    plain_irc, tls_irc = str(free_port()), str(free_port())
    flags = ("--tls-cert", str(pki.cert), "--tls-key", str(pki.key), "--tls-port", "0")
    irc = ("--irc-port", plain_irc, "--irc-tls-port", tls_irc)
    async with flackd_process(*flags, *irc, "--no-plain") as flackd:
        assert flackd.irc_port == int(tls_irc)
        listening = [line for line in flackd.log if "listening" in line]
        assert all("TLS)" in line for line in listening), listening
        with pytest.raises(OSError, match="connect"):  # nobody listens there
            await trio.open_tcp_stream("127.0.0.1", int(plain_irc))
        hello = b"NICK sealed\r\nUSER s 0 * :S\r\n"
        stream, _ = await irc_over_tls(flackd.irc_port, pki, hello, b" 001 sealed ")
        await trio.aclose_forcefully(stream)
        assert await flackd.terminate() == 0


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--tls-cert", "c.pem"], "go together"),
        (["--no-plain"], "nothing to listen on"),
        (["--tls-cert", "missing.pem", "--tls-key", "missing.pem"], "no such file"),
    ],
)
async def test_flackd_refuses_bad_tls_flags(flags: list[str], says: str) -> None:
    flackd = Path(sys.executable).with_name("flackd")
    with trio.fail_after(WAIT):
        result = await trio.run_process(
            [str(flackd), "--port", "0", *flags], capture_stderr=True, check=False
        )
    assert result.returncode == 2
    assert says in result.stderr.decode()


async def test_flackcli_send_over_tls_with_a_private_ca(
    nursery: trio.Nursery, pki: Pki, tmp_path: Path
) -> None:
    _, _, tls_port = await start_tls_server(nursery, pki)
    watcher = await TLSLineClient.connect(tls_port, pki.client_context())
    await watcher.register("watcher")
    await watcher.send("JOIN #ops")
    await watcher.recv_until("END HISTORY")
    env = {
        **os.environ,
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "FLACK_NICK": "deployer",
    }
    for name in ("FLACK_SERVER", "FLACK_CA"):
        env.pop(name, None)
    server = f"tls://127.0.0.1:{tls_port}"

    async def flackcli(*args: str) -> subprocess.CompletedProcess[bytes]:
        with trio.fail_after(WAIT):
            return await trio.run_process(
                [str(FLACKCLI), "--server", server, *args],
                env=env,
                stdin=subprocess.DEVNULL,
                capture_stdout=True,
                capture_stderr=True,
                check=False,
            )

    sent = await flackcli("--ca", str(pki.ca_pem), "send", "#ops", "deploy", "done")
    assert sent.returncode == 0, sent.stderr
    assert await watcher.recv() == "JOIN #ops deployer-cli"
    heard = parse_event(await watcher.recv())
    assert isinstance(heard, events.Message)
    assert (heard.author, heard.text) == ("deployer-cli", "deploy done")
    assert (await watcher.recv()).startswith("QUIT deployer-cli ")

    # Without the private CA the system store does not know it: refused, never plain.
    refused = await flackcli("send", "#ops", "not sent")
    assert refused.returncode == 1
    assert "cannot verify the TLS certificate of 127.0.0.1" in refused.stderr.decode()

    plain = await trio.run_process(
        [str(FLACKCLI), "--server", "127.0.0.1:1", "--ca", str(pki.ca_pem), "send", "#o", "x"],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_stderr=True,
        check=False,
    )
    assert plain.returncode == 2
    assert "--ca is for TLS" in plain.stderr.decode()
    await watcher.send("PING quiet")
    assert await watcher.recv() == "PONG quiet"  # "not sent" never arrived


async def test_web_over_tls_serves_https_and_wss(nursery: trio.Nursery, pki: Pki) -> None:
    """--web-tls-port: the page over https and the chat over wss, into the same hub."""
    server = Server(TEST_LIMITS, tls=ServerTLS(pki.cert, pki.key))
    listeners = await nursery.start(
        lambda task_status: server.serve(
            "127.0.0.1", 0, web_port=0, web_tls_port=0, task_status=task_status
        )
    )
    port = listeners[0].socket.getsockname()[1]
    plain_web, tls_web = (listener.socket.getsockname()[1] for listener in server.web_listeners)
    assert server.web_listeners[1] in server.tls_listeners
    request = f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{tls_web}\r\nConnection: close\r\n\r\n"
    [page] = await http(tls_web, request.encode(), tls=pki.client_context())
    assert page.status == 200
    assert f"wss://127.0.0.1:{tls_web}" in page.headers["content-security-policy"]
    # The page's own origin over TLS is https://; http:// of the same host is another one.
    with pytest.raises(Refused):
        await ws_connect(tls_web, tls=pki.client_context(), origin=f"http://127.0.0.1:{tls_web}")
    ws = await ws_connect(tls_web, tls=pki.client_context())
    alice = LineClient(ws, "alice")  # type: ignore[arg-type]
    assert (await alice.recv()).startswith("HELLO flackd ")
    await alice.register("alice")
    await alice.join("#general")
    bob = await LineClient.connect(port, "bob")
    await bob.register("bob")
    await bob.join("#general")
    await alice.recv()  # bob's JOIN
    await alice.send("MSG #general over wss")
    echo = await alice.recv()
    assert echo.endswith("alice :over wss")
    assert await bob.recv() == echo
    # The plain web port answers in clear beside it.
    request = f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{plain_web}\r\nConnection: close\r\n\r\n"
    [page] = await http(plain_web, request.encode())
    assert page.status == 200

"""What the per-address limits count: :func:`flackd.admission.peer_name` on a real
connection to 127.0.0.1, and :func:`flackd.admission.is_loopback` (IPv4 is read as the
kernel writes it, without parsing; IPv6 through ``ipaddress``, a /64 counted as one
address)."""

from __future__ import annotations

import socket

import pytest
import trio

from flackd.admission import is_loopback, peer_name


@pytest.mark.parametrize(
    ("source", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.5.6.7", True),
        ("10.0.0.1", False),
        ("128.0.0.1", False),
        ("1.127.0.1", False),
        ("::1", True),
        ("2001:db8::/64", False),
        ("fe80::/64", False),
        ("?", False),
        ("1.2.3", False),
    ],
)
def test_is_loopback(source: str, loopback: bool) -> None:
    assert is_loopback(source) is loopback


async def _accepted(family: socket.AddressFamily, host: str) -> tuple[str, str, int]:
    """peer_name of the server side of a real connection to ``host``, and the client's port."""
    listener = trio.socket.socket(family)
    await listener.bind((host, 0))
    listener.listen(1)
    client = trio.socket.socket(family)
    with listener, client:
        await client.connect(listener.getsockname()[:2])
        accepted, _ = await listener.accept()
        stream = trio.SocketStream(accepted)
        try:
            source, peer = peer_name(stream)
        finally:
            await stream.aclose()
        return source, peer, client.getsockname()[1]


async def test_an_ipv4_peer_is_counted_by_its_address() -> None:
    source, peer, port = await _accepted(socket.AF_INET, "127.0.0.1")
    assert (source, peer) == ("127.0.0.1", f"127.0.0.1:{port}")
    assert is_loopback(source)

"""Admission: who may connect, counted per address.

Owns: the connection limits checked when a connection arrives (``--max-connections``,
``--max-unregistered``, ``--max-per-ip``, ``--new-per-ip``, ``--trusted-loopback``), the
per-address counts behind them, and what an address is (an IPv4 address, or an IPv6
/64). Every listener (Flack's, IRC's, the web port's; plain or TLS) shares one :class:`Admission`.
Imports trio (its clock), the standard library, ``flackd.codec`` and ``flackd.limits``.
"""

from __future__ import annotations

import ipaddress
import math
from collections import OrderedDict, deque
from typing import Final

import trio

from flackd.codec import events as e
from flackd.limits import Limits

__all__ = ["NEW_CONNECTION_WINDOW", "Admission", "is_loopback", "peer_name"]

#: Seconds over which --new-per-ip counts.
NEW_CONNECTION_WINDOW: Final = 60.0


class Admission:
    """The per-address counts of one server (see the module docstring)."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._per_ip: dict[str, int] = {}
        # Admission times per address, the address admitted most recently last.
        self._recent: OrderedDict[str, deque[float]] = OrderedDict()

    def admit(
        self, source: str, connections: int, unregistered: int, *, new_chat: bool = True
    ) -> e.Bye | None:
        """Decide whether a new connection from ``source`` may stay; None means yes.

        ``source`` is the address the per-address limits count: an IPv4 address, or the
        /64 network of an IPv6 address (one machine usually has a whole /64).
        ``new_chat=False`` (a connection to the web port, which may only fetch the page)
        leaves out ``--new-per-ip``: that one is counted by :meth:`admit_chat` when the
        connection becomes a WebSocket.
        """
        busy = self.busy(connections, unregistered)
        if busy is not None:
            return busy
        limits = self.limits
        if limits.trusted_loopback and is_loopback(source):
            return None
        if self._per_ip.get(source, 0) >= limits.max_per_ip:
            return e.Bye(
                "TOO_MANY_CONNECTIONS",
                (),
                f"at most {limits.max_per_ip} connections from one address; close one first",
            )
        return self.admit_chat(source) if new_chat else None

    def busy(self, connections: int, unregistered: int) -> e.Bye | None:
        """``--max-connections`` and ``--max-unregistered``: is the server full?"""
        limits = self.limits
        if connections >= limits.max_connections or unregistered >= limits.max_unregistered:
            return e.Bye("BUSY", ("retry=5",), "the server is full; try again in a few seconds")
        return None

    def admit_chat(self, source: str) -> e.Bye | None:
        """``--new-per-ip``: may ``source`` open one more chat connection this minute?"""
        limits = self.limits
        if limits.trusted_loopback and is_loopback(source):
            return None
        now = trio.current_time()
        # Forget addresses whose newest admission left the window: the dict is ordered by
        # newest admission, so this stops at the first one still inside it.
        while self._recent:
            oldest, times = next(iter(self._recent.items()))
            if times[-1] > now - NEW_CONNECTION_WINDOW:
                break
            del self._recent[oldest]
        recent = self._recent.pop(source, None) or deque()
        while recent and recent[0] <= now - NEW_CONNECTION_WINDOW:
            recent.popleft()
        self._recent[source] = recent  # now the newest entry
        if len(recent) >= limits.new_per_ip:
            retry = math.ceil(recent[0] + NEW_CONNECTION_WINDOW - now)
            return e.Bye(
                "TOO_MANY_CONNECTIONS",
                (f"retry={retry}",),
                f"at most {limits.new_per_ip} new connections a minute from one address",
            )
        recent.append(now)
        return None

    def opened(self, source: str) -> None:
        """A connection from ``source`` was admitted and counts until :meth:`closed`."""
        self._per_ip[source] = self._per_ip.get(source, 0) + 1

    def closed(self, source: str) -> None:
        left = self._per_ip.pop(source) - 1
        if left:
            self._per_ip[source] = left


def peer_name(stream: trio.SocketStream) -> tuple[str, str]:
    """What the per-address limits count (see :meth:`Admission.admit`), and ``address:port``."""
    try:
        addr = stream.socket.getpeername()
    except OSError:
        return "?", "?"
    if not isinstance(addr, tuple):
        return str(addr), str(addr)
    host = str(addr[0])
    peer = f"{host}:{addr[1]}"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host, peer
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped), peer
        if not ip.is_loopback:
            return str(ipaddress.IPv6Network((ip, 64), strict=False)), peer
    return host, peer


def is_loopback(source: str) -> bool:
    try:
        return ipaddress.ip_network(source, strict=False).is_loopback
    except ValueError:
        return False

"""Admission: who may connect, counted per address, and the server's password.

Owns: the connection limits checked when a connection arrives (``--max-connections``,
``--max-unregistered``, ``--max-per-ip``, ``--new-per-ip``, ``--trusted-loopback``), the
per-address counts behind them, and what an address is (an IPv4 address, or an IPv6
/64). Every listener (Flack's, IRC's, the web port's; plain or TLS) shares one :class:`Admission`.
Also :class:`ServerPassword` (``--password-file``): the password every connection, on
every wire, gives with ``PASS`` before it may register.
Imports trio (its clock), the standard library, ``flackd.codec`` and ``flackd.limits``.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import os
from collections import OrderedDict, deque
from typing import Final

import trio

from flackd.codec import events as e
from flackd.limits import Limits

__all__ = [
    "MAX_PASSWORD_BYTES",
    "NEW_CONNECTION_WINDOW",
    "Admission",
    "PasswordFileError",
    "ServerPassword",
    "is_loopback",
    "peer_name",
]

#: The longest server password (in UTF-8 bytes) a password file may hold; a PASS line is
#: bounded by the line limit anyway.
MAX_PASSWORD_BYTES: Final = 256

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
    if ":" not in host:  # IPv4, as the kernel wrote it: counted as it is, no parsing
        return host, peer
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
    """Whether ``source`` (what :func:`peer_name` counts) is a loopback address."""
    if ":" not in source and source.count(".") == 3:  # IPv4: 127.0.0.0/8, no parsing
        return source.startswith("127.")
    try:
        return ipaddress.ip_network(source, strict=False).is_loopback
    except ValueError:
        return False


class PasswordFileError(Exception):
    """A ``--password-file`` that cannot be used (its text says why)."""


class ServerPassword:
    """The server's password (``--password-file``), kept only as a salted digest.

    A PASS is checked in constant time. The password itself is read once, from a file
    (never from the command line, where ``ps`` would show it to every local user).
    """

    __slots__ = ("_digest", "_salt")

    def __init__(self, password: str) -> None:
        if not password:
            raise PasswordFileError("the server password is empty")
        self._salt = os.urandom(16)
        self._digest = self._hash(password)

    def _hash(self, given: str) -> bytes:
        return hashlib.blake2b(given.encode("utf-8"), key=self._salt, digest_size=32).digest()

    def matches(self, given: str) -> bool:
        """Is ``given`` the password? (Constant time in the password's content.)"""
        return hmac.compare_digest(self._hash(given), self._digest)

    def __repr__(self) -> str:
        return "ServerPassword(<hidden>)"

    @classmethod
    def from_file(cls, path: str) -> ServerPassword:
        """The password in ``path``: its first line, without the line ending. Refuses,
        with the reason, a file that cannot be read, is empty, holds a password longer
        than :data:`MAX_PASSWORD_BYTES`, or with control characters or spaces at its ends."""
        try:
            with open(path, "rb") as f:
                raw = f.read(MAX_PASSWORD_BYTES + 2)
        except OSError as err:
            raise PasswordFileError(f"cannot read {path}: {err.strerror or err}") from None
        line = raw.split(b"\n", 1)[0].removesuffix(b"\r")
        if len(line) > MAX_PASSWORD_BYTES:
            raise PasswordFileError(f"{path}: the password is over {MAX_PASSWORD_BYTES} bytes")
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            raise PasswordFileError(f"{path}: the password is not UTF-8") from None
        if not text:
            raise PasswordFileError(f"{path}: the first line (the password) is empty")
        if text != text.strip(" ") or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text):
            raise PasswordFileError(
                f"{path}: the password has spaces at its ends or control characters"
            )
        return cls(text)

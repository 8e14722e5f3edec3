"""Server addresses: ``host:port`` for plain TCP, ``tls://host:port`` for TLS.

Owns: the one parser and formatter of the address form that every part of flackcli takes
(``--server``, ``FLACK_SERVER``, config.toml, state.json, the first-run question, the bots'
``--server``), the default ports (7777 plain, 7778 TLS, as flackd's), and the client's TLS
context: the system's trusted certificates, or instead only the private CA of ``--ca``;
the server's name checked against its certificate; TLS 1.2 at least. There is no fallback:
a ``tls://`` address is TLS or nothing. Imports the standard library only; pure but for
reading the CA file.
"""

from __future__ import annotations

import os
import re
import ssl
from dataclasses import dataclass
from typing import Final

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "DEFAULT_TLS_PORT",
    "Address",
    "parse_address",
    "tls_context",
]

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 7777
DEFAULT_TLS_PORT: Final = 7778
#: Scheme -> TLS or not. No scheme means plain TCP.
SCHEMES: Final = {"tcp": False, "tls": True}
EXAMPLE: Final = "127.0.0.1:7777 or tls://chat.example.org:7778"


@dataclass(frozen=True, slots=True)
class Address:
    """Where a flackd listens, and whether it speaks TLS there."""

    host: str
    port: int
    tls: bool = False

    def __str__(self) -> str:
        """The address as flackcli writes it (state.json's key): ``[v6]:port`` in brackets,
        ``tls://`` in front for TLS; :func:`parse_address` reads it back unchanged."""
        where = f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"
        return f"tls://{where}" if self.tls else where


def parse_address(text: str) -> Address:
    """``host``, ``host:port``, ``[v6addr]:port``, each optionally after ``tls://`` (TLS,
    default port 7778) or ``tcp://`` (plain, the default, port 7777). Raises ValueError
    saying what is wrong."""
    value = text.strip()
    tls = False
    scheme, sep, rest = value.partition("://")
    if sep:
        if scheme.lower() not in SCHEMES:
            raise ValueError(f"{text!r}: unknown scheme {scheme!r}; write {EXAMPLE}")
        tls = SCHEMES[scheme.lower()]
        value = rest
    match = re.fullmatch(r"\[([^\]]+)\](?::(\d+))?", value)
    if match:
        host, port_text = match[1], match[2]
    elif value.count(":") == 1:
        host, port_text = value.split(":")
    elif ":" in value:
        raise ValueError(f"{text!r}: write an IPv6 address in brackets, like [::1]:7777")
    else:
        host, port_text = value, None
    if not host or any(ch.isspace() or ch in "/?#@" for ch in host):
        raise ValueError(f"{text!r} is not HOST:PORT (examples: {EXAMPLE})")
    if port_text is None:
        return Address(host, DEFAULT_TLS_PORT if tls else DEFAULT_PORT, tls)
    if not port_text.isascii() or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"{text!r}: the port must be a number from 1 to 65535")
    return Address(host, int(port_text), tls)


def tls_context(
    address: Address, ca: str | os.PathLike[str] | None = None
) -> ssl.SSLContext | None:
    """The context to connect to ``address`` with: None for plain TCP; for TLS, one that
    trusts the system's certificates, or with ``ca`` only the CA certificates in that PEM
    file. Raises ValueError when ``ca`` cannot be used, or is given for a plain address
    (a private CA there would mean nothing is verified while the user thinks it is)."""
    if not address.tls:
        if ca:
            suggestion = Address(address.host, DEFAULT_TLS_PORT, tls=True)
            raise ValueError(f"--ca is for TLS, but {address} is plain TCP (TLS: {suggestion})")
        return None
    try:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca or None)
    except FileNotFoundError:
        raise ValueError(f"--ca {ca}: no such file") from None
    except ssl.SSLError as exc:
        raise ValueError(f"--ca {ca}: not a PEM file of CA certificates ({exc.reason})") from None
    except OSError as exc:
        raise ValueError(f"--ca {ca}: {exc.strerror or exc}") from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context

"""The web port's HTTP side, sans I/O: which request gets which answer.

Owns: the table of static files (everything under ``flackd/web/static/``, read once at
start-up through ``importlib.resources``; a URL is looked up in it by exact path, so no
file-system path is ever built from a URL), their types, ETags and gzip copies, the
security headers every answer carries (a strict Content-Security-Policy with Trusted
Types, nosniff, no framing, no referrer), and the checks of ``Host`` (against DNS
rebinding) and ``Origin`` (a WebSocket only from the page's own origin or a configured
one). Imports h11 and the standard library only: never trio, never the hub.
"""

from __future__ import annotations

import email.utils
import gzip
import hashlib
import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Final

import h11

__all__ = [
    "CONTENT_TYPES",
    "WS_PATH",
    "Answer",
    "Site",
    "header",
]

#: Where the WebSocket is.
WS_PATH: Final = b"/ws"
#: Content types by file extension (exact, since ``nosniff`` is set).
CONTENT_TYPES: Final = {
    ".html": b"text/html; charset=utf-8",
    ".css": b"text/css; charset=utf-8",
    ".js": b"text/javascript; charset=utf-8",
    ".mjs": b"text/javascript; charset=utf-8",
    ".json": b"application/json",
    ".webmanifest": b"application/manifest+json",
    ".svg": b"image/svg+xml",
    ".png": b"image/png",
    ".ico": b"image/x-icon",
    ".txt": b"text/plain; charset=utf-8",
}
#: Types worth compressing (text); smaller files are not.
_COMPRESSIBLE: Final = (b"text/", b"application/json", b"application/manifest", b"image/svg")
_GZIP_MIN_BYTES: Final = 1024
#: What a ``Host`` header may look like at all: a name or an IPv4 address, or a bracketed
#: IPv6 address, then an optional port (so it is safe to repeat in a header).
_HOST_SHAPE: Final = re.compile(rb"(?:[a-z0-9.-]{1,253}|\[[0-9a-f:.]{2,45}\])(?::[0-9]{1,5})?")
_REASONS: Final = {
    200: b"OK",
    304: b"Not Modified",
    408: b"Request Timeout",
    400: b"Bad Request",
    403: b"Forbidden",
    404: b"Not Found",
    405: b"Method Not Allowed",
    413: b"Content Too Large",
    421: b"Misdirected Request",
    426: b"Upgrade Required",
    429: b"Too Many Requests",
    431: b"Request Header Fields Too Large",
    503: b"Service Unavailable",
}


def header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    """The value of header ``name`` (lower case), or None; h11 lower-cases names."""
    for key, value in headers:
        if key == name:
            return value
    return None


@dataclass(frozen=True, slots=True)
class Answer:
    """One HTTP answer: the status, its headers, the body, and whether to close after."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes = b""
    close: bool = False

    @property
    def reason(self) -> bytes:
        return _REASONS.get(self.status, b"")

    def response(self) -> h11.Response:
        return h11.Response(status_code=self.status, reason=self.reason, headers=self.headers)


@dataclass(frozen=True, slots=True)
class _File:
    type: bytes
    body: bytes
    gzipped: bytes | None
    etag: bytes


def _load(root: Traversable, prefix: str = "/") -> dict[str, _File]:
    files: dict[str, _File] = {}
    for item in sorted(root.iterdir(), key=lambda t: t.name):
        if item.name.startswith("."):
            continue
        if item.is_dir():
            files.update(_load(item, f"{prefix}{item.name}/"))
            continue
        dot = item.name.rfind(".")
        kind = CONTENT_TYPES.get(item.name[dot:] if dot >= 0 else "")
        if kind is None:
            continue  # only what has a known type is served
        body = item.read_bytes()
        packed = None
        if len(body) >= _GZIP_MIN_BYTES and kind.startswith(_COMPRESSIBLE):
            packed = gzip.compress(body, compresslevel=9, mtime=0)
            if len(packed) >= len(body) * 0.9:
                packed = None
        etag = b'"' + hashlib.sha256(body).hexdigest()[:20].encode() + b'"'
        files[prefix + item.name] = _File(kind, body, packed, etag)
    if prefix == "/" and "/index.html" in files:
        files["/"] = files["/index.html"]
    return files


def _host_name(host: bytes) -> str:
    """``Host``'s name without the port, lower case; brackets kept off IPv6 literals."""
    text = host.decode("ascii", "replace").strip().lower()
    if text.startswith("["):
        return text[1 : text.find("]")] if "]" in text else text
    return text.rsplit(":", 1)[0] if text.count(":") == 1 else text


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class Site:
    """The answers of one web listener (see the module docstring)."""

    def __init__(self, origins: Sequence[str] = (), files: dict[str, _File] | None = None) -> None:
        #: Origins besides the page's own that may open the WebSocket (``--web-origin``).
        self.origins = frozenset(o.rstrip("/").lower() for o in origins)
        #: Host names besides IP literals and ``localhost`` that requests may name.
        self.names = frozenset(_host_name(o.split("://", 1)[-1].encode()) for o in self.origins)
        self.files = files if files is not None else _load(resources.files("flackd.web") / "static")

    # -- checks ----------------------------------------------------------------------

    def host_ok(self, host: bytes | None) -> bool:
        """``Host`` names this server: an IP address, ``localhost``, or the name of a
        configured origin. A name the operator did not give (DNS rebinding) is refused."""
        if not host or not _HOST_SHAPE.fullmatch(host.lower()):
            return False
        name = _host_name(host)
        return _is_ip(name) or name == "localhost" or name in self.names

    def origin_ok(self, origin: bytes | None, host: bytes, tls: bool) -> bool:
        """May a page from ``origin`` open the WebSocket? No Origin (not a browser) may;
        else the page's own origin (the scheme and ``Host`` of this request) or a
        configured one."""
        if origin is None:
            return True
        text = origin.decode("ascii", "replace").strip().lower()
        own = ("https://" if tls else "http://") + host.decode("ascii", "replace").lower()
        return text == own or text in self.origins

    # -- answers ---------------------------------------------------------------------

    def security_headers(self, host: bytes) -> list[tuple[bytes, bytes]]:
        """What every answer carries. ``connect-src`` names the WebSocket explicitly as
        well as 'self' (some browsers do not count ws: as 'self')."""
        ws = b" ws://" + host + b" wss://" + host if host else b""
        csp = (
            b"default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'"
            + ws
            + b"; img-src 'self' data:; manifest-src 'self'; base-uri 'none'; "
            b"form-action 'none'; frame-ancestors 'none'; "
            b"require-trusted-types-for 'script'; trusted-types 'none'"
        )
        return [
            (b"content-security-policy", csp),
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
            (b"cross-origin-opener-policy", b"same-origin"),
            (b"cross-origin-resource-policy", b"same-origin"),
            (b"date", email.utils.formatdate(usegmt=True).encode()),
            (b"server", b"flackd"),
        ]

    def error(self, status: int, text: str, host: bytes = b"", close: bool = False) -> Answer:
        """A short plain-text answer with ``status``."""
        body = f"{status} {_REASONS.get(status, b'').decode()}: {text}\n".encode()
        headers = [
            *self.security_headers(host),
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-store"),
        ]
        if close:
            headers.append((b"connection", b"close"))
        return Answer(status, headers, body, close)

    def refused(self, why: str, text: str, retry: str | None) -> Answer:
        """A connection or a WebSocket refused by the connection limits (``why``: the
        BYE code a line port would send): 503 when the server is full, else 429; with
        ``Retry-After`` when the limit says when to try again."""
        answer = self.error(503 if why == "BUSY" else 429, text, close=True)
        if retry is not None:
            answer.headers.append((b"retry-after", retry.encode()))
        return answer

    def _misdirected(self, request: h11.Request) -> tuple[bytes, Answer | None]:
        """The request's ``Host``, and the 421 owed if it is not a name of this server."""
        host = header(request.headers, b"host") or b""
        if self.host_ok(host):
            return host, None
        return host, self.error(421, "this server does not answer to that host name", close=True)

    def answer(self, request: h11.Request) -> Answer:
        """The answer to a request that is not a WebSocket upgrade (those are answered by
        :meth:`check_upgrade` and the transport). A HEAD request gets a GET's answer,
        whose body the sender leaves out."""
        host, misdirected = self._misdirected(request)
        if misdirected is not None:
            return misdirected
        if request.method not in (b"GET", b"HEAD"):
            answer = self.error(405, "only GET and HEAD", host)
            answer.headers.append((b"allow", b"GET, HEAD"))
            return answer
        if _has_body(request):
            return self.error(413, "requests here carry no body", host, close=True)
        path = request.target.split(b"?", 1)[0].split(b"#", 1)[0]
        if path == WS_PATH:
            answer = self.error(426, "this is the chat's WebSocket; open / instead", host)
            answer.headers.append((b"upgrade", b"websocket"))
            return answer
        file = self.files.get(path.decode("ascii", "replace"))
        if file is None:
            return self.error(404, "no such page", host)
        headers = [
            *self.security_headers(host),
            (b"content-type", file.type),
            (b"cache-control", b"no-cache"),
            (b"etag", file.etag),
            (b"vary", b"accept-encoding"),
        ]
        if header(request.headers, b"if-none-match") == file.etag:
            return Answer(304, headers)
        body = file.body
        accepts = header(request.headers, b"accept-encoding") or b""
        if file.gzipped is not None and b"gzip" in accepts.lower():
            body = file.gzipped
            headers.append((b"content-encoding", b"gzip"))
        headers.append((b"content-length", str(len(body)).encode()))
        return Answer(200, headers, body)

    def check_upgrade(self, request: h11.Request, tls: bool) -> Answer | None:
        """None if this WebSocket upgrade may go ahead as far as flackd's rules go (wsproto
        checks the handshake itself); else the refusal to send. An upgrade is a GET
        without a body: a body's bytes would be read as frames."""
        host, misdirected = self._misdirected(request)
        if misdirected is not None:
            return misdirected
        if request.target.split(b"?", 1)[0] != WS_PATH:
            return self.error(404, "the WebSocket is at /ws", host, close=True)
        if request.method != b"GET" or _has_body(request):
            return self.error(400, "a WebSocket opens with a GET without a body", host, True)
        if not self.origin_ok(header(request.headers, b"origin"), host, tls):
            return self.error(403, "pages from that origin may not open this chat", host, True)
        return None


def _has_body(request: h11.Request) -> bool:
    headers = request.headers
    length = header(headers, b"content-length") or b"0"
    return header(headers, b"transfer-encoding") is not None or length != b"0"


def is_upgrade(request: h11.Request) -> bool:
    """A WebSocket upgrade request (``Upgrade: websocket``, case-insensitive)."""
    value = header(request.headers, b"upgrade")
    return value is not None and value.strip().lower() == b"websocket"

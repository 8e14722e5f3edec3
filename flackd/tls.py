"""TLS for flackd's listeners: the certificate, its context, reloading it, and closing politely.

Owns: building the server-side :class:`ssl.SSLContext` from a PEM certificate chain and key
(``ssl.create_default_context(Purpose.CLIENT_AUTH)``: the standard library's modern cipher
choice, no compression, TLS 1.2 at least, no client certificates asked for), swapping in a
newly built context when the files are reloaded (SIGHUP: new handshakes use the new
certificate, connections already open keep the one they were made with, and a reload that
fails keeps the old one), wrapping an accepted stream in :class:`trio.SSLStream`, naming why
a handshake failed, and the TLS half of a polite close (``close_notify``). Every listener
that speaks TLS (the Flack protocol today, IRC and the web later) shares one
:class:`ServerTLS` and so one set of ``--tls-cert``/``--tls-key`` flags.

Imports the standard library and trio only: nothing of the protocol, the hub or the limits.
The handshake's deadline and the per-address limits are the server's (they apply to every
transport alike); this module only does TLS.
"""

from __future__ import annotations

import contextlib
import ssl
from pathlib import Path
from typing import NoReturn, TypeVar

import trio

__all__ = ["ServerTLS", "TLSConfigError", "end_tls", "failure_reason", "server_context"]

S = TypeVar("S", bound=trio.abc.Stream)


class TLSConfigError(Exception):
    """The certificate or key cannot be used; the message says which file and why."""


def _no_password() -> NoReturn:
    # Without this, OpenSSL would ask for a pass phrase on the terminal (and a SIGHUP
    # reload would hang on it). flackd takes unencrypted keys only.
    raise TLSConfigError("the key is encrypted; flackd needs a key without a pass phrase")


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A server context for ``cert`` (PEM, the chain: the certificate first, then any
    intermediates) and ``key`` (PEM, unencrypted). Raises :class:`TLSConfigError`."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    for path in (cert, key):
        if not path.is_file():
            raise TLSConfigError(f"{path}: no such file")
    try:
        context.load_cert_chain(cert, key, password=_no_password)
    except TLSConfigError as exc:
        raise TLSConfigError(f"{key}: {exc}") from None
    except ssl.SSLError as exc:
        # OpenSSL names a mismatch (KEY_VALUES_MISMATCH) but not a file that is no PEM.
        reason = exc.reason or "not a PEM certificate chain and key"
        raise TLSConfigError(f"cannot use certificate {cert} with key {key}: {reason}") from None
    except OSError as exc:
        raise TLSConfigError(f"cannot read {cert} or {key}: {exc.strerror or exc}") from None
    return context


class ServerTLS:
    """The certificate every TLS listener serves, reloadable while connections stay open."""

    def __init__(self, cert: str | Path, key: str | Path) -> None:
        self.cert = Path(cert)
        self.key = Path(key)
        #: The context new handshakes use; :meth:`reload` replaces it (never mutates it,
        #: so a reload that fails half-way cannot leave a certificate with the wrong key).
        self.context = server_context(self.cert, self.key)

    def reload(self) -> None:
        """Read the files again. Raises :class:`TLSConfigError` and keeps the old
        certificate if the new files cannot be used."""
        self.context = server_context(self.cert, self.key)

    def wrap(self, stream: S) -> trio.SSLStream[S]:
        """The server side of TLS over an accepted ``stream``; the handshake happens on the
        first read or write, or on :meth:`trio.SSLStream.do_handshake`.

        ``https_compatible=True``: a client that closes its TCP connection without
        ``close_notify`` (most do) has closed, as on the plain port, rather than broken the
        connection; a line protocol cannot be truncated unnoticed mid-line anyway, since an
        unfinished last line is never carried out.
        """
        return trio.SSLStream(stream, self.context, server_side=True, https_compatible=True)


def failure_reason(exc: BaseException) -> str:
    """Why a TLS handshake or read failed, in a few words (for the log), e.g.
    ``WRONG_VERSION_NUMBER`` for plain text sent to the TLS port."""
    cause = exc.__cause__ or exc
    if isinstance(cause, ssl.SSLError):
        return str(cause.reason or cause)
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror
    return str(cause) or type(cause).__name__


async def end_tls(stream: trio.SSLStream[S]) -> S:
    """Send ``close_notify`` and wait for the peer's (TLS's half-close); return the
    transport underneath, for the caller to half-close and drain (a linger).

    A peer that closes, or answers with anything but its own ``close_notify``, ends the
    wait early; the transport is returned all the same. The caller bounds the time.
    """
    transport = stream.transport_stream
    with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
        await stream.unwrap()
    return transport

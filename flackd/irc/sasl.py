"""SASL PLAIN for IRC clients: the nick and the Flack resume token as the credentials.

Owns: the ``AUTHENTICATE`` exchange (RFC 4616 PLAIN in IRCv3's ``sasl`` framing: the
mechanism, ``AUTHENTICATE +``, base64 in 400-byte pieces, ``*`` to abort) and its
numerics (900, 903, 904, 905, 906, 907, 908). A resume token is the only secret Flack
has: authenticating with it means "bring back the session this token names", and the
IRC side resumes it at registration, exactly as with ``PASS <token>``. Imports only the
standard library and ``flackd.irc``: never trio, never the hub.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterator
from typing import Final

from flackd.irc.numerics import prefix
from flackd.irc.outbound import Renderer
from flackd.irc.wire import format_message

__all__ = ["MECHANISMS", "SaslPlain"]

#: The mechanisms offered (``CAP LS 302`` shows ``sasl=PLAIN``).
MECHANISMS: Final = "PLAIN"
#: The most bytes of base64 one AUTHENTICATE line carries; a full one means more follow.
CHUNK: Final = 400
#: The most bytes of credentials accepted (a nick and a 22-character token fit easily).
MAX_BYTES: Final = 1024


class SaslPlain:
    """One client's SASL exchange (see the module docstring)."""

    def __init__(self, out: Renderer, token_owner: Callable[[str], str | None]) -> None:
        self.out = out
        self.token_owner = token_owner
        self._started = False
        self._buffer = ""
        #: The token, once the exchange succeeded (the client resumes with it).
        self.token: str | None = None

    def step(self, param: str, *, registered: bool, negotiated: bool) -> Iterator[bytes]:
        """The lines that answer ``AUTHENTICATE <param>``."""
        out = self.out
        if registered or self.token is not None:
            yield out.numeric("907", "You have already authenticated using SASL")
            return
        if not negotiated:
            yield out.numeric("904", "SASL authentication failed: CAP REQ :sasl first")
            return
        if param == "*":
            self._reset()
            yield out.numeric("906", "SASL authentication aborted")
            return
        if not self._started:
            if param.upper() != MECHANISMS:
                yield out.numeric("908", MECHANISMS, "are available SASL mechanisms")
                yield out.numeric("904", "SASL authentication failed")
                return
            self._started = True
            yield format_message("AUTHENTICATE", ("+",))
            return
        if param != "+":
            self._buffer += param
        if len(self._buffer) > MAX_BYTES * 4 // 3 + 4:
            self._reset()
            yield out.numeric("905", "SASL message too long")
            return
        if len(param) == CHUNK:
            return  # more pieces follow
        credentials, self._buffer = self._buffer, ""
        self._started = False
        yield from self._check(credentials)

    def _check(self, encoded: str) -> Iterator[bytes]:
        out = self.out
        try:
            fields = base64.b64decode(encoded, validate=True).decode("utf-8").split("\0")
        except (binascii.Error, UnicodeDecodeError):
            fields = []
        owner = self.token_owner(fields[2]) if len(fields) == 3 else None
        authcid = fields[1] if len(fields) == 3 else ""
        if owner is None or authcid.lower() != owner.lower():
            yield out.numeric("904", "SASL authentication failed: not a live session's token")
            return
        self.token = fields[2]
        mask = prefix(owner)
        yield out.numeric("900", mask, owner, f"You are now logged in as {owner}")
        yield out.numeric("903", "SASL authentication successful")

    def _reset(self) -> None:
        self._started = False
        self._buffer = ""

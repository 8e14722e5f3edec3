"""Server operators' credentials: salted scrypt hashes, checked in constant time.

Owns: the hash format (:func:`hash_password`, what ``flackd hash-password`` prints),
checking a password against a hash (:func:`verify_password`), reading the administrator's
``--oper NAME:HASH`` entries (:func:`parse_opers`) and the operator-name rule. A hash
is one word::

    scrypt$<n>$<r>$<p>$<salt, base64>$<key, base64>

(``hashlib.scrypt`` with those parameters and salt, the key 32 bytes). flackd never sees
or keeps an operator's password but while checking an OPER. Imports only the standard
library: never trio, never a store.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from typing import Final

__all__ = [
    "OPER_NAME_MAX_CHARS",
    "SCRYPT_N",
    "hash_password",
    "is_valid_hash",
    "is_valid_oper_name",
    "parse_opers",
    "verify_password",
]

#: scrypt's cost parameters for new hashes: 16 MiB of memory and tens of milliseconds a
#: check (an OPER is rare; the flood cost of OPER bounds how often one client can ask).
SCRYPT_N: Final = 1 << 14
SCRYPT_R: Final = 8
SCRYPT_P: Final = 1
SALT_BYTES: Final = 16
KEY_BYTES: Final = 32
#: The most a hash given by the administrator may ask for (so a typo cannot make each
#: OPER take seconds or gigabytes).
_MAX_N: Final = 1 << 20
_MAX_R: Final = 32
_MAX_P: Final = 16
OPER_NAME_MAX_CHARS: Final = 32
_NAME: Final = re.compile(rf"[A-Za-z0-9_.-]{{1,{OPER_NAME_MAX_CHARS}}}")


def is_valid_oper_name(name: str) -> bool:
    """1-32 ASCII letters, digits, ``_``, ``.`` or ``-``."""
    return _NAME.fullmatch(name) is not None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str, *, n: int = SCRYPT_N, salt: bytes | None = None) -> str:
    """A new hash of ``password`` (a random salt unless one is given, for tests)."""
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    key = _scrypt(password, salt, n, SCRYPT_R, SCRYPT_P, KEY_BYTES)
    return f"scrypt${n}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(key)}"


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, size: int) -> bytes:
    maxmem = 128 * r * (n + p + 2) + (1 << 20)
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=maxmem, dklen=size)


def _parts(encoded: str) -> tuple[int, int, int, bytes, bytes] | None:
    fields = encoded.split("$")
    if len(fields) != 6 or fields[0] != "scrypt":
        return None
    try:
        n, r, p = (int(f) for f in fields[1:4] if f.isascii() and f.isdigit())
        salt = base64.b64decode(fields[4], validate=True)
        key = base64.b64decode(fields[5], validate=True)
    except (ValueError, binascii.Error):
        return None
    if n < 2 or n & (n - 1) or n > _MAX_N or not 1 <= r <= _MAX_R or not 1 <= p <= _MAX_P:
        return None
    if not salt or not 16 <= len(key) <= 64:
        return None
    return n, r, p, salt, key


def is_valid_hash(encoded: str) -> bool:
    """Whether ``encoded`` is a hash of the format above, with parameters flackd accepts."""
    return _parts(encoded) is not None


def verify_password(password: str, encoded: str) -> bool:
    """Whether ``password`` is the one ``encoded`` was made from (the keys compared in
    constant time); False for a hash that is not of the format."""
    parts = _parts(encoded)
    if parts is None:
        return False
    n, r, p, salt, key = parts
    return hmac.compare_digest(_scrypt(password, salt, n, r, p, len(key)), key)


def parse_opers(entries: Iterable[str]) -> dict[str, str]:
    """``NAME:HASH`` entries (``--oper``, or ``FLACKD_OPERS`` split at spaces) as
    {name: hash}. Raises ValueError, saying which entry and why, for a bad one."""
    opers: dict[str, str] = {}
    for entry in entries:
        name, sep, encoded = entry.partition(":")
        if not sep or not is_valid_oper_name(name):
            raise ValueError(
                f"--oper {entry[:40]!r}: give NAME:HASH, the name 1-{OPER_NAME_MAX_CHARS} "
                "letters, digits, _ . or -, the hash from `flackd hash-password`"
            )
        if not is_valid_hash(encoded):
            raise ValueError(
                f"--oper {name}: that is not a hash flackd makes; run `flackd hash-password` "
                "and give what it prints (scrypt$n$r$p$salt$key)"
            )
        if name in opers:
            raise ValueError(f"--oper {name}: given twice")
        opers[name] = encoded
    return opers

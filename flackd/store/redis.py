"""RedisLog: the shared log of several flackd nodes, kept in Redis (through coredis).

Owns: every Redis key and command flackd uses (the Lua scripts' text is in
:mod:`flackd.store.redis_scripts`), the two Redis clients of a node (one that writes, one
that waits on the log), and how Redis's failures map onto the errors of
:mod:`flackd.store.log`. Imports trio, coredis, the standard library,
``flackd.store.log`` and the scripts: nothing else of flackd, and nothing outside this
module talks to Redis.

Keys (all in one hash slot, ``{<prefix>}:...``, so the same scripts run on Redis Cluster):

- ``epoch``: the epoch, Redis's clock in milliseconds when the log began (``SET NX``). It
  is also the prefix of every message id (``<epoch>-<seq>``) and of every log entry's
  stream id, so a Redis that lost its data shows a new epoch, never a reused id.
- ``config``: the limits every node must agree on (set while no node is alive).
- ``log``: the stream of entries, ids ``<epoch>-<n>``, fields ``o`` (origin node), ``t``
  (Redis's clock, microseconds, never going back) and ``b`` (the body). Trimmed behind
  each snapshot, and capped (``MAXLEN ~``) as a last resort.
- ``seq``, ``clock``: the last entry number, and the last time stamped.
- ``nodes``: hash node -> the last append number stored for it (so a retried append never
  stores twice); a node is alive while it is in this hash. ``lease:<node>``: its lease,
  a key with a time to live that the node renews; when it has expired, any node's
  ``reap`` removes the node from ``nodes`` and appends its death to the log, in one script.
- ``snap``: hash with ``seq`` and ``data`` (the newest snapshot); ``snaplock``: who is
  saving one (``SET NX PX``).

Traps of the client, avoided here (../shared/design/redis-backplane.md): its default
retry policy resends writes (we use ``NoRetryPolicy`` and retry with the same append
numbers instead); a stream timeout also applies to blocking reads (the reader's client
has none, and blocks for at most a second); cancelling a blocked read drops its
connection (we never cancel it, except at shutdown).
"""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

import coredis
import coredis.exceptions as rx
import trio
from coredis.retry import NoRetryPolicy

from flackd.store import redis_scripts as scripts
from flackd.store.log import (
    EpochChanged,
    LogEntry,
    LogError,
    LogGap,
    LogRefused,
    LogUncertain,
    NodeFenced,
)

__all__ = ["DEFAULT_PREFIX", "RedisLog", "valid_node_id"]

log = logging.getLogger("flackd")

#: The key prefix (and hash tag) of a deployment unless ``--redis-prefix`` says otherwise.
DEFAULT_PREFIX: Final = "flack"
#: Entries one read returns at most.
READ_COUNT: Final = 1000
#: Seconds one request may take before its outcome counts as unknown (at most; less when
#: --redis-timeout, the whole budget of a write with its retries, is shorter).
WRITE_TIMEOUT: Final = 2.0

#: Error replies of a command Redis refused before running it.
_NOT_RUN: Final = ("LOADING", "READONLY", "OOM", "NOPERM", "NOSCRIPT", "BUSY", "MASTERDOWN")

_NODE_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,40}")


def valid_node_id(node_id: str) -> bool:
    """1-40 ASCII letters, digits, ``_`` or ``-``."""
    return _NODE_ID.fullmatch(node_id) is not None


def redact(url: str) -> str:
    """``url`` without its password, for logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    user = f"{parts.username}:***@" if parts.username else ":***@"
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit((parts.scheme, user + host + port, parts.path, parts.query, ""))


class RedisLog:
    """A :class:`flackd.store.log.SharedLog` in Redis; make one with :meth:`open`."""

    def __init__(
        self,
        writer: coredis.Redis[bytes],
        reader: coredis.Redis[bytes],
        where: str,
        node_id: str,
        *,
        prefix: str,
        lease: float,
        log_max: int,
        keep: int,
    ) -> None:
        self.where = where
        self.node_id = node_id
        self.node = node_id
        self._w = writer
        self._r = reader
        self.lease = lease
        self.log_max = log_max
        self.keep = keep
        self.epoch = 0
        #: The last entry number this node has read: Redis must never hold fewer.
        self._read_upto = 0
        #: The time stamp of that entry, and whether to check it is still there (after
        #: the reader lost its connection: Redis may have come back from an older copy).
        self._last_stamp = b""
        self._suspect = False
        tag = "{" + prefix + "}:"
        self._k = {
            name: tag + name
            for name in ("epoch", "config", "nodes", "seq", "log", "clock", "snap", "snaplock")
        }
        self._tag = tag
        self._join = writer.register_script(scripts.JOIN)
        self._append = writer.register_script(scripts.APPEND)
        self._renew = writer.register_script(scripts.RENEW)
        self._reap = writer.register_script(scripts.REAP)
        self._save = writer.register_script(scripts.SAVE)
        self._abandon = writer.register_script(scripts.ABANDON)

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        url: str,
        node_id: str | None = None,
        *,
        prefix: str = DEFAULT_PREFIX,
        password: str | None = None,
        lease: float = 10.0,
        log_max: int = 100_000,
        keep: int = 10_000,
        request_timeout: float = WRITE_TIMEOUT,
    ) -> AsyncIterator[RedisLog]:
        """Connect to the Redis at ``url`` (``redis://host:port/db`` or ``rediss://``)."""
        node_id = node_id or secrets.token_hex(4)
        if not valid_node_id(node_id):
            raise ValueError(f"--node-id {node_id!r}: use 1-40 letters, digits, _ or -")
        if not valid_node_id(prefix):
            raise ValueError(f"--redis-prefix {prefix!r}: use 1-40 letters, digits, _ or -")
        extra: dict[str, Any] = {"password": password} if password else {}
        writer = coredis.Redis.from_url(
            url,
            retry_policy=NoRetryPolicy(),
            stream_timeout=min(request_timeout, WRITE_TIMEOUT),
            connect_timeout=min(request_timeout, WRITE_TIMEOUT),
            **extra,
        )
        reader = coredis.Redis.from_url(
            url, retry_policy=NoRetryPolicy(), connect_timeout=WRITE_TIMEOUT, **extra
        )
        async with writer, reader:
            yield cls(
                writer,
                reader,
                redact(url),
                node_id,
                prefix=prefix,
                lease=lease,
                log_max=log_max,
                keep=keep,
            )

    # -- the SharedLog interface ---------------------------------------------------------

    async def join(self, config: str) -> int:
        self.node = f"{self.node_id}.{secrets.token_hex(3)}"
        self._read_upto = 0
        self._last_stamp = b""
        self._suspect = False
        k = self._k
        keys = [k["epoch"], k["config"], k["nodes"], self._lease_key(self.node)]
        try:
            epoch: object = await self._join(
                keys=keys, args=[config, self.node, self._ms(self.lease), self._tag]
            )
        except rx.ResponseError as exc:
            text = str(exc)
            if text.startswith("CONFIG"):
                raise LogError(
                    "the live nodes run with other settings (all nodes must agree on the "
                    f"limits that shape the chat): theirs are {text[7:]}, ours {config}"
                ) from exc
            raise LogError(text) from exc
        except Exception as exc:
            raise _mapped(exc) from exc
        assert isinstance(epoch, bytes)
        self.epoch = int(epoch)
        return self.epoch

    async def append(self, first: int, bodies: Sequence[bytes]) -> None:
        k = self._k
        keys = [k["epoch"], k["nodes"], self._lease_key(self.node), k["seq"], k["log"],
                k["clock"]]  # fmt: skip
        args: list[str | bytes | int] = [
            str(self.epoch),
            self.node,
            first,
            self._ms(self.lease),
            self.log_max,
            *bodies,
        ]
        read = self._read_upto  # as it was when the append was sent
        try:
            seq: object = await self._append(keys=keys, args=args)
        except rx.ResponseError as exc:
            raise self._refusal(exc) from exc
        except Exception as exc:
            raise self._write_failed(exc) from exc
        await self._went_back(seq, read)

    async def read(self, after: int, wait: float) -> list[LogEntry]:
        stream = self._k["log"]
        start = f"{self.epoch}-{after}"
        try:
            # Bounded: a connection Redis no longer answers on (a failover, a firewall
            # that forgot it) must not hold the reader forever. Cancelling drops it.
            with trio.fail_after(wait + WRITE_TIMEOUT):
                if wait > 0:
                    found = await self._r.xread({stream: start}, count=READ_COUNT,
                                                block=max(1, int(wait * 1000)))  # fmt: skip
                else:
                    found = await self._r.xread({stream: start}, count=READ_COUNT)
                if not found:
                    await self._check_epoch(after)
                    return []
        except LogError:
            raise
        except Exception as exc:
            self._suspect = True
            raise LogRefused(f"reading the log: {_describe(exc)}") from exc
        if self._suspect:
            self._suspect = False
            await self._verify()
        entries: list[LogEntry] = []
        expected = after + 1
        for item in found.get(stream.encode(), ()):
            epoch, _, seq = _bytes(item.identifier).partition(b"-")
            if int(epoch) != self.epoch:
                raise EpochChanged(f"the log now has epoch {int(epoch)}, not {self.epoch}")
            number = int(seq)
            if number != expected:
                raise LogGap(f"entries {expected}-{number - 1} are gone from the log")
            expected += 1
            self._read_upto = number
            fields = item.field_values
            self._last_stamp = _bytes(fields[b"t"])
            entries.append(
                LogEntry(
                    number,
                    int(fields[b"t"]) / 1e6,
                    _bytes(fields[b"o"]).decode(),
                    _bytes(fields[b"b"]),
                )
            )
        return entries

    async def renew(self) -> None:
        k = self._k
        keys = [k["epoch"], k["nodes"], self._lease_key(self.node), k["seq"]]
        read = self._read_upto  # as it was when the renewal was sent
        try:
            seq: object = await self._renew(
                keys=keys, args=[str(self.epoch), self.node, self._ms(self.lease)]
            )
        except rx.ResponseError as exc:
            raise self._refusal(exc) from exc
        except Exception as exc:
            raise self._write_failed(exc) from exc
        await self._went_back(seq, read)

    async def reap(self) -> list[str]:
        try:
            nodes = [n.decode() for n in await self._w.hkeys(self._k["nodes"])]
        except Exception as exc:
            raise _mapped(exc) from exc
        return await self._declare_dead(nodes, force=False)

    async def retire(self) -> None:
        await self._declare_dead([self.node], force=True)

    async def load_snapshot(self) -> tuple[int, bytes] | None:
        try:
            seq, data = await self._w.hmget(self._k["snap"], ["seq", "data"])
        except Exception as exc:
            raise _mapped(exc) from exc
        if seq is None or data is None:
            return None
        self._read_upto = max(self._read_upto, int(seq))
        return int(seq), data

    async def save_snapshot(self, seq: int, data: bytes) -> bool:
        k = self._k
        try:
            saved: object = await self._save(
                keys=[k["epoch"], k["snap"], k["log"]],
                args=[str(self.epoch), seq, data, self.keep],
            )
        except rx.ResponseError as exc:
            raise self._refusal(exc) from exc
        except Exception as exc:
            raise _mapped(exc) from exc
        finally:
            with contextlib.suppress(Exception):  # the lock expires on its own
                await self._w.delete([k["snaplock"]])
        return saved == 1

    async def snapshot_due(self, seq: int, every: int) -> bool:
        k = self._k
        try:
            current = await self._w.hget(k["snap"], "seq")
            if seq - int(current or 0) < every:
                return False
            taken: object = await self._w.set(
                k["snaplock"],
                self.node,
                condition=coredis.PureToken.NX,
                px=self._ms(max(30.0, self.lease * 3)),
            )
            return bool(taken)
        except Exception as exc:
            raise _mapped(exc) from exc

    # -- helpers -------------------------------------------------------------------------

    async def _declare_dead(self, nodes: list[str], *, force: bool) -> list[str]:
        if not nodes:
            return []
        k = self._k
        keys = [k["epoch"], k["nodes"], k["seq"], k["log"], k["clock"]]
        keys += [self._lease_key(n) for n in nodes]
        args: list[str | int] = [str(self.epoch), self.log_max, "1" if force else "0", *nodes]
        try:
            dead: object = await self._reap(keys=keys, args=args)
        except rx.ResponseError as exc:
            raise self._refusal(exc) from exc
        except Exception as exc:
            raise _mapped(exc) from exc
        assert isinstance(dead, list)
        return [n.decode() if isinstance(n, bytes) else str(n) for n in dead]

    def _write_failed(self, exc: BaseException) -> LogError:
        """A write's failure as a log error; after a lost answer, the writer's connections
        are dropped (a connection Redis no longer answers on would hold every later write)."""
        error = _mapped(exc)
        if isinstance(error, LogUncertain):
            self._w.connection_pool.disconnect()
        return error

    async def _verify(self) -> None:
        """The last entry this node read must still be in the log, the same one (unless
        trimmed behind a snapshot); otherwise Redis came back from an older copy."""
        if not self._last_stamp:
            return
        k = self._k
        ident = f"{self.epoch}-{self._read_upto}"
        try:
            with trio.fail_after(WRITE_TIMEOUT):
                found = await self._r.xrange(k["log"], ident, ident)
                snap = int(await self._r.hget(k["snap"], "seq") or 0)
        except Exception as exc:
            self._suspect = True
            raise LogRefused(f"checking the log: {_describe(exc)}") from exc
        if found:
            if _bytes(found[0].field_values[b"t"]) == self._last_stamp:
                return
        elif self._read_upto <= snap:
            return  # trimmed behind a snapshot: nothing to compare
        await self._start_again(self._read_upto - 1)

    async def _went_back(self, seq: object, read: int) -> None:
        """Raise :class:`EpochChanged` (after starting the log again) if Redis's entry
        counter is below ``read``, what this node had read when it asked: Redis came
        back from an older copy."""
        if isinstance(seq, int) and seq < read:
            await self._start_again(seq)

    async def _start_again(self, seq: int) -> None:
        k = self._k
        keys = [k["epoch"], k["log"], k["seq"], k["clock"], k["nodes"], k["snap"]]
        await self._abandon(keys=keys, args=[str(self.epoch)])
        raise EpochChanged(
            f"Redis holds the log up to entry {seq}, but this node read up to "
            f"{self._read_upto}: Redis came back from an older copy; the log starts again"
        )

    async def _check_epoch(self, after: int) -> None:
        """Raise :class:`EpochChanged` if Redis's epoch is no longer ours, or if it holds
        less of the log than this node has read (then the log starts again)."""
        k = self._k
        current, seq = await self._r.mget([k["epoch"], k["seq"]])
        if current is None or int(current) != self.epoch:
            raise EpochChanged("Redis no longer holds this log (its data was lost or reset)")
        if int(seq or 0) < max(after, self._read_upto):
            self._read_upto = max(after, self._read_upto)
            await self._start_again(int(seq or 0))

    def _lease_key(self, node: str) -> str:
        return f"{self._tag}lease:{node}"

    @staticmethod
    def _ms(seconds: float) -> int:
        return max(1, int(seconds * 1000))

    def _refusal(self, exc: rx.ResponseError) -> LogError:
        text = str(exc)
        if text.startswith("EPOCH"):
            return EpochChanged("Redis no longer holds this log (its data was lost or reset)")
        if text.startswith("FENCED"):
            return NodeFenced(f"node {self.node} was declared dead (its lease ran out)")
        if text.startswith("LEASE"):
            return LogRefused(f"node {self.node}'s lease ran out; renewing it")
        return _mapped(exc)


def _bytes(value: str | bytes) -> bytes:
    return value.encode() if isinstance(value, str) else value


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _mapped(exc: BaseException) -> LogError:
    """A coredis failure as a shared-log error: refused when the request surely did not
    run, uncertain when it may have."""
    if isinstance(exc, LogError):
        return exc
    text = _describe(exc)
    if isinstance(exc, (rx.BusyLoadingError, rx.ReadOnlyError)):
        return LogRefused(text)
    if isinstance(exc, rx.ConnectionError) and "Unable to establish" in str(exc):
        return LogRefused(text)
    if isinstance(exc, (rx.ConnectionError, TimeoutError, trio.TooSlowError, OSError)):
        return LogUncertain(text)
    if isinstance(exc, rx.ResponseError) and str(exc).startswith(_NOT_RUN):
        return LogRefused(text)  # Redis refused the command before running any of it
    return LogUncertain(text)

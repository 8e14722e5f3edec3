"""Limits: every bound flackd enforces, in one frozen dataclass.

Owns: the names, defaults, command-line flags, environment variables and overflow
policies of all limits. ``flackd --help`` is generated from this table and
tests/test_architecture.py checks protocol.md ("Limits") against it. Imports only the
standard library and ``flackd.codec``.

Each field's metadata holds ``help`` (what it bounds and what happens when it is
exceeded); the flag is ``--`` plus the field name with dashes, and the environment
variable is ``FLACKD_`` plus the field name in upper case.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Final

from flackd.codec.lines import MAX_MEMBER_LINE_BYTES, server_line_limit

__all__ = ["ENV_PREFIX", "Limits", "limit_fields"]

ENV_PREFIX: Final = "FLACKD_"
#: The largest --max-line-bytes flackd accepts.
MAX_LINE_BYTES_CAP: Final = 16384
#: The largest --write-delay-us flackd accepts (10 ms: a bound on the latency it adds).
WRITE_DELAY_US_CAP: Final = 10_000


#: Limits for which 0 means "none" rather than an error.
_MAY_BE_ZERO: Final = frozenset({"irc_history", "whowas", "write_delay_us"})


def _limit(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True, slots=True)
class Limits:
    """Every bound of one flackd process. Defaults are production values."""

    max_line_bytes: int = _limit(
        512,
        "Longest client line in bytes, line ending included (at most 16384). Longer lines "
        "get ERR LINE_TOO_LONG and are discarded up to the next newline without being "
        "buffered.",
    )
    max_junk_bytes: int = _limit(
        8192,
        "Bytes of a single over-long line flackd will read and discard; past it the "
        "connection is closed with BYE LINE_TOO_LONG.",
    )
    max_overlong_lines: int = _limit(
        3,
        "Over-long lines within 60 seconds that close the connection with BYE LINE_TOO_LONG "
        "(before registration the first one does).",
    )
    sendq_bytes: int = _limit(
        256 * 1024,
        "Bytes queued for one connection that it has not read yet. Overflow disconnects "
        "that connection with BYE SENDQ_EXCEEDED; nobody else waits.",
    )
    socket_sndbuf: int = _limit(
        64 * 1024,
        "Kernel send buffer (SO_SNDBUF) of each client socket, in bytes. Kept modest so that "
        "a client that stops reading reaches --sendq-bytes instead of hiding megabytes in "
        "the kernel.",
    )
    history: int = _limit(
        100,
        "Messages kept per channel in memory. The oldest falls off; a HISTORY AFTER cursor "
        "older than what is kept is answered with gap=yes.",
    )
    dm_history: int = _limit(
        100,
        "Messages kept per direct-message conversation. The oldest falls off; a HISTORY "
        "AFTER cursor older than what is kept is answered with gap=yes.",
    )
    max_conversations: int = _limit(
        200,
        "Direct-message conversations one session may have. A message that would start one "
        "more (for either side) gets ERR TOO_MANY_CONVERSATIONS. A conversation is released "
        "when both of its sessions have ended.",
    )
    history_page: int = _limit(
        20, "Messages a HISTORY command returns when it gives no count (the maximum is --history)."
    )
    join_replay: int = _limit(20, "Recent messages shown on JOIN (more=yes when there are more).")
    irc_history: int = _limit(
        20,
        "Recent messages an IRC client sees on JOIN, as lines with their times (at most "
        "--join-replay; 0: none).",
    )
    list_max: int = _limit(
        200, "Channels one LIST reply shows; END LIST more=yes says LIST AFTER <#last> goes on."
    )
    max_channels: int = _limit(
        1000, "Channels on the server. Creating one more gets ERR TOO_MANY_CHANNELS."
    )
    max_joins: int = _limit(
        50, "Channels one client may be in. Joining one more gets ERR TOO_MANY_CHANNELS."
    )
    max_connections: int = _limit(
        4096, "Open connections. One more is sent BYE BUSY retry=5 and closed."
    )
    flood_burst: int = _limit(
        10,
        "Lines a client may send at once before flood control paces it. PING and PONG are "
        "free. When the bucket is empty flackd stops reading that socket (TCP pushes back); "
        "nothing is dropped.",
    )
    flood_rate: float = _limit(2.0, "Lines per second the flood bucket refills.")
    ping_idle: float = _limit(
        90.0,
        "Seconds of silence after which flackd sends PING <token>. A client that has answered "
        "a PING before must answer within --pong-timeout; one that never has (a person in "
        "netcat) is not disconnected for being quiet and gets no further idle PINGs.",
    )
    pong_timeout: float = _limit(
        60.0, "Seconds a client that answers PINGs has to answer one; then BYE PING_TIMEOUT."
    )
    max_per_ip: int = _limit(
        16,
        "Concurrent connections from one source address; one more gets BYE TOO_MANY_CONNECTIONS.",
    )
    new_per_ip: int = _limit(
        30,
        "New connections from one source address per 60 seconds; one more gets "
        "BYE TOO_MANY_CONNECTIONS retry=<s>.",
    )
    trusted_loopback: bool = _limit(
        False, "Exempt loopback addresses (127.0.0.0/8, ::1) from --max-per-ip and --new-per-ip."
    )
    max_unregistered: int = _limit(
        512, "Connections that have not registered yet; one more gets BYE BUSY retry=5."
    )
    channel_creates: int = _limit(
        10,
        "Channels one client may create per 60 seconds; one more gets ERR RATE_LIMITED retry=<s>.",
    )
    reg_timeout: float = _limit(
        30.0,
        "Seconds a new connection has to register with NICK or RESUME; bytes received do "
        "not extend it. Then BYE REGISTRATION_TIMEOUT.",
    )
    resume_ttl: float = _limit(
        600.0,
        "Seconds a dropped session stays resumable with RESUME <token>; its nick stays "
        "reserved meanwhile. QUIT ends a session at once.",
    )
    max_detached: int = _limit(
        4096, "Dropped sessions kept for RESUME. Past it the oldest is forgotten (nick freed)."
    )
    irc_monitor: int = _limit(
        100,
        "Nicks one IRC client may watch with MONITOR (ISUPPORT MONITOR); more get 734 "
        "(list full) and are not added.",
    )
    channel_list_max: int = _limit(
        100,
        "Bans (MODE +b) one channel keeps, as many ban exceptions (+e) and invite "
        "exceptions (+I), and invitations it remembers for people who have not joined yet. "
        "A mask past it gets ERR LIST_FULL (IRC 478) and is not added; an invitation past "
        "it forgets the oldest one.",
    )
    whowas: int = _limit(
        100,
        "Nicks no longer in use that WHOWAS (IRC) remembers; past it the oldest is "
        "forgotten. 0: none.",
    )
    web_head_bytes: int = _limit(
        8192,
        "Bytes of one HTTP request's head (request line and headers) on the web port, "
        "counted before they are buffered. More gets 431 and the connection is closed.",
    )
    web_timeout: float = _limit(
        10.0,
        "Seconds an HTTP client of the web port has to send a whole request (and to finish "
        "a TLS handshake); then 408 and close. Also the longest a kept-alive connection "
        "may sit idle between requests. A WebSocket, once open, has the chat's deadlines.",
    )
    commit_queue: int = _limit(
        512,
        "With --data-dir: commands whose effects wait for the store at once (so also the "
        "most one commit holds). Past it, flackd stops reading from clients until a commit "
        "frees room (TCP pushes back); nothing is dropped.",
    )
    store_retry: float = _limit(
        5.0,
        "With --data-dir: seconds after a failed commit (disk full, I/O error) during which "
        "commands that change state get ERR STORAGE_FAILED at once; reads go on. Then the "
        "next change tries the store again.",
    )
    redis_timeout: float = _limit(
        5.0,
        "With --redis: seconds a change may wait for Redis to answer (retried meanwhile, "
        "never stored twice). Then the sender gets ERR STORAGE_UNKNOWN: it may or may not "
        "have been stored.",
    )
    redis_lease: float = _limit(
        10.0,
        "With --redis: a node's lease, in seconds. A node that has not renewed it for this "
        "long is declared dead by the others: its users are dropped (they RESUME on "
        "another node) and it may no longer write. It renews it every third of this.",
    )
    redis_snapshot_every: int = _limit(
        10_000,
        "With --redis: log entries between two snapshots of the shared state (one node "
        "saves it; the log behind it is trimmed; a new node starts from it).",
    )
    redis_log_max: int = _limit(
        200_000,
        "With --redis: the most log entries Redis keeps (about; older ones are trimmed). "
        "Snapshots trim it long before; a node that falls behind past this starts again "
        "(its clients get BYE SHUTDOWN and resume).",
    )
    write_delay_us: int = _limit(
        0,
        "Every plain TCP client's queued lines are written at the end of each pass of the "
        "event loop, one system call per client. 0 (the default): every pass. Above 0: "
        "while the loop is busy, lines may wait up to this many microseconds (and 16 passes) "
        "so that one system call carries more of them (less CPU per message, a higher p99 "
        "latency: docs/performance.md). At most 10000.",
    )
    shutdown_grace: float = _limit(
        3.0,
        "Seconds a closing connection may spend flushing its last lines (at shutdown, after "
        "QUIT or BYE). Then it is closed regardless.",
    )

    def __post_init__(self) -> None:
        if self.max_line_bytes < 64:
            raise ValueError("max_line_bytes must be at least 64")
        if self.sendq_bytes < 4 * self.max_line_bytes:
            raise ValueError("sendq_bytes must hold at least four maximum-length lines")
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, bool) and (
                value < 0 or (value == 0 and f.name not in _MAY_BE_ZERO)
            ):
                raise ValueError(f"{f.name} must be positive")
        if self.history_page > self.history or self.join_replay > self.history:
            raise ValueError("history_page and join_replay must not exceed history")
        if self.max_line_bytes > MAX_LINE_BYTES_CAP:
            raise ValueError(f"max_line_bytes must be at most {MAX_LINE_BYTES_CAP}")
        if self.write_delay_us > WRITE_DELAY_US_CAP:
            raise ValueError(f"write_delay_us must be at most {WRITE_DELAY_US_CAP}")
        largest = self.largest_reply_bytes()
        if self.sendq_bytes < largest:
            raise ValueError(
                f"sendq_bytes must hold the largest reply: at least {largest} bytes for "
                f"history={self.history}, list_max={self.list_max}, "
                f"join_replay={self.join_replay} and a channel of max_connections="
                f"{self.max_connections} members"
            )

    def largest_reply_bytes(self) -> int:
        """The most bytes one reply can queue at once: a full HISTORY or LIST page, or a
        JOIN of a channel everyone is in (its member list and its replay)."""
        line = server_line_limit(self.max_line_bytes)
        names = self.max_connections * MAX_MEMBER_LINE_BYTES
        pages = max(self.history, self.dm_history, self.list_max) * line
        return max(pages, self.join_replay * line + names) + 8 * line


def limit_fields() -> list[tuple[str, Any, str]]:
    """``(name, default, help)`` for every limit, in declaration order."""
    return [(f.name, f.default, f.metadata["help"]) for f in fields(Limits)]

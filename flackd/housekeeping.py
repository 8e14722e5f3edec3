"""Housekeeping: every connection's deadlines, kept by one task, and closing with a BYE.

Owns: the registration deadline, the idle PING and the PONG deadline of every connection
(one task wakes for the earliest of them, at most once a second, instead of a timer per
connection), and :meth:`Housekeeping._bye`, which closes a connection in its turn behind
the lines a commit holds. A mixin of :class:`flackd.server.Server`. Imports trio, the
standard library and the flackd modules it drives.
"""

from __future__ import annotations

import itertools
import logging
import math
from typing import Final

import trio

from flackd.codec import events as e
from flackd.committer import Committer
from flackd.connection import Connection
from flackd.dispatch import render
from flackd.hub import Close
from flackd.limits import Limits
from flackd.replica import Replica

__all__ = ["SWEEP_SECONDS", "Housekeeping"]

log = logging.getLogger("flackd")

#: The housekeeping task looks at the deadlines at most this often (their precision).
SWEEP_SECONDS: Final = 1.0

_ping_tokens = itertools.count(1)


class Housekeeping:
    """The deadline side of :class:`flackd.server.Server` (see the module docstring)."""

    limits: Limits
    committer: Committer[Connection] | Replica | None
    connections: set[Connection]
    _unregistered: set[Connection]
    _byes: set[Connection]
    _server_error: e.Bye
    _sleep: trio.CancelScope

    async def _keep_time(self) -> None:
        """The housekeeping task: every connection's deadlines, in one place.

        Wakes when the earliest deadline falls due (but at most once a second, so that
        deadlines are exact to within a second), acts on those that have passed, and
        sleeps again. A new connection brings the wake-up forward if its registration
        deadline comes first. One task instead of a timer per connection keeps idle
        connections small and the reader loop free of timeouts.
        """
        while True:
            now = trio.current_time()
            due = math.inf
            for conn in tuple(self.connections):
                try:
                    due = min(due, self._deadline(conn, now))
                except Exception:  # a bug: it ends that connection, not the server (rule 3)
                    log.exception("%r: internal error in housekeeping; closing it", conn)
                    conn.close(render(conn, (self._server_error,)), "server error")
            with trio.CancelScope(deadline=max(due, now + SWEEP_SECONDS)) as self._sleep:
                await trio.sleep_forever()

    def _deadline(self, conn: Connection, now: float) -> float:
        """Act on ``conn``'s deadline if it has passed; return when its next one falls due."""
        limits = self.limits
        if conn.closing or conn in self._byes:
            return math.inf
        if conn.registration_deadline != math.inf:
            if now < conn.registration_deadline:
                return conn.registration_deadline
            self._bye(
                conn, "REGISTRATION_TIMEOUT", f"no NICK within {limits.reg_timeout:g} seconds"
            )
            return math.inf
        if conn.awaiting_pong is not None:
            due = conn.ping_sent_at + limits.pong_timeout
            if now < due:
                return due
            if conn.answers_pings:
                text = f"no PONG within {limits.pong_timeout:g} seconds"
                self._bye(conn, "PING_TIMEOUT", text)
                return math.inf
            conn.awaiting_pong = None  # a person in netcat: quiet is fine
            conn.idle_pings = False
            return math.inf
        if not conn.idle_pings:
            return math.inf
        due = conn.last_input + limits.ping_idle
        if now < due:
            return due
        conn.awaiting_pong = f"flackd-{next(_ping_tokens)}"
        conn.ping_sent_at = now
        conn.push(render(conn, (e.Ping(conn.awaiting_pong),)))
        return now + limits.pong_timeout

    def _bye(self, conn: Connection, code: str, text: str) -> None:
        """Close ``conn`` with ``BYE <code>``: at once, or, while lines wait for a commit,
        in its turn behind them (so an acknowledgement already due is not lost)."""
        bye = e.Bye(code, (), text)
        if self.committer is not None and self.committer.holding():
            self._byes.add(conn)
            self.committer.submit(conn, "*", [Close(conn, bye, text)])
        else:
            conn.close(render(conn, (bye,)), text)

    def _unregistered_again(self, conn: Connection) -> None:
        """A failed commit undid ``conn``'s NICK or RESUME: its registration deadline and
        the unregistered count apply again."""
        if conn.closing:
            return
        conn.registration_deadline = trio.current_time() + self.limits.reg_timeout
        self._unregistered.add(conn)
        if conn.registration_deadline < self._sleep.deadline:
            self._sleep.deadline = conn.registration_deadline

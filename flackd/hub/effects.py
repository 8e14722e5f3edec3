"""What the hub returns and what the server sees of it: effects and :class:`HubProtocol`.

Owns: the effects (:class:`Reply`, :class:`Broadcast`, :class:`Close`) that only
``flackd.server`` turns into socket writes, and :class:`HubProtocol`, the one interface
the server (and ``flackd.committer``) uses. Imports only the standard library,
``flackd.codec``, the store's interface (``flackd.store``) and the hub's own modules:
never trio, never a concrete store.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, Protocol

from flackd.codec import commands as c
from flackd.codec import events as e
from flackd.codec.grammar import Verb
from flackd.hub.journal import Journal
from flackd.hub.state import C
from flackd.store import Changes, Snapshot
from flackd.views import ChannelView, UserView

if TYPE_CHECKING:
    from flackd.hub.views import OwnView

# Effects and history entries are plain dataclasses, not frozen ones: at least one is
# made per message, and a frozen dataclass takes three times as long to make. Nothing
# changes them after they are made.


@dataclass(slots=True)
class Reply(Generic[C]):
    """Queue ``events`` for one connection, in order."""

    conn: C
    events: list[e.Event]


@dataclass(slots=True)
class Broadcast(Generic[C]):
    """Queue one line for each of ``conns`` (formatted and encoded once)."""

    conns: Sequence[C]
    event: e.Event


@dataclass(slots=True)
class Close(Generic[C]):
    """Queue ``bye`` as the connection's last line, flush, then close it."""

    conn: C
    bye: e.Bye
    reason: str


Effect = Reply[C] | Broadcast[C] | Close[C]


class HubProtocol(Protocol[C]):
    """What the server needs from a hub."""

    #: The server has a password (``--password-file``): HELLO says ``password=required``.
    password_required: bool

    def connect(self, conn: C, now: float) -> list[Effect[C]]: ...
    def handle(self, conn: C, verb: Verb, command: c.Command, now: float) -> list[Effect[C]]: ...
    def disconnect(self, conn: C, reason: str, now: float) -> list[Effect[C]]: ...
    def shutdown(self, now: float) -> list[Effect[C]]: ...
    def is_registered(self, conn: C) -> bool: ...

    # OPER in two steps, so that its slow step (scrypt) can run off the event loop: the
    # verdict of a name and password (``check_oper``, thread-safe: it reads only the
    # operators configured at start-up), then the command carried out with it.
    def check_oper(self, name: str, password: str) -> str: ...
    def oper_checked(self, conn: C, name: str, verdict: str, now: float) -> list[Effect[C]]: ...

    # Read-only views for front ends whose wire asks more than Flack's (IRC's WHO, WHOIS):
    def channel_info(self, name: str) -> ChannelView | None: ...
    def user_info(self, nick: str) -> UserView | None: ...
    def channel_count(self) -> int: ...
    def operator_count(self, conns: Iterable[C]) -> int: ...
    def token_owner(self, token: str) -> str | None: ...
    def whowas(self, nick: str, count: int) -> list[tuple[str, str, str]]: ...
    def own_view(self, conn: C) -> OwnView[C]: ...
    def neighbours(self, conn: C) -> list[C]: ...
    def nick_of(self, conn: C) -> str | None: ...

    # With a store (see flackd.store and flackd.committer):
    @property
    def journal(self) -> Journal[C] | None: ...
    def take_changes(self) -> Changes | None: ...
    def restore(
        self, snapshot: Snapshot, now: float, *, unregister: Collection[C] = ()
    ) -> None: ...

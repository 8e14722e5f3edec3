"""The base of the hub's rules: the state they all read, and the helpers several use.

Owns: :class:`HubBase`, which declares the hub's state (limits, ids, the journal, the
connections, sessions, tokens, channels and where each message is held) and holds the
channel lookups the channel and message rules share. The rules are mixin classes over it
(:mod:`flackd.hub.sessions`, :mod:`flackd.hub.channels`, :mod:`flackd.hub.messages`),
composed into :class:`flackd.hub.Hub`. Imports only the standard library,
``flackd.codec``, ``flackd.limits`` and the hub's own modules: never trio, never a store.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Generic

from flackd.codec import events as e
from flackd.codec.errors import ProtocolError
from flackd.codec.ids import IdGenerator
from flackd.codec.text import CHANNEL_MAX_CHARS, fold, is_valid_channel
from flackd.hub.journal import Journal
from flackd.hub.state import C, Channel, Holder, Session
from flackd.limits import Limits


class HubBase(Generic[C]):
    """What every rule of the hub may use: its state and the shared channel lookups.

    The attributes are set by :meth:`flackd.hub.Hub.__init__` and :meth:`_reset`. A mixin's
    ``self._membership(...)`` or ``self.ids`` is the same single lookup it was before the
    hub was split, so the MSG path gains no call.
    """

    limits: Limits
    ids: IdGenerator
    journal: Journal[C] | None
    _conns: dict[C, Session[C] | None]  # every connection, with its session once registered
    #: Where new resume tokens come from (token, hash); None: made here, at random.
    mint: Callable[[], tuple[str, str]] | None = None
    #: The server operators the administrator configured: name -> password hash
    #: (:mod:`flackd.hub.credentials`); set by :class:`flackd.hub.Hub`, kept by ``_reset``.
    opers: Mapping[str, str]

    def _reset(self) -> None:
        self._sessions: dict[str, Session[C]] = {}  # by folded nick, connected or detached
        self._tokens: dict[str, Session[C]] = {}  # by hash_token(token)
        self._detached: OrderedDict[Session[C], None] = OrderedDict()  # oldest first
        self._channels: dict[str, Channel[C]] = {}  # by folded name
        self._where: dict[int, Holder[C]] = {}  # message seq -> the channel or conversation
        self._deleted: dict[int, None] = {}  # recently deleted seqs (see messages.py)
        self._next_sid = 0
        # Nicks no longer held (a session ended, or took another nick), newest last, with
        # the USER fields they had: IRC's WHOWAS. Volatile, bounded by --whowas.
        self._whowas: deque[tuple[str, str, str]] = deque(maxlen=self.limits.whowas)

    if TYPE_CHECKING:
        # A session rule (flackd.hub.sessions) that the channel rules call too.
        def _expire(self, now: float) -> None: ...

        # Conversation rules (flackd.hub.conversations) that the session rules call.
        def _release_conversations(self, session: Session[C]) -> None: ...
        def _unread_block(self, session: Session[C], every: bool = False) -> list[e.Event]: ...

    @staticmethod
    def _check_channel_name(command: str, name: str) -> None:
        if not is_valid_channel(name):
            raise ProtocolError(
                "INVALID_CHANNEL",
                command,
                f"a channel name is # and then 1-{CHANNEL_MAX_CHARS} ASCII letters, digits, "
                "_ or -; example: JOIN #general",
            )

    def _existing(self, command: str, name: str) -> Channel[C]:
        channel = self._channels.get(fold(name))
        if channel is None:
            # Checked only on a miss: a name that folds to an existing channel's is valid.
            self._check_channel_name(command, name)
            raise ProtocolError(
                "NO_SUCH_CHANNEL",
                command,
                f"there is no channel {name}; LIST shows them, JOIN {name} creates it",
                (name,),
            )
        return channel

    def _membership(self, session: Session[C], command: str, name: str) -> Channel[C]:
        channel = self._existing(command, name)
        if session.key not in channel.members:
            raise ProtocolError(
                "NOT_IN_CHANNEL",
                command,
                f"you are not in {channel.name}; JOIN {channel.name} first",
                (channel.name,),
            )
        return channel

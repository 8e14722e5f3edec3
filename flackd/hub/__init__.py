"""The hub: users, nicks, sessions, channels and history; commands in, effects out.

Owns: all chat state of one flackd process and every rule about it (who may do what,
name uniqueness, resume tokens, ordering). It never awaits and does no I/O: each call takes
the current time and returns a list of effects (:class:`Reply`, :class:`Broadcast`,
:class:`Close`) that only ``flackd.server`` turns into socket writes. So it needs no
locks: no two commands interleave inside it. Every module of the package imports only the
standard library, ``flackd.codec``, ``flackd.history``, ``flackd.limits``, the store's
interface (``flackd.store``) and the package's own modules: never trio, never a concrete
store.

The server sees the hub only through :class:`HubProtocol`. A later multi-node backplane
replaces the part that delivers to local members behind that interface; the codec and
the connection code stay as they are.

Connections are opaque, hashable handles (``C``) chosen by the server; the hub never calls
them.

Rules:

1. Registration completes inside the NICK (or RESUME) handler, so lines pipelined behind
   it in the same packet already count as registered.
2. A nick is checked and taken in one synchronous step: of twenty racing ``NICK x``
   exactly one wins.
3. Each channel has one total order: the order of :meth:`ChannelHistory.append`. Every
   member's copy of a message is queued in that order, sender included (the echo is the
   sender's acknowledgement and carries the id).
4. A change that others see is acknowledged by the very line they get (MSG, PART, a nick
   change, a topic change, DELETED); JOIN, CREATE, NICK (registration) and RESUME answer
   with ``OK``.
5. A dropped connection leaves a *detached* session: its nick stays reserved and it can be
   resumed for ``resume_ttl`` seconds. QUIT ends the session at once.

The package, by concern (each module's docstring says what it owns):

- :mod:`flackd.hub.effects`: the effects and :class:`HubProtocol`;
- :mod:`flackd.hub.state`: :class:`Session`, :class:`Channel`, :func:`hash_token`;
- :mod:`flackd.hub.journal`: :class:`Journal`, hub state as ``flackd.store`` rows;
- :mod:`flackd.hub.blocks`: the reply blocks (topic line, NAMES, HISTORY, HELP);
- :mod:`flackd.hub.base`: the state every rule reads, and the helpers several share;
- :mod:`flackd.hub.sessions`, :mod:`flackd.hub.channels`, :mod:`flackd.hub.messages`:
  the rules, one mixin class each;
- :mod:`flackd.hub.core`: :class:`Hub`, the rules composed behind the interface the server
  uses (connect, handle, disconnect, shutdown) and the store's side (take_changes, restore).
"""

from __future__ import annotations

from flackd.hub.core import Hub
from flackd.hub.effects import Broadcast, Close, Effect, HubProtocol, Reply
from flackd.hub.journal import Journal
from flackd.hub.state import Channel, Session, hash_token

__all__ = [
    "Broadcast",
    "Channel",
    "Close",
    "Effect",
    "Hub",
    "HubProtocol",
    "Journal",
    "Reply",
    "Session",
    "hash_token",
]

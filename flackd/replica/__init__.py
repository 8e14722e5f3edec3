"""Replica: this node's copy of a chat that several flackd nodes share through one log.

The package, by concern: :mod:`flackd.replica.node` (:class:`Replica`, the server's side
and running the log), :mod:`flackd.replica.tasks` (the tasks that wait for the store),
:mod:`flackd.replica.entries` (what crosses the log, :class:`Remote`).

Owns: what the server does instead of running a command through its hub at once when
flackd runs as one node of several (``--redis``): turning each command that changes the
shared state into a log entry, reading the log and running every entry, from every
node, through the local hub in log order, keeping each local connection's replies in
the order of its lines, the handles of other nodes' connections (:class:`Remote`),
leases, snapshots, and what a failure of the shared store does. Imports trio, the
standard library, ``flackd.codec``, ``flackd.connection``, ``flackd.hub``,
``flackd.limits`` and the shared-log interface (``flackd.store.log``): never a concrete
store (no Redis here), never a front end.

How it works (docs/cluster.md, "How it works"):

1. **One log, one order.** Every command that changes shared state (NICK, JOIN, MSG...,
   and a connection going away) is appended to the shared log, with the time and number
   the store gives it. Every node reads the whole log and runs each entry through its
   own hub in that order, so every hub holds the same state, message ids included: the
   rules live in the hub, once, and the store only orders and keeps entries.
2. **Acknowledged means stored.** A command's effects (the sender's echo, the OK, every
   member's copy, on every node) exist only once its entry came back from the log, so
   nothing is acknowledged that the store does not hold.
3. **Each connection's order.** A command that changes nothing (HISTORY, NAMES, PING...)
   is answered at once from the local hub, unless a change of the same connection is
   still on its way through the log: then it waits behind it, so replies keep the order
   of the lines. Deliveries of others' changes go out as their entries are run.
4. **Other nodes' connections** are :class:`Remote` handles: the hub treats them as it
   treats local ones; nothing is ever sent to them from here (their node sends).
5. **Failures.** A write the store refused is answered ``ERR STORAGE_FAILED`` (it did not
   happen); one whose outcome is unknown past ``--redis-timeout`` gets
   ``ERR STORAGE_UNKNOWN`` (it may have: HISTORY tells); for ``--store-retry`` seconds after
   either, changes are refused at once while reads go on. A connection going away is
   retried until it is stored. If this node was declared dead (it was paused or cut off
   past its lease) or the store lost its data, the node closes every client connection
   with ``BYE SHUTDOWN`` (they resume elsewhere, or here), forgets its copy and joins
   again as a new incarnation.
6. **Snapshots.** Now and then one node saves an image of its hub (:mod:`flackd.hub.image`)
   with the log number it covers; a new node starts from the newest image, and the log
   behind it is trimmed.
"""

from flackd.replica.entries import Remote, shared
from flackd.replica.node import Replica

__all__ = ["Remote", "Replica", "shared"]

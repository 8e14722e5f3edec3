"""IRC's CTCP queries and Flack's CTCP command: in, a ``PRIVMSG`` of ``\\x01VERB arg\\x01``
(other than ``ACTION``, which is Flack's action) as Flack's ``CTCP``; out, the hub's CTCP
event as that ``PRIVMSG`` again.

Owns: :func:`queries` (the Flack commands one PRIVMSG's CTCP becomes, one per target) and
:func:`ctcp_line` (the event for one client: not to its sender without ``echo-message``,
as messages). A reply (a ``NOTICE`` CTCP) and a verb Flack's CTCP does not take are
dropped: flackd relays queries only. Whether a channel takes a CTCP (``+C``) is the hub's
(:mod:`flackd.hub.gates`). Imports only the standard library, ``flackd.codec`` and
``flackd.irc``: never trio, never the hub.
"""

from __future__ import annotations

from collections.abc import Iterator

from flackd.codec import commands as c
from flackd.codec import events as e
from flackd.codec.grammar import is_ctcp_verb
from flackd.codec.text import ascii_upper, neutralise
from flackd.irc.numerics import prefix
from flackd.irc.wire import ctcp, format_message, strip_formatting

__all__ = ["ctcp_line", "queries"]


def queries(targets: str, query: tuple[str, str], notice: bool) -> Iterator[c.Ctcp]:
    """Flack's ``CTCP`` to each of the comma-separated ``targets`` for a CTCP ``query``
    (verb, argument) that is not ``ACTION``; nothing for a reply (``notice``)."""
    verb = ascii_upper(query[0])
    if notice or not is_ctcp_verb(verb) or verb == "ACTION":
        return
    text = strip_formatting(query[1]).strip()
    for target in targets.split(","):
        if target:
            yield c.Ctcp(target, verb, text)


def ctcp_line(event: e.Ctcp, me: str, caps: set[str]) -> bytes:
    """``:bob!bob@flack PRIVMSG #c :\\x01PING 1\\x01``; nothing to its sender (``me``)
    without ``echo-message``, but a query to oneself."""
    mine = event.sender.lower() == me.lower() != event.target.lower()
    if mine and "echo-message" not in caps:
        return b""
    text = ctcp(event.verb, neutralise(event.text))
    return format_message("PRIVMSG", (event.target, text), source=prefix(event.sender))

"""The hub's reply blocks: the lines that answer JOIN, TOPIC, NAMES, HISTORY and HELP.

Owns: the topic line, the NAMES, HISTORY and HELP blocks (a ``BlockStart``, the body, a
``BlockEnd``), built from hub state as plain event lists. Imports only the standard
library, ``flackd.codec``, ``flackd.history``, the hub's state objects and its gates (a
member's role): never trio, never a store.
"""

from __future__ import annotations

from flackd.codec import events as e
from flackd.codec.errors import ProtocolError
from flackd.codec.grammar import VERBS
from flackd.codec.usermodes import BOT_MODE, OPER_MODE
from flackd.history import Page
from flackd.hub.gates import role
from flackd.hub.state import C, Channel


def topic_line(channel: Channel[C]) -> e.Topic:
    return e.Topic(channel.name, channel.topic_setter, channel.topic_time, channel.topic)


def names_block(channel: Channel[C]) -> list[e.Event]:
    members = sorted(channel.members.items())
    lines: list[e.Event] = [e.BlockStart("NAMES", (channel.name, str(len(members))))]
    lines += [
        e.Member(s.nick, role(channel, s), BOT_MODE in s.modes, OPER_MODE in s.modes)
        for _, s in members
    ]
    lines.append(e.BlockEnd("NAMES", (channel.name,)))
    return lines


def history_block(name: str, page: Page) -> list[e.Event]:
    lines: list[e.Event] = [e.BlockStart("HISTORY", (name, str(len(page.messages))))]
    lines += page.messages
    more = "yes" if page.more else "no"
    gap = "yes" if page.gap else "no"
    lines.append(e.BlockEnd("HISTORY", (name, f"more={more}", f"gap={gap}")))
    return lines


def help_block(topic: str | None) -> list[e.Event]:
    if topic is None:
        rows = [VERBS[name] for name in dict.fromkeys(v.name for v in VERBS.values())]
        body: list[e.Event] = [e.Info(f"{row.syntax} - {row.summary}") for row in rows]
        body.append(e.Info("Commands work in any case, with or without a leading /."))
        subject = "*"
    else:
        row = VERBS.get(topic)
        if row is None:
            raise ProtocolError(
                "UNKNOWN_COMMAND", "HELP", f"no command {topic[:32]}; HELP lists them all"
            )
        subject = row.name
        body = [
            e.Info(f"usage: {row.syntax}"),
            e.Info(row.summary),
            e.Info(f"example: {row.example}"),
        ]
        if row.aliases:
            body.append(e.Info("also: " + ", ".join(row.aliases)))
        if not row.before_registration:
            body.append(e.Info("needs a nick first (NICK or RESUME)"))
    return [e.BlockStart("HELP", (subject, str(len(body)))), *body, e.BlockEnd("HELP", (subject,))]

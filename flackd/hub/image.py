"""A hub's whole state as plain data, and back: what a replica of a shared hub starts from.

Owns: :func:`dump` (the hub's state as JSON-ready lists and dicts) and :func:`load` (a hub
made exactly that state again). Unlike a store's rows (:mod:`flackd.hub.journal`), an image
holds *everything* a rule reads: which connection each session is on, the order of every
dict the rules walk (members, a session's channels and conversations, the detached
sessions), channel-creation times, when channels emptied, recent deletions. What no rule
reads and no store keeps is left out: an IRC user's away message and USER fields, and
WHOWAS (so they stay with the node the user is connected to).
Two hubs made from the same image and given the same commands at the same times stay
identical; that is what lets several flackd nodes share one chat (:mod:`flackd.replica`).
Imports only the standard library, ``flackd.codec``, ``flackd.history`` and the hub's own
modules: never trio, never a store.

Connections cross as keys: ``dump`` asks ``key_of(conn)`` for each connection (None leaves
a connection out: one that no other process has heard of), ``load`` asks ``conn_of(key)``
for the handle to use.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from flackd.codec import events as e
from flackd.history import ChannelHistory, Entry
from flackd.hub.core import Hub
from flackd.hub.state import C, Channel, Conversation, Holder, Session, conversation_key

__all__ = ["VERSION", "dump", "load"]

#: The layout's version; :func:`load` refuses any other (3: sessions' user modes).
VERSION: Final = 3

Image = dict[str, Any]


def _history(history: ChannelHistory) -> list[Any]:
    entries = [
        [
            entry.seq,
            entry.author_sid,
            m.target,
            m.id,
            m.time,
            m.author,
            m.text,
            m.action,
            m.edited,
            m.notice,
        ]
        for entry in history.entries()
        for m in (entry.message,)
    ]
    return [history.last_dropped_seq, history.newest_seq, entries]


def _load_history(history: ChannelHistory, data: list[Any]) -> list[Entry]:
    last_dropped, newest, rows = data
    entries = [Entry(row[0], e.Message(*row[2:10]), row[1]) for row in rows]
    history.load(entries, last_dropped, newest)
    return entries


def dump(hub: Hub[C], key_of: Callable[[C], str | None]) -> Image:
    """``hub``'s whole state as JSON-ready data (see the module docstring)."""
    sessions = []
    for session in hub._sessions.values():
        conn = session.conn
        sessions.append(
            [
                session.sid,
                session.nick,
                session.token_hash,
                None if conn is None else key_of(conn),
                list(session.channels),
                session.last_channel,
                session.detached_at,
                list(session.created),
                list(session.conversations),
                dict(session.markers),
                session.modes,
            ]
        )
    channels = [
        [
            key,
            ch.name,
            ch.topic,
            ch.topic_setter,
            ch.topic_time,
            ch.vacated_at,
            [s.sid for s in ch.members.values()],
            _history(ch.history),
            _modes(ch),
        ]
        for key, ch in hub._channels.items()
    ]
    conversations: dict[str, Conversation[C]] = {}
    for session in hub._sessions.values():
        for conversation in session.conversations.values():
            conversations.setdefault(conversation.key, conversation)
    convs = [
        [cv.key, cv.a.sid, cv.a.nick, cv.b.sid, cv.b.nick, _history(cv.history)]
        for cv in conversations.values()
    ]
    conns = []
    for conn, attached in hub._conns.items():
        key = key_of(conn)
        if key is not None:
            conns.append([key, None if attached is None else attached.sid])
    return {
        "version": VERSION,
        "boot": hub.ids.boot,
        "last_seq": hub.ids.last_seq,
        "next_sid": hub._next_sid,
        "sessions": sessions,
        "detached": [s.sid for s in hub._detached],
        "channels": channels,
        "conversations": convs,
        "conns": conns,
        "deleted": list(hub._deleted),
    }


def _modes(ch: Channel[C]) -> list[object]:
    bans = [list(ban) for ban in ch.bans]
    return [
        ch.created,
        sorted(ch.ops),
        sorted(ch.voiced),
        ch.flags,
        ch.passkey,
        ch.limit,
        bans,
        list(ch.invited),
        [list(mask) for mask in ch.excepts],
        [list(mask) for mask in ch.invexes],
    ]


def load(hub: Hub[C], image: Image, conn_of: Callable[[str], C]) -> None:
    """Make ``hub``'s state exactly ``image`` (made by :func:`dump`). Raises ValueError
    for an image of another layout version."""
    if image.get("version") != VERSION:
        raise ValueError(f"hub image version {image.get('version')!r}, expected {VERSION}")
    hub._reset()
    hub._conns = {}
    hub.ids.boot = image["boot"]
    hub.ids.last_seq = image["last_seq"]
    hub._next_sid = image["next_sid"]
    history = hub.limits.history
    holders: dict[str, Holder[C]] = {}
    members: dict[str, list[int]] = {}
    for key, name, topic, setter, when, vacated, sids, hist, modes in image["channels"]:
        channel: Channel[C] = Channel(name, ChannelHistory(history))
        channel.topic, channel.topic_setter, channel.topic_time = topic, setter, when
        channel.vacated_at = vacated
        channel.created, ops, voiced, channel.flags, channel.passkey, channel.limit = modes[:6]
        bans, invited = modes[6:8]
        excepts, invexes = modes[8:] or ([], [])  # an image of flackd before +e and +I
        channel.ops, channel.voiced = set(ops), set(voiced)
        channel.bans = [(mask, setter, time) for mask, setter, time in bans]
        channel.excepts = [(mask, setter, time) for mask, setter, time in excepts]
        channel.invexes = [(mask, setter, time) for mask, setter, time in invexes]
        channel.invited = dict.fromkeys(invited)
        channel.regate()
        for entry in _load_history(channel.history, hist):
            hub._where[entry.seq] = channel
        hub._channels[key] = channel
        holders[key] = channel
        members[key] = sids
    by_sid: dict[int, Session[C]] = {}
    layout: dict[int, tuple[list[str], list[int]]] = {}
    for row in image["sessions"]:
        sid, nick, token_hash, conn_key, chans, last, detached_at, created = row[:8]
        peers, markers, modes = row[8:]
        conn = None if conn_key is None else conn_of(conn_key)
        session: Session[C] = Session(sid, nick, token_hash, conn)
        session.last_channel = last
        session.detached_at = detached_at
        session.created = list(created)
        session.markers = dict(markers)
        session.modes = modes
        by_sid[sid] = session
        hub._sessions[session.key] = session
        hub._tokens[token_hash] = session
        layout[sid] = (chans, peers)
    for sid in image["detached"]:
        hub._detached[by_sid[sid]] = None
    for key, sids in members.items():
        channel = hub._channels[key]
        for sid in sids:
            channel.add(by_sid[sid])
    for key, sid_a, nick_a, sid_b, nick_b, hist in image["conversations"]:
        a = by_sid.get(sid_a) or _ended(sid_a, nick_a)
        b = a if sid_b == sid_a else (by_sid.get(sid_b) or _ended(sid_b, nick_b))
        conversation = Conversation(key, a, b, ChannelHistory(hub.limits.dm_history))
        for entry in _load_history(conversation.history, hist):
            hub._where[entry.seq] = conversation
        holders[key] = conversation
        if a.ended:
            a.conversations[b.sid] = conversation
        if b.ended and b is not a:
            b.conversations[a.sid] = conversation
    for sid, (chans, peers) in layout.items():
        session = by_sid[sid]
        for key in chans:
            session.channels[key] = hub._channels[key]
        for peer in peers:
            found = _conversation_with(holders, session, peer)
            if found is not None:
                session.conversations[peer] = found
    for key, sid in image["conns"]:
        conn = conn_of(key)
        hub._conns[conn] = None if sid is None else by_sid[sid]
    hub._deleted = dict.fromkeys(image["deleted"])


def _conversation_with(
    holders: dict[str, Holder[C]], session: Session[C], peer: int
) -> Conversation[C] | None:
    found = holders.get(conversation_key(session.sid, peer))
    return found if isinstance(found, Conversation) else None


def _ended(sid: int, nick: str) -> Session[C]:
    """The ended side of a conversation: a session in name only."""
    session: Session[C] = Session(sid, nick, "", None)
    session.ended = True
    return session

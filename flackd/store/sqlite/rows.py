"""flackd's state as SQLite rows: a :class:`Snapshot` read from the tables, a commit's
:class:`Changes` written into them.

Owns: every statement that reads or writes the tables (the schema itself is
:mod:`flackd.store.sqlite.schema`'s), how a channel's modes, a session's channels and
read markers are held in a column, and the multi-row INSERTs of a commit's messages.
Part of :mod:`flackd.store.sqlite`; imports only the standard library and
``flackd.store``. Runs inside the store's transactions, never opens one.
"""

from __future__ import annotations

import json
import sqlite3
from itertools import chain
from typing import Any, Final

from flackd.store import (
    Changes,
    ChannelRow,
    ConversationRow,
    MessageRow,
    SessionRow,
    Snapshot,
)

__all__ = ["INSERT_SIZES", "SEP", "read", "write"]

#: Channel names never hold this character (they are # and ASCII letters, digits, _ and
#: -), so a session's channel list is stored as one string joined by it.
SEP: Final = " "


def read(db: sqlite3.Connection) -> Snapshot:
    """Everything the database holds, as a :class:`Snapshot`."""
    meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    channels = [
        _channel_row(row)
        for row in db.execute(
            "SELECT key, name, topic, topic_setter, topic_time, last_dropped_seq, modes "
            "FROM channels ORDER BY key"
        )
    ]
    conversations = [
        ConversationRow(*row)
        for row in db.execute(
            "SELECT key, sid_a, nick_a, sid_b, nick_b, last_dropped_seq "
            "FROM conversations ORDER BY key"
        )
    ]
    names = {row.key: row.name for row in channels}
    rows = db.execute(
        "SELECT seq, holder, msgid, time, author, author_sid, text, target, action, "
        "edited, notice FROM messages ORDER BY holder, seq"
    )
    messages = [
        MessageRow(seq, holder, msgid, time, author, sid, text,
                   target or names.get(holder, holder), bool(action), edited, bool(notice))
        for seq, holder, msgid, time, author, sid, text, target, action, edited, notice in rows
    ]  # fmt: skip
    sessions = [
        SessionRow(
            sid,
            nick,
            token_hash,
            tuple(chans.split(SEP)) if chans else (),
            last_channel,
            detached_at,
            _markers(markers),
            modes,
        )
        for sid, nick, token_hash, chans, last_channel, detached_at, markers, modes in (
            db.execute(
                "SELECT sid, nick, token_hash, channels, last_channel, detached_at, "
                "markers, modes FROM sessions ORDER BY sid"
            )
        )
    ]
    return Snapshot(
        boot=int(meta["boot"]),
        last_seq=int(meta.get("last_seq", 0)),
        last_sid=int(meta.get("last_sid", 0)),
        channels=channels,
        conversations=conversations,
        messages=messages,
        sessions=sessions,
    )


def _modes_text(row: ChannelRow) -> str:
    """A channel's modes as the ``modes`` column holds them: JSON, or '' for none. A key
    that is missing is that field's default (``excepts`` and ``invexes`` came later)."""
    modes: dict[str, object] = {}
    fields = ("created", "ops", "voiced", "passkey", "limit", "bans", "invited", "excepts",
              "invexes")  # fmt: skip
    for name in fields:
        value = getattr(row, name)
        if value:
            modes[name] = value
    if row.flags != "n":
        modes["flags"] = row.flags
    return json.dumps(modes, separators=(",", ":")) if modes else ""


def _channel_row(row: tuple[Any, ...]) -> ChannelRow:
    key, name, topic, setter, when, last_dropped_seq, text = row
    modes = json.loads(text) if text else {}
    return ChannelRow(
        key,
        name,
        topic,
        setter,
        when,
        last_dropped_seq,
        created=modes.get("created", 0.0),
        ops=tuple(modes.get("ops", ())),
        voiced=tuple(modes.get("voiced", ())),
        flags=modes.get("flags", "n"),
        passkey=modes.get("passkey"),
        limit=modes.get("limit"),
        bans=_masks(modes.get("bans", ())),
        invited=tuple(modes.get("invited", ())),
        excepts=_masks(modes.get("excepts", ())),
        invexes=_masks(modes.get("invexes", ())),
    )


def _masks(rows: list[list[str]]) -> tuple[tuple[str, str, str], ...]:
    """A mask list of the ``modes`` column (JSON lists) as (mask, setter, time)."""
    return tuple((mask, setter, when) for mask, setter, when in rows)


def write(db: sqlite3.Connection, ch: Changes) -> None:
    """The statements of one commit, in the order :class:`Changes` documents."""
    if ch.dropped_sessions:
        db.executemany("DELETE FROM sessions WHERE sid = ?", [(s,) for s in ch.dropped_sessions])
    if ch.dropped_channels:
        keys = [(k,) for k in ch.dropped_channels]
        db.executemany("DELETE FROM channels WHERE key = ?", keys)
        db.executemany("DELETE FROM messages WHERE holder = ?", keys)
    if ch.dropped_conversations:
        keys = [(k,) for k in ch.dropped_conversations]
        db.executemany("DELETE FROM conversations WHERE key = ?", keys)
        db.executemany("DELETE FROM messages WHERE holder = ?", keys)
    if ch.channels:
        db.executemany(
            "INSERT OR REPLACE INTO channels "
            "(key, name, topic, topic_setter, topic_time, last_dropped_seq, modes) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    r.key,
                    r.name,
                    r.topic,
                    r.topic_setter,
                    r.topic_time,
                    r.last_dropped_seq,
                    _modes_text(r),
                )
                for r in ch.channels
            ],
        )
    if ch.conversations:
        db.executemany(
            "INSERT OR REPLACE INTO conversations "
            "(key, sid_a, nick_a, sid_b, nick_b, last_dropped_seq) VALUES (?, ?, ?, ?, ?, ?)",
            [
                (r.key, r.sid_a, r.nick_a, r.sid_b, r.nick_b, r.last_dropped_seq)
                for r in ch.conversations
            ],
        )
    inserts: list[MessageRow] = []
    for item in ch.messages:
        if isinstance(item, int):
            if inserts:
                _insert(db, inserts)
                inserts = []
            db.execute("DELETE FROM messages WHERE seq = ?", (item,))
        else:
            inserts.append(item)
    if inserts:
        _insert(db, inserts)
    trims = [(r.key, r.last_dropped_seq) for r in ch.channels if r.last_dropped_seq]
    trims += [(r.key, r.last_dropped_seq) for r in ch.conversations if r.last_dropped_seq]
    if trims:
        db.executemany("DELETE FROM messages WHERE holder = ? AND seq <= ?", trims)
    if ch.sessions:
        db.executemany(
            "INSERT OR REPLACE INTO sessions "
            "(sid, nick, token_hash, channels, last_channel, detached_at, markers, modes) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    s.sid,
                    s.nick,
                    s.token_hash,
                    SEP.join(s.channels),
                    s.last_channel,
                    s.detached_at,
                    SEP.join(f"{key}={seq}" for key, seq in s.markers),
                    s.modes,
                )
                for s in ch.sessions
            ],
        )
    db.execute(
        "UPDATE meta SET value = max(value, CASE key WHEN 'last_seq' THEN ? ELSE ? END) "
        "WHERE key IN ('last_seq', 'last_sid')",
        (ch.last_seq, ch.last_sid),
    )


def _markers(text: str) -> tuple[tuple[str, int], ...]:
    """``key=seq key=seq`` (holder keys hold neither spaces nor ``=``) as pairs."""
    pairs = (item.partition("=") for item in text.split(SEP) if item)
    return tuple((key, int(seq)) for key, _, seq in pairs)


def _insert(db: sqlite3.Connection, rows: list[MessageRow]) -> None:
    """Insert (or replace, for an edit) messages, many rows per statement.

    One statement is one call into SQLite, during which Python's GIL is released; a
    statement per row (``executemany``) would give the GIL back and wait for it again for
    every message, and under load the event loop holds it for up to the switch interval
    each time. Statements come in a few fixed sizes (see :data:`INSERT_SIZES`), so SQLite's
    statement cache keeps each prepared.

    Most messages are plain (no ``/me``, no edit, not a NOTICE): they go in a statement of
    their own that binds only the first :data:`_PLAIN_FIELDS` fields and leaves the rest to
    the columns' defaults. Each value bound costs, and a Python ``bool`` costs several times
    an ``int`` (sqlite3 looks for an adapter for it): the plain rows bind eight values and
    no bool; the others bind all eleven, their flags as ints. The plain rows go first: a
    row with the same ``seq`` later in the batch is an edit, never plain, so the newest row
    of a message still wins.
    """
    plain = [row[:_PLAIN_FIELDS] for row in rows if row[_PLAIN_FIELDS:] == _PLAIN_TAIL]
    _insert_rows(db, _INSERT_PLAIN, plain)
    if len(plain) != len(rows):
        other = [
            (*row[:_PLAIN_FIELDS], int(row.action), row.edited, int(row.notice))
            for row in rows
            if row[_PLAIN_FIELDS:] != _PLAIN_TAIL
        ]
        _insert_rows(db, _INSERT_FULL, other)


def _insert_rows(
    db: sqlite3.Connection, statements: dict[int, str], rows: list[tuple[Any, ...]]
) -> None:
    start = 0
    for size in _sizes(len(rows)):
        db.execute(statements[size], list(chain.from_iterable(rows[start : start + size])))
        start += size


#: Rows per multi-row INSERT statement, largest first (11 parameters a row stays under
#: SQLite's limit of 32,766 parameters a statement).
INSERT_SIZES: Final = (256, 16, 1)
#: A plain message's fields: the first eight of a :class:`MessageRow`; the rest
#: (``action``, ``edited``, ``notice``) are then the columns' defaults.
_PLAIN_FIELDS: Final = 8
_PLAIN_TAIL: Final = (False, None, False)


def _insert_statements(columns: tuple[str, ...]) -> dict[int, str]:
    row = "(" + ", ".join("?" * len(columns)) + ")"
    head = f"INSERT OR REPLACE INTO messages ({', '.join(columns)}) VALUES "
    return {size: head + ",".join([row] * size) for size in INSERT_SIZES}


_INSERT_FULL: Final = _insert_statements(MessageRow._fields)
_INSERT_PLAIN: Final = _insert_statements(MessageRow._fields[:_PLAIN_FIELDS])


def _sizes(count: int) -> list[int]:
    """``count`` rows as statement sizes from :data:`INSERT_SIZES` (largest first)."""
    sizes = []
    for size in INSERT_SIZES:
        whole, count = divmod(count, size)
        sizes += [size] * whole
    return sizes

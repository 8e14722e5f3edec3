"""SqliteStore: flackd's state in one SQLite database in ``--data-dir``.

Owns: every line of SQL in flackd, the schema and its migrations, the data directory's
lock file, and turning SQLite's errors into :mod:`flackd.store` errors. Imports only the
standard library (``sqlite3``, ``fcntl``) and ``flackd.store``; never trio, never the hub.

Files in the data directory:

- ``flack.db`` (with ``flack.db-wal`` and ``flack.db-shm`` while open): the database, in
  WAL mode. ``PRAGMA user_version`` is the schema version, ``PRAGMA application_id``
  marks it as Flack's.
- ``flackd.lock``: held with ``flock`` while a flackd uses the directory, so a second
  flackd on the same directory is refused instead of corrupting it. It holds the pid.

Durability (``synchronous``): with ``normal`` (the default) a commit has reached the
operating system when :meth:`SqliteStore.commit` returns, so killing flackd (even with
``kill -9``) loses nothing committed; a power loss or kernel crash can lose the commits
since the last WAL checkpoint, never corrupt the database. With ``full`` each commit is
also flushed to the disk (one ``fsync`` per group commit), so a power loss loses nothing
committed either.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from itertools import chain
from pathlib import Path
from typing import Any, Final

from flackd.store import (
    Changes,
    ChannelRow,
    ConversationRow,
    MessageRow,
    SessionRow,
    Snapshot,
    StoreCorrupt,
    StoreError,
    StoreFull,
    StoreUnavailable,
)

__all__ = ["DB_NAME", "LOCK_NAME", "SCHEMA_VERSION", "SYNCHRONOUS", "SqliteStore"]

DB_NAME: Final = "flack.db"
LOCK_NAME: Final = "flackd.lock"
#: ``PRAGMA application_id`` of a Flack database ("Flck").
APPLICATION_ID: Final = 0x466C636B
#: The choices of ``--synchronous``.
SYNCHRONOUS: Final = ("normal", "full")

#: MIGRATIONS[n] takes a database from schema version n to n + 1. Version 0 is a new,
#: empty file. Add a step for every change; never edit a released one.
MIGRATIONS: Final[tuple[str, ...]] = (
    """
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE channels (
        key              TEXT PRIMARY KEY,
        name             TEXT NOT NULL,
        topic            TEXT NOT NULL,
        topic_setter     TEXT NOT NULL,
        topic_time       TEXT NOT NULL,
        last_dropped_seq INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE messages (
        seq        INTEGER PRIMARY KEY,
        channel    TEXT NOT NULL,
        msgid      TEXT NOT NULL,
        time       TEXT NOT NULL,
        author     TEXT NOT NULL,
        author_sid INTEGER NOT NULL,
        text       TEXT NOT NULL
    );
    CREATE INDEX messages_by_channel ON messages (channel, seq);
    CREATE TABLE sessions (
        sid          INTEGER PRIMARY KEY,
        nick         TEXT NOT NULL,
        token_hash   TEXT NOT NULL UNIQUE,
        channels     TEXT NOT NULL,
        last_channel TEXT,
        detached_at  REAL
    );
    """,
    # 2: direct-message conversations, edits, actions, read markers (protocol 1.1). A
    # message's holder is a folded channel name or a conversation key ("@1.2"); target
    # '' (rows from version 1) means the channel's name.
    """
    ALTER TABLE messages RENAME COLUMN channel TO holder;
    ALTER TABLE messages ADD COLUMN target TEXT NOT NULL DEFAULT '';
    ALTER TABLE messages ADD COLUMN action INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE messages ADD COLUMN edited TEXT;
    ALTER TABLE sessions ADD COLUMN markers TEXT NOT NULL DEFAULT '';
    CREATE TABLE conversations (
        key              TEXT PRIMARY KEY,
        sid_a            INTEGER NOT NULL,
        nick_a           TEXT NOT NULL,
        sid_b            INTEGER NOT NULL,
        nick_b           TEXT NOT NULL,
        last_dropped_seq INTEGER NOT NULL
    ) WITHOUT ROWID;
    """,
    # 3: channel operators and modes (protocol 1.2), one JSON object per channel ('' for
    # a channel with none: rows from version 2 have no operator, which rule 3 of
    # flackd/hub/modes.py handles), and NOTICE messages (notice = 1).
    """
    ALTER TABLE channels ADD COLUMN modes TEXT NOT NULL DEFAULT '';
    ALTER TABLE messages ADD COLUMN notice INTEGER NOT NULL DEFAULT 0;
    """,
    # 4: user modes (protocol 1.3): the letters a session has (o server operator, w,
    # B bot); '' for none, as every session from version 3 had.
    """
    ALTER TABLE sessions ADD COLUMN modes TEXT NOT NULL DEFAULT '';
    """,
)
SCHEMA_VERSION: Final = len(MIGRATIONS)

#: The WAL size (bytes) past which the checkpointer thread is asked to copy it into the
#: database, and the size past which a commit itself checkpoints (bounding the WAL when the
#: checkpointer cannot keep up because commits never pause).
WAL_CHECKPOINT_BYTES: Final = 4 << 20
WAL_HARD_BYTES: Final = 64 << 20
#: The oldest SQLite with what the schema's migrations use (``ALTER TABLE RENAME COLUMN``).
MIN_SQLITE: Final = (3, 25, 0)

#: Channel names never hold this character (they are # and ASCII letters, digits, _ and
#: -), so a session's channel list is stored as one string joined by it.
_SEP: Final = " "


class SqliteStore:
    """The durable store (see the module docstring). Open it with :meth:`open`."""

    def __init__(self, directory: Path, db: sqlite3.Connection, lock_fd: int) -> None:
        self.directory = directory
        self.where = str(directory / DB_NAME)
        self._db = db
        self._lock_fd = lock_fd
        self._wal = directory / (DB_NAME + "-wal")
        self._wal_bytes = 0
        #: With ``synchronous=full`` every commit waits for the disk: then it runs in a
        #: worker thread (see :class:`flackd.store.Store`).
        self.commit_in_thread = db.execute("PRAGMA synchronous").fetchone()[0] >= 2
        # Checkpoints (copying the WAL into the database, with its fsync) run in a thread of
        # their own on a connection of their own, so that a commit never waits for one.
        self._checkpoint_wanted = threading.Event()
        self._closing = False
        self._checkpointer = threading.Thread(
            target=self._checkpoint_loop, name="flackd-checkpoint", daemon=True
        )
        self._checkpointer.start()

    # -- opening ----------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        directory: str | os.PathLike[str],
        *,
        synchronous: str = "normal",
        max_bytes: int | None = None,
        boot: int | None = None,
    ) -> SqliteStore:
        """Open (creating on first use) the store in ``directory``.

        Raises :class:`StoreUnavailable` (or :class:`StoreCorrupt`) with a message for the
        operator: the directory cannot be made or written, another flackd holds it, the
        database is from a newer flackd, or it is damaged. ``boot`` fixes the message-id
        prefix of a new database (default: now, in Unix milliseconds).
        """
        if synchronous not in SYNCHRONOUS:
            raise ValueError(f"synchronous must be one of {', '.join(SYNCHRONOUS)}")
        if sqlite3.sqlite_version_info < MIN_SQLITE:
            raise StoreUnavailable(
                f"SQLite {sqlite3.sqlite_version} is too old for --data-dir (flackd needs "
                f"{'.'.join(map(str, MIN_SQLITE))} or newer)"
            )
        path = Path(directory)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreUnavailable(
                f"cannot create the data directory {path}: {exc.strerror or exc}"
            ) from None
        lock_fd = _lock(path)
        try:
            db = _connect(path / DB_NAME)
            try:
                _prepare(db, path / DB_NAME, synchronous, max_bytes, boot)
            except BaseException:
                db.close()
                raise
        except BaseException:
            os.close(lock_fd)
            raise
        return cls(path, db, lock_fd)

    # -- the Store interface ----------------------------------------------------------

    def load(self) -> Snapshot:
        db = self._db
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
                tuple(chans.split(_SEP)) if chans else (),
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

    def commit(self, changes: Changes) -> None:
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                _write(db, changes)
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise _store_error(exc, self.where) from exc
        try:
            wal = self._wal.stat().st_size
        except OSError:  # pragma: no cover - the WAL exists while the database is open
            return
        self._wal_bytes = wal
        if wal > WAL_CHECKPOINT_BYTES:
            self._checkpoint_wanted.set()

    def maintenance_due(self) -> bool:
        """The WAL passed :data:`WAL_HARD_BYTES`: the checkpointer thread's passive
        checkpoints could not reset it while commits kept coming."""
        return self._wal_bytes > WAL_HARD_BYTES

    def maintain(self) -> None:
        """Copy the whole WAL into the database and start it again (no commit runs
        meanwhile: the committer waits for this), so the WAL stays bounded."""
        with contextlib.suppress(sqlite3.Error):  # busy: the checkpointer is at it
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._wal_bytes = 0

    def _checkpoint_loop(self) -> None:
        """The checkpointer thread: a PASSIVE checkpoint whenever a commit asks for one."""
        db = sqlite3.connect(self.where, isolation_level=None, check_same_thread=False)
        try:
            while True:
                self._checkpoint_wanted.wait()
                self._checkpoint_wanted.clear()
                if self._closing:
                    return
                with contextlib.suppress(sqlite3.Error):
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            db.close()

    def close(self) -> None:
        """Checkpoint the WAL into the database file, close it and release the lock."""
        self._closing = True
        self._checkpoint_wanted.set()
        self._checkpointer.join()
        with contextlib.suppress(sqlite3.Error):
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._db.close()
        os.close(self._lock_fd)

    # -- operators' views -------------------------------------------------------------

    def backup(self, target: str | os.PathLike[str]) -> None:
        """Copy the database, consistent, into the file ``target`` while it is in use."""
        dest = sqlite3.connect(os.fspath(target))
        try:
            self._db.backup(dest)
        finally:
            dest.close()

    def size_bytes(self) -> int:
        """The database file plus its WAL, in bytes."""
        total = 0
        for name in (DB_NAME, DB_NAME + "-wal"):
            with contextlib.suppress(OSError):
                total += (self.directory / name).stat().st_size
        return total


# ---------------------------------------------------------------------------- helpers


def _lock(path: Path) -> int:
    """Take the directory's lock (non-blocking) and write our pid into it."""
    lock_path = path / LOCK_NAME
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise StoreUnavailable(
            f"cannot write in the data directory {path}: {exc.strerror or exc}"
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
        os.close(fd)
        raise StoreUnavailable(
            f"the data directory {path} is in use by another flackd (pid {holder}); "
            "stop it first, or give this one another --data-dir"
        ) from None
    except OSError as exc:  # pragma: no cover - a file system without locks
        os.close(fd)
        raise StoreUnavailable(f"cannot lock {lock_path}: {exc.strerror or exc}") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def _connect(file: Path) -> sqlite3.Connection:
    try:
        # isolation_level=None: we say BEGIN and COMMIT ourselves. check_same_thread=False:
        # commits may run in a worker thread; the committer never runs two calls at once.
        return sqlite3.connect(
            os.fspath(file), isolation_level=None, check_same_thread=False, timeout=0
        )
    except sqlite3.Error as exc:
        raise StoreUnavailable(f"cannot open {file}: {exc}") from None


def _prepare(
    db: sqlite3.Connection, file: Path, synchronous: str, max_bytes: int | None, boot: int | None
) -> None:
    """Check what the file is, set the pragmas, run the migrations, and check integrity."""
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        app_id = db.execute("PRAGMA application_id").fetchone()[0]
        tables = db.execute("SELECT count(*) FROM sqlite_schema").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise StoreCorrupt(
            f"{file} is damaged or is not a database ({exc}); move it aside and restore a "
            "backup (docs/operations.md, 'Backups'), or start with an empty --data-dir"
        ) from None
    if tables and app_id != APPLICATION_ID:
        raise StoreCorrupt(
            f"{file} is a database, but not flackd's; give flackd a directory of its own"
        )
    if version > SCHEMA_VERSION:
        raise StoreUnavailable(
            f"{file} was written by a newer flackd (schema version {version}; this flackd "
            f"knows up to {SCHEMA_VERSION}); run that flackd, or restore a backup made by "
            "this one"
        )
    try:
        mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode != "wal":  # pragma: no cover - a file system without shared memory
            raise StoreUnavailable(f"{file}: SQLite cannot use WAL mode here (got {mode})")
        db.execute(f"PRAGMA synchronous={synchronous.upper()}")
        db.execute("PRAGMA wal_autocheckpoint=0")  # the checkpointer thread does it
        db.execute(f"PRAGMA journal_size_limit={WAL_CHECKPOINT_BYTES}")
        if max_bytes is not None:
            page = db.execute("PRAGMA page_size").fetchone()[0]
            db.execute(f"PRAGMA max_page_count={max(1, max_bytes // page)}")
        if version < SCHEMA_VERSION:
            _migrate(db, version, boot)
        result = db.execute("PRAGMA quick_check").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        if isinstance(exc, sqlite3.OperationalError) and _code(exc) in _READONLY_CODES:
            raise StoreUnavailable(f"cannot write {file}: {exc}") from None
        if _code(exc) == sqlite3.SQLITE_FULL:
            raise StoreUnavailable(
                f"{file}: no room to open the database ({exc}); free disk space or raise "
                "--data-max-mib"
            ) from None
        raise StoreCorrupt(f"{file} is damaged ({exc}); restore a backup") from None
    if result != "ok":
        raise StoreCorrupt(f"{file} failed SQLite's integrity check ({result}); restore a backup")


def _migrate(db: sqlite3.Connection, version: int, boot: int | None) -> None:
    db.execute("BEGIN IMMEDIATE")
    try:
        for step in range(version, SCHEMA_VERSION):
            for statement in _statements(MIGRATIONS[step]):
                db.execute(statement)
        if version == 0:
            stamp = boot if boot is not None else _now_ms()
            db.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)",
                [("boot", stamp), ("last_seq", 0), ("last_sid", 0)],
            )
            db.execute(f"PRAGMA application_id={APPLICATION_ID}")
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def _statements(script: str) -> Iterator[str]:
    """The statements of a migration script (they hold no semicolons inside)."""
    for part in script.split(";"):
        if part.strip():
            yield part


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


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


def _write(db: sqlite3.Connection, ch: Changes) -> None:
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
                    _SEP.join(s.channels),
                    s.last_channel,
                    s.detached_at,
                    _SEP.join(f"{key}={seq}" for key, seq in s.markers),
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
    pairs = (item.partition("=") for item in text.split(_SEP) if item)
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


_READONLY_CODES: Final = frozenset(
    {sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM}
)


def _code(exc: sqlite3.Error) -> int:
    return int(getattr(exc, "sqlite_errorcode", 0)) & 0xFF  # the primary result code


def _store_error(exc: sqlite3.Error, where: str) -> StoreError:
    code = _code(exc)
    if code == sqlite3.SQLITE_FULL:
        return StoreFull(f"{where} is full: {exc}")
    return StoreError(f"{where}: {exc}")

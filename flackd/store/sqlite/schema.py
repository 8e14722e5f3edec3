"""Opening flackd's SQLite database: the data directory's lock, what the file must be,
its pragmas, and the schema with its migrations.

Owns: :data:`MIGRATIONS` (the schema, one step per version; never edit a released one),
the lock file (``flock``, so a second flackd on the same directory is refused), the
checks of an existing file (Flack's ``application_id``, not from a newer flackd, SQLite's
quick check) with an error for the operator for each, and SQLite's result codes. Part of
:mod:`flackd.store.sqlite`; imports only the standard library and ``flackd.store``.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from flackd.store import StoreCorrupt, StoreUnavailable

__all__ = [
    "APPLICATION_ID",
    "LOCK_NAME",
    "MIGRATIONS",
    "MIN_SQLITE",
    "READONLY_CODES",
    "SCHEMA_VERSION",
    "WAL_CHECKPOINT_BYTES",
    "connect",
    "error_code",
    "lock_directory",
    "prepare",
]

LOCK_NAME: Final = "flackd.lock"
#: ``PRAGMA application_id`` of a Flack database ("Flck").
APPLICATION_ID: Final = 0x466C636B

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
#: database (and the size ``journal_size_limit`` keeps it to).
WAL_CHECKPOINT_BYTES: Final = 4 << 20
#: The oldest SQLite with what the schema's migrations use (``ALTER TABLE RENAME COLUMN``).
MIN_SQLITE: Final = (3, 25, 0)


def lock_directory(path: Path) -> int:
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


def connect(file: Path) -> sqlite3.Connection:
    try:
        # isolation_level=None: we say BEGIN and COMMIT ourselves. check_same_thread=False:
        # commits may run in a worker thread; the committer never runs two calls at once.
        return sqlite3.connect(
            os.fspath(file), isolation_level=None, check_same_thread=False, timeout=0
        )
    except sqlite3.Error as exc:
        raise StoreUnavailable(f"cannot open {file}: {exc}") from None


def prepare(
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
        if isinstance(exc, sqlite3.OperationalError) and error_code(exc) in READONLY_CODES:
            raise StoreUnavailable(f"cannot write {file}: {exc}") from None
        if error_code(exc) == sqlite3.SQLITE_FULL:
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


READONLY_CODES: Final = frozenset(
    {sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM}
)


def error_code(exc: sqlite3.Error) -> int:
    return int(getattr(exc, "sqlite_errorcode", 0)) & 0xFF  # the primary result code

"""SqliteStore: flackd's state in one SQLite database in ``--data-dir``.

Owns: every line of SQL in flackd, in this package and nowhere else: here the store
itself (opening, commits, the checkpointer thread, backups, SQLite's errors as
:mod:`flackd.store` errors); in :mod:`~flackd.store.sqlite.schema` the data directory's
lock, the file's checks, the schema and its migrations; in
:mod:`~flackd.store.sqlite.rows` the rows read and written. Imports only the standard
library (``sqlite3``, ``fcntl``) and ``flackd.store``; never trio, never the hub.

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
import os
import sqlite3
import threading
from pathlib import Path
from typing import Final

from flackd.store import Changes, Snapshot, StoreError, StoreFull, StoreUnavailable
from flackd.store.sqlite.rows import read, write
from flackd.store.sqlite.schema import (
    LOCK_NAME,
    MIGRATIONS,
    MIN_SQLITE,
    SCHEMA_VERSION,
    WAL_CHECKPOINT_BYTES,
    connect,
    error_code,
    lock_directory,
    prepare,
)

__all__ = [
    "DB_NAME",
    "LOCK_NAME",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "SYNCHRONOUS",
    "WAL_HARD_BYTES",
    "SqliteStore",
]

DB_NAME: Final = "flack.db"
#: The choices of ``--synchronous``.
SYNCHRONOUS: Final = ("normal", "full")
#: The WAL size past which a commit itself checkpoints (bounding the WAL when the
#: checkpointer thread cannot keep up because commits never pause; see
#: :data:`~flackd.store.sqlite.schema.WAL_CHECKPOINT_BYTES`).
WAL_HARD_BYTES: Final = 64 << 20


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
        lock_fd = lock_directory(path)
        try:
            db = connect(path / DB_NAME)
            try:
                prepare(db, path / DB_NAME, synchronous, max_bytes, boot)
            except BaseException:
                db.close()
                raise
        except BaseException:
            os.close(lock_fd)
            raise
        return cls(path, db, lock_fd)

    # -- the Store interface ----------------------------------------------------------

    def load(self) -> Snapshot:
        return read(self._db)

    def commit(self, changes: Changes) -> None:
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                write(db, changes)
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


def _store_error(exc: sqlite3.Error, where: str) -> StoreError:
    code = error_code(exc)
    if code == sqlite3.SQLITE_FULL:
        return StoreFull(f"{where} is full: {exc}")
    return StoreError(f"{where}: {exc}")

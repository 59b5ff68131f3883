"""One SQLite connection and its transactions: what every part of the store builds on.

:class:`Connection` opens the file (WAL, pragmas), brings the schema up to
date (:mod:`litmine.store.schema`), turns sqlite3 errors into one-line
:class:`~litmine.errors.StoreError` messages with a hint, and opens
transactions (nested ones join through savepoints). The per-concern mixins of
:class:`~litmine.store.Store` subclass it and use ``self._conn`` inside
``self.transaction()`` / ``self._errors()``.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Self

from litmine.clock import utc_now
from litmine.errors import StoreError
from litmine.store import schema

if TYPE_CHECKING:
    from litmine.config import Settings

__all__ = ["IN_CHUNK", "NO_LIMIT", "Connection", "marks"]

IN_CHUNK = 500
"""Keys per statement when a list is sent as ``IN (?, ?, ...)``.

Below every SQLite build's variable limit (999 on old ones) and PostgreSQL's.
"""


NO_LIMIT = 2**62
"""``LIMIT`` meaning "all rows" in both dialects (SQLite's ``-1`` is an error in PostgreSQL)."""


def marks(n: int) -> str:
    """``n`` comma-separated ``?`` placeholders."""
    return ", ".join("?" * n)


class Connection:
    """An open litmine database: connection, schema check and transactions.

    Args:
        path: Database file; created (with its folder) unless ``read_only``.
        read_only: Open without write access; fails if the file is missing or
            its schema needs upgrading.
        timeout: Seconds to wait for another process's write lock.

    Raises:
        StoreError: The file can't be opened, isn't a litmine database, or was
            written by a newer litmine.
    """

    def __init__(self, path: str | Path, *, read_only: bool = False, timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self._savepoints = 0
        self._conn = self._connect(timeout)
        try:
            self._prepare_schema()
        except BaseException:
            self._conn.close()
            raise

    @classmethod
    def open(cls, settings: Settings, *, read_only: bool = False) -> Self:
        """Open the store in ``settings.data_dir``, creating the folder if needed.

        Args:
            settings: Settings whose ``db_path`` names the database.
            read_only: Open without write access.

        Returns:
            The open store.
        """
        if not read_only:
            try:
                settings.data_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"cannot create the data folder {settings.data_dir}: {exc.strerror}",
                    "check the path and its permissions, or set LITMINE_DATA_DIR",
                ) from exc
        return cls(settings.db_path, read_only=read_only)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r}, read_only={self.read_only})"

    def close(self) -> None:
        """Close the connection; further calls raise :class:`StoreError`."""
        try:
            if not self.read_only:
                # SQLite-specific: refresh planner statistics cheaply, as advised
                # for long-lived connections before closing.
                self._conn.execute("PRAGMA optimize")
        except sqlite3.Error:
            pass  # closing must not fail because statistics could not be saved
        finally:
            self._conn.close()

    # ---------------------------------------------------------------- plumbing

    def _connect(self, timeout: float) -> sqlite3.Connection:
        try:
            if self.read_only:
                if not self.path.is_file():
                    raise StoreError(
                        f"no litmine database at {self.path}",
                        "ingest something first, or point --data-dir / LITMINE_DATA_DIR at it",
                    )
                uri = f"{self.path.resolve().as_uri()}?mode=ro"
                conn = sqlite3.connect(
                    uri, uri=True, timeout=timeout, isolation_level=None, check_same_thread=False
                )
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(
                    self.path, timeout=timeout, isolation_level=None, check_same_thread=False
                )
        except OSError as exc:
            raise StoreError(
                f"cannot create the folder of {self.path}: {exc.strerror}",
                "check the path and its permissions",
            ) from exc
        except sqlite3.Error as exc:
            raise self._translate(exc) from exc
        try:
            # SQLite-specific connection settings. Autocommit mode
            # (isolation_level=None) so transactions are exactly the ones
            # transaction() opens.
            conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            conn.execute("PRAGMA foreign_keys = ON")
            if not self.read_only:
                # Takes effect only when the file is created. 16 KiB pages cut
                # the store's CPU per bulk-ingested record by about 12% against
                # the 4 KiB default (fewer B-tree splits and page writes).
                conn.execute("PRAGMA page_size = 16384")
                mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
                if str(mode).lower() != "wal":
                    conn.execute("PRAGMA journal_mode = WAL")
            else:
                conn.execute("PRAGMA query_only = ON")
            # NORMAL is durable in WAL mode except for the last commits on power loss.
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA temp_store = MEMORY")
            conn.execute("PRAGMA cache_size = -32768")  # 32 MiB page cache
        except sqlite3.Error as exc:
            conn.close()
            raise self._translate(exc) from exc
        return conn

    def _translate(self, exc: sqlite3.Error) -> StoreError:
        """Map a sqlite3 error to a one-line :class:`StoreError` with a hint."""
        text = str(exc)
        low = text.lower()
        code = getattr(exc, "sqlite_errorcode", None)
        primary = code & 0xFF if isinstance(code, int) else None
        path = self.path
        # SQLite-specific result codes: BUSY=5 LOCKED=6 READONLY=8 IOERR=10
        # CORRUPT=11 FULL=13 CANTOPEN=14 NOTADB=26.
        if primary in (5, 6) or "locked" in low:
            return StoreError(
                f"database {path} is locked", "another litmine process is writing; retry or wait"
            )
        if primary in (11, 26) or "malformed" in low or "not a database" in low:
            return StoreError(
                f"database {path} is corrupt or not a SQLite file ({text})",
                f"move {path} aside and ingest again, or restore it from a backup",
            )
        if primary == 8 or "readonly" in low:
            return StoreError(
                f"database {path} cannot be written ({text})",
                "check the permissions of the file and its folder (and that the disk is "
                "not mounted read-only)",
            )
        if primary == 13:
            return StoreError(f"disk full while writing {path}", "free some disk space and retry")
        if primary == 14:
            return StoreError(
                f"cannot open database {path} ({text})",
                "check that the folder exists and is readable and writable",
            )
        if primary == 10:
            return StoreError(
                f"I/O error on database {path} ({text})", "check the disk and the file system"
            )
        if isinstance(exc, sqlite3.ProgrammingError) and "closed" in low:
            return StoreError(f"the store {path} is closed", "open it again")
        return StoreError(f"database error on {path}: {text}")

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise self._translate(exc) from exc

    def _read_version(self) -> int:
        # SQLite-specific catalogue query (information_schema on PostgreSQL).
        tables = {
            row[0]
            for row in self._conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        if "schema_migrations" not in tables:
            if any(not name.startswith("sqlite_") for name in tables):
                raise StoreError(
                    f"{self.path} is not a litmine database",
                    "point --data-dir / LITMINE_DATA_DIR at a litmine data folder",
                )
            return 0
        row = self._conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
        return int(row[0] or 0)

    def _prepare_schema(self) -> None:
        with self._errors():
            current = self._read_version()
            self._check_not_newer(current)
            if current == schema.SCHEMA_VERSION:
                return
            if self.read_only:
                raise StoreError(
                    f"database {self.path} has schema version {current}; this litmine needs "
                    f"{schema.SCHEMA_VERSION}",
                    "open it once without read-only access to upgrade it",
                )
            with self.transaction():
                self._conn.execute(schema.BOOTSTRAP)
                # Re-read under the write lock: another process may have migrated.
                current = self._read_version()
                self._check_not_newer(current)
                for step in schema.MIGRATIONS:
                    if step.version <= current:
                        continue
                    for statement in step.statements:
                        self._conn.execute(statement)
                    self._conn.execute(
                        "INSERT INTO schema_migrations (version, description, applied_at) "
                        "VALUES (?, ?, ?)",
                        (step.version, step.description, utc_now()),
                    )
                # SQLite-specific: mirror the version where sqlite tools look for it.
                self._conn.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION}")

    def _check_not_newer(self, version: int) -> None:
        if version > schema.SCHEMA_VERSION:
            raise StoreError(
                f"database {self.path} has schema version {version}, newer than this litmine "
                f"understands ({schema.SCHEMA_VERSION})",
                "upgrade litmine (pip install -U litmine) to use this data folder",
            )

    @property
    def schema_version(self) -> int:
        """Schema version of the open database."""
        with self._errors():
            return self._read_version()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes into one atomic transaction.

        Takes the write lock up front (``BEGIN IMMEDIATE``) so a busy database
        fails here, not halfway. Inside an open transaction this joins it
        through a savepoint: an exception escaping the inner block undoes only
        the inner block's writes, and nothing is committed until the outermost
        block ends.

        Raises:
            StoreError: The store is read-only or the database is locked.
        """
        if self.read_only:
            raise StoreError(
                f"the store {self.path} is open read-only", "open it without read_only to write"
            )
        conn = self._conn
        if conn.in_transaction:
            name = f"litmine_{self._savepoints + 1}"
            with self._errors():
                conn.execute(f"SAVEPOINT {name}")
            self._savepoints += 1
            try:
                yield
            except BaseException:
                # A fatal SQLite error may already have rolled everything back;
                # then there is no savepoint left and the original error matters.
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute(f"ROLLBACK TO {name}")
                        conn.execute(f"RELEASE {name}")
                raise
            else:
                with self._errors():
                    conn.execute(f"RELEASE {name}")
            finally:
                self._savepoints -= 1
            return
        with self._errors():
            conn.execute("BEGIN IMMEDIATE")  # SQLite-specific: take the write lock now
        try:
            yield
            with self._errors():
                conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                # The original error matters more; SQLite rolls back on close anyway.
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            raise

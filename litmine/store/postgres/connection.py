"""PostgreSQL plumbing: the pool, the dialect adapter, transactions, errors, schema check.

:class:`PgConnection` replaces the SQLite
:class:`~litmine.store.connection.Connection` under the same mixins. The
mixins' SQL is written once (``?`` placeholders, portable SQL); the few
SQLite spellings left in it are rewritten by :func:`to_pg` (like a dialect
compiler), and what really differs (COPY loads, tsvector search, counts)
lives in the sibling modules.

Connections come from a :class:`psycopg_pool.ConnectionPool` per URL and
access mode, shared by the stores of one process. A store holds one
connection while open; when the server drops it, the next call takes a
fresh one from the pool (a read outside a transaction is retried once), so
a long-running ``litmine serve`` recovers after the server returns.

Writers serialise on one transaction-scoped advisory lock taken by the
outermost :meth:`PgConnection.transaction`: under READ COMMITTED every
statement after the lock sees every earlier writer's commit, so the
read-decide-write upsert (PMID + version, content hash) is exactly as
correct as SQLite's ``BEGIN IMMEDIATE``. Readers never wait.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Self

from litmine.errors import StoreError
from litmine.store.connection import Connection
from litmine.store.postgres import schema
from litmine.store.url import StoreUnavailableError, mask_url, scrub_secrets

if TYPE_CHECKING:
    import psycopg
    import psycopg_pool

    from litmine.config import Settings

__all__ = ["MIGRATION_LOCK", "WRITE_LOCK", "PgConnection", "one", "to_pg"]

WRITE_LOCK = 0x6C69746D696E6501
"""Advisory lock key every write transaction takes (serialises writers, not readers)."""
MIGRATION_LOCK = 0x6C69746D696E6502
"""Advisory lock key ``litmine db migrate`` takes (two migrations never interleave)."""

_JSON_EACH = re.compile(r"json_each\(\?\)")
_GROUP_CONCAT = re.compile(r"GROUP_CONCAT\(([^()]*)\)")


@functools.lru_cache(maxsize=512)
def to_pg(sql: str) -> str:
    """Rewrite the store's portable SQL for psycopg.

    ``?`` placeholders become ``%s`` (a literal ``%`` is doubled), and the two
    SQLite spellings the shared mixins use become PostgreSQL's:
    ``json_each(?)`` (a JSON list parameter as a table with a ``value``
    column) and ``GROUP_CONCAT(x)``.

    Args:
        sql: A statement as the SQLite store writes it.

    Returns:
        The statement for psycopg.
    """
    sql = _JSON_EACH.sub("json_array_elements_text(?::json)", sql)
    sql = _GROUP_CONCAT.sub(r"string_agg(\1, ',')", sql)
    return sql.replace("%", "%%").replace("?", "%s")


def one(cursor: psycopg.Cursor[Any]) -> Any:
    """The single row an aggregate query returns."""
    row = cursor.fetchone()
    assert row is not None, "an aggregate query returned no row"
    return row


# ---------------------------------------------------------------- pools


class _Pools:
    """Process-wide pools by (URL, read-only), closed when their last store closes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pools: dict[tuple[int, str, bool], tuple[psycopg_pool.ConnectionPool, int]] = {}

    def acquire(
        self, url: str, read_only: bool, max_size: int, timeout: float
    ) -> psycopg_pool.ConnectionPool:
        from psycopg_pool import ConnectionPool

        _quiet_pool_log()
        # Keyed by pid too: a forked worker must not share its parent's sockets.
        key = (os.getpid(), url, read_only)
        with self._lock:
            entry = self._pools.get(key)
            if entry is None:
                pool = ConnectionPool(
                    url,
                    min_size=1,
                    max_size=max(1, max_size),
                    timeout=timeout,
                    kwargs={"autocommit": True, "connect_timeout": max(1, int(timeout))},
                    configure=_read_only_session if read_only else None,
                    check=ConnectionPool.check_connection,
                    name=f"litmine-{'ro' if read_only else 'rw'}",
                    open=True,
                )
                entry = (pool, 0)
            self._pools[key] = (entry[0], entry[1] + 1)
            return entry[0]

    def release(self, pool: psycopg_pool.ConnectionPool) -> None:
        with self._lock:
            for key, (p, users) in list(self._pools.items()):
                if p is pool:
                    if users > 1:
                        self._pools[key] = (p, users - 1)
                        return
                    del self._pools[key]
                    break
        pool.close()

    def close_all(self) -> None:
        with self._lock:
            pools = [p for (pid, _, _), (p, _) in self._pools.items() if pid == os.getpid()]
            self._pools.clear()
        for pool in pools:
            pool.close()


def _read_only_session(conn: psycopg.Connection[Any]) -> None:
    conn.execute("SET default_transaction_read_only = on")


POOLS = _Pools()
atexit.register(POOLS.close_all)


def _quiet_pool_log() -> None:
    """Keep the pool's reconnect warnings off the terminal; the store raises one clear error.

    Python's last-resort handler would print each failed background connect
    attempt; a NullHandler stops that while ``litmine -v`` handlers still apply.
    """
    import logging

    logger = logging.getLogger("psycopg.pool")
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())


# ---------------------------------------------------------------- adapter


class _Dialect:
    """What the mixins call ``self._conn``: sqlite3's ``execute``/``executemany`` on psycopg."""

    def __init__(self, owner: PgConnection) -> None:
        self._owner = owner

    def execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor[Any]:
        import psycopg

        owner = self._owner
        conn = owner._connection()
        try:
            return conn.execute(to_pg(sql), tuple(params))
        except psycopg.OperationalError:
            # A dead pooled connection (server restarted): outside a
            # transaction nothing is lost, so take a fresh one and retry once.
            if owner._depth or not conn.broken:
                raise
            owner._drop_connection()
            return owner._connection().execute(to_pg(sql), tuple(params))

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> psycopg.Cursor[Any]:
        cur = self._owner._connection().cursor()
        rows = list(rows)
        if rows:
            cur.executemany(to_pg(sql), rows)
        return cur


class PgConnection(Connection):
    """An open litmine database on a PostgreSQL server.

    Args:
        url: ``postgresql://`` URL (may hold a password; never printed unmasked).
        read_only: Open without write access (every session is read-only).
        pool_size: Most connections the process keeps to this server.
        timeout: Seconds to wait for a connection (server down: then fail).

    Raises:
        StoreError: The server is unreachable, the database has no litmine
            schema or an older one (run ``litmine db migrate``), or a newer one.
    """

    def __init__(
        self, url: str, *, read_only: bool = False, pool_size: int = 4, timeout: float = 10.0
    ) -> None:
        from pathlib import Path

        self.url = url
        self.display_url = mask_url(url)
        # ``path`` is what the shared messages name; here it is the masked URL.
        self.path = Path(self.display_url)
        self.read_only = read_only
        self._savepoints = 0
        self._depth = 0
        self._held: psycopg.Connection[Any] | None = None
        self._closed = False
        self._dialect = _Dialect(self)
        try:
            self._pool = POOLS.acquire(url, read_only, pool_size, timeout)
        except Exception as exc:  # psycopg_pool refuses a malformed conninfo
            raise StoreError(
                f"cannot use the store URL {self.display_url}: "
                f"{scrub_secrets(str(exc)).splitlines()[0]}",
                "check store.url (LITMINE_STORE_URL)",
            ) from None
        try:
            self._prepare_schema()
        except BaseException:
            self.close()
            raise

    @classmethod
    def open(cls, settings: Settings, *, read_only: bool = False) -> Self:
        """Open the PostgreSQL store named by ``settings.store.url``."""
        from litmine.store.url import store_location

        location = store_location(settings)
        if not location.is_postgres:
            raise StoreError(
                f"{location.display} is not a PostgreSQL URL", "use litmine.store.open_store"
            )
        cfg = settings.store
        return cls(
            location.url,
            read_only=read_only,
            pool_size=cfg.pool_size,
            timeout=cfg.connect_timeout,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.display_url!r}, read_only={self.read_only})"

    @property
    def _conn(self) -> _Dialect:  # type: ignore[override]
        return self._dialect

    def _connection(self) -> psycopg.Connection[Any]:
        if self._closed:
            raise StoreError(f"the store {self.display_url} is closed", "open it again")
        held = self._held
        if held is not None and (held.closed or held.broken):
            if self._depth:
                # Never carry on a half-done transaction on another connection.
                raise StoreUnavailableError(
                    f"lost the connection to {self.display_url} inside a transaction",
                    "the transaction was rolled back; retry when the server is back",
                )
            self._drop_connection()
            held = None
        if held is None:
            from psycopg_pool import PoolTimeout

            try:
                held = self._held = self._pool.getconn()
            except PoolTimeout:
                raise self._why_no_connection() from None
        return held

    def _why_no_connection(self) -> StoreError:
        """Why the pool had no connection to give: the server's own reason, if it has one.

        The pool only says it timed out; one direct attempt tells a server that
        is down from a wrong password or a missing database.
        """
        import psycopg

        try:
            with psycopg.connect(self.url, connect_timeout=2):
                pass
        except psycopg.Error as exc:
            reason = scrub_secrets(str(exc)).strip().splitlines()
            first = reason[0] if reason else type(exc).__name__
            if "password authentication failed" in first or "does not exist" in first:
                return StoreError(
                    f"cannot log in to {self.display_url} ({first})",
                    "check the user, password and database name in store.url (LITMINE_STORE_URL)",
                )
            return StoreUnavailableError(
                f"database server {self.display_url} is unavailable ({first})",
                "check that the PostgreSQL server is running and reachable; retry when it is back",
            )
        return StoreUnavailableError(
            f"no free connection to {self.display_url} within the timeout",
            "raise store.pool_size or store.connect_timeout, or retry",
        )

    def _drop_connection(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            # The pool discards a broken one; giving back must never mask the real error.
            with contextlib.suppress(Exception):
                self._pool.putconn(held)

    def close(self) -> None:
        """Give the connection back to the pool; further calls raise :class:`StoreError`."""
        if self._closed:
            return
        self._closed = True
        self._drop_connection()
        POOLS.release(self._pool)

    # ---------------------------------------------------------------- errors

    def _translate(self, exc: BaseException) -> StoreError:
        """Map a psycopg (or pool) error to a one-line :class:`StoreError`, password masked."""
        import psycopg
        from psycopg import errors as pe

        text = scrub_secrets(str(exc)).strip().splitlines()
        first = text[0] if text else type(exc).__name__
        where = self.display_url
        if isinstance(exc, psycopg.OperationalError) and not isinstance(
            exc, pe.QueryCanceled | pe.LockNotAvailable
        ):
            return StoreUnavailableError(
                f"database server {where} is unavailable ({first})",
                "check that the PostgreSQL server is running and reachable; retry when it is back",
            )
        if isinstance(exc, pe.ReadOnlySqlTransaction):
            return StoreError(
                f"the store {where} is open read-only ({first})", "open it without read_only"
            )
        if isinstance(exc, pe.InsufficientPrivilege):
            return StoreError(
                f"permission denied on {where} ({first})",
                "grant the litmine role rights on the database, or use another login",
            )
        if isinstance(exc, pe.UndefinedTable):
            return StoreError(
                f"database {where} lacks a litmine table ({first})",
                "run `litmine db migrate` against it",
            )
        if isinstance(exc, pe.QueryCanceled | pe.LockNotAvailable):
            return StoreError(
                f"database {where} is busy ({first})", "another writer holds the lock; retry"
            )
        if isinstance(exc, psycopg.InterfaceError) and "closed" in first.lower():
            return StoreError(f"the store {where} is closed", "open it again")
        return StoreError(f"database error on {where}: {first}")

    @contextmanager
    def _errors(self) -> Iterator[None]:
        import psycopg

        try:
            yield
        except psycopg.Error as exc:
            raise self._translate(exc) from None

    # ---------------------------------------------------------------- schema

    def _read_version(self) -> int:
        conn = self._connection()
        (exists,) = one(conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL"))
        if not exists:
            (n,) = one(
                conn.execute("SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema()")
            )
            if n:
                raise StoreError(
                    f"database {self.display_url} is not a litmine database (it has other tables)",
                    "point store.url at an empty database, or at one `litmine db migrate` created",
                )
            return 0
        (version,) = one(conn.execute("SELECT MAX(version) FROM schema_migrations"))
        return int(version or 0)

    def _prepare_schema(self) -> None:
        with self._errors():
            current = self._read_version()
        if current > schema.SCHEMA_VERSION:
            raise StoreError(
                f"database {self.display_url} has schema version {current}, newer than this "
                f"litmine understands ({schema.SCHEMA_VERSION})",
                "upgrade litmine (pip install -U litmine) on this machine",
            )
        if current < schema.SCHEMA_VERSION:
            what = "no litmine schema" if current == 0 else f"schema version {current}"
            raise StoreError(
                f"database {self.display_url} has {what}; this litmine needs version "
                f"{schema.SCHEMA_VERSION}",
                "run `litmine db migrate` once (migrations never run by themselves on a "
                "shared server)",
            )

    @property
    def schema_version(self) -> int:
        """Schema version of the open database."""
        with self._errors():
            return self._read_version()

    # ---------------------------------------------------------------- transactions

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes into one atomic transaction (nested blocks join via savepoints).

        The outermost block takes the store's write lock (an advisory lock)
        first, so concurrent writers queue here, not halfway.

        Raises:
            StoreError: The store is read-only or the server is unavailable.
        """
        if self.read_only:
            raise StoreError(
                f"the store {self.display_url} is open read-only",
                "open it without read_only to write",
            )
        with self._errors():
            conn = self._connection()
            with conn.transaction():
                if self._depth == 0:
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1

"""The PostgreSQL store: one database several machines ingest, search and serve against.

:class:`PostgresStore` implements :class:`~litmine.store.protocol.StoreProtocol`
with the same mixins as the SQLite :class:`~litmine.store.Store` (it is a
subclass of it), on a pooled psycopg 3 connection; only the SQL that differs
is its own (Prefect's server keeps one code path for two dialects the same way):

    ``connection``  pool, dialect rewrite of the shared SQL, errors (passwords
                    masked), write lock, schema check (never migrates)
    ``schema``      the migrations, same version numbers as SQLite's
    ``writes``      COPY loads of articles, filter rows and passages
    ``queries``     tsvector search, counts, integrity check, bookkeeping

:func:`migrate` (``litmine db migrate``) is the only code that changes the
schema; opening an outdated database fails with a hint to run it.
Importing this package does not import psycopg.
"""

from __future__ import annotations

from typing import Any

from litmine.clock import utc_now
from litmine.errors import StoreError
from litmine.store.migrate import MigrationPlan
from litmine.store.postgres import schema
from litmine.store.postgres.connection import MIGRATION_LOCK, PgConnection, one
from litmine.store.postgres.queries import PgQueriesMixin
from litmine.store.postgres.writes import PgWritesMixin
from litmine.store.sqlite import Store
from litmine.store.url import StoreUnavailableError, mask_url, scrub_secrets

__all__ = ["MigrationPlan", "PostgresStore", "migrate", "schema_status"]


class PostgresStore(PgWritesMixin, PgQueriesMixin, PgConnection, Store):
    """The litmine database on a PostgreSQL server.

    Any number of processes and machines may read and write at once: writers
    queue on the store's write lock transaction by transaction, readers never
    wait. A store may be handed between threads but must not be used by two
    threads at once (like the SQLite one).

    Args:
        url: ``postgresql://user[:password]@host[:port]/db``.
        read_only: Open read-only sessions.
        pool_size: Most connections this process keeps to the server.
        timeout: Seconds to wait for a connection.

    Raises:
        StoreError: Server unreachable (:class:`~litmine.store.url.StoreUnavailableError`),
            no litmine schema or an older one (run ``litmine db migrate``), or
            a newer one.
    """


def _implements_protocol(store: PostgresStore) -> Any:
    """Never called: mypy checks here that :class:`PostgresStore` satisfies the protocol."""
    from litmine.store.protocol import StoreProtocol

    checked: StoreProtocol = store
    return checked


def _connect(url: str, timeout: float) -> Any:
    import psycopg

    try:
        return psycopg.connect(url, connect_timeout=max(1, int(timeout)))
    except psycopg.OperationalError as exc:
        text = scrub_secrets(str(exc)).strip().splitlines()
        raise StoreUnavailableError(
            f"cannot connect to {mask_url(url)} ({text[0] if text else 'no reason given'})",
            "check that the server is running and the URL, user and password are right",
        ) from None
    except psycopg.ProgrammingError as exc:  # malformed conninfo
        raise StoreError(
            f"cannot use the store URL {mask_url(url)}: {scrub_secrets(str(exc))}",
            "check store.url (LITMINE_STORE_URL)",
        ) from None


def _version(conn: Any) -> int:
    (exists,) = one(conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL"))
    if not exists:
        (n,) = one(
            conn.execute("SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema()")
        )
        if n:
            raise StoreError(
                "the database has tables but no litmine schema history",
                "point store.url at an empty database or an existing litmine one",
            )
        return 0
    (version,) = one(conn.execute("SELECT MAX(version) FROM schema_migrations"))
    return int(version or 0)


def schema_status(url: str, *, timeout: float = 10.0) -> MigrationPlan:
    """The database's schema version and the steps ``litmine db migrate`` would apply.

    Raises:
        StoreError: The server is unreachable or the database is not litmine's.
    """
    import psycopg

    with _connect(url, timeout) as conn:
        try:
            current = _version(conn)
        except psycopg.Error as exc:
            raise StoreError(
                f"cannot read the schema of {mask_url(url)}: {scrub_secrets(str(exc))}"
            ) from None
    return MigrationPlan(
        "postgresql",
        mask_url(url),
        current,
        schema.SCHEMA_VERSION,
        [m for m in schema.MIGRATIONS if m.version > current],
    )


def migrate(url: str, *, dry_run: bool = False, timeout: float = 10.0) -> MigrationPlan:
    """Bring a PostgreSQL database's schema up to this litmine's version.

    Runs every pending step in one transaction under an advisory lock, so two
    machines migrating at once apply each step once; a failure leaves the
    schema as it was.

    Args:
        url: The database URL.
        dry_run: Only report what would be applied.
        timeout: Seconds to wait for the connection.

    Returns:
        The plan, with ``applied`` set when steps ran.

    Raises:
        StoreError: Unreachable server, a database that is not litmine's, one
            newer than this litmine, or a failing statement.
    """
    import psycopg

    if dry_run:
        return schema_status(url, timeout=timeout)
    with _connect(url, timeout) as conn:
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
                current = _version(conn)
                if current > schema.SCHEMA_VERSION:
                    raise StoreError(
                        f"database {mask_url(url)} has schema version {current}, newer than "
                        f"this litmine understands ({schema.SCHEMA_VERSION})",
                        "upgrade litmine on this machine",
                    )
                pending = [m for m in schema.MIGRATIONS if m.version > current]
                conn.execute(schema.BOOTSTRAP)
                for step in pending:
                    for statement in step.statements:
                        conn.execute(statement)
                    conn.execute(
                        "INSERT INTO schema_migrations (version, description, applied_at) "
                        "VALUES (%s, %s, %s)",
                        (step.version, step.description, utc_now()),
                    )
        except psycopg.Error as exc:
            text = scrub_secrets(str(exc)).strip().splitlines()
            raise StoreError(
                f"migrating {mask_url(url)} failed: {text[0] if text else type(exc).__name__}",
                "nothing was changed; fix the cause (permissions?) and run `litmine db migrate` "
                "again",
            ) from None
    return MigrationPlan(
        "postgresql", mask_url(url), current, schema.SCHEMA_VERSION, pending, bool(pending)
    )

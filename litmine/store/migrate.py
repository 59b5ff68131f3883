"""Schema status and migration of either backend (``litmine db status`` / ``db migrate``).

SQLite upgrades itself when a writer opens it; PostgreSQL never does (other
machines share the server), so :func:`migrate_store` is how its schema is
created and upgraded.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from litmine.errors import StoreError
from litmine.store import schema as sqlite_schema
from litmine.store.schema import Migration
from litmine.store.url import store_location

if TYPE_CHECKING:
    from litmine.config import Settings

__all__ = ["MigrationPlan", "migrate_store"]


@dataclass(slots=True)
class MigrationPlan:
    """What ``litmine db migrate`` found and did.

    Attributes:
        backend: ``sqlite`` or ``postgresql``.
        url: The database, password masked.
        current: Schema version before.
        target: Schema version this litmine writes.
        pending: Steps applied (or, without ``applied``, that would be).
        applied: Whether the steps ran.
    """

    backend: str
    url: str
    current: int
    target: int
    pending: list[Migration] = field(default_factory=list)
    applied: bool = False


def _sqlite_version(path: object) -> int:
    from pathlib import Path

    file = Path(str(path))
    if not file.is_file():
        return 0
    try:
        conn = sqlite3.connect(f"{file.resolve().as_uri()}?mode=ro", uri=True)
        try:
            row = conn.execute(
                "SELECT name FROM sqlite_master WHERE name = 'schema_migrations'"
            ).fetchone()
            if row is None:
                return 0
            (version,) = conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
            return int(version or 0)
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read the schema of {file}: {exc}") from None


def migrate_store(settings: Settings, *, dry_run: bool = False) -> MigrationPlan:
    """Report, and unless ``dry_run`` apply, the schema steps the store lacks.

    Args:
        settings: Settings naming the store (``store.url``).
        dry_run: Only report.

    Returns:
        The plan (``applied`` when steps ran).

    Raises:
        StoreError: The database is unreachable, not litmine's, or newer.
    """
    location = store_location(settings)
    if location.is_postgres:
        from litmine.store.postgres import migrate

        plan = migrate(location.url, dry_run=dry_run, timeout=settings.store.connect_timeout)
        plan.url = location.display
        return plan
    assert location.path is not None
    current = _sqlite_version(location.path)
    pending = [m for m in sqlite_schema.MIGRATIONS if m.version > current]
    plan = MigrationPlan("sqlite", location.display, current, sqlite_schema.SCHEMA_VERSION, pending)
    if not dry_run and pending:
        from litmine.store import open_store

        with open_store(settings):  # a writable open upgrades a SQLite file
            pass
        plan.applied = True
    return plan

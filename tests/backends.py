"""Store backends in tests: open the configured store, module-wide databases.

The function-scoped side (``backend``, ``store_url``, ``pg_url``, the
``both_backends`` mark) lives in ``tests/conftest.py``; this module is for
tests and module-scoped fixtures that open a store themselves.
"""

from __future__ import annotations

from typing import Any

import pytest

from litmine.config import Settings
from tests.pg_server import database_name

BACKENDS = ("sqlite", "postgresql")


def open_store(settings: Settings, *, read_only: bool = False) -> Any:
    """Open the store ``settings`` name (``store.url``): what litmine itself does.

    Goes through :func:`litmine.store.open_store`, the backend factory.
    """
    try:
        from litmine.store import open_store as factory
    except ImportError:  # TODO(pg): drop once the factory is on the branch
        if settings.store.url is not None:
            raise
        from litmine.store import Store

        return Store.open(settings, read_only=read_only)
    return factory(settings, read_only=read_only)


def module_store_url(request: pytest.FixtureRequest) -> str | None:
    """For a fixture parametrised over :data:`BACKENDS`: None, or a fresh PG database's URL.

    The database (a copy of the migrated template) is dropped when the
    requesting fixture's scope ends.
    """
    if request.param == "sqlite":
        return None
    server = request.getfixturevalue("pg_server")
    url: str = server.create_database(template=request.getfixturevalue("pg_template"))
    request.addfinalizer(lambda: server.drop_database(database_name(url)))
    return url


def use_store_env(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    """Point ``LITMINE_STORE_URL`` at ``settings``' store (for CLI runs inside a test)."""
    if settings.store.url is not None:
        monkeypatch.setenv("LITMINE_STORE_URL", settings.store.url)


def store_overrides(url: str | None) -> dict[str, Any]:
    """``load_settings`` keyword for a store URL (nothing for the default SQLite file)."""
    return {} if url is None else {"store": {"url": url}}

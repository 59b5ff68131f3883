"""Fixtures of the store tests: a database path and an open store (per backend)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from litmine.config import Settings
from litmine.store import Store, StoreProtocol
from tests.backends import open_store


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "store" / "litmine.db"


@pytest.fixture
def store(backend: str, db_path: Path, request: pytest.FixtureRequest) -> Iterator[StoreProtocol]:
    """An open, empty store: ``Store(db_path)``, or on PostgreSQL ``open_store(settings)``."""
    if backend == "sqlite":
        with Store(db_path) as s:
            yield s
        return
    settings: Settings = request.getfixturevalue("settings")
    with open_store(settings) as s:
        yield s

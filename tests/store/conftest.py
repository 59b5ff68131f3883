"""Fixtures of the store tests: a database path and an open store in tmp_path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from litmine.store import Store


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "store" / "litmine.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    with Store(db_path) as s:
        yield s

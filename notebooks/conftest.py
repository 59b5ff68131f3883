"""Skip the notebooks cleanly when ../shared/data (their public corpora) is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark notebook items skipped without the shared data folder."""
    if SHARED_DATA.is_dir():
        return
    skip = pytest.mark.skip(reason=f"shared test data not found at {SHARED_DATA}")
    for item in items:
        if str(item.fspath).endswith(".ipynb"):
            item.add_marker(skip)

"""Saved queries and their watermarks."""

from __future__ import annotations

import datetime as dt

import pytest

from litmine.errors import InputError
from litmine.store import (
    Store,
)

pytestmark = pytest.mark.both_backends  # the store contract: SQLite and PostgreSQL

# --------------------------------------------------------------------------- saved queries


def test_saved_queries(store: Store) -> None:
    q = store.add_query("  warfarin  AND bleeding ", "0 2 * * *")
    assert (q.query, q.cron, q.watermark, q.last_run_id) == (
        "warfarin AND bleeding",
        "0 2 * * *",
        None,
        None,
    )
    assert store.add_query("warfarin AND\tbleeding", "5 5 * * *") == q  # same query
    other = store.add_query("12345", "0 3 * * *")
    assert store.list_queries() == [q, other]
    assert store.get_query(q.id) == q
    assert store.get_query("warfarin AND bleeding") == q
    assert store.get_query(str(q.id)) == q  # a CLI argument
    assert store.get_query("12345") == other  # text wins over id
    assert store.get_query("nothing") is None
    with pytest.raises(InputError):
        store.add_query("   ", "0 2 * * *")
    assert store.remove_query("12345") and not store.remove_query("12345")
    assert store.list_queries() == [q]


def test_watermark_never_moves_back(store: Store) -> None:
    q = store.add_query("aspirin", "0 2 * * *")
    run = store.start_run("nightly", {})
    store.set_watermark(q.id, dt.date(2024, 3, 10), run_id=run)
    store.set_watermark(q.id, dt.date(2024, 1, 1))
    saved = store.get_query(q.id)
    assert saved is not None
    assert saved.watermark == dt.date(2024, 3, 10) and saved.last_run_id == run
    store.set_watermark(q.id, dt.datetime(2024, 3, 11, 23, 59))
    assert store.get_query(q.id).watermark == dt.date(2024, 3, 11)  # type: ignore[union-attr]
    with pytest.raises(InputError, match="no saved query"):
        store.set_watermark(999, dt.date(2024, 1, 1))

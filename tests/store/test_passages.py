"""Passage reads and the passage change log."""

from __future__ import annotations

from typing import SupportsInt

import numpy as np
import pytest

from litmine.store import (
    Store,
)
from tests.store.helpers import (
    rich_article,
    split,
)

pytestmark = pytest.mark.both_backends  # the store contract: SQLite and PostgreSQL

# --------------------------------------------------------------------------- passages & entities


def test_passage_queries(store: Store) -> None:
    articles = [rich_article(str(i), title=f"Title {i}") for i in range(5)]
    store.upsert_articles(articles, split=split)
    expected = {a.pmid: split(a) for a in articles}
    for pmid, passages in expected.items():
        assert store.passages_for(pmid) == passages
    everything = [p for ps in expected.values() for p in ps]
    wanted: list[SupportsInt] = [
        everything[7].id,
        12345,
        everything[2].id,
        np.int64(everything[0].id),
    ]
    got = store.get_passages(wanted)
    assert [p.id for p in got] == [everything[7].id, everything[2].id, everything[0].id]
    assert got[0].title == everything[7].title
    batches = list(store.iter_passages(batch_size=4))
    assert all(len(b) <= 4 for b in batches)
    streamed = [p for b in batches for p in b]
    assert sorted(streamed, key=lambda p: p.id) == sorted(everything, key=lambda p: p.id)
    ids = store.passage_ids()
    assert ids.dtype == np.int64 and list(ids) == sorted(p.id for p in everything)
    log = store.passage_changes_since(0)
    assert {c.passage_id for c in log if c.op == "add"} == set(ids.tolist())
    assert len(store.passage_changes_since(0, limit=3)) == 3
    last = log[-1].seq
    assert store.prune_passage_changes(last - 2) == len(log) - 2
    assert store.passage_changes_since(0) == log[-2:]
    store.prune_passage_changes(last)
    assert store.counts().change_seq == last  # an emptied log keeps its position

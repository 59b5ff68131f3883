"""Row counts."""

from __future__ import annotations

import pytest

from litmine.store import (
    Store,
)
from tests.store.helpers import (
    plain_article,
    rich_article,
    split,
)

pytestmark = pytest.mark.both_backends  # the store contract: SQLite and PostgreSQL

# --------------------------------------------------------------------------- counts


def test_counts(store: Store) -> None:
    retracted = rich_article("r", publication_types=["Retracted Publication"])
    store.upsert_articles(
        [rich_article(), retracted, plain_article("t", "Title only", "")], split=split
    )
    c = store.counts()
    assert (c.articles, c.articles_without_abstract, c.retracted) == (3, 1, 1)
    assert c.passages == len(split(rich_article())) * 2
    assert c.change_seq == c.passages

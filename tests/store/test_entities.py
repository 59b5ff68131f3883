"""Entity mentions per passage."""

from __future__ import annotations

import pytest

from litmine.errors import StoreError
from litmine.store import (
    Store,
)
from litmine.types import Entity
from tests.store.helpers import (
    rich_article,
    split,
)

pytestmark = pytest.mark.both_backends  # the store contract: SQLite and PostgreSQL


def test_entities_replace_and_read(store: Store) -> None:
    store.upsert_articles([rich_article()], split=split)
    p0, p1 = store.passages_for("31452104")[:2]
    e1 = Entity(p0.id, 0, 8, "Warfarin", "Chemical", "warfarin", "D014859")
    e2 = Entity(p0.id, 43, 58, "anticoagulant", "Chemical", "anticoagulant", None)
    assert store.replace_entities({p0.id: [e2, e1], p1.id: []}) == 2
    assert store.entities_for([p0.id, p1.id]) == {p0.id: [e1, e2], p1.id: []}
    assert store.replace_entities({p0.id: [e1]}) == 1
    assert store.entities_for([p0.id]) == {p0.id: [e1]}
    assert store.counts().entities == 1
    with pytest.raises(StoreError, match="not in the store"):
        store.replace_entities({424242: []})
    with pytest.raises(ValueError, match="listed under"):
        store.replace_entities({p1.id: [e1]})

"""A tiny real collection (SQLite + FAISS + MiniLM) served by the web app, built once."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from litmine.config import Settings, load_settings, merge_section
from litmine.store import Store
from litmine.types import Article, Entity, PubDate
from litmine.vectors.build import build_index
from tests.search_helpers import ARTICLES, RCT, fill, minilm

EVIL_TITLE = "<script>alert(1)</script> Aspirin & bleeding <b>risk</b>"

EVIL = Article(
    pmid="2001",
    title=EVIL_TITLE,
    abstract="Low-dose aspirin raised the risk of gastrointestinal bleeding <img src=x "
    "onerror=alert(2)> in older adults taking it for the prevention of myocardial infarction.",
    journal="Journal of <i>Tests</i>",
    pub_date=PubDate(year=2019),
    publication_types=[RCT],
)


@dataclass
class World:
    settings: Settings
    store: Store
    searcher: Any
    answerer: Any


def _answerer(settings: Settings, store: Store) -> Any:
    from litmine.answer.answer import Answerer

    return Answerer(settings, store=store, embedder=minilm())  # share the session's model


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    settings = load_settings(data_dir=tmp_path_factory.mktemp("web") / "data")
    settings = merge_section(settings, "summarize", method="extractive")
    with Store.open(settings) as rw:
        fill(rw, settings, [*ARTICLES, EVIL])
        entities = {}
        for pmid, word, label in (("1001", "aspirin", "CHEMICAL"), ("2001", "bleeding", "DISEASE")):
            (p,) = rw.passages_for(pmid)
            start = p.text.index(word)
            entities[p.id] = [Entity(p.id, start, start + len(word), word, label, word)]
        rw.save_entities(entities, "test")
        build_index(rw, minilm(), settings)
    store = Store.open(settings, read_only=True)
    answerer = _answerer(settings, store)
    try:
        yield World(settings, store, answerer.searcher, answerer)
    finally:
        store.close()

"""Vector index build / update / verify against a real store, FAISS and MiniLM."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator

import numpy as np
import pytest

from litmine.config import Settings, merge_section
from litmine.search.hybrid import search
from litmine.store import Store
from litmine.types import Article, PubDate
from litmine.vectors.build import build_index, index_path, load_index, update_index, verify_index
from tests.backends import open_store
from tests.search_helpers import ARTICLES, fill, minilm

pytestmark = pytest.mark.both_backends  # the index over either store backend


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    with open_store(settings) as s:
        fill(s, settings)
        yield s


def _ids_equal(store: Store, settings: Settings) -> bool:
    index = load_index(settings)
    return bool(np.array_equal(np.sort(index.ids()), store.passage_ids()))


def test_build_then_verify_ok(store: Store, settings: Settings) -> None:
    report = build_index(store, minilm(), settings)
    counts = store.counts()
    assert report.action == "built"
    assert report.vectors == report.added == counts.passages
    assert report.factory == "IDMap2,Flat"
    manifest = json.loads((index_path(settings) / "manifest.json").read_text())
    assert manifest["store_state"] == {"change_seq": counts.change_seq, "passages": counts.passages}
    check = verify_index(store, settings)
    assert check.ok, check.problems
    assert (check.missing, check.extra, check.vectors) == (0, 0, counts.passages)
    assert _ids_equal(store, settings)


def test_verify_without_index(store: Store, settings: Settings) -> None:
    check = verify_index(store, settings)
    assert not check.ok and not check.exists
    assert check.missing == store.counts().passages
    assert "litmine index build" in check.problems[0]


def test_changes_are_reported_then_repaired(store: Store, settings: Settings) -> None:
    build_index(store, minilm(), settings)
    before = set(store.passage_ids().tolist())
    new = Article(
        pmid="2001",
        title="Honey for cough in children",
        abstract="A spoonful of buckwheat honey at bedtime eased night-time cough in children.",
        pub_date=PubDate(year=2022),
    )
    changed = dataclasses.replace(
        ARTICLES[1], abstract="Metformin had no effect on body weight in this small pilot trial."
    )
    fill(store, settings, [new, changed])
    store.delete_articles(["1003"])
    after = set(store.passage_ids().tolist())
    missing, extra = len(after - before), len(before - after)
    assert missing >= 2 and extra >= 2

    check = verify_index(store, settings)
    assert not check.ok
    assert (check.missing, check.extra) == (missing, extra)
    assert check.index_change_seq is not None
    assert check.index_change_seq < check.store_change_seq

    report = update_index(store, minilm(), settings)
    assert report.action == "updated"
    assert (report.added, report.removed) == (missing, extra)
    assert verify_index(store, settings).ok
    assert _ids_equal(store, settings)
    # The new passage is searchable by meaning; the deleted article is gone.
    index = load_index(settings, embedder=minilm())
    hits = search(
        "natural remedy for coughing kids at night",
        store=store,
        index=index,
        embedder=minilm(),
        settings=settings,
        mode="dense",
        k=3,
    )
    assert hits[0].passage.pmid == "2001"
    assert "1003" not in {
        h.passage.pmid
        for h in search(
            "sleep loss memory",
            store=store,
            index=index,
            embedder=minilm(),
            settings=settings,
            mode="dense",
            k=20,
        )
    }

    again = update_index(store, minilm(), settings)
    assert (again.action, again.added, again.removed) == ("unchanged", 0, 0)


def test_update_without_index_builds(store: Store, settings: Settings) -> None:
    report = update_index(store, minilm(), settings)
    assert report.action == "built"
    assert verify_index(store, settings).ok


def test_index_runs_prune_the_change_log(store: Store, settings: Settings) -> None:
    seq = store.counts().change_seq
    assert len(store.passage_changes_since(0)) == seq > 0
    build_index(store, minilm(), settings)
    assert store.passage_changes_since(0) == []  # applied, so forgotten
    assert store.counts().change_seq == seq  # the position never moves back
    new = Article(pmid="2002", title="Zinc lozenges", abstract="Zinc shortened colds in adults.")
    fill(store, settings, [new])
    assert len(store.passage_changes_since(seq)) == 1
    report = update_index(store, minilm(), settings)
    assert (report.added, report.change_seq) == (1, seq + 1)
    assert store.passage_changes_since(0) == []
    check = verify_index(store, settings)
    assert check.ok and check.index_change_seq == check.store_change_seq == seq + 1


def test_update_repairs_what_the_log_misses(store: Store, settings: Settings) -> None:
    build_index(store, minilm(), settings)
    store.delete_articles(["1004"])
    store.prune_passage_changes(store.counts().change_seq)  # the log no longer says so
    report = update_index(store, minilm(), settings)
    assert report.removed == 1
    assert verify_index(store, settings).ok


def test_corrupt_index_file_is_reported(store: Store, settings: Settings) -> None:
    build_index(store, minilm(), settings)
    folder = index_path(settings)
    (index_file,) = folder.glob("index-*.faiss")
    data = bytearray(index_file.read_bytes())
    data[-5] ^= 0xFF
    index_file.write_bytes(bytes(data))
    check = verify_index(store, settings)
    assert check.exists and not check.readable and not check.ok
    assert "checksum" in check.problems[0]


def test_other_model_is_reported(store: Store, settings: Settings) -> None:
    build_index(store, minilm(), settings)
    other = merge_section(settings, "embed", model="some-org/another-model")
    check = verify_index(store, other)
    assert not check.ok and not check.model_ok
    assert check.model == "all-MiniLM-L6-v2"
    assert check.missing == check.extra == 0

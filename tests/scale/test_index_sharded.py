"""Sharded index builds: train once, fill shards, merge onto disk (real FAISS, real MiniLM).

The merged index must answer like the index built in one piece from the same
vectors (for Flat codes with every list probed, both are exact), pass
``index verify``, take an ``index update`` without touching the saved files
until the new manifest is written, and be what search loads.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from litmine.config import IndexSettings, Settings, merge_section
from litmine.errors import IndexStateError, InputError
from litmine.scale.index import build_sharded, sharded_factory
from litmine.store import Store
from litmine.types import Article, PubDate
from litmine.vectors.build import index_path, load_index, update_index, verify_index
from litmine.vectors.faiss_index import PassageIndex
from litmine.vectors.ondisk import (
    check_mergeable,
    fill_shard,
    merge_shards,
    sample_positions,
    train_empty,
)
from tests.search_helpers import ARTICLES, fill, minilm

DIM = 32


def _vectors(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Clustered unit vectors (like sentence embeddings: topics, not uniform noise)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((40, DIM))
    vecs = centres[rng.integers(0, 40, n)] + 0.35 * rng.standard_normal((n, DIM))
    vecs = (vecs / np.linalg.norm(vecs, axis=1, keepdims=True)).astype(np.float32)
    ids = np.arange(n, dtype=np.int64) * 3 + 11  # sparse ids, as after deletions
    return ids, vecs


def _exact_top(ids: np.ndarray, vecs: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    scores = queries @ vecs.T
    return ids[np.argsort(-scores, axis=1, kind="stable")[:, :k]]


def _merged(
    tmp_path: Path, factory: str, ids: np.ndarray, vecs: np.ndarray, shards: int
) -> PassageIndex:
    trained = train_empty(DIM, factory, vecs[:: max(1, len(vecs) // 2000)], seed=0)
    files = []
    for i, part in enumerate(np.array_split(np.arange(len(ids)), shards)):
        out = tmp_path / f"shard-{i}.faiss"
        assert fill_shard(trained, ids[part], vecs[part], out) == len(part)
        files.append(out)
    folder = tmp_path / "index"
    merged = merge_shards(trained, files, folder)
    index = PassageIndex(DIM, model="m", settings=IndexSettings(nprobe=4096))
    index.adopt(merged, factory, {"sharded": True})
    index.save(folder)
    return PassageIndex.load(folder, settings=IndexSettings(nprobe=4096))


def test_merged_flat_ivf_equals_single_index_and_exact(tmp_path: Path) -> None:
    ids, vecs = _vectors(3000)
    queries = _vectors(50, seed=1)[1]
    single = PassageIndex(DIM, model="m", settings=IndexSettings(nprobe=16))
    single.build(ids, vecs, factory="IVF16,Flat")
    merged = _merged(tmp_path, "IVF16,Flat", ids, vecs, shards=4)
    assert merged.ondisk and merged.ntotal == 3000
    assert np.array_equal(np.sort(merged.ids()), ids)
    top_single = single.search(queries, 10)[1]
    top_merged = merged.search(queries, 10)[1]
    assert np.array_equal(top_merged, top_single)
    assert np.array_equal(top_merged, _exact_top(ids, vecs, queries, 10))
    manifest = json.loads((tmp_path / "index" / "manifest.json").read_text())
    assert manifest["ivfdata"].endswith(".ivfdata")
    assert manifest["ivfdata_bytes"] == (tmp_path / "index" / manifest["ivfdata"]).stat().st_size


def _recall(found: np.ndarray, exact: np.ndarray) -> float:
    return float(
        np.mean([len(set(f) & set(e)) / len(e) for f, e in zip(found, exact, strict=True)])
    )


def test_pq_with_refine_meets_its_recall_bound() -> None:
    ids, vecs = _vectors(4000)
    queries = _vectors(100, seed=2)[1]
    exact = _exact_top(ids, vecs, queries, 10)
    index = PassageIndex(DIM, model="m", settings=IndexSettings(nprobe=16))
    index.build(ids, vecs, factory="IVF16,PQ16x6,RFlat")  # 6-bit codes: 4x quicker to train than 8
    found = index.search(queries, 10)[1]
    assert _recall(found, exact) >= 0.95
    assert index.remove(ids[:10]) == 10  # removal rebuilds (refine has no native removal)
    assert index.ntotal == 3990


def test_merged_sq8_recall_and_moved_folder(tmp_path: Path) -> None:
    ids, vecs = _vectors(3000)
    queries = _vectors(100, seed=3)[1]
    merged = _merged(tmp_path, "IVF16,SQ8", ids, vecs, shards=3)
    assert _recall(merged.search(queries, 10)[1], _exact_top(ids, vecs, queries, 10)) >= 0.95
    moved = tmp_path / "elsewhere"
    (tmp_path / "index").rename(moved)  # the lists are found beside the index file
    assert PassageIndex.load(moved).ntotal == 3000


def test_unmergeable_factories_are_refused() -> None:
    for factory in ("IDMap2,Flat", "HNSW32", "IVF16,PQ8,RFlat", "IVF16,PQ8,Refine(Flat)"):
        with pytest.raises(InputError):
            check_mergeable(factory)
    check_mergeable("IVF65536,SQ8")
    settings = Settings(index=IndexSettings())
    assert sharded_factory(1000, None, settings) == "IVF64,Flat"  # by size, made IVF


def test_sample_positions_are_seeded_and_spread() -> None:
    a = sample_positions([100, 0, 50], 60, seed=7)
    b = sample_positions([100, 0, 50], 60, seed=7)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert sum(len(x) for x in a) == 60 and len(a[1]) == 0 and a[2].max() < 50


# -- against a real store -------------------------------------------------------------


@pytest.fixture
def store(settings: Settings) -> Store:
    s = Store.open(settings)
    fill(s, settings)
    return s


def test_build_verify_update_search(store: Store, settings: Settings) -> None:
    settings = merge_section(settings, "index", nprobe=64)
    report = build_sharded(settings, shards=3, factory="IVF4,Flat", train_sample=20, seed=5)
    assert report.shards == 3 and report.vectors == store.counts().passages
    manifest = json.loads((index_path(settings) / "manifest.json").read_text())
    build = manifest["build"]
    assert build["factory"] == "IVF4,Flat" and len(build["shards"]) == 3
    assert build["train_sample"]["size"] == 20 and build["train_sample"]["seed"] == 5
    assert sum(s["vectors"] for s in build["shards"]) == report.vectors
    assert verify_index(store, settings).ok
    assert not (settings.data_dir / "staging" / "vectors").exists() or not any(
        (settings.data_dir / "staging" / "vectors").iterdir()
    )

    # Search loads the merged index with the on-disk flags and finds the right passage.
    from litmine.search.hybrid import Searcher

    searcher = Searcher(settings, store=store)
    hits = searcher.search("statins lower LDL cholesterol", mode="dense", k=3)
    assert hits and hits[0].passage.pmid in {a.pmid for a in ARTICLES}
    assert searcher.dense_parts()[0].ondisk

    # Same vectors as the one-piece build: exact with every list probed.
    index = load_index(settings)
    assert index.ondisk
    old_lists = index_path(settings) / manifest["ivfdata"]
    q = minilm().embed_queries(["statins and cholesterol"])
    single = PassageIndex(index.dim, model=index.model)
    ids = store.passage_ids()
    passages = store.get_passages(ids)
    from litmine.vectors.build import embedding_text

    single.build(ids, minilm().embed_documents([embedding_text(p) for p in passages]))
    assert np.array_equal(index.search(q, 10)[1], single.search(q, 10)[1])

    # Update: add an article, delete one; the merged index takes it in a copy of its lists.
    zinc_article = Article(
        pmid="3001",
        title="Zinc lozenges and the common cold",
        abstract="Zinc acetate lozenges shortened the common cold by two days in adults.",
        pub_date=PubDate(year=2021),
    )
    fill(store, settings, [zinc_article])
    store.delete_articles(["1003"])
    assert not verify_index(store, settings).ok
    up = update_index(store, minilm(), settings)
    assert up.action == "updated" and up.added >= 1 and up.removed >= 1
    assert verify_index(store, settings).ok
    after = json.loads((index_path(settings) / "manifest.json").read_text())
    assert after["ivfdata"] != manifest["ivfdata"] and not old_lists.exists()
    assert after["build"]["factory"] == "IVF4,Flat"  # the build record survives updates
    assert sorted(p.name for p in index_path(settings).iterdir()) == sorted(
        ["manifest.json", after["index_file"], after["ivfdata"]]
    )
    zinc = load_index(settings).search(minilm().embed_queries(["zinc for colds"]), 1)[1][0, 0]
    assert store.get_passages([zinc])[0].pmid == "3001"


def test_too_small_sample_is_a_clear_error(store: Store, settings: Settings) -> None:
    with pytest.raises(IndexStateError, match="training vectors"):
        build_sharded(settings, shards=2, factory="IVF16,Flat", train_sample=8)

"""Entities and embeddings through the Dask path (a real LocalCluster, real Prefect flow runs).

The Dask path must store exactly the entities of the local path, load each model
once per worker, pass its task functions through the real cluster (pickling),
and build the same index as the local sharded build.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from litmine import ingest
from litmine.config import Settings, load_settings
from litmine.scale import embed as scale_embed
from litmine.scale import entities as scale_entities
from litmine.scale.embed import PassageRange, embed_range, fill_range, plan_ranges, write_plan
from litmine.scale.entities import extract_batch, extract_entities_dask, read_shard
from litmine.scale.index import build_sharded
from litmine.store import Store
from litmine.vectors.build import load_index, verify_index
from litmine.vectors.ondisk import train_empty
from tests.search_helpers import fill

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _filled(settings: Settings) -> Settings:
    with Store.open(settings) as store:
        fill(store, settings)
    return settings


@pytest.fixture
def local(tmp_path: Path) -> Settings:
    return _filled(load_settings(data_dir=tmp_path / "local"))


@pytest.fixture
def dask(tmp_path: Path, dask_cluster: Any) -> Settings:
    address = dask_cluster.scheduler_address
    return _filled(
        load_settings(data_dir=tmp_path / "dask", runner="dask", dask={"address": address})
    )


def _all_entities(settings: Settings) -> dict[int, list[Any]]:
    with Store.open(settings, read_only=True) as store:
        return store.entities_for(store.passage_ids())


def test_dask_entities_equal_local_entities(
    local: Settings, dask: Settings, dask_client: Any
) -> None:
    n_local = ingest.extract_entities(local)
    done: list[int] = []
    report = extract_entities_dask(dask, articles_per_task=5, progress=done.append)
    assert report.articles == n_local == sum(done) and report.tasks == 3  # 12 articles / 5
    theirs, ours = _all_entities(dask), _all_entities(local)
    assert theirs == ours and sum(map(len, ours.values())) > 0
    with Store.open(dask, read_only=True) as store:
        assert store.pmids_needing_entities() == []
    assert not any((dask.data_dir / "staging" / "entities").glob("*/*"))
    # The pipeline was loaded once per worker that ran tasks, never once per task.
    loads = dask_client.run(lambda: scale_entities._nlp_from_json.cache_info().misses)
    assert set(loads.values()) <= {0, 1} and sum(loads.values()) >= 1
    # A re-run has nothing left to do.
    assert extract_entities_dask(dask).articles == 0


def test_task_functions_pickle_through_the_cluster(
    dask: Settings, dask_client: Any, tmp_path: Path
) -> None:
    with Store.open(dask, read_only=True) as store:
        pmids = store.pmids_needing_entities()
        ids = store.passage_ids()
    out = str(tmp_path / "staging")
    shard = dask_client.submit(extract_batch, dask, 0, pmids[:4], out, pure=False).result()
    assert shard.articles == 4 and shard.passages >= 4 and Path(shard.path).is_file()
    assert sum(map(len, read_shard(shard.path).values())) == shard.entities

    (rng,) = plan_ranges(ids, 1)
    write_plan(Path(out), ids)
    embedded = dask_client.submit(embed_range, dask, rng, out, pure=False).result()
    assert embedded.vectors == len(ids)
    vectors = np.load(embedded.vectors_file)
    trained = tmp_path / "trained.npy"
    np.save(trained, train_empty(vectors.shape[1], "IVF2,Flat", vectors))
    filled = dask_client.submit(fill_range, embedded, str(trained), out, True, pure=False)
    assert filled.result().vectors == len(ids)
    loads = dask_client.run(lambda: scale_embed._embedder_from_json.cache_info().misses)
    assert set(loads.values()) <= {0, 1}


def test_dask_sharded_build_equals_local_sharded_build(local: Settings, dask: Settings) -> None:
    args: dict[str, Any] = {"shards": 3, "factory": "IVF4,Flat", "train_sample": 30, "seed": 1}
    here = build_sharded(local, **args)
    there = build_sharded(dask, **args)
    assert here.vectors == there.vectors and there.shards == 3
    with Store.open(dask, read_only=True) as store:
        assert verify_index(store, dask).ok
    a, b = load_index(local), load_index(dask)
    assert a.build_info["runner"] == "local" and b.build_info["runner"] == "dask"
    assert a.build_info["shards"] == b.build_info["shards"]
    assert np.array_equal(np.sort(a.ids()), np.sort(b.ids()))
    q = np.random.default_rng(0).standard_normal((5, a.dim)).astype(np.float32)
    a.settings.nprobe = b.settings.nprobe = 4
    a._apply_search_settings()
    b._apply_search_settings()
    sa, ia = a.search(q, 10)
    sb, ib = b.search(q, 10)
    assert np.array_equal(ia, ib) and np.allclose(sa, sb, atol=1e-5)


def test_plan_ranges_cover_every_id_once() -> None:
    ids = np.array([2, 3, 5, 8, 13, 21, 34], dtype=np.int64)
    ranges = plan_ranges(ids, 3)
    assert [r.count for r in ranges] == [3, 2, 2]
    assert ranges[0] == PassageRange(0, 2, 5, 3) and ranges[-1].last_id == 34
    assert len(plan_ranges(ids, 100)) == 7

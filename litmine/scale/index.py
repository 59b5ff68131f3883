"""The sharded index build: embed passage ranges in tasks, train once, merge on disk.

:func:`build_sharded` is ``litmine index build --shards N`` (and any index build
with ``runner = "dask"``):

1. plan ``N`` contiguous passage-id ranges (:func:`~litmine.scale.embed.plan_ranges`);
2. one task per range embeds its passages into ``.npy`` files in the staging
   folder (:func:`~litmine.scale.embed.embed_range`); workers only read the store;
3. the flow process trains the empty index once on a seeded sample of the staged
   vectors (:func:`~litmine.vectors.ondisk.train_empty`) and writes it to staging;
4. one task per shard adds its vectors to a copy of it
   (:func:`~litmine.scale.embed.fill_range`);
5. the flow process merges the shards into one on-disk IVF index in the index
   folder (:func:`~litmine.vectors.ondisk.merge_shards`) and saves the manifest,
   which records the shards, the training sample (size, seed) and the factory.

With ``runner = "dask"`` steps 2 and 4 are Prefect tasks on the Dask cluster
(:func:`litmine.scale.runner.run_flow`); with ``"local"`` the same functions run
one after another in this process. The staging folder of a build is named after
the store state and the model, so a killed build re-run reuses its finished
shards; it is deleted once the index is saved.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from litmine.errors import IndexStateError
from litmine.scale.embed import (
    EmbeddedShard,
    FilledShard,
    PassageRange,
    embed_range,
    fill_range,
    plan_ranges,
    write_plan,
)

if TYPE_CHECKING:
    from litmine.config import Settings
    from litmine.vectors.build import IndexReport

__all__ = ["PASSAGES_PER_SHARD", "TRAIN_SEED", "build_sharded", "sharded_factory"]

PASSAGES_PER_SHARD = 50_000
"""Shard size when no shard count is given: a few minutes of CPU embedding per task."""

TRAIN_SEED = 0
"""Default seed of the training sample (and of FAISS's k-means)."""

# A map over argument tuples: runs a task function for each and returns the results in order.
Mapper = Callable[[Callable[..., Any], Sequence[tuple[Any, ...]]], list[Any]]


def sharded_factory(n_vectors: int, factory: str | None, settings: Settings) -> str:
    """The factory of a sharded build: the one asked for, else an IVF one by size.

    Args:
        n_vectors: Passages to index.
        factory: ``--factory``; None falls back to ``index.factory``, then to
            :func:`~litmine.vectors.factory.choose_factory`, made IVF when that
            picks a flat index (merging needs inverted lists).
        settings: Settings tree.
    """
    from litmine.vectors.factory import choose_factory, ivf_nlist
    from litmine.vectors.ondisk import check_mergeable

    chosen = factory or settings.index.factory or choose_factory(n_vectors, settings.index)
    if not chosen.startswith("IVF") and factory is None and settings.index.factory is None:
        chosen = f"IVF{ivf_nlist(n_vectors)},Flat"
    check_mergeable(chosen)
    return chosen


def default_sample(factory: str, n_vectors: int) -> int:
    """Training-sample size: ~50 vectors per centroid (or PQ codeword), at least 10,000."""
    nlist = re.search(r"IVF(\d+)", factory)
    pq = re.search(r"PQ(\d+)(?:x(\d+))?", factory)
    needed = max(int(nlist.group(1)) if nlist else 1, 2 ** int(pq.group(2) or 8) if pq else 1)
    return min(n_vectors, max(50 * needed, 10_000))


def _staging_key(settings: Settings, seq: int, ranges: Sequence[PassageRange]) -> str:
    """Names a build's staging folder: same store state, model and ranges = same folder."""
    blob = json.dumps(
        [settings.embed.model_dump(mode="json"), seq, [asdict(r) for r in ranges]],
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _local_map(fn: Callable[..., Any], calls: Sequence[tuple[Any, ...]]) -> list[Any]:
    return [fn(*args) for args in calls]


def _train(
    shards: Sequence[EmbeddedShard], factory: str, size: int, seed: int, folder: Path, norm: bool
) -> tuple[Path, dict[str, Any]]:
    """Train the empty index on a seeded sample of the staged vectors (flow side)."""
    from litmine.vectors.ondisk import sample_positions, train_empty

    counts = [s.vectors for s in shards]
    picks = sample_positions(counts, size, seed)
    parts = [
        np.asarray(np.load(s.vectors_file, mmap_mode="r")[rows])
        for s, rows in zip(shards, picks, strict=True)
        if len(rows)
    ]
    sample = np.concatenate(parts)
    trained = train_empty(sample.shape[1], factory, sample, normalized=norm, seed=seed)
    path = folder / "trained.npy"
    np.save(path, trained)
    info = {"size": len(sample), "requested": size, "seed": seed, "of": int(sum(counts))}
    return path, info


def _pipeline(
    settings: Settings,
    ranges: list[PassageRange],
    folder: str,
    factory: str,
    sample: int,
    seed: int,
    mapper: Mapper,
) -> tuple[list[EmbeddedShard], list[FilledShard], str, dict[str, Any]]:
    """Steps 2-4 with ``mapper`` running the tasks; returns shards, trained file, sample."""
    staged = Path(folder)
    embedded: list[EmbeddedShard] = mapper(embed_range, [(settings, r, folder) for r in ranges])
    nonempty = [s for s in embedded if s.vectors]
    norm = settings.embed.normalize
    trained, info = _train(nonempty, factory, sample, seed, staged, norm)
    filled: list[FilledShard] = mapper(
        fill_range, [(s, str(trained), folder, norm) for s in nonempty]
    )
    return embedded, filled, str(trained), info


@functools.cache
def _flow() -> Any:
    """The Prefect flow of steps 2-4 (built on first use: Prefect is heavy to import)."""
    from prefect import flow, task
    from prefect.cache_policies import NONE

    # Results are small summaries, neither hashed for a cache nor persisted.
    embed_task = task(name="embed-range", cache_policy=NONE, persist_result=False)(embed_range)
    fill_task = task(name="fill-shard", cache_policy=NONE, persist_result=False)(fill_range)
    tasks: dict[Callable[..., Any], Any] = {embed_range: embed_task, fill_range: fill_task}

    def dask_map(fn: Callable[..., Any], calls: Sequence[tuple[Any, ...]]) -> list[Any]:
        futures = [tasks[fn].submit(*args) for args in calls]
        return [f.result() for f in futures]

    @flow(name="litmine-index-sharded", validate_parameters=False, persist_result=False)
    def sharded_index(
        settings: Settings,
        ranges: list[PassageRange],
        folder: str,
        factory: str,
        sample: int,
        seed: int,
    ) -> tuple[list[EmbeddedShard], list[FilledShard], str, dict[str, Any]]:
        return _pipeline(settings, ranges, folder, factory, sample, seed, dask_map)

    return sharded_index


def build_sharded(
    settings: Settings,
    *,
    shards: int | None = None,
    factory: str | None = None,
    train_sample: int | None = None,
    seed: int = TRAIN_SEED,
) -> IndexReport:
    """Build the passage index in shards and merge it into one on-disk IVF index.

    Args:
        settings: Settings tree (store, model, index folder, ``runner`` and ``dask``).
        shards: Passage ranges (= embedding tasks = FAISS shards); None: one per
            :data:`PASSAGES_PER_SHARD` passages.
        factory: IVF factory string; see :func:`sharded_factory`.
        train_sample: Vectors the quantizer is trained on; None: :func:`default_sample`.
        seed: Seed of the sample and of k-means.

    Returns:
        What was built.

    Raises:
        IndexStateError: No passages, or too few to train the factory.
        InputError: The factory cannot be merged on disk.
        RunnerError: ``dask.address`` names no scheduler.
    """
    from litmine.ingest.writer import open_store
    from litmine.scale.runner import run_flow, staging_dir
    from litmine.vectors.build import IndexReport, index_path
    from litmine.vectors.faiss_index import PassageIndex
    from litmine.vectors.ondisk import merge_shards

    started = time.perf_counter()
    with open_store(settings, read_only=True) as store:
        seq = store.counts().change_seq  # first: later changes go to the next update
        ids = store.passage_ids()
    if not len(ids):
        raise IndexStateError("there are no passages to index", "ingest articles first")
    ranges = plan_ranges(ids, shards or math.ceil(len(ids) / PASSAGES_PER_SHARD))
    chosen = sharded_factory(len(ids), factory, settings)
    sample = min(len(ids), train_sample or default_sample(chosen, len(ids)))
    folder = staging_dir(settings) / "vectors" / _staging_key(settings, seq, ranges)
    write_plan(folder, ids)
    params: dict[str, Any] = {
        "settings": settings, "ranges": ranges, "folder": str(folder),
        "factory": chosen, "sample": sample, "seed": seed,
    }  # fmt: skip
    if settings.runner == "dask":
        embedded, filled, trained, info = run_flow(_flow(), settings, **params)
    else:
        embedded, filled, trained, info = _pipeline(**params, mapper=_local_map)
    path = index_path(settings)
    merged = merge_shards(np.load(trained), [Path(f.index_file) for f in filled], path)
    index = PassageIndex(
        int(merged.d), model=settings.embed.model, normalized=settings.embed.normalize,
        settings=settings.index,
    )  # fmt: skip
    by_shard = {e.shard: e for e in embedded}
    index.adopt(
        merged,
        chosen,
        {
            "sharded": True,
            "runner": settings.runner,
            "factory": chosen,
            "train_sample": info,
            "shards": [
                {
                    "shard": r.shard,
                    "first_id": r.first_id,
                    "last_id": r.last_id,
                    "vectors": by_shard[r.shard].vectors,
                }
                for r in ranges
            ],
        },
    )
    index.save(path, store_state={"change_seq": seq, "passages": index.ntotal})
    with open_store(settings) as store:
        store.prune_passage_changes(seq)
    shutil.rmtree(folder, ignore_errors=True)
    return IndexReport(
        path=str(path),
        action="built",
        vectors=index.ntotal,
        added=index.ntotal,
        factory=chosen,
        model=index.model,
        change_seq=seq,
        seconds=time.perf_counter() - started,
        shards=len(ranges),
    )

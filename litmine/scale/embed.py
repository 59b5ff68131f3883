"""Embedding tasks of the sharded index build: one passage-id range per task.

The task functions here run on Dask workers (or in-process with the local
runner). They read their passages from the store read-only, embed them with a
model loaded once per worker process (:func:`worker_embedder`), and write
``.npy`` files to the staging folder: workers never write the store or the
index. They return small typed summaries.

A shard's files are written under temporary names and renamed, ids last, so
an existing ``shard-NNNNN.ids.npy`` means a complete shard: a re-run of a
killed build skips it.
"""

from __future__ import annotations

import functools
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from litmine.config import Settings
    from litmine.config.sections import EmbedSettings
    from litmine.vectors.embed import Embedder

__all__ = [
    "PLAN_IDS",
    "EmbeddedShard",
    "FilledShard",
    "PassageRange",
    "embed_range",
    "fill_range",
    "plan_ranges",
    "worker_embedder",
    "write_plan",
]


PLAN_IDS = "plan-ids.npy"
"""File in a build's staging folder: every planned passage id, ascending (int64)."""


def write_plan(folder: Path, ids: np.ndarray) -> None:
    """Write the planned passage ids where the tasks find them (:data:`PLAN_IDS`)."""
    folder.mkdir(parents=True, exist_ok=True)
    _save_npy(folder / PLAN_IDS, np.ascontiguousarray(ids, dtype=np.int64))


@dataclass(frozen=True, slots=True)
class PassageRange:
    """The passages of one shard: the planned ids from ``first_id`` to ``last_id``.

    Attributes:
        shard: Shard number (orders the shards).
        first_id: Smallest passage id of the shard.
        last_id: Largest passage id of the shard.
        count: Passages in the range when it was planned.
    """

    shard: int
    first_id: int
    last_id: int
    count: int

    @property
    def stem(self) -> str:
        """File-name stem of the shard's staged files."""
        return f"shard-{self.shard:05d}"


@dataclass(frozen=True, slots=True)
class EmbeddedShard:
    """What :func:`embed_range` staged.

    Attributes:
        shard: Shard number.
        vectors: Vectors written.
        ids_file: ``.npy`` of the passage ids (int64).
        vectors_file: ``.npy`` of the vectors (float32, one row per id).
        seconds: Time spent embedding (0 when the shard was already staged).
        reused: The shard was complete from an earlier, interrupted run.
    """

    shard: int
    vectors: int
    ids_file: str
    vectors_file: str
    seconds: float
    reused: bool = False


@dataclass(frozen=True, slots=True)
class FilledShard:
    """What :func:`fill_range` wrote: one shard's FAISS index.

    Attributes:
        shard: Shard number.
        vectors: Vectors in the shard's index.
        index_file: The shard's index file (inverted lists of the trained index).
    """

    shard: int
    vectors: int
    index_file: str


def plan_ranges(ids: np.ndarray, shards: int) -> list[PassageRange]:
    """Split ascending passage ids into ``shards`` contiguous ranges of near-equal size.

    Args:
        ids: All passage ids, ascending.
        shards: Number of ranges wanted (fewer when there are fewer passages).

    Returns:
        The non-empty ranges, in id order.
    """
    parts = np.array_split(np.asarray(ids, dtype=np.int64), max(1, min(shards, len(ids) or 1)))
    return [
        PassageRange(shard=i, first_id=int(p[0]), last_id=int(p[-1]), count=len(p))
        for i, p in enumerate(q for q in parts if len(q))
    ]


@functools.cache
def _embedder_from_json(embed_json: str) -> Embedder:
    from litmine.config.sections import EmbedSettings
    from litmine.vectors.embed import load_embedder

    return load_embedder(EmbedSettings.model_validate_json(embed_json))


def worker_embedder(settings: EmbedSettings) -> Embedder:
    """The embedding model for these settings, loaded once per (worker) process.

    Keyed by the settings' JSON, so every task of a build on a worker shares one
    model and a task with other settings gets its own.
    """
    return _embedder_from_json(settings.model_dump_json())


def _save_npy(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with tmp.open("wb") as fh:
        np.save(fh, array)
    tmp.replace(path)


def embed_range(settings: Settings, passages: PassageRange, out_dir: str) -> EmbeddedShard:
    """Embed one range of passages into ``out_dir`` (a task; runs on a worker).

    Args:
        settings: Settings tree (store location, embedding model).
        passages: The range to embed.
        out_dir: The build's staging folder (shared with the flow process).

    Returns:
        The shard's summary (file paths and counts).
    """
    from litmine.ingest.writer import open_store
    from litmine.vectors.build import EMBED_BATCH, embedding_text

    folder = Path(out_dir)
    ids_file = folder / f"{passages.stem}.ids.npy"
    vectors_file = folder / f"{passages.stem}.vectors.npy"
    if ids_file.is_file() and vectors_file.is_file():
        n = len(np.load(ids_file, mmap_mode="r"))
        return EmbeddedShard(passages.shard, n, str(ids_file), str(vectors_file), 0.0, True)
    started = time.perf_counter()
    embedder = worker_embedder(settings.embed)
    ids: list[np.ndarray] = []
    vectors: list[np.ndarray] = []
    # Passage ids are 63-bit hashes, so a range is sliced out of the plan's id list
    # (written once by the flow process) rather than enumerated.
    planned = np.load(folder / PLAN_IDS, mmap_mode="r")
    lo_pos = int(np.searchsorted(planned, passages.first_id, side="left"))
    hi_pos = int(np.searchsorted(planned, passages.last_id, side="right"))
    wanted = np.asarray(planned[lo_pos:hi_pos])
    with open_store(settings, read_only=True) as store:
        for lo in range(0, len(wanted), EMBED_BATCH * 4):
            batch = store.get_passages(wanted[lo : lo + EMBED_BATCH * 4].tolist())
            if batch:
                ids.append(np.fromiter((p.id for p in batch), np.int64, count=len(batch)))
                vectors.append(embedder.embed_documents([embedding_text(p) for p in batch]))
    all_ids = np.concatenate(ids) if ids else np.zeros(0, np.int64)
    all_vecs = (
        np.concatenate(vectors).astype(np.float32, copy=False)
        if vectors
        else np.zeros((0, embedder.dim), np.float32)
    )
    folder.mkdir(parents=True, exist_ok=True)
    _save_npy(vectors_file, all_vecs)
    _save_npy(ids_file, all_ids)  # last: its presence marks the shard complete
    return EmbeddedShard(
        passages.shard, len(all_ids), str(ids_file), str(vectors_file),
        time.perf_counter() - started,
    )  # fmt: skip


def fill_range(
    shard: EmbeddedShard, trained_file: str, out_dir: str, normalized: bool
) -> FilledShard:
    """Add a staged shard's vectors to a copy of the trained empty index (a task).

    Args:
        shard: The staged vectors (from :func:`embed_range`).
        trained_file: ``.npy`` of the serialized trained index.
        out_dir: Where the shard's index file goes.
        normalized: L2-normalise the vectors (the index's setting).

    Returns:
        The shard's index file and count.
    """
    from litmine.vectors.ondisk import fill_shard

    out_file = Path(out_dir) / f"shard-{shard.shard:05d}.faiss"
    n = fill_shard(
        np.load(trained_file),
        np.load(shard.ids_file),
        np.load(shard.vectors_file, mmap_mode="r"),
        out_file,
        normalized=normalized,
    )
    return FilledShard(shard.shard, n, str(out_file))

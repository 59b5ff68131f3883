"""Sharded builds and on-disk IVF indexes: train once, fill shards, merge onto disk.

A collection too large for one process is indexed in three steps:

1. :func:`train_empty` trains the coarse quantizer (and the SQ/PQ codebooks) once,
   on a seeded sample of the vectors, and returns the trained *empty* index
   serialized (:func:`faiss.serialize_index`), small enough to send to every task.
2. :func:`fill_shard` adds one shard's vectors (a passage-id range) to a copy of
   it and writes the shard's index file; shards can be filled on any machine.
3. :func:`merge_shards` merges the shards' inverted lists into one on-disk index
   with :func:`faiss.contrib.ondisk.merge_ondisk`: the lists live in an
   ``.ivfdata`` file beside the index file, which FAISS memory-maps, so searching
   needs RAM for the quantizer and the pages it touches only.

:func:`read_index` reads such an index back with ``IO_FLAG_ONDISK_SAME_DIR``
(the ``.ivfdata`` is found next to the index file, wherever the folder was moved)
and, for search, ``IO_FLAG_READ_ONLY``. :func:`writable_copy` makes an update
safe: the lists are copied to a new ``.ivfdata`` file which the update then
changes in place (OnDiskInvertedLists supports add and remove); the old files stay
untouched until the new manifest names the new ones, so an interrupted update
leaves the previous index intact.

Only IVF factories whose codes live in the inverted lists can be merged
(``IVF...,Flat``, ``IVF...,SQ8``, ``IVF...,PQm``): a ``Refine``/``RFlat`` stage keeps
its own flat storage outside the lists, and ``merge_ondisk`` rejects IVFPQR.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import shutil
import sys
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from litmine.errors import IndexStateError, InputError
from litmine.vectors.faiss_search import faiss_module
from litmine.vectors.manifest import REBUILD_HINT
from litmine.vectors.normalize import l2_normalize

__all__ = [
    "IVFDATA_SUFFIX",
    "check_mergeable",
    "fill_shard",
    "ivfdata_file",
    "merge_shards",
    "quiet_stdout",
    "read_index",
    "sample_positions",
    "train_empty",
    "writable_copy",
]

IVFDATA_SUFFIX = ".ivfdata"
_REFINE = re.compile(r"(?:^|,)(?:RFlat|Refine\()")


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """Send what FAISS's C++ code prints to standard output to standard error instead.

    FAISS ``printf``s "IO_FLAG_ONDISK_SAME_DIR: updating ondisk filename ..." on
    every read of an on-disk index and "resizing ..." when lists grow, with no
    switch to turn it off; on stdout it would corrupt ``--json`` output. File
    descriptor 1 is pointed at 2 for the call (no Python writes to stdout then).
    """
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def check_mergeable(factory: str) -> None:
    """Fail clearly when ``factory`` cannot be built in shards and merged on disk.

    Raises:
        InputError: Not an IVF factory, or one with a refine stage.
    """
    parts = factory.split(",")
    if not any(p.startswith("IVF") for p in parts) or "IDMap" in factory:
        raise InputError(
            f"the sharded build needs an IVF factory, got {factory!r}",
            "use e.g. --factory 'IVF4096,SQ8' or 'IVF4096,Flat', or build without --shards",
        )
    if _REFINE.search(factory):
        raise InputError(
            f"{factory!r} has a refine stage, whose flat storage cannot be merged on disk",
            "use 'IVF...,SQ8' (or 'IVF...,PQ...' with a measured recall), or build it "
            "without --shards",
        )


def train_empty(
    dim: int, factory: str, sample: np.ndarray, *, normalized: bool = True, seed: int = 0
) -> np.ndarray:
    """Train an empty inner-product index on a sample and serialize it.

    Args:
        dim: Vector dimension.
        factory: FAISS factory string (checked by :func:`check_mergeable`).
        sample: ``(m, dim)`` training vectors.
        normalized: L2-normalise the sample first (as the stored vectors are).
        seed: Seed of FAISS's k-means (the sample itself is drawn by the caller).

    Returns:
        The trained empty index as a ``uint8`` array (:func:`faiss.serialize_index`).

    Raises:
        InputError: The factory cannot be merged or the string is invalid.
        IndexStateError: Too few sample vectors to train it.
    """
    faiss = faiss_module()
    check_mergeable(factory)
    try:
        index = faiss.index_factory(dim, factory, faiss.METRIC_INNER_PRODUCT)
    except RuntimeError as exc:
        raise InputError(
            f"invalid FAISS factory string {factory!r}: {' '.join(str(exc).split())[:200]}",
            "see the FAISS wiki 'The index factory'",
        ) from exc
    ivf = faiss.extract_index_ivf(index)
    pq = re.search(r"PQ(\d+)(?:x(\d+))?", factory)
    needed = max(int(ivf.nlist), 2 ** int(pq.group(2) or 8) if pq else 1)
    if len(sample) < needed:
        raise IndexStateError(
            f"FAISS index {factory!r} needs at least {needed} training vectors, got {len(sample)}",
            "raise --train-sample, or use a smaller nlist (IVF<n>)",
        )
    vecs = np.array(sample, dtype=np.float32, order="C", copy=True)
    if normalized:
        l2_normalize(vecs, in_place=True)
    ivf.cp.seed = seed
    index.train(vecs)
    return np.asarray(faiss.serialize_index(index), dtype=np.uint8)


def sample_positions(counts: Sequence[int], size: int, seed: int) -> list[np.ndarray]:
    """Row positions of a seeded uniform sample drawn across shards of ``counts`` rows.

    Args:
        counts: Rows per shard, in order.
        size: Sample size (capped at the total).
        seed: Random seed.

    Returns:
        For each shard, the sorted row positions it contributes.
    """
    total = int(sum(counts))
    take = min(size, total)
    picked = np.sort(np.random.default_rng(seed).choice(total, take, replace=False))
    bounds = np.cumsum([0, *counts])
    return [picked[(picked >= lo) & (picked < hi)] - lo for lo, hi in itertools.pairwise(bounds)]


def fill_shard(
    trained: np.ndarray,
    ids: np.ndarray,
    vectors: np.ndarray,
    out_file: Path,
    *,
    normalized: bool = True,
) -> int:
    """Add one shard's vectors to a copy of the trained empty index and write it.

    Args:
        trained: The serialized trained index from :func:`train_empty`.
        ids: Passage ids, one per row.
        vectors: ``(n, dim)`` vectors.
        out_file: Where the shard's index is written (atomically: temp + rename).
        normalized: L2-normalise the vectors first.

    Returns:
        Vectors in the shard.
    """
    faiss = faiss_module()
    index = faiss.deserialize_index(trained)
    if len(ids):
        vecs = np.array(vectors, dtype=np.float32, order="C", copy=True)
        if normalized:
            l2_normalize(vecs, in_place=True)
        index.add_with_ids(vecs, np.ascontiguousarray(ids, dtype=np.int64))
    tmp = out_file.with_name(f".{out_file.name}.{uuid.uuid4().hex[:8]}.tmp")
    faiss.write_index(index, str(tmp))
    tmp.replace(out_file)
    return int(index.ntotal)


def merge_shards(trained: np.ndarray, shard_files: Sequence[Path], folder: Path) -> Any:
    """Merge shard indexes into one index whose lists are in a new ``.ivfdata`` in ``folder``.

    Args:
        trained: The serialized trained empty index all shards were filled from.
        shard_files: The shards' index files (from :func:`fill_shard`).
        folder: The index folder; the ``.ivfdata`` file gets a fresh name there, so
            a current index in the folder is not touched.

    Returns:
        The merged FAISS index (its lists on disk), ready for
        :meth:`~litmine.vectors.faiss_index.PassageIndex.save`.
    """
    from faiss.contrib.ondisk import merge_ondisk

    faiss = faiss_module()
    folder.mkdir(parents=True, exist_ok=True)
    index = faiss.deserialize_index(trained)
    target = folder / f"lists-{uuid.uuid4().hex[:16]}{IVFDATA_SUFFIX}"
    with quiet_stdout():
        merge_ondisk(index, [str(f) for f in shard_files], str(target))
    return index


def ivfdata_file(index: Any) -> Path | None:
    """The ``.ivfdata`` file holding an index's lists (None when they are in memory)."""
    faiss = faiss_module()
    if index is None:
        return None
    ivf = faiss.try_extract_index_ivf(index)
    if ivf is None:
        return None
    lists = faiss.downcast_InvertedLists(ivf.invlists)
    if isinstance(lists, faiss.OnDiskInvertedLists):
        return Path(str(lists.filename))
    return None


def read_index(index_file: Path, *, ondisk: bool, writable: bool = False) -> Any:
    """Read an index file; an on-disk one finds its ``.ivfdata`` in the same folder.

    Args:
        index_file: The FAISS index file.
        ondisk: The manifest names an ``.ivfdata`` file.
        writable: Open the on-disk lists for writing (only on a
            :func:`writable_copy`); searches open them read-only.

    Raises:
        IndexStateError: FAISS cannot read it.
    """
    faiss = faiss_module()
    flags = 0
    if ondisk:
        flags = faiss.IO_FLAG_ONDISK_SAME_DIR | (0 if writable else faiss.IO_FLAG_READ_ONLY)
    try:
        with quiet_stdout():
            return faiss.read_index(str(index_file), flags)
    except RuntimeError as exc:
        raise IndexStateError(
            f"cannot read vector index {index_file}: {' '.join(str(exc).split())[:200]}",
            REBUILD_HINT,
        ) from exc


def writable_copy(index: Any, folder: Path) -> Any:
    """A copy of an on-disk index whose lists are a new ``.ivfdata`` file, open for writing.

    The current ``.ivfdata`` is copied (sequential I/O, no RAM for the lists), the
    copy is named in a temporary index header, and that header is read back
    writable. Changes then go to the copy only.

    Args:
        index: An index read with :func:`read_index` (``ondisk=True``).
        folder: The index folder.

    Returns:
        The writable index.
    """
    faiss = faiss_module()
    source = ivfdata_file(index)
    assert source is not None, "writable_copy needs an on-disk index"
    target = folder / f"lists-{uuid.uuid4().hex[:16]}{IVFDATA_SUFFIX}"
    shutil.copyfile(source, target)
    lists = faiss.downcast_InvertedLists(faiss.extract_index_ivf(index).invlists)
    header = folder / f".header-{uuid.uuid4().hex[:8]}.faiss.tmp"
    previous = str(lists.filename)
    lists.filename = str(target)
    try:
        faiss.write_index(index, str(header))
        return read_index(header, ondisk=True, writable=True)
    finally:
        lists.filename = previous
        header.unlink(missing_ok=True)

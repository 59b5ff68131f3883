"""The FAISS vector index over passage embeddings.

A :class:`PassageIndex` keys every vector by its passage id
(:attr:`litmine.types.Passage.id`), so search results are passage ids and a
changed passage is replaced in place. Vectors are compared by inner product;
with L2-normalised vectors (the default) that is cosine similarity.

On disk an index is a folder holding the FAISS file and ``manifest.json``: the
model, dimension, factory, vector count, the store state it was built from,
the file's sha256 and timestamps. :meth:`PassageIndex.save` is atomic (write a
temporary file in the folder, then ``os.replace``; the manifest is replaced
last and names the index file, so a reader sees either the old or the new
index). :meth:`PassageIndex.load` verifies the checksum, the dimension and the
model and raises :class:`~litmine.errors.IndexStateError` when they disagree.

FAISS is imported lazily inside functions: ``import litmine.vectors.faiss_index`` is light.
The manifest and atomic writes live in :mod:`litmine.vectors.manifest`, the
search internals (parameters, id filters, fallbacks) in
:mod:`litmine.vectors.faiss_search`.

Automatic factory choice (:func:`choose_factory`), for ``n`` vectors:

* ``n <= exact_max`` (50k): ``IDMap2,Flat``, exact search. A one-query scan of
  50k x 384 floats is ~19M multiply-adds (a few ms), needs no training, and
  supports removal and reconstruction.
* up to ``compressed_min`` (2M): ``IVF{nlist},Flat`` with ``nlist`` the power
  of two at or below ``4 * sqrt(n)`` (faiss's 4-16 sqrt(n) guideline, at the
  low end to keep k-means training affordable on few cores). A query visits
  ``nprobe`` lists (~``n * nprobe / nlist`` vectors), IVF stores the passage
  ids itself and removes them natively. HNSW is not chosen automatically
  because FAISS cannot remove vectors from it (removal falls back to a
  rebuild); pass ``factory="HNSW32"`` to get it anyway.
* above: ``IVF{nlist},SQ8``: 8-bit scalar codes, a quarter of the float32
  memory (1.5 GB per million 384-d vectors for Flat), at a small recall cost.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from litmine.clock import utc_now
from litmine.config import IndexSettings
from litmine.errors import IndexStateError
from litmine.vectors.factory import choose_factory, ivf_nlist
from litmine.vectors.faiss_search import FaissSearch, faiss_module, omp_threads
from litmine.vectors.manifest import (
    INDEX_FORMAT,
    MANIFEST_NAME,
    REBUILD_HINT,
    fsync,
    litmine_version,
    read_manifest,
    remove_orphaned_temps,
    sha256_file,
    temp_path,
    write_json_atomic,
)
from litmine.vectors.normalize import l2_normalize
from litmine.vectors.ondisk import IVFDATA_SUFFIX, ivfdata_file, read_index, writable_copy

if TYPE_CHECKING:
    import faiss

__all__ = [
    "INDEX_FORMAT",
    "MANIFEST_NAME",
    "PassageIndex",
    "choose_factory",
    "ivf_nlist",
]

# Query batches below this size search on one thread (FAISS's BLAS threshold is 20).
_SMALL_BATCH = 20


class PassageIndex(FaissSearch):
    """A FAISS inner-product index whose ids are passage ids.

    Args:
        dim: Vector dimension.
        model: Name of the embedding model that made the vectors (recorded in
            the manifest and checked by :meth:`load`).
        normalized: L2-normalise vectors and queries (cosine similarity).
        settings: Factory thresholds and search parameters.

    Attributes:
        store_state: Opaque description of the store the index matches (e.g.
            ``{"passage_changes_seq": N, "passages": M}``), saved in the manifest.
    """

    def __init__(
        self,
        dim: int,
        *,
        model: str,
        normalized: bool = True,
        settings: IndexSettings | None = None,
    ) -> None:
        if dim <= 0:
            raise ValueError(f"dim must be positive, got {dim}")
        self.dim = dim
        self.model = model
        self.normalized = normalized
        self.settings = settings or IndexSettings()
        self.store_state: dict[str, Any] = {}
        self.factory: str | None = None
        self.created: str | None = None
        self.updated: str | None = None
        self.build_info: dict[str, Any] = {}
        self._index: Any = None

    # -- state -----------------------------------------------------------------------

    @property
    def ntotal(self) -> int:
        """Number of vectors in the index."""
        return 0 if self._index is None else int(self._index.ntotal)

    @property
    def is_built(self) -> bool:
        """Whether :meth:`build` (or :meth:`load`) has made a FAISS index."""
        return self._index is not None

    @property
    def faiss_index(self) -> faiss.Index:
        """The underlying FAISS index.

        Raises:
            IndexStateError: Nothing was built or loaded yet.
        """
        if self._index is None:
            raise IndexStateError("the vector index has not been built", REBUILD_HINT)
        return self._index

    def __len__(self) -> int:
        return self.ntotal

    def __repr__(self) -> str:
        return (
            f"PassageIndex(dim={self.dim}, model={self.model!r}, factory={self.factory!r}, "
            f"ntotal={self.ntotal})"
        )

    def ids(self) -> np.ndarray:
        """Return the passage ids in the index (int64, in no particular order)."""
        faiss = faiss_module()

        if self._index is None:
            return np.zeros(0, dtype=np.int64)
        index = self._index
        if isinstance(index, faiss.IndexIDMap | faiss.IndexIDMap2):
            return faiss.vector_to_array(index.id_map).astype(np.int64)
        ivf = faiss.try_extract_index_ivf(index)
        if ivf is None:  # pragma: no cover - every index made here has ids
            raise IndexStateError(f"cannot list the ids of a {type(index).__name__} index")
        invlists = ivf.invlists
        parts = [
            faiss.rev_swig_ptr(invlists.get_ids(i), invlists.list_size(i)).copy()
            for i in range(ivf.nlist)
            if invlists.list_size(i)
        ]
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)

    def matches(self, store_state: Mapping[str, Any]) -> bool:
        """Whether the index was built from exactly this store state.

        Args:
            store_state: The store's current state, in the caller's format.

        Returns:
            True when it equals the saved :attr:`store_state`.
        """
        return dict(store_state) == self.store_state

    # -- building --------------------------------------------------------------------

    def build(
        self, ids: np.ndarray | list[int], vectors: np.ndarray, *, factory: str | None = None
    ) -> None:
        """Replace the whole index with these vectors.

        Args:
            ids: Passage ids, one per row, unique, non-negative.
            vectors: ``(n, dim)`` float array.
            factory: FAISS factory string; None uses ``settings.factory`` or
                :func:`choose_factory` for ``n``. Indexes without their own id
                storage are wrapped in ``IndexIDMap2``. IVF/PQ indexes are
                trained on a sample of ``vectors``.

        Raises:
            ValueError: Shapes, ids or the factory string are invalid.
            IndexStateError: Too few vectors to train the chosen index.
        """
        ids_arr, vecs = self._check(ids, vectors)
        chosen = factory or choose_factory(len(ids_arr), self.settings)
        index = self._new_index(chosen)
        self._train(index, chosen, vecs)
        if len(ids_arr):
            index.add_with_ids(vecs, ids_arr)
        self._index = index
        self.factory = chosen
        self.created = self.created or utc_now("seconds")
        self._apply_search_settings()

    def add(self, ids: np.ndarray | list[int], vectors: np.ndarray) -> None:
        """Add vectors; ids already in the index are replaced.

        An index that was never built is built first (factory by size).

        Args:
            ids: Passage ids, one per row, unique, non-negative.
            vectors: ``(n, dim)`` float array.

        Raises:
            ValueError: Shapes or ids are invalid.
        """
        ids_arr, vecs = self._check(ids, vectors)
        if self._index is None:
            self.build(ids_arr, vecs)
            return
        if not len(ids_arr):
            return
        self.remove(ids_arr)
        self._index.add_with_ids(vecs, ids_arr)

    def remove(self, ids: np.ndarray | list[int]) -> int:
        """Remove vectors by passage id; unknown ids are ignored.

        Indexes that FAISS cannot remove from (HNSW) are rebuilt without them.

        Args:
            ids: Passage ids.

        Returns:
            How many vectors were removed.
        """
        faiss = faiss_module()

        if self._index is None:
            return 0
        ids_arr = np.unique(np.asarray(ids, dtype=np.int64).reshape(-1))
        if not len(ids_arr) or not self.ntotal:
            return 0
        if self._removes_natively():
            return int(self._index.remove_ids(faiss.IDSelectorBatch(ids_arr)))
        return self._rebuild_without(ids_arr)

    # -- search ----------------------------------------------------------------------

    def search(
        self,
        query_vectors: np.ndarray,
        k: int,
        *,
        id_filter: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Find the ``k`` nearest passages of each query.

        Args:
            query_vectors: ``(nq, dim)`` array, or one ``(dim,)`` vector.
            k: Results per query.
            id_filter: Only passages with these ids may be returned. Uses a
                FAISS ``IDSelectorBatch`` in the search parameters (IVF visits
                more lists when the filter is selective); indexes that reject
                selectors are over-fetched and filtered instead.

        Returns:
            ``(scores, ids)``, both ``(nq, k)``, best first; rows with fewer
            than ``k`` results are padded with id ``-1`` and score ``-inf``.

        Raises:
            ValueError: ``k`` is not positive or the queries have the wrong shape.
        """
        if k <= 0:
            raise ValueError(f"k must be positive, got {k}")
        queries = self._queries(query_vectors)
        nq = len(queries)
        empty = (np.full((nq, k), -np.inf, dtype=np.float32), np.full((nq, k), -1, np.int64))
        if self._index is None or self.ntotal == 0:
            return empty
        allowed = None
        if id_filter is not None:
            allowed = np.unique(np.asarray(id_filter, dtype=np.int64).reshape(-1))
            if not len(allowed):
                return empty
        # A few queries run fastest on one thread: OpenMP workers idling for a busy
        # core turn a sub-millisecond search into tens of ms on a shared machine.
        with omp_threads(1 if nq < _SMALL_BATCH else None):
            if allowed is None:
                return self._finish(*self._search(queries, k))
            return self._finish(*self._filtered_search(queries, k, allowed))

    # -- persistence -----------------------------------------------------------------

    def manifest(self) -> dict[str, Any]:
        """Describe the index as :meth:`save` writes it (without the checksum)."""
        faiss = faiss_module()

        return {
            "format": INDEX_FORMAT,
            "model": self.model,
            "dim": self.dim,
            "normalized": self.normalized,
            "metric": "inner_product",
            "factory": self.factory,
            "index_type": type(self._index).__name__ if self._index is not None else None,
            "vector_count": self.ntotal,
            "store_state": self.store_state,
            "created": self.created,
            "updated": self.updated,
            "litmine_version": litmine_version(),
            "faiss_version": faiss.__version__,
            "build": self.build_info,
        }

    @property
    def ondisk(self) -> bool:
        """Whether the inverted lists live in an ``.ivfdata`` file (a merged sharded build)."""
        return ivfdata_file(self._index) is not None

    def adopt(self, index: Any, factory: str, build_info: Mapping[str, Any]) -> None:
        """Take over a FAISS index built elsewhere (the merge of a sharded build).

        Args:
            index: A FAISS index with passage ids, of this dimension.
            factory: Its factory string.
            build_info: How it was built (shards, training sample), for the manifest.
        """
        if int(index.d) != self.dim:
            raise ValueError(f"index has {index.d}-d vectors, expected {self.dim}")
        self._index = index
        self.factory = factory
        self.build_info = dict(build_info)
        self.created = self.created or utc_now("seconds")
        self._apply_search_settings()

    def make_writable(self, directory: str | Path) -> Path | None:
        """Before changing an on-disk index: move it onto a writable copy of its lists.

        Returns:
            The copy, a new ``.ivfdata`` in ``directory`` (delete it when the change
            is abandoned); None for in-memory lists. The saved index keeps its own
            file until :meth:`save` names the copy.
        """
        if not self.ondisk:
            return None
        self._index = writable_copy(self._index, Path(directory))
        self._apply_search_settings()
        return ivfdata_file(self._index)

    def save(self, directory: str | Path, *, store_state: Mapping[str, Any] | None = None) -> Path:
        """Write the index and its manifest into ``directory`` atomically.

        Args:
            directory: The index folder (created if missing).
            store_state: Store state the index now matches; None keeps
                :attr:`store_state`.

        Returns:
            The path of the written manifest.

        Raises:
            IndexStateError: Nothing was built yet.
        """
        faiss = faiss_module()

        index = self.faiss_index
        if store_state is not None:
            self.store_state = dict(store_state)
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        tmp = temp_path(folder, ".index-", ".faiss.tmp")
        try:
            faiss.write_index(index, str(tmp))
            fsync(tmp)
            checksum = sha256_file(tmp)
            index_name = f"index-{checksum[:16]}.faiss"
            os.replace(tmp, folder / index_name)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        self.updated = utc_now("seconds")
        self.created = self.created or self.updated
        manifest = self.manifest()
        manifest.update(index_file=index_name, sha256=checksum)
        lists = ivfdata_file(index)
        if lists is not None:
            if lists.parent.resolve() != folder.resolve():
                raise IndexStateError(
                    f"the on-disk lists {lists} are not in the index folder {folder}",
                    REBUILD_HINT,
                )
            manifest.update(ivfdata=lists.name, ivfdata_bytes=lists.stat().st_size)
        manifest_path = folder / MANIFEST_NAME
        write_json_atomic(manifest_path, manifest)
        keep = {index_name, lists.name if lists is not None else ""}
        for old in [*folder.glob("index-*.faiss"), *folder.glob(f"lists-*{IVFDATA_SUFFIX}")]:
            if old.name not in keep:  # superseded versions
                old.unlink(missing_ok=True)
        remove_orphaned_temps(folder)
        return manifest_path

    @classmethod
    def load(
        cls,
        directory: str | Path,
        *,
        model: str | None = None,
        dim: int | None = None,
        settings: IndexSettings | None = None,
    ) -> PassageIndex:
        """Read an index saved by :meth:`save`, verifying it.

        Args:
            directory: The index folder.
            model: Expected embedding model name; None skips the check.
            dim: Expected vector dimension; None skips the check.
            settings: Search parameters (``nprobe``, ``ef_search``).

        Returns:
            The loaded index.

        Raises:
            IndexStateError: The folder, manifest or index file is missing or
                corrupt, the checksum does not match, or the model/dimension
                differ from the expected ones.
        """
        folder = Path(directory)
        manifest = read_manifest(folder)
        index_file = folder / str(manifest["index_file"])
        if not index_file.is_file():
            raise IndexStateError(f"vector index file {index_file} is missing", REBUILD_HINT)
        if sha256_file(index_file) != manifest["sha256"]:
            raise IndexStateError(
                f"vector index file {index_file} is corrupt (checksum mismatch)", REBUILD_HINT
            )
        lists_name = manifest.get("ivfdata")
        if lists_name is not None:
            lists = folder / str(lists_name)
            size = lists.stat().st_size if lists.is_file() else None
            if size != manifest.get("ivfdata_bytes"):
                problem = "is missing" if size is None else f"has {size} bytes, not the manifest's"
                raise IndexStateError(f"on-disk lists {lists} {problem}", REBUILD_HINT)
        index = read_index(index_file, ondisk=lists_name is not None)
        if int(index.d) != int(manifest["dim"]):
            raise IndexStateError(
                f"vector index {index_file} has {index.d}-d vectors but its manifest says "
                f"{manifest['dim']}",
                REBUILD_HINT,
            )
        if int(index.ntotal) != int(manifest["vector_count"]):
            raise IndexStateError(
                f"vector index {index_file} holds {index.ntotal} vectors but its manifest says "
                f"{manifest['vector_count']}",
                REBUILD_HINT,
            )
        if model is not None and manifest["model"] != model:
            raise IndexStateError(
                f"vector index {folder} was built with model {manifest['model']!r}, but the "
                f"settings name {model!r}",
                f"{REBUILD_HINT} to re-embed the passages with {model!r}",
            )
        if dim is not None and int(manifest["dim"]) != dim:
            raise IndexStateError(
                f"vector index {folder} holds {manifest['dim']}-d vectors, but the model "
                f"gives {dim}-d",
                REBUILD_HINT,
            )
        loaded = cls(
            int(manifest["dim"]),
            model=str(manifest["model"]),
            normalized=bool(manifest["normalized"]),
            settings=settings,
        )
        loaded._index = index
        loaded._apply_search_settings()
        loaded.factory = manifest.get("factory")
        loaded.store_state = dict(manifest.get("store_state") or {})
        loaded.created = manifest.get("created")
        loaded.updated = manifest.get("updated")
        loaded.build_info = dict(manifest.get("build") or {})
        return loaded

    # -- internals -------------------------------------------------------------------

    def _check(self, ids: np.ndarray | list[int], vectors: np.ndarray) -> tuple[np.ndarray, Any]:
        ids_arr = np.ascontiguousarray(np.asarray(ids, dtype=np.int64).reshape(-1))
        vecs = np.asarray(vectors, dtype=np.float32)
        if vecs.ndim != 2 or (vecs.shape[0] and vecs.shape[1] != self.dim):
            raise ValueError(f"vectors must have shape (n, {self.dim}), got {vecs.shape}")
        if vecs.shape[0] != len(ids_arr):
            raise ValueError(f"{len(ids_arr)} ids for {vecs.shape[0]} vectors")
        if len(ids_arr) and ids_arr.min() < 0:
            raise ValueError("passage ids must be non-negative (-1 means 'no result')")
        if len(np.unique(ids_arr)) != len(ids_arr):
            raise ValueError("passage ids must be unique within one call")
        if not np.isfinite(vecs).all():
            raise ValueError("vectors contain NaN or infinite values")
        vecs = np.array(vecs.reshape(-1, self.dim), dtype=np.float32, order="C", copy=True)
        if self.normalized:
            l2_normalize(vecs, in_place=True)
        return ids_arr, vecs

    def _queries(self, query_vectors: np.ndarray) -> Any:
        q = np.asarray(query_vectors, dtype=np.float32)
        if q.ndim == 1:
            q = q[None, :]
        if q.ndim != 2 or q.shape[1] != self.dim:
            raise ValueError(f"queries must have shape (nq, {self.dim}), got {q.shape}")
        q = np.array(q, dtype=np.float32, order="C", copy=True)
        if self.normalized:
            l2_normalize(q, in_place=True)
        return q

    def _new_index(self, factory: str) -> Any:
        faiss = faiss_module()

        try:
            index = faiss.index_factory(self.dim, factory, faiss.METRIC_INNER_PRODUCT)
        except RuntimeError as exc:
            raise ValueError(
                f"invalid FAISS factory string {factory!r}: {' '.join(str(exc).split())[:200]}"
            ) from exc
        if isinstance(index, faiss.IndexIDMap | faiss.IndexIDMap2):
            return index
        if faiss.try_extract_index_ivf(index) is not None and not isinstance(
            index, faiss.IndexRefine
        ):
            return index  # IVF stores 64-bit ids itself and removes them natively
        return faiss.IndexIDMap2(index)

    def _train(self, index: Any, factory: str, vecs: np.ndarray) -> None:
        faiss = faiss_module()

        if index.is_trained:
            return
        ivf = faiss.try_extract_index_ivf(index)
        nlist = int(ivf.nlist) if ivf is not None else 1
        pq = re.search(r"PQ(\d+)(?:x(\d+))?", factory)
        codebook = 2 ** int(pq.group(2) or 8) if pq else 1
        needed = max(nlist, codebook)
        if len(vecs) < needed:
            raise IndexStateError(
                f"FAISS index {factory!r} needs at least {needed} vectors to train, got "
                f"{len(vecs)}",
                "leave index.factory unset (chosen by size) or use a smaller nlist",
            )
        # ~50 points per centroid is plenty for k-means and keeps training quick.
        sample_size = min(len(vecs), max(50 * needed, 10_000))
        rng = np.random.default_rng(0)
        sample = (
            vecs
            if sample_size == len(vecs)
            else vecs[rng.choice(len(vecs), sample_size, replace=False)]
        )
        index.train(np.ascontiguousarray(sample))

    def _removes_natively(self) -> bool:
        """IVF removes by id; IDMap removes correctly only over a Flat index."""
        faiss = faiss_module()

        index = self._index
        if isinstance(index, faiss.IndexIDMap | faiss.IndexIDMap2):
            return isinstance(faiss.downcast_index(index.index), faiss.IndexFlat)
        return faiss.try_extract_index_ivf(index) is not None

    def _rebuild_without(self, drop: np.ndarray) -> int:
        """Rebuild an IDMap-wrapped index without ``drop`` (for HNSW and friends)."""
        faiss = faiss_module()

        index = self._index
        assert isinstance(index, faiss.IndexIDMap | faiss.IndexIDMap2)
        all_ids = faiss.vector_to_array(index.id_map).astype(np.int64)
        keep = ~np.isin(all_ids, drop)
        removed = int((~keep).sum())
        if not removed:
            return 0
        vectors = index.index.reconstruct_n(0, index.ntotal)
        factory = self.factory or "IDMap2,Flat"
        fresh = self._new_index(factory)
        self._train(fresh, factory, vectors[keep])
        if keep.any():
            fresh.add_with_ids(np.ascontiguousarray(vectors[keep]), all_ids[keep])
        self._index = fresh
        self._apply_search_settings()
        return removed

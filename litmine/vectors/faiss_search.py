"""Searching a FAISS index: search parameters, id filters and their fallbacks.

:class:`FaissSearch` is the search half of :class:`~litmine.vectors.faiss_index.PassageIndex`
(a mixin, as sentence-transformers builds ``SentenceTransformer``): ``nprobe`` /
``efSearch`` from the settings, id-filtered search through FAISS selectors (IVF
visits more lists when the filter is selective), and when an index type rejects
selectors or comes back short, exhaustive scoring or over-fetching.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from litmine.config import IndexSettings

__all__ = ["FaissSearch", "faiss_module", "omp_threads"]

_OVERFETCH_START = 4
# Largest allowed-id set scored exactly from reconstructed vectors (HNSW-like indexes).
_EXACT_SUBSET_MAX = 200_000


def faiss_module() -> Any:
    """Import FAISS on first use (typed as Any: its SWIG stubs lack keyword constructors)."""
    try:
        import faiss
    except ImportError as exc:  # pragma: no cover - faiss-cpu is a core dependency
        from litmine.errors import MissingDependencyError

        raise MissingDependencyError("faiss", "pip install faiss-cpu") from exc
    return faiss


@contextlib.contextmanager
def omp_threads(n: int | None) -> Iterator[None]:
    """Run FAISS with ``n`` OpenMP threads inside the block (None: unchanged)."""
    if n is None:
        yield
        return
    faiss = faiss_module()
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(n)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


class FaissSearch:
    """Search internals shared by :class:`~litmine.vectors.faiss_index.PassageIndex`."""

    _index: Any
    settings: IndexSettings

    @property
    def ntotal(self) -> int:
        """Number of vectors in the index."""
        raise NotImplementedError

    def ids(self) -> np.ndarray:
        """Every stored passage id."""
        raise NotImplementedError

    def _params(self, selector: Any | None, k: int, n_allowed: int | None) -> Any:
        faiss = faiss_module()

        index = self._index
        ivf = faiss.try_extract_index_ivf(index)
        if ivf is not None:
            nlist = int(ivf.nlist)
            nprobe = min(self.settings.nprobe, nlist)
            if n_allowed:
                # Scale the lists visited by 1 / selectivity, so about as many allowed
                # vectors are scored as an unfiltered search scores: a filter keeping 1%
                # visits every list (the allowed top-k may sit in far-away lists).
                scaled = math.ceil(nprobe * self.ntotal / max(n_allowed, 1))
                nprobe = min(nlist, max(nprobe, scaled))
            return faiss.SearchParametersIVF(sel=selector, nprobe=nprobe)
        inner = index.index if isinstance(index, faiss.IndexIDMap | faiss.IndexIDMap2) else index
        if isinstance(faiss.downcast_index(inner), faiss.IndexHNSW):
            return faiss.SearchParametersHNSW(
                sel=selector, efSearch=max(self.settings.ef_search, k)
            )
        return faiss.SearchParameters(sel=selector)

    def _search(
        self, queries: np.ndarray, k: int, selector: Any | None = None, n_allowed: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        index = self._index
        assert index is not None
        if selector is None:  # nprobe / efSearch were set on the index itself
            scores, ids = index.search(queries, k)
        else:
            scores, ids = index.search(queries, k, params=self._params(selector, k, n_allowed))
        return scores, ids

    def _apply_search_settings(self) -> None:
        """Set ``nprobe`` / ``efSearch`` from the settings on the FAISS index."""
        faiss = faiss_module()

        index = self._index
        if index is None:
            return
        ivf = faiss.try_extract_index_ivf(index)
        if ivf is not None:
            ivf.nprobe = min(self.settings.nprobe, int(ivf.nlist))
        inner = index.index if isinstance(index, faiss.IndexIDMap | faiss.IndexIDMap2) else index
        inner = faiss.downcast_index(inner)
        if isinstance(inner, faiss.IndexHNSW):
            inner.hnsw.efSearch = self.settings.ef_search
        if isinstance(inner, faiss.IndexRefine):
            # The refine stage re-scores k * k_factor candidates of the coarse codes.
            inner.k_factor = float(self.settings.refine_k_factor)

    def _filtered_search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        faiss = faiss_module()

        selector = faiss.IDSelectorBatch(allowed)
        try:
            scores, ids = self._search(queries, k, selector, len(allowed))
        except RuntimeError:  # this index type rejects selectors
            return self._overfetch(queries, k, allowed)
        # Approximate indexes may come back short although enough allowed ids exist.
        found = (ids >= 0).sum(axis=1)
        if (found < min(k, len(allowed))).any():
            present = allowed[np.isin(allowed, self.ids())]
            short = found < min(k, len(present))
            if short.any():
                s2, i2 = self._exhaustive(queries[short], k, present, selector)
                scores[short], ids[short] = s2, i2
        return scores, ids

    def _exhaustive(
        self, queries: np.ndarray, k: int, present: np.ndarray, selector: Any
    ) -> tuple[np.ndarray, np.ndarray]:
        """Score every allowed vector: all IVF lists, or the reconstructed vectors."""
        faiss = faiss_module()
        index = self._index
        ivf = faiss.try_extract_index_ivf(index)
        if ivf is not None:
            params = faiss.SearchParametersIVF(sel=selector, nprobe=int(ivf.nlist))
            scores, ids = index.search(queries, k, params=params)
            return scores, ids
        if isinstance(index, faiss.IndexIDMap2) and len(present) <= _EXACT_SUBSET_MAX:
            vectors = index.reconstruct_batch(present)
            sims = queries @ vectors.T
            order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
            out_scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
            out_ids = np.full((len(queries), k), -1, dtype=np.int64)
            out_scores[:, : order.shape[1]] = np.take_along_axis(sims, order, axis=1)
            out_ids[:, : order.shape[1]] = present[order]
            return out_scores, out_ids
        return self._overfetch(queries, k, present)

    def _overfetch(
        self, queries: np.ndarray, k: int, allowed: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Search unfiltered for more and more results until ``k`` allowed ones remain."""
        index = self._index
        assert index is not None
        nq = len(queries)
        out_scores = np.full((nq, k), -np.inf, dtype=np.float32)
        out_ids = np.full((nq, k), -1, dtype=np.int64)
        todo = np.arange(nq)
        fetch = min(self.ntotal, _OVERFETCH_START * k)
        while len(todo):
            scores, ids = index.search(queries[todo], fetch)
            done = []
            for row, q in enumerate(todo):
                mask = np.isin(ids[row], allowed) & (ids[row] >= 0)
                got_ids, got_scores = ids[row][mask][:k], scores[row][mask][:k]
                if len(got_ids) >= k or fetch >= self.ntotal:
                    out_ids[q, : len(got_ids)] = got_ids
                    out_scores[q, : len(got_ids)] = got_scores
                    done.append(row)
            todo = np.delete(todo, done)
            fetch = min(self.ntotal, fetch * 4)
        return out_scores, out_ids

    @staticmethod
    def _finish(scores: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        scores = np.asarray(scores, dtype=np.float32)
        ids = np.asarray(ids, dtype=np.int64)
        scores[ids < 0] = -np.inf
        return scores, ids

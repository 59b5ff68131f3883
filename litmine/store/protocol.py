"""What the rest of litmine may call on a store: the interface a second backend implements.

:class:`StoreProtocol` lists the methods that ingest, search, vector
indexing, entity extraction, answers, export and the web app call (found by
grepping ``litmine/`` and ``flows/``). The SQLite :class:`~litmine.store.Store`
is the default implementation and is checked against this protocol by mypy
(see :mod:`litmine.store.sqlite`) and by ``tests/store/test_protocol.py``.

Methods only the store's own tools use (``check``, ``rebuild_fts``,
``resplit``, ``has_article``, ...) are left out: a backend may offer them
under its own terms. Records are those of :mod:`litmine.types` and
:mod:`litmine.store.records`; :class:`~litmine.store.rows.PreparedArticle`
is backend-neutral (row values, no SQL).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol, Self, SupportsInt, runtime_checkable

from litmine.store.records import (
    ArticleMetadata,
    EntityCount,
    PairCount,
    PassageChange,
    RunRecord,
    SavedQuery,
    StoreCounts,
    UpsertCounts,
)
from litmine.store.rows import PreparedArticle
from litmine.types import Article, Entity, IngestReport, Passage

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["StoreProtocol"]


@runtime_checkable
class StoreProtocol(Protocol):
    """A litmine store, whatever the database behind it.

    Each method's contract is documented on the SQLite implementation
    (:class:`litmine.store.Store`), which defines it.
    """

    # -- connection
    @property
    def read_only(self) -> bool:
        """Whether the store was opened without write access."""
        ...

    def __enter__(self) -> Self:
        """Use the store as a context manager that closes it."""

    def __exit__(self, *exc: object) -> None:
        """Close the store."""

    def close(self) -> None:
        """Close the connection; further calls fail with StoreError."""

    def transaction(self) -> AbstractContextManager[None]:
        """Group writes into one atomic transaction (nested blocks join it)."""

    def counts(self) -> StoreCounts:
        """Row counts (for ``litmine status``)."""

    # -- articles (ingest)
    def upsert_articles(
        self,
        articles: Iterable[Article | PreparedArticle],
        *,
        split: Callable[[Article], list[Passage]] | None = None,
        batch_size: int = 500,
    ) -> UpsertCounts:
        """Insert or replace articles and their passages, idempotently by PMID."""

    def delete_articles(self, pmids: Iterable[str]) -> int:
        """Delete articles and everything derived from them; return how many."""

    def get_article(self, pmid: str) -> Article | None:
        """The stored article, or None."""

    def iter_articles(
        self, *, pmids: Iterable[str] | None = None, batch_size: int = 500
    ) -> Iterator[Article]:
        """Stored articles (these PMIDs in order, or all in insertion order)."""

    # -- passages (vector indexing, search)
    def passages_for(self, pmid: str) -> list[Passage]:
        """Passages of one article, in order."""

    def get_passages(self, ids: Iterable[SupportsInt]) -> list[Passage]:
        """Passages by id, in the order asked; unknown ids skipped."""

    def iter_passages(self, *, batch_size: int = 1000) -> Iterator[list[Passage]]:
        """All passages in batches, in insertion order."""

    def passage_ids(self) -> npt.NDArray[np.int64]:
        """All passage ids, ascending, as an int64 array."""

    def passage_changes_since(self, seq: int = 0, limit: int | None = None) -> list[PassageChange]:
        """Passage change-log entries after ``seq``, oldest first."""

    def prune_passage_changes(self, upto_seq: int) -> int:
        """Forget change-log entries up to ``upto_seq``; return how many."""

    # -- full text (search)
    def passage_fts_behind(self) -> int:
        """Number of passages not yet in the passage full-text index."""

    def sync_passage_fts(self) -> int:
        """Index the passages stored since the last sync; return how many."""

    def bm25_articles(self, query: str, k: int = 100) -> list[tuple[str, float]]:
        """Full-text search over titles and abstracts: ``(pmid, score)``, best first."""

    def bm25_passages(self, query: str, k: int = 100) -> list[tuple[int, float]]:
        """Full-text search over passages: ``(passage_id, score)``, best first."""

    def bm25_passages_within(
        self, query: str, pmids: Iterable[str], k: int = 100
    ) -> list[tuple[int, float]]:
        """Like :meth:`bm25_passages`, within the passages of some articles."""

    def bm25_article_passages(
        self, query: str, k: int = 100, pmids: Iterable[str] | None = None
    ) -> list[tuple[int, float]]:
        """Passages of the best ``k`` articles by article BM25, with its score."""

    # -- search filters
    def filter_pmids(
        self,
        *,
        since_year: int | None = None,
        until_year: int | None = None,
        pub_types: Sequence[str] = (),
        mesh: Sequence[str] = (),
        entities: Sequence[str] = (),
    ) -> set[str]:
        """PMIDs of articles passing every given condition."""

    def passage_ids_of(self, pmids: Iterable[str]) -> npt.NDArray[np.int64]:
        """Ids of the passages of these articles, ascending."""

    def article_metadata(self, pmids: Iterable[str]) -> dict[str, ArticleMetadata]:
        """Year, journal and publication types of articles, by PMID."""

    # -- entities (extraction, answers, export)
    def entities_for(self, passage_ids: Iterable[SupportsInt]) -> dict[int, list[Entity]]:
        """Entities of the given passages, by passage id, in text order."""

    def pmids_needing_entities(self, limit: int | None = None) -> list[str]:
        """PMIDs with a passage the entity extractor has not processed."""

    def save_entities(
        self, passage_id_to_entities: Mapping[int, Sequence[Entity]], model: str
    ) -> int:
        """Replace passages' entities and mark them processed; return how many."""

    def clear_entities(self) -> int:
        """Delete every entity and processed mark; return how many entities."""

    def top_entities(
        self, *, label: str | None = None, pmids: Iterable[str] | None = None, limit: int = 20
    ) -> list[EntityCount]:
        """The entities mentioned in the most articles."""

    def chemical_disease_pairs(
        self, *, pmids: Iterable[str] | None = None, limit: int = 50
    ) -> list[PairCount]:
        """Chemical-disease pairs mentioned together in the most articles."""

    # -- runs (ingest)
    def start_run(self, kind: str, params: Mapping[str, Any]) -> int:
        """Record the start of a run and return its id."""

    def finish_run(
        self, run_id: int, status: str, report: IngestReport, message: str | None = None
    ) -> None:
        """Record the end of a run."""

    def recent_runs(self, limit: int = 10) -> list[RunRecord]:
        """The latest runs, newest first."""

    # -- saved queries (ingest, flows)
    def add_query(self, query: str, cron: str) -> SavedQuery:
        """Save a query (saving the same text again returns the saved one)."""

    def list_queries(self) -> list[SavedQuery]:
        """All saved queries, oldest first."""

    def get_query(self, query_or_id: str | int) -> SavedQuery | None:
        """A saved query by id or by text, or None."""

    def remove_query(self, query_or_id: str | int) -> bool:
        """Delete a saved query; return whether one was removed."""

    def set_watermark(self, query_id: int, watermark: dt.date, run_id: int | None = None) -> None:
        """Advance a saved query's watermark (never backwards)."""

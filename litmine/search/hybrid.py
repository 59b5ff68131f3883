"""Question search over the stored passages: BM25, dense vectors, or both fused.

:func:`search` is the pure core: it takes an open store, a loaded index and an
embedder and returns :class:`~litmine.types.Hit` objects. :class:`Searcher`
is the thin service the CLI and the web app use: it opens those from the
settings once and answers many questions.

A search runs in four steps:

1. Filters (:class:`SearchFilters`: year range, publication types, MeSH
   terms, entity mentions) become a set of PMIDs by SQL over the side tables
   (:func:`filter_pmids`).
2. Each retriever returns its candidates (``settings.search.candidates``):
   BM25 from the store's FTS5 index (by default whole articles, each passage
   of a hit article scored by its article; ``search.bm25_unit``), dense from
   the FAISS index (restricted to the filtered passages by an id filter).
3. Hybrid mode fuses the two rankings (:mod:`litmine.search.fusion`; by default
   min-max normalised scores weighted by ``alpha``, or reciprocal rank
   fusion). Tuned on the SciFact training claims (``bench/retrieval_quality.py``).
4. The page is diversified (at most ``max_per_article`` passages per
   article), cut to ``k`` and filled with the passages and article metadata.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, get_args

from litmine.config import SearchMode
from litmine.errors import ConfigError, IndexStateError, InputError
from litmine.types import Hit

if TYPE_CHECKING:
    from litmine.config import Settings
    from litmine.store import Store
    from litmine.vectors.embed import Embedder
    from litmine.vectors.faiss_index import PassageIndex

__all__ = [
    "MODES",
    "SearchFilters",
    "Searcher",
    "filter_pmids",
    "search",
    "validate_question",
]

MODES: tuple[str, ...] = get_args(SearchMode)
"""Retrieval modes: ``hybrid``, ``bm25``, ``dense``."""

Retriever = Literal["bm25", "dense"]


@dataclass(slots=True, frozen=True)
class SearchFilters:
    """Conditions an article must meet for its passages to be returned.

    All given conditions must hold. Matching is case-insensitive.

    Attributes:
        since_year: Published in this year or later.
        until_year: Published in this year or earlier.
        pub_types: Has at least one of these publication types
            (``"Randomized Controlled Trial"``).
        mesh: Has every one of these MeSH descriptors (name or UI).
        entities: Mentions every one of these entities (extracted entity text
            or normalised form; needs ``litmine entities`` to have run).
    """

    since_year: int | None = None
    until_year: int | None = None
    pub_types: tuple[str, ...] = ()
    mesh: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        """True when no condition is set."""
        return (
            self.since_year is None
            and self.until_year is None
            and not self.pub_types
            and not self.mesh
            and not self.entities
        )


def filter_pmids(store: Store, filters: SearchFilters | None) -> set[str] | None:
    """The PMIDs allowed by the filters.

    Args:
        store: The store.
        filters: The filters; None or empty means no restriction.

    Returns:
        The allowed PMIDs, or None when nothing is filtered.

    Raises:
        InputError: ``since_year`` is after ``until_year``.
    """
    if filters is None or filters.is_empty:
        return None
    if (
        filters.since_year is not None
        and filters.until_year is not None
        and filters.since_year > filters.until_year
    ):
        raise InputError(
            f"--since {filters.since_year} is after --until {filters.until_year}",
            "swap the two years",
        )
    return store.filter_pmids(
        since_year=filters.since_year,
        until_year=filters.until_year,
        pub_types=filters.pub_types,
        mesh=filters.mesh,
        entities=filters.entities,
    )


def validate_question(question: str, max_chars: int) -> str:
    """Normalise whitespace and check a question's length.

    Args:
        question: The user's question.
        max_chars: Longest accepted length (after whitespace is collapsed).

    Returns:
        The question with runs of whitespace collapsed to one space.

    Raises:
        InputError: The question is empty or longer than ``max_chars``.
    """
    text = " ".join(str(question).split())
    if not text:
        raise InputError("the question is empty", 'ask something, e.g. litmine search "..."')
    if len(text) > max_chars:
        raise InputError(
            f"the question is {len(text)} characters long; the limit is {max_chars}",
            "shorten it to its key terms, or raise search.max_question_chars",
        )
    return text


def _dense_run(
    question: str,
    index: PassageIndex | None,
    embedder: Embedder | None,
    depth: int,
    allowed_pmids: set[str] | None,
    store: Store,
) -> list[tuple[int, float]]:
    if index is None or embedder is None:
        raise ConfigError(
            "dense and hybrid search need the vector index and the embedding model",
            "run `litmine index build`, or use --mode bm25",
        )
    id_filter = None
    if allowed_pmids is not None:
        id_filter = store.passage_ids_of(allowed_pmids)
        if not len(id_filter):
            return []
    query = embedder.embed_queries([question])
    scores, ids = index.search(query, depth, id_filter=id_filter)
    return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]


def _bm25_run(
    question: str, store: Store, depth: int, allowed_pmids: set[str] | None, unit: str
) -> list[tuple[int, float]]:
    if allowed_pmids is not None and not allowed_pmids:
        return []
    if unit == "article":
        # ``depth`` articles: their passages all carry the article's score.
        return store.bm25_article_passages(question, depth, allowed_pmids)
    if allowed_pmids is None:
        return store.bm25_passages(question, depth)
    return store.bm25_passages_within(question, allowed_pmids, depth)


def search(
    question: str,
    *,
    store: Store,
    index: PassageIndex | None,
    embedder: Embedder | None,
    settings: Settings,
    mode: str | None = None,
    k: int | None = None,
    filters: SearchFilters | None = None,
    max_per_article: int | None = None,
    candidates: int | None = None,
) -> list[Hit]:
    """Find the passages that best answer a question.

    Args:
        question: Free-text question.
        store: Open store (BM25, passages, metadata, filters).
        index: Loaded vector index; may be None in ``bm25`` mode.
        embedder: Question embedder (the index's model); may be None in
            ``bm25`` mode.
        settings: ``settings.search`` gives the defaults of the other arguments
            and the fusion method.
        mode: ``hybrid``, ``bm25`` or ``dense``; None uses ``settings.search.mode``.
        k: Hits returned; None uses ``settings.search.k``.
        filters: Article conditions; None for none.
        max_per_article: Most hits of one article; None uses the settings.
        candidates: Passages each retriever returns before fusion; None uses
            the settings (raised to ``k`` when smaller).

    Returns:
        Hits best first. In single-retriever modes ``score`` is that
        retriever's score (BM25, or cosine similarity); in hybrid mode the
        fused score. ``ranks`` holds each retriever's 1-based rank of the passage.

    Raises:
        InputError: Empty or overlong question, unknown mode, bad ``k`` or year range.
        ConfigError: Dense or hybrid mode without an index or embedder.
    """
    cfg = settings.search
    mode = mode or cfg.mode
    if mode not in MODES:
        raise InputError(f"unknown search mode {mode!r}", f"use one of {', '.join(MODES)}")
    k = cfg.k if k is None else k
    if k < 1:
        raise InputError(f"k must be at least 1, got {k}")
    per_article = cfg.max_per_article if max_per_article is None else max_per_article
    if per_article < 1:
        raise InputError(f"max_per_article must be at least 1, got {per_article}")
    text = validate_question(question, cfg.max_question_chars)
    depth = max(cfg.candidates if candidates is None else candidates, k)

    allowed = filter_pmids(store, filters)
    if allowed is not None and not allowed:
        return []
    runs: dict[str, list[tuple[int, float]]] = {}
    if mode in ("dense", "hybrid"):
        runs["dense"] = _dense_run(text, index, embedder, depth, allowed, store)
    if mode in ("bm25", "hybrid"):
        runs["bm25"] = _bm25_run(text, store, depth, allowed, cfg.bm25_unit)
    fused = _fuse(runs, settings)
    return _page(fused, store, k, per_article)


def _fuse(
    runs: dict[str, list[tuple[int, float]]], settings: Settings
) -> list[tuple[int, float, dict[str, int]]]:
    from litmine.search.fusion import reciprocal_rank_fusion, score_fusion

    if len(runs) == 1:
        ((name, run),) = runs.items()
        return [(pid, score, {name: rank}) for rank, (pid, score) in enumerate(run, start=1)]
    cfg = settings.search
    if cfg.fusion == "rrf":
        return reciprocal_rank_fusion(runs, k=cfg.rrf_k)
    # ``runs`` is ordered dense first, so alpha is the dense weight.
    return score_fusion(runs, alpha=cfg.alpha, method=cfg.fusion)


def _page(
    fused: Sequence[tuple[int, float, dict[str, int]]], store: Store, k: int, per_article: int
) -> list[Hit]:
    from litmine.search.fusion import diversify

    if not fused:
        return []
    passages = {p.id: p for p in store.get_passages(pid for pid, _, _ in fused)}
    hits = [
        Hit(
            passage=passages[pid],
            score=score,
            retrievers=[name for name in ("bm25", "dense") if name in ranks],
            ranks=dict(ranks),
        )
        for pid, score, ranks in fused
        if pid in passages  # a stale vector of a deleted passage
    ]
    page = diversify(hits, per_article)[:k]
    meta = store.article_metadata(h.passage.pmid for h in page)
    for hit in page:
        info = meta.get(hit.passage.pmid)
        if info is not None:
            hit.year = info.year
            hit.journal = info.journal
            hit.publication_types = list(info.publication_types)
    return page


class Searcher:
    """Opens the store, the vector index and the embedder once; answers questions.

    The index and the model are loaded lazily, on the first dense or hybrid
    question, so BM25-only use never pays for them.

    Args:
        settings: Settings tree (data dir, index, model, search defaults).
        store: An open store to use instead of opening one (not closed by
            :meth:`close` then).
    """

    def __init__(self, settings: Settings, *, store: Store | None = None) -> None:
        from litmine.store import open_store

        self.settings = settings
        self._own_store = store is None
        self.store = store if store is not None else open_store(settings, read_only=True)
        self._index: PassageIndex | None = None
        self._index_stamp: tuple[int, int] | None = None
        self._embedder: Embedder | None = None

    def _manifest_stamp(self) -> tuple[int, int] | None:
        """Identity of the index's manifest file now (inode, mtime), or None."""
        from litmine.vectors.build import index_path
        from litmine.vectors.manifest import MANIFEST_NAME

        try:
            stat = (index_path(self.settings) / MANIFEST_NAME).stat()
        except OSError:
            return None
        return stat.st_ino, stat.st_mtime_ns

    def dense_parts(self) -> tuple[PassageIndex, Embedder]:
        """Return the vector index and the question embedder, loading them as needed.

        The index is loaded again when its manifest has changed since: an
        ``index update`` or ``build`` (the nightly run, another machine's
        job) saves a new index file and then replaces the manifest atomically,
        so a long-running searcher (``litmine serve``) sees new passages
        without a restart. Checking costs one ``stat`` per dense search.

        Raises:
            IndexStateError: No usable index for the configured model.
        """
        if self._embedder is None:
            from litmine.vectors.embed import load_embedder

            self._embedder = load_embedder(self.settings.embed)
        stamp = self._manifest_stamp()
        if self._index is None or stamp != self._index_stamp:
            from litmine.vectors.build import load_index

            self._index = load_index(self.settings, embedder=self._embedder)
            self._index_stamp = stamp
        return self._index, self._embedder

    def search(
        self,
        question: str,
        *,
        mode: str | None = None,
        k: int | None = None,
        filters: SearchFilters | None = None,
        max_per_article: int | None = None,
        candidates: int | None = None,
    ) -> list[Hit]:
        """Answer one question; see :func:`search` for the arguments.

        Raises:
            IndexStateError: Dense or hybrid mode and no usable index.
        """
        mode = mode or self.settings.search.mode
        if mode in ("bm25", "hybrid") and self.settings.search.bm25_unit == "passage":
            self._sync_passage_fts()
        index: PassageIndex | None = None
        embedder: Embedder | None = None
        if mode in ("dense", "hybrid"):
            try:
                index, embedder = self.dense_parts()
            except IndexStateError as exc:
                hint = f"{exc.hint}, or search with --mode bm25" if exc.hint else None
                raise IndexStateError(exc.message, hint or "search with --mode bm25") from exc
        return search(
            question,
            store=self.store,
            index=index,
            embedder=embedder,
            settings=self.settings,
            mode=mode,
            k=k,
            filters=filters,
            max_per_article=max_per_article,
            candidates=candidates,
        )

    def _sync_passage_fts(self) -> None:
        """Index passages stored since the last passage-level query (built on demand).

        A writable store catches up by itself in its passage-level BM25 calls;
        a read-only one (the searcher's own) catches up through a short-lived
        writable connection, and only when it is behind: no write lock per search.
        """
        if self.store.read_only and self.store.passage_fts_behind():
            from litmine.store import open_store

            with open_store(self.settings) as writable:
                writable.sync_passage_fts()

    def close(self) -> None:
        """Close the store when this searcher opened it."""
        if self._own_store:
            self.store.close()

    def __enter__(self) -> Searcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

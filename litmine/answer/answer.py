"""Answers for clinicians and analysts: clustered, labelled, summarised evidence.

:class:`Answerer` runs one question through five stages and times each:

1. ``search``: retrieve ``k`` passages with :class:`~litmine.search.hybrid.Searcher`.
2. ``vectors``: the hits' passage vectors, read back from the FAISS index
   (``reconstruct`` on its ``IDMap2``), or re-embedded when the index cannot
   give them (IVF indexes, stale entries, BM25 mode without an index), or
   TF-IDF vectors when no embedding model loads at all.
3. ``cluster``: :func:`~litmine.answer.cluster.cluster_hits` groups the hits; each
   group gets a label (entities, MeSH terms or title words), an evidence
   profile, and its retracted articles flagged.
4. ``summarize``: one summary per cluster from its best non-retracted passages
   (:mod:`litmine.answer.summarize`: seq2seq when the model loads, else extractive
   with the reason).
5. ``total``.

An :class:`Answerer` keeps the store, index, embedder and summary model open:
build one per process and call :meth:`Answerer.ask` for every question.
Calls are serialised by a lock, so one answerer can be shared by threads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from litmine.errors import IndexStateError, InputError, LitmineError
from litmine.types import Answer, ArticleInfo, Cluster, Entity, Hit, Passage, Summary

if TYPE_CHECKING:
    from litmine.answer.relevance import RelevanceModel
    from litmine.answer.summarize import Summarizer
    from litmine.config import Settings
    from litmine.search.hybrid import SearchFilters
    from litmine.store import Store
    from litmine.vectors.embed import Embedder
    from litmine.vectors.faiss_index import PassageIndex

__all__ = ["ENTITY_LABELS", "Answer", "Answerer", "hit_vectors"]

ENTITY_LABELS: tuple[str, ...] = ("CHEMICAL", "DISEASE")
"""Entity labels used for cluster labels and exports."""


def _reconstruct(index: PassageIndex, ids: Sequence[int]) -> tuple[np.ndarray, list[int]]:
    """Stored vectors of passage ids; rows the index cannot give are zero, listed in missing."""
    out = np.zeros((len(ids), index.dim), dtype=np.float32)
    missing: list[int] = []
    try:
        faiss_index = index.faiss_index
    except IndexStateError:
        return out, list(range(len(ids)))
    for row, pid in enumerate(ids):
        try:
            out[row] = faiss_index.reconstruct(int(pid))
        except (RuntimeError, AttributeError):  # no id map / direct map, or unknown id
            missing.append(row)
    return out, missing


def hit_vectors(
    passages: Sequence[Passage],
    *,
    index: PassageIndex | None,
    embedder: Embedder | None,
) -> tuple[np.ndarray, str]:
    """Vectors of passages for clustering, by the fastest path available.

    Args:
        passages: The hit passages.
        index: The loaded vector index; None to skip the fast path.
        embedder: The index's embedder, used for rows the index cannot give;
            None falls back to TF-IDF vectors.

    Returns:
        ``(vectors, source)`` with one L2-normalised row per passage and
        ``source`` one of ``"index"``, ``"index+embed"``, ``"embed"``, ``"tfidf"``.
    """
    from litmine.vectors.build import embedding_text
    from litmine.vectors.normalize import l2_normalize, tfidf_rows

    if not passages:
        return np.zeros((0, 1), dtype=np.float32), "index"
    source = "embed"
    vectors: np.ndarray | None = None
    missing = list(range(len(passages)))
    if index is not None and index.ntotal:
        vectors, missing = _reconstruct(index, [p.id for p in passages])
        source = "index" if not missing else "index+embed"
    if missing and embedder is not None:
        fresh = embedder.embed_documents([embedding_text(passages[i]) for i in missing])
        if vectors is None:
            vectors = np.asarray(fresh, dtype=np.float32)
        else:
            vectors[missing] = fresh
    elif missing:
        vectors = tfidf_rows([embedding_text(p) for p in passages], no_vocabulary=1.0)
        source = "tfidf"
    assert vectors is not None
    return l2_normalize(vectors), source


class Answerer:
    """Answers questions with clusters of cited, summarised evidence.

    Args:
        settings: Settings tree (``search``, ``ask``, ``summarize``, ``embed``...).
        store: An open store to use (not closed by :meth:`close`); None opens
            the settings' database read-only.
        embedder: An already loaded embedder for the index's model (saves
            loading it again); None loads it on first use.
        summarizer: A summariser to use; None calls
            :func:`~litmine.answer.summarize.load_summarizer` on first use.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        store: Store | None = None,
        embedder: Embedder | None = None,
        summarizer: Summarizer | None = None,
    ) -> None:
        from litmine.search.hybrid import Searcher

        self.settings = settings
        self.searcher = Searcher(settings, store=store)
        if embedder is not None:
            self.searcher._embedder = embedder  # share the caller's model with the searcher
        self._summarizer = summarizer
        self._dense_loaded = False
        self._index: PassageIndex | None = None
        self._embedder: Embedder | None = embedder
        self._relevance_model: RelevanceModel | None = None
        self._lock = threading.Lock()

    @property
    def store(self) -> Store:
        """The open store."""
        return self.searcher.store

    @property
    def summarizer(self) -> Summarizer:
        """The summariser, loaded on first use (seq2seq model or extractive fallback)."""
        if self._summarizer is None:
            from litmine.answer.summarize import load_summarizer

            embedder = None
            if self.settings.summarize.sentence_scoring == "embedding":
                embedder = self._dense()[1]
            self._summarizer = load_summarizer(self.settings, embedder=embedder)
        return self._summarizer

    def _dense(self) -> tuple[PassageIndex | None, Embedder | None]:
        """The vector index and embedder when they load (once); None for what does not."""
        if not self._dense_loaded:
            self._dense_loaded = True
            try:
                self._index, self._embedder = self.searcher.dense_parts()
            except LitmineError:
                self._index = None
                self._embedder = self.searcher._embedder  # loaded even when the index is not
        return self._index, self._embedder

    def warm_up(self) -> None:
        """Load the index, the embedder and the summariser now instead of on the first question."""
        self._dense()
        _ = self.summarizer

    def ask(
        self,
        question: str,
        *,
        k: int | None = None,
        n_clusters: int | None = None,
        filters: SearchFilters | None = None,
        mode: str | None = None,
    ) -> Answer:
        """Answer a question.

        Args:
            question: Free-text question.
            k: Passages retrieved; None uses ``ask.k``.
            n_clusters: Number of clusters; None chooses it (silhouette, up
                to ``ask.max_clusters``).
            filters: Article conditions (years, publication types, MeSH, entities).
            mode: ``hybrid``, ``bm25`` or ``dense``; None uses ``ask.mode`` or
                else ``search.mode``.

        Returns:
            The answer; no clusters when nothing matched.

        Raises:
            InputError: Empty or overlong question, bad ``k``, ``n_clusters``,
                mode or year range.
            IndexStateError: Dense or hybrid mode without a usable index.
            ModelNotFoundError: ``summarize.method = seq2seq`` and the model
                cannot be loaded.
        """
        from litmine.answer.cluster import cluster_hits
        from litmine.answer.trust import split_clusters
        from litmine.search.hybrid import validate_question

        cfg = self.settings.ask
        if n_clusters is not None and n_clusters < 1:
            raise InputError(f"the number of clusters must be at least 1, got {n_clusters}")
        text = validate_question(question, self.settings.search.max_question_chars)
        mode = mode or cfg.mode or self.settings.search.mode
        k = cfg.k if k is None else k
        with self._lock:
            timings: dict[str, float] = {}
            start = time.perf_counter()
            hits = self.searcher.search(text, mode=mode, k=k, filters=filters)
            timings["search"] = time.perf_counter() - start

            mark = time.perf_counter()
            index, embedder = self._dense() if hits else (None, None)
            vectors, source = hit_vectors([h.passage for h in hits], index=index, embedder=embedder)
            timings["vectors"] = time.perf_counter() - mark

            mark = time.perf_counter()
            labels = cluster_hits(
                vectors,
                n_clusters=n_clusters,
                max_clusters=cfg.max_clusters,
                min_silhouette=cfg.min_silhouette,
                pair_similarity=cfg.pair_similarity,
            )
            articles = self._articles(hits)
            entities = self._entities(hits)
            clusters = self._clusters(hits, labels, articles, entities)
            threshold, note = self._relevance(text, hits, vectors, source, clusters, articles)
            less: list[Cluster] = []
            if threshold is not None:
                clusters, less = split_clusters(clusters, threshold)
            timings["cluster"] = time.perf_counter() - mark

            mark = time.perf_counter()
            summarizer = self.summarizer
            self._summarize(text, clusters, articles, summarizer, threshold)
            self._evidence_tables(text, clusters, articles, threshold)
            timings["summarize"] = time.perf_counter() - mark
            timings["total"] = time.perf_counter() - start
        return Answer(
            question=text,
            clusters=clusters,
            less_related=less,
            no_evidence=bool(hits) and not clusters,
            relevance_threshold=threshold,
            relevance_note=note,
            summary_method=summarizer.method,
            summary_reason=summarizer.reason,
            timings=timings,
            articles=articles,
            entities=entities,
            mode=mode,
        )

    # -- stages ----------------------------------------------------------------------

    def _articles(self, hits: Sequence[Hit]) -> dict[str, ArticleInfo]:
        pmids = list(dict.fromkeys(h.passage.pmid for h in hits))
        out: dict[str, ArticleInfo] = {}
        for article in self.store.iter_articles(pmids=pmids):
            out[article.pmid] = ArticleInfo(
                pmid=article.pmid,
                title=article.title,
                journal=article.journal,
                year=article.year,
                doi=article.doi,
                publication_types=list(article.publication_types),
                mesh_terms=[m.descriptor_name for m in article.mesh_headings],
                retracted=article.is_retracted,
                pubmed_url=article.pubmed_url,
            )
        for hit in hits:  # an article deleted since the search: keep what the hit knows
            pmid = hit.passage.pmid
            if pmid not in out:
                out[pmid] = ArticleInfo(
                    pmid=pmid,
                    title=hit.passage.title,
                    journal=hit.journal,
                    year=hit.year,
                    publication_types=list(hit.publication_types),
                )
        return out

    def _entities(self, hits: Sequence[Hit]) -> dict[int, list[Entity]]:
        found = self.store.entities_for(h.passage.id for h in hits)
        return {pid: [e for e in ents if e.label in ENTITY_LABELS] for pid, ents in found.items()}

    def _clusters(
        self,
        hits: Sequence[Hit],
        labels: np.ndarray,
        articles: dict[str, ArticleInfo],
        entities: dict[int, list[Entity]],
    ) -> list[Cluster]:
        from litmine.answer.cluster import evidence_profile, label_cluster

        groups: dict[int, list[Hit]] = {}
        for hit, lab in zip(hits, labels.tolist(), strict=True):
            groups.setdefault(int(lab), []).append(hit)

        def docs(members: Sequence[Hit]) -> tuple[list[list[str]], list[list[str]], list[str]]:
            pmids = list(dict.fromkeys(h.passage.pmid for h in members))
            ents: dict[str, list[str]] = {p: [] for p in pmids}
            for h in members:
                ents[h.passage.pmid].extend(e.normalized for e in entities.get(h.passage.id, []))
            return (
                [ents[p] for p in pmids],
                [articles[p].mesh_terms for p in pmids],
                [articles[p].title for p in pmids],
            )

        per_group = {g: docs(members) for g, members in groups.items()}
        clusters: list[Cluster] = []
        for g in sorted(groups):
            members = groups[g]
            ent, mesh, titles = per_group[g]
            others = [per_group[o] for o in per_group if o != g]
            label = label_cluster(
                entities=ent,
                mesh=mesh,
                titles=titles,
                other_entities=[d for o in others for d in o[0]],
                other_mesh=[d for o in others for d in o[1]],
                other_titles=[d for o in others for d in o[2]],
                n_terms=self.settings.ask.label_terms,
            )
            pmids = list(dict.fromkeys(h.passage.pmid for h in members))
            flags = [articles[p].retracted for p in pmids]
            clusters.append(
                Cluster(
                    id=g,
                    label=label,
                    hits=list(members),
                    evidence=evidence_profile(
                        [articles[p].publication_types for p in pmids], flags
                    ),
                    retracted_pmids=[p for p, bad in zip(pmids, flags, strict=True) if bad],
                )
            )
        return clusters

    def _relevance(
        self,
        question: str,
        hits: Sequence[Hit],
        vectors: np.ndarray,
        source: str,
        clusters: list[Cluster],
        articles: dict[str, ArticleInfo],
    ) -> tuple[float | None, str | None]:
        """Score relevance (:mod:`litmine.answer.trust`); the threshold, or None and why not."""
        cfg = self.settings.ask
        if not cfg.relevance:
            return None, "relevance is not estimated (ask.relevance = false)"
        if not hits:
            return None, None
        if source == "tfidf" or self._embedder is None:
            return None, "relevance is not estimated: the embedding model is not available"
        from litmine.answer.relevance import load_relevance_model
        from litmine.answer.trust import score_relevance

        if self._relevance_model is None:
            self._relevance_model = load_relevance_model(cfg.relevance_model)
        model = self._relevance_model
        query = self._embedder.embed_queries([question])[0]
        score_relevance(question, query, hits, vectors, clusters, model, articles)
        return (model.threshold if cfg.min_relevance is None else cfg.min_relevance), None

    def _evidence_tables(
        self,
        question: str,
        clusters: list[Cluster],
        articles: dict[str, ArticleInfo],
        threshold: float | None,
    ) -> None:
        """Fill each shown cluster's evidence table and build its profile from it."""
        from litmine.answer.evidence import profile_of_rows
        from litmine.answer.trust import evidence_table

        pmids = list(dict.fromkeys(p for c in clusters for p in c.pmids))
        stored = {a.pmid: a for a in self.store.iter_articles(pmids=pmids)} if pmids else {}
        for cluster in clusters:
            cluster.evidence_table = evidence_table(question, cluster, stored, articles, threshold)
            cluster.evidence = profile_of_rows(cluster.evidence_table)

    def _summarize(
        self,
        question: str,
        clusters: list[Cluster],
        articles: dict[str, ArticleInfo],
        summarizer: Summarizer,
        threshold: float | None = None,
    ) -> None:
        from litmine.answer.trust import summary_passages

        limit = self.settings.summarize.max_passages
        stored = None
        if threshold is not None:  # relevant articles give their whole abstracts
            pmids = {
                h.passage.pmid for c in clusters for h in c.hits if (h.relevance or 0) >= threshold
            }
            stored = {p: self.store.passages_for(p) for p in pmids}
        inputs = [summary_passages(c, articles, threshold, limit, stored) for c in clusters]
        summaries = summarizer.summarize(question, inputs) if clusters else []
        for cluster, passages, summary in zip(clusters, inputs, summaries, strict=True):
            if not passages:
                summary = Summary(
                    text="",
                    method=summarizer.method,
                    model=summarizer.model,
                    reason="every article of this cluster is retracted; nothing was summarised",
                )
            cluster.summary = summary

    # -- lifetime --------------------------------------------------------------------

    def close(self) -> None:
        """Close the store when this answerer opened it."""
        self.searcher.close()

    def __enter__(self) -> Answerer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

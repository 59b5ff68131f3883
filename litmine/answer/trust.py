"""Only relevant evidence: apply relevance to an answer's clusters, build evidence tables.

:class:`~litmine.answer.Answerer` calls these after clustering:

1. :func:`score_relevance` gives every hit its article's probability of
   answering the question (:mod:`litmine.answer.relevance`) and every cluster its
   best article's.
2. :func:`split_clusters` keeps the clusters at or above the threshold, most
   relevant first, and folds the others under "less related" (listed by
   title, never summarised). When no cluster clears it, the answer is "No
   article in this collection answers this question".
3. :func:`summary_passages` gives the summariser only the relevant,
   non-retracted articles of a shown cluster, most relevant first.
4. :func:`evidence_table` builds the cluster's evidence table (design,
   sample size, year, key finding) from the stored articles.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from litmine.types import ArticleInfo, Cluster, EvidenceRow, Hit, Passage

if TYPE_CHECKING:
    from litmine.answer.relevance import RelevanceModel
    from litmine.types import Article

__all__ = [
    "NO_EVIDENCE",
    "article_sentences",
    "evidence_pmids",
    "evidence_table",
    "score_relevance",
    "split_clusters",
    "summary_passages",
]

NO_EVIDENCE = "No article in this collection answers this question."
"""What an answer says when no retrieved article clears the relevance threshold."""


def score_relevance(
    question: str,
    question_vector: np.ndarray,
    hits: Sequence[Hit],
    vectors: np.ndarray,
    clusters: Sequence[Cluster],
    model: RelevanceModel,
    articles: Mapping[str, ArticleInfo] | None = None,
) -> dict[str, float]:
    """Set ``relevance`` on every hit and cluster; return the articles' probabilities.

    Args:
        question: The question.
        question_vector: Its embedding.
        hits: The hits, best first.
        vectors: Their passage vectors (same space as the question vector).
        clusters: The answer's clusters (holding the same hit objects).
        model: The relevance model.
        articles: Article metadata (titles) by PMID.

    Returns:
        PMID -> probability.
    """
    from litmine.answer.relevance import article_features, cluster_relevance

    titles = {p: a.title for p, a in (articles or {}).items()}
    pmids, x = article_features(question, question_vector, hits, vectors, titles)
    probs = model.probability(x) if len(pmids) else np.zeros(0)
    by_pmid = {p: float(v) for p, v in zip(pmids, probs.tolist(), strict=True)}
    for hit in hits:
        hit.relevance = by_pmid.get(hit.passage.pmid)
    for cluster, value in zip(
        clusters, cluster_relevance([c.pmids for c in clusters], by_pmid), strict=True
    ):
        cluster.relevance = value
    return by_pmid


def split_clusters(
    clusters: Sequence[Cluster], threshold: float
) -> tuple[list[Cluster], list[Cluster]]:
    """Shown clusters (relevance at or above ``threshold``) and less related ones.

    Args:
        clusters: Clusters with their ``relevance`` set (None counts as shown).
        threshold: Least relevance of a shown cluster.

    Returns:
        ``(shown, less_related)``, each most relevant first (ties keep their order).
    """

    def key(c: Cluster) -> float:
        return -(c.relevance if c.relevance is not None else 1.0)

    shown = [c for c in clusters if c.relevance is None or c.relevance >= threshold]
    less = [c for c in clusters if c.relevance is not None and c.relevance < threshold]
    return sorted(shown, key=key), sorted(less, key=key)


def summary_passages(
    cluster: Cluster,
    articles: Mapping[str, ArticleInfo],
    threshold: float | None,
    limit: int,
    stored: Mapping[str, Sequence[Passage]] | None = None,
) -> list[Passage]:
    """The passages a shown cluster's summary is made from.

    Non-retracted articles whose relevance clears ``threshold`` (all of them
    when relevance is unknown), most relevant article first. With ``stored``
    each relevant article gives all its passages (its results and conclusions
    too, not only the passages that matched the question), else its hit
    passages in rank order; at most ``limit`` passages.
    """

    def ok(hit: Hit) -> bool:
        info = articles.get(hit.passage.pmid)
        if info is not None and info.retracted:
            return False
        return threshold is None or hit.relevance is None or hit.relevance >= threshold

    kept = [h for h in cluster.hits if ok(h)]
    order = {p: i for i, p in enumerate(dict.fromkeys(h.passage.pmid for h in kept))}
    kept.sort(key=lambda h: (-(h.relevance or 0.0), order[h.passage.pmid]))
    if stored is None:
        return [h.passage for h in kept][:limit]
    out: list[Passage] = []
    for pmid in dict.fromkeys(h.passage.pmid for h in kept):
        own = [h.passage for h in kept if h.passage.pmid == pmid]
        out.extend(stored.get(pmid) or own)
    return out[:limit]


def evidence_pmids(cluster: Cluster, threshold: float | None) -> list[str]:
    """The cluster's articles that clear the relevance threshold (all when it is unknown)."""
    best: dict[str, float] = {}
    for hit in cluster.hits:
        if hit.relevance is not None:
            best[hit.passage.pmid] = max(best.get(hit.passage.pmid, 0.0), hit.relevance)
    if threshold is None or not best:
        return cluster.pmids
    return [p for p in cluster.pmids if best.get(p, 1.0) >= threshold]


def article_sentences(article: Article) -> list[tuple[str, str | None]]:
    """An article's abstract as sentences with their section labels."""
    from litmine.passages import regex_sentences

    parts: list[tuple[str, str | None]] = []
    sections = [(s.text, s.label or s.category) for s in article.sections if s.text]
    for text, label in sections or [(article.abstract, None)]:
        parts.extend((text[a:b], label) for a, b in regex_sentences(text))
    return parts


def evidence_table(
    question: str,
    cluster: Cluster,
    stored: Mapping[str, Article],
    articles: Mapping[str, ArticleInfo],
    threshold: float | None,
) -> list[EvidenceRow]:
    """A shown cluster's evidence table: one row per relevant article.

    Args:
        question: The question (the key finding is the sentence that best
            states a result for it).
        cluster: The cluster, relevance and summary set.
        stored: The stored articles by PMID (abstract, sections, MeSH).
        articles: The answer's article metadata by PMID.
        threshold: Least relevance of a row; None keeps every article.

    Returns:
        Rows most relevant first; retracted articles are flagged.
    """
    from litmine.answer.evidence import evidence_row
    from litmine.answer.findings import key_finding

    relevance: dict[str, float | None] = {}
    for hit in cluster.hits:
        relevance.setdefault(hit.passage.pmid, hit.relevance)
    cited = set(cluster.summary.cited_pmids) if cluster.summary is not None else set()
    rows: list[EvidenceRow] = []
    for pmid, value in relevance.items():
        if threshold is not None and value is not None and value < threshold:
            continue
        info = articles.get(pmid) or ArticleInfo(pmid=pmid)
        article = stored.get(pmid)
        abstract = article.abstract if article is not None else ""
        sentences = article_sentences(article) if article is not None else []
        rows.append(
            evidence_row(
                pmid=pmid,
                title=info.title,
                abstract=abstract,
                year=info.year,
                publication_types=info.publication_types,
                mesh_terms=info.mesh_terms,
                key_finding=key_finding(question, sentences),
                relevance=value,
                cited=pmid in cited,
                retracted=info.retracted,
            )
        )
    rows.sort(key=lambda r: -(r.relevance if r.relevance is not None else 0.0))
    return rows

"""Group search hits into topics, label the groups, count their kinds of evidence.

Pure functions over arrays and lists: no store, no model. :mod:`litmine.answer.answer`
feeds them the hits' passage vectors, entities, MeSH terms and publication types.

* :func:`cluster_hits` cuts an average-linkage (cosine) dendrogram of the hit
  vectors at the number of clusters with the best silhouette (or at a given
  number). It is deterministic and handles 0, 1 and 2 hits.
* :func:`label_cluster` names a cluster after the terms that are most frequent
  in it and rarest in the other clusters: entities first, then MeSH
  descriptors, then title words.
* :func:`evidence_profile` counts articles by their strongest PubMed
  publication type; retracted articles are counted apart.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

from litmine.types import EvidenceProfile
from litmine.vectors.normalize import l2_normalize

__all__ = [
    "MESH_CHECK_TAGS",
    "EvidenceProfile",
    "cluster_hits",
    "evidence_category",
    "evidence_profile",
    "is_retracted_type",
    "label_cluster",
]

MESH_CHECK_TAGS: frozenset[str] = frozenset(
    t.lower()
    for t in (
        "Humans",
        "Animals",
        "Male",
        "Female",
        "Adult",
        "Young Adult",
        "Adolescent",
        "Child",
        "Child, Preschool",
        "Infant",
        "Infant, Newborn",
        "Middle Aged",
        "Aged",
        "Aged, 80 and over",
        "Pregnancy",
        "Mice",
        "Rats",
        "Cattle",
        "Dogs",
        "Cats",
        "Swine",
        "Rabbits",
        "Treatment Outcome",
        "Retrospective Studies",
        "Prospective Studies",
        "Cohort Studies",
        "Cross-Sectional Studies",
        "Follow-Up Studies",
        "Risk Factors",
        "Time Factors",
        "Surveys and Questionnaires",
    )
)
"""MeSH check tags and study-design headings too common to label a topic."""

_STOPWORD_TEXT = (
    "a about after against all also among an and any are as at be been before between both "
    "but by can could did do does during each effect effects for from had has have however "
    "in into is it its may more most new not of on or other our over patients study studies "
    "such than that the their there these this those through to under use used using versus "
    "vs was were what when which while who with within without would"
)
_STOPWORDS: frozenset[str] = frozenset(_STOPWORD_TEXT.split())
_WORD_RE = re.compile(r"[A-Za-z][A-Za-z0-9\-]+")

# PubMed publication types, strongest evidence first. Matching is case-insensitive;
# a trailing "*" matches any suffix ("Clinical Trial, Phase III").
_CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("meta_analyses", ("meta-analysis", "network meta-analysis")),
    ("systematic_reviews", ("systematic review",)),
    ("rcts", ("randomized controlled trial",)),
    (
        "other_clinical_studies",
        (
            "clinical trial*",
            "controlled clinical trial",
            "pragmatic clinical trial",
            "adaptive clinical trial",
            "equivalence trial",
            "clinical study",
            "observational study",
            "comparative study",
            "multicenter study",
            "twin study",
            "validation study",
            "evaluation study",
        ),
    ),
    ("case_reports", ("case reports",)),
    ("reviews", ("review", "scoping review", "practice guideline", "guideline", "consensus*")),
)
_RETRACTED_TYPES = ("retracted publication",)


def _matches(pub_type: str, pattern: str) -> bool:
    value = pub_type.strip().lower()
    if pattern.endswith("*"):
        return value.startswith(pattern[:-1])
    return value == pattern


def is_retracted_type(publication_types: Sequence[str]) -> bool:
    """Whether the publication types mark a retracted article.

    Args:
        publication_types: PubMed publication types of one article.

    Returns:
        True when one of them is ``Retracted Publication``.
    """
    return any(_matches(t, p) for t in publication_types for p in _RETRACTED_TYPES)


def evidence_category(publication_types: Sequence[str]) -> str:
    """The strongest evidence category of one article.

    Args:
        publication_types: PubMed publication types of the article.

    Returns:
        A field name of :class:`~litmine.types.EvidenceProfile` other than
        ``retracted`` (``"rcts"``, ``"other"``...).
    """
    for category, patterns in _CATEGORIES:
        if any(_matches(t, p) for t in publication_types for p in patterns):
            return category
    return "other"


def evidence_profile(
    publication_types_per_article: Sequence[Sequence[str]],
    retracted: Sequence[bool] | None = None,
) -> EvidenceProfile:
    """Count articles by their strongest kind of evidence.

    Args:
        publication_types_per_article: Publication types, one list per article.
        retracted: Per article, whether it is retracted (e.g. from a
            ``RetractionIn`` link); an article whose types include
            ``Retracted Publication`` counts as retracted either way.

    Returns:
        The counts. Retracted articles are counted only in ``retracted``.

    Raises:
        ValueError: ``retracted`` has another length than the articles.
    """
    if retracted is not None and len(retracted) != len(publication_types_per_article):
        raise ValueError(
            f"{len(retracted)} retraction flags for {len(publication_types_per_article)} articles"
        )
    profile = EvidenceProfile()
    for i, types in enumerate(publication_types_per_article):
        if (retracted is not None and retracted[i]) or is_retracted_type(types):
            profile.retracted += 1
            continue
        category = evidence_category(types)
        setattr(profile, category, getattr(profile, category) + 1)
    return profile


# --------------------------------------------------------------------------- clustering


def _first_seen(labels: np.ndarray) -> np.ndarray:
    """Renumber labels 0, 1, ... in order of first appearance (cluster 0 holds row 0)."""
    mapping: dict[int, int] = {}
    out = np.empty(len(labels), dtype=np.int64)
    for i, lab in enumerate(labels.tolist()):
        out[i] = mapping.setdefault(int(lab), len(mapping))
    return out


def cluster_hits(
    vectors: np.ndarray,
    *,
    n_clusters: int | None = None,
    max_clusters: int = 6,
    min_silhouette: float = 0.05,
    pair_similarity: float = 0.5,
) -> np.ndarray:
    """Cluster hit vectors; choose the number of clusters by silhouette unless given.

    Rows are compared by cosine distance and merged by average linkage. For an
    automatic number, every cut from 2 to ``max_clusters`` clusters is scored
    by its silhouette; the best wins unless it is below ``min_silhouette``,
    when the hits stay one cluster. The result depends only on the input.

    Args:
        vectors: ``(n, dim)`` array, one row per hit, in rank order.
        n_clusters: Wanted number of clusters (capped at ``n``); None to choose.
        max_clusters: Largest number considered when choosing.
        min_silhouette: Least silhouette for a split to be worth it.
        pair_similarity: With exactly two hits (no silhouette), they share a
            cluster when their cosine similarity is at least this.

    Returns:
        ``(n,)`` int64 labels numbered in order of first appearance, so the
        first row (the best hit) is in cluster 0.

    Raises:
        ValueError: ``vectors`` is not two-dimensional, or a count is below 1.
    """
    vecs = np.asarray(vectors)
    if vecs.ndim != 2:
        raise ValueError(f"vectors must be 2-D, got shape {vecs.shape}")
    if n_clusters is not None and n_clusters < 1:
        raise ValueError(f"n_clusters must be at least 1, got {n_clusters}")
    if max_clusters < 1:
        raise ValueError(f"max_clusters must be at least 1, got {max_clusters}")
    n = len(vecs)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if n == 1 or n_clusters == 1:
        return np.zeros(n, dtype=np.int64)
    unit = l2_normalize(vecs, dtype=np.float64)
    if n == 2:
        if n_clusters is not None:
            return np.array([0, 1] if n_clusters >= 2 else [0, 0], dtype=np.int64)
        similar = float(unit[0] @ unit[1]) >= pair_similarity
        return np.array([0, 0] if similar else [0, 1], dtype=np.int64)

    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform
    from sklearn.metrics import silhouette_score

    dist = np.clip(1.0 - unit @ unit.T, 0.0, 2.0)
    np.fill_diagonal(dist, 0.0)
    dist = (dist + dist.T) / 2.0
    tree = linkage(squareform(dist, checks=False), method="average")
    if n_clusters is not None:
        return _first_seen(fcluster(tree, t=min(n_clusters, n), criterion="maxclust"))

    best_labels = np.zeros(n, dtype=np.int64)
    best_score = -math.inf
    for k in range(2, min(max_clusters, n - 1) + 1):
        labels = fcluster(tree, t=k, criterion="maxclust")
        found = len(np.unique(labels))
        if found < 2 or found >= n:
            continue
        # Mean silhouette over the precomputed distances (singletons score 0).
        score = float(silhouette_score(dist, labels, metric="precomputed"))
        if score > best_score + 1e-12:
            best_score, best_labels = score, labels
    if best_score < min_silhouette:
        return np.zeros(n, dtype=np.int64)
    return _first_seen(best_labels)


# --------------------------------------------------------------------------- labels


def _doc_freq(docs: Sequence[Sequence[str]]) -> tuple[Counter[str], dict[str, str]]:
    """Document frequency of lower-cased terms, and each term's most common spelling."""
    freq: Counter[str] = Counter()
    spellings: dict[str, Counter[str]] = {}
    for doc in docs:
        seen: set[str] = set()
        for term in doc:
            key = " ".join(term.split()).lower()
            if not key:
                continue
            spellings.setdefault(key, Counter())[term.strip()] += 1
            seen.add(key)
        freq.update(seen)
    display = {k: c.most_common(1)[0][0] for k, c in spellings.items()}
    return freq, display


def _title_terms(title: str) -> list[str]:
    return [
        w
        for w in (m.group(0).lower() for m in _WORD_RE.finditer(title))
        if w not in _STOPWORDS and len(w) > 2
    ]


def _top_terms(
    docs: Sequence[Sequence[str]],
    other_docs: Sequence[Sequence[str]],
    n_terms: int,
    min_df: int,
) -> list[str]:
    freq, display = _doc_freq(docs)
    if not freq:
        return []
    other, _ = _doc_freq(other_docs)
    n_in = max(len(docs), 1)
    n_out = max(len(other_docs), 1)

    def score(key: str) -> tuple[float, int, str]:
        contrast = freq[key] / n_in - (other[key] / n_out if other_docs else 0.0)
        return (-contrast, -freq[key], key)

    keys = sorted((k for k, v in freq.items() if v >= min_df), key=score)
    chosen: list[str] = []
    for key in keys:
        if any(key in c or c in key for c in chosen):  # "aspirin" vs "low-dose aspirin"
            continue
        chosen.append(key)
        if len(chosen) == n_terms:
            break
    return [display[k] for k in chosen]


def label_cluster(
    *,
    entities: Sequence[Sequence[str]] = (),
    mesh: Sequence[Sequence[str]] = (),
    titles: Sequence[str] = (),
    other_entities: Sequence[Sequence[str]] = (),
    other_mesh: Sequence[Sequence[str]] = (),
    other_titles: Sequence[str] = (),
    n_terms: int = 3,
) -> str:
    """A short label for a cluster: its dominant, distinctive terms.

    Terms are ranked by the share of the cluster's documents that carry them
    minus their share in the other clusters (so terms common to every cluster
    sink), then by count. Entities are tried first, then MeSH descriptors
    (check tags such as ``Humans`` are ignored), then title words.

    Args:
        entities: Entity names (normalised), one list per passage or article.
        mesh: MeSH descriptor names, one list per article.
        titles: Article titles.
        other_entities: The same for the hits of the other clusters.
        other_mesh: The same for the other clusters.
        other_titles: The same for the other clusters.
        n_terms: Most terms in the label.

    Returns:
        Terms joined by ``" · "``, or ``"(unlabelled)"`` when nothing is usable.
    """
    min_df = 2 if len(entities) > 2 else 1
    terms = _top_terms(entities, other_entities, n_terms, min_df)
    if not terms:
        clean = [[m for m in doc if m.strip().lower() not in MESH_CHECK_TAGS] for doc in mesh]
        other_clean = [
            [m for m in doc if m.strip().lower() not in MESH_CHECK_TAGS] for doc in other_mesh
        ]
        terms = _top_terms(clean, other_clean, n_terms, 1)
    if not terms:
        terms = _top_terms(
            [_title_terms(t) for t in titles], [_title_terms(t) for t in other_titles], n_terms, 1
        )
    return " · ".join(terms) if terms else "(unlabelled)"

"""How likely each retrieved article answers the question: a calibrated probability.

The fused search score only orders one question's hits (min-max normalised
per question), so it cannot say whether the best hit answers anything. This
module turns features that mean the same across questions into a probability
with a logistic regression fitted on labelled questions (SciFact training
claims and PubMedQA dev questions, fit split of :mod:`litmine.splits`):

* ``cosine``: the article's best cosine similarity between the question and
  one of its hit passages (the search model's vectors, L2-normalised);
* ``coverage``: share of the question's content terms found in the article's
  title and hit passages;
* ``log_rank``: log of the article's rank among the hit articles;
* ``gap``: how far the article's cosine is below the best of the answer.

Pure functions over arrays and records; the fitted parameters ship in
``litmine/models/relevance.json`` (with their card: data, command, seed,
metrics) and are written by ``bench/answer_trust.py --fit``. A hit's relevance
is its article's; a cluster's is its best article's.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from litmine.answer.findings import question_terms, term_overlap
from litmine.types import Hit

__all__ = [
    "FEATURES",
    "MODEL_PATH",
    "RelevanceModel",
    "article_features",
    "cluster_relevance",
    "fit_relevance",
    "load_relevance_model",
]

FEATURES: tuple[str, ...] = ("cosine", "coverage", "log_rank", "gap")
"""Feature names, in column order."""

MODEL_PATH = Path(__file__).parents[1] / "models" / "relevance.json"
"""The shipped parameters."""


@dataclass(frozen=True, slots=True)
class RelevanceModel:
    """A logistic regression over :data:`FEATURES` and its decision threshold.

    Attributes:
        features: Feature names, in the order of ``coef``.
        coef: Coefficients of the standardised features.
        intercept: Intercept.
        mean: Feature means used for standardising.
        scale: Feature standard deviations used for standardising.
        threshold: Least probability for an article (and its cluster) to count
            as evidence.
        card: Where the parameters come from: data, command, seed, metrics.
    """

    features: tuple[str, ...]
    coef: tuple[float, ...]
    intercept: float
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    threshold: float = 0.5
    card: Mapping[str, Any] = field(default_factory=dict)

    def probability(self, x: np.ndarray) -> np.ndarray:
        """Probability of relevance of each row of ``x`` (columns as :attr:`features`)."""
        x = np.asarray(x, dtype=np.float64).reshape(-1, len(self.features))
        z = (x - np.asarray(self.mean)) / np.asarray(self.scale)
        logit = z @ np.asarray(self.coef) + self.intercept
        return np.asarray(1.0 / (1.0 + np.exp(-logit)), dtype=np.float64)

    def to_json(self) -> dict[str, Any]:
        """The parameters as JSON-ready data."""
        return {
            "features": list(self.features),
            "coef": [round(float(v), 6) for v in self.coef],
            "intercept": round(float(self.intercept), 6),
            "mean": [round(float(v), 6) for v in self.mean],
            "scale": [round(float(v), 6) for v in self.scale],
            "threshold": round(float(self.threshold), 4),
            "card": dict(self.card),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RelevanceModel:
        """Build from :meth:`to_json` data.

        Raises:
            ValueError: The features are not :data:`FEATURES` or lengths differ.
        """
        features = tuple(data["features"])
        if features != FEATURES:
            raise ValueError(f"relevance model features {features} are not {FEATURES}")
        coef = tuple(float(v) for v in data["coef"])
        mean = tuple(float(v) for v in data["mean"])
        scale = tuple(float(v) or 1.0 for v in data["scale"])
        if not len(coef) == len(mean) == len(scale) == len(features):
            raise ValueError("relevance model: coef, mean and scale need one value per feature")
        return cls(
            features=features,
            coef=coef,
            intercept=float(data["intercept"]),
            mean=mean,
            scale=scale,
            threshold=float(data.get("threshold", 0.5)),
            card=dict(data.get("card", {})),
        )


def load_relevance_model(path: str | Path | None = None) -> RelevanceModel:
    """Load fitted parameters (default: the shipped ``models/relevance.json``)."""
    data = json.loads(Path(path or MODEL_PATH).read_text(encoding="utf-8"))
    return RelevanceModel.from_json(data)


def article_features(
    question: str,
    question_vector: np.ndarray,
    hits: Sequence[Hit],
    vectors: np.ndarray,
    titles: Mapping[str, str] | None = None,
) -> tuple[list[str], np.ndarray]:
    """Features of each hit article, in order of first appearance among the hits.

    Args:
        question: The question.
        question_vector: The question's embedding (any norm).
        hits: The hits, best first.
        vectors: ``(len(hits), dim)`` passage vectors of the hits, in the
            question vector's space.
        titles: Article titles by PMID (else the passages' titles).

    Returns:
        ``(pmids, x)``: the articles and an ``(n_articles, len(FEATURES))`` array.
    """
    if not hits:
        return [], np.zeros((0, len(FEATURES)))
    q = np.asarray(question_vector, dtype=np.float64).ravel()
    q = q / (np.linalg.norm(q) or 1.0)
    v = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    cos = (v / norms) @ q if v.shape[1] == q.shape[0] else np.zeros(len(hits))
    terms = question_terms(question)
    pmids: list[str] = []
    best: dict[str, float] = {}
    texts: dict[str, list[str]] = {}
    for hit, c in zip(hits, cos.tolist(), strict=True):
        pmid = hit.passage.pmid
        if pmid not in best:
            pmids.append(pmid)
            title = (titles or {}).get(pmid) or hit.passage.title
            best[pmid] = c
            texts[pmid] = [title]
        best[pmid] = max(best[pmid], c)
        texts[pmid].append(hit.passage.text)
    top = max(best.values())
    rows = [
        [
            best[p],
            term_overlap(terms, " ".join(texts[p])),
            math.log(rank),
            top - best[p],
        ]
        for rank, p in enumerate(pmids, start=1)
    ]
    return pmids, np.asarray(rows, dtype=np.float64)


def cluster_relevance(
    cluster_pmids: Sequence[Sequence[str]], article_probability: Mapping[str, float]
) -> list[float]:
    """Each cluster's relevance: the best probability among its articles."""
    return [
        max((article_probability.get(p, 0.0) for p in pmids), default=0.0)
        for pmids in cluster_pmids
    ]


def fit_relevance(
    x: np.ndarray,
    y: np.ndarray,
    *,
    threshold: float = 0.5,
    c: float = 1.0,
    card: Mapping[str, Any] | None = None,
) -> RelevanceModel:
    """Fit the logistic regression (scikit-learn) on labelled article rows.

    Args:
        x: ``(n, len(FEATURES))`` features (:func:`article_features`).
        y: ``(n,)`` 1 for an article relevant to its question, else 0.
        threshold: Decision threshold to store with the model.
        c: Inverse regularisation strength.
        card: Provenance to store with the model.

    Returns:
        The fitted model.

    Raises:
        ValueError: Fewer than two classes in ``y``.
    """
    from sklearn.linear_model import LogisticRegression

    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    if len(set(y.tolist())) < 2:
        raise ValueError("fitting needs relevant and non-relevant rows")
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=c, max_iter=1000).fit((x - mean) / scale, y)
    return RelevanceModel(
        features=FEATURES,
        coef=tuple(float(v) for v in model.coef_[0]),
        intercept=float(model.intercept_[0]),
        mean=tuple(float(v) for v in mean),
        scale=tuple(float(v) for v in scale),
        threshold=threshold,
        card=dict(card or {}),
    )

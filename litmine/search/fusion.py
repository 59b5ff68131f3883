"""Fusing ranked lists from several retrievers, and keeping result pages diverse.

Pure functions over ranked lists: no models, no I/O, generic over the key type
(passage ids, PMIDs, anything hashable). A *run* is one retriever's results,
best first, as ``(key, score)`` pairs; runs are passed as a mapping from
retriever name (``"dense"``, ``"bm25"``) to run.

* :func:`reciprocal_rank_fusion` (RRF, Cormack et al. 2009) uses ranks only,
  so it needs no score calibration.
* :func:`score_fusion` normalises each run's scores (min-max or z-score) and
  takes a convex combination; with a tuned weight it often beats RRF because it
  keeps how far apart the scores are.
* :func:`group_by_article` and :func:`diversify` stop one article's passages
  from filling a page of results.

Every fused result is ``(key, fused_score, ranks)`` where ``ranks`` maps each
retriever that returned the key to its 1-based rank there.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any, Literal, TypeVar

__all__ = [
    "Fused",
    "diversify",
    "group_by_article",
    "reciprocal_rank_fusion",
    "score_fusion",
]

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")

Fused = tuple[K, float, dict[str, int]]
"""One fused result: the key, its fused score, and its 1-based rank in each run."""


def _ranks(
    runs: Mapping[str, Sequence[tuple[K, float]]],
) -> tuple[list[K], dict[K, dict[str, int]]]:
    """Each key's 1-based rank per run (first occurrence wins), keys in first-seen order."""
    order: list[K] = []
    ranks: dict[K, dict[str, int]] = {}
    for name, run in runs.items():
        for position, (key, _score) in enumerate(run, start=1):
            seen = ranks.get(key)
            if seen is None:
                ranks[key] = {name: position}
                order.append(key)
            elif name not in seen:
                seen[name] = position
    return order, ranks


def _weights(
    runs: Mapping[str, Sequence[tuple[K, float]]], weights: Mapping[str, float] | None
) -> dict[str, float]:
    if weights is None:
        return dict.fromkeys(runs, 1.0)
    unknown = set(weights) - set(runs)
    if unknown:
        raise ValueError(f"weights name unknown runs: {sorted(unknown)}")
    out = {name: float(weights.get(name, 1.0)) for name in runs}
    if any(w < 0 or not math.isfinite(w) for w in out.values()):
        raise ValueError("weights must be finite and non-negative")
    return out


def _sorted(
    order: list[K], scores: dict[K, float], ranks: dict[K, dict[str, int]]
) -> list[Fused[K]]:
    """Sort by fused score, then best single rank, then first appearance (stable)."""
    position = {key: i for i, key in enumerate(order)}
    ordered = sorted(
        order,
        key=lambda key: (-scores[key], min(ranks[key].values()), position[key]),
    )
    return [(key, scores[key], dict(ranks[key])) for key in ordered]


def reciprocal_rank_fusion(
    runs: Mapping[str, Sequence[tuple[K, float]]],
    *,
    k: int = 60,
    weights: Mapping[str, float] | None = None,
    limit: int | None = None,
) -> list[Fused[K]]:
    """Fuse runs by reciprocal rank: ``score(d) = sum_r w_r / (k + rank_r(d))``.

    Args:
        runs: Retriever name -> results best first as ``(key, score)``; the
            scores are ignored. A key repeated within a run counts at its
            first (best) rank.
        k: Rank smoothing constant (60 in the original paper); larger values
            flatten the difference between top and lower ranks.
        weights: Retriever name -> weight (default 1 each); a retriever left
            out of the mapping gets 1.
        limit: Keep only the best ``limit`` results.

    Returns:
        ``(key, fused_score, ranks)`` best first; ties are broken by the best
        single rank, then by first appearance across the runs.

    Raises:
        ValueError: ``k`` is negative or a weight is invalid.
    """
    if k < 0:
        raise ValueError(f"k must be non-negative, got {k}")
    w = _weights(runs, weights)
    order, ranks = _ranks(runs)
    scores = {
        key: sum(w[name] / (k + rank) for name, rank in key_ranks.items())
        for key, key_ranks in ranks.items()
    }
    fused = _sorted(order, scores, ranks)
    return fused[:limit] if limit is not None else fused


def _normalise(
    run: Sequence[tuple[K, float]], method: Literal["minmax", "zscore"]
) -> tuple[dict[K, float], float]:
    """Normalised score of each key (first occurrence) and the run's floor score."""
    best: dict[K, float] = {}
    for key, score in run:
        if key not in best:
            best[key] = float(score)
    if not best:
        return {}, 0.0
    values = list(best.values())
    if method == "minmax":
        lo, hi = min(values), max(values)
        span = hi - lo
        if span == 0:  # one result, or all tied: they are all the run's best
            return dict.fromkeys(best, 1.0), 0.0
        return {key: (v - lo) / span for key, v in best.items()}, 0.0
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
    if std == 0:
        return dict.fromkeys(best, 0.0), 0.0
    normed = {key: (v - mean) / std for key, v in best.items()}
    return normed, min(normed.values())


def score_fusion(
    runs: Mapping[str, Sequence[tuple[K, float]]],
    *,
    alpha: float | None = None,
    weights: Mapping[str, float] | None = None,
    method: Literal["minmax", "zscore"] = "minmax",
    limit: int | None = None,
) -> list[Fused[K]]:
    """Fuse runs by a convex combination of normalised scores.

    Each run's scores are normalised on their own (``minmax`` to [0, 1], or
    ``zscore`` to mean 0 and unit variance). A key missing from a run gets that
    run's lowest normalised score (0 for min-max): it is treated as no better
    than the worst result the retriever returned. Higher scores must mean
    better in every run.

    Args:
        runs: Retriever name -> results as ``(key, score)``.
        alpha: For exactly two runs: the weight of the first run (mapping
            order); the second gets ``1 - alpha``. Exclusive with ``weights``.
        weights: Retriever name -> non-negative weight; they are rescaled to
            sum to 1. Default: equal weights.
        method: ``"minmax"`` or ``"zscore"``.
        limit: Keep only the best ``limit`` results.

    Returns:
        ``(key, fused_score, ranks)`` best first, ties broken as in
        :func:`reciprocal_rank_fusion`.

    Raises:
        ValueError: ``alpha`` outside [0, 1], used with other than two runs or
            together with ``weights``; invalid weights; unknown ``method``.
    """
    if method not in ("minmax", "zscore"):
        raise ValueError(f"method must be 'minmax' or 'zscore', got {method!r}")
    if alpha is not None:
        if weights is not None:
            raise ValueError("pass alpha or weights, not both")
        if len(runs) != 2:
            raise ValueError(f"alpha needs exactly two runs, got {len(runs)}")
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha}")
        first, second = runs
        weights = {first: alpha, second: 1.0 - alpha}
    w = _weights(runs, weights)
    total = sum(w.values())
    if total <= 0:
        raise ValueError("at least one weight must be positive")
    w = {name: v / total for name, v in w.items()}
    order, ranks = _ranks(runs)
    normalised = {name: _normalise(run, method) for name, run in runs.items()}
    scores: dict[K, float] = {}
    for key in order:
        fused = 0.0
        for name, (values, floor) in normalised.items():
            fused += w[name] * values.get(key, floor)
        scores[key] = fused
    result = _sorted(order, scores, ranks)
    return result[:limit] if limit is not None else result


def _pmid_of(hit: Any) -> Hashable:
    """Default article key: ``hit.passage.pmid`` (litmine Hits), else ``hit.pmid``."""
    passage = getattr(hit, "passage", None)
    if passage is not None:
        return passage.pmid
    pmid = getattr(hit, "pmid", None)
    if pmid is None:
        raise TypeError(f"cannot tell the article of a {type(hit).__name__}; pass article_of=...")
    return pmid


def group_by_article(
    hits: Sequence[T], *, article_of: Callable[[T], Hashable] | None = None
) -> dict[Hashable, list[T]]:
    """Group hits by article, keeping rank order within and across groups.

    Args:
        hits: Results best first (litmine :class:`~litmine.types.Hit` objects,
            passages, or anything ``article_of`` understands).
        article_of: Key function giving a hit's article; default
            ``hit.passage.pmid`` (or ``hit.pmid``).

    Returns:
        Article -> its hits best first; articles ordered by their best hit.
    """
    key = article_of or _pmid_of
    groups: dict[Hashable, list[T]] = {}
    for hit in hits:
        groups.setdefault(key(hit), []).append(hit)
    return groups


def diversify(
    hits: Sequence[T],
    max_per_article: int,
    *,
    article_of: Callable[[T], Hashable] | None = None,
    demote: bool = False,
) -> list[T]:
    """Keep at most ``max_per_article`` hits of any one article, in rank order.

    Args:
        hits: Results best first.
        max_per_article: Most hits any one article may keep (>= 1).
        article_of: Key function giving a hit's article; default
            ``hit.passage.pmid`` (or ``hit.pmid``).
        demote: Move the surplus hits to the end (in rank order) instead of
            dropping them.

    Returns:
        The diversified list.

    Raises:
        ValueError: ``max_per_article`` is below 1.
    """
    if max_per_article < 1:
        raise ValueError(f"max_per_article must be at least 1, got {max_per_article}")
    key = article_of or _pmid_of
    counts: dict[Hashable, int] = {}
    kept: list[T] = []
    surplus: list[T] = []
    for hit in hits:
        article = key(hit)
        seen = counts.get(article, 0)
        if seen < max_per_article:
            kept.append(hit)
            counts[article] = seen + 1
        else:
            surplus.append(hit)
    return kept + surplus if demote else kept

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest

from litmine.search.fusion import diversify, group_by_article, reciprocal_rank_fusion, score_fusion
from litmine.types import Hit, Passage

RUNS: dict[str, list[tuple[str, float]]] = {
    "dense": [("a", 0.9), ("b", 0.8), ("c", 0.1)],
    "bm25": [("c", 12.0), ("a", 3.0), ("d", 1.0)],
}


def test_rrf_hand_computed() -> None:
    fused = reciprocal_rank_fusion(RUNS, k=60)
    assert [key for key, _, _ in fused] == ["a", "c", "b", "d"]
    scores = {key: score for key, score, _ in fused}
    assert scores["a"] == pytest.approx(1 / 61 + 1 / 62)
    assert scores["c"] == pytest.approx(1 / 63 + 1 / 61)
    assert scores["b"] == pytest.approx(1 / 62)
    assert scores["d"] == pytest.approx(1 / 63)
    ranks = {key: r for key, _, r in fused}
    assert ranks == {
        "a": {"dense": 1, "bm25": 2},
        "c": {"dense": 3, "bm25": 1},
        "b": {"dense": 2},
        "d": {"bm25": 3},
    }


def test_rrf_weights_and_k() -> None:
    fused = reciprocal_rank_fusion(RUNS, k=0, weights={"bm25": 3.0})
    scores = {key: score for key, score, _ in fused}
    assert scores["c"] == pytest.approx(1 / 3 + 3 / 1)
    assert scores["a"] == pytest.approx(1 / 1 + 3 / 2)
    assert fused[0][0] == "c"
    with pytest.raises(ValueError, match="unknown runs"):
        reciprocal_rank_fusion(RUNS, weights={"splade": 1.0})
    with pytest.raises(ValueError):
        reciprocal_rank_fusion(RUNS, k=-1)


def test_rrf_ties_keep_best_rank_then_first_seen_and_dedupe_within_run() -> None:
    runs = {"x": [(1, 0.0), (2, 0.0), (1, 0.0)], "y": [(2, 0.0), (1, 0.0)]}
    fused = reciprocal_rank_fusion(runs)
    # 1 and 2 both have ranks {1, 2}: same score, same best rank -> first seen wins.
    assert [key for key, _, _ in fused] == [1, 2]
    assert fused[0][2] == {"x": 1, "y": 2}  # the duplicate at x-rank 3 is ignored
    assert reciprocal_rank_fusion({}) == []
    assert reciprocal_rank_fusion(RUNS, limit=2)[1][0] == "c"


def test_minmax_convex_combination_hand_computed() -> None:
    fused = score_fusion(RUNS, alpha=0.5)
    scores = {key: score for key, score, _ in fused}
    # dense min-max: a=1, b=0.875, c=0; bm25: c=1, a=2/11, d=0; missing -> 0.
    assert scores["a"] == pytest.approx(0.5 * 1 + 0.5 * (2 / 11))
    assert scores["b"] == pytest.approx(0.5 * 0.875)
    assert scores["c"] == pytest.approx(0.5 * 0 + 0.5 * 1)
    assert scores["d"] == pytest.approx(0.0)
    assert [key for key, _, _ in fused] == ["a", "c", "b", "d"]
    # alpha=1 ranks by the dense run alone.
    only_dense = score_fusion(RUNS, alpha=1.0)
    assert [key for key, _, _ in only_dense][:3] == ["a", "b", "c"]


def test_weights_are_rescaled_and_validated() -> None:
    a = score_fusion(RUNS, weights={"dense": 2.0, "bm25": 2.0})
    b = score_fusion(RUNS, alpha=0.5)
    assert [(k, pytest.approx(s)) for k, s, _ in a] == [(k, s) for k, s, _ in b]
    with pytest.raises(ValueError, match="not both"):
        score_fusion(RUNS, alpha=0.3, weights={"dense": 1.0})
    with pytest.raises(ValueError, match="two runs"):
        score_fusion({"one": [("a", 1.0)]}, alpha=0.5)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        score_fusion(RUNS, alpha=1.5)
    with pytest.raises(ValueError, match="positive"):
        score_fusion(RUNS, weights={"dense": 0.0, "bm25": 0.0})


def test_zscore_fusion_hand_computed() -> None:
    runs = {"x": [("a", 3.0), ("b", 1.0)], "y": [("b", 10.0), ("c", 0.0), ("a", 5.0)]}
    fused = score_fusion(runs, method="zscore")
    scores = {key: score for key, score, _ in fused}
    # x: mean 2, std 1 -> a=+1, b=-1, floor -1. y: mean 5, std sqrt(50/3).
    sy = math.sqrt(50 / 3)
    assert scores["a"] == pytest.approx(0.5 * 1 + 0.5 * 0.0)
    assert scores["b"] == pytest.approx(0.5 * -1 + 0.5 * (5 / sy))
    assert scores["c"] == pytest.approx(0.5 * -1 + 0.5 * (-5 / sy))
    with pytest.raises(ValueError, match="method"):
        score_fusion(runs, method="rank")  # type: ignore[arg-type]


def test_minmax_single_or_tied_run_counts_as_best() -> None:
    fused = score_fusion({"x": [("a", 2.0), ("b", 2.0)], "y": [("b", 1.0)]}, alpha=0.5)
    scores = {key: score for key, score, _ in fused}
    assert scores == {"b": pytest.approx(1.0), "a": pytest.approx(0.5)}


def _hit(pid: int, pmid: str, score: float) -> Hit:
    return Hit(passage=Passage(id=pid, pmid=pmid, index=0, text="t", start=0, end=1), score=score)


def test_diversify_caps_hits_per_article() -> None:
    hits = [_hit(1, "A", 0.9), _hit(2, "A", 0.8), _hit(3, "A", 0.7), _hit(4, "B", 0.6)]
    assert [h.passage.id for h in diversify(hits, 2)] == [1, 2, 4]
    assert [h.passage.id for h in diversify(hits, 1)] == [1, 4]
    assert [h.passage.id for h in diversify(hits, 1, demote=True)] == [1, 4, 2, 3]
    with pytest.raises(ValueError):
        diversify(hits, 0)


def test_group_by_article_keeps_rank_order() -> None:
    hits = [_hit(1, "A", 0.9), _hit(2, "B", 0.8), _hit(3, "A", 0.7)]
    groups = group_by_article(hits)
    assert list(groups) == ["A", "B"]
    assert [h.passage.id for h in groups["A"]] == [1, 3]


@dataclass
class _Doc:
    pmid: str


def test_generic_keys_and_custom_article_function() -> None:
    docs = [_Doc("1"), _Doc("1"), _Doc("2")]
    assert diversify(docs, 1) == [_Doc("1"), _Doc("2")]
    pairs = [("p1", "A"), ("p2", "A"), ("p3", "B")]
    assert diversify(pairs, 1, article_of=lambda p: p[1]) == [("p1", "A"), ("p3", "B")]
    with pytest.raises(TypeError, match="article_of"):
        diversify([object()], 1)

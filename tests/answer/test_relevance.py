"""Relevance: features, the shipped calibrated model, fitting, splits, folding clusters."""

from __future__ import annotations

import numpy as np
import pytest

from litmine.answer.relevance import (
    FEATURES,
    RelevanceModel,
    article_features,
    cluster_relevance,
    fit_relevance,
    load_relevance_model,
)
from litmine.answer.trust import NO_EVIDENCE, split_clusters, summary_passages
from litmine.answer_cli import answer_json, render_answer
from litmine.splits import split_ids, split_of
from litmine.types import Answer, ArticleInfo, Cluster, Hit, Passage, Summary


def _hit(pmid: str, n: int, text: str, title: str = "") -> Hit:
    passage = Passage(id=n, pmid=pmid, index=0, text=text, start=0, end=len(text), title=title)
    return Hit(passage=passage, score=1.0 / (n + 1))


def test_article_features_are_per_article_in_rank_order() -> None:
    hits = [
        _hit("a", 1, "Vitamin D supplements reduced hip fractures.", "Vitamin D and fractures"),
        _hit("b", 2, "Dendritic cells in the liver."),
        _hit("a", 3, "Falls were fewer."),
    ]
    q = np.array([1.0, 0.0, 0.0])
    vectors = np.array([[0.9, 0.1, 0.0], [0.1, 0.9, 0.0], [0.5, 0.5, 0.0]])
    pmids, x = article_features("Does vitamin D reduce fractures?", q, hits, vectors)
    assert pmids == ["a", "b"] and x.shape == (2, len(FEATURES))
    cos, coverage, log_rank, gap = x.T
    assert cos[0] == pytest.approx(0.9 / np.linalg.norm([0.9, 0.1]))
    assert coverage[0] > coverage[1] and coverage[0] == pytest.approx(1.0)
    assert list(log_rank) == [0.0, pytest.approx(np.log(2))]
    assert gap[0] == 0.0 and gap[1] > 0.5
    assert article_features("q", q, [], np.zeros((0, 3)))[0] == []


def test_shipped_model_is_calibrated_and_documented() -> None:
    model = load_relevance_model()
    assert model.features == FEATURES and 0.0 < model.threshold < 1.0
    for key in ("data", "command", "seed", "fit_metrics"):
        assert key in model.card, key
    good = np.array([[0.75, 1.0, 0.0, 0.0]])
    poor = np.array([[0.20, 0.1, np.log(30), 0.5]])
    assert model.probability(good)[0] > model.threshold > model.probability(poor)[0]
    # Higher similarity alone never lowers the probability.
    rows = np.array([[c, 0.5, 0.0, 0.0] for c in np.linspace(0.1, 0.9, 9)])
    assert np.all(np.diff(model.probability(rows)) > 0)
    assert RelevanceModel.from_json(model.to_json()).probability(good)[0] == pytest.approx(
        model.probability(good)[0], abs=1e-4
    )


def test_fit_relevance_separates_and_round_trips() -> None:
    rng = np.random.default_rng(0)
    pos = np.column_stack([rng.normal(0.7, 0.05, 200), rng.uniform(0.6, 1, 200)])
    neg = np.column_stack([rng.normal(0.4, 0.05, 800), rng.uniform(0, 0.6, 800)])
    rest = np.zeros((1000, 2))
    x = np.hstack([np.vstack([pos, neg]), rest])
    y = np.array([1] * 200 + [0] * 800)
    model = fit_relevance(x, y, threshold=0.4, card={"data": "synthetic"})
    prob = model.probability(x)
    assert prob[:200].mean() > 0.8 and prob[200:].mean() < 0.2
    assert model.threshold == 0.4 and model.card == {"data": "synthetic"}
    with pytest.raises(ValueError):
        fit_relevance(x, np.zeros(1000))


def test_splits_are_deterministic_and_sized() -> None:
    ids = [str(i) for i in range(2000)]
    first = split_ids("scifact", ids)
    assert first == split_ids("scifact", ids)
    share = len(first["check"]) / len(ids)
    assert 0.26 < share < 0.34
    assert split_of("scifact", "7") == split_of("scifact", "7")
    assert split_ids("scifact", ids, seed=17) != first
    with pytest.raises(ValueError):
        split_of("x", "1", check_share=1.5)


def _clusters() -> list[Cluster]:
    near = Cluster(id=0, label="vitamin D", hits=[_hit("a", 1, "x"), _hit("b", 2, "y")])
    far = Cluster(id=1, label="dendritic cells", hits=[_hit("c", 3, "z")])
    return [near, far]


def test_cluster_relevance_and_split() -> None:
    clusters = _clusters()
    values = cluster_relevance([c.pmids for c in clusters], {"a": 0.2, "b": 0.7, "c": 0.1})
    assert values == [0.7, 0.1]
    for c, v in zip(clusters, values, strict=True):
        c.relevance = v
    shown, less = split_clusters(clusters, 0.5)
    assert [c.label for c in shown] == ["vitamin D"] and [c.label for c in less] == [
        "dendritic cells"
    ]
    shown, less = split_clusters(list(reversed(clusters)), 0.05)
    assert [c.id for c in shown] == [0, 1] and not less  # most relevant first


def test_summary_passages_keep_relevant_unretracted_articles_most_relevant_first() -> None:
    cluster = Cluster(
        id=0, label="x", hits=[_hit("a", 1, "x"), _hit("b", 2, "y"), _hit("r", 3, "z")]
    )
    for hit, value in zip(cluster.hits, (0.3, 0.9, 0.95), strict=True):
        hit.relevance = value
    articles = {"a": ArticleInfo("a"), "b": ArticleInfo("b"), "r": ArticleInfo("r", retracted=True)}
    assert [p.pmid for p in summary_passages(cluster, articles, 0.5, 10)] == ["b"]
    assert [p.pmid for p in summary_passages(cluster, articles, None, 10)] == ["b", "a"]


def test_no_evidence_answer_lists_nearest_titles_and_summarises_nothing() -> None:
    less = _clusters()
    for c, v in zip(less, (0.2, 0.1), strict=True):
        c.relevance = v
        for h in c.hits:
            h.relevance = v
    answer = Answer(
        question="Does vitamin D reduce fractures?",
        clusters=[],
        less_related=less,
        no_evidence=True,
        relevance_threshold=0.5,
        summary_reason="model missing",
        articles={
            "a": ArticleInfo("a", title="Vitamin D in dialysis"),
            "c": ArticleInfo("c", title="Dendritic cells"),
        },
    )
    text = render_answer(answer)
    assert NO_EVIDENCE in text and "Vitamin D in dialysis" in text and "Dendritic cells" in text
    assert "Summary:" not in text and "Evidence table" not in text
    data = answer_json(answer)
    assert data["message"] == NO_EVIDENCE and data["clusters"] == []
    assert [c["pmids"] for c in data["less_related"]] == [["a", "b"], ["c"]]


def test_fallback_note_once_per_answer() -> None:
    clusters = _clusters()
    for c in clusters:
        c.summary = Summary(text="A finding. [PMID a]", method="extractive", reason="model missing")
    answer = Answer(
        question="q", clusters=clusters, summary_method="extractive", summary_reason="model missing"
    )
    assert render_answer(answer).count("model missing") == 1

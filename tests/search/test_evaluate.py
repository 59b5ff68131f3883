"""Retrieval evaluation on a tiny hand-made BEIR set, checked against hand-computed metrics."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import pytest

from litmine.config import Settings
from litmine.errors import InputError
from litmine.search.evaluate import evaluate_retrieval, load_qrels, load_queries, rank_articles
from litmine.vectors.build import build_index, load_index
from tests.backends import open_store
from tests.search_helpers import fill, minilm

pytestmark = pytest.mark.both_backends  # its tests using `settings`: SQLite and PostgreSQL


def _beir(folder: Path) -> tuple[Path, Path]:
    queries = folder / "queries.jsonl"
    queries.write_text(
        "\n".join(
            json.dumps(q)
            for q in [
                {"_id": "q1", "text": "randomized trial of a drug in adults"},
                {"_id": "q2", "text": "coffee and liver cirrhosis"},
                {"_id": "q3", "text": "a query without judgements"},
            ]
        )
        + "\n"
    )
    qrels = folder / "qrels.tsv"
    qrels.write_text(
        "query-id\tcorpus-id\tscore\n"
        "q1\t1001\t1\nq1\t1008\t1\nq1\t1006\t1\nq1\t1003\t0\n"
        "q2\t1009\t1\n"
    )
    return queries, qrels


def _ndcg_recall_mrr(ranking: list[str], relevant: set[str]) -> dict[str, float]:
    """Binary-relevance metrics by hand."""
    dcg = sum(1 / math.log2(i + 2) for i, d in enumerate(ranking[:10]) if d in relevant)
    idcg = sum(1 / math.log2(i + 2) for i in range(min(len(relevant), 10)))
    first = next((i + 1 for i, d in enumerate(ranking[:10]) if d in relevant), None)
    return {
        "ndcg@10": dcg / idcg,
        "recall@10": len(relevant & set(ranking[:10])) / len(relevant),
        "recall@100": len(relevant & set(ranking[:100])) / len(relevant),
        "mrr@10": 1 / first if first else 0.0,
    }


def test_loaders(tmp_path: Path) -> None:
    queries, qrels = _beir(tmp_path)
    assert list(load_queries(queries)) == ["q1", "q2", "q3"]
    assert load_qrels(qrels) == {"q1": {"1001": 1, "1008": 1, "1006": 1}, "q2": {"1009": 1}}
    bad = tmp_path / "bad.tsv"
    bad.write_text("query-id\tcorpus-id\tscore\nq1\t1001\n")
    with pytest.raises(InputError, match="qrels row"):
        load_qrels(bad)
    with pytest.raises(InputError, match="no such"):
        load_queries(tmp_path / "nope.jsonl")


def test_metrics_match_a_hand_computation(settings: Settings, tmp_path: Path) -> None:
    queries, qrels = _beir(tmp_path)
    with open_store(settings) as store:
        fill(store, settings)
        build_index(store, minilm(), settings)
        index = load_index(settings, embedder=minilm())
        parts = {"store": store, "index": index, "embedder": minilm(), "settings": settings}
        results = evaluate_retrieval(queries, qrels, modes=("bm25", "hybrid"), **parts)
        assert set(results) == {"bm25", "hybrid"}
        for mode in results:
            assert set(results[mode]) == {"ndcg@10", "recall@10", "recall@100", "mrr@10"}
            expected = {name: 0.0 for name in results[mode]}
            for qid, relevant in (("q1", {"1001", "1008", "1006"}), ("q2", {"1009"})):
                text = load_queries(queries)[qid]
                ranking = rank_articles(text, mode=mode, **parts)
                # article level: one entry per article, scores strictly decreasing
                assert len(ranking) == len(set(ranking))
                scores = list(ranking.values())
                assert all(a > b for a, b in itertools.pairwise(scores))
                for name, value in _ndcg_recall_mrr(list(ranking), relevant).items():
                    expected[name] += value / 2
            assert results[mode] == pytest.approx(expected)
        # q2 alone is unambiguous: perfect scores
        assert rank_articles("coffee and liver cirrhosis", mode="bm25", **parts)
        assert next(iter(rank_articles("coffee and liver cirrhosis", mode="bm25", **parts))) == (
            "1009"
        )


def test_no_judged_queries_is_an_input_error(settings: Settings, tmp_path: Path) -> None:
    queries, _ = _beir(tmp_path)
    qrels = tmp_path / "other.tsv"
    qrels.write_text("query-id\tcorpus-id\tscore\nzz\t1001\t1\n")
    with open_store(settings) as store, pytest.raises(InputError, match="no query"):
        evaluate_retrieval(
            queries,
            qrels,
            store=store,
            index=None,
            embedder=None,
            settings=settings,
            modes=("bm25",),
        )

"""Answers end to end on a tiny collection: real SQLite, FAISS, MiniLM, summarisers, CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from litmine.answer.answer import Answerer, hit_vectors
from litmine.answer.summarize import ExtractiveSummarizer, load_summarizer
from litmine.cli.answer import ask_command, export_command, parse_clusters
from litmine.config import Settings, load_settings
from litmine.errors import InputError
from litmine.passages import split_article
from litmine.search.hybrid import SearchFilters
from litmine.store import Store
from litmine.types import Entity
from litmine.vectors.build import build_index, load_index
from tests.answer_helpers import ARTICLES, ASPIRIN, COFFEE, RETRACTED_PMID, SLEEP, tiny_t5_dir
from tests.backends import (
    BACKENDS,
    module_store_url,
    open_store,
    store_overrides,
    use_store_env,
)
from tests.search_helpers import minilm

QUESTION = "Does aspirin prevent myocardial infarction, and does coffee protect the liver?"


@pytest.fixture(scope="module", params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Store, Settings]]:
    # These tests exercise clustering, labels, profiles and summaries over every
    # hit; relevance folding is tested on its own below (``relevant`` fixture).
    # Once per store backend: the answer contract.
    settings = load_settings(
        data_dir=tmp_path_factory.mktemp("answer") / "data",
        ask={"relevance": False},
        **store_overrides(module_store_url(request)),
    )
    store = open_store(settings)
    store.upsert_articles(ARTICLES, split=lambda a: split_article(a, settings.passages))
    found: dict[int, list[Entity]] = {}
    for pmid in [*ASPIRIN, RETRACTED_PMID]:
        for p in store.passages_for(pmid):
            at = p.text.lower().find("aspirin")
            mi = p.text.lower().find("myocardial infarction")
            found[p.id] = [Entity(p.id, at, at + 7, p.text[at : at + 7], "CHEMICAL", "aspirin")]
            if mi >= 0:
                found[p.id].append(
                    Entity(
                        p.id,
                        mi,
                        mi + 21,
                        "myocardial infarction",
                        "DISEASE",
                        "myocardial infarction",
                    )
                )
    for pmid in COFFEE:
        for p in store.passages_for(pmid):
            found[p.id] = [Entity(p.id, 0, 6, "Coffee", "CHEMICAL", "coffee")]
    store.save_entities(found, "test")
    build_index(store, minilm(), settings)
    yield store, settings
    store.close()


@pytest.fixture(autouse=True)
def _world_store_env(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """CLI commands run in a test see the world's store (LITMINE_STORE_URL)."""
    if "world" in request.fixturenames:
        use_store_env(monkeypatch, request.getfixturevalue("world")[1])


@pytest.fixture(scope="module")
def answerer(world: tuple[Store, Settings]) -> Iterator[Answerer]:
    store, settings = world
    with Answerer(settings, store=store, embedder=minilm()) as a:
        yield a


def test_answer_clusters_topics_with_labels_evidence_and_summaries(answerer: Answerer) -> None:
    answer = answerer.ask(QUESTION, k=50)
    assert answer.question == QUESTION
    assert answer.mode == "hybrid"
    assert set(answer.timings) == {"search", "vectors", "cluster", "summarize", "total"}
    assert answer.timings["total"] >= answer.timings["search"] > 0
    assert answer.summary_method == "extractive"
    assert (answer.summary_reason or "").startswith("model google/flan-t5-base is not in")
    by_topic: dict[str, set[int]] = {}
    for cluster in answer.clusters:
        for pmid in cluster.pmids:
            by_topic[pmid] = by_topic.get(pmid, set()) | {cluster.id}
    aspirin = {c for p in ASPIRIN for c in by_topic[p]}
    coffee = {c for p in COFFEE for c in by_topic[p]}
    sleep = {c for p in SLEEP for c in by_topic[p]}
    assert len(aspirin) == 1 and len(coffee) == 1 and aspirin != coffee
    assert not (sleep & (aspirin | coffee))
    assert answer.clusters[0].id == 0 and [c.id for c in answer.clusters] == sorted(
        c.id for c in answer.clusters
    )
    asp = next(c for c in answer.clusters if c.id in aspirin)
    assert "aspirin" in asp.label.lower()
    cof = next(c for c in answer.clusters if c.id in coffee)
    assert "coffee" in cof.label.lower()
    assert asp.evidence.meta_analyses == 1 and asp.evidence.rcts == 2
    assert asp.evidence.reviews == 1
    for cluster in answer.clusters:
        assert cluster.summary is not None and cluster.summary.text
        assert cluster.summary.method == "extractive"
        assert set(cluster.summary.cited_pmids) <= set(cluster.pmids)
    assert set(answer.pmids) == {a.pmid for a in ARTICLES}
    assert answer.articles["2001"].doi == "10.1000/ans.2001"
    assert "Aspirin" in answer.articles["2001"].mesh_terms
    assert all(e.label in ("CHEMICAL", "DISEASE") for es in answer.entities.values() for e in es)


def test_retracted_article_is_flagged_and_never_summarised(answerer: Answerer) -> None:
    answer = answerer.ask("aspirin and myocardial infarction", k=50)
    home = [c for c in answer.clusters if RETRACTED_PMID in c.pmids]
    assert len(home) == 1
    cluster = home[0]
    assert cluster.retracted_pmids == [RETRACTED_PMID]
    assert cluster.evidence.retracted == 1
    assert answer.articles[RETRACTED_PMID].retracted
    for c in answer.clusters:
        assert c.summary is not None
        assert RETRACTED_PMID not in c.summary.cited_pmids
        assert "fabricated" not in c.summary.text


def test_all_retracted_cluster_says_so(world: tuple[Store, Settings]) -> None:
    store, settings = world
    with Answerer(settings, store=store, embedder=minilm()) as a:
        answer = a.ask(
            "fabricated aspirin trial",
            k=5,
            filters=SearchFilters(pub_types=("Retracted Publication",)),
        )
    (cluster,) = answer.clusters
    assert cluster.pmids == [RETRACTED_PMID]
    assert cluster.summary is not None and cluster.summary.text == ""
    assert "retracted" in (cluster.summary.reason or "")


def test_given_number_of_clusters_filters_and_empty_results(answerer: Answerer) -> None:
    assert len(answerer.ask(QUESTION, n_clusters=2).clusters) == 2
    assert len(answerer.ask(QUESTION, n_clusters=1).clusters) == 1
    only_sleep = answerer.ask("memory", filters=SearchFilters(mesh=("Memory",)))
    assert set(only_sleep.pmids) == set(SLEEP)
    nothing = answerer.ask("memory", filters=SearchFilters(mesh=("Memory", "Coffee")))
    assert nothing.clusters == [] and nothing.pmids == []
    with pytest.raises(InputError):
        answerer.ask("   ")
    with pytest.raises(InputError):
        answerer.ask(QUESTION, n_clusters=0)


def test_bm25_mode_and_reuse(answerer: Answerer) -> None:
    first = answerer.ask("coffee liver", mode="bm25", k=10)
    assert first.mode == "bm25" and set(first.pmids) <= set(COFFEE)
    summarizer = answerer.summarizer
    answerer.ask("sleep and memory", k=10)
    assert answerer.summarizer is summarizer  # loaded once, reused


def test_index_vectors_match_fresh_embeddings(world: tuple[Store, Settings]) -> None:
    store, settings = world
    passages = [p for pmid in ASPIRIN for p in store.passages_for(pmid)]
    index = load_index(settings, embedder=minilm())
    fast, source = hit_vectors(passages, index=index, embedder=minilm())
    assert source == "index"
    slow, source = hit_vectors(passages, index=None, embedder=minilm())
    assert source == "embed"
    assert np.allclose((fast * slow).sum(axis=1), 1.0, atol=1e-4)
    tfidf, source = hit_vectors(passages, index=None, embedder=None)
    assert source == "tfidf" and np.allclose(np.linalg.norm(tfidf, axis=1), 1.0)


def test_seq2seq_answer_with_a_local_model(world: tuple[Store, Settings]) -> None:
    store, settings = world
    local = settings.model_copy(
        update={
            "summarize": settings.summarize.model_copy(
                update={"model": str(tiny_t5_dir()), "max_new_tokens": 6}
            )
        }
    )
    summarizer = load_summarizer(local)
    with Answerer(local, store=store, embedder=minilm(), summarizer=summarizer) as a:
        answer = a.ask(QUESTION, k=20)
    assert answer.summary_method == "seq2seq" and answer.summary_reason is None
    for cluster in answer.clusters:
        assert cluster.summary is not None and cluster.summary.method == "seq2seq"
        assert cluster.summary.model == str(tiny_t5_dir())
        assert cluster.summary.cited_pmids
        assert RETRACTED_PMID not in cluster.summary.cited_pmids


def test_embedding_scoring_uses_the_search_model(world: tuple[Store, Settings]) -> None:
    store, settings = world
    scored = settings.model_copy(
        update={
            "summarize": settings.summarize.model_copy(
                update={"method": "extractive", "sentence_scoring": "embedding"}
            )
        }
    )
    with Answerer(scored, store=store, embedder=minilm()) as a:
        answer = a.ask("coffee and the liver", k=8)
        summarizer = a.summarizer
    assert isinstance(summarizer, ExtractiveSummarizer)
    assert summarizer.embedder is minilm()
    assert "summarize.method = extractive" in (answer.summary_reason or "")
    assert all(c.summary is not None and c.summary.sentences for c in answer.clusters)


# ----------------------------------------------------------------------------- CLI


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("ask")(ask_command)
    app.command("export")(export_command)
    return app


def _invoke(world: tuple[Store, Settings], *args: str, relevance: bool = False) -> Any:
    _, settings = world
    env = {"LITMINE_ASK_RELEVANCE": "true" if relevance else "false"}
    return CliRunner().invoke(_app(), [*args, "--data-dir", str(settings.data_dir)], env=env)


def test_parse_clusters() -> None:
    assert parse_clusters("auto") is None and parse_clusters(None) is None
    assert parse_clusters("3") == 3
    for bad in ("0", "many"):
        with pytest.raises(InputError):
            parse_clusters(bad)


def test_ask_command_human_and_json(world: tuple[Store, Settings]) -> None:
    result = _invoke(world, "ask", "aspirin and myocardial infarction", "--k", "20")
    assert result.exit_code == 0, result.output
    text = result.output
    assert "summary_method: extractive (model google/flan-t5-base is not in" in text
    assert text.count("model google/flan-t5-base is not in") == 1  # once per answer
    assert "Evidence: 1 meta-analysis, 2 RCTs" in text
    assert f"PMID {RETRACTED_PMID} (2010)" in text and "RETRACTED, not summarised" in text
    assert "[cited]" in text
    result = _invoke(world, "ask", "coffee and the liver", "--json", "--clusters", "1")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["summary_method"] == "extractive"
    assert len(data["clusters"]) == 1
    assert data["clusters"][0]["pmids"][0] in COFFEE
    assert set(data["timings"]) == {"search", "vectors", "cluster", "summarize", "total"}
    bad = _invoke(world, "ask", "coffee", "--clusters", "lots")
    assert bad.exit_code == 1 and "--clusters" in bad.output


def test_export_command_findings_and_entities(
    world: tuple[Store, Settings], tmp_path: Path
) -> None:
    out = tmp_path / "findings.csv"
    result = _invoke(world, "export", "--query", QUESTION, "--out", str(out), "--excel")
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    frame = pd.read_csv(out, encoding="utf-8-sig", dtype=str)
    assert len(frame) and "cluster_summary" in frame.columns
    assert RETRACTED_PMID not in set(frame["pmid"])
    ents = tmp_path / "entities.csv"
    result = _invoke(world, "export", "--entities", "--query", "aspirin", "--out", str(ents))
    assert result.exit_code == 0, result.output
    entities = pd.read_csv(ents, dtype=str)
    pairs = pd.read_csv(tmp_path / "entities_pairs.csv", dtype=str)
    top = entities.iloc[0]
    assert (top["label"], top["name"]) == ("CHEMICAL", "aspirin")
    assert set(top["pmids"].split("; ")) >= set(ASPIRIN)
    assert ("aspirin", "myocardial infarction") in set(
        zip(pairs["chemical"], pairs["disease"], strict=True)
    )
    coffee = tmp_path / "coffee.csv"
    result = _invoke(world, "export", "--entities", "--mesh", "Coffee", "--out", str(coffee))
    assert result.exit_code == 0, result.output
    assert list(pd.read_csv(coffee, dtype=str)["name"]) == ["coffee"]
    missing = _invoke(world, "export", "--out", str(out))
    assert missing.exit_code == 1 and "--query" in missing.output


# ----------------------------------------------------------------------------- relevance


@pytest.fixture(scope="module")
def relevant(world: tuple[Store, Settings]) -> Iterator[Answerer]:
    """An answerer with the default relevance model and threshold."""
    store, settings = world
    on = settings.model_copy(update={"ask": settings.ask.model_copy(update={"relevance": True})})
    with Answerer(on, store=store, embedder=minilm()) as a:
        yield a


def test_only_relevant_clusters_are_shown_with_evidence_tables(relevant: Answerer) -> None:
    answer = relevant.ask("Does aspirin prevent myocardial infarction?", k=50)
    assert answer.relevance_threshold is not None and not answer.no_evidence
    shown = {p for c in answer.clusters for p in c.pmids}
    assert shown & set(ASPIRIN)
    assert not shown & set(SLEEP)  # sleep articles are never shown as evidence
    assert {p for c in answer.less_related for p in c.pmids} & set(SLEEP)
    for cluster in answer.clusters:
        assert cluster.relevance is not None and cluster.relevance >= answer.relevance_threshold
        assert cluster.evidence_table and cluster.summary is not None
        rows = {r.pmid: r for r in cluster.evidence_table}
        assert set(rows) <= set(cluster.pmids)
        assert all((r.relevance or 0) >= answer.relevance_threshold for r in rows.values())
        assert set(cluster.summary.cited_pmids) <= set(rows)
        assert RETRACTED_PMID not in cluster.summary.cited_pmids
        if "2001" in rows:  # typed "Randomized Controlled Trial" in PubMed
            assert rows["2001"].design == "randomised trial"
            assert rows["2001"].design_source == "publication type"
    for cluster in answer.less_related:
        assert cluster.summary is None and not cluster.evidence_table


def test_unanswerable_question_says_so_and_summarises_nothing(
    relevant: Answerer, world: tuple[Store, Settings]
) -> None:
    question = "Does quantum tunnelling speed up photosynthesis in desert cacti?"
    answer = relevant.ask(question, k=50)
    assert answer.no_evidence and not answer.clusters and answer.less_related
    assert all(c.summary is None for c in answer.less_related)
    result = _invoke(world, "ask", question, relevance=True)
    assert result.exit_code == 0, result.output
    assert "No article in this collection answers this question." in result.output
    assert "Summary:" not in result.output
    data = json.loads(_invoke(world, "ask", question, "--json", relevance=True).output)
    assert data["no_evidence"] and data["clusters"] == [] and data["less_related"]
    assert data["message"] == "No article in this collection answers this question."
    shown = _invoke(world, "ask", question, "--min-relevance", "0", "--json", relevance=True)
    assert json.loads(shown.output)["clusters"]  # a zero threshold shows everything


def test_export_evidence_tables(world: tuple[Store, Settings], tmp_path: Path) -> None:
    out = tmp_path / "evidence.csv"
    result = _invoke(
        world,
        "export",
        "--query",
        "Does aspirin prevent myocardial infarction?",
        "--evidence",
        "--out",
        str(out),
        relevance=True,
    )
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out, dtype=str)
    assert {"design", "sample_size", "year", "key_finding", "pmid"} <= set(frame.columns)
    assert len(frame) and set(frame["pmid"]) <= {*ASPIRIN, RETRACTED_PMID}

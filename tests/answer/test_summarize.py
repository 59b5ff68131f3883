"""Summarisers: the seq2seq path on a tiny local T5, the extractive path on real abstracts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from litmine.answer.summarize import (
    ExtractiveSummarizer,
    Seq2SeqSummarizer,
    Summarizer,
    load_summarizer,
)
from litmine.config import Settings, load_settings
from litmine.errors import ModelNotFoundError
from litmine.passages import split_article
from litmine.types import Article, Passage
from tests.answer_helpers import tiny_t5_dir
from tests.conftest import shared_path
from tests.search_helpers import minilm

QUESTION = "Does aspirin prevent myocardial infarction?"


def _passage(pid: int, pmid: str, text: str, title: str = "A title") -> Passage:
    return Passage(
        id=pid, pmid=pmid, index=0, text=text, start=0, end=len(text), section=None, title=title
    )


CLUSTERS: list[list[Passage]] = [
    [
        _passage(1, "101", "Aspirin reduced myocardial infarction in older adults."),
        _passage(2, "102", "Aspirin raised the risk of major bleeding."),
    ],
    [_passage(3, "201", "Coffee drinking was linked to less liver cirrhosis.")],
    [
        _passage(4, "301", "Sleep loss impaired memory consolidation in students."),
        _passage(5, "302", "Naps helped preschool children remember a task."),
        _passage(6, "301", "A second passage of the same sleep article."),
    ],
]


def _settings(tmp_path: Path, **summarize: Any) -> Settings:
    return load_settings(data_dir=tmp_path / "data", summarize=summarize)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Summarizer:
    settings = load_settings(
        data_dir=tmp_path_factory.mktemp("sum") / "data",
        summarize={
            "method": "seq2seq",
            "model": str(tiny_t5_dir()),
            "max_new_tokens": 8,
            "batch_size": 2,
        },
    )
    return load_summarizer(settings)  # the real loader, by path


# ----------------------------------------------------------------------------- seq2seq


def test_loader_returns_seq2seq_for_a_local_model(tiny: Summarizer) -> None:
    assert isinstance(tiny, Seq2SeqSummarizer)
    assert tiny.method == "seq2seq"
    assert tiny.model == str(tiny_t5_dir())
    assert tiny.reason is None
    assert tiny.max_input_tokens == 512  # min(tokenizer limit 512, summarize cap 512)


def test_seq2seq_summaries_cite_their_clusters_and_are_deterministic(tiny: Summarizer) -> None:
    first = tiny.summarize(QUESTION, CLUSTERS)
    second = tiny.summarize(QUESTION, CLUSTERS)
    assert [s.text for s in first] == [s.text for s in second]
    assert len(first) == 3 and all(s.text for s in first)
    for summary, passages in zip(first, CLUSTERS, strict=True):
        assert summary.method == "seq2seq"
        assert summary.model == str(tiny_t5_dir())
        assert summary.cited_pmids == list(dict.fromkeys(p.pmid for p in passages))
        assert summary.passage_ids == [p.id for p in passages]


def test_batching_does_not_change_the_output(tiny: Summarizer) -> None:
    assert isinstance(tiny, Seq2SeqSummarizer)
    batched = [s.text for s in tiny.summarize(QUESTION, CLUSTERS)]  # batch_size 2: 2 + 1
    singles = [tiny.summarize(QUESTION, [c])[0].text for c in CLUSTERS]
    assert batched == singles


def test_empty_cluster_gets_an_empty_summary(tiny: Summarizer) -> None:
    out = tiny.summarize(QUESTION, [[], CLUSTERS[1]])
    assert out[0].text == "" and out[0].cited_pmids == []
    assert out[1].cited_pmids == ["201"]


def test_input_is_truncated_to_the_limit_and_citations_follow(tmp_path: Path) -> None:
    cap = 48
    small = Seq2SeqSummarizer(str(tiny_t5_dir()), max_input_tokens=cap, max_new_tokens=4)
    assert small.max_input_tokens == cap
    sentence = "Aspirin reduced myocardial infarction in older adults in the trial. "
    passages = [_passage(i, str(500 + i), sentence * (i + 1)) for i in range(4)]
    prepared = small.prepare(QUESTION, passages)
    assert len(prepared.input_ids) <= cap
    assert [p.pmid for p in prepared.passages] == ["500"]  # the second does not fit
    (summary,) = small.summarize(QUESTION, [passages])
    assert summary.cited_pmids == ["500"]
    huge = [_passage(9, "900", sentence * 50)]
    prepared = small.prepare(QUESTION, huge)
    assert len(prepared.input_ids) == cap  # the best passage is cut, still cited
    assert [p.pmid for p in prepared.passages] == ["900"]
    long_question = "why " * 200
    assert len(small.prepare(long_question, huge).input_ids) <= cap


def test_missing_model_falls_back_to_extractive_with_the_reason(tmp_path: Path) -> None:
    summarizer = load_summarizer(_settings(tmp_path))  # default google/flan-t5-base, offline
    assert isinstance(summarizer, ExtractiveSummarizer)
    assert summarizer.method == "extractive"
    assert summarizer.reason is not None
    assert summarizer.reason.startswith("model google/flan-t5-base is not in the local cache")
    out = summarizer.summarize(QUESTION, CLUSTERS)
    assert all(s.method == "extractive" and s.reason == summarizer.reason for s in out)


def test_explicit_methods(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="not in the local cache"):
        load_summarizer(_settings(tmp_path, method="seq2seq"))
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        load_summarizer(_settings(tmp_path, method="seq2seq", model=str(tmp_path / "nope")))
    chosen = load_summarizer(_settings(tmp_path, method="extractive", model="anything"))
    assert isinstance(chosen, ExtractiveSummarizer)
    assert "summarize.method = extractive" in (chosen.reason or "")


# ----------------------------------------------------------------------------- extractive


def _pubmedqa(n: int) -> list[tuple[str, Article]]:
    data = json.loads(shared_path("pubmedqa", "pqal_dev.json").read_text(encoding="utf-8"))
    out = []
    for pmid, item in list(data.items())[:n]:
        article = Article(pmid=pmid, title="", abstract="\n".join(item["CONTEXTS"]))
        out.append((item["QUESTION"], article))
    return out


@pytest.mark.parametrize("scoring", ["embedding", "tfidf"])
def test_extractive_on_real_abstracts(scoring: str, tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    items = _pubmedqa(4 if scoring == "tfidf" else 2)
    clusters = [split_article(a, settings.passages) for _, a in items]
    summarizer = ExtractiveSummarizer(
        minilm() if scoring == "embedding" else None, reason="test", scoring=scoring
    )
    question = items[0][0]
    summaries = summarizer.summarize(question, clusters)
    assert len(summaries) == len(items)
    for summary, (_, article), passages in zip(summaries, items, clusters, strict=True):
        assert summary.method == "extractive" and summary.reason == "test"
        assert 1 <= len(summary.sentences) <= 3
        assert summary.cited_pmids == [article.pmid]
        by_id = {p.id: p for p in passages}
        for sentence in summary.sentences:
            assert sentence.pmid == article.pmid
            assert " ".join(sentence.text.split()) in " ".join(
                by_id[sentence.passage_id].text.split()
            )
            assert f"{sentence.text} [PMID {article.pmid}]" in summary.text
        texts = [s.text for s in summary.sentences]
        assert len(set(texts)) == len(texts)
    again = summarizer.summarize(question, clusters)
    assert [s.text for s in again] == [s.text for s in summaries]


def test_extractive_drops_duplicates_and_mixes_pmids() -> None:
    sentence = "Aspirin reduced myocardial infarction in older adults over five years."
    cluster = [
        _passage(1, "101", sentence + " Bleeding was more common with aspirin than placebo."),
        _passage(2, "102", sentence),  # an exact repeat is skipped
        _passage(3, "103", "Aspirin lowered myocardial infarction in older adults over 5 years."),
    ]
    summarizer = ExtractiveSummarizer(
        minilm(), max_sentences=3, redundancy=0.9, scoring="embedding"
    )
    (summary,) = summarizer.summarize(QUESTION, [cluster])
    texts = [s.text for s in summary.sentences]
    assert texts.count(sentence) == 1
    assert sentence in texts
    assert "Aspirin lowered myocardial infarction in older adults over 5 years." not in texts
    assert summary.cited_pmids == list(dict.fromkeys(s.pmid for s in summary.sentences))
    assert summarizer.summarize(QUESTION, [[]])[0].text == ""

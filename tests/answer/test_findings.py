"""Findings-first sentence choice: roles, selection rules and the summariser on real abstracts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from litmine.answer.findings import (
    BACKGROUND,
    FINDINGS,
    METHODS,
    FindingsSummarizer,
    choose_sentences,
    elide_statistics,
    is_extract_of,
    key_finding,
    question_terms,
    section_role,
    sentence_role,
    split_inline_label,
    term_overlap,
)
from litmine.passages import regex_sentences
from litmine.types import Passage

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def test_section_roles_and_inline_labels() -> None:
    assert section_role("RESULTS") == FINDINGS
    assert section_role("CONCLUSIONS") == FINDINGS
    assert section_role("METHODS AND RESULTS") == FINDINGS
    assert section_role("MATERIALS AND METHODS") == METHODS
    assert section_role("PATIENTS") == METHODS
    assert section_role("BACKGROUND AND AIMS") == BACKGROUND
    assert section_role(None) is None
    assert split_inline_label("CONCLUSIONS Active smoking impairs the efficacy of steroids.") == (
        "CONCLUSIONS",
        "Active smoking impairs the efficacy of steroids.",
    )
    assert split_inline_label("Results: mortality fell by a third in the treated arm.")[0] == (
        "Results"
    )
    assert split_inline_label("Aspirin reduced myocardial infarction.") == (
        None,
        "Aspirin reduced myocardial infarction.",
    )


def test_sentence_role_from_cues() -> None:
    assert sentence_role("The aim of this study was to assess whether X helps.") == BACKGROUND
    assert sentence_role("Patients were enrolled from three hospitals.") == METHODS
    assert (
        sentence_role("Mortality was significantly lower with X (OR 0.7, 95% CI 0.5-0.9).")
        == FINDINGS
    )
    assert sentence_role("Anything at all.", "RESULTS") == FINDINGS


def test_elided_statistics_keep_the_words_in_order() -> None:
    raw = (
        "Teeth grinding (odds ratio (OR) 2.0, 95% CI 1.3-3.0) and facial trauma "
        "(OR 2.0; 95% CI 1.3-2.9) were associated with chronic pain (CP) (p<0.05)."
    )
    short = elide_statistics(raw)
    assert short == "Teeth grinding and facial trauma were associated with chronic pain (CP)."
    assert is_extract_of(short, raw) and is_extract_of(raw, raw)
    assert not is_extract_of("Facial trauma and teeth grinding", raw)  # order matters


def test_question_terms_and_overlap() -> None:
    terms = question_terms("Does vitamin D supplementation reduce the risk of fractures?")
    assert "vitamin" in terms and "the" not in terms
    assert question_terms("fracture fractured fractures") == question_terms("fracture")
    assert term_overlap(terms, "Vitamin D supplements and hip fractures") > term_overlap(
        terms, "Dendritic cells in the liver"
    )


def test_choose_one_per_article_before_a_second_and_findings_first() -> None:
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.95])
    articles = [0, 0, 1, 1, 2]
    roles = [FINDINGS, FINDINGS, FINDINGS, FINDINGS, BACKGROUND]
    sims = np.eye(5)
    picked = choose_sentences(scores, articles, roles, sims, max_sentences=3)
    # Background (index 4) is never taken while findings exist; article 0 gives a
    # second sentence only after article 1 has given one.
    assert picked == [0, 2, 1]
    # Redundant sentences are skipped.
    sims = np.eye(5)
    sims[0, 2] = sims[2, 0] = 0.99
    assert choose_sentences(scores, articles, roles, sims, max_sentences=2) == [0, 3]
    # Without findings, background and methods sentences are used.
    only_background = [BACKGROUND, METHODS, BACKGROUND, METHODS, BACKGROUND]
    assert len(choose_sentences(scores, articles, only_background, np.eye(5))) == 3


@pytest.mark.skipif(not SHARED.is_dir(), reason=f"real corpora missing: {SHARED}")
def test_summary_of_real_structured_abstracts_quotes_results() -> None:
    data = json.loads((SHARED / "pubmedqa" / "pqal_dev.json").read_text(encoding="utf-8"))
    pmids = [p for p, item in data.items() if "RESULTS" in item["LABELS"]][:20]
    clusters = []
    for n, pmid in enumerate(pmids):
        item = data[pmid]
        clusters.append(
            [
                Passage(
                    id=n * 100 + i,
                    pmid=pmid,
                    index=i,
                    text=text,
                    start=0,
                    end=len(text),
                    section=label,
                )
                for i, (text, label) in enumerate(
                    zip(item["CONTEXTS"], item["LABELS"], strict=True)
                )
            ]
        )
    summarizer = FindingsSummarizer(None, reason="test", max_sentences=2)
    for pmid, passages, summary in zip(
        pmids, clusters, summarizer.summarize("question", clusters), strict=True
    ):
        assert summary.sentences and summary.cited_pmids == [pmid]
        by_id = {p.id: p for p in passages}
        for sentence in summary.sentences:
            passage = by_id[sentence.passage_id]
            assert is_extract_of(sentence.text, passage.text)  # its words, in order
            assert section_role(passage.section) == FINDINGS


@pytest.mark.skipif(not SHARED.is_dir(), reason=f"real corpora missing: {SHARED}")
def test_key_finding_prefers_results_matching_the_question() -> None:
    data = json.loads((SHARED / "pubmedqa" / "pqal_dev.json").read_text(encoding="utf-8"))
    item = data["17919952"]  # oro-facial pain and mechanical factors
    sentences = [
        (text[a:b], label)
        for text, label in zip(item["CONTEXTS"], item["LABELS"], strict=True)
        for a, b in regex_sentences(text)
    ]
    finding = key_finding(item["QUESTION"], sentences)
    results = item["CONTEXTS"][item["LABELS"].index("RESULTS")]
    assert finding and finding in results

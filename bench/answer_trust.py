"""Answers a clinician can trust: relevance, findings-first summaries, study designs, one run.

Collection: the SciFact corpus (5,183 abstracts) and the 500 PubMedQA dev
abstracts (labelled contexts as sections, without their conclusions), indexed
with the default MiniLM model. Questions: the SciFact training claims (their
cited documents are the relevant articles) and the PubMedQA dev questions
(their own abstract is relevant), split into fit and check by
:func:`litmine.splits.split_of` (seed 16, 30 % check).

1. **Features** (cached in ``--work``): for every question, in two conditions
   (``present``: the collection as is; ``removed``: the question's relevant
   articles taken out of the results), the hit articles' relevance features
   (:func:`litmine.answer.relevance.article_features`) and their clusters.
2. **Fit** (``--fit``): a logistic regression on the fit split's articles of
   both conditions; the threshold is the highest one whose answer recall on
   the fit split is at least ``--min-recall``; the parameters and their card
   go to ``litmine/models/relevance.json``.
3. **Relevance check**: ``Answerer.ask`` on the check split, both
   conditions: cluster precision (share of shown clusters holding a relevant
   article), answer recall (share of questions whose relevant article is in a
   shown cluster), and the share of "no evidence" answers. Targets: precision
   >= 0.8 at recall >= 0.9; "no evidence" >= 0.8 without a relevant article.
4. **Summaries**: ROUGE-L F1 (rouge-score, stemming) of the summary of the
   cluster holding the question's own abstract against its conclusion
   (LONG_ANSWER), on all 500 PubMedQA dev questions, beside lead-3 and the
   last two context sentences; and the share of summary sentences
   supported by the passage it cites (its words, in order, in the passage: the sentence
   or the sentence with its bracketed statistics elided) and the share quoted verbatim.
   Target: above both baselines, 100 % supported.
5. **Study designs**: the text rules of :mod:`litmine.answer.evidence` against the
   MeSH design headings of the PubMedQA records and the publication types of
   the recorded PubMed/MEDLINE files.

Usage::

    .venv/bin/python bench/answer_trust.py --fit --out bench/results/answer_trust.json
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import pickle
import platform
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common_answers import SHARED, _scifact, onnx_available, pubmedqa, pubmedqa_article
from scifact_beir import parse_ids

from litmine.answer import Answerer, hit_vectors
from litmine.answer.evidence import (
    design_from_mesh,
    design_from_publication_types,
    design_from_text,
)
from litmine.answer.findings import FINDINGS, is_extract_of, section_role
from litmine.answer.relevance import MODEL_PATH, RelevanceModel, article_features, fit_relevance
from litmine.cluster import cluster_hits
from litmine.config import Settings, load_settings
from litmine.embed import load_embedder
from litmine.indexing import build_index
from litmine.passages import regex_sentences, split_article
from litmine.search import Searcher
from litmine.splits import CHECK_SHARE, SEED, split_of
from litmine.store import Store
from litmine.types import Answer, Hit


@dataclass(slots=True)
class Question:
    """A labelled question."""

    dataset: str
    qid: str
    text: str
    relevant: set[str]
    split: str = "fit"


@dataclass(slots=True)
class Case:
    """Cached features of one question in one condition."""

    question: Question
    removed: bool
    pmids: list[str]
    x: np.ndarray
    clusters: list[list[str]] = field(default_factory=list)


def load_questions() -> list[Question]:
    """SciFact training claims with cited documents, then the PubMedQA dev questions."""
    csv.field_size_limit(sys.maxsize)
    out: dict[str, Question] = {}
    with (SHARED / "scifact" / "claims_train.csv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            cited = parse_ids(row["cited_doc_ids"])
            if cited and row["id"] not in out:
                out[row["id"]] = Question("scifact", row["id"], row["claim"].strip(), set(cited))
    items = [q for q in out.values()]
    items += [Question("pubmedqa", p, it["QUESTION"], {p}) for p, it in pubmedqa().items()]
    for q in items:
        q.split = split_of(q.dataset, q.qid)
    return items


def build(args: argparse.Namespace) -> Settings:
    """Settings of the work folder; ingest and index the collection unless already built."""
    backend = "onnx-int8" if args.backend == "auto" and onnx_available() else args.backend
    backend = "torch" if backend == "auto" else backend
    settings = load_settings(data_dir=args.work / "data", embed={"backend": backend})
    marker = args.work / "built.json"
    key = {"collection": "scifact+pubmedqa-sections", "backend": backend}
    if marker.is_file() and json.loads(marker.read_text()) == key:
        return settings
    args.work.mkdir(parents=True, exist_ok=True)
    if settings.db_path.exists():
        raise SystemExit(f"{args.work} holds another collection; remove it or pick --work")
    data = pubmedqa()
    own = [pubmedqa_article(p, item) for p, item in data.items()]
    scifact = [a for a in _scifact() if a.pmid not in data]
    with Store.open(settings) as store:
        store.upsert_articles(scifact + own, split=lambda a: split_article(a, settings.passages))
        build_index(store, load_embedder(settings.embed), settings)
    marker.write_text(json.dumps(key))
    return settings


def _without(search: Callable[..., list[Hit]], excluded: set[str]) -> Callable[..., list[Hit]]:
    """A search that behaves as if ``excluded`` articles were not in the collection."""

    def run(text: str, *, k: int | None = None, **kwargs: Any) -> list[Hit]:
        hits = search(text, k=(k or 50) + 20, **kwargs)
        return [h for h in hits if h.passage.pmid not in excluded][: k or 50]

    return run


def extract(settings: Settings, questions: list[Question], k: int, work: Path) -> list[Case]:
    """Features and clusters of every question in both conditions (cached)."""
    cache = work / f"features-k{k}.pkl"
    if cache.is_file():
        cases: list[Case] = pickle.loads(cache.read_bytes())
        if len(cases) == 2 * len(questions):
            return cases
    cfg = settings.ask
    cases = []
    with Searcher(settings) as searcher:
        index, embedder = searcher.dense_parts()
        for n, q in enumerate(questions):
            query = embedder.embed_queries([q.text])[0]
            for removed in (False, True):
                search = _without(searcher.search, q.relevant if removed else set())
                hits = search(q.text, k=k)
                vectors, _ = hit_vectors([h.passage for h in hits], index=index, embedder=embedder)
                pmids, x = article_features(q.text, query, hits, vectors)
                labels = cluster_hits(
                    vectors,
                    max_clusters=cfg.max_clusters,
                    min_silhouette=cfg.min_silhouette,
                    pair_similarity=cfg.pair_similarity,
                )
                groups: dict[int, list[str]] = {}
                for hit, lab in zip(hits, labels.tolist(), strict=True):
                    groups.setdefault(int(lab), []).append(hit.passage.pmid)
                clusters = [list(dict.fromkeys(g)) for g in groups.values()]
                cases.append(Case(q, removed, pmids, x, clusters))
            if n % 100 == 0:
                print(f"features {n}/{len(questions)}", file=sys.stderr)
    cache.write_bytes(pickle.dumps(cases))
    return cases


def simulate(cases: list[Case], model: RelevanceModel, threshold: float) -> dict[str, float]:
    """Answer-level metrics of cached cases at a threshold (the Answerer's rule)."""
    shown_total = shown_good = found = present = absent = silent = silent_present = 0
    for case in cases:
        prob = dict(zip(case.pmids, model.probability(case.x).tolist(), strict=True))
        shown = [c for c in case.clusters if max(prob.get(p, 0.0) for p in c) >= threshold]
        if case.removed:
            absent += 1
            silent += not shown
            continue
        present += 1
        silent_present += not shown
        good = [c for c in shown if case.question.relevant & set(c)]
        shown_total += len(shown)
        shown_good += len(good)
        found += bool(good)
    return {
        "threshold": round(threshold, 4),
        "cluster_precision": round(shown_good / max(shown_total, 1), 4),
        "answer_recall": round(found / max(present, 1), 4),
        "no_evidence_without_relevant": round(silent / max(absent, 1), 4),
        "no_evidence_with_relevant": round(silent_present / max(present, 1), 4),
    }


def fit(
    cases: list[Case], min_recall: float, c: float, threshold_on: str
) -> tuple[RelevanceModel, dict[str, Any]]:
    """Fit on the fit split and choose the threshold; return the model and the fit report.

    The threshold is the highest whose answer recall on the fit split's
    ``threshold_on`` questions (a dataset name, or ``all``) is at least ``min_recall``.
    """
    rows = [
        (x, p in case.question.relevant)
        for case in cases
        for p, x in zip(case.pmids, case.x, strict=True)
    ]
    x = np.array([r[0] for r in rows])
    y = np.array([int(r[1]) for r in rows])
    model = fit_relevance(x, y, c=c)
    chosen = [x for x in cases if threshold_on in ("all", x.question.dataset)]
    curve = [simulate(chosen, model, t) for t in np.round(np.arange(0.02, 0.96, 0.01), 2)]
    ok = [m for m in curve if m["answer_recall"] >= min_recall]
    best = max(ok, key=lambda m: m["threshold"]) if ok else curve[0]
    from sklearn.metrics import brier_score_loss, roc_auc_score

    prob = model.probability(x)
    report = {
        "articles": len(y),
        "relevant": int(y.sum()),
        "auc": round(float(roc_auc_score(y, prob)), 4),
        "brier": round(float(brier_score_loss(y, prob)), 4),
        "chosen": best,
        "curve": curve[::5],
    }
    model = dataclasses.replace(model, threshold=float(best["threshold"]))
    return model, report


def calibration(cases: list[Case], model: RelevanceModel) -> dict[str, Any]:
    """AUC, Brier score and reliability bins of the model on cached cases."""
    from sklearn.metrics import brier_score_loss, roc_auc_score

    x = np.vstack([c.x for c in cases if len(c.pmids)])
    y = np.array([p in c.question.relevant for c in cases for p in c.pmids], dtype=int)
    prob = model.probability(x)
    bins = []
    for lo in np.arange(0, 1, 0.2):
        sel = (prob >= lo) & (prob < lo + 0.2)
        if sel.any():
            bins.append(
                {
                    "p": f"{lo:.1f}-{lo + 0.2:.1f}",
                    "n": int(sel.sum()),
                    "mean_p": round(float(prob[sel].mean()), 3),
                    "relevant_share": round(float(y[sel].mean()), 3),
                }
            )
    return {
        "auc": round(float(roc_auc_score(y, prob)), 4),
        "brier": round(float(brier_score_loss(y, prob)), 4),
        "bins": bins,
    }


def relevance_check(answerer: Answerer, questions: list[Question]) -> dict[str, Any]:
    """Cluster precision, answer recall and "no evidence" share through ``Answerer.ask``."""
    original = answerer.searcher.search
    out: dict[str, Any] = {}
    for dataset in ("all", "scifact", "pubmedqa"):
        out[dataset] = Counter()
    try:
        for n, q in enumerate(questions):
            if n % 50 == 0:
                print(f"relevance check {n}/{len(questions)}", file=sys.stderr)
            for removed in (False, True):
                answerer.searcher.search = _without(original, q.relevant if removed else set())  # type: ignore[method-assign]
                answer = answerer.ask(q.text)
                for key in ("all", q.dataset):
                    tally = out[key]
                    if removed:
                        tally["absent"] += 1
                        tally["silent"] += answer.no_evidence
                        continue
                    good = [c for c in answer.clusters if q.relevant & set(c.pmids)]
                    tally["present"] += 1
                    tally["silent_present"] += answer.no_evidence
                    tally["shown"] += len(answer.clusters)
                    tally["shown_good"] += len(good)
                    tally["found"] += bool(good)
                    tally["less_related"] += len(answer.less_related)
    finally:
        answerer.searcher.search = original  # type: ignore[method-assign]
    result = {}
    for key, t in out.items():
        result[key] = {
            "questions": t["present"],
            "cluster_precision": round(t["shown_good"] / max(t["shown"], 1), 4),
            "answer_recall": round(t["found"] / max(t["present"], 1), 4),
            "no_evidence_without_relevant": round(t["silent"] / max(t["absent"], 1), 4),
            "no_evidence_with_relevant": round(t["silent_present"] / max(t["present"], 1), 4),
            "shown_clusters_per_answer": round(t["shown"] / max(t["present"], 1), 3),
            "less_related_per_answer": round(t["less_related"] / max(t["present"], 1), 3),
        }
    return result


def _sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in regex_sentences(text) if e - s > 3]


def summary_check(answerer: Answerer, data: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """ROUGE-L of the own-abstract cluster's summary against PubMedQA's conclusions."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    scores: dict[str, list[float]] = {
        "summary": [],
        "lead3": [],
        "last2": [],
        "last_context": [],
        "oracle_findings": [],
    }
    sentences = verbatim = extract = missed = 0
    notes = Counter()
    for n, (pmid, item) in enumerate(data.items()):
        if n % 50 == 0:
            print(f"summaries {n}/{len(data)}", file=sys.stderr)
        reference = item["LONG_ANSWER"]
        own = _sentences("\n".join(item["CONTEXTS"]))
        scores["lead3"].append(scorer.score(reference, " ".join(own[:3]))["rougeL"].fmeasure)
        scores["last2"].append(scorer.score(reference, " ".join(own[-2:]))["rougeL"].fmeasure)
        last = item["CONTEXTS"][-1]
        scores["last_context"].append(scorer.score(reference, last)["rougeL"].fmeasure)
        findings = [
            sentence
            for text, label in zip(item["CONTEXTS"], item["LABELS"], strict=False)
            if section_role(label) == FINDINGS
            for sentence in _sentences(text)
        ]
        scores["oracle_findings"].append(
            max((scorer.score(reference, f)["rougeL"].fmeasure for f in findings), default=0.0)
        )
        answer: Answer = answerer.ask(item["QUESTION"])
        notes[_note_count(answer)] += 1
        home = next((c for c in answer.clusters if pmid in c.pmids), None)
        if home is None or home.summary is None or not home.summary.sentences:
            missed += 1
            scores["summary"].append(0.0)
            continue
        summary = home.summary
        texts = [s.text for s in summary.sentences]
        scores["summary"].append(scorer.score(reference, " ".join(texts))["rougeL"].fmeasure)
        cited = answerer.store.get_passages(summary.passage_ids)
        passages = {p.id: " ".join(p.text.split()) for p in cited}
        for s in summary.sentences:
            sentences += 1
            verbatim += s.text in passages.get(s.passage_id, "")
            extract += is_extract_of(s.text, passages.get(s.passage_id, ""))
    mean = {k: round(float(np.mean(v)), 4) for k, v in scores.items()}
    return {
        "questions": len(data),
        "own_abstract_not_in_a_shown_cluster": missed,
        "rougeL_f": mean["summary"],
        "baseline_lead3_rougeL_f": mean["lead3"],
        "baseline_last2_sentences_rougeL_f": mean["last2"],
        "baseline_last_context_rougeL_f": mean["last_context"],
        "beats_both_baselines": mean["summary"] > max(mean["lead3"], mean["last2"]),
        "rougeL_f_when_own_abstract_shown": round(
            float(np.mean([v for v in scores["summary"] if v > 0] or [0.0])), 4
        ),
        "upper_bound_best_single_results_sentence_rougeL_f": mean["oracle_findings"],
        "summary_sentences": sentences,
        "supported_share": round(extract / max(sentences, 1), 4),
        "supported_verbatim_share": round(verbatim / max(sentences, 1), 4),
        "fallback_notes_per_answer": dict(notes),
    }


def _note_count(answer: Answer) -> int:
    """How many times the rendered answer states the extractive fallback note."""
    from litmine.answer_cli import render_answer

    reason = answer.summary_reason
    return render_answer(answer).count(reason) if reason else 0


def design_check() -> dict[str, Any]:
    """Text rules against MeSH design headings (PubMedQA) and publication types (PubMed files)."""
    out: dict[str, Any] = {}
    hits = total = 0
    confusion: Counter[str] = Counter()
    for item in pubmedqa().values():
        truth = design_from_mesh(item.get("MESHES", []))
        if truth is None:
            continue
        guess = design_from_text(item["QUESTION"], "\n".join(item["CONTEXTS"]))
        total += 1
        hits += guess == truth
        confusion[f"{truth} -> {guess}"] += 1
    out["pubmedqa_mesh"] = {
        "articles": total,
        "accuracy": round(hits / max(total, 1), 4),
        "confusion": dict(confusion.most_common()),
    }
    from litmine.parse import read_file
    from litmine.types import Article

    hits = total = 0
    rows = []
    paths = sorted((SHARED / "entrez").glob("pubmed*.xml")) + sorted(
        (SHARED / "medline").glob("*.txt")
    )
    for path in paths:
        for record in read_file(path):
            if not isinstance(record, Article) or not record.abstract:
                continue
            truth = design_from_publication_types(record.publication_types)
            if truth is None:
                continue
            guess = design_from_text(record.title, record.abstract)
            total += 1
            hits += guess == truth
            rows.append({"pmid": record.pmid, "publication_type": truth, "text_rules": guess})
    out["pubmed_publication_types"] = {
        "articles": total,
        "accuracy": round(hits / max(total, 1), 4),
        "rows": rows,
    }
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    """The whole benchmark."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    settings = build(args)
    questions = load_questions()
    result: dict[str, Any] = {
        "split": {"function": "litmine.splits.split_of", "seed": SEED, "check_share": CHECK_SHARE},
        "questions": dict(Counter(f"{q.dataset}/{q.split}" for q in questions)),
        "k": args.k,
    }
    cases = extract(settings, questions, args.k, args.work)
    fit_cases = [c for c in cases if c.question.split == "fit"]
    check_cases = [c for c in cases if c.question.split == "check"]
    if args.fit:
        model, report = fit(fit_cases, args.min_recall, args.c, args.threshold_on)
        check = simulate(check_cases, model, model.threshold)
        card = {
            "data": "SciFact training claims (cited documents relevant) and PubMedQA dev "
            "questions (own abstract relevant) over SciFact corpus + PubMedQA dev abstracts; "
            "fit split of litmine.splits.split_of (seed 16, 30% check); articles of the top "
            f"{args.k} hits, relevant articles present and removed",
            "command": f"python bench/answer_trust.py --fit --k {args.k} --min-recall "
            f"{args.min_recall} --threshold-on {args.threshold_on} --c {args.c}",
            "seed": SEED,
            "embedder": f"{settings.embed.model} ({settings.embed.backend})",
            "threshold_rule": "highest threshold with fit-split answer recall >= "
            f"{args.min_recall} on the {args.threshold_on} questions",
            "check_metrics_simulated_by_dataset": {
                ds: simulate(
                    [x for x in check_cases if x.question.dataset == ds], model, model.threshold
                )
                for ds in ("scifact", "pubmedqa")
            },
            "fit_metrics": {k: v for k, v in report.items() if k != "curve"},
            "check_metrics_simulated": check,
        }
        model = dataclasses.replace(model, card=card)
        MODEL_PATH.write_text(json.dumps(model.to_json(), indent=2) + "\n")
        result["fit"] = report
    from litmine.answer.relevance import load_relevance_model

    model = load_relevance_model()
    result["model"] = model.to_json()
    result["calibration_check"] = calibration(check_cases, model)
    result["simulated_check"] = {
        ds: simulate(
            [x for x in check_cases if ds in ("all", x.question.dataset)], model, model.threshold
        )
        for ds in ("all", "scifact", "pubmedqa")
    }
    with (
        Store.open(settings, read_only=True) as store,
        Answerer(settings, store=store) as answerer,
    ):
        answerer.warm_up()
        check = [q for q in questions if q.split == "check"][: args.limit]
        result["relevance_check"] = relevance_check(answerer, check)
        print("relevance", json.dumps(result["relevance_check"]["all"]), file=sys.stderr)
        data = dict(list(pubmedqa().items())[: args.limit])
        result["summaries"] = summary_check(answerer, data)
        print("summaries", json.dumps(result["summaries"]), file=sys.stderr)
    result["designs"] = design_check()
    result["seconds"] = round(time.perf_counter() - start, 1)
    result["machine"] = {"python": platform.python_version(), "cpus": os.cpu_count()}
    return result


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/litmine-trust-bench"))
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--fit", action="store_true", help="refit litmine/models/relevance.json")
    parser.add_argument("--min-recall", type=float, default=0.93)
    parser.add_argument(
        "--threshold-on",
        default="pubmedqa",
        help="questions whose fit-split recall sets the threshold: pubmedqa, scifact or all",
    )
    parser.add_argument("--c", type=float, default=1.0)
    parser.add_argument("--limit", type=int, default=None, help="first N questions only")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    result = run(args)
    text = json.dumps(result, indent=2, default=str)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()

"""Quality of cluster summaries on PubMedQA (labelled dev set, 500 questions).

The collection holds the 500 PubMedQA abstracts (their labelled contexts,
without the long answers) plus ``--distractors`` other real abstracts. For
each question, ``Answerer.ask`` answers it; the summary of the cluster that
holds the question's own abstract is compared with that abstract's
LONG_ANSWER (its conclusion, written by the authors):

* ``rougeL_f``: ROUGE-L F1 (``rouge-score``, Porter stemming) of the summary
  against the long answer; questions whose abstract was not retrieved score 0
  and are counted in ``own_abstract_missed``;
* ``supported_rouge``: share of summary sentences whose ROUGE-L precision
  against some cited passage is at least ``--support-threshold`` (0.5): the
  sentence's words mostly appear, in order, in a passage it cites;
* ``supported_embedding``: share of summary sentences whose cosine similarity
  (MiniLM) to some sentence of a cited passage is at least 0.7.

Baselines on the same questions: ``lead3`` (first three sentences of the own
abstract) and ``own_last2`` (its last two context sentences, usually the
results) against the long answer.

Usage::

    .venv/bin/python bench/summary_quality.py --limit 500 --distractors 2000 \
        --out bench/results/summary_quality.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common_answers import onnx_available, pubmedqa, pubmedqa_article, real_articles, tiny_t5
from report import emit_report

from litmine.answer.answer import Answerer
from litmine.answer.summarize import ExtractiveSummarizer, Seq2SeqSummarizer, Summarizer
from litmine.config import load_settings
from litmine.passages import regex_sentences, split_article
from litmine.store import Store
from litmine.types import Answer, Summary
from litmine.vectors.build import build_index
from litmine.vectors.embed import load_embedder


def _sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in regex_sentences(text) if e - s > 3]


def summary_sentences(summary: Summary) -> list[str]:
    """The summary's sentences without the ``[PMID n]`` tags."""
    if summary.sentences:
        return [s.text for s in summary.sentences]
    return _sentences(summary.text)


def evaluate(
    answerer: Answerer,
    items: list[tuple[str, dict[str, Any]]],
    *,
    k: int,
    embedder: Any,
    support_threshold: float,
) -> dict[str, Any]:
    """Score one summariser on the questions."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    f_scores: list[float] = []
    lead3: list[float] = []
    last2: list[float] = []
    supported_rouge: list[float] = []
    supported_emb: list[float] = []
    missed = 0
    seconds: list[float] = []
    for pmid, item in items:
        reference = item["LONG_ANSWER"]
        own = _sentences(" ".join(item["CONTEXTS"]))
        lead3.append(scorer.score(reference, " ".join(own[:3]))["rougeL"].fmeasure)
        last2.append(scorer.score(reference, " ".join(item["CONTEXTS"][-1:]))["rougeL"].fmeasure)
        answer: Answer = answerer.ask(item["QUESTION"], k=k)
        seconds.append(answer.timings["total"])
        home = next((c for c in answer.clusters if pmid in c.pmids), None)
        if home is None or home.summary is None or not home.summary.text:
            missed += 1
            f_scores.append(0.0)
            continue
        summary = home.summary
        sents = summary_sentences(summary)
        f_scores.append(scorer.score(reference, " ".join(sents))["rougeL"].fmeasure)
        cited = [h.passage for h in home.hits if h.passage.id in set(summary.passage_ids)]
        if not sents or not cited:
            continue
        ok = 0
        for sent in sents:
            best = max(scorer.score(p.text, sent)["rougeL"].precision for p in cited)
            ok += best >= support_threshold
        supported_rouge.append(ok / len(sents))
        cited_sents = [s for p in cited for s in _sentences(p.text)] or [p.text for p in cited]
        a = embedder.embed_documents(sents)
        b = embedder.embed_documents(cited_sents)
        sims = (a @ b.T).max(axis=1)
        supported_emb.append(float((sims >= 0.7).mean()))
    return {
        "questions": len(items),
        "own_abstract_missed": missed,
        "rougeL_f": round(float(np.mean(f_scores)), 4),
        "rougeL_f_when_found": round(float(np.mean([f for f in f_scores if f > 0] or [0.0])), 4),
        "supported_rouge": round(float(np.mean(supported_rouge or [0.0])), 4),
        "supported_embedding": round(float(np.mean(supported_emb or [0.0])), 4),
        "baseline_lead3_rougeL_f": round(float(np.mean(lead3)), 4),
        "baseline_own_last_context_rougeL_f": round(float(np.mean(last2)), 4),
        "ask_mean_s": round(float(np.mean(seconds)), 3),
        "summary_method": answerer.summarizer.method,
        "model": answerer.summarizer.model,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Build the collection and score each summariser."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    backend = "onnx-int8" if args.backend == "auto" and onnx_available() else args.backend
    backend = "torch" if backend == "auto" else backend
    data = pubmedqa(args.data)
    items = list(data.items())[: args.limit]
    work = args.work
    settings = load_settings(data_dir=work / "data", embed={"backend": backend})
    embedder = load_embedder(settings.embed)
    marker = work / "built.json"
    key = {"distractors": args.distractors, "backend": backend}
    if not (marker.is_file() and json.loads(marker.read_text()) == key):
        work.mkdir(parents=True, exist_ok=True)
        if settings.db_path.exists():
            raise SystemExit(f"{work} holds another collection; remove it or pick --work")
        own = [pubmedqa_article(p, item) for p, item in data.items()]
        extra = [a for a in real_articles() if a.pmid not in data][: args.distractors]
        with Store.open(settings) as store:
            store.upsert_articles(own + extra, split=lambda a: split_article(a, settings.passages))
            build_index(store, embedder, settings)
        marker.write_text(json.dumps(key))
    variants: dict[str, Summarizer] = {
        "extractive_tfidf": ExtractiveSummarizer(None, reason="benchmark", scoring="tfidf")
    }
    if args.embedding_scoring:
        variants["extractive_embedding"] = ExtractiveSummarizer(
            embedder, reason="benchmark", scoring="embedding"
        )
    if args.seq2seq:
        model = args.seq2seq_model or tiny_t5(work / "tiny-t5")
        variants["seq2seq"] = Seq2SeqSummarizer.from_settings(
            settings.summarize.model_copy(update={"model": str(model)})
        )
    results: dict[str, Any] = {
        "collection": {"pubmedqa": len(data), "distractors": args.distractors, "backend": backend},
        "k": args.k,
        "support_threshold": args.support_threshold,
        "variants": {},
    }
    start = time.perf_counter()
    with Store.open(settings, read_only=True) as store:
        for name, summarizer in variants.items():
            with Answerer(
                settings, store=store, embedder=embedder, summarizer=summarizer
            ) as answerer:
                results["variants"][name] = evaluate(
                    answerer,
                    items,
                    k=args.k,
                    embedder=embedder,
                    support_threshold=args.support_threshold,
                )
            print(name, json.dumps(results["variants"][name]), file=sys.stderr)
    results["seconds"] = round(time.perf_counter() - start, 1)
    return results


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="pqal_dev.json")
    parser.add_argument("--limit", type=int, default=500)
    parser.add_argument("--distractors", type=int, default=0)
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--support-threshold", type=float, default=0.5)
    parser.add_argument("--work", type=Path, default=Path("/tmp/litmine-summary-bench"))
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--embedding-scoring", action="store_true")
    parser.add_argument("--seq2seq", action="store_true", help="also a local seq2seq model")
    parser.add_argument("--seq2seq-model", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    results = run(args)
    emit_report(results, args.out)


if __name__ == "__main__":
    main()

"""End-to-end latency of ``Answerer.ask`` (search, vectors, cluster, summarise).

Builds (or reuses) a collection of ``--articles`` real abstracts (SciFact,
PubMedQA, BC5CDR, NCBI disease; repeated under fresh ids past ~7.5k, see
``bench/common_answers.py``) with its vector index, embedding with
``embed.backend = onnx-int8`` when onnxruntime imports (else torch), then asks
``--questions`` questions (PubMedQA questions and SciFact claims) with each
summariser:

* ``extractive``: TF-IDF sentence scoring (the default), and with
  ``--embedding-scoring`` also sentence-embedding scoring;
* ``seq2seq``: a local seq2seq model (``--seq2seq-model``; default a tiny
  random 1-layer T5 built on the spot, which measures the plumbing, not a real
  model's cost).

Reports p50/p95/mean of the total and each stage's mean and share of the
total, as JSON. Target: extractive p95 < 1 s.

Usage::

    .venv/bin/python bench/ask_latency.py --articles 10000 --questions 50 \
        --work /tmp/litmine-ask-10k --out bench/results/ask_latency.json
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common_answers import SHARED, collection, onnx_available, pubmedqa, tiny_t5
from report import emit_report

from litmine.answer.answer import Answerer
from litmine.answer.summarize import ExtractiveSummarizer, Seq2SeqSummarizer, Summarizer
from litmine.config import Settings, load_settings
from litmine.passages import split_article
from litmine.store import Store
from litmine.vectors.build import build_index
from litmine.vectors.embed import load_embedder

STAGES = ("search", "vectors", "cluster", "summarize")


def questions(n: int) -> list[str]:
    """PubMedQA questions and SciFact claims, interleaved."""
    pq = [item["QUESTION"] for item in pubmedqa().values()]
    csv.field_size_limit(sys.maxsize)
    with (SHARED / "scifact" / "claims_train.csv").open(encoding="utf-8", newline="") as fh:
        claims = list(dict.fromkeys(row["claim"].strip() for row in csv.DictReader(fh)))
    mixed = [q for pair in zip(pq, claims, strict=False) for q in pair]
    return mixed[:n]


def prepare(args: argparse.Namespace) -> tuple[Settings, dict[str, Any]]:
    """Settings for the work folder; build the collection and index unless already there."""
    backend = args.backend
    if backend == "auto":
        backend = "onnx-int8" if onnx_available() else "torch"
    settings = load_settings(data_dir=args.work / "data", embed={"backend": backend})
    info: dict[str, Any] = {"backend": backend, "articles": args.articles}
    marker = args.work / "built.json"
    if marker.is_file() and json.loads(marker.read_text()).get("articles") == args.articles:
        info.update(json.loads(marker.read_text()))
        info["reused"] = True
        return settings, info
    args.work.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    articles = collection(args.articles)
    with Store.open(settings) as store:
        store.upsert_articles(articles, split=lambda a: split_article(a, settings.passages))
        info["load_s"] = round(time.perf_counter() - start, 1)
        start = time.perf_counter()
        report = build_index(store, load_embedder(settings.embed), settings)
        info["index_s"] = round(time.perf_counter() - start, 1)
        info["passages"] = store.counts().passages
        info["index"] = report.line()
    marker.write_text(json.dumps(info))
    info["reused"] = False
    return settings, info


def _pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 4)


def measure(
    settings: Settings,
    store: Store,
    embedder: Any,
    summarizer: Summarizer,
    qs: list[str],
    *,
    k: int,
    warmup: int,
) -> dict[str, Any]:
    """Time ``ask`` on every question after ``warmup`` unmeasured ones."""
    with Answerer(settings, store=store, embedder=embedder, summarizer=summarizer) as answerer:
        for q in qs[:warmup]:
            answerer.ask(q, k=k)
        runs = []
        clusters = []
        for q in qs[warmup:]:
            answer = answerer.ask(q, k=k)
            runs.append(answer.timings)
            clusters.append(len(answer.clusters))
    totals = [r["total"] for r in runs]
    mean_total = float(np.mean(totals))
    return {
        "questions": len(runs),
        "p50_s": _pct(totals, 50),
        "p95_s": _pct(totals, 95),
        "mean_s": round(mean_total, 4),
        "max_s": round(max(totals), 4),
        "stages_mean_s": {s: round(float(np.mean([r[s] for r in runs])), 4) for s in STAGES},
        "stages_share": {
            s: round(float(np.mean([r[s] for r in runs])) / mean_total, 3) for s in STAGES
        },
        "clusters_mean": round(float(np.mean(clusters)), 2),
        "summary_method": summarizer.method,
        "model": summarizer.model,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Build/reuse the collection, then measure each summariser."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    settings, info = prepare(args)
    qs = questions(args.questions + args.warmup)
    embedder = load_embedder(settings.embed)
    results: dict[str, Any] = {
        "collection": info,
        "k": args.k,
        "mode": settings.search.mode,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "load_average_start": list(os.getloadavg()),
        "variants": {},
    }
    variants: dict[str, Summarizer] = {
        "extractive_tfidf": ExtractiveSummarizer(None, reason="benchmark", scoring="tfidf"),
    }
    if args.embedding_scoring:
        variants["extractive_embedding"] = ExtractiveSummarizer(
            embedder, reason="benchmark", scoring="embedding"
        )
    if not args.skip_seq2seq:
        model = args.seq2seq_model or tiny_t5(args.work / "tiny-t5")
        variants["seq2seq"] = Seq2SeqSummarizer.from_settings(
            settings.summarize.model_copy(update={"model": str(model)})
        )
    with Store.open(settings, read_only=True) as store:
        for name, summarizer in variants.items():
            results["variants"][name] = measure(
                settings, store, embedder, summarizer, qs, k=args.k, warmup=args.warmup
            )
            print(name, json.dumps(results["variants"][name]), file=sys.stderr)
    results["load_average_end"] = list(os.getloadavg())
    results["target_extractive_p95_lt_1s"] = results["variants"]["extractive_tfidf"]["p95_s"] < 1
    return results


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--questions", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--work", type=Path, default=Path("/tmp/litmine-ask-bench"))
    parser.add_argument("--backend", default="auto", help="auto, torch, onnx-int8...")
    parser.add_argument("--seq2seq-model", type=Path, default=None)
    parser.add_argument("--skip-seq2seq", action="store_true")
    parser.add_argument("--embedding-scoring", action="store_true")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    results = run(args)
    emit_report(results, args.out)


if __name__ == "__main__":
    main()

"""Retrieval quality (nDCG@10, recall@10/100, MRR@10) of bm25 / dense / hybrid on SciFact.

Converts the shared SciFact CSVs to BEIR (``bench/scifact_beir.py``) in a
temporary folder, ingests the corpus into a temporary data dir
(:func:`litmine.pipeline.ingest_files`), builds the vector index and scores
each mode with :func:`litmine.search.evaluate.evaluate_retrieval`. Nothing is written
to the repository except the JSON result.

Besides each mode under the current settings it scores ``ABLATIONS``: the
hybrid with the earlier choices (RRF, passage-level BM25), so the JSON shows
what each change bought. ``--adapt-epochs N`` first adapts the embedder to the
corpus without labels (:func:`litmine.vectors.adapt.adapt_from_store`, as
``litmine index adapt`` does); ``--model DIR`` evaluates an already adapted model.

Usage::

    .venv/bin/python bench/retrieval_quality.py --max-docs 500 --max-queries 100 \
        --backend onnx-int8 --out bench/results/retrieval_quality_slice.json
    .venv/bin/python bench/retrieval_quality.py --backend onnx-int8 --adapt-epochs 1 \
        --out bench/results/retrieval_scifact_adapted.json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from report import emit_report  # noqa: E402
from scifact_beir import DEFAULT_SRC, convert  # noqa: E402

PUBMEDQA = ROOT.parent / "shared" / "data" / "pubmedqa" / "pqal_dev.json"
# Hybrid variants scored beside the defaults: the earlier default (RRF over
# passage-level BM25) and each of the two changes alone.
ABLATIONS: dict[str, dict[str, Any]] = {
    "rrf_bm25_passage": {"fusion": "rrf", "bm25_unit": "passage"},
    "rrf_bm25_article": {"fusion": "rrf", "bm25_unit": "article"},
    "minmax_bm25_passage": {"fusion": "minmax", "bm25_unit": "passage"},
}


def pubmedqa_beir(src: Path, out: Path, *, limit: int | None = None) -> dict[str, int]:
    """PubMedQA dev as BEIR: each question's relevant document is its own abstract.

    The question is the article's title in PubMedQA, so documents carry no title
    (that would make retrieval trivial): only the contexts and the conclusion.
    """
    data = json.loads(src.read_text(encoding="utf-8"))
    out.mkdir(parents=True, exist_ok=True)
    items = list(data.items())[:limit]
    with (
        (out / "corpus.jsonl").open("w", encoding="utf-8") as corpus,
        (out / "queries.jsonl").open("w", encoding="utf-8") as queries,
        (out / "qrels.tsv").open("w", encoding="utf-8") as qrels,
    ):
        qrels.write("query-id\tcorpus-id\tscore\n")
        for pmid, item in items:
            text = " ".join([*item["CONTEXTS"], item.get("LONG_ANSWER") or ""]).strip()
            corpus.write(json.dumps({"_id": pmid, "title": "", "text": text}) + "\n")
            queries.write(json.dumps({"_id": f"q{pmid}", "text": item["QUESTION"]}) + "\n")
            qrels.write(f"q{pmid}\t{pmid}\t1\n")
    return {"docs": len(items), "queries": len(items), "qrels": len(items)}


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Convert, ingest, index and evaluate; return the result record."""
    from litmine.config import load_settings, merge_section
    from litmine.pipeline import ingest_files, open_store
    from litmine.search.evaluate import evaluate_retrieval
    from litmine.vectors.build import build_index, load_index
    from litmine.vectors.embed import load_embedder

    result: dict[str, Any] = {"args": vars(args) | {"src": str(args.src), "out": str(args.out)}}
    with tempfile.TemporaryDirectory(prefix="litmine-retrieval-") as tmp:
        beir = Path(tmp) / "beir"
        if args.dataset == "pubmedqa":
            result["collection"] = pubmedqa_beir(args.pubmedqa, beir, limit=args.max_queries)
        else:
            result["collection"] = convert(
                args.src, beir, max_docs=args.max_docs, max_queries=args.max_queries
            )
        embed: dict[str, Any] = {"backend": args.backend}
        if args.model:
            embed["model"] = args.model
        settings = load_settings(data_dir=Path(tmp) / "data", embed=embed)
        t0 = time.perf_counter()
        ingest_files([beir / "corpus.jsonl"], settings)
        result["ingest_s"] = round(time.perf_counter() - t0, 2)
        if args.adapt_epochs:
            # Unlabelled corpus adaptation, as `litmine index adapt` runs it.
            from litmine.vectors.adapt import AdaptParams, adapt_from_store

            with open_store(settings, read_only=True) as store:
                adapted = adapt_from_store(
                    store,
                    settings,
                    Path(tmp) / "adapted",
                    AdaptParams(epochs=args.adapt_epochs, seed=0),
                )
            result["adapt"] = adapted.as_dict()
            settings = load_settings(
                data_dir=Path(tmp) / "data", embed=embed | {"model": str(adapted.model_dir)}
            )
        embedder = load_embedder(settings.embed)
        with open_store(settings) as store:
            result["passages"] = store.counts().passages
            report = build_index(store, embedder, settings)
            result["index_build_s"] = round(report.seconds, 2)
            index = load_index(settings, embedder=embedder)
            result["modes"] = {}
            result["search_settings"] = settings.search.model_dump()

            def score(variant: Any, mode: str) -> dict[str, float]:
                metrics = evaluate_retrieval(
                    beir / "queries.jsonl",
                    beir / "qrels.tsv",
                    store=store,
                    index=index,
                    embedder=embedder,
                    settings=variant,
                    modes=[mode],
                )[mode]
                return {k: round(v, 4) for k, v in metrics.items()}

            for mode in args.modes:
                t0 = time.perf_counter()
                result["modes"][mode] = score(settings, mode) | {
                    "seconds": round(time.perf_counter() - t0, 2)
                }
            # What each retrieval choice buys: the hybrid under earlier defaults.
            result["ablations"] = {}
            for name, overrides in ABLATIONS.items() if "hybrid" in args.modes else ():
                variant = merge_section(settings, "search", **overrides)
                result["ablations"][name] = score(variant, "hybrid")
    result["machine"] = {"python": platform.python_version(), "cpus": platform.machine()}
    return result


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=["scifact", "pubmedqa"], default="scifact")
    parser.add_argument("--src", type=Path, default=DEFAULT_SRC)
    parser.add_argument("--pubmedqa", type=Path, default=PUBMEDQA)
    parser.add_argument("--max-docs", type=int, default=None)
    parser.add_argument("--max-queries", type=int, default=None)
    parser.add_argument("--backend", default="torch", help="embed.backend (onnx-int8 is fastest)")
    parser.add_argument("--modes", nargs="+", default=["bm25", "dense", "hybrid"])
    parser.add_argument("--model", default=None, help="embed.model (default: the settings')")
    parser.add_argument(
        "--adapt-epochs",
        type=int,
        default=0,
        help="first adapt the embedder to the corpus without labels (litmine index adapt)",
    )
    parser.add_argument("--out", type=Path, default=None, help="JSON result file")
    args = parser.parse_args(argv)
    result = run(args)
    emit_report(result, args.out)


if __name__ == "__main__":
    main()

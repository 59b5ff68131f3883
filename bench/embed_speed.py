"""Embedding speed and agreement: plain SentenceTransformer.encode vs litmine backends.

Passages are real SciFact abstracts (``../shared/data/scifact/corpus_train.csv``)
split into ~128-word-piece passages the way litmine packs sentences (whole
sentences up to ``--passage-words`` words). Queries are SciFact training claims
whose cited abstracts are in the sample, so nDCG@10 (abstract level, MaxP over
its passages) can be computed against the claims' cited documents.

Speed: the corpus is cut into chunks and every chunk is encoded by the baseline
and by each backend in turn, so load from other processes on a shared machine
hits all of them alike. Each runner is warmed up first. The baseline is
``SentenceTransformer(model).encode(texts, batch_size=32, normalize_embeddings=True)``
in the same process; litmine runs through :func:`litmine.vectors.embed.load_embedder`.

Agreement vs the fp32 baseline: cosine of each passage's vectors (mean, min),
the overlap of each query's top-10 passages, and nDCG@10 (and its delta).

Usage::

    .venv/bin/python bench/embed_speed.py --passages 1000 \
        --backends torch,torch-int8,onnx,onnx-int8 --out bench/results/embed_speed.json
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import random
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SCIFACT = ROOT.parent / "shared" / "data" / "scifact"
DEFAULT_OUT = ROOT / "bench" / "results" / "embed_speed.json"
# One quoted element of a numpy-style list repr: ['sent 1'\n 'sent 2' ...] (either quote).
_ELEMENT = re.compile(r"'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\"")
_IDS = re.compile(r"\d+")


def parse_sentences(field: str) -> list[str]:
    """Sentences of a numpy-style list repr, unescaped."""
    out = []
    for single, double in _ELEMENT.findall(field):
        text = single or double
        out.append(text.replace("\\'", "'").replace('\\"', '"').replace("\\\\", "\\"))
    return [s.strip() for s in out if s.strip()]


def read_corpus(path: Path) -> dict[str, tuple[str, list[str]]]:
    """doc_id -> (title, abstract sentences)."""
    csv.field_size_limit(sys.maxsize)
    docs: dict[str, tuple[str, list[str]]] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            docs[row["doc_id"]] = (row["title"], parse_sentences(row["abstract"]))
    return docs


def read_claims(path: Path) -> dict[str, tuple[str, set[str]]]:
    """claim id -> (claim text, cited doc ids)."""
    csv.field_size_limit(sys.maxsize)
    claims: dict[str, tuple[str, set[str]]] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            cited = set(_IDS.findall(row["cited_doc_ids"]))
            text, seen = claims.get(row["id"], (row["claim"], set()))
            claims[row["id"]] = (text, seen | cited)
    return claims


def pack_passages(title: str, sentences: Sequence[str], max_words: int) -> list[str]:
    """Whole sentences packed up to ``max_words`` words; the title opens the first."""
    passages: list[str] = []
    current: list[str] = [title] if title else []
    words = len(title.split())
    for sentence in sentences:
        n = len(sentence.split())
        if current and words + n > max_words and (len(current) > 1 or not title):
            passages.append(" ".join(current))
            current, words = [], 0
        current.append(sentence)
        words += n
    if current:
        passages.append(" ".join(current))
    return passages


def build_sample(
    n_passages: int, max_words: int, seed: int
) -> tuple[list[str], list[str], list[str], list[set[str]]]:
    """Passages (texts, doc ids) and queries (texts, relevant doc ids)."""
    docs = read_corpus(SCIFACT / "corpus_train.csv")
    claims = read_claims(SCIFACT / "claims_train.csv")
    rng = random.Random(seed)
    claim_ids = sorted(claims, key=int)
    rng.shuffle(claim_ids)
    chosen_docs: list[str] = []
    queries: list[str] = []
    qrels: list[set[str]] = []
    budget = int(n_passages * 0.4)  # ~40% of passages from cited abstracts, the rest distractors
    used = 0
    for cid in claim_ids:
        text, cited = claims[cid]
        cited = {d for d in cited if d in docs}
        if not cited:
            continue
        new = [d for d in sorted(cited) if d not in chosen_docs]
        cost = sum(len(pack_passages(*docs[d], max_words)) for d in new)
        if used + cost > budget:
            continue
        chosen_docs.extend(new)
        used += cost
        queries.append(text)
        qrels.append(cited)
    others = [d for d in docs if d not in set(chosen_docs)]
    rng.shuffle(others)
    texts: list[str] = []
    doc_of: list[str] = []
    for doc_id in chosen_docs + others:
        for passage in pack_passages(*docs[doc_id], max_words):
            if len(texts) >= n_passages:
                break
            texts.append(passage)
            doc_of.append(doc_id)
        if len(texts) >= n_passages:
            break
    order = list(range(len(texts)))
    rng.shuffle(order)  # mix cited and distractor passages across chunks
    return [texts[i] for i in order], [doc_of[i] for i in order], queries, qrels


def ndcg_at_10(scores: np.ndarray, doc_of: Sequence[str], qrels: Sequence[set[str]]) -> float:
    """Mean nDCG@10 over queries; a document scores its best passage (MaxP)."""
    doc_ids = sorted(set(doc_of))
    col = {d: i for i, d in enumerate(doc_ids)}
    index = np.array([col[d] for d in doc_of])
    total = 0.0
    for q, relevant in enumerate(qrels):
        doc_scores = np.full(len(doc_ids), -np.inf)
        np.maximum.at(doc_scores, index, scores[q])
        top = np.argsort(-doc_scores)[:10]
        dcg = sum(1 / math.log2(r + 2) for r, d in enumerate(top) if doc_ids[d] in relevant)
        ideal = sum(1 / math.log2(r + 2) for r in range(min(10, len(relevant))))
        total += dcg / ideal
    return total / len(qrels)


def top10_overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Mean fraction of shared passages in the top-10 of two score matrices."""
    ta = np.argsort(-a, axis=1)[:, :10]
    tb = np.argsort(-b, axis=1)[:, :10]
    return float(np.mean([len(set(x) & set(y)) / 10 for x, y in zip(ta, tb, strict=True)]))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passages", type=int, default=1000)
    parser.add_argument("--passage-words", type=int, default=90, help="~128 word pieces")
    parser.add_argument("--backends", default="torch,torch-int8,onnx,onnx-int8")
    parser.add_argument(
        "--batch-size", type=int, default=None, help="litmine's; None = backend default"
    )
    parser.add_argument("--chunk", type=int, default=100, help="passages per interleaved chunk")
    parser.add_argument("--threads", type=int, default=None, help="torch/ORT threads")
    parser.add_argument("--cache-dir", type=Path, default=None, help="ONNX export cache")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)

    if not (SCIFACT / "corpus_train.csv").is_file():
        print(f"skipped: SciFact data not found at {SCIFACT} (it lives in ../shared/data)")
        return 0
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import torch
    from sentence_transformers import SentenceTransformer

    from litmine.config import EmbedSettings
    from litmine.vectors.embed import load_embedder, resolve_model

    if args.threads:
        torch.set_num_threads(args.threads)
    texts, doc_of, queries, qrels = build_sample(args.passages, args.passage_words, args.seed)
    print(f"{len(texts)} passages, {len(set(doc_of))} abstracts, {len(queries)} queries")

    baseline_model = SentenceTransformer(resolve_model("all-MiniLM-L6-v2"), device="cpu")

    def baseline(batch: list[str]) -> np.ndarray:
        return np.asarray(baseline_model.encode(batch, batch_size=32, normalize_embeddings=True))

    runners: dict[str, Callable[[list[str]], np.ndarray]] = {"baseline": baseline}
    query_fns: dict[str, Callable[[list[str]], np.ndarray]] = {"baseline": baseline}
    load_s: dict[str, float] = {}
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        settings = EmbedSettings(
            backend=backend,  # type: ignore[arg-type]
            batch_size=args.batch_size,
            num_threads=args.threads,
            cache_dir=args.cache_dir,
        )
        t0 = time.perf_counter()
        embedder = load_embedder(settings)
        load_s[backend] = time.perf_counter() - t0
        runners[backend] = embedder.embed_documents
        query_fns[backend] = embedder.embed_queries

    for fn in runners.values():  # warm-up
        fn(texts[:16])
    seconds = dict.fromkeys(runners, 0.0)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in runners}
    for start in range(0, len(texts), args.chunk):
        chunk = texts[start : start + args.chunk]
        for name, fn in runners.items():
            t0 = time.perf_counter()
            parts[name].append(fn(chunk))
            seconds[name] += time.perf_counter() - t0
        done = start + len(chunk)
        print(f"  {done}/{len(texts)} " + " ".join(f"{n}={s:.1f}s" for n, s in seconds.items()))
    vectors = {name: np.vstack(p) for name, p in parts.items()}
    query_vectors = {name: fn(queries) for name, fn in query_fns.items()}

    ref = vectors["baseline"]
    ref_scores = query_vectors["baseline"] @ ref.T
    ref_ndcg = ndcg_at_10(ref_scores, doc_of, qrels)
    base_rate = len(texts) / seconds["baseline"]
    report: dict[str, Any] = {
        "passages": len(texts),
        "abstracts": len(set(doc_of)),
        "queries": len(queries),
        "passage_words_max": args.passage_words,
        "litmine_batch_size": args.batch_size,
        "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "load_average_end": os.getloadavg(),
        "platform": platform.platform(),
        "baseline": {
            "what": "SentenceTransformer.encode fp32, batch_size 32",
            "passages_per_s": round(base_rate, 2),
            "ndcg@10": round(ref_ndcg, 4),
        },
        "backends": {},
    }
    for name in runners:
        if name == "baseline":
            continue
        vec = vectors[name]
        cos = (vec * ref).sum(axis=1)
        scores = query_vectors[name] @ vec.T
        ndcg = ndcg_at_10(scores, doc_of, qrels)
        rate = len(texts) / seconds[name]
        report["backends"][name] = {
            "passages_per_s": round(rate, 2),
            "speed_ratio_vs_baseline": round(rate / base_rate, 3),
            "load_s": round(load_s[name], 2),
            "cosine_mean": round(float(cos.mean()), 5),
            "cosine_min": round(float(cos.min()), 5),
            "top10_overlap": round(top10_overlap(scores, ref_scores), 4),
            "ndcg@10": round(ndcg, 4),
            "ndcg@10_delta": round(ndcg - ref_ndcg, 4),
        }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

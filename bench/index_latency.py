"""Vector index latency, recall and memory at 10k / 100k / 1M passages.

Vectors are synthetic, L2-normalised and 384-d (all-MiniLM-L6-v2's size), drawn
from a mixture of topics so neighbours exist as they do in real embeddings: a
point is ``normalise(centre + noise)`` with unit-norm random centres, isotropic
noise of about the centre's norm (cosine to its centre ~0.7, to a same-topic
point ~0.5, to other topics ~0), and topic sizes from a Dirichlet draw (some
topics are far bigger than others). Queries are fresh draws from the same
mixture, not points of the index.

For each size the index is built as litmine builds it (:class:`PassageIndex`,
factory chosen by size unless ``--factory``), then:

* latency of one-query searches (k=10), p50/p95/mean over ``--queries`` calls;
* recall@10 against exact inner-product search (numpy, chunked);
* the same with an id filter holding 1% of the passages;
* for IVF indexes, a sweep over ``nprobe``;
* memory: the serialised index size and the process RSS growth while building.

Usage::

    .venv/bin/python bench/index_latency.py --sizes 10000,100000 \
        --out bench/results/index_latency.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "bench" / "results" / "index_latency.json"
BASE_ID = 1 << 40


def rss_bytes() -> int:
    """Current resident set size of this process."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def make_data(
    n: int, n_queries: int, dim: int, topics: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Clustered, normalised vectors and queries (float32), generated in chunks."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((topics, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    weights = rng.dirichlet(np.full(topics, 0.5))

    def draw(count: int) -> np.ndarray:
        out = np.empty((count, dim), dtype=np.float32)
        for start in range(0, count, 100_000):
            m = min(100_000, count - start)
            topic = rng.choice(topics, size=m, p=weights)
            noise = rng.standard_normal((m, dim), dtype=np.float32) / np.sqrt(dim)
            block = centres[topic] + noise
            block /= np.linalg.norm(block, axis=1, keepdims=True)
            out[start : start + m] = block
        return out

    return draw(n), draw(n_queries)


def exact_topk(
    vectors: np.ndarray, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
) -> np.ndarray:
    """Row indexes of the exact top-k by inner product (chunked over the vectors)."""
    best_s = np.full((len(queries), k), -np.inf, dtype=np.float32)
    best_i = np.full((len(queries), k), -1, dtype=np.int64)
    for start in range(0, len(vectors), 200_000):
        block = vectors[start : start + 200_000]
        scores = queries @ block.T
        if allowed is not None:
            mask = allowed[start : start + len(block)]
            scores[:, ~mask] = -np.inf
        cand_s = np.concatenate([best_s, scores], axis=1)
        cand_i = np.concatenate(
            [best_i, np.broadcast_to(np.arange(start, start + len(block)), scores.shape)], axis=1
        )
        top = np.argpartition(-cand_s, k - 1, axis=1)[:, :k]
        best_s = np.take_along_axis(cand_s, top, axis=1)
        best_i = np.take_along_axis(cand_i, top, axis=1)
    return best_i


def recall_at_k(found_rows: np.ndarray, truth_rows: np.ndarray) -> float:
    k = truth_rows.shape[1]
    return float(
        np.mean(
            [
                len(set(f[f >= 0]) & set(t[t >= 0])) / k
                for f, t in zip(found_rows, truth_rows, strict=True)
            ]
        )
    )


def time_single_queries(
    index: Any, queries: np.ndarray, k: int, id_filter: np.ndarray | None = None
) -> tuple[dict[str, float], np.ndarray]:
    """Search one query per call; latency percentiles in ms, and the found ids."""
    index.search(queries[:1], k, id_filter=id_filter)  # warm-up
    times = []
    found = np.empty((len(queries), k), dtype=np.int64)
    for i in range(len(queries)):
        t0 = time.perf_counter()
        _, ids = index.search(queries[i : i + 1], k, id_filter=id_filter)
        times.append((time.perf_counter() - t0) * 1000)
        found[i] = ids[0]
    t = np.array(times)
    stats = {
        "p50_ms": round(float(np.percentile(t, 50)), 3),
        "p95_ms": round(float(np.percentile(t, 95)), 3),
        "mean_ms": round(float(t.mean()), 3),
    }
    return stats, found


def bench_size(n: int, args: argparse.Namespace) -> dict[str, Any]:
    import faiss

    from litmine.config import IndexSettings
    from litmine.vectors.faiss_index import PassageIndex, choose_factory

    t0 = time.perf_counter()
    vectors, queries = make_data(n, args.queries, args.dim, args.topics, args.seed)
    gen_s = time.perf_counter() - t0
    ids = BASE_ID + np.arange(n, dtype=np.int64)
    settings = IndexSettings(nprobe=args.nprobe)
    factory = args.factory or choose_factory(n, settings)

    rss0 = rss_bytes()
    t0 = time.perf_counter()
    index = PassageIndex(args.dim, model="synthetic", settings=settings)
    index.build(ids, vectors, factory=factory)
    build_s = time.perf_counter() - t0
    rss_growth = rss_bytes() - rss0
    serialized = int(faiss.serialize_index(index.faiss_index).nbytes)

    t0 = time.perf_counter()
    truth = exact_topk(vectors, queries, args.k)
    truth_s = time.perf_counter() - t0
    latency, found = time_single_queries(index, queries, args.k)
    recall = recall_at_k(found - BASE_ID, truth)

    rng = np.random.default_rng(args.seed + 1)
    allowed_mask = np.zeros(n, dtype=bool)
    allowed_mask[rng.choice(n, max(1, n // 100), replace=False)] = True
    allowed_ids = ids[allowed_mask]
    f_latency, f_found = time_single_queries(index, queries, args.k, id_filter=allowed_ids)
    f_truth = exact_topk(vectors, queries, args.k, allowed=allowed_mask)
    f_recall = recall_at_k(f_found - BASE_ID, f_truth)

    result: dict[str, Any] = {
        "n": n,
        "factory": factory,
        "generate_s": round(gen_s, 1),
        "build_s": round(build_s, 1),
        "exact_truth_s": round(truth_s, 1),
        "latency": latency,
        "recall@10": round(recall, 4),
        "filtered_1pct": {"latency": f_latency, "recall@10": round(f_recall, 4)},
        "index_bytes": serialized,
        "index_mib": round(serialized / 2**20, 1),
        "rss_growth_mib": round(rss_growth / 2**20, 1),
        "raw_vectors_mib": round(vectors.nbytes / 2**20, 1),
    }
    ivf = faiss.try_extract_index_ivf(index.faiss_index)
    if ivf is not None:
        sweep = {}
        for nprobe in args.sweep:
            if nprobe > ivf.nlist:
                continue
            index.settings = IndexSettings(nprobe=nprobe)
            index._apply_search_settings()
            lat, got = time_single_queries(index, queries, args.k)
            sweep[str(nprobe)] = {"recall@10": round(recall_at_k(got - BASE_ID, truth), 4), **lat}
        result["nprobe_sweep"] = sweep
    print(json.dumps(result, indent=2), flush=True)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated; e.g. 1000000")
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--topics", type=int, default=2000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--nprobe", type=int, default=32)
    parser.add_argument("--sweep", default="8,16,32,64", help="nprobe values for IVF")
    parser.add_argument("--factory", default=None, help="force a FAISS factory string")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    args.sweep = [int(x) for x in args.sweep.split(",") if x]

    import faiss

    report: dict[str, Any] = {
        "dim": args.dim,
        "topics": args.topics,
        "queries": args.queries,
        "k": args.k,
        "faiss_version": faiss.__version__,
        "omp_threads": faiss.omp_get_max_threads(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "sizes": [],
    }
    for size in (int(s) for s in args.sizes.split(",") if s):
        report["sizes"].append(bench_size(size, args))
        report["load_average"] = os.getloadavg()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

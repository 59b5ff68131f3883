"""Scale: the Dask path (1 and 2 workers) against the local runner, and per-record costs.

One run measures, on the 20,000-record file of ``bench/parse_throughput.py``
(``make_large_file(records=20000)``), written as ``--files`` files of equal size
(Dask ingest runs one task per file, as a PubMed baseline is 1,274 files):

* ingest: records/s for the local runner (process pool) and the Dask runner
  with a LocalCluster of 1 and 2 workers (started and closed inside the call:
  its start-up is in the time, as for a user);
* NER: abstracts/s, ``litmine entities`` local vs ``--runner dask``, on the
  first ``--ner-records`` articles (a subset: the full file would take well over
  15 minutes on 2 shared cores; the JSON says so);
* embedding: passages/s, the local one-piece ``index build`` vs the Dask sharded
  build, on the passages of the same subset;
* per-record costs for the README's sizing: parse+store s/record and CPU
  s/record, NER s/abstract, embedding s/passage, store bytes per record,
  staging bytes per record (entity Parquet and vector ``.npy`` shards);
* per index factory (Flat, IVF Flat, IVF SQ8, IVF PQ + refine, IVF PQ alone):
  bytes per vector on disk and recall@10 against exact search on the same
  embedded vectors in the same run.

A Prefect flow runs first, untimed, so the temporary Prefect server's start-up
is in no measurement. Timings on a shared machine are noisy: only the ratios
within one run mean something.

Usage::

    .venv/bin/python bench/scale.py --records 20000 --files 8 --ner-records 1000
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
DEFAULT_OUT = ROOT / "bench" / "results" / "scale.json"

from parse_throughput import make_large_file  # noqa: E402

from litmine.config import Settings, load_settings  # noqa: E402


def _cpu_s() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _dir_bytes(path: Path) -> int:
    if not path.exists():
        return 0
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


@contextmanager
def _peak_size(folder: Path) -> Iterator[dict[str, int]]:
    """Largest total size ``folder`` reaches while the block runs (sampled every 50 ms)."""
    seen = {"peak": 0}
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(0.05):
            with contextlib.suppress(OSError):  # a file vanished while listed
                seen["peak"] = max(seen["peak"], _dir_bytes(folder))

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join()


def _timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), _cpu_s()
    result = fn()
    return result, time.perf_counter() - wall, _cpu_s() - cpu


def _settings(data_dir: Path, runner: str, workers: int | None) -> Settings:
    dask = {"workers": workers} if workers else {}
    return load_settings(data_dir=data_dir, runner=runner, dask=dask)


ARTICLES_PER_NER_TASK = 100
"""Small NER tasks on the subset, so 2 workers have several tasks to share."""

RUNS: list[tuple[str, str, int | None]] = [("local", "local", None), ("dask_1", "dask", 1),
                                           ("dask_2", "dask", 2)]  # fmt: skip


def bench_ingest(files: list[Path], work: Path, records: int) -> dict[str, Any]:
    """Records/s of each runner on the same files, each into a fresh store."""
    from litmine.scale.ingest import ingest_paths

    out: dict[str, Any] = {}
    for name, runner, workers in RUNS:
        settings = _settings(work / f"ingest-{name}", runner, workers)
        with _peak_size(settings.data_dir / "staging") as staging:
            result, wall, cpu = _timed(partial(ingest_paths, files, settings, workers=workers))
        db = _dir_bytes(settings.data_dir) - _dir_bytes(settings.data_dir / "staging")
        out[name] = {
            "records": result.report.new, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
            "records_per_s": round(records / wall, 1), "store_bytes": db,
            "store_bytes_per_record": round(db / records, 1),
            "staging_peak_bytes": staging["peak"],
            "staging_peak_bytes_per_record": round(staging["peak"] / records, 1),
        }  # fmt: skip
        if name != "local":
            shutil.rmtree(settings.data_dir)
    return out


def bench_ner(subset: Path, work: Path) -> dict[str, Any]:
    """Abstracts/s: ``litmine entities`` local vs on Dask, on the subset."""
    from litmine import ingest
    from litmine.scale import entities as scale_entities
    from litmine.scale.ingest import ingest_paths
    from litmine.store import Store

    out: dict[str, Any] = {}
    for name, runner, workers in RUNS:
        settings = _settings(work / f"ner-{name}", runner, workers)
        ingest_paths([subset], _settings(settings.data_dir, "local", None))
        if runner == "local":
            n, wall, cpu = _timed(partial(ingest.extract_entities, settings))
        else:
            peak = {"parquet": 0}
            real = scale_entities.commit_shard

            def measured(store: Any, shard: Any, real: Any = real, peak: Any = peak) -> int:
                peak["parquet"] += Path(shard.path).stat().st_size
                return int(real(store, shard))

            scale_entities.commit_shard = measured
            try:
                report, wall, cpu = _timed(
                    partial(
                        scale_entities.extract_entities_dask,
                        settings,
                        articles_per_task=ARTICLES_PER_NER_TASK,
                    )
                )
            finally:
                scale_entities.commit_shard = real
            n = report.articles
        with Store.open(settings, read_only=True) as store:
            counts = store.counts()
        row: dict[str, Any] = {
            "abstracts": n, "entities": counts.entities, "wall_s": round(wall, 2),
            "cpu_s": round(cpu, 2), "abstracts_per_s": round(n / wall, 2),
        }  # fmt: skip
        if runner == "dask":
            row["staging_parquet_bytes"] = peak["parquet"]
            row["staging_parquet_bytes_per_abstract"] = round(peak["parquet"] / max(n, 1), 1)
        out[name] = row
    return out


def bench_embed(work: Path) -> tuple[dict[str, Any], np.ndarray]:
    """Passages/s: one-piece local ``index build`` vs the sharded Dask build (same store)."""
    from litmine.ingest import update_vector_index
    from litmine.scale.index import build_sharded
    from litmine.store import Store
    from litmine.vectors.build import load_index

    out: dict[str, Any] = {}
    vectors = np.zeros((0, 0), np.float32)
    for name, runner, workers in RUNS:
        settings = _settings(work / "ner-local", runner, workers)  # the subset's store
        with Store.open(settings, read_only=True) as store:
            n = store.counts().passages
        if runner == "local":
            report, wall, cpu = _timed(partial(update_vector_index, settings, rebuild=True))
            index = load_index(settings)
            flat: Any = index.faiss_index  # IDMap2 over Flat: the vectors in id-map order
            vectors = flat.index.reconstruct_n(0, index.ntotal)
        else:
            report, wall, cpu = _timed(partial(build_sharded, settings, shards=4 * (workers or 1)))
        out[name] = {
            "passages": n, "factory": report.factory, "shards": report.shards,
            "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
            "passages_per_s": round(n / wall, 1),
        }  # fmt: skip
    out["staging_npy_bytes_per_passage"] = 4 * int(vectors.shape[1]) + 8  # float32 row + id
    return out, vectors


def bench_factories(vectors: np.ndarray, work: Path) -> dict[str, Any]:
    """Bytes per vector and recall@10 vs exact search, per factory, on the same vectors."""
    from litmine.config import IndexSettings
    from litmine.vectors.factory import ivf_nlist
    from litmine.vectors.faiss_index import PassageIndex

    # The large file repeats a few hundred template articles, so many vectors tie:
    # a result counts as a true neighbour when its exact score reaches the exact
    # 10th-best score (tie-aware recall@10).
    rng = np.random.default_rng(0)
    order = rng.permutation(len(vectors))
    queries, base = vectors[order[:200]], vectors[order[200:]]
    ids = np.arange(len(base), dtype=np.int64)
    exact_scores = queries @ base.T
    tenth = np.sort(exact_scores, axis=1)[:, -10]
    nlist = ivf_nlist(len(base))
    m = vectors.shape[1] // 8  # 8 dimensions per PQ byte
    factories = {
        "Flat": "IDMap2,Flat",
        "IVF,Flat": f"IVF{nlist},Flat",
        "IVF,SQ8": f"IVF{nlist},SQ8",
        "IVF,PQ+Refine": f"IVF{nlist},PQ{m},RFlat",
        "IVF,PQ (no refine)": f"IVF{nlist},PQ{m}",
    }
    settings = IndexSettings(nprobe=max(1, nlist // 4))
    out: dict[str, Any] = {
        "vectors": len(base),
        "queries": len(queries),
        "nprobe": settings.nprobe,
        "refine_k_factor": settings.refine_k_factor,
        "factories": {},
    }
    for label, factory in factories.items():
        index = PassageIndex(vectors.shape[1], model="bench", settings=settings)
        index.build(ids, base, factory=factory)
        folder = work / "factories" / label.replace(",", "_").replace(" ", "")
        found = index.search(queries, 10)[1]
        found_scores = np.take_along_axis(exact_scores, np.maximum(found, 0), axis=1)
        recall = float(((found >= 0) & (found_scores >= tenth[:, None] - 1e-5)).mean())
        index.save(folder)
        size = sum(p.stat().st_size for p in folder.glob("index-*.faiss"))
        # Marginal bytes per vector (codes + id), without the fixed quantizer/codebooks:
        # the size again with half the vectors, on the same training.
        half = len(base) // 2
        index.remove(ids[half:])
        index.save(folder)
        half_size = sum(p.stat().st_size for p in folder.glob("index-*.faiss"))
        marginal = (size - half_size) / (len(base) - half)
        out["factories"][label] = {
            "factory": factory, "bytes_per_vector": round(size / len(base), 1),
            "marginal_bytes_per_vector": round(marginal, 1),
            "recall_at_10": round(recall, 4),
        }  # fmt: skip
    return out


def _warm_prefect() -> None:
    from prefect import flow

    @flow(name="bench-warm-up")
    def warm() -> int:
        return 1

    warm()


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark and write the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--ner-records", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    work = Path(tempfile.mkdtemp(prefix="litmine-scale-"))
    try:
        per = args.records // args.files
        files = [
            make_large_file(work / f"part-{i:02d}.xml.gz", per, first_pmid=90_000_000 + i * per)
            for i in range(args.files)
        ]
        subset = make_large_file(work / "subset.xml.gz", args.ner_records, first_pmid=80_000_000)
        _warm_prefect()
        partial_out = args.out.with_suffix(".partial.json")
        partial_out.parent.mkdir(parents=True, exist_ok=True)
        ingest_res = bench_ingest(files, work, per * args.files)
        partial_out.write_text(json.dumps({"ingest": ingest_res}, indent=2))
        ner_res = bench_ner(subset, work)
        partial_out.write_text(json.dumps({"ingest": ingest_res, "ner": ner_res}, indent=2))
        embed_res, vectors = bench_embed(work)
        np.save(work.parent / "litmine-scale-vectors.npy", vectors)
        factories = bench_factories(vectors, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    local_ingest = ingest_res["local"]
    report: dict[str, Any] = {
        "benchmark": "scale",
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "note": "2 cores shared with other sessions; no GPU measured",
        },
        "input": {
            "records": per * args.files,
            "files": args.files,
            "ner_and_embedding_subset_records": args.ner_records,
            "subset_note": "NER and embedding ran on a subset: the full 20,000 records "
            "would take far over 15 minutes on 2 shared cores",
        },
        "ingest": ingest_res,
        "ner": ner_res,
        "embedding": embed_res,
        "index_factories": factories,
    }
    ratios: dict[str, Any] = {}
    for stage, key in (("ingest", "records_per_s"), ("ner", "abstracts_per_s"),
                       ("embedding", "passages_per_s")):  # fmt: skip
        rows = report[stage]
        ratios[stage] = {
            "dask_1_vs_local": round(rows["dask_1"][key] / rows["local"][key], 3),
            "dask_2_vs_dask_1": round(rows["dask_2"][key] / rows["dask_1"][key], 3),
            "dask_2_vs_local": round(rows["dask_2"][key] / rows["local"][key], 3),
        }
    report["ratios"] = ratios
    ner_local, emb_local = ner_res["local"], embed_res["local"]
    dask_2 = (ingest_res["dask_2"], ner_res["dask_2"])
    report["per_record_costs"] = {
        "parse_store_wall_s_per_record_local": round(1 / local_ingest["records_per_s"], 6),
        "parse_store_cpu_s_per_record_local": round(
            local_ingest["cpu_s"] / local_ingest["records"], 6
        ),
        "ner_cpu_s_per_abstract_local": round(ner_local["cpu_s"] / ner_local["abstracts"], 5),
        "ner_wall_s_per_abstract_local": round(ner_local["wall_s"] / ner_local["abstracts"], 5),
        "embed_cpu_s_per_passage_local": round(emb_local["cpu_s"] / emb_local["passages"], 5),
        "embed_wall_s_per_passage_local": round(emb_local["wall_s"] / emb_local["passages"], 5),
        "passages_per_record": round(emb_local["passages"] / args.ner_records, 3),
        "store_bytes_per_record": local_ingest["store_bytes_per_record"],
        "staging_ingest_peak_bytes_per_record": dask_2[0]["staging_peak_bytes_per_record"],
        "staging_entities_bytes_per_abstract": dask_2[1]["staging_parquet_bytes_per_abstract"],
        "staging_vectors_bytes_per_passage": embed_res["staging_npy_bytes_per_passage"],
    }  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()

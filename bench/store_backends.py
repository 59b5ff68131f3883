"""Store backends side by side: SQLite vs PostgreSQL, measured in one run.

* **Ingest** of the 20,000-record file (``parse_throughput.make_large_file``)
  with ``litmine ingest --file`` processes: 1 writer (the whole file) and
  2 writers (two concurrent processes, one per half). Records/s over the
  wall time from the first start to the last exit.
* **Size on disk** after the 1-writer ingest: SQLite file + WAL + SHM;
  PostgreSQL ``pg_database_size`` (after a CHECKPOINT).
* **Search latency** over 10,000 real abstracts (the SciFact corpus, then its
  first documents again under new ids to reach 10,000), SciFact training
  claims as questions, through :class:`litmine.search.Searcher`: BM25-only and
  hybrid, p50/p95 per backend. The vector index is built once (on the SQLite
  store) and copied: passage ids are content hashes, equal on both backends,
  and the embedder is not what is compared.
* **Retrieval quality** on SciFact (the ``bench/retrieval_quality.py``
  set-up: 5,183 abstracts, training claims): nDCG@10 etc. of BM25 and hybrid
  on each backend (index built once, as above).

PostgreSQL runs on a throwaway server this script starts and stops
(``tests/pg_server.py``, the test suite's own: fsync off, loopback, a
password-authenticated role). Ratios are PostgreSQL / SQLite.

Usage::

    .venv/bin/python bench/store_backends.py --out bench/results/store_backends.json
    .venv/bin/python bench/store_backends.py --quick          # a smoke run, minutes less
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))  # pg_server: the test suite's throwaway server

from parse_throughput import ENTREZ_DIR, make_large_file  # noqa: E402
from pg_server import PgServer, database_name, running_server  # noqa: E402
from report import emit_report  # noqa: E402
from scifact_beir import DEFAULT_SRC, convert  # noqa: E402

DEFAULT_OUT = ROOT / "bench" / "results" / "store_backends.json"
CLI = [sys.executable, "-c", "from litmine.cli.root import main; main()"]
BACKENDS = ("sqlite", "postgresql")


# ---------------------------------------------------------------------------
# Stores
# ---------------------------------------------------------------------------


def litmine_env(data_dir: Path, url: str | None, embed_backend: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LITMINE_")}
    env.update(
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        LITMINE_DATA_DIR=str(data_dir),
        LITMINE_EMBED_BACKEND=embed_backend,
    )
    if url:
        env["LITMINE_STORE_URL"] = url
    return env


class Stores:
    """Fresh stores of either backend: a data dir, plus a migrated database for PostgreSQL."""

    def __init__(self, work: Path, server: PgServer, embed_backend: str) -> None:
        self.work = work
        self.server = server
        self.embed_backend = embed_backend
        self.template: str | None = None
        self._n = 0

    def _migrated_template(self) -> str:
        if self.template is None:
            url = self.server.create_database("bench_template")
            run(["db", "migrate"], litmine_env(self.work / "migrate", url, self.embed_backend))
            self.template = "bench_template"
        return self.template

    def new(self, backend: str, name: str) -> tuple[Path, str | None]:
        """A fresh (data dir, store URL) pair; the URL is None for SQLite."""
        self._n += 1
        data = self.work / f"{name}-{backend}-{self._n}"
        data.mkdir(parents=True)
        if backend == "sqlite":
            return data, None
        url = self.server.create_database(
            f"{name}_{self._n}".replace("-", "_"), template=self._migrated_template()
        )
        return data, url

    def env(self, data: Path, url: str | None) -> dict[str, str]:
        return litmine_env(data, url, self.embed_backend)

    def size(self, data: Path, url: str | None) -> dict[str, int]:
        if url is None:
            files = {p.name: p.stat().st_size for p in data.glob("litmine.db*")}
            return {"bytes": sum(files.values()), **{f"file:{k}": v for k, v in files.items()}}
        with self.server.admin() as conn:
            conn.execute("CHECKPOINT")
        return {"bytes": self.server.database_size(database_name(url))}


def run(args: list[str], env: dict[str, str]) -> str:
    proc = subprocess.run([*CLI, *args], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"litmine {' '.join(args)} failed: {proc.stdout}{proc.stderr}")
    return proc.stdout


def settings_for(data: Path, url: str | None, embed_backend: str, **sections: Any) -> Any:
    from litmine.config import load_settings

    store = {"url": url} if url else None
    return load_settings(data_dir=data, store=store, embed={"backend": embed_backend}, **sections)


# ---------------------------------------------------------------------------
# Ingest
# ---------------------------------------------------------------------------


def concurrent_ingest(files: list[Path], env: dict[str, str]) -> dict[str, Any]:
    """One ``litmine ingest --file`` process per file, all at once; the wall time of the lot."""
    t0 = time.perf_counter()
    procs = [
        subprocess.Popen(
            [*CLI, "ingest", "--file", str(f), "--json"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for f in files
    ]
    outs = [p.communicate() for p in procs]
    wall = time.perf_counter() - t0
    reports: list[Any] = []
    for (out, err), p in zip(outs, procs, strict=True):
        try:
            reports.append(json.loads(out) if p.returncode == 0 else err.strip()[-500:])
        except json.JSONDecodeError:
            reports.append(out.strip()[-500:])
    return {"seconds": round(wall, 2), "rcs": [p.returncode for p in procs], "reports": reports}


def stored_articles(settings: Any) -> int:
    from litmine.store import open_store

    with open_store(settings, read_only=True) as store:
        return int(store.counts().articles)


def bench_ingest(stores: Stores, work: Path, records: int) -> dict[str, Any]:
    whole = make_large_file(work / "large.xml.gz", records, source_dir=ENTREZ_DIR)
    half = records // 2
    halves = [
        make_large_file(work / "half1.xml.gz", half, source_dir=ENTREZ_DIR),
        make_large_file(
            work / "half2.xml.gz",
            records - half,
            source_dir=ENTREZ_DIR,
            first_pmid=90_000_000 + half,
        ),
    ]
    out: dict[str, Any] = {"records": records}
    for backend in BACKENDS:
        entry: dict[str, Any] = {}
        for writers, files in ((1, [whole]), (2, halves)):
            data, url = stores.new(backend, f"ingest{writers}")
            r = concurrent_ingest(files, stores.env(data, url))
            r["articles"] = stored_articles(settings_for(data, url, stores.embed_backend))
            r["records_per_s"] = (
                round(records / r["seconds"], 1) if all(rc == 0 for rc in r["rcs"]) else None
            )
            if writers == 1:
                entry["size"] = stores.size(data, url)
            entry[f"writers_{writers}"] = r
        out[backend] = entry
    out["ratios_pg_over_sqlite"] = {
        f"writers_{w}_records_per_s": _ratio(
            out["postgresql"][f"writers_{w}"]["records_per_s"],
            out["sqlite"][f"writers_{w}"]["records_per_s"],
        )
        for w in (1, 2)
    } | {"size_bytes": _ratio(out["postgresql"]["size"]["bytes"], out["sqlite"]["size"]["bytes"])}
    return out


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a and b else None


# ---------------------------------------------------------------------------
# Search
# ---------------------------------------------------------------------------


def corpus_of(beir: Path, n: int, out: Path) -> Path:
    """``n`` BEIR documents: the corpus, then its first documents again under new ids."""
    lines = (beir / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines]
    extra = []
    for i in range(max(0, n - len(rows))):
        doc = dict(rows[i % len(rows)])
        doc["_id"] = str(900_000_000 + i)
        extra.append(doc)
    out.write_text(
        "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in (rows + extra)[:n]),
        encoding="utf-8",
    )
    return out


def questions(beir: Path, n: int) -> list[str]:
    lines = (beir / "queries.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["text"] for line in lines[:n]]


@contextmanager
def ingested(
    stores: Stores, corpus: Path, name: str, *, build: bool
) -> Iterator[dict[str, tuple[Path, str | None]]]:
    """The corpus in a fresh store of each backend, with the vector index of the SQLite one."""
    from litmine.store import open_store
    from litmine.vectors.build import build_index, index_path
    from litmine.vectors.embed import load_embedder

    made: dict[str, tuple[Path, str | None]] = {}
    for backend in BACKENDS:
        data, url = stores.new(backend, name)
        run(["ingest", "--file", str(corpus)], stores.env(data, url))
        made[backend] = (data, url)
    if build:
        data, url = made["sqlite"]
        settings = settings_for(data, url, stores.embed_backend)
        with open_store(settings) as store:
            build_index(store, load_embedder(settings.embed), settings)
        source = index_path(settings)
        for backend in BACKENDS[1:]:
            other = settings_for(*made[backend], stores.embed_backend)
            target = index_path(other)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copytree(source, target)
    yield made


def latencies(fn: Callable[[str], Any], qs: list[str], warmup: int = 5) -> dict[str, float]:
    for q in qs[:warmup]:
        fn(q)
    times = []
    for q in qs:
        t0 = time.perf_counter()
        fn(q)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return {
        "n": len(times),
        "p50_ms": round(statistics.median(times), 2),
        "p95_ms": round(times[min(len(times) - 1, int(0.95 * len(times)))], 2),
        "mean_ms": round(statistics.fmean(times), 2),
    }


def bench_search(
    stores: Stores, work: Path, beir: Path, docs: int, n_queries: int, hybrid: bool
) -> dict[str, Any]:
    from litmine.search import Searcher

    corpus = corpus_of(beir, docs, work / f"corpus{docs}.jsonl")
    qs = questions(beir, n_queries)
    out: dict[str, Any] = {"articles": docs, "queries": len(qs)}
    modes = ["bm25", "hybrid"] if hybrid else ["bm25"]
    with ingested(stores, corpus, "search", build=hybrid) as made:
        for backend, (data, url) in made.items():
            entry: dict[str, Any] = {}
            settings = settings_for(data, url, stores.embed_backend)
            with Searcher(settings) as searcher:
                entry["passages"] = int(searcher.store.counts().passages)
                for mode in modes:
                    entry[mode] = latencies(lambda q, m=mode: searcher.search(q, mode=m, k=10), qs)
            out[backend] = entry
    out["ratios_pg_over_sqlite"] = {
        f"{mode}_{p}": _ratio(out["postgresql"][mode][p], out["sqlite"][mode][p])
        for mode in modes
        for p in ("p50_ms", "p95_ms")
    }
    return out


# ---------------------------------------------------------------------------
# Retrieval quality
# ---------------------------------------------------------------------------


def bench_quality(stores: Stores, beir: Path) -> dict[str, Any]:
    from litmine.search.evaluate import evaluate_retrieval
    from litmine.store import open_store
    from litmine.vectors.build import load_index
    from litmine.vectors.embed import load_embedder

    out: dict[str, Any] = {}
    with ingested(stores, beir / "corpus.jsonl", "quality", build=True) as made:
        for backend, (data, url) in made.items():
            settings = settings_for(data, url, stores.embed_backend)
            embedder = load_embedder(settings.embed)
            index = load_index(settings, embedder=embedder)
            with open_store(settings, read_only=True) as store:
                entry: dict[str, Any] = {"search_settings": settings.search.model_dump()}
                for mode in ("bm25", "hybrid"):
                    t0 = time.perf_counter()
                    metrics = evaluate_retrieval(
                        beir / "queries.jsonl",
                        beir / "qrels.tsv",
                        store=store,
                        index=index,
                        embedder=embedder,
                        settings=settings,
                        modes=[mode],
                    )[mode]
                    entry[mode] = {k: round(v, 4) for k, v in metrics.items()} | {
                        "seconds": round(time.perf_counter() - t0, 2)
                    }
            out[backend] = entry
    out["ndcg10_pg_minus_sqlite"] = {
        mode: round(out["postgresql"][mode]["ndcg@10"] - out["sqlite"][mode]["ndcg@10"], 4)
        for mode in ("bm25", "hybrid")
        if "ndcg@10" in out["sqlite"][mode]
    }
    return out


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000, help="ingest file size")
    parser.add_argument("--search-docs", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=200, help="questions timed per mode")
    parser.add_argument("--embed-backend", default="onnx-int8", help="embed.backend")
    parser.add_argument("--max-docs", type=int, default=None, help="SciFact corpus cap")
    parser.add_argument("--skip", nargs="*", default=[], choices=["ingest", "search", "quality"])
    parser.add_argument("--no-hybrid", action="store_true", help="search: BM25 only")
    parser.add_argument("--quick", action="store_true", help="2,000 records, 1,000 docs")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    if args.quick:
        args.records, args.search_docs, args.queries = 2_000, 1_000, 50
        args.max_docs = args.max_docs or 1_000

    result: dict[str, Any] = {
        "bench": "store_backends",
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
    }
    t_all = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="litmine-backends-") as tmp,
        running_server() as server,
    ):
        work = Path(tmp)
        with server.admin() as conn:
            result["machine"]["postgresql"] = conn.execute("SHOW server_version").fetchone()[0]
        stores = Stores(work, server, args.embed_backend)
        if "ingest" not in args.skip:
            result["ingest"] = bench_ingest(stores, work, args.records)
            emit_report(result, args.out)
        beir = work / "beir"
        result["scifact"] = convert(DEFAULT_SRC, beir, max_docs=args.max_docs)
        if "search" not in args.skip:
            result["search"] = bench_search(
                stores, work, beir, args.search_docs, args.queries, not args.no_hybrid
            )
            emit_report(result, args.out)
        if "quality" not in args.skip:
            result["quality"] = bench_quality(stores, beir)
    result["seconds"] = round(time.perf_counter() - t_all, 1)
    emit_report(result, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

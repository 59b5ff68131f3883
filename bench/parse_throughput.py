"""Parse throughput: litmine vs pubmed_parser vs Bio.Entrez on one large file.

The test file is generated at run time (never committed): the PubMed articles
of ``../shared/data/entrez/pubmed*.xml`` are replicated with fresh PMIDs into a
gzipped ``PubmedArticleSet`` of ``--records`` articles in a temporary folder.
Each timed run happens in a fresh subprocess, so that peak RSS (``ru_maxrss``)
belongs to that reader alone. The readers take turns, one run each per round
for ``--repeat`` rounds, so a drift in the machine's speed reaches all of them;
the best run counts, and ``target.paired_wall_ratios`` gives litmine_ingest's
ratio to pubmed_parser within each round. Results go to stdout and to
``--out`` as JSON.

``litmine_ingest`` is the user path (``litmine ingest --file``): it parses in
worker processes while the measured process writes the database, so its CPU
time includes the workers' (reaped by this process or by multiprocessing's
fork server; read from ``/proc`` on Linux) and its report gives the workers'
peak RSS too (sampled ``VmHWM``). The goal of the benchmark is ``target`` in
the JSON: litmine_ingest at 3x pubmed_parser's wall-clock records/s, in the
same run.

``--baseline-tree PATH`` adds ``litmine_ingest_baseline``: the same ingest run
from another checkout of litmine (e.g. ``git worktree add /tmp/base <commit>``,
with its compiled extensions built or copied in), interleaved with the others
in every round, so a change to ingest is judged against its parent in one run
(``ab`` in the JSON gives both ratios to pubmed_parser, round by round).

Reusable pieces for further measurements (e.g. parse + store):

* :func:`make_large_file` builds the input file;
* :func:`time_it` times a callable returning a record count;
* :data:`RUNNERS` maps a measurement name to ``fn(path) -> records``; add an
  entry (or call :func:`measure` with your own runner) and it gets the same
  subprocess isolation, RSS and JSON treatment.

Usage::

    .venv/bin/python bench/parse_throughput.py --records 20000 --repeat 3
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ENTREZ_DIR = ROOT.parent / "shared" / "data" / "entrez"
DEFAULT_OUT = ROOT / "bench" / "results" / "parse_throughput.json"
HEADER = (
    b'<?xml version="1.0" ?>\n'
    b'<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2025//EN" '
    b'"https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">\n'
    b"<PubmedArticleSet>\n"
)
FOOTER = b"</PubmedArticleSet>\n"
PMID_MARK = b"__LITMINE_BENCH_PMID__"


# ---------------------------------------------------------------------------
# Input file
# ---------------------------------------------------------------------------


def article_templates(source_dir: Path = ENTREZ_DIR) -> list[bytes]:
    """Serialised PubmedArticle elements of the sample files, PMIDs replaced by a mark.

    The citation PMID and the PubmedData ``ArticleId IdType="pubmed"`` are
    replaced, so every copy is a distinct, self-consistent record.
    """
    from lxml import etree

    files = sorted(source_dir.glob("pubmed*.xml"))
    if not files:
        raise FileNotFoundError(f"no pubmed*.xml under {source_dir}")
    parser = etree.XMLParser(load_dtd=False, no_network=True, resolve_entities=False)
    templates: list[bytes] = []
    for file in files:
        tree = etree.parse(str(file), parser)
        for art in tree.getroot().iterchildren("PubmedArticle"):
            pmid = art.find("MedlineCitation/PMID")
            if pmid is None:
                continue
            pmid.text = PMID_MARK.decode()
            for aid in art.iterfind("PubmedData/ArticleIdList/ArticleId"):
                if aid.get("IdType") == "pubmed":
                    aid.text = PMID_MARK.decode()
            art.tail = "\n"
            templates.append(etree.tostring(art, encoding="utf-8"))
    return templates


def make_large_file(
    path: Path, n: int, *, source_dir: Path = ENTREZ_DIR, first_pmid: int = 90_000_000
) -> Path:
    """Write a PubmedArticleSet of ``n`` articles with fresh PMIDs.

    Args:
        path: Output file; gzipped (level 1) when it ends with ``.gz``.
        n: Number of articles.
        source_dir: Folder holding the ``pubmed*.xml`` samples.
        first_pmid: PMID of the first copy; the others follow consecutively.

    Returns:
        ``path``.
    """
    templates = article_templates(source_dir)
    opener: Callable[[], Any]
    if str(path).endswith(".gz"):

        def opener() -> Any:
            return gzip.open(path, "wb", compresslevel=1)

    else:

        def opener() -> Any:
            return open(path, "wb")

    with opener() as out:
        out.write(HEADER)
        for i in range(n):
            template = templates[i % len(templates)]
            out.write(template.replace(PMID_MARK, str(first_pmid + i).encode()))
        out.write(FOOTER)
    return path


# ---------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------


@dataclass
class Timing:
    """Best-of-N timing of one measurement: wall clock and CPU time.

    On a shared machine wall time swings with the neighbours' load; CPU time
    (this process's, plus that of child processes it waited for, e.g. parse
    workers) is the steadier figure for comparing readers.
    """

    records: int
    wall_s: list[float] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)
    children_cpu_s: list[float] = field(default_factory=list)

    @property
    def best_wall_s(self) -> float:
        return min(self.wall_s)

    @property
    def best_cpu_s(self) -> float:
        return min(self.cpu_s)

    @property
    def records_per_s(self) -> float:
        return self.records / self.best_wall_s if self.best_wall_s > 0 else float("inf")

    @property
    def records_per_cpu_s(self) -> float:
        return self.records / self.best_cpu_s if self.best_cpu_s > 0 else float("inf")

    def as_dict(self) -> dict[str, Any]:
        out = {
            "records": self.records,
            "best_wall_s": round(self.best_wall_s, 3),
            "best_cpu_s": round(self.best_cpu_s, 3),
            "wall_s": [round(t, 3) for t in self.wall_s],
            "cpu_s": [round(t, 3) for t in self.cpu_s],
            "records_per_s": round(self.records_per_s, 1),
            "records_per_cpu_s": round(self.records_per_cpu_s, 1),
        }
        if any(self.children_cpu_s):
            # Of cpu_s, what the parse workers used (the rest is the writer's).
            out["children_cpu_s"] = [round(t, 3) for t in self.children_cpu_s]
        return out


def _children_cpu_s() -> float:
    """CPU time of this process's child processes, the workers included.

    ``RUSAGE_CHILDREN`` counts the children this process has reaped. Parse
    workers forked by multiprocessing's fork server are its children, not
    ours: their time reaches the server (still running) when it reaps them,
    so the live children's own and reaped-children times are added (Linux).
    """
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime + sum(_proc_cpu_s(pid) for pid in _children())


def _children(pid: int | str = "self") -> list[int]:
    """Live child processes of ``pid`` (Linux; none elsewhere)."""
    found: list[int] = []
    tasks = Path(f"/proc/{pid}/task")
    if not tasks.is_dir():
        return found
    for task in tasks.iterdir():
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def _descendants() -> list[int]:
    found, todo = [], _children()
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += _children(pid)
    return found


def _proc_cpu_s(pid: int) -> float:
    """A live process's CPU time plus that of the children it has reaped."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:  # gone meanwhile
        return 0.0
    # fields[11:15]: utime, stime, cutime, cstime (stat fields 14-17), in clock ticks
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


class _PeakRssWatch:
    """Samples the peak RSS (``VmHWM``) of every descendant process from a thread.

    ``RUSAGE_CHILDREN`` reports only children this process reaped; workers
    forked by a fork server are not among them. ``VmHWM`` is a high-water
    mark, so sampling each worker once before it exits is enough.
    """

    def __init__(self, every_s: float = 0.1) -> None:
        import threading

        self.peak_kib = 0
        self._every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> _PeakRssWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._every_s):
            for pid in _descendants():
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                except OSError:
                    continue
                for line in status.splitlines():
                    if line.startswith("VmHWM:"):
                        self.peak_kib = max(self.peak_kib, int(line.split()[1]))


def time_it(fn: Callable[[], int], *, repeat: int = 3) -> Timing:
    """Run ``fn`` ``repeat`` times; it returns the number of records it handled."""
    timing = Timing(records=0)
    for _ in range(max(1, repeat)):
        wall, own, children = time.perf_counter(), time.process_time(), _children_cpu_s()
        timing.records = fn()
        timing.wall_s.append(time.perf_counter() - wall)
        timing.children_cpu_s.append(_children_cpu_s() - children)
        timing.cpu_s.append(time.process_time() - own + timing.children_cpu_s[-1])
    return timing


# ---------------------------------------------------------------------------
# Runners: fn(path) -> number of records
# ---------------------------------------------------------------------------


def run_litmine(path: Path) -> int:
    """litmine's streaming reader (parse only, no store)."""
    from litmine.parse.pubmed_xml import iter_pubmed_xml
    from litmine.types import Article

    count = 0
    for record in iter_pubmed_xml(path):
        if isinstance(record, Article):
            count += 1
    return count


def run_pubmed_parser(path: Path) -> int:
    """pubmed_parser.parse_medline_xml with its defaults (needs a .gz file)."""
    import pubmed_parser

    count = 0
    for _record in pubmed_parser.parse_medline_xml(str(path)):
        count += 1
    return count


def run_bio_entrez(path: Path) -> int:
    """Bio.Entrez.read: the whole file into Python objects at once."""
    from Bio import Entrez

    with gzip.open(path, "rb") if str(path).endswith(".gz") else open(path, "rb") as handle:
        result = Entrez.read(handle)
    return len(result["PubmedArticle"])


def run_litmine_store(path: Path) -> int:
    """Parse and store articles (side tables, JSON record, FTS5), passages deferred."""
    from litmine.parse.pubmed_xml import iter_pubmed_xml
    from litmine.store import Store
    from litmine.types import Article

    with (
        tempfile.TemporaryDirectory(prefix="litmine-store-") as tmp,
        Store(Path(tmp) / "litmine.db") as store,
    ):
        batch: list[Article] = []
        count = 0
        for record in iter_pubmed_xml(path):
            if isinstance(record, Article):
                batch.append(record)
                if len(batch) >= 500:
                    count += store.upsert_articles(batch).total
                    batch.clear()
        count += store.upsert_articles(batch).total
        return count


def run_litmine_ingest(path: Path) -> int:
    """The full ``litmine ingest --file`` path: parse (worker processes), store, passages."""
    from litmine.config import load_settings
    from litmine.ingest import ingest_files

    with tempfile.TemporaryDirectory(prefix="litmine-ingest-") as tmp:
        report = ingest_files([path], load_settings(data_dir=Path(tmp)))
        return report.new + report.updated + report.unchanged


def run_litmine_ingest_baseline(path: Path) -> int:
    """``litmine_ingest`` from the ``--baseline-tree`` checkout (through its old import path)."""
    from litmine.config import load_settings
    from litmine.pipeline import ingest_files

    with tempfile.TemporaryDirectory(prefix="litmine-ingest-") as tmp:
        report = ingest_files([path], load_settings(data_dir=Path(tmp)))
        return report.new + report.updated + report.unchanged


def run_litmine_ingest_inprocess(path: Path) -> int:
    """``litmine_ingest`` with no worker processes (``workers=0``), for comparison."""
    from litmine.config import load_settings
    from litmine.ingest import ingest_files

    with tempfile.TemporaryDirectory(prefix="litmine-ingest-") as tmp:
        report = ingest_files([path], load_settings(data_dir=Path(tmp)), workers=0)
        return report.new + report.updated + report.unchanged


RUNNERS: dict[str, Callable[[Path], int]] = {
    "litmine": run_litmine,
    "litmine_store": run_litmine_store,
    "litmine_ingest": run_litmine_ingest,
    "litmine_ingest_inprocess": run_litmine_ingest_inprocess,
    "litmine_ingest_pure_xml": run_litmine_ingest,
    "litmine_ingest_baseline": run_litmine_ingest_baseline,
    "pubmed_parser": run_pubmed_parser,
    "bio_entrez": run_bio_entrez,
}
"""Measurement name -> ``fn(path) -> records``; add e.g. ``"litmine_store"`` here."""

_INGEST_MODULES = (
    "litmine.config",
    "litmine.ingest",
    "litmine.parse",
    "litmine.store",
    "litmine.passages",
)

PRELOAD: dict[str, tuple[str, ...]] = {
    "litmine": ("litmine.parse.pubmed_xml",),
    "litmine_store": ("litmine.parse.pubmed_xml", "litmine.store"),
    "litmine_ingest": _INGEST_MODULES,
    "litmine_ingest_inprocess": _INGEST_MODULES,
    "litmine_ingest_pure_xml": _INGEST_MODULES,
    "litmine_ingest_baseline": (
        "litmine.config",
        "litmine.pipeline",
        "litmine.parse",
        "litmine.store",
        "litmine.passages",
    ),
    "pubmed_parser": ("pubmed_parser",),
    "bio_entrez": ("Bio.Entrez",),
}
"""Modules imported before the baseline RSS is taken, so imports do not count."""

ENVIRONMENT: dict[str, dict[str, str]] = {
    # litmine_ingest with the compiled XML extractor switched off (the passage
    # splitting stays compiled): what a machine without a C compiler gets, nearly.
    "litmine_ingest_pure_xml": {"LITMINE_PURE_PYTHON_XML": "1"},
}
"""Extra environment variables of a runner's subprocess."""

GOAL_RATIO = 3.0
"""litmine_ingest must reach this multiple of pubmed_parser's wall-clock records/s."""

MAX_REPEAT: dict[str, int] = {"bio_entrez": 1}
"""Readers too slow/big to repeat by default (override with --repeat-all)."""

BASELINE = "litmine_ingest_baseline"
"""The runner that needs ``--baseline-tree`` (left out without it)."""


def _worker(name: str, path: Path, repeat: int, trace: bool) -> dict[str, Any]:
    """Run one measurement in this (fresh) process and report it."""
    import importlib

    for module in PRELOAD.get(name, ()):
        importlib.import_module(module)
    runner = RUNNERS[name]
    rss_before_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with _PeakRssWatch() as watch:
        timing = time_it(lambda: runner(path), repeat=repeat)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result: dict[str, Any] = {"name": name, **timing.as_dict()}
    if name.startswith("litmine"):
        import litmine

        result["litmine_from"] = str(Path(litmine.__file__).parent.parent)
    result["peak_rss_mib"] = round(peak_mib, 1)
    result["rss_after_imports_mib"] = round(rss_before_mib, 1)
    result["peak_rss_growth_mib"] = round(peak_mib - rss_before_mib, 1)
    children_mib = (
        max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, watch.peak_kib) / 1024
    )
    if children_mib:
        # Largest child process (each parse worker streams its own chunks).
        result["peak_rss_children_mib"] = round(children_mib, 1)
    if trace:
        tracemalloc.start()
        runner(path)
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        result["tracemalloc_peak_mib"] = round(peak / 2**20, 1)
    return result


def measure(
    name: str,
    path: Path,
    *,
    repeat: int = 3,
    trace: bool = False,
    baseline_tree: Path | None = None,
) -> dict[str, Any]:
    """Run the runner ``name`` in a fresh subprocess and return its report.

    ``baseline_tree`` is the checkout :data:`BASELINE` imports litmine from.
    """
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", name, "--file", str(path)]
    cmd += ["--repeat", str(repeat)] + (["--tracemalloc"] if trace else [])
    tree = baseline_tree if name == BASELINE else ROOT
    if tree is None:
        return {"name": name, "error": "give --baseline-tree"}
    env = dict(os.environ, PYTHONPATH=str(tree) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.update(ENVIRONMENT.get(name, {}))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        return {"name": name, "error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _merge_rounds(name: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One report from a runner's single-run reports (one per round)."""
    failed = [r for r in runs if "error" in r]
    if failed or not runs:
        return failed[0] if failed else {"name": name, "error": "not run"}
    timing = Timing(records=runs[0]["records"])
    for r in runs:
        timing.wall_s.extend(r["wall_s"])
        timing.cpu_s.extend(r["cpu_s"])
        timing.children_cpu_s.extend(r.get("children_cpu_s", [0.0]))
    merged: dict[str, Any] = {"name": name, **timing.as_dict()}
    for key in ("peak_rss_mib", "peak_rss_growth_mib", "peak_rss_children_mib"):
        values = [r[key] for r in runs if key in r]
        if values:
            merged[key] = max(values)
    merged["rss_after_imports_mib"] = runs[0]["rss_after_imports_mib"]
    if "litmine_from" in runs[0]:
        merged["litmine_from"] = runs[0]["litmine_from"]
    if "tracemalloc_peak_mib" in runs[0]:
        merged["tracemalloc_peak_mib"] = runs[0]["tracemalloc_peak_mib"]
    return merged


def run_benchmark(
    path: Path,
    repeats: dict[str, int],
    *,
    trace: bool = False,
    baseline_tree: Path | None = None,
) -> dict[str, Any]:
    """Measure each named runner on ``path`` (fresh subprocess each) and compare.

    Args:
        path: The input file (gzipped for pubmed_parser).
        repeats: Runner name -> number of timed runs (best counts).
        trace: Also report a tracemalloc peak per runner (one extra run).
        baseline_tree: Checkout that :data:`BASELINE` runs (see the module doc).

    Returns:
        The JSON-ready report: file facts, machine, per-runner results and
        litmine's speed ratio to every other runner (wall and CPU time).
    """
    # Round robin, one timed run per runner per round, each in a fresh process:
    # this machine's speed drifts over minutes, and interleaving spreads the
    # drift over all runners instead of favouring whichever ran in a fast spell.
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in repeats}
    for r in range(max(repeats.values(), default=0)):
        for name, repeat in repeats.items():
            if r < repeat:
                rounds[name].append(
                    measure(
                        name, path, repeat=1, trace=trace and r == 0, baseline_tree=baseline_tree
                    )
                )
    results = {name: _merge_rounds(name, runs) for name, runs in rounds.items()}
    raw_size = None
    if str(path).endswith(".gz"):
        with gzip.open(path, "rb") as fh:
            raw_size = sum(len(chunk) for chunk in iter(lambda: fh.read(1 << 20), b""))
    ratios: dict[str, float] = {}
    for mine, lit in results.items():
        if not mine.startswith("litmine") or "error" in lit:
            continue
        for name, res in results.items():
            if name.startswith("litmine") or "error" in res:
                continue
            ratios[f"{mine}_vs_{name}_wall"] = round(lit["records_per_s"] / res["records_per_s"], 2)
            ratios[f"{mine}_vs_{name}_cpu"] = round(
                lit["records_per_cpu_s"] / res["records_per_cpu_s"], 2
            )
    target: dict[str, Any] = {
        "runner": "litmine_ingest",
        "baseline": "pubmed_parser",
        "goal_wall_ratio": GOAL_RATIO,
    }
    ratio = ratios.get("litmine_ingest_vs_pubmed_parser_wall")
    if ratio is not None:
        target["wall_ratio"] = ratio
        target["met"] = ratio >= GOAL_RATIO
        mine, base = results["litmine_ingest"]["wall_s"], results["pubmed_parser"]["wall_s"]
        # Ratio within each round (the two ran minutes apart at most).
        paired = [round(b / m, 2) for m, b in zip(mine, base, strict=False) if m > 0]
        target["paired_wall_ratios"] = paired
        target["paired_wall_ratio_median"] = round(statistics.median(paired), 2) if paired else None
    report: dict[str, Any] = {
        "benchmark": "parse_throughput",
        "target": target,
        "file": {"path_name": path.name, "bytes": path.stat().st_size, "xml_bytes": raw_size},
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "loadavg_1m": round(os.getloadavg()[0], 2),
        },
        "litmine_compiled": _compiled_parts(),
        "repeats": repeats,
        "results": results,
        "ratios": ratios,
    }
    if BASELINE in results and baseline_tree is not None:
        report["ab"] = _ab(results, baseline_tree)
    return report


def _ab(results: dict[str, Any], baseline_tree: Path) -> dict[str, Any]:
    """litmine_ingest against the baseline checkout's, round by round, in one run."""
    new, old, base = (results.get(n, {}) for n in ("litmine_ingest", BASELINE, "pubmed_parser"))
    out: dict[str, Any] = {"baseline_tree": str(baseline_tree)}
    if any("error" in r or "wall_s" not in r for r in (new, old, base)):
        return out
    rounds = list(zip(new["wall_s"], old["wall_s"], base["wall_s"], strict=False))
    # Speed ratios (records/s) to pubmed_parser within each round, and new vs old.
    out["new_vs_pubmed_parser"] = [round(b / n, 2) for n, _, b in rounds]
    out["baseline_vs_pubmed_parser"] = [round(b / o, 2) for _, o, b in rounds]
    out["new_vs_baseline"] = [round(o / n, 3) for n, o, _ in rounds]
    out["new_vs_baseline_median"] = round(statistics.median(out["new_vs_baseline"]), 3)
    out["new_vs_baseline_best"] = round(old["best_wall_s"] / new["best_wall_s"], 3)
    out["cpu_new_vs_baseline_best"] = round(old["best_cpu_s"] / new["best_cpu_s"], 3)
    return out


def _compiled_parts() -> dict[str, bool]:
    """Which optional compiled accelerators this litmine runs with."""
    from litmine import passages
    from litmine.parse import pubmed_xml

    return {
        "xml_extractor": pubmed_xml._COMPILED is not None,
        "passage_splitting": passages._compiled_sentences is not None,
    }


def byte_compile(root: Path = ROOT) -> None:
    """Write litmine's cached bytecode, as pip does for an installed package.

    Every timed run starts fresh interpreters (the measured process and its
    parse workers). Without ``__pycache__`` each would compile litmine's
    sources first, which an installed pubmed_parser never pays; sandboxes
    often set ``PYTHONDONTWRITEBYTECODE``, so nothing else writes it.
    """
    import compileall

    compileall.compile_dir(root / "litmine", quiet=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", nargs="*", choices=sorted(RUNNERS), help="runners to measure")
    parser.add_argument("--file", type=Path, help="existing input (default: generate one)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--tracemalloc", action="store_true", help="extra traced run per reader")
    parser.add_argument(
        "--repeat-all", action="store_true", help="also repeat readers listed in MAX_REPEAT"
    )
    parser.add_argument(
        "--baseline-tree",
        type=Path,
        help=f"another litmine checkout: adds {BASELINE}, ingest run from there",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        print(json.dumps(_worker(args.worker, args.file, args.repeat, args.tracemalloc)))
        return 0

    if args.file is None and not ENTREZ_DIR.is_dir():
        print(f"SKIP: shared test data not found at {ENTREZ_DIR} (../shared/data beside the repo)")
        return 0

    names = args.only or [n for n in RUNNERS if n != BASELINE]
    if args.baseline_tree is not None and BASELINE not in names:
        names.append(BASELINE)
    repeats = {
        name: args.repeat
        if args.repeat_all
        else min(args.repeat, MAX_REPEAT.get(name, args.repeat))
        for name in names
    }
    byte_compile()
    if args.baseline_tree is not None:
        byte_compile(args.baseline_tree)
    with tempfile.TemporaryDirectory(prefix="litmine-bench-") as tmp:
        path = args.file
        generated_s = None
        if path is None:
            path = Path(tmp) / f"pubmed_bench_{args.records}.xml.gz"
            start = time.perf_counter()
            make_large_file(path, args.records)
            generated_s = round(time.perf_counter() - start, 2)
        report = run_benchmark(
            path, repeats, trace=args.tracemalloc, baseline_tree=args.baseline_tree
        )
        report["file"]["generated_in_s"] = generated_s
    text = json.dumps(report, indent=2)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

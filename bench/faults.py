"""Faults and load, measured: kill -9 during ingest and index update, concurrent use, web load.

Four scenarios, each run by its flag (``--all`` runs them all), every litmine
step through the real command line in its own process group:

``--kill-ingest``
    One uninterrupted ``litmine ingest --file F`` of a generated
    ``--records``-article PubMed file (see ``parse_throughput.make_large_file``)
    makes the reference. In a second data dir, ``litmine ingest --file F`` is
    SIGKILLed (the whole process group, parse workers included) at a seeded
    random moment, ``--kills`` times in a row (each run resumes the previous
    one), then run once more to completion. The store is then compared with
    the reference through plain ``sqlite3``: article count, each article's
    version and content hash, each article's passages (ids, offsets, text),
    side-table rows, full-text entries, integrity checks, run statuses.

``--kill-index``
    On a small ingested collection, a first ``litmine index build`` is killed
    (verify must say there is no index), then the index is built, more
    articles are ingested, and ``litmine index update`` is killed
    ``--index-kills`` times; after each kill ``litmine index verify`` must fail
    whenever the saved index (its manifest's vector count) differs from the
    store's passages. One more kill is aimed at the save (the moment the new
    index file appears under its temporary name). A last update must repair
    it: verify passes and no temporary file is left.

``--concurrent``
    ``litmine serve`` on 127.0.0.1 answers a fixed sequence of ``/api/search``
    (and ``/api/ask``) requests idle, then again and again while a
    ``litmine index update`` and a ``litmine ingest --file`` write to its data
    dir, then idle again. Errors and p50/p95 latency, loaded vs idle.

``--load``
    ``--clients`` threads (one ``httpx.Client`` each) request ``/``,
    ``/api/search`` and ``/api/ask`` in turn for ``--duration`` seconds
    (each loop is also capped at ``--max-requests-per-client``), ``--rounds``
    such windows back to back on one server. Requests/s, p50/p95 per
    endpoint, errors, server RSS before/after each window (psutil): growth
    that repeats every window would be a leak, a first-window step is warm-up.

``--kill-ingest --kill-mode progress`` kills each run once the store holds
more than a rising threshold of articles, so that every kill interrupts
writing (in ``time`` mode, the default, later kills often find the store
complete); pass ``--commit-every 500`` so that 20 kills fit in 20,000 records.
``--tag NAME`` stores a variant under ``<scenario>_NAME``.

All traffic goes to 127.0.0.1 only (``trust_env=False``: no proxy). Results are
merged, per scenario, into ``--out`` (default ``bench/results/faults.json``)
and a summary is printed.

Usage::

    .venv/bin/python bench/faults.py --all --work /tmp/litmine-faults
    .venv/bin/python bench/faults.py --kill-ingest --records 20000 --kills 20
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import json
import os
import platform
import random
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from parse_throughput import ENTREZ_DIR, make_large_file

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
DEFAULT_OUT = ROOT / "bench" / "results" / "faults.json"
HOST = "127.0.0.1"
"""The only host any request of this script goes to."""


# ---------------------------------------------------------------------------
# Running litmine
# ---------------------------------------------------------------------------


def litmine_command() -> list[str]:
    """The ``litmine`` console script beside this interpreter, else ``python -c``."""
    script = Path(sys.executable).with_name("litmine")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from litmine.cli import main; main()"]


def litmine_env(backend: str | None = None) -> dict[str, str]:
    """Environment of the litmine processes: offline models, no user config or data dir."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    for name in ("LITMINE_CONFIG", "LITMINE_DATA_DIR"):
        env.pop(name, None)
    if backend:
        env["LITMINE_EMBED_BACKEND"] = backend
    return env


@dataclass
class RunResult:
    """One litmine command: exit status, time and output."""

    args: list[str]
    rc: int | None
    seconds: float
    killed: bool = False
    stdout: str = ""
    stderr: str = ""
    started: float = 0.0
    """``time.monotonic()`` at start."""
    survivors: int = 0
    """Processes of the group still alive after the kill (then killed again)."""

    def json(self) -> Any:
        """The command's ``--json`` output, or None."""
        try:
            return json.loads(self.stdout)
        except ValueError:
            return None

    def tail(self, n: int = 300) -> str:
        """The end of stderr (for reports)."""
        return self.stderr.strip()[-n:]


def run_litmine(
    args: Sequence[str],
    *,
    env: dict[str, str],
    cwd: Path,
    timeout: float = 1800,
    on_start: Callable[[int], None] | None = None,
) -> RunResult:
    """Run ``litmine ARGS`` to completion (killed with its group after ``timeout``)."""
    return run_and_kill(args, None, env=env, cwd=cwd, timeout=timeout, on_start=on_start)


def run_and_kill(
    args: Sequence[str],
    kill_after: float | None,
    *,
    env: dict[str, str],
    cwd: Path,
    timeout: float = 1800,
    on_start: Callable[[int], None] | None = None,
    kill_when: Callable[[], bool] | None = None,
    poll: float = 0.05,
) -> RunResult:
    """Run ``litmine ARGS`` in a new process group; SIGKILL the group after ``kill_after`` s.

    Args:
        args: litmine arguments.
        kill_after: Seconds after the start to SIGKILL the whole process group
            (with ``kill_when``: seconds after it first returns True); None
            lets it finish.
        env: Environment.
        cwd: Working directory.
        timeout: Hard limit: the group is killed then anyway (``rc`` None).
        on_start: Called with the process id once it started.
        kill_when: Polled every ``poll`` s; the kill clock starts when it is True.
        poll: Seconds between two calls of ``kill_when``.

    Returns:
        The result; ``killed`` is True when this function killed the process
        before it ended by itself.
    """
    cmd = [*litmine_command(), *args]
    started = time.monotonic()
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        subprocess.Popen(
            cmd, stdout=out, stderr=err, env=env, cwd=cwd, start_new_session=True
        ) as proc,
    ):
        if on_start is not None:
            on_start(proc.pid)
        hard_deadline = started + timeout
        kill_at = None
        if kill_after is not None and kill_when is None:
            kill_at = started + kill_after
        killed = False
        survivors: list[int] = []
        rc: int | None = None
        while True:
            now = time.monotonic()
            if kill_at is None and kill_when is not None and kill_after is not None and kill_when():
                kill_at = now + kill_after
            until = min(hard_deadline, kill_at if kill_at is not None else hard_deadline)
            try:
                step = poll if kill_when is not None and kill_at is None else until - now
                rc = proc.wait(timeout=max(step, 0.0))
                break
            except subprocess.TimeoutExpired:
                if time.monotonic() < until:
                    continue
            kill_group(proc.pid)
            proc.wait()
            killed = True
            # A hard time-out gives no exit status; a planned kill gives -9.
            rc = proc.returncode if kill_at is not None and kill_at <= hard_deadline else None
            survivors = wait_group_gone(proc.pid)
            if survivors:
                kill_group(proc.pid)
            break
        seconds = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        return RunResult(
            list(args),
            rc,
            seconds,
            killed=killed,
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
            started=started,
            survivors=len(survivors),
        )


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of a process group."""
    pids = []
    for proc in psutil.process_iter(["pid", "status"]):
        with contextlib.suppress(psutil.Error, OSError):
            if proc.info["status"] != psutil.STATUS_ZOMBIE and os.getpgid(proc.pid) == pgid:
                pids.append(proc.pid)
    return pids


def kill_group(pgid: int) -> None:
    """SIGKILL every process of the group (the leader's pid is the group id)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def wait_group_gone(pgid: int, timeout: float = 10.0) -> list[int]:
    """Wait until no live process is left in the group; return any survivors."""
    deadline = time.monotonic() + timeout
    while (left := group_members(pgid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


# ---------------------------------------------------------------------------
# Store snapshots, read with plain sqlite3 (independent of litmine's code)
# ---------------------------------------------------------------------------


def snapshot(db: Path) -> dict[str, Any]:
    """Everything a comparison needs from a litmine database.

    Returns:
        ``articles``: pmid -> (version, content_hash); ``passages``: pmid ->
        digest of its passages (id, idx, offsets, section, text) and count;
        totals, duplicate counts, side-table rows, integrity findings and the
        runs' statuses.
    """
    con = sqlite3.connect(db)
    try:
        articles: dict[str, tuple[int, str]] = {}
        for pmid, version, content_hash in con.execute(
            "SELECT pmid, version, content_hash FROM articles"
        ):
            articles[pmid] = (version, content_hash)
        digests: dict[str, Any] = {}
        counts: dict[str, int] = {}
        for pmid, pid, idx, section, start, end, text in con.execute(
            "SELECT pmid, id, idx, section, char_start, char_end, text FROM passages "
            "ORDER BY pmid, idx, id"
        ):
            digest = digests.setdefault(pmid, hashlib.blake2b(digest_size=16))
            digest.update(f"{pid}|{idx}|{section}|{start}|{end}|".encode())
            digest.update(text.encode("utf-8"))
            counts[pmid] = counts.get(pmid, 0) + 1
        passages = {p: (counts[p], d.hexdigest()) for p, d in digests.items()}

        def one(sql: str) -> Any:
            return con.execute(sql).fetchone()[0]

        fts_problems = []
        for table in ("articles_fts", "passages_fts"):
            try:
                con.execute(f"INSERT INTO {table} ({table}) VALUES ('integrity-check')")
            except sqlite3.DatabaseError as exc:
                fts_problems.append(f"{table}: {exc}")
        tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master")}
        return {
            "articles": articles,
            "passages": passages,
            "n_articles": one("SELECT COUNT(*) FROM articles"),
            "n_passages": one("SELECT COUNT(*) FROM passages"),
            "duplicate_pmids": one("SELECT COUNT(*) - COUNT(DISTINCT pmid) FROM articles"),
            "duplicate_passages": one(
                "SELECT COUNT(*) FROM (SELECT pmid, idx FROM passages GROUP BY pmid, idx "
                "HAVING COUNT(*) > 1)"
            ),
            "orphan_passages": one(
                "SELECT COUNT(*) FROM passages WHERE pmid NOT IN (SELECT pmid FROM articles)"
            ),
            "side_rows": {
                t: one(f"SELECT COUNT(*) FROM {t}")
                for t in ("article_pub_types", "article_mesh", "article_chemicals")
            },
            "fts_docs": one("SELECT COUNT(*) FROM articles_fts_docsize")
            if "articles_fts_docsize" in tables
            else None,
            # Passages an index update would not find in the change log.
            "passages_not_logged": one(
                "SELECT COUNT(*) FROM passages WHERE id NOT IN "
                "(SELECT passage_id FROM passage_changes WHERE op = 'add')"
            ),
            "integrity": [row[0] for row in con.execute("PRAGMA integrity_check")],
            "fts_problems": fts_problems,
            "runs": dict(con.execute("SELECT status, COUNT(*) FROM runs GROUP BY status")),
        }
    finally:
        con.close()


def article_count(db: Path) -> int | None:
    """Articles stored so far (None when there is no database yet)."""
    if not db.is_file():
        return None
    con = sqlite3.connect(db)
    try:
        return int(con.execute("SELECT COUNT(*) FROM articles").fetchone()[0])
    except sqlite3.DatabaseError:
        return None  # no schema yet
    finally:
        con.close()


def compare(ref: dict[str, Any], got: dict[str, Any]) -> dict[str, Any]:
    """What differs between a reference snapshot and another: lost, duplicated, changed."""
    ref_a, got_a = ref["articles"], got["articles"]
    both = ref_a.keys() & got_a.keys()
    return {
        "articles_ref": ref["n_articles"],
        "articles": got["n_articles"],
        "passages_ref": ref["n_passages"],
        "passages": got["n_passages"],
        "lost": len(ref_a.keys() - got_a.keys()),
        "unexpected": len(got_a.keys() - ref_a.keys()),
        "duplicated": got["duplicate_pmids"],
        "duplicated_passages": got["duplicate_passages"],
        "orphan_passages": got["orphan_passages"],
        "hash_mismatches": sum(1 for p in both if ref_a[p] != got_a[p]),
        "passage_mismatches": sum(
            1
            for p in ref_a.keys() | got_a.keys()
            if ref["passages"].get(p) != got["passages"].get(p)
        ),
        "side_rows_equal": ref["side_rows"] == got["side_rows"],
        "fts_docs": got["fts_docs"],
        "fts_docs_ref": ref["fts_docs"],
        "passages_not_logged": got["passages_not_logged"],
        "integrity": got["integrity"],
        "fts_problems": got["fts_problems"],
        "runs": got["runs"],
    }


def clean(diff: dict[str, Any]) -> bool:
    """True when a comparison found nothing lost, duplicated or inconsistent."""
    return (
        diff["lost"] == 0
        and diff["unexpected"] == 0
        and diff["duplicated"] == 0
        and diff["duplicated_passages"] == 0
        and diff["orphan_passages"] == 0
        and diff["hash_mismatches"] == 0
        and diff["passage_mismatches"] == 0
        and diff["side_rows_equal"]
        and diff["fts_docs"] == diff["fts_docs_ref"]
        and diff["passages_not_logged"] == 0
        and diff["integrity"] == ["ok"]
        and not diff["fts_problems"]
        and "running" not in diff["runs"]
    )


# ---------------------------------------------------------------------------
# Scenario 1: kill -9 during ingest
# ---------------------------------------------------------------------------


def spread_delays(rng: random.Random, n: int, span: float) -> list[float]:
    """``n`` random moments in ``(0, span)``, one per equal slice, in random order."""
    delays = [span * (i + rng.random()) / n for i in range(n)]
    rng.shuffle(delays)
    return delays


def kill_ingest(
    file: Path,
    work: Path,
    *,
    kills: int,
    seed: int,
    env: dict[str, str],
    mode: str = "time",
) -> dict[str, Any]:
    """Reference ingest, then ``kills`` SIGKILLed ingests and a final one; compare.

    Args:
        file: The PubMed XML file to ingest.
        work: Empty folder for the two data dirs.
        kills: Kills to make (runs that end before their kill moment are
            retried with an earlier moment, within a bound).
        seed: Seed of the kill moments.
        env: Environment of the litmine processes.
        mode: ``"time"``: kill at random moments spread over the reference
            run's duration (each rerun starts over, so late kills may find
            everything stored); ``"progress"``: kill at a random moment
            (0-0.5 s) after the store first holds more than a threshold of
            articles, thresholds spread over the file in increasing order, so
            every kill interrupts a run that still has articles to write.

    Returns:
        The scenario's report (``ok`` when nothing was lost or duplicated).
    """
    ref_dir, test_dir = work / "ref", work / "killed"
    ref_run = run_litmine(
        ["ingest", "--file", str(file), "--data-dir", str(ref_dir), "--json"], env=env, cwd=work
    )
    if ref_run.rc != 0:
        return {"error": f"reference ingest failed: {ref_run.tail()}"}
    span = ref_run.seconds
    total = article_count(ref_dir / "litmine.db") or 0
    rng = random.Random(seed)
    schedule = spread_delays(rng, kills, span)
    thresholds = sorted(int(t) for t in spread_delays(rng, kills, total))
    thresholds.reverse()  # popped from the end: increasing
    attempts: list[dict[str, Any]] = []
    survivors_total = 0
    done = 0
    max_attempts = 3 * kills
    db = test_dir / "litmine.db"
    while done < kills and len(attempts) < max_attempts:
        kill_when = None
        threshold = None
        if mode == "progress" and thresholds:
            threshold = thresholds.pop()
            before = article_count(db) or 0
            limit = max(threshold, before + 1)

            def kill_when(limit: int = limit) -> bool:
                return (article_count(db) or 0) >= limit

            delay = rng.uniform(0.0, 0.5)
        else:
            delay = schedule.pop() if schedule else rng.uniform(0.05, 0.9) * span
        res = run_and_kill(
            ["ingest", "--file", str(file), "--data-dir", str(test_dir), "--json"],
            delay,
            env=env,
            cwd=work,
            kill_when=kill_when,
        )
        survivors_total += res.survivors
        entry: dict[str, Any] = {
            "delay_s": round(delay, 2),
            "killed": res.killed,
            "articles_after": article_count(db),
        }
        if threshold is not None:
            entry["threshold"] = threshold
        if not res.killed:
            entry["rc"] = res.rc
            entry["seconds"] = round(res.seconds, 2)
            # Ended before its moment came: try again earlier in the run.
            schedule.append(rng.uniform(0.05, 0.9) * res.seconds)
        else:
            done += 1
        attempts.append(entry)
    final = run_litmine(
        ["ingest", "--file", str(file), "--data-dir", str(test_dir), "--json"], env=env, cwd=work
    )
    ref_snap = snapshot(ref_dir / "litmine.db")
    diff = compare(ref_snap, snapshot(test_dir / "litmine.db"))
    progress = [a["articles_after"] or 0 for a in attempts if a["killed"]]
    writing = sum(1 for n in progress if n < ref_snap["n_articles"])
    report = {
        "file": {"name": file.name, "bytes": file.stat().st_size},
        "reference": {"seconds": round(span, 2), "report": ref_run.json()},
        "mode": mode,
        "kills_requested": kills,
        "kills_done": done,
        "attempts": attempts,
        "kills_before_complete": writing,
        "articles_after_each_kill": progress,
        "survivor_processes": survivors_total,
        "final": {
            "rc": final.rc,
            "seconds": round(final.seconds, 2),
            "report": final.json(),
            "stderr_tail": final.tail() if final.rc else "",
        },
        "comparison": diff,
    }
    report["ok"] = bool(final.rc == 0 and done >= kills and survivors_total == 0 and clean(diff))
    return report


# ---------------------------------------------------------------------------
# Scenario 2: kill -9 during index update
# ---------------------------------------------------------------------------


def manifest_vectors(data_dir: Path) -> int | None:
    """The vector count the saved index's manifest claims (None: no readable manifest)."""
    path = data_dir / "indexes" / "passages" / "manifest.json"
    try:
        return int(json.loads(path.read_text(encoding="utf-8"))["vector_count"])
    except (OSError, ValueError, KeyError):
        return None


def passage_count(data_dir: Path) -> int:
    """Passages in the store, counted with sqlite3."""
    con = sqlite3.connect(data_dir / "litmine.db")
    try:
        return int(con.execute("SELECT COUNT(*) FROM passages").fetchone()[0])
    finally:
        con.close()


def verify(data_dir: Path, env: dict[str, str], cwd: Path) -> dict[str, Any]:
    """``litmine index verify --json``: exit code and findings."""
    res = run_litmine(["index", "verify", "--data-dir", str(data_dir), "--json"], env=env, cwd=cwd)
    found = res.json() or {}
    return {
        "rc": res.rc,
        "ok": found.get("ok"),
        "missing": found.get("missing"),
        "extra": found.get("extra"),
        "problems": found.get("problems", [res.tail()] if res.rc else []),
    }


def kill_index(
    work: Path,
    *,
    base_records: int,
    extra_records: int,
    kills: int,
    seed: int,
    env: dict[str, str],
) -> dict[str, Any]:
    """Kill ``index build`` once and ``index update`` ``kills`` times; verify; repair.

    A kill "should be noticed" when the store's passage count differs from the
    vector count in the saved manifest (or there is no index); verify must then
    exit non-zero. When the killed process had already saved, verify must pass.

    Args:
        work: Empty folder for the data dirs and input files.
        base_records: Articles indexed first.
        extra_records: Articles ingested after the first build, for the update.
        kills: Kills during ``index update``.
        seed: Seed of the kill moments.
        env: Environment of the litmine processes.

    Returns:
        The scenario's report (``ok`` when every check held).
    """
    rng = random.Random(seed)
    base = make_large_file(work / "index-base.xml.gz", base_records, first_pmid=91_000_000)
    extra = make_large_file(work / "index-extra.xml.gz", extra_records, first_pmid=92_000_000)
    data = work / "index-data"
    ingest = run_litmine(
        ["ingest", "--file", str(base), "--data-dir", str(data)], env=env, cwd=work
    )
    if ingest.rc != 0:
        return {"error": f"ingest failed: {ingest.tail()}"}
    # A fresh copy of the collection for the killed first build.
    build_dir = work / "index-build-killed"
    shutil.copytree(data, build_dir)

    build = run_litmine(["index", "update", "--data-dir", str(data), "--json"], env=env, cwd=work)
    if build.rc != 0:
        return {"error": f"index build failed: {build.tail()}"}
    checks: list[dict[str, Any]] = []

    def check(target: str, data_dir: Path, delay: float, res: RunResult) -> None:
        passages, vectors = passage_count(data_dir), manifest_vectors(data_dir)
        found = verify(data_dir, env, work)
        differs = vectors != passages
        checks.append(
            {
                "target": target,
                "delay_s": round(delay, 2),
                "killed": res.killed,
                "store_passages": passages,
                "index_vectors": vectors,
                "should_fail": differs,
                "verify": found,
                "verify_right": (found["rc"] != 0) == differs and (found["ok"] is not differs),
                "temp_files_left": len(list((data_dir / "indexes").rglob("*.tmp")))
                if (data_dir / "indexes").is_dir()
                else 0,
            }
        )

    delay = rng.uniform(0.2, 0.8) * build.seconds
    res = run_and_kill(["index", "update", "--data-dir", str(build_dir)], delay, env=env, cwd=work)
    check("build", build_dir, delay, res)

    # Start-up (model load, store read) is most of a small update: measure it
    # with an update that has nothing to do, and scale only the rest.
    noop = run_litmine(["index", "update", "--data-dir", str(data)], env=env, cwd=work)
    ingest = run_litmine(
        ["ingest", "--file", str(extra), "--data-dir", str(data)], env=env, cwd=work
    )
    if ingest.rc != 0 or noop.rc != 0:
        return {"error": f"ingest of the extra records failed: {ingest.tail()} {noop.tail()}"}
    work_s = max(build.seconds - noop.seconds, 1.0) * extra_records / max(base_records, 1)
    span = noop.seconds + work_s
    # An update that finishes before its kill leaves nothing to interrupt: the
    # data dir is then restored to this state and the kill retried earlier.
    pending = work / "index-data-pending"
    shutil.copytree(data, pending)
    schedule = spread_delays(rng, kills, span)
    done = attempts = 0
    while done < kills and attempts < 3 * kills:
        attempts += 1
        delay = schedule.pop() if schedule else rng.uniform(0.05, 0.9) * span
        res = run_and_kill(["index", "update", "--data-dir", str(data)], delay, env=env, cwd=work)
        check("update", data, delay, res)
        done += res.killed
        if not checks[-1]["should_fail"]:  # the update had saved: nothing left to interrupt
            if not res.killed:
                span = min(span, res.seconds)
            shutil.rmtree(data)
            shutil.copytree(pending, data)
            checks[-1]["restored_after"] = True
    # One kill aimed at the save itself: as soon as the new index file is
    # being written under its temporary name.
    folder = data / "indexes" / "passages"
    res = run_and_kill(
        ["index", "update", "--data-dir", str(data)],
        0.0,
        env=env,
        cwd=work,
        kill_when=lambda: any(folder.glob(".index-*.tmp")),
        poll=0.005,
    )
    check("save", data, 0.0, res)
    repair = run_litmine(["index", "update", "--data-dir", str(data), "--json"], env=env, cwd=work)
    after = verify(data, env, work)
    temps_after = sorted(p.name for p in folder.glob(".*.tmp"))
    report = {
        "base_records": base_records,
        "extra_records": extra_records,
        "build": {"seconds": round(build.seconds, 2), "report": build.json()},
        "update_noop_s": round(noop.seconds, 2),
        "update_estimate_s": round(span, 2),
        "kills": checks,
        "kills_done": sum(1 for c in checks if c["killed"]),
        "kills_requested": kills + 2,
        "kills_mid_update": sum(1 for c in checks if c["killed"] and c["should_fail"]),
        "kills_noticed": sum(1 for c in checks if c["should_fail"] and c["verify"]["rc"] != 0),
        "kills_should_fail": sum(1 for c in checks if c["should_fail"]),
        "verify_wrong": sum(1 for c in checks if not c["verify_right"]),
        "repair": {
            "rc": repair.rc,
            "seconds": round(repair.seconds, 2),
            "report": repair.json(),
            "stderr_tail": repair.tail() if repair.rc else "",
        },
        "verify_after_repair": after,
        "temp_files_after_repair": temps_after,
        "store_passages": passage_count(data),
        "index_vectors": manifest_vectors(data),
    }
    report["ok"] = bool(
        report["verify_wrong"] == 0
        and report["kills_done"] >= report["kills_requested"]
        and repair.rc == 0
        and not temps_after
        and after["rc"] == 0
        and after["ok"]
        and report["store_passages"] == report["index_vectors"]
    )
    return report


# ---------------------------------------------------------------------------
# Serving: a collection of real abstracts with its index, the server, requests
# ---------------------------------------------------------------------------


def questions(n: int) -> list[str]:
    """SciFact claims (real biomedical questions' stand-ins), the first ``n`` distinct."""
    import csv

    csv.field_size_limit(sys.maxsize)
    with (SHARED / "scifact" / "claims_train.csv").open(encoding="utf-8", newline="") as fh:
        claims = list(dict.fromkeys(row["claim"].strip() for row in csv.DictReader(fh)))
    return claims[:n]


def serving_collection(work: Path, n: int, env: dict[str, str]) -> tuple[Path, dict[str, Any]]:
    """A data dir of ``n`` real abstracts with a built index (reused when already there)."""
    data = work / f"serve-{n}"
    marker = work / f"serve-{n}.json"
    if marker.is_file() and (data / "litmine.db").is_file():
        return data, {**json.loads(marker.read_text()), "reused": True}
    shutil.rmtree(data, ignore_errors=True)
    from common_answers import collection

    from litmine.config import load_settings
    from litmine.passages import split_article
    from litmine.store import Store

    settings = load_settings(data_dir=data)
    with Store.open(settings) as store:
        store.upsert_articles(collection(n), split=lambda a: split_article(a, settings.passages))
    res = run_litmine(["index", "update", "--data-dir", str(data), "--json"], env=env, cwd=work)
    if res.rc != 0:
        raise RuntimeError(f"index build failed: {res.tail()}")
    info = {"articles": n, "passages": passage_count(data), "index_s": round(res.seconds, 1)}
    marker.write_text(json.dumps(info))
    return data, {**info, "reused": False}


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A running ``litmine serve`` (its own process group)."""

    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def rss_mib(self) -> float:
        """Resident memory of the server and its children, MiB."""
        proc = psutil.Process(self.proc.pid)
        total = proc.memory_info().rss
        for child in proc.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                total += child.memory_info().rss
        return total / 2**20

    def log_counts(self) -> dict[str, int]:
        """Access-log lines with a 5xx status, and tracebacks, in the server's output."""
        text = self.log.read_text(encoding="utf-8", errors="replace")
        lines = text.splitlines()
        return {
            "http_5xx": sum(1 for line in lines if '" 5' in line and "HTTP/1.1" in line),
            "tracebacks": text.count("Traceback"),
            "database_locked": text.count("database is locked"),
        }


@contextlib.contextmanager
def serve(
    data: Path, env: dict[str, str], work: Path, *, start_timeout: float = 300
) -> Iterator[Server]:
    """Start ``litmine serve`` on 127.0.0.1 and a free port; stop it (its group) at the end."""
    port = free_port()
    log = work / f"serve-{port}.log"
    cmd = [*litmine_command(), "serve", "--host", HOST, "--port", str(port)]
    cmd += ["--data-dir", str(data)]
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            cmd,
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=work,
            start_new_session=True,
        )
    server = Server(proc, port, log)
    try:
        deadline = time.monotonic() + start_timeout
        with httpx.Client(base_url=server.url, timeout=5, trust_env=False) as client:
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"litmine serve exited: {log.read_text()[-500:]}")
                with contextlib.suppress(httpx.HTTPError):
                    if client.get("/").status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError("litmine serve did not answer in time")
                time.sleep(0.5)
        yield server
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            kill_group(proc.pid)
            proc.wait()


@dataclass
class Sample:
    """One request: what, when, how long, how it went."""

    endpoint: str
    start: float
    seconds: float
    status: int | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.status == 200


def request(client: httpx.Client, endpoint: str, params: dict[str, Any]) -> Sample:
    """GET ``endpoint`` and check the answer is a 200 of the expected shape."""
    start = time.monotonic()
    try:
        resp = client.get(endpoint, params=params)
    except httpx.HTTPError as exc:
        return Sample(endpoint, start, time.monotonic() - start, None, type(exc).__name__)
    seconds = time.monotonic() - start
    error = None
    if resp.status_code != 200:
        error = f"HTTP {resp.status_code}: {resp.text[:200]}"
    elif endpoint == "/api/search" and "hits" not in resp.json():
        error = "no hits field"
    elif endpoint == "/api/ask" and "clusters" not in resp.json():
        error = "no clusters field"
    return Sample(endpoint, start, seconds, resp.status_code, error)


def latency_stats(samples: Sequence[Sample]) -> dict[str, Any]:
    """Count, errors, p50/p95/max of a list of requests (seconds)."""
    times = sorted(s.seconds for s in samples)
    out: dict[str, Any] = {"requests": len(samples), "errors": sum(1 for s in samples if not s.ok)}
    if times:
        qs = (
            statistics.quantiles(times, n=100, method="inclusive") if len(times) > 1 else times * 99
        )
        out.update(p50_s=round(qs[49], 4), p95_s=round(qs[94], 4), max_s=round(times[-1], 4))
    return out


def error_kinds(samples: Sequence[Sample]) -> dict[str, int]:
    """Distinct error messages and how often each occurred."""
    kinds: dict[str, int] = {}
    for s in samples:
        if not s.ok:
            key = f"{s.endpoint}: {s.error}"
            kinds[key] = kinds.get(key, 0) + 1
    return kinds


def by_endpoint(samples: Sequence[Sample]) -> dict[str, Any]:
    """:func:`latency_stats` per endpoint."""
    names = sorted({s.endpoint for s in samples})
    return {n: latency_stats([s for s in samples if s.endpoint == n]) for n in names}


# ---------------------------------------------------------------------------
# Scenario 3: serving while an ingest and an index update write
# ---------------------------------------------------------------------------


def sequence(qs: Sequence[str], ask: bool) -> list[tuple[str, dict[str, Any]]]:
    """The fixed request sequence: search (and ask) per question."""
    seq: list[tuple[str, dict[str, Any]]] = []
    for q in qs:
        seq.append(("/api/search", {"q": q}))
        if ask:
            seq.append(("/api/ask", {"q": q}))
    return seq


def run_sequence(
    client: httpx.Client,
    seq: Sequence[tuple[str, dict[str, Any]]],
    *,
    until: threading.Event | None = None,
    max_rounds: int = 1,
    max_seconds: float = 600,
) -> list[Sample]:
    """Send ``seq`` in order, once or (with ``until``) round after round until it is set.

    Bounded: at most ``max_rounds`` rounds and ``max_seconds`` seconds.
    """
    samples: list[Sample] = []
    deadline = time.monotonic() + max_seconds
    for _ in range(max_rounds):
        for endpoint, params in seq:
            if time.monotonic() > deadline:
                return samples
            samples.append(request(client, endpoint, params))
        if until is not None and until.is_set():
            break
    return samples


@dataclass
class Writer:
    """A litmine write command run in a thread, started once its gate opens.

    Attributes:
        gate: Polled until it returns True (then ``delay`` more seconds pass);
            None starts at once.
    """

    name: str
    args: list[str]
    delay: float = 0.0
    gate: Callable[[], bool] | None = None
    gate_timeout: float = 600.0
    result: RunResult | None = None
    thread: threading.Thread | None = None
    started_at: float | None = None
    pid: int | None = None

    def start(self, env: dict[str, str], cwd: Path, timeout: float) -> None:
        def target() -> None:
            deadline = time.monotonic() + self.gate_timeout
            while self.gate is not None and not self.gate() and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(self.delay)
            self.started_at = time.monotonic()
            self.result = run_litmine(
                self.args, env=env, cwd=cwd, timeout=timeout, on_start=self._started
            )

        self.thread = threading.Thread(target=target, name=f"writer-{self.name}", daemon=True)
        self.thread.start()

    def _started(self, pid: int) -> None:
        self.pid = pid

    def interval(self) -> tuple[float, float] | None:
        if self.result is None or self.started_at is None:
            return None
        return self.started_at, self.started_at + self.result.seconds


def concurrent(
    work: Path,
    *,
    articles: int,
    pending: int,
    ingest_records: int,
    n_questions: int,
    ask: bool,
    ingest_delay: float,
    idle_rounds: int,
    env: dict[str, str],
    writer_timeout: float,
) -> dict[str, Any]:
    """Idle / loaded / idle runs of one request sequence; writers in the loaded one.

    Args:
        work: Work folder (the serving collection is built or reused there).
        articles: Real abstracts in the served collection (indexed).
        pending: Articles ingested before the server starts but not indexed:
            the loaded phase's ``index update`` embeds them.
        ingest_records: Size of the file the loaded phase ingests.
        n_questions: Questions in the request sequence.
        ask: Also request ``/api/ask`` (one per question).
        ingest_delay: Seconds from the moment the update opens the database
            (after loading its model; it reads what to embed right then) to
            the start of the ingest, whose articles so stay out of the
            update's work.
        idle_rounds: Rounds of the sequence before and after the loaded phase.
        env: Environment of the litmine processes.
        writer_timeout: Hard limit of each writer.

    Returns:
        The scenario's report.
    """
    base, info = serving_collection(work, articles, env)
    data = work / "concurrent-data"
    shutil.rmtree(data, ignore_errors=True)
    shutil.copytree(base, data)
    pending_file = make_large_file(work / "pending.xml.gz", pending, first_pmid=93_000_000)
    ingest_file = make_large_file(
        work / f"concurrent-{ingest_records}.xml.gz", ingest_records, first_pmid=94_000_000
    )
    pre = run_litmine(
        ["ingest", "--file", str(pending_file), "--data-dir", str(data)], env=env, cwd=work
    )
    if pre.rc != 0:
        return {"error": f"preparation failed: {pre.tail()}"}
    seq = sequence(questions(n_questions), ask)
    with (
        serve(data, env, work) as server,
        httpx.Client(base_url=server.url, timeout=120, trust_env=False) as client,
    ):
        run_sequence(client, seq[:4])  # warm-up, unmeasured
        idle_before = run_sequence(client, seq, max_rounds=idle_rounds)
        update = Writer("index_update", ["index", "update", "--data-dir", str(data), "--json"])
        writers = [
            update,
            Writer(
                "ingest",
                ["ingest", "--file", str(ingest_file), "--data-dir", str(data), "--json"],
                delay=ingest_delay,
                gate=lambda: has_open(update.pid, data / "litmine.db"),
            ),
        ]
        done = threading.Event()
        for w in writers:
            w.start(env, work, writer_timeout)

        def watch() -> None:
            for w in writers:
                assert w.thread is not None
                w.thread.join()
            done.set()

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        t0 = time.monotonic()
        loaded_all = run_sequence(
            client, seq, until=done, max_rounds=1000, max_seconds=2 * writer_timeout
        )
        done.wait(timeout=2 * writer_timeout + 60)
        idle_after = run_sequence(client, seq, max_rounds=idle_rounds)
        logs = server.log_counts()
    intervals = [iv for w in writers if (iv := w.interval()) is not None]

    def overlaps(s: Sample) -> bool:
        return any(s.start < end and s.start + s.seconds > begin for begin, end in intervals)

    loaded = [s for s in loaded_all if overlaps(s)]
    idle = idle_before + idle_after
    stats = {
        "idle_before": latency_stats(idle_before),
        "idle_after": latency_stats(idle_after),
        "idle": latency_stats(idle),
        "loaded": latency_stats(loaded),
        "loaded_all": latency_stats(loaded_all),
    }
    ratios = {}
    for q in ("p50_s", "p95_s"):
        if stats["idle"].get(q) and stats["loaded"].get(q):
            ratios[f"loaded_vs_idle_{q[:3]}"] = round(stats["loaded"][q] / stats["idle"][q], 2)
    writer_report = {}
    for w in writers:
        res = w.result
        iv = w.interval()
        writer_report[w.name] = {
            "rc": None if res is None else res.rc,
            "start_s": None if iv is None else round(iv[0] - t0, 2),
            "end_s": None if iv is None else round(iv[1] - t0, 2),
            "report": None if res is None else res.json(),
            "stderr_tail": "" if res is None or res.rc == 0 else res.tail(),
        }
    errors = sum(stats[k]["errors"] for k in ("idle_before", "idle_after", "loaded_all"))
    report = {
        "collection": info,
        "pending_records": pending,
        "ingest_records": ingest_records,
        "ingest_delay_s": ingest_delay,
        "sequence": {"requests": len(seq), "ask": ask, "idle_rounds": idle_rounds},
        "latency": stats,
        "latency_by_endpoint": {
            "idle": by_endpoint(idle),
            "loaded": by_endpoint(loaded),
        },
        "ratios": ratios,
        "writers": writer_report,
        "writers_overlapped": _overlap(intervals),
        # The update writes the store (and its index) at its end: did that
        # happen while the ingest held transactions open?
        "update_finished_during_ingest": len(intervals) == 2
        and intervals[1][0] < intervals[0][1] < intervals[1][1],
        "errors": errors,
        "error_kinds": error_kinds(idle + loaded_all),
        "server_log": logs,
    }
    report["ok"] = bool(
        errors == 0 and all(w["rc"] == 0 for w in writer_report.values()) and logs["http_5xx"] == 0
    )
    return report


def has_open(pid: int | None, path: Path) -> bool:
    """Whether process ``pid`` has the file ``path`` open."""
    if pid is None:
        return False
    target = str(path.resolve())
    try:
        return any(f.path == target for f in psutil.Process(pid).open_files())
    except psutil.Error:
        return False


def _overlap(intervals: Sequence[tuple[float, float]]) -> float:
    """Seconds during which both writers ran."""
    if len(intervals) < 2:
        return 0.0
    (a0, a1), (b0, b1) = intervals[0], intervals[1]
    return round(max(0.0, min(a1, b1) - max(a0, b0)), 2)


# ---------------------------------------------------------------------------
# Scenario 4: the web server under load
# ---------------------------------------------------------------------------


def load(
    work: Path,
    *,
    articles: int,
    clients: int,
    duration: float,
    rounds: int,
    max_requests: int,
    n_questions: int,
    env: dict[str, str],
    request_timeout: float,
) -> dict[str, Any]:
    """``clients`` threads cycling over ``/``, ``/api/search``, ``/api/ask`` for ``duration`` s.

    Each client stops by itself at the deadline or after ``max_requests``
    requests, whichever comes first; a request still running at the deadline
    finishes (at most ``request_timeout`` s). ``rounds`` such windows run back
    to back on one server, its RSS taken after each: growth that continues
    round after round is a leak, a one-off step is warm-up.

    Returns:
        The scenario's report: the first round's figures at the top level,
        every round's in ``rounds``.
    """
    data, info = serving_collection(work, articles, env)
    qs = questions(n_questions)
    endpoints = ("/", "/api/search", "/api/ask")
    per_round: list[dict[str, Any]] = []
    with serve(data, env, work) as server:
        with httpx.Client(base_url=server.url, timeout=request_timeout, trust_env=False) as c:
            for endpoint in endpoints:  # warm-up, unmeasured
                for q in qs[:2]:
                    request(c, endpoint, {} if endpoint == "/" else {"q": q})
        rss_start = server.rss_mib()
        for _ in range(max(1, rounds)):
            per_round.append(
                _load_round(server, clients, duration, max_requests, qs, endpoints, request_timeout)
            )
        logs = server.log_counts()
    first = per_round[0]
    errors = sum(r["errors"] for r in per_round)
    rss_end = per_round[-1]["rss_mib"]["after"]
    report = {
        "collection": info,
        "clients": clients,
        "duration_s": duration,
        "max_requests_per_client": max_requests,
        **{k: v for k, v in first.items() if k != "rss_mib"},
        "rss_mib": {
            **first["rss_mib"],
            "end": rss_end,
            "growth_total": round(rss_end - rss_start, 1),
            "growth_per_round": [r["rss_mib"]["growth"] for r in per_round],
        },
        "rounds": per_round,
        "errors_all_rounds": errors,
        "server_log": logs,
    }
    report["ok"] = bool(errors == 0 and logs["http_5xx"] == 0)
    return report


def _load_round(
    server: Server,
    clients: int,
    duration: float,
    max_requests: int,
    qs: Sequence[str],
    endpoints: Sequence[str],
    request_timeout: float,
) -> dict[str, Any]:
    """One window of :func:`load`: the clients' requests, latencies and RSS."""
    rss_before = server.rss_mib()
    peak = [rss_before]
    stop = threading.Event()

    def sample_rss() -> None:
        while not stop.wait(1.0):
            with contextlib.suppress(psutil.Error):
                peak.append(server.rss_mib())

    sampler = threading.Thread(target=sample_rss, daemon=True)
    sampler.start()
    start = time.monotonic()
    deadline = start + duration

    def client_loop(i: int) -> list[Sample]:
        out: list[Sample] = []
        with httpx.Client(base_url=server.url, timeout=request_timeout, trust_env=False) as client:
            n = 0
            while n < max_requests and time.monotonic() < deadline:
                endpoint = endpoints[(i + n) % len(endpoints)]
                q = qs[(i * 7 + n) % len(qs)]
                out.append(request(client, endpoint, {} if endpoint == "/" else {"q": q}))
                n += 1
        return out

    with ThreadPoolExecutor(max_workers=clients, thread_name_prefix="client") as pool:
        per_client = list(pool.map(client_loop, range(clients)))
    elapsed = time.monotonic() - start
    stop.set()
    sampler.join(timeout=5)
    rss_after = server.rss_mib()
    samples = [s for out in per_client for s in out]
    stats = latency_stats(samples)
    return {
        "elapsed_s": round(elapsed, 2),
        "requests": len(samples),
        "requests_per_s": round(len(samples) / elapsed, 2),
        "errors": stats["errors"],
        "error_kinds": error_kinds(samples),
        "latency": stats,
        "by_endpoint": {
            name: {**st, "requests_per_s": round(st["requests"] / elapsed, 2)}
            for name, st in by_endpoint(samples).items()
        },
        "requests_per_client": [len(out) for out in per_client],
        "rss_mib": {
            "before": round(rss_before, 1),
            "after": round(rss_after, 1),
            "peak": round(max(peak), 1),
            "growth": round(rss_after - rss_before, 1),
        },
    }


# ---------------------------------------------------------------------------
# Summary and main
# ---------------------------------------------------------------------------


def summary(name: str, r: dict[str, Any]) -> str:
    """One or two lines per scenario for the console."""
    if "error" in r:
        return f"{name}: ERROR {r['error']}"
    if name == "kill_ingest":
        c = r["comparison"]
        return (
            f"kill_ingest: {r['kills_done']} kills; articles {c['articles']}/{c['articles_ref']}, "
            f"lost {c['lost']}, duplicated {c['duplicated']}, hash mismatches "
            f"{c['hash_mismatches']}, passage mismatches {c['passage_mismatches']}, "
            f"survivors {r['survivor_processes']}; ok={r['ok']}"
        )
    if name == "kill_index":
        v = r["verify_after_repair"]
        return (
            f"kill_index: {r['kills_done']} kills, verify noticed {r['kills_noticed']}/"
            f"{r['kills_should_fail']}, wrong {r['verify_wrong']}; repair rc {r['repair']['rc']}, "
            f"verify after rc {v['rc']}; ok={r['ok']}"
        )
    if name == "concurrent":
        lat = r["latency"]
        return (
            f"concurrent: errors {r['errors']}; idle p50/p95 {lat['idle'].get('p50_s')}/"
            f"{lat['idle'].get('p95_s')} s, loaded ({lat['loaded']['requests']} req) "
            f"{lat['loaded'].get('p50_s')}/{lat['loaded'].get('p95_s')} s; writers "
            f"{ {k: w['rc'] for k, w in r['writers'].items()} }; ok={r['ok']}"
        )
    lat = r["latency"]
    return (
        f"load: {r['clients']} clients x {r['duration_s']} s: {r['requests']} requests, "
        f"{r['requests_per_s']} req/s, p50/p95 {lat.get('p50_s')}/{lat.get('p95_s')} s, "
        f"errors {r['errors_all_rounds']} (all rounds), RSS per round +"
        f"{r['rss_mib']['growth_per_round']} MiB (from {r['rss_mib']['before']}); "
        f"ok={r['ok']}"
    )


def default_backend() -> str:
    """onnx-int8 when onnxruntime imports (about 2x faster embedding here), else torch."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return "torch"
    return "onnx-int8"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all", action="store_true", help="run every scenario")
    parser.add_argument("--kill-ingest", action="store_true", help="scenario 1")
    parser.add_argument("--kill-index", action="store_true", help="scenario 2")
    parser.add_argument("--concurrent", action="store_true", help="scenario 3")
    parser.add_argument("--load", action="store_true", help="scenario 4")
    parser.add_argument("--records", type=int, default=20_000, help="kill-ingest file size")
    parser.add_argument("--kills", type=int, default=20, help="kill-ingest kills")
    parser.add_argument(
        "--kill-mode", choices=("time", "progress"), default="time", help="see kill_ingest"
    )
    parser.add_argument(
        "--commit-every", type=int, help="ingest.commit_every of the litmine runs (default 2000)"
    )
    parser.add_argument("--index-base", type=int, default=100, help="kill-index: first articles")
    parser.add_argument("--index-extra", type=int, default=300, help="kill-index: added later")
    parser.add_argument("--index-kills", type=int, default=5, help="kills of index update")
    parser.add_argument("--articles", type=int, default=300, help="served collection size")
    parser.add_argument("--pending", type=int, default=200, help="concurrent: articles to index")
    parser.add_argument("--ingest-records", type=int, default=20_000, help="concurrent ingest")
    parser.add_argument(
        "--ingest-delay",
        type=float,
        default=1.0,
        help="concurrent: s after the update opens the db",
    )
    parser.add_argument("--idle-rounds", type=int, default=3, help="concurrent: idle sequences")
    parser.add_argument("--questions", type=int, default=20, help="distinct questions")
    parser.add_argument("--no-ask", action="store_true", help="concurrent: search only")
    parser.add_argument("--writer-timeout", type=float, default=900)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--rounds", type=int, default=2, help="load: windows on one server")
    parser.add_argument("--max-requests-per-client", type=int, default=5000)
    parser.add_argument("--request-timeout", type=float, default=120.0)
    parser.add_argument("--backend", default=None, help="embed backend (default: onnx-int8/torch)")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--tag", help="suffix of the scenarios' keys in the JSON (variants)")
    parser.add_argument("--work", type=Path, help="work folder kept for reuse (default: temp)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)

    chosen = {
        "kill_ingest": args.all or args.kill_ingest,
        "kill_index": args.all or args.kill_index,
        "concurrent": args.all or args.concurrent,
        "load": args.all or args.load,
    }
    if not any(chosen.values()):
        parser.error("choose a scenario: --kill-ingest, --kill-index, --concurrent, --load, --all")
    if not ENTREZ_DIR.is_dir() or not SHARED.is_dir():
        print(f"SKIP: shared test data not found at {SHARED} (../shared/data beside the repo)")
        return 0
    backend = args.backend or default_backend()
    env = litmine_env(backend)
    if args.commit_every:
        env["LITMINE_INGEST_COMMIT_EVERY"] = str(args.commit_every)
    results: dict[str, Any] = {}
    with contextlib.ExitStack() as stack:
        if args.work is None:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="litmine-faults-")))
        else:
            work = args.work.resolve()
            work.mkdir(parents=True, exist_ok=True)
        for name, wanted in chosen.items():
            if not wanted:
                continue
            started = time.monotonic()
            scenario_dir = work / name
            if name != "concurrent" and name != "load":
                shutil.rmtree(scenario_dir, ignore_errors=True)
            scenario_dir.mkdir(exist_ok=True)
            if name == "kill_ingest":
                file = make_large_file(work / f"bench-{args.records}.xml.gz", args.records)
                result = kill_ingest(
                    file,
                    scenario_dir,
                    kills=args.kills,
                    seed=args.seed,
                    env=env,
                    mode=args.kill_mode,
                )
            elif name == "kill_index":
                result = kill_index(
                    scenario_dir,
                    base_records=args.index_base,
                    extra_records=args.index_extra,
                    kills=args.index_kills,
                    seed=args.seed,
                    env=env,
                )
            elif name == "concurrent":
                result = concurrent(
                    work,
                    articles=args.articles,
                    pending=args.pending,
                    ingest_records=args.ingest_records,
                    n_questions=args.questions,
                    ask=not args.no_ask,
                    ingest_delay=args.ingest_delay,
                    idle_rounds=args.idle_rounds,
                    env=env,
                    writer_timeout=args.writer_timeout,
                )
            else:
                result = load(
                    work,
                    articles=args.articles,
                    clients=args.clients,
                    duration=args.duration,
                    rounds=args.rounds,
                    max_requests=args.max_requests_per_client,
                    n_questions=args.questions,
                    env=env,
                    request_timeout=args.request_timeout,
                )
            result["scenario_s"] = round(time.monotonic() - started, 1)
            result["at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            result["params"] = {
                k: v for k, v in vars(args).items() if not isinstance(v, Path) and k != "all"
            }
            key = f"{name}_progress" if name == "kill_ingest" and args.kill_mode != "time" else name
            key += f"_{args.tag}" if args.tag else ""
            results[key] = result
            print(summary(name, result), flush=True)
    report: dict[str, Any] = {}
    if args.out.is_file():  # keep the other scenarios' latest results
        with contextlib.suppress(ValueError):
            report = json.loads(args.out.read_text(encoding="utf-8"))
    report.setdefault("scenarios", {}).update(results)
    report.update(
        benchmark="faults",
        backend=backend,
        machine={
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "loadavg_1m": round(os.getloadavg()[0], 2),
        },
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0 if all(r.get("ok") for r in results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())

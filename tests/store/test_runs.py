"""The run log."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest

from litmine.errors import InputError
from litmine.store import (
    Store,
)
from litmine.types import IngestReport

pytestmark = pytest.mark.both_backends  # the store contract: SQLite and PostgreSQL

# --------------------------------------------------------------------------- runs


def test_run_lifecycle(store: Store) -> None:
    run_id = store.start_run("query", {"query": "warfarin", "since": dt.date(2024, 1, 1)})
    [run] = store.recent_runs()
    assert (run.id, run.kind, run.status, run.finished_at) == (run_id, "query", "running", None)
    assert run.params == {"query": "warfarin", "since": "2024-01-01"}
    report = IngestReport(fetched=10, new=7, updated=1, unchanged=1, deleted=1, failed=1)
    report.errors = [f"record {i}: bad" for i in range(150)]
    store.finish_run(run_id, "partial", report, "1 record failed")
    run = store.recent_runs()[0]
    assert run.status == "partial" and run.finished_at is not None
    assert (run.fetched, run.new, run.updated, run.unchanged, run.deleted, run.failed) == (
        10,
        7,
        1,
        1,
        1,
        1,
    )
    assert len(run.errors) == 100 and run.message == "1 record failed"
    assert run.report.line() == report.line()
    assert run.started_at.tzinfo is not None and run.finished_at >= run.started_at
    with pytest.raises(ValueError, match="status"):
        store.finish_run(run_id, "running", report)
    with pytest.raises(InputError, match="no run"):
        store.finish_run(9999, "ok", report)
    second = store.start_run("file", {})
    assert [r.id for r in store.recent_runs(limit=1)] == [second]
    assert store.get_run(run_id) == run and store.get_run(12345) is None
    assert store.counts().runs == 2


def test_run_of_a_killed_process_becomes_interrupted(db_path: Path) -> None:
    Store(db_path).close()
    code = (
        "import os, sys; from litmine.store import Store\n"
        "s = Store(sys.argv[1]); s.start_run('nightly', {})\n"
        "os._exit(9)  # killed: no finish_run, no close\n"
    )
    subprocess.run([sys.executable, "-c", code, str(db_path)], check=False, timeout=60)
    with Store(db_path) as s:
        [orphan] = s.recent_runs()
        assert orphan.status == "running"
        mine = s.start_run("query", {})
        runs = {r.id: r for r in s.recent_runs()}
        assert runs[orphan.id].status == "interrupted"
        assert runs[orphan.id].message
        assert runs[mine].status == "running"
        # A live run of this very process is left alone.
        s.start_run("query", {})
        assert s.get_run(mine) is not None and s.get_run(mine).status == "running"  # type: ignore[union-attr]

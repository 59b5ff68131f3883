"""Kill -9 during ``litmine ingest --file``, then resume: nothing lost, nothing duplicated.

A small run of ``bench/faults.py``'s kill-ingest scenario (the benchmark runs it
at 20,000 records and 20+ kills): 2,000 generated PubMed records, committed
every 250, three SIGKILLs of the whole process group (parse workers too), each
after the store holds more than a rising threshold of articles, so every kill
hits a run with articles still to write. The killed data dir is compared with
an uninterrupted ingest through plain sqlite3.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import shared_path

ROOT = Path(__file__).resolve().parents[1]


def _faults() -> ModuleType:
    """bench/faults.py as a module (bench/ is no package; it imports its siblings)."""
    if "litmine_bench_faults" in sys.modules:
        return sys.modules["litmine_bench_faults"]
    sys.path.insert(0, str(ROOT / "bench"))
    spec = importlib.util.spec_from_file_location(
        "litmine_bench_faults", ROOT / "bench" / "faults.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_kill_and_resume_ingest_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    faults = _faults()
    source = shared_path("entrez")
    file = faults.make_large_file(tmp_path / "records.xml.gz", 2000, source_dir=source)
    env = faults.litmine_env()
    env["LITMINE_INGEST_COMMIT_EVERY"] = "250"

    report = faults.kill_ingest(file, tmp_path, kills=3, seed=7, env=env, mode="progress")

    assert "error" not in report, report
    diff = report["comparison"]
    assert report["kills_done"] == 3
    killed = [a for a in report["attempts"] if a["killed"]]
    # Every kill aimed at a threshold of committed articles came after it. (On a
    # fast machine a run can finish inside the kill's delay; the bench then
    # kills the later runs at a moment in time, with no threshold.)
    assert all(a["articles_after"] >= a["threshold"] for a in killed if "threshold" in a)
    assert report["survivor_processes"] == 0
    assert report["final"]["rc"] == 0
    assert diff["articles_ref"] == diff["articles"] == 2000
    assert diff["lost"] == 0
    assert diff["unexpected"] == 0
    assert diff["duplicated"] == 0
    assert diff["duplicated_passages"] == 0
    assert diff["hash_mismatches"] == 0
    assert diff["passage_mismatches"] == 0
    assert diff["passages"] == diff["passages_ref"]
    assert diff["side_rows_equal"]
    assert diff["fts_docs"] == diff["fts_docs_ref"] == 2000
    assert diff["passages_not_logged"] == 0
    assert diff["integrity"] == ["ok"]
    assert diff["fts_problems"] == []
    # The killed runs are marked interrupted by the next run; none is left running.
    assert "running" not in diff["runs"]
    assert diff["runs"].get("ok", 0) >= 1
    assert report["ok"]


def test_compare_counts_lost_duplicated_and_changed_articles() -> None:
    faults = _faults()
    base: dict[str, object] = {
        "passages": {"1": (2, "a"), "2": (1, "b")},
        "n_articles": 2,
        "n_passages": 3,
        "duplicate_pmids": 0,
        "duplicate_passages": 0,
        "orphan_passages": 0,
        "side_rows": {"article_mesh": 3},
        "fts_docs": 2,
        "passages_not_logged": 0,
        "integrity": ["ok"],
        "fts_problems": [],
        "runs": {"ok": 1},
    }
    ref = {**base, "articles": {"1": (1, "h1"), "2": (1, "h2")}}
    assert faults.clean(faults.compare(ref, ref))
    got = {
        **base,
        "articles": {"1": (1, "other"), "3": (1, "h3")},
        "passages": {"1": (2, "a"), "3": (1, "c")},
        "duplicate_pmids": 1,
    }
    diff = faults.compare(ref, got)
    assert (diff["lost"], diff["unexpected"], diff["duplicated"]) == (1, 1, 1)
    assert diff["hash_mismatches"] == 1
    assert diff["passage_mismatches"] == 2  # "2" lost its passages, "3" gained some
    assert not faults.clean(diff)

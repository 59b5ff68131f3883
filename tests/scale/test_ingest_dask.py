"""Ingest on a real Dask cluster through real Prefect flow runs equals the sequential ingest."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from litmine import ingest
from litmine.config import Settings, load_settings
from litmine.scale import ingest as scale_ingest
from litmine.scale.shards import ShardSummary, file_key, read_shard, write_shard
from tests.conftest import shared_path
from tests.ingest.helpers import CountingProgress
from tests.scale.helpers import RECORDS_PER_FILE, baseline_files, pmid, snapshot, update_files


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], list[Path]]:
    """Three generated baseline files and two update files (shared by the module's tests)."""
    folder = tmp_path_factory.mktemp("pubmed")
    return baseline_files(folder / "baseline"), update_files(folder / "updatefiles")


@pytest.fixture(scope="module")
def sequential(
    corpus: tuple[list[Path], list[Path]], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, list[tuple[object, ...]]]:
    """The store after a sequential in-process ingest_files of the baseline, then the updates."""
    baseline, updates = corpus
    settings = load_settings(data_dir=tmp_path_factory.mktemp("sequential"))
    ingest.ingest_files([*baseline, *updates], settings, workers=0)
    return snapshot(settings)


def _passages(settings: Settings) -> dict[str, object]:
    return {k: v for k, v in settings.passages.model_dump().items()}


def test_dask_ingest_equals_sequential_ingest(
    prefect_harness: None,
    dask_settings: Settings,
    corpus: tuple[list[Path], list[Path]],
    sequential: dict[str, list[tuple[object, ...]]],
) -> None:
    baseline, updates = corpus
    progress = CountingProgress()
    result = scale_ingest.ingest_paths(
        [baseline[0].parent], dask_settings, updates=[updates[0].parent], progress=progress
    )
    assert snapshot(dask_settings) == sequential
    assert progress.seen == 3 * RECORDS_PER_FILE + 3  # articles, as the committer wrote them
    assert [Path(p).name for p in result.applied[-2:]] == [u.name for u in updates]
    assert {Path(p).name for p in result.applied[:3]} == {b.name for b in baseline}
    assert result.report.new == 3 * RECORDS_PER_FILE + 1
    assert result.report.deleted == 2 and result.report.failed == 0
    stored = {a.pmid: a for a in _articles(dask_settings)}
    assert pmid(0) not in stored and pmid(2) not in stored
    assert stored[pmid(1)].title == "Same version, new text"
    # Every file is a finished run keyed by its content; the staging folder is empty.
    with ingest.open_store(dask_settings, read_only=True) as store:
        runs = [r for r in store.recent_runs(100) if r.kind == "file"]
    assert sorted(r.params["key"] for r in runs) == sorted(
        file_key(p) for p in [*baseline, *updates]
    )
    assert all(r.status == "ok" and r.params["runner"] == "dask" for r in runs)
    assert not list((dask_settings.data_dir / "staging" / "ingest").iterdir())

    # A re-run skips every applied file and changes nothing.
    again = scale_ingest.ingest_paths(baseline + updates, dask_settings)
    assert again.applied == [] and len(again.skipped) == 5
    assert snapshot(dask_settings) == sequential


def _articles(settings: Settings) -> list[object]:
    with ingest.open_store(settings, read_only=True) as store:
        return list(store.iter_articles())


def test_a_file_with_deletions_waits_for_the_baseline_and_goes_in_name_order(
    prefect_harness: None,
    dask_settings: Settings,
    corpus: tuple[list[Path], list[Path]],
    sequential: dict[str, list[tuple[object, ...]]],
) -> None:
    baseline, (revise, delete) = corpus
    # The deleting file is given first, among the baseline: its DeleteCitation
    # makes it an update, applied after the baseline and after `revise`.
    result = scale_ingest.ingest_paths([delete, *baseline], dask_settings, updates=[revise])
    assert [Path(p).name for p in result.applied[-2:]] == [revise.name, delete.name]
    assert snapshot(dask_settings) == sequential


def test_shard_round_trips_the_prepared_articles(
    settings: Settings, corpus: tuple[list[Path], list[Path]], tmp_path: Path
) -> None:
    from litmine.ingest import prepare_chunk  # noqa: F401  (the code path the shard uses)
    from litmine.parse import read_file
    from litmine.passages import split_article
    from litmine.store import prepare_article
    from litmine.types import Article, Deletion

    source = corpus[0][0]
    summary = write_shard(str(source), file_key(source), str(tmp_path), _passages(settings))
    assert summary.articles == RECORDS_PER_FILE and summary.failed == 0
    assert summary.passages > RECORDS_PER_FILE
    expected = [
        prepare_article(r, lambda a: split_article(a, settings.passages))
        for r in read_file(source)
        if isinstance(r, Article)
    ]
    assert list(read_shard(summary.shard)) == expected
    # A second call reuses the finished shard; its summary is on disk as JSON.
    assert write_shard(str(source), file_key(source), str(tmp_path), {}) == summary
    saved = json.loads((Path(summary.shard) / "summary.json").read_text())
    assert ShardSummary(**{**saved, "errors": tuple(saved["errors"])}) == summary
    # Deletions come back in file order.
    delete = corpus[1][1]
    shard = write_shard(str(delete), file_key(delete), str(tmp_path), _passages(settings))
    assert list(read_shard(shard.shard)) == [Deletion(pmid(0)), Deletion(pmid(2))]


def test_tasks_pickle_through_the_cluster(
    dask_client: object, settings: Settings, corpus: tuple[list[Path], list[Path]], tmp_path: Path
) -> None:
    import cloudpickle

    source = corpus[0][1]
    args = (str(source), file_key(source), str(tmp_path), _passages(settings))
    future = dask_client.submit(write_shard, *args, pure=False)  # type: ignore[attr-defined]
    summary = future.result(timeout=120)
    assert isinstance(summary, ShardSummary) and summary.articles == RECORDS_PER_FILE
    assert list(read_shard(summary.shard)) == list(read_shard(write_shard(*args).shard))
    # The Prefect task's function (what the flow sends to a worker) pickles too.
    staged = (*args[:2], str(tmp_path / "again"), args[3])
    again = dask_client.submit(scale_ingest.shard_file.fn, *staged, pure=False)  # type: ignore[attr-defined]
    assert again.result(timeout=120).passages == summary.passages
    # ... by reference: the worker runs the module's own function.
    assert cloudpickle.loads(cloudpickle.dumps(scale_ingest.shard_file)).fn is write_shard


class _Killer:
    """Kills the worker process running the first shard task it sees (SIGKILL, no goodbye)."""

    def __init__(self, client: object) -> None:
        import os
        import threading

        self.client: Any = client
        self.pids: dict[str, int] = self.client.run(os.getpid)
        self.killed: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import os
        import signal

        while not self._stop.is_set():
            for worker, keys in self.client.processing().items():
                if any("shard" in str(k) for k in keys) and worker in self.pids:
                    os.kill(self.pids[worker], signal.SIGKILL)
                    self.killed = f"{worker} running {keys}"
                    return
            self._stop.wait(0.01)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def test_a_worker_killed_mid_run_then_a_rerun_gives_the_same_store(
    prefect_harness: None,
    dask_settings: Settings,
    dask_client: Any,
    tmp_path: Path,
) -> None:
    from litmine.errors import RunnerError

    files = baseline_files(tmp_path / "big", n_files=3, records=1500)
    reference = load_settings(data_dir=tmp_path / "reference")
    ingest.ingest_files(files, reference, workers=0)

    killer = _Killer(dask_client)
    try:
        # Dask usually moves the lost task to the other worker and the run completes.
        scale_ingest.ingest_paths(files, dask_settings)
    except RunnerError as exc:  # the lost task failed instead of moving to the other worker
        assert "run the same command again" in exc.one_line()
    finally:
        killer.stop()
        dask_client.wait_for_workers(2, timeout=120)
    assert killer.killed, "no shard task was seen running"
    scale_ingest.ingest_paths(files, dask_settings)
    assert snapshot(dask_settings) == snapshot(reference)
    with ingest.open_store(dask_settings, read_only=True) as store:
        runs = [r for r in store.recent_runs(100) if r.kind == "file" and r.status == "ok"]
    assert sorted(r.params["key"] for r in runs) == sorted(file_key(f) for f in files)
    # The killed task's temporary folder is gone, and no shard is left.
    assert not list((dask_settings.data_dir / "staging" / "ingest").iterdir())


def _invoke(*args: str) -> tuple[int, str, str]:
    from typer.testing import CliRunner

    from litmine.cli.root import app

    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_cli_ingests_folders_on_the_dask_address(
    prefect_harness: None,
    dask_settings: Settings,
    corpus: tuple[list[Path], list[Path]],
    sequential: dict[str, list[tuple[object, ...]]],
) -> None:
    baseline, updates = corpus
    common = ("--runner", "dask", "--address", str(dask_settings.dask.address))
    data = ("--data-dir", str(dask_settings.data_dir))
    # The updates' folder is named "updatefiles", as on NLM's server: no --updates needed.
    assert updates[0].parent.name == "updatefiles"
    args = ("ingest", "--file", str(updates[0].parent), str(baseline[0].parent))
    code, out, err = _invoke(*args, *common, *data)
    assert code == 0, err
    n = 3 * RECORDS_PER_FILE
    assert out.strip() == f"fetched {n + 3} / new {n + 1} / updated 2 / deleted 2 / failed 0"
    assert snapshot(dask_settings) == sequential
    code, out, err = _invoke(*args, *common, *data)
    assert code == 0 and "skipped 5 file(s)" in err and out.startswith("fetched 0 ")


def test_cli_local_runner_applies_updates_after_the_files_by_name(
    settings: Settings,
    corpus: tuple[list[Path], list[Path]],
    sequential: dict[str, list[tuple[object, ...]]],
) -> None:
    baseline, (revise, delete) = corpus
    data = ("--data-dir", str(settings.data_dir))
    args = ("--updates", str(delete), "--updates", str(revise), "--workers", "0")
    code, _, err = _invoke("ingest", "--file", *map(str, baseline), *args, *data)
    assert code == 0, err
    assert snapshot(settings) == sequential


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--runner", "dask", "--address", "tcp://127.0.0.1:9"), "no Dask scheduler at"),
        (("--runner", "ray"), "unknown --runner 'ray'"),
        (("--runner", "dask", "--workers", "0"), "--workers 0 needs the local runner"),
    ],
)
def test_cli_runner_errors_are_one_line(
    corpus: tuple[list[Path], list[Path]], args: tuple[str, ...], message: str
) -> None:
    code, out, err = _invoke("ingest", "--file", str(corpus[0][0]), *args)
    assert code == 1 and out == ""
    assert err.startswith(f"error: {message}") and err.count("\n") == 1


def test_without_an_address_a_local_cluster_is_started_for_the_run(
    prefect_harness: None, tmp_path: Path, corpus: tuple[list[Path], list[Path]]
) -> None:
    baseline, (revise, _) = corpus
    settings = load_settings(data_dir=tmp_path / "data", runner="dask", dask={"workers": 1})
    # The same file twice (also as an update) is read and applied once, as an update.
    result = scale_ingest.ingest_paths(
        [baseline[0], baseline[0], revise], settings, updates=[str(revise)]
    )
    assert result.applied == [str(baseline[0]), str(revise)]
    assert result.report.new == RECORDS_PER_FILE + 1 and result.report.updated == 2


def test_a_committer_stopped_mid_file_resumes_from_the_shards(
    prefect_harness: None,
    dask_settings: Settings,
    corpus: tuple[list[Path], list[Path]],
    sequential: dict[str, list[tuple[object, ...]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from litmine.config import merge_section
    from litmine.scale import shards

    baseline, updates = corpus
    settings = merge_section(dask_settings, "ingest", commit_every=20)
    original = shards.read_shard
    calls = []

    def stops_in_the_second_file(shard: str) -> Iterator[object]:
        calls.append(shard)
        for i, record in enumerate(original(shard)):
            if len(calls) == 2 and i == 70:  # three commits of this file are in
                raise RuntimeError("committer stopped")
            yield record

    monkeypatch.setattr(shards, "read_shard", stops_in_the_second_file)
    with pytest.raises(RuntimeError, match="committer stopped"):
        scale_ingest.ingest_paths(baseline, settings, updates=updates)
    monkeypatch.undo()
    staged = {p.name for p in (settings.data_dir / "staging" / "ingest").iterdir()}
    assert Path(calls[1]).name in staged  # kept for the re-run, which does not parse it again
    with ingest.open_store(settings, read_only=True) as store:
        runs = {r.params["key"]: r.status for r in store.recent_runs(100) if r.kind == "file"}
    assert sorted(runs.values()) == ["failed", "ok"]

    again = scale_ingest.ingest_paths(baseline, settings, updates=updates)
    assert len(again.skipped) == 1 and len(again.applied) == 4
    assert snapshot(settings) == sequential


@pytest.mark.parametrize("name", ["medline/pubmed_result2.txt", "entrez/pubmed2.xml", "beir"])
def test_shards_of_every_format_hold_what_the_store_would_write(
    settings: Settings, tmp_path: Path, name: str
) -> None:
    from litmine.parse import read_file
    from litmine.passages import split_article
    from litmine.store import prepare_article
    from litmine.types import Article

    if name == "beir":
        source = tmp_path / "corpus.jsonl"
        source.write_text(
            '{"_id": "4983", "title": "Microstructural development", "text": "Alterations."}\n'
            '{"_id": "5836", "title": "", "text": "Induction of myelodysplasia."}\n'
        )
    else:
        source = shared_path(*name.split("/"))
    summary = write_shard(str(source), file_key(source), str(tmp_path), _passages(settings))
    records = list(read_file(source))
    expected = [
        prepare_article(r, lambda a: split_article(a, settings.passages))
        for r in records
        if isinstance(r, Article)
    ]
    assert expected and list(read_shard(summary.shard)) == expected
    assert summary.failed == len(records) - len(expected)

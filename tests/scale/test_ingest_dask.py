"""Ingest on a real Dask cluster through real Prefect flow runs equals the sequential ingest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from litmine import ingest
from litmine.config import Settings, load_settings
from litmine.scale import ingest as scale_ingest
from litmine.scale.shards import ShardSummary, file_key, read_shard, write_shard
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
    result = scale_ingest.ingest_paths(
        [baseline[0].parent], dask_settings, updates=[updates[0].parent]
    )
    assert snapshot(dask_settings) == sequential
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

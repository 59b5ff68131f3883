"""PubMed XML parsed in worker processes: same rows as in-process, order, errors, kills."""

from __future__ import annotations

import gzip
import os
import pickle
from pathlib import Path

import pytest

from litmine import ingest
from litmine.config import PassageSettings, Settings, load_settings
from litmine.errors import LitmineError
from litmine.ingest import parallel
from litmine.parse.pubmed_xml import ChunkResult, PubmedChunk, map_pubmed_xml, parse_chunk
from litmine.store import PreparedArticle, Store
from tests.ingest.helpers import (
    CountingProgress,
    StopAfter,
    article_xml,
    big_file,
    recorded_files,
    stored_pmids,
)


def _stored_rows(settings: Settings) -> dict[str, list[tuple[object, ...]]]:
    """Everything ingest writes but timestamps and run bookkeeping, in a stable order."""
    import sqlite3

    queries = {
        "articles": "SELECT id, pmid, version, title, abstract, journal, journal_iso, pub_year, "
        "pub_date, entrez_date, doi, pmc_id, language, has_abstract, is_retracted, source, "
        "content_hash, record FROM articles ORDER BY id",
        "pub_types": "SELECT * FROM article_pub_types ORDER BY 1, 2",
        "mesh": "SELECT * FROM article_mesh ORDER BY 1, 2",
        "chemicals": "SELECT * FROM article_chemicals ORDER BY 1, 2",
        "passages": "SELECT * FROM passages ORDER BY pk",
        "changes": "SELECT * FROM passage_changes ORDER BY seq",
        "articles_fts": "SELECT rowid, * FROM articles_fts ORDER BY rowid",
        "passages_fts": "SELECT rowid, * FROM passages_fts ORDER BY rowid",
        "fts_terms": "SELECT COUNT(*) FROM passages_fts WHERE passages_fts MATCH 'patient*'",
    }
    with Store.open(settings) as store:
        store.sync_passage_fts()  # built on demand: compare the built index
    conn = sqlite3.connect(settings.db_path)
    try:
        return {name: conn.execute(sql).fetchall() for name, sql in queries.items()}
    finally:
        conn.close()


def _small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Many chunks from a small file, the first ones parsed in-process, the rest in workers."""
    monkeypatch.setattr(parallel, "CHUNK_BYTES", 20_000)
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 150_000)  # more than the .gz


def _descendants() -> set[int]:
    """Live descendant processes of this one (Linux), to check workers do not outlive a run.

    Workers are children of multiprocessing's fork server, so the whole tree counts.
    """
    found: set[int] = set()
    todo = [os.getpid()]
    while todo:
        tasks = Path(f"/proc/{todo.pop()}/task")
        if not tasks.is_dir():
            continue
        for task in tasks.iterdir():
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                if child not in found:
                    found.add(child)
                    todo.append(child)
    return found


def _process_helpers_started() -> None:
    """Start multiprocessing's long-lived helpers (fork server, resource tracker) now.

    They outlive every pool by design; starting them before a snapshot of the
    process tree leaves only the workers to tell apart.
    """
    from multiprocessing import resource_tracker

    if parallel._context().get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()
    resource_tracker.ensure_running()


def _chunks_of(path: Path, chunk_bytes: int) -> list[PubmedChunk]:
    chunks: list[PubmedChunk] = []

    def capture(it: object) -> list[ChunkResult]:
        results = []
        for chunk in it:  # type: ignore[attr-defined]
            chunks.append(chunk)
            results.append(parse_chunk(chunk))
        return results

    list(map_pubmed_xml(path, capture, chunk_bytes=chunk_bytes))  # type: ignore[arg-type]
    return chunks


def test_prepare_chunk_is_a_pure_picklable_function(tmp_path: Path) -> None:
    chunks = _chunks_of(big_file(tmp_path, copies=1), 20_000)
    assert len(chunks) > 2
    passages = PassageSettings().model_dump()
    here = [parallel.prepare_chunk(chunk, passages) for chunk in chunks]
    assert here == [parallel.prepare_chunk(chunk, passages) for chunk in chunks]  # no state
    assert pickle.loads(pickle.dumps(parallel.prepare_chunk)) is parallel.prepare_chunk
    prepared = [item for items, _, _ in here for item in items if isinstance(item, PreparedArticle)]
    assert len(prepared) == 8 and all(p.passages for p in prepared[1:])
    with parallel._start_workers(2) as executor:
        there = list(executor.map(parallel.prepare_chunk, chunks, [passages] * len(chunks)))
    assert there == here


@pytest.mark.both_backends
def test_small_files_start_no_worker(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_workers(*args: object) -> None:
        raise AssertionError("a worker was started")

    monkeypatch.setattr(parallel, "_start_workers", no_workers)
    report = ingest.ingest_files(recorded_files(), settings, workers=4)
    assert report.new == 8


def test_worker_processes_store_exactly_what_in_process_parsing_stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _small_chunks(monkeypatch)
    path = big_file(tmp_path)
    # The start of the file is parsed in this process, the rest in workers.
    assert (
        path.stat().st_size < parallel.PARALLEL_MIN_BYTES < len(gzip.decompress(path.read_bytes()))
    )
    reports, rows, progress = [], [], []
    for workers in (0, 2):
        settings = load_settings(data_dir=tmp_path / f"data{workers}", ingest={"commit_every": 7})
        sink = CountingProgress()
        reports.append(ingest.ingest_files([path], settings, progress=sink, workers=workers))
        rows.append(_stored_rows(settings))
        progress.append(sink.seen)
        again = ingest.ingest_files([path], settings, workers=workers)
        # Idempotent; only the article deleted at the end of the file comes and goes.
        assert (again.new, again.updated, again.deleted, again.failed) == (1, 0, 1, 1)
    in_process, in_workers = reports
    assert (in_workers.fetched, in_workers.new, in_workers.updated) == (49, 48, 1)
    assert (in_workers.deleted, in_workers.failed) == (1, 1)
    data = gzip.decompress(path.read_bytes())
    line = data[: data.index(b"<Article/>")].count(b"\n") + 1
    assert in_workers.errors == in_process.errors
    assert f"big.xml.gz line {line}: no PMID" in in_workers.errors[0]
    assert (in_process.fetched, in_process.new, in_process.updated) == (49, 48, 1)
    assert progress[0] == progress[1] == 49
    assert rows[0]["passages"] and rows[0] == rows[1]


def test_parallel_ingest_of_a_truncated_file_keeps_the_complete_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _small_chunks(monkeypatch)
    whole = gzip.decompress(big_file(tmp_path).read_bytes())
    cut = whole.index(b"<PMID", whole.index(b">80000040<") - 200)
    path = big_file(tmp_path, cut=cut)
    results = []
    for workers in (0, 2):
        settings = load_settings(data_dir=tmp_path / f"data{workers}")
        report = ingest.ingest_files([path], settings, workers=workers)
        results.append((report.new, report.failed, report.errors, stored_pmids(settings)))
    assert results[0] == results[1]
    new, failed, errors, pmids = results[1]
    assert (new, failed) == (40, 2)  # the broken record, then the cut
    assert pmids == {str(80000000 + i) for i in range(40)} - {"80000005"}  # deleted
    assert "truncated or malformed XML at line" in errors[-1]


@pytest.mark.both_backends
def test_interrupted_parallel_ingest_resumes_without_gaps_or_duplicates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _small_chunks(monkeypatch)
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 0)  # workers from the first chunk
    path = big_file(tmp_path)
    settings = load_settings(data_dir=tmp_path / "data", ingest={"commit_every": 5})
    _process_helpers_started()
    before = _descendants()
    with pytest.raises(KeyboardInterrupt):
        ingest.ingest_files([path], settings, progress=StopAfter(20), workers=2)
    assert _descendants() == before  # the workers were stopped
    # Three whole commits; the fourth batch was written when the interrupt came
    # (progress counts written records) and is rolled back: nothing half-written.
    assert len(stored_pmids(settings)) == 15
    assert ingest.status(settings).runs[0].status == "interrupted"
    report = ingest.ingest_files([path], settings, workers=2)
    assert (report.new, report.unchanged, report.updated, report.deleted) == (33, 15, 1, 1)
    assert len(stored_pmids(settings)) == 47
    with ingest.open_store(settings) as store:
        counts = store.counts()
        assert counts.passages == sum(len(store.passages_for(p)) for p in stored_pmids(settings))
        added = [c.passage_id for c in store.passage_changes_since(0) if c.op == "add"]
        assert len(added) == len(set(added))  # no passage written twice
    assert _descendants() == before


def test_dead_worker_is_an_error_not_a_hang(tmp_path: Path) -> None:
    # Enough chunks that some are still unsent when the worker dies: with only
    # a few, a loaded machine's worker may finish them all before the kill.
    path = big_file(tmp_path, copies=6)
    _process_helpers_started()
    before = _descendants()
    with parallel.ChunkPool(1, PassageSettings(), start_at=0) as pool:
        records = map_pubmed_xml(path, pool, chunk_bytes=5_000)
        next(records)
        assert pool._executor is not None
        workers = list(pool._executor._processes.values())
        assert workers
        for worker in workers:
            worker.kill()
        with pytest.raises(LitmineError, match="parse worker process stopped"):
            list(records)
    assert _descendants() == before


def test_worker_error_reaches_the_caller_and_stops_the_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A chunk that cannot be pickled fails in the pool, not silently.
    path = big_file(tmp_path, copies=1)
    _process_helpers_started()
    before = _descendants()

    def bad_prepare(chunk: PubmedChunk, passages: object) -> ChunkResult:
        return parallel.prepare_chunk(chunk, passages)  # type: ignore[arg-type]

    monkeypatch.setattr(parallel, "prepare_chunk", bad_prepare)  # a local: not picklable
    with (
        pytest.raises((AttributeError, pickle.PicklingError)),
        parallel.ChunkPool(1, PassageSettings(), start_at=0) as pool,
    ):
        list(map_pubmed_xml(path, pool, chunk_bytes=5_000))
    assert _descendants() == before


@pytest.mark.both_backends
def test_a_deletion_in_a_worker_chunk_applies_after_the_articles_before_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parallel, "CHUNK_BYTES", 400)
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 0)
    body = "".join(article_xml(str(i), 1, f"T{i}") for i in range(1, 30))
    body += "<DeleteCitation><PMID>3</PMID></DeleteCitation>" + article_xml("3", 2, "Back")
    path = tmp_path / "order.xml"
    path.write_text(f'<?xml version="1.0"?>\n<PubmedArticleSet>\n{body}\n</PubmedArticleSet>\n')
    settings = load_settings(data_dir=tmp_path / "data")
    report = ingest.ingest_files([path], settings, workers=2)
    assert (report.new, report.deleted) == (30, 1)
    assert len(stored_pmids(settings)) == 29
    with ingest.open_store(settings) as store:
        article = store.get_article("3")
        assert article is not None and article.title == "Back"

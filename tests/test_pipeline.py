"""End-to-end ingestion through the library: real files, real store, replayed Entrez."""

from __future__ import annotations

import datetime as dt
import gc
import gzip
from pathlib import Path
from typing import Any

import pytest

from litmine import pipeline
from litmine.config import Settings, load_settings
from litmine.errors import EntrezUnavailableError, InputError, LitmineError
from litmine.store import Store
from tests.conftest import shared_path
from tests.entrez_replay import (
    DEFAULT_ARTICLE_FILES,
    Corpus,
    EntrezReplay,
    Fault,
    closed_port_url,
)

RECORDED_PMIDS = {
    "12091962",
    "9997",
    "11748933",
    "11700088",
    "27797938",
    "28775130",
    "30108519",
    "29963580",
}


def recorded_files() -> list[Path]:
    return [shared_path("entrez", name) for name in DEFAULT_ARTICLE_FILES]


def stored_pmids(settings: Settings) -> set[str]:
    with pipeline.open_store(settings, read_only=True) as store:
        return {a.pmid for a in store.iter_articles()}


def test_ingest_pauses_the_cyclic_collector_and_restores_it(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[bool] = []
    real = pipeline.store_records

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(gc.isenabled())
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "store_records", spy)
    assert gc.isenabled()
    pipeline.ingest_files(recorded_files()[:1], settings)
    assert seen == [False] and gc.isenabled()
    gc.disable()
    try:
        pipeline.ingest_files(recorded_files()[:1], settings)
        assert not gc.isenabled()  # a caller's choice is kept
    finally:
        gc.enable()


def test_articles_are_written_in_small_batches_and_committed_every_n(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "_WRITE_EVERY", 3)
    settings = load_settings(data_dir=tmp_path / "data", ingest={"commit_every": 7})
    writes: list[int] = []
    commits: list[int] = []
    real_upsert = Store.upsert_articles

    def upsert(self: Store, articles: Any, **kwargs: Any) -> Any:
        writes.append(len(articles))
        return real_upsert(self, articles, **kwargs)

    def committed(self: Store) -> int:
        with Store(self.path, read_only=True) as reader:  # sees committed rows only
            return reader.counts().articles

    monkeypatch.setattr(Store, "upsert_articles", upsert)
    real_commit = pipeline._Transaction.commit

    def commit(self: Any) -> None:
        real_commit(self)
        commits.append(committed(self._store))

    monkeypatch.setattr(pipeline._Transaction, "commit", commit)
    report = pipeline.ingest_files([_big_file(tmp_path)], settings, workers=0)
    assert report.new == 48
    assert writes[:3] == [3, 3, 1] and max(writes) == 3
    assert commits[:3] == [7, 14, 21]  # nothing is committed between them


def test_ingest_recorded_files_then_reingest_is_idempotent(settings: Settings) -> None:
    first = pipeline.ingest_files(recorded_files(), settings)
    assert (first.fetched, first.new, first.updated, first.failed) == (8, 8, 0, 0)
    assert stored_pmids(settings) == RECORDED_PMIDS
    with pipeline.open_store(settings) as store:
        passages_before = store.counts().passages
        assert passages_before > 0
    again = pipeline.ingest_files(recorded_files(), settings)
    assert (again.new, again.updated, again.unchanged) == (0, 0, 8)
    report = pipeline.status(settings)
    assert report.counts.articles == 8
    assert report.counts.passages == passages_before
    assert report.counts.articles_without_abstract == 1  # PMID 12091962
    assert [r.status for r in report.runs[:2]] == ["ok", "ok"]


def test_gzip_medline_and_beir_files(settings: Settings, tmp_path: Path) -> None:
    gz = tmp_path / "pubmed25n0001.xml.gz"
    with gzip.open(gz, "wb") as fh:
        fh.write(shared_path("entrez", "pubmed2.xml").read_bytes())
    medline = shared_path("medline", "pubmed_result2.txt")
    beir = tmp_path / "corpus.jsonl"
    beir.write_text(
        '{"_id": "doc-1", "title": "Aspirin and stroke", "text": "Aspirin lowers risk."}\n'
        '{"_id": "4242", "title": "Statins", "text": "Statins lower LDL cholesterol."}\n',
        encoding="utf-8",
    )
    report = pipeline.ingest_files([gz, medline, beir], settings)
    assert report.new == 2 + 4 + 2
    assert {"11748933", "11700088", "doc-1", "4242"} <= stored_pmids(settings)


def _update_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "update.xml"
    path.write_text(f'<?xml version="1.0"?>\n<PubmedArticleSet>{body}</PubmedArticleSet>\n')
    return path


def _article_xml(pmid: str, version: int, title: str) -> str:
    return (
        f'<PubmedArticle><MedlineCitation Status="MEDLINE" Owner="NLM">'
        f'<PMID Version="{version}">{pmid}</PMID><Article><Journal><Title>J</Title></Journal>'
        f"<ArticleTitle>{title}</ArticleTitle><Abstract><AbstractText>{title} body text."
        f"</AbstractText></Abstract></Article></MedlineCitation></PubmedArticle>"
    )


def test_version_replacement_and_delete_citation(settings: Settings, tmp_path: Path) -> None:
    pipeline.ingest_files([_update_file(tmp_path, _article_xml("555", 1, "Old title"))], settings)
    report = pipeline.ingest_files(
        [_update_file(tmp_path, _article_xml("555", 2, "New title"))], settings
    )
    assert report.updated == 1
    with pipeline.open_store(settings) as store:
        article = store.get_article("555")
        assert article is not None and (article.version, article.title) == (2, "New title")
        assert [p.text for p in store.passages_for("555")] == ["New title body text."]
    deletion = _update_file(
        tmp_path, "<DeleteCitation><PMID Version='1'>555</PMID></DeleteCitation>"
    )
    assert pipeline.ingest_files([deletion], settings).deleted == 1
    assert "555" not in stored_pmids(settings)
    with pipeline.open_store(settings) as store:
        assert store.counts().passages == 0


def test_malformed_record_is_reported_and_the_rest_ingests(
    settings: Settings, tmp_path: Path
) -> None:
    broken = "<PubmedArticle><MedlineCitation><Article/></MedlineCitation></PubmedArticle>"
    path = _update_file(tmp_path, _article_xml("1", 1, "A") + broken + _article_xml("2", 1, "B"))
    report = pipeline.ingest_files([path], settings)
    assert (report.new, report.failed) == (2, 1)
    assert report.errors and "PMID" in report.errors[0]


def test_truncated_file_keeps_the_complete_records(settings: Settings, tmp_path: Path) -> None:
    whole = _article_xml("1", 1, "A") + _article_xml("2", 1, "B") + _article_xml("3", 1, "C")
    text = f"<PubmedArticleSet>{whole}</PubmedArticleSet>"
    path = tmp_path / "cut.xml"
    path.write_text(text[: text.index("<PMID", text.index(">3<") - 40)])
    report = pipeline.ingest_files([path], settings)
    assert report.new == 2
    assert report.failed == 1
    assert stored_pmids(settings) == {"1", "2"}


def test_missing_or_unknown_files_fail_before_writing(settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        pipeline.ingest_files([tmp_path / "nope.xml"], settings)
    odd = tmp_path / "notes.txt"
    odd.write_text("hello world\n")
    with pytest.raises(InputError):
        pipeline.ingest_files([odd], settings)
    assert not settings.db_path.exists() or stored_pmids(settings) == set()


class StopAfter:
    """Progress sink that interrupts the run after ``limit`` committed records."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.seen = 0

    def total(self, n: int | None) -> None:
        pass

    def advance(self, n: int) -> None:
        self.seen += n
        if self.seen >= self.limit:
            raise KeyboardInterrupt


def _replay_settings(
    replay: EntrezReplay, monkeypatch: pytest.MonkeyPatch, **entrez: object
) -> Settings:
    for key, value in replay.env().items():
        monkeypatch.setenv(key, value)
    return load_settings(entrez={k: v for k, v in entrez.items()})


def test_query_ingest_through_replayed_entrez(
    entrez_replay: EntrezReplay, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = entrez_replay.use_corpus(Corpus.spread(60, dt.date(2024, 3, 1), dt.date(2024, 3, 10)))
    settings = _replay_settings(entrez_replay, monkeypatch, batch_size=25)
    report = pipeline.ingest_query(
        "asthma", settings, since=dt.date(2024, 3, 1), until=dt.date(2024, 3, 10)
    )
    assert (report.fetched, report.new, report.failed) == (60, 60, 0)
    assert stored_pmids(settings) == {str(pmid) for _, pmid in corpus.records}
    efetches = entrez_replay.requests_for("efetch")
    assert [int(r.params["retstart"]) for r in efetches] == [0, 25, 50]


def test_max_records_is_honoured(
    entrez_replay: EntrezReplay, monkeypatch: pytest.MonkeyPatch
) -> None:
    entrez_replay.use_corpus(Corpus.spread(60, dt.date(2024, 3, 1), dt.date(2024, 3, 10)))
    settings = _replay_settings(entrez_replay, monkeypatch, batch_size=25)
    report = pipeline.ingest_query(
        "asthma", settings, since=dt.date(2024, 3, 1), until=dt.date(2024, 3, 10), max_records=30
    )
    assert report.fetched == 30
    assert len(stored_pmids(settings)) == 30


def test_saved_query_resumes_after_interruption_without_gaps_or_duplicates(
    entrez_replay: EntrezReplay, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = entrez_replay.use_corpus(Corpus.spread(150, dt.date(2024, 1, 1), dt.date(2024, 1, 30)))
    # Small windows and batches so the run spans several commits and watermarks.
    settings = _replay_settings(entrez_replay, monkeypatch, batch_size=20, search_window=40)
    saved = pipeline.add_saved_query("asthma", settings)
    until = dt.date(2024, 2, 15)
    with pytest.raises(KeyboardInterrupt):
        pipeline.run_saved_query(saved.id, settings, until=until, progress=StopAfter(70))
    partial = stored_pmids(settings)
    assert 0 < len(partial) < 150
    mark = pipeline.get_saved_query(saved.id, settings).watermark
    assert mark is not None and mark < until
    runs = pipeline.status(settings).runs
    assert runs[0].status == "interrupted"

    report = pipeline.run_saved_query(saved.id, settings, until=until)
    assert report.failed == 0
    assert stored_pmids(settings) == {str(pmid) for _, pmid in corpus.records}
    with pipeline.open_store(settings) as store:
        counts = store.counts()
        expected_passages = sum(len(store.passages_for(p)) for p in stored_pmids(settings))
    assert counts.articles == 150
    assert counts.passages == expected_passages
    assert pipeline.get_saved_query(saved.id, settings).watermark == until
    # The second run started from the watermark (minus the overlap), not from scratch.
    second = [r for r in entrez_replay.requests_for("esearch") if r.params.get("mindate")]
    assert second[-1].params["mindate"] >= (mark - dt.timedelta(days=2)).strftime("%Y/%m/%d")


def test_transient_faults_do_not_lose_records(
    entrez_replay: EntrezReplay, monkeypatch: pytest.MonkeyPatch
) -> None:
    entrez_replay.use_corpus(Corpus.spread(40, dt.date(2024, 5, 1), dt.date(2024, 5, 3)))
    settings = _replay_settings(entrez_replay, monkeypatch, batch_size=20)
    entrez_replay.fail("efetch", Fault.rate_limited(0))
    entrez_replay.fail("efetch", Fault.truncated())
    entrez_replay.fail("efetch", Fault.html())
    entrez_replay.fail("esearch", Fault.http(503))
    report = pipeline.ingest_query(
        "x", settings, since=dt.date(2024, 5, 1), until=dt.date(2024, 5, 3)
    )
    assert (report.new, report.failed) == (40, 0)


def test_unreachable_entrez_points_to_files(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LITMINE_EUTILS_URL", closed_port_url())
    monkeypatch.setenv("LITMINE_ENTREZ_MAX_RETRIES", "1")
    monkeypatch.setenv("LITMINE_ENTREZ_BACKOFF_BASE", "0")
    with pytest.raises(EntrezUnavailableError) as info:
        pipeline.ingest_query("asthma", load_settings())
    assert "ingest --file" in info.value.one_line()


def test_saved_query_validation(settings: Settings) -> None:
    with pytest.raises(InputError):
        pipeline.add_saved_query("   ", settings)
    with pytest.raises(InputError, match="cron"):
        pipeline.add_saved_query("asthma", settings, cron="every night")
    first = pipeline.add_saved_query("asthma", settings)
    assert pipeline.add_saved_query("asthma", settings).id == first.id
    assert pipeline.remove_saved_query(first.id, settings)
    with pytest.raises(InputError, match="no saved query"):
        pipeline.get_saved_query(first.id, settings)


# --------------------------------------------------------------------------- parse workers


def _recorded_records() -> list[bytes]:
    records = []
    for path in recorded_files():
        data = path.read_bytes()
        start = data.find(b"<PubmedArticle>")
        while start >= 0:
            end = data.index(b"</PubmedArticle>", start) + len(b"</PubmedArticle>")
            records.append(data[start:end])
            start = data.find(b"<PubmedArticle>", end)
    return records


def _big_file(tmp_path: Path, copies: int = 6, *, cut: int | None = None) -> Path:
    """The recorded articles again and again with fresh PMIDs, gzipped, plus odd records."""
    parts = [b'<?xml version="1.0" ?>\n<PubmedArticleSet>\n']
    for i, record in enumerate(_recorded_records() * copies):
        pmid = record[record.index(b"<PMID") :].split(b">", 1)[1].split(b"<", 1)[0]
        parts.append(record.replace(b">" + pmid + b"<", b">%d<" % (80000000 + i)) + b"\n")
        if i == 7:
            broken = "<PubmedArticle><MedlineCitation><Article/></MedlineCitation></PubmedArticle>"
            parts.append(broken.encode() + b"\n")
        if i == 20:
            parts.append(_article_xml("80000002", 2, "A newer version").encode() + b"\n")
        if i == 30:
            parts.append(b"<DeleteCitation><PMID>80000005</PMID></DeleteCitation>\n")
    parts.append(b"</PubmedArticleSet>\n")
    data = b"".join(parts)
    path = tmp_path / "big.xml.gz"
    path.write_bytes(gzip.compress(data if cut is None else data[:cut]))
    return path


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
    monkeypatch.setattr(pipeline, "_CHUNK_BYTES", 20_000)
    monkeypatch.setattr(pipeline, "_PARALLEL_MIN_BYTES", 150_000)  # more than the .gz


def _child_processes() -> set[str]:
    """Live child processes of this one (Linux), to check workers do not outlive a run."""
    tasks = Path("/proc/self/task")
    if not tasks.is_dir():
        return set()
    return {pid for task in tasks.iterdir() for pid in (task / "children").read_text().split()}


class CountingProgress:
    def __init__(self) -> None:
        self.seen = 0

    def total(self, n: int | None) -> None:
        pass

    def advance(self, n: int) -> None:
        self.seen += n


def test_small_files_start_no_worker(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_workers(*args: object) -> None:
        raise AssertionError("a worker was started")

    monkeypatch.setattr(pipeline, "_Worker", no_workers)
    report = pipeline.ingest_files(recorded_files(), settings, workers=4)
    assert report.new == 8


def test_worker_processes_store_exactly_what_in_process_parsing_stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _small_chunks(monkeypatch)
    path = _big_file(tmp_path)
    # The start of the file is parsed in this process, the rest in workers.
    assert (
        path.stat().st_size < pipeline._PARALLEL_MIN_BYTES < len(gzip.decompress(path.read_bytes()))
    )
    reports, rows, progress = [], [], []
    for workers in (0, 2):
        settings = load_settings(data_dir=tmp_path / f"data{workers}", ingest={"commit_every": 7})
        sink = CountingProgress()
        reports.append(pipeline.ingest_files([path], settings, progress=sink, workers=workers))
        rows.append(_stored_rows(settings))
        progress.append(sink.seen)
        again = pipeline.ingest_files([path], settings, workers=workers)
        # Idempotent; only the article deleted at the end of the file comes and goes.
        assert (again.new, again.updated, again.deleted, again.failed) == (1, 0, 1, 1)
    in_process, parallel = reports
    assert (parallel.fetched, parallel.new, parallel.updated) == (49, 48, 1)
    assert (parallel.deleted, parallel.failed) == (1, 1)
    data = gzip.decompress(path.read_bytes())
    line = data[: data.index(b"<Article/>")].count(b"\n") + 1
    assert parallel.errors == in_process.errors
    assert f"big.xml.gz line {line}: no PMID" in parallel.errors[0]
    assert (in_process.fetched, in_process.new, in_process.updated) == (49, 48, 1)
    assert progress[0] == progress[1] == 49
    assert rows[0]["passages"] and rows[0] == rows[1]


def test_parallel_ingest_of_a_truncated_file_keeps_the_complete_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _small_chunks(monkeypatch)
    whole = gzip.decompress(_big_file(tmp_path).read_bytes())
    cut = whole.index(b"<PMID", whole.index(b">80000040<") - 200)
    path = _big_file(tmp_path, cut=cut)
    results = []
    for workers in (0, 2):
        settings = load_settings(data_dir=tmp_path / f"data{workers}")
        report = pipeline.ingest_files([path], settings, workers=workers)
        results.append((report.new, report.failed, report.errors, stored_pmids(settings)))
    assert results[0] == results[1]
    new, failed, errors, pmids = results[1]
    assert (new, failed) == (40, 2)  # the broken record, then the cut
    assert pmids == {str(80000000 + i) for i in range(40)} - {"80000005"}  # deleted
    assert "truncated or malformed XML at line" in errors[-1]


def test_interrupted_parallel_ingest_resumes_without_gaps_or_duplicates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _small_chunks(monkeypatch)
    path = _big_file(tmp_path)
    settings = load_settings(data_dir=tmp_path / "data", ingest={"commit_every": 5})
    before = _child_processes()
    with pytest.raises(KeyboardInterrupt):
        pipeline.ingest_files([path], settings, progress=StopAfter(20), workers=2)
    assert _child_processes() == before  # the workers were stopped
    # Three whole commits; the fourth batch was written when the interrupt came
    # (progress counts written records) and is rolled back: nothing half-written.
    assert len(stored_pmids(settings)) == 15
    assert pipeline.status(settings).runs[0].status == "interrupted"
    report = pipeline.ingest_files([path], settings, workers=2)
    assert (report.new, report.unchanged, report.updated, report.deleted) == (33, 15, 1, 1)
    assert len(stored_pmids(settings)) == 47
    with pipeline.open_store(settings) as store:
        counts = store.counts()
        assert counts.passages == sum(len(store.passages_for(p)) for p in stored_pmids(settings))
        added = [c.passage_id for c in store.passage_changes_since(0) if c.op == "add"]
        assert len(added) == len(set(added))  # no passage written twice


def test_dead_worker_is_an_error_not_a_hang(tmp_path: Path) -> None:
    from litmine.config import PassageSettings

    path = _big_file(tmp_path, copies=2)
    with pipeline._ChunkPool(1, PassageSettings(), start_at=0) as pool:
        from litmine.parse.pubmed_xml import map_pubmed_xml

        records = map_pubmed_xml(path, pool, chunk_bytes=5_000)
        next(records)
        for worker in pool._workers:
            worker._proc.kill()
        with pytest.raises(LitmineError, match="parse worker process stopped"):
            list(records)

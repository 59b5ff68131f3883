"""Ingest of local files: formats, batches and commits, updates, deletions, bad input."""

from __future__ import annotations

import gc
import gzip
from pathlib import Path
from typing import Any

import pytest

from litmine import ingest
from litmine.config import Settings, load_settings
from litmine.errors import InputError
from litmine.ingest import files, writer
from litmine.store import Store
from tests.conftest import shared_path
from tests.ingest.helpers import (
    RECORDED_PMIDS,
    article_xml,
    big_file,
    recorded_files,
    stored_pmids,
    update_file,
)

pytestmark = pytest.mark.both_backends  # its tests using `settings`: SQLite and PostgreSQL


def test_ingest_pauses_the_cyclic_collector_and_restores_it(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[bool] = []
    real = files.store_records

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(gc.isenabled())
        return real(*args, **kwargs)

    monkeypatch.setattr(files, "store_records", spy)
    assert gc.isenabled()
    ingest.ingest_files(recorded_files()[:1], settings)
    assert seen == [False] and gc.isenabled()
    gc.disable()
    try:
        ingest.ingest_files(recorded_files()[:1], settings)
        assert not gc.isenabled()  # a caller's choice is kept
    finally:
        gc.enable()


def test_articles_are_written_in_small_batches_and_committed_every_n(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer, "_WRITE_EVERY", 3)
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
    real_commit = writer._Transaction.commit

    def commit(self: Any) -> None:
        real_commit(self)
        commits.append(committed(self._store))

    monkeypatch.setattr(writer._Transaction, "commit", commit)
    report = ingest.ingest_files([big_file(tmp_path)], settings, workers=0)
    assert report.new == 48
    assert writes[:3] == [3, 3, 1] and max(writes) == 3
    assert commits[:3] == [7, 14, 21]  # nothing is committed between them


def test_ingest_recorded_files_then_reingest_is_idempotent(settings: Settings) -> None:
    first = ingest.ingest_files(recorded_files(), settings)
    assert (first.fetched, first.new, first.updated, first.failed) == (8, 8, 0, 0)
    assert stored_pmids(settings) == RECORDED_PMIDS
    with ingest.open_store(settings) as store:
        passages_before = store.counts().passages
        assert passages_before > 0
    again = ingest.ingest_files(recorded_files(), settings)
    assert (again.new, again.updated, again.unchanged) == (0, 0, 8)
    report = ingest.status(settings)
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
    report = ingest.ingest_files([gz, medline, beir], settings)
    assert report.new == 2 + 4 + 2
    assert {"11748933", "11700088", "doc-1", "4242"} <= stored_pmids(settings)


def test_version_replacement_and_delete_citation(settings: Settings, tmp_path: Path) -> None:
    ingest.ingest_files([update_file(tmp_path, article_xml("555", 1, "Old title"))], settings)
    report = ingest.ingest_files(
        [update_file(tmp_path, article_xml("555", 2, "New title"))], settings
    )
    assert report.updated == 1
    with ingest.open_store(settings) as store:
        article = store.get_article("555")
        assert article is not None and (article.version, article.title) == (2, "New title")
        assert [p.text for p in store.passages_for("555")] == ["New title body text."]
    deletion = update_file(
        tmp_path, "<DeleteCitation><PMID Version='1'>555</PMID></DeleteCitation>"
    )
    assert ingest.ingest_files([deletion], settings).deleted == 1
    assert "555" not in stored_pmids(settings)
    with ingest.open_store(settings) as store:
        assert store.counts().passages == 0


def test_malformed_record_is_reported_and_the_rest_ingests(
    settings: Settings, tmp_path: Path
) -> None:
    broken = "<PubmedArticle><MedlineCitation><Article/></MedlineCitation></PubmedArticle>"
    path = update_file(tmp_path, article_xml("1", 1, "A") + broken + article_xml("2", 1, "B"))
    report = ingest.ingest_files([path], settings)
    assert (report.new, report.failed) == (2, 1)
    assert report.errors and "PMID" in report.errors[0]


def test_truncated_file_keeps_the_complete_records(settings: Settings, tmp_path: Path) -> None:
    whole = article_xml("1", 1, "A") + article_xml("2", 1, "B") + article_xml("3", 1, "C")
    text = f"<PubmedArticleSet>{whole}</PubmedArticleSet>"
    path = tmp_path / "cut.xml"
    path.write_text(text[: text.index("<PMID", text.index(">3<") - 40)])
    report = ingest.ingest_files([path], settings)
    assert report.new == 2
    assert report.failed == 1
    assert stored_pmids(settings) == {"1", "2"}


def test_missing_or_unknown_files_fail_before_writing(settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        ingest.ingest_files([tmp_path / "nope.xml"], settings)
    odd = tmp_path / "notes.txt"
    odd.write_text("hello world\n")
    with pytest.raises(InputError):
        ingest.ingest_files([odd], settings)
    assert not settings.db_path.exists() or stored_pmids(settings) == set()

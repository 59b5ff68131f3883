"""Ingest of a query through replayed Entrez: windows, limits, faults, no network."""

from __future__ import annotations

import datetime as dt

import pytest

from litmine import ingest
from litmine.config import Settings, load_settings
from litmine.errors import EntrezUnavailableError
from tests.entrez_replay import Corpus, EntrezReplay, Fault, closed_port_url
from tests.ingest.helpers import replay_settings, stored_pmids


@pytest.mark.both_backends
def test_query_ingest_through_replayed_entrez(
    entrez_replay: EntrezReplay, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = entrez_replay.use_corpus(Corpus.spread(60, dt.date(2024, 3, 1), dt.date(2024, 3, 10)))
    settings = replay_settings(entrez_replay, monkeypatch, batch_size=25)
    report = ingest.ingest_query(
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
    settings = replay_settings(entrez_replay, monkeypatch, batch_size=25)
    report = ingest.ingest_query(
        "asthma", settings, since=dt.date(2024, 3, 1), until=dt.date(2024, 3, 10), max_records=30
    )
    assert report.fetched == 30
    assert len(stored_pmids(settings)) == 30


def test_transient_faults_do_not_lose_records(
    entrez_replay: EntrezReplay, monkeypatch: pytest.MonkeyPatch
) -> None:
    entrez_replay.use_corpus(Corpus.spread(40, dt.date(2024, 5, 1), dt.date(2024, 5, 3)))
    settings = replay_settings(entrez_replay, monkeypatch, batch_size=20)
    entrez_replay.fail("efetch", Fault.rate_limited(0))
    entrez_replay.fail("efetch", Fault.truncated())
    entrez_replay.fail("efetch", Fault.html())
    entrez_replay.fail("esearch", Fault.http(503))
    report = ingest.ingest_query(
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
        ingest.ingest_query("asthma", load_settings())
    assert "ingest --file" in info.value.one_line()

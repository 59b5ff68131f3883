"""Saved queries: validation (cron included), and an interrupted run resuming cleanly."""

from __future__ import annotations

import datetime as dt

import pytest

from litmine import ingest
from litmine.config import Settings
from litmine.errors import InputError
from tests.entrez_replay import Corpus, EntrezReplay
from tests.ingest.helpers import StopAfter, replay_settings, stored_pmids


@pytest.mark.both_backends
def test_saved_query_resumes_after_interruption_without_gaps_or_duplicates(
    entrez_replay: EntrezReplay, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = entrez_replay.use_corpus(Corpus.spread(150, dt.date(2024, 1, 1), dt.date(2024, 1, 30)))
    # Small windows and batches so the run spans several commits and watermarks.
    settings = replay_settings(entrez_replay, monkeypatch, batch_size=20, search_window=40)
    saved = ingest.add_saved_query("asthma", settings)
    until = dt.date(2024, 2, 15)
    with pytest.raises(KeyboardInterrupt):
        ingest.run_saved_query(saved.id, settings, until=until, progress=StopAfter(70))
    partial = stored_pmids(settings)
    assert 0 < len(partial) < 150
    mark = ingest.get_saved_query(saved.id, settings).watermark
    assert mark is not None and mark < until
    runs = ingest.status(settings).runs
    assert runs[0].status == "interrupted"

    report = ingest.run_saved_query(saved.id, settings, until=until)
    assert report.failed == 0
    assert stored_pmids(settings) == {str(pmid) for _, pmid in corpus.records}
    with ingest.open_store(settings) as store:
        counts = store.counts()
        expected_passages = sum(len(store.passages_for(p)) for p in stored_pmids(settings))
    assert counts.articles == 150
    assert counts.passages == expected_passages
    assert ingest.get_saved_query(saved.id, settings).watermark == until
    # The second run started from the watermark (minus the overlap), not from scratch.
    second = [r for r in entrez_replay.requests_for("esearch") if r.params.get("mindate")]
    assert second[-1].params["mindate"] >= (mark - dt.timedelta(days=2)).strftime("%Y/%m/%d")


@pytest.mark.both_backends
def test_saved_query_validation(settings: Settings) -> None:
    with pytest.raises(InputError):
        ingest.add_saved_query("   ", settings)
    with pytest.raises(InputError, match="cron"):
        ingest.add_saved_query("asthma", settings, cron="every night")
    first = ingest.add_saved_query("asthma", settings)
    assert first.cron == settings.ingest.default_cron
    assert ingest.add_saved_query("asthma", settings).id == first.id
    assert ingest.remove_saved_query(first.id, settings)
    with pytest.raises(InputError, match="no saved query"):
        ingest.get_saved_query(first.id, settings)


@pytest.mark.parametrize("cron", ["0 2 * * *", "*/15 6-18 * * MON-FRI", "30 3 1,15 * *"])
def test_valid_cron_expressions_are_accepted(cron: str, settings: Settings) -> None:
    ingest.check_cron(cron)
    assert ingest.add_saved_query("asthma", settings, cron=cron).cron == cron


@pytest.mark.parametrize(
    ("cron", "why"),
    [
        ("every night", "expected 5 fields"),
        ("0 2 * *", "expected 5 fields"),
        ("0 2 * * * *", "expected 5 fields"),  # a seconds field Prefect would misread
        ("61 2 * * *", "minute"),  # five fields, but no minute 61
        ("0 25 * * *", "hour"),
        ("0 2 * * FUNDAY", "day"),
        ("0 2 */0 * *", "invalid cron"),
    ],
)
def test_invalid_cron_expressions_are_rejected(cron: str, why: str, settings: Settings) -> None:
    with pytest.raises(InputError, match=why) as info:
        ingest.add_saved_query("asthma", settings, cron=cron)
    assert "--cron" in info.value.one_line()
    assert ingest.list_saved_queries(settings) == []

"""Real Prefect flow runs (prefect_test_harness) over replayed Entrez."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from prefect.testing.utilities import prefect_test_harness

from flows.nightly import nightly_ingest
from litmine import ingest
from litmine.config import Settings, load_settings
from tests.entrez_replay import Corpus, EntrezReplay, Fault


@pytest.fixture(scope="module", autouse=True)
def prefect_harness() -> Iterator[None]:
    with prefect_test_harness(server_startup_timeout=120):
        yield


def _settings(replay: EntrezReplay, monkeypatch: pytest.MonkeyPatch, **entrez: object) -> Settings:
    for key, value in replay.env().items():
        monkeypatch.setenv(key, value)
    for key, value in entrez.items():
        monkeypatch.setenv(f"LITMINE_ENTREZ_{key.upper()}", str(value))
    return load_settings()


def test_nightly_flow_ingests_and_advances_watermark(
    entrez_replay: EntrezReplay, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = entrez_replay.use_corpus(Corpus.spread(80, dt.date(2024, 2, 1), dt.date(2024, 2, 20)))
    settings = _settings(entrez_replay, monkeypatch, batch_size=25, search_window=50)
    saved = ingest.add_saved_query("heart failure", settings)
    until = dt.date(2024, 2, 25)

    state = nightly_ingest(
        query=saved.id, data_dir=str(settings.data_dir), until=until, return_state=True
    )
    assert state.is_completed()
    reports = state.result()
    assert reports["heart failure"] == "fetched 80 / new 80 / updated 0 / deleted 0 / failed 0"
    assert ingest.get_saved_query(saved.id, settings).watermark == until
    status = ingest.status(settings)
    assert status.counts.articles == len(corpus)
    # The entity and embedding stages ran on what was ingested.
    with_text = status.counts.articles - status.counts.articles_without_abstract
    assert 0 < with_text < 80  # the replayed records include the one without abstract
    assert reports["entities"] == f"processed {with_text} articles"
    assert status.counts.entities > 0
    assert reports["index"].startswith(f"index built: {status.counts.passages} vectors")
    assert status.vectors == status.counts.passages
    assert status.runs[0].kind == "nightly" and status.runs[0].status == "ok"

    # The next night starts from the watermark minus the overlap and finds nothing new.
    entrez_replay.clear()
    again = nightly_ingest(query=saved.id, data_dir=str(settings.data_dir), until=until)
    assert again["heart failure"].startswith("fetched 0 / new 0")
    assert again["entities"] == "processed 0 articles"
    assert "added 0, removed 0" in again["index"]
    mindates = {r.params.get("mindate") for r in entrez_replay.requests_for("esearch")}
    assert mindates == {"2024/02/23"}


def test_network_failure_is_retried_in_one_layer_only(
    entrez_replay: EntrezReplay, monkeypatch: pytest.MonkeyPatch
) -> None:
    entrez_replay.use_corpus(Corpus.spread(10, dt.date(2024, 2, 1), dt.date(2024, 2, 2)))
    settings = _settings(entrez_replay, monkeypatch, max_retries=2)
    saved = ingest.add_saved_query("copd", settings)
    entrez_replay.fail("efetch", Fault.http(500), times=50)

    state = nightly_ingest(
        query=saved.id,
        data_dir=str(settings.data_dir),
        until=dt.date(2024, 2, 3),
        return_state=True,
    )
    assert state.is_failed()
    # The gateway tried 1 + max_retries times; Prefect did not multiply that.
    assert len(entrez_replay.requests_for("efetch")) == 3
    assert ingest.get_saved_query(saved.id, settings).watermark is None
    assert ingest.status(settings).runs[0].status == "failed"

"""Saved queries: add, look up, list, remove, and run one from its watermark."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from litmine.errors import InputError
from litmine.ingest.entrez import ingest_query
from litmine.ingest.writer import Progress, open_store
from litmine.types import IngestReport

if TYPE_CHECKING:
    from litmine.config import Settings
    from litmine.store import SavedQuery


def incremental_since(saved: SavedQuery, settings: Settings) -> dt.date | None:
    """First Entrez date of a saved query's next run: watermark minus the overlap."""
    if saved.watermark is None:
        return None
    return saved.watermark - dt.timedelta(days=settings.ingest.overlap_days)


def run_saved_query(
    query_or_id: str | int,
    settings: Settings,
    *,
    until: dt.date | None = None,
    progress: Progress | None = None,
) -> IngestReport:
    """Run one saved query incrementally from its watermark to ``until`` (today)."""
    saved = get_saved_query(query_or_id, settings)
    return ingest_query(
        saved.query,
        settings,
        since=incremental_since(saved, settings),
        until=until,
        saved_query_id=saved.id,
        progress=progress,
    )


def get_saved_query(query_or_id: str | int, settings: Settings) -> SavedQuery:
    """Look a saved query up by text or id, or raise :class:`InputError`."""
    with open_store(settings) as store:
        saved = store.get_query(query_or_id)
    if saved is None:
        raise InputError(
            f"no saved query {query_or_id!r}", 'add it with `litmine schedule add "QUERY"`'
        )
    return saved


def add_saved_query(query: str, settings: Settings, *, cron: str | None = None) -> SavedQuery:
    """Save a query for the nightly incremental flow."""
    if not query.strip():
        raise InputError("the query is empty", "give the PubMed query to save")
    cron = cron or settings.ingest.default_cron
    check_cron(cron)
    with open_store(settings) as store:
        return store.add_query(query.strip(), cron)


_CRON_HINT = 'use e.g. --cron "0 2 * * *" (minute hour day month weekday)'


def check_cron(cron: str) -> None:
    """Raise :class:`InputError` unless ``cron`` is a valid five-field cron expression.

    Parsed by ``cronsim`` (what Prefect's scheduling stack installs), so
    out-of-range values, bad names and malformed lists or steps are caught
    here, not when the nightly deployment is served.
    """
    from cronsim import CronSim, CronSimError

    fields = cron.split()
    if len(fields) != 5:
        raise InputError(
            f"invalid cron expression {cron!r}: expected 5 fields, got {len(fields)}", _CRON_HINT
        )
    try:
        CronSim(cron, dt.datetime(2000, 1, 1))
    except CronSimError as exc:
        raise InputError(f"invalid cron expression {cron!r}: {exc}", _CRON_HINT) from exc


def list_saved_queries(settings: Settings) -> list[SavedQuery]:
    """All saved queries with their watermarks."""
    with open_store(settings) as store:
        return store.list_queries()


def remove_saved_query(query_or_id: str | int, settings: Settings) -> bool:
    """Forget a saved query; True if it existed."""
    with open_store(settings) as store:
        return store.remove_query(query_or_id)

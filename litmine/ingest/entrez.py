"""Ingest a PubMed query through Entrez, one committed date window at a time."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import TYPE_CHECKING

from litmine.errors import InputError
from litmine.ingest.writer import Progress, Record, open_store, store_records, tracked_run
from litmine.types import IngestReport

if TYPE_CHECKING:
    from litmine.config import Settings
    from litmine.fetch.entrez import EntrezGateway, SearchWindow
    from litmine.store import Store


def open_gateway(settings: Settings) -> EntrezGateway:
    """Create the Entrez gateway from settings (the only HTTP client)."""
    from litmine.fetch.entrez import EntrezGateway

    return EntrezGateway(settings.entrez)


def plan_query(
    gateway: EntrezGateway, query: str, since: dt.date | None, until: dt.date | None
) -> list[SearchWindow]:
    """Split a query's date range into windows ESearch can page completely."""
    if not query.strip():
        raise InputError("the query is empty", 'give a PubMed query, e.g. --query "asthma"')
    if since and until and since > until:
        raise InputError(f"--since {since} is after --until {until}", "swap the dates")
    return gateway.plan_windows(query, since, until)


def ingest_window(
    store: Store,
    gateway: EntrezGateway,
    window: SearchWindow,
    settings: Settings,
    *,
    saved_query_id: int | None = None,
    max_records: int | None = None,
    progress: Progress | None = None,
) -> IngestReport:
    """Fetch one date window page by page, commit it, then advance the watermark.

    The watermark moves to the window's last day only after every page of the
    window is committed, so a killed run re-fetches at most one window and the
    idempotent upserts make that harmless.

    Args:
        store: Writable store.
        gateway: Entrez gateway.
        window: A window from :func:`plan_query`.
        settings: Settings tree.
        saved_query_id: Saved query whose watermark advances, if any.
        max_records: Stop after this many records (the watermark then stays).
        progress: Optional progress sink.

    Returns:
        Counts for this window.
    """
    from litmine.parse import parse_pubmed_xml_bytes

    def records() -> Iterator[Record]:
        for xml in gateway.iter_window(window, max_records=max_records):
            yield from parse_pubmed_xml_bytes(xml)

    complete = max_records is None or max_records >= window.count

    def advance() -> None:
        if saved_query_id is not None and complete and window.maxdate is not None:
            store.set_watermark(saved_query_id, window.maxdate)

    return store_records(store, records(), settings, progress=progress, after_commit=advance)


def ingest_query(
    query: str,
    settings: Settings,
    *,
    since: dt.date | None = None,
    until: dt.date | None = None,
    max_records: int | None = None,
    saved_query_id: int | None = None,
    progress: Progress | None = None,
) -> IngestReport:
    """Pull a PubMed query through Entrez into the store.

    Args:
        query: PubMed query text.
        settings: Settings tree.
        since: First Entrez date to include.
        until: Last Entrez date to include (default today).
        max_records: Stop after this many records.
        saved_query_id: Saved query whose watermark advances window by window.
        progress: Optional progress sink.

    Returns:
        Summed counts over all windows.

    Raises:
        EntrezUnavailableError: NCBI cannot be reached (use ``ingest --file``).
    """
    params = {"query": query, "since": _iso(since), "until": _iso(until), "max": max_records}
    kind = "query" if saved_query_id is None else "saved-query"
    with (
        open_store(settings) as store,
        open_gateway(settings) as gateway,
        tracked_run(store, kind, params) as total,
    ):
        windows = plan_query(gateway, query, since, until)
        expected = sum(w.count for w in windows)
        if progress is not None:
            progress.total(min(expected, max_records) if max_records else expected)
        left = max_records
        for window in windows:
            if left is not None and left <= 0:
                break
            report = ingest_window(
                store,
                gateway,
                window,
                settings,
                saved_query_id=saved_query_id,
                max_records=left,
                progress=progress,
            )
            total.add(report)
            if left is not None:
                left -= report.fetched
    return total


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None

"""On-demand ingestion flows (a query through Entrez, or local files)."""

from __future__ import annotations

import datetime as dt

from prefect import flow, task

from litmine.config import load_settings
from litmine.ingest import ingest_files, ingest_query


@task
def ingest_files_task(paths: list[str], data_dir: str | None) -> str:
    """Ingest local PubMed XML / MEDLINE / BEIR JSONL files."""
    return ingest_files(paths, load_settings(data_dir=data_dir)).line()


@task
def ingest_query_task(
    query: str,
    since: dt.date | None,
    until: dt.date | None,
    max_records: int | None,
    data_dir: str | None,
) -> str:
    """Ingest one PubMed query (network retries live in the Entrez gateway)."""
    settings = load_settings(data_dir=data_dir)
    return ingest_query(query, settings, since=since, until=until, max_records=max_records).line()


@flow(name="litmine-ingest")
def ingest(
    query: str | None = None,
    files: list[str] | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    max_records: int | None = None,
    data_dir: str | None = None,
) -> str:
    """Ingest a query or files on demand; returns the one-line report."""
    if files:
        return ingest_files_task(files, data_dir)
    if not query:
        raise ValueError("give a query or files")
    return ingest_query_task(query, since, until, max_records, data_dir)

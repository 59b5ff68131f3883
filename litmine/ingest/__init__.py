"""Ingest: bring PubMed records into the store, resumably, and report on it.

What it does: reads local files (:mod:`~litmine.ingest.files`, PubMed XML
parsed in worker processes by :mod:`~litmine.ingest.parallel`) or a query's
Entrez date windows (:mod:`~litmine.ingest.entrez`), writes the records in
committed batches (:mod:`~litmine.ingest.writer`, which also records each run),
keeps saved queries and their watermarks (:mod:`~litmine.ingest.saved_queries`)
and reports the store's state (:mod:`~litmine.ingest.status`). Every job opens
what it needs from the settings, returns a typed report and prints nothing;
progress goes through an optional :class:`Progress` sink. Re-running any job
is safe: upserts are idempotent and watermarks move only after a commit.

What it may import: ``litmine.store``, ``litmine.passages``, ``litmine.parse``,
``litmine.fetch``, ``litmine.types``, ``litmine.errors`` and
``litmine.config`` (ingest sits just above the store). Never the entity,
vector, search or answer stages, nor a CLI, web or flow module: those import
this package.
"""

from litmine.ingest.entrez import ingest_query, ingest_window, open_gateway, plan_query
from litmine.ingest.files import ingest_files
from litmine.ingest.parallel import ChunkPool, default_workers, prepare_chunk
from litmine.ingest.saved_queries import (
    add_saved_query,
    check_cron,
    get_saved_query,
    incremental_since,
    list_saved_queries,
    remove_saved_query,
    run_saved_query,
)
from litmine.ingest.stages import extract_entities, update_vector_index
from litmine.ingest.status import StatusReport, status
from litmine.ingest.writer import Progress, Record, open_store, store_records, tracked_run

__all__ = [
    "ChunkPool",
    "Progress",
    "Record",
    "StatusReport",
    "add_saved_query",
    "check_cron",
    "default_workers",
    "extract_entities",
    "get_saved_query",
    "incremental_since",
    "ingest_files",
    "ingest_query",
    "ingest_window",
    "list_saved_queries",
    "open_gateway",
    "open_store",
    "plan_query",
    "prepare_chunk",
    "remove_saved_query",
    "run_saved_query",
    "status",
    "store_records",
    "tracked_run",
    "update_vector_index",
]

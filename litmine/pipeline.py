"""Jobs shared by the CLI, the Prefect flows and the web app (old import path).

The jobs live in :mod:`litmine.ingest` (the stage jobs in
:mod:`litmine.ingest.stages`) and are re-exported here so
``from litmine.pipeline import ingest_files`` keeps working.
"""

from __future__ import annotations

from litmine.ingest import (
    Progress,
    Record,
    StatusReport,
    add_saved_query,
    get_saved_query,
    incremental_since,
    ingest_files,
    ingest_query,
    ingest_window,
    list_saved_queries,
    open_gateway,
    open_store,
    plan_query,
    remove_saved_query,
    run_saved_query,
    status,
    store_records,
    tracked_run,
)
from litmine.ingest.stages import extract_entities, update_vector_index

__all__ = [
    "Progress",
    "Record",
    "StatusReport",
    "add_saved_query",
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
    "remove_saved_query",
    "run_saved_query",
    "status",
    "store_records",
    "tracked_run",
    "update_vector_index",
]

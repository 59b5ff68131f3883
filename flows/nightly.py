"""Nightly incremental ingestion of saved queries, as a Prefect 3 flow.

Serve it with ``litmine schedule serve`` or ``python flows/nightly.py``: one
deployment per saved query, each on its own cron schedule.

Network faults are retried inside the Entrez gateway (one retry layer); the
Prefect task retries below only re-run work that failed for a local reason,
such as a database locked by another writer.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from prefect import flow, get_run_logger, task
from prefect import serve as prefect_serve
from prefect.client.schemas.objects import TaskRun
from prefect.deployments.runner import RunnerDeployment
from prefect.states import State
from prefect.tasks import Task

from litmine import ingest
from litmine.config import Settings, load_settings
from litmine.errors import InputError, StoreError
from litmine.fetch.entrez import SearchWindow
from litmine.ingest import extract_entities as extract_stage
from litmine.ingest import update_vector_index
from litmine.store import SavedQuery
from litmine.types import IngestReport


def _only_local_failures(task: Task[Any, Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Retry a task only when the store, not the network, made it fail."""
    try:
        state.result()
    except StoreError:
        return True
    except Exception:
        return False
    return False


@task(retries=2, retry_delay_seconds=10, retry_condition_fn=_only_local_failures)
def plan_windows(
    saved: SavedQuery, settings: Settings, until: dt.date | None
) -> list[SearchWindow]:
    """ESearch the saved query from its watermark, split into pageable windows."""
    with ingest.open_gateway(settings) as gateway:
        return ingest.plan_query(
            gateway, saved.query, ingest.incremental_since(saved, settings), until
        )


@task(retries=3, retry_delay_seconds=[5, 30, 120], retry_condition_fn=_only_local_failures)
def ingest_window(saved: SavedQuery, window: SearchWindow, settings: Settings) -> IngestReport:
    """Fetch, parse and commit one window, then advance the query's watermark."""
    with ingest.open_store(settings) as store, ingest.open_gateway(settings) as gateway:
        return ingest.ingest_window(store, gateway, window, settings, saved_query_id=saved.id)


@task(retries=2, retry_delay_seconds=30, retry_condition_fn=_only_local_failures)
def extract_entities(settings: Settings) -> int:
    """Entity stage over the articles not processed yet (resumable)."""
    return extract_stage(settings)


@task(retries=2, retry_delay_seconds=30, retry_condition_fn=_only_local_failures)
def update_index(settings: Settings) -> str:
    """Embedding stage: add new passages to the FAISS index, drop deleted ones."""
    return update_vector_index(settings).line()


@flow(name="litmine-nightly", log_prints=True)
def nightly_ingest(
    query: str | int | None = None,
    data_dir: str | None = None,
    until: dt.date | None = None,
    stages: bool = True,
) -> dict[str, str]:
    """Run saved queries incrementally, from each watermark (minus overlap) to today.

    After ingestion, the entity and embedding stages process whatever is new.

    Args:
        query: One saved query (text or id); all saved queries when None.
        data_dir: Data folder; the settings' default when None.
        until: Last Entrez date (default today).
        stages: Also run the entity and index stages after ingesting.

    Returns:
        The one-line report of each query, keyed by the query text.
    """
    logger = get_run_logger()
    settings = load_settings(data_dir=data_dir)
    if query is None:
        queries = ingest.list_saved_queries(settings)
    else:
        queries = [ingest.get_saved_query(query, settings)]
    if not queries:
        raise InputError("no saved queries", 'add one with `litmine schedule add "QUERY"`')
    reports: dict[str, str] = {}
    for saved in queries:
        with (
            ingest.open_store(settings) as store,
            ingest.tracked_run(
                store, "nightly", {"query": saved.query, "query_id": saved.id}
            ) as total,
        ):
            for window in plan_windows(saved, settings, until):
                total.add(ingest_window(saved, window, settings))
        logger.info("%s: %s", saved.query, total.line())
        reports[saved.query] = total.line()
    if stages:
        reports["entities"] = f"processed {extract_entities(settings)} articles"
        reports["index"] = update_index(settings)
    return reports


def serve(data_dir: str | None = None) -> None:
    """Serve one cron deployment per saved query (blocks until interrupted)."""
    settings = load_settings(data_dir=data_dir)
    queries = ingest.list_saved_queries(settings)
    if not queries:
        raise InputError("no saved queries to serve", 'add one with `litmine schedule add "QUERY"`')
    deployments = [
        _deployment(
            name=f"query-{q.id}",
            cron=q.cron,
            parameters={"query": q.id, "data_dir": str(settings.data_dir.resolve())},
            description=q.query,
        )
        for q in queries
    ]
    prefect_serve(*deployments)


def _deployment(**kwargs: Any) -> RunnerDeployment:
    deployment = nightly_ingest.to_deployment(**kwargs)
    assert isinstance(deployment, RunnerDeployment)  # sync context: never a coroutine
    return deployment


if __name__ == "__main__":
    serve()

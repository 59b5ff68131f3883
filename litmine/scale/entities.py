"""The entity stage on a Dask cluster: NER tasks on workers, one committer writing the store.

:func:`extract_entities_dask` is ``litmine entities --runner dask``. The flow
process lists the articles still needing entities and cuts them into batches
(one task per batch of ``articles_per_task`` articles: thousands of tasks at
most, never one per record). Each task (:func:`extract_batch`, on a worker):

* reads its articles and passages from the store, read-only;
* runs the NER pipeline loaded once per worker process (:func:`worker_nlp`);
* writes the entities to a Parquet file in the staging folder, with the ids of
  every passage it processed (those without entities too);
* returns an :class:`EntityShard` summary (counts and paths).

The committer (:func:`commit_shard`, in the flow process) loads the shards in
batch order through the store's ``save_entities``, which marks the passages
processed in the same transaction: a killed run re-run only extracts the
articles not committed yet. Workers never write the store.
"""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from litmine.types import Entity

if TYPE_CHECKING:
    from spacy.language import Language

    from litmine.config import Settings
    from litmine.config.sections import NerSettings
    from litmine.store import Store

__all__ = [
    "ARTICLES_PER_TASK",
    "EntityRunReport",
    "EntityShard",
    "commit_shard",
    "extract_batch",
    "extract_entities_dask",
    "read_shard",
    "worker_nlp",
]

ARTICLES_PER_TASK = 1000
"""Articles per NER task: a minute or two of CPU, so per-task overhead stays small."""

Progress = Callable[[int], None]
"""Called with the number of articles just committed."""

_COLUMNS = ("passage_id", "start", "end", "text", "label", "normalized", "concept_id")


@dataclass(frozen=True, slots=True)
class EntityShard:
    """What one :func:`extract_batch` task staged.

    Attributes:
        batch: Batch number (the commit order).
        articles: Articles processed.
        passages: Passages processed (with or without entities).
        entities: Entities found.
        path: The Parquet file.
        model: NER model name, as ``save_entities`` records it.
        seconds: Time spent on the worker.
    """

    batch: int
    articles: int
    passages: int
    entities: int
    path: str
    model: str
    seconds: float


@dataclass(frozen=True, slots=True)
class EntityRunReport:
    """What :func:`extract_entities_dask` did.

    Attributes:
        articles: Articles processed.
        passages: Passages marked processed.
        entities: Entities stored.
        tasks: NER tasks run.
        seconds: Wall time.
    """

    articles: int
    passages: int
    entities: int
    tasks: int
    seconds: float


@functools.cache
def _nlp_from_json(ner_json: str) -> Language:
    from litmine.config.sections import NerSettings
    from litmine.entities import build_nlp

    return build_nlp(NerSettings.model_validate_json(ner_json))


def worker_nlp(settings: NerSettings) -> Language:
    """The NER pipeline for these settings, loaded once per (worker) process."""
    return _nlp_from_json(settings.model_dump_json())


def extract_batch(
    settings: Settings, batch: int, pmids: Sequence[str], out_dir: str
) -> EntityShard:
    """Extract the entities of some articles into a Parquet shard (a task; runs on a worker).

    Args:
        settings: Settings tree (store location, NER model and batching).
        batch: Batch number (names the file, orders the commit).
        pmids: The articles.
        out_dir: The run's staging folder.

    Returns:
        The shard's summary.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from litmine.entities import extract
    from litmine.ingest.writer import open_store
    from litmine.types import Article, Passage

    started = time.perf_counter()
    ner = settings.ner
    nlp = worker_nlp(ner)
    articles: dict[str, Article] = {}
    passages: list[Passage] = []
    with open_store(settings, read_only=True) as store:
        for pmid in pmids:
            article = store.get_article(pmid)
            if article is not None:
                articles[pmid] = article
            passages.extend(store.passages_for(pmid))
    found = extract(
        nlp, passages, articles,
        batch_size=ner.batch_size, n_process=1, max_chars=ner.max_chars,
    )  # fmt: skip
    rows = [e for ents in found.values() for e in ents]
    table = pa.table(
        {name: [getattr(e, name) for e in rows] for name in _COLUMNS},
        schema=pa.schema(
            [
                ("passage_id", pa.int64()),
                ("start", pa.int32()),
                ("end", pa.int32()),
                ("text", pa.string()),
                ("label", pa.string()),
                ("normalized", pa.string()),
                ("concept_id", pa.string()),
            ]
        ),
    )
    model = str(nlp.meta.get("litmine_model") or nlp.meta.get("name") or "unknown")
    # Passages without entities are committed too (marked processed): keep their ids.
    table = table.replace_schema_metadata(
        {"passages": ",".join(str(pid) for pid in found), "model": model}
    )
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"batch-{batch:06d}.parquet"
    tmp = folder / f".{path.name}.{uuid.uuid4().hex[:8]}.tmp"
    pq.write_table(table, tmp)
    tmp.replace(path)
    return EntityShard(
        batch, len(pmids), len(found), len(rows), str(path), model,
        time.perf_counter() - started,
    )  # fmt: skip


def read_shard(path: str | Path) -> dict[int, list[Entity]]:
    """The entities of a Parquet shard, by passage id (every processed passage, in order)."""
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    meta = table.schema.metadata or {}
    listed = meta.get(b"passages", b"").decode()
    out: dict[int, list[Entity]] = {int(pid): [] for pid in listed.split(",") if pid}
    for row in table.to_pylist():
        out[int(row["passage_id"])].append(Entity(**row))
    return out


def commit_shard(store: Store, shard: EntityShard) -> int:
    """Load one shard into the store (one transaction) and delete its file.

    Returns:
        Passages marked processed.
    """
    n = store.save_entities(read_shard(shard.path), shard.model)
    Path(shard.path).unlink(missing_ok=True)
    return n


def _batches(pmids: Sequence[str], size: int) -> Iterator[tuple[int, list[str]]]:
    for i, lo in enumerate(range(0, len(pmids), size)):
        yield i, list(pmids[lo : lo + size])


# Progress sinks of running flows, by run key. Prefect pickles the flow (and its
# parameters) into every task submission: a sink (a rich progress bar, with locks)
# must not be one, so the flow gets a key and the committer looks the sink up here.
_SINKS: dict[str, Progress] = {}


def _commit_all(settings: Settings, futures: Sequence[Any], run_key: str) -> list[int]:
    """Commit the shards in batch order, each as soon as it and those before it are done.

    Returns:
        ``[tasks, passages, entities]``.
    """
    from litmine.ingest.writer import open_store

    totals = [0, 0, 0]
    with open_store(settings) as store:
        for future in futures:
            shard: EntityShard = future.result()
            totals[0] += 1
            totals[1] += commit_shard(store, shard)  # one transaction per shard
            totals[2] += shard.entities
            sink = _SINKS.get(run_key)
            if sink is not None:
                sink(shard.articles)
    return totals


@functools.cache
def _flow() -> Any:
    """The Prefect flow (built on first use: Prefect is heavy to import)."""
    from prefect import flow, task
    from prefect.cache_policies import NONE

    # Results are small summaries, neither hashed for a cache nor persisted.
    ner_task = task(name="extract-entities", cache_policy=NONE, persist_result=False)(extract_batch)

    @flow(name="litmine-entities", validate_parameters=False, persist_result=False)
    def entities_flow(
        settings: Settings, pmids: list[str], folder: str, size: int, run_key: str
    ) -> list[int]:
        futures = [ner_task.submit(settings, i, b, folder) for i, b in _batches(pmids, size)]
        return _commit_all(settings, futures, run_key)

    return entities_flow


def extract_entities_dask(
    settings: Settings,
    *,
    rebuild: bool = False,
    articles_per_task: int = ARTICLES_PER_TASK,
    progress: Progress | None = None,
) -> EntityRunReport:
    """Run the entity stage as tasks on ``settings``' Dask cluster; commit from here.

    Args:
        settings: Settings tree (store, NER model, ``dask`` section).
        rebuild: Delete all entities first and process every article again.
        articles_per_task: Articles per NER task.
        progress: Called with the number of articles committed after each shard.

    Returns:
        What was done.

    Raises:
        RunnerError: ``dask.address`` names no scheduler.
    """
    import shutil

    from litmine.ingest.writer import open_store
    from litmine.scale.runner import run_flow, staging_dir

    started = time.perf_counter()
    with open_store(settings) as store:
        if rebuild:
            store.clear_entities()
        pmids = store.pmids_needing_entities()
    folder = staging_dir(settings) / "entities" / uuid.uuid4().hex[:12]
    tasks = passages = entities = 0
    if progress is not None:
        _SINKS[folder.name] = progress
    try:
        if pmids:
            tasks, passages, entities = run_flow(
                _flow(), settings, settings=settings, pmids=list(pmids), folder=str(folder),
                size=articles_per_task, run_key=folder.name,
            )  # fmt: skip
    finally:
        _SINKS.pop(folder.name, None)
        shutil.rmtree(folder, ignore_errors=True)
    return EntityRunReport(
        articles=len(pmids),
        passages=passages,
        entities=entities,
        tasks=tasks,
        seconds=time.perf_counter() - started,
    )

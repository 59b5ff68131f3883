"""The committer: loads shards into the store, one file at a time, from one process.

Workers never write the store. The committer applies each file's shard
through the writer every ingest path uses (:func:`litmine.ingest.store_records`:
upserts by PMID and version, deletions in file order) inside a run of kind
``"file"`` (:func:`litmine.ingest.tracked_run`), whose parameters carry the
file's key. A file whose run finished (``ok`` or ``partial``) is *applied*;
a re-run skips it. Only :class:`~litmine.store.protocol.StoreProtocol`
methods are used, so any store backend works (the annotations say ``Store``
as :mod:`litmine.ingest.writer`'s do).
"""

from __future__ import annotations

import shutil
from collections.abc import Set
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from litmine.ingest import store_records, tracked_run
from litmine.types import IngestReport

if TYPE_CHECKING:
    from litmine.config import Settings
    from litmine.ingest import Progress
    from litmine.scale.shards import ShardSummary
    from litmine.store import Store

__all__ = [
    "FileJob",
    "applied_keys",
    "commit_shard",
    "discard_shard",
    "progress_sink",
    "register_progress",
]

RUN_KIND = "file"
RUNNER = "dask"
_APPLIED = frozenset({"ok", "partial"})
# Runs read back to find the applied files: the whole log in practice (a full
# PubMed load is ~1,300 baseline files plus one update file a day).
_RUNS_SCANNED = 1_000_000


# Progress sinks of this process's running ingests, by key. A flow parameter
# must be JSON, so the flow gets a key and looks its sink up here. They live in
# this module, reached only through functions: Prefect sends the running flow's
# context to every task, and cloudpickle sends a flow function by value with
# the globals it names (a sink there would have to pickle, and unpickle on a
# worker that cannot import the caller's modules: the task then never starts).
_PROGRESS: dict[str, Progress] = {}


def register_progress(progress: Progress | None, key: str | None = None) -> str | None:
    """Register ``progress`` and return its key; with a key and None, forget that key."""
    import uuid

    if progress is None:
        if key is not None:
            _PROGRESS.pop(key, None)
        return None
    key = uuid.uuid4().hex
    _PROGRESS[key] = progress
    return key


def progress_sink(key: str | None) -> Progress | None:
    """The sink registered under ``key`` (None for no key or an unknown one)."""
    return _PROGRESS.get(key) if key else None


@dataclass(frozen=True)
class FileJob:
    """One input file of a Dask ingest.

    Attributes:
        source: Its path.
        key: Its :func:`~litmine.scale.shards.file_key`.
        update: Whether it is an update file (applied after the baseline, in name order).
    """

    source: str
    key: str
    update: bool = False

    def params(self) -> dict[str, object]:
        """The run parameters recorded for this file (``key`` marks it applied)."""
        return {"path": self.source, "key": self.key, "update": self.update, "runner": RUNNER}


def applied_keys(store: Store) -> Set[str]:
    """Keys of the files whose run finished, by any earlier Dask ingest into this store."""
    # The protocol has no query by kind; the run log is small (one row per file).
    return frozenset(
        str(run.params["key"])
        for run in store.recent_runs(_RUNS_SCANNED)
        if run.kind == RUN_KIND and run.status in _APPLIED and "key" in run.params
    )


def commit_shard(
    store: Store,
    job: FileJob,
    summary: ShardSummary,
    settings: Settings,
    *,
    progress: Progress | None = None,
) -> IngestReport:
    """Apply one file's shard to the store, recorded as a run of the file.

    Args:
        store: Writable store.
        job: The file.
        summary: What its task returned.
        settings: Settings (commit batch size).
        progress: Optional progress sink (advanced as articles are written).

    Returns:
        The file's counts (parse failures included).
    """
    from litmine.scale.shards import read_shard

    with tracked_run(store, RUN_KIND, job.params()) as report:
        report.add(store_records(store, read_shard(summary.shard), settings, progress=progress))
        report.failed += summary.failed
        report.errors.extend(summary.errors)
    return report


def discard_shard(summary: ShardSummary) -> None:
    """Remove a shard once its file is applied (staging holds only pending work)."""
    shutil.rmtree(Path(summary.shard), ignore_errors=True)

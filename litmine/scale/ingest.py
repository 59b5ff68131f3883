"""Ingest many article files as a Prefect flow: one task per file on a Dask cluster.

:func:`ingest_paths` is the entry point (the CLI's ``litmine ingest --file``):
with ``runner = "local"`` it is :func:`litmine.ingest.ingest_files` (a
process pool on this machine); with ``runner = "dask"`` it runs
:func:`ingest_files_flow` on the task runner of
:func:`litmine.scale.runner.task_runner`.

The flow submits :func:`shard_file` once per file (never per record); each
task parses its file on a worker into a staging shard
(:mod:`litmine.scale.shards`) and returns a small :class:`ShardSummary`. The
flow's own process is the only writer of the store
(:mod:`litmine.scale.commit`).

Order (a full PubMed load is ~1,274 baseline files, then daily update files):

- *Baseline* files are applied as their tasks finish, in any order: each
  PMID appears in one baseline file, and upserts by PMID and version make
  the order irrelevant.
- *Update* files are applied strictly after every baseline file, one at a
  time in file-name order (``pubmed25n1275.xml.gz`` before ``...1276``). A
  file is an update file when it is given as one (``updates=``, the CLI's
  ``--updates``), when it lies in a folder named ``updatefiles`` (NLM's
  layout: ``pubmed/baseline/``, ``pubmed/updatefiles/``), or when its shard
  holds a ``DeleteCitation`` (so a deletion never runs before a baseline
  record it should remove; Dask runner only). Any other file is baseline. If
  a baseline task fails, no update is applied.
- Each applied file is a finished run of kind ``"file"`` in the store, keyed
  by :func:`~litmine.scale.shards.file_key` (name + content sample): a re-run
  skips it (``redo=True`` applies everything again).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prefect import flow, task
from prefect.cache_policies import NONE
from prefect.futures import as_completed

from litmine.config import Settings, load_settings
from litmine.errors import InputError, RunnerError
from litmine.ingest import open_store
from litmine.scale.commit import (
    FileJob,
    applied_keys,
    commit_shard,
    discard_shard,
    progress_sink,
    register_progress,
)
from litmine.scale.runner import run_flow, staging_dir
from litmine.scale.shards import (
    ShardSummary,
    file_key,
    shard_path,
    sweep_temporary,
    write_shard,
)
from litmine.types import IngestReport

if TYPE_CHECKING:
    from litmine.ingest import Progress

__all__ = [
    "ARTICLE_SUFFIXES",
    "FilesIngestResult",
    "expand_paths",
    "ingest_files_dask",
    "ingest_files_flow",
    "ingest_paths",
    "shard_file",
    "split_updates",
]

log = logging.getLogger(__name__)


UPDATE_FOLDER = "updatefiles"
"""Files in a folder of this name are update files (NLM's FTP layout)."""

ARTICLE_SUFFIXES: tuple[str, ...] = (
    ".xml",
    ".xml.gz",
    ".txt",
    ".txt.gz",
    ".medline",
    ".medline.gz",
    ".jsonl",
    ".jsonl.gz",
    ".json",
)
"""Files taken from a folder given as a path (PubMed's ``.md5`` files and the like are not)."""


@dataclass
class FilesIngestResult:
    """What an ingest of files did.

    Attributes:
        report: Summed counts of the files applied.
        applied: Files applied by this run, in the order they were applied.
        skipped: Files skipped because an earlier run applied them.
        parse_seconds: Task time spent parsing and writing shards (Dask runner).
    """

    report: IngestReport = field(default_factory=IngestReport)
    applied: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    parse_seconds: float = 0.0


def expand_paths(paths: Sequence[str | Path]) -> list[Path]:
    """Files of ``paths``: a folder stands for its article files, sorted by name.

    Raises:
        InputError: A path does not exist, or a folder holds no article file.
    """
    files: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found = sorted(
                p
                for p in path.iterdir()
                if p.is_file() and not p.name.startswith(".") and p.name.endswith(ARTICLE_SUFFIXES)
            )
            if not found:
                raise InputError(
                    f"no article files in folder {path}",
                    f"a folder given to --file is read for {', '.join(ARTICLE_SUFFIXES)} files",
                )
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise InputError(f"no such file or folder: {path}", "check the paths given to --file")
    return files


def split_updates(
    paths: Sequence[str | Path], updates: Sequence[str | Path] = ()
) -> tuple[list[Path], list[Path]]:
    """Baseline and update files of the given paths (folders expanded).

    Files of ``updates``, and files of ``paths`` in a folder named
    :data:`UPDATE_FOLDER`, are updates, sorted by file name; the rest is baseline.

    Raises:
        InputError: A path does not exist, or a folder holds no article file.
    """
    baseline: list[Path] = []
    later = expand_paths(updates) if updates else []
    for path in expand_paths(paths):
        (later if path.parent.name == UPDATE_FOLDER else baseline).append(path)
    return baseline, sorted(later, key=lambda p: (p.name, str(p)))


# The task runs write_shard itself: a function its module names, so it pickles
# by reference (a function under a @task decorator would be pickled by value,
# with whatever globals it drags along).
shard_file = task(
    name="shard_file", cache_policy=NONE, persist_result=False, task_run_name="shard {key}"
)(write_shard)
"""Parse one file into its staging shard, on a worker (see :func:`write_shard`)."""


def _settings_params(settings: Settings) -> dict[str, Any]:
    """The settings as a flow parameter: JSON, without the NCBI API key (files need none)."""
    return settings.model_dump(mode="json", exclude={"entrez": {"api_key"}})


@flow(name="litmine-ingest-files-dask", persist_result=False, validate_parameters=False)
def ingest_files_flow(
    files: list[str],
    updates: list[str],
    config: dict[str, Any],
    redo: bool = False,
    progress_key: str | None = None,
) -> FilesIngestResult:
    """Ingest baseline ``files`` then ``updates``: one task per file, one committer.

    Args:
        files: Baseline files (any order; one whose shard holds a deletion is
            treated as an update file).
        updates: Update files (applied after the baseline, in file-name order).
        config: The settings tree as JSON (``Settings.model_dump(mode="json")``).
        redo: Apply files an earlier run applied too.
        progress_key: Key of a progress sink registered by :func:`ingest_files_dask`.

    Returns:
        Counts, and the files applied and skipped.

    Raises:
        RunnerError: A task failed (its files and the updates after it were
            not applied; a re-run resumes).
    """
    settings = load_settings(**config)
    staging = str(staging_dir(settings))
    passages = settings.passages.model_dump()
    jobs = _plan(files, updates)
    result = FilesIngestResult()
    progress = progress_sink(progress_key)
    with open_store(settings) as store:
        done = frozenset() if redo else applied_keys(store)
        todo: list[FileJob] = []
        for job in jobs:
            if job.key in done:
                result.skipped.append(job.source)
                discard_shard(_stale(staging, job))  # left if a committer died after its commit
            else:
                todo.append(job)
        sweep_temporary(staging)  # what tasks killed in an earlier run left
        futures = {shard_file.submit(j.source, j.key, staging, passages): j for j in todo}

        def apply(job: FileJob, summary: ShardSummary) -> None:
            report = commit_shard(store, job, summary, settings, progress=progress)
            result.report.add(report)
            result.applied.append(job.source)
            result.parse_seconds += summary.seconds
            discard_shard(summary)

        failures: list[str] = []
        later: list[tuple[FileJob, Callable[[], ShardSummary]]] = []
        baseline = [f for f, j in futures.items() if not j.update]
        for future in as_completed(baseline):
            job = futures[future]
            try:
                summary = future.result()
            except Exception as exc:  # the other files still go in; a re-run resumes
                failures.append(f"{Path(job.source).name}: {type(exc).__name__}: {exc}")
                continue
            if summary.deletions:
                later.append((dataclasses.replace(job, update=True), _done(summary)))
            else:
                apply(job, summary)
        if failures:
            raise _failed(failures, "no update file was applied")
        later += [(j, f.result) for f, j in futures.items() if j.update]
        for job, get in sorted(later, key=lambda item: (Path(item[0].source).name, item[0].source)):
            try:
                summary = get()
            except Exception as exc:
                raise _failed(
                    [f"{Path(job.source).name}: {type(exc).__name__}: {exc}"],
                    "update files after it were not applied",
                ) from exc
            apply(job, summary)
    sweep_temporary(staging)  # what tasks killed in this run left
    return result


def _plan(files: list[str], updates: list[str]) -> list[FileJob]:
    """One job per distinct file content (the same file given twice is read once)."""
    jobs: dict[str, FileJob] = {}
    for source, update in [*((f, False) for f in files), *((f, True) for f in updates)]:
        key = file_key(source)
        if key not in jobs or update:  # an update given as one wins
            jobs[key] = FileJob(jobs[key].source if key in jobs else source, key, update)
    return list(jobs.values())


def _done(summary: ShardSummary) -> Callable[[], ShardSummary]:
    return lambda: summary


def _stale(staging: str, job: FileJob) -> ShardSummary:
    return ShardSummary(job.source, job.key, str(shard_path(staging, job.key)), "")


def _failed(failures: list[str], consequence: str) -> RunnerError:
    more = f"; and {len(failures) - 3} more" if len(failures) > 3 else ""
    shown = "; ".join(failures[:3]) + more
    return RunnerError(
        f"{len(failures)} file task(s) failed ({shown}); {consequence}",
        "fix the cause and run the same command again: applied files are skipped",
    )


def ingest_files_dask(
    paths: Sequence[str | Path],
    settings: Settings,
    *,
    updates: Sequence[str | Path] = (),
    redo: bool = False,
    progress: Progress | None = None,
) -> FilesIngestResult:
    """Ingest files through :func:`ingest_files_flow` on the Dask runner of ``settings``.

    ``settings.runner`` is taken as ``"dask"`` whatever it says; ``dask.address``
    (or a LocalCluster of ``dask.workers`` processes) is where tasks run.

    Args:
        paths: Baseline files or folders of them.
        settings: Settings tree.
        updates: Update files or folders (applied after the baseline, by name).
        redo: Apply files an earlier run applied too.
        progress: Optional progress sink, advanced as the committer writes articles.

    Returns:
        Counts, and the files applied and skipped.

    Raises:
        InputError: A path does not exist or is in no supported format.
        RunnerError: The scheduler is unreachable, or a task failed.
    """
    from litmine.parse import detect_format

    baseline, later_paths = split_updates(paths, updates)
    files = [str(p.resolve()) for p in baseline]
    later = [str(p.resolve()) for p in later_paths]
    for path in [*files, *later]:
        detect_format(path)  # fail fast, as ingest_files does, before any task starts
    settings = settings.model_copy(update={"runner": "dask"})
    key = register_progress(progress)
    try:
        return run_flow(
            ingest_files_flow,
            settings,
            files=files,
            updates=later,
            config=_settings_params(settings),
            redo=redo,
            progress_key=key,
        )
    finally:
        register_progress(None, key)


def ingest_paths(
    paths: Sequence[str | Path],
    settings: Settings,
    *,
    updates: Sequence[str | Path] = (),
    redo: bool = False,
    workers: int | None = None,
    progress: Progress | None = None,
) -> FilesIngestResult:
    """Ingest files on the runner of ``settings`` (``local`` or ``dask``).

    Args:
        paths: Baseline files or folders of them.
        settings: Settings tree (``runner``, ``dask``).
        updates: Update files or folders, applied after ``paths`` in name order.
        redo: Dask runner: apply files an earlier run applied too (the local
            runner always reads every file; upserts make that harmless).
        workers: Local runner: parse processes (None: one per CPU, up to 4);
            Dask runner: workers of the LocalCluster started without an address.
        progress: Progress sink (records written).

    Returns:
        Counts, and the files applied and skipped.
    """
    if settings.runner == "dask":
        if workers is not None:
            dask = settings.dask.model_copy(update={"workers": workers})
            settings = settings.model_copy(update={"dask": dask})
        return ingest_files_dask(paths, settings, updates=updates, redo=redo, progress=progress)
    from litmine.ingest import ingest_files

    baseline, later = split_updates(paths, updates)
    files = baseline + later
    report = ingest_files(files, settings, progress=progress, workers=workers)
    return FilesIngestResult(report, [str(p) for p in files])

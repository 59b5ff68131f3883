"""Full-PubMed file loads on a Dask cluster: the flow of :mod:`litmine.scale.ingest`.

Run it from Python with the runner of the settings::

    from flows.scale import ingest_files_on_dask
    ingest_files_on_dask(["baseline/"], updates=["updatefiles/"], address="tcp://host:8786")

or serve/deploy :data:`ingest_files_flow` with a ``DaskTaskRunner`` of your own
(``ingest_files_flow.with_options(task_runner=...)``); its parameters are JSON.
"""

from __future__ import annotations

from litmine.config import load_settings
from litmine.scale.ingest import FilesIngestResult, ingest_files_dask, ingest_files_flow

__all__ = ["ingest_files_flow", "ingest_files_on_dask"]


def ingest_files_on_dask(
    files: list[str],
    *,
    updates: list[str] | None = None,
    address: str | None = None,
    workers: int | None = None,
    data_dir: str | None = None,
    redo: bool = False,
) -> FilesIngestResult:
    """Ingest baseline ``files`` then ``updates`` (files or folders) on a Dask cluster.

    Args:
        files: Baseline files or folders of them.
        updates: Update files or folders, applied after the baseline by name.
        address: Scheduler address; None uses ``dask.address`` or starts a LocalCluster.
        workers: Workers of that LocalCluster (``dask.workers``).
        data_dir: Data folder; None uses the settings'.
        redo: Apply files an earlier run applied too.

    Returns:
        Counts, and the files applied and skipped.
    """
    dask = {k: v for k, v in {"address": address, "workers": workers}.items() if v is not None}
    settings = load_settings(data_dir=data_dir, runner="dask", dask=dask or None)
    return ingest_files_dask(files, settings, updates=updates or [], redo=redo)

"""Fixtures of the scale tests: one real Dask LocalCluster and one Prefect harness per session.

Both are slow to start (a few seconds each), and the machine has two cores:
every scale test shares them. Ask for ``dask_settings`` (runner "dask" on the
cluster, a fresh data dir) and ``prefect_harness`` where a flow runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from litmine.config import Settings, load_settings


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """A temporary Prefect API for real flow runs (one for the whole session)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def dask_cluster() -> Iterator[object]:
    """A real ``distributed.LocalCluster``: two worker processes of one thread each."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def dask_client(dask_cluster: object) -> Iterator[object]:
    """A client of :func:`dask_cluster` (to submit to it directly, or restart workers)."""
    from distributed import Client

    with Client(dask_cluster, set_as_default=False) as client:
        yield client


@pytest.fixture
def dask_settings(tmp_path: Path, dask_cluster: object) -> Settings:
    """Settings with runner "dask" on the session's cluster and a fresh data dir."""
    address = dask_cluster.scheduler_address  # type: ignore[attr-defined]
    return load_settings(data_dir=tmp_path / "data", runner="dask", dask={"address": address})

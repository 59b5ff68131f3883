"""The task runner chosen from settings; prefect and prefect-dask tested together on a cluster."""

from __future__ import annotations

from pathlib import Path

import pytest
from prefect import flow, task
from prefect.cache_policies import NONE

from litmine.config import Settings, load_settings
from litmine.errors import RunnerError
from litmine.scale import runner


@task(cache_policy=NONE, persist_result=False)
def _square(x: int) -> tuple[int, int]:
    import os

    return x * x, os.getpid()


@flow(persist_result=False)
def _squares(n: int) -> list[tuple[int, int]]:
    return [f.result() for f in [_square.submit(i) for i in range(n)]]


def test_local_runner_is_prefects_thread_pool(settings: Settings) -> None:
    from prefect.task_runners import ThreadPoolTaskRunner

    assert isinstance(runner.task_runner(settings), ThreadPoolTaskRunner)


def test_dask_runner_without_address_starts_a_local_cluster_of_processes(tmp_path: Path) -> None:
    from prefect_dask import DaskTaskRunner

    settings = load_settings(
        data_dir=tmp_path, runner="dask", dask={"workers": 3, "threads_per_worker": 2}
    )
    chosen = runner.task_runner(settings)
    assert isinstance(chosen, DaskTaskRunner)
    assert chosen.address is None
    assert chosen.cluster_class == "distributed.LocalCluster"
    assert chosen.cluster_kwargs == {
        "n_workers": 3,
        "threads_per_worker": 2,
        "processes": True,
        "dashboard_address": None,
    }
    assert runner.staging_dir(settings) == tmp_path / "staging"


def test_dask_runner_with_address_uses_it(dask_settings: Settings) -> None:
    chosen = runner.task_runner(dask_settings)
    assert chosen.address == dask_settings.dask.address  # type: ignore[attr-defined]


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:9", "not an address://"])
def test_bad_address_is_one_line_runner_error(tmp_path: Path, address: str) -> None:
    settings = load_settings(data_dir=tmp_path, runner="dask", dask={"address": address})
    with pytest.raises(RunnerError) as caught:
        runner.run_flow(_squares, settings, n=1)
    line = caught.value.one_line()
    assert address in line and "LITMINE_DASK_ADDRESS" in line and "\n" not in line


def test_prefect_dask_round_trips_a_flow_on_the_cluster(
    prefect_harness: None, dask_settings: Settings, dask_client: object
) -> None:
    import os

    import prefect_dask

    assert prefect_dask.__version__.startswith("0.3.")
    results = runner.run_flow(_squares, dask_settings, n=6)
    assert [r for r, _ in results] == [0, 1, 4, 9, 16, 25]
    worker_pids = set(dask_client.run(os.getpid).values())  # type: ignore[attr-defined]
    pids = {pid for _, pid in results}
    assert os.getpid() not in pids and pids <= worker_pids  # ran in the worker processes


def test_dask_client_on_the_address(dask_settings: Settings) -> None:
    with runner.dask_client(dask_settings) as client:
        assert client.submit(sum, [1, 2, 3]).result() == 6

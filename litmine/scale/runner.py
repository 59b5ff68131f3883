"""Which Prefect task runner runs litmine's tasks, chosen in one place from the settings.

``settings.runner`` is ``"local"`` or ``"dask"``. For Dask, ``dask.address``
names a running scheduler; without one a :class:`distributed.LocalCluster`
of ``dask.workers`` worker *processes* (parsing and models hold the GIL) is
started for the flow run and closed after it. Another backend (Ray) would be
one more branch of :func:`task_runner`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from litmine.errors import RunnerError

if TYPE_CHECKING:
    import distributed
    from prefect import Flow
    from prefect.task_runners import TaskRunner

    from litmine.config import Settings

__all__ = [
    "check_address",
    "dask_client",
    "local_cluster_kwargs",
    "run_flow",
    "staging_dir",
    "task_runner",
]

R = TypeVar("R")

# How long to wait for a scheduler before calling its address bad.
CONNECT_TIMEOUT_S = 10


def local_cluster_kwargs(settings: Settings) -> dict[str, Any]:
    """Arguments of the :class:`distributed.LocalCluster` started when no address is given.

    Worker processes, not threads: parsing and NER are pure Python and hold the
    GIL. ``dask.workers`` None means one per CPU this process may use.
    """
    workers = settings.dask.workers
    if workers is None:
        try:
            workers = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):  # not on Linux
            workers = os.cpu_count() or 1
    return {
        "n_workers": workers,
        "threads_per_worker": settings.dask.threads_per_worker,
        "processes": True,
        "dashboard_address": None,  # no web server nobody asked for (and no port clash)
    }


def task_runner(settings: Settings) -> TaskRunner[Any]:
    """The Prefect task runner for ``settings.runner``.

    Args:
        settings: Settings tree (``runner`` and the ``dask`` section).

    Returns:
        A :class:`prefect_dask.DaskTaskRunner` on ``dask.address`` or on a
        LocalCluster it starts, for ``"dask"``; Prefect's
        :class:`~prefect.task_runners.ThreadPoolTaskRunner` for ``"local"``.
    """
    if settings.runner == "dask":
        from prefect_dask import DaskTaskRunner

        if settings.dask.address:
            return DaskTaskRunner(address=settings.dask.address)
        return DaskTaskRunner(
            cluster_class="distributed.LocalCluster",
            cluster_kwargs=local_cluster_kwargs(settings),
        )
    from prefect.task_runners import ThreadPoolTaskRunner

    return ThreadPoolTaskRunner()


def check_address(address: str, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """Fail fast, in one line, when no Dask scheduler answers at ``address``.

    Raises:
        RunnerError: The address is malformed or nothing answers there.
    """
    import distributed

    try:
        client = distributed.Client(address, timeout=timeout_s, set_as_default=False)
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        raise RunnerError(
            f"no Dask scheduler at {address!r}: {type(exc).__name__}: {exc}".rstrip(": "),
            "start one (`dask scheduler`) or fix --address / LITMINE_DASK_ADDRESS "
            "(e.g. tcp://host:8786); leave it unset to start a local cluster",
        ) from exc
    client.close()


def run_flow(flow: Flow[..., R], settings: Settings, /, **params: Any) -> R:
    """Run a Prefect flow with the task runner of ``settings``.

    Checks a configured scheduler address first, so a bad one is one clear
    error rather than a Prefect crash.

    Args:
        flow: The flow (its own task runner is replaced).
        settings: Settings tree choosing the runner.
        **params: The flow's parameters.

    Returns:
        What the flow returns.

    Raises:
        RunnerError: ``dask.address`` is set and no scheduler answers there.
    """
    if settings.runner == "dask" and settings.dask.address:
        check_address(settings.dask.address)
    configured: Callable[..., R] = flow.with_options(task_runner=task_runner(settings))
    return configured(**params)


@contextmanager
def dask_client(settings: Settings) -> Iterator[distributed.Client]:
    """A :class:`distributed.Client` on ``dask.address``, or on a LocalCluster for the block.

    For code that drives Dask directly rather than through a Prefect flow.

    Raises:
        RunnerError: ``dask.address`` is set and no scheduler answers there.
    """
    import distributed

    if settings.dask.address:
        check_address(settings.dask.address)
        with distributed.Client(settings.dask.address, set_as_default=False) as client:
            yield client
        return
    with (
        distributed.LocalCluster(**local_cluster_kwargs(settings)) as cluster,
        distributed.Client(cluster, set_as_default=False) as client,
    ):
        yield client


def staging_dir(settings: Settings) -> Path:
    """Where tasks write shards for the committer: ``dask.staging_dir`` or data_dir/staging."""
    return settings.dask.staging_dir or settings.data_dir / "staging"

"""Pieces shared by every command module: consoles, error translation, options.

Kept apart from :mod:`litmine.cli.root` so that command modules (search, ask, NER,
web) can import them while ``litmine.cli.root`` imports those modules to mount them.
Each option every command shares (data dir, ``--json``, ``--mode``, the search
filters) and the "no database" check are defined here once.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console

from litmine.config import Settings, load_settings
from litmine.errors import InputError, LitmineError

if TYPE_CHECKING:
    from litmine.search.hybrid import SearchFilters

__all__ = [
    "AddressOpt",
    "DataDirOpt",
    "EntityOpt",
    "JsonOpt",
    "MeshOpt",
    "ModeOpt",
    "ProgressBar",
    "PubTypeOpt",
    "RunnerOpt",
    "SinceOpt",
    "UntilOpt",
    "WorkersOpt",
    "cli_settings",
    "err",
    "handle_errors",
    "out",
    "parse_date",
    "progress_bar",
    "require_database",
    "search_filters",
    "to_json",
    "with_runner",
]

P = ParamSpec("P")
R = TypeVar("R")

out = Console()
err = Console(stderr=True)


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Translate litmine errors into one line on stderr and exit status 1."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except LitmineError as exc:
            err.print(f"error: {exc.one_line()}", markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            err.print("interrupted: re-run the same command to resume.", markup=False)
            raise typer.Exit(130) from None

    return wrapper


DataDirOpt = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data folder (database, indexes); env LITMINE_DATA_DIR."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
ModeOpt = Annotated[
    str | None,
    typer.Option(
        "--mode", "-m", help="bm25, dense or hybrid (default: search.mode; ask.mode for ask)."
    ),
]
SinceOpt = Annotated[int | None, typer.Option("--since", help="Published in this year or later.")]
UntilOpt = Annotated[int | None, typer.Option("--until", help="Published in this year or earlier.")]
PubTypeOpt = Annotated[
    list[str] | None,
    typer.Option("--pub-type", help="Publication type (repeat for any of several)."),
]
MeshOpt = Annotated[
    list[str] | None,
    typer.Option("--mesh", help="MeSH descriptor name or UI (repeat: all must match)."),
]
EntityOpt = Annotated[
    list[str] | None,
    typer.Option("--entity", help="Entity mentioned in the article (repeat: all must)."),
]


def search_filters(
    since: int | None,
    until: int | None,
    pub_type: list[str] | None,
    mesh: list[str] | None,
    entity: list[str] | None,
) -> SearchFilters:
    """The :class:`~litmine.search.hybrid.SearchFilters` of the shared filter options."""
    from litmine.search.hybrid import SearchFilters

    return SearchFilters(
        since_year=since,
        until_year=until,
        pub_types=tuple(pub_type or ()),
        mesh=tuple(mesh or ()),
        entities=tuple(entity or ()),
    )


def require_database(settings: Settings) -> None:
    """Stop with a hint when there is no database to read yet.

    A PostgreSQL store counts as present: opening it checks the server and schema.

    Raises:
        StoreError: The SQLite file ``store.url`` names (default: ``litmine.db``
            in the data dir) does not exist.
    """
    from litmine.store import store_exists, store_location

    if not store_exists(settings):
        from litmine.errors import StoreError

        raise StoreError(
            f"no database at {store_location(settings).path}",
            "ingest articles first (`litmine ingest`)",
        )


def cli_settings(data_dir: Path | None = None, **sections: dict[str, Any]) -> Settings:
    """Settings with the flags given (``None`` values dropped) over env and config file."""
    overrides: dict[str, Any] = {"data_dir": data_dir}
    for name, values in sections.items():
        clean = {k: v for k, v in values.items() if v is not None}
        if clean:
            overrides[name] = clean
    return load_settings(**overrides)


RunnerOpt = Annotated[
    str | None,
    typer.Option("--runner", help="Where the work runs: 'local' or 'dask' (env LITMINE_RUNNER)."),
]
AddressOpt = Annotated[
    str | None,
    typer.Option(
        "--address",
        help="Dask scheduler, e.g. tcp://host:8786 (env LITMINE_DASK_ADDRESS); "
        "none starts a local cluster.",
    ),
]
WorkersOpt = Annotated[
    int | None,
    typer.Option("--workers", min=1, help="Workers of the local Dask cluster (dask.workers)."),
]


def with_runner(settings: Settings, runner: str | None) -> Settings:
    """``settings`` with ``--runner`` applied (unchanged when the flag is not given).

    Pass ``--address`` / ``--workers`` as ``cli_settings(..., dask={...})``.

    Raises:
        InputError: Not 'local' or 'dask'.
    """
    if runner is None:
        return settings
    if runner not in ("local", "dask"):
        raise InputError(f"unknown --runner {runner!r}", "use 'local' or 'dask'")
    return settings.model_copy(update={"runner": runner})


def parse_date(value: str | None, flag: str) -> dt.date | None:
    """``YYYY-MM-DD`` of option ``flag`` as a date (``None`` stays ``None``).

    Raises:
        InputError: Not an ISO date.
    """
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{flag} {value!r} is not a date", "use YYYY-MM-DD") from None


class ProgressBar:
    """Rich progress bar shown only on an interactive terminal."""

    def __init__(self, description: str) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        )
        self._task = self._progress.add_task(description, total=None)

    def total(self, n: int | None) -> None:
        """Set the expected count (``None``: unknown)."""
        self._progress.update(self._task, total=n)

    def advance(self, n: int) -> None:
        """Count ``n`` more items done."""
        self._progress.advance(self._task, n)

    def __enter__(self) -> ProgressBar:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()


@contextmanager
def progress_bar(description: str) -> Iterator[ProgressBar | None]:
    """A :class:`ProgressBar` on an interactive terminal, else ``None``."""
    if err.is_terminal:
        with ProgressBar(description) as bar:
            yield bar
    else:
        yield None


def to_json(obj: Any) -> str:
    """``obj`` (dataclasses, dates, paths...) as indented JSON text."""
    from litmine.types import to_jsonable

    return json.dumps(to_jsonable(obj), indent=2, ensure_ascii=False)

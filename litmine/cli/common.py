"""Pieces shared by every command module: consoles, error translation, flags.

Kept apart from :mod:`litmine.cli` so that command modules (search, ask, NER,
web) can import them while ``litmine.cli`` imports those modules to mount them.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console

from litmine.config import Settings, load_settings
from litmine.errors import InputError, LitmineError

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


def _settings(data_dir: Path | None = None, **sections: dict[str, Any]) -> Settings:
    overrides: dict[str, Any] = {"data_dir": data_dir}
    for name, values in sections.items():
        clean = {k: v for k, v in values.items() if v is not None}
        if clean:
            overrides[name] = clean
    return load_settings(**overrides)


def _date(value: str | None, flag: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{flag} {value!r} is not a date", "use YYYY-MM-DD") from None


class _Bar:
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
        self._progress.update(self._task, total=n)

    def advance(self, n: int) -> None:
        self._progress.advance(self._task, n)

    def __enter__(self) -> _Bar:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()


@contextmanager
def _progress(description: str) -> Iterator[_Bar | None]:
    if err.is_terminal:
        with _Bar(description) as bar:
            yield bar
    else:
        yield None


def _dump(obj: Any) -> str:
    from litmine.types import to_jsonable

    return json.dumps(to_jsonable(obj), indent=2, ensure_ascii=False)

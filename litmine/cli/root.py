"""The ``litmine`` command line: the root app, its options and every command mounted.

Commands live by subject: :mod:`litmine.cli.ingestion` (``ingest``, ``status``,
``schedule``), :mod:`litmine.cli.search` (``index``, ``search``, ``eval``),
:mod:`litmine.cli.answer` (``ask``, ``export``), :mod:`litmine.ner.cli`
(``ner``, ``entities``) and :mod:`litmine.web.cli` (``serve``).

Each command builds the settings (flags override environment and config file),
makes one library call and prints the result. Errors become one line on stderr
and exit status 1; heavy libraries are imported only inside the commands.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from litmine.cli.answer import ask_command, export_command
from litmine.cli.common import err
from litmine.cli.db import db_app
from litmine.cli.ingestion import ingest, schedule_app, status
from litmine.cli.search import eval_app, index_app, search_command
from litmine.errors import LitmineError
from litmine.ner.cli import entities_app, ner_app
from litmine.web.cli import serve_command

app = typer.Typer(
    help="Mine the medical literature: ingest PubMed, search it, summarise the evidence.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(schedule_app, name="schedule")


@app.callback()
def _root(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log progress details (retries...).")
    ] = False,
) -> None:
    """Mine the medical literature: ingest PubMed, search it, summarise the evidence."""
    import logging

    from rich.logging import RichHandler

    level = logging.INFO if verbose else logging.ERROR
    logger = logging.getLogger("litmine")
    logger.setLevel(level)
    if not any(isinstance(h, RichHandler) for h in logger.handlers):
        logger.addHandler(RichHandler(console=err, show_path=False, level=level))
    for handler in logger.handlers:
        handler.setLevel(level)


app.command("ingest")(ingest)
app.command("status")(status)
app.add_typer(index_app, name="index")
app.command("search")(search_command)
app.add_typer(eval_app, name="eval")
app.command("ask")(ask_command)
app.command("export")(export_command)
app.add_typer(ner_app, name="ner")
app.add_typer(entities_app, name="entities")
app.command("serve")(serve_command)
app.add_typer(db_app, name="db")


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except LitmineError as exc:  # raised outside a command, e.g. while building settings
        err.print(f"error: {exc.one_line()}", markup=False)
        sys.exit(1)


if __name__ == "__main__":
    main()

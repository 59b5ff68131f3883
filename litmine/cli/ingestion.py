"""CLI commands for ingestion: ``litmine ingest``, ``litmine status``, ``litmine schedule``.

Mounted on the main app by :mod:`litmine.cli.root`::

    app.command("ingest")(ingest)
    app.command("status")(status)
    app.add_typer(schedule_app, name="schedule")

Each command makes one call into :mod:`litmine.ingest` (or the Prefect flow
of :mod:`flows.nightly`), imported inside the command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from litmine.cli.common import (
    AddressOpt,
    DataDirOpt,
    JsonOpt,
    RunnerOpt,
    cli_settings,
    err,
    handle_errors,
    out,
    parse_date,
    progress_bar,
    to_json,
    with_runner,
)
from litmine.errors import InputError

__all__ = ["ingest", "schedule_app", "status"]

schedule_app = typer.Typer(help="Saved queries for the nightly incremental ingestion.")


@handle_errors
def ingest(
    query: Annotated[str | None, typer.Option("--query", "-q", help="PubMed query.")] = None,
    file: Annotated[
        bool,
        typer.Option(
            "--file",
            "-f",
            help="Read the PATHs (files or folders of them): PubMed XML (.xml/.xml.gz), "
            "MEDLINE text or BEIR JSONL.",
        ),
    ] = False,
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Files or folders to read with --file.", show_default=False),
    ] = None,
    updates: Annotated[
        list[Path] | None,
        typer.Option(
            "--updates",
            help="PubMed update file or folder (repeatable): applied after the PATHs, in "
            "file-name order. Files in a folder named 'updatefiles' are updates too, and "
            "with --runner dask so is a PATH holding a DeleteCitation.",
            show_default=False,
        ),
    ] = None,
    since: Annotated[str | None, typer.Option(help="First Entrez date, YYYY-MM-DD.")] = None,
    until: Annotated[str | None, typer.Option(help="Last Entrez date, YYYY-MM-DD.")] = None,
    max_records: Annotated[
        int | None, typer.Option("--max", min=1, help="Stop after N records.")
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option(help="Records per EFetch request.", min=1)
    ] = None,
    eutils_url: Annotated[str | None, typer.Option(help="E-utilities base URL.")] = None,
    runner: RunnerOpt = None,
    address: AddressOpt = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=0,
            help="Local runner: parse processes (0: in this process). Dask runner without "
            "--address: workers of the local cluster (dask.workers).",
        ),
    ] = None,
    redo: Annotated[
        bool,
        typer.Option("--redo", help="Dask runner: apply files again that an earlier run applied."),
    ] = False,
    data_dir: DataDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Ingest PubMed records from Entrez (--query) or local files (--file PATH...)."""
    from litmine import ingest as jobs

    if bool(query) == bool(file):
        raise InputError("give exactly one of --query or --file", "see `litmine ingest --help`")
    if file and not paths:
        raise InputError("--file needs at least one PATH", "e.g. `litmine ingest --file a.xml.gz`")
    if paths and not file:
        raise InputError(f"unexpected argument {paths[0]}", "files are read with --file PATH...")
    if updates and not file:
        raise InputError(
            "--updates goes with --file",
            "e.g. `litmine ingest --file baseline/ --updates updatefiles/`",
        )
    settings = cli_settings(
        data_dir,
        entrez={"batch_size": batch_size, "eutils_url": eutils_url},
        dask={"address": address},
    )
    settings = with_runner(settings, runner)
    if settings.runner == "dask" and workers == 0:
        raise InputError("--workers 0 needs the local runner", "give --workers 1 or more")
    skipped: list[str] = []
    with progress_bar("ingesting") as bar:
        if file:
            from litmine.scale.ingest import ingest_paths

            result = ingest_paths(
                paths or [],
                settings,
                updates=updates or [],
                redo=redo,
                workers=workers,
                progress=bar,
            )
            report, skipped = result.report, result.skipped
        else:
            assert query is not None
            report = jobs.ingest_query(
                query,
                settings,
                since=parse_date(since, "--since"),
                until=parse_date(until, "--until"),
                max_records=max_records,
                progress=bar,
            )
    if as_json:
        out.print_json(to_json(report))
        return
    for line in report.errors[:5]:
        err.print(f"skipped: {line}", markup=False, highlight=False, soft_wrap=True)
    if len(report.errors) > 5:
        err.print(f"... and {len(report.errors) - 5} more problems", markup=False)
    if skipped:
        err.print(
            f"skipped {len(skipped)} file(s) an earlier run applied (--redo applies them again)",
            markup=False,
        )
    out.print(report.line(), markup=False, highlight=False)


@handle_errors
def status(data_dir: DataDirOpt = None, as_json: JsonOpt = False) -> None:
    """Counts, the last runs and each saved query's watermark."""
    from rich.table import Table

    from litmine import ingest as jobs

    report = jobs.status(cli_settings(data_dir))
    if as_json:
        out.print_json(to_json(report))
        return
    c = report.counts
    vectors = "not built" if report.vectors is None else str(report.vectors)
    out.print(f"data dir: {report.data_dir}", markup=False, highlight=False)
    out.print(f"store: {report.store}", markup=False, highlight=False)
    out.print(
        f"articles {c.articles} (without abstract {c.articles_without_abstract}, "
        f"retracted {c.retracted}) / passages {c.passages} / entities {c.entities} / "
        f"vectors {vectors}",
        markup=False,
        highlight=False,
    )
    if report.runs:
        table = Table("run", "kind", "started", "status", "fetched", "new", "upd", "del", "fail")
        for r in report.runs:
            table.add_row(
                str(r.id),
                r.kind,
                f"{r.started_at:%Y-%m-%d %H:%M}",
                r.status,
                *(str(x) for x in (r.fetched, r.new, r.updated, r.deleted, r.failed)),
            )
        out.print(table)
    for q in report.queries:
        mark = q.watermark.isoformat() if q.watermark else "never run"
        out.print(f"saved query {q.id}: {q.query!r} cron {q.cron} watermark {mark}", markup=False)


@schedule_app.command("add")
@handle_errors
def schedule_add(
    query: Annotated[str, typer.Argument(help="PubMed query to ingest every night.")],
    cron: Annotated[str | None, typer.Option(help='Cron schedule, e.g. "0 2 * * *".')] = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Save a query for the nightly incremental flow."""
    from litmine import ingest as jobs

    saved = jobs.add_saved_query(query, cli_settings(data_dir), cron=cron)
    out.print(f"saved query {saved.id}: {saved.query!r} cron {saved.cron}", markup=False)


@schedule_app.command("list")
@handle_errors
def schedule_list(data_dir: DataDirOpt = None, as_json: JsonOpt = False) -> None:
    """List saved queries with their cron and watermark."""
    from litmine import ingest as jobs

    queries = jobs.list_saved_queries(cli_settings(data_dir))
    if as_json:
        out.print_json(to_json(queries))
        return
    if not queries:
        out.print('no saved queries; add one with `litmine schedule add "QUERY"`', markup=False)
    for q in queries:
        mark = q.watermark.isoformat() if q.watermark else "never run"
        out.print(f"{q.id}\t{q.cron}\t{mark}\t{q.query}", markup=False, highlight=False)


@schedule_app.command("remove")
@handle_errors
def schedule_remove(
    query: Annotated[str, typer.Argument(help="Saved query text or id.")],
    data_dir: DataDirOpt = None,
) -> None:
    """Forget a saved query."""
    from litmine import ingest as jobs

    key: str | int = int(query) if query.isdigit() else query
    if not jobs.remove_saved_query(key, cli_settings(data_dir)):
        raise InputError(f"no saved query {query!r}", "see `litmine schedule list`")
    out.print(f"removed {query!r}", markup=False)


@schedule_app.command("run")
@handle_errors
def schedule_run(
    query: Annotated[
        str | None, typer.Argument(help="Saved query text or id; all when omitted.")
    ] = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Run saved queries once now through the Prefect nightly flow."""
    from flows.nightly import nightly_ingest

    settings = cli_settings(data_dir)
    key: str | int | None = int(query) if query and query.isdigit() else query
    reports = nightly_ingest(query=key, data_dir=str(settings.data_dir))
    for name, line in reports.items():
        out.print(f"{name}: {line}", markup=False, highlight=False)


@schedule_app.command("serve")
@handle_errors
def schedule_serve(data_dir: DataDirOpt = None) -> None:
    """Serve the nightly deployments (one per saved query) with their cron schedules."""
    from flows.nightly import serve

    serve(data_dir=str(cli_settings(data_dir).data_dir))

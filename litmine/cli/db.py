"""``litmine db``: the store's schema (``status``, ``migrate``).

A PostgreSQL store is never migrated by opening it (other machines share the
server); ``litmine db migrate`` creates or upgrades its schema. A SQLite file
upgrades itself on open, and ``migrate`` does that explicitly.
"""

from __future__ import annotations

from typing import Annotated

import typer

from litmine.cli.common import DataDirOpt, JsonOpt, cli_settings, handle_errors, out, to_json

__all__ = ["db_app"]

db_app = typer.Typer(help="The store's database schema: status and migrations.")


def _print_plan(plan: object, as_json: bool, *, dry_run: bool) -> None:
    from litmine.store.migrate import MigrationPlan

    assert isinstance(plan, MigrationPlan)
    if as_json:
        out.print_json(
            to_json(
                {
                    "backend": plan.backend,
                    "url": plan.url,
                    "current": plan.current,
                    "target": plan.target,
                    "pending": [
                        {"version": m.version, "description": m.description} for m in plan.pending
                    ],
                    "applied": plan.applied,
                }
            )
        )
        return
    out.print(f"store: {plan.backend} {plan.url}", markup=False, highlight=False)
    out.print(
        f"schema version: {plan.current} (this litmine: {plan.target})",
        markup=False,
        highlight=False,
    )
    verb = "applied" if plan.applied else ("would apply" if dry_run else "pending")
    for step in plan.pending:
        out.print(f"  {verb} {step.version}: {step.description}", markup=False, highlight=False)
    if not plan.pending:
        out.print("up to date", markup=False, highlight=False)


@db_app.command("status")
@handle_errors
def db_status(data_dir: DataDirOpt = None, as_json: JsonOpt = False) -> None:
    """Show the store's schema version and the migrations it lacks."""
    from litmine.store.migrate import migrate_store

    plan = migrate_store(cli_settings(data_dir), dry_run=True)
    _print_plan(plan, as_json, dry_run=True)


@db_app.command("migrate")
@handle_errors
def db_migrate(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the steps without applying them.")
    ] = False,
    data_dir: DataDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create or upgrade the store's schema (required once per PostgreSQL database)."""
    from litmine.store.migrate import migrate_store

    plan = migrate_store(cli_settings(data_dir), dry_run=dry_run)
    _print_plan(plan, as_json, dry_run=dry_run)

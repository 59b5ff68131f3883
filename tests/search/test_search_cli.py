"""The search CLI objects mounted on a throwaway app (no model load: bm25 and verify)."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from litmine.cli.search import eval_app, index_app, search_command
from litmine.config import Settings
from tests.backends import open_store
from tests.search_helpers import fill


def _app() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(index_app, name="index")
    app.command("search")(search_command)
    app.add_typer(eval_app, name="eval")
    return app


@pytest.mark.both_backends
def test_search_bm25_json_and_verify(settings: Settings) -> None:
    with open_store(settings) as store:
        fill(store, settings)
    runner = CliRunner()
    data = ["--data-dir", str(settings.data_dir)]
    result = runner.invoke(
        _app(),
        ["search", "xyzzyl7 zebrafish", "--mode", "bm25", "--json", "--since", "2000", *data],
    )
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)
    assert hits[0]["pmid"] == "1004" and hits[0]["ranks"] == {"bm25": 1}
    result = runner.invoke(_app(), ["search", "   ", "--mode", "bm25", *data])
    assert result.exit_code == 1 and "question is empty" in result.output
    result = runner.invoke(_app(), ["index", "verify", "--json", *data])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["exists"] is False

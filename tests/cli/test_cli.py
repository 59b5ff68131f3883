"""The CLI through typer's CliRunner: real store, real files, replayed Entrez."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from litmine.cli.root import app
from tests.conftest import shared_path
from tests.entrez_replay import Corpus, EntrezReplay, closed_port_url

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_ingest_files_then_status_json() -> None:
    files = [str(shared_path("entrez", n)) for n in ("pubmed1.xml", "pubmed2.xml")]
    code, out, _ = invoke("ingest", "--file", *files)
    assert code == 0
    assert out.strip() == "fetched 4 / new 4 / updated 0 / deleted 0 / failed 0"
    code, out, _ = invoke("status", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["counts"]["articles"] == 4
    assert data["runs"][0]["status"] == "ok"
    code, out, _ = invoke("status")
    assert code == 0 and "articles 4" in out


def test_data_dir_flag_overrides_env(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    code, _, _ = invoke(
        "ingest", "--file", str(shared_path("entrez", "pubmed4.xml")), "--data-dir", str(target)
    )
    assert code == 0
    assert (target / "litmine.db").is_file()


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("ingest",), "exactly one of --query or --file"),
        (("ingest", "--file", "missing.xml"), "no such file"),
        (("ingest", "--file"), "at least one PATH"),
        (("ingest", "-q", "x", "a.xml"), "unexpected argument"),
        (("ingest", "--query", "x", "--since", "yesterday"), "YYYY-MM-DD"),
        (("schedule", "add", "asthma", "--cron", "nightly"), "cron"),
        (("schedule", "remove", "never-saved"), "no saved query"),
    ],
)
def test_errors_are_one_line_without_traceback(args: tuple[str, ...], fragment: str) -> None:
    code, out, err = invoke(*args)
    assert code == 1
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert fragment in lines[0]
    assert "Traceback" not in out + err


def test_unreachable_ncbi_says_so_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LITMINE_EUTILS_URL", closed_port_url())
    monkeypatch.setenv("LITMINE_ENTREZ_MAX_RETRIES", "0")
    code, _, err = invoke("ingest", "--query", "asthma")
    assert code == 1
    assert err.count("\n") == 1
    assert "unreachable" in err and "ingest --file" in err


def test_bad_config_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[entrez]\nbatch_size = 'lots'\n", encoding="utf-8")
    monkeypatch.setenv("LITMINE_CONFIG", str(cfg))
    code, _, err = invoke("status")
    assert code == 1
    assert err.startswith("error: invalid settings: entrez.batch_size")


def test_query_ingest_and_schedule_commands(
    entrez_replay: EntrezReplay, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in entrez_replay.env().items():
        monkeypatch.setenv(key, value)
    entrez_replay.use_corpus(Corpus.spread(30, dt.date(2024, 6, 1), dt.date(2024, 6, 5)))
    code, out, _ = invoke(
        "ingest",
        "-q",
        "asthma",
        "--since",
        "2024-06-01",
        "--until",
        "2024-06-05",
        "--batch-size",
        "10",
        "--json",
    )
    assert code == 0
    assert json.loads(out)["new"] == 30
    assert len(entrez_replay.requests_for("efetch")) == 3  # --batch-size reached the gateway

    code, out, _ = invoke("schedule", "add", "asthma", "--cron", "30 1 * * *")
    assert code == 0 and "saved query 1" in out
    code, out, _ = invoke("schedule", "list", "--json")
    saved = json.loads(out)
    assert saved[0]["query"] == "asthma" and saved[0]["cron"] == "30 1 * * *"
    assert saved[0]["watermark"] is None
    code, out, _ = invoke("schedule", "remove", "1")
    assert code == 0
    code, out, _ = invoke("schedule", "list")
    assert "no saved queries" in out


def test_unknown_host_fails_fast_without_retry_noise(monkeypatch: pytest.MonkeyPatch) -> None:
    # RFC 2606 reserves .invalid: it never resolves, as when a machine is offline.
    monkeypatch.setenv("LITMINE_EUTILS_URL", "https://eutils.litmine.invalid/entrez/eutils/")
    monkeypatch.setenv("LITMINE_ENTREZ_BACKOFF_BASE", "5")
    monkeypatch.setenv("LITMINE_ENTREZ_MAX_RETRIES", "1")
    code, _, err = invoke("ingest", "--query", "asthma")
    assert code == 1
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1
    assert "unreachable" in lines[0] and "ingest --file" in lines[0]

"""Every CSV/TSV litmine writes neutralises cells a spreadsheet would run as formulas.

Abstracts are written by anyone, so titles, passages and entity names that
start with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return must reach
the files with a leading ``'``. One tiny real collection (SQLite, entities,
MiniLM index) is exported by every writer: ``litmine export`` (findings and
entity tables), ``litmine entities top`` and ``entities pairs`` (CSV file and
TSV on stdout) and the web page's ``/export.csv``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from litmine.cli import app
from litmine.config import Settings, load_settings, merge_section
from litmine.indexing import build_index
from litmine.passages import split_article
from litmine.store import Store
from litmine.types import Article, Entity, PubDate
from tests.search_helpers import ARTICLES, minilm

PAYLOADS = (
    '=HYPERLINK("http://evil.example","click")',
    "+SUM(1,2)",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(A1:A2)",
    "\t=1+1",
    "\r=2+2",
)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
QUESTION = "aspirin gastrointestinal bleeding"
# Columns holding numbers: a negative number there stays a number (export.py's rule).
NUMERIC = {"articles", "mentions", "score", "year", "cluster_id"}


def _hostile() -> list[Article]:
    return [
        Article(
            pmid=str(3001 + i),
            title=f"{payload} aspirin and bleeding",
            abstract=f"{payload} Aspirin caused gastrointestinal bleeding in {i + 2} patients.",
            journal=payload,
            pub_date=PubDate(year=2020),
        )
        for i, payload in enumerate(PAYLOADS)
    ]


@pytest.fixture(scope="module")
def collection(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    settings = load_settings(data_dir=tmp_path_factory.mktemp("inject") / "data")
    settings = merge_section(settings, "summarize", method="extractive")
    with Store.open(settings) as store:
        store.upsert_articles(
            [*ARTICLES, *_hostile()], split=lambda a: split_article(a, settings.passages)
        )
        found: dict[int, list[Entity]] = {}
        for i, payload in enumerate(PAYLOADS):
            for p in store.passages_for(str(3001 + i)):
                at = p.text.find("Aspirin")
                end = p.text.find("bleeding")
                found[p.id] = [
                    Entity(p.id, at, at + 7, "Aspirin", "CHEMICAL", payload),
                    Entity(p.id, end, end + 8, "bleeding", "DISEASE", payload),
                ]
        store.save_entities(found, "test")
        build_index(store, minilm(), settings)
    yield settings


def _cells(text: str, delimiter: str = ",") -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter))


def _assert_neutralised(rows: list[dict[str, str]], *, min_payloads: int) -> None:
    """No text cell starts like a formula, and the payloads came through quoted."""
    assert rows, "nothing was exported"
    seen = set()
    for row in rows:
        for column, cell in row.items():
            if column in NUMERIC and cell:
                float(cell)  # a number, written as one
                continue
            assert not cell.startswith(FORMULA_STARTS), (column, cell)
            for payload in PAYLOADS:
                # A carriage return in a cell is written as a line feed (quoted).
                if cell.startswith("'" + payload.replace("\r", "\n")):
                    seen.add(payload)
    assert len(seen) >= min_payloads, seen


def _run(settings: Settings, *args: str) -> str:
    result = CliRunner().invoke(app, [*args, "--data-dir", str(settings.data_dir)])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_export_findings_csv(collection: Settings, tmp_path: Path) -> None:
    out = tmp_path / "findings.csv"
    _run(collection, "export", "--query", QUESTION, "--all-hits", "--k", "30", "--out", str(out))
    rows = _cells(out.read_text(encoding="utf-8"))
    _assert_neutralised(rows, min_payloads=len(PAYLOADS))
    assert {r["pmid"] for r in rows} >= {str(3001 + i) for i in range(len(PAYLOADS))}


def test_export_entity_tables_csv(collection: Settings, tmp_path: Path) -> None:
    out = tmp_path / "entities.csv"
    _run(collection, "export", "--entities", "--out", str(out), "--excel")
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    _assert_neutralised(_cells(raw.decode("utf-8-sig")), min_payloads=len(PAYLOADS))
    pairs = out.with_name("entities_pairs.csv").read_text(encoding="utf-8")
    _assert_neutralised(_cells(pairs), min_payloads=len(PAYLOADS))


def test_entities_pairs_csv_and_tsv(collection: Settings, tmp_path: Path) -> None:
    out = tmp_path / "pairs.csv"
    _run(collection, "entities", "pairs", "--out", str(out))
    rows = _cells(out.read_text(encoding="utf-8"))
    _assert_neutralised(rows, min_payloads=len(PAYLOADS))
    assert {r["articles"] for r in rows} == {"1"}  # counts stay plain numbers
    tsv = _cells(_run(collection, "entities", "pairs"), delimiter="\t")
    _assert_neutralised(tsv, min_payloads=len(PAYLOADS))
    assert [r["chemical"] for r in tsv] == [r["chemical"] for r in rows]


def test_entities_top_tsv(collection: Settings) -> None:
    rows = _cells(_run(collection, "entities", "top", "--limit", "50"), delimiter="\t")
    _assert_neutralised(rows, min_payloads=len(PAYLOADS))
    assert {r["label"] for r in rows} == {"CHEMICAL", "DISEASE"}


def test_web_export_csv(collection: Settings) -> None:
    from litmine.answer import Answerer
    from litmine.web.app import create_app

    with (
        Store.open(collection, read_only=True) as store,
        Answerer(collection, store=store, embedder=minilm()) as answerer,
        TestClient(create_app(collection, answerer=answerer)) as client,
    ):
        r = client.get("/export.csv", params={"q": QUESTION, "k": 30})
    assert r.status_code == 200, r.text
    _assert_neutralised(_cells(r.text), min_payloads=1)  # the cited passages only

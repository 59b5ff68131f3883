from __future__ import annotations

import csv
import functools
import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from litmine.config import PassageSettings
from litmine.ner.cli import entities_app, ner_app
from litmine.passages import split_article
from litmine.store import Store
from litmine.types import Article, MeshHeading
from tests.ner_helpers import save_ruler_pipeline

app = typer.Typer()
app.add_typer(ner_app, name="ner")
app.add_typer(entities_app, name="entities")
runner = CliRunner()


@pytest.fixture(scope="module")
def ruler_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_ruler_pipeline(tmp_path_factory.mktemp("ruler") / "pipeline")


def test_entities_commands(tmp_path: Path, ruler_dir: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    arts = [
        Article(
            pmid=str(i),
            title="Sorafenib for liver cancer",
            abstract="Hepatocellular carcinoma (HCC) was treated with sorafenib. HCC shrank.",
            mesh_headings=[MeshHeading("D006528", "Carcinoma, Hepatocellular")],
        )
        for i in (1, 2)
    ]
    with Store(data / "litmine.db") as store:
        split = functools.partial(split_article, settings=PassageSettings(splitter="regex"))
        store.upsert_articles(arts, split=split)
    base = ["--data-dir", str(data)]
    res = runner.invoke(app, ["entities", "--model", str(ruler_dir), *base])
    assert res.exit_code == 0, res.output
    assert "processed 2 articles" in res.output
    res = runner.invoke(app, ["entities", "top", "--label", "disease", "--json", *base])
    assert res.exit_code == 0, res.output
    top = json.loads(res.output)
    assert top[0]["name"] == "hepatocellular carcinoma"
    assert (top[0]["concept_id"], top[0]["articles"], top[0]["mentions"]) == ("D006528", 2, 6)
    out_csv = tmp_path / "pairs.csv"
    res = runner.invoke(
        app, ["entities", "pairs", "--query", "sorafenib", "--out", str(out_csv), *base]
    )
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(out_csv.open()))
    assert rows[0]["chemical"] == "sorafenib" and rows[0]["disease_id"] == "D006528"
    assert rows[0]["pmids"] == "1 2"
    res = runner.invoke(app, ["entities", "top", "--label", "gene", *base])
    assert res.exit_code == 1
    assert "unknown label" in res.output


def test_ner_eval_reports_missing_model(tmp_path: Path) -> None:
    corpus = tmp_path / "c.txt"
    corpus.write_text("1|t|T\n1|a|A\n")
    res = runner.invoke(
        app, ["ner", "eval", "--corpus", str(corpus), "--model", "en_ner_bc5cdr_md"]
    )
    assert res.exit_code == 1
    assert "pip install https://s3-us-west-2.amazonaws.com/ai2-s2-scispacy" in res.output

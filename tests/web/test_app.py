"""The web app over a tiny real collection, through FastAPI's TestClient (ASGI)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from litmine.config import load_settings
from litmine.web.app import create_app

from .conftest import EVIL_TITLE, World

TRACEBACK = re.compile(r"Traceback|File \"|\.py\", line", re.I)


@pytest.fixture(scope="module")
def client(world: World) -> Iterator[TestClient]:
    """Search, articles and errors: no answerer needed."""
    app = create_app(world.settings, searcher=world.searcher)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="module")
def ask_client(world: World) -> Iterator[TestClient]:
    app = create_app(world.settings, answerer=world.answerer)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


# ---------------------------------------------------------------- JSON API


def test_api_search_returns_hits(client: TestClient) -> None:
    r = client.get("/api/search", params={"q": "coffee and liver cirrhosis", "k": 3})
    assert r.status_code == 200
    body = r.json()
    assert body["mode"] == "hybrid"
    assert len(body["hits"]) == 3
    top = body["hits"][0]
    assert (top["pmid"], top["rank"], top["year"]) == ("1009", 1, 2013)
    assert top["pubmed_url"] == "https://pubmed.ncbi.nlm.nih.gov/1009/"


def test_api_search_filters(client: TestClient) -> None:
    params: dict[str, Any] = {
        "q": "randomized trial in patients",
        "k": 50,
        "mode": "bm25",
        "since": "2012",
        "until": "2016",
        "pub_type": "Randomized Controlled Trial",
    }
    hits = client.get("/api/search", params=params).json()["hits"]
    assert hits
    assert all(2012 <= h["year"] <= 2016 for h in hits)
    assert all("Randomized Controlled Trial" in h["publication_types"] for h in hits)
    empty = {**params, "since": "", "until": "", "pub_type": ""}  # an empty HTML form
    assert len(client.get("/api/search", params=empty).json()["hits"]) > len(hits)


@pytest.mark.parametrize(
    ("params", "status", "needle"),
    [
        ({"q": "x" * 501}, 400, "at most 500 characters"),
        ({"q": "aspirin", "k": 0}, 422, "k: Input should be greater than or equal to 1"),
        ({"q": "aspirin", "k": 201}, 400, "k: at most 200 passages"),
        ({"q": "aspirin", "mode": "fuzzy"}, 422, "mode"),
        ({"q": "aspirin", "since": "20x0"}, 400, "since must be a four-digit year"),
        ({"q": "aspirin", "since": "2020", "until": "2010"}, 400, "after"),
        ({"q": "   "}, 400, "the question is empty"),
        ({}, 422, "q: Field required"),
    ],
)
def test_api_bounds_are_clear_json(
    client: TestClient, params: dict[str, Any], status: int, needle: str
) -> None:
    r = client.get("/api/search", params=params)
    assert r.status_code == status
    assert r.headers["content-type"].startswith("application/json")
    assert needle in r.json()["error"]


def test_api_article_and_unknown_pmid(client: TestClient) -> None:
    r = client.get("/api/articles/1001")
    assert r.status_code == 200
    body = r.json()
    assert body["title"] == "Aspirin and myocardial infarction"
    assert body["mesh_terms"] == ["Aspirin", "Myocardial Infarction"]
    missing = client.get("/api/articles/999999")
    assert missing.status_code == 404
    assert missing.json() == {
        "error": "no article with PMID '999999' in the store",
        "hint": "ingest it first (`litmine ingest`)",
    }


def test_openapi_lists_the_routes(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    assert {"/api/ask", "/api/search", "/api/articles/{pmid}", "/export.csv"} <= set(paths)
    assert "/" not in paths
    ok = paths["/api/ask"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/AnswerOut"}
    params = {p["name"]: p for p in paths["/api/search"]["get"]["parameters"]}
    assert params["k"]["schema"]["anyOf"][0]["minimum"] == 1
    assert "web.max_k" in params["k"]["description"]
    assert "ErrorOut" in schema["components"]["schemas"]


# ---------------------------------------------------------------- HTML and errors


def test_empty_form_page(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200
    assert '<form class="ask"' in r.text and 'name="q"' in r.text
    assert "Randomized Controlled Trial" in r.text
    assert "script-src 'none'" in r.headers["content-security-policy"]
    assert client.get("/static/style.css").status_code == 200


def test_html_bounds_are_pages(client: TestClient) -> None:
    r = client.get("/", params={"q": "a" * 600})
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("text/html")
    assert "at most 500 characters" in r.text and '<form class="ask"' in r.text
    r = client.get("/", params={"q": "aspirin", "k": 1000})
    assert r.status_code == 400 and "k: at most 200 passages" in r.text
    r = client.get("/", params={"q": "aspirin", "until": "soon"})
    assert r.status_code == 400 and "until must be a four-digit year" in r.text


def test_reflected_input_is_escaped(client: TestClient) -> None:
    evil = '"><script>alert(3)</script>'
    r = client.get("/", params={"q": "x" * 501 + evil})
    assert "<script>alert(3)" not in r.text
    assert "&lt;script&gt;alert(3)" in r.text


def test_missing_database_is_503_with_the_fix(tmp_path: Path) -> None:
    app = create_app(load_settings(data_dir=tmp_path / "nothing"))
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/api/search", params={"q": "aspirin"})
        assert r.status_code == 503
        assert "no litmine database" in r.json()["error"]
        assert "ingest" in r.json()["hint"]
        page = c.get("/", params={"q": "aspirin"})
        assert page.status_code == 503 and "no litmine database" in page.text


def test_missing_index_is_503(world: World, tmp_path: Path) -> None:
    from litmine.search.hybrid import Searcher

    settings = world.settings.model_copy(update={"data_dir": tmp_path})
    (tmp_path / "litmine.db").symlink_to(world.settings.db_path)
    with Searcher(settings) as searcher:
        app = create_app(settings, searcher=searcher)
        with TestClient(app, raise_server_exceptions=False) as c:
            r = c.get("/api/search", params={"q": "aspirin", "mode": "dense"})
            assert r.status_code == 503
            assert "litmine index build" in r.json()["hint"]
            assert c.get("/api/search", params={"q": "aspirin", "mode": "bm25"}).status_code == 200


def test_crash_shows_no_traceback(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    app = create_app(world.settings, searcher=world.searcher)
    service = app.state.service

    def boom(*a: Any, **k: Any) -> Any:
        raise RuntimeError("secret internals /etc/passwd")

    monkeypatch.setattr(service, "search", boom)
    monkeypatch.setattr(service, "ask", boom)
    with TestClient(app, raise_server_exceptions=False) as c:
        for r in (c.get("/api/search", params={"q": "x"}), c.get("/", params={"q": "x"})):
            assert r.status_code == 500
            assert "internal error" in r.text
            assert "secret" not in r.text and not TRACEBACK.search(r.text)


# ---------------------------------------------------------------- answers (litmine.answer.answer)


def test_page_renders_an_answer(ask_client: TestClient) -> None:
    r = ask_client.get("/", params={"q": "does aspirin prevent myocardial infarction"})
    assert r.status_code == 200, r.text
    html = r.text
    assert 'class="cluster"' in html
    assert 'href="https://pubmed.ncbi.nlm.nih.gov/1001/"' in html
    assert '<mark class="ent ent-chemical" title="CHEMICAL: aspirin">aspirin</mark>' in html
    assert "<svg" in html and "Matching articles per year" in html
    assert "Summaries are <strong>extractive</strong>" in html
    assert html.count("summarize.method = extractive") == 1  # the reason, once per answer
    assert 'class="evidence-table' in html and "Key finding" in html
    assert "&amp;sort=n#cluster-" in html  # server-side sorting, no scripts
    assert 'href="/export.csv?q=does+aspirin+prevent+myocardial+infarction"' in html


def test_page_sorts_evidence_tables_and_says_when_nothing_answers(
    ask_client: TestClient,
) -> None:
    html = ask_client.get(
        "/", params={"q": "does aspirin prevent myocardial infarction", "sort": "year"}
    ).text
    assert "sorted by year" in html
    for table in re.findall(r'<table class="evidence-table.*?</table>', html, re.S):
        years = [int(y) for y in re.findall(r"<td>((?:19|20)\d\d)</td>", table)]
        assert years == sorted(years, reverse=True)
    html = ask_client.get("/", params={"q": "quantum tunnelling in desert cacti"}).text
    assert "No article in this collection answers this question." in html
    assert 'class="summary' not in html
    body = ask_client.get("/api/ask", params={"q": "quantum tunnelling in desert cacti"}).json()
    assert body["no_evidence"] and body["clusters"] == [] and body["less_related"]


def test_page_escapes_article_markup(ask_client: TestClient) -> None:
    r = ask_client.get("/", params={"q": "aspirin gastrointestinal bleeding risk"})
    assert r.status_code == 200
    html = r.text
    assert "<script>alert(1)" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Aspirin &amp; bleeding" in html
    assert "<b>risk</b>" not in html
    assert '<mark class="ent ent-disease" title="DISEASE: bleeding">bleeding</mark>' in html
    assert EVIL_TITLE not in html


def test_page_filters_are_applied(ask_client: TestClient) -> None:
    params: dict[str, Any] = {
        "q": "randomized trial in patients",
        "since": "2012",
        "until": "2016",
        "pub_type": "Randomized Controlled Trial",
    }
    html = ask_client.get("/", params=params).text
    cited = set(re.findall(r"pubmed\.ncbi\.nlm\.nih\.gov/(\d+)/", html))
    assert cited and cited <= {"1001", "1002", "1008"}  # RCTs published 2012-2016
    assert 'value="2012"' in html and "checked" in html


def test_api_ask(ask_client: TestClient) -> None:
    r = ask_client.get("/api/ask", params={"q": "coffee and liver disease", "k": 10})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["clusters"] and body["summary_method"] in ("seq2seq", "extractive")
    first = body["clusters"][0]
    assert {"label", "summary", "evidence", "pmids", "hits"} <= set(first)
    assert "1009" in {a["pmid"] for a in body["articles"]}


def test_csv_download(ask_client: TestClient) -> None:
    r = ask_client.get("/export.csv", params={"q": "coffee and liver disease", "since": "2010"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"].startswith("attachment")
    rows = list(csv.reader(io.StringIO(r.text)))
    assert len(rows) > 1 and "pmid" in rows[0]
    r = ask_client.get("/export.csv", params={"q": ""})
    assert r.status_code == 422 and not TRACEBACK.search(r.text)


def test_serve_command_runs_uvicorn(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    import typer
    import uvicorn
    from typer.testing import CliRunner

    from litmine.web.cli import serve_command

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(app=app, **kw))
    cli = typer.Typer()
    cli.command("serve")(serve_command)
    cli.command("noop")(lambda: None)  # keep "serve" a subcommand
    data = str(world.settings.data_dir)
    result = CliRunner().invoke(cli, ["serve", "--port", "8123", "--data-dir", data, "--lazy"])
    assert result.exit_code == 0, result.output
    assert (seen["host"], seen["port"]) == ("127.0.0.1", 8123)
    assert seen["app"].title == "litmine"
    missing = CliRunner().invoke(cli, ["serve", "--data-dir", data + "-missing"])
    assert missing.exit_code == 1 and "no database" in missing.output

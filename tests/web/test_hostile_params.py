"""Hostile query parameters get a readable 4xx (JSON for the API, HTML for the page), never a 500.

Also: the ``web`` settings set the limits, and ``litmine serve`` warns when it
listens beyond this machine (the page has no authentication).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from litmine.config import merge_section
from litmine.web.app import create_app

from .conftest import World

TRACEBACK = re.compile(r"Traceback|File \"|\.py\", line", re.I)
ROUTES = ("/api/search", "/api/ask", "/export.csv", "/")
MEGABYTE_QUESTION = "aspirin " * (1 << 17)  # 1 MiB

BAD = [
    pytest.param({"q": "x" * 60_000}, 400, "at most 500 characters", id="60k-q"),
    pytest.param(
        {"q": "aspirin", "since": "abc"}, 400, "since must be a four-digit year", id="abc"
    ),
    pytest.param(
        {"q": "aspirin", "until": "3000"}, 400, "until must be a four-digit year", id="3000"
    ),
    pytest.param({"q": "aspirin", "since": "-5"}, 400, "since must be a four-digit year", id="neg"),
    pytest.param({"q": "aspirin", "since": "2020", "until": "2010"}, 400, "after", id="from>to"),
    pytest.param(
        {"q": "aspirin", "pub_type": "Horoscope"}, 400, "unknown publication type", id="pub_type"
    ),
    pytest.param(
        {"q": "aspirin", "pub_type": [f"T{i}" for i in range(21)]}, 400, "too many", id="21-types"
    ),
    pytest.param({"q": "aspirin", "k": 10**9}, 400, "k: at most 200 passages", id="k=1e9"),
    pytest.param({"q": "aspirin", "k": -3}, 422, "k: Input should be greater than", id="k<0"),
    pytest.param({"q": "aspirin", "k": "lots"}, 422, "k: Input should be a valid integer", id="k?"),
]


@pytest.fixture(scope="module")
def client(world: World) -> Iterator[TestClient]:
    app = create_app(world.settings, answerer=world.answerer)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(("params", "status", "needle"), BAD)
def test_bad_parameters_are_readable_4xx(
    client: TestClient, route: str, params: dict[str, Any], status: int, needle: str
) -> None:
    r = client.get(route, params=params)
    assert r.status_code == status, r.text[:300]
    assert not TRACEBACK.search(r.text)
    if route.startswith("/api/"):
        assert r.headers["content-type"].startswith("application/json")
        assert needle in r.json()["error"]
    else:
        assert r.headers["content-type"].startswith("text/html")
        assert needle in r.text and '<form class="ask"' in r.text
        assert len(r.text) < 100_000  # the 1 MB question is not echoed back whole


def _raw_get(app: Any, path: str, query: str) -> tuple[int, dict[str, str], str]:
    """One GET straight through ASGI: httpx refuses URLs over 64 KiB, a server need not."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query.encode(),
        "headers": [(b"host", b"testserver")],
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 50000),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], headers, body.decode()


@pytest.mark.parametrize("route", ROUTES)
def test_megabyte_question_is_refused(world: World, route: str) -> None:
    app = create_app(world.settings, answerer=world.answerer)
    query = urlencode({"q": MEGABYTE_QUESTION})
    assert len(query) > 1 << 20
    status, headers, body = _raw_get(app, route, query)
    assert status == 400 and not TRACEBACK.search(body)
    assert "at most 500 characters are accepted, got 1048576" in body
    kind = "application/json" if route.startswith("/api/") else "text/html"
    assert headers["content-type"].startswith(kind)
    assert len(body) < 100_000  # the question is not echoed back whole


def test_known_publication_types_pass_in_any_case(client: TestClient) -> None:
    params = {"q": "randomized trial", "pub_type": "randomized CONTROLLED trial", "mode": "bm25"}
    r = client.get("/api/search", params=params)
    assert r.status_code == 200, r.text
    assert r.json()["hits"]


def test_limits_come_from_the_web_settings(world: World) -> None:
    settings = merge_section(world.settings, "web", max_question_chars=20, max_k=5)
    app = create_app(settings, searcher=world.searcher)
    with TestClient(app, raise_server_exceptions=False) as c:
        long = c.get("/api/search", params={"q": "coffee and the liver disease", "k": 5})
        assert long.status_code == 400 and "at most 20 characters" in long.json()["error"]
        many = c.get("/api/search", params={"q": "coffee", "k": 6})
        assert many.status_code == 400 and "k: at most 5 passages" in many.json()["error"]
        ok = c.get("/api/search", params={"q": "coffee", "k": 5})
        assert ok.status_code == 200 and len(ok.json()["hits"]) == 5


@pytest.mark.parametrize(
    ("host", "warned"),
    [
        ("0.0.0.0", True),
        ("192.168.1.20", True),
        ("::", True),
        ("example.org", True),
        ("127.0.0.1", False),
        ("127.0.1.1", False),
        ("localhost", False),
        ("::1", False),
    ],
)
def test_serve_warns_off_loopback(
    world: World, monkeypatch: pytest.MonkeyPatch, host: str, warned: bool
) -> None:
    import typer
    import uvicorn
    from typer.testing import CliRunner

    from litmine.web.cli import serve_command

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(kw))
    cli = typer.Typer()
    cli.command("serve")(serve_command)
    cli.command("noop")(lambda: None)  # keep "serve" a subcommand
    args = ["serve", "--host", host, "--data-dir", str(world.settings.data_dir), "--lazy"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert seen["host"] == host
    warnings = [line for line in result.output.splitlines() if "no authentication" in line]
    assert len(warnings) == (1 if warned else 0), result.output
    if warned:
        assert warnings[0].startswith("litmine: warning:") and host in warnings[0]


def test_a_publication_type_that_arrives_later_is_accepted_without_a_restart(
    tmp_path: Any,
) -> None:
    from litmine.config import load_settings
    from litmine.search import Searcher
    from litmine.store import Store
    from litmine.types import Article, PubDate
    from tests.search_helpers import ARTICLES, fill

    settings = load_settings(data_dir=tmp_path / "data")
    with Store.open(settings) as rw:
        fill(rw, settings, ARTICLES[:3])
    reader = Store.open(settings, read_only=True)
    app = create_app(settings, searcher=Searcher(settings, store=reader))
    params = {"q": "aspirin", "pub_type": "Case Reports", "mode": "bm25"}
    try:
        with TestClient(app, raise_server_exceptions=False) as c:
            first = c.get("/api/search", params=params)
            assert first.status_code == 400 and "unknown publication type" in first.text
            late = Article(
                pmid="3001",
                title="Aspirin overdose in a child",
                abstract="A case of aspirin overdose treated with dialysis.",
                pub_date=PubDate(year=2021),
                publication_types=["Case Reports"],
            )
            with Store.open(settings) as rw:  # a nightly ingest, while the page runs
                fill(rw, settings, [late])
            again = c.get("/api/search", params=params)
            assert again.status_code == 200, again.text
            assert [h["pmid"] for h in again.json()["hits"]] == ["3001"]
    finally:
        reader.close()

"""A real headless Chromium (Debian's /usr/bin/chromium) driving the page via Playwright.

The app is served by uvicorn on a free 127.0.0.1 port in a background thread.
PubMed is unreachable offline, so the citation click is routed to a stub and
the test asserts on the link's href and the navigation it triggers.
"""

from __future__ import annotations

import csv
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import World

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PUBMED = re.compile(r"https://pubmed\.ncbi\.nlm\.nih\.gov/\d+/")

pytestmark = pytest.mark.browser

if not CHROMIUM.is_file() and not shutil.which("chromium"):
    pytest.skip(
        "no Chromium at /usr/bin/chromium (install it with `apt-get install -y chromium`)",
        allow_module_level=True,
    )
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install playwright)"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def base_url(world: World) -> Iterator[str]:
    import uvicorn

    from litmine.web.app import create_app

    app = create_app(world.settings, answerer=world.answerer)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def test_ask_follow_citation_download_csv(base_url: str, browser: Any, tmp_path: Path) -> None:
    context = browser.new_context(accept_downloads=True, viewport={"width": 1100, "height": 900})
    blocked: list[str] = []
    # Offline: PubMed answers from a stub; anything else outside the app is refused.
    context.route(
        PUBMED,
        lambda route: route.fulfill(
            status=200, content_type="text/html", body="<title>PubMed stub</title>"
        ),
    )
    context.route(
        re.compile(r"^(?!http://127\.0\.0\.1:)(?!https://pubmed\.ncbi\.nlm\.nih\.gov/).*"),
        lambda route: (blocked.append(route.request.url), route.abort()),
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(base_url + "/")
        page.fill("input[name=q]", "does aspirin prevent myocardial infarction")
        page.click("button[type=submit]")
        page.wait_for_selector(".cluster", timeout=60_000)
        assert "q=does+aspirin+prevent+myocardial+infarction" in page.url  # bookmarkable
        assert page.locator(".cluster h2").count() >= 1
        assert page.locator("figure.chart svg rect.bar").count() >= 1

        page.locator("details.passages summary").first.click()
        shot = tmp_path / "answer.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000

        with page.expect_download() as info:
            page.click("#download-csv")
        download = info.value
        assert download.suggested_filename == "litmine-findings.csv"
        saved = tmp_path / "findings.csv"
        download.save_as(str(saved))
        with saved.open(encoding="utf-8-sig", newline="") as fh:
            header = next(csv.reader(fh))
        assert "pmid" in header

        link = page.locator("a.citation").first
        href = link.get_attribute("href")
        assert href is not None and PUBMED.fullmatch(href)
        with page.expect_navigation(url=href):
            link.click()
        assert page.url == href
        assert errors == [] and blocked == []
    finally:
        context.close()

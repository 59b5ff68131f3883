"""PostgreSQL faults: a server restart mid-ingest, dropped connections under ``serve``,
two concurrent ingests, and passwords that must never show.

Each test runs against this module's own throwaway server (``tests/pg_server.py``),
so restarting or stopping it disturbs no other test. Every URL logs in as a
password-authenticated role (``scram-sha-256`` over TCP). The ingests are real
``litmine ingest --file`` processes; their databases are compared, row by row,
with a clean sequential ingest of the same files.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from litmine.config import load_settings
from tests.backends import open_store
from tests.conftest import _under_ci, migrate_database
from tests.pg_server import PgServer, database_name, unavailable_reason

pytestmark = pytest.mark.slow

CLI = [sys.executable, "-c", "from litmine.cli.root import main; main()"]
TRACEBACK = "Traceback (most recent call last)"


@pytest.fixture(scope="module")
def server() -> Iterator[PgServer]:
    """This module's own server (it gets restarted and stopped), with a migrated template."""
    reason = unavailable_reason()
    if reason:
        if _under_ci():
            pytest.fail(f"CI=true but {reason}", pytrace=False)
        pytest.skip(reason)
    srv = PgServer.start()
    try:
        migrate_database(srv.create_database("faults_template"))
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def new_db(server: PgServer) -> Iterator[Any]:
    """Make fresh migrated databases (URLs); all are dropped at the end of the test."""
    made: list[str] = []

    def make() -> str:
        url = server.create_database(template="faults_template")
        made.append(url)
        return url

    yield make
    for url in made:
        server.drop_database(database_name(url))


# ----------------------------------------------------------------------------- helpers


def write_records(path: Path, pmids: range, *, version: int = 1, tag: str = "v1") -> Path:
    """A PubMed XML file of one article per PMID: three sentences, words unique to the PMID."""
    parts = ['<?xml version="1.0"?>\n<PubmedArticleSet>\n']
    for pmid in pmids:
        words = f"marker{pmid}x {tag}"
        abstract = (
            f"Patients in cohort {pmid} received aspirin or placebo for {pmid % 17 + 2} weeks. "
            f"The primary outcome, {words}, was bleeding within thirty days of enrolment. "
            f"Bleeding was rarer with placebo (HR 0.{pmid % 90 + 10}) in this {tag} report."
        )
        parts.append(
            f'<PubmedArticle><MedlineCitation Status="MEDLINE" Owner="NLM">'
            f'<PMID Version="{version}">{pmid}</PMID><Article><Journal><Title>J Tests</Title>'
            f"</Journal><ArticleTitle>Trial {pmid} of aspirin ({tag})</ArticleTitle>"
            f"<Abstract><AbstractText>{abstract}</AbstractText></Abstract></Article>"
            f"</MedlineCitation></PubmedArticle>\n"
        )
    parts.append("</PubmedArticleSet>\n")
    path.write_text("".join(parts), encoding="utf-8")
    return path


def litmine_env(url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LITMINE_")}
    env.update(
        HF_HUB_OFFLINE="1",
        LITMINE_STORE_URL=url,
        LITMINE_DATA_DIR=str(data_dir),
        # The server away: fail after 2 s rather than the default 10.
        LITMINE_STORE_CONNECT_TIMEOUT="2",
        **extra,
    )
    return env


def start_litmine(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CLI, *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def run_litmine(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str]:
    proc = subprocess.run(
        [*CLI, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=600
    )
    return proc.returncode, proc.stdout + proc.stderr


@dataclass
class Snapshot:
    """What ingest wrote, in a stable order (no timestamps, no generated ids)."""

    articles: list[tuple[Any, ...]]
    passages: list[tuple[Any, ...]]
    side: list[tuple[Any, ...]]
    duplicated_pmids: int
    duplicated_passages: int
    runs: list[str]
    run_text: str

    @property
    def pmids(self) -> set[str]:
        return {a[0] for a in self.articles}


def snapshot(server: PgServer, url: str) -> Snapshot:
    with server.admin(database_name(url)) as conn:

        def q(sql: str) -> list[tuple[Any, ...]]:
            return [tuple(r) for r in conn.execute(sql).fetchall()]

        return Snapshot(
            articles=q("SELECT pmid, version, title, content_hash FROM articles ORDER BY pmid"),
            passages=q(
                "SELECT pmid, idx, char_start, char_end, text, id FROM passages ORDER BY pmid, idx"
            ),
            side=q(
                "SELECT 'p', pmid, pub_type FROM article_pub_types UNION ALL "
                "SELECT 'c', pmid, name FROM article_chemicals ORDER BY 1, 2, 3"
            ),
            duplicated_pmids=q(
                "SELECT count(*) FROM (SELECT pmid FROM articles GROUP BY pmid "
                "HAVING count(*) > 1) d"
            )[0][0],
            duplicated_passages=q(
                "SELECT count(*) FROM (SELECT pmid, idx FROM passages GROUP BY pmid, idx "
                "HAVING count(*) > 1) d"
            )[0][0],
            runs=[r[0] for r in q("SELECT status FROM runs ORDER BY id")],
            run_text=" ".join(
                str(v) for r in q("SELECT params, errors, message FROM runs") for v in r
            ),
        )


def reference(server: PgServer, url: str, files: list[Path], tmp_path: Path) -> Snapshot:
    """The files ingested one after the other into ``url``, nothing disturbed."""
    env = litmine_env(url, tmp_path / "ref-data")
    for path in files:
        rc, out = run_litmine(["ingest", "--file", str(path)], env, tmp_path)
        assert rc == 0, out
    return snapshot(server, url)


def wait_for_articles(server: PgServer, url: str, at_least: int, proc: Any) -> int:
    """Poll the article count until ``at_least`` are committed (or the process ends)."""
    count = 0
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with server.admin(database_name(url)) as conn:
                row = conn.execute("SELECT count(*) FROM articles").fetchone()
                count = int(row[0]) if row else 0
        except Exception:  # the server is mid-restart: try again
            count = 0
        if count >= at_least:
            return count
        time.sleep(0.02)
    return count


def assert_no_secret(text: str, password: str) -> None:
    assert password not in text, "the database password leaked"
    assert TRACEBACK not in text


# ----------------------------------------------------------------------------- tests


def test_server_restart_mid_ingest_then_rerun_loses_and_duplicates_nothing(
    server: PgServer, new_db: Any, tmp_path: Path
) -> None:
    n = 6000
    path = write_records(tmp_path / "records.xml", range(1_000_000, 1_000_000 + n))
    url = new_db()
    env = litmine_env(url, tmp_path / "data", LITMINE_INGEST_COMMIT_EVERY="200")

    proc = start_litmine(["-v", "ingest", "--file", str(path)], env, tmp_path)
    committed = wait_for_articles(server, url, n // 5, proc)
    assert proc.poll() is None, (
        f"ingest finished before the restart ({committed} articles): make the file larger"
    )
    server.restart("fast")  # every connection is cut; the server comes back at once
    first_out, _ = proc.communicate(timeout=600)
    first_rc = proc.returncode
    assert_no_secret(first_out, server.password)
    partial = snapshot(server, url)
    assert committed <= len(partial.pmids) <= n

    rc, out = run_litmine(["ingest", "--file", str(path)], env, tmp_path)
    assert rc == 0, out
    assert_no_secret(out, server.password)
    got = snapshot(server, url)
    ref = reference(server, new_db(), [path], tmp_path)

    assert len(ref.pmids) == n
    assert got.pmids == ref.pmids  # 0 lost
    assert got.duplicated_pmids == got.duplicated_passages == 0  # 0 duplicated
    assert got.articles == ref.articles  # same versions, titles and content
    assert got.passages == ref.passages  # same passages (ids included)
    assert got.side == ref.side
    # The cut run is not left 'running' for ever; the rerun is 'ok'.
    assert got.runs[-1] == "ok" and "running" not in got.runs, (first_rc, got.runs, first_out)
    assert_no_secret(got.run_text, server.password)


def test_two_concurrent_ingests_of_overlapping_files(
    server: PgServer, new_db: Any, tmp_path: Path
) -> None:
    # a: 0..2999 at version 1; b: 2000..4999, its 2000..2999 at version 2 (new titles).
    base = 2_000_000
    a = write_records(tmp_path / "a.xml", range(base, base + 3000), tag="v1")
    b = write_records(tmp_path / "b.xml", range(base + 2000, base + 5000), version=2, tag="v2")
    url = new_db()
    env = litmine_env(url, tmp_path / "data", LITMINE_INGEST_COMMIT_EVERY="100")
    procs = [start_litmine(["ingest", "--file", str(p)], env, tmp_path) for p in (a, b)]
    outs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    got = snapshot(server, url)
    ref = reference(server, new_db(), [a, b], tmp_path)

    assert len(ref.pmids) == 5000
    assert got.pmids == ref.pmids  # no lost article
    assert got.duplicated_pmids == got.duplicated_passages == 0
    # No lost update: whichever writer came last, the overlap ends at version 2.
    overlap = [x for x in got.articles if base + 2000 <= int(x[0]) < base + 3000]
    assert {(x[1], x[2].endswith("(v2)")) for x in overlap} == {(2, True)}
    assert got.articles == ref.articles
    assert got.passages == ref.passages
    assert got.side == ref.side
    assert got.runs == ["ok", "ok"]


def _search(client: Any) -> Any:
    return client.get("/api/search", params={"q": "aspirin bleeding", "mode": "bm25", "k": 3})


def _until_ok(client: Any, seconds: float = 20.0) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        r = _search(client)
        if r.status_code == 200 or time.monotonic() > deadline:
            return r
        time.sleep(0.2)


def test_serve_answers_503_while_the_database_is_away_then_recovers(
    server: PgServer, new_db: Any, tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient

    from litmine.web.app import create_app

    url = new_db()
    settings = load_settings(
        data_dir=tmp_path / "data",
        store={"url": url, "connect_timeout": 2},
        search={"mode": "bm25"},
    )
    path = write_records(tmp_path / "few.xml", range(3_000_000, 3_000_050))
    rc, out = run_litmine(["ingest", "--file", str(path)], litmine_env(url, tmp_path), tmp_path)
    assert rc == 0, out
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        first = _search(client)
        assert first.status_code == 200, first.text
        assert first.json()["hits"]

        # 1. The app's connections are killed (pg_terminate_backend).
        assert server.terminate(database_name(url)) >= 1
        r = _search(client)
        if r.status_code != 200:  # a pool may notice and reconnect by itself: fine too
            assert r.status_code == 503, r.text
            assert r.json()["error"]
            assert_no_secret(r.text, server.password)
        assert _until_ok(client).status_code == 200

        # 2. The server goes away: 503 with a message, never a 500 or a hang.
        server.stop_server("fast")
        try:
            r = _search(client)
            assert r.status_code == 503, r.text
            body = r.json()
            assert body["error"] and body.get("hint")
            assert r.headers.get("Retry-After")
            assert_no_secret(r.text, server.password)
            page = client.get("/", params={"q": "aspirin bleeding"})
            assert page.status_code == 503
            assert_no_secret(page.text, server.password)
        finally:
            server.start_again()
        # 3. It comes back: the same app answers again, no restart.
        back = _until_ok(client)
        assert back.status_code == 200, back.text
        assert [h["pmid"] for h in back.json()["hits"]] == [h["pmid"] for h in first.json()["hits"]]


def test_passwords_never_appear_in_output_logs_or_errors(
    server: PgServer, new_db: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = new_db()
    host = f"127.0.0.1:{server.port}"
    masked = f"postgresql://litmine:***@{host}/{database_name(url)}"
    env = litmine_env(url, tmp_path / "data")
    path = write_records(tmp_path / "few.xml", range(4_000_000, 4_000_020))
    seen: list[str] = []

    rc, out = run_litmine(["-v", "ingest", "--file", str(path)], env, tmp_path)
    assert rc == 0, out
    seen.append(out)
    rc, out = run_litmine(["status"], env, tmp_path)
    assert rc == 0, out
    assert masked in out and "postgresql" in out  # the backend, its URL masked
    seen.append(out)
    rc, out = run_litmine(["status", "--json"], env, tmp_path)
    assert rc == 0 and masked in out, out
    seen.append(out)

    # A wrong password: one line naming the problem, and neither password.
    wrong = server.url(database_name(url), password="Wr0ngPassw0rdXyz")
    rc, out = run_litmine(["-v", "status"], {**env, "LITMINE_STORE_URL": wrong}, tmp_path)
    assert rc != 0 and "Wr0ngPassw0rdXyz" not in out, out
    assert "***" in out or "password" in out.lower()
    seen.append(out)

    # In-process too (what `serve` would log), with the library's own logging on.
    with caplog.at_level("DEBUG"):
        settings = load_settings(
            data_dir=tmp_path / "data", store={"url": wrong, "connect_timeout": 2}
        )
        with pytest.raises(Exception) as info:
            open_store(settings)
        seen.append(f"{info.value!s} {info.value!r} {getattr(info.value, 'hint', '')}")

    # The server away: ingest fails with one line, no password.
    server.stop_server("fast")
    try:
        rc, out = run_litmine(["-v", "ingest", "--file", str(path)], env, tmp_path)
        assert rc != 0, out
        seen.append(out)
        rc, out = run_litmine(["status"], env, tmp_path)
        assert rc != 0, out
        seen.append(out)
    finally:
        server.start_again()

    seen.append(caplog.text)
    for folder in (tmp_path / "data",):  # anything litmine wrote to disk (logs, manifests)
        for file in folder.rglob("*") if folder.exists() else []:
            if file.is_file() and file.stat().st_size < 5_000_000:
                seen.append(file.read_text(errors="replace"))
    seen.append(snapshot(server, url).run_text)
    for text in seen:
        assert_no_secret(text, server.password)


def test_a_read_only_role_serves_but_cannot_write(
    server: PgServer, new_db: Any, tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient

    from litmine.web.app import create_app

    url = new_db()
    path = write_records(tmp_path / "few.xml", range(5_000_000, 5_000_030))
    rc, out = run_litmine(["ingest", "--file", str(path)], litmine_env(url, tmp_path), tmp_path)
    assert rc == 0, out
    reader = server.grant_read_only(database_name(url))  # CONNECT + SELECT only
    settings = load_settings(
        data_dir=tmp_path / "data", store={"url": reader}, search={"mode": "bm25"}
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        r = _search(client)
        assert r.status_code == 200, r.text
        assert r.json()["hits"]
    more = write_records(tmp_path / "more.xml", range(5_100_000, 5_100_005))
    rc, out = run_litmine(
        ["ingest", "--file", str(more)], litmine_env(reader, tmp_path / "data"), tmp_path
    )
    assert rc != 0 and "permission denied" in out, out
    assert_no_secret(out, server.password)

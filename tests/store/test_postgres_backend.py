"""PostgreSQL specifics: explicit migrations, concurrent writers, tsvector ranking, lost links.

The contract suite runs the shared store tests against PostgreSQL too; these
cover what only this backend has. They need a PostgreSQL server
(``tests/conftest.py::pg_server``) and skip without one.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from litmine.config import load_settings
from litmine.errors import StoreError
from litmine.store import StoreUnavailableError, open_store
from litmine.store.postgres import PostgresStore, migrate, schema_status
from litmine.store.postgres.connection import one
from tests.store.helpers import plain_article, split


def _dbname(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


@pytest.fixture
def pg_store(pg_url: str) -> Iterator[PostgresStore]:
    with PostgresStore(pg_url, timeout=5) as store:
        yield store


# ---------------------------------------------------------------- migrations


def test_opening_an_unmigrated_database_fails_until_db_migrate(pg_empty_url: str) -> None:
    with pytest.raises(StoreError) as info:
        PostgresStore(pg_empty_url, timeout=5)
    assert "litmine db migrate" in str(info.value)
    with psycopg.connect(pg_empty_url) as conn:  # nothing was created behind our back
        assert conn.execute("SELECT to_regclass('schema_migrations')").fetchone() == (None,)

    plan = schema_status(pg_empty_url)
    assert (plan.current, plan.target, plan.applied) == (0, 4, False)
    assert [m.version for m in plan.pending] == [1, 2, 3, 4]
    password = urlsplit(pg_empty_url).password
    assert password and "***" in plan.url and password not in plan.url

    applied = migrate(pg_empty_url)
    assert applied.applied and [m.version for m in applied.pending] == [1, 2, 3, 4]
    again = migrate(pg_empty_url)
    assert (again.current, again.pending, again.applied) == (4, [], False)
    with PostgresStore(pg_empty_url, timeout=5) as store:
        assert store.schema_version == 4


def test_older_or_newer_schema_is_refused_with_a_hint(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DELETE FROM schema_migrations WHERE version = 4")
    with pytest.raises(StoreError, match="schema version 3") as info:
        PostgresStore(pg_url, timeout=5)
    assert "litmine db migrate" in str(info.value)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("INSERT INTO schema_migrations VALUES (4, 'x', 'now'), (99, 'future', 'now')")
    with pytest.raises(StoreError, match="newer than this litmine"):
        PostgresStore(pg_url, timeout=5)


def test_a_database_with_foreign_tables_is_not_taken_over(pg_empty_url: str) -> None:
    with psycopg.connect(pg_empty_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE payroll (id int)")
    with pytest.raises(StoreError, match="not a litmine database"):
        PostgresStore(pg_empty_url, timeout=5)
    with pytest.raises(StoreError, match="no litmine schema history"):
        migrate(pg_empty_url)


# ---------------------------------------------------------------- credentials


def test_wrong_password_fails_clearly_without_echoing_it(pg_url: str) -> None:
    parts = urlsplit(pg_url)
    wrong = pg_url.replace(f":{parts.password}@", ":Sup3rSecretGuess@")
    with pytest.raises(StoreError) as info:
        PostgresStore(wrong, timeout=1)
    text = str(info.value)
    assert parts.password and parts.password not in text and "Sup3rSecretGuess" not in text
    assert "password authentication failed" in text and "***" in text


def test_status_and_errors_mask_the_password(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from litmine.cli.root import app

    password = urlsplit(pg_url).password
    assert password
    monkeypatch.setenv("LITMINE_STORE_URL", pg_url)
    monkeypatch.setenv("LITMINE_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["status"])
    assert result.exit_code == 0, result.output
    assert "store: postgresql postgresql://litmine:***@" in result.output
    assert password not in result.output
    result = CliRunner().invoke(app, ["db", "status"])
    assert result.exit_code == 0 and "schema version: 4 (this litmine: 4)" in result.output
    assert password not in result.output


# ---------------------------------------------------------------- concurrent writers


def _writer(url: str, versions: list[tuple[int, int]], tag: str) -> None:
    """Upsert ``(pmid number, version)`` articles in small committed batches."""
    with PostgresStore(url, timeout=10) as store:
        for start in range(0, len(versions), 15):
            chunk = versions[start : start + 15]
            store.upsert_articles(
                [
                    plain_article(
                        f"9{n:04d}",
                        f"Trial {n} version {v}",
                        f"Version {v} of article {n} by writer {tag}. "
                        f"Second sentence {v}. Third sentence about {tag}.",
                        version=v,
                    )
                    for n, v in chunk
                ],
                split=split,
            )


def test_two_concurrent_writers_lose_no_update_and_make_no_duplicate(pg_url: str) -> None:
    n = 120
    # Writer a stores version 1 of everything, then version 3 of every third;
    # writer b stores version 2 of everything in reverse order. Whatever the
    # interleaving, the highest version of each article must win.
    a = [(i, 1) for i in range(n)] + [(i, 3) for i in range(0, n, 3)]
    b = [(i, 2) for i in reversed(range(n))]
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(pg_url, w, t)) for w, t in ((a, "a"), (b, "b"))]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    with psycopg.connect(pg_url) as conn:
        versions: dict[str, int] = dict(conn.execute("SELECT pmid, version FROM articles"))
        assert len(versions) == n
        assert versions == {f"9{i:04d}": 3 if i % 3 == 0 else 2 for i in range(n)}
        # Passages match the stored version (none left from a replaced one).
        (stale,) = one(
            conn.execute(
                "SELECT COUNT(*) FROM passages p JOIN articles a ON a.pmid = p.pmid "
                "WHERE position('Version ' || a.version || ' ' in p.text) = 0 "
                "AND p.idx = 0"
            )
        )
        assert stale == 0
        (dupes,) = one(
            conn.execute(
                "SELECT COUNT(*) FROM (SELECT pmid, idx FROM passages GROUP BY 1, 2 "
                "HAVING COUNT(*) > 1) d"
            )
        )
        assert dupes == 0
        # The change log replays to exactly the stored passage ids.
        live = {
            pid
            for (pid,) in conn.execute(
                "SELECT passage_id FROM passage_changes c WHERE op = 'add' AND NOT EXISTS ("
                " SELECT 1 FROM passage_changes d WHERE d.passage_id = c.passage_id"
                " AND d.op = 'del' AND d.seq > c.seq)"
            )
        }
        stored = {pid for (pid,) in conn.execute("SELECT id FROM passages")}
        assert live == stored


# ---------------------------------------------------------------- full text


def test_ranking_prefers_title_matches_and_ors_the_terms(pg_store: PostgresStore) -> None:
    pg_store.upsert_articles(
        [
            plain_article("1", "Aspirin after stroke", "A trial of secondary prevention."),
            plain_article("2", "Secondary prevention", "Patients took aspirin or placebo daily."),
            plain_article("3", "Statins in the elderly", "Cholesterol lowering in old age."),
        ],
        split=split,
    )
    behind = pg_store.passage_fts_behind()
    assert behind > 0  # passage vectors wait for the first passage-level search
    hits = pg_store.bm25_articles("aspirin")
    assert [pmid for pmid, _ in hits] == ["1", "2"]
    assert hits[0][1] > hits[1][1] > 0
    # One unknown term must not empty the result (OR, as on SQLite).
    assert [pmid for pmid, _ in pg_store.bm25_articles("aspirin zebrafish")] == ["1", "2"]
    assert next(pmid for pmid, _ in pg_store.bm25_articles("aspirins STROKES")) == "1"  # stems
    passages = pg_store.bm25_passages("aspirin placebo")
    assert pg_store.passage_fts_behind() == 0
    assert passages and all(score > 0 for _, score in passages)
    assert {p.pmid for p in pg_store.get_passages([pid for pid, _ in passages])} == {"1", "2"}
    within = pg_store.bm25_passages_within("aspirin", ["2"])
    assert {p.pmid for p in pg_store.get_passages([pid for pid, _ in within])} == {"2"}
    by_article = pg_store.bm25_article_passages("aspirin", k=1)
    assert {p.pmid for p in pg_store.get_passages([pid for pid, _ in by_article])} == {"1"}
    pg_store.check()  # every passage's stored tsvector is the one its text and title give


def test_retitled_article_reindexes_its_kept_passages(pg_store: PostgresStore) -> None:
    abstract = "Patients took the drug daily. Outcomes were recorded."
    pg_store.upsert_articles([plain_article("7", "Old heading", abstract)], split=split)
    pg_store.upsert_articles(
        [plain_article("7", "Zanubrutinib lymphoma", abstract, version=2)], split=split
    )
    assert pg_store.bm25_passages("zanubrutinib")
    assert not pg_store.bm25_passages("heading")
    pg_store.check()


# ---------------------------------------------------------------- lost connections


def test_store_reconnects_after_its_connection_is_killed(
    pg_server: object, pg_store: PostgresStore, pg_url: str
) -> None:
    pg_store.upsert_articles([plain_article("5", "Title", "Abstract text here.")], split=split)
    assert pg_server.terminate(_dbname(pg_url)) >= 1  # type: ignore[attr-defined]
    assert pg_store.counts().articles == 1  # a read outside a transaction retries once
    assert pg_server.terminate(_dbname(pg_url)) >= 1  # type: ignore[attr-defined]
    with pytest.raises(StoreUnavailableError), pg_store.transaction():
        pg_store.delete_articles(["5"])  # inside a transaction: rolled back, reported
    assert pg_store.get_article("5") is not None
    assert pg_store.delete_articles(["5"]) == 1


def test_read_only_store_refuses_writes(pg_url: str) -> None:
    with PostgresStore(pg_url, read_only=True, timeout=5) as store:
        with pytest.raises(StoreError, match="read-only"):
            store.upsert_articles([plain_article("1", "T", "A.")])
        assert store.counts().articles == 0
    with PostgresStore(pg_url, timeout=5) as store:
        store.upsert_articles([plain_article("1", "Title", "Some abstract.")], split=split)
    with PostgresStore(pg_url, read_only=True, timeout=5) as store:
        assert store.bm25_articles("abstract")
        with pytest.raises(StoreError, match="sync_passage_fts"):
            store.bm25_passages("abstract")


def test_server_down_is_unavailable_then_recovers_and_the_web_answers_503(
    pg_server: object, pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi.testclient import TestClient

    from litmine.web.app import create_app

    monkeypatch.setenv("LITMINE_STORE_URL", pg_url)
    settings = load_settings(data_dir=tmp_path, store={"connect_timeout": 2})
    with open_store(settings) as store:
        store.upsert_articles([plain_article("11", "Title", "Abstract text here.")], split=split)
    app = create_app(settings, preload=False)
    password = urlsplit(pg_url).password
    assert password
    with TestClient(app) as client:
        assert client.get("/api/articles/11").status_code == 200
        pg_server.stop_server()  # type: ignore[attr-defined]
        try:
            down = client.get("/api/articles/11")
            assert down.status_code == 503, down.text
            assert down.headers["Retry-After"]
            assert "unavailable" in down.json()["error"] and password not in down.text
        finally:
            pg_server.start_again()  # type: ignore[attr-defined]
        back = client.get("/api/articles/11")
        assert back.status_code == 200, back.text  # no restart of the app needed

"""Schema versions: refusing newer databases, migrating older ones."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import litmine.store.schema as schema_module
from litmine.errors import StoreError
from litmine.store import (
    SCHEMA_VERSION,
    Migration,
    Store,
    prepare_article,
)
from litmine.store.rows import ARTICLE_FIELDS
from tests.store.helpers import (
    rich_article,
    rows,
    split,
)


def test_newer_schema_is_refused(db_path: Path) -> None:
    Store(db_path).close()
    conn = sqlite3.connect(db_path)
    conn.execute("INSERT INTO schema_migrations VALUES (?, 'from the future', 'x')", (999,))
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="schema version 999") as info:
        Store(db_path)
    assert info.value.hint is not None and "upgrade litmine" in info.value.hint


def test_older_schema_is_migrated(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Store(db_path) as s:
        s.upsert_articles([rich_article()])
    step = Migration(
        SCHEMA_VERSION + 1,
        "add a notes table",
        ("CREATE TABLE notes (pmid TEXT NOT NULL, note TEXT NOT NULL)",),
    )
    monkeypatch.setattr(schema_module, "MIGRATIONS", (*schema_module.MIGRATIONS, step))
    monkeypatch.setattr(schema_module, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(StoreError, match="schema version"):
        Store(db_path, read_only=True)  # a reader cannot upgrade
    with Store(db_path) as s:
        assert s.schema_version == SCHEMA_VERSION + 1
        assert s.has_article("31452104")
    assert rows(db_path, "SELECT COUNT(*) FROM notes") == [(0,)]
    assert [r[0] for r in rows(db_path, "SELECT version FROM schema_migrations ORDER BY 1")] == [
        *range(1, SCHEMA_VERSION + 2)
    ]


def test_schema_2_database_upgrades_and_keeps_article_search(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old_articles = [rich_article("1"), rich_article("2", title="Zebrafish warfarin study")]
    with monkeypatch.context() as patch:
        patch.setattr(schema_module, "MIGRATIONS", schema_module.MIGRATIONS[:2])
        patch.setattr(schema_module, "SCHEMA_VERSION", 2)
        Store(db_path).close()
    # Rows as schema 2 code wrote them: the triggers filled articles_fts.
    conn = sqlite3.connect(db_path)
    for i, article in enumerate(old_articles, 1):
        prep = prepare_article(article)
        conn.execute(
            f"INSERT INTO articles (id, pmid, {ARTICLE_FIELDS}, created_at) "
            f"VALUES ({', '.join('?' * 20)})",
            (i, prep.pmid, *prep.row, "2024-01-01", "2024-01-01"),
        )
    conn.commit()
    conn.close()
    with Store(db_path) as s:
        assert s.schema_version == SCHEMA_VERSION
        assert [p for p, _ in s.bm25_articles("zebrafish")] == ["2"]
        s.upsert_articles([rich_article("2", title="Medaka dosing study")], split=split)
        s.upsert_articles([rich_article("3", title="Zebrafish again")], split=split)
        assert s.delete_articles(["1"]) == 1
        assert [p for p, _ in s.bm25_articles("zebrafish")] == ["3"]
        assert [p for p, _ in s.bm25_articles("medaka")] == ["2"]
        assert {p for p, _ in s.bm25_articles("warfarin")} == {"2", "3"}
        s.check()  # FTS5 integrity: no entry left behind or missing
    triggers = rows(db_path, "SELECT name FROM sqlite_master WHERE type = 'trigger'")
    assert triggers == []


def test_schema_3_passage_index_counts_as_complete(db_path: Path) -> None:
    with Store(db_path) as s:
        s.upsert_articles([rich_article()], split=split)
        s.sync_passage_fts()
    # What a version-3 database looked like: every passage indexed, no watermark.
    conn = sqlite3.connect(db_path)
    conn.executescript(
        "DROP TABLE fts_progress; DELETE FROM schema_migrations WHERE version >= 4;"
        "PRAGMA user_version = 3;"
    )
    conn.close()
    with Store(db_path) as s:
        assert s.schema_version == SCHEMA_VERSION
        assert s.passage_fts_behind() == 0
        assert s.bm25_passages("warfarin")
        s.check()

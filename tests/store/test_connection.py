"""Opening a store, read-only access, error messages and transactions."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from litmine.config import Settings
from litmine.errors import StoreError
from litmine.store import (
    SCHEMA_VERSION,
    Store,
    StoreCounts,
)
from litmine.types import Article
from tests.store.helpers import (
    rich_article,
    rows,
    split,
)

pytestmark = pytest.mark.both_backends  # the store contract: SQLite and PostgreSQL

# --------------------------------------------------------------------------- opening


@pytest.mark.sqlite_only("the SQLite file, its PRAGMAs (WAL, user_version)")
def test_open_creates_data_dir_and_schema(settings: Settings) -> None:
    assert not settings.data_dir.exists()
    with Store.open(settings) as s:
        assert s.schema_version == SCHEMA_VERSION
        assert s.counts().articles == 0
    assert settings.db_path.is_file()
    assert rows(settings.db_path, "PRAGMA journal_mode")[0][0] == "wal"
    assert rows(settings.db_path, "PRAGMA user_version")[0][0] == SCHEMA_VERSION


def test_reopen_keeps_data_and_version(db_path: Path) -> None:
    with Store(db_path) as s:
        s.upsert_articles([rich_article()], split=split)
    with Store(db_path) as s:
        assert s.schema_version == SCHEMA_VERSION
        assert s.get_article("31452104") == rich_article()
    versions = [(v,) for v in range(1, SCHEMA_VERSION + 1)]
    assert rows(db_path, "SELECT version FROM schema_migrations") == versions


def test_foreign_sqlite_file_is_refused(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    conn = sqlite3.connect(db_path)
    conn.execute("CREATE TABLE something_else (x)")
    conn.close()
    with pytest.raises(StoreError, match="not a litmine database"):
        Store(db_path)


def test_corrupt_file_names_the_path(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(b"this is not a database, just some text " * 200)
    with pytest.raises(StoreError) as info:
        Store(db_path)
    assert str(db_path) in info.value.message
    assert "corrupt" in info.value.message


def test_read_only(db_path: Path) -> None:
    with pytest.raises(StoreError, match="no litmine database"):
        Store(db_path, read_only=True)
    with Store(db_path) as s:
        s.upsert_articles([rich_article()], split=split)
    with Store(db_path, read_only=True) as ro:
        assert ro.get_article("31452104") == rich_article()
        assert ro.bm25_articles("warfarin")
        with pytest.raises(StoreError, match="read-only"):
            ro.upsert_articles([rich_article("1")])
        with pytest.raises(StoreError, match="read-only"):
            ro.start_run("ingest", {})


def test_closed_store_raises_store_error(db_path: Path) -> None:
    s = Store(db_path)
    s.close()
    with pytest.raises(StoreError, match="closed"):
        s.counts()


# --------------------------------------------------------------------------- transactions


def test_transaction_rollback_leaves_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.upsert_articles([rich_article()], split=split)
        store.add_query("aspirin", "0 2 * * *")
        raise RuntimeError("boom")
    assert store.counts() == StoreCounts()
    assert store.passage_changes_since(0) == []
    assert store.bm25_passages("warfarin") == []
    store.check()


def test_failing_stream_is_atomic(store: Store) -> None:
    def stream() -> Iterator[Article]:
        for i in range(1200):  # crosses internal batches
            yield rich_article(str(i))
        raise OSError("disk went away mid-file")

    with pytest.raises(OSError, match="mid-file"):
        store.upsert_articles(stream(), split=split, batch_size=500)
    assert store.counts().articles == 0


def test_nested_transaction_joins_and_rolls_back_only_inner(store: Store) -> None:
    with store.transaction():
        store.upsert_articles([rich_article("1")])
        with pytest.raises(RuntimeError), store.transaction():
            store.upsert_articles([rich_article("2")])
            raise RuntimeError("inner")
        store.upsert_articles([rich_article("3")])
    assert [a.pmid for a in store.iter_articles()] == ["1", "3"]


def test_locked_database_gives_a_hint(db_path: Path) -> None:
    Store(db_path).close()
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with Store(db_path, timeout=0.05) as s:
            assert s.counts().articles == 0  # readers are not blocked (WAL)
            with pytest.raises(StoreError) as info:
                s.upsert_articles([rich_article()])
            assert "locked" in info.value.message
            assert info.value.hint == "another litmine process is writing; retry or wait"
            holder.execute("ROLLBACK")
            assert s.upsert_articles([rich_article()]).new == 1
    finally:
        holder.close()

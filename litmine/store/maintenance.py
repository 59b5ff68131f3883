"""Maintenance: row counts for ``litmine status`` and the integrity check."""

from __future__ import annotations

from litmine.errors import StoreError
from litmine.store.fulltext import FullTextMixin
from litmine.store.records import StoreCounts

__all__ = ["MaintenanceMixin"]


class MaintenanceMixin(FullTextMixin):
    """Counts and checks over the whole database."""

    def counts(self) -> StoreCounts:
        """Row counts; one query, index-only scans."""
        with self._errors():
            row = self._conn.execute(
                "SELECT (SELECT COUNT(*) FROM articles),"
                " (SELECT COUNT(*) FROM articles WHERE has_abstract = 0),"
                " (SELECT COUNT(*) FROM articles WHERE is_retracted = 1),"
                " (SELECT COUNT(*) FROM passages),"
                " (SELECT COUNT(*) FROM entities),"
                " (SELECT COUNT(*) FROM runs),"
                " (SELECT COUNT(*) FROM saved_queries),"
                # SQLite-specific: AUTOINCREMENT's high-water mark, which
                # pruning the log does not move back.
                " (SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence"
                "  WHERE name = 'passage_changes')"
            ).fetchone()
        return StoreCounts(*row)

    def check(self) -> None:
        """Verify the database file and both full-text indexes.

        Raises:
            StoreError: Something is inconsistent (with the problem in the message).
        """
        with self._errors():
            # SQLite-specific integrity checks.
            problems = [row[0] for row in self._conn.execute("PRAGMA quick_check")]
            if problems != ["ok"]:
                raise StoreError(
                    f"database {self.path} failed its integrity check: {problems[0]}",
                    "restore a backup, or move the file aside and ingest again",
                )
            if not self.read_only:
                # The check compares the index with every stored row, so the
                # on-demand passage index is brought up to date first.
                self.sync_passage_fts()
                for table in ("articles_fts", "passages_fts"):
                    self._conn.execute(f"INSERT INTO {table} ({table}) VALUES ('integrity-check')")

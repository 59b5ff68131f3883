"""PostgreSQL writes: articles, filter rows and passages loaded with COPY.

The upsert's decisions (new / newer / same version with other content /
unchanged / older) are the shared ones of
:meth:`~litmine.store.articles.ArticlesMixin.upsert_articles`, taken under
the write lock (see :mod:`litmine.store.postgres.connection`). What differs is
how rows go in: new articles and their filter rows are streamed with
``COPY``; passages are copied into a session temp table and inserted from
there with their ``add`` entries in the change log, in one statement (their
``tsvector`` waits for :meth:`~litmine.store.postgres.queries.PgQueriesMixin.sync_passage_fts`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from litmine.store.articles import ArticlesMixin
from litmine.store.postgres.connection import PgConnection
from litmine.store.postgres.schema import TS_CONFIG
from litmine.store.records import UpsertCounts
from litmine.store.rows import ARTICLE_FIELDS, PassageRow, PreparedArticle

__all__ = ["PASSAGE_TSVECTOR", "PgWritesMixin"]

PASSAGE_TSVECTOR = (
    f"setweight(to_tsvector('{TS_CONFIG}', {{text}}), 'A') "
    f"|| setweight(to_tsvector('{TS_CONFIG}', {{title}}), 'B')"
)
"""A passage's full-text vector from SQL expressions of its text and its article's title."""

_PASSAGES_IN = (
    "CREATE TEMP TABLE IF NOT EXISTS litmine_passages_in ("
    " ord INTEGER, id BIGINT, pmid TEXT, idx INTEGER, section TEXT,"
    " char_start INTEGER, char_end INTEGER, text TEXT)"
)
_INSERT_PASSAGES = (
    "WITH ins AS ("
    " INSERT INTO passages (id, pmid, idx, section, char_start, char_end, text)"
    " SELECT id, pmid, idx, section, char_start, char_end, text"
    " FROM litmine_passages_in ORDER BY ord RETURNING pk, id)"
    " INSERT INTO passage_changes (passage_id, op) SELECT id, 'add' FROM ins ORDER BY pk"
)


class PgWritesMixin(PgConnection, ArticlesMixin):
    """Article and passage writes in PostgreSQL's dialect (COPY, tsvector columns)."""

    def _copy(self, table: str, columns: str, rows: Sequence[Sequence[Any]]) -> None:
        """Stream rows into a table with ``COPY ... FROM STDIN``."""
        if not rows:
            return
        cur = self._connection().cursor()
        with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def _apply_inserts(
        self,
        inserts: list[PreparedArticle],
        passages: Mapping[str, list[PassageRow]],
        counts: UpsertCounts,
        now: str,
    ) -> None:
        # Ids come from the identity column in COPY order (insertion order);
        # articles.fts is a generated column.
        self._copy(
            "articles",
            f"pmid, {ARTICLE_FIELDS}, created_at",
            [(p.pmid, *p.row, now, now) for p in inserts],
        )
        self._insert_side_rows(inserts)
        new_passages = [(p.pmid, p.title, row) for p in inserts for row in passages[p.pmid]]
        self._insert_passages(new_passages)
        counts.new += len(inserts)
        counts.passages_added += len(new_passages)

    def _insert_side_rows(self, articles: Sequence[PreparedArticle]) -> None:
        self._copy(
            "article_pub_types",
            "pmid, pub_type",
            [(a.pmid, t) for a in articles for t in a.pub_types],
        )
        self._copy(
            "article_mesh",
            "pmid, descriptor_name, descriptor_ui, major",
            [(a.pmid, *m) for a in articles for m in a.mesh],
        )
        self._copy(
            "article_chemicals",
            "pmid, name, ui",
            [(a.pmid, *c) for a in articles for c in a.chemicals],
        )

    def _insert_passages(
        self, passages: Sequence[tuple[str, str, PassageRow]]
    ) -> list[tuple[int, str, str]]:
        if not passages:
            return []
        conn = self._connection()
        conn.execute(_PASSAGES_IN)
        self._copy(
            "litmine_passages_in",
            "ord, id, pmid, idx, section, char_start, char_end, text",
            [(i, row[0], pmid, *row[1:]) for i, (pmid, _, row) in enumerate(passages)],
        )
        conn.execute(_INSERT_PASSAGES)
        conn.execute("DELETE FROM litmine_passages_in")
        return []  # their tsvectors are made on demand (sync_passage_fts)

    # -- full-text upkeep: generated (articles) or written with the row (passages)

    def _add_article_fts(self, rows: list[tuple[int, str, str]]) -> None:
        pass  # articles.fts is a generated column

    def _drop_article_fts(self, keys: list[tuple[str]]) -> None:
        pass  # row-level tsvectors go with their rows

    def _drop_fts_of_articles(self, chunk: Sequence[str]) -> None:
        pass

    def _drop_passage_fts(self, ids: list[int]) -> None:
        pass

    def _index_passages(self, rows: list[tuple[int, str, str]]) -> None:
        """Recompute the tsvector of kept passages whose article's title changed.

        Only those already indexed; the others wait for :meth:`sync_passage_fts`.
        """
        if rows:
            self._conn.executemany(
                "UPDATE passages SET fts = "
                + PASSAGE_TSVECTOR.format(text="?::text", title="?::text")
                + " WHERE pk = ? AND fts IS NOT NULL",
                [(text, title, pk) for pk, title, text in rows],
            )

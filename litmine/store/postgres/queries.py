"""PostgreSQL reads and bookkeeping that differ from SQLite's.

Full text: PostgreSQL's own. The query is the OR of the user's phrases
(:func:`~litmine.store.fulltext.fts_phrases`, each a ``phraseto_tsquery``),
as on SQLite: an AND of every term would make recall collapse on
natural-language questions. Hits are ranked by Okapi BM25 computed from the
``tsvector`` columns (:mod:`litmine.store.postgres.bm25`), higher is better:
scores are on the same scale as SQLite's FTS5 ``bm25()``, not equal to them
(stemmer and document-length measure differ).

Also here: the change log's high-water mark (``counts().change_seq``), the
integrity check, processed-passage marks (``ON CONFLICT``), run ids
(``RETURNING``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from litmine.clock import utc_now
from litmine.errors import StoreError
from litmine.store.entities import EntitiesMixin
from litmine.store.fulltext import ARTICLE_BM25_WEIGHTS, PASSAGE_BM25_WEIGHTS, fts_phrases
from litmine.store.maintenance import MaintenanceMixin
from litmine.store.postgres import schema
from litmine.store.postgres.bm25 import CorpusStats, bm25_sql
from litmine.store.postgres.connection import PgConnection, one
from litmine.store.postgres.schema import TS_CONFIG
from litmine.store.postgres.writes import PASSAGE_TSVECTOR
from litmine.store.records import StoreCounts
from litmine.store.runs import RunsMixin
from litmine.types import Entity

__all__ = ["PgQueriesMixin", "tsquery_sql"]


def tsquery_sql(query: str) -> tuple[str, list[str]] | None:
    """A ``tsquery`` expression OR-ing the phrases of free text, and its parameters.

    Every phrase goes in as a parameter of ``phraseto_tsquery``, so no user
    text reaches the SQL or the tsquery syntax.

    Args:
        query: Raw user query.

    Returns:
        ``(sql, params)``, or None when the query has no searchable term.
    """
    phrases = fts_phrases(query)
    if not phrases:
        return None
    sql = " || ".join(f"phraseto_tsquery('{TS_CONFIG}', ?)" for _ in phrases)
    return f"({sql})", phrases


class PgQueriesMixin(PgConnection, EntitiesMixin, RunsMixin, MaintenanceMixin):
    """Full-text search, counts and bookkeeping in PostgreSQL's dialect."""

    # ---------------------------------------------------------------- full text

    def passage_fts_behind(self) -> int:
        """Number of passages whose tsvector is not made yet (see :meth:`sync_passage_fts`)."""
        with self._errors():
            (count,) = one(self._conn.execute("SELECT COUNT(*) FROM passages WHERE fts IS NULL"))
        return int(count)

    def sync_passage_fts(self) -> int:
        """Make the tsvectors of passages stored since the last sync.

        Passage-level BM25 calls this itself on a writable store; a read-only
        one asks for it to be run first (like SQLite's on-demand index).

        Returns:
            Number of passages indexed.

        Raises:
            StoreError: The store is read-only or the server unavailable.
        """
        with self.transaction(), self._errors():
            done = self._conn.execute(
                "UPDATE passages p SET fts = "
                + PASSAGE_TSVECTOR.format(text="p.text", title="a.title")
                + " FROM articles a WHERE a.pmid = p.pmid AND p.fts IS NULL"
            ).rowcount
        if done and hasattr(self, "_stats"):
            self._stats.clear()
        return int(done)

    def _ensure_passage_fts(self) -> None:
        behind = self.passage_fts_behind()
        if not behind:
            return
        if self.read_only:
            raise StoreError(
                f"the passage full-text index is missing {behind} passage(s) of {self.display_url}",
                "call sync_passage_fts() on a writable store (litmine search does this "
                "itself), or search with search.bm25_unit = 'article'",
            )
        self.sync_passage_fts()

    def rebuild_fts(self) -> None:
        """Recompute every passage's tsvector (articles' are generated columns)."""
        with self.transaction(), self._errors():
            self._conn.execute(
                "UPDATE passages p SET fts = "
                + PASSAGE_TSVECTOR.format(text="p.text", title="a.title")
                + " FROM articles a WHERE a.pmid = p.pmid"
            )

    def _rank_bm25(
        self,
        table: str,
        query: str,
        k: int,
        within: str = "",
        within_params: Sequence[Any] = (),
    ) -> list[tuple[Any, float]]:
        """Top ``k`` rows of ``articles`` (by PMID) or ``passages`` (by id) by BM25."""
        built = tsquery_sql(query)
        if built is None or k <= 0:
            return []
        q, phrases = built
        if table == "passages":
            self._ensure_passage_fts()
        key, order, weights = (
            ("pmid", "id", ARTICLE_BM25_WEIGHTS)
            if table == "articles"
            # passages: label A is the passage text, B its article's title
            else ("id", "pk", (PASSAGE_BM25_WEIGHTS[1], PASSAGE_BM25_WEIGHTS[0]))
        )
        sql = bm25_sql(table, key, order, weights, q, within)
        with self._errors():
            if not hasattr(self, "_stats"):
                self._stats = CorpusStats()
            rows, avgdl = self._stats.get(self._conn, table)
            found = self._conn.execute(
                sql, [*phrases, " ".join(phrases), *within_params, rows, avgdl, k]
            ).fetchall()
        return [(row[0], float(row[1])) for row in found]

    def bm25_articles(self, query: str, k: int = 100) -> list[tuple[str, float]]:
        """Full-text search over titles and abstracts: ``(pmid, score)``, best first."""
        return [(str(pmid), score) for pmid, score in self._rank_bm25("articles", query, k)]

    def bm25_passages(self, query: str, k: int = 100) -> list[tuple[int, float]]:
        """Full-text search over passages (text and title): ``(passage_id, score)``, best first."""
        return [(int(pid), score) for pid, score in self._rank_bm25("passages", query, k)]

    def bm25_passages_within(
        self, query: str, pmids: Iterable[str], k: int = 100
    ) -> list[tuple[int, float]]:
        """Like :meth:`bm25_passages`, within the passages of some articles."""
        rows = self._rank_bm25("passages", query, k, " AND t.pmid = ANY(?)", (list(pmids),))
        return [(int(pid), score) for pid, score in rows]

    def bm25_article_passages(
        self, query: str, k: int = 100, pmids: Iterable[str] | None = None
    ) -> list[tuple[int, float]]:
        """Passages of the best ``k`` articles, each scored by its article, best article first."""
        if pmids is None:
            articles = self._rank_bm25("articles", query, k)
        else:
            articles = self._rank_bm25("articles", query, k, " AND t.pmid = ANY(?)", (list(pmids),))
        if not articles:
            return []
        score = dict(articles)
        rank = {pmid: i for i, (pmid, _) in enumerate(articles)}
        with self._errors():
            rows = self._conn.execute(
                "SELECT id, pmid FROM passages WHERE pmid = ANY(?) ORDER BY pmid, idx",
                (list(score),),
            ).fetchall()
        rows.sort(key=lambda row: rank[row[1]])  # stable: text order within an article
        return [(int(pid), score[pmid]) for pid, pmid in rows]

    # ---------------------------------------------------------------- bookkeeping

    def counts(self) -> StoreCounts:
        """Row counts (for ``litmine status``)."""
        with self._errors():
            row = one(
                self._conn.execute(
                    "SELECT (SELECT COUNT(*) FROM articles),"
                    " (SELECT COUNT(*) FROM articles WHERE has_abstract = 0),"
                    " (SELECT COUNT(*) FROM articles WHERE is_retracted = 1),"
                    " (SELECT COUNT(*) FROM passages),"
                    " (SELECT COUNT(*) FROM entities),"
                    " (SELECT COUNT(*) FROM runs),"
                    " (SELECT COUNT(*) FROM saved_queries),"
                    " GREATEST((SELECT COALESCE(MAX(seq), 0) FROM passage_changes),"
                    "  (SELECT upto FROM fts_progress WHERE name = 'passage_changes'))"
                )
            )
        return StoreCounts(*(int(v) for v in row))

    def prune_passage_changes(self, upto_seq: int) -> int:
        """Forget change-log entries up to ``upto_seq``, keeping the log's high-water mark."""
        with self.transaction(), self._errors():
            self._conn.execute(
                "UPDATE fts_progress SET upto = GREATEST(upto, "
                " (SELECT COALESCE(MAX(seq), 0) FROM passage_changes WHERE seq <= ?))"
                " WHERE name = 'passage_changes'",
                (upto_seq,),
            )
            return int(
                self._conn.execute(
                    "DELETE FROM passage_changes WHERE seq <= ?", (upto_seq,)
                ).rowcount
            )

    def check(self) -> None:
        """Verify the schema version and every passage's full-text vector.

        A writable store makes the missing vectors first (as SQLite's check
        brings its on-demand index up to date); the made ones must equal what
        their text and title give.

        Raises:
            StoreError: Something is inconsistent (with the problem in the message).
        """
        with self._errors():
            version = self._read_version()
            if version != schema.SCHEMA_VERSION:
                raise StoreError(
                    f"database {self.display_url} has schema version {version}, "
                    f"not {schema.SCHEMA_VERSION}",
                    "run `litmine db migrate`",
                )
        if not self.read_only:
            self.sync_passage_fts()
        with self._errors():
            (bad,) = one(
                self._conn.execute(
                    "SELECT COUNT(*) FROM passages p JOIN articles a ON a.pmid = p.pmid "
                    "WHERE p.fts IS NOT NULL AND p.fts IS DISTINCT FROM "
                    + PASSAGE_TSVECTOR.format(text="p.text", title="a.title")
                )
            )
        if bad:
            raise StoreError(
                f"{bad} passage(s) of {self.display_url} have a stale full-text vector",
                "run Store.rebuild_fts() on a writable store",
            )

    def save_entities(
        self, passage_id_to_entities: Mapping[int, Sequence[Entity]], model: str
    ) -> int:
        """Replace passages' entities and mark the passages processed, atomically."""
        now = utc_now()
        with self.transaction(), self._errors():
            n = self.replace_entities(passage_id_to_entities)
            self._conn.executemany(
                "INSERT INTO entity_passages (passage_id, model, processed_at) VALUES (?, ?, ?) "
                "ON CONFLICT (passage_id) DO UPDATE SET model = EXCLUDED.model, "
                "processed_at = EXCLUDED.processed_at",
                [(int(pid), model, now) for pid in passage_id_to_entities],
            )
        return n

    def _insert_returning_id(self, sql: str, params: Sequence[Any]) -> int:
        (new_id,) = one(self._conn.execute(f"{sql} RETURNING id", params))
        return int(new_id)

"""Full-text search (SQLite FTS5): the safe query builder, BM25 queries, index upkeep.

``articles_fts`` indexes title + abstract (external content: the
``articles`` table). ``passages_fts`` indexes each passage's text plus its
article's title (external content: the ``passage_search`` view). The store
maintains both explicitly, one statement per table and batch: triggers
would make FTS5 flush its pending index at every row (see migration 3).

``passages_fts`` is built on demand: it holds exactly the passages whose
``pk`` is at most its watermark (``fts_progress``), and
:meth:`FullTextMixin.sync_passage_fts` indexes the rest when passage-level
BM25 is asked for. Default search scores articles (``articles_fts``), so bulk
ingest does not pay for an index most collections never query (it took
about 30% of the store's write time).

Everything here but :func:`fts_query` is SQLite-specific (PostgreSQL:
``tsvector`` columns and ``ts_rank``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from litmine.errors import StoreError
from litmine.store.connection import Connection

__all__ = [
    "ARTICLE_BM25_WEIGHTS",
    "PASSAGE_BM25_WEIGHTS",
    "FullTextMixin",
    "fts_phrases",
    "fts_query",
]


# BM25 column weights. A title match counts double in article search; in
# passage search the title is repeated in every passage of the article, so it
# counts half, letting the passage's own text decide between siblings.
ARTICLE_BM25_WEIGHTS = (2.0, 1.0)
PASSAGE_BM25_WEIGHTS = (0.5, 1.0)

# Longest FTS query sent: a pasted abstract as a query must stay fast.
_MAX_FTS_TERMS = 64


# SQLite-specific (FTS5): index an article / drop the index entries of articles
# while their stored title and abstract are still in place.
_FTS_ADD_ARTICLE = "INSERT INTO articles_fts (rowid, title, abstract) VALUES (?, ?, ?)"
_FTS_DROP_ARTICLE = (
    "INSERT INTO articles_fts (articles_fts, rowid, title, abstract) "
    "SELECT 'delete', id, title, abstract FROM articles WHERE pmid = ?"
)
# SQLite-specific (FTS5): index a passage / drop the index entries of passages
# while their text and title are still in place. Only passages at or below the
# watermark are in the index; deleting an entry that is not there would
# corrupt it.
_FTS_ADD_PASSAGE = "INSERT INTO passages_fts (rowid, title, text) VALUES (?, ?, ?)"
_PASSAGE_FTS_UPTO = "(SELECT upto FROM fts_progress WHERE name = 'passages_fts')"
_FTS_DROP_PASSAGE = (
    "INSERT INTO passages_fts (passages_fts, rowid, title, text) "
    "SELECT 'delete', s.pk, s.title, s.text FROM passage_search s "
    f"WHERE s.id = ? AND s.pk <= {_PASSAGE_FTS_UPTO}"
)
_FTS_DROP_PASSAGES_OF = (
    "INSERT INTO passages_fts (passages_fts, rowid, title, text) "
    "SELECT 'delete', s.pk, s.title, s.text FROM passage_search s "
    f"WHERE s.pk IN (SELECT pk FROM passages WHERE pmid = ?) AND s.pk <= {_PASSAGE_FTS_UPTO}"
)


_FTS_TERM_RE = re.compile(r"[^\W_]+")
# Dropped from full-text queries (unless nothing else is left): they match most
# documents, add nothing to BM25 and make OR queries slow on big stores.
# fmt: off
_STOPWORDS = frozenset((
    "a", "about", "an", "and", "are", "as", "at", "be", "by", "can", "de", "did", "do", "does",
    "for", "from", "had", "has", "have", "how", "in", "into", "is", "it", "its", "not", "of",
    "on", "or", "than", "that", "the", "their", "there", "these", "this", "those", "to", "was",
    "were", "what", "when", "which", "who", "why", "will", "with"
))
# fmt: on


def fts_phrases(query: str) -> list[str]:
    """The searchable phrases of free text, lower case, stopwords dropped, at most 64.

    Each whitespace-separated chunk becomes the space-joined letters-and-digits
    runs of it (``COVID-19`` → ``covid 19``); duplicates go; common English
    stopwords are dropped unless nothing else is left. Both backends build
    their OR-ed full-text query from these (FTS5 here, ``tsquery`` on PostgreSQL).

    Args:
        query: Raw user query.

    Returns:
        The phrases, in query order (empty when nothing is searchable).
    """
    phrases: dict[str, None] = {}
    for chunk in query.split():
        terms = _FTS_TERM_RE.findall(chunk)
        if terms:
            phrases[" ".join(terms).lower()] = None
    content = [p for p in phrases if p not in _STOPWORDS] or list(phrases)
    return content[:_MAX_FTS_TERMS]


def fts_query(query: str) -> str | None:
    """Turn free text into a safe FTS5 MATCH expression.

    The user's text is never passed through: every whitespace-separated chunk
    becomes a quoted phrase of its letters-and-digits runs (``COVID-19`` →
    ``"covid 19"``), so FTS5 operators, quotes, parentheses, ``*``, ``-`` and
    ``:`` lose their meaning. Phrases are OR-ed (BM25 ranks documents matching
    more of them higher); common English stopwords are dropped unless nothing
    else is left.

    Args:
        query: Raw user query.

    Returns:
        The MATCH expression, or None when the query has no searchable term.
    """
    content = fts_phrases(query)
    if not content:
        return None
    return " OR ".join(f'"{p}"' for p in content)


class FullTextMixin(Connection):
    """Full-text queries and the upkeep of the passage index."""

    def _index_passages(self, rows: list[tuple[int, str, str]]) -> None:
        """Put ``(pk, title, text)`` rows back into the passage full-text index.

        Only rows at or below the watermark are indexed (passages whose entries
        were just dropped because their title changed); newer passages wait
        for :meth:`sync_passage_fts`. The title must be the article's stored
        title: dropping entries later reads it from there (``passage_search``).
        """
        if rows:
            upto = self._passage_fts_upto()
            rows = [row for row in rows if row[0] <= upto]
        if rows:
            # SQLite-specific: FTS5 flushes its in-memory index to a new segment
            # whenever a rowid is not above the previous one; ascending inserts
            # keep one segment per batch.
            rows.sort()
            self._conn.executemany(_FTS_ADD_PASSAGE, rows)

    def _passage_fts_upto(self) -> int:
        (upto,) = self._conn.execute(
            "SELECT upto FROM fts_progress WHERE name = 'passages_fts'"
        ).fetchone()
        return int(upto)

    def passage_fts_behind(self) -> int:
        """Number of stored passages not yet in the passage full-text index."""
        with self._errors():
            (count,) = self._conn.execute(
                f"SELECT COUNT(*) FROM passages WHERE pk > {_PASSAGE_FTS_UPTO}"
            ).fetchone()
        return int(count)

    def sync_passage_fts(self) -> int:
        """Add the passages stored since the last sync to the passage full-text index.

        Passage-level BM25 (:meth:`bm25_passages`) calls this itself on a
        writable store; a read-only one asks for it to be run first.

        Returns:
            Number of passages indexed.

        Raises:
            StoreError: The store is read-only, locked or broken.
        """
        with self.transaction(), self._errors():
            upto = self._passage_fts_upto()
            (top,) = self._conn.execute("SELECT COALESCE(MAX(pk), 0) FROM passages").fetchone()
            if top <= upto:
                return 0
            # SQLite-specific (FTS5): ascending rowids keep one segment per batch.
            added = self._conn.execute(
                "INSERT INTO passages_fts (rowid, title, text) "
                "SELECT pk, title, text FROM passage_search WHERE pk > ? ORDER BY pk",
                (upto,),
            ).rowcount
            self._conn.execute(
                "UPDATE fts_progress SET upto = ? WHERE name = 'passages_fts'", (top,)
            )
        return int(added)

    def _ensure_passage_fts(self) -> None:
        """Bring the passage full-text index up to date before a passage-level query."""
        behind = self.passage_fts_behind()
        if not behind:
            return
        if self.read_only:
            raise StoreError(
                f"the passage full-text index is missing {behind} passage(s) of {self.path}",
                "call sync_passage_fts() on a writable store (litmine search does this "
                "itself), or search with search.bm25_unit = 'article'",
            )
        self.sync_passage_fts()

    def bm25_articles(self, query: str, k: int = 100) -> list[tuple[str, float]]:
        """Full-text search over titles and abstracts.

        Args:
            query: Free text; made safe by :func:`fts_query`.
            k: Most hits returned.

        Returns:
            ``(pmid, score)`` pairs, best first; higher score is better.
        """
        rows = self._bm25(query, k, "articles_fts", ARTICLE_BM25_WEIGHTS, "articles a ON a.id")
        return [(pmid, score) for pmid, score in rows]

    def bm25_passages(self, query: str, k: int = 100) -> list[tuple[int, float]]:
        """Full-text search over passages (their text and their article's title).

        Args:
            query: Free text; made safe by :func:`fts_query`.
            k: Most hits returned.

        Returns:
            ``(passage_id, score)`` pairs, best first; higher score is better.
        """
        self._ensure_passage_fts()
        rows = self._bm25(query, k, "passages_fts", PASSAGE_BM25_WEIGHTS, "passages a ON a.pk")
        return [(int(pid), score) for pid, score in rows]

    def _bm25(
        self, query: str, k: int, table: str, weights: tuple[float, float], join: str
    ) -> list[tuple[Any, float]]:
        """Top-k rows of one FTS5 table by BM25, joined back to their keys (``a.id``/``a.pmid``).

        ``join`` names the owning table aliased ``a`` and its rowid column; the key
        returned is ``a.pmid`` for articles and ``a.id`` for passages.
        """
        match = fts_query(query)
        if match is None or k <= 0:
            return []
        key = "a.pmid" if table == "articles_fts" else "a.id"
        w1, w2 = weights
        with self._errors():  # SQLite-specific: FTS5 MATCH and bm25()
            rows = self._conn.execute(
                f"SELECT {key}, f.score FROM ("
                f"  SELECT rowid, -bm25({table}, {w1}, {w2}) AS score"
                f"   FROM {table} WHERE {table} MATCH ? ORDER BY score DESC LIMIT ?"
                f") f JOIN {join} = f.rowid ORDER BY f.score DESC",
                (match, k),
            ).fetchall()
        return [(row[0], float(row[1])) for row in rows]

    def rebuild_fts(self) -> None:
        """Rebuild both full-text indexes from the stored rows (all passages included)."""
        with self.transaction(), self._errors():
            for table in ("articles_fts", "passages_fts"):  # SQLite-specific (FTS5)
                self._conn.execute(f"INSERT INTO {table} ({table}) VALUES ('rebuild')")
            self._conn.execute(
                "UPDATE fts_progress SET upto = (SELECT COALESCE(MAX(pk), 0) FROM passages) "
                "WHERE name = 'passages_fts'"
            )

    def bm25_passages_within(
        self, query: str, pmids: Iterable[str], k: int = 100
    ) -> list[tuple[int, float]]:
        """Like :meth:`bm25_passages`, restricted to the passages of some articles.

        Args:
            query: Free text; made safe by :func:`fts_query`.
            pmids: Only passages of these articles are returned.
            k: Most hits returned.

        Returns:
            ``(passage_id, score)`` pairs, best first; higher score is better.
        """
        match = fts_query(query)
        if match is None or k <= 0:
            return []
        self._ensure_passage_fts()
        w_title, w_text = PASSAGE_BM25_WEIGHTS
        with self._errors():  # SQLite-specific: FTS5 MATCH, bm25() and json_each
            rows = self._conn.execute(
                "SELECT p.id, f.score FROM ("
                f"  SELECT rowid, -bm25(passages_fts, {w_title}, {w_text}) AS score"
                "   FROM passages_fts WHERE passages_fts MATCH ? AND rowid IN ("
                "     SELECT pk FROM passages WHERE pmid IN (SELECT value FROM json_each(?)))"
                "   ORDER BY score DESC LIMIT ?"
                ") f JOIN passages p ON p.pk = f.rowid ORDER BY f.score DESC",
                (match, json.dumps(list(pmids)), k),
            ).fetchall()
        return [(int(pid), float(score)) for pid, score in rows]

    def bm25_article_passages(
        self, query: str, k: int = 100, pmids: Iterable[str] | None = None
    ) -> list[tuple[int, float]]:
        """Passages of the best ``k`` articles by article-level BM25, scored by their article.

        Whole-abstract BM25 ranks articles better than BM25 over single
        passages (short passages give noisy term statistics): on the SciFact
        training claims nDCG@10 0.695 against 0.658. Every passage of a hit
        article carries the article's score, so fusion with passage-level
        dense scores picks the article's best passage.

        Args:
            query: Free text; made safe by :func:`fts_query`.
            k: Most articles whose passages are returned.
            pmids: Only these articles; None for all.

        Returns:
            ``(passage_id, article_score)`` pairs, best article first, each
            article's passages in text order; higher score is better.
        """
        match = fts_query(query)
        if match is None or k <= 0:
            return []
        w_title, w_abstract = ARTICLE_BM25_WEIGHTS
        within = ""
        params: list[Any] = [match]
        if pmids is not None:
            within = (
                " AND rowid IN (SELECT id FROM articles WHERE pmid IN "
                "(SELECT value FROM json_each(?)))"
            )
            params.append(json.dumps(list(pmids)))
        params.append(k)
        with self._errors():  # SQLite-specific: FTS5 MATCH, bm25() and json_each
            rows = self._conn.execute(
                "SELECT p.id, f.score FROM ("
                f"  SELECT rowid, -bm25(articles_fts, {w_title}, {w_abstract}) AS score"
                f"   FROM articles_fts WHERE articles_fts MATCH ?{within}"
                "   ORDER BY score DESC LIMIT ?"
                ") f JOIN articles a ON a.id = f.rowid JOIN passages p ON p.pmid = a.pmid"
                " ORDER BY f.score DESC, p.idx",
                params,
            ).fetchall()
        return [(int(pid), float(score)) for pid, score in rows]

"""Articles: idempotent upserts (with their filter rows and passages), deletes, reads.

:meth:`ArticlesMixin.upsert_articles` takes plain articles or ones prepared
in worker processes (:func:`~litmine.store.rows.prepare_article`) and writes
one statement per table per batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

from litmine._compat import batched
from litmine.clock import utc_now
from litmine.store.codec import load_record
from litmine.store.connection import IN_CHUNK, marks
from litmine.store.fulltext import (
    _FTS_ADD_ARTICLE,
    _FTS_DROP_ARTICLE,
    _FTS_DROP_PASSAGES_OF,
    _PASSAGE_FTS_UPTO,
)
from litmine.store.passages import PassagesMixin
from litmine.store.records import UpsertCounts
from litmine.store.rows import (
    ABSTRACT_POS,
    ARTICLE_FIELDS,
    PassageRow,
    PreparedArticle,
    passage_rows,
    prepare_article,
)
from litmine.types import Article, Passage

__all__ = ["ArticlesMixin"]

_INSERT_ARTICLE = (
    f"INSERT INTO articles (id, pmid, {ARTICLE_FIELDS}, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_UPDATE_ARTICLE = (
    "UPDATE articles SET "
    + ", ".join(f"{name.strip()} = ?" for name in ARTICLE_FIELDS.split(","))
    + " WHERE pmid = ?"
)


class ArticlesMixin(PassagesMixin):
    """Writing and reading articles."""

    def upsert_articles(
        self,
        articles: Iterable[Article | PreparedArticle],
        *,
        split: Callable[[Article], list[Passage]] | None = None,
        batch_size: int = 500,
    ) -> UpsertCounts:
        """Insert or replace articles (and their passages), idempotently by PMID.

        An article whose PMID, version and content are already stored is left
        alone. A newer version, or the same version with different content,
        replaces the stored row, its side tables and its passages: passages
        whose id (PMID, ordinal and text) is unchanged are kept with their
        entities; others are removed (entities included) and new ones added,
        and the change log records both. An older version than the stored one
        is skipped. The whole call is one transaction (or joins the caller's);
        rows are written in batches of ``batch_size`` with one statement per
        table per batch.

        Args:
            articles: Articles, in order; a PMID repeated later in the stream
                is applied after the earlier one. :class:`PreparedArticle`
                items (see :func:`prepare_article`) carry their passages
                already and are written as they are.
            split: Makes a plain article's passages (e.g. ``functools.partial(
                split_article, settings=...)``), only for articles written;
                None stores no passages (and drops those of replaced
                articles, which no longer match).
            batch_size: Articles per batch of statements.

        Returns:
            What happened to the articles and passages.

        Raises:
            StoreError: The database is locked, read-only or broken.
            ValueError: ``split`` returned a passage of another article.
        """
        counts = UpsertCounts()
        with self.transaction(), self._errors():
            now = utc_now()
            batch: list[tuple[PreparedArticle, Article | None]] = []
            seen: set[str] = set()
            for item in articles:
                entry: tuple[PreparedArticle, Article | None] = (
                    (prepare_article(item), item) if isinstance(item, Article) else (item, None)
                )
                pmid = entry[0].pmid
                if pmid in seen or len(batch) >= batch_size:
                    self._upsert_batch(batch, split, counts, now)
                    batch, seen = [], set()
                batch.append(entry)
                seen.add(pmid)
            if batch:
                self._upsert_batch(batch, split, counts, now)
        return counts

    def _upsert_batch(
        self,
        batch: list[tuple[PreparedArticle, Article | None]],
        split: Callable[[Article], list[Passage]] | None,
        counts: UpsertCounts,
        now: str,
    ) -> None:
        conn = self._conn
        stored: dict[str, tuple[int, int, str]] = {}
        for chunk in batched([prep.pmid for prep, _ in batch], IN_CHUNK):
            for pmid, rowid, version, content_hash in conn.execute(
                "SELECT pmid, id, version, content_hash FROM articles "
                f"WHERE pmid IN ({marks(len(chunk))})",
                chunk,
            ):
                stored[pmid] = (rowid, version, content_hash)

        inserts: list[PreparedArticle] = []
        updates: list[tuple[int, PreparedArticle]] = []
        passages: dict[str, list[PassageRow]] = {}
        for prep, article in batch:
            old = stored.get(prep.pmid)
            if old is not None and prep.version < old[1]:
                counts.skipped_older += 1
                continue
            if old is None:
                inserts.append(prep)
            elif prep.version == old[1] and prep.content_hash == old[2]:
                counts.unchanged += 1
                continue
            else:
                updates.append((old[0], prep))
            # Plain articles are split only when written: re-ingesting an
            # unchanged file costs no sentence splitting.
            if article is not None and split is not None:
                passages[prep.pmid] = passage_rows(article, split(article))
            else:
                passages[prep.pmid] = prep.passages or []

        if updates:
            self._apply_updates(updates, passages, counts, now)
        if inserts:
            self._apply_inserts(inserts, passages, counts, now)

    def _apply_inserts(
        self,
        inserts: list[PreparedArticle],
        passages: Mapping[str, list[PassageRow]],
        counts: UpsertCounts,
        now: str,
    ) -> None:
        """Insert articles not stored yet, with their side rows and passages."""
        conn = self._conn
        # We hold the write lock, so MAX(id) + n cannot collide; explicit
        # ids let the full-text rows go in as one plain insert per article.
        (top,) = conn.execute("SELECT COALESCE(MAX(id), 0) FROM articles").fetchone()
        conn.executemany(
            _INSERT_ARTICLE,
            [(top + i, p.pmid, *p.row, now, now) for i, p in enumerate(inserts, 1)],
        )
        self._add_article_fts(
            [(top + i, p.title, p.row[ABSTRACT_POS]) for i, p in enumerate(inserts, 1)]
        )
        self._insert_side_rows(inserts)
        new_passages = [(p.pmid, p.title, row) for p in inserts for row in passages[p.pmid]]
        self._insert_passages(new_passages)  # full-text entries: sync_passage_fts()
        counts.new += len(inserts)
        counts.passages_added += len(new_passages)

    def _add_article_fts(self, rows: list[tuple[int, str, str]]) -> None:
        """Index ``(rowid, title, abstract)`` rows (SQLite-specific: FTS5)."""
        self._conn.executemany(_FTS_ADD_ARTICLE, rows)

    def _drop_article_fts(self, keys: list[tuple[str]]) -> None:
        """Drop the full-text entries of articles and their passages, by ``(pmid,)``.

        SQLite-specific (FTS5): runs while the old title and abstract are in
        place, since FTS5 needs the indexed values to remove them.
        """
        self._conn.executemany(_FTS_DROP_PASSAGES_OF, keys)
        self._conn.executemany(_FTS_DROP_ARTICLE, keys)

    def _drop_fts_of_articles(self, chunk: Sequence[str]) -> None:
        """Drop the full-text entries of articles about to be deleted (SQLite-specific)."""
        qs = marks(len(chunk))
        self._conn.execute(
            "INSERT INTO passages_fts (passages_fts, rowid, title, text) "
            "SELECT 'delete', s.pk, s.title, s.text FROM passage_search s "
            f"WHERE s.pk IN (SELECT pk FROM passages WHERE pmid IN ({qs})) "
            f"AND s.pk <= {_PASSAGE_FTS_UPTO}",
            chunk,
        )
        self._conn.execute(
            "INSERT INTO articles_fts (articles_fts, rowid, title, abstract) "
            f"SELECT 'delete', id, title, abstract FROM articles WHERE pmid IN ({qs})",
            chunk,
        )

    def _apply_updates(
        self,
        updates: list[tuple[int, PreparedArticle]],
        passages: Mapping[str, list[PassageRow]],
        counts: UpsertCounts,
        now: str,
    ) -> None:
        conn = self._conn
        keys = [(p.pmid,) for _, p in updates]
        self._drop_article_fts(keys)
        for table in ("article_pub_types", "article_mesh", "article_chemicals"):
            conn.executemany(f"DELETE FROM {table} WHERE pmid = ?", keys)
        conn.executemany(_UPDATE_ARTICLE, [(*p.row, now, p.pmid) for _, p in updates])
        self._add_article_fts([(rowid, p.title, p.row[ABSTRACT_POS]) for rowid, p in updates])
        self._insert_side_rows([p for _, p in updates])
        self._sync_passages(
            [(p.pmid, p.title, passages[p.pmid]) for _, p in updates], counts, reindex_kept=True
        )
        counts.updated += len(updates)

    def _insert_side_rows(self, articles: Sequence[PreparedArticle]) -> None:
        pub_types = [(a.pmid, t) for a in articles for t in a.pub_types]
        mesh = [(a.pmid, *m) for a in articles for m in a.mesh]
        chemicals = [(a.pmid, *c) for a in articles for c in a.chemicals]
        conn = self._conn
        if pub_types:
            conn.executemany(
                "INSERT INTO article_pub_types (pmid, pub_type) VALUES (?, ?)", pub_types
            )
        if mesh:
            conn.executemany(
                "INSERT INTO article_mesh (pmid, descriptor_name, descriptor_ui, major) "
                "VALUES (?, ?, ?, ?)",
                mesh,
            )
        if chemicals:
            conn.executemany(
                "INSERT INTO article_chemicals (pmid, name, ui) VALUES (?, ?, ?)", chemicals
            )

    def delete_articles(self, pmids: Iterable[str]) -> int:
        """Delete articles and everything derived from them.

        Passages, their entities, full-text entries and side-table rows go too;
        removed passages are logged in the change log.

        Args:
            pmids: PMIDs to delete; unknown ones are ignored.

        Returns:
            Number of articles deleted.
        """
        keys = list(dict.fromkeys(pmids))
        deleted = 0
        with self.transaction(), self._errors():
            conn = self._conn
            for chunk in batched(keys, IN_CHUNK):
                qs = marks(len(chunk))
                self._drop_fts_of_articles(chunk)  # while the rows still exist
                conn.execute(
                    "INSERT INTO passage_changes (passage_id, op) "
                    f"SELECT id, 'del' FROM passages WHERE pmid IN ({qs}) ORDER BY pmid, idx",
                    chunk,
                )
                # Passages, entities and side tables follow by ON DELETE CASCADE.
                deleted += conn.execute(
                    f"DELETE FROM articles WHERE pmid IN ({qs})", chunk
                ).rowcount
        return deleted

    def resplit(
        self,
        split: Callable[[Article], list[Passage]],
        *,
        pmids: Iterable[str] | None = None,
        missing_only: bool = True,
        batch_size: int = 500,
    ) -> UpsertCounts:
        """(Re)make the passages of stored articles.

        For articles stored with ``split=None`` (a fast bulk ingest), or after
        the passage settings changed. Passages that come out identical keep
        their ids and entities; only real changes reach the change log.

        Args:
            split: Makes an article's passages.
            pmids: Only these articles; all if None.
            missing_only: Only articles with an abstract but no passages.
            batch_size: Articles per batch of statements.

        Returns:
            ``updated``: articles whose passages changed; ``unchanged``: the
            others; plus passages added and removed.
        """
        counts = UpsertCounts()
        where = (
            "a.has_abstract = 1 AND NOT EXISTS (SELECT 1 FROM passages p WHERE p.pmid = a.pmid)"
            if missing_only
            else "1 = 1"
        )
        with self.transaction(), self._errors():
            for batch in self._article_batches(where, pmids, batch_size):
                items = [(a.pmid, a.title, passage_rows(a, split(a))) for a in batch]
                for changed in self._sync_passages(items, counts, reindex_kept=False):
                    if changed:
                        counts.updated += 1
                    else:
                        counts.unchanged += 1
        return counts

    def _article_batches(
        self, where: str, pmids: Iterable[str] | None, batch_size: int
    ) -> Iterator[list[Article]]:
        """Stored articles matching a fixed SQL condition on ``a``, in batches.

        Pages by id (or by PMID chunk) so writes between batches are safe.
        """
        columns = "SELECT a.id, a.title, a.abstract, a.record FROM articles a"
        if pmids is not None:
            keys = list(dict.fromkeys(pmids))
            for chunk in batched(keys, max(1, min(batch_size, IN_CHUNK))):
                rows = self._conn.execute(
                    f"{columns} WHERE {where} AND a.pmid IN ({marks(len(chunk))}) ORDER BY a.id",
                    chunk,
                ).fetchall()
                if rows:
                    yield [load_record(*row[1:]) for row in rows]
            return
        last = -1
        while True:
            rows = self._conn.execute(
                f"{columns} WHERE {where} AND a.id > ? ORDER BY a.id LIMIT ?", (last, batch_size)
            ).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            yield [load_record(*row[1:]) for row in rows]

    def get_article(self, pmid: str) -> Article | None:
        """Return the stored article, equal to the one upserted, or None."""
        with self._errors():
            row = self._conn.execute(
                "SELECT title, abstract, record FROM articles WHERE pmid = ?", (pmid,)
            ).fetchone()
        return load_record(*row) if row else None

    def iter_articles(
        self, *, pmids: Iterable[str] | None = None, batch_size: int = 500
    ) -> Iterator[Article]:
        """Yield stored articles.

        Reads in batches without holding a cursor open between them, so the
        caller may write to the store while iterating.

        Args:
            pmids: Only these, in this order (unknown ones skipped); all
                articles in insertion order if None.
            batch_size: Rows read per query.

        Yields:
            Articles.
        """
        if pmids is not None:
            keys = list(dict.fromkeys(pmids))
            for chunk in batched(keys, min(batch_size, IN_CHUNK)):
                with self._errors():
                    rows = self._conn.execute(
                        "SELECT pmid, title, abstract, record FROM articles "
                        f"WHERE pmid IN ({marks(len(chunk))})",
                        chunk,
                    ).fetchall()
                by_pmid = {row[0]: row for row in rows}
                for pmid in chunk:
                    if pmid in by_pmid:
                        yield load_record(*by_pmid[pmid][1:])
            return
        last = -1
        while True:
            with self._errors():
                rows = self._conn.execute(
                    "SELECT id, title, abstract, record FROM articles WHERE id > ? "
                    "ORDER BY id LIMIT ?",
                    (last, batch_size),
                ).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            for row in rows:
                yield load_record(*row[1:])

    def has_article(self, pmid: str) -> bool:
        """Whether an article with this PMID is stored."""
        with self._errors():
            return (
                self._conn.execute("SELECT 1 FROM articles WHERE pmid = ?", (pmid,)).fetchone()
                is not None
            )

    def article_versions(self, pmids: Iterable[str]) -> dict[str, int]:
        """Stored versions of the given PMIDs (absent ones left out)."""
        keys = list(dict.fromkeys(pmids))
        out: dict[str, int] = {}
        with self._errors():
            for chunk in batched(keys, IN_CHUNK):
                out.update(
                    self._conn.execute(
                        f"SELECT pmid, version FROM articles WHERE pmid IN ({marks(len(chunk))})",
                        chunk,
                    ).fetchall()
                )
        return out

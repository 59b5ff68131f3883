"""Passages: writing an article's passages, reading them, and the change log.

Every passage added or removed is logged in ``passage_changes`` with an
increasing sequence number; a vector index remembers the last number it
applied and asks :meth:`PassagesMixin.passage_changes_since` for the rest.
Index runs prune what they applied (:meth:`PassagesMixin.prune_passage_changes`),
so the log holds only what no index has seen yet.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, SupportsInt

from litmine._compat import batched
from litmine.store.connection import IN_CHUNK, NO_LIMIT, marks
from litmine.store.fulltext import _FTS_DROP_PASSAGE, _PASSAGE_FTS_UPTO, FullTextMixin
from litmine.store.records import PassageChange, UpsertCounts
from litmine.store.rows import PassageRow
from litmine.types import Passage

if TYPE_CHECKING:
    # Imported lazily at run time: parse worker processes load the store for
    # prepare_article and should not pay for numpy.
    import numpy as np
    import numpy.typing as npt

__all__ = ["PassagesMixin"]

_INSERT_PASSAGE = (
    "INSERT INTO passages (pk, id, pmid, idx, section, char_start, char_end, text) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_LOG_CHANGE = "INSERT INTO passage_changes (passage_id, op) VALUES (?, ?)"
_PASSAGE_SELECT = (
    "SELECT p.id, p.pmid, p.idx, p.text, p.char_start, p.char_end, p.section, a.title, p.pk "
    "FROM passages p JOIN articles a ON a.pmid = p.pmid"
)


def _passage(row: Sequence[Any]) -> Passage:
    return Passage(
        id=row[0],
        pmid=row[1],
        index=row[2],
        text=row[3],
        start=row[4],
        end=row[5],
        section=row[6],
        title=row[7],
    )


class PassagesMixin(FullTextMixin):
    """Passages of stored articles and the passage change log."""

    def _sync_passages(
        self,
        items: Sequence[tuple[str, str, list[PassageRow]]],
        counts: UpsertCounts,
        *,
        reindex_kept: bool,
    ) -> list[bool]:
        """Make the stored passages of each article equal the given list.

        Passages whose id is already stored are kept (with their entities);
        the others are removed or added and logged in the change log.

        Args:
            items: ``(pmid, title, passage rows)`` per article.
            counts: Receives passages_added / passages_removed.
            reindex_kept: The caller already dropped every full-text entry of
                these articles (their title changes), so kept passages are
                indexed again too.

        Returns:
            Per article, whether its passages changed.
        """
        conn = self._conn
        pmids = [pmid for pmid, _, _ in items]
        old_ids: dict[str, set[int]] = {pmid: set() for pmid in pmids}
        pks: dict[int, int] = {}
        for chunk in batched(pmids, IN_CHUNK):
            for pk, pid, pmid in conn.execute(
                f"SELECT pk, id, pmid FROM passages WHERE pmid IN ({marks(len(chunk))})", chunk
            ):
                old_ids[pmid].add(pid)
                pks[pid] = pk
        removed: list[int] = []
        kept: list[tuple[str, PassageRow]] = []
        added: list[tuple[str, str, PassageRow]] = []
        changed: list[bool] = []
        for pmid, title, new in items:
            old = old_ids[pmid]
            gone = sorted(old.difference(row[0] for row in new))
            removed.extend(gone)
            fresh = [(pmid, title, row) for row in new if row[0] not in old]
            added.extend(fresh)
            kept.extend((title, row) for row in new if row[0] in old)
            changed.append(bool(gone or fresh))
        if removed:
            if not reindex_kept:
                self._drop_passage_fts(removed)
            conn.executemany(_LOG_CHANGE, [(pid, "del") for pid in removed])
            conn.executemany("DELETE FROM passages WHERE id = ?", [(pid,) for pid in removed])
        if kept:
            # Same id means same PMID, ordinal and text: only the offsets and
            # section label can have moved. Entities of these passages stay.
            conn.executemany(
                "UPDATE passages SET section = ?, char_start = ?, char_end = ? WHERE id = ?",
                [(row[2], row[3], row[4], row[0]) for _, row in kept],
            )
        fts_rows = self._insert_passages(added)
        if reindex_kept:
            fts_rows.extend((pks[row[0]], title, row[5]) for title, row in kept)
        self._index_passages(fts_rows)
        counts.passages_added += len(added)
        counts.passages_removed += len(removed)
        return changed

    def _drop_passage_fts(self, ids: list[int]) -> None:
        """Drop passages' full-text entries before they are deleted (SQLite-specific: FTS5)."""
        self._conn.executemany(_FTS_DROP_PASSAGE, [(pid,) for pid in ids])

    def _insert_passages(
        self, passages: Sequence[tuple[str, str, PassageRow]]
    ) -> list[tuple[int, str, str]]:
        """Insert ``(pmid, title, row)`` passages with fresh ascending ``pk`` values.

        Returns:
            Their ``(pk, title, text)`` full-text rows.
        """
        if not passages:
            return []
        # We hold the write lock, so MAX(pk) + n cannot collide. New passages
        # go above the full-text watermark even when the top ones were deleted:
        # pks at or below it count as indexed.
        (top,) = self._conn.execute(
            f"SELECT MAX(COALESCE(MAX(pk), 0), {_PASSAGE_FTS_UPTO}) FROM passages"
        ).fetchone()
        self._conn.executemany(
            _INSERT_PASSAGE,
            [(pk, row[0], pmid, *row[1:]) for pk, (pmid, _, row) in enumerate(passages, top + 1)],
        )
        # One statement for the whole log entry set: per-row inserts would each
        # read and write the AUTOINCREMENT counter.
        self._conn.execute(
            "INSERT INTO passage_changes (passage_id, op) "
            "SELECT id, 'add' FROM passages WHERE pk > ? ORDER BY pk",
            (top,),
        )
        return [(pk, title, row[5]) for pk, (_, title, row) in enumerate(passages, top + 1)]

    def passages_for(self, pmid: str) -> list[Passage]:
        """Passages of one article, in order (empty if none or unknown)."""
        with self._errors():
            rows = self._conn.execute(
                f"{_PASSAGE_SELECT} WHERE p.pmid = ? ORDER BY p.idx", (pmid,)
            ).fetchall()
        return [_passage(row) for row in rows]

    def get_passages(self, ids: Iterable[SupportsInt]) -> list[Passage]:
        """Passages by id, in the order asked; unknown ids are skipped.

        Args:
            ids: Passage ids (e.g. vector search hits); numpy integers are fine.

        Returns:
            The passages, each with its article's title.
        """
        keys = list(dict.fromkeys(int(i) for i in ids))
        found: dict[int, Passage] = {}
        with self._errors():
            for chunk in batched(keys, IN_CHUNK):
                for row in self._conn.execute(
                    f"{_PASSAGE_SELECT} WHERE p.id IN ({marks(len(chunk))})", chunk
                ):
                    found[row[0]] = _passage(row)
        return [found[i] for i in keys if i in found]

    def iter_passages(self, *, batch_size: int = 1000) -> Iterator[list[Passage]]:
        """Yield all passages in batches, in storage (insertion) order.

        Like :meth:`iter_articles`, no cursor stays open between batches.

        Args:
            batch_size: Passages per batch.

        Yields:
            Lists of up to ``batch_size`` passages.
        """
        last = -1
        while True:
            with self._errors():
                rows = self._conn.execute(
                    f"{_PASSAGE_SELECT} WHERE p.pk > ? ORDER BY p.pk LIMIT ?", (last, batch_size)
                ).fetchall()
            if not rows:
                return
            last = rows[-1][8]
            yield [_passage(row) for row in rows]

    def passage_ids(self) -> npt.NDArray[np.int64]:
        """All passage ids, ascending, as an int64 array (FAISS-ready)."""
        with self._errors():
            cursor = self._conn.execute("SELECT id FROM passages ORDER BY id")
            import numpy as np

            return np.fromiter((row[0] for row in cursor), dtype=np.int64)

    def passage_changes_since(self, seq: int = 0, limit: int | None = None) -> list[PassageChange]:
        """Change-log entries after ``seq``, oldest first.

        Args:
            seq: Last sequence number already applied (0 for everything).
            limit: Most entries returned; all if None.

        Returns:
            The changes; an id may appear as ``del`` then ``add`` (re-split).
        """
        with self._errors():
            rows = self._conn.execute(
                "SELECT seq, passage_id, op FROM passage_changes WHERE seq > ? ORDER BY seq "
                "LIMIT ?",
                (seq, NO_LIMIT if limit is None else limit),
            ).fetchall()
        return [PassageChange(*row) for row in rows]

    def prune_passage_changes(self, upto_seq: int) -> int:
        """Forget change-log entries up to ``upto_seq`` (an index applied them).

        Safe with several indexes on one store: an update also reconciles the
        index's ids with the stored ones, so entries another index had not
        applied yet are found that way. ``counts().change_seq`` keeps its value.

        Returns:
            Number of entries removed.
        """
        with self.transaction(), self._errors():
            return self._conn.execute(
                "DELETE FROM passage_changes WHERE seq <= ?", (upto_seq,)
            ).rowcount

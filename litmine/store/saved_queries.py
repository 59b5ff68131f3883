"""Saved queries: PubMed queries re-run on a schedule, each with its date watermark."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from litmine.clock import utc_now
from litmine.errors import InputError
from litmine.store.connection import Connection
from litmine.store.records import SavedQuery

__all__ = ["SavedQueriesMixin"]

_QUERY_SELECT = "SELECT id, query, cron, watermark, created_at, last_run_id FROM saved_queries"


def _saved_query(row: Sequence[Any]) -> SavedQuery:
    return SavedQuery(
        id=row[0],
        query=row[1],
        cron=row[2],
        watermark=dt.date.fromisoformat(row[3]) if row[3] else None,
        created_at=dt.datetime.fromisoformat(row[4]),
        last_run_id=row[5],
    )


def _normalize_query(query: str) -> str:
    return " ".join(query.split())


class SavedQueriesMixin(Connection):
    """Saved queries and their watermarks."""

    def add_query(self, query: str, cron: str) -> SavedQuery:
        """Save a query; saving the same text again returns the saved one unchanged.

        Args:
            query: PubMed query; whitespace is normalised.
            cron: Cron schedule.

        Returns:
            The saved query.

        Raises:
            InputError: The query or schedule is empty.
        """
        text = _normalize_query(query)
        if not text:
            raise InputError("the query is empty", "give a PubMed query to save")
        if not cron.strip():
            raise InputError("the cron schedule is empty", "give one such as '0 2 * * *'")
        with self.transaction(), self._errors():
            self._conn.execute(
                "INSERT INTO saved_queries (query, cron, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT (query) DO NOTHING",
                (text, cron.strip(), utc_now()),
            )
            row = self._conn.execute(f"{_QUERY_SELECT} WHERE query = ?", (text,)).fetchone()
        return _saved_query(row)

    def list_queries(self) -> list[SavedQuery]:
        """All saved queries, oldest first."""
        with self._errors():
            rows = self._conn.execute(f"{_QUERY_SELECT} ORDER BY id").fetchall()
        return [_saved_query(row) for row in rows]

    def get_query(self, query_or_id: str | int) -> SavedQuery | None:
        """A saved query by id or by text.

        Args:
            query_or_id: An int id; or a string, matched as query text first
                and, if it is all digits and no text matches, as an id (so
                ``"3"`` from a command line finds query 3).

        Returns:
            The saved query, or None.
        """
        with self._errors():
            if not isinstance(query_or_id, str):
                row = self._conn.execute(
                    f"{_QUERY_SELECT} WHERE id = ?", (int(query_or_id),)
                ).fetchone()
                return _saved_query(row) if row else None
            text = _normalize_query(query_or_id)
            row = self._conn.execute(f"{_QUERY_SELECT} WHERE query = ?", (text,)).fetchone()
            if row is None and text.isdigit():
                row = self._conn.execute(f"{_QUERY_SELECT} WHERE id = ?", (int(text),)).fetchone()
        return _saved_query(row) if row else None

    def remove_query(self, query_or_id: str | int) -> bool:
        """Delete a saved query (see :meth:`get_query` for the argument).

        Returns:
            Whether a query was removed.
        """
        with self.transaction(), self._errors():
            saved = self.get_query(query_or_id)
            if saved is None:
                return False
            self._conn.execute("DELETE FROM saved_queries WHERE id = ?", (saved.id,))
        return True

    def set_watermark(self, query_id: int, watermark: dt.date, run_id: int | None = None) -> None:
        """Advance a saved query's watermark; an older date leaves it where it is.

        Args:
            query_id: The saved query's id.
            watermark: Latest Entrez date now ingested (a datetime counts by its date).
            run_id: The run that got there, recorded as ``last_run_id``.

        Raises:
            InputError: No saved query has this id.
        """
        if isinstance(watermark, dt.datetime):
            watermark = watermark.date()
        value = watermark.isoformat()
        with self.transaction(), self._errors():
            # ISO dates compare correctly as text.
            cursor = self._conn.execute(
                "UPDATE saved_queries SET "
                "watermark = CASE WHEN watermark IS NULL OR watermark < ? THEN ? "
                "ELSE watermark END, last_run_id = COALESCE(?, last_run_id) WHERE id = ?",
                (value, value, run_id, query_id),
            )
            if cursor.rowcount == 0:
                raise InputError(
                    f"no saved query with id {query_id}", "list them with `litmine queries`"
                )

"""Runs: one row per ingest (or other) run, with its counts, errors and owner process."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
from collections.abc import Mapping, Sequence
from typing import Any

from litmine.clock import utc_now
from litmine.errors import InputError
from litmine.store.connection import Connection
from litmine.store.records import RUN_STATUSES, RunRecord
from litmine.types import IngestReport, to_jsonable

__all__ = ["RunsMixin"]

_FINAL_STATUSES = frozenset(RUN_STATUSES[1:])
# Run errors kept per run: enough to diagnose, bounded so a bad file can't bloat the DB.
_MAX_RUN_ERRORS = 100
_RUN_SELECT = (
    "SELECT id, kind, params, status, started_at, finished_at, n_fetched, n_new, n_updated, "
    "n_unchanged, n_deleted, n_failed, errors, message, host, pid FROM runs"
)


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this host (conservative)."""
    if os.name == "nt":  # os.kill(pid, 0) would terminate it on Windows.
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists but is not ours (EPERM)
        return True
    return True


def _run(row: Sequence[Any]) -> RunRecord:
    return RunRecord(
        id=row[0],
        kind=row[1],
        params=json.loads(row[2]),
        status=row[3],
        started_at=dt.datetime.fromisoformat(row[4]),
        finished_at=dt.datetime.fromisoformat(row[5]) if row[5] else None,
        fetched=row[6],
        new=row[7],
        updated=row[8],
        unchanged=row[9],
        deleted=row[10],
        failed=row[11],
        errors=json.loads(row[12]) if row[12] else [],
        message=row[13],
        host=row[14],
        pid=row[15],
    )


class RunsMixin(Connection):
    """The run log."""

    def start_run(self, kind: str, params: Mapping[str, Any]) -> int:
        """Record the start of a run and return its id.

        Runs left ``running`` by processes of this host that no longer exist
        (killed, crashed) are marked ``interrupted`` first.

        Args:
            kind: What runs (``"ingest"``, ``"update"``...).
            params: Its parameters; stored as JSON (non-JSON values as strings).

        Returns:
            The new run's id.
        """
        host = socket.gethostname()
        params_json = json.dumps(to_jsonable(dict(params)), sort_keys=True, default=str)
        with self.transaction(), self._errors():
            conn = self._conn
            stale = [
                run_id
                for run_id, run_host, pid in conn.execute(
                    "SELECT id, host, pid FROM runs WHERE status = 'running'"
                )
                if pid is None or (run_host == host and pid != os.getpid() and not pid_alive(pid))
            ]
            conn.executemany(
                "UPDATE runs SET status = 'interrupted', "
                "message = COALESCE(message, 'the process ended before the run finished') "
                "WHERE id = ?",
                [(run_id,) for run_id in stale],
            )
            run_id = self._insert_returning_id(
                "INSERT INTO runs (kind, params, status, started_at, host, pid) "
                "VALUES (?, ?, 'running', ?, ?, ?)",
                (kind, params_json, utc_now(), host, os.getpid()),
            )
        return run_id

    def _insert_returning_id(self, sql: str, params: Sequence[Any]) -> int:
        """Run an ``INSERT`` of one row and return its new ``id`` (SQLite: ``lastrowid``)."""
        run_id = self._conn.execute(sql, params).lastrowid
        assert run_id is not None
        return run_id

    def finish_run(
        self, run_id: int, status: str, report: IngestReport, message: str | None = None
    ) -> None:
        """Record the end of a run.

        Args:
            run_id: Id from :meth:`start_run`.
            status: ``ok``, ``partial`` (some records failed), ``failed`` or
                ``interrupted``.
            report: The run's counts and errors (the first 100 errors are kept).
            message: Outcome in words (the error of a failed run).

        Raises:
            ValueError: ``status`` is not a final status.
            InputError: No run has this id.
        """
        if status not in _FINAL_STATUSES:
            raise ValueError(f"run status must be one of {sorted(_FINAL_STATUSES)}, not {status!r}")
        with self.transaction(), self._errors():
            cursor = self._conn.execute(
                "UPDATE runs SET status = ?, finished_at = ?, n_fetched = ?, n_new = ?, "
                "n_updated = ?, n_unchanged = ?, n_deleted = ?, n_failed = ?, errors = ?, "
                "message = ? WHERE id = ?",
                (
                    status,
                    utc_now(),
                    report.fetched,
                    report.new,
                    report.updated,
                    report.unchanged,
                    report.deleted,
                    report.failed,
                    json.dumps(report.errors[:_MAX_RUN_ERRORS]) if report.errors else None,
                    message,
                    run_id,
                ),
            )
            if cursor.rowcount == 0:
                raise InputError(f"no run with id {run_id}")

    def recent_runs(self, limit: int = 10) -> list[RunRecord]:
        """The latest runs, newest first."""
        with self._errors():
            rows = self._conn.execute(f"{_RUN_SELECT} ORDER BY id DESC LIMIT ?", (limit,))
            return [_run(row) for row in rows.fetchall()]

    def get_run(self, run_id: int) -> RunRecord | None:
        """One run by id, or None."""
        with self._errors():
            row = self._conn.execute(f"{_RUN_SELECT} WHERE id = ?", (run_id,)).fetchone()
        return _run(row) if row else None

"""The one clock the stores and indexes stamp their rows and files with."""

from __future__ import annotations

import datetime as dt

__all__ = ["utc_now"]


def utc_now(timespec: str = "milliseconds") -> str:
    """The current UTC time as an ISO 8601 string with its ``+00:00`` offset.

    Args:
        timespec: Precision, as for :meth:`datetime.datetime.isoformat`
            (``"milliseconds"`` for database rows, ``"seconds"`` for file
            manifests).

    Returns:
        E.g. ``"2026-12-03T17:19:36.123+00:00"``.
    """
    return dt.datetime.now(dt.UTC).isoformat(timespec=timespec)

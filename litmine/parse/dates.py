"""Date helpers shared by the PubMed XML and MEDLINE readers."""

from __future__ import annotations

import datetime as dt
import re

from litmine.types import PubDate

__all__ = ["month_number", "parse_free_date", "safe_date"]

_MONTHS = {
    "jan": 1,
    "feb": 2,
    "mar": 3,
    "apr": 4,
    "may": 5,
    "jun": 6,
    "jul": 7,
    "aug": 8,
    "sep": 9,
    "oct": 10,
    "nov": 11,
    "dec": 12,
}

# "1998 Dec-1999 Jan", "2002 Dec", "2006 Mar 1", "1999 Fall", "2000-2001".
_FREE_DATE_RE = re.compile(
    r"(?<!\d)(\d{4})(?!\d)(?:[ ]+([A-Za-z]{3,9})\.?(?![A-Za-z])(?:[ ]+(\d{1,2})(?!\d))?)?"
)
_SIMPLE_DP_RE = re.compile(r"^\d{4}(?: [A-Z][a-z]{2}(?: \d{1,2})?)?$")


def month_number(value: str | None) -> int | None:
    """Month number from ``"Dec"``, ``"December"``, ``"12"`` or ``"07"``.

    Args:
        value: Month as PubMed writes it.

    Returns:
        1-12, or None when the value is missing or not a month (``"Spring"``).
    """
    if not value:
        return None
    value = value.strip()
    if value.isdecimal():
        month = int(value)
        return month if 1 <= month <= 12 else None
    return _MONTHS.get(value[:3].lower())


def safe_date(year: int | None, month: int | None = None, day: int | None = None) -> dt.date | None:
    """Build a date, or None when the parts do not make a real calendar day."""
    if year is None:
        return None
    try:
        return dt.date(year, month or 1, day or 1)
    except ValueError:
        return None


def parse_free_date(text: str | None) -> PubDate:
    """Parse a free-text date (MEDLINE ``DP``, XML ``MedlineDate``).

    Simple forms (``"2006"``, ``"2002 Dec"``, ``"2006 Mar 1"``) come back as
    structured year/month/day with ``medline_date`` None; anything else
    (ranges, seasons) keeps the text in ``medline_date`` and takes the year,
    and the month/day right after it when present, from its start.

    Args:
        text: The date string.

    Returns:
        A :class:`PubDate`; all fields None when nothing usable is found.
    """
    if not text:
        return PubDate()
    text = " ".join(text.split())
    match = _FREE_DATE_RE.search(text)
    if not match:
        return PubDate(medline_date=text or None)
    year = int(match.group(1))
    month = month_number(match.group(2)) if match.group(2) else None
    day = int(match.group(3)) if (month and match.group(3)) else None
    if day is not None and not 1 <= day <= 31:
        day = None
    simple = bool(_SIMPLE_DP_RE.match(text)) and (match.group(2) is None or month is not None)
    return PubDate(year=year, month=month, day=day, medline_date=None if simple else text)

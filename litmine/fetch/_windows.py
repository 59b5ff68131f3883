"""Windows: splitting a large PubMed search into parts that can be fetched whole.

ESearch and EFetch can page through at most the first 10,000 records of a
result set (``entrez.search_window``), so :func:`_iter_windows` splits a
query by Entrez date (``edat``) until every window fits, and by PMID range
when one day alone is too big; :func:`_page_window` then pages through a
window's history set with EFetch, searching the window again when NCBI has
dropped its history set meanwhile.

The functions here only decide what to ask for; they ask through the gateway
(:class:`~litmine.fetch.entrez.EntrezGateway`'s ``esearch`` and ``efetch``),
so every request still goes through the one transport and its retries.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final, Protocol

from litmine.config import EntrezSettings
from litmine.errors import EntrezError, EntrezHistoryError, InputError
from litmine.fetch._replies import HistoryRef, SearchResult

# The logger of litmine.fetch.entrez, as before the split.
log = logging.getLogger("litmine.fetch.entrez")

#: Lower date bound used when a search has no ``since``: before PubMed's oldest
#: records (1781), so an open-ended search really covers everything.
DEFAULT_SINCE: Final = dt.date(1700, 1, 1)
#: Upper bound of the PMID range bisected when one day exceeds the search window.
MAX_PMID: Final = 999_999_999


@dataclass(frozen=True, slots=True)
class SearchWindow:
    """One slice of a query small enough to page through completely.

    Attributes:
        term: The query actually sent: the user's term, plus a PMID range
            (``(term) AND lo:hi[uid]``) when a single day had to be split.
        mindate: First Entrez date (``edat``) of the slice, inclusive.
        maxdate: Last Entrez date of the slice, inclusive. Once every batch of
            the window is stored, a watermark may advance to this day.
        count: Records in the slice when it was searched.
        history: The slice's result set on the history server; None only when
            NCBI returned no history for an empty slice.
        pmid_range: Inclusive PMID bounds when the slice is part of one day.
        warnings: Non-fatal ESearch messages (see :attr:`SearchResult.warnings`).
    """

    term: str
    mindate: dt.date
    maxdate: dt.date
    count: int
    history: HistoryRef | None
    pmid_range: tuple[int, int] | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FetchBatch:
    """One EFetch page of a window.

    Attributes:
        window: The window the page belongs to.
        retstart: Offset of the page's first record inside the window.
        count: Records requested for the page (NCBI may return fewer when
            records were deleted meanwhile).
        xml: The validated ``PubmedArticleSet`` document, as received.
        last_in_window: True when this page completes its window, i.e. it is
            safe to commit and advance a watermark to :attr:`maxdate`. False
            for a page cut short by ``max_records``.
    """

    window: SearchWindow
    retstart: int
    count: int
    xml: bytes
    last_in_window: bool

    @property
    def mindate(self) -> dt.date:
        """First Entrez date of the batch's window."""
        return self.window.mindate

    @property
    def maxdate(self) -> dt.date:
        """Last Entrez date of the batch's window (the watermark candidate)."""
        return self.window.maxdate


class _Entrez(Protocol):
    """What the window functions use of a gateway: its settings, ESearch and EFetch."""

    settings: EntrezSettings

    def esearch(
        self,
        term: str,
        *,
        mindate: dt.date | None = None,
        maxdate: dt.date | None = None,
        datetype: str = "edat",
        retmax: int = 0,
    ) -> SearchResult: ...

    def efetch(
        self,
        *,
        history: HistoryRef | None = None,
        retstart: int = 0,
        retmax: int | None = None,
    ) -> bytes: ...


def _page_window(entrez: _Entrez, window: SearchWindow, limit: int | None) -> Iterator[FetchBatch]:
    """The window's records in EFetch pages, searching it again if its history set expired."""
    retstart = 0
    refreshed = False
    while window.history is not None:
        total = window.count if limit is None else min(limit, window.count)
        if retstart >= total:
            return
        size = min(entrez.settings.batch_size, total - retstart)
        try:
            xml = entrez.efetch(history=window.history, retstart=retstart, retmax=size)
        except EntrezHistoryError:
            # Planned windows can wait hours for their turn (a nightly run
            # fetches them one task at a time) and NCBI drops idle history
            # sets: search the window again, once per page.
            if refreshed:
                raise
            refreshed = True
            fresh = _research(entrez, window)
            if fresh.count != window.count:
                retstart = 0  # the set changed; upserts make re-fetched pages harmless
            window = fresh
            continue
        refreshed = False
        yield FetchBatch(
            window=window,
            retstart=retstart,
            count=size,
            xml=xml,
            last_in_window=retstart + size >= window.count,
        )
        retstart += size


def _research(entrez: _Entrez, window: SearchWindow) -> SearchWindow:
    """The same window searched again, with a fresh history set."""
    log.info(
        "history set of %r (%s..%s) expired; searching again",
        window.term,
        window.mindate,
        window.maxdate,
    )
    result = entrez.esearch(
        window.term, mindate=window.mindate, maxdate=window.maxdate, datetype="edat", retmax=0
    )
    if result.count > entrez.settings.search_window:
        raise EntrezError(
            f"the window {window.mindate}..{window.maxdate} of {window.term!r} grew from "
            f"{window.count} to {result.count} records while it waited, past "
            f"entrez.search_window ({entrez.settings.search_window})",
            "run the ingest again: it plans smaller windows from the saved watermark",
        )
    return dataclasses.replace(
        window, count=result.count, history=result.history, warnings=result.warnings
    )


def _iter_windows(
    entrez: _Entrez, term: str, since: dt.date | None, until: dt.date | None
) -> Iterator[SearchWindow]:
    """Windows covering ``[since, until]`` that each fit ``entrez.search_window``, in order.

    Lazy: each window is searched only when it is asked for, so its history
    set is fresh when :func:`_page_window` pages through it.
    """
    if not term.strip():
        raise InputError("the search term is empty", "give a PubMed query")
    lo = since or DEFAULT_SINCE
    hi = until or dt.date.today()
    if lo > hi:
        raise InputError(f"since ({lo}) is after until ({hi})")
    yield from _split_dates(entrez, term, lo, hi)


def _split_dates(entrez: _Entrez, term: str, lo: dt.date, hi: dt.date) -> Iterator[SearchWindow]:
    # Depth is log2(days) (about 18 for 1700..today), so recursion is fine.
    window = _search_window(entrez, term, lo, hi)
    if window.count <= entrez.settings.search_window:
        yield window
    elif lo == hi:
        yield from _split_pmids(entrez, term, lo, 1, MAX_PMID)
    else:
        mid = lo + dt.timedelta(days=(hi - lo).days // 2)
        yield from _split_dates(entrez, term, lo, mid)
        yield from _split_dates(entrez, term, mid + dt.timedelta(days=1), hi)


def _split_pmids(
    entrez: _Entrez, term: str, day: dt.date, lo: int, hi: int
) -> Iterator[SearchWindow]:
    window = _search_window(entrez, term, day, day, (lo, hi))
    if window.count == 0:
        return  # empty PMID ranges are noise; the day is still covered
    if window.count <= entrez.settings.search_window:
        yield window
    elif lo == hi:
        # One PMID cannot match twice; refuse rather than truncate.
        raise EntrezError(
            f"ESearch reports {window.count} records for the single PMID {lo} on {day}; "
            "cannot split the search further",
            "narrow the query",
        )
    else:
        mid = (lo + hi) // 2
        yield from _split_pmids(entrez, term, day, lo, mid)
        yield from _split_pmids(entrez, term, day, mid + 1, hi)


def _search_window(
    entrez: _Entrez,
    term: str,
    lo: dt.date,
    hi: dt.date,
    pmids: tuple[int, int] | None = None,
) -> SearchWindow:
    query = term if pmids is None else f"({term}) AND {pmids[0]}:{pmids[1]}[uid]"
    result = entrez.esearch(query, mindate=lo, maxdate=hi, datetype="edat", retmax=0)
    if result.count and result.history is None:
        raise EntrezError(
            f"ESearch returned {result.count} records for {query!r} but no history "
            "(WebEnv/QueryKey), so they cannot be fetched"
        )
    return SearchWindow(
        term=query,
        mindate=lo,
        maxdate=hi,
        count=result.count,
        history=result.history,
        pmid_range=pmids,
        warnings=result.warnings,
    )

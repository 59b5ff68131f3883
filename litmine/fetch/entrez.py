"""NCBI E-utilities client for PubMed: the gateway facade.

:class:`EntrezGateway` is what the rest of litmine uses: its public methods
build the parameters of ESearch, EPost and EFetch and read the validated
answers. The work behind them is split by concern:

* :mod:`litmine.fetch._transport`: the only code that speaks HTTP: the
  ``tool``/``email``/``api_key`` parameters, the shared rate limit, GET or
  POST, the timeout and the single retry layer;
* :mod:`litmine.fetch._replies`: judging and reading ESearch/EPost/EFetch
  answers (which faults are worth a retry, :class:`SearchResult`...);
* :mod:`litmine.fetch._windows`: splitting a search too large to page through
  (over 10,000 records) into windows by Entrez date and PMID range, and
  paging through each window's history set.

Every name this module exported before the split is still importable from
here.

Example:
    >>> with EntrezGateway(load_settings().entrez) as gateway:  # doctest: +SKIP
    ...     for batch in gateway.iter_batches("asthma", since=date(2024, 1, 1)):
    ...         store(parse(batch.xml))
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import Final

import httpx

from litmine.config import EntrezSettings
from litmine.errors import InputError
from litmine.fetch import _replies
from litmine.fetch._replies import (
    EFETCH,
    EPOST,
    ESEARCH,
    HistoryRef,
    SearchResult,
    _parse_search,
    _text,
)
from litmine.fetch._transport import ParamValue, _Transport
from litmine.fetch._windows import (
    DEFAULT_SINCE,
    MAX_PMID,
    FetchBatch,
    SearchWindow,
    _iter_windows,
    _page_window,
)

__all__ = [
    "DEFAULT_SINCE",
    "MAX_PMID",
    "EntrezGateway",
    "FetchBatch",
    "HistoryRef",
    "SearchResult",
    "SearchWindow",
]

DB: Final = "pubmed"

# Imported from here by the tests of the retry policy (kept at its old path).
_is_transient = _replies._is_transient


class EntrezGateway:
    """Client of NCBI E-utilities for PubMed.

    Not thread-safe: give each thread its own gateway. Use it as a context
    manager, or call :meth:`close`, to release the HTTP connections.

    Args:
        settings: The ``entrez`` settings section.
        sleep: Sleep function, injected by tests to avoid real waits.
        clock: Monotonic clock in seconds, injected by tests with ``sleep``.
        transport: httpx transport (tests, proxies); default is real network.
        rng: Random source of the backoff jitter; seeded by tests.

    Raises:
        ConfigError: ``settings.eutils_url`` is not an http(s) URL.
    """

    def __init__(
        self,
        settings: EntrezSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        transport: httpx.BaseTransport | None = None,
        rng: random.Random | None = None,
    ) -> None:
        # The transport checks the URL (ConfigError) before anything else is set up.
        self._transport = _Transport(
            settings, sleep=sleep, clock=clock, transport=transport, rng=rng
        )
        self.settings = settings
        self.base_url = self._transport.base_url

    # -- lifecycle -----------------------------------------------------------

    def close(self) -> None:
        """Close the HTTP connections."""
        self._transport.close()

    def __enter__(self) -> EntrezGateway:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- E-utilities ---------------------------------------------------------

    def esearch(
        self,
        term: str,
        *,
        mindate: dt.date | None = None,
        maxdate: dt.date | None = None,
        datetype: str = "edat",
        retstart: int = 0,
        retmax: int = 0,
        usehistory: bool = True,
    ) -> SearchResult:
        """Search PubMed.

        Args:
            term: PubMed query.
            mindate: First date, inclusive. NCBI needs both bounds, so a
                missing one defaults to :data:`DEFAULT_SINCE` or today.
            maxdate: Last date, inclusive.
            datetype: Date field the bounds apply to (``edat``, ``pdat``, ``mdat``).
            retstart: Offset of the first PMID to return.
            retmax: Number of PMIDs to return (0: only the count).
            usehistory: Keep the result set on the history server.

        Returns:
            The parsed answer; phrase-not-found messages are in ``warnings``.

        Raises:
            InputError: The term is empty.
            EntrezError: NCBI rejected the query, or kept failing.
            EntrezUnavailableError: NCBI cannot be reached.
        """
        if not term.strip():
            raise InputError("the search term is empty", "give a PubMed query")
        params: dict[str, ParamValue] = {
            "db": DB,
            "term": term,
            "retstart": retstart,
            "retmax": retmax,
            "retmode": "xml",
        }
        if usehistory:
            params["usehistory"] = "y"
        if mindate is not None or maxdate is not None:
            params["datetype"] = datetype
            params["mindate"] = _format_date(mindate or DEFAULT_SINCE)
            params["maxdate"] = _format_date(maxdate or dt.date.today())
        return _parse_search(self._transport.request(ESEARCH, params).root)

    def epost(self, ids: Sequence[str]) -> HistoryRef:
        """Upload PMIDs to the history server (always by POST).

        Args:
            ids: PMIDs.

        Returns:
            Where the uploaded set lives.

        Raises:
            InputError: The list is empty or holds something that is not a PMID.
            EntrezError: NCBI rejected the list, or kept failing.
            EntrezUnavailableError: NCBI cannot be reached.
        """
        clean = _clean_ids(ids)
        root = self._transport.request(EPOST, {"db": DB, "id": clean}, force_post=True).root
        return HistoryRef(_text(root, "WebEnv"), _text(root, "QueryKey"))

    def efetch(
        self,
        *,
        history: HistoryRef | None = None,
        ids: Sequence[str] | None = None,
        retstart: int = 0,
        retmax: int | None = None,
    ) -> bytes:
        """Fetch PubMed XML records, from a history set or by PMID.

        Args:
            history: Result set to page through (with ``retstart``/``retmax``).
            ids: PMIDs to fetch instead; long lists go by POST.
            retstart: Offset inside the history set.
            retmax: Records to fetch from the history set; default
                ``settings.batch_size``.

        Returns:
            A validated ``PubmedArticleSet`` document, byte for byte as received.

        Raises:
            InputError: Neither or both of ``history`` and ``ids`` given, or a bad PMID.
            EntrezError: NCBI rejected the request, or kept failing.
            EntrezUnavailableError: NCBI cannot be reached.
        """
        if (history is None) == (ids is None):
            raise InputError("efetch needs exactly one of a history reference or PMIDs")
        params: dict[str, ParamValue] = {"db": DB, "retmode": "xml"}
        if history is not None:
            params.update(
                WebEnv=history.webenv,
                query_key=history.query_key,
                retstart=retstart,
                retmax=self.settings.batch_size if retmax is None else retmax,
            )
        else:
            params["id"] = _clean_ids(ids or ())
            if retstart:
                params["retstart"] = retstart
            if retmax is not None:
                params["retmax"] = retmax
        return self._transport.request(EFETCH, params).content

    # -- higher level --------------------------------------------------------

    def plan_windows(
        self, term: str, since: dt.date | None = None, until: dt.date | None = None
    ) -> list[SearchWindow]:
        """Split a search into windows that each fit ``settings.search_window``.

        One ESearch (``retmax=0``, history on) is run per window; a window
        over the limit is bisected by Entrez date, and a single day over the
        limit by PMID range, so nothing is silently cut off.

        Args:
            term: PubMed query.
            since: First Entrez date, inclusive; None means :data:`DEFAULT_SINCE`.
            until: Last Entrez date, inclusive; None means today.

        Returns:
            Windows in chronological order, contiguous and covering
            ``[since, until]``; date windows may be empty (count 0), PMID
            sub-windows of one day are only listed when non-empty.

        Raises:
            InputError: ``since`` is after ``until``, or the term is empty.
            EntrezError: A search failed.
            EntrezUnavailableError: NCBI cannot be reached.
        """
        return list(_iter_windows(self, term, since, until))

    def iter_batches(
        self,
        term: str,
        *,
        since: dt.date | None = None,
        until: dt.date | None = None,
        max_records: int | None = None,
    ) -> Iterator[FetchBatch]:
        """Fetch every record of a search, window by window, in EFetch pages.

        Windows are planned lazily, just before they are fetched, so each
        history set is fresh (NCBI expires idle ones after some hours).

        Args:
            term: PubMed query.
            since: First Entrez date, inclusive; None means :data:`DEFAULT_SINCE`.
            until: Last Entrez date, inclusive; None means today.
            max_records: Stop after this many records; None means all.

        Yields:
            Pages of ``settings.batch_size`` records, chronological by window.

        Raises:
            InputError: Bad arguments.
            EntrezError: A request failed.
            EntrezUnavailableError: NCBI cannot be reached.
        """
        if max_records is not None and max_records < 0:
            raise InputError(f"max_records must be >= 0, not {max_records}")
        remaining = max_records
        if remaining == 0:
            return
        for window in _iter_windows(self, term, since, until):
            for batch in _page_window(self, window, remaining):
                yield batch
                if remaining is not None:
                    remaining -= batch.count
            if remaining == 0:
                return  # before planning the next window: no useless ESearch

    def iter_window(
        self, window: SearchWindow, *, max_records: int | None = None
    ) -> Iterator[bytes]:
        """Fetch one planned window (from :meth:`plan_windows`) page by page.

        Args:
            window: The window to page through via its history set.
            max_records: Stop after this many records; None means the whole window.

        Yields:
            ``PubmedArticleSet`` documents of up to ``settings.batch_size`` records.

        Raises:
            InputError: ``max_records`` is negative.
            EntrezError: A request failed.
            EntrezUnavailableError: NCBI cannot be reached.
        """
        if max_records is not None and max_records < 0:
            raise InputError(f"max_records must be >= 0, not {max_records}")
        for batch in _page_window(self, window, max_records):
            yield batch.xml

    def fetch_ids(self, ids: Sequence[str]) -> Iterator[bytes]:
        """Fetch given PMIDs in pages of ``settings.batch_size``.

        Args:
            ids: PMIDs; validated before the first request.

        Returns:
            An iterator of ``PubmedArticleSet`` documents, one per page.

        Raises:
            InputError: A value is not a PMID (raised at once, not on iteration).
        """
        clean = _clean_ids(ids)
        return self._fetch_pages(clean)

    # -- internals -----------------------------------------------------------

    def _fetch_pages(self, ids: list[str]) -> Iterator[bytes]:
        size = self.settings.batch_size
        for start in range(0, len(ids), size):
            yield self.efetch(ids=ids[start : start + size])

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before retry ``attempt + 1`` (see the transport)."""
        # Kept on the gateway: the tests of the backoff policy call it here.
        return self._transport.backoff(attempt, retry_after)


def _clean_ids(ids: Sequence[str]) -> list[str]:
    if isinstance(ids, str):
        # A lone string is a Sequence[str] too; iterating it would split digits.
        ids = [ids]
    clean = [str(i).strip() for i in ids]
    bad = [i for i in clean if not i.isdigit()]
    if bad:
        raise InputError(f"not a PMID: {bad[0]!r}", "PMIDs are positive whole numbers")
    if not clean:
        raise InputError("the PMID list is empty")
    return clean


def _format_date(day: dt.date) -> str:
    # Not strftime: its %Y is not zero-padded for early years on every platform.
    return f"{day.year:04d}/{day.month:02d}/{day.day:02d}"

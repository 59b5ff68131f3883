"""NCBI E-utilities client: the only module in litmine that speaks HTTP.

Everything network-related lives in :meth:`EntrezGateway._request`: the
``tool``/``email``/``api_key`` parameters NCBI asks for, the rate limit
(3 requests/s without an API key, 10 with one, shared by every gateway of the
process that uses the same endpoint and key), GET-or-POST, the timeout and
the single retry layer (429, 5xx, resets, timeouts, HTML error pages,
truncated XML and transient ``<ERROR>`` answers). The public methods only
build parameters and read the validated XML.

ESearch and EFetch can page through at most the first 10,000 records of a
result set, so :meth:`EntrezGateway.plan_windows` splits a query by Entrez
date (``edat``) until every window fits, and by PMID range when one day alone
is too big. :meth:`EntrezGateway.iter_batches` then pages through each
window's history set with EFetch, searching a window again when NCBI has
dropped its history set meanwhile.

Example:
    >>> with EntrezGateway(load_settings().entrez) as gateway:  # doctest: +SKIP
    ...     for batch in gateway.iter_batches("asthma", since=date(2024, 1, 1)):
    ...         store(parse(batch.xml))
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email.utils
import functools
import json
import logging
import random
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Final
from urllib.parse import urlencode, urlsplit

import certifi
import httpx
from lxml import etree

from litmine.config import EntrezSettings
from litmine.errors import (
    ConfigError,
    EntrezError,
    EntrezHistoryError,
    EntrezUnavailableError,
    InputError,
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

log = logging.getLogger(__name__)


def _unknown_host(exc: BaseException) -> bool:
    """True when name resolution failed definitively (EAI_NONAME), e.g. offline DNS."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, socket.gaierror) and seen.errno == socket.EAI_NONAME:
            return True
        if "Name or service not known" in str(seen) or "nodename nor servname" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


DB: Final = "pubmed"
#: Lower date bound used when a search has no ``since``: before PubMed's oldest
#: records (1781), so an open-ended search really covers everything.
DEFAULT_SINCE: Final = dt.date(1700, 1, 1)
#: Upper bound of the PMID range bisected when one day exceeds the search window.
MAX_PMID: Final = 999_999_999

ESEARCH: Final = "esearch.fcgi"
EPOST: Final = "epost.fcgi"
EFETCH: Final = "efetch.fcgi"

# Root element each endpoint must answer with; anything else is a fault.
_EXPECTED_ROOT: Final[Mapping[str, str]] = {
    ESEARCH: "eSearchResult",
    EPOST: "ePostResult",
    EFETCH: "PubmedArticleSet",
}
# Children without which an answer is unusable even though it parsed (a
# backend that dies mid-answer can still close the root element).
_REQUIRED_CHILDREN: Final[Mapping[str, tuple[str, ...]]] = {
    ESEARCH: ("Count",),
    EPOST: ("WebEnv", "QueryKey"),
}
# NCBI asks for POST once URLs get long; proxies start refusing around 2-8 kB.
_MAX_GET_QUERY_CHARS: Final = 2000
_RETRYABLE_STATUS: Final = frozenset({408, 429})
# <ERROR> texts that say the request itself is wrong: retrying cannot help.
# Checked first because NCBI prefixes some of them with "Search Backend failed".
_PERMANENT_ERROR_MARKERS: Final = (
    "cannot be larger",
    "invalid",
    "empty id",
    "empty term",
    "nothing to",
    "not supported",
    "unknown db",
    "unknown database",
)
# What NCBI says when it no longer has a history set (expired, or lost by a backend).
_HISTORY_LOST: Final = "unable to obtain query"
# <ERROR> texts NCBI sends when its backend hiccups; the same request usually
# succeeds a moment later.
_TRANSIENT_ERROR_MARKERS: Final = (
    "backend",
    "temporar",
    "unavailable",
    "timeout",
    "timed out",
    "try again",
    "internal",
    _HISTORY_LOST,  # retried first: a backend sometimes loses a set for a moment
    "connect",
    "couldn't resolve",
    "busy",
    "too many",
)
_HTML_START = re.compile(rb"\s*(<\?xml[^>]*>\s*)?(<!doctype\s+html|<html)", re.IGNORECASE)
_HTML_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")

ParamValue = str | int | Sequence[str] | None


@dataclass(frozen=True, slots=True)
class HistoryRef:
    """A result set kept on NCBI's history server.

    Attributes:
        webenv: The ``WebEnv`` session string.
        query_key: The ``query_key`` of the set inside that session.
    """

    webenv: str
    query_key: str


@dataclass(frozen=True, slots=True)
class SearchResult:
    """A parsed ESearch answer.

    Attributes:
        count: Total number of matching records (not just those in ``ids``).
        ids: PMIDs of the requested page (``retstart``/``retmax``), newest first.
        webenv: History session, when ``usehistory`` was asked for.
        query_key: History key of the result set, when ``usehistory`` was asked for.
        query_translation: The query as PubMed understood it.
        warnings: Every non-fatal message as readable text (the ``ErrorList``
            entries, such as a phrase that was not found, and the
            ``WarningList`` entries); show these to the user.
        errors: The raw ``ErrorList`` entries as ``"Tag: text"``
            (``"PhraseNotFound: abcXYZ"``). NCBI calls them errors but still
            answers, so they are not raised.
    """

    count: int
    ids: tuple[str, ...]
    webenv: str | None
    query_key: str | None
    query_translation: str | None = None
    warnings: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()

    @property
    def history(self) -> HistoryRef | None:
        """The history reference, or None when the answer carries none."""
        if self.webenv and self.query_key:
            return HistoryRef(self.webenv, self.query_key)
        return None


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


@dataclass(slots=True)
class _Slot:
    """When the next request to one endpoint with one key may start."""

    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)
    next_start: float = float("-inf")


_SLOTS: dict[tuple[str, str | None, Callable[[], float]], _Slot] = {}
_SLOTS_LOCK = threading.Lock()


def _shared_slot(base_url: str, api_key: str | None, clock: Callable[[], float]) -> _Slot:
    # Keyed by clock too: a gateway with an injected (test) clock measures
    # time on another scale and must not share slots with real ones.
    with _SLOTS_LOCK:
        return _SLOTS.setdefault((base_url, api_key, clock), _Slot())


@dataclass(frozen=True, slots=True)
class _Reply:
    content: bytes
    root: etree._Element


class _Retryable(Exception):
    """A fault worth another attempt; carries the server's wait request if any."""

    def __init__(self, problem: str, retry_after: float | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.retry_after = retry_after


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
        parts = urlsplit(settings.eutils_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(
                f"entrez.eutils_url {settings.eutils_url!r} is not an http(s) URL",
                "set LITMINE_EUTILS_URL to e.g. https://eutils.ncbi.nlm.nih.gov/entrez/eutils/",
            )
        self.settings = settings
        self.base_url = settings.eutils_url.rstrip("/") + "/"
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._interval = 1.0 / settings.rate_limit
        # Gateways of one process that talk to the same endpoint with the same
        # key share the limit (NCBI counts per key or IP, not per client): a
        # nightly run opens one gateway per window, one after the other.
        self._slot = _shared_slot(self.base_url, settings.api_key, clock)
        # No DTD loading and no network: PubMed documents name remote DTDs,
        # and resolving them would be slow, leaky and unsafe.
        self._parser = etree.XMLParser(
            resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False
        )
        self._client = httpx.Client(
            timeout=httpx.Timeout(settings.timeout),
            transport=transport,
            follow_redirects=True,
            verify=_ssl_context(),
            headers={"User-Agent": f"litmine ({settings.tool})"},
        )

    # -- lifecycle -----------------------------------------------------------

    def close(self) -> None:
        """Close the HTTP connections."""
        self._client.close()

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
        return _parse_search(self._request(ESEARCH, params).root)

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
        root = self._request(EPOST, {"db": DB, "id": clean}, force_post=True).root
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
        return self._request(EFETCH, params).content

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
        return list(self._iter_windows(term, since, until))

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
        for window in self._iter_windows(term, since, until):
            for batch in self._page_window(window, remaining):
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
        for batch in self._page_window(window, max_records):
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

    def _page_window(self, window: SearchWindow, limit: int | None) -> Iterator[FetchBatch]:
        retstart = 0
        refreshed = False
        while window.history is not None:
            total = window.count if limit is None else min(limit, window.count)
            if retstart >= total:
                return
            size = min(self.settings.batch_size, total - retstart)
            try:
                xml = self.efetch(history=window.history, retstart=retstart, retmax=size)
            except EntrezHistoryError:
                # Planned windows can wait hours for their turn (a nightly run
                # fetches them one task at a time) and NCBI drops idle history
                # sets: search the window again, once per page.
                if refreshed:
                    raise
                refreshed = True
                fresh = self._research(window)
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

    def _fetch_pages(self, ids: list[str]) -> Iterator[bytes]:
        size = self.settings.batch_size
        for start in range(0, len(ids), size):
            yield self.efetch(ids=ids[start : start + size])

    def _research(self, window: SearchWindow) -> SearchWindow:
        """The same window searched again, with a fresh history set."""
        log.info(
            "history set of %r (%s..%s) expired; searching again",
            window.term,
            window.mindate,
            window.maxdate,
        )
        result = self.esearch(
            window.term, mindate=window.mindate, maxdate=window.maxdate, datetype="edat", retmax=0
        )
        if result.count > self.settings.search_window:
            raise EntrezError(
                f"the window {window.mindate}..{window.maxdate} of {window.term!r} grew from "
                f"{window.count} to {result.count} records while it waited, past "
                f"entrez.search_window ({self.settings.search_window})",
                "run the ingest again: it plans smaller windows from the saved watermark",
            )
        return dataclasses.replace(
            window, count=result.count, history=result.history, warnings=result.warnings
        )

    def _iter_windows(
        self, term: str, since: dt.date | None, until: dt.date | None
    ) -> Iterator[SearchWindow]:
        if not term.strip():
            raise InputError("the search term is empty", "give a PubMed query")
        lo = since or DEFAULT_SINCE
        hi = until or dt.date.today()
        if lo > hi:
            raise InputError(f"since ({lo}) is after until ({hi})")
        yield from self._split_dates(term, lo, hi)

    def _split_dates(self, term: str, lo: dt.date, hi: dt.date) -> Iterator[SearchWindow]:
        # Depth is log2(days) (about 18 for 1700..today), so recursion is fine.
        window = self._search_window(term, lo, hi)
        if window.count <= self.settings.search_window:
            yield window
        elif lo == hi:
            yield from self._split_pmids(term, lo, 1, MAX_PMID)
        else:
            mid = lo + dt.timedelta(days=(hi - lo).days // 2)
            yield from self._split_dates(term, lo, mid)
            yield from self._split_dates(term, mid + dt.timedelta(days=1), hi)

    def _split_pmids(self, term: str, day: dt.date, lo: int, hi: int) -> Iterator[SearchWindow]:
        window = self._search_window(term, day, day, (lo, hi))
        if window.count == 0:
            return  # empty PMID ranges are noise; the day is still covered
        if window.count <= self.settings.search_window:
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
            yield from self._split_pmids(term, day, lo, mid)
            yield from self._split_pmids(term, day, mid + 1, hi)

    def _search_window(
        self,
        term: str,
        lo: dt.date,
        hi: dt.date,
        pmids: tuple[int, int] | None = None,
    ) -> SearchWindow:
        query = term if pmids is None else f"({term}) AND {pmids[0]}:{pmids[1]}[uid]"
        result = self.esearch(query, mindate=lo, maxdate=hi, datetype="edat", retmax=0)
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

    def _throttle(self) -> None:
        # Minimum interval between request starts: any 1-second span then
        # holds at most `rate_limit` requests, without bursts that NCBI
        # answers with 429.
        with self._slot.lock:
            now = self._clock()
            start = max(now, self._slot.next_start)
            self._slot.next_start = start + self._interval
        if start > now:
            self._sleep(start - now)

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        # Full jitter spreads retries of many clients; Retry-After is a floor
        # because the server said when it is worth coming back.
        cap = self.settings.backoff_max
        delay = self._rng.uniform(0.0, min(cap, self.settings.backoff_base * 2.0**attempt))
        if retry_after is not None:
            delay = max(delay, min(retry_after, cap))
        return delay

    def _request(
        self, endpoint: str, params: Mapping[str, ParamValue], *, force_post: bool = False
    ) -> _Reply:
        """Send one E-utilities request; the only place doing HTTP and retries.

        Args:
            endpoint: ``esearch.fcgi``, ``epost.fcgi`` or ``efetch.fcgi``.
            params: Endpoint parameters; a sequence value is an ID list.
            force_post: POST even for a short ID list (EPost).

        Returns:
            The body and its parsed root element.

        Raises:
            EntrezError: A non-retryable answer, or faults on every attempt.
            EntrezUnavailableError: The host could not be connected to on any attempt.
        """
        url = self.base_url + endpoint
        form: dict[str, str] = {}
        longest_list = 0
        for key, value in params.items():
            if value is None:
                continue
            if isinstance(value, str | int):
                form[key] = str(value)
            else:
                longest_list = max(longest_list, len(value))
                form[key] = ",".join(value)
        form["tool"] = self.settings.tool
        if self.settings.email:
            form["email"] = self.settings.email
        if self.settings.api_key:
            form["api_key"] = self.settings.api_key
        use_post = (
            force_post
            or longest_list > self.settings.post_threshold
            or len(urlencode(form)) > _MAX_GET_QUERY_CHARS
        )

        attempts = self.settings.max_retries + 1
        problem = "no attempt made"
        unreachable = 0
        for attempt in range(attempts):
            self._throttle()
            retry_after: float | None = None
            try:
                if use_post:
                    response = self._client.post(url, data=form)
                else:
                    response = self._client.get(url, params=form)
            except httpx.UnsupportedProtocol as exc:
                raise ConfigError(f"cannot use entrez.eutils_url {self.base_url}: {exc}") from exc
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                unreachable += 1
                problem = f"cannot connect: {_describe(exc)}"
                if _unknown_host(exc):
                    # DNS said the name does not exist: a definite answer, not a
                    # transient fault, so retrying would only delay the message.
                    raise EntrezUnavailableError(self.base_url, problem) from exc
            except httpx.TimeoutException as exc:
                problem = f"no answer within {self.settings.timeout:g} s ({type(exc).__name__})"
            except httpx.TransportError as exc:
                problem = f"connection failed: {_describe(exc)}"
            except httpx.DecodingError as exc:
                problem = f"undecodable response body: {_describe(exc)}"
            except httpx.RequestError as exc:
                # Redirect loops and the like: retrying the same request cannot help.
                raise EntrezError(
                    f"E-utilities {endpoint} request failed: {_describe(exc)}"
                ) from exc
            else:
                try:
                    return self._accept(endpoint, response)
                except _Retryable as fault:
                    problem, retry_after = fault.problem, fault.retry_after
            if attempt + 1 < attempts:
                delay = self._backoff(attempt, retry_after)
                log.info(
                    "E-utilities %s attempt %d/%d failed (%s); retrying in %.2f s",
                    endpoint,
                    attempt + 1,
                    attempts,
                    problem,
                    delay,
                )
                self._sleep(delay)
        if unreachable == attempts:
            raise EntrezUnavailableError(self.base_url, problem)
        if _HISTORY_LOST in problem.lower():
            raise EntrezHistoryError(
                f"E-utilities {endpoint} failed after {attempts} attempt(s); last problem: "
                f"{problem}",
                "the history set (WebEnv) expired: search again",
            )
        raise EntrezError(
            f"E-utilities {endpoint} failed after {attempts} attempt(s); last problem: {problem}",
            "NCBI may be overloaded: try again later, or raise entrez.max_retries",
        )

    def _accept(self, endpoint: str, response: httpx.Response) -> _Reply:
        status = response.status_code
        if status in _RETRYABLE_STATUS or status >= 500:
            raise _Retryable(
                f"HTTP {status}{_suffix(self._error_message(response))}",
                _retry_after(response.headers.get("Retry-After")),
            )
        if status >= 300:
            raise EntrezError(
                f"E-utilities {endpoint} rejected the request with HTTP {status}"
                f"{_suffix(self._error_message(response))}",
                "check the query, the PMIDs and entrez.api_key",
            )
        return _Reply(response.content, self._validate(endpoint, response.content))

    def _validate(self, endpoint: str, content: bytes) -> etree._Element:
        expected = _EXPECTED_ROOT[endpoint]
        if not content.strip():
            raise _Retryable("empty response body")
        # NCBI's front end answers some failures with an HTML page and status 200.
        if _HTML_START.match(content[:1024]):
            raise _Retryable(f"HTML page instead of <{expected}>{_suffix(_html_title(content))}")
        try:
            root = etree.fromstring(content, self._parser)
        except etree.XMLSyntaxError as exc:
            raise _Retryable(f"ill-formed or truncated XML ({exc})") from None
        tag = etree.QName(root).localname
        messages = [" ".join((e.text or "").split()) for e in root.iterchildren("ERROR")]
        if tag == "ERROR":
            messages.append(" ".join((root.text or "").split()))
        messages = [m for m in messages if m]
        if messages:
            message = "; ".join(messages)
            if _is_transient(message):
                raise _Retryable(f"E-utilities error: {message}")
            raise EntrezError(
                f"E-utilities {endpoint} reported: {message}", "check the query and the PMIDs"
            )
        if tag != expected:
            what = "HTML page" if tag.lower() == "html" else f"<{tag}> document"
            raise _Retryable(f"{what} instead of <{expected}>")
        for child in _REQUIRED_CHILDREN.get(endpoint, ()):
            if root.find(child) is None:
                raise _Retryable(f"incomplete <{expected}>: no <{child}>")
        return root

    def _error_message(self, response: httpx.Response) -> str:
        """Pull NCBI's own words out of an error body, never echoing the API key."""
        body = response.content[:8192]
        message = ""
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if isinstance(data, dict):
            # NCBI's JSON errors also echo the API key; only take the message.
            message = str(data.get("error") or data.get("message") or "")
        elif _HTML_START.match(body):
            message = _html_title(body)
        else:
            errors = re.findall(rb"<ERROR>(.*?)</ERROR>", body, re.DOTALL)
            text = b"; ".join(errors) if errors else body
            message = _TAG.sub(" ", text.decode("utf-8", "replace"))
        message = " ".join(message.split())[:300]
        if self.settings.api_key:
            message = message.replace(self.settings.api_key, "***")
        return message


# -- helpers -----------------------------------------------------------------


def _parse_search(root: etree._Element) -> SearchResult:
    count_text = root.findtext("Count") or "0"
    try:
        count = int(count_text)
    except ValueError:
        raise EntrezError(f"ESearch answered a non-numeric Count {count_text!r}") from None
    errors: list[str] = []
    warnings: list[str] = []
    for entry in root.iterfind("ErrorList/*"):
        text = " ".join((entry.text or "").split())
        errors.append(f"{entry.tag}: {text}")
        warnings.append(f"{_words(str(entry.tag))}: {text}")
    for entry in root.iterfind("WarningList/*"):
        text = " ".join((entry.text or "").split())
        # OutputMessage is already a sentence ("No items found.").
        is_sentence = entry.tag == "OutputMessage"
        warnings.append(text if is_sentence else f"{_words(str(entry.tag))}: {text}")
    return SearchResult(
        count=count,
        ids=tuple(i.text.strip() for i in root.iterfind("IdList/Id") if i.text and i.text.strip()),
        webenv=(root.findtext("WebEnv") or "").strip() or None,
        query_key=(root.findtext("QueryKey") or "").strip() or None,
        query_translation=root.findtext("QueryTranslation"),
        warnings=tuple(warnings),
        errors=tuple(errors),
    )


def _words(tag: str) -> str:
    """``PhraseNotFound`` -> ``phrase not found``."""
    return re.sub(r"(?<!^)(?=[A-Z])", " ", tag).lower()


def _text(root: etree._Element, child: str) -> str:
    return (root.findtext(child) or "").strip()


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


def _is_transient(message: str) -> bool:
    low = message.lower()
    if any(marker in low for marker in _PERMANENT_ERROR_MARKERS):
        return False
    return any(marker in low for marker in _TRANSIENT_ERROR_MARKERS)


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


def _html_title(content: bytes) -> str:
    match = _HTML_TITLE.search(content[:8192])
    if not match:
        return ""
    return " ".join(match.group(1).decode("utf-8", "replace").split())[:200]


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    # Loading the CA bundle takes ~0.1 s; every gateway (one per flow task,
    # one per test) can share one context.
    return ssl.create_default_context(cafile=certifi.where())


def _describe(exc: Exception) -> str:
    return str(exc) or type(exc).__name__


def _suffix(message: str) -> str:
    return f": {message}" if message else ""

"""Transport of E-utilities requests: the only code in litmine that speaks HTTP.

:class:`_Transport` holds everything network-related: the
``tool``/``email``/``api_key`` parameters NCBI asks for, the rate limit
(3 requests/s without an API key, 10 with one, shared by every gateway of the
process that uses the same endpoint and key), GET-or-POST, the timeout and
the single retry layer (429, 5xx, resets, timeouts, and the faulty answers
that :func:`~litmine.fetch._replies._validate` marks as worth another try:
HTML error pages, truncated XML, transient ``<ERROR>`` answers). No other
code retries, so a fault is never retried at two layers at once.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email.utils
import functools
import logging
import random
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
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
)
from litmine.fetch._replies import (
    _HISTORY_LOST,
    _error_message,
    _Reply,
    _Retryable,
    _suffix,
    _validate,
)

# The logger of litmine.fetch.entrez, as before the split: its retry messages
# keep the logger name users and tests filter on.
log = logging.getLogger("litmine.fetch.entrez")

ParamValue = str | int | Sequence[str] | None

# NCBI asks for POST once URLs get long; proxies start refusing around 2-8 kB.
_MAX_GET_QUERY_CHARS: Final = 2000
_RETRYABLE_STATUS: Final = frozenset({408, 429})


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


class _Transport:
    """Sends E-utilities requests: the throttle, the HTTP client and the retry loop.

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

    def close(self) -> None:
        """Close the HTTP connections."""
        self._client.close()

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

    def backoff(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before retry ``attempt + 1``."""
        # Full jitter spreads retries of many clients; Retry-After is a floor
        # because the server said when it is worth coming back.
        cap = self.settings.backoff_max
        delay = self._rng.uniform(0.0, min(cap, self.settings.backoff_base * 2.0**attempt))
        if retry_after is not None:
            delay = max(delay, min(retry_after, cap))
        return delay

    def request(
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
                delay = self.backoff(attempt, retry_after)
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
        """The reply, or :class:`_Retryable` / :class:`EntrezError` by status and body."""
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
        return _Reply(response.content, _validate(endpoint, response.content, self._parser))

    def _error_message(self, response: httpx.Response) -> str:
        return _error_message(response.content, self.settings.api_key)


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


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    # Loading the CA bundle takes ~0.1 s; every gateway (one per flow task,
    # one per test) can share one context.
    return ssl.create_default_context(cafile=certifi.where())


def _describe(exc: Exception) -> str:
    return str(exc) or type(exc).__name__

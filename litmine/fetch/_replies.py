"""Reading E-utilities answers: what ESearch, EPost and EFetch send back.

Nothing here does HTTP. :func:`_validate` judges a body that arrived with a
success status (the right root element, complete, no ``<ERROR>``) and sorts the
faults into those worth another attempt (:class:`_Retryable`, which the
transport's single retry loop catches) and those that are final
(:class:`~litmine.errors.EntrezError`). :func:`_parse_search` turns a valid
ESearch answer into a :class:`SearchResult`; :func:`_error_message` pulls
NCBI's own words out of an error body for messages, never echoing the API key.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from lxml import etree

from litmine.errors import EntrezError

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
class _Reply:
    """A validated answer: the body as received and its parsed root."""

    content: bytes
    root: etree._Element


class _Retryable(Exception):
    """A fault worth another attempt; carries the server's wait request if any."""

    def __init__(self, problem: str, retry_after: float | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.retry_after = retry_after


def _validate(endpoint: str, content: bytes, parser: etree.XMLParser) -> etree._Element:
    """The root of a 2xx answer, once it is the complete document ``endpoint`` gives.

    Raises:
        _Retryable: The answer is empty, an HTML page, ill-formed or cut
            short, another document, or a transient ``<ERROR>``.
        EntrezError: NCBI reports that the request itself is wrong.
    """
    expected = _EXPECTED_ROOT[endpoint]
    if not content.strip():
        raise _Retryable("empty response body")
    # NCBI's front end answers some failures with an HTML page and status 200.
    if _HTML_START.match(content[:1024]):
        raise _Retryable(f"HTML page instead of <{expected}>{_suffix(_html_title(content))}")
    try:
        root = etree.fromstring(content, parser)
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


def _error_message(content: bytes, api_key: str | None) -> str:
    """Pull NCBI's own words out of an error body, never echoing the API key."""
    body = content[:8192]
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
    if api_key:
        message = message.replace(api_key, "***")
    return message


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


def _is_transient(message: str) -> bool:
    low = message.lower()
    if any(marker in low for marker in _PERMANENT_ERROR_MARKERS):
        return False
    return any(marker in low for marker in _TRANSIENT_ERROR_MARKERS)


def _html_title(content: bytes) -> str:
    match = _HTML_TITLE.search(content[:8192])
    if not match:
        return ""
    return " ".join(match.group(1).decode("utf-8", "replace").split())[:200]


def _suffix(message: str) -> str:
    return f": {message}" if message else ""

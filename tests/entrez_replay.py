"""A local HTTP server that behaves like NCBI E-utilities, replaying real answers.

It reads NCBI's recorded responses from ``../shared/data/entrez`` at run time
(nothing from them is copied into the repository) and serves them over real
HTTP on 127.0.0.1, so the real :class:`~litmine.fetch.entrez.EntrezGateway`
(httpx, retries, rate limiting, XML validation) is exercised end to end.

Endpoints (any URL prefix; the last path segment picks the endpoint):

``esearch.fcgi``
    Without a corpus: a recorded file, verbatim (``esearch2.xml`` by default,
    per term via :meth:`EntrezReplay.answer_term`, e.g. ``esearch8.xml``).
    With a :class:`Corpus`: the ``esearch2.xml`` template with ``Count``,
    ``RetMax``, ``RetStart``, ``IdList``, ``WebEnv``, ``QueryKey`` and
    ``QueryTranslation`` rewritten for the requested ``mindate``/``maxdate``
    and any ``lo:hi[uid]`` range in the term. Like PubMed, ``retstart`` over
    9998 is refused with an ``<ERROR>``.
``epost.fcgi``
    ``epost1.xml``; verbatim without a corpus, with a fresh ``WebEnv`` with one.
    The posted PMIDs become a history set.
``efetch.fcgi``
    A ``PubmedArticleSet`` built with lxml from the real ``pubmed*.xml``
    articles: real records for their real PMIDs, clones with the PMID (and,
    in a corpus, the Entrez date) rewritten for any other PMID. By ``id`` or
    by ``WebEnv``/``query_key`` + ``retstart``/``retmax`` over a history set
    (from ESearch or EPost). With a corpus, ``retstart`` >= 10000 is refused
    like PubMed does; an unknown history answers ``Unable to obtain query``.

Every request is recorded (:attr:`EntrezReplay.requests`) with method, path,
query and form parameters and the raw body. Faults are queued per endpoint
with :meth:`EntrezReplay.fail` and served, in order, before normal answers.

Example::

    with running_replay(shared_path("entrez")) as replay:
        replay.use_corpus(Corpus.spread(25_000, date(2020, 1, 1), date(2020, 12, 31)))
        replay.fail("efetch", Fault.http(503), times=2)
        gateway = EntrezGateway(replay.settings(), sleep=clock.sleep, clock=clock)
"""

from __future__ import annotations

import bisect
import copy
import datetime as dt
import re
import socket
import socketserver
import struct
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from lxml import etree

from litmine.config import EntrezSettings

ENDPOINTS = ("esearch", "epost", "efetch")
DEFAULT_ARTICLE_FILES = (
    "pubmed1.xml",
    "pubmed2.xml",
    "pubmed4.xml",
    "pubmed5.xml",
    "pubmed6.xml",
    "pubmed7.xml",
)
# The recorded file each endpoint normally answers with; also what a
# "truncated" fault cuts in half.
NORMAL_FILES = {"esearch": "esearch2.xml", "epost": "epost1.xml", "efetch": "pubmed2.xml"}
# Root element of an <ERROR> answer per endpoint, as NCBI sends them.
ERROR_ROOTS = {"esearch": "eSearchResult", "epost": "ePostResult", "efetch": "eFetchResult"}
XML_TYPE = "text/xml; charset=UTF-8"
HTML_TYPE = "text/html; charset=UTF-8"
# PubMed refuses to page past the first 10,000 records of a result set.
MAX_PAGEABLE = 10_000
_UID_RANGE = re.compile(r"\s+AND\s+(\d+):(\d+)\[uid\]\s*$", re.IGNORECASE)
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


# -- recording -----------------------------------------------------------------


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server saw it.

    Attributes:
        method: ``GET`` or ``POST``.
        endpoint: ``esearch``, ``epost``, ``efetch`` (or another path tail).
        path: Full request path with query string.
        query: Query-string parameters.
        form: Form-body parameters (POST).
        body: Raw request body.
        time: ``time.monotonic()`` on arrival (real time, not a fake clock).
    """

    method: str
    endpoint: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    body: bytes
    time: float

    @property
    def params(self) -> dict[str, str]:
        """Query and form parameters together (form wins, as at NCBI)."""
        return {**self.query, **self.form}

    @property
    def ids(self) -> list[str]:
        """The ``id`` parameter split into PMIDs."""
        value = self.params.get("id", "")
        return [i for i in value.split(",") if i]


# -- faults --------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    """One bad answer to serve instead of the normal one.

    Build them with the class methods; ``kind`` is one of ``http``, ``reset``,
    ``truncated``, ``html``, ``slow``, ``file``, ``error``, ``raw``.
    """

    kind: str
    status: int = 200
    retry_after: str | None = None
    seconds: float = 0.0
    filename: str | None = None
    message: str = ""
    content_type: str = XML_TYPE
    body: bytes = b""

    @classmethod
    def http(cls, status: int, *, retry_after: float | str | None = None) -> Fault:
        """An HTTP error status (429, 500, 502, 503, 404, ...) with a small body."""
        return cls(
            "http",
            status=status,
            retry_after=None if retry_after is None else str(retry_after),
        )

    @classmethod
    def rate_limited(cls, retry_after: float | str = 1) -> Fault:
        """HTTP 429 with ``Retry-After`` and NCBI's JSON body."""
        return cls.http(429, retry_after=retry_after)

    @classmethod
    def reset(cls) -> Fault:
        """Close the connection with a TCP reset and no response."""
        return cls("reset")

    @classmethod
    def truncated(cls, filename: str | None = None) -> Fault:
        """Status 200 with the first half of a real file (the endpoint's normal one).

        ``Fault.truncated("einfo4.xml")`` serves that really-truncated file whole.
        """
        return cls("truncated", filename=filename)

    @classmethod
    def html(cls) -> Fault:
        """The real HTML page ``pubmed3.html`` with status 200 and ``text/html``."""
        return cls("html", filename="pubmed3.html", content_type=HTML_TYPE)

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """Wait ``seconds`` before answering normally (beyond the client timeout)."""
        return cls("slow", seconds=seconds)

    @classmethod
    def file(cls, filename: str, *, status: int = 200, content_type: str = XML_TYPE) -> Fault:
        """A real recorded file verbatim, e.g. ``epost3.xml`` (an ``<ERROR>`` answer)."""
        return cls("file", status=status, filename=filename, content_type=content_type)

    @classmethod
    def raw(cls, body: bytes, *, status: int = 200, content_type: str = XML_TYPE) -> Fault:
        """These bytes as the answer: a hostile or hand-made reply made by the test."""
        return cls("raw", status=status, content_type=content_type, body=body)

    @classmethod
    def error(cls, message: str) -> Fault:
        """Status 200 with ``<Root><ERROR>message</ERROR></Root>`` like NCBI's backend."""
        return cls("error", message=message)


# -- synthetic corpus for splitting and paging scenarios -------------------------


@dataclass
class Corpus:
    """Records (Entrez date, PMID) every query matches, for splitting scenarios.

    PMIDs grow with the date, as in PubMed. ESearch counts and history sets
    are computed from it per date range (inclusive) and PMID range.

    Attributes:
        records: ``(edat, pmid)`` pairs sorted by date then PMID.
    """

    records: list[tuple[dt.date, int]]
    _ordinals: list[int] = field(init=False, repr=False)
    _by_pmid: dict[int, dt.date] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.records.sort()
        self._ordinals = [day.toordinal() for day, _ in self.records]
        self._by_pmid = {pmid: day for day, pmid in self.records}

    @classmethod
    def spread(
        cls,
        total: int,
        since: dt.date,
        until: dt.date,
        *,
        spikes: Mapping[dt.date, int] | None = None,
        first_pmid: int = 30_000_000,
        pmid_step: int = 3,
    ) -> Corpus:
        """``total`` records spread evenly over ``[since, until]``, plus spikes.

        Args:
            total: Records spread evenly over the days.
            since: First day.
            until: Last day.
            spikes: Extra records on given days (e.g. one day over the window).
            first_pmid: PMID of the oldest record.
            pmid_step: Gap between consecutive PMIDs.
        """
        days = (until - since).days + 1
        dates = [since + dt.timedelta(days=k * days // total) for k in range(total)]
        for day, extra in (spikes or {}).items():
            dates.extend([day] * extra)
        dates.sort()
        return cls([(day, first_pmid + k * pmid_step) for k, day in enumerate(dates)])

    def __len__(self) -> int:
        return len(self.records)

    def select(
        self,
        mindate: dt.date | None = None,
        maxdate: dt.date | None = None,
        pmids: tuple[int, int] | None = None,
    ) -> list[tuple[dt.date, int]]:
        """Records inside the inclusive date range and PMID range."""
        lo = 0 if mindate is None else bisect.bisect_left(self._ordinals, mindate.toordinal())
        hi = (
            len(self.records)
            if maxdate is None
            else bisect.bisect_right(self._ordinals, maxdate.toordinal())
        )
        chosen = self.records[lo:hi]
        if pmids is not None:
            chosen = [r for r in chosen if pmids[0] <= r[1] <= pmids[1]]
        return chosen

    def count(
        self,
        mindate: dt.date | None = None,
        maxdate: dt.date | None = None,
        pmids: tuple[int, int] | None = None,
    ) -> int:
        """Number of records in the ranges (see :meth:`select`)."""
        return len(self.select(mindate, maxdate, pmids))

    def edat(self, pmid: int) -> dt.date | None:
        """Entrez date of a PMID, if it is in the corpus."""
        return self._by_pmid.get(pmid)


# -- the server ------------------------------------------------------------------


class EntrezReplay:
    """E-utilities look-alike on 127.0.0.1 with recording and fault injection.

    Args:
        data_dir: The ``entrez`` folder of recorded answers (``../shared/data/entrez``).
        article_files: Recorded ``PubmedArticleSet`` files whose articles
            EFetch serves and clones.
    """

    def __init__(
        self, data_dir: Path, *, article_files: Sequence[str] = DEFAULT_ARTICLE_FILES
    ) -> None:
        self.data_dir = Path(data_dir)
        self.requests: list[RecordedRequest] = []
        self.corpus: Corpus | None = None
        self.term_files: dict[str, str] = {}
        self._faults: dict[str, deque[Fault]] = {name: deque() for name in ENDPOINTS}
        self._histories: dict[tuple[str, str], list[str]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._counter = 0
        self._articles: list[etree._Element] = []
        self._real: dict[str, etree._Element] = {}
        self._article_doctype = ""
        for name in article_files:
            tree = etree.parse(str(self.data_dir / name), _PARSER)
            self._article_doctype = self._article_doctype or _doctype(tree)
            for article in tree.getroot().iterfind("PubmedArticle"):
                self._articles.append(article)
                self._real[article.findtext("MedlineCitation/PMID") or ""] = article
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle

    def start(self) -> EntrezReplay:
        """Start serving on an ephemeral port in a background thread."""
        server = _Server(("127.0.0.1", 0), _Handler)
        server.replay = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; slow answers in progress are cut short."""
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> EntrezReplay:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The TCP port served."""
        assert self._server is not None, "server not started"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Base URL to use as ``entrez.eutils_url``."""
        return f"http://127.0.0.1:{self.port}/entrez/eutils/"

    # -- configuration

    def settings(self, **overrides: Any) -> EntrezSettings:
        """Entrez settings pointing here, with test-friendly retry timings.

        Args:
            **overrides: Any :class:`EntrezSettings` field.
        """
        values: dict[str, Any] = {
            "eutils_url": self.url,
            "email": "tests@example.org",
            "tool": "litmine-tests",
            "backoff_base": 0.001,
            "backoff_max": 0.01,
            "timeout": 10.0,
        }
        values.update(overrides)
        return EntrezSettings(**values)

    def env(self) -> dict[str, str]:
        """Environment variables that point ``load_settings()`` here, for CLI/flow tests.

        Rate 10/s and tiny backoffs keep real-time runs fast.
        """
        return {
            "LITMINE_EUTILS_URL": self.url,
            "LITMINE_ENTREZ_EMAIL": "tests@example.org",
            "LITMINE_ENTREZ_REQUESTS_PER_SECOND": "10",
            "LITMINE_ENTREZ_BACKOFF_BASE": "0.001",
            "LITMINE_ENTREZ_BACKOFF_MAX": "0.01",
            "LITMINE_ENTREZ_TIMEOUT": "10",
        }

    def use_corpus(self, corpus: Corpus) -> Corpus:
        """Answer ESearch/EPost/EFetch from a synthetic corpus (see :class:`Corpus`)."""
        self.corpus = corpus
        return corpus

    def answer_term(self, term: str, filename: str) -> None:
        """Answer ESearch for exactly ``term`` with a recorded file (no corpus mode)."""
        self.term_files[term] = filename

    def fail(self, endpoint: str, fault: Fault, *, times: int = 1) -> None:
        """Queue a fault ``times`` times for an endpoint (``efetch`` or ``efetch.fcgi``)."""
        name = endpoint.removesuffix(".fcgi")
        with self._lock:
            self._faults.setdefault(name, deque()).extend([fault] * times)

    def pending_faults(self, endpoint: str) -> int:
        """Faults still queued for an endpoint."""
        with self._lock:
            return len(self._faults.get(endpoint.removesuffix(".fcgi"), ()))

    def requests_for(self, endpoint: str) -> list[RecordedRequest]:
        """Recorded requests to one endpoint, in arrival order."""
        name = endpoint.removesuffix(".fcgi")
        with self._lock:
            return [r for r in self.requests if r.endpoint == name]

    def clear(self) -> None:
        """Forget recorded requests and queued faults."""
        with self._lock:
            self.requests.clear()
            for queue in self._faults.values():
                queue.clear()

    def forget_histories(self) -> None:
        """Drop every history set, as NCBI does with idle ones after some hours."""
        with self._lock:
            self._histories.clear()

    def read(self, filename: str) -> bytes:
        """A recorded file's bytes."""
        return (self.data_dir / filename).read_bytes()

    # -- request handling (called from server threads)

    def _record(self, request: RecordedRequest) -> Fault | None:
        with self._lock:
            self.requests.append(request)
            queue = self._faults.get(request.endpoint)
            return queue.popleft() if queue else None

    def _new_webenv(self) -> str:
        with self._lock:
            self._counter += 1
            return f"MCID_replay{self._counter:08d}"

    def _remember(self, webenv: str, query_key: str, ids: list[str]) -> None:
        with self._lock:
            self._histories[(webenv, query_key)] = ids

    def answer(self, request: RecordedRequest) -> tuple[int, str, bytes]:
        """The normal (fault-free) answer: status, content type, body."""
        params = request.params
        if request.endpoint == "esearch":
            return 200, XML_TYPE, self._esearch(params)
        if request.endpoint == "epost":
            return 200, XML_TYPE, self._epost(params)
        if request.endpoint == "efetch":
            return 200, XML_TYPE, self._efetch(params)
        page = b"<html><head><title>404 Not Found</title></head><body>Not Found</body></html>"
        return 404, HTML_TYPE, page

    def _esearch(self, params: dict[str, str]) -> bytes:
        term = params.get("term", "")
        if self.corpus is None:
            body = self.read(self.term_files.get(term, NORMAL_FILES["esearch"]))
            root = etree.fromstring(body, _PARSER)
            webenv, key = root.findtext("WebEnv"), root.findtext("QueryKey")
            if webenv and key:
                self._remember(webenv, key, [i.text or "" for i in root.iterfind("IdList/Id")])
            return body
        pmids = None
        match = _UID_RANGE.search(term)
        if match:
            pmids = (int(match.group(1)), int(match.group(2)))
        mindate, maxdate = _date(params.get("mindate")), _date(params.get("maxdate"))
        # Newest first, like PubMed's default sort.
        ids = [str(p) for _, p in reversed(self.corpus.select(mindate, maxdate, pmids))]
        retstart = int(params.get("retstart") or 0)
        retmax = int(params.get("retmax") or 20)
        if retstart > MAX_PAGEABLE - 2:
            return _error_doc(
                "esearch",
                "Search Backend failed: Exception:\n'retstart' cannot be larger than 9998. "
                "For PubMed, ESearch can only retrieve the first 9,999 records matching the query.",
            )
        template = etree.parse(str(self.data_dir / NORMAL_FILES["esearch"]), _PARSER)
        root = template.getroot()
        page = ids[retstart : retstart + retmax]
        _set(root, "Count", str(len(ids)))
        _set(root, "RetMax", str(len(page)))
        _set(root, "RetStart", str(retstart))
        id_list = root.find("IdList")
        assert id_list is not None
        for child in list(id_list):
            id_list.remove(child)
        for pmid in page:
            etree.SubElement(id_list, "Id").text = pmid
        if params.get("usehistory") == "y":
            webenv = self._new_webenv()
            _set(root, "WebEnv", webenv)
            _set(root, "QueryKey", "1")
            self._remember(webenv, "1", ids)
        else:
            for name in ("WebEnv", "QueryKey"):
                node = root.find(name)
                if node is not None:
                    root.remove(node)
        if mindate or maxdate:
            span = f"{params.get('mindate')}:{params.get('maxdate')}[Date - Entry]"
            _set(root, "QueryTranslation", f"({term}) AND {span}")
        else:
            _set(root, "QueryTranslation", term)
        return _serialize(template)

    def _epost(self, params: dict[str, str]) -> bytes:
        ids = [i for i in params.get("id", "").split(",") if i]
        body = self.read(NORMAL_FILES["epost"])
        tree = etree.ElementTree(etree.fromstring(body, _PARSER))
        root = tree.getroot()
        if self.corpus is not None:
            _set(root, "WebEnv", self._new_webenv())
            _set(root, "QueryKey", "1")
            body = _serialize(tree)
        self._remember(root.findtext("WebEnv") or "", root.findtext("QueryKey") or "", ids)
        return body

    def _efetch(self, params: dict[str, str]) -> bytes:
        if params.get("id"):
            ids = [i for i in params["id"].split(",") if i]
        else:
            key = (params.get("WebEnv", ""), params.get("query_key", ""))
            with self._lock:
                history = self._histories.get(key)
            if history is None:
                return _error_doc("efetch", f"Unable to obtain query #{key[1] or '?'}")
            retstart = int(params.get("retstart") or 0)
            retmax = int(params.get("retmax") or 20)
            if self.corpus is not None and retstart >= MAX_PAGEABLE:
                return _error_doc(
                    "efetch",
                    "Search Backend failed: 'retstart' cannot be larger than 9999 for PubMed",
                )
            ids = history[retstart : retstart + retmax]
        return self.article_set(ids)

    def article_set(self, pmids: Sequence[str]) -> bytes:
        """A ``PubmedArticleSet`` document for the PMIDs, built from real articles."""
        root = etree.Element("PubmedArticleSet")
        for index, pmid in enumerate(pmids):
            real = self._real.get(pmid)
            if real is not None:
                root.append(copy.deepcopy(real))
                continue
            article = copy.deepcopy(self._articles[index % len(self._articles)])
            _rewrite_pmid(article, pmid)
            if self.corpus is not None and pmid.isdigit():
                edat = self.corpus.edat(int(pmid))
                if edat is not None:
                    _rewrite_edat(article, edat)
            root.append(article)
        tree = etree.ElementTree(root)
        return etree.tostring(
            tree, xml_declaration=True, encoding="UTF-8", doctype=self._article_doctype
        )

    def fault_body(self, fault: Fault, endpoint: str) -> tuple[int, str, bytes, dict[str, str]]:
        """Status, content type, body and extra headers of a body-serving fault."""
        if fault.kind == "http":
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            if fault.status == 429:
                body = b'{"error":"API rate limit exceeded","count":"11"}'
                return fault.status, "application/json", body, headers
            title = f"{fault.status} {_REASONS.get(fault.status, 'Error')}"
            page = f"<html><head><title>{title}</title></head><body>{title}</body></html>"
            return fault.status, HTML_TYPE, page.encode(), headers
        if fault.kind == "truncated":
            name = fault.filename or NORMAL_FILES.get(endpoint, "pubmed2.xml")
            data = self.read(name)
            if fault.filename is None:
                data = data[: len(data) // 2]
            return 200, XML_TYPE, data, {}
        if fault.kind in ("html", "file"):
            return fault.status, fault.content_type, self.read(fault.filename or ""), {}
        if fault.kind == "error":
            return 200, XML_TYPE, _error_doc(endpoint, fault.message), {}
        if fault.kind == "raw":
            return fault.status, fault.content_type, fault.body, {}
        raise ValueError(f"fault kind {fault.kind!r} has no body")


_REASONS = {
    400: "Bad Request",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    replay: EntrezReplay

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup (getfqdn); skip it.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.0: one request per connection, so a reset never hits a reused socket.
    protocol_version = "HTTP/1.0"
    # Headers and body go out in separate writes; without this, Nagle plus
    # delayed ACKs add 40 ms to every answer.
    disable_nagle_algorithm = True
    server: _Server

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep pytest output clean

    def _handle(self, method: str) -> None:
        replay = self.server.replay
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        form: dict[str, str] = {}
        if body and "form-urlencoded" in (self.headers.get("Content-Type") or ""):
            form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        endpoint = split.path.rstrip("/").rsplit("/", 1)[-1].removesuffix(".fcgi")
        request = RecordedRequest(
            method=method,
            endpoint=endpoint,
            path=self.path,
            query=dict(parse_qsl(split.query, keep_blank_values=True)),
            form=form,
            body=body,
            time=time.monotonic(),
        )
        fault = replay._record(request)
        try:
            if fault is None:
                self._send(*replay.answer(request))
            elif fault.kind == "reset":
                self._reset()
            elif fault.kind == "slow":
                replay._stop.wait(fault.seconds)
                self._send(*replay.answer(request))
            else:
                status, ctype, data, headers = replay.fault_body(fault, endpoint)
                self._send(status, ctype, data, headers)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout test); nothing to do

    def _send(
        self, status: int, ctype: str, body: bytes, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _reset(self) -> None:
        # SO_LINGER 0 turns close() into a TCP RST: a "connection reset by peer".
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()


# -- helpers -----------------------------------------------------------------------


def _date(value: str | None) -> dt.date | None:
    if not value:
        return None
    parts = [int(p) for p in value.replace("-", "/").split("/")]
    while len(parts) < 3:
        parts.append(1)
    return dt.date(parts[0], parts[1], parts[2])


def _set(root: etree._Element, child: str, text: str) -> None:
    node = root.find(child)
    if node is None:
        node = etree.SubElement(root, child)
    node.text = text


def _doctype(tree: etree._ElementTree) -> str:
    return str(getattr(tree.docinfo, "doctype", "") or "")


def _serialize(tree: etree._ElementTree) -> bytes:
    return bytes(
        etree.tostring(tree, xml_declaration=True, encoding="UTF-8", doctype=_doctype(tree))
    )


def _error_doc(endpoint: str, message: str) -> bytes:
    root = etree.Element(ERROR_ROOTS.get(endpoint, "eResult"))
    etree.SubElement(root, "ERROR").text = message
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _rewrite_pmid(article: etree._Element, pmid: str) -> None:
    node = article.find("MedlineCitation/PMID")
    if node is not None:
        node.text = pmid
    for node in article.iterfind("PubmedData/ArticleIdList/ArticleId[@IdType='pubmed']"):
        node.text = pmid


def _rewrite_edat(article: etree._Element, day: dt.date) -> None:
    for node in article.iterfind("PubmedData/History/PubMedPubDate[@PubStatus='entrez']"):
        for name, value in (("Year", day.year), ("Month", day.month), ("Day", day.day)):
            _set(node, name, str(value))


# -- helpers for tests ---------------------------------------------------------------


class FakeClock:
    """A monotonic clock that only moves when ``sleep`` is called.

    Pass ``clock`` as the gateway's clock and ``clock.sleep`` as its sleep:
    no real time passes, and every requested wait is recorded.
    """

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        """Record the wait and advance the clock by it."""
        assert seconds >= 0, f"negative sleep {seconds}"
        self.sleeps.append(seconds)
        self.now += seconds


def closed_port_url() -> str:
    """An E-utilities URL on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/entrez/eutils/"


@contextmanager
def running_replay(data_dir: Path, **kwargs: Any) -> Iterator[EntrezReplay]:
    """Run an :class:`EntrezReplay` for the duration of a ``with`` block.

    This is the body of the ``entrez_replay`` pytest fixture in ``tests/conftest.py``.
    """
    replay = EntrezReplay(data_dir, **kwargs)
    replay.start()
    try:
        yield replay
    finally:
        replay.stop()

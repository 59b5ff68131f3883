"""The clinicians' web page and JSON API.

:func:`create_app` builds a FastAPI application over one read-only store,
one :class:`~litmine.search.hybrid.Searcher` and one :class:`~litmine.answer.answer.Answerer`
(models load once, on the first question). The layer is thin: questions go to
:mod:`litmine.answer.answer` / :mod:`litmine.search.hybrid`, CSV to :mod:`litmine.answer.export`.

Routes:

* ``GET /``: question form; with ``?q=...`` (and ``since``, ``until``,
  ``pub_type``) the answer rendered server-side. Bookmarkable.
* ``GET /export.csv``: the same answer's findings as a CSV attachment.
* ``GET /api/ask``, ``GET /api/search``, ``GET /api/articles/{pmid}``: JSON,
  described by ``/openapi.json`` and ``/docs``.

Safety: Jinja autoescaping is on and no template marks text ``|safe``;
questions and ``k`` are bounded by the ``web`` settings
(:class:`~litmine.config.WebSettings`, 500 characters and 200 passages by
default), years must be years in order, and a publication type must be one
some stored article has; errors reach the browser as one line (a
:class:`~litmine.errors.LitmineError`'s message, 400 for bad input, 422 for a
malformed parameter, 503 for a missing database/index/model or an unreachable
database server, with ``Retry-After``) or a generic
500, never as a traceback.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

import jinja2
from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from litmine.errors import InputError, LitmineError
from litmine.search.hybrid import SearchFilters
from litmine.store.url import StoreUnavailableError
from litmine.web.evidence_view import evidence_view
from litmine.web.models import AnswerOut, ArticleOut, ErrorOut, HitOut, SearchOut, pubmed_url
from litmine.web.render import highlight_segments, year_chart

if TYPE_CHECKING:
    from litmine.answer.answer import Answerer
    from litmine.config import Settings
    from litmine.search.hybrid import Searcher
    from litmine.types import Answer, Article, Entity, Hit

__all__ = ["PUB_TYPES", "WebService", "create_app"]

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
PUB_TYPES: tuple[str, ...] = (
    "Meta-Analysis",
    "Systematic Review",
    "Randomized Controlled Trial",
    "Clinical Trial",
    "Observational Study",
    "Case Reports",
    "Review",
)
"""Publication types offered as filters on the page (others still work in the URL)."""
EVIDENCE_NAMES: dict[str, str] = {
    "meta_analyses": "Meta-analyses",
    "systematic_reviews": "Systematic reviews",
    "rcts": "RCTs",
    "other_clinical_studies": "Other clinical studies",
    "case_reports": "Case reports",
    "reviews": "Reviews",
    "other": "Other",
    "retracted": "Retracted",
}

T = TypeVar("T")
_PUB_TYPE_CACHE = 1000


class WebService:
    """The app's one searcher and answerer, opened lazily and used one request at a time.

    Args:
        settings: Settings tree (data dir, models, defaults).
        searcher: A ready searcher to use (tests); None opens one over a
            read-only store on first use.
        answerer: A ready answerer to use (tests); None builds one on first use.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        searcher: Searcher | None = None,
        answerer: Answerer | None = None,
    ) -> None:
        self.settings = settings
        self._searcher = searcher
        self._answerer = answerer
        self._own_answerer = answerer is None
        # One SQLite connection and one set of models: serialise the requests.
        self._lock = threading.RLock()
        # Publication type (lower case) -> whether a stored article has it.
        self._known_pub_types: set[str] = set()

    def _locked(self, func: Callable[[], T]) -> T:
        with self._lock:
            return func()

    def searcher(self) -> Searcher:
        """The searcher: the given one, else the answerer's.

        Raises:
            StoreError: No database in the data dir.
        """
        with self._lock:
            if self._searcher is None:
                self._searcher = self.answerer().searcher
            return self._searcher

    def answerer(self) -> Answerer:
        """The answerer, built on first use (over the given searcher's store, if any).

        Raises:
            StoreError: No database in the data dir.
        """
        with self._lock:
            if self._answerer is None:
                from litmine.answer.answer import Answerer

                store = None if self._searcher is None else self._searcher.store
                self._answerer = Answerer(self.settings, store=store)
            return self._answerer

    def warm_up(self) -> None:
        """Open the store and load the index and models now rather than on the first question."""
        self._locked(self.answerer().warm_up)

    def ask(
        self,
        question: str,
        *,
        k: int | None,
        filters: SearchFilters,
        mode: str | None = None,
        n_clusters: int | None = None,
    ) -> Answer:
        """Answer a question; see :meth:`litmine.answer.answer.Answerer.ask`."""
        return self._locked(
            lambda: self.answerer().ask(
                question,
                k=self.settings.ask.k if k is None else k,
                n_clusters=n_clusters,
                filters=filters,
                mode=mode,
            )
        )

    def search(
        self, question: str, *, k: int | None, mode: str | None, filters: SearchFilters
    ) -> list[Hit]:
        """Retrieve passages; see :meth:`litmine.search.hybrid.Searcher.search`."""
        return self._locked(
            lambda: self.searcher().search(question, k=k, mode=mode, filters=filters)
        )

    def check_pub_types(self, pub_types: Sequence[str]) -> None:
        """Refuse publication types that no stored article has (a typo finds nothing).

        A type the store knows is remembered for the app's life, so that
        repeated filters cost one lookup. An unknown one is asked again on each
        request: a later ingest (the nightly run, another writer) may bring it,
        and the page must not need a restart to see it.

        Raises:
            InputError: A type is unknown to the collection.
        """
        for pub_type in pub_types:
            key = pub_type.lower()
            with self._lock:
                known = key in self._known_pub_types
                if not known:
                    known = bool(self.searcher().store.filter_pmids(pub_types=(pub_type,)))
                    if known:
                        if len(self._known_pub_types) >= _PUB_TYPE_CACHE:
                            self._known_pub_types.clear()  # bounded
                        self._known_pub_types.add(key)
            if not known:
                raise InputError(
                    f"unknown publication type {pub_type[:100]!r}: no stored article has it",
                    f"use one such as {', '.join(repr(t) for t in PUB_TYPES[:4])}",
                )

    def article(self, pmid: str) -> Article | None:
        """A stored article, or None."""
        return self._locked(lambda: self.searcher().store.get_article(pmid))

    def entities(self, passage_ids: Sequence[int]) -> dict[int, list[Entity]]:
        """Entity mentions of passages, by passage id."""
        return self._locked(lambda: self.searcher().store.entities_for(passage_ids))

    def close(self) -> None:
        """Close the answerer (and the store it opened) when this service built it."""
        with self._lock:
            if self._own_answerer and self._answerer is not None:
                self._answerer.close()  # a given searcher's store stays open


# ------------------------------------------------------------------ query parameters

# The upper bounds come from the settings (web.*), checked by create_app's _bounded:
# these annotations are module-level, the settings are the app's.
Question = Annotated[
    str,
    Query(
        min_length=1,
        description="The question, in plain words (at most web.max_question_chars "
        "characters, 500 by default).",
    ),
]
OptionalQuestion = Annotated[
    str | None,
    Query(
        description="The question (at most web.max_question_chars characters); "
        "omitted shows the empty form.",
    ),
]
KParam = Annotated[
    int | None,
    Query(
        ge=1,
        description="Passages retrieved (1..web.max_k, 200 by default); default from settings.",
    ),
]
ModeParam = Annotated[
    Literal["hybrid", "bm25", "dense"] | None,
    Query(description="Retrieval mode; default from settings."),
]


def _year(value: str | None, name: str) -> int | None:
    text = (value or "").strip()
    if not text:
        return None
    if not text.isdigit() or not 1000 <= int(text) <= 2999:
        raise InputError(f"{name} must be a four-digit year, got {text[:20]!r}", "e.g. 2010")
    return int(text)


def search_filters(
    since: Annotated[
        str | None, Query(description="Published in this year (YYYY) or later; empty: no limit.")
    ] = None,
    until: Annotated[
        str | None, Query(description="Published in this year (YYYY) or earlier; empty: no limit.")
    ] = None,
    pub_type: Annotated[
        list[str] | None,
        Query(description="Publication type; repeat for any of several."),
    ] = None,
) -> SearchFilters:
    """Build the article filters from query parameters (empty values mean no filter).

    Raises:
        InputError: A year is not a year.
    """
    types = tuple(dict.fromkeys(t.strip() for t in pub_type or () if t.strip()))
    if len(types) > 20 or any(len(t) > 100 for t in types):
        raise InputError("too many or too long publication types", "pick at most 20")
    return SearchFilters(
        since_year=_year(since, "since"), until_year=_year(until, "until"), pub_types=types
    )


Filters = Annotated[SearchFilters, Depends(search_filters)]


# ------------------------------------------------------------------ errors


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/openapi.json"


_RETRY_AFTER_S = 5
"""``Retry-After`` seconds sent with a 503 for an unreachable database server."""


def _status_for(exc: LitmineError) -> int:
    """400 for bad input; 503 for the rest (no database/index/model yet, database server down)."""
    return 400 if isinstance(exc, InputError) else 503


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = str(err.get("loc", ("", "?"))[-1])
        parts.append(f"{where}: {err.get('msg', 'invalid value')}")
    return "invalid request: " + "; ".join(parts)


# ------------------------------------------------------------------ the app


def create_app(
    settings: Settings,
    *,
    searcher: Searcher | None = None,
    answerer: Answerer | None = None,
    preload: bool = False,
) -> FastAPI:
    """Build the web application.

    Args:
        settings: Settings tree; the store in ``settings.data_dir`` is opened
            read-only.
        searcher: A ready searcher (tests share one); None opens one lazily.
        answerer: A ready answerer (tests share one); None builds one lazily.
        preload: Open the store and load the models at startup instead of on
            the first question (failures are logged and reported per request).

    Returns:
        The FastAPI application (an ASGI app for uvicorn or any ASGI server).
    """
    service = WebService(settings, searcher=searcher, answerer=answerer)
    limits = settings.web

    def bounded(q: str | None, k: int | None, filters: SearchFilters | None = None) -> None:
        """Refuse what the settings do not allow, before any work is done."""
        if q is not None and len(q) > limits.max_question_chars:
            raise InputError(
                f"q: at most {limits.max_question_chars} characters are accepted, got {len(q)}",
                "shorten the question to its key terms",
            )
        if k is not None and k > limits.max_k:
            raise InputError(
                f"k: at most {limits.max_k} passages per question, got {k}", "ask for fewer"
            )
        if filters is not None:
            service.check_pub_types(filters.pub_types)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if preload:
            try:
                service.warm_up()
            except LitmineError as exc:
                logger.warning("not ready yet: %s", exc.one_line())
        try:
            yield
        finally:
            service.close()

    app = FastAPI(
        title="litmine",
        summary="Search and summarise the stored medical literature.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.service = service
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True, auto_reload=False
    )
    templates = Jinja2Templates(env=env)
    templates.env.globals.update(pubmed_url=pubmed_url, evidence_names=EVIDENCE_NAMES)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    def page(request: Request, status: int = 200, **context: Any) -> HTMLResponse:
        context.setdefault("error", None)
        context.setdefault("answer", None)
        context.setdefault("form", _form(request, limits.max_question_chars))
        return templates.TemplateResponse(
            request, "index.html", context, status_code=status, headers=_no_sniff()
        )

    def fail(request: Request, status: int, message: str, hint: str | None) -> Response:
        if _wants_json(request):
            return JSONResponse(ErrorOut(error=message, hint=hint).model_dump(), status_code=status)
        return page(request, status, error=ErrorOut(error=message, hint=hint))

    @app.exception_handler(LitmineError)
    async def _litmine_error(request: Request, exc: LitmineError) -> Response:
        status = _status_for(exc)
        logger.info("%s %s -> %d: %s", request.method, request.url.path, status, exc)
        response = fail(request, status, exc.message, exc.hint)
        if isinstance(exc, StoreUnavailableError):
            # The database server is down or restarting: the store reconnects
            # by itself, so clients may simply retry.
            response.headers["Retry-After"] = str(_RETRY_AFTER_S)
        return response

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        return fail(request, 422, _validation_message(exc), "check the query parameters")

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return fail(request, exc.status_code, str(exc.detail), None)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> Response:
        logger.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        message = "internal error; the details are in the server log"
        if _wants_json(request):
            return JSONResponse(ErrorOut(error=message).model_dump(), status_code=500)
        return HTMLResponse(
            "<!doctype html><title>litmine: error</title><h1>Something went wrong</h1>"
            f"<p>{message}.</p><p><a href='/'>Back to the search page</a></p>",
            status_code=500,
        )

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index(
        request: Request, filters: Filters, q: OptionalQuestion = None, k: KParam = None
    ) -> HTMLResponse:
        if not (q or "").strip():
            return page(request)
        bounded(q, k, filters)
        answer = service.ask(q or "", k=k, filters=filters)
        view = _answer_view(answer, service) | evidence_view(answer, request.query_params)
        return page(request, answer=answer, view=view)

    @app.get(
        "/export.csv",
        response_class=Response,
        responses={
            200: {"content": {"text/csv": {}}, "description": "The findings table as CSV."},
            400: {"model": ErrorOut},
            503: {"model": ErrorOut},
        },
        summary="Findings of an answer as a CSV attachment",
    )
    def export_csv(
        filters: Filters,
        q: Question,
        k: KParam = None,
        excel: Annotated[
            bool, Query(description="Prefix a byte-order mark for Microsoft Excel.")
        ] = False,
        table: Annotated[
            Literal["findings", "evidence"],
            Query(description="'findings' (cited passages) or 'evidence' (evidence tables)."),
        ] = "findings",
    ) -> Response:
        from litmine.answer.evidence import evidence_frame
        from litmine.answer.export import findings_frame, write_csv

        bounded(q, k, filters)
        answer = service.ask(q, k=k, filters=filters)
        buffer = io.StringIO()
        frame = evidence_frame(answer) if table == "evidence" else findings_frame(answer)
        write_csv(frame, buffer, excel_bom=excel)
        return Response(
            buffer.getvalue().encode("utf-8"),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": 'attachment; filename="litmine-findings.csv"',
                **_no_sniff(),
            },
        )

    @app.get(
        "/api/ask",
        response_model=AnswerOut,
        responses={400: {"model": ErrorOut}, 422: {"model": ErrorOut}, 503: {"model": ErrorOut}},
        summary="Answer a question: clusters of passages with summaries and evidence",
    )
    def api_ask(
        filters: Filters,
        q: Question,
        k: KParam = None,
        mode: ModeParam = None,
        n_clusters: Annotated[
            int | None, Query(ge=1, le=20, description="Clusters; default: chosen automatically.")
        ] = None,
    ) -> AnswerOut:
        bounded(q, k, filters)
        answer = service.ask(q, k=k, filters=filters, mode=mode, n_clusters=n_clusters)
        return AnswerOut.from_answer(answer)

    @app.get(
        "/api/search",
        response_model=SearchOut,
        responses={400: {"model": ErrorOut}, 422: {"model": ErrorOut}, 503: {"model": ErrorOut}},
        summary="Retrieve the passages that best answer a question",
    )
    def api_search(
        filters: Filters, q: Question, k: KParam = None, mode: ModeParam = None
    ) -> SearchOut:
        bounded(q, k, filters)
        hits = service.search(q, k=k, mode=mode, filters=filters)
        return SearchOut(
            question=" ".join(q.split()),
            mode=mode or settings.search.mode,
            hits=[HitOut.from_hit(i, h) for i, h in enumerate(hits, start=1)],
        )

    @app.get(
        "/api/articles/{pmid}",
        response_model=ArticleOut,
        responses={404: {"model": ErrorOut}, 503: {"model": ErrorOut}},
        summary="One stored article",
    )
    def api_article(pmid: str) -> Response | ArticleOut:
        article = service.article(pmid) if len(pmid) <= 64 else None
        if article is None:
            return JSONResponse(
                ErrorOut(
                    error=f"no article with PMID {pmid[:64]!r} in the store",
                    hint="ingest it first (`litmine ingest`)",
                ).model_dump(),
                status_code=404,
            )
        return ArticleOut.from_article(article)

    return app


CSP = (
    "default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
"""Content security policy of the pages: no scripts at all, nothing from other sites."""


def _no_sniff() -> dict[str, str]:
    return {
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Content-Security-Policy": CSP,
    }


def _form(request: Request, max_chars: int) -> dict[str, Any]:
    params = request.query_params
    return {
        "q": params.get("q", "")[: max_chars * 2],
        "since": params.get("since", "")[:10],
        "until": params.get("until", "")[:10],
        "pub_types": [t for t in params.getlist("pub_type") if t][:20],
        "choices": [t for t in dict.fromkeys([*PUB_TYPES, *params.getlist("pub_type")[:20]]) if t],
        "query_string": request.url.query,
    }


def _answer_view(answer: Answer, service: WebService) -> dict[str, Any]:
    """What the template needs beyond the answer: highlights, chart, evidence rows."""
    hits = [h for c in answer.clusters for h in c.hits]
    entities = answer.entities
    missing = [h.passage.id for h in hits if h.passage.id not in entities]
    if missing:
        entities = {**entities, **service.entities(missing)}
    segments = {
        h.passage.id: highlight_segments(h.passage.text, entities.get(h.passage.id, []))
        for h in hits
    }
    evidence = {
        c.id: [
            (EVIDENCE_NAMES.get(f.name, f.name), getattr(c.evidence, f.name))
            for f in dataclasses.fields(c.evidence)
            if getattr(c.evidence, f.name)
        ]
        for c in answer.clusters
    }
    return {
        "segments": segments,
        "chart": year_chart(hits),
        "evidence": evidence,
        "n_articles": len(answer.pmids),
        "n_passages": len(hits),
    }

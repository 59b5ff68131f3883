"""Plain-Python jobs reused by the CLI, the Prefect flows and the web app.

Each function opens what it needs from the settings, does one job and returns a
typed report. None of them prints; progress goes through an optional callback.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from litmine.config import Settings
from litmine.errors import InputError, LitmineError, ParseError
from litmine.types import Article, Deletion, IngestReport, Passage

if TYPE_CHECKING:
    from litmine.fetch.entrez import EntrezGateway, SearchWindow
    from litmine.indexing import IndexReport
    from litmine.store import RunRecord, SavedQuery, Store, StoreCounts


class Progress(Protocol):
    """Receives progress of a long job (a terminal bar, a log, nothing)."""

    def total(self, n: int | None) -> None:
        """Announce how many records are expected, when known."""

    def advance(self, n: int) -> None:
        """Report ``n`` more records processed."""


class _NoProgress:
    def total(self, n: int | None) -> None:
        pass

    def advance(self, n: int) -> None:
        pass


Record = Article | Deletion | LitmineError


def open_store(settings: Settings, *, read_only: bool = False) -> Store:
    """Open the store of ``settings.data_dir`` (creating it for writers)."""
    from litmine.store import Store

    return Store.open(settings, read_only=read_only)


def _splitter(settings: Settings) -> Callable[[Article], list[Passage]]:
    from litmine.passages import split_article

    cfg = settings.passages
    return lambda article: split_article(article, cfg)


def store_records(
    store: Store,
    records: Iterable[Record],
    settings: Settings,
    *,
    progress: Progress | None = None,
    after_commit: Callable[[], None] | None = None,
) -> IngestReport:
    """Write a stream of parsed records to the store in committed batches.

    Articles are upserted (idempotent by PMID and version), ``Deletion`` entries
    remove the article and everything derived from it, and record errors are
    counted as failed without stopping the stream. Order is preserved: a
    deletion applies after the articles that precede it.

    Args:
        store: Open writable store.
        records: Parsed records, e.g. from :func:`litmine.parse.read_file`.
        settings: Settings (batch size, passage splitting).
        progress: Optional progress sink.
        after_commit: Called after the last batch is committed, inside no
            transaction (used to advance watermarks only once data is safe).

    Returns:
        The counts of this stream.
    """
    report = IngestReport()
    prog = progress or _NoProgress()
    split = _splitter(settings)
    batch: list[Article] = []

    def apply(item: list[Article] | Deletion) -> None:
        if isinstance(item, Deletion):
            with store.transaction():
                report.deleted += store.delete_articles([item.pmid])
            return
        with store.transaction():
            counts = store.upsert_articles(item, split=split)
        report.new += counts.new
        report.updated += counts.updated
        report.unchanged += counts.unchanged + counts.skipped_older
        prog.advance(len(item))

    for record in records:
        if isinstance(record, Article):
            report.fetched += 1
            batch.append(record)
            if len(batch) >= settings.ingest.commit_every:
                apply(batch)
                batch = []
        elif isinstance(record, Deletion):
            if batch:
                apply(batch)
                batch = []
            apply(record)
        else:
            report.failed += 1
            report.errors.append(record.one_line())
    if batch:
        apply(batch)
    if after_commit is not None:
        after_commit()
    return report


def _guarded(records: Iterator[Record], source: str) -> Iterator[Record]:
    """Turn a file-level parse failure into one failed record after the good ones."""
    try:
        yield from records
    except ParseError as exc:
        yield exc
    except OSError as exc:
        yield InputError(f"cannot read {source}: {exc.strerror or exc}")


def ingest_files(
    paths: Sequence[str | Path],
    settings: Settings,
    *,
    progress: Progress | None = None,
) -> IngestReport:
    """Ingest local PubMed XML (.xml/.xml.gz), MEDLINE text or BEIR JSONL files.

    Re-running on the same files is safe: unchanged records are skipped, newer
    versions replace older ones and nothing is duplicated.

    Args:
        paths: Files to read; each is sniffed for its format.
        settings: Settings tree.
        progress: Optional progress sink.

    Returns:
        Summed counts over all files.

    Raises:
        InputError: A path does not exist or has an unknown format.
    """
    from litmine.parse import detect_format, read_file

    files = [Path(p) for p in paths]
    for path in files:
        if not path.is_file():
            raise InputError(f"no such file: {path}", "check the path given to --file")
        detect_format(path)  # fail fast on an unknown format before writing anything
    total = IngestReport()
    with open_store(settings) as store:
        for path in files:
            with tracked_run(store, "file", {"path": str(path)}) as report:
                report.add(
                    store_records(
                        store, _guarded(read_file(path), str(path)), settings, progress=progress
                    )
                )
            total.add(report)
    return total


def _failure_status(exc: BaseException) -> str:
    return "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"


def _message(exc: BaseException) -> str:
    if isinstance(exc, LitmineError):
        return exc.one_line()
    return f"{type(exc).__name__}: {exc}"


def open_gateway(settings: Settings) -> EntrezGateway:
    """Create the Entrez gateway from settings (the only HTTP client)."""
    from litmine.fetch.entrez import EntrezGateway

    return EntrezGateway(settings.entrez)


def plan_query(
    gateway: EntrezGateway, query: str, since: dt.date | None, until: dt.date | None
) -> list[SearchWindow]:
    """Split a query's date range into windows ESearch can page completely."""
    if not query.strip():
        raise InputError("the query is empty", 'give a PubMed query, e.g. --query "asthma"')
    if since and until and since > until:
        raise InputError(f"--since {since} is after --until {until}", "swap the dates")
    return gateway.plan_windows(query, since, until)


def ingest_window(
    store: Store,
    gateway: EntrezGateway,
    window: SearchWindow,
    settings: Settings,
    *,
    saved_query_id: int | None = None,
    max_records: int | None = None,
    progress: Progress | None = None,
) -> IngestReport:
    """Fetch one date window page by page, commit it, then advance the watermark.

    The watermark moves to the window's last day only after every page of the
    window is committed, so a killed run re-fetches at most one window and the
    idempotent upserts make that harmless.

    Args:
        store: Writable store.
        gateway: Entrez gateway.
        window: A window from :func:`plan_query`.
        settings: Settings tree.
        saved_query_id: Saved query whose watermark advances, if any.
        max_records: Stop after this many records (the watermark then stays).
        progress: Optional progress sink.

    Returns:
        Counts for this window.
    """
    from litmine.parse import parse_pubmed_xml_bytes

    def records() -> Iterator[Record]:
        for xml in gateway.iter_window(window, max_records=max_records):
            yield from parse_pubmed_xml_bytes(xml)

    complete = max_records is None or max_records >= window.count

    def advance() -> None:
        if saved_query_id is not None and complete and window.maxdate is not None:
            store.set_watermark(saved_query_id, window.maxdate)

    return store_records(store, records(), settings, progress=progress, after_commit=advance)


@contextmanager
def tracked_run(store: Store, kind: str, params: Mapping[str, Any]) -> Iterator[IngestReport]:
    """Record a run in the store: started now, finished with its outcome and counts.

    Args:
        store: Writable store.
        kind: Run kind (``"query"``, ``"file"``, ``"nightly"``).
        params: What the run was asked to do (shown by ``litmine status``).

    Yields:
        The report to fill; its counts are saved when the block ends.
    """
    report = IngestReport()
    run_id = store.start_run(kind, params)
    try:
        yield report
    except BaseException as exc:
        store.finish_run(run_id, _failure_status(exc), report, _message(exc))
        raise
    store.finish_run(run_id, "ok" if not report.failed else "partial", report)


def ingest_query(
    query: str,
    settings: Settings,
    *,
    since: dt.date | None = None,
    until: dt.date | None = None,
    max_records: int | None = None,
    saved_query_id: int | None = None,
    progress: Progress | None = None,
) -> IngestReport:
    """Pull a PubMed query through Entrez into the store.

    Args:
        query: PubMed query text.
        settings: Settings tree.
        since: First Entrez date to include.
        until: Last Entrez date to include (default today).
        max_records: Stop after this many records.
        saved_query_id: Saved query whose watermark advances window by window.
        progress: Optional progress sink.

    Returns:
        Summed counts over all windows.

    Raises:
        EntrezUnavailableError: NCBI cannot be reached (use ``ingest --file``).
    """
    params = {"query": query, "since": _iso(since), "until": _iso(until), "max": max_records}
    kind = "query" if saved_query_id is None else "saved-query"
    with (
        open_store(settings) as store,
        open_gateway(settings) as gateway,
        tracked_run(store, kind, params) as total,
    ):
        windows = plan_query(gateway, query, since, until)
        expected = sum(w.count for w in windows)
        if progress is not None:
            progress.total(min(expected, max_records) if max_records else expected)
        left = max_records
        for window in windows:
            if left is not None and left <= 0:
                break
            report = ingest_window(
                store,
                gateway,
                window,
                settings,
                saved_query_id=saved_query_id,
                max_records=left,
                progress=progress,
            )
            total.add(report)
            if left is not None:
                left -= report.fetched
    return total


def incremental_since(saved: SavedQuery, settings: Settings) -> dt.date | None:
    """First Entrez date of a saved query's next run: watermark minus the overlap."""
    if saved.watermark is None:
        return None
    return saved.watermark - dt.timedelta(days=settings.ingest.overlap_days)


def run_saved_query(
    query_or_id: str | int,
    settings: Settings,
    *,
    until: dt.date | None = None,
    progress: Progress | None = None,
) -> IngestReport:
    """Run one saved query incrementally from its watermark to ``until`` (today)."""
    saved = get_saved_query(query_or_id, settings)
    return ingest_query(
        saved.query,
        settings,
        since=incremental_since(saved, settings),
        until=until,
        saved_query_id=saved.id,
        progress=progress,
    )


def get_saved_query(query_or_id: str | int, settings: Settings) -> SavedQuery:
    """Look a saved query up by text or id, or raise :class:`InputError`."""
    with open_store(settings) as store:
        saved = store.get_query(query_or_id)
    if saved is None:
        raise InputError(
            f"no saved query {query_or_id!r}", 'add it with `litmine schedule add "QUERY"`'
        )
    return saved


def add_saved_query(query: str, settings: Settings, *, cron: str | None = None) -> SavedQuery:
    """Save a query for the nightly incremental flow."""
    if not query.strip():
        raise InputError("the query is empty", "give the PubMed query to save")
    cron = cron or settings.ingest.default_cron
    _check_cron(cron)
    with open_store(settings) as store:
        return store.add_query(query.strip(), cron)


def _check_cron(cron: str) -> None:
    fields = cron.split()
    if len(fields) != 5:
        raise InputError(
            f"invalid cron expression {cron!r}: expected 5 fields",
            'use e.g. --cron "0 2 * * *" (minute hour day month weekday)',
        )


def list_saved_queries(settings: Settings) -> list[SavedQuery]:
    """All saved queries with their watermarks."""
    with open_store(settings) as store:
        return store.list_queries()


def remove_saved_query(query_or_id: str | int, settings: Settings) -> bool:
    """Forget a saved query; True if it existed."""
    with open_store(settings) as store:
        return store.remove_query(query_or_id)


@dataclass(slots=True)
class StatusReport:
    """What ``litmine status`` shows."""

    data_dir: str
    counts: StoreCounts
    vectors: int | None
    runs: list[RunRecord] = field(default_factory=list)
    queries: list[SavedQuery] = field(default_factory=list)


def status(settings: Settings, *, runs: int = 10) -> StatusReport:
    """Counts, recent runs and saved queries of the store in ``settings.data_dir``."""
    with open_store(settings) as store:
        return StatusReport(
            data_dir=str(settings.data_dir),
            counts=store.counts(),
            vectors=_vector_count(settings),
            runs=store.recent_runs(runs),
            queries=store.list_queries(),
        )


def _vector_count(settings: Settings) -> int | None:
    """Vectors in the passage index according to its manifest, or None if unbuilt."""
    import json

    manifest = settings.index_dir / settings.index.name / "manifest.json"
    if not manifest.is_file():
        return None
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
        return int(data["vector_count"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


def extract_entities(
    settings: Settings, *, rebuild: bool = False, progress: Progress | None = None
) -> int:
    """Entity stage: run the NER pipeline over stored articles not processed yet.

    Resumable: each batch of articles is committed with a processed mark, so a
    re-run continues where a killed one stopped.

    Args:
        settings: Settings tree (NER model and batching).
        rebuild: Delete all entities and extract them again.
        progress: Optional progress sink, advanced per article.

    Returns:
        Number of articles processed.
    """
    from litmine.entities import build_nlp, extract_store

    ner = settings.ner
    nlp = build_nlp(ner)
    with open_store(settings) as store:
        if progress is not None:
            progress.total(None if rebuild else len(store.pmids_needing_entities()))
        return extract_store(
            store,
            nlp,
            rebuild=rebuild,
            batch_articles=ner.batch_articles,
            batch_size=ner.batch_size,
            n_process=ner.n_process,
            max_chars=ner.max_chars,
            progress=progress.advance if progress is not None else None,
        )


def update_vector_index(settings: Settings, *, rebuild: bool = False) -> IndexReport:
    """Embedding stage: bring the FAISS passage index up to date with the store.

    Args:
        settings: Settings tree (model, backend, index).
        rebuild: Embed every passage into a fresh index instead of updating.
    """
    from litmine.embed import load_embedder
    from litmine.indexing import build_index, update_index

    embedder = load_embedder(settings.embed)
    with open_store(settings) as store:
        if rebuild:
            return build_index(store, embedder, settings)
        return update_index(store, embedder, settings)

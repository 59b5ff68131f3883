"""Plain-Python jobs reused by the CLI, the Prefect flows and the web app.

Each function opens what it needs from the settings, does one job and returns a
typed report. None of them prints; progress goes through an optional callback.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

from litmine.errors import InputError, LitmineError, ParseError
from litmine.types import Article, Deletion, IngestReport, Passage

if TYPE_CHECKING:
    from litmine.config import PassageSettings, Settings
    from litmine.fetch.entrez import EntrezGateway, SearchWindow
    from litmine.indexing import IndexReport
    from litmine.parse.pubmed_xml import ChunkResult, PubmedChunk
    from litmine.store import PreparedArticle, RunRecord, SavedQuery, Store, StoreCounts


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


Record: TypeAlias = "Article | PreparedArticle | Deletion | LitmineError"


def open_store(settings: Settings, *, read_only: bool = False) -> Store:
    """Open the store of ``settings.data_dir`` (creating it for writers)."""
    from litmine.store import Store

    return Store.open(settings, read_only=read_only)


def _splitter(settings: Settings) -> Callable[[Article], list[Passage]]:
    from litmine.passages import split_article

    cfg = settings.passages
    return lambda article: split_article(article, cfg)


_WRITE_EVERY = 250
"""Articles per write inside a file-reading transaction (see :func:`store_records`)."""


class _Transaction:
    """A store transaction opened on the first write and committed on demand."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._open: Any = None
        self.written = 0

    def begin(self) -> None:
        if self._open is None:
            self._open = self._store.transaction()
            self._open.__enter__()

    def commit(self) -> None:
        if self._open is not None:
            self._open, opened = None, self._open
            self.written = 0
            opened.__exit__(None, None, None)

    def abort(self, exc: BaseException) -> None:
        """Roll back what the open transaction wrote (the error is the caller's to raise)."""
        if self._open is not None:
            self._open, opened = None, self._open
            opened.__exit__(type(exc), exc, exc.__traceback__)


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
        records: Parsed records, e.g. from :func:`litmine.parse.read_file`;
            articles may come prepared (:func:`litmine.store.prepare_article`,
            passages included), as the parallel file reader sends them.
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
    batch: list[Article | PreparedArticle] = []
    # Articles are written as they come, a few hundred at a time, inside a
    # transaction committed every ``commit_every`` of them: the writer keeps
    # pace with parse workers instead of stopping them while it writes a whole
    # transaction's worth at once.
    tx = _Transaction(store)

    def write() -> None:
        tx.begin()
        counts = store.upsert_articles(batch, split=split)
        report.new += counts.new
        report.updated += counts.updated
        report.unchanged += counts.unchanged + counts.skipped_older
        prog.advance(len(batch))
        tx.written += len(batch)
        batch.clear()
        if tx.written >= settings.ingest.commit_every:
            tx.commit()

    try:
        for record in records:
            if isinstance(record, Deletion):
                if batch:
                    write()
                tx.commit()  # a deletion applies after the articles before it
                with store.transaction():
                    report.deleted += store.delete_articles([record.pmid])
            elif isinstance(record, LitmineError):
                report.failed += 1
                report.errors.append(record.one_line())
            else:
                report.fetched += 1
                batch.append(record)
                if len(batch) >= min(_WRITE_EVERY, settings.ingest.commit_every - tx.written):
                    write()
        if batch:
            write()
        tx.commit()
    except BaseException as exc:
        tx.abort(exc)
        raise
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
    workers: int | None = None,
) -> IngestReport:
    """Ingest local PubMed XML (.xml/.xml.gz), MEDLINE text or BEIR JSONL files.

    Re-running on the same files is safe: unchanged records are skipped, newer
    versions replace older ones and nothing is duplicated.

    PubMed XML beyond its first few MB is parsed, and its rows prepared, in
    worker processes while this process writes the database: the file is
    streamed in chunks of whole records, with a bounded number in flight, and
    records are applied in file order, so commits, counts, errors and
    resumability are those of a sequential read.

    Args:
        paths: Files to read; each is sniffed for its format.
        settings: Settings tree.
        progress: Optional progress sink.
        workers: Parse processes for PubMed XML; None uses one per CPU (at
            most four), 0 parses in this process.

    Returns:
        Summed counts over all files.

    Raises:
        InputError: A path does not exist or has an unknown format.
    """
    from litmine.parse import detect_format

    files = [Path(p) for p in paths]
    formats: list[str] = []
    for path in files:
        if not path.is_file():
            raise InputError(f"no such file: {path}", "check the path given to --file")
        formats.append(detect_format(path))  # fail fast before writing anything
    total = IngestReport()
    with open_store(settings) as store, _cyclic_gc_paused():
        for path, fmt in zip(files, formats, strict=True):
            with (
                tracked_run(store, "file", {"path": str(path)}) as report,
                _file_records(path, fmt, settings, workers) as records,
            ):
                report.add(
                    store_records(store, _guarded(records, str(path)), settings, progress=progress)
                )
            total.add(report)
    return total


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for a bulk load.

    Records in flight (tens of thousands of small objects) hold no reference
    cycles and are freed by reference counting as soon as they are written;
    collections would only traverse them over and over, about 5% of ingest's
    CPU time. Any cycle made meanwhile is collected once the collector runs
    again.
    """
    import gc

    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextmanager
def _file_records(
    path: Path, fmt: str, settings: Settings, workers: int | None
) -> Iterator[Iterator[Record]]:
    """The records of one file; PubMed XML through a pool of parse processes."""
    from litmine.parse import read_file

    if workers is None:
        workers = _default_workers()
    if fmt != "pubmed_xml" or workers <= 0:
        yield read_file(path, fmt)
        return
    from litmine.parse.pubmed_xml import map_pubmed_xml

    # A file this big on disk (even gzipped) is big enough for workers from the
    # start; smaller ones get them only once they prove long enough.
    start_at = 0 if path.stat().st_size >= _PARALLEL_MIN_BYTES else _PARALLEL_MIN_BYTES
    with _ChunkPool(workers, settings.passages, start_at=start_at) as pool:
        yield map_pubmed_xml(path, pool, chunk_bytes=_CHUNK_BYTES)


# --------------------------------------------------------------------------- parse workers

# XML per chunk sent to a worker: large enough to amortise the per-chunk costs
# (pickling, a parser, a pipe round trip), small enough to keep workers busy.
# 2 MB ingested 20,000 records 4-17% faster than 1 MB in five paired runs.
_CHUNK_BYTES = 2 << 20
# XML parsed in this process before workers are started: a worker costs about
# 0.2 s of start-up, the time to parse this much, so small files never wait.
_PARALLEL_MIN_BYTES = 4 << 20
# More workers than this cannot go faster: one process writes the database,
# and it keeps up with about three parsing.
_MAX_WORKERS = 4


def _default_workers() -> int:
    """One parse process per CPU this process may use, up to :data:`_MAX_WORKERS`."""
    import sys

    if getattr(sys, "frozen", False):  # a bundled app: sys.executable runs the app
        return 0
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, _MAX_WORKERS))


def _prepare_chunk(chunk: PubmedChunk, split: Callable[[Article], list[Passage]]) -> ChunkResult:
    """Parse a chunk and turn its articles into store rows (runs in a worker)."""
    from litmine.parse.pubmed_xml import parse_chunk
    from litmine.store import prepare_article

    items, count, end_line = parse_chunk(chunk)
    prepared = [prepare_article(x, split) if isinstance(x, Article) else x for x in items]
    return prepared, count, end_line


def _worker_main() -> None:
    """Entry point of a parse process: chunks in on stdin, prepared rows out on stdout.

    Messages are pickles, one after the other: first the passage settings as
    a dict, then one chunk per message; each answer is ``(True, result)`` or
    ``(False, traceback text)``. End of input ends the process. The settings
    come as a plain namespace so the worker never imports pydantic.
    """
    import gc
    import pickle
    import signal
    import sys
    import traceback
    from types import SimpleNamespace

    from litmine.passages import split_article

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    # Parsed records hold no reference cycles: reference counting frees them
    # all, and collections would cost this process about 5% of its time.
    gc.disable()
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print must not corrupt the answers
    passages = SimpleNamespace(**pickle.load(source))

    def split(article: Article) -> list[Passage]:
        return split_article(article, passages)

    while True:
        try:
            chunk = pickle.load(source)
        except EOFError:
            return
        try:
            answer: tuple[bool, Any] = (True, _prepare_chunk(chunk, split))
        except Exception:  # reported to the parent, which raises it
            answer = (False, traceback.format_exc())
        pickle.dump(answer, sink, protocol=pickle.HIGHEST_PROTOCOL)
        sink.flush()


_WORKER_CODE = (
    "import os, sys; sys.path[:] = os.environ.pop('LITMINE_WORKER_SYS_PATH').split(os.pathsep); "
    "from litmine.pipeline import _worker_main; _worker_main()"
)


class _Worker:
    """One parse process, with a thread writing it chunks and one reading its answers.

    Pipes hold only 64 KiB, far less than a chunk or an answer. The writing
    thread spares the caller a blocking write; the reading thread takes each
    answer as soon as it is ready, so the worker never waits for the caller
    to come round to it before it can start on its next chunk.
    """

    def __init__(self, passages: PassageSettings) -> None:
        import pickle
        import queue
        import subprocess
        import sys
        import threading

        # The child gets this process's import path, so it imports litmine
        # (and everything else) from where this process did.
        env = dict(os.environ, LITMINE_WORKER_SYS_PATH=os.pathsep.join(sys.path))
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _WORKER_CODE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        self._jobs: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._answers: queue.SimpleQueue[tuple[bool, Any] | BaseException] = queue.SimpleQueue()
        self._jobs.put(pickle.dumps(passages.model_dump(), protocol=pickle.HIGHEST_PROTOCOL))
        self._threads = [
            threading.Thread(target=self._write, name="litmine-parse-writer", daemon=True),
            threading.Thread(target=self._read, name="litmine-parse-reader", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _write(self) -> None:
        stdin = self._proc.stdin
        assert stdin is not None
        try:
            while (payload := self._jobs.get()) is not None:
                stdin.write(payload)
                stdin.flush()
            stdin.close()
        except OSError:
            pass  # the worker died; the reading thread reports it

    def _read(self) -> None:
        import pickle

        stdout = self._proc.stdout
        assert stdout is not None
        while True:
            try:
                self._answers.put(pickle.load(stdout))
            except (EOFError, OSError, ValueError, pickle.UnpicklingError) as exc:
                # The worker is gone (or its pipe closed): result() reports it
                # if an answer was still expected.
                self._answers.put(exc)
                return

    def submit(self, chunk: PubmedChunk) -> None:
        """Queue a chunk for this worker."""
        import pickle

        self._jobs.put(pickle.dumps(chunk, protocol=pickle.HIGHEST_PROTOCOL))

    def result(self) -> ChunkResult:
        """The answer to the oldest chunk not yet answered (waits for it)."""
        answer = self._answers.get()
        if isinstance(answer, BaseException):
            self._answers.put(answer)  # every later call fails the same way
            raise LitmineError(
                f"a parse worker process stopped unexpectedly (exit code {self._proc.poll()})",
                "see the messages above; ingest with workers=0 to parse in-process",
            ) from answer
        ok, value = answer
        if not ok:
            raise RuntimeError(f"parse worker failed:\n{value}")
        result: ChunkResult = value
        return result

    def close(self, *, kill: bool) -> None:
        """Stop the worker: let it finish its input, or kill it at once."""
        import subprocess

        self._jobs.put(None)
        if kill:
            self._proc.kill()
        try:
            self._proc.wait(timeout=None if kill else 30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        for thread in self._threads:
            thread.join(timeout=5)
        if self._proc.stdout is not None:
            self._proc.stdout.close()


class _ChunkPool:
    """Maps :func:`_prepare_chunk` over chunks in worker processes, results in order.

    Chunk ``i`` goes to worker ``i % workers`` and each worker answers in the
    order it was fed, so reading the workers round-robin gives the results in
    file order. At most :attr:`in_flight` chunks (about 2 MB of XML each) are
    read ahead, so memory stays bounded whatever the file size; eight per
    worker keep the workers busy through a commit (about 0.1 s for 2,000
    articles). The first
    ``start_at`` bytes are parsed in this process, so a small file pays no
    start-up cost.

    Workers are fresh interpreters (``python -c``), not forks: this process
    may hold threads and an open database, and multiprocessing's spawn would
    re-run the caller's main script in every worker.
    """

    def __init__(
        self, workers: int, passages: PassageSettings, *, start_at: int | None = None
    ) -> None:
        self.size = workers
        self.passages = passages
        self.start_at = _PARALLEL_MIN_BYTES if start_at is None else start_at
        self.in_flight = 8 * workers
        self._workers: list[_Worker] = []
        self._feeder: _Feeder | None = None

    def __enter__(self) -> _ChunkPool:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        # After an error the caller may never close the record iterator: stop
        # reading here, then the workers.
        if self._feeder is not None:
            self._feeder.stop()
        workers, self._workers = self._workers, []
        for worker in workers:
            worker.close(kill=exc_type is not None)

    def __call__(self, chunks: Iterator[PubmedChunk]) -> Iterator[ChunkResult]:
        from litmine.parse.pubmed_xml import parse_chunk

        # The first start_at bytes are parsed here; a file that ends before
        # never starts a worker. The store splits the articles parsed here when
        # it writes them.
        parsed = 0
        for chunk in chunks:
            if parsed >= self.start_at:
                yield from self._in_workers(itertools.chain((chunk,), chunks))
                return
            parsed += len(chunk.data)
            yield parse_chunk(chunk)

    def _in_workers(self, chunks: Iterator[PubmedChunk]) -> Iterator[ChunkResult]:
        if not self._workers:
            self._workers = [_Worker(self.passages) for _ in range(self.size)]
        self._feeder = feeder = _Feeder(chunks, self._workers, self.in_flight)
        try:
            while (worker := feeder.next_worker()) is not None:
                yield worker.result()
        finally:
            feeder.stop()
            self._feeder = None


class _Feeder:
    """Reads the file and hands chunks to the workers from a thread of its own.

    The caller spends most of its time writing the database; reading and
    cutting the next chunks meanwhile (zlib and SQLite release the GIL) keeps
    the workers busy. The queue of fed workers, one entry per chunk in file
    order, is bounded: that bounds the chunks in flight.
    """

    def __init__(self, chunks: Iterator[PubmedChunk], workers: list[_Worker], limit: int) -> None:
        import queue
        import threading

        self._chunks = chunks
        self._workers = workers
        self._fed: queue.Queue[_Worker | BaseException | None] = queue.Queue(maxsize=limit)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="litmine-parse-feed", daemon=True)
        self._thread.start()

    def _put(self, item: _Worker | BaseException | None) -> bool:
        import queue

        while not self._stopping.is_set():
            try:
                self._fed.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for i, chunk in enumerate(self._chunks):
                worker = self._workers[i % len(self._workers)]
                worker.submit(chunk)
                if not self._put(worker):
                    return
        except BaseException as exc:  # handed to the caller, who raises it
            self._put(exc)
            return
        self._put(None)

    def next_worker(self) -> _Worker | None:
        """The worker holding the next chunk in file order; None after the last."""
        item = self._fed.get()
        if isinstance(item, BaseException):
            raise item
        return item

    def stop(self) -> None:
        """Stop reading (after the last chunk, or when the caller gives up early)."""
        self._stopping.set()
        self._thread.join()


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

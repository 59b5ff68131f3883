"""Write a stream of parsed records to the store, and record the run that did it.

The one writer behind every ingest path (files, Entrez windows, saved
queries): articles are upserted a few hundred at a time inside transactions
committed every ``ingest.commit_every`` articles, deletions apply in stream
order, and bad records are counted, not raised.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

from litmine.errors import LitmineError
from litmine.types import Article, Deletion, IngestReport, Passage

if TYPE_CHECKING:
    from litmine.config import Settings
    from litmine.store import PreparedArticle, Store


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
    """Open the store ``settings.store.url`` names (SQLite in the data dir by default).

    Delegates to :func:`litmine.store.open_store`, the one place that picks the backend.
    """
    from litmine.store import open_store as open_backend

    return open_backend(settings, read_only=read_only)


def _splitter(settings: Settings) -> Callable[[Article], list[Passage]]:
    from litmine.passages import split_article

    cfg = settings.passages
    return lambda article: split_article(article, cfg)


_WRITE_EVERY = 250
"""Articles per write inside a file-reading transaction (see :func:`store_records`)."""


class _Transaction:
    """A store transaction opened on the first write and committed on demand.

    The transaction's context manager lives in an :class:`~contextlib.ExitStack`
    from :meth:`begin` until :meth:`commit` (a clean exit: the store commits)
    or :meth:`abort` (an exit with the error: the store rolls back).
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._stack: ExitStack | None = None
        self.written = 0

    def begin(self) -> None:
        if self._stack is None:
            stack = ExitStack()
            stack.enter_context(self._store.transaction())
            self._stack = stack

    def commit(self) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            self.written = 0
            stack.close()

    def abort(self, exc: BaseException) -> None:
        """Roll back what the open transaction wrote (the error is the caller's to raise)."""
        stack, self._stack = self._stack, None
        if stack is not None:
            stack.__exit__(type(exc), exc, exc.__traceback__)


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


def _failure_status(exc: BaseException) -> str:
    return "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"


def _message(exc: BaseException) -> str:
    if isinstance(exc, LitmineError):
        return exc.one_line()
    return f"{type(exc).__name__}: {exc}"


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

"""Parse PubMed XML chunks in worker processes, results back in file order.

:func:`prepare_chunk` is the unit of work: a pure, picklable, top-level
function from a chunk of whole records (bytes) to the records it holds, each
article already turned into the rows the store writes (passages included).
It runs anywhere: in this process, in a ``concurrent.futures`` worker (as
:class:`ChunkPool` runs it), or in a Dask task.

:class:`ChunkPool` maps it over a file's chunks with a
:class:`~concurrent.futures.ProcessPoolExecutor` while the calling process
writes the database, with a bounded number of chunks in flight.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any

from litmine.errors import LitmineError
from litmine.types import Article

if TYPE_CHECKING:
    from multiprocessing.context import BaseContext

    from litmine.config import PassageSettings
    from litmine.parse.pubmed_xml import ChunkResult, PubmedChunk

# XML per chunk sent to a worker: large enough to amortise the per-chunk costs
# (pickling, a parser, a pipe round trip), small enough to keep workers busy.
# 2 MB ingested 20,000 records 4-17% faster than 1 MB in five paired runs.
CHUNK_BYTES = 2 << 20
# XML parsed in this process before workers are started: a worker costs about
# 0.2 s of start-up, the time to parse this much, so small files never wait.
PARALLEL_MIN_BYTES = 4 << 20
# More workers than this cannot go faster: one process writes the database,
# and it keeps up with about three parsing.
MAX_WORKERS = 4
# Chunks read ahead per worker: eight keep the workers busy through a commit
# (about 0.1 s for 2,000 articles) while memory stays bounded.
AHEAD_PER_WORKER = 8


def default_workers() -> int:
    """One parse process per CPU this process may use, up to :data:`MAX_WORKERS`."""
    import sys

    if getattr(sys, "frozen", False):  # a bundled app: sys.executable runs the app
        return 0
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_WORKERS))


def prepare_chunk(chunk: PubmedChunk, passages: Mapping[str, Any]) -> ChunkResult:
    """Parse a chunk and turn its articles into store rows, passages included.

    Pure and picklable both ways (arguments, result and the function itself),
    so it can run in any worker process or cluster task.

    Args:
        chunk: A chunk of whole records (:class:`litmine.parse.pubmed_xml.PubmedChunk`).
        passages: The passage settings as a plain mapping
            (``PassageSettings.model_dump()``), so a worker never imports pydantic.

    Returns:
        As :func:`litmine.parse.pubmed_xml.parse_chunk`, with every
        :class:`~litmine.types.Article` replaced by its
        :class:`~litmine.store.PreparedArticle`.
    """
    from types import SimpleNamespace

    from litmine.parse.pubmed_xml import parse_chunk
    from litmine.passages import split_article
    from litmine.store import prepare_article

    cfg: Any = SimpleNamespace(**passages)

    def split(article: Article) -> Any:
        return split_article(article, cfg)

    items, count, end_line = parse_chunk(chunk)
    prepared = [prepare_article(x, split) if isinstance(x, Article) else x for x in items]
    return prepared, count, end_line


_WORKER_MODULES = ("litmine.parse.pubmed_xml", "litmine.passages", "litmine.store")
"""What :func:`prepare_chunk` imports (preloaded by the fork server)."""


def _worker_init() -> None:
    """Set up a worker process: Ctrl-C is the parent's, and no cyclic GC.

    Parsed records hold no reference cycles: reference counting frees them
    all, and collections would cost a worker about 5% of its time.
    """
    import gc
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    gc.disable()


def _context() -> BaseContext:
    """How workers start: forked from a fresh server process, else spawned.

    Never a fork of this process, which may hold threads and an open
    database. The fork server imports the main script and what
    :func:`prepare_chunk` needs once, so each worker starts in milliseconds
    instead of importing them again (as with spawn, a script that ingests
    with workers must guard its entry point with ``if __name__ == "__main__":``;
    the CLI, flows and notebooks do).
    """
    import multiprocessing

    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["__main__", __name__, *_WORKER_MODULES])
        return context
    return multiprocessing.get_context("spawn")


def _start_workers(size: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(size, mp_context=_context(), initializer=_worker_init)


# How often the caller, waiting for a chunk, checks that every worker still lives.
_POLL_S = 1.0


def _processes(executor: ProcessPoolExecutor) -> list[Any]:
    """The executor's worker processes (a private attribute, read defensively)."""
    return list((getattr(executor, "_processes", None) or {}).values())


def _kill(executor: ProcessPoolExecutor) -> None:
    """Stop the workers at once (after an error, Ctrl-C or a dead worker).

    A worker killed while it sends a result leaves half a message in the
    shared result pipe, and the executor's manager thread waits for the rest
    forever. Closing this process's copy of the pipe's write end, once no
    worker holds one, turns that wait into end-of-file: the executor marks
    itself broken and shuts down.
    """
    for process in _processes(executor):
        with contextlib.suppress(OSError, ValueError):  # already gone
            process.kill()
    for process in _processes(executor):
        with contextlib.suppress(OSError, ValueError, AssertionError):
            process.join(timeout=5)
    writer = getattr(getattr(executor, "_result_queue", None), "_writer", None)
    if writer is not None:
        with contextlib.suppress(OSError):
            writer.close()


def _dead_worker(executor: ProcessPoolExecutor) -> int | None:
    """The exit code of a worker that has stopped, if any (workers never stop on their own)."""
    for process in _processes(executor):
        if process.exitcode is not None:
            code: int = process.exitcode
            return code
    return None


def _worker_died(exc: BaseException | None, code: int | None = None) -> LitmineError:
    exit_code = "" if code is None else f" (exit code {code})"
    error = LitmineError(
        f"a parse worker process stopped unexpectedly{exit_code}",
        "see the messages above; ingest with workers=0 to parse in-process",
    )
    error.__cause__ = exc
    return error


class ChunkPool:
    """Maps :func:`prepare_chunk` over chunks in worker processes, results in order.

    A :class:`ChunkMapper <litmine.parse.pubmed_xml.ChunkMapper>` for
    :func:`litmine.parse.pubmed_xml.map_pubmed_xml`. At most :attr:`in_flight`
    chunks (about 2 MB of XML each) are read ahead, so memory stays bounded
    whatever the file size. The first ``start_at`` bytes are parsed in this
    process (their articles come back unprepared; the store splits them when
    it writes them), so a small file never starts a worker.
    """

    def __init__(
        self, workers: int, passages: PassageSettings, *, start_at: int | None = None
    ) -> None:
        self.size = workers
        self.passages = passages.model_dump()
        self.start_at = PARALLEL_MIN_BYTES if start_at is None else start_at
        self.in_flight = AHEAD_PER_WORKER * workers
        self._executor: ProcessPoolExecutor | None = None
        self._feeder: _Feeder | None = None

    def __enter__(self) -> ChunkPool:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        # After an error the caller may never close the record iterator: stop
        # reading here, then the workers.
        if self._feeder is not None:
            self._feeder.stop()
        executor, self._executor = self._executor, None
        if executor is not None:
            if exc_type is not None:
                _kill(executor)
            executor.shutdown(wait=True, cancel_futures=True)

    def __call__(self, chunks: Iterator[PubmedChunk]) -> Iterator[ChunkResult]:
        """The results of ``chunks``, in order: the first ones here, the rest in workers."""
        from litmine.parse.pubmed_xml import parse_chunk

        parsed = 0
        for chunk in chunks:
            if parsed >= self.start_at:
                yield from self._in_workers(itertools.chain((chunk,), chunks))
                return
            parsed += len(chunk.data)
            yield parse_chunk(chunk)

    def _in_workers(self, chunks: Iterator[PubmedChunk]) -> Iterator[ChunkResult]:
        if self._executor is None:
            self._executor = _start_workers(self.size)
        self._feeder = feeder = _Feeder(chunks, self._executor, self.passages, self.in_flight)
        try:
            while (future := feeder.next()) is not None:
                yield self._result(future)
        finally:
            feeder.stop()
            self._feeder = None

    def _result(self, future: Future[ChunkResult]) -> ChunkResult:
        """The future's result; a worker that died (even mid-answer) is an error."""
        from concurrent.futures import TimeoutError as WaitTimeout

        assert self._executor is not None
        while True:
            try:
                return future.result(timeout=_POLL_S)
            except BrokenProcessPool as exc:
                raise _worker_died(exc) from exc
            except WaitTimeout:
                code = _dead_worker(self._executor)
                if code is not None:
                    raise _worker_died(None, code) from None


class _Feeder:
    """Reads the file and submits its chunks from a thread of its own.

    The caller spends most of its time writing the database; reading and
    cutting the next chunks meanwhile (zlib and SQLite release the GIL) keeps
    the workers busy. The queue of futures, in file order, is bounded: that
    bounds the chunks in flight.
    """

    def __init__(
        self,
        chunks: Iterator[PubmedChunk],
        executor: ProcessPoolExecutor,
        passages: Mapping[str, Any],
        limit: int,
    ) -> None:
        import queue
        import threading

        self._chunks = chunks
        self._executor = executor
        self._passages = passages
        self._fed: queue.Queue[Future[ChunkResult] | BaseException | None] = queue.Queue(
            maxsize=limit
        )
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="litmine-parse-feed", daemon=True)
        self._thread.start()

    def _put(self, item: Future[ChunkResult] | BaseException | None) -> bool:
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
            for chunk in self._chunks:
                if not self._put(self._executor.submit(prepare_chunk, chunk, self._passages)):
                    return
        except BaseException as exc:  # handed to the caller, who raises it
            self._put(exc)
            return
        self._put(None)

    def next(self) -> Future[ChunkResult] | None:
        """The future of the next chunk in file order; None after the last."""
        item = self._fed.get()
        if isinstance(item, BrokenProcessPool):
            raise _worker_died(item) from item
        if isinstance(item, BaseException):
            raise item
        return item

    def stop(self) -> None:
        """Stop reading (after the last chunk, or when the caller gives up early)."""
        self._stopping.set()
        self._thread.join()

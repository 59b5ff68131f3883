"""Ingest local files: PubMed XML (.xml/.xml.gz), MEDLINE text and BEIR JSONL.

PubMed XML beyond its first few MB is parsed in worker processes
(:mod:`litmine.ingest.parallel`) while this process writes the database.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from litmine.errors import InputError, ParseError
from litmine.ingest import parallel
from litmine.ingest.writer import Progress, Record, open_store, store_records, tracked_run
from litmine.types import IngestReport

if TYPE_CHECKING:
    from litmine.config import Settings


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
        workers = parallel.default_workers()
    if fmt != "pubmed_xml" or workers <= 0:
        yield read_file(path, fmt)
        return
    from litmine.parse.pubmed_xml import map_pubmed_xml

    # A file this big on disk (even gzipped) is big enough for workers from the
    # start; smaller ones get them only once they prove long enough.
    min_bytes = parallel.PARALLEL_MIN_BYTES
    start_at = 0 if path.stat().st_size >= min_bytes else min_bytes
    with parallel.ChunkPool(workers, settings.passages, start_at=start_at) as pool:
        yield map_pubmed_xml(path, pool, chunk_bytes=parallel.CHUNK_BYTES)

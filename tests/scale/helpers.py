"""Generated PubMed baseline and update files, and a comparable snapshot of a store."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bench.parse_throughput import make_large_file
from litmine.config import Settings
from tests.conftest import shared_path
from tests.ingest.helpers import article_xml, update_file

RECORDS_PER_FILE = 150
FIRST_PMID = 91_000_000


def baseline_files(folder: Path, n_files: int = 3) -> list[Path]:
    """``pubmed25n0001.xml.gz``... of real record templates with fresh, consecutive PMIDs."""
    folder.mkdir(parents=True, exist_ok=True)
    return [
        make_large_file(
            folder / f"pubmed25n{i + 1:04d}.xml.gz",
            RECORDS_PER_FILE,
            source_dir=shared_path("entrez"),
            first_pmid=FIRST_PMID + i * RECORDS_PER_FILE,
        )
        for i in range(n_files)
    ]


def pmid(i: int) -> str:
    """The PMID of the ``i``-th generated baseline record."""
    return str(FIRST_PMID + i)


def update_files(folder: Path, n_baseline: int = 3) -> list[Path]:
    """Two update files after ``n_baseline`` baseline files, in PubMed's naming.

    The first revises record 0 (version 2), record 1 (same version, new text)
    and adds a record; the second deletes records 0 and 2. Applied in name
    order, record 0 ends deleted; in the other order it would survive.
    """
    folder.mkdir(parents=True, exist_ok=True)
    new = str(FIRST_PMID + 10_000)
    first = update_file(
        folder,
        article_xml(pmid(0), 2, "Revised record zero")
        + article_xml(pmid(1), 1, "Same version, new text")
        + article_xml(new, 1, "A record new in the update"),
    ).rename(folder / f"pubmed25n{n_baseline + 1:04d}.xml")
    second = update_file(
        folder,
        f"<DeleteCitation><PMID Version=\"1\">{pmid(0)}</PMID>"
        f"<PMID Version=\"1\">{pmid(2)}</PMID></DeleteCitation>",
    ).rename(folder / f"pubmed25n{n_baseline + 2:04d}.xml")
    return [first, second]


_TABLES = {
    "articles": "pmid, version, content_hash, title, abstract, record",
    "article_pub_types": "pmid, pub_type",
    "article_mesh": "pmid, descriptor_name, descriptor_ui, major",
    "article_chemicals": "pmid, name, ui",
    "passages": "id, pmid, idx, section, char_start, char_end, text",
}


def snapshot(settings: Settings) -> dict[str, list[tuple[object, ...]]]:
    """Everything stored about articles and passages, sorted (ids and timestamps aside)."""
    conn = sqlite3.connect(f"file:{settings.db_path}?mode=ro", uri=True)
    try:
        return {
            table: sorted(conn.execute(f"SELECT {columns} FROM {table}").fetchall())  # noqa: S608
            for table, columns in _TABLES.items()
        }
    finally:
        conn.close()

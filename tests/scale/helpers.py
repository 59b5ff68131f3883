"""Generated PubMed baseline and update files, and a comparable snapshot of a store."""

from __future__ import annotations

import importlib.util
import sqlite3
import sys
from pathlib import Path
from types import ModuleType

from litmine.config import Settings
from tests.conftest import shared_path
from tests.ingest.helpers import article_xml, update_file

RECORDS_PER_FILE = 150
FIRST_PMID = 91_000_000
ROOT = Path(__file__).resolve().parents[2]


def _parse_throughput() -> ModuleType:
    """bench/parse_throughput.py as a module (bench/ is no package)."""
    name = "litmine_bench_parse_throughput"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / "parse_throughput.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
    return sys.modules[name]


def baseline_files(folder: Path, n_files: int = 3, records: int = RECORDS_PER_FILE) -> list[Path]:
    """``pubmed25n0001.xml.gz``... of real record templates with fresh, consecutive PMIDs."""
    folder.mkdir(parents=True, exist_ok=True)
    make_large_file = _parse_throughput().make_large_file
    return [
        make_large_file(
            folder / f"pubmed25n{i + 1:04d}.xml.gz",
            records,
            source_dir=shared_path("entrez"),
            first_pmid=FIRST_PMID + i * records,
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
        f'<DeleteCitation><PMID Version="1">{pmid(0)}</PMID>'
        f'<PMID Version="1">{pmid(2)}</PMID></DeleteCitation>',
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
            table: sorted(conn.execute(f"SELECT {columns} FROM {table}").fetchall())
            for table, columns in _TABLES.items()
        }
    finally:
        conn.close()

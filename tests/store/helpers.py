"""Records and readers shared by the store tests."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import os
import sqlite3
from pathlib import Path

from litmine.config import PassageSettings
from litmine.passages import split_article
from litmine.types import (
    AbstractSection,
    Article,
    ArticleSource,
    Author,
    Chemical,
    CommentCorrection,
    MeshHeading,
    MeshQualifier,
    PubDate,
)

SMALL = PassageSettings(max_tokens=48, target_tokens=24, splitter="regex")
split = functools.partial(split_article, settings=SMALL)

BACKGROUND = (
    "Warfarin is an oral anticoagulant with a narrow therapeutic window. "
    "Bleeding complications remain the main concern in elderly patients."
)
METHODS = (
    "We enrolled 412 patients with atrial fibrillation at 12 centres. "
    "Genotypes of CYP2C9 and VKORC1 were determined before dosing."
)
RESULTS = (
    "Genotype-guided dosing reduced major haemorrhage (HR 0.61; 95% CI 0.42-0.88). "
    "Time in therapeutic range improved by 7.2 percentage points."
)


def rich_article(pmid: str = "31452104", version: int = 1, **changes: object) -> Article:
    """A record using every field: nested dataclasses, dates, enum, metadata, unicode."""
    abstract = f"{BACKGROUND}\n{METHODS}\n{RESULTS}"
    sections = [
        AbstractSection(BACKGROUND, label="BACKGROUND", category="BACKGROUND", start=0),
        AbstractSection(METHODS, label="METHODS", category="METHODS", start=len(BACKGROUND) + 1),
        AbstractSection(
            RESULTS,
            label="RESULTS",
            category="RESULTS",
            start=len(BACKGROUND) + len(METHODS) + 2,
        ),
    ]
    article = Article(
        pmid=pmid,
        version=version,
        title="Pharmacogenetic dosing of warfarin: a multicentre trial in Zürich",
        abstract=abstract,
        sections=sections,
        journal="The New England journal of medicine",
        journal_iso="N Engl J Med",
        pub_date=PubDate(year=2019, month=8, day=22, medline_date=None),
        entrez_date=dt.date(2019, 8, 23),
        authors=[
            Author(
                last_name="Müller",
                fore_name="Jürgen",
                initials="J",
                affiliations=["Universitätsspital Zürich, Switzerland.", "ETH Zürich."],
                orcid="0000-0002-1825-0097",
            ),
            Author(collective_name="WARFARIN-GENE Investigators"),
        ],
        languages=["eng", "ger"],
        publication_types=["Journal Article", "Randomized Controlled Trial", "Journal Article"],
        mesh_headings=[
            MeshHeading(
                "D014859",
                "Warfarin",
                True,
                [MeshQualifier("Q000008", "administration & dosage", True)],
            ),
            MeshHeading("D001281", "Atrial Fibrillation", False, []),
        ],
        keywords=["pharmacogenetics", "CYP2C9"],
        chemicals=[Chemical("Warfarin", "D014859", "5Q7ZVV76EI"), Chemical("Anticoagulants")],
        doi="10.1056/NEJMoa0000000",
        pmc_id="PMC1234567",
        comments_corrections=[CommentCorrection("CommentIn", "31500000", "N Engl J Med 2019")],
        source=ArticleSource.PUBMED_XML,
        metadata={"file": "pubmed25n0001.xml.gz", "nested": {"k": [1, 2.5, None, True]}},
    )
    return dataclasses.replace(article, **changes)  # type: ignore[arg-type]


def plain_article(pmid: str, title: str, abstract: str, **changes: object) -> Article:
    return dataclasses.replace(Article(pmid=pmid, title=title, abstract=abstract), **changes)  # type: ignore[arg-type]


def _pg_url() -> str | None:
    url = os.environ.get("LITMINE_STORE_URL", "")
    return url if url.startswith(("postgresql:", "postgres:")) else None


def is_sqlite(target: object) -> bool:
    """Whether ``target`` (a file, or an open store) is a SQLite database.

    A store is the PostgreSQL one when the test's ``LITMINE_STORE_URL`` (set by
    the contract suite for its ``[postgresql]`` cases) names a server: the
    PostgreSQL store subclasses the SQLite one, so its type does not tell.
    """
    return isinstance(target, (str, Path)) or _pg_url() is None


def rows(target: object, sql: str, *args: object) -> list[tuple]:
    """Read with a separate connection: what another process would see.

    ``target`` is a SQLite file, or an open store: read through its file
    (SQLite) or through ``LITMINE_STORE_URL`` with ``?`` → ``%s`` (PostgreSQL).
    """
    if is_sqlite(target):
        path = target if isinstance(target, (str, Path)) else target.path  # type: ignore[attr-defined]
        conn = sqlite3.connect(path)
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()
    import psycopg

    with psycopg.connect(str(_pg_url())) as pg:
        return [tuple(r) for r in pg.execute(sql.replace("?", "%s"), args).fetchall()]


def table_counts(target: object) -> dict[str, int]:
    tables = [
        "articles",
        "article_pub_types",
        "article_mesh",
        "article_chemicals",
        "passages",
        "entities",
        "passage_changes",
    ]
    if is_sqlite(target):  # SQLite-specific: the FTS5 shadow tables
        tables += ["articles_fts_docsize", "passages_fts_docsize"]
    return {t: rows(target, f"SELECT COUNT(*) FROM {t}")[0][0] for t in tables}


def indexed_pks(path: Path, term: str) -> list[int]:
    """Passage pks the FTS5 index itself returns (not the content view)."""
    return [
        r[0] for r in rows(path, "SELECT rowid FROM passages_fts WHERE passages_fts MATCH ?", term)
    ]

"""Articles turned into the rows the store writes for them, without a database.

:func:`prepare_article` makes a :class:`PreparedArticle`: the ``articles``
row (JSON record and content hash included), de-duplicated filter rows and
the passages. Bulk ingest runs it in worker processes, which import this
module and :mod:`litmine.store.codec` but never open a database.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, NamedTuple

from litmine.store.codec import dump_record
from litmine.types import Article, Passage

__all__ = ["ARTICLE_FIELDS", "PassageRow", "PreparedArticle", "prepare_article"]

ARTICLE_FIELDS = (
    "version, title, abstract, journal, journal_iso, pub_year, pub_date, entrez_date, doi, "
    "pmc_id, language, has_abstract, is_retracted, source, content_hash, record, updated_at"
)
"""Columns of ``articles`` that :attr:`PreparedArticle.row` fills, then ``updated_at``."""


PassageRow = tuple[int, int, str | None, int, int, str]
"""A passage as the store writes it: ``(id, index, section, start, end, text)``."""


class PreparedArticle(NamedTuple):
    """An article turned into the rows :meth:`Store.upsert_articles` writes for it.

    Made by :func:`prepare_article`, which needs no database: bulk ingest builds
    these in worker processes, and they pickle as plain tuples of strings and
    numbers (far cheaper to send than the article itself).

    Attributes:
        pmid: The article's PMID.
        version: Its version (a higher one replaces a lower one).
        title: Its title (also indexed with each passage).
        row: Values of the ``articles`` columns from ``version`` to ``record``
            (:data:`ARTICLE_FIELDS` without the timestamps).
        pub_types: Distinct publication types, first occurrence first.
        mesh: Distinct ``(descriptor_name, descriptor_ui, major)`` rows.
        chemicals: Distinct ``(name, ui)`` rows.
        passages: The passages to store, or None to store none.
    """

    pmid: str
    version: int
    title: str
    row: tuple[Any, ...]
    pub_types: list[str]
    mesh: list[tuple[str, str | None, int]]
    chemicals: list[tuple[str, str | None]]
    passages: list[PassageRow] | None

    @property
    def content_hash(self) -> str:
        """Hash of everything stored for the article but its timestamps."""
        value: str = self.row[HASH_POS]
        return value


HASH_POS = 14  # index of content_hash in PreparedArticle.row
ABSTRACT_POS = 2  # index of abstract in PreparedArticle.row


def article_row(article: Article) -> tuple[Any, ...]:
    """Row values for articles (:data:`ARTICLE_FIELDS` order, without the timestamps)."""
    # Title and abstract have their own columns; not storing them twice halves
    # the text kept per article.
    record_json = dump_record(article)
    digest = hashlib.blake2b(record_json, digest_size=16)
    for part in (article.title, article.abstract):
        digest.update(b"\x00")
        digest.update(part.encode("utf-8", "surrogatepass"))
    pub_date = article.pub_date.as_date()
    return (
        article.version,
        article.title,
        article.abstract,
        article.journal,
        article.journal_iso,
        article.pub_date.year,
        pub_date.isoformat() if pub_date else None,
        article.entrez_date.isoformat() if article.entrez_date else None,
        article.doi,
        article.pmc_id,
        article.languages[0] if article.languages else None,
        int(article.has_abstract),
        int(article.is_retracted),
        article.source.value,
        digest.hexdigest(),
        record_json.decode("utf-8", "surrogatepass"),
    )


def passage_rows(article: Article, passages: list[Passage]) -> list[PassageRow]:
    """Rows of an article's passages; rejects passages a split function made for another."""
    pmid = article.pmid
    rows: list[PassageRow] = []
    for p in passages:
        if p.pmid != pmid:
            raise ValueError(f"split() returned a passage of {p.pmid} for article {pmid}")
        rows.append((p.id, p.index, p.section, p.start, p.end, p.text))
    return rows


def prepare_article(
    article: Article, split: Callable[[Article], list[Passage]] | None = None
) -> PreparedArticle:
    """Turn an article into the rows the store writes for it (no database needed).

    Filter rows are de-duplicated per article: the first of any repeats wins.

    Args:
        article: The article.
        split: Makes its passages; None stores none.

    Returns:
        The prepared article, for :meth:`Store.upsert_articles`.

    Raises:
        ValueError: ``split`` returned a passage of another article.
    """
    mesh: list[tuple[str, str | None, int]] = []
    names: set[str] = set()
    for m in article.mesh_headings:
        if m.descriptor_name not in names:
            names.add(m.descriptor_name)
            mesh.append((m.descriptor_name, m.descriptor_ui, int(m.major_topic)))
    chemicals: list[tuple[str, str | None]] = []
    names = set()
    for c in article.chemicals:
        if c.name not in names:
            names.add(c.name)
            chemicals.append((c.name, c.ui))
    return PreparedArticle(
        article.pmid,
        article.version,
        article.title,
        article_row(article),
        list(dict.fromkeys(article.publication_types)),
        mesh,
        chemicals,
        None if split is None else passage_rows(article, split(article)),
    )

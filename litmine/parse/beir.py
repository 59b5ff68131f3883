"""Reader of BEIR-style corpus files: JSON Lines with ``_id``, ``title``, ``text``.

One JSON object per line, as in BEIR's ``corpus.jsonl``::

    {"_id": "4983", "title": "...", "text": "...", "metadata": {"year": 2001}}

``_id`` becomes :attr:`Article.pmid` (always a string), ``text`` the abstract
(one unstructured section) and ``metadata`` is kept whole in
:attr:`Article.metadata`; a few well-known metadata keys are also mapped onto
the article's fields (see :data:`METADATA_FIELDS`). Blank lines are skipped;
a line that is not a JSON object with a usable ``_id`` yields a
:class:`~litmine.errors.RecordError` naming the line number.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

from litmine.errors import RecordError
from litmine.parse._io import ByteSource, source_name, text_lines
from litmine.parse.dates import month_number
from litmine.parse.text import clean_text
from litmine.types import AbstractSection, Article, ArticleSource, PubDate

__all__ = ["METADATA_FIELDS", "article_from_beir", "iter_beir_jsonl"]

METADATA_FIELDS: dict[str, tuple[str, ...]] = {
    "year": ("year", "pub_year", "publication_year"),
    "date": ("date", "pub_date", "publication_date", "publish_time"),
    "publication_types": ("pub_types", "publication_types", "pubtypes"),
    "journal": ("journal", "venue", "journal_title"),
    "doi": ("doi",),
    "pmc_id": ("pmcid", "pmc_id", "pmc"),
    "keywords": ("keywords",),
    "languages": ("language", "languages", "lang"),
}
"""Article field -> metadata keys read for it (first present wins)."""


def _first(metadata: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        value = metadata.get(key)
        if value not in (None, "", []):
            return value
    return None


def _str_list(value: Any) -> list[str]:
    if isinstance(value, str):
        parts = value.split(";") if ";" in value else [value]
    elif isinstance(value, list | tuple):
        parts = [str(v) for v in value if v is not None]
    else:
        parts = [str(value)]
    return [p for p in (clean_text(p) for p in parts) if p]


def _year(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 1000 <= value <= 2999 else None
    if isinstance(value, float) and value.is_integer():
        return _year(int(value))
    if isinstance(value, str) and value.strip()[:4].isdecimal():
        return _year(int(value.strip()[:4]))
    return None


def _date(value: Any) -> PubDate:
    """``"2001-05-17"``, ``"2001-05"``, ``"2001 May"`` or ``"2001"`` -> PubDate."""
    if not isinstance(value, str):
        return PubDate(year=_year(value))
    text = value.strip()
    try:
        day = dt.date.fromisoformat(text[:10])
        return PubDate(year=day.year, month=day.month, day=day.day)
    except ValueError:
        pass
    year = _year(text)
    parts = text[4:].replace("-", " ").replace("/", " ").split()
    month = month_number(parts[0]) if year and parts else None
    return PubDate(year=year, month=month)


def _apply_metadata(article: Article, metadata: dict[str, Any]) -> None:
    date = _first(metadata, METADATA_FIELDS["date"])
    if date is not None:
        article.pub_date = _date(date)
    if article.pub_date.year is None:
        year = _year(_first(metadata, METADATA_FIELDS["year"]))
        if year is not None:
            article.pub_date = PubDate(year=year)
    pub_types = _first(metadata, METADATA_FIELDS["publication_types"])
    if pub_types is not None:
        article.publication_types = _str_list(pub_types)
    journal = _first(metadata, METADATA_FIELDS["journal"])
    if journal is not None:
        article.journal = clean_text(str(journal)) or None
    doi = _first(metadata, METADATA_FIELDS["doi"])
    if doi is not None:
        article.doi = str(doi).strip() or None
    pmc = _first(metadata, METADATA_FIELDS["pmc_id"])
    if pmc is not None:
        article.pmc_id = str(pmc).strip() or None
    keywords = _first(metadata, METADATA_FIELDS["keywords"])
    if keywords is not None:
        article.keywords = list(dict.fromkeys(_str_list(keywords)))
    languages = _first(metadata, METADATA_FIELDS["languages"])
    if languages is not None:
        article.languages = _str_list(languages)


def article_from_beir(doc: dict[str, Any]) -> Article:
    """Build an Article from one decoded BEIR corpus object.

    Args:
        doc: The JSON object (``_id`` required; ``title``, ``text``,
            ``metadata`` optional).

    Returns:
        The article, ``source=BEIR``.

    Raises:
        ValueError: ``_id`` is missing/empty, or a field has the wrong type.
    """
    raw_id = doc.get("_id")
    if raw_id is None or isinstance(raw_id, bool) or not isinstance(raw_id, str | int):
        raise ValueError("missing or non-string '_id'")
    doc_id = str(raw_id).strip()
    if not doc_id:
        raise ValueError("empty '_id'")
    title = doc.get("title") or ""
    text = doc.get("text") or ""
    if not isinstance(title, str) or not isinstance(text, str):
        raise ValueError("'title' and 'text' must be strings")
    metadata = doc.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise ValueError("'metadata' must be an object")
    article = Article(
        pmid=doc_id,
        title=clean_text(title),
        abstract=clean_text(text),
        source=ArticleSource.BEIR,
        metadata=dict(metadata),
    )
    if article.abstract:
        article.sections = [AbstractSection(text=article.abstract, start=0)]
    _apply_metadata(article, metadata)
    return article


def iter_beir_jsonl(source: ByteSource) -> Iterator[Article | RecordError]:
    """Stream a BEIR ``corpus.jsonl`` (plain or gzipped).

    Args:
        source: A file path, an open binary stream, or the file's bytes.

    Yields:
        An :class:`Article` per line, or a :class:`RecordError` (yielded,
        not raised) for a line that is not valid JSON, not an object, or
        lacks a usable ``_id``; the message names the line number.

    Raises:
        ParseError: The input is empty or its compressed data is corrupt.
        OSError: The file cannot be opened.
    """
    name = source_name(source)
    with text_lines(source, "JSON lines") as lines_in:
        for number, raw in enumerate(lines_in, start=1):
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            if not raw.strip():
                continue
            doc_id: str | None = None
            try:
                doc = json.loads(raw)
                if not isinstance(doc, dict):
                    raise ValueError(f"expected a JSON object, got {type(doc).__name__}")
                if isinstance(doc.get("_id"), str | int):
                    doc_id = str(doc["_id"]).strip() or None
                yield article_from_beir(doc)
            except Exception as exc:  # one bad line must not stop the file
                yield RecordError(doc_id, f"{name} line {number}: {exc}")

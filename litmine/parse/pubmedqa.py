"""Reader of PubMedQA JSON files (``ori_pqal.json``, ``pqal_dev.json``...).

One JSON object keyed by PMID; each instance holds the abstract of a real
PubMed article split into labelled ``CONTEXTS`` (with ``LABELS``) and its
conclusion (``LONG_ANSWER``), the ``YEAR`` and the ``MESHES``. Each instance
becomes an :class:`~litmine.types.Article`: the PMID, the question as title
(PubMedQA's questions are the articles' titles), the contexts and the
conclusion as labelled sections (``CONCLUSIONS`` for the long answer), the
year and the MeSH headings. An instance without contexts yields a
:class:`~litmine.errors.RecordError`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from litmine.errors import ParseError, RecordError
from litmine.parse.text import clean_text
from litmine.types import AbstractSection, Article, ArticleSource, MeshHeading, PubDate

__all__ = ["article_from_pubmedqa", "iter_pubmedqa_json"]


def article_from_pubmedqa(pmid: str, item: dict[str, Any]) -> Article:
    """One PubMedQA instance as an article.

    Raises:
        ValueError: The instance has no contexts.
    """
    contexts = [clean_text(str(c)) for c in item.get("CONTEXTS") or [] if str(c).strip()]
    if not contexts:
        raise ValueError("no CONTEXTS")
    labels = [str(x) for x in item.get("LABELS") or []]
    parts: list[tuple[str, str | None]] = [
        (text, labels[i] if i < len(labels) else None) for i, text in enumerate(contexts)
    ]
    conclusion = clean_text(str(item.get("LONG_ANSWER") or ""))
    if conclusion:
        parts.append((conclusion, "CONCLUSIONS"))
    sections: list[AbstractSection] = []
    start = 0
    for text, label in parts:
        sections.append(AbstractSection(text=text, label=label, start=start))
        start += len(text) + 1
    year = str(item.get("YEAR") or "")
    return Article(
        pmid=str(pmid),
        title=clean_text(str(item.get("QUESTION") or "")),
        abstract="\n".join(text for text, _ in parts),
        sections=sections,
        pub_date=PubDate(year=int(year) if year.isdigit() else None),
        mesh_headings=[
            MeshHeading(descriptor_ui=None, descriptor_name=str(m))
            for m in item.get("MESHES") or []
        ],
        source=ArticleSource.PUBMEDQA,
    )


def iter_pubmedqa_json(path: str | Path) -> Iterator[Article | RecordError]:
    """Stream the instances of a PubMedQA JSON file as articles.

    Args:
        path: The JSON file (an object of PMID -> instance).

    Yields:
        Articles, and a :class:`~litmine.errors.RecordError` per unusable instance.

    Raises:
        ParseError: The file is not a JSON object.
    """
    name = str(path)
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as exc:
        raise ParseError(f"{name} is not PubMedQA JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ParseError(f"{name} is not PubMedQA JSON (an object of PMID -> instance)")
    for pmid, item in data.items():
        try:
            if not isinstance(item, dict):
                raise ValueError("not an object")
            yield article_from_pubmedqa(str(pmid), item)
        except ValueError as exc:
            yield RecordError(str(pmid), f"PubMedQA instance in {name}: {exc}")

"""What the answer page shows of relevance and evidence: sorted tables, nearest titles.

The page runs no scripts (see the content security policy in
:mod:`litmine.web.app`), so evidence tables are sorted on the server: each
column heading links to the same question with ``sort=<column>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from litmine.answer.evidence import DESIGNS
from litmine.answer.trust import evidence_pmids

if TYPE_CHECKING:
    from litmine.types import Answer, EvidenceRow

__all__ = ["SORT_COLUMNS", "evidence_view", "sort_rows"]

SORT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("design", "Design"),
    ("n", "n"),
    ("year", "Year"),
    ("relevance", "Relevance"),
)
"""Sortable columns of the evidence table: query value and heading."""


def sort_rows(rows: list[EvidenceRow], key: str) -> list[EvidenceRow]:
    """Rows sorted by a column: design strongest first, n, year and relevance largest first.

    Unknown values go last; ties keep the table's order (most relevant first).
    """
    if key == "design":
        order = {d: i for i, d in enumerate(DESIGNS)}
        return sorted(rows, key=lambda r: order.get(r.design, len(order)))
    if key == "n":
        return sorted(rows, key=lambda r: -(r.sample_size if r.sample_size is not None else -1))
    if key == "year":
        return sorted(rows, key=lambda r: -(r.year or 0))
    return sorted(rows, key=lambda r: -(r.relevance if r.relevance is not None else -1.0))


def evidence_view(answer: Answer, params: Mapping[str, str]) -> dict[str, Any]:
    """Template data for the evidence tables, the sort links and the nearest titles.

    Args:
        answer: The answer.
        params: The page's query parameters (``sort`` picks the column).

    Returns:
        ``tables`` (rows per cluster id, sorted), ``sort``, ``sort_columns``,
        ``sort_query`` (the query without ``sort``) and ``nearest``
        (``(pmid, title)`` of the closest articles of an answer without evidence).
    """
    sort = params.get("sort", "relevance")
    if sort not in {k for k, _ in SORT_COLUMNS}:
        sort = "relevance"
    keep = [(k, v) for k, v in getattr(params, "multi_items", params.items)() if k != "sort"]
    hits = sorted(
        (h for c in answer.less_related for h in c.hits), key=lambda h: -(h.relevance or 0.0)
    )
    nearest = []
    for pmid in list(dict.fromkeys(h.passage.pmid for h in hits))[:5]:
        info = answer.articles.get(pmid)
        nearest.append((pmid, (info.title if info is not None else "") or "(untitled)"))
    return {
        "tables": {c.id: sort_rows(list(c.evidence_table), sort) for c in answer.clusters},
        "sort": sort,
        "sort_columns": SORT_COLUMNS,
        "sort_query": urlencode(keep),
        "nearest": nearest,
        "evidence_pmids": {
            c.id: evidence_pmids(c, answer.relevance_threshold) for c in answer.clusters
        },
    }

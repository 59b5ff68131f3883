"""Export answers and entity counts as tables (pandas) and safe CSV files.

* :func:`findings_frame`: one row per cited passage of an
  :class:`~litmine.types.Answer`, with its cluster, summary, article metadata
  and entities. Lists become ``"; "``-joined strings here and only here.
* :func:`entity_tables`: the most mentioned entities of some articles and
  their chemical-disease pairs (for ``litmine export --entities``).
* :func:`write_csv`: UTF-8 CSV or TSV (optionally with a BOM for Excel) in
  which any cell that a spreadsheet would run as a formula is neutralised.
  Every table litmine writes (``litmine export``, ``litmine entities top`` and
  ``pairs``, the web page's CSV) goes through it: cell text comes from
  abstracts, which anyone can write.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import pandas as pd

from litmine.errors import InputError

if TYPE_CHECKING:
    from litmine.store import Store
    from litmine.types import Answer

__all__ = [
    "ENTITY_COLUMNS",
    "FINDINGS_COLUMNS",
    "LIST_SEPARATOR",
    "PAIR_COLUMNS",
    "entity_tables",
    "findings_frame",
    "neutralize_cell",
    "pairs_path",
    "write_csv",
]

LIST_SEPARATOR = "; "
"""How list values are joined in exported cells."""

FINDINGS_COLUMNS: tuple[str, ...] = (
    "cluster_id",
    "cluster_label",
    "cluster_summary",
    "summary_method",
    "pmid",
    "title",
    "journal",
    "year",
    "publication_types",
    "section",
    "passage",
    "score",
    "chemicals",
    "diseases",
    "mesh_terms",
    "doi",
    "pubmed_url",
    "retracted",
)
"""Columns of :func:`findings_frame`, in order."""

ENTITY_COLUMNS: tuple[str, ...] = ("label", "name", "concept_id", "articles", "mentions", "pmids")
PAIR_COLUMNS: tuple[str, ...] = (
    "chemical",
    "chemical_id",
    "disease",
    "disease_id",
    "articles",
    "pmids",
)

# Leading characters that make spreadsheet programs evaluate a cell (OWASP CSV injection).
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _join(values: Iterable[str]) -> str:
    return LIST_SEPARATOR.join(dict.fromkeys(v for v in values if v))


def findings_frame(answer: Answer, *, all_hits: bool = False) -> pd.DataFrame:
    """One row per cited passage of an answer.

    A passage is cited when its cluster's summary was made from it
    (:attr:`~litmine.types.Summary.passage_ids`). Retracted articles are never
    cited, so they appear only with ``all_hits``, flagged in ``retracted``.

    Args:
        answer: The answer.
        all_hits: Every hit instead of the cited passages only.

    Returns:
        A frame with :data:`FINDINGS_COLUMNS`, clusters in order and, within a
        cluster, passages in rank order. ``chemicals``, ``diseases``,
        ``publication_types`` and ``mesh_terms`` are ``"; "``-joined.
    """
    rows: list[dict[str, Any]] = []
    for cluster in answer.clusters:
        summary = cluster.summary
        cited = set(summary.passage_ids) if summary is not None else set()
        for hit in cluster.hits:
            p = hit.passage
            if not all_hits and p.id not in cited:
                continue
            info = answer.articles.get(p.pmid)
            ents = answer.entities.get(p.id, [])
            rows.append(
                {
                    "cluster_id": cluster.id,
                    "cluster_label": cluster.label,
                    "cluster_summary": summary.text if summary is not None else "",
                    "summary_method": summary.method if summary is not None else "",
                    "pmid": p.pmid,
                    "title": info.title if info is not None else p.title,
                    "journal": info.journal if info is not None else hit.journal,
                    "year": info.year if info is not None else hit.year,
                    "publication_types": _join(
                        info.publication_types if info is not None else hit.publication_types
                    ),
                    "section": p.section,
                    "passage": p.text,
                    "score": hit.score,
                    "chemicals": _join(e.normalized for e in ents if e.label == "CHEMICAL"),
                    "diseases": _join(e.normalized for e in ents if e.label == "DISEASE"),
                    "mesh_terms": _join(info.mesh_terms if info is not None else ()),
                    "doi": info.doi if info is not None else None,
                    "pubmed_url": info.pubmed_url if info is not None else None,
                    "retracted": bool(info.retracted) if info is not None else False,
                }
            )
    frame = pd.DataFrame(rows, columns=list(FINDINGS_COLUMNS))
    return frame.astype({"year": "Int64"}) if len(frame) else frame


def entity_tables(
    store: Store, pmids: Iterable[str] | None, *, limit: int = 1000, pair_limit: int = 1000
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Entity counts and chemical-disease pairs of some articles.

    Args:
        store: The store (entities extracted by ``litmine entities``).
        pmids: The articles; None for the whole collection.
        limit: Most entities returned.
        pair_limit: Most pairs returned.

    Returns:
        ``(entities, pairs)``: entities with :data:`ENTITY_COLUMNS`, most
        articles first; pairs with :data:`PAIR_COLUMNS`, most co-mentioning
        articles first. ``pmids`` cells are ``"; "``-joined.
    """
    from litmine.entities import chemical_disease_pairs, top_entities

    keys = None if pmids is None else list(dict.fromkeys(pmids))
    ents = top_entities(store, pmids=keys, limit=limit) if keys != [] else []
    pairs = chemical_disease_pairs(store, pmids=keys, limit=pair_limit) if keys != [] else []
    entities_df = pd.DataFrame(
        [
            {
                "label": e.label,
                "name": e.name,
                "concept_id": e.concept_id,
                "articles": e.articles,
                "mentions": e.mentions,
                "pmids": _join(e.pmids),
            }
            for e in ents
        ],
        columns=list(ENTITY_COLUMNS),
    )
    pairs_df = pd.DataFrame(
        [
            {
                "chemical": p.chemical,
                "chemical_id": p.chemical_id,
                "disease": p.disease,
                "disease_id": p.disease_id,
                "articles": p.articles,
                "pmids": _join(p.pmids),
            }
            for p in pairs
        ],
        columns=list(PAIR_COLUMNS),
    )
    return entities_df, pairs_df


def neutralize_cell(value: Any) -> Any:
    """Prefix ``'`` to a text cell a spreadsheet would evaluate as a formula.

    Args:
        value: A cell value.

    Returns:
        The value, with a leading ``'`` added to strings that start with
        ``=``, ``+``, ``-``, ``@``, a tab or a carriage return.
    """
    if isinstance(value, str) and value.startswith(_FORMULA_PREFIXES):
        return "'" + value
    return value


def _safe_cell(value: Any) -> Any:
    """A neutralised cell whose carriage returns are line feeds.

    The csv module quotes a cell only for the characters of its line
    terminator (a line feed here), and a bare carriage return left unquoted ends
    the row in Excel and in csv readers: the rest of the cell would start a
    new row, formulas included.
    """
    value = neutralize_cell(value)
    if isinstance(value, str) and "\r" in value:
        return value.replace("\r\n", "\n").replace("\r", "\n")
    return value


def pairs_path(path: str | Path) -> Path:
    """The sibling file for chemical-disease pairs: ``entities.csv`` -> ``entities_pairs.csv``."""
    p = Path(path)
    return p.with_name(f"{p.stem}_pairs{p.suffix or '.csv'}")


def write_csv(
    frame: pd.DataFrame, path: str | Path | TextIO, *, excel_bom: bool = False, sep: str = ","
) -> None:
    """Write a frame as CSV (or TSV), neutralising formula cells.

    Args:
        frame: The table; text cells are neutralised with :func:`neutralize_cell`
            (numbers are left alone, so negative scores stay numbers), and a
            carriage return in a cell becomes a line feed, so the cell is quoted.
        path: Output file (its folder must exist), or an open text stream
            (e.g. ``io.StringIO`` for a web response, ``sys.stdout``).
        excel_bom: Start the output with a UTF-8 byte-order mark so Excel
            reads it as UTF-8.
        sep: Field separator: ``","`` for CSV, a tab for TSV.

    Raises:
        InputError: The file cannot be written.
    """
    safe = frame.copy()
    for column in safe.columns:
        if safe[column].dtype == object or pd.api.types.is_string_dtype(safe[column]):
            safe[column] = safe[column].map(_safe_cell)
    if not isinstance(path, str | Path):
        if excel_bom:
            path.write("\ufeff")
        safe.to_csv(path, index=False, sep=sep, lineterminator="\n")
        return
    out = Path(path)
    try:
        safe.to_csv(
            out,
            index=False,
            sep=sep,
            lineterminator="\n",
            encoding="utf-8-sig" if excel_bom else "utf-8",
        )
    except OSError as exc:
        raise InputError(
            f"cannot write {out}: {exc.strerror or exc}", "check the folder exists"
        ) from exc

"""Retrieval quality on a BEIR-format test set, measured with ranx.

A BEIR test set is a ``queries.jsonl`` (``{"_id": ..., "text": ...}`` per
line) and a ``qrels`` TSV (``query-id<TAB>corpus-id<TAB>score`` with a header
line), whose corpus ids are the PMIDs of the ingested BEIR corpus.

Rankings are at article level: an article scores as its best passage (search
with one passage per article), so the judged unit is the BEIR document.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from litmine.errors import InputError

if TYPE_CHECKING:
    from litmine.config import Settings
    from litmine.store import Store
    from litmine.vectors.embed import Embedder
    from litmine.vectors.faiss_index import PassageIndex

__all__ = [
    "DEFAULT_METRICS",
    "RUN_DEPTH",
    "evaluate_retrieval",
    "load_qrels",
    "load_queries",
    "rank_articles",
]

DEFAULT_METRICS: tuple[str, ...] = ("ndcg@10", "recall@10", "recall@100", "mrr@10")
RUN_DEPTH = 100
"""Articles ranked per query (the deepest cut-off of the metrics)."""


def load_queries(path: str | Path) -> dict[str, str]:
    """Read a BEIR ``queries.jsonl``.

    Args:
        path: The file.

    Returns:
        Query id -> text, in file order.

    Raises:
        InputError: The file is missing or a line is not a query object.
    """
    file = Path(path)
    if not file.is_file():
        raise InputError(f"no such queries file: {file}", "pass a BEIR queries.jsonl")
    queries: dict[str, str] = {}
    with file.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                queries[str(obj["_id"])] = str(obj["text"])
            except (ValueError, KeyError, TypeError) as exc:
                raise InputError(
                    f"{file}:{number} is not a BEIR query ({exc})",
                    'each line must be {"_id": ..., "text": ...}',
                ) from None
    return queries


def load_qrels(path: str | Path) -> dict[str, dict[str, int]]:
    """Read a BEIR qrels TSV (header line, then ``query-id corpus-id score``).

    Args:
        path: The file.

    Returns:
        Query id -> corpus id -> relevance (rows with relevance <= 0 are kept
        out: they judge a document not relevant).

    Raises:
        InputError: The file is missing or a row is malformed.
    """
    file = Path(path)
    if not file.is_file():
        raise InputError(f"no such qrels file: {file}", "pass a BEIR qrels .tsv")
    qrels: dict[str, dict[str, int]] = {}
    with file.open(encoding="utf-8", newline="") as fh:
        rows = csv.reader(fh, delimiter="\t")
        for number, row in enumerate(rows, start=1):
            if not row or (number == 1 and not row[-1].strip().lstrip("-").isdigit()):
                continue  # blank line or header
            try:
                qid, doc, score = row[0].strip(), row[1].strip(), int(row[2])
            except (IndexError, ValueError):
                raise InputError(
                    f"{file}:{number} is not a qrels row: {row!r}",
                    "rows are query-id<TAB>corpus-id<TAB>score",
                ) from None
            if score > 0:
                qrels.setdefault(qid, {})[doc] = score
    return qrels


def rank_articles(
    question: str,
    *,
    store: Store,
    index: PassageIndex | None,
    embedder: Embedder | None,
    settings: Settings,
    mode: str,
    depth: int = RUN_DEPTH,
) -> dict[str, float]:
    """Rank articles for one question: each scores as its best passage.

    Args:
        question: The query text.
        store: Open store.
        index: Vector index (None for ``bm25``).
        embedder: Query embedder (None for ``bm25``).
        settings: Settings (fusion and candidate depth).
        mode: ``hybrid``, ``bm25`` or ``dense``.
        depth: Articles returned.

    Returns:
        PMID -> score, strictly decreasing in rank order (ties are nudged
        apart so any tool sorting by score keeps litmine's order).
    """
    from litmine.search.hybrid import search

    hits = search(
        question,
        store=store,
        index=index,
        embedder=embedder,
        settings=settings,
        mode=mode,
        k=depth,
        max_per_article=1,
        # Several passages per article: fetch deeper so ``depth`` articles remain.
        candidates=max(settings.search.candidates, 3 * depth),
    )
    ranking: dict[str, float] = {}
    previous = math.inf
    for hit in hits:
        score = min(float(hit.score), math.nextafter(previous, -math.inf))
        ranking[hit.passage.pmid] = score
        previous = score
    return ranking


def evaluate_retrieval(
    queries_path: str | Path,
    qrels_path: str | Path,
    *,
    store: Store,
    index: PassageIndex | None,
    embedder: Embedder | None,
    settings: Settings,
    modes: Sequence[str] = ("bm25", "dense", "hybrid"),
    metrics: Sequence[str] = DEFAULT_METRICS,
) -> dict[str, dict[str, float]]:
    """Score retrieval modes on a BEIR test set with ranx.

    Only queries that have at least one relevant document in the qrels are
    evaluated; a query with no results counts as all-zero.

    Args:
        queries_path: BEIR ``queries.jsonl``.
        qrels_path: BEIR qrels TSV.
        store: Open store holding the BEIR corpus (PMID = corpus ``_id``).
        index: Vector index (may be None when only ``bm25`` is evaluated).
        embedder: Query embedder (may be None when only ``bm25`` is evaluated).
        settings: Settings (fusion, candidate depth).
        modes: Retrieval modes to evaluate.
        metrics: ranx metric names.

    Returns:
        Mode -> metric -> mean value over the evaluated queries.

    Raises:
        InputError: Unreadable files, or no query has both text and judgements.
    """
    from ranx import Qrels, Run, evaluate

    queries = load_queries(queries_path)
    judged = load_qrels(qrels_path)
    qids = [qid for qid in queries if qid in judged]
    if not qids:
        raise InputError(
            "no query in the queries file has relevance judgements in the qrels file",
            "check that both files come from the same BEIR split",
        )
    qrels = Qrels.from_dict({qid: judged[qid] for qid in qids})
    results: dict[str, dict[str, float]] = {}
    for mode in modes:
        run_dict: dict[str, dict[str, float]] = {}
        for qid in qids:
            ranking = rank_articles(
                queries[qid],
                store=store,
                index=index,
                embedder=embedder,
                settings=settings,
                mode=mode,
            )
            # ranx needs every query in the run; a sentinel id stands for "nothing found".
            run_dict[qid] = ranking or {"__no_results__": 0.0}
        run = Run.from_dict(run_dict, name=mode)
        scores = evaluate(qrels, run, list(metrics), make_comparable=True)
        if not isinstance(scores, dict):  # ranx returns a bare float for one metric
            scores = {metrics[0]: scores}
        results[mode] = {name: float(value) for name, value in scores.items()}
    return results

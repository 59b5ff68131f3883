"""CLI commands for answers (``litmine ask``) and table exports (``litmine export``).

Mounted on the main app by :mod:`litmine.cli.root`::

    app.command("ask")(ask_command)
    app.command("export")(export_command)

Heavy libraries (torch, transformers, FAISS, pandas) are imported inside the
commands only.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from litmine.cli.common import (
    DataDirOpt,
    EntityOpt,
    JsonOpt,
    MeshOpt,
    ModeOpt,
    PubTypeOpt,
    SinceOpt,
    UntilOpt,
    cli_settings,
    handle_errors,
    out,
    require_database,
    search_filters,
    to_json,
)

if TYPE_CHECKING:
    from litmine.types import Answer

__all__ = ["ask_command", "export_command", "parse_clusters"]

KOpt = Annotated[
    int | None, typer.Option("--k", "-k", min=1, help="Passages retrieved (ask.k, 50).")
]
ClustersOpt = Annotated[
    str,
    typer.Option("--clusters", help="Number of clusters, or 'auto' to choose by silhouette."),
]

MinRelevanceOpt = Annotated[
    float | None,
    typer.Option(
        "--min-relevance",
        min=0.0,
        max=1.0,
        help="Least relevance (probability) of a shown cluster (ask.min_relevance; default: "
        "the relevance model's threshold). 0 shows every cluster.",
    ),
]


def parse_clusters(value: str | None) -> int | None:
    """Parse ``--clusters``: ``auto`` (or nothing) is None, else a positive integer.

    Raises:
        InputError: Neither ``auto`` nor a positive integer.
    """
    from litmine.errors import InputError

    if value is None or value.strip().lower() in ("", "auto"):
        return None
    try:
        n = int(value)
    except ValueError:
        raise InputError(f"--clusters {value!r} is not a number", "use auto or N >= 1") from None
    if n < 1:
        raise InputError(f"--clusters must be at least 1, got {n}", "use auto or N >= 1")
    return n


def answer_json(answer: Answer) -> dict[str, Any]:
    """The answer as JSON-ready data, each cluster with its ``pmids``."""
    from litmine.answer.trust import NO_EVIDENCE
    from litmine.types import to_jsonable

    data: dict[str, Any] = to_jsonable(answer)
    for key in ("clusters", "less_related"):
        for cluster, record in zip(getattr(answer, key), data[key], strict=True):
            record["pmids"] = cluster.pmids
    data["pmids"] = answer.pmids
    data["message"] = NO_EVIDENCE if answer.no_evidence else None
    return data


def _nearest(answer: Answer, limit: int = 5) -> list[str]:
    """The nearest articles of an answer without evidence, one line each."""
    hits = sorted(
        (h for c in answer.less_related for h in c.hits),
        key=lambda h: -(h.relevance or 0.0),
    )
    lines: list[str] = []
    for pmid in list(dict.fromkeys(h.passage.pmid for h in hits))[:limit]:
        info = answer.articles.get(pmid)
        title = (info.title if info is not None else "") or "(untitled)"
        lines.append(f"  - PMID {pmid} {title}")
    return lines


def method_line(answer: Answer) -> str:
    """``summary_method: extractive (REASON)`` or ``summary_method: seq2seq (MODEL)``."""
    model = next((c.summary.model for c in answer.clusters if c.summary and c.summary.model), None)
    detail = answer.summary_reason if answer.summary_method == "extractive" else model
    return f"summary_method: {answer.summary_method}" + (f" ({detail})" if detail else "")


def render_answer(answer: Answer) -> str:
    """The human-readable answer: per cluster its label, evidence, summary and articles.

    The extractive fallback note is the method line, once per answer; clusters
    below the relevance threshold are listed last under "Less related", by
    title only; with no relevant article the answer says so and lists the
    nearest titles as such.
    """
    from litmine.answer.trust import NO_EVIDENCE, evidence_pmids

    lines = [f"Question: {answer.question}", method_line(answer)]
    if answer.relevance_note:
        lines.append(f"relevance: {answer.relevance_note}")
    if not answer.clusters and not answer.less_related:
        lines.append("no results")
        return "\n".join(lines)
    if answer.no_evidence:
        lines.append("")
        lines.append(NO_EVIDENCE)
        lines.append("Nearest articles (they do not answer it; not evidence):")
        lines.extend(_nearest(answer))
    for n, cluster in enumerate(answer.clusters, start=1):
        summary = cluster.summary
        lines.append("")
        count = len(cluster.pmids)
        relevance = f", relevance {cluster.relevance:.2f}" if cluster.relevance is not None else ""
        lines.append(
            f"[{n}] {cluster.label}  ({count} article{'' if count == 1 else 's'}{relevance})"
        )
        lines.append(f"    Evidence: {cluster.evidence.line()}")
        if summary is not None and summary.text:
            lines.append(f"    Summary: {summary.text}")
        elif summary is not None and summary.reason:
            lines.append(f"    Summary: none ({summary.reason})")
        if cluster.evidence_table:
            from litmine.answer.evidence import table_lines

            lines.append("    Evidence table:")
            lines.extend(f"      {row}" for row in table_lines(cluster.evidence_table))
        cited = set(summary.cited_pmids) if summary is not None else set()
        evidence = evidence_pmids(cluster, answer.relevance_threshold)
        lines.append("    Articles:")
        for pmid in evidence:
            info = answer.articles.get(pmid)
            year = f" ({info.year})" if info is not None and info.year else ""
            title = info.title if info is not None else ""
            flags = []
            if pmid in cluster.retracted_pmids:
                flags.append("RETRACTED, not summarised")
            elif pmid in cited:
                flags.append("cited")
            flag = f" [{', '.join(flags)}]" if flags else ""
            lines.append(f"      PMID {pmid}{year} {title}{flag}")
        others = [p for p in cluster.pmids if p not in evidence]
        if others:
            lines.append(
                f"    Also in this group, below the relevance threshold: {len(others)} article"
                f"{'' if len(others) == 1 else 's'} (PMID {', '.join(others[:8])}"
                f"{', ...' if len(others) > 8 else ''})"
            )
    if answer.less_related and not answer.no_evidence:
        lines.append("")
        lines.append("Less related (below the relevance threshold; not summarised):")
        for cluster in answer.less_related:
            lines.append(f"  - {cluster.label}: PMID {', '.join(cluster.pmids[:5])}")
    lines.append("")
    t = answer.timings
    lines.append(
        "time: "
        + ", ".join(
            f"{name} {t[name]:.2f}s"
            for name in ("search", "vectors", "cluster", "summarize", "total")
            if name in t
        )
    )
    return "\n".join(lines)


@handle_errors
def ask_command(
    question: Annotated[str, typer.Argument(help="The question, in plain words.")],
    k: KOpt = None,
    clusters: ClustersOpt = "auto",
    mode: ModeOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    pub_type: PubTypeOpt = None,
    mesh: MeshOpt = None,
    entity: EntityOpt = None,
    min_relevance: MinRelevanceOpt = None,
    data_dir: DataDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Answer a question: clusters of evidence with labels, study types and cited summaries."""
    from litmine.answer.answer import Answerer

    settings = cli_settings(data_dir, ask={"min_relevance": min_relevance})
    n_clusters = parse_clusters(clusters)
    filters = search_filters(since, until, pub_type, mesh, entity)
    require_database(settings)
    with Answerer(settings) as answerer:
        answer = answerer.ask(question, k=k, n_clusters=n_clusters, filters=filters, mode=mode)
    if as_json:
        import json

        out.print_json(json.dumps(answer_json(answer), ensure_ascii=False))
        return
    out.print(render_answer(answer), markup=False, highlight=False, soft_wrap=True)


@handle_errors
def export_command(
    out_path: Annotated[Path, typer.Option("--out", "-o", help="CSV file to write.")],
    query: Annotated[
        str | None,
        typer.Option("--query", "-q", help="Question whose evidence is exported."),
    ] = None,
    entities: Annotated[
        bool,
        typer.Option(
            "--entities",
            help="Export entity counts (and a sibling *_pairs.csv of chemical-disease pairs) "
            "of the question's articles, or without --query of the articles passing the "
            "filters (all articles when there are none).",
        ),
    ] = False,
    k: KOpt = None,
    clusters: ClustersOpt = "auto",
    mode: ModeOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    pub_type: PubTypeOpt = None,
    mesh: MeshOpt = None,
    entity: EntityOpt = None,
    all_hits: Annotated[
        bool, typer.Option("--all-hits", help="Every hit, not only the cited passages.")
    ] = False,
    evidence: Annotated[
        bool,
        typer.Option(
            "--evidence",
            help="Write the evidence tables (one row per relevant article of each shown "
            "cluster: design, sample size, year, key finding) instead of the findings.",
        ),
    ] = False,
    excel: Annotated[
        bool, typer.Option("--excel", help="Write a UTF-8 BOM so Excel reads the accents.")
    ] = False,
    min_relevance: MinRelevanceOpt = None,
    data_dir: DataDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write the cited findings of a question (or entity tables) as a CSV file."""
    from litmine.answer.export import entity_tables, findings_frame, pairs_path, write_csv
    from litmine.errors import InputError

    settings = cli_settings(data_dir, ask={"min_relevance": min_relevance})
    n_clusters = parse_clusters(clusters)
    filters = search_filters(since, until, pub_type, mesh, entity)
    if not entities and not query:
        raise InputError("--query is required", 'e.g. litmine export --query "..." --out f.csv')
    require_database(settings)
    written: dict[str, Any] = {}
    if entities:
        from litmine.search.hybrid import Searcher

        with Searcher(settings) as searcher:
            pmids: list[str] | None = None
            if query:
                k_eff = k if k is not None else settings.ask.k
                mode_eff = mode or settings.ask.mode
                hits = searcher.search(query, mode=mode_eff, k=k_eff, filters=filters)
                pmids = list(dict.fromkeys(h.passage.pmid for h in hits))
            elif not filters.is_empty:
                from litmine.search.hybrid import filter_pmids

                allowed = filter_pmids(searcher.store, filters)
                pmids = sorted(allowed) if allowed is not None else None
            ents, pairs = entity_tables(searcher.store, pmids)
        write_csv(ents, out_path, excel_bom=excel)
        pair_file = pairs_path(out_path)
        write_csv(pairs, pair_file, excel_bom=excel)
        written = {
            "entities": {"path": str(out_path), "rows": len(ents)},
            "pairs": {"path": str(pair_file), "rows": len(pairs)},
        }
    else:
        from litmine.answer.answer import Answerer

        assert query is not None
        with Answerer(settings) as answerer:
            answer = answerer.ask(query, k=k, n_clusters=n_clusters, filters=filters, mode=mode)
        if evidence:
            from litmine.answer.evidence import evidence_frame

            frame = evidence_frame(answer)
        else:
            frame = findings_frame(answer, all_hits=all_hits)
        write_csv(frame, out_path, excel_bom=excel)
        written = {
            ("evidence" if evidence else "findings"): {"path": str(out_path), "rows": len(frame)},
            "summary_method": answer.summary_method,
            "summary_reason": answer.summary_reason,
        }
    if as_json:
        out.print_json(to_json(written))
        return
    for name, info in written.items():
        if isinstance(info, dict):
            out.print(f"wrote {info['rows']} {name} rows to {info['path']}", markup=False)
    if "summary_method" in written:
        reason = written["summary_reason"]
        method = written["summary_method"]
        out.print(f"summary_method: {method}" + (f" ({reason})" if reason else ""), markup=False)

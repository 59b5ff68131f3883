"""CLI commands for the vector index, question search and retrieval evaluation.

Mounted on the main app by :mod:`litmine.cli.root`::

    app.add_typer(index_app, name="index")
    app.command("search")(search_command)
    app.add_typer(eval_app, name="eval")

Heavy libraries (torch, FAISS, ranx) are imported inside the commands only.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from litmine.cli.common import (
    AddressOpt,
    DataDirOpt,
    EntityOpt,
    JsonOpt,
    MeshOpt,
    ModeOpt,
    PubTypeOpt,
    RunnerOpt,
    SinceOpt,
    UntilOpt,
    WorkersOpt,
    cli_settings,
    err,
    handle_errors,
    out,
    progress_bar,
    require_database,
    search_filters,
    to_json,
    with_runner,
)
from litmine.vectors.adapt import AdaptParams  # light: torch loads only when training starts

if TYPE_CHECKING:
    from litmine.config import Settings
    from litmine.types import Hit
    from litmine.vectors.build import IndexReport

__all__ = [
    "AddressOpt",
    "RunnerOpt",
    "WorkersOpt",
    "eval_app",
    "index_app",
    "search_command",
    "with_runner",
]

index_app = typer.Typer(help="Build, update and check the passage vector index.")
eval_app = typer.Typer(help="Measure retrieval quality on a labelled test set.")
_ADAPT = AdaptParams()  # the command's defaults are the library's

BackendOpt = Annotated[
    str | None,
    typer.Option(
        "--backend", help="Embedding backend: torch, torch-int8, onnx, onnx-int8 (embed.backend)."
    ),
]


def _index_settings(data_dir: Path | None, backend: str | None) -> Settings:
    return cli_settings(data_dir, embed={"backend": backend})


@index_app.command("build")
@handle_errors
def index_build(
    data_dir: DataDirOpt = None,
    backend: BackendOpt = None,
    shards: Annotated[
        int | None,
        typer.Option(
            "--shards",
            min=1,
            help="Build in N passage-range shards merged into one on-disk "
            "IVF index (default with --runner dask: one per 50,000 passages).",
        ),
    ] = None,
    factory: Annotated[
        str | None,
        typer.Option("--factory", help="FAISS factory, e.g. 'IVF65536,SQ8' (index.factory)."),
    ] = None,
    train_sample: Annotated[
        int | None,
        typer.Option(
            "--train-sample",
            min=1,
            help="Vectors a sharded build trains on (default ~50 per IVF list, >= 10,000).",
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the training sample.")] = 0,
    runner: RunnerOpt = None,
    address: AddressOpt = None,
    workers: WorkersOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Embed every passage and write a fresh vector index (the old one stays until done)."""
    settings = cli_settings(
        data_dir, embed={"backend": backend}, index={"factory": factory},
        dask={"address": address, "workers": workers},
    )  # fmt: skip
    settings = with_runner(settings, runner)
    if shards is None and settings.runner == "local":
        from litmine.ingest import update_vector_index

        _print_index_report(update_vector_index(settings, rebuild=True), as_json)
        return
    from litmine.scale.index import build_sharded

    report = build_sharded(settings, shards=shards, train_sample=train_sample, seed=seed)
    _print_index_report(report, as_json)


@index_app.command("update")
@handle_errors
def index_update(
    data_dir: DataDirOpt = None, backend: BackendOpt = None, as_json: JsonOpt = False
) -> None:
    """Add new passages to the index and drop deleted ones (builds it when missing)."""
    _print_index_report(_run_index_stage(data_dir, backend, rebuild=False), as_json)


def _run_index_stage(data_dir: Path | None, backend: str | None, *, rebuild: bool) -> IndexReport:
    """Run the embedding stage with the flags' settings."""
    from litmine.ingest import update_vector_index

    return update_vector_index(_index_settings(data_dir, backend), rebuild=rebuild)


def _print_index_report(report: IndexReport, as_json: bool) -> None:
    if as_json:
        out.print_json(to_json(report))
    else:
        out.print(report.line(), markup=False, highlight=False)


@index_app.command("adapt")
@handle_errors
def index_adapt(
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder for the adapted sentence-transformers model.")
    ],
    epochs: Annotated[
        int, typer.Option("--epochs", help="Passes over the articles.")
    ] = _ADAPT.epochs,
    batch_size: Annotated[
        int, typer.Option("--batch-size", help="Articles per step (in-batch negatives).")
    ] = _ADAPT.batch_size,
    learning_rate: Annotated[
        float, typer.Option("--lr", help="Peak learning rate.")
    ] = _ADAPT.learning_rate,
    max_articles: Annotated[
        int | None, typer.Option("--max-articles", help="Sample at most this many articles.")
    ] = _ADAPT.max_articles,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = _ADAPT.seed,
    data_dir: DataDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Fine-tune the embedding model on this collection's title -> passage pairs (no labels)."""
    from litmine.ingest import open_store
    from litmine.vectors.adapt import adapt_from_store

    settings = cli_settings(data_dir)
    params = AdaptParams(
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        max_articles=max_articles,
        seed=seed,
    )
    with open_store(settings, read_only=True) as store, progress_bar("adapting") as bar:

        def step(done: int, total: int, loss: float) -> None:
            if bar is not None:
                bar.total(total)
                bar.advance(1)

        report = adapt_from_store(store, settings, out_dir, params, progress=step)
    if as_json:
        out.print_json(to_json(report.as_dict()))
        return
    out.print(
        f"adapted {report.base_model} on {report.articles} articles in {report.steps} steps "
        f"({report.seconds:.0f}s, loss {report.first_loss:.3f} -> {report.last_loss:.3f}): "
        f"{report.model_dir}. Use it with LITMINE_EMBED_MODEL={report.model_dir} "
        "(or embed.model) and rebuild: litmine index build",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


@index_app.command("verify")
@handle_errors
def index_verify(data_dir: DataDirOpt = None, as_json: JsonOpt = False) -> None:
    """Check the index against the store and the settings; exit 1 when it is not ok."""
    from litmine.ingest import open_store
    from litmine.store import store_exists
    from litmine.vectors.build import verify_index

    settings = cli_settings(data_dir)
    with open_store(settings, read_only=store_exists(settings)) as store:
        report = verify_index(store, settings)
    if as_json:
        out.print_json(to_json(report))
    else:
        (out if report.ok else err).print(report.line(), markup=False, highlight=False)
    if not report.ok:
        raise typer.Exit(1)


def _hit_json(rank: int, hit: Hit) -> dict[str, Any]:
    p = hit.passage
    return {
        "rank": rank,
        "pmid": p.pmid,
        "passage_id": p.id,
        "score": hit.score,
        "retrievers": hit.retrievers,
        "ranks": hit.ranks,
        "title": p.title,
        "section": p.section,
        "text": p.text,
        "year": hit.year,
        "journal": hit.journal,
        "publication_types": hit.publication_types,
    }


@handle_errors
def search_command(
    question: Annotated[str, typer.Argument(help="The question, in plain words.")],
    k: Annotated[
        int | None, typer.Option("--k", "-k", min=1, help="Passages shown (search.k).")
    ] = None,
    mode: ModeOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    pub_type: PubTypeOpt = None,
    mesh: MeshOpt = None,
    entity: EntityOpt = None,
    max_per_article: Annotated[
        int | None,
        typer.Option("--max-per-article", min=1, help="Passages per article (search setting)."),
    ] = None,
    data_dir: DataDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Search the stored abstracts for passages answering a question."""
    from litmine.search.hybrid import Searcher

    settings = cli_settings(data_dir)
    filters = search_filters(since, until, pub_type, mesh, entity)
    require_database(settings)
    with Searcher(settings) as searcher:
        hits = searcher.search(
            question, mode=mode, k=k, filters=filters, max_per_article=max_per_article
        )
    if as_json:
        out.print_json(to_json([_hit_json(i, h) for i, h in enumerate(hits, start=1)]))
        return
    if not hits:
        out.print("no results", markup=False)
        return
    for i, h in enumerate(hits, start=1):
        p = h.passage
        found = ", ".join(f"{name} #{rank}" for name, rank in h.ranks.items())
        meta = " / ".join(str(x) for x in (h.year, h.journal) if x)
        section = f" [{p.section}]" if p.section else ""
        out.print(
            f"{i}. PMID {p.pmid} ({meta}) score {h.score:.4f} ({found})\n"
            f"   {p.title}{section}\n   {p.text}",
            markup=False,
            highlight=False,
        )


@eval_app.command("retrieval")
@handle_errors
def eval_retrieval(
    queries: Annotated[Path, typer.Option("--queries", help="BEIR queries.jsonl.")],
    qrels: Annotated[Path, typer.Option("--qrels", help="BEIR qrels TSV (with header).")],
    mode: Annotated[
        list[str] | None,
        typer.Option("--mode", "-m", help="Mode to evaluate (repeat); default all three."),
    ] = None,
    data_dir: DataDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """nDCG@10, recall@10/100 and MRR@10 of each retrieval mode on a BEIR test set."""
    from litmine.search.evaluate import evaluate_retrieval
    from litmine.search.hybrid import MODES, Searcher

    modes = list(dict.fromkeys(mode or ("bm25", "dense", "hybrid")))
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        from litmine.errors import InputError

        raise InputError(f"unknown mode {unknown[0]!r}", f"use {', '.join(MODES)}")
    settings = cli_settings(data_dir)
    with Searcher(settings) as searcher:
        index = embedder = None
        if any(m != "bm25" for m in modes):
            index, embedder = searcher.dense_parts()
        results = evaluate_retrieval(
            queries,
            qrels,
            store=searcher.store,
            index=index,
            embedder=embedder,
            settings=settings,
            modes=modes,
        )
    if as_json:
        out.print_json(to_json(results))
        return
    from rich.table import Table

    names = list(next(iter(results.values())))
    table = Table("mode", *names)
    for m, values in results.items():
        table.add_row(m, *(f"{values[n]:.4f}" for n in names))
    out.print(table)

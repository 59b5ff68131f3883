"""Command-line pieces for NER: ``litmine ner ...`` and ``litmine entities ...``.

Two Typer apps, mounted by :mod:`litmine.cli.root`::

    app.add_typer(ner_app, name="ner")
    app.add_typer(entities_app, name="entities")

They are thin shells over :mod:`litmine.ner.train`, :mod:`litmine.ner.eval`
and :mod:`litmine.entities`; heavy libraries are imported inside the commands.
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from litmine.cli.common import (
    AddressOpt,
    DataDirOpt,
    JsonOpt,
    RunnerOpt,
    WorkersOpt,
    cli_settings,
    err,
    handle_errors,
    out,
    progress_bar,
    to_json,
    with_runner,
)
from litmine.errors import InputError

ner_app = typer.Typer(help="Train and evaluate the biomedical NER model.", no_args_is_help=True)
entities_app = typer.Typer(
    help="Extract biomedical entities (chemicals, diseases) from stored abstracts, and count them.",
    invoke_without_command=True,
)

ModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model",
        help="NER model: 'litmine-bc5cdr' (fast), 'litmine-bc5cdr-wide', an installed package "
        "or a folder.",
    ),
]
QueryOpt = Annotated[
    str | None,
    typer.Option("--query", "-q", help="Only articles matching this full-text query."),
]
QueryLimitOpt = Annotated[
    int, typer.Option("--query-limit", min=1, help="Most articles selected by --query.")
]


@ner_app.command("train")
@handle_errors
def ner_train(
    train: Annotated[
        list[Path], typer.Option("--train", help="PubTator training file (repeatable).")
    ],
    dev: Annotated[
        Path, typer.Option("--dev", help="PubTator dev file (CNN: checkpoint selection).")
    ],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the trained pipeline.")],
    extra_disease: Annotated[
        list[Path] | None,
        typer.Option("--extra-disease", help="PubTator file annotating diseases only (NCBI)."),
    ] = None,
    arch: Annotated[
        str,
        typer.Option(
            help="'cnn' (spaCy tok2vec + ner) or 'transformer' (fine-tunes the BERT-style "
            "encoder of --base; several times slower to run)."
        ),
    ] = "cnn",
    epochs: Annotated[
        int | None,
        typer.Option(min=1, help="Passes over the training data (default: the trainer's)."),
    ] = None,
    learn_rate: Annotated[
        float | None,
        typer.Option(min=0.0, help="Peak learning rate of the transformer (AdamW)."),
    ] = None,
    base: Annotated[
        str | None,
        typer.Option(help="Encoder the transformer starts from (default all-MiniLM-L6-v2)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    width: Annotated[int, typer.Option(min=8, help="Token-vector / CNN width.")] = 256,
    depth: Annotated[int, typer.Option(min=1, help="CNN layers.")] = 4,
    maxout_pieces: Annotated[int, typer.Option(min=1, help="Maxout pieces of the CNN.")] = 3,
    hidden_width: Annotated[int, typer.Option(min=8, help="Hidden width of the NER model.")] = 128,
    work_dir: Annotated[
        Path | None, typer.Option(help="Keep corpora, config and checkpoints here.")
    ] = None,
    dev_limit: Annotated[
        int | None, typer.Option(min=1, help="Dev documents used for checkpoint selection.")
    ] = None,
    dropout: Annotated[float, typer.Option(min=0.0, max=0.9, help="Dropout rate.")] = 0.15,
    batch_start: Annotated[int, typer.Option(min=1, help="First batch size, in words.")] = 100,
    batch_stop: Annotated[int, typer.Option(min=1, help="Largest batch size, in words.")] = 1000,
    eval_frequency: Annotated[int, typer.Option(min=1, help="Steps between dev scores.")] = 200,
    max_steps: Annotated[
        int, typer.Option(min=0, help="Stop after this many steps (0: after --epochs).")
    ] = 0,
    init_tok2vec: Annotated[
        Path | None,
        typer.Option(
            "--init-tok2vec",
            help="Start from pretrained tok2vec weights (`litmine ner pretrain`, same widths).",
        ),
    ] = None,
) -> None:
    """Train a CHEMICAL/DISEASE NER pipeline on PubTator corpora.

    The CNN keeps its best checkpoint by F1 on --dev; the transformer trains for
    a fixed number of epochs and only scores --dev at the end (written to its meta).
    """
    if arch not in ("cnn", "transformer"):
        raise InputError(f"unknown --arch {arch!r}", "use 'cnn' or 'transformer'")
    if arch == "transformer":
        from litmine.ner.transformer import TransformerTrainConfig, train_pipeline

        if extra_disease or init_tok2vec:
            raise InputError(
                "--extra-disease and --init-tok2vec apply to the CNN only", "drop them"
            )
        trf = TransformerTrainConfig(seed=seed)
        trf.base = base or trf.base
        trf.epochs = epochs or trf.epochs
        trf.learn_rate = learn_rate or trf.learn_rate
        path = train_pipeline(train, out_dir, config=trf, dev_path=dev)
        out.print(f"saved NER pipeline to {path}", markup=False, highlight=False)
        return
    from litmine.ner.train import DEFAULT_EPOCHS, TrainConfig
    from litmine.ner.train import train as run_train

    extra: dict[str, Any] = {"corpora.dev.limit": dev_limit} if dev_limit else {}
    if max_steps:
        extra["training.max_steps"] = max_steps
    config = TrainConfig(
        width=width,
        depth=depth,
        maxout_pieces=maxout_pieces,
        hidden_width=hidden_width,
        dropout=dropout,
        batch_words=(batch_start, batch_stop),
        eval_frequency=eval_frequency,
        extra=extra,
    )
    path = run_train(
        train, dev, out_dir,
        config=config, epochs=epochs or DEFAULT_EPOCHS, seed=seed,
        extra_disease_paths=extra_disease or [], work_dir=work_dir, init_tok2vec=init_tok2vec,
    )  # fmt: skip
    out.print(f"saved NER pipeline to {path}", markup=False, highlight=False)


@ner_app.command("pretrain")
@handle_errors
def ner_pretrain(
    texts: Annotated[
        list[Path],
        typer.Option(
            "--texts",
            help="Unlabelled abstracts (repeatable): PubTator, PubMedQA .json, "
            "SciFact-style .csv, .jsonl with 'text', or one text a line.",
        ),
    ],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the tok2vec weights.")],
    exclude: Annotated[
        list[Path] | None,
        typer.Option("--exclude", help="Documents never to use, by id and text (the dev set)."),
    ] = None,
    epochs: Annotated[int, typer.Option(min=1, help="Passes over the texts.")] = 5,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    width: Annotated[int, typer.Option(min=8, help="Token-vector / CNN width.")] = 256,
    depth: Annotated[int, typer.Option(min=1, help="CNN layers.")] = 4,
    resume: Annotated[
        Path | None,
        typer.Option("--resume", help="Continue from OUT/model<N>.bin of an earlier run."),
    ] = None,
) -> None:
    """Pretrain the NER tok2vec on unlabelled text (spaCy's character objective).

    Train with `litmine ner train --init-tok2vec OUT/model-last.bin` and the same
    --width / --depth.
    """
    from litmine.ner.train import TrainConfig
    from litmine.ner.train import pretrain as run_pretrain

    weights = run_pretrain(
        texts, out_dir,
        config=TrainConfig(width=width, depth=depth), epochs=epochs, seed=seed,
        exclude_paths=exclude or [], resume=resume,
    )  # fmt: skip
    out.print(f"saved tok2vec weights to {weights}", markup=False, highlight=False)


@ner_app.command("eval")
@handle_errors
def ner_eval(
    corpus: Annotated[Path, typer.Option("--corpus", help="PubTator file with gold mentions.")],
    model: ModelOpt = None,
    postprocess: Annotated[
        bool | None,
        typer.Option(
            "--postprocess/--no-postprocess",
            help="Document-level consistency after NER (default: ner.postprocess, on).",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Score a model on a PubTator corpus: exact span + label, per label and overall.

    The pipeline is built exactly as for `litmine entities` (abbreviation detector,
    post-processing), so the scores are those of the extraction.
    """
    from litmine.entities import build_nlp, postprocess_description
    from litmine.ner.eval import evaluate

    settings = cli_settings(None, ner={"model": model, "postprocess": postprocess}).ner
    nlp = build_nlp(settings)
    scores = evaluate(nlp, corpus, batch_size=settings.batch_size)
    steps = postprocess_description(nlp)
    if as_json:
        info = {"model": settings.model, "pipeline": nlp.pipe_names, "postprocess": steps}
        out.print_json(json.dumps({**info, **scores.as_dict()}))
        return
    header = (
        f"model {settings.model}; pipeline {', '.join(nlp.pipe_names)}; post-processing: {steps}"
    )
    out.print(header, markup=False, highlight=False, soft_wrap=True)
    for label, s in [*sorted(scores.per_label.items()), ("overall", scores.overall)]:
        out.print(
            f"{label:<9} P {s.precision:.4f}  R {s.recall:.4f}  F1 {s.f1:.4f}  "
            f"(tp {s.tp}, fp {s.fp}, fn {s.fn})",
            markup=False,
            highlight=False,
        )
    out.print(
        f"{scores.docs} abstracts, {scores.abstracts_per_second:.1f} abstracts/s",
        markup=False,
    )


@ner_app.command("silver")
@handle_errors
def ner_silver(
    texts: Annotated[
        list[Path],
        typer.Option("--texts", help="Unlabelled abstracts (repeatable; as for `ner pretrain`)."),
    ],
    teachers: Annotated[
        list[str], typer.Option("--teacher", help="Teacher model, name or folder (repeatable).")
    ],
    out_file: Annotated[Path, typer.Option("--out", help="Silver DocBin to write (.spacy).")],
    exclude: Annotated[
        list[Path] | None,
        typer.Option("--exclude", help="Documents never to label, by id and text (dev, gold)."),
    ] = None,
    min_votes: Annotated[
        int | None,
        typer.Option(min=1, help="Teachers that must predict a span (default: a majority)."),
    ] = None,
) -> None:
    """Label unlabelled texts with a vote of teacher models (silver data for `ner distill`).

    A span is kept when at least --min-votes teachers predict exactly it; tokens of
    spans the vote dropped are marked missing (no loss), the rest outside.
    """
    from litmine.config import NerSettings
    from litmine.entities import build_nlp
    from litmine.ner.distill import label_texts, write_stats
    from litmine.ner.train import collect_texts

    docs, counts = collect_texts(texts, exclude_paths=exclude or [])
    nlps = [build_nlp(NerSettings(model=t)) for t in teachers]
    db, stats = label_texts(nlps, docs, min_votes=min_votes)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    db.to_disk(out_file)
    write_stats(stats, out_file.with_suffix(".json"))
    out.print(
        f"{stats.docs} texts, {stats.kept} silver spans of {stats.proposed} proposed "
        f"({stats.missing_tokens} of {stats.tokens} tokens missing) -> {out_file}; "
        f"per file: {json.dumps(counts)}",
        markup=False, highlight=False, soft_wrap=True,
    )  # fmt: skip


@ner_app.command("distill")
@handle_errors
def ner_distill(
    gold: Annotated[
        list[Path], typer.Option("--gold", help="PubTator file with gold labels (repeatable).")
    ],
    silver: Annotated[
        list[Path], typer.Option("--silver", help="Silver DocBin from `ner silver` (repeatable).")
    ],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the student pipeline.")],
    dev: Annotated[
        Path | None, typer.Option("--dev", help="PubTator file for checkpoint selection.")
    ] = None,
    steps: Annotated[
        int, typer.Option(min=1, help="Training steps (the learning rate reaches 0 there).")
    ] = 3300,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    gold_repeat: Annotated[
        int, typer.Option(min=1, help="Copies of the gold documents per epoch (silver weight).")
    ] = 8,
    silver_limit: Annotated[
        int | None, typer.Option(min=1, help="Use at most this many silver documents.")
    ] = None,
    dev_limit: Annotated[int, typer.Option(min=1, help="Dev documents used for selection.")] = 120,
    work_dir: Annotated[
        Path | None, typer.Option(help="Keep corpora, config and checkpoints here.")
    ] = None,
) -> None:
    """Train a student with the default's fast CNN architecture on gold + silver data."""
    from litmine.ner.distill import train_student

    path = train_student(
        gold, silver, dev, out_dir,
        steps=steps, seed=seed, gold_repeat=gold_repeat, silver_limit=silver_limit,
        dev_limit=dev_limit, work_dir=work_dir,
    )  # fmt: skip
    out.print(f"saved student NER pipeline to {path}", markup=False, highlight=False)


@ner_app.command("adapt")
@handle_errors
def ner_adapt(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the adapted model.")],
    teachers: Annotated[
        list[str] | None,
        typer.Option(
            "--teacher",
            help="Teacher model (repeatable; default litmine-bc5cdr and litmine-bc5cdr-wide). "
            "The student starts from the first one's weights.",
        ),
    ] = None,
    min_votes: Annotated[
        int | None,
        typer.Option(min=1, help="Teachers that must agree on a span (default: a majority)."),
    ] = None,
    gold: Annotated[
        list[Path] | None,
        typer.Option("--gold", help="Labelled PubTator file mixed in (e.g. BC5CDR train)."),
    ] = None,
    dev: Annotated[
        Path | None, typer.Option("--dev", help="PubTator file for checkpoint selection.")
    ] = None,
    steps: Annotated[int, typer.Option(min=1, help="Training steps.")] = 1000,
    from_scratch: Annotated[
        bool, typer.Option("--from-scratch", help="Student from random weights, not the teacher's.")
    ] = False,
    limit: Annotated[
        int | None, typer.Option(min=1, help="Label at most this many passages.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    data_dir: DataDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Adapt the NER model to the stored collection without labels (self-training).

    The teachers label the store's passages, their agreement becomes silver data,
    and a student (the fast CNN) retrains on it (plus --gold), starting from the
    first teacher. The folder gets a MODEL_CARD.md recording the run; point
    `ner.model` at it after scoring it with `litmine ner eval`.
    """
    from dataclasses import asdict

    from litmine.ner.distill import DEFAULT_TEACHERS, adapt_from_store
    from litmine.store import open_store

    command = " ".join(["litmine", *sys.argv[1:]]) if sys.argv else "litmine ner adapt"
    # spaCy's training log goes to standard error, so --json prints JSON only.
    with (
        open_store(cli_settings(data_dir), read_only=True) as store,
        contextlib.redirect_stdout(sys.stderr),
    ):
        report = adapt_from_store(
            store, out_dir,
            teachers=teachers or list(DEFAULT_TEACHERS), min_votes=min_votes,
            gold_paths=gold or [], dev_path=dev, from_scratch=from_scratch, steps=steps,
            seed=seed, limit=limit, command=command,
        )  # fmt: skip
    if as_json:
        out.print_json(json.dumps(asdict(report)))
        return
    out.print(
        f"labelled {report.texts} passages ({report.silver.kept} silver spans); "
        f"saved adapted NER model to {report.out} in {report.seconds:.0f} s",
        markup=False, highlight=False,
    )  # fmt: skip


def _pmids_for(settings_data_dir: Path | None, query: str | None, limit: int) -> list[str] | None:
    if query is None:
        return None
    from litmine.store import open_store

    with open_store(cli_settings(settings_data_dir), read_only=True) as store:
        hits = store.bm25_articles(query, k=limit)
    if not hits:
        raise InputError(f"no stored article matches {query!r}", "try a broader --query")
    return [pmid for pmid, _ in hits]


@entities_app.callback()
@handle_errors
def entities_main(
    ctx: typer.Context,
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Delete all entities and extract them again.")
    ] = False,
    model: ModelOpt = None,
    data_dir: DataDirOpt = None,
    runner: RunnerOpt = None,
    address: AddressOpt = None,
    workers: WorkersOpt = None,
) -> None:
    """Extract entities of stored articles not processed yet (resumable).

    With --runner dask, NER runs in tasks on the Dask cluster (--address, or a local
    one of --workers processes) and this process commits their results in order.
    """
    if ctx.invoked_subcommand is not None:
        return
    from litmine import ingest

    settings = cli_settings(
        data_dir, ner={"model": model}, dask={"address": address, "workers": workers}
    )
    settings = with_runner(settings, runner)
    with progress_bar("extracting entities") as bar:
        if settings.runner == "dask":
            from litmine.scale.entities import extract_entities_dask

            advance = bar.advance if bar is not None else None
            n = extract_entities_dask(settings, rebuild=rebuild, progress=advance).articles
        else:
            n = ingest.extract_entities(settings, rebuild=rebuild, progress=bar)
    total = ingest.status(settings, runs=0).counts.entities
    out.print(f"processed {n} articles / entities {total}", markup=False, highlight=False)


@entities_app.command("top")
@handle_errors
def entities_top(
    label: Annotated[
        str | None, typer.Option("--label", help="CHEMICAL or DISEASE; all when omitted.")
    ] = None,
    query: QueryOpt = None,
    query_limit: QueryLimitOpt = 1000,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Entities shown.")] = 20,
    data_dir: DataDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The entities mentioned in the most articles."""
    from litmine.entities import top_entities
    from litmine.store import open_store

    if label is not None and label.upper() not in ("CHEMICAL", "DISEASE"):
        raise InputError(f"unknown label {label!r}", "use CHEMICAL or DISEASE")
    pmids = _pmids_for(data_dir, query, query_limit)
    with open_store(cli_settings(data_dir), read_only=True) as store:
        rows = top_entities(store, label=label, pmids=pmids, limit=limit)
    if as_json:
        out.print_json(to_json(rows))
        return
    if not rows:
        err.print("no entities; run `litmine entities` first", markup=False)
        return
    _write_table(
        ["articles", "mentions", "label", "concept_id", "name"],
        [[r.articles, r.mentions, r.label, r.concept_id or "", r.name] for r in rows],
        None,
    )


@entities_app.command("pairs")
@handle_errors
def entities_pairs(
    query: QueryOpt = None,
    query_limit: QueryLimitOpt = 1000,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Pairs listed.")] = 50,
    out_csv: Annotated[
        Path | None, typer.Option("--out", help="Write the pairs to this CSV file.")
    ] = None,
    data_dir: DataDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Chemical-disease pairs co-mentioned in the most articles, with their PMIDs."""
    from litmine.entities import chemical_disease_pairs
    from litmine.store import open_store

    pmids = _pmids_for(data_dir, query, query_limit)
    with open_store(cli_settings(data_dir), read_only=True) as store:
        rows = chemical_disease_pairs(store, pmids=pmids, limit=limit)
    if as_json:
        out.print_json(to_json(rows))
        return
    header = ["chemical", "chemical_id", "disease", "disease_id", "articles", "pmids"]
    table = [
        [r.chemical, r.chemical_id or "", r.disease, r.disease_id or "", r.articles,
         " ".join(r.pmids)]
        for r in rows
    ]  # fmt: skip
    _write_table(header, table, out_csv)
    if out_csv is not None:
        out.print(f"wrote {len(table)} pairs to {out_csv}", markup=False, highlight=False)


def _write_table(header: list[str], rows: list[list[Any]], path: Path | None) -> None:
    """Write rows as a CSV file, or as TSV on standard output when ``path`` is None.

    Entity names come from abstracts, so the cells go through
    :func:`litmine.export.write_csv`, which neutralises spreadsheet formulas.
    """
    import pandas as pd

    from litmine.answer.export import write_csv

    frame = pd.DataFrame(rows, columns=header)
    if path is None:
        write_csv(frame, sys.stdout, sep="\t")
    else:
        write_csv(frame, path)


if __name__ == "__main__":  # pragma: no cover - `python -m litmine.ner.cli train ...`
    ner_app()

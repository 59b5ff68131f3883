"""Train litmine's biomedical NER pipeline (tok2vec + ner) on PubTator corpora.

The spaCy config is built here, from a small :class:`TrainConfig`; the corpora
are converted to ``DocBin`` files with the biomedical tokenizer
(:mod:`litmine.ner.tokenizer`), spaCy's training loop runs, and the best
checkpoint (by entity F1 on the dev corpus) is saved with that tokenizer so it
loads with ``spacy.load(path)`` in any process.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from litmine.errors import InputError
from litmine.ner.pubtator import LABELS, ConversionStats, to_docbin

log = logging.getLogger(__name__)


@dataclass(slots=True)
class TrainConfig:
    """Hyper-parameters of the CNN pipeline.

    Attributes:
        width: Width of the token vectors (and of the CNN).
        depth: Convolutional layers of the encoder (window 1 each: context ±depth).
        embed_rows: Hash-embedding rows per attribute, in ``attrs`` order.
        attrs: Lexical attributes hashed into the token embedding.
        maxout_pieces: Maxout pieces of the encoder layers.
        hidden_width: Hidden layer of the NER transition model.
        dropout: Dropout during training.
        learn_rate: Adam learning rate (peak, with warm-up then linear decay).
        warmup_steps: Warm-up steps of the learning-rate schedule.
        batch_words: (start, stop) of the compounding batch size, in words.
        eval_frequency: Steps between evaluations on the dev corpus.
        patience: Stop after this many steps without improvement (0: never).
        extra: Extra overrides in spaCy's dotted form (``{"training.seed": 1}``).
    """

    width: int = 256
    depth: int = 4
    embed_rows: tuple[int, ...] = (10000, 5000, 5000, 5000, 5000)
    attrs: tuple[str, ...] = ("NORM", "LOWER", "PREFIX", "SUFFIX", "SHAPE")
    maxout_pieces: int = 3
    hidden_width: int = 128
    dropout: float = 0.15
    learn_rate: float = 0.001
    warmup_steps: int = 250
    batch_words: tuple[int, int] = (100, 1000)
    eval_frequency: int = 200
    patience: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


TINY = TrainConfig(
    width=32,
    depth=1,
    embed_rows=(500, 200),
    attrs=("NORM", "SHAPE"),
    maxout_pieces=2,
    hidden_width=16,
    eval_frequency=10,
    batch_words=(200, 400),
    warmup_steps=0,
)
"""A minute model for tests: trains in seconds, learns little."""


def build_config(config: TrainConfig, *, epochs: int, seed: int, total_steps: int) -> str:
    """Render the spaCy training config for ``config``.

    Args:
        config: Hyper-parameters.
        epochs: Passes over the training corpus.
        seed: Random seed.
        total_steps: Expected optimiser steps (for the learning-rate schedule).

    Returns:
        The config as text (spaCy's INI dialect).
    """
    if len(config.embed_rows) != len(config.attrs):
        raise InputError("embed_rows and attrs must have the same length")
    attrs = json.dumps(list(config.attrs))
    rows = json.dumps(list(config.embed_rows))
    return f"""
[paths]
train = null
dev = null

[system]
gpu_allocator = null
seed = {seed}

[nlp]
lang = "en"
pipeline = ["tok2vec","ner"]
batch_size = 64

[components]

[components.tok2vec]
factory = "tok2vec"

[components.tok2vec.model]
@architectures = "spacy.Tok2Vec.v2"

[components.tok2vec.model.embed]
@architectures = "spacy.MultiHashEmbed.v2"
width = {config.width}
attrs = {attrs}
rows = {rows}
include_static_vectors = false

[components.tok2vec.model.encode]
@architectures = "spacy.MaxoutWindowEncoder.v2"
width = {config.width}
depth = {config.depth}
window_size = 1
maxout_pieces = {config.maxout_pieces}

[components.ner]
factory = "ner"
incorrect_spans_key = null
moves = null
scorer = {{"@scorers":"spacy.ner_scorer.v1"}}
update_with_oracle_cut_size = 100

[components.ner.model]
@architectures = "spacy.TransitionBasedParser.v2"
state_type = "ner"
extra_state_tokens = false
hidden_width = {config.hidden_width}
maxout_pieces = 2
use_upper = true
nO = null

[components.ner.model.tok2vec]
@architectures = "spacy.Tok2VecListener.v1"
width = {config.width}
upstream = "*"

[corpora]

[corpora.train]
@readers = "spacy.Corpus.v1"
path = ${{paths.train}}
max_length = 0
gold_preproc = false
limit = 0
augmenter = null

[corpora.dev]
@readers = "spacy.Corpus.v1"
path = ${{paths.dev}}
max_length = 0
gold_preproc = false
limit = 0
augmenter = null

[training]
dev_corpus = "corpora.dev"
train_corpus = "corpora.train"
seed = ${{system.seed}}
gpu_allocator = ${{system.gpu_allocator}}
dropout = {config.dropout}
accumulate_gradient = 1
patience = {config.patience}
max_epochs = {epochs}
max_steps = 0
eval_frequency = {config.eval_frequency}
frozen_components = []
annotating_components = []
before_to_disk = null
before_update = null

[training.batcher]
@batchers = "spacy.batch_by_words.v1"
discard_oversize = false
tolerance = 0.2
get_length = null

[training.batcher.size]
@schedules = "compounding.v1"
start = {config.batch_words[0]}
stop = {config.batch_words[1]}
compound = 1.001
t = 0.0

[training.logger]
@loggers = "spacy.ConsoleLogger.v1"
progress_bar = false

[training.optimizer]
@optimizers = "Adam.v1"
beta1 = 0.9
beta2 = 0.999
L2_is_weight_decay = true
L2 = 0.01
grad_clip = 1.0
use_averages = true
eps = 0.00000001

[training.optimizer.learn_rate]
@schedules = "warmup_linear.v1"
warmup_steps = {config.warmup_steps}
total_steps = {max(total_steps, config.warmup_steps + 1)}
initial_rate = {config.learn_rate}

[training.score_weights]
ents_f = 1.0
ents_p = 0.0
ents_r = 0.0
ents_per_type = null

[pretraining]

[initialize]
vectors = null
init_tok2vec = null
vocab_data = null
lookups = null
before_init = null
after_init = null

[initialize.components]

[initialize.tokenizer]
"""


def _check_paths(paths: Sequence[Path]) -> None:
    for p in paths:
        if not p.is_file():
            raise InputError(f"PubTator file {p} does not exist", "check the path")


def train(
    train_paths: Sequence[str | Path],
    dev_path: str | Path,
    out_dir: str | Path,
    *,
    config: TrainConfig | None = None,
    epochs: int = 8,
    seed: int = 0,
    extra_disease_paths: Sequence[str | Path] = (),
    limit: int | None = None,
    work_dir: str | Path | None = None,
    name: str = "litmine_bc5cdr",
) -> Path:
    """Train a CHEMICAL/DISEASE NER pipeline and save it to ``out_dir``.

    Args:
        train_paths: PubTator training files annotating both labels (BC5CDR train).
        dev_path: PubTator file for model selection (BC5CDR dev).
        out_dir: Folder for the saved pipeline (created or replaced).
        config: Hyper-parameters; the default is litmine's shipped CNN.
        epochs: Passes over the training data.
        seed: Random seed (spaCy, thinc, numpy).
        extra_disease_paths: PubTator files annotating diseases only (NCBI
            Disease); their other tokens are marked missing, not outside, so
            chemicals in them are not taught as non-entities.
        limit: Use only the first ``limit`` documents of each file (tests).
        work_dir: Folder for the corpora, config and checkpoints; a temporary
            folder (removed afterwards) when None.
        name: Package name written to the pipeline's meta.

    Returns:
        ``out_dir``.

    Raises:
        InputError: A corpus file is missing or unusable.
        MissingDependencyError: spaCy is not installed.
    """
    config = config or TrainConfig()
    train_files = [Path(p) for p in train_paths]
    extra_files = [Path(p) for p in extra_disease_paths]
    dev_file = Path(dev_path)
    _check_paths([*train_files, *extra_files, dev_file])
    out = Path(out_dir)
    tmp: tempfile.TemporaryDirectory[str] | None = None
    if work_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="litmine-ner-")
        work = Path(tmp.name)
    else:
        work = Path(work_dir)
        work.mkdir(parents=True, exist_ok=True)
    try:
        return _train(
            train_files, dev_file, extra_files, out, work,
            config=config, epochs=epochs, seed=seed, limit=limit, name=name,
        )  # fmt: skip
    finally:
        if tmp is not None:
            tmp.cleanup()


def _limited(path: Path, limit: int | None, work: Path) -> Path:
    if limit is None:
        return path
    from litmine.ner.pubtator import read_pubtator

    docs = []
    for i, d in enumerate(read_pubtator(path)):
        if i >= limit:
            break
        lines = [f"{d.pmid}|t|{d.title}", f"{d.pmid}|a|{d.abstract}"]
        for m in d.mentions:
            cols = [d.pmid, str(m.start), str(m.end), m.text, m.type, "|".join(m.ids) or "-1"]
            lines.append("\t".join(cols))
        docs.append("\n".join(lines))
    target = work / "limited" / path.name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n\n".join(docs) + "\n", encoding="utf-8")
    return target


def _train(
    train_files: list[Path],
    dev_file: Path,
    extra_files: list[Path],
    out: Path,
    work: Path,
    *,
    config: TrainConfig,
    epochs: int,
    seed: int,
    limit: int | None,
    name: str,
) -> Path:
    from litmine.ner.tokenizer import biomedical_tokenizer

    try:
        import spacy
        from spacy.cli.train import train as spacy_train
    except ImportError as exc:  # pragma: no cover - spaCy is a hard dependency
        from litmine.errors import MissingDependencyError

        raise MissingDependencyError("spaCy", "pip install 'spacy>=3.7,<3.9'") from exc

    nlp = spacy.blank("en")
    nlp.tokenizer = biomedical_tokenizer(nlp)
    corpus = work / "corpus"
    shutil.rmtree(corpus, ignore_errors=True)
    stats: dict[str, ConversionStats] = {}
    n_words = 0
    for i, path in enumerate(train_files):
        stats[path.name] = st = ConversionStats()
        db = to_docbin(nlp, [_limited(path, limit, work)], corpus / "train" / f"{i}-main.spacy",
                       stats=st)  # fmt: skip
        n_words += sum(len(d) for d in db.get_docs(nlp.vocab))
    for i, path in enumerate(extra_files):
        stats[path.name] = st = ConversionStats()
        db = to_docbin(nlp, [_limited(path, limit, work)], corpus / "train" / f"{i}-extra.spacy",
                       only_labels_annotated=True, stats=st)  # fmt: skip
        n_words += sum(len(d) for d in db.get_docs(nlp.vocab))
    stats[dev_file.name] = st = ConversionStats()
    to_docbin(nlp, [_limited(dev_file, limit, work)], corpus / "dev.spacy", stats=st)
    (work / "conversion.json").write_text(
        json.dumps({k: asdict(v) for k, v in stats.items()}, indent=2), encoding="utf-8"
    )
    mean_batch = (config.batch_words[0] + config.batch_words[1]) / 2
    total_steps = int(epochs * n_words / mean_batch) + 1
    cfg_path = work / "config.cfg"
    cfg_path.write_text(
        build_config(config, epochs=epochs, seed=seed, total_steps=total_steps), encoding="utf-8"
    )
    overrides = {"paths.train": str(corpus / "train"), "paths.dev": str(corpus / "dev.spacy")}
    overrides.update(config.extra)
    started = time.perf_counter()
    spacy_train(cfg_path, work / "output", use_gpu=-1, overrides=overrides)
    elapsed = time.perf_counter() - started

    meta = {
        "name": name,
        "litmine": {
            "train_files": [p.name for p in train_files],
            "extra_disease_files": [p.name for p in extra_files],
            "dev_file": dev_file.name,
            "epochs": epochs,
            "seed": seed,
            "config": asdict(config),
            "train_seconds": round(elapsed, 1),
            "conversion": {k: asdict(v) for k, v in stats.items()},
        },
    }
    package_pipeline(work / "output" / "model-best", out, meta=meta)
    log.info("saved NER pipeline to %s (%.0f s of training)", out, elapsed)
    return out


def package_pipeline(
    model_dir: str | Path, out_dir: str | Path, *, meta: dict[str, Any] | None = None
) -> Path:
    """Save a trained checkpoint as a litmine pipeline (biomedical tokenizer, meta).

    Used at the end of :func:`train`, and by hand on ``model-best`` of a run
    that was stopped early.

    Args:
        model_dir: A spaCy pipeline folder (``.../output/model-best``).
        out_dir: Where to save; files other than the pipeline's own (a model
            card) are kept.
        meta: Entries merged into the pipeline's ``meta.json``.

    Returns:
        ``out_dir``.
    """
    import spacy

    from litmine.ner.tokenizer import biomedical_tokenizer

    out = Path(out_dir)
    nlp = spacy.load(model_dir)
    nlp.tokenizer = biomedical_tokenizer(nlp)
    nlp.meta.update(
        {
            "name": "litmine_bc5cdr",
            "version": "0.1.0",
            "description": "litmine CHEMICAL/DISEASE NER (CNN) trained on BC5CDR",
            "labels": {"ner": list(LABELS)},
        }
    )
    nlp.meta.update(meta or {})
    # Ship no corpus vocabulary: the hash embeddings need no strings, only the labels do.
    # (Predictions are identical; strings.json shrinks from ~280 kB of word types to bytes.)
    labels = sorted(str(label) for label in nlp.get_pipe("ner").labels)  # type: ignore[attr-defined]
    nlp.vocab.strings._reset_and_load(labels)
    if out.exists():
        # Keep files placed beside the pipeline (the model card) across retraining.
        for child in out.iterdir():
            if child.is_dir():
                shutil.rmtree(child)
            elif child.name in {"config.cfg", "meta.json", "tokenizer"}:
                child.unlink()
    nlp.to_disk(out)
    return out

"""Train litmine's biomedical NER pipeline (tok2vec + ner) on PubTator corpora.

The spaCy config is built here, from a small :class:`TrainConfig`; the corpora
are converted to ``DocBin`` files with the biomedical tokenizer
(:mod:`litmine.ner.tokenizer`), spaCy's training loop runs, and the best
checkpoint (by entity F1 on the dev corpus) is saved with that tokenizer so it
loads with ``spacy.load(path)`` in any process.

:func:`pretrain` runs ``spacy pretrain`` (character objective) on unlabelled
abstracts; :func:`train` can start the tok2vec from its weights (``init_tok2vec``).
"""

from __future__ import annotations

import json
import logging
import re
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


DEFAULT_EPOCHS = 8
"""Passes over the training data when none are given."""


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


@dataclass(slots=True)
class PretrainConfig:
    """Settings of ``spacy pretrain`` (character objective) for the tok2vec.

    The tok2vec learns to predict the first and last ``n_characters`` characters
    of each word from its context, on unlabelled text.

    Attributes:
        n_characters: Characters predicted at each end of a word.
        hidden_size: Hidden layer of the objective's output model.
        maxout_pieces: Maxout pieces of that hidden layer.
        dropout: Dropout during pretraining.
        learn_rate: Adam learning rate (constant).
        batch_words: Words per batch.
    """

    n_characters: int = 4
    hidden_size: int = 300
    maxout_pieces: int = 3
    dropout: float = 0.2
    learn_rate: float = 0.001
    batch_words: int = 3000


def _pretraining_block(pretrain: PretrainConfig | None, epochs: int, corpus: bool) -> str:
    if pretrain is None:
        return ""
    # Training resolves the whole [corpora] section: only `spacy pretrain` gets its corpus.
    reader = """
[corpora.pretrain]
@readers = "spacy.Corpus.v1"
path = ${paths.raw_text}
max_length = 0
gold_preproc = false
limit = 0
augmenter = null
""" if corpus else ""  # fmt: skip
    return f"""max_epochs = {epochs}
dropout = {pretrain.dropout}
n_save_every = null
n_save_epoch = null
component = "tok2vec"
layer = ""
corpus = "corpora.pretrain"

[pretraining.batcher]
@batchers = "spacy.batch_by_words.v1"
size = {pretrain.batch_words}
discard_oversize = false
tolerance = 0.2
get_length = null

[pretraining.objective]
@architectures = "spacy.PretrainCharacters.v1"
maxout_pieces = {pretrain.maxout_pieces}
hidden_size = {pretrain.hidden_size}
n_characters = {pretrain.n_characters}

[pretraining.optimizer]
@optimizers = "Adam.v1"
beta1 = 0.9
beta2 = 0.999
L2_is_weight_decay = true
L2 = 0.01
grad_clip = 1.0
use_averages = true
eps = 0.00000001
learn_rate = {pretrain.learn_rate}
{reader}"""


def build_config(
    config: TrainConfig,
    *,
    epochs: int,
    seed: int,
    total_steps: int,
    pretrain: PretrainConfig | None = None,
    pretrain_corpus: bool = False,
) -> str:
    """Render the spaCy training config for ``config``.

    Args:
        config: Hyper-parameters.
        epochs: Passes over the training corpus.
        seed: Random seed.
        total_steps: Expected optimiser steps (for the learning-rate schedule).
        pretrain: Render the ``[pretraining]`` block (and its corpus) too: needed by
            ``spacy pretrain``, and by training from pretrained tok2vec weights
            (``initialize.init_tok2vec``), which reads its component and layer.
        pretrain_corpus: Also render ``[corpora.pretrain]`` (``paths.raw_text``), for
            ``spacy pretrain`` only.

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
raw_text = null

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
{_pretraining_block(pretrain, epochs, pretrain_corpus)}
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
    epochs: int = DEFAULT_EPOCHS,
    seed: int = 0,
    extra_disease_paths: Sequence[str | Path] = (),
    limit: int | None = None,
    work_dir: str | Path | None = None,
    name: str = "litmine_bc5cdr",
    init_tok2vec: str | Path | None = None,
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
        init_tok2vec: Start the tok2vec from these weights (written by
            :func:`pretrain` with the same ``config``) instead of at random.

    Returns:
        ``out_dir``.

    Raises:
        InputError: A corpus or weights file is missing or unusable.
        MissingDependencyError: spaCy is not installed.
    """
    config = config or TrainConfig()
    init = Path(init_tok2vec) if init_tok2vec is not None else None
    if init is not None and not init.is_file():
        raise InputError(f"tok2vec weights {init} do not exist", "run `litmine ner pretrain`")
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
            config=config, epochs=epochs, seed=seed, limit=limit, name=name, init_tok2vec=init,
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
    init_tok2vec: Path | None = None,
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
    pretrain_block = PretrainConfig() if init_tok2vec is not None else None
    cfg_path.write_text(
        build_config(
            config, epochs=epochs, seed=seed, total_steps=total_steps, pretrain=pretrain_block
        ),
        encoding="utf-8",
    )
    overrides: dict[str, Any] = {
        "paths.train": str(corpus / "train"),
        "paths.dev": str(corpus / "dev.spacy"),
    }
    if init_tok2vec is not None:
        overrides["initialize.init_tok2vec"] = str(init_tok2vec.resolve())
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
            "init_tok2vec": init_tok2vec.name if init_tok2vec is not None else None,
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
    # The weights are in the pipeline now; drop the (machine-local) source paths.
    nlp.config["initialize"]["init_tok2vec"] = None
    nlp.config["paths"]["train"] = None
    nlp.config["paths"]["dev"] = None
    if "raw_text" in nlp.config["paths"]:
        nlp.config["paths"]["raw_text"] = None
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


def _csv_abstract(raw: str) -> str:
    """SciFact's ``abstract`` column: a printed list of sentence strings, or plain text."""
    import ast
    import io
    import tokenize

    raw = raw.strip()
    if not raw.startswith("["):
        return raw
    parts: list[str] = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(raw).readline):
            if tok.type == tokenize.STRING:
                parts.append(str(ast.literal_eval(tok.string)))
    except (tokenize.TokenError, SyntaxError, ValueError):
        return raw.strip("[]")
    return " ".join(p.strip() for p in parts if p.strip())


def read_texts(path: str | Path) -> list[tuple[str, str]]:
    """Read unlabelled abstracts as ``(id, text)`` pairs, by file type.

    - PubTator (``PMID|t|...`` lines): ``title + " " + abstract``, id the PMID;
      mentions are ignored.
    - ``.json`` in PubMedQA's form (``{pmid: {"CONTEXTS": [...]}}``): the contexts
      joined, id the PMID.
    - ``.csv`` with ``title`` and ``abstract`` columns (SciFact's corpus; an
      abstract printed as a list of sentences is joined): id from ``doc_id``.
    - ``.jsonl``: one ``{"text": ...}`` object a line (optional ``"id"``).
    - Any other file: one text a non-empty line.

    Args:
        path: The file.

    Returns:
        The texts, in file order.

    Raises:
        InputError: The file is missing or not in a recognised form.
    """
    import csv

    p = Path(path)
    if not p.is_file():
        raise InputError(f"text file {p} does not exist", "check the path")
    raw = p.read_text(encoding="utf-8")
    first = raw.lstrip().split("\n", 1)[0]
    out: list[tuple[str, str]] = []
    if "|t|" in first:
        from litmine.ner.pubtator import read_pubtator

        return [(d.pmid, f"{d.title} {d.abstract}") for d in read_pubtator(p)]
    suffix = p.suffix.lower()
    try:
        if suffix == ".json":
            data = json.loads(raw)
            if not isinstance(data, dict):
                raise InputError(f"{p}: expected a JSON object of records")
            for key, rec in data.items():
                contexts = rec.get("CONTEXTS") if isinstance(rec, dict) else None
                if not isinstance(contexts, list):
                    raise InputError(f"{p}: record {key} has no CONTEXTS list")
                out.append((str(key), " ".join(str(c) for c in contexts)))
        elif suffix == ".csv":
            csv.field_size_limit(1 << 30)
            reader = csv.DictReader(raw.splitlines())
            if not reader.fieldnames or "abstract" not in reader.fieldnames:
                raise InputError(f"{p}: a CSV file needs an 'abstract' column")
            for i, row in enumerate(reader):
                text = " ".join(
                    t for t in (row.get("title", "").strip(), _csv_abstract(row["abstract"])) if t
                )
                out.append((row.get("doc_id") or f"{p.name}:{i}", text))
        elif suffix == ".jsonl":
            for i, line in enumerate(raw.splitlines()):
                if line.strip():
                    rec = json.loads(line)
                    out.append((str(rec.get("id", f"{p.name}:{i}")), str(rec["text"])))
        else:
            out = [(f"{p.name}:{i}", ln.strip()) for i, ln in enumerate(raw.splitlines())]
    except (json.JSONDecodeError, KeyError, csv.Error) as exc:
        raise InputError(f"cannot read texts from {p}: {exc}") from exc
    return [(i, t) for i, t in out if t.strip()]


def _text_key(text: str) -> str:
    return " ".join(text.lower().split())[:100]


def collect_texts(
    paths: Sequence[str | Path], *, exclude_paths: Sequence[str | Path] = ()
) -> tuple[list[str], dict[str, Any]]:
    """Unlabelled texts for pretraining, deduplicated, without excluded documents.

    A text is dropped when its id (PMID) or its first 100 characters (case and
    spacing ignored) match a document of ``exclude_paths`` (the dev set), or an
    earlier text.

    Args:
        paths: Files readable by :func:`read_texts`.
        exclude_paths: Files whose documents must not be used (evaluation data).

    Returns:
        The texts, and per-file counts (read, kept, excluded, duplicates).
    """
    banned_ids: set[str] = set()
    banned_keys: set[str] = set()
    for path in exclude_paths:
        for doc_id, text in read_texts(path):
            banned_ids.add(doc_id)
            banned_keys.add(_text_key(text))
    seen: set[str] = set()
    texts: list[str] = []
    stats: dict[str, Any] = {}
    for path in paths:
        st = stats[Path(path).name] = {"read": 0, "kept": 0, "excluded": 0, "duplicates": 0}
        for doc_id, text in read_texts(path):
            st["read"] += 1
            key = _text_key(text)
            if doc_id in banned_ids or key in banned_keys:
                st["excluded"] += 1
            elif key in seen:
                st["duplicates"] += 1
            else:
                seen.add(key)
                texts.append(text)
                st["kept"] += 1
    return texts, stats


def pretrain(
    text_paths: Sequence[str | Path],
    out_dir: str | Path,
    *,
    config: TrainConfig | None = None,
    pretrain_config: PretrainConfig | None = None,
    epochs: int = 5,
    seed: int = 0,
    exclude_paths: Sequence[str | Path] = (),
    limit: int | None = None,
    resume: str | Path | None = None,
) -> Path:
    """Pretrain the tok2vec of ``config`` on unlabelled text (``spacy pretrain``).

    The texts are tokenized with the biomedical tokenizer, as the NER training
    data are; the character objective (:class:`PretrainConfig`) needs no labels.
    Pass the returned file to :func:`train` as ``init_tok2vec``, with the same
    ``config`` (the weights only fit a tok2vec of the same shape).

    Args:
        text_paths: Files readable by :func:`read_texts`.
        out_dir: Folder for the weights: ``model{epoch}.bin`` after each epoch,
            ``model-last.bin``, ``log.jsonl`` (losses) and ``texts.json`` (counts).
        config: Tok2vec shape (the NER training's :class:`TrainConfig`).
        pretrain_config: Objective and optimiser settings.
        epochs: Passes over the texts.
        seed: Random seed.
        exclude_paths: Documents never to pretrain on (the dev set), matched by id
            and by text.
        limit: Use only the first ``limit`` texts (tests).
        resume: Continue from these weights (``model{N}.bin`` of an earlier run
            with the same settings): epochs ``N + 1`` to ``epochs - 1`` run, with a
            fresh optimiser.

    Returns:
        The final weights, ``out_dir / "model-last.bin"``.

    Raises:
        InputError: A text file is missing or unreadable, or no text is left.
    """
    import spacy
    from spacy.tokens import DocBin
    from spacy.training.pretrain import pretrain as spacy_pretrain
    from thinc.api import Config

    from litmine.ner.tokenizer import biomedical_tokenizer

    config = config or TrainConfig()
    pconf = pretrain_config or PretrainConfig()
    texts, stats = collect_texts(text_paths, exclude_paths=exclude_paths)
    if limit is not None:
        texts = texts[:limit]
    if not texts:
        raise InputError("no text to pretrain on", "check --texts and --exclude")
    resume_path = Path(resume) if resume is not None else None
    if resume_path is not None and not re.fullmatch(r"model\d+\.bin", resume_path.name):
        raise InputError(f"cannot resume from {resume_path}", "pass a model<N>.bin file")
    if resume_path is not None and not resume_path.is_file():
        raise InputError(f"tok2vec weights {resume_path} do not exist")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if resume_path is None:
        for old in [*out.glob("model*.bin"), out / "log.jsonl"]:
            old.unlink(missing_ok=True)
    nlp = spacy.blank("en")
    nlp.tokenizer = biomedical_tokenizer(nlp)
    with tempfile.TemporaryDirectory(prefix="litmine-pretrain-") as tmp:
        raw = Path(tmp) / "texts.spacy"
        db = DocBin(store_user_data=False)
        n_words = 0
        for doc in nlp.tokenizer.pipe(texts, batch_size=256):
            db.add(doc)
            n_words += len(doc)
        db.to_disk(raw)
        text = build_config(
            config, epochs=1, seed=seed, total_steps=1, pretrain=pconf, pretrain_corpus=True
        )
        cfg = Config().from_str(text, interpolate=False)
        cfg["paths"]["raw_text"] = str(raw)
        cfg["pretraining"]["max_epochs"] = epochs
        # Fill spaCy's defaults (tokenizer, ...) as `spacy train` does; then resolve variables.
        cfg = spacy.util.load_model_from_config(cfg, auto_fill=True).config.interpolate()
        info = {"texts": len(texts), "words": n_words, "epochs": epochs, "seed": seed,
                "resumed_from": resume_path.name if resume_path else None,
                "files": stats, "config": asdict(config), "pretrain": asdict(pconf)}  # fmt: skip
        (out / "texts.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
        log.info("pretraining on %d texts (%d words), %d epochs", len(texts), n_words, epochs)
        started = time.perf_counter()
        spacy_pretrain(cfg, out, resume_path=resume_path, use_gpu=-1, silent=False)
        log.info("pretrained in %.0f s", time.perf_counter() - started)
    return out / "model-last.bin"

"""Train the CNN NER pipeline and package it (part of :mod:`litmine.ner.train`).

:func:`train` converts the corpora (:mod:`~litmine.ner.train.corpus`), renders
the config (:mod:`~litmine.ner.train.spacy_config`), runs spaCy's training loop
and saves the best checkpoint (by entity F1 on the dev corpus) with
:func:`package_pipeline`: biomedical tokenizer, meta, no corpus vocabulary, so
it loads with ``spacy.load(path)`` in any process.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from litmine.errors import InputError
from litmine.ner.pubtator import LABELS
from litmine.ner.train.corpus import _check_paths, convert_corpora
from litmine.ner.train.spacy_config import (
    DEFAULT_EPOCHS,
    PretrainConfig,
    TrainConfig,
    build_config,
)

log = logging.getLogger(__name__)


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
    stats, n_words = convert_corpora(nlp, train_files, extra_files, dev_file, work, limit=limit)
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

"""Fine-tune the transformer tagger on PubTator corpora and save the pipeline.

Part of :mod:`litmine.ner.transformer`. :func:`train_transformer` fine-tunes
the encoder with a token-classification head on gold documents (AdamW, linear
warm-up and decay, frozen word embeddings, a fixed number of epochs);
:func:`train_pipeline` reads PubTator files, trains, saves the pipeline and,
given a dev file, scores it afterwards (never to select).
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import cast

from spacy.language import Language
from spacy.tokens import Doc

from litmine._compat import batched
from litmine.errors import InputError
from litmine.ner.pubtator import LABELS
from litmine.ner.transformer.bio import bio_tags, tag_set
from litmine.ner.transformer.component import _FROZEN, DEFAULT_BASE, FACTORY, TransformerNer
from litmine.ner.transformer.windows import _tensors, _torch, _windows

log = logging.getLogger(__name__)


@dataclass(slots=True)
class TransformerTrainConfig:
    """Hyper-parameters of the transformer fine-tuning.

    Attributes:
        base: Encoder to fine-tune (name or folder).
        epochs: Passes over the training windows (fixed: no selection on dev).
        learn_rate: AdamW peak learning rate (linear warm-up, then linear decay).
        warmup: Fraction of the steps spent warming up.
        weight_decay: AdamW weight decay.
        batch_size: Windows per step.
        max_length: Word pieces per window.
        stride: Word pieces shared by consecutive windows.
        seed: Seed of shuffling and the head's initialisation.
        threads: Torch CPU threads (None: torch's default).
    """

    base: str = DEFAULT_BASE
    epochs: int = 12
    learn_rate: float = 1e-4
    warmup: float = 0.1
    weight_decay: float = 0.01
    batch_size: int = 8
    max_length: int = 512
    stride: int = 128
    seed: int = 0
    threads: int | None = None


def train_transformer(
    train_docs: Sequence[Doc],
    nlp: Language,
    config: TransformerTrainConfig | None = None,
    *,
    labels: Sequence[str] = LABELS,
    progress: Callable[[int, int, float], None] | None = None,
) -> TransformerNer:
    """Fine-tune a transformer NER component on gold-annotated documents.

    Args:
        train_docs: Documents tokenised with ``nlp``'s tokenizer, gold ``doc.ents`` set.
        nlp: A blank pipeline with the biomedical tokenizer; the trained
            component is added to it as ``ner``.
        config: Hyper-parameters.
        labels: Entity labels.
        progress: Called with (epoch, epochs, mean loss) after each epoch.

    Returns:
        The trained component (also added to ``nlp``).

    Raises:
        InputError: No training documents.
    """
    config = config or TransformerTrainConfig()
    if not train_docs:
        raise InputError("no training documents", "give a PubTator file with annotated abstracts")
    torch = _torch()
    if config.threads:
        torch.set_num_threads(config.threads)
    random.seed(config.seed)
    torch.manual_seed(config.seed)
    component = cast(
        TransformerNer,
        nlp.add_pipe(
            FACTORY,
            name="ner",
            config={"base": config.base, "max_length": config.max_length, "stride": config.stride},
        ),
    )
    component.labels = list(labels)
    component.tags = tag_set(labels)
    component.initialize()
    index = {t: i for i, t in enumerate(component.tags)}
    words = [[t.text for t in d] for d in train_docs]
    tags = [[index.get(t, 0) for t in bio_tags(d)] for d in train_docs]
    windows = _windows(
        component.tokenizer,
        words,
        max_length=config.max_length,
        stride=config.stride,
        tags=tags,
    )
    model = component.model
    for name, param in model.named_parameters():
        if name.endswith(_FROZEN):
            param.requires_grad_(False)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.learn_rate, weight_decay=config.weight_decay)
    steps = config.epochs * math.ceil(len(windows) / config.batch_size)
    warm = max(1, int(steps * config.warmup))

    def schedule(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return max(0.0, (steps - step) / max(1, steps - warm))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    pad = component.tokenizer.pad_token_id or 0
    model.train()
    for epoch in range(config.epochs):
        # Similar lengths per batch (less padding), batches in random order.
        keys = [(len(w.input_ids), random.random()) for w in windows]
        order = sorted(range(len(windows)), key=keys.__getitem__)
        batches = list(batched([windows[i] for i in order], config.batch_size))
        random.shuffle(batches)
        total, started = 0.0, time.perf_counter()
        for batch in batches:
            loss = model(**_tensors(batch, pad, labels=True)).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            total += loss.item()
        mean = total / max(1, len(batches))
        log.info(
            "epoch %d/%d loss %.4f (%.0f s)",
            epoch + 1,
            config.epochs,
            mean,
            time.perf_counter() - started,
        )
        if progress is not None:
            progress(epoch + 1, config.epochs, mean)
    model.eval()
    return component


def train_pipeline(
    train_paths: Sequence[str | Path],
    out_dir: str | Path,
    *,
    config: TransformerTrainConfig | None = None,
    dev_path: str | Path | None = None,
    limit: int | None = None,
    name: str = "litmine_bc5cdr_minilm",
) -> Path:
    """Fine-tune a transformer NER pipeline on PubTator files and save it.

    The schedule is fixed (``config.epochs``); ``dev_path``, when given, is only
    scored after training and the scores are written to the pipeline's meta.

    Args:
        train_paths: PubTator files annotating both labels (BC5CDR train).
        out_dir: Folder for the pipeline (``spacy.load``-able once litmine is installed).
        config: Hyper-parameters.
        dev_path: PubTator file scored after training (never used to select).
        limit: Use only the first ``limit`` documents of each file (tests).
        name: Package name written to the pipeline's meta.

    Returns:
        ``out_dir``.

    Raises:
        InputError: A corpus is missing or holds no documents.
    """
    import spacy

    from litmine.ner.eval import evaluate
    from litmine.ner.pubtator import ConversionStats, read_pubtator, to_docs
    from litmine.ner.tokenizer import biomedical_tokenizer

    config = config or TransformerTrainConfig()
    files = [Path(p) for p in train_paths]
    for path in [*files, *([Path(dev_path)] if dev_path else [])]:
        if not path.is_file():
            raise InputError(f"PubTator file {path} does not exist", "check the path")
    nlp = spacy.blank("en")
    nlp.tokenizer = biomedical_tokenizer(nlp)
    stats = ConversionStats()
    docs: list[Doc] = []
    for path in files:
        pdocs = list(read_pubtator(path))[:limit]
        docs.extend(to_docs(nlp, pdocs, stats=stats))
    started = time.perf_counter()
    train_transformer(docs, nlp, config)
    elapsed = time.perf_counter() - started
    nlp.meta.update(
        {
            "name": name,
            "version": "0.1.0",
            "description": "litmine CHEMICAL/DISEASE NER (fine-tuned MiniLM) trained on BC5CDR",
            "labels": {"ner": list(LABELS)},
            "litmine": {
                "arch": "transformer",
                "train_files": [p.name for p in files],
                "config": asdict(config),
                "train_seconds": round(elapsed, 1),
                "conversion": asdict(stats),
            },
        }
    )
    out = Path(out_dir)
    nlp.to_disk(out)
    if dev_path is not None:
        scores = evaluate(spacy.load(out), dev_path, limit=limit)
        nlp.meta["litmine"]["dev"] = {"file": Path(dev_path).name, **scores.as_dict()}
        (out / "meta.json").write_text(json.dumps(nlp.meta, indent=2) + "\n", encoding="utf-8")
    log.info("saved transformer NER pipeline to %s (%.0f s of training)", out, elapsed)
    return out

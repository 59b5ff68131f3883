"""Adapt the embedding model to the user's own collection, without labels.

An article's title is a short statement of what its abstract reports, phrased
much like a clinician's question or a claim to check. Fine-tuning the
sentence-transformers model to find an article's passages from its title, with
the other articles of the batch as negatives (the in-batch softmax loss of
``MultipleNegativesRankingLoss``, here in both directions), pulls the vector
space toward the collection's own vocabulary and topics. No labels and no
network are needed: the pairs come from the store.

:func:`title_groups` and :func:`pair_batches` are pure; :func:`adapt_model`
trains and saves a sentence-transformers folder (atomically: a temporary folder
renamed at the end) with ``litmine_adapt.json`` recording how it was made.
Point ``embed.model`` at that folder and run ``litmine index build``.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from litmine.errors import InputError, MissingDependencyError

if TYPE_CHECKING:
    from litmine.config import Settings
    from litmine.store import Store
    from litmine.types import Passage

__all__ = [
    "AdaptParams",
    "AdaptReport",
    "adapt_from_store",
    "adapt_model",
    "pair_batches",
    "title_groups",
]

CARD_NAME = "litmine_adapt.json"
# Titles shorter than this ("Editorial", "Letter") say nothing about their passages.
MIN_TITLE_CHARS = 20


@dataclass(frozen=True, slots=True)
class AdaptParams:
    """How the adaptation trains.

    Attributes:
        epochs: Passes over the articles (one random passage per article each).
        batch_size: Articles per step; more in-batch negatives per step.
        learning_rate: AdamW peak learning rate (linear warm-up over the first
            10% of steps, then linear decay to 0).
        scale: Inverse temperature of the in-batch softmax (cosine x scale).
        max_articles: Use at most this many articles (a random sample); None for all.
        max_seq_length: Word pieces kept per text during training.
        seed: Seed for sampling and initialisation, so a run can be repeated.
    """

    epochs: int = 1
    batch_size: int = 32
    learning_rate: float = 2e-5
    scale: float = 20.0
    max_articles: int | None = None
    max_seq_length: int = 256
    seed: int = 0


@dataclass(slots=True)
class AdaptReport:
    """What an adaptation run did.

    Attributes:
        model_dir: The saved sentence-transformers folder.
        base_model: The model it started from (as configured).
        articles: Articles used (each contributes title -> passage pairs).
        steps: Optimiser steps taken.
        seconds: Wall time of the training.
        first_loss: Mean loss over the first 10% of steps.
        last_loss: Mean loss over the last 10% of steps.
        params: The training parameters.
    """

    model_dir: Path
    base_model: str
    articles: int
    steps: int
    seconds: float
    first_loss: float
    last_loss: float
    params: AdaptParams = field(default_factory=AdaptParams)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (paths as strings)."""
        out = asdict(self)
        out["model_dir"] = str(self.model_dir)
        return out


def title_groups(
    passages: Iterable[Passage], *, min_title_chars: int = MIN_TITLE_CHARS
) -> list[tuple[str, list[str]]]:
    """Group passages into (title, passage texts) per article, in first-seen order.

    Articles whose title is missing or shorter than ``min_title_chars`` are left
    out: such titles cannot stand in for a question.

    Args:
        passages: Passages of any number of articles (``title`` filled).
        min_title_chars: Shortest usable title.

    Returns:
        One ``(title, [passage text, ...])`` per usable article.
    """
    groups: dict[str, tuple[str, list[str]]] = {}
    for passage in passages:
        title = " ".join(passage.title.split())
        text = passage.text.strip()
        if len(title) < min_title_chars or not text:
            continue
        groups.setdefault(passage.pmid, (title, []))[1].append(text)
    return list(groups.values())


def pair_batches(
    groups: Sequence[tuple[str, Sequence[str]]], batch_size: int, rng: random.Random
) -> list[list[tuple[str, str]]]:
    """One epoch of (title, passage) batches with no article twice in a batch.

    Each article gives one randomly chosen passage per epoch, so the other
    pairs of a batch are true negatives for its title; the last incomplete
    batch is dropped (a tiny batch has too few negatives to teach anything).

    Args:
        groups: ``(title, passages)`` per article, as from :func:`title_groups`.
        batch_size: Pairs per batch (at least 2).
        rng: Random source (shuffling and the passage choice).

    Returns:
        The batches of the epoch.
    """
    if batch_size < 2:
        raise InputError(f"batch size must be at least 2, got {batch_size}")
    order = list(range(len(groups)))
    rng.shuffle(order)
    pairs = [(groups[i][0], rng.choice(list(groups[i][1]))) for i in order]
    return [
        pairs[start : start + batch_size]
        for start in range(0, len(pairs) - batch_size + 1, batch_size)
    ]


def _lr_factor(step: int, total: int) -> float:
    warmup = max(1, math.ceil(0.1 * total))
    if step < warmup:
        return (step + 1) / warmup
    return max(0.0, (total - step) / max(1, total - warmup))


def adapt_model(
    groups: Sequence[tuple[str, Sequence[str]]],
    base_model: str,
    out: Path,
    params: AdaptParams | None = None,
    *,
    progress: Callable[[int, int, float], None] | None = None,
) -> AdaptReport:
    """Fine-tune a sentence-transformers model on title -> passage pairs and save it.

    Args:
        groups: ``(title, passages)`` per article (:func:`title_groups`).
        base_model: Model name or folder to start from (resolved like
            ``embed.model``; the default loads the bundled MiniLM offline).
        out: Folder to write; replaced atomically when training completes.
        params: Training parameters; None uses the defaults.
        progress: Called as ``progress(step, total_steps, loss)`` after each step.

    Returns:
        The run's report (also written to ``out/litmine_adapt.json``).

    Raises:
        InputError: Fewer usable articles than one batch.
        MissingDependencyError: torch or sentence-transformers is missing.
        ModelNotFoundError: The base model cannot be loaded.
    """
    params = params or AdaptParams()
    if params.epochs < 1:
        raise InputError(f"epochs must be at least 1, got {params.epochs}")
    rng = random.Random(params.seed)
    groups = list(groups)
    if params.max_articles is not None and len(groups) > params.max_articles:
        groups = rng.sample(groups, params.max_articles)
    if len(groups) < max(2, params.batch_size):
        raise InputError(
            f"{len(groups)} article(s) with a usable title and passages; "
            f"adaptation needs at least one batch ({params.batch_size})",
            "ingest more articles, or lower --batch-size",
        )
    try:
        import torch
        import torch.nn.functional as F
    except ImportError as exc:
        raise MissingDependencyError("torch", "pip install torch sentence-transformers") from exc
    from litmine.config import EmbedSettings
    from litmine.vectors.embed import _load_sentence_transformer

    torch.manual_seed(params.seed)
    model = _load_sentence_transformer(
        base_model, EmbedSettings(model=base_model, max_seq_length=params.max_seq_length)
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=params.learning_rate)
    total = params.epochs * (len(groups) // params.batch_size)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: _lr_factor(s, total))

    def embed(texts: list[str]) -> torch.Tensor:
        # ``preprocess`` replaced ``tokenize`` in sentence-transformers 6.
        prepare = getattr(model, "preprocess", None) or model.tokenize
        features = prepare(texts)
        return F.normalize(model(features)["sentence_embedding"], dim=-1)

    losses: list[float] = []
    started = time.perf_counter()
    model.train()
    for _ in range(params.epochs):
        for batch in pair_batches(groups, params.batch_size, rng):
            titles = [t for t, _ in batch]
            texts = [p for _, p in batch]
            sim = embed(titles) @ embed(texts).T * params.scale
            labels = torch.arange(len(batch))
            # Both directions: title -> its passage and passage -> its title.
            loss = (F.cross_entropy(sim, labels) + F.cross_entropy(sim.T, labels)) / 2
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            losses.append(float(loss.item()))
            if progress is not None:
                progress(len(losses), total, losses[-1])
    model.eval()
    seconds = time.perf_counter() - started
    tenth = max(1, len(losses) // 10)
    report = AdaptReport(
        model_dir=out,
        base_model=base_model,
        articles=len(groups),
        steps=len(losses),
        seconds=round(seconds, 2),
        first_loss=round(sum(losses[:tenth]) / tenth, 4),
        last_loss=round(sum(losses[-tenth:]) / tenth, 4),
        params=params,
    )
    _save_atomically(model, out, report)
    return report


def _save_atomically(model: Any, out: Path, report: AdaptReport) -> None:
    out = out.expanduser().resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        model.save(str(tmp))
        card = report.as_dict() | {"model_dir": str(out)}
        (tmp / CARD_NAME).write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
        if out.exists():
            old = out.with_name(f".{out.name}-old")
            shutil.rmtree(old, ignore_errors=True)
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def adapt_from_store(
    store: Store,
    settings: Settings,
    out: Path,
    params: AdaptParams | None = None,
    *,
    progress: Callable[[int, int, float], None] | None = None,
) -> AdaptReport:
    """Adapt ``settings.embed.model`` to the articles in the store.

    Args:
        store: Open store; its passages (with titles) are the training pairs.
        settings: ``embed.model`` is the starting model.
        out: Folder for the adapted model.
        params: Training parameters; None uses the defaults.
        progress: Per-step callback, as in :func:`adapt_model`.

    Returns:
        The run's report.
    """
    groups = title_groups(p for batch in store.iter_passages() for p in batch)
    return adapt_model(groups, settings.embed.model, out, params, progress=progress)

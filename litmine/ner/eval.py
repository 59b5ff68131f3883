"""Evaluate an NER pipeline against PubTator gold mentions.

Scoring is strict: a prediction counts only when its character span and label
equal a gold mention's on ``title + " " + abstract`` (the text PubTator offsets
refer to). Gold mentions are deduplicated by (start, end, label); composite
mentions count once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from litmine.ner.pubtator import LABELS, PubtatorDoc, read_pubtator

if TYPE_CHECKING:
    from spacy.language import Language

Span = tuple[int, int, str]


@dataclass(slots=True)
class LabelScores:
    """Counts and scores of one label (or of all labels together)."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        """Tp / (tp + fp); 0 when nothing was predicted."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        """Tp / (tp + fn); 0 when there is no gold mention."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall."""
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict[str, float | int]:
        """Counts and rounded scores, JSON-ready."""
        return {
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
        }


@dataclass(slots=True)
class NerScores:
    """Result of :func:`evaluate`.

    Attributes:
        per_label: Scores per label (``CHEMICAL``, ``DISEASE``).
        overall: Micro-averaged scores over all labels.
        docs: Documents evaluated.
        seconds: Wall time of the predictions.
    """

    per_label: dict[str, LabelScores] = field(default_factory=dict)
    overall: LabelScores = field(default_factory=LabelScores)
    docs: int = 0
    seconds: float = 0.0

    @property
    def abstracts_per_second(self) -> float:
        """Throughput of the prediction step."""
        return self.docs / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form (the CLI's ``--json``)."""
        return {
            "overall": self.overall.as_dict(),
            "per_label": {k: v.as_dict() for k, v in sorted(self.per_label.items())},
            "docs": self.docs,
            "seconds": round(self.seconds, 3),
            "abstracts_per_second": round(self.abstracts_per_second, 2),
        }


def gold_spans(doc: PubtatorDoc, labels: Sequence[str] = LABELS) -> set[Span]:
    """The gold (start, end, label) set of a document."""
    return {
        (m.start, m.start + len(m.text.rstrip()), m.label)
        for m in doc.mentions
        if m.label is not None and m.label in labels
    }


def score(
    gold: Iterable[set[Span]], predicted: Iterable[set[Span]], labels: Sequence[str] = LABELS
) -> NerScores:
    """Score predicted spans against gold spans, document by document.

    Args:
        gold: Gold span sets, one per document.
        predicted: Predicted span sets, in the same order.
        labels: Labels reported (others are ignored on both sides).

    Returns:
        The scores (``docs`` set, ``seconds`` left at 0).
    """
    scores = NerScores(per_label={label: LabelScores() for label in labels})
    for g, p in zip(gold, predicted, strict=True):
        scores.docs += 1
        for label in labels:
            gl = {s for s in g if s[2] == label}
            pl = {s for s in p if s[2] == label}
            ls = scores.per_label[label]
            tp = len(gl & pl)
            ls.tp += tp
            ls.fp += len(pl) - tp
            ls.fn += len(gl) - tp
    for ls in scores.per_label.values():
        scores.overall.tp += ls.tp
        scores.overall.fp += ls.fp
        scores.overall.fn += ls.fn
    return scores


def predict_spans(nlp: Language, texts: Sequence[str], *, batch_size: int = 32) -> list[set[Span]]:
    """Run ``nlp`` over texts and return each text's (start, end, label) set."""
    return [
        {(e.start_char, e.end_char, e.label_) for e in doc.ents}
        for doc in nlp.pipe(texts, batch_size=batch_size)
    ]


def evaluate(
    nlp: Language | Callable[[Sequence[str]], list[set[Span]]],
    corpus_path: str | Path,
    *,
    labels: Sequence[str] = LABELS,
    batch_size: int = 32,
    limit: int | None = None,
) -> NerScores:
    """Evaluate a pipeline on a PubTator corpus with exact span + label matching.

    Args:
        nlp: A spaCy pipeline (its ``doc.ents`` are the predictions), or a
            function mapping texts to predicted span sets (to score a whole
            pipeline such as litmine's extraction).
        corpus_path: PubTator file with gold mentions.
        labels: Labels scored.
        batch_size: ``nlp.pipe`` batch size.
        limit: Evaluate only the first ``limit`` documents.

    Returns:
        Precision, recall and F1 per label and overall, and abstracts/s.

    Raises:
        InputError: The corpus cannot be read.
    """
    docs = []
    for i, d in enumerate(read_pubtator(corpus_path)):
        if limit is not None and i >= limit:
            break
        docs.append(d)
    texts = [d.text for d in docs]
    started = time.perf_counter()
    if callable(nlp) and not hasattr(nlp, "pipe"):
        predicted = nlp(texts)
    else:
        predicted = predict_spans(nlp, texts, batch_size=batch_size)  # type: ignore[arg-type]
    elapsed = time.perf_counter() - started
    result = score([gold_spans(d, labels) for d in docs], predicted, labels)
    result.seconds = elapsed
    return result

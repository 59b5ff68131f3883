"""BIO tags: from gold entities, back to spans, and the best well-formed sequence.

Part of :mod:`litmine.ner.transformer`: the tagger predicts one BIO tag per
spaCy token; :func:`viterbi_bio` turns its per-token scores into a sequence
where ``I-X`` only follows ``B-X`` or ``I-X``, and :func:`decode_bio` turns
tags into entity spans. No PyTorch here (numpy only).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from litmine.ner.pubtator import LABELS

if TYPE_CHECKING:
    from spacy.tokens import Doc


def tag_set(labels: Sequence[str] = LABELS) -> list[str]:
    """The BIO tag inventory for ``labels``: ``O``, then ``B-``/``I-`` per label."""
    return ["O", *[f"{p}-{label}" for label in labels for p in ("B", "I")]]


def bio_tags(doc: Doc) -> list[str]:
    """BIO tags of a document's tokens from its ``doc.ents``."""
    tags = ["O"] * len(doc)
    for ent in doc.ents:
        tags[ent.start] = f"B-{ent.label_}"
        for i in range(ent.start + 1, ent.end):
            tags[i] = f"I-{ent.label_}"
    return tags


def decode_bio(tags: Sequence[str]) -> list[tuple[int, int, str]]:
    """Token spans ``(start, end, label)`` from BIO tags.

    An ``I-`` tag that does not continue an entity of its label starts one, as
    most taggers decode (a lone ``I-X`` is a one-token ``X``).

    Args:
        tags: One tag per token.

    Returns:
        Entities as token ``[start, end)`` ranges with their label.
    """
    spans: list[tuple[int, int, str]] = []
    start, label = -1, ""
    for i, tag in enumerate([*tags, "O"]):
        prefix, _, kind = tag.partition("-")
        continues = prefix == "I" and kind == label and start >= 0
        if continues:
            continue
        if start >= 0:
            spans.append((start, i, label))
            start, label = -1, ""
        if prefix in ("B", "I"):
            start, label = i, kind
    return spans


def viterbi_bio(scores: Any, tags: Sequence[str]) -> list[int]:
    """Best well-formed BIO tag sequence (``I-X`` only after ``B-X`` or ``I-X``).

    Args:
        scores: ``(tokens, len(tags))`` array of per-token tag log-probabilities.
        tags: The tag names, in column order (``O``, ``B-X``, ``I-X``...).

    Returns:
        One tag index per token.
    """
    import numpy as np

    n, k = scores.shape
    if n == 0:
        return []
    allowed = np.ones((k, k), dtype=bool)  # allowed[previous, next]
    for j, tag in enumerate(tags):
        if tag.startswith("I-"):
            allowed[:, j] = [t in (f"B-{tag[2:]}", tag) for t in tags]
    start = np.array([not t.startswith("I-") for t in tags])
    penalty = np.where(allowed, 0.0, -np.inf)
    best = np.where(start, scores[0], -np.inf)
    back = np.zeros((n, k), dtype=np.int64)
    for i in range(1, n):
        total = best[:, None] + penalty  # (previous, next)
        back[i] = total.argmax(0)
        best = total.max(0) + scores[i]
    path = [int(best.argmax())]
    for i in range(n - 1, 0, -1):
        path.append(int(back[i, path[-1]]))
    return path[::-1]

"""Deterministic fit/check splits of the labelled questions (SciFact training claims, PubMedQA dev).

A question's split depends only on its dataset name, its id and the seed: a
SHA-256 hash of ``"{seed}:{dataset}:{id}"`` mapped to [0, 1) puts it in
``check`` when below ``check_share``. No file of ids is kept; any module (the
relevance fit in ``bench/answer_trust.py``, retrieval fine-tuning) reproduces
the same split from the ids alone. The official test splits are not here at
all: they are held out of ``../shared/data``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Literal

__all__ = ["CHECK_SHARE", "SEED", "Split", "split_ids", "split_of"]

Split = Literal["fit", "check"]

SEED = 16
"""Seed of the splits used for the shipped relevance model."""

CHECK_SHARE = 0.3
"""Share of questions in the check split."""


def split_of(
    dataset: str, qid: str, *, seed: int = SEED, check_share: float = CHECK_SHARE
) -> Split:
    """The split of one question.

    Args:
        dataset: Dataset name (``"scifact"``, ``"pubmedqa"``).
        qid: The question's id in its dataset (SciFact claim id, PubMedQA PMID).
        seed: Split seed.
        check_share: Share of questions that go to ``check``.

    Returns:
        ``"fit"`` or ``"check"``.

    Raises:
        ValueError: ``check_share`` is outside [0, 1].
    """
    if not 0.0 <= check_share <= 1.0:
        raise ValueError(f"check_share must be in [0, 1], got {check_share}")
    digest = hashlib.sha256(f"{seed}:{dataset}:{qid}".encode()).digest()
    value = int.from_bytes(digest[:8], "big") / 2**64
    return "check" if value < check_share else "fit"


def split_ids(
    dataset: str, ids: Iterable[str], *, seed: int = SEED, check_share: float = CHECK_SHARE
) -> dict[Split, list[str]]:
    """Split many ids at once, keeping their order.

    Args:
        dataset: Dataset name.
        ids: Question ids.
        seed: Split seed.
        check_share: Share of questions that go to ``check``.

    Returns:
        ``{"fit": [...], "check": [...]}``.
    """
    out: dict[Split, list[str]] = {"fit": [], "check": []}
    for qid in ids:
        out[split_of(dataset, qid, seed=seed, check_share=check_share)].append(qid)
    return out

"""Encoder windows: documents cut into word-piece windows and batched as tensors.

Part of :mod:`litmine.ner.transformer`. Long texts are cut into overlapping
windows of at most ``max_length`` word pieces (``stride`` shared); only the
first piece of each spaCy token carries its label and decides its tag.
PyTorch is imported when a batch is built, never at import time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from litmine.errors import MissingDependencyError


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - torch is a core dependency
        raise MissingDependencyError("PyTorch", "pip install 'torch>=2.13,<2.15'") from exc
    return torch


@dataclass(slots=True)
class _Window:
    """One encoder window: word-piece ids and, per piece, its token index."""

    doc: int
    input_ids: list[int]
    token_of: list[int | None]
    labels: list[int] | None = None


def _windows(
    tokenizer: Any,
    words: Sequence[Sequence[str]],
    *,
    max_length: int,
    stride: int,
    tags: Sequence[Sequence[int]] | None = None,
) -> list[_Window]:
    """Cut documents (lists of token texts) into encoder windows.

    Only the first piece of each token carries a label (the rest are -100,
    ignored by the loss), and it is the piece whose logits decide the token.
    """
    # Whitespace tokens give no word pieces; keep them in place as "" words.
    cleaned = [[w if w.strip() else "" for w in ws] for ws in words]
    enc = tokenizer(
        cleaned,
        is_split_into_words=True,
        truncation=True,
        max_length=max_length,
        stride=stride,
        return_overflowing_tokens=True,
        padding=False,
    )
    out: list[_Window] = []
    for i, ids in enumerate(enc["input_ids"]):
        doc = enc["overflow_to_sample_mapping"][i]
        word_ids = enc.word_ids(i)
        token_of: list[int | None] = []
        labels: list[int] | None = [] if tags is not None else None
        previous: int | None = None
        for wid in word_ids:
            first = wid is not None and wid != previous
            token_of.append(wid if first else None)
            if labels is not None and tags is not None:
                labels.append(tags[doc][wid] if first and wid is not None else -100)
            previous = wid
        out.append(_Window(doc=doc, input_ids=list(ids), token_of=token_of, labels=labels))
    return out


def _tensors(batch: Sequence[_Window], pad_id: int, labels: bool = False) -> dict[str, Any]:
    torch = _torch()
    width = max(len(w.input_ids) for w in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    out: dict[str, Any] = {"input_ids": ids, "attention_mask": mask}
    if labels:
        out["labels"] = torch.full((len(batch), width), -100, dtype=torch.long)
    for row, w in enumerate(batch):
        n = len(w.input_ids)
        ids[row, :n] = torch.tensor(w.input_ids)
        mask[row, :n] = 1
        if labels and w.labels is not None:
            out["labels"][row, :n] = torch.tensor(w.labels)
    return out

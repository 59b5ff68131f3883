"""Cluster summaries: a local seq2seq model, or cited extractive sentences.

A :class:`Summarizer` turns the passages of each cluster into one
:class:`~litmine.types.Summary` that says which PMIDs it was made from.

* :class:`Seq2SeqSummarizer` prompts any Hugging Face ``AutoModelForSeq2SeqLM``
  (default ``google/flan-t5-base``) with the question and the cluster's best
  passages, packed in rank order up to the model's input limit, and decodes
  deterministically (beam search, no sampling), several clusters per batch.
  Only the passages that fit in the prompt are cited.
* :class:`ExtractiveSummarizer` picks the cluster's most central sentences
  (cosine to the centroid of the cluster's sentence embeddings, blended with
  similarity to the question) and drops near-duplicates by maximal marginal
  relevance. Every sentence keeps its PMID.

:func:`load_summarizer` returns the seq2seq summariser when its model loads
and the extractive one otherwise, with :attr:`Summarizer.reason` saying why.
torch and transformers are imported only when a seq2seq model is loaded.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from litmine.errors import MissingDependencyError, ModelNotFoundError
from litmine.types import Passage, Summary, SummarySentence
from litmine.vectors.normalize import l2_normalize, tfidf_rows

if TYPE_CHECKING:
    from litmine.config import Settings, SummarizeSettings
    from litmine.vectors.embed import Embedder

__all__ = [
    "ExtractiveSummarizer",
    "PreparedInput",
    "Seq2SeqSummarizer",
    "Summarizer",
    "load_summarizer",
]

_PROMPT_HEAD = "Answer the question using the passages.\nQuestion: {question}\nPassages:"
_MAX_SANE_LENGTH = 1_000_000  # tokenizers without a limit report ~1e30


@runtime_checkable
class Summarizer(Protocol):
    """Summarises clusters of passages for a question."""

    @property
    def method(self) -> str:
        """``"seq2seq"`` or ``"extractive"``."""
        ...

    @property
    def model(self) -> str | None:
        """Model name or path (seq2seq), else None."""
        ...

    @property
    def reason(self) -> str | None:
        """Why this summariser is used instead of the configured one, or None."""
        ...

    def summarize(self, question: str, clusters: Sequence[Sequence[Passage]]) -> list[Summary]:
        """Summarise each cluster.

        Args:
            question: The user's question.
            clusters: Per cluster, its passages best first (retracted
                articles already removed).

        Returns:
            One summary per cluster, in order. A cluster without passages gets
            an empty summary.
        """
        ...


# --------------------------------------------------------------------------- seq2seq


@dataclass(slots=True)
class PreparedInput:
    """The model input built for one cluster.

    Attributes:
        input_ids: Token ids of the prompt, at most the input limit long.
        passages: The passages that fit in the prompt (they are the citations).
    """

    input_ids: list[int]
    passages: list[Passage] = field(default_factory=list)


def _unavailable(allow_download: bool) -> str:
    if os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("TRANSFORMERS_OFFLINE") == "1":
        return "the Hugging Face hub is disabled by HF_HUB_OFFLINE=1"
    if not allow_download:
        return "downloads are off: summarize.allow_download = false"
    return "the Hugging Face hub is unreachable"


def _in_hf_cache(model: str) -> bool:
    """Whether a hub model's config is in the local Hugging Face cache (True if unsure)."""
    if model.startswith(("/", ".", "~")) or model.count("/") > 1:
        return True  # a path: reported as a missing folder below
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return True
    try:
        return isinstance(try_to_load_from_cache(model, "config.json"), str)
    except Exception:  # malformed repo ids and the like: let transformers decide
        return True


class Seq2SeqSummarizer:
    """Abstractive summaries from a local Hugging Face seq2seq model.

    Args:
        model: Hub name (looked up in the local cache) or local folder.
        max_input_tokens: Cap on the prompt length; the tokenizer's
            ``model_max_length`` applies too.
        max_new_tokens: Most tokens generated per summary.
        num_beams: Beam width (1 = greedy); decoding never samples.
        batch_size: Clusters per ``generate`` call.
        device: Torch device.
        allow_download: Let transformers fetch a model missing from the cache.

    Raises:
        ModelNotFoundError: The model or tokenizer cannot be loaded.
        MissingDependencyError: torch or transformers is not installed.
    """

    method = "seq2seq"
    reason: str | None = None

    def __init__(
        self,
        model: str = "google/flan-t5-base",
        *,
        max_input_tokens: int = 512,
        max_new_tokens: int = 128,
        num_beams: int = 2,
        batch_size: int = 4,
        device: str = "cpu",
        allow_download: bool = False,
    ) -> None:
        path = Path(model).expanduser()
        if not path.exists() and model.startswith(("/", ".", "~")):
            raise ModelNotFoundError(
                f"summary model folder {model} does not exist",
                "set summarize.model (LITMINE_SUMMARIZE_MODEL) to a seq2seq model folder",
            )
        if not path.exists() and not allow_download and not _in_hf_cache(model):
            # Checked before importing transformers (seconds) so the fallback is instant.
            raise ModelNotFoundError(
                f"model {model} is not in the local cache and {_unavailable(allow_download)}",
                "set summarize.model to a local seq2seq model folder",
            )
        try:
            import torch  # noqa: F401
            from transformers import AutoModelForSeq2SeqLM, AutoTokenizer
        except ImportError as exc:
            raise MissingDependencyError(
                f"transformers ({exc.name or exc})", "pip install transformers torch"
            ) from exc
        self.model = model
        self.max_new_tokens = max_new_tokens
        self.num_beams = num_beams
        self.batch_size = batch_size
        self.device = device
        self._lock = threading.Lock()
        source = str(path.resolve()) if path.exists() else model
        local_only = not allow_download and not path.exists()
        try:
            with _quiet():
                self.tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=local_only)
                self._model = AutoModelForSeq2SeqLM.from_pretrained(
                    source, local_files_only=local_only
                )
        except (OSError, ValueError, KeyError) as exc:
            where = (
                f"is not in the local cache and {_unavailable(allow_download)}"
                if not path.exists()
                else "could not be read"
            )
            detail = " ".join(str(exc).split())[:160]
            raise ModelNotFoundError(
                f"model {model} {where} ({detail})",
                "set summarize.model to a local seq2seq model folder",
            ) from exc
        self._model.to(device)
        self._model.eval()
        limit = int(getattr(self.tokenizer, "model_max_length", 0) or 0)
        if not 0 < limit < _MAX_SANE_LENGTH:
            limit = int(getattr(self._model.config, "n_positions", 0) or 0) or max_input_tokens
        self.max_input_tokens = min(limit, max_input_tokens)

    @classmethod
    def from_settings(cls, settings: SummarizeSettings) -> Seq2SeqSummarizer:
        """Build from the ``summarize`` settings section."""
        return cls(
            settings.model,
            max_input_tokens=settings.max_input_tokens,
            max_new_tokens=settings.max_new_tokens,
            num_beams=settings.num_beams,
            batch_size=settings.batch_size,
            device=settings.device,
            allow_download=settings.allow_download,
        )

    def _ids(self, text: str) -> list[int]:
        ids: list[int] = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        return ids

    def prepare(self, question: str, passages: Sequence[Passage]) -> PreparedInput:
        """Build one cluster's prompt within the input limit.

        The head (instruction and question) comes first, then passages in rank
        order while they fit; the first passage is cut to fit when it alone is
        too long. Special tokens (end of sequence) are counted.

        Args:
            question: The question.
            passages: The cluster's passages, best first.

        Returns:
            The prompt's token ids and the passages it holds.
        """
        special = len(self.tokenizer("", add_special_tokens=True)["input_ids"])
        budget = self.max_input_tokens - special
        head = _PROMPT_HEAD.format(question=question)
        head_ids = self._ids(head)
        if len(head_ids) > budget // 2:  # an overlong question keeps room for passages
            head = str(self.tokenizer.decode(head_ids[: max(budget // 2, 1)]))
            head_ids = self._ids(head)
        used_tokens = len(head_ids)
        parts = [head]
        used: list[Passage] = []
        for passage in passages:
            title = f" {passage.title}." if passage.title else ""
            piece = f"\n[PMID {passage.pmid}]{title} {passage.text}"
            cost = len(self._ids(piece))
            room = budget - used_tokens
            if cost <= room:
                parts.append(piece)
                used_tokens += cost
                used.append(passage)
            elif not used and room > 8:  # the best passage alone is too long: cut it
                parts.append(piece)
                used.append(passage)
                break
            else:
                break
        full: list[int] = self.tokenizer(
            "".join(parts), truncation=True, max_length=self.max_input_tokens
        )["input_ids"]
        return PreparedInput(input_ids=full, passages=used)

    def summarize(self, question: str, clusters: Sequence[Sequence[Passage]]) -> list[Summary]:
        """Summarise each cluster; see :meth:`Summarizer.summarize`."""
        import torch

        prepared = [self.prepare(question, list(c)) if c else None for c in clusters]
        todo = [i for i, p in enumerate(prepared) if p is not None and p.passages]
        texts: dict[int, str] = {}
        pad = self.tokenizer.pad_token_id or 0
        with self._lock, torch.inference_mode():
            for start in range(0, len(todo), self.batch_size):
                chunk = todo[start : start + self.batch_size]
                rows = [prepared[i].input_ids for i in chunk]  # type: ignore[union-attr]
                width = max(len(r) for r in rows)
                input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
                mask = torch.zeros((len(rows), width), dtype=torch.long)
                for j, row in enumerate(rows):  # right padding, as T5 expects
                    input_ids[j, : len(row)] = torch.tensor(row, dtype=torch.long)
                    mask[j, : len(row)] = 1
                output = self._model.generate(
                    input_ids=input_ids.to(self.device),
                    attention_mask=mask.to(self.device),
                    max_new_tokens=self.max_new_tokens,
                    num_beams=self.num_beams,
                    do_sample=False,
                )
                decoded = self.tokenizer.batch_decode(output, skip_special_tokens=True)
                for i, text in zip(chunk, decoded, strict=True):
                    texts[i] = " ".join(text.split())
        out: list[Summary] = []
        for i, prep in enumerate(prepared):
            used = prep.passages if prep is not None else []
            out.append(
                Summary(
                    text=texts.get(i, ""),
                    method=self.method,
                    cited_pmids=list(dict.fromkeys(p.pmid for p in used)),
                    model=self.model,
                    passage_ids=[p.id for p in used],
                )
            )
        return out


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with contextlib.suppress(Exception):
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
            hf_logging.set_verbosity_error()
        yield


# --------------------------------------------------------------------------- extractive


@dataclass(slots=True)
class _Sentence:
    text: str
    pmid: str
    passage_id: int
    cluster: int


def _sentences(clusters: Sequence[Sequence[Passage]], splitter: str) -> list[_Sentence]:
    from litmine.passages import sentence_spans

    out: list[_Sentence] = []
    for c, passages in enumerate(clusters):
        seen: set[str] = set()
        for passage in passages:
            for start, end in sentence_spans(passage.text, splitter):
                text = " ".join(passage.text[start:end].split())
                key = text.lower()
                if len(text) < 20 or key in seen:  # fragments ("Results:") and repeats
                    continue
                seen.add(key)
                out.append(_Sentence(text, passage.pmid, passage.id, c))
    return out


class ExtractiveSummarizer:
    """The cluster's most central, non-redundant sentences, each with its PMID.

    Sentences are scored by ``(1 - question_weight) * centrality +
    question_weight * relevance`` where centrality is the cosine to the
    centroid of the cluster's sentences and relevance the cosine to the
    question; they are then picked by maximal marginal relevance and printed
    in the order chosen, each followed by ``[PMID n]``.

    Args:
        embedder: Sentence embedder for ``scoring="embedding"``; None uses TF-IDF vectors.
        reason: Why the extractive method is used (shown with every output).
        max_sentences: Sentences per summary.
        question_weight: Weight of relevance to the question.
        mmr_lambda: MMR trade-off between score and novelty.
        redundancy: Cosine above which a sentence is never added.
        splitter: Sentence splitter name (:func:`litmine.passages.sentence_spans`).
        scoring: ``"embedding"`` or ``"tfidf"``.
    """

    method = "extractive"
    model: str | None = None

    def __init__(
        self,
        embedder: Embedder | None = None,
        *,
        reason: str | None = None,
        max_sentences: int = 3,
        question_weight: float = 0.6,
        mmr_lambda: float = 0.7,
        redundancy: float = 0.85,
        splitter: str = "regex",
        scoring: str = "tfidf",
    ) -> None:
        self.embedder = embedder if scoring == "embedding" else None
        self.reason = reason
        self.max_sentences = max_sentences
        self.question_weight = question_weight
        self.mmr_lambda = mmr_lambda
        self.redundancy = redundancy
        self.splitter = splitter

    @classmethod
    def from_settings(
        cls, settings: Settings, *, embedder: Embedder | None = None, reason: str | None = None
    ) -> ExtractiveSummarizer:
        """Build from the settings (``summarize`` section and the passage splitter)."""
        cfg = settings.summarize
        return cls(
            embedder,
            reason=reason,
            max_sentences=cfg.max_sentences,
            question_weight=cfg.question_weight,
            mmr_lambda=cfg.mmr_lambda,
            redundancy=cfg.redundancy,
            splitter=settings.passages.splitter,
            scoring=cfg.sentence_scoring,
        )

    def _vectors(self, question: str, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        if self.embedder is not None:
            sent = l2_normalize(self.embedder.embed_documents(texts))
            query = l2_normalize(self.embedder.embed_queries([question]))[0]
            return sent, query
        both = tfidf_rows([*texts, question], stop_words="english")
        return both[:-1], both[-1]

    def summarize(self, question: str, clusters: Sequence[Sequence[Passage]]) -> list[Summary]:
        """Summarise each cluster; see :meth:`Summarizer.summarize`."""
        sentences = _sentences(clusters, self.splitter)
        out = [
            Summary(text="", method=self.method, reason=self.reason) for _ in range(len(clusters))
        ]
        if not sentences:
            return out
        vectors, query = self._vectors(question, [s.text for s in sentences])
        owner = np.fromiter((s.cluster for s in sentences), dtype=np.int64, count=len(sentences))
        for c in range(len(clusters)):
            rows = np.flatnonzero(owner == c)
            if not len(rows):
                continue
            picked = self._pick(vectors[rows], query)
            chosen = [sentences[int(rows[i])] for i in picked]
            out[c] = Summary(
                text=" ".join(f"{s.text} [PMID {s.pmid}]" for s in chosen),
                method=self.method,
                cited_pmids=list(dict.fromkeys(s.pmid for s in chosen)),
                reason=self.reason,
                passage_ids=list(dict.fromkeys(s.passage_id for s in chosen)),
                sentences=[SummarySentence(s.text, s.pmid, s.passage_id) for s in chosen],
            )
        return out

    def _pick(self, vecs: np.ndarray, query: np.ndarray) -> list[int]:
        centroid = l2_normalize(vecs.mean(axis=0))
        score = (1 - self.question_weight) * (vecs @ centroid) + self.question_weight * (
            vecs @ query
        )
        sims = vecs @ vecs.T
        chosen: list[int] = []
        candidates = list(range(len(vecs)))
        while candidates and len(chosen) < self.max_sentences:
            best, best_value = -1, -np.inf
            for i in candidates:
                novelty = max((float(sims[i, j]) for j in chosen), default=0.0)
                if chosen and novelty >= self.redundancy:
                    continue
                value = self.mmr_lambda * float(score[i]) - (1 - self.mmr_lambda) * novelty
                if value > best_value + 1e-9:
                    best, best_value = i, value
            if best < 0:
                break
            chosen.append(best)
            candidates.remove(best)
        return chosen


# --------------------------------------------------------------------------- loading


def load_summarizer(settings: Settings, *, embedder: Embedder | None = None) -> Summarizer:
    """The summariser the settings ask for, falling back to extractive.

    Args:
        settings: ``summarize`` section (method, model...) and the passage splitter.
        embedder: Sentence embedder for extractive scoring (the search
            embedder, already loaded); None scores by TF-IDF.

    Returns:
        A :class:`Seq2SeqSummarizer` when ``method`` is ``auto`` or ``seq2seq``
        and the model loads; else an :class:`ExtractiveSummarizer` whose
        ``reason`` says why.

    Raises:
        ModelNotFoundError: ``method`` is ``seq2seq`` and the model cannot be loaded.
        MissingDependencyError: ``method`` is ``seq2seq`` and transformers is missing.
    """
    cfg = settings.summarize
    if cfg.method == "extractive":
        reason = "extractive summaries were requested (summarize.method = extractive)"
        return _extractive(settings, embedder=embedder, reason=reason)
    try:
        return Seq2SeqSummarizer.from_settings(cfg)
    except (ModelNotFoundError, MissingDependencyError) as exc:
        if cfg.method == "seq2seq":
            raise
        return _extractive(settings, embedder=embedder, reason=_short_reason(exc))


def _extractive(
    settings: Settings, *, embedder: Embedder | None, reason: str
) -> ExtractiveSummarizer:
    """The extractive summariser ``summarize.sentence_choice`` names."""
    if settings.summarize.sentence_choice == "findings":
        from litmine.answer.findings import FindingsSummarizer

        return FindingsSummarizer.from_settings(settings, embedder=embedder, reason=reason)
    return ExtractiveSummarizer.from_settings(settings, embedder=embedder, reason=reason)


def _short_reason(exc: ModelNotFoundError | MissingDependencyError) -> str:
    """The fallback reason: the error's message without its technical detail in brackets."""
    if isinstance(exc, MissingDependencyError):
        return f"{exc.what} is not installed ({exc.install})"
    text = str(exc.message)
    cut = text.find(" (")
    return text[:cut] if cut > 0 else text

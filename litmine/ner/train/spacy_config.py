"""The spaCy training config of litmine's CNN NER pipeline (part of :mod:`litmine.ner.train`).

:class:`TrainConfig` holds the hyper-parameters of the tok2vec + ner pipeline
(:data:`TINY` is a minute one for tests), :class:`PretrainConfig` those of
``spacy pretrain``'s character objective, and :func:`build_config` renders
them as spaCy's config text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from litmine.errors import InputError

DEFAULT_EPOCHS = 8
"""Passes over the training data when none are given."""


@dataclass(slots=True)
class TrainConfig:
    """Hyper-parameters of the CNN pipeline.

    Attributes:
        width: Width of the token vectors (and of the CNN).
        depth: Convolutional layers of the encoder (window 1 each: context ±depth).
        embed_rows: Hash-embedding rows per attribute, in ``attrs`` order.
        attrs: Lexical attributes hashed into the token embedding.
        maxout_pieces: Maxout pieces of the encoder layers.
        hidden_width: Hidden layer of the NER transition model.
        dropout: Dropout during training.
        learn_rate: Adam learning rate (peak, with warm-up then linear decay).
        warmup_steps: Warm-up steps of the learning-rate schedule.
        batch_words: (start, stop) of the compounding batch size, in words.
        eval_frequency: Steps between evaluations on the dev corpus.
        patience: Stop after this many steps without improvement (0: never).
        extra: Extra overrides in spaCy's dotted form (``{"training.seed": 1}``).
    """

    width: int = 256
    depth: int = 4
    embed_rows: tuple[int, ...] = (10000, 5000, 5000, 5000, 5000)
    attrs: tuple[str, ...] = ("NORM", "LOWER", "PREFIX", "SUFFIX", "SHAPE")
    maxout_pieces: int = 3
    hidden_width: int = 128
    dropout: float = 0.15
    learn_rate: float = 0.001
    warmup_steps: int = 250
    batch_words: tuple[int, int] = (100, 1000)
    eval_frequency: int = 200
    patience: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


TINY = TrainConfig(
    width=32,
    depth=1,
    embed_rows=(500, 200),
    attrs=("NORM", "SHAPE"),
    maxout_pieces=2,
    hidden_width=16,
    eval_frequency=10,
    batch_words=(200, 400),
    warmup_steps=0,
)
"""A minute model for tests: trains in seconds, learns little."""


@dataclass(slots=True)
class PretrainConfig:
    """Settings of ``spacy pretrain`` (character objective) for the tok2vec.

    The tok2vec learns to predict the first and last ``n_characters`` characters
    of each word from its context, on unlabelled text.

    Attributes:
        n_characters: Characters predicted at each end of a word.
        hidden_size: Hidden layer of the objective's output model.
        maxout_pieces: Maxout pieces of that hidden layer.
        dropout: Dropout during pretraining.
        learn_rate: Adam learning rate (constant).
        batch_words: Words per batch.
    """

    n_characters: int = 4
    hidden_size: int = 300
    maxout_pieces: int = 3
    dropout: float = 0.2
    learn_rate: float = 0.001
    batch_words: int = 3000


def _pretraining_block(pretrain: PretrainConfig | None, epochs: int, corpus: bool) -> str:
    if pretrain is None:
        return ""
    # Training resolves the whole [corpora] section: only `spacy pretrain` gets its corpus.
    reader = """
[corpora.pretrain]
@readers = "spacy.Corpus.v1"
path = ${paths.raw_text}
max_length = 0
gold_preproc = false
limit = 0
augmenter = null
""" if corpus else ""  # fmt: skip
    return f"""max_epochs = {epochs}
dropout = {pretrain.dropout}
n_save_every = null
n_save_epoch = null
component = "tok2vec"
layer = ""
corpus = "corpora.pretrain"

[pretraining.batcher]
@batchers = "spacy.batch_by_words.v1"
size = {pretrain.batch_words}
discard_oversize = false
tolerance = 0.2
get_length = null

[pretraining.objective]
@architectures = "spacy.PretrainCharacters.v1"
maxout_pieces = {pretrain.maxout_pieces}
hidden_size = {pretrain.hidden_size}
n_characters = {pretrain.n_characters}

[pretraining.optimizer]
@optimizers = "Adam.v1"
beta1 = 0.9
beta2 = 0.999
L2_is_weight_decay = true
L2 = 0.01
grad_clip = 1.0
use_averages = true
eps = 0.00000001
learn_rate = {pretrain.learn_rate}
{reader}"""


def build_config(
    config: TrainConfig,
    *,
    epochs: int,
    seed: int,
    total_steps: int,
    pretrain: PretrainConfig | None = None,
    pretrain_corpus: bool = False,
) -> str:
    """Render the spaCy training config for ``config``.

    Args:
        config: Hyper-parameters.
        epochs: Passes over the training corpus.
        seed: Random seed.
        total_steps: Expected optimiser steps (for the learning-rate schedule).
        pretrain: Render the ``[pretraining]`` block (and its corpus) too: needed by
            ``spacy pretrain``, and by training from pretrained tok2vec weights
            (``initialize.init_tok2vec``), which reads its component and layer.
        pretrain_corpus: Also render ``[corpora.pretrain]`` (``paths.raw_text``), for
            ``spacy pretrain`` only.

    Returns:
        The config as text (spaCy's INI dialect).
    """
    if len(config.embed_rows) != len(config.attrs):
        raise InputError("embed_rows and attrs must have the same length")
    attrs = json.dumps(list(config.attrs))
    rows = json.dumps(list(config.embed_rows))
    return f"""
[paths]
train = null
dev = null
raw_text = null

[system]
gpu_allocator = null
seed = {seed}

[nlp]
lang = "en"
pipeline = ["tok2vec","ner"]
batch_size = 64

[components]

[components.tok2vec]
factory = "tok2vec"

[components.tok2vec.model]
@architectures = "spacy.Tok2Vec.v2"

[components.tok2vec.model.embed]
@architectures = "spacy.MultiHashEmbed.v2"
width = {config.width}
attrs = {attrs}
rows = {rows}
include_static_vectors = false

[components.tok2vec.model.encode]
@architectures = "spacy.MaxoutWindowEncoder.v2"
width = {config.width}
depth = {config.depth}
window_size = 1
maxout_pieces = {config.maxout_pieces}

[components.ner]
factory = "ner"
incorrect_spans_key = null
moves = null
scorer = {{"@scorers":"spacy.ner_scorer.v1"}}
update_with_oracle_cut_size = 100

[components.ner.model]
@architectures = "spacy.TransitionBasedParser.v2"
state_type = "ner"
extra_state_tokens = false
hidden_width = {config.hidden_width}
maxout_pieces = 2
use_upper = true
nO = null

[components.ner.model.tok2vec]
@architectures = "spacy.Tok2VecListener.v1"
width = {config.width}
upstream = "*"

[corpora]

[corpora.train]
@readers = "spacy.Corpus.v1"
path = ${{paths.train}}
max_length = 0
gold_preproc = false
limit = 0
augmenter = null

[corpora.dev]
@readers = "spacy.Corpus.v1"
path = ${{paths.dev}}
max_length = 0
gold_preproc = false
limit = 0
augmenter = null

[training]
dev_corpus = "corpora.dev"
train_corpus = "corpora.train"
seed = ${{system.seed}}
gpu_allocator = ${{system.gpu_allocator}}
dropout = {config.dropout}
accumulate_gradient = 1
patience = {config.patience}
max_epochs = {epochs}
max_steps = 0
eval_frequency = {config.eval_frequency}
frozen_components = []
annotating_components = []
before_to_disk = null
before_update = null

[training.batcher]
@batchers = "spacy.batch_by_words.v1"
discard_oversize = false
tolerance = 0.2
get_length = null

[training.batcher.size]
@schedules = "compounding.v1"
start = {config.batch_words[0]}
stop = {config.batch_words[1]}
compound = 1.001
t = 0.0

[training.logger]
@loggers = "spacy.ConsoleLogger.v1"
progress_bar = false

[training.optimizer]
@optimizers = "Adam.v1"
beta1 = 0.9
beta2 = 0.999
L2_is_weight_decay = true
L2 = 0.01
grad_clip = 1.0
use_averages = true
eps = 0.00000001

[training.optimizer.learn_rate]
@schedules = "warmup_linear.v1"
warmup_steps = {config.warmup_steps}
total_steps = {max(total_steps, config.warmup_steps + 1)}
initial_rate = {config.learn_rate}

[training.score_weights]
ents_f = 1.0
ents_p = 0.0
ents_r = 0.0
ents_per_type = null

[pretraining]
{_pretraining_block(pretrain, epochs, pretrain_corpus)}
[initialize]
vectors = null
init_tok2vec = null
vocab_data = null
lookups = null
before_init = null
after_init = null

[initialize.components]

[initialize.tokenizer]
"""

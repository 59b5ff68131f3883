"""Train litmine's biomedical NER pipeline (tok2vec + ner) on PubTator corpora.

The spaCy config is built from a small :class:`TrainConfig`; the corpora are
converted to ``DocBin`` files with the biomedical tokenizer
(:mod:`litmine.ner.tokenizer`), spaCy's training loop runs, and the best
checkpoint (by entity F1 on the dev corpus) is saved with that tokenizer so it
loads with ``spacy.load(path)`` in any process.

:func:`pretrain` runs ``spacy pretrain`` (character objective) on unlabelled
abstracts; :func:`train` can start the tok2vec from its weights (``init_tok2vec``).

Modules:
    ``spacy_config``  :class:`TrainConfig`, :data:`TINY`, :class:`PretrainConfig`,
                      :func:`build_config` (the spaCy config text)
    ``corpus``        PubTator files to ``DocBin`` corpora for a run
    ``run``           :func:`train` and :func:`package_pipeline`
    ``pretraining``   :func:`read_texts`, :func:`collect_texts`, :func:`pretrain`

The transformer tagger trains in :mod:`litmine.ner.transformer`.

``litmine.ner.train`` was a module before issue 13: every name it defined is
re-exported here, and assigning one here (a monkeypatch) assigns it in the
submodules that use it too (:mod:`litmine._reexport`).
"""

from __future__ import annotations

import logging

from litmine._reexport import forward_patches

# Every name the module had, its helpers included.
from litmine.ner.pubtator import LABELS, ConversionStats, to_docbin  # noqa: F401 - re-exported
from litmine.ner.train.corpus import _check_paths, _limited, convert_corpora  # noqa: F401
from litmine.ner.train.pretraining import (  # noqa: F401 - re-exported
    _csv_abstract,
    _text_key,
    collect_texts,
    pretrain,
    read_texts,
)
from litmine.ner.train.run import _train, package_pipeline, train  # noqa: F401 - re-exported
from litmine.ner.train.spacy_config import (  # noqa: F401 - re-exported
    DEFAULT_EPOCHS,
    TINY,
    PretrainConfig,
    TrainConfig,
    _pretraining_block,
    build_config,
)

log = logging.getLogger(__name__)

forward_patches(__name__)

"""Biomedical entities: load an NER pipeline, extract, normalise, store and count.

:func:`build_nlp` loads a pipeline by name (litmine's shipped
``litmine-bc5cdr``, an installed spaCy/scispaCy package, or a folder) and adds
scispaCy's abbreviation detector (and optionally its entity linker).
:func:`extract` runs it over whole abstracts (so an abbreviation defined in one
passage resolves in the next) and maps the entities back onto passages.
:func:`extract_store` does that resumably over a :class:`~litmine.store.Store`,
and :func:`top_entities` / :func:`chemical_disease_pairs` count what was found.

Modules:
    ``loading``        model names, :func:`load_pipeline`, :func:`build_nlp`, post-processing
                       and the entity linker
    ``normalization``  :func:`normalize` and the MeSH lookup of an article's own headings
    ``extraction``     :func:`extract`: abstracts through the pipeline, entities onto passages
    ``storing``        :func:`extract_store` and the entity counts over a store

Layer: beside :mod:`litmine.vectors` and :mod:`litmine.ner`; may import ``store``,
``passages``, ``parse`` and the base modules, never ``ingest``, ``search``, ``answer``
or the shells.

``litmine.entities`` was a module before issue 13: every name it defined is
re-exported here, and assigning one here (a monkeypatch) assigns it in the
submodules that use it too (:mod:`litmine._reexport`).
"""

from __future__ import annotations

import logging

from litmine._reexport import forward_patches

# Every name the module had, its helpers included (``__all__`` lists the public ones).
from litmine.entities.extraction import (  # noqa: F401 - re-exported
    _CONTROL,
    _LABEL_MAP,
    _abbreviations,
    _chunks,
    _clean,
    _doc_entities,
    _linked_id,
    _Unit,
    _units,
    extract,
)
from litmine.entities.loading import (  # noqa: F401 - re-exported
    _SCISPACY_URL,
    DEFAULT_MODEL,
    MODELS_DIR,
    SCISPACY_MODELS,
    SCISPACY_VERSION,
    _add_linker,
    _linker_missing_files,
    add_postprocess,
    build_nlp,
    install_command,
    load_pipeline,
    model_path,
    postprocess_description,
)
from litmine.entities.normalization import (  # noqa: F401 - re-exported
    _DASHES,
    _SPACES,
    _concept,
    _mesh_lookup,
    _mesh_variants,
    normalize,
)
from litmine.entities.storing import (
    EntityCount,
    PairCount,
    chemical_disease_pairs,
    extract_store,
    top_entities,
)

__all__ = [
    "DEFAULT_MODEL",
    "MODELS_DIR",
    "EntityCount",
    "PairCount",
    "add_postprocess",
    "build_nlp",
    "chemical_disease_pairs",
    "extract",
    "extract_store",
    "install_command",
    "load_pipeline",
    "model_path",
    "normalize",
    "postprocess_description",
    "top_entities",
]


log = logging.getLogger(__name__)

forward_patches(__name__)

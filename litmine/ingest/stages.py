"""The later stages as jobs over the store: entities and the vector index.

What ``litmine entities``, ``litmine index update`` and the nightly flow run
after an ingest. The models load inside the functions, so importing
:mod:`litmine.ingest` (as every parse worker does) stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from litmine.ingest.writer import Progress, open_store

if TYPE_CHECKING:
    from litmine.config import Settings
    from litmine.vectors.build import IndexReport

__all__ = ["extract_entities", "update_vector_index"]


def extract_entities(
    settings: Settings, *, rebuild: bool = False, progress: Progress | None = None
) -> int:
    """Entity stage: run the NER pipeline over stored articles not processed yet.

    Resumable: each batch of articles is committed with a processed mark, so a
    re-run continues where a killed one stopped.

    Args:
        settings: Settings tree (NER model and batching).
        rebuild: Delete all entities and extract them again.
        progress: Optional progress sink, advanced per article.

    Returns:
        Number of articles processed.
    """
    from litmine.entities import build_nlp, extract_store

    ner = settings.ner
    nlp = build_nlp(ner)
    with open_store(settings) as store:
        if progress is not None:
            progress.total(None if rebuild else len(store.pmids_needing_entities()))
        return extract_store(
            store,
            nlp,
            rebuild=rebuild,
            batch_articles=ner.batch_articles,
            batch_size=ner.batch_size,
            n_process=ner.n_process,
            max_chars=ner.max_chars,
            progress=progress.advance if progress is not None else None,
        )


def update_vector_index(settings: Settings, *, rebuild: bool = False) -> IndexReport:
    """Embedding stage: bring the FAISS passage index up to date with the store.

    Args:
        settings: Settings tree (model, backend, index).
        rebuild: Embed every passage into a fresh index instead of updating.
    """
    from litmine.vectors.build import build_index, update_index
    from litmine.vectors.embed import load_embedder

    embedder = load_embedder(settings.embed)
    with open_store(settings) as store:
        if rebuild:
            return build_index(store, embedder, settings)
        return update_index(store, embedder, settings)

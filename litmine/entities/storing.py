"""The entity stage over a store: resumable extraction and entity counts.

Part of :mod:`litmine.entities`. :func:`extract_store` runs
:func:`~litmine.entities.extraction.extract` over every stored article not
processed yet, committing per batch; :func:`top_entities` and
:func:`chemical_disease_pairs` count what was found.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from litmine.entities.extraction import extract
from litmine.store import EntityCount, PairCount
from litmine.types import Article, Passage

if TYPE_CHECKING:
    from spacy.language import Language

    from litmine.store import Store


def extract_store(
    store: Store,
    nlp: Language,
    *,
    rebuild: bool = False,
    batch_articles: int = 200,
    batch_size: int = 32,
    n_process: int = 1,
    max_chars: int = 100_000,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Extract entities for every stored article not processed yet.

    Work is committed per batch of articles, each passage marked processed
    with its entities in the same transaction, so an interrupted run loses at
    most one batch and a rerun continues where it stopped.

    Args:
        store: The store (opened for writing).
        nlp: A pipeline from :func:`build_nlp`.
        rebuild: Delete all entities first and process every article again.
        batch_articles: Articles per batch (and per transaction).
        batch_size: ``nlp.pipe`` batch size.
        n_process: ``nlp.pipe`` worker processes.
        max_chars: See :func:`extract`.
        progress: Called with the number of articles done after each batch.

    Returns:
        Number of articles processed.
    """
    if rebuild:
        store.clear_entities()
    model = str(nlp.meta.get("litmine_model") or nlp.meta.get("name") or "unknown")
    done = 0
    while True:
        pmids = store.pmids_needing_entities(limit=batch_articles)
        if not pmids:
            break
        articles: dict[str, Article] = {}
        passages: list[Passage] = []
        for pmid in pmids:
            article = store.get_article(pmid)
            if article is not None:
                articles[pmid] = article
            passages.extend(store.passages_for(pmid))
        found = extract(
            nlp, passages, articles,
            batch_size=batch_size, n_process=n_process, max_chars=max_chars,
        )  # fmt: skip
        store.save_entities(found, model)
        done += len(pmids)
        if progress is not None:
            progress(len(pmids))
    return done


# ------------------------------------------------------------------ counting


def top_entities(
    store: Store,
    *,
    label: str | None = None,
    pmids: Iterable[str] | None = None,
    limit: int = 20,
) -> list[EntityCount]:
    """The entities mentioned in the most articles (see :meth:`Store.top_entities`).

    Args:
        store: The store.
        label: Only ``CHEMICAL`` or ``DISEASE`` (any case); None for all.
        pmids: Only these articles; None for all.
        limit: Most entities returned.

    Returns:
        Entity counts, most articles first.
    """
    return store.top_entities(
        label=label.upper() if label else None,
        pmids=list(pmids) if pmids is not None else None,
        limit=limit,
    )


def chemical_disease_pairs(
    store: Store, *, pmids: Iterable[str] | None = None, limit: int = 50
) -> list[PairCount]:
    """Chemical-disease pairs co-mentioned in the most articles.

    Args:
        store: The store.
        pmids: Only these articles; None for all.
        limit: Most pairs returned.

    Returns:
        Pair counts with their supporting PMIDs, most articles first.
    """
    return store.chemical_disease_pairs(
        pmids=list(pmids) if pmids is not None else None, limit=limit
    )

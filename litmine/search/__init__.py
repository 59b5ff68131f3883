"""Find passages for a question: BM25 and dense retrieval, fused, filtered, diversified.

- :mod:`~litmine.search.hybrid`: :class:`Searcher` and :func:`search` (the modes,
  :class:`SearchFilters`, question validation).
- :mod:`~litmine.search.fusion`: reciprocal-rank and score fusion, per-article diversity.
- :mod:`~litmine.search.evaluate`: nDCG/recall/MRR of each mode on a BEIR test set.

Layer: may import :mod:`litmine.vectors`, :mod:`litmine.entities`, :mod:`litmine.store`,
:mod:`litmine.passages` and the base modules; never ``ingest``, ``answer``, ``web``
or ``cli``.

``litmine.search`` was a module before issue 13; its names are re-exported here
so ``from litmine.search import Searcher`` keeps working.
"""

from litmine.search.hybrid import (
    MODES,
    Searcher,
    SearchFilters,
    filter_pmids,
    search,
    validate_question,
)

__all__ = ["MODES", "SearchFilters", "Searcher", "filter_pmids", "search", "validate_question"]

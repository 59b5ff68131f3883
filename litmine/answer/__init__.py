"""Answer a question from the search hits: clusters, evidence, summaries, CSV tables.

- :mod:`~litmine.answer.answer`: :class:`Answerer`, the search → cluster → summarise path.
- :mod:`~litmine.answer.cluster`: cluster the hits, label clusters, grade their evidence.
- :mod:`~litmine.answer.summarize`: seq2seq and extractive cluster summaries.
- :mod:`~litmine.answer.export`: findings and entity tables as CSV.

Layer: may import :mod:`litmine.search`, :mod:`litmine.vectors`, :mod:`litmine.entities`,
:mod:`litmine.store`, :mod:`litmine.passages` and the base modules; never ``ingest``,
``web`` or ``cli``.

``litmine.answer`` was a module before issue 13; its names are re-exported here
so ``from litmine.answer import Answerer`` keeps working.
"""

from litmine.answer.answer import ENTITY_LABELS, Answer, Answerer, hit_vectors

__all__ = ["ENTITY_LABELS", "Answer", "Answerer", "hit_vectors"]

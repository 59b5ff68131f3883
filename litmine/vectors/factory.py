"""The automatic choice of a FAISS factory string by collection size.

See :mod:`litmine.vectors.faiss_index` for the reasoning behind each tier.
"""

from __future__ import annotations

import math

from litmine.config import IndexSettings

__all__ = ["choose_factory", "ivf_nlist"]


def ivf_nlist(n_vectors: int) -> int:
    """Number of IVF lists for a collection: the power of two <= 4 * sqrt(n).

    Args:
        n_vectors: Collection size.

    Returns:
        At least 1.
    """
    target = 4.0 * math.sqrt(max(n_vectors, 1))
    return max(1, 2 ** math.floor(math.log2(target)))


def choose_factory(n_vectors: int, settings: IndexSettings | None = None) -> str:
    """Pick a FAISS factory string for a collection size.

    Args:
        n_vectors: Number of vectors the index will hold.
        settings: Thresholds (``exact_max``, ``compressed_min``); an explicit
            ``settings.factory`` wins.

    Returns:
        A factory string for :func:`faiss.index_factory`.
    """
    settings = settings or IndexSettings()
    if settings.factory:
        return settings.factory
    if n_vectors <= settings.exact_max:
        return "IDMap2,Flat"
    storage = "SQ8" if n_vectors >= settings.compressed_min else "Flat"
    return f"IVF{ivf_nlist(n_vectors)},{storage}"

"""Unit-length rows: the one L2 normalisation, and TF-IDF rows when there is no model.

Used by the embedder, the FAISS index, clustering, the answer's hit vectors and
the extractive summariser, so that they all agree on what "normalised" means:
each row (the last axis) divided by its L2 norm, a zero row left at zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["l2_normalize", "tfidf_rows"]


def l2_normalize(
    vectors: npt.ArrayLike, *, dtype: npt.DTypeLike = np.float32, in_place: bool = False
) -> np.ndarray:
    """Scale each row (last axis) to unit L2 norm; zero rows stay zero.

    Args:
        vectors: One vector or a matrix of row vectors.
        dtype: The result's dtype (a copy is made) unless ``in_place``.
        in_place: Normalise ``vectors`` itself (a writable float ndarray) and return it.

    Returns:
        The normalised array (``vectors`` itself when ``in_place``).
    """
    array = vectors if in_place else np.array(vectors, dtype=dtype)
    assert isinstance(array, np.ndarray)
    norms = np.linalg.norm(array, axis=-1, keepdims=True)
    np.divide(array, norms, out=array, where=norms > 0)
    return array


def tfidf_rows(
    texts: Sequence[str], *, stop_words: str | None = None, no_vocabulary: float = 0.0
) -> np.ndarray:
    """Unit-length TF-IDF rows (sublinear tf) of ``texts``: vectors without a model.

    Args:
        texts: The documents.
        stop_words: ``"english"`` to drop English stop words, or None.
        no_vocabulary: Value of the single column returned when the texts have no
            word at all (1.0: every text alike; 0.0: no text like any other).

    Returns:
        A float32 ``(len(texts), n_terms)`` matrix.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer: Any = TfidfVectorizer(stop_words=stop_words, sublinear_tf=True)
    try:
        matrix = vectorizer.fit_transform(texts).toarray()
    except ValueError:  # empty vocabulary: no words, or only stop words
        return np.full((len(texts), 1), no_vocabulary, dtype=np.float32)
    return l2_normalize(matrix)

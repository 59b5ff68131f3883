from __future__ import annotations

import numpy as np
import pytest

from litmine.vectors.normalize import l2_normalize, tfidf_rows


def test_rows_get_unit_length_and_zero_rows_stay_zero() -> None:
    x = np.array([[3.0, 4.0], [0.0, 0.0], [1e-3, 0.0]])
    out = l2_normalize(x)
    assert out.dtype == np.float32
    assert out[0] == pytest.approx([0.6, 0.8])
    assert (out[1] == 0).all()
    assert out[2] == pytest.approx([1.0, 0.0])
    assert x[0, 0] == 3.0  # a copy


def test_one_vector_float64_and_in_place() -> None:
    assert l2_normalize([0.0, 2.0], dtype=np.float64).tolist() == [0.0, 1.0]
    x = np.array([[0.0, 5.0]], dtype=np.float32)
    assert l2_normalize(x, in_place=True) is x and x.tolist() == [[0.0, 1.0]]


def test_tfidf_rows_are_unit_length_with_a_fallback_without_words() -> None:
    rows = tfidf_rows(["aspirin bleeding", "coffee liver", "aspirin"])
    assert rows.dtype == np.float32
    assert np.linalg.norm(rows, axis=1) == pytest.approx([1.0, 1.0, 1.0])
    assert tfidf_rows(["the", "of"], stop_words="english").tolist() == [[0.0], [0.0]]
    assert tfidf_rows(["", ""], no_vocabulary=1.0).tolist() == [[1.0], [1.0]]

"""The standard-library backports."""

from __future__ import annotations

import pytest

from litmine._compat import batched


def test_batched_cuts_into_tuples_with_a_short_last_one() -> None:
    assert list(batched(range(7), 3)) == [(0, 1, 2), (3, 4, 5), (6,)]
    assert list(batched(iter("abcd"), 2)) == [("a", "b"), ("c", "d")]
    assert list(batched([], 4)) == []


def test_batched_rejects_a_size_below_one() -> None:
    with pytest.raises(ValueError, match="at least one"):
        list(batched([1, 2], 0))

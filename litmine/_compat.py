"""Standard-library pieces newer than the oldest Python litmine supports (3.11)."""

from __future__ import annotations

import sys

__all__ = ["batched"]

if sys.version_info >= (3, 12):
    from itertools import batched
else:
    from collections.abc import Iterable, Iterator
    from itertools import islice
    from typing import TypeVar

    _T = TypeVar("_T")

    def batched(iterable: Iterable[_T], n: int) -> Iterator[tuple[_T, ...]]:
        """``itertools.batched`` of Python 3.12: tuples of ``n`` items, the last shorter."""
        if n < 1:
            raise ValueError("n must be at least one")
        it = iter(iterable)
        while batch := tuple(islice(it, n)):
            yield batch

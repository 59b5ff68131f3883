"""Fetching records from NCBI: :mod:`litmine.fetch.entrez` is the only HTTP client.

Its gateway sends every request through :mod:`litmine.fetch._transport` (the
only code that speaks HTTP and retries); :mod:`litmine.fetch._replies` reads
the answers and :mod:`litmine.fetch._windows` splits large searches.

Layer: may import :mod:`litmine.parse` and the base modules (``types``, ``config``,
``errors``, ``clock``); never ``store`` or anything above it.
"""

"""Fetching records from NCBI: :mod:`litmine.fetch.entrez` is the only HTTP client.

Layer: may import :mod:`litmine.parse` and the base modules (``types``, ``config``,
``errors``, ``clock``); never ``store`` or anything above it.
"""

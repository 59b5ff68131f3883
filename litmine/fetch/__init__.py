"""Fetching records from NCBI: :mod:`litmine.fetch.entrez` is the only HTTP client."""

"""Prefect 3 flows: thin task wrappers over :mod:`litmine.ingest` and the stage jobs."""

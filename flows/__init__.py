"""Prefect 3 flows: thin task wrappers over :mod:`litmine.pipeline`."""

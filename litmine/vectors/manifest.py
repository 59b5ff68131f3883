"""The on-disk side of a vector index: its ``manifest.json`` and atomic file writes.

An index folder holds the FAISS file and ``manifest.json`` (model, dimension,
factory, vector count, store state, the file's sha256, timestamps). Files are
written to a temporary name in the same folder, synced, then ``os.replace``-d;
the manifest is replaced last and names the index file.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from litmine.errors import IndexStateError

__all__ = [
    "INDEX_FORMAT",
    "MANIFEST_NAME",
    "REBUILD_HINT",
    "fsync",
    "litmine_version",
    "read_manifest",
    "sha256_file",
    "temp_path",
    "write_json_atomic",
]

MANIFEST_NAME = "manifest.json"
INDEX_FORMAT = 1
REBUILD_HINT = "run `litmine index build`"


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def litmine_version() -> str:
    """The installed litmine version (``unknown`` when it cannot be told)."""
    try:
        from litmine import __version__
    except ImportError:  # pragma: no cover - odd install layouts
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("litmine")
        except PackageNotFoundError:
            return "unknown"
    return str(__version__)


def temp_path(folder: Path, prefix: str, suffix: str) -> Path:
    """A new empty file in ``folder`` (same file system: ``os.replace`` is atomic)."""
    # The writer's pid in the name tells a later save whether the file is orphaned.
    fd, name = tempfile.mkstemp(prefix=f"{prefix}{os.getpid()}-", suffix=suffix, dir=folder)
    os.close(fd)
    return Path(name)


_TEMP_NAME = re.compile(r"\.[\w-]+?-(\d+)-\w+\.(?:faiss|json)\.tmp")


def remove_orphaned_temps(folder: Path) -> None:
    """Delete the temporary files of writers that died before renaming them (kill -9).

    A killed ``save`` leaves a whole index file behind under a temporary name;
    without this, every such crash would keep its size on disk for good.
    Files of this process or of a live process (another save) are kept.
    """
    from litmine.store.runs import pid_alive

    for path in folder.glob(".*.tmp"):
        match = _TEMP_NAME.fullmatch(path.name)
        if match is None:
            continue
        pid = int(match.group(1))
        if pid != os.getpid() and not pid_alive(pid):
            path.unlink(missing_ok=True)


def fsync(path: Path) -> None:
    """Flush a written file to disk."""
    with path.open("rb") as fh:
        os.fsync(fh.fileno())


def write_json_atomic(path: Path, data: Mapping[str, Any]) -> None:
    """Replace ``path`` with ``data`` as JSON: readers see the old file or the new one."""
    tmp = temp_path(path.parent, f".{path.stem}-", ".json.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=True)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


_REQUIRED_KEYS = ("model", "dim", "normalized", "vector_count", "index_file", "sha256")


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of the index in ``folder``, checked for the keys and format it needs.

    Raises:
        IndexStateError: Missing, unreadable, incomplete or from a newer litmine.
    """
    path = folder / MANIFEST_NAME
    if not path.is_file():
        raise IndexStateError(f"no vector index at {folder} (no {MANIFEST_NAME})", REBUILD_HINT)
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexStateError(
            f"vector index manifest {path} is unreadable: {exc}", REBUILD_HINT
        ) from exc
    if not isinstance(manifest, dict) or any(key not in manifest for key in _REQUIRED_KEYS):
        raise IndexStateError(f"vector index manifest {path} is incomplete", REBUILD_HINT)
    if manifest.get("format", INDEX_FORMAT) > INDEX_FORMAT:
        raise IndexStateError(
            f"vector index {folder} was written by a newer litmine (format {manifest['format']})",
            "upgrade litmine or " + REBUILD_HINT,
        )
    return manifest

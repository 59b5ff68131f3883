"""The ``litmine`` command line: thin shells that build settings and make one library call.

- :mod:`~litmine.cli.root`: the root Typer app and the mounting of every command
  (including :mod:`litmine.ner.cli` and :mod:`litmine.web.cli`); :func:`main` is
  the console script.
- :mod:`~litmine.cli.ingestion`: ``ingest``, ``status``, ``schedule``.
- :mod:`~litmine.cli.common`: consoles, error translation and the options every command
  shares (data dir, ``--json``, ``--mode``, search filters, the "no database" check).
- :mod:`~litmine.cli.search`: ``index``, ``search``, ``eval``.
- :mod:`~litmine.cli.answer`: ``ask``, ``export``.

Layer: the top; may import anything in ``litmine`` and ``flows``; nothing in
``litmine`` imports it except the other shells (``web.cli``, ``ner.cli``).

``litmine.cli`` was a module before issue 13: ``app``, ``main`` and the command
functions are looked up in :mod:`litmine.cli.root` on first access, so that
``litmine.cli.common`` can be imported by the shells that ``root`` mounts.
"""

import importlib
from typing import Any


def __getattr__(name: str) -> Any:
    if name.startswith("__") or name in ("root", "common", "ingestion", "search", "answer"):
        raise AttributeError(f"module 'litmine.cli' has no attribute {name!r}")
    root = importlib.import_module("litmine.cli.root")
    try:
        return getattr(root, name)
    except AttributeError:
        raise AttributeError(f"module 'litmine.cli' has no attribute {name!r}") from None

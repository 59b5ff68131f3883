"""The one way a benchmark hands over its result: JSON on stdout, and in ``--out`` if given."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def emit_report(result: Any, out: Path | None) -> None:
    """Print ``result`` as indented JSON and write it to ``out`` (folders created)."""
    text = json.dumps(result, indent=2, default=str)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")
    print(text)

"""What ``litmine status`` shows: store counts, index size, recent runs, saved queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from litmine.ingest.writer import open_store

if TYPE_CHECKING:
    from litmine.config import Settings
    from litmine.store import RunRecord, SavedQuery, StoreCounts


@dataclass(slots=True)
class StatusReport:
    """What ``litmine status`` shows."""

    data_dir: str
    counts: StoreCounts
    vectors: int | None
    runs: list[RunRecord] = field(default_factory=list)
    queries: list[SavedQuery] = field(default_factory=list)
    store: str = ""
    """Backend and database, password masked (``postgresql postgresql://ann:***@db/lm``)."""


def status(settings: Settings, *, runs: int = 10) -> StatusReport:
    """Counts, recent runs and saved queries of the store in ``settings.data_dir``."""
    from litmine.store import store_location

    location = store_location(settings)
    with open_store(settings) as store:
        return StatusReport(
            data_dir=str(settings.data_dir),
            store=f"{location.backend} {location.display}",
            counts=store.counts(),
            vectors=_vector_count(settings),
            runs=store.recent_runs(runs),
            queries=store.list_queries(),
        )


def _vector_count(settings: Settings) -> int | None:
    """Vectors in the passage index according to its manifest, or None if unbuilt.

    Read from the manifest file, so status never imports the vector stack.
    """
    import json

    manifest = settings.index_dir / settings.index.name / "manifest.json"
    if not manifest.is_file():
        return None
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
        return int(data["vector_count"])
    except (OSError, ValueError, KeyError, TypeError):
        return None

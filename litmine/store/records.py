"""The small records the store takes and returns besides :mod:`litmine.types`.

Plain slotted dataclasses with no database code: a second backend returns the
same ones.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from litmine.types import IngestReport

__all__ = [
    "RUN_STATUSES",
    "ArticleMetadata",
    "EntityCount",
    "PairCount",
    "PassageChange",
    "RunRecord",
    "SavedQuery",
    "StoreCounts",
    "UpsertCounts",
]

RUN_STATUSES = ("running", "ok", "partial", "failed", "interrupted")
"""Every status a run can have; all but the first are final."""


@dataclass(slots=True)
class UpsertCounts:
    """What :meth:`Store.upsert_articles` did.

    Attributes:
        new: Articles not in the store before.
        updated: Articles replaced (newer version or changed content).
        unchanged: Articles already stored with the same version and content.
        skipped_older: Articles ignored because a newer version is stored.
        passages_added: Passages written.
        passages_removed: Passages deleted (their entities went with them).
    """

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped_older: int = 0
    passages_added: int = 0
    passages_removed: int = 0

    @property
    def total(self) -> int:
        """Articles seen."""
        return self.new + self.updated + self.unchanged + self.skipped_older

    def add(self, other: UpsertCounts) -> None:
        """Accumulate another result into this one."""
        for f in dataclasses.fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


@dataclass(slots=True)
class StoreCounts:
    """Row counts for ``litmine status``.

    Attributes:
        articles: Articles stored.
        articles_without_abstract: Articles with no abstract text (no passages).
        retracted: Articles PubMed marks as retracted.
        passages: Passages stored.
        entities: Entity mentions stored.
        runs: Ingest runs recorded.
        saved_queries: Saved queries.
        change_seq: Last sequence number of the passage change log.
    """

    articles: int = 0
    articles_without_abstract: int = 0
    retracted: int = 0
    passages: int = 0
    entities: int = 0
    runs: int = 0
    saved_queries: int = 0
    change_seq: int = 0


@dataclass(slots=True)
class EntityCount:
    """How often one entity occurs (see :meth:`Store.top_entities`).

    Attributes:
        label: Entity label (``CHEMICAL``, ``DISEASE``).
        name: Most frequent normalised text of the entity.
        concept_id: Concept id (MeSH UI) when the mentions were linked, else None.
        articles: Articles mentioning it.
        mentions: Mentions in all.
        pmids: PMIDs of those articles, sorted.
    """

    label: str
    name: str
    concept_id: str | None
    articles: int
    mentions: int
    pmids: list[str] = field(default_factory=list)


@dataclass(slots=True)
class PairCount:
    """A chemical and a disease mentioned in the same articles.

    Attributes:
        chemical: Normalised name of the chemical.
        chemical_id: Its concept id, when linked.
        disease: Normalised name of the disease.
        disease_id: Its concept id, when linked.
        articles: Articles mentioning both.
        pmids: PMIDs of those articles, sorted.
    """

    chemical: str
    chemical_id: str | None
    disease: str
    disease_id: str | None
    articles: int
    pmids: list[str] = field(default_factory=list)


@dataclass(slots=True)
class RunRecord:
    """One ingest (or other) run as recorded by :meth:`Store.start_run`.

    Attributes:
        id: Run number.
        kind: What ran (``"query"``, ``"file"``, ``"nightly"``...).
        params: The parameters it was started with.
        status: ``running``, ``ok``, ``partial``, ``failed`` or ``interrupted``.
        started_at: Start time (UTC).
        finished_at: End time (UTC); None while running or when interrupted.
        fetched: Records read.
        new: Articles added.
        updated: Articles replaced.
        unchanged: Articles already up to date.
        deleted: Articles deleted.
        failed: Records that could not be used.
        errors: The first errors, one line each.
        message: Free-text outcome (the error of a failed run).
        host: Host name of the process that ran it.
        pid: Process id that ran it.
    """

    id: int
    kind: str
    params: dict[str, Any]
    status: str
    started_at: dt.datetime
    finished_at: dt.datetime | None = None
    fetched: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    message: str | None = None
    host: str | None = None
    pid: int | None = None

    @property
    def report(self) -> IngestReport:
        """The run's counts as an :class:`IngestReport`."""
        return IngestReport(
            fetched=self.fetched,
            new=self.new,
            updated=self.updated,
            unchanged=self.unchanged,
            deleted=self.deleted,
            failed=self.failed,
            errors=list(self.errors),
        )


@dataclass(slots=True)
class SavedQuery:
    """A PubMed query re-run on a schedule.

    Attributes:
        id: Query number.
        query: The query text (whitespace normalised).
        cron: Cron schedule.
        watermark: Latest Entrez date already ingested; the next run starts there.
        created_at: When it was saved (UTC).
        last_run_id: Run that last moved the watermark.
    """

    id: int
    query: str
    cron: str
    watermark: dt.date | None
    created_at: dt.datetime
    last_run_id: int | None = None


@dataclass(slots=True, frozen=True)
class PassageChange:
    """One entry of the passage change log (for incremental vector indexes)."""

    seq: int
    passage_id: int
    op: str  # "add" or "del"


@dataclass(slots=True)
class ArticleMetadata:
    """What a search hit shows of its article (see :meth:`Store.article_metadata`)."""

    year: int | None = None
    journal: str | None = None
    publication_types: list[str] = field(default_factory=list)

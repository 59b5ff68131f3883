"""Typed domain records shared by every stage of the pipeline.

Records are plain slotted dataclasses: cheap to build in the streaming parser,
easy to serialise with :func:`to_jsonable`, and typed for mypy. Lists stay lists
until the CSV writer joins them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Author:
    """One author of an article (a person or a collective)."""

    last_name: str | None = None
    fore_name: str | None = None
    initials: str | None = None
    collective_name: str | None = None
    affiliations: list[str] = field(default_factory=list)
    orcid: str | None = None

    @property
    def display_name(self) -> str:
        """Name as PubMed shows it: ``Last Initials`` or the collective name."""
        if self.collective_name:
            return self.collective_name
        return " ".join(p for p in (self.last_name, self.initials) if p)


@dataclass(slots=True)
class AbstractSection:
    """One labelled section of a structured abstract.

    Attributes:
        text: Clean text of the section.
        label: Label as printed (``"METHODS"``), None for unstructured abstracts.
        category: NLM category (BACKGROUND, OBJECTIVE, METHODS, RESULTS,
            CONCLUSIONS, UNASSIGNED) when the record gives one.
        start: Character offset of ``text`` inside :attr:`Article.abstract`.
    """

    text: str
    label: str | None = None
    category: str | None = None
    start: int = 0

    @property
    def end(self) -> int:
        """Offset one past the section's last character in the abstract."""
        return self.start + len(self.text)


@dataclass(slots=True)
class MeshQualifier:
    """A MeSH qualifier (subheading) attached to a descriptor."""

    ui: str | None
    name: str
    major_topic: bool = False


@dataclass(slots=True)
class MeshHeading:
    """A MeSH descriptor with its qualifiers."""

    descriptor_ui: str | None
    descriptor_name: str
    major_topic: bool = False
    qualifiers: list[MeshQualifier] = field(default_factory=list)


@dataclass(slots=True)
class Chemical:
    """An entry of the record's ChemicalList."""

    name: str
    ui: str | None = None
    registry_number: str | None = None


@dataclass(slots=True)
class CommentCorrection:
    """A CommentsCorrections link (retractions, errata, comments...)."""

    ref_type: str
    pmid: str | None = None
    source: str | None = None


@dataclass(slots=True)
class PubDate:
    """A publication date as precise as the record gives it.

    ``medline_date`` keeps free-text forms such as ``"1998 Dec-1999 Jan"``;
    ``year`` is then the first year found in it.
    """

    year: int | None = None
    month: int | None = None
    day: int | None = None
    medline_date: str | None = None

    def as_date(self) -> dt.date | None:
        """Return the earliest calendar date consistent with the record, or None."""
        if self.year is None:
            return None
        try:
            return dt.date(self.year, self.month or 1, self.day or 1)
        except ValueError:
            return dt.date(self.year, 1, 1)


class ArticleSource(enum.StrEnum):
    """Where an article record came from."""

    PUBMED_XML = "pubmed_xml"
    MEDLINE = "medline"
    BEIR = "beir"


@dataclass(slots=True)
class Article:
    """A parsed PubMed (or user-collection) article.

    Attributes:
        pmid: PubMed identifier; for BEIR documents the corpus ``_id``.
        version: PMID version; a higher version replaces a lower one.
        title: Clean title text (markup removed, words kept).
        abstract: Clean abstract text; sections joined by a newline.
        sections: The abstract's sections with their offsets into ``abstract``.
        pub_date: Publication date (journal issue or article date).
        entrez_date: Date the record entered PubMed (history ``entrez`` or ``pubmed``).
        source: Which reader produced the record.
    """

    pmid: str
    title: str = ""
    abstract: str = ""
    version: int = 1
    sections: list[AbstractSection] = field(default_factory=list)
    journal: str | None = None
    journal_iso: str | None = None
    pub_date: PubDate = field(default_factory=PubDate)
    entrez_date: dt.date | None = None
    authors: list[Author] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    publication_types: list[str] = field(default_factory=list)
    mesh_headings: list[MeshHeading] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    chemicals: list[Chemical] = field(default_factory=list)
    doi: str | None = None
    pmc_id: str | None = None
    comments_corrections: list[CommentCorrection] = field(default_factory=list)
    source: ArticleSource = ArticleSource.PUBMED_XML
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def has_abstract(self) -> bool:
        """Whether the record carries any abstract text."""
        return bool(self.abstract.strip())

    @property
    def year(self) -> int | None:
        """Publication year, when known."""
        return self.pub_date.year

    @property
    def is_retracted(self) -> bool:
        """True when PubMed marks the article as retracted."""
        return "Retracted Publication" in self.publication_types or any(
            c.ref_type == "RetractionIn" for c in self.comments_corrections
        )

    @property
    def pubmed_url(self) -> str | None:
        """Link to the article's PubMed page, for numeric PMIDs."""
        return f"https://pubmed.ncbi.nlm.nih.gov/{self.pmid}/" if self.pmid.isdigit() else None


@dataclass(slots=True, frozen=True)
class Deletion:
    """A ``DeleteCitation`` entry of a PubMed update file."""

    pmid: str
    version: int | None = None


@dataclass(slots=True)
class Passage:
    """A retrievable piece of an abstract.

    Attributes:
        id: Stable 63-bit identifier (also the FAISS id), derived from the
            PMID, the passage's ordinal and its text.
        pmid: The article's identifier.
        index: Ordinal of the passage within its article (0-based).
        text: The passage text, exactly ``abstract[start:end]``.
        start: Character offset into the article's abstract.
        end: Offset one past the last character.
        section: Section label (``"RESULTS"``), None for unstructured abstracts.
        title: Title of the article, carried so every passage can show it.
    """

    id: int
    pmid: str
    index: int
    text: str
    start: int
    end: int
    section: str | None = None
    title: str = ""


@dataclass(slots=True)
class Entity:
    """A biomedical entity mention in a passage."""

    passage_id: int
    start: int
    end: int
    text: str
    label: str
    normalized: str
    concept_id: str | None = None


@dataclass(slots=True)
class Hit:
    """One search result: a passage, its article's metadata and its scores."""

    passage: Passage
    score: float
    retrievers: list[str] = field(default_factory=list)
    ranks: dict[str, int] = field(default_factory=dict)
    year: int | None = None
    journal: str | None = None
    publication_types: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Summary:
    """A cluster summary and how it was made."""

    text: str
    method: str
    cited_pmids: list[str] = field(default_factory=list)
    model: str | None = None
    reason: str | None = None


@dataclass(slots=True)
class Cluster:
    """A group of related hits with its label and summary."""

    id: int
    label: str
    hits: list[Hit] = field(default_factory=list)
    summary: Summary | None = None

    @property
    def pmids(self) -> list[str]:
        """PMIDs of the cluster's hits, in rank order, without repeats."""
        return list(dict.fromkeys(h.passage.pmid for h in self.hits))


@dataclass(slots=True)
class IngestReport:
    """Counts of one ingest run, printed as its one-line report."""

    fetched: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: IngestReport) -> None:
        """Accumulate another report's counts into this one."""
        self.fetched += other.fetched
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.deleted += other.deleted
        self.failed += other.failed
        self.errors.extend(other.errors)

    def line(self) -> str:
        """The one-line report: fetched / new / updated / deleted / failed."""
        return (
            f"fetched {self.fetched} / new {self.new} / updated {self.updated} / "
            f"deleted {self.deleted} / failed {self.failed}"
        )


def to_jsonable(obj: Any) -> Any:
    """Convert records (nested dataclasses, dates, enums) to JSON-ready values."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, dt.date):
        return obj.isoformat()
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in obj]
    return obj

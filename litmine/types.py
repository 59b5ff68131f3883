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
    PUBMEDQA = "pubmedqa"


def pubmed_url(pmid: str) -> str | None:
    """The article's PubMed page, for numeric PMIDs (other collections have none)."""
    return f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/" if pmid.isdigit() else None


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
        return pubmed_url(self.pmid)


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
    relevance: float | None = None


@dataclass(slots=True)
class EvidenceRow:
    """One cited article of a cluster's evidence table.

    Attributes:
        pmid: PubMed identifier.
        title: Article title.
        year: Publication year.
        design: Study design (``"randomised trial"``, ``"cohort"``, ``"animal"``...,
            see :data:`litmine.answer.evidence.DESIGNS`).
        design_source: ``"publication type"`` (from PubMed), ``"MeSH"`` or ``"text"``
            (rules over title and abstract).
        sample_size: Participants (or animals) when the abstract states them.
        sample_size_text: The words the sample size was read from.
        key_finding: The article's sentence that best states a result.
        relevance: The article's relevance to the question (probability), when known.
        cited: Whether the cluster summary cites the article.
        retracted: PubMed marks the article as retracted.
    """

    pmid: str
    title: str = ""
    year: int | None = None
    design: str = "other"
    design_source: str = "text"
    sample_size: int | None = None
    sample_size_text: str | None = None
    key_finding: str = ""
    relevance: float | None = None
    cited: bool = False
    retracted: bool = False


@dataclass(slots=True)
class SummarySentence:
    """One sentence of an extractive summary with where it comes from.

    Attributes:
        text: The sentence, verbatim from the passage.
        pmid: PMID of the article it was taken from.
        passage_id: Id of the passage it was taken from.
    """

    text: str
    pmid: str
    passage_id: int


@dataclass(slots=True)
class Summary:
    """A cluster summary and how it was made.

    Attributes:
        text: The summary text.
        method: ``"seq2seq"`` (generated) or ``"extractive"`` (selected sentences).
        cited_pmids: PMIDs of the articles the summary was made from, in rank
            order: for seq2seq the passages given to the model, for extractive
            the articles of the selected sentences.
        model: Name or path of the generating model (seq2seq only).
        reason: Why this method was used when it is a fallback (e.g. the
            model could not be loaded), or why nothing was summarised.
        passage_ids: Ids of the passages behind ``cited_pmids``.
        sentences: The selected sentences with their sources (extractive only).
    """

    text: str
    method: str
    cited_pmids: list[str] = field(default_factory=list)
    model: str | None = None
    reason: str | None = None
    passage_ids: list[int] = field(default_factory=list)
    sentences: list[SummarySentence] = field(default_factory=list)


@dataclass(slots=True)
class EvidenceProfile:
    """How many articles of a group are of each kind of study.

    Each non-retracted article counts once, in its strongest category
    (meta-analysis > systematic review > RCT > other clinical study > case
    report > review > other). Retracted articles count only in ``retracted``.
    """

    meta_analyses: int = 0
    systematic_reviews: int = 0
    rcts: int = 0
    other_clinical_studies: int = 0
    case_reports: int = 0
    reviews: int = 0
    other: int = 0
    retracted: int = 0

    @property
    def total(self) -> int:
        """Articles counted, retracted ones included."""
        return (
            self.meta_analyses
            + self.systematic_reviews
            + self.rcts
            + self.other_clinical_studies
            + self.case_reports
            + self.reviews
            + self.other
            + self.retracted
        )

    def line(self) -> str:
        """One line for terminals: ``2 meta-analyses, 1 RCT, 3 other``."""
        names = (
            ("meta_analyses", "meta-analysis", "meta-analyses"),
            ("systematic_reviews", "systematic review", "systematic reviews"),
            ("rcts", "RCT", "RCTs"),
            ("other_clinical_studies", "other clinical study", "other clinical studies"),
            ("case_reports", "case report", "case reports"),
            ("reviews", "review", "reviews"),
            ("other", "other", "other"),
            ("retracted", "RETRACTED", "RETRACTED"),
        )
        parts = []
        for attr, one, many in names:
            n = getattr(self, attr)
            if n:
                parts.append(f"{n} {one if n == 1 else many}")
        return ", ".join(parts) if parts else "no articles"


@dataclass(slots=True)
class ArticleInfo:
    """What an answer shows of a cited article.

    Attributes:
        pmid: PubMed identifier.
        title: Article title.
        journal: Journal title.
        year: Publication year.
        doi: DOI, when known.
        publication_types: PubMed publication types.
        mesh_terms: MeSH descriptor names.
        retracted: PubMed marks the article as retracted.
        pubmed_url: Link to its PubMed page (numeric PMIDs only).
    """

    pmid: str
    title: str = ""
    journal: str | None = None
    year: int | None = None
    doi: str | None = None
    publication_types: list[str] = field(default_factory=list)
    mesh_terms: list[str] = field(default_factory=list)
    retracted: bool = False
    pubmed_url: str | None = None


@dataclass(slots=True)
class Cluster:
    """A group of related hits with its label, evidence profile and summary.

    Attributes:
        id: Cluster number within its answer (0 holds the best hit).
        label: Short label (dominant entities, MeSH terms or title words).
        hits: The cluster's hits, best first (retracted ones included, flagged
            by ``retracted_pmids``).
        summary: Summary of the non-retracted hits; None before summarising.
        evidence: Study-type counts of the cluster's articles.
        retracted_pmids: PMIDs of retracted articles among the hits; they are
            never summarised.
        relevance: Estimated probability that the cluster holds an article
            answering the question (its best article's); None when unknown.
        evidence_table: One row per article of the cluster that is evidence
            (relevant, not retracted), most relevant first.
    """

    id: int
    label: str
    hits: list[Hit] = field(default_factory=list)
    summary: Summary | None = None
    evidence: EvidenceProfile = field(default_factory=EvidenceProfile)
    retracted_pmids: list[str] = field(default_factory=list)
    relevance: float | None = None
    evidence_table: list[EvidenceRow] = field(default_factory=list)

    @property
    def pmids(self) -> list[str]:
        """PMIDs of the cluster's hits, in rank order, without repeats."""
        return list(dict.fromkeys(h.passage.pmid for h in self.hits))


@dataclass(slots=True)
class Answer:
    """A question answered by clusters of cited, summarised evidence.

    Attributes:
        question: The question as searched (whitespace normalised).
        clusters: Clusters, the one holding the best hit first.
        summary_method: ``"seq2seq"`` or ``"extractive"``.
        summary_reason: Why the extractive method was used (None for seq2seq).
        timings: Seconds per stage: ``search``, ``vectors``, ``cluster``,
            ``summarize`` and ``total``.
        articles: Metadata of every article among the hits, by PMID.
        entities: CHEMICAL and DISEASE mentions of the hit passages, by passage id.
        mode: Retrieval mode used.
        less_related: Clusters whose relevance is below the threshold: listed
            by title only, never summarised.
        no_evidence: True when no retrieved article clears the relevance
            threshold ("No article in this collection answers this question").
        relevance_threshold: The threshold used; None when relevance was not estimated.
        relevance_note: Why relevance was not estimated, when it was not.
    """

    question: str
    clusters: list[Cluster] = field(default_factory=list)
    summary_method: str = "extractive"
    summary_reason: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    articles: dict[str, ArticleInfo] = field(default_factory=dict)
    entities: dict[int, list[Entity]] = field(default_factory=dict)
    mode: str | None = None
    less_related: list[Cluster] = field(default_factory=list)
    no_evidence: bool = False
    relevance_threshold: float | None = None
    relevance_note: str | None = None

    @property
    def pmids(self) -> list[str]:
        """PMIDs of all hits of the shown clusters, cluster by cluster, without repeats."""
        return list(dict.fromkeys(p for c in self.clusters for p in c.pmids))


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

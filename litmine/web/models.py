"""Pydantic response models of the JSON API (they make up the OpenAPI schema)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from litmine.types import pubmed_url

if TYPE_CHECKING:
    from litmine.types import Answer, Article, ArticleInfo, Cluster, Hit

__all__ = [
    "AnswerOut",
    "ArticleOut",
    "ClusterOut",
    "ErrorOut",
    "EvidenceOut",
    "HitOut",
    "SearchOut",
    "SummaryOut",
    "pubmed_url",
]


class ErrorOut(BaseModel):
    """An error: what went wrong and, when known, how to fix it."""

    error: str = Field(description="What went wrong, in one sentence.")
    hint: str | None = Field(None, description="How to fix it.")


class HitOut(BaseModel):
    """One retrieved passage with its article's metadata."""

    rank: int
    pmid: str
    passage_id: int
    score: float
    retrievers: list[str]
    ranks: dict[str, int]
    title: str
    section: str | None
    text: str
    year: int | None
    journal: str | None
    publication_types: list[str]
    pubmed_url: str | None

    @classmethod
    def from_hit(cls, rank: int, hit: Hit) -> HitOut:
        """Build from a :class:`~litmine.types.Hit` at a 1-based rank."""
        p = hit.passage
        return cls(
            rank=rank,
            pmid=p.pmid,
            passage_id=p.id,
            score=hit.score,
            retrievers=list(hit.retrievers),
            ranks=dict(hit.ranks),
            title=p.title,
            section=p.section,
            text=p.text,
            year=hit.year,
            journal=hit.journal,
            publication_types=list(hit.publication_types),
            pubmed_url=pubmed_url(p.pmid),
        )


class SearchOut(BaseModel):
    """Passages answering a question, best first."""

    question: str
    mode: str
    hits: list[HitOut]


class SummaryOut(BaseModel):
    """A cluster summary and how it was made."""

    text: str
    method: str = Field(description="'seq2seq' (generated) or 'extractive' (selected sentences).")
    reason: str | None = Field(None, description="Why the fallback method was used.")
    model: str | None = None
    cited_pmids: list[str]


class EvidenceOut(BaseModel):
    """Articles of a cluster by strongest study type."""

    meta_analyses: int = 0
    systematic_reviews: int = 0
    rcts: int = 0
    other_clinical_studies: int = 0
    case_reports: int = 0
    reviews: int = 0
    other: int = 0
    retracted: int = 0


class EvidenceRowOut(BaseModel):
    """One article of a cluster's evidence table."""

    pmid: str
    title: str
    year: int | None
    design: str = Field(description="Study design: 'randomised trial', 'cohort', 'animal'...")
    design_source: str = Field(description="'publication type', 'MeSH' or 'text' (rules).")
    sample_size: int | None = Field(None, description="Participants, where the abstract says.")
    sample_size_text: str | None = Field(None, description="The words it was read from.")
    key_finding: str = Field(description="The sentence that best states the article's result.")
    relevance: float | None = Field(None, description="Probability it answers the question.")
    cited: bool
    retracted: bool


class CitedArticleOut(BaseModel):
    """An article cited by an answer."""

    pmid: str
    title: str
    journal: str | None
    year: int | None
    publication_types: list[str]
    retracted: bool
    pubmed_url: str | None

    @classmethod
    def from_info(cls, info: ArticleInfo) -> CitedArticleOut:
        """Build from the answer's :class:`~litmine.types.ArticleInfo`."""
        return cls(
            pmid=info.pmid,
            title=info.title,
            journal=info.journal,
            year=info.year,
            publication_types=list(info.publication_types),
            retracted=info.retracted,
            pubmed_url=info.pubmed_url or pubmed_url(info.pmid),
        )


class ClusterOut(BaseModel):
    """A group of related passages with its label, summary and evidence profile."""

    id: int
    label: str
    summary: SummaryOut | None
    evidence: EvidenceOut
    pmids: list[str]
    retracted_pmids: list[str]
    hits: list[HitOut]
    relevance: float | None = Field(
        None, description="Probability that the cluster holds an article answering the question."
    )
    evidence_table: list[EvidenceRowOut] = Field(
        default_factory=list, description="One row per relevant article: design, n, finding."
    )

    @classmethod
    def from_cluster(cls, cluster: Cluster) -> ClusterOut:
        """Build from a :class:`~litmine.types.Cluster`."""
        s = cluster.summary
        summary = (
            None
            if s is None
            else SummaryOut(
                text=s.text,
                method=s.method,
                reason=s.reason,
                model=s.model,
                cited_pmids=list(s.cited_pmids),
            )
        )
        return cls(
            id=cluster.id,
            label=cluster.label,
            summary=summary,
            evidence=EvidenceOut(**dataclasses.asdict(cluster.evidence)),
            pmids=cluster.pmids,
            retracted_pmids=list(cluster.retracted_pmids),
            hits=[HitOut.from_hit(i, h) for i, h in enumerate(cluster.hits, start=1)],
            relevance=cluster.relevance,
            evidence_table=[
                EvidenceRowOut(**dataclasses.asdict(row)) for row in cluster.evidence_table
            ],
        )


class AnswerOut(BaseModel):
    """A question answered by clusters of cited, summarised evidence."""

    question: str
    mode: str | None
    summary_method: str
    summary_reason: str | None
    timings: dict[str, float]
    clusters: list[ClusterOut]
    articles: list[CitedArticleOut]
    less_related: list[ClusterOut] = Field(
        default_factory=list,
        description="Clusters below the relevance threshold (not summarised, not evidence).",
    )
    no_evidence: bool = Field(
        False, description="True when no retrieved article answers the question."
    )
    message: str | None = Field(
        None, description="'No article in this collection answers this question.' or None."
    )
    relevance_threshold: float | None = Field(
        None, description="Least relevance of a shown cluster; None when not estimated."
    )

    @classmethod
    def from_answer(cls, answer: Answer) -> AnswerOut:
        """Build from an :class:`~litmine.types.Answer`."""
        from litmine.answer.trust import NO_EVIDENCE

        return cls(
            less_related=[ClusterOut.from_cluster(c) for c in answer.less_related],
            no_evidence=answer.no_evidence,
            message=NO_EVIDENCE if answer.no_evidence else None,
            relevance_threshold=answer.relevance_threshold,
            question=answer.question,
            mode=answer.mode,
            summary_method=answer.summary_method,
            summary_reason=answer.summary_reason,
            timings=dict(answer.timings),
            clusters=[ClusterOut.from_cluster(c) for c in answer.clusters],
            articles=[
                CitedArticleOut.from_info(answer.articles[p])
                for p in answer.pmids
                if p in answer.articles
            ],
        )


class ArticleOut(BaseModel):
    """A stored article."""

    pmid: str
    title: str
    abstract: str
    journal: str | None
    year: int | None
    authors: list[str]
    publication_types: list[str]
    mesh_terms: list[str]
    keywords: list[str]
    doi: str | None
    retracted: bool
    pubmed_url: str | None

    @classmethod
    def from_article(cls, article: Article) -> ArticleOut:
        """Build from a stored :class:`~litmine.types.Article`."""
        return cls(
            pmid=article.pmid,
            title=article.title,
            abstract=article.abstract,
            journal=article.journal,
            year=article.year,
            authors=[a.display_name for a in article.authors],
            publication_types=list(article.publication_types),
            mesh_terms=[m.descriptor_name for m in article.mesh_headings],
            keywords=list(article.keywords),
            doi=article.doi,
            retracted=article.is_retracted,
            pubmed_url=article.pubmed_url,
        )

"""Field extraction of PubMed XML records: one parsed element in, one record out.

:func:`_pubmed_article` reads a ``PubmedArticle`` element into an
:class:`~litmine.types.Article`, :func:`_book_article` a ``PubmedBookArticle``
and :func:`_deletions` the PMIDs of a ``DeleteCitation``. Nothing here reads
bytes or knows about chunks: the reader (:mod:`litmine.parse.pubmed_xml`)
hands over elements that libxml2 already built.

Extraction walks each record's children directly (no XPath, no ``find`` path
lookups, no re-serialisation) because this code sits on the ingest hot path.
The compiled extractor (``_fastxml.pyx``) mirrors :func:`_pubmed_article`
function for function and reads :data:`_ORCID_RE`, :data:`_SKIPPED_REF_TYPES`
and :func:`_int` from :mod:`litmine.parse.pubmed_xml` (which re-exports them
from here), so both read records the same way.
"""

from __future__ import annotations

import re
from typing import Any

from litmine.parse.dates import month_number, parse_free_date, safe_date
from litmine.parse.text import ascii_printable, clean_text, element_text
from litmine.types import (
    AbstractSection,
    Article,
    ArticleSource,
    Author,
    Chemical,
    CommentCorrection,
    Deletion,
    MeshHeading,
    MeshQualifier,
    PubDate,
)

# The top-level elements that are records (the reader parses and yields these).
_RECORD_TAGS = ("PubmedArticle", "PubmedBookArticle", "DeleteCitation")
_ORCID_RE = re.compile(r"(\d{4}-\d{4}-\d{4}-\d{3}[\dXx])")


def _text(el: Any) -> str:
    """Clean text of an element that rarely has markup (fast path for leaves)."""
    if el is None:
        return ""
    if len(el):
        return element_text(el)
    text = el.text
    if not text:
        return ""
    if (
        text.isascii()
        and "&" not in text
        and "<" not in text
        and (text.isprintable() if len(text) < 64 else ascii_printable(text))
    ):
        # Common case: plain one-line ASCII; skip the full cleaner.
        return text.strip() if "  " not in text else " ".join(text.split())
    return clean_text(text)


def _plain(el: Any) -> str | None:
    """Stripped text of a leaf element, None when missing or empty."""
    if el is None:
        return None
    text = el.text
    if text is None:
        return None
    return text.strip() or None


def _int(text: str | None) -> int | None:
    if text is None:
        return None
    text = text.strip()
    return int(text) if text.isdecimal() else None


def _date_of(el: Any) -> PubDate:
    """PubDate / ArticleDate / PubMedPubDate element -> PubDate."""
    year: int | None = None
    month: int | None = None
    day: int | None = None
    medline: str | None = None
    for child in el:
        tag = child.tag
        if tag == "Year":
            year = _int(child.text)
        elif tag == "Month":
            month = month_number(child.text)
        elif tag == "Day":
            day = _int(child.text)
            if day is not None and not 1 <= day <= 31:
                day = None
        elif tag == "MedlineDate":
            medline = _plain(child)
    if year is None and medline:
        return parse_free_date(medline)
    return PubDate(year=year, month=month, day=day, medline_date=medline)


def _abstract(el: Any) -> tuple[str, list[AbstractSection]]:
    """Abstract element -> (text joined by newlines, sections with offsets)."""
    sections: list[AbstractSection] = []
    parts: list[str] = []
    offset = 0
    for child in el.iterchildren("AbstractText"):
        text = _text(child)
        if not text:
            continue
        label = child.get("Label")
        if label is not None:
            label = " ".join(label.split()) or None
            if label is not None and label.upper() == "UNLABELLED":
                label = None
        if parts:
            offset += 1  # the "\n" separator
        sections.append(AbstractSection(text, label, child.get("NlmCategory") or None, offset))
        parts.append(text)
        offset += len(text)
    return "\n".join(parts), sections


def _author(au: Any) -> Author | None:
    last = fore = initials = collective = orcid = None
    affiliations: list[str] = []
    for child in au:
        tag = child.tag
        if tag == "LastName":
            last = _text(child) or None
        elif tag == "ForeName":
            fore = _text(child) or None
        elif tag == "Initials":
            initials = _plain(child)
        elif tag == "AffiliationInfo":
            for sub in child.iterchildren("Affiliation"):
                aff = _text(sub)
                if aff:
                    affiliations.append(aff)
        elif tag == "CollectiveName":
            collective = _text(child) or None
        elif tag == "Identifier" and (child.get("Source") or "").upper() == "ORCID":
            match = _ORCID_RE.search(child.text or "")
            if match:
                orcid = match.group(1).upper()
    if not (last or fore or collective):
        return None
    return Author(last, fore, initials, collective, affiliations, orcid)


def _authors(el: Any) -> list[Author]:
    authors: list[Author] = []
    for au in el.iterchildren("Author"):
        if au.get("ValidYN") == "N":
            continue
        author = _author(au)
        if author is not None:
            authors.append(author)
    return authors


def _mesh(el: Any) -> list[MeshHeading]:
    headings: list[MeshHeading] = []
    for mh in el.iterchildren("MeshHeading"):
        heading: MeshHeading | None = None
        qualifiers: list[MeshQualifier] = []
        for child in mh:
            tag = child.tag
            if tag == "DescriptorName":
                heading = MeshHeading(
                    child.get("UI"), _text(child), child.get("MajorTopicYN") == "Y", qualifiers
                )
            elif tag == "QualifierName":
                qualifiers.append(
                    MeshQualifier(child.get("UI"), _text(child), child.get("MajorTopicYN") == "Y")
                )
        if heading is not None:
            headings.append(heading)
    return headings


def _chemicals(el: Any) -> list[Chemical]:
    chemicals: list[Chemical] = []
    for chem in el.iterchildren("Chemical"):
        name = ui = registry = None
        for child in chem:
            tag = child.tag
            if tag == "NameOfSubstance":
                name = _text(child)
                ui = child.get("UI")
            elif tag == "RegistryNumber":
                registry = _plain(child)
        if name:
            chemicals.append(Chemical(name, ui, None if registry == "0" else registry))
    return chemicals


# Reference-list entries: a bibliography, not a link between a record and its
# corrections, comments or retractions (the MEDLINE text format has no tag for them).
_SKIPPED_REF_TYPES = frozenset({"Cites"})


def _comments(el: Any) -> list[CommentCorrection]:
    links: list[CommentCorrection] = []
    for cc in el.iterchildren("CommentsCorrections"):
        ref_type = cc.get("RefType") or ""
        if ref_type in _SKIPPED_REF_TYPES:
            continue
        pmid = source = None
        for child in cc:
            tag = child.tag
            if tag == "RefSource":
                source = _text(child) or None
            elif tag == "PMID":
                pmid = _plain(child)
        links.append(CommentCorrection(ref_type, pmid, source))
    return links


def _pubmed_data(el: Any, article: Article) -> None:
    """History (entrez date) and ArticleIdList (doi, pmc) of PubmedData."""
    for child in el:
        tag = child.tag
        if tag == "History":
            entrez = pubmed = None
            for ppd in child.iterchildren("PubMedPubDate"):
                status = ppd.get("PubStatus")
                if status == "entrez" and entrez is None:
                    entrez = ppd
                elif status == "pubmed" and pubmed is None:
                    pubmed = ppd
            for ppd in (entrez, pubmed):
                if ppd is not None:
                    pd = _date_of(ppd)
                    day = safe_date(pd.year, pd.month, pd.day)
                    if day is not None:
                        article.entrez_date = day
                        break
        elif tag == "ArticleIdList":
            for aid in child.iterchildren("ArticleId"):
                kind = aid.get("IdType")
                if kind == "doi":
                    if article.doi is None:
                        article.doi = _plain(aid)
                elif kind == "pmc" and article.pmc_id is None:
                    article.pmc_id = _plain(aid)


def _keywords(el: Any, out: list[str]) -> None:
    for kw in el.iterchildren("Keyword"):
        word = _text(kw)
        if word and word not in out:
            out.append(word)


def _journal(el: Any, article: Article) -> None:
    for child in el:
        tag = child.tag
        if tag == "Title":
            article.journal = _text(child) or None
        elif tag == "ISOAbbreviation":
            article.journal_iso = _text(child) or None
        elif tag == "JournalIssue":
            for sub in child.iterchildren("PubDate"):
                article.pub_date = _date_of(sub)


def _article_element(el: Any, article: Article) -> tuple[PubDate | None, str | None]:
    """MedlineCitation/Article -> fields; returns (ArticleDate, ELocationID doi)."""
    article_date: PubDate | None = None
    vernacular = ""
    elocation_doi: str | None = None
    for child in el:
        tag = child.tag
        if tag == "ArticleTitle":
            article.title = _text(child)
        elif tag == "Abstract":
            article.abstract, article.sections = _abstract(child)
        elif tag == "AuthorList":
            article.authors = _authors(child)
        elif tag == "Journal":
            _journal(child, article)
        elif tag == "Language":
            lang = _plain(child)
            if lang:
                article.languages.append(lang)
        elif tag == "PublicationTypeList":
            article.publication_types = [
                t for t in (_text(pt) for pt in child.iterchildren("PublicationType")) if t
            ]
        elif tag == "ELocationID":
            if child.get("EIdType") == "doi" and child.get("ValidYN") != "N" and not elocation_doi:
                elocation_doi = _plain(child)
        elif tag == "ArticleDate":
            if article_date is None:
                article_date = _date_of(child)
        elif tag == "VernacularTitle":
            vernacular = _text(child)
    if not article.title and vernacular:
        article.title = vernacular
    return article_date, elocation_doi


def _read_pmid(el: Any) -> tuple[str, int]:
    """PMID element -> (pmid, version); raises ValueError when unusable."""
    pmid = _plain(el)
    if not pmid:
        raise ValueError("empty PMID")
    if not (pmid.isascii() and pmid.isdigit()):
        raise ValueError(f"PMID {pmid!r} is not a number")
    return pmid, _int(el.get("Version")) or 1


def _pubmed_article(elem: Any) -> Article:
    """PubmedArticle element -> Article (raises on malformed input)."""
    citation = data = None
    for child in elem:
        tag = child.tag
        if tag == "MedlineCitation":
            citation = child
        elif tag == "PubmedData":
            data = child
    if citation is None:
        raise ValueError("no MedlineCitation")
    article: Article | None = None
    article_date: PubDate | None = None
    elocation_doi: str | None = None
    has_article = False
    keywords: list[str] = []
    for child in citation:
        tag = child.tag
        if tag == "PMID":
            pmid, version = _read_pmid(child)
            article = Article(pmid=pmid, version=version, source=ArticleSource.PUBMED_XML)
        elif article is None:
            continue  # PMID is the first child in every DTD version
        elif tag == "Article":
            has_article = True
            article_date, elocation_doi = _article_element(child, article)
        elif tag == "MeshHeadingList":
            article.mesh_headings = _mesh(child)
        elif tag == "ChemicalList":
            article.chemicals = _chemicals(child)
        elif tag == "KeywordList":
            _keywords(child, keywords)
        elif tag == "CommentsCorrectionsList":
            article.comments_corrections = _comments(child)
        elif tag == "MedlineJournalInfo" and article.journal_iso is None:
            for sub in child.iterchildren("MedlineTA"):
                article.journal_iso = _plain(sub)
    if article is None:
        raise ValueError("no PMID in MedlineCitation")
    if not has_article:
        raise ValueError("MedlineCitation has no Article element")
    article.keywords = keywords
    if data is not None:
        _pubmed_data(data, article)
    if article.pub_date.year is None and article_date is not None and article_date.year:
        article.pub_date = article_date
    if article.doi is None:
        article.doi = elocation_doi
    return article


def _first(el: Any, tag: str) -> Any:
    """First child of ``el`` with this tag, or None."""
    for child in el.iterchildren(tag):
        return child
    return None


def _book_article(elem: Any) -> Article:
    """PubmedBookArticle element -> Article (titles, abstract, authors, dates)."""
    doc = _first(elem, "BookDocument")
    if doc is None:
        raise ValueError("no BookDocument")
    pmid_el = _first(doc, "PMID")
    if pmid_el is None:
        raise ValueError("no PMID")
    pmid, version = _read_pmid(pmid_el)
    article = Article(pmid=pmid, version=version, source=ArticleSource.PUBMED_XML)
    book_title = ""
    keywords: list[str] = []
    for child in doc:
        tag = child.tag
        if tag == "ArticleTitle":
            article.title = _text(child)
        elif tag == "Book":
            book_title = _text(_first(child, "BookTitle"))
            article.journal = _text(_first(child, "PublisherName")) or None
            pub_date = _first(child, "PubDate")
            if pub_date is not None:
                article.pub_date = _date_of(pub_date)
        elif tag == "Abstract":
            article.abstract, article.sections = _abstract(child)
        elif tag == "AuthorList" and not article.authors:
            article.authors = _authors(child)
        elif tag == "Language":
            lang = _plain(child)
            if lang:
                article.languages.append(lang)
        elif tag == "PublicationType":
            pt = _text(child)
            if pt:
                article.publication_types.append(pt)
        elif tag == "KeywordList":
            _keywords(child, keywords)
        elif tag == "ArticleIdList":
            for aid in child.iterchildren("ArticleId"):
                if aid.get("IdType") == "doi" and article.doi is None:
                    article.doi = _plain(aid)
    article.keywords = keywords
    if not article.title:
        article.title = book_title
    data = _first(elem, "PubmedBookData")
    if data is not None:
        _pubmed_data(data, article)
    return article


def _salvage_pmid(elem: Any) -> str | None:
    """Best-effort PMID of a broken record, for the RecordError."""
    for path in ("MedlineCitation/PMID", "BookDocument/PMID"):
        value = elem.findtext(path)
        if value and value.strip():
            return value.strip()
    return None


def _deletions(elem: Any) -> list[Deletion]:
    out: list[Deletion] = []
    for pmid_el in elem.iterchildren("PMID"):
        pmid = _plain(pmid_el)
        if not pmid:
            continue
        version = pmid_el.get("Version")
        out.append(
            Deletion(pmid=pmid, version=int(version) if version and version.isdecimal() else None)
        )
    return out

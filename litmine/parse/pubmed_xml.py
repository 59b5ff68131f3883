"""Streaming reader of PubMed XML (EFetch responses, baseline and update files).

:func:`iter_pubmed_xml` walks a ``PubmedArticleSet`` with
:func:`lxml.etree.iterparse`, building one :class:`~litmine.types.Article` per
``PubmedArticle`` (or ``PubmedBookArticle``) and one
:class:`~litmine.types.Deletion` per PMID of a ``DeleteCitation``. Each record
is cleared from the tree once read, so memory stays flat on a 1 GB baseline
file. No DTD is loaded and nothing is fetched from the network.

Error contract:

* one malformed record (no PMID, or anything raised while reading it) is
  *yielded* as a :class:`~litmine.errors.RecordError` and reading goes on;
* a file that breaks off or is not XML yields every complete record before
  the break and then raises :class:`~litmine.errors.ParseError` naming the
  file and the line;
* an HTML page, an empty input or another E-utilities document (eSearch...)
  raises :class:`~litmine.errors.ParseError` straight away.

Extraction walks each record's children directly (no XPath, no ``find`` path
lookups, no re-serialisation) because this reader sits on the ingest hot path.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from typing import IO, Any

from lxml import etree

from litmine.errors import ParseError, RecordError
from litmine.parse._io import ByteSource, GunzipStream, PrefixedStream, open_source, source_name
from litmine.parse.dates import month_number, parse_free_date, safe_date
from litmine.parse.text import MATHML_NS, clean_text, element_text
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

__all__ = ["PubmedSource", "iter_pubmed_xml", "parse_pubmed_xml_bytes"]

PubmedSource = ByteSource
"""What :func:`iter_pubmed_xml` accepts: a path, an open binary stream or bytes."""

_RECORD_TAGS = ("PubmedArticle", "PubmedBookArticle", "DeleteCitation")
_SET_TAGS = frozenset({"PubmedArticleSet", "PubmedBookArticleSet", "DeleteCitation"})
_SNIFF_BYTES = 2048
_HTML_RE = re.compile(
    rb"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body)[\s>]", re.I | re.S
)
_ROOT_TAG_RE = re.compile(rb"<(PubmedArticleSet|PubmedBookArticleSet)\b[^>]*>")
_ORCID_RE = re.compile(r"(\d{4}-\d{4}-\d{4}-\d{3}[\dXx])")


# ---------------------------------------------------------------------------
# Input handling
# ---------------------------------------------------------------------------


def _check_head(head: bytes, name: str) -> None:
    """Refuse empty input and HTML pages before handing bytes to libxml2."""
    body = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if not body:
        raise ParseError(
            f"{name} is empty: no PubMed XML to read.",
            "check the download or the EFetch request that produced it",
        )
    probe = body
    if probe.startswith(b"<?xml"):
        end = probe.find(b"?>")
        probe = probe[end + 2 :] if end >= 0 else probe
    if _HTML_RE.match(probe):
        raise ParseError(
            f"{name} is an HTML page, not PubMed XML.",
            "NCBI returns HTML for errors and for retmode other than xml; "
            "fetch again with retmode=xml",
        )
    if not body.startswith(b"<"):
        raise ParseError(
            f"{name} is not XML (it does not start with '<').",
            "pass PubMed XML (.xml or .xml.gz); MEDLINE text and BEIR JSONL have their own readers",
        )


# ---------------------------------------------------------------------------
# Field extraction
# ---------------------------------------------------------------------------


def _text(el: Any) -> str:
    """Clean text of an element that rarely has markup (fast path for leaves)."""
    if el is None:
        return ""
    if len(el):
        return element_text(el)
    text = el.text
    if not text:
        return ""
    if text.isascii() and text.isprintable() and "&" not in text and "<" not in text:
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


def _comments(el: Any) -> list[CommentCorrection]:
    links: list[CommentCorrection] = []
    for cc in el.iterchildren("CommentsCorrections"):
        pmid = source = None
        for child in cc:
            tag = child.tag
            if tag == "RefSource":
                source = _text(child) or None
            elif tag == "PMID":
                pmid = _plain(child)
        links.append(CommentCorrection(cc.get("RefType") or "", pmid, source))
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


# ---------------------------------------------------------------------------
# The reader
# ---------------------------------------------------------------------------


def _syntax_error(name: str, err: etree.XMLSyntaxError, count: int) -> ParseError:
    line = err.lineno if err.lineno else "?"
    msg = (err.msg or str(err)).split(", line ")[0]
    return ParseError(
        f"{name}: truncated or malformed XML at line {line}: {msg}; "
        f"the {count} record(s) before it were read.",
        "re-download the file or fetch the missing records again",
    )


def _declare_mathml_prefix(head: bytes) -> bytes:
    """Declare the ``mml:`` prefix on the root element if the document does not.

    The PubMed DTDs supply ``xmlns:mml`` as a default attribute of
    ``<mml:math>``; without the DTD an ``mml:`` tag would be a namespace error
    that libxml2 reports only at the end of the file (and lxml's error log
    cannot tell it apart reliably from real breakage). Declaring the prefix
    on ``<PubmedArticleSet>`` makes every such tag well-formed. The insertion
    stays on the root tag's line, so reported line numbers do not move.
    """
    match = _ROOT_TAG_RE.search(head)
    if match is None or b"xmlns:mml" in match.group(0):
        return head
    at = match.end(1)
    return head[:at] + b' xmlns:mml="' + MATHML_NS.encode() + b'"' + head[at:]


def iter_pubmed_xml(source: PubmedSource) -> Iterator[Article | Deletion | RecordError]:
    """Stream the records of a PubMed XML document.

    Accepts EFetch responses and baseline/update files, plain or gzipped
    (detected by magic bytes, whatever the file name). Memory stays flat:
    every record is cleared from the tree once read.

    Args:
        source: A file path, an open binary stream, or the document's bytes.

    Yields:
        An :class:`Article` per ``PubmedArticle``/``PubmedBookArticle``, a
        :class:`Deletion` per PMID listed in a ``DeleteCitation``, and a
        :class:`RecordError` (yielded, not raised) per malformed record.

    Raises:
        ParseError: The input is empty, an HTML page, not PubMed XML, or
            breaks off / is malformed (raised after the complete records
            before the break were yielded; the message names the line).
        OSError: The file cannot be opened.
    """
    name = source_name(source)
    owned: list[IO[bytes] | GunzipStream] = []
    try:
        stream, head = open_source(source, _SNIFF_BYTES, owned)
        _check_head(head, name)
        stream.replace_head(_declare_mathml_prefix(head))
        yield from _iterate(stream, name)
    except (EOFError, zlib.error) as exc:  # gzip broken within the sniffed head
        raise ParseError(
            f"{name}: the gzip data is truncated or corrupt ({exc}).", "re-download the file"
        ) from exc
    finally:
        for handle in reversed(owned):
            handle.close()


def _iterate(stream: PrefixedStream, name: str) -> Iterator[Article | Deletion | RecordError]:
    context = etree.iterparse(
        stream,
        events=("end",),
        tag=_RECORD_TAGS,
        load_dtd=False,
        no_network=True,
        resolve_entities=False,
        remove_comments=True,
        remove_pis=True,
    )
    count = 0
    try:
        for _event, elem in context:
            tag = elem.tag
            if tag == "PubmedArticle":
                try:
                    yield _pubmed_article(elem)
                except Exception as exc:  # one bad record must not stop the file
                    yield RecordError(
                        _salvage_pmid(elem),
                        f"{name} line {elem.sourceline}: {exc}",
                    )
            elif tag == "DeleteCitation":
                yield from _deletions(elem)
            else:  # PubmedBookArticle
                try:
                    yield _book_article(elem)
                except Exception as exc:
                    yield RecordError(
                        _salvage_pmid(elem), f"{name} line {elem.sourceline}: book record: {exc}"
                    )
            count += 1
            elem.clear(keep_tail=False)
            parent = elem.getparent()
            if parent is not None:
                while elem.getprevious() is not None:
                    del parent[0]
    except etree.XMLSyntaxError as err:
        raise _syntax_error(name, err, count) from None
    except (EOFError, zlib.error) as exc:
        raise ParseError(
            f"{name}: the gzip data is truncated or corrupt ({exc}); "
            f"the {count} record(s) before it were read.",
            "re-download the file",
        ) from exc
    if count:
        return
    root = context.root  # None after a namespace-only error
    root_tag = root.tag if root is not None and isinstance(root.tag, str) else ""
    if root is not None and root_tag not in _SET_TAGS:
        detail = ""
        error_text = root.findtext(".//ERROR")
        if error_text:
            detail = f" (E-utilities error: {' '.join(error_text.split())})"
        raise ParseError(
            f"{name}: root element <{root_tag}> is not PubMed XML{detail}.",
            "expected a <PubmedArticleSet> from EFetch with db=pubmed and retmode=xml",
        )


def parse_pubmed_xml_bytes(data: bytes) -> list[Article | Deletion | RecordError]:
    """Parse a whole PubMed XML document held in memory (an EFetch response).

    Args:
        data: The response body, plain or gzipped.

    Returns:
        The records in document order, as :func:`iter_pubmed_xml` yields them.

    Raises:
        ParseError: As :func:`iter_pubmed_xml`; records read before a break
            are lost with the exception, so use the iterator to keep them.
    """
    return list(iter_pubmed_xml(data))

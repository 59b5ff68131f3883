"""Streaming reader of PubMed XML (EFetch responses, baseline and update files).

:func:`iter_pubmed_xml` reads a ``PubmedArticleSet``, building one
:class:`~litmine.types.Article` per ``PubmedArticle`` (or
``PubmedBookArticle``) and one :class:`~litmine.types.Deletion` per PMID of a
``DeleteCitation``. No DTD is loaded and nothing is fetched from the network.

Chunks: the raw (inflated) bytes are cut after record end tags into chunks of
about 1 MB of whole records (:class:`PubmedChunk`), each parsed on its own
with :func:`lxml.etree.fromstring` (:func:`parse_chunk`). Memory stays flat on
a 1 GB baseline file; a whole-chunk parse is faster than an ``iterparse``
pass; and chunks can be parsed in other processes (:func:`map_pubmed_xml`,
used by parallel ingest). Line numbers in messages are the file's. Documents
that cannot be cut safely on bytes (a DTD internal subset, a non-ASCII
encoding) are read in one ``iterparse`` pass instead, with the same results.

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

import io
import os
import re
import zlib
from collections.abc import Callable, Iterator
from typing import IO, Any, NamedTuple, TypedDict

from lxml import etree

from litmine.errors import ParseError, RecordError
from litmine.parse._io import (
    ByteSource,
    GunzipStream,
    PrefixedStream,
    open_source,
    sniffable,
    source_name,
)
from litmine.parse.dates import month_number, parse_free_date, safe_date
from litmine.parse.text import MATHML_NS, ascii_printable, clean_text, element_text
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

__all__ = [
    "BadRecord",
    "ChunkFailure",
    "ChunkMapper",
    "ChunkResult",
    "PubmedChunk",
    "PubmedSource",
    "iter_pubmed_xml",
    "map_pubmed_xml",
    "parse_chunk",
    "parse_pubmed_xml_bytes",
]

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
    body = sniffable(head).lstrip()
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


# ---------------------------------------------------------------------------
# The reader
# ---------------------------------------------------------------------------


class PubmedChunk(NamedTuple):
    """A run of whole top-level records, as a document libxml2 can parse alone.

    ``data`` is the file's prolog and root start tag, then a slice of the
    file's content cut just after a record's end tag. The last chunk runs to
    the end of the file and keeps the real root end tag; the others end with
    an end-of-chunk marker element (whose line tells how many lines the chunk
    spans) and an appended root end tag.

    Attributes:
        data: The chunk document.
        name: The source's name, for messages.
    """

    data: bytes
    name: str


class BadRecord(NamedTuple):
    """A record that could not be read (the reader yields it as a RecordError).

    Attributes:
        pmid: Its PMID, when it could be found.
        line: Line of the record's start tag in the chunk document.
        detail: What is wrong with it.
    """

    pmid: str | None
    line: int | None
    detail: str


class ChunkFailure(NamedTuple):
    """The XML of a chunk breaks off or is malformed (the file's reading stops there).

    Attributes:
        line: Line in the chunk document where libxml2 gave up, when known.
        message: libxml2's message (its line numbers are the chunk's too).
        before: Records of the chunk read completely before the failure.
    """

    line: int | None
    message: str
    before: int


ChunkResult = tuple[list[Any], int, int | None]
"""What a chunk yields: its items (records, :class:`BadRecord` s, a final
:class:`ChunkFailure`, or what a mapper made of the articles), the number of
record elements it held (a ``DeleteCitation`` lists several PMIDs) and the
line of the chunk document where its content ends (None for the last chunk)."""

ChunkMapper = Callable[[Iterator[PubmedChunk]], Iterator[ChunkResult]]
"""Applies :func:`parse_chunk` (plus any further work) to every chunk and returns
the results in chunk order, e.g. from a pool of worker processes."""

_CHUNK_BYTES = 1 << 20
_FIRST_CHUNK_BYTES = 1 << 16
_END_MARK = "litmine-chunk-end"
_ARTICLE_END = b"</PubmedArticle>"
_OTHER_ENDS = (b"</PubmedBookArticle>", b"</DeleteCitation>")
# Where an end tag could stand without ending a record: inside a comment, a
# CDATA section or a processing instruction. Their openers and closers.
_SPECIALS = ((b"<!--", b"-->"), (b"<![CDATA[", b"]]>"), (b"<?", b"?>"))
_COMMENT_OR_PI_RE = re.compile(rb"<!--.*?-->|<\?.*?\?>", re.S)
_PLAIN_DOCTYPE_RE = re.compile(rb"\s*(?:<!DOCTYPE\s[^<>\[\]]*>\s*)?")
_ENCODING_RE = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
# Encodings in which every byte below 0x80 is the ASCII character, so record
# end tags can be found in the raw bytes.
_ASCII_COMPATIBLE = frozenset(
    {"utf-8", "utf8", "us-ascii", "ascii", "iso-8859-1", "latin-1", "latin1", "iso-8859-15"}
    | {"windows-1252", "cp1252"}
)
_LINE_RE = re.compile(r"\bline (\d+)")


class _Layout(NamedTuple):
    """Where the content of a splittable document starts (see :func:`_layout`)."""

    prefix: bytes  # prolog + root start tag (mml prefix declared)
    root: bytes  # root tag name
    content_start: int  # offset of the content in the sniffed head


def _plain_root(head: bytes) -> re.Match[bytes] | None:
    """The root start tag, when all before it is a plain prolog, else None.

    A plain prolog is an XML declaration, comments, processing instructions
    and a DOCTYPE without internal subset: nothing that declares entities.
    """
    match = _ROOT_TAG_RE.search(head)
    if match is None:
        return None
    prolog = head[: match.start()].removeprefix(b"\xef\xbb\xbf")
    if _PLAIN_DOCTYPE_RE.fullmatch(_COMMENT_OR_PI_RE.sub(b"", prolog)) is None:
        return None
    return match


def _layout(head: bytes) -> _Layout | None:
    """How to cut this document into chunks, or None to read it in one piece.

    Cutting needs the root start tag in the head after a plain prolog (see
    :func:`_plain_root`; an internal DTD subset could declare entities that
    later records use), an ASCII-compatible encoding, and a root that is not
    empty.
    """
    match = _plain_root(head)
    if match is None or match.group(0).endswith(b"/>"):
        return None
    encoding = _ENCODING_RE.match(head[: match.start()].removeprefix(b"\xef\xbb\xbf"))
    if encoding is not None and encoding.group(1).lower().decode() not in _ASCII_COMPATIBLE:
        return None
    return _Layout(_declare_mathml_prefix(head[: match.end()]), match.group(1), match.end())


def _may_hide_tags(buf: bytes | bytearray, end: int) -> bool:
    """Whether ``buf[:end]`` opens a comment, CDATA section or processing instruction."""
    # Searching the single characters after "<" runs at memchr speed; "<!"
    # itself would make the search stop at every "<" of the markup.
    for mark in (b"!", b"?"):
        at = buf.find(mark, 1, end)
        while at >= 0:
            if buf[at - 1] == 0x3C:  # "<"
                return True
            at = buf.find(mark, at + 1, end)
    return False


def _last_cut(buf: bytes | bytearray) -> int:
    """End of the last record end tag in ``buf`` (-1 if none), outside comments & co."""
    at = buf.rfind(_ARTICLE_END)
    cut = at + len(_ARTICLE_END) if at >= 0 else -1
    for tag in _OTHER_ENDS:  # rare: look only after the last article
        other = buf.rfind(tag, max(at, 0))
        if other >= 0:
            cut = max(cut, other + len(tag))
    if cut < 0 or not _may_hide_tags(buf, cut):
        return cut
    # Rare: something that may hide an end tag. Scan the regions in order and
    # keep only end tags between them.
    cut, pos = -1, 0
    while True:
        starts = [(buf.find(opener, pos), opener, closer) for opener, closer in _SPECIALS]
        found = [s for s in starts if s[0] >= 0]
        region, opener, closer = min(found) if found else (len(buf), b"", b"")
        for tag in (_ARTICLE_END, *_OTHER_ENDS):
            at = buf.rfind(tag, pos, region)
            if at >= 0:
                cut = max(cut, at + len(tag))
        if not found:
            return cut
        close = buf.find(closer, region + len(opener))
        if close < 0:
            return cut  # the region runs past the buffer: nothing after it is safe yet
        pos = close + len(closer)


class _Splitter:
    """Cut the content of a splittable document into :class:`PubmedChunk` s.

    Iterating yields the chunks; a read error (gzip data cut short or corrupt,
    I/O failure) ends the iteration, after a last chunk of the records that
    ended before it, and is kept in :attr:`error`, so that the chunks before
    it are still processed and the error reported after them.
    """

    def __init__(
        self, stream: PrefixedStream, layout: _Layout, name: str, chunk_bytes: int
    ) -> None:
        self.stream = stream
        self.layout = layout
        self.name = name
        self.chunk_bytes = max(1, chunk_bytes)
        self.error: Exception | None = None

    def __iter__(self) -> Iterator[PubmedChunk]:
        layout = self.layout
        tail = b"<" + _END_MARK.encode() + b"/></" + layout.root + b">"
        prefix = layout.prefix
        # Small first chunks give the first records quickly; later ones amortise
        # the per-chunk costs.
        target = min(_FIRST_CHUNK_BYTES, self.chunk_bytes)
        # A bytearray grows in place and drops its head cheaply; each chunk is
        # then copied once, into its document.
        buf = bytearray()
        while True:
            try:
                block = self.stream.read(max(target - len(buf), 1 << 16))
            except (EOFError, zlib.error, OSError) as exc:
                self.error = exc
                # The records that ended before the break still count: up to a
                # chunk of them can be waiting in the buffer.
                cut = _last_cut(buf)
                if cut > 0:
                    with memoryview(buf) as view:
                        yield PubmedChunk(b"".join((prefix, view[:cut], tail)), self.name)
                return
            if not block:
                yield PubmedChunk(prefix + buf, self.name)  # the root end tag is in buf
                return
            buf += block
            if len(buf) < target:
                continue
            cut = _last_cut(buf)
            if cut < 0:
                continue  # one record longer than the target: read on
            with memoryview(buf) as view:
                data = b"".join((prefix, view[:cut], tail))
            yield PubmedChunk(data, self.name)
            del buf[:cut]
            # Later chunks start on a line of their own (see _LineMap).
            prefix = layout.prefix + b"\n"
            target = min(target * 2, self.chunk_bytes)


class _LineMap:
    """Maps line numbers of chunk documents to the file's, chunk after chunk.

    The first chunk is the file's start verbatim. Later ones repeat the head
    (prolog and root tag, the file's own lines) and put a line break before
    their content, so a line past the head is the file's line where the
    content starts, plus how far it is into the content.
    """

    def __init__(self, prefix: bytes) -> None:
        self.head_lines = prefix.count(b"\n") + 1  # down to the root tag's line
        self.offset = 0  # for the current chunk

    def __call__(self, line: int | None) -> int | None:
        if line is None or line <= self.head_lines:
            return line
        return line + self.offset

    def message(self, text: str) -> str:
        return _LINE_RE.sub(lambda m: f"line {self(int(m.group(1)))}", text)

    def next_chunk(self, end_line: int | None) -> None:
        """Move past the current chunk, whose content ends on ``end_line`` of it."""
        content_end = self(end_line) or 0  # the file's line where the next content starts
        self.offset = content_end - (self.head_lines + 1)


# Options of every parser here: no DTD, no network, no entity expansion (XXE and
# billion-laughs safe), and no comments or processing instructions in the tree.
class _SafeParsing(TypedDict):
    load_dtd: bool
    no_network: bool
    resolve_entities: bool
    remove_comments: bool
    remove_pis: bool


_SAFE_PARSING = _SafeParsing(
    load_dtd=False, no_network=True, resolve_entities=False, remove_comments=True, remove_pis=True
)


def _new_parser() -> etree.XMLParser:
    # One per chunk: lxml parsers must not be shared between threads, and
    # building one costs microseconds. Chunk documents have no DTD subset, so
    # they declare no entities and the raised size limits (huge_tree: texts
    # over 10 MB, 2048 levels of nesting) cannot amplify anything.
    return etree.XMLParser(**_SAFE_PARSING, huge_tree=True, collect_ids=False)


class _RecordReader:
    """Top-level records (``end`` events), read until the end or the first XML error.

    Every record whose end tag comes before the first fatal error is yielded,
    and no other, then the :class:`lxml.etree.XMLSyntaxError` is raised,
    whatever libxml2 does after the error. Two behaviours of libxml2 2.14
    (lxml 6.x) made this depend on the version before:

    - ``iterparse`` raises as soon as ``feed`` reports an error and drops the
      events of the block read with it, and 2.14 reports errors earlier in a
      block than 2.13 did, so complete records before a break were lost.
      The pull parser here hands those events on first. libxml2 stops calling
      back at a fatal error inside a block (no recovery mode), so nothing
      comes from past it; a record starting after the error's line is
      dropped all the same.
    - At the end of a truncated document, closing the parser ends every open
      element, so the record that breaks off came out whole. Every end tag
      that was fed has already been reported by then, so events that only
      appear when closing fails are never records.

    Args:
        source: A binary stream (``read(size)``).
        huge: Raise libxml2's size limits (``huge_tree``); only for documents
            without an internal DTD subset, where no entity can expand.

    Attributes:
        root: The root element, once the document ended without error.
    """

    def __init__(self, source: Any, *, huge: bool) -> None:
        self._source = source
        self._huge = huge
        self.root: Any = None

    def __iter__(self) -> Iterator[Any]:
        parser: Any = etree.XMLPullParser(
            events=("end",), tag=_RECORD_TAGS, huge_tree=self._huge, **_SAFE_PARSING
        )
        while True:
            data = self._source.read(_PULL_BLOCK)
            try:
                if data:
                    parser.feed(data)
                else:
                    self.root = parser.close()
            except etree.XMLSyntaxError as err:
                line = _error_line(err)
                if data:  # broken inside the block: what ended before the error
                    for _event, elem in parser.read_events():
                        if line is None or (elem.sourceline or 0) <= line:
                            yield elem
                raise
            for _event, elem in parser.read_events():
                yield elem
            if not data:
                return


# Bytes fed to the pull parser at a time (lxml's iterparse reads 32 KiB).
_PULL_BLOCK = 1 << 16


def _load_compiled() -> Any:
    """The compiled extractor module (``litmine/parse/_fastxml.pyx``), when it is usable.

    It is built at install time when Cython and a C compiler are there, and
    gives the same records as the Python code here in a fraction of the
    time: :func:`_pubmed_article` in C, and the bibliography cut from the
    bytes before parsing (``drop_unread``). It switches itself off when the
    running lxml/libxml2 lay their structs out differently. Setting the
    environment variable ``LITMINE_PURE_PYTHON_XML=1`` turns it off too (for
    comparisons and for ruling it out when a record reads wrong).
    """
    if os.environ.get("LITMINE_PURE_PYTHON_XML", "") not in ("", "0"):
        return None
    try:
        from litmine.parse import _fastxml
    except ImportError:
        return None
    return _fastxml if _fastxml.AVAILABLE else None


def _record(elem: Any, line: int | None) -> list[Any]:
    """The records of one top-level element (a bad one becomes a BadRecord)."""
    tag = elem.tag
    if tag == "DeleteCitation":
        return list(_deletions(elem))
    if tag == "PubmedArticle" and _COMPILED is not None:
        try:
            return [_COMPILED.pubmed_article(elem)]
        except Exception:
            pass
    try:
        if tag == "PubmedArticle":
            return [_pubmed_article(elem)]
        return [_book_article(elem)]
    except Exception as exc:  # one bad record must not stop the file
        what = "" if tag == "PubmedArticle" else "book record: "
        return [BadRecord(_salvage_pmid(elem), line, f"{what}{exc}")]


def parse_chunk(chunk: PubmedChunk) -> ChunkResult:
    """Parse one chunk into records, as :func:`iter_pubmed_xml` yields them.

    Pure and picklable both ways, so it can run in a worker process. Line
    numbers in the result are the chunk document's; the reader maps them.

    Args:
        chunk: A chunk of a splittable document.

    Returns:
        Articles, deletions and :class:`BadRecord` s in document order; a
        chunk whose XML breaks off ends with a :class:`ChunkFailure` after the
        records read completely before the break.
    """
    # The compiled module cuts the bibliography (never read) before parsing;
    # a chunk that fails is parsed again whole, so errors read as before.
    data = chunk.data if _COMPILED is None else _COMPILED.drop_unread(chunk.data)
    try:
        root = etree.fromstring(data, _new_parser())
    except etree.XMLSyntaxError:
        return _parse_chunk_until_error(chunk)
    items: list[Any] = []
    count = 0
    records: Iterator[Any] = root.iter(*_RECORD_TAGS)
    for elem in records:
        items.extend(_record(elem, elem.sourceline))
        count += 1
    last: Any = root[-1] if len(root) else None
    end_line: int | None = last.sourceline if last is not None and last.tag == _END_MARK else None
    return items, count, end_line


def _parse_chunk_until_error(chunk: PubmedChunk) -> ChunkResult:
    """Records of a broken chunk up to the break, then the :class:`ChunkFailure`."""
    items: list[Any] = []
    count = 0
    try:
        for elem in _RecordReader(io.BytesIO(chunk.data), huge=True):
            items.extend(_record(elem, elem.sourceline))
            count += 1
            elem.clear(keep_tail=False)
    except etree.XMLSyntaxError as err:
        message = (err.msg or str(err)).split(", line ")[0]
        items.append(ChunkFailure(_error_line(err), message, count))
    return items, count, None


def _error_line(err: etree.XMLSyntaxError) -> int | None:
    line = err.lineno
    return int(line) if isinstance(line, int) and line > 0 else None


# libxml2's advice to its own callers, which a user cannot follow.
_LIBXML_ADVICE_RE = re.compile(r",? *(?:use|try) XML_PARSE_HUGE(?: option)?|,? *see xmlCtxt\w+\.?")
# What to do about a libxml2 error, by words of its message (first match wins).
_HINTS = (
    (
        ("encoding", "utf-8", "utf-16", "char 0x"),
        "the file is not in the encoding its XML declaration names (UTF-8 when it names "
        "none): convert it (iconv -t UTF-8) or declare the right encoding",
    ),
    (
        ("amplification", "entity reference loop", "entity nesting", "external entity"),
        "the DOCTYPE declares entities that are never expanded here; PubMed XML declares "
        "none: remove the DOCTYPE's [...] internal subset",
    ),
    (
        ("excessive depth", "text node too long", "resource limit", "huge"),
        "a record nests deeper or holds a longer text than libxml2 accepts, which no "
        "PubMed record does: fix or remove it",
    ),
)


def _syntax_error(name: str, line: int | None, message: str, count: int) -> ParseError:
    message = _LIBXML_ADVICE_RE.sub("", message).rstrip(". ")
    lower = message.lower()
    hint = next(
        (h for words, h in _HINTS if any(w in lower for w in words)),
        "re-download the file or fetch the missing records again",
    )
    return ParseError(
        f"{name}: truncated or malformed XML at line {line or '?'}: {message}; "
        f"the {count} record(s) before it were read.",
        hint,
    )


def _gzip_error(name: str, exc: Exception, count: int) -> ParseError:
    return ParseError(
        f"{name}: the gzip data is truncated or corrupt ({exc}); "
        f"the {count} record(s) before it were read.",
        "re-download the file",
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


def iter_pubmed_xml(
    source: PubmedSource, *, chunk_bytes: int = _CHUNK_BYTES
) -> Iterator[Article | Deletion | RecordError]:
    """Stream the records of a PubMed XML document.

    Accepts EFetch responses and baseline/update files, plain or gzipped
    (detected by magic bytes, whatever the file name). Memory stays flat: the
    document is read in chunks of about ``chunk_bytes`` of whole records.

    Args:
        source: A file path, an open binary stream, or the document's bytes.
        chunk_bytes: Size of the chunks the document is parsed in.

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
    return map_pubmed_xml(source, _parse_in_process, chunk_bytes=chunk_bytes)


def _parse_in_process(chunks: Iterator[PubmedChunk]) -> Iterator[ChunkResult]:
    return map(parse_chunk, chunks)


def map_pubmed_xml(
    source: PubmedSource, map_chunks: ChunkMapper, *, chunk_bytes: int = _CHUNK_BYTES
) -> Iterator[Any]:
    """:func:`iter_pubmed_xml` with the chunk parsing handed to ``map_chunks``.

    The document is cut into chunks of whole records (:class:`PubmedChunk`)
    here; ``map_chunks`` parses them (with :func:`parse_chunk`) and may turn
    the articles into something else (e.g. database rows), in worker
    processes if it likes, as long as the results come back in order. The
    error contract is the reader's: bad records come out as
    :class:`RecordError` s, and a break in the XML or a read error is raised
    as :class:`ParseError` after every record before it.

    Documents that cannot be cut safely (an internal DTD subset, a non-ASCII
    encoding, no root tag near the start, not a PubMed root) are read in one
    streaming pass here, without ``map_chunks``: their articles come out
    unmapped.

    Args:
        source: A file path, an open binary stream, or the document's bytes.
        map_chunks: Turns the chunk iterator into results, in order.
        chunk_bytes: Size of the chunks.

    Yields:
        The items of the results, in order.

    Raises:
        ParseError: As :func:`iter_pubmed_xml`.
        OSError: The file cannot be opened or read.
    """
    name = source_name(source)
    owned: list[IO[bytes] | GunzipStream] = []
    try:
        stream, head = open_source(source, _SNIFF_BYTES, owned)
        _check_head(head, name)
        layout = _layout(head)
        if layout is None:
            stream.replace_head(_declare_mathml_prefix(head))
            yield from _iterate(stream, name, huge=_plain_root(head) is not None)
            return
        stream.replace_head(head[layout.content_start :])
        splitter = _Splitter(stream, layout, name, chunk_bytes)
        lines = _LineMap(layout.prefix)
        count = 0
        results = map_chunks(iter(splitter))
        try:
            for items, n, end_line in results:
                for item in items:
                    if isinstance(item, BadRecord):
                        line = lines(item.line)
                        yield RecordError(item.pmid, f"{name} line {line}: {item.detail}")
                    elif isinstance(item, ChunkFailure):
                        message = lines.message(item.message)
                        raise _syntax_error(name, lines(item.line), message, count + item.before)
                    else:
                        yield item
                count += n
                lines.next_chunk(end_line)
        finally:
            # A mapper may still be reading the source (from a thread): stop it
            # before the source is closed.
            close = getattr(results, "close", None)
            if close is not None:
                close()
        if isinstance(splitter.error, EOFError | zlib.error):
            raise _gzip_error(name, splitter.error, count)
        if splitter.error is not None:
            raise splitter.error
    except (EOFError, zlib.error) as exc:  # gzip broken within the sniffed head
        raise ParseError(
            f"{name}: the gzip data is truncated or corrupt ({exc}).", "re-download the file"
        ) from exc
    finally:
        for handle in reversed(owned):
            handle.close()


def _iterate(
    stream: PrefixedStream, name: str, *, huge: bool
) -> Iterator[Article | Deletion | RecordError]:
    """One streaming pass over a document that is not cut into chunks."""
    reader = _RecordReader(stream, huge=huge)
    count = 0
    try:
        for elem in reader:
            for item in _record(elem, elem.sourceline):
                if isinstance(item, BadRecord):
                    yield RecordError(item.pmid, f"{name} line {item.line}: {item.detail}")
                else:
                    yield item
            count += 1
            elem.clear(keep_tail=False)
            parent = elem.getparent()
            if parent is not None:
                while elem.getprevious() is not None:
                    del parent[0]
    except etree.XMLSyntaxError as err:
        message = (err.msg or str(err)).split(", line ")[0]
        raise _syntax_error(name, _error_line(err), message, count) from None
    except (EOFError, zlib.error) as exc:
        raise _gzip_error(name, exc, count) from exc
    if count:
        return
    root = reader.root
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


_COMPILED = _load_compiled()

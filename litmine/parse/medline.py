"""Reader of the MEDLINE text format (``PMID- ``, ``TI  - ``, 6-space continuations).

The format is what PubMed exports as "PubMed format" / EFetch
``rettype=medline``: one ``TAG - value`` field per line (tag padded to four
characters), continuation lines indented by six spaces, records separated by
blank lines.

The reader tokenises the lines itself rather than going through
:func:`Bio.Medline.parse`: Biopython's records are dictionaries keyed by tag,
which loses the interleaving of ``FAU``/``AU``/``AD``/``AUID`` lines needed to
give each author their own affiliations and ORCID, and it stores continuation
lines of list fields (``OT``, ``PT``...) as separate values. Field by field the
values agree with Biopython (the tests check it on the shared files).

Error contract as for PubMed XML: a record without a PMID, with a line that is
not ``TAG - value``, or that fails to convert yields a
:class:`~litmine.errors.RecordError` naming its first line, and reading goes
on with the next record.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

from litmine.errors import RecordError
from litmine.parse._io import ByteSource, source_name, text_lines
from litmine.parse.dates import parse_free_date, safe_date
from litmine.parse.text import clean_text
from litmine.types import (
    AbstractSection,
    Article,
    ArticleSource,
    Author,
    Chemical,
    CommentCorrection,
    MeshHeading,
    MeshQualifier,
    PubDate,
)

__all__ = ["CORRECTION_TAGS", "iter_medline", "split_labelled_abstract"]

# MEDLINE correction/comment tags -> CommentsCorrections RefType of the XML.
CORRECTION_TAGS: dict[str, str] = {
    "CON": "CommentOn",
    "CIN": "CommentIn",
    "EIN": "ErratumIn",
    "EFR": "ErratumFor",
    "CRI": "CorrectedandRepublishedIn",
    "CRF": "CorrectedandRepublishedFrom",
    "ECI": "ExpressionOfConcernIn",
    "ECF": "ExpressionOfConcernFor",
    "PRIN": "PartialRetractionIn",
    "PROF": "PartialRetractionOf",
    "RPI": "RepublishedIn",
    "RPF": "RepublishedFrom",
    "RIN": "RetractionIn",
    "ROF": "RetractionOf",
    "UIN": "UpdateIn",
    "UOF": "UpdateOf",
    "SPIN": "SummaryForPatientsIn",
    "ORI": "OriginalReportIn",
    "RRI": "ReprintIn",
    "RRF": "ReprintOf",
}

_TAG_LINE_RE = re.compile(r"^([A-Z][A-Z0-9]{0,3}) {0,3}- ?(.*)$")
_PMID_IN_REF_RE = re.compile(r"\s*PMID:\s*(\d+)\s*\.?\s*$")
_ORCID_RE = re.compile(r"(\d{4}-\d{4}-\d{4}-\d{3}[\dXx])")
_ID_SUFFIX_RE = re.compile(r"^(.*?)\s*\[([A-Za-z-]+)\]\s*$")
_EDAT_RE = re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})")
_DEP_RE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
# An all-caps label ("RESULTS:", "SUPPLEMENTARY INFORMATION:") at the start of
# the abstract or right after a sentence end.
_LABEL_RE = re.compile(r"(?:^|(?<=[.!?)\]]) )([A-Z][A-Z0-9 ,&/()-]{2,60}[A-Z)]): ")
_NLM_CATEGORIES = frozenset({"BACKGROUND", "OBJECTIVE", "METHODS", "RESULTS", "CONCLUSIONS"})


Field = tuple[str, str]


def split_labelled_abstract(text: str) -> list[AbstractSection]:
    """Split a MEDLINE abstract with inline labels into sections.

    ``"BACKGROUND: ... RESULTS: ..."`` becomes one section per label, the
    labels moving out of the text into :attr:`AbstractSection.label` (as
    PubMed XML gives them). Only applied when the abstract *starts* with a
    label and has at least two, so ordinary sentences with a colon are left
    alone. Offsets assume the sections are joined with a newline.

    Args:
        text: The clean abstract text.

    Returns:
        The sections; a single unlabelled section when no labels are found.
    """
    if not text:
        return []
    matches = list(_LABEL_RE.finditer(text))
    if len(matches) < 2 or matches[0].start() != 0:
        return [AbstractSection(text=text, start=0)]
    sections: list[AbstractSection] = []
    offset = 0
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        body = text[match.end() : end].strip()
        if not body:
            continue
        label = match.group(1).strip()
        if sections:
            offset += 1
        category = label if label in _NLM_CATEGORIES else None
        sections.append(AbstractSection(text=body, label=label, category=category, start=offset))
        offset += len(body)
    return sections


def _split_records(lines: Iterator[bytes]) -> Iterator[tuple[int, list[tuple[int, str]]]]:
    """Group raw lines into records: (first line number, [(line number, text)])."""
    record: list[tuple[int, str]] = []
    first = 0
    for number, raw in enumerate(lines, start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            # Old exports are Windows-1252/Latin-1; read such a line that way.
            line = raw.decode("cp1252", errors="replace")
        if number == 1:
            line = line.lstrip("\ufeff")
        line = line.rstrip("\r\n")
        if not line.strip():
            if record:
                yield first, record
                record = []
            continue
        if not record:
            first = number
        record.append((number, line))
    if record:
        yield first, record


def _fields(lines: list[tuple[int, str]]) -> list[Field]:
    """Record lines -> ordered (tag, value) pairs with continuations joined."""
    fields: list[list[str]] = []
    for number, line in lines:
        if line.startswith("      ") or (line.startswith(" ") and fields):
            if not fields:
                raise ValueError(f"line {number}: continuation line before any field")
            fields[-1][1] += " " + line.strip()
            continue
        match = _TAG_LINE_RE.match(line)
        if match is None:
            raise ValueError(f"line {number}: not a 'TAG - value' line: {line[:60]!r}")
        fields.append([match.group(1), match.group(2).strip()])
    return [(tag, value) for tag, value in fields]


def _salvage_pmid(lines: list[tuple[int, str]]) -> str | None:
    """PMID of a record from its raw lines, for error messages."""
    for _number, line in lines:
        if line.startswith("PMID-"):
            return line[5:].strip().split(" ")[0] or None
    return None


def _mesh(value: str) -> MeshHeading:
    """``"Sequence Analysis, Protein/*methods"`` -> MeshHeading."""
    descriptor, *qualifiers = value.split("/")
    descriptor = descriptor.strip()
    heading = MeshHeading(
        descriptor_ui=None,
        descriptor_name=descriptor.lstrip("*").strip(),
        major_topic=descriptor.startswith("*"),
    )
    for qual in qualifiers:
        qual = qual.strip()
        if qual:
            heading.qualifiers.append(
                MeshQualifier(
                    ui=None, name=qual.lstrip("*").strip(), major_topic=qual.startswith("*")
                )
            )
    return heading


def _chemical(value: str) -> Chemical:
    """``"EC 2.7.7.49 (Telomerase)"`` -> Chemical(name, registry_number)."""
    registry, sep, rest = value.partition(" (")
    if not sep or not rest.endswith(")"):
        return Chemical(name=value.strip())
    registry = registry.strip()
    return Chemical(name=rest[:-1].strip(), registry_number=None if registry == "0" else registry)


def _correction(tag: str, value: str) -> CommentCorrection:
    """``"Nature. 2010;463:389. PMID: 20090742"`` -> CommentCorrection."""
    pmid = None
    match = _PMID_IN_REF_RE.search(value)
    if match:
        pmid = match.group(1)
        value = value[: match.start()]
    source = value.strip().rstrip(".").strip() or None
    return CommentCorrection(ref_type=CORRECTION_TAGS[tag], pmid=pmid, source=source)


def _author_from_au(value: str) -> Author:
    """``"Cock PJ"`` -> Author(last_name="Cock", initials="PJ")."""
    last, _, initials = value.rpartition(" ")
    if last and initials.isupper() and initials.isalpha():
        return Author(last_name=last, initials=initials)
    return Author(last_name=value)


def _entrez_date(value: str) -> dt.date | None:
    match = _EDAT_RE.match(value)
    if not match:
        return None
    return safe_date(int(match.group(1)), int(match.group(2)), int(match.group(3)))


def _build(fields: list[Field]) -> Article:
    pmid = next((value for tag, value in fields if tag == "PMID"), "")
    if not pmid:
        raise ValueError("no PMID field")
    pmid = pmid.split()[0]
    if not (pmid.isascii() and pmid.isdigit()):
        raise ValueError(f"PMID {pmid!r} is not a number")
    article = Article(pmid=pmid, source=ArticleSource.MEDLINE)
    title = vernacular = book_title = abstract = ""
    dp = dep = edat = crdt = phst_entrez = ""
    authors: list[Author] = []
    pending_affiliations: list[str] = []
    current: Author | None = None
    fau_open = False  # current author came from FAU and still awaits its AU
    for tag, value in fields:
        if tag == "TI":
            title = value
        elif tag == "AB":
            abstract = value
        elif tag == "TT":
            vernacular = value
        elif tag == "BTI":
            book_title = value
        elif tag == "JT":
            article.journal = clean_text(value) or None
        elif tag == "TA":
            article.journal_iso = clean_text(value) or None
        elif tag == "DP":
            dp = value
        elif tag == "DEP":
            dep = value
        elif tag == "EDAT":
            edat = value
        elif tag == "CRDT":
            crdt = value
        elif tag == "PHST" and value.endswith("[entrez]"):
            phst_entrez = value
        elif tag == "FAU":
            last, _, fore = value.partition(",")
            current = Author(last_name=clean_text(last) or None, fore_name=clean_text(fore) or None)
            authors.append(current)
            fau_open = True
        elif tag == "AU":
            if current is not None and fau_open:
                head, _, initials = value.rpartition(" ")
                if head and initials.isalpha() and initials.isupper():
                    current.initials = initials
            else:
                current = _author_from_au(clean_text(value))
                authors.append(current)
            fau_open = False
        elif tag == "CN":
            current = Author(collective_name=clean_text(value))
            authors.append(current)
            fau_open = False
        elif tag == "AD":
            aff = clean_text(value)
            if aff:
                if current is None:
                    pending_affiliations.append(aff)  # old records: AD before the authors
                else:
                    current.affiliations.append(aff)
        elif tag == "AUID":
            match = _ORCID_RE.search(value)
            if match and current is not None and "ORCID" in value.upper():
                current.orcid = match.group(1).upper()
        elif tag == "LA":
            article.languages.append(value)
        elif tag == "PT":
            article.publication_types.append(clean_text(value))
        elif tag == "MH":
            article.mesh_headings.append(_mesh(clean_text(value)))
        elif tag == "OT":
            word = clean_text(value)
            if word and word not in article.keywords:
                article.keywords.append(word)
        elif tag == "RN":
            article.chemicals.append(_chemical(clean_text(value)))
        elif tag in ("AID", "LID"):
            match = _ID_SUFFIX_RE.match(value)
            if match and match.group(2).lower() == "doi" and article.doi is None:
                article.doi = match.group(1)
        elif tag == "PMC":
            article.pmc_id = value.split()[0] if value else None
        elif tag in CORRECTION_TAGS:
            article.comments_corrections.append(_correction(tag, clean_text(value)))
    if pending_affiliations and authors:
        authors[0].affiliations[:0] = pending_affiliations
    article.authors = authors
    article.title = clean_text(title) or clean_text(vernacular) or clean_text(book_title)
    article.abstract = clean_text(abstract)
    if article.abstract:
        article.sections = split_labelled_abstract(article.abstract)
        article.abstract = "\n".join(s.text for s in article.sections)
    article.pub_date = parse_free_date(dp) if dp else PubDate()
    if article.pub_date.year is None and dep:
        match = _DEP_RE.match(dep.strip())
        if match:
            article.pub_date = PubDate(
                year=int(match.group(1)), month=int(match.group(2)), day=int(match.group(3))
            )
    for candidate in (edat, crdt, phst_entrez):
        day = _entrez_date(candidate) if candidate else None
        if day is not None:
            article.entrez_date = day
            break
    return article


def iter_medline(source: ByteSource) -> Iterator[Article | RecordError]:
    """Stream the records of a MEDLINE text file (plain or gzipped).

    Args:
        source: A file path, an open binary stream, or the file's bytes.

    Yields:
        An :class:`Article` (``source=MEDLINE``) per record, or a
        :class:`RecordError` (yielded, not raised) per malformed record.

    Raises:
        ParseError: The input is empty or its compressed data is corrupt.
        OSError: The file cannot be opened.
    """
    name = source_name(source)
    with text_lines(source, "MEDLINE records") as lines_in:
        for first, lines in _split_records(lines_in):
            pmid = _salvage_pmid(lines)
            try:
                yield _build(_fields(lines))
            except Exception as exc:  # one bad record must not stop the file
                yield RecordError(pmid, f"{name} record at line {first}: {exc}")

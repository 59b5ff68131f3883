"""MEDLINE text reader on the shared files, cross-checked against Bio.Medline."""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path

import pytest
from Bio import Medline

from litmine.errors import ParseError, RecordError
from litmine.parse.medline import iter_medline, split_labelled_abstract
from litmine.types import Article, ArticleSource

FILES = {
    "pubmed_result1.txt": ["12230038"],
    "pubmed_result2.txt": ["16403221", "16377612", "14871861", "14630660"],
    "pubmed_result3.txt": ["23039619"],
    "pubmed_result4.txt": ["37195739"],
    "efetch2.txt": ["19304878"],
}


@pytest.fixture(scope="module")
def medline_dir(shared_data: Path) -> Path:
    return shared_data / "medline"


def articles(source: object) -> list[Article]:
    out = list(iter_medline(source))  # type: ignore[arg-type]
    assert all(isinstance(r, Article) for r in out), out
    return out  # type: ignore[return-value]


def by_pmid(path: Path) -> dict[str, Article]:
    return {a.pmid: a for a in articles(path)}


@pytest.mark.parametrize(("name", "pmids"), sorted(FILES.items()))
def test_known_pmids(medline_dir: Path, name: str, pmids: list[str]) -> None:
    records = articles(medline_dir / name)
    assert [a.pmid for a in records] == pmids
    for a in records:
        assert a.source is ArticleSource.MEDLINE
        assert a.title and a.has_abstract  # every shared record has TI and AB
        for s in a.sections:
            assert a.abstract[s.start : s.end] == s.text


@pytest.mark.parametrize("name", sorted(FILES))
def test_agrees_with_biopython(medline_dir: Path, name: str) -> None:
    with open(medline_dir / name, encoding="utf-8") as fh:
        expected = list(Medline.parse(fh))
    got = articles(medline_dir / name)
    assert len(got) == len(expected)
    for ours, bio in zip(got, expected, strict=True):
        assert ours.pmid == bio["PMID"]
        assert ours.title == " ".join(bio["TI"].split())
        # Sections drop the inline labels; every word of them is in Biopython's AB.
        bio_abstract = " ".join(bio["AB"].split())
        for section in ours.sections:
            assert section.text in bio_abstract
            if section.label:
                assert f"{section.label}: {section.text}" in bio_abstract
        assert len(ours.mesh_headings) == len(bio.get("MH", []))
        assert [a.display_name for a in ours.authors] == bio.get("AU", [])
        assert ours.languages == bio.get("LA", [])
        assert ours.publication_types == bio.get("PT", [])
        assert ours.journal == bio.get("JT") and ours.journal_iso == bio.get("TA")


def test_efetch2_starts_with_blank_line(medline_dir: Path) -> None:
    raw = (medline_dir / "efetch2.txt").read_bytes()
    assert raw.startswith(b"\n")
    (a,) = articles(medline_dir / "efetch2.txt")
    assert a.title == (
        "Biopython: freely available Python tools for computational molecular biology and "
        "bioinformatics."
    )
    assert a.doi == "10.1093/bioinformatics/btp163"  # from "LID - ... [doi]"
    assert (a.pub_date.year, a.pub_date.month, a.pub_date.day) == (2009, 6, 1)
    assert [s.label for s in a.sections] == ["SUMMARY", "AVAILABILITY"]
    assert a.authors[0].fore_name == "Peter J A" and a.authors[0].initials == "PJ"


def test_structured_abstract_mesh_ids_dates(medline_dir: Path) -> None:
    a = by_pmid(medline_dir / "pubmed_result2.txt")["16403221"]
    assert [s.label for s in a.sections] == ["BACKGROUND", "RESULTS", "CONCLUSION"]
    assert [s.category for s in a.sections] == ["BACKGROUND", "RESULTS", None]
    assert a.sections[0].text.startswith("Benchmarking algorithms in structural bioinformatics")
    assert a.sections[2].text == (
        "The modules make the analysis and generation of datasets for use in structural "
        "genomics easier and more principled."
    )
    mesh = {m.descriptor_name: m for m in a.mesh_headings}
    assert mesh["Software"].major_topic and mesh["Software"].qualifiers == []
    retrieval = mesh["Information Storage and Retrieval"]
    assert not retrieval.major_topic
    assert [(q.name, q.major_topic) for q in retrieval.qualifiers] == [("methods", True)]
    assert not mesh["Programming Languages"].major_topic
    assert a.pmc_id == "PMC1373603"
    assert a.doi == "10.1186/1471-2105-7-10"  # the [doi] AID, not the [pii] one
    assert a.pub_date.year == 2006 and a.pub_date.month is None  # "DP  - 2006"
    assert a.entrez_date == dt.date(2006, 1, 13)  # "EDAT- 2006/01/13 09:00"
    assert a.publication_types == ["Evaluation Studies", "Journal Article"]


def test_mesh_continuation_line(medline_dir: Path) -> None:
    (a,) = articles(medline_dir / "pubmed_result3.txt")
    hifu = next(m for m in a.mesh_headings if m.descriptor_name.startswith("High-Intensity"))
    assert hifu.descriptor_name == "High-Intensity Focused Ultrasound Ablation"
    assert [(q.name, q.major_topic) for q in hifu.qualifiers] == [
        ("adverse effects", False),
        ("instrumentation", False),
        ("methods", True),
    ]
    assert [s.label for s in a.sections] == ["PURPOSE", "METHODS", "RESULTS", "CONCLUSIONS"]
    assert "1.35 x 10(7) Wm(3)" in a.abstract


def test_affiliations_belong_to_their_authors(medline_dir: Path) -> None:
    (a,) = articles(medline_dir / "pubmed_result4.txt")
    names = [(x.last_name, len(x.affiliations)) for x in a.authors]
    assert names == [("Oh", 1), ("Batty", 2), ("Banerjee", 1), ("Kim", 2)]
    assert a.authors[1].affiliations[1] == (
        "Department of Molecular and Cellular Biology, University of Arizona, Tucson, AZ "
        "85721, USA."
    )
    assert a.authors[3].fore_name == "Tae-Hyung" and a.authors[3].initials == "TH"
    assert a.mesh_headings == []
    assert (a.pub_date.year, a.pub_date.month, a.pub_date.day) == (2023, 5, 17)


def test_old_style_affiliation_goes_to_first_author(medline_dir: Path) -> None:
    a = by_pmid(medline_dir / "pubmed_result2.txt")["16377612"]
    assert a.authors[0].last_name == "Pritchard"
    assert a.authors[0].affiliations == [
        "Plant Pathogen Programme, Scottish Crop Research Institute, Invergowrie, Dundee "
        "DD2 5DA, Scotland, UK. lpritc@scri.ac.uk"
    ]
    assert all(x.affiliations == [] for x in a.authors[1:])


FIXTURE = """\
PMID- 900001
DP  - 1999 Dec-2000 Jan
TI  - Glucose and \u00e9lan: a Cafe\u0301 study
      with a continued title.
AB  - Plain abstract with a colon: not a label.
FAU - O'Brien, Mary-Kate
AU  - O'Brien MK
AUID- ORCID: 0000-0002-1825-009X
AD  - Dept. A, Dublin.
CN  - The Glucose Consortium
LA  - eng
PT  - Journal Article
PT  - Retracted Publication
MH  - Glucose/*metabolism/blood
OT  - insulin resistance
OT  - insulin resistance
RN  - 50-99-7 (Glucose)
RN  - 0 (Blood Glucose)
RIN - Nature. 2010 Jan 21;463(7279):389. PMID: 20090742
EIN - J Foo. 2001;2:3
EDAT- 2000/01/05 00:00

PMID- 900002
TI  - Broken record
this line is not a MEDLINE field
AB  - lost

PMID- 900003
DP  - 2002 Dec
TI  - Third record
EDAT- 2003/02/30 00:00
CRDT- 2003/02/28 00:00

TI  - Record without PMID

PMID- 900004
TI  - After the bad ones
"""


def test_hand_written_records(tmp_path: Path) -> None:
    path = tmp_path / "records.txt"
    path.write_text(FIXTURE, encoding="utf-8")
    records = list(iter_medline(path))
    assert [type(r).__name__ for r in records] == [
        "Article",
        "RecordError",
        "Article",
        "RecordError",
        "Article",
    ]
    first, broken, third, no_pmid, last = records
    assert isinstance(first, Article) and isinstance(third, Article) and isinstance(last, Article)
    assert first.title == "Glucose and élan: a Café study with a continued title."
    assert first.abstract == "Plain abstract with a colon: not a label."
    assert [s.label for s in first.sections] == [None]
    assert (first.pub_date.year, first.pub_date.month) == (1999, 12)
    assert first.pub_date.medline_date == "1999 Dec-2000 Jan"
    assert first.entrez_date == dt.date(2000, 1, 5)
    author, consortium = first.authors
    assert (author.last_name, author.fore_name, author.initials) == ("O'Brien", "Mary-Kate", "MK")
    assert author.orcid == "0000-0002-1825-009X" and author.affiliations == ["Dept. A, Dublin."]
    assert consortium.collective_name == "The Glucose Consortium"
    (heading,) = first.mesh_headings
    assert heading.descriptor_name == "Glucose" and not heading.major_topic
    assert [(q.name, q.major_topic) for q in heading.qualifiers] == [
        ("metabolism", True),
        ("blood", False),
    ]
    assert first.keywords == ["insulin resistance"]
    assert [(c.name, c.registry_number) for c in first.chemicals] == [
        ("Glucose", "50-99-7"),
        ("Blood Glucose", None),
    ]
    assert [(c.ref_type, c.pmid, c.source) for c in first.comments_corrections] == [
        ("RetractionIn", "20090742", "Nature. 2010 Jan 21;463(7279):389"),
        ("ErratumIn", None, "J Foo. 2001;2:3"),
    ]
    assert first.is_retracted
    assert isinstance(broken, RecordError) and broken.pmid == "900002"
    assert "record at line 23: line 25:" in str(broken) and "not a 'TAG - value' line" in str(
        broken
    )
    assert (third.pub_date.year, third.pub_date.month, third.pub_date.medline_date) == (
        2002,
        12,
        None,
    )
    assert third.entrez_date == dt.date(2003, 2, 28)  # EDAT is not a date: CRDT is used
    assert isinstance(no_pmid, RecordError) and no_pmid.pmid is None and "no PMID" in str(no_pmid)
    assert last.pmid == "900004" and last.title == "After the bad ones"


def test_latin1_line_is_read_not_dropped(tmp_path: Path) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"PMID- 900010\nTI  - Universit\xe9 de Gen\xe8ve\nAB  - x\n")
    (a,) = articles(path)
    assert a.title == "Université de Genève"


def test_gzip_and_bytes(medline_dir: Path, tmp_path: Path) -> None:
    raw = (medline_dir / "pubmed_result2.txt").read_bytes()
    path = tmp_path / "medline.dat"
    path.write_bytes(gzip.compress(raw))
    assert [a.pmid for a in articles(path)] == FILES["pubmed_result2.txt"]
    assert [a.pmid for a in articles(raw)] == FILES["pubmed_result2.txt"]


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_text("\n\n", encoding="utf-8")
    with pytest.raises(ParseError, match="empty"):
        list(iter_medline(path))


def test_split_labelled_abstract_needs_two_labels_at_start() -> None:
    assert [s.label for s in split_labelled_abstract("RESULTS: a. CONCLUSIONS: b.")] == [
        "RESULTS",
        "CONCLUSIONS",
    ]
    # A single capitalised word with a colon mid-text is not a structure.
    (only,) = split_labelled_abstract("We studied HIV: it spreads. AIDS: a syndrome.")
    assert only.label is None and only.text.startswith("We studied HIV:")
    assert split_labelled_abstract("") == []

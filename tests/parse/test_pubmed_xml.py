"""Streaming PubMed XML reader on the real EFetch files and hand-written fixtures."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from litmine.errors import ParseError, RecordError
from litmine.parse import pubmed_xml
from litmine.parse.pubmed_xml import iter_pubmed_xml, parse_pubmed_xml_bytes
from litmine.types import Article, ArticleSource, Deletion
from tests.entrez_replay import DEFAULT_ARTICLE_FILES


@pytest.fixture(scope="module")
def entrez(shared_data: Path) -> Path:
    return shared_data / "entrez"


def articles(source: object) -> list[Article]:
    out = list(iter_pubmed_xml(source))  # type: ignore[arg-type]
    assert all(isinstance(r, Article) for r in out), out
    return out  # type: ignore[return-value]


def one(entrez: Path, name: str) -> Article:
    (article,) = articles(entrez / name)
    return article


def by_pmid(records: list[Article]) -> dict[str, Article]:
    return {a.pmid: a for a in records}


def wrap(*records: str) -> bytes:
    body = "\n".join(records)
    return f'<?xml version="1.0"?>\n<PubmedArticleSet>\n{body}\n</PubmedArticleSet>\n'.encode()


def citation(pmid: str, inner: str = "", *, data: str = "") -> str:
    article = inner or "<Article><ArticleTitle>Title</ArticleTitle></Article>"
    return (
        f'<PubmedArticle><MedlineCitation><PMID Version="1">{pmid}</PMID>{article}'
        f"</MedlineCitation><PubmedData>{data}</PubmedData></PubmedArticle>"
    )


# --- real files ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "pmids"),
    [
        ("pubmed1.xml", ["12091962", "9997"]),
        ("pubmed2.xml", ["11748933", "11700088"]),
        ("pubmed4.xml", ["27797938"]),
        ("pubmed5.xml", ["28775130"]),
        ("pubmed6.xml", ["30108519"]),
        ("pubmed7.xml", ["29963580"]),
    ],
)
def test_known_pmids_in_order(entrez: Path, name: str, pmids: list[str]) -> None:
    records = articles(entrez / name)
    assert [a.pmid for a in records] == pmids
    for a in records:
        assert a.source is ArticleSource.PUBMED_XML
        assert a.version == 1
        assert a.title and a.title == a.title.strip()
        assert a.languages == ["eng"]


def test_record_without_abstract(entrez: Path) -> None:
    records = by_pmid(articles(entrez / "pubmed1.xml"))
    bare = records["12091962"]
    assert bare.title == "The treatment of AIDS behind the walls of correctional facilities."
    assert not bare.has_abstract
    assert bare.abstract == "" and bare.sections == []
    assert len(bare.mesh_headings) == 19
    other = records["9997"]
    assert other.has_abstract and len(other.mesh_headings) == 13
    assert other.abstract.startswith("Electron paramagnetic resonance and magnetic susceptibility")


def test_structured_abstract_sections_and_offsets(entrez: Path) -> None:
    a = one(entrez, "pubmed4.xml")
    assert a.pmid == "27797938"
    assert [s.label for s in a.sections] == ["OBJECTIVE", "DESIGN", "RESULTS", "CONCLUSIONS"]
    assert [s.category for s in a.sections] == [None, None, None, None]  # no NlmCategory here
    for s in a.sections:
        assert a.abstract[s.start : s.end] == s.text
    assert a.abstract == "\n".join(s.text for s in a.sections)
    assert a.sections[0].start == 0 and a.sections[-1].end == len(a.abstract)
    assert a.sections[1].text.startswith("We measured prediagnostic leucocyte telomere length")
    assert "Published by the BMJ" not in a.abstract  # CopyrightInformation is not abstract text


def test_nlm_categories(entrez: Path) -> None:
    a = one(entrez, "pubmed5.xml")
    assert [(s.label, s.category) for s in a.sections] == [
        ("OBJECTIVES", "OBJECTIVE"),
        ("METHODS", "METHODS"),
        ("RESULTS", "RESULTS"),
        ("CONCLUSIONS", "CONCLUSIONS"),
    ]


def test_html_tags_and_entities(entrez: Path) -> None:
    a4 = one(entrez, "pubmed4.xml")
    assert a4.title == (
        "Leucocyte telomere length, genetic variants at the TERT gene region "
        "and risk of pancreatic cancer."
    )
    assert "linkage disequilibrium r2<0.25)" in a4.abstract
    a5 = one(entrez, "pubmed5.xml")
    assert (
        "subclinical hypothyroidism (TSH >4.5 mIU/L) compared with normal TSH (0.4-≤4.5 mIU/L)"
        in (a5.abstract)
    )
    assert "(ORQ3=4.15, 95% CI 1.56 to 11.01" in a5.abstract
    a6 = one(entrez, "pubmed6.xml")
    assert a6.title.startswith('A "Blood Relationship" Between the Overlooked')
    for a in (a4, a5, a6):
        assert "<" not in a.title and "&" not in a.title
        assert "<i>" not in a.abstract and "<sub>" not in a.abstract and "&lt;" not in a.abstract
    a2 = by_pmid(articles(entrez / "pubmed2.xml"))["11748933"]
    assert "(P < 0.001)" in a2.abstract
    assert a2.authors[0].affiliations == [
        "Dipartimento di Scienze Ambientali, Università degli Studi della Tuscia, "
        "01100 Viterbo, Italy."
    ]


def test_mathml(entrez: Path) -> None:
    a6 = one(entrez, "pubmed6.xml")
    assert "maximal oxygen uptake ( V\u0307O2max ) 67.6 ± 4.1" in a6.abstract
    a7 = one(entrez, "pubmed7.xml")
    assert (
        "(1) inhaled 3He/129Xe MRI ventilation and apparent diffusion coefficients" in a7.abstract
    )
    assert "(3) ultrashort echo-time 1H MRI proton density measurements" in a7.abstract
    for a in (a6, a7):
        assert "mml:" not in a.abstract and "math" not in a.abstract.lower().replace("mathem", "")
        assert "<" not in a.abstract.replace("P < 0.001", "")
        assert "  " not in a.abstract


def test_mesh_major_topics_and_qualifiers(entrez: Path) -> None:
    a = by_pmid(articles(entrez / "pubmed2.xml"))["11748933"]
    mesh = {m.descriptor_name: m for m in a.mesh_headings}
    sea_bream = mesh["Sea Bream"]
    assert sea_bream.descriptor_ui == "D021541" and not sea_bream.major_topic
    assert [(q.name, q.ui, q.major_topic) for q in sea_bream.qualifiers] == [
        ("anatomy & histology", "Q000033", True),
        ("physiology", "Q000502", False),
    ]
    assert mesh["Sperm Motility"].major_topic
    assert [q.name for q in mesh["Cryopreservation"].qualifiers] == ["methods"]
    assert mesh["Cryopreservation"].qualifiers[0].major_topic
    assert mesh["Animals"].qualifiers == [] and not mesh["Animals"].major_topic
    bare = by_pmid(articles(entrez / "pubmed1.xml"))["12091962"]
    majors = {m.descriptor_name for m in bare.mesh_headings if m.major_topic}
    assert {"Acquired Immunodeficiency Syndrome", "Prisoners", "Public Policy"} <= majors
    assert "Humans" not in majors


def test_dates(entrez: Path) -> None:
    p1 = by_pmid(articles(entrez / "pubmed1.xml"))
    spring = p1["12091962"].pub_date  # <Year>1990</Year><Season>Spring</Season>
    assert (spring.year, spring.month, spring.day) == (1990, None, None)
    assert p1["12091962"].entrez_date == dt.date(1990, 4, 1)
    full = p1["9997"].pub_date  # Year/Month name/Day
    assert (full.year, full.month, full.day) == (1976, 9, 28)
    p2 = by_pmid(articles(entrez / "pubmed2.xml"))
    assert (p2["11748933"].pub_date.year, p2["11748933"].pub_date.month) == (2001, 6)
    assert p2["11748933"].entrez_date == dt.date(2001, 12, 26)
    a4 = one(entrez, "pubmed4.xml")  # numeric month "06"; History lists entrez after others
    assert (a4.pub_date.year, a4.pub_date.month) == (2017, 6)
    assert a4.entrez_date == dt.date(2016, 11, 1)
    assert one(entrez, "pubmed7.xml").entrez_date == dt.date(2018, 7, 3)


def test_medline_date_article_date_and_history_fallbacks() -> None:
    medline = citation(
        "101",
        "<Article><Journal><JournalIssue><PubDate><MedlineDate>1998 Dec-1999 Jan</MedlineDate>"
        "</PubDate></JournalIssue></Journal><ArticleTitle>T</ArticleTitle></Article>",
        data='<History><PubMedPubDate PubStatus="pubmed"><Year>1999</Year><Month>2</Month>'
        "<Day>3</Day></PubMedPubDate></History>",
    )
    electronic = citation(
        "102",
        "<Article><Journal><JournalIssue><PubDate></PubDate></JournalIssue></Journal>"
        '<ArticleTitle>T</ArticleTitle><ArticleDate DateType="Electronic"><Year>2020</Year>'
        "<Month>02</Month><Day>30</Day></ArticleDate></Article>",
        data='<History><PubMedPubDate PubStatus="entrez"><Year>2020</Year><Month>2</Month>'
        "<Day>30</Day></PubMedPubDate></History>",
    )
    a, b = articles(wrap(medline, electronic))
    assert (a.pub_date.year, a.pub_date.month, a.pub_date.medline_date) == (
        1998,
        12,
        "1998 Dec-1999 Jan",
    )
    assert a.entrez_date == dt.date(1999, 2, 3)  # no "entrez" status: "pubmed" is used
    assert (b.pub_date.year, b.pub_date.month, b.pub_date.day) == (2020, 2, 30)
    assert b.pub_date.as_date() == dt.date(2020, 1, 1)  # impossible day degrades, not crashes
    assert b.entrez_date is None  # Feb 30 is not a date


def test_authors_affiliations_orcid_collective(entrez: Path) -> None:
    a = one(entrez, "pubmed7.xml")
    guo = a.authors[0]
    assert (guo.last_name, guo.fore_name, guo.initials) == ("Guo", "Fumin", "F")
    assert len(guo.affiliations) == 3
    assert (
        guo.affiliations[2]
        == "University of Toronto, Sunnybrook Research Institute, Toronto, Canada."
    )
    capaldi = a.authors[1]
    assert capaldi.last_name == "Capaldi" and capaldi.orcid == "0000-0002-4590-7461"
    collective = [x for x in a.authors if x.collective_name]
    assert [x.collective_name for x in collective] == ["Canadian Respiratory Research Network"]
    assert collective[0].display_name == "Canadian Respiratory Research Network"
    assert sum(1 for x in a.authors if x.orcid) == 2


def test_identifiers_and_journal(entrez: Path) -> None:
    a = one(entrez, "pubmed4.xml")
    assert a.doi == "10.1136/gutjnl-2016-312510"
    assert a.pmc_id == "PMC5442267"
    assert (a.journal, a.journal_iso) == ("Gut", "Gut")
    p1 = by_pmid(articles(entrez / "pubmed1.xml"))
    assert p1["9997"].doi == "10.1016/0005-2795(76)90109-4"
    assert p1["12091962"].doi is None and p1["12091962"].pmc_id is None
    assert p1["12091962"].journal == "Social justice (San Francisco, Calif.)"


def test_elocation_doi_fallback() -> None:
    record = citation(
        "103",
        "<Article><ArticleTitle>T</ArticleTitle>"
        '<ELocationID EIdType="pii" ValidYN="Y">S0001</ELocationID>'
        '<ELocationID EIdType="doi" ValidYN="Y">10.1000/xyz.1</ELocationID></Article>',
        data='<ArticleIdList><ArticleId IdType="pubmed">103</ArticleId></ArticleIdList>',
    )
    (a,) = articles(wrap(record))
    assert a.doi == "10.1000/xyz.1"


def test_comments_corrections_keywords_chemicals(entrez: Path) -> None:
    a = one(entrez, "pubmed4.xml")
    # 1 CommentIn link; its 48 "Cites" entries are a reference list, not kept.
    assert len(a.comments_corrections) == 1
    first = a.comments_corrections[0]
    assert (first.ref_type, first.pmid, first.source) == (
        "CommentIn",
        "27920200",
        "Gut. 2017 Jun;66(6):1",
    )
    assert not a.is_retracted
    assert a.keywords == ["PANCREATIC CANCER"]
    assert [(c.name, c.ui, c.registry_number) for c in a.chemicals] == [
        ("TERT protein, human", "C509186", "EC 2.7.7.49"),
        ("Telomerase", "D019098", "EC 2.7.7.49"),
    ]
    p9997 = by_pmid(articles(entrez / "pubmed1.xml"))["9997"]
    registry = {c.name: c.registry_number for c in p9997.chemicals}
    assert registry == {
        "Cytochrome c Group": None,
        "Flavins": None,
        "Heme": "42VZT0U6YR",
        "Iron": "E1UOL152H7",
    }
    a6 = one(entrez, "pubmed6.xml")
    assert len(a6.keywords) == 8 and "lactate threshold" in a6.keywords
    assert "Observational Study" in a.publication_types


def test_retraction_link_marks_article_retracted() -> None:
    record = citation(
        "104",
        data="",
        inner="<Article><ArticleTitle>T</ArticleTitle></Article><CommentsCorrectionsList>"
        '<CommentsCorrections RefType="RetractionIn"><RefSource>J X. 2020;1:2</RefSource>'
        '<PMID Version="1">555</PMID></CommentsCorrections></CommentsCorrectionsList>',
    )
    (a,) = articles(wrap(record))
    assert a.is_retracted
    assert (a.comments_corrections[0].pmid, a.comments_corrections[0].source) == (
        "555",
        "J X. 2020;1:2",
    )


# --- input forms ----------------------------------------------------------------


def test_gzip_detected_by_magic_bytes(entrez: Path, tmp_path: Path) -> None:
    data = (entrez / "pubmed2.xml").read_bytes()
    plain = [a.abstract for a in articles(entrez / "pubmed2.xml")]
    gz = tmp_path / "pubmed2.xml.gz"
    gz.write_bytes(gzip.compress(data))
    disguised = tmp_path / "efetch_response.xml"  # gzipped, but the name says plain XML
    disguised.write_bytes(gzip.compress(data))
    multi = tmp_path / "multi.gz"  # two gzip members, as `cat a.gz b.gz` makes
    multi.write_bytes(gzip.compress(data[:500]) + gzip.compress(data[500:]))
    for path in (gz, disguised, multi):
        assert [a.abstract for a in articles(path)] == plain
    assert [a.pmid for a in articles(gzip.compress(data))] == ["11748933", "11700088"]


def test_streams_and_bytes(entrez: Path) -> None:
    data = (entrez / "pubmed1.xml").read_bytes()
    assert [a.pmid for a in articles(io.BytesIO(data))] == ["12091962", "9997"]
    with open(entrez / "pubmed1.xml", "rb") as fh:
        assert [a.pmid for a in articles(fh)] == ["12091962", "9997"]
    assert [a.pmid for a in parse_pubmed_xml_bytes(data)] == ["12091962", "9997"]  # type: ignore[union-attr]


def test_reading_is_streamed(entrez: Path) -> None:
    template = (entrez / "pubmed2.xml").read_bytes()
    start = template.index(b"<PubmedArticle>")
    end = template.index(b"</PubmedArticle>") + len(b"</PubmedArticle>")
    one_record = template[start:end]
    body = b"\n".join(
        one_record.replace(b">11748933<", f">{9000000 + i}<".encode(), 1) for i in range(400)
    )
    data = b"<PubmedArticleSet>\n" + body + b"\n</PubmedArticleSet>\n"

    class Counting(io.BytesIO):
        consumed = 0

        def read(self, size: int | None = -1) -> bytes:
            chunk = super().read(size)
            Counting.consumed += len(chunk)
            return chunk

    it = iter_pubmed_xml(Counting(data))
    first = next(it)
    assert isinstance(first, Article) and first.pmid == "9000000"
    assert Counting.consumed < len(data) / 4  # the first record came before the file was read
    rest = list(it)
    assert len(rest) == 399 and rest[-1].pmid == "9000399"  # type: ignore[union-attr]


# --- deletions, bad records, broken files ---------------------------------------


def test_delete_citation() -> None:
    data = wrap(
        citation("201"),
        '<DeleteCitation><PMID Version="1">301</PMID><PMID Version="2">302</PMID></DeleteCitation>',
        citation("202"),
    )
    records = list(iter_pubmed_xml(data))
    assert [type(r).__name__ for r in records] == ["Article", "Deletion", "Deletion", "Article"]
    assert records[1] == Deletion(pmid="301", version=1)
    assert records[2] == Deletion(pmid="302", version=2)


def test_malformed_record_among_good_ones(entrez: Path) -> None:
    data = (entrez / "pubmed2.xml").read_bytes()
    broken = (
        b'<PubmedArticle><MedlineCitation><PMID Version="1">31415926</PMID>'
        b"<DateRevised><Year>2020</Year></DateRevised></MedlineCitation></PubmedArticle>\n"
        b"<PubmedArticle><MedlineCitation><Article><ArticleTitle>no pmid</ArticleTitle>"
        b"</Article></MedlineCitation></PubmedArticle>\n"
    )
    second = data.index(b"<PubmedArticle>", data.index(b"</PubmedArticle>"))
    records = list(iter_pubmed_xml(data[:second] + broken + data[second:]))
    assert [r.pmid for r in records] == ["11748933", "31415926", None, "11700088"]
    assert isinstance(records[0], Article) and isinstance(records[3], Article)
    bad, no_pmid = records[1], records[2]
    bad_line = data[:second].count(b"\n") + 1
    assert isinstance(bad, RecordError) and "no Article" in str(bad)
    assert f"line {bad_line}:" in str(bad) and f"line {bad_line + 1}:" in str(no_pmid)
    assert isinstance(no_pmid, RecordError) and "no PMID" in str(no_pmid)
    assert records[3].has_abstract  # type: ignore[union-attr]


def test_non_numeric_pmid_is_a_record_error() -> None:
    records = list(iter_pubmed_xml(wrap(citation("12x4"), citation("7"))))
    assert isinstance(records[0], RecordError) and records[0].pmid == "12x4"
    assert isinstance(records[1], Article) and records[1].pmid == "7"


def test_truncated_file_yields_complete_records_then_raises(entrez: Path) -> None:
    data = (entrez / "pubmed2.xml").read_bytes()
    second = data.index(b"<PubmedArticle>", data.index(b"</PubmedArticle>"))
    cut = data[: second + 2000]
    expected_line = cut.count(b"\n") + 1
    got: list[object] = []
    with pytest.raises(ParseError) as info:
        for record in iter_pubmed_xml(cut):
            got.append(record)
    assert [a.pmid for a in got] == ["11748933"]  # type: ignore[attr-defined]
    message = str(info.value)
    assert "truncated or malformed XML" in message
    assert f"line {expected_line}:" in message
    assert "1 record(s) before it were read" in message


def test_truncated_gzip_file(entrez: Path, tmp_path: Path) -> None:
    packed = gzip.compress((entrez / "pubmed4.xml").read_bytes())
    path = tmp_path / "cut.xml.gz"
    path.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(ParseError, match=r"cut\.xml\.gz: the gzip data is truncated"):
        list(iter_pubmed_xml(path))


def test_gzip_checksum_mismatch_is_reported(entrez: Path, tmp_path: Path) -> None:
    packed = bytearray(gzip.compress((entrez / "pubmed4.xml").read_bytes()))
    packed[-6] ^= 0xFF  # a byte of the CRC-32 trailer: the inflated data is all there
    path = tmp_path / "bad_crc.xml.gz"
    path.write_bytes(bytes(packed))
    with pytest.raises(
        ParseError, match=r"bad_crc\.xml\.gz: the gzip data is truncated or corrupt"
    ):
        list(iter_pubmed_xml(path))


def test_corrupt_xml_names_file_and_line(entrez: Path) -> None:
    with pytest.raises(ParseError, match=r"einfo4\.xml: truncated or malformed XML at line \d+"):
        list(iter_pubmed_xml(entrez / "einfo4.xml"))


def test_html_page_is_rejected(entrez: Path) -> None:
    with pytest.raises(ParseError, match="HTML page, not PubMed XML") as info:
        list(iter_pubmed_xml(entrez / "pubmed3.html"))
    assert "pubmed3.html" in str(info.value)


def test_other_eutilities_document_is_rejected(entrez: Path) -> None:
    with pytest.raises(ParseError, match="root element <eSearchResult> is not PubMed XML"):
        list(iter_pubmed_xml(entrez / "esearch1.xml"))
    error_doc = b"<eFetchResult><ERROR>Empty id list - nothing todo</ERROR></eFetchResult>"
    with pytest.raises(ParseError, match="Empty id list"):
        parse_pubmed_xml_bytes(error_doc)


def test_empty_input(tmp_path: Path) -> None:
    empty = tmp_path / "empty.xml"
    empty.write_bytes(b"")
    with pytest.raises(ParseError, match=r"empty\.xml is empty"):
        list(iter_pubmed_xml(empty))
    with pytest.raises(ParseError, match="is empty"):
        parse_pubmed_xml_bytes(b" \n\t")
    assert parse_pubmed_xml_bytes(b"<PubmedArticleSet></PubmedArticleSet>") == []


def test_missing_file_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        list(iter_pubmed_xml(tmp_path / "nope.xml"))


# --- text edge cases ----------------------------------------------------------------


def test_huge_abstract() -> None:
    sentence = "Telomere length was measured in 386 cases and 896 controls. "
    body = sentence * 1700  # ~100k characters
    record = citation(
        "401",
        f"<Article><ArticleTitle>Big</ArticleTitle><Abstract><AbstractText>{body}"
        "</AbstractText></Abstract></Article>",
    )
    (a,) = articles(wrap(record))
    assert len(a.abstract) == len(body.strip()) >= 100_000
    assert a.abstract == body.strip()
    assert a.sections[0].end == len(a.abstract)


def test_odd_unicode_survives_cleanly() -> None:
    hebrew = "\u05e1\u05d5\u05db\u05e8\u05ea"
    arabic = "\u0627\u0644\u0633\u0643\u0631\u064a"
    title = f"Cafe\u0301 \u200bstudy\u00ad of {hebrew}\u200f and {arabic}"
    abstract = "Dose\u0085response\u0096curve \u2009 10\u00a0mg \U0001f9ec DNA\u200d"
    record = citation(
        "402",
        f"<Article><ArticleTitle>{title}</ArticleTitle><Abstract><AbstractText>{abstract}"
        "</AbstractText></Abstract></Article>",
    )
    (a,) = articles(wrap(record))
    assert a.title == f"Café study of {hebrew} and {arabic}"
    assert a.abstract == "Dose responsecurve 10 mg \U0001f9ec DNA\u200d"


def test_mathml_without_namespace_declaration() -> None:
    record = citation(
        "403",
        "<Article><ArticleTitle>Rate <mml:math><mml:msup><mml:mi>e</mml:mi><mml:mrow>"
        "<mml:mo>-</mml:mo><mml:mi>k</mml:mi></mml:mrow></mml:msup></mml:math> fits"
        "</ArticleTitle></Article>",
    )
    (a,) = articles(wrap(record, citation("404")))[:1]
    assert a.title == "Rate e-k fits"


def test_book_article() -> None:
    book = (
        '<PubmedBookArticle><BookDocument><PMID Version="1">20301295</PMID>'
        '<ArticleIdList><ArticleId IdType="bookaccession">NBK1116</ArticleId></ArticleIdList>'
        "<Book><PublisherName>University of Washington, Seattle</PublisherName>"
        "<BookTitle>GeneReviews®</BookTitle><PubDate><Year>1993</Year></PubDate></Book>"
        "<ArticleTitle>Alport Syndrome</ArticleTitle><Language>eng</Language>"
        '<AuthorList Type="authors"><Author><LastName>Kashtan</LastName>'
        "<ForeName>Clifford E</ForeName><Initials>CE</Initials></Author></AuthorList>"
        '<Abstract><AbstractText Label="CLINICAL CHARACTERISTICS">Alport syndrome is a disorder.'
        '</AbstractText><AbstractText Label="DIAGNOSIS">Diagnosis relies on testing.'
        "</AbstractText></Abstract></BookDocument><PubmedBookData><History>"
        '<PubMedPubDate PubStatus="entrez"><Year>2010</Year><Month>3</Month><Day>20</Day>'
        "</PubMedPubDate></History></PubmedBookData></PubmedBookArticle>"
    )
    (a,) = articles(wrap(book))
    assert (a.pmid, a.title, a.journal) == (
        "20301295",
        "Alport Syndrome",
        "University of Washington, Seattle",
    )
    assert [s.label for s in a.sections] == ["CLINICAL CHARACTERISTICS", "DIAGNOSIS"]
    assert a.abstract == "Alport syndrome is a disorder.\nDiagnosis relies on testing."
    assert a.entrez_date == dt.date(2010, 3, 20) and a.pub_date.year == 1993
    assert a.authors[0].display_name == "Kashtan CE"


# --- chunked reading ------------------------------------------------------------------
# The reader cuts the document into chunks of whole records (parsed one by one,
# possibly in worker processes). Whatever the chunk size, it must give exactly
# what one streaming pass over the file gives: records, errors and line numbers.


def _records_of_all_files(entrez: Path) -> list[bytes]:
    """Every PubmedArticle of the recorded EFetch files, as it stands in the file."""
    records = []
    for name in DEFAULT_ARTICLE_FILES:
        data = (entrez / name).read_bytes()
        start = data.find(b"<PubmedArticle>")
        while start >= 0:
            end = data.index(b"</PubmedArticle>", start) + len(b"</PubmedArticle>")
            records.append(data[start:end])
            start = data.find(b"<PubmedArticle>", end)
    return records


@pytest.fixture(scope="module")
def big_document(entrez: Path) -> bytes:
    """Recorded records with fresh PMIDs, plus the odd things a reader must survive."""
    head = (entrez / "pubmed2.xml").read_bytes()
    head = head[: head.index(b"<PubmedArticleSet>") + len(b"<PubmedArticleSet>")]
    parts = [head, b"\n"]
    for i, record in enumerate(_records_of_all_files(entrez) * 4):
        pmid = record[record.index(b"<PMID") :].split(b">", 1)[1].split(b"<", 1)[0]
        parts.append(record.replace(b">" + pmid + b"<", b">%d<" % (70000000 + i)) + b"\n")
        if i == 5:  # end tags inside a comment, a CDATA section and a PI are no record ends
            parts.append(b"<!-- </PubmedArticle> -->\n<?pi </DeleteCitation> ?>\n")
            parts.append(b"<![CDATA[ </PubmedArticle> ]]>\n")
        if i == 9:
            parts.append(citation("12x4").encode() + b"\n")  # a bad record
        if i == 17:
            parts.append(b'<DeleteCitation><PMID Version="1">70000003</PMID></DeleteCitation>\n')
    parts.append(b"</PubmedArticleSet>\n")
    return b"".join(parts)


def _outcome(source: bytes, **kwargs: int) -> list[object]:
    """Records (errors as their messages) and the final error, as a comparable list."""
    out: list[object] = []
    try:
        for record in iter_pubmed_xml(source, **kwargs):
            out.append(str(record) if isinstance(record, RecordError) else record)
    except ParseError as exc:
        out.append(str(exc))
    return out


def _one_pass(monkeypatch: pytest.MonkeyPatch, source: bytes) -> list[object]:
    """What the reader gives when it does not cut the document (one iterparse pass)."""
    with monkeypatch.context() as patch:
        patch.setattr(pubmed_xml, "_layout", lambda head: None)
        return _outcome(source)


def test_chunks_give_what_one_pass_gives(
    big_document: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = _one_pass(monkeypatch, big_document)
    assert sum(isinstance(r, Article) for r in expected) == 32
    assert sum(isinstance(r, Deletion) for r in expected) == 1
    (bad,) = [r for r in expected if isinstance(r, str)]
    assert bad.startswith("record 12x4: <bytes> line ")
    for chunk_bytes in (1, 5_000, 50_000, 1 << 20):
        assert _outcome(big_document, chunk_bytes=chunk_bytes) == expected, chunk_bytes


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "pure-python"])
def test_chunked_errors_name_the_files_line(
    big_document: bytes, monkeypatch: pytest.MonkeyPatch, compiled: bool
) -> None:
    # Cut anywhere (inside a record, a tag, the comment...) or add a broken
    # tag: the good records before, then one error naming the same line. The
    # compiled extractor and its byte cuts (when built) give what the Python
    # reader gives, and no record with the break inside it comes out.
    if not compiled:
        monkeypatch.setattr(pubmed_xml, "_COMPILED", None)
    # Where each real record's end tag ends (not the ones in the comment and
    # CDATA section), and where the bad record's does.
    hidden = {big_document.index(b"-- </PubmedArticle>") + 3, big_document.index(b"[ </Pub") + 2}
    record_ends = [
        m.end() for m in re.finditer(b"</PubmedArticle>", big_document) if m.start() not in hidden
    ]
    bad_end = big_document.index(b"</PubmedArticle>", big_document.index(b">12x4<")) + 16
    for at in range(300, len(big_document), len(big_document) // 23):
        for broken in (big_document[:at], big_document[:at] + b"<<" + big_document[at:]):
            expected = _one_pass(monkeypatch, broken)
            assert isinstance(expected[-1], str) and "line" in expected[-1]
            ended = sum(end <= at for end in record_ends)
            assert sum(isinstance(r, Article) for r in expected) == ended - (bad_end <= at)
            for chunk_bytes in (1, 20_000):
                assert _outcome(broken, chunk_bytes=chunk_bytes) == expected, (at, chunk_bytes)


def test_documents_that_cannot_be_cut_are_read_in_one_pass() -> None:
    subset = (
        b'<?xml version="1.0"?>\n<!DOCTYPE PubmedArticleSet [<!ENTITY co "Company">]>\n'
        + wrap(citation("501"), citation("502")).split(b"\n", 1)[1]
    )
    assert pubmed_xml._layout(subset[:2048]) is None
    assert [a.pmid for a in articles(subset)] == ["501", "502"]
    latin = wrap(citation("503")).replace(b'version="1.0"', b'version="1.0" encoding="UTF-16"')
    assert pubmed_xml._layout(latin) is None
    assert pubmed_xml._layout(wrap(citation("503"))) is not None


def test_map_pubmed_xml_hands_chunks_to_the_mapper(big_document: bytes) -> None:
    seen: list[int] = []

    def mapper(chunks: Iterator[pubmed_xml.PubmedChunk]) -> Iterator[pubmed_xml.ChunkResult]:
        for chunk in chunks:
            items, count, end_line = pubmed_xml.parse_chunk(chunk)
            seen.append(count)
            yield [x.pmid if isinstance(x, Article) else x for x in items], count, end_line

    mapped = list(pubmed_xml.map_pubmed_xml(big_document, mapper, chunk_bytes=30_000))
    plain = list(iter_pubmed_xml(big_document))
    assert len(seen) > 3 and sum(seen) == 34  # 32 articles, a bad record, a deletion

    def key(item: object) -> object:
        return str(item) if isinstance(item, RecordError) else item

    assert [key(x) for x in mapped] == [r.pmid if isinstance(r, Article) else key(r) for r in plain]

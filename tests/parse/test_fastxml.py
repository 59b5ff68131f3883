"""The compiled PubmedArticle extractor gives exactly what the Python reader gives."""

from __future__ import annotations

import logging
import os
import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from litmine.errors import RecordError
from litmine.parse import pubmed_xml
from litmine.parse.pubmed_xml import iter_pubmed_xml

fastxml = pytest.importorskip(
    "litmine.parse._fastxml",
    reason="the compiled extractor is not built (it needs Cython and a C compiler at install); "
    "the pure-Python reader is in use",
)

MATHML = "http://www.w3.org/1998/Math/MathML"


@pytest.mark.skipif(
    os.environ.get("LITMINE_PURE_PYTHON_XML", "") not in ("", "0"),
    reason="LITMINE_PURE_PYTHON_XML switches the compiled extractor off",
)
def test_compiled_extractor_matches_this_lxml_and_is_used() -> None:
    assert fastxml.AVAILABLE, "struct layout check failed against the installed lxml/libxml2"
    assert pubmed_xml._COMPILED is fastxml


def test_can_be_switched_off_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LITMINE_PURE_PYTHON_XML", "1")
    assert pubmed_xml._load_compiled() is None
    monkeypatch.setenv("LITMINE_PURE_PYTHON_XML", "0")
    assert pubmed_xml._load_compiled() is fastxml


def _articles_of(data: bytes) -> Iterator[Any]:
    root = etree.fromstring(data, pubmed_xml._new_parser())
    yield from root.iter("PubmedArticle")


def _both(elem: Any) -> tuple[Any, Any]:
    """(Python reader's result, compiled result); errors as (type name, message)."""
    try:
        expected: Any = pubmed_xml._pubmed_article(elem)
    except Exception as exc:
        expected = (type(exc).__name__, str(exc))
    try:
        got: Any = fastxml.pubmed_article(elem)
    except Exception as exc:
        got = (type(exc).__name__, str(exc))
    return expected, got


def _pubmed_files(shared_data: Path) -> list[Path]:
    files = sorted((shared_data / "entrez").glob("pubmed*.xml"))
    return [f for f in files if f.read_bytes().lstrip().startswith(b"<?xml")]


def test_real_efetch_records_read_the_same(shared_data: Path) -> None:
    compared = 0
    for path in _pubmed_files(shared_data):
        data = path.read_bytes()
        data = pubmed_xml._declare_mathml_prefix(data)
        try:
            elements = list(_articles_of(data))
        except etree.XMLSyntaxError:
            continue  # the truncated recording: covered by the reader tests
        for elem in elements:
            expected, got = _both(elem)
            assert got == expected, (path.name, elem.findtext("MedlineCitation/PMID"))
            compared += 1
    assert compared >= 8


def _citation(pmid: str, inner: str, *, data: str = "", before: str = "") -> str:
    return (
        f"<PubmedArticle><MedlineCitation>{before}<PMID Version='2'>{pmid}</PMID>{inner}"
        f"</MedlineCitation><PubmedData>{data}</PubmedData></PubmedArticle>"
    )


# Every branch of the extractor, and the markup and text cases of the cleaner.
_EDGE_RECORDS = [
    _citation(
        "501",
        "<Article><Journal><Title>J  Test\tMed </Title><ISOAbbreviation>J Test</ISOAbbreviation>"
        "<JournalIssue><PubDate><MedlineDate>1998 Dec-1999 Jan</MedlineDate></PubDate>"
        "</JournalIssue></Journal>"
        "<ArticleTitle> Effect of <i>CO<sub>2</sub></i> &amp; O<sup>3</sup> on "
        "<b>lung</b><br/>function <u>&lt;</u> 5% — caf\u00e9\u00a0study<!-- c --></ArticleTitle>"
        "<ELocationID EIdType='pii'>x1</ELocationID>"
        "<ELocationID EIdType='doi' ValidYN='N'>10.1/bad</ELocationID>"
        "<ELocationID EIdType='doi'> 10.1/good </ELocationID>"
        "<Abstract><AbstractText Label='BACKGROUND' NlmCategory='BACKGROUND'>Rate "
        f"<mml:math xmlns:mml='{MATHML}'><mml:msup><mml:mi>e</mml:mi><mml:mrow><mml:mo>-</mml:mo>"
        "<mml:mi>k</mml:mi></mml:mrow></mml:msup></mml:math> fits.</AbstractText>"
        "<AbstractText Label='  UNLABELLED '>Plain  text   here.</AbstractText>"
        "<AbstractText Label='METHODS' NlmCategory=''><![CDATA[Raw <i> kept]]> and &#x3b1;-"
        "&lt;i&gt;x&lt;/i&gt; &amp;beta;</AbstractText>"
        "<AbstractText/><AbstractText>   </AbstractText>"
        "<AbstractText Label='RESULTS'>Tabs\tand\nlines\u200b and \u0085NEL"
        "<x:i xmlns:x='urn:other'>foreign</x:i>tail</AbstractText></Abstract>"
        "<AuthorList><Author ValidYN='N'><LastName>Gone</LastName></Author>"
        "<Author><LastName>Smith</LastName><ForeName>Ann  B</ForeName><Initials> AB </Initials>"
        "<AffiliationInfo><Affiliation>Dept A, <i>Univ</i></Affiliation></AffiliationInfo>"
        "<AffiliationInfo><Affiliation/></AffiliationInfo>"
        "<Identifier Source='orcid'>https://orcid.org/0000-0002-1825-009x</Identifier>"
        "</Author><Author><CollectiveName>The Group</CollectiveName></Author>"
        "<Author><Initials>Q</Initials></Author>"
        "<Author><Identifier Source='ORCID'>no id</Identifier><LastName>Li</LastName></Author>"
        "</AuthorList><Language>eng</Language><Language> </Language><Language>fre</Language>"
        "<PublicationTypeList><PublicationType UI='D1'>Journal Article</PublicationType>"
        "<PublicationType/></PublicationTypeList>"
        "<ArticleDate><Year>2001</Year><Month>02</Month><Day>03</Day></ArticleDate>"
        "<VernacularTitle>Titre</VernacularTitle></Article>"
        "<MedlineJournalInfo><MedlineTA>J Med TA</MedlineTA></MedlineJournalInfo>"
        "<ChemicalList><Chemical><RegistryNumber>0</RegistryNumber>"
        "<NameOfSubstance UI='D2'>Water</NameOfSubstance></Chemical>"
        "<Chemical><RegistryNumber>7-7-7</RegistryNumber><NameOfSubstance UI='D3'/></Chemical>"
        "</ChemicalList>"
        "<MeshHeadingList><MeshHeading>"
        "<DescriptorName UI='D4' MajorTopicYN='Y'>Lung</DescriptorName>"
        "<QualifierName UI='Q1' MajorTopicYN='N'>physiology</QualifierName>"
        "<QualifierName UI='Q2' MajorTopicYN='Y'>drug  effects</QualifierName></MeshHeading>"
        "<MeshHeading><QualifierName UI='Q3'>orphan</QualifierName></MeshHeading></MeshHeadingList>"
        "<CommentsCorrectionsList><CommentsCorrections RefType='Cites'><RefSource>R</RefSource>"
        "</CommentsCorrections><CommentsCorrections RefType='RetractionIn'>"
        "<RefSource>Lancet. 2020</RefSource><PMID Version='1'> 123 </PMID></CommentsCorrections>"
        "<CommentsCorrections><RefSource/></CommentsCorrections></CommentsCorrectionsList>"
        "<KeywordList><Keyword>asthma</Keyword><Keyword>asthma</Keyword><Keyword/></KeywordList>"
        "<KeywordList><Keyword>COPD <i>x</i></Keyword></KeywordList>",
        data="<History><PubMedPubDate PubStatus='pubmed'><Year>2002</Year><Month>Mar</Month>"
        "<Day>4</Day></PubMedPubDate><PubMedPubDate PubStatus='entrez'><Year>2002</Year>"
        "<Month>2</Month><Day>31</Day></PubMedPubDate></History>"
        "<ArticleIdList><ArticleId IdType='pubmed'>501</ArticleId>"
        "<ArticleId IdType='pmc'> PMC1 </ArticleId><ArticleId IdType='pmc'>PMC2</ArticleId>"
        "</ArticleIdList>",
        before="<DateCompleted><Year>1</Year></DateCompleted>",
    ),
    _citation(
        "502",
        "<Article><ArticleTitle/><VernacularTitle>Vern <i>title</i></VernacularTitle>"
        "<Journal><JournalIssue><PubDate><Year> 1999</Year><Month>13</Month><Day>45</Day>"
        "</PubDate></JournalIssue></Journal>"
        "<ArticleDate><Year>2000</Year></ArticleDate><ArticleDate><Year>1990</Year></ArticleDate>"
        "</Article>"
        "<x:MeshHeadingList xmlns:x='urn:other'><MeshHeading><DescriptorName>Hidden"
        "</DescriptorName></MeshHeading></x:MeshHeadingList>",
        data="<ArticleIdList><ArticleId IdType='doi'>10.2/from-data</ArticleId></ArticleIdList>",
    ),
    _citation(
        "503",
        "<Article><ArticleTitle>No date</ArticleTitle><Journal><JournalIssue><PubDate/>"
        "</JournalIssue></Journal><ArticleDate><Year>2004</Year><Month>7</Month></ArticleDate>"
        "<ELocationID EIdType='doi'>10.3/eloc</ELocationID></Article>",
    ),
    _citation(
        "504",
        "<Article><ArticleTitle>Inhaled <math><mmultiscripts><mi>He</mi><mprescripts/><none/>"
        "<mn>3</mn></mmultiscripts></math> MRI <m:math xmlns:m='" + MATHML + "'><m:msubsup>"
        "<m:mi>x</m:mi><m:mn>1</m:mn><m:mn>2</m:mn></m:msubsup></m:math></ArticleTitle>"
        f"<Abstract><AbstractText>A <mml:math xmlns:mml='{MATHML}'>"
        "<mml:mfrac><mml:mrow><mml:mi>a</mml:mi><mml:mo>+</mml:mo><mml:mi>b</mml:mi></mml:mrow>"
        "<mml:mn>2</mml:mn></mml:mfrac><mml:mfrac><mml:mi>p</mml:mi><mml:mi>q</mml:mi>"
        "<mml:mi>r</mml:mi></mml:mfrac><mml:msqrt><mml:mi>n</mml:mi><mml:mo>+</mml:mo>"
        "<mml:mn>1</mml:mn></mml:msqrt><mml:mroot><mml:mi>y</mml:mi><mml:mn>3</mml:mn></mml:mroot>"
        "<mml:mfenced><mml:mi>x</mml:mi><mml:mi>y</mml:mi><mml:mi>z</mml:mi></mml:mfenced>"
        "<mml:mfenced open='[' close='' separators='; |'><mml:mi>u</mml:mi><mml:mi>v</mml:mi>"
        "<mml:mi>w</mml:mi></mml:mfenced><mml:mover><mml:mi>V</mml:mi><mml:mo>.</mml:mo>"
        "</mml:mover><mml:mover><mml:mi>x</mml:mi><mml:mo>¯</mml:mo></mml:mover>"
        "<mml:mover><mml:mi>x</mml:mi><mml:mo>*</mml:mo></mml:mover><mml:munder><mml:mi>y</mml:mi>"
        "<mml:mo>_</mml:mo></mml:munder><mml:munderover><mml:mo>∑</mml:mo><mml:mn>1</mml:mn>"
        "<mml:mi>n</mml:mi></mml:munderover><mml:mtable><mml:mtr><mml:mtd><mml:mn>1</mml:mn>"
        "</mml:mtd><mml:mtd><mml:mn>2</mml:mn></mml:mtd></mml:mtr><mml:mlabeledtr><mml:mtd>"
        "<mml:mn>3</mml:mn></mml:mtd></mml:mlabeledtr></mml:mtable></mml:math> then "
        f"<mml:math xmlns:mml='{MATHML}'><mml:mi>log</mml:mi><mml:mi>x</mml:mi><mml:mi>sin</mml:mi>"
        "<mml:mo>(</mml:mo><mml:mtext> and </mml:mtext><mml:mtext>   </mml:mtext><mml:mtext/>"
        "<mml:mspace/><mml:mglyph alt='star'/><mml:mglyph/><mml:semantics><mml:mi>k</mml:mi>"
        "<mml:annotation>k-latex</mml:annotation></mml:semantics><mml:maction><mml:mi>j</mml:mi>"
        "</mml:maction><mml:semantics/><mml:mi>  spaced \n token </mml:mi>"
        "<mml:mi><mml:mglyph alt='g'/>z<mml:mi>w</mml:mi>q</mml:mi><mml:mphantom><mml:mi>h</mml:mi>"
        "</mml:mphantom><mml:mstyle><mml:mpadded><mml:mn>7</mml:mn></mml:mpadded></mml:mstyle>"
        "<x:foo xmlns:x='urn:other'><mml:mi>f</mml:mi></x:foo></mml:math>, "
        f"<mml:math xmlns:mml='{MATHML}' alttext='\\alpha'></mml:math> and "
        f"<mml:math xmlns:mml='{MATHML}' alttext='\\beta'><mml:mspace/></mml:math>."
        "</AbstractText></Abstract></Article>",
    ),
    # malformed: each must come out as the Python reader's error
    "<PubmedArticle><PubmedData/></PubmedArticle>",
    "<PubmedArticle><MedlineCitation><Article/></MedlineCitation></PubmedArticle>",
    "<PubmedArticle><MedlineCitation><PMID>  </PMID><Article/></MedlineCitation></PubmedArticle>",
    "<PubmedArticle><MedlineCitation><PMID>12a</PMID><Article/></MedlineCitation></PubmedArticle>",
    "<PubmedArticle><MedlineCitation><PMID>7</PMID></MedlineCitation></PubmedArticle>",
]


def _document(records: list[str]) -> bytes:
    body = "\n".join(records)
    return f"<?xml version='1.0'?>\n<PubmedArticleSet>\n{body}\n</PubmedArticleSet>\n".encode()


@pytest.mark.parametrize("index", range(len(_EDGE_RECORDS)))
def test_edge_records_read_the_same(index: int) -> None:
    (elem,) = _articles_of(_document([_EDGE_RECORDS[index]]))
    expected, got = _both(elem)
    assert got == expected
    if index == 0:  # the fixture really reaches the branches it is written for
        assert expected.doi == "10.1/good" and expected.pmc_id == "PMC1"
        assert expected.title.startswith("Effect of CO2 & O3 on lung function ≤ 5%")
        assert [s.label for s in expected.sections] == ["BACKGROUND", None, "METHODS", "RESULTS"]
        assert expected.authors[0].orcid == "0000-0002-1825-009X"
        assert expected.comments_corrections[0].pmid == "123"
    if index == 3:
        assert expected.title == "Inhaled 3He MRI x12"
        assert "(a+b)/2" in expected.abstract and "∑1n" in expected.abstract


def _outcome(records: list[Any]) -> list[Any]:
    return [(r.pmid, str(r)) if isinstance(r, RecordError) else r for r in records]


def test_reader_gives_the_same_records_with_and_without_it(
    shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sources: list[Any] = [_document(_EDGE_RECORDS)]
    sources += [p for p in _pubmed_files(shared_data) if "pubmed3" not in p.name]
    compiled = [_outcome(list(iter_pubmed_xml(s))) for s in sources]
    monkeypatch.setattr(pubmed_xml, "_COMPILED", None)
    pure = [_outcome(list(iter_pubmed_xml(s))) for s in sources]
    assert compiled == pure
    assert sum(isinstance(r, tuple) for r in compiled[0]) == 5  # the malformed records


def test_unresolved_entities_fall_back_to_the_python_reader() -> None:
    """An internal DTD subset keeps entity references as nodes (resolve_entities=False)."""
    doc = (
        "<?xml version='1.0'?>\n<!DOCTYPE PubmedArticleSet [<!ENTITY who 'the WHO'>]>\n"
        "<PubmedArticleSet>"
        + _citation(
            "601",
            "<Article><ArticleTitle>Report of &who; now</ArticleTitle><Abstract>"
            "<AbstractText Label='A &who;'>x</AbstractText></Abstract></Article>",
        )
        + "</PubmedArticleSet>"
    ).encode()
    parser = etree.XMLParser(load_dtd=False, resolve_entities=False, no_network=True)
    (elem,) = etree.fromstring(doc, parser).iter("PubmedArticle")
    with pytest.raises(fastxml.Unsupported):
        fastxml.pubmed_article(elem)  # the attribute holds an entity reference
    (article,) = iter_pubmed_xml(doc)
    assert article == pubmed_xml._pubmed_article(elem)
    assert article.title == "Report of &who; now"  # DTD entities are never expanded


# --- the bibliography cut from the bytes before parsing ------------------------

_REFS = (
    "<ReferenceList>\n<Title>References</Title>\n<Reference><Citation>A &amp; B, caf\u00e9 "
    "&#x3b1; 2001.</Citation>\n<ArticleIdList><ArticleId IdType='pubmed'>1</ArticleId>"
    "</ArticleIdList></Reference>\n<ReferenceList><Reference><Citation>Nested</Citation>"
    "</Reference></ReferenceList>\n<ReferenceList/></ReferenceList>"
)
_CITES = (
    '<CommentsCorrections RefType="Cites">\n<RefSource>J Med. 1999</RefSource>\n'
    '<PMID Version="1">42</PMID>\n</CommentsCorrections>'
)


def _with(inner: str, data: str, pmid: str = "701") -> bytes:
    comments = (
        "<CommentsCorrectionsList>"
        + inner
        + '<CommentsCorrections RefType="ErratumIn"><RefSource>Err</RefSource>'
        "<PMID>9</PMID></CommentsCorrections></CommentsCorrectionsList>"
    )
    record = _citation(
        pmid, "<Article><ArticleTitle>T</ArticleTitle></Article>" + comments, data=data
    )
    return _document(
        [record, _citation("702", "<Article><ArticleTitle>U</ArticleTitle></Article>")]
    )


def test_bibliography_is_cut_keeping_lines_and_records() -> None:
    doc = _with(_CITES + "\n" + _CITES, _REFS + "\n<ReferenceList/>")
    grants = (
        '<GrantList CompleteYN="Y">\n<Grant><GrantID>R01 AB-1</GrantID><Agency>NIH</Agency>'
        "<Country>United States</Country></Grant>\n</GrantList><InvestigatorList>\n"
        '<Investigator ValidYN="Y"><LastName>M\u00fcller</LastName></Investigator>\n'
        "</InvestigatorList>"
    )
    doc = doc.replace(
        b"<ArticleTitle>T</ArticleTitle>", b"<ArticleTitle>T</ArticleTitle>" + grants.encode()
    )
    cut = fastxml.drop_unread(doc)
    assert b"ReferenceList" not in cut and b"Cites" not in cut and b"ErratumIn" in cut
    assert b"Grant" not in cut and b"Investigator" not in cut
    assert cut.count(b"\n") == doc.count(b"\n")
    assert len(cut) < len(doc) - len(_REFS)

    def records(data: bytes) -> list[Any]:
        root = etree.fromstring(data, pubmed_xml._new_parser())
        return [(e.sourceline, pubmed_xml._pubmed_article(e)) for e in root.iter("PubmedArticle")]

    assert records(cut) == records(doc)
    assert records(cut)[0][1].comments_corrections[0].ref_type == "ErratumIn"


@pytest.mark.parametrize(
    "bad",
    [
        "<Reference><Citation>x</Reference></Citation>",  # crossed tags
        "<Reference><Citation>x &nbsp; y</Citation></Reference>",  # undeclared entity
        "<Reference><Citation>x &#0; y</Citation></Reference>",  # not a character
        "<Reference><Citation>x \x01 y</Citation></Reference>",  # control character
        "<Reference><Citation>x ]]> y</Citation></Reference>",
        "<Reference><Citation>x << y</Citation></Reference>",
        "<Reference a='1' a='2'><Citation>x</Citation></Reference>",  # two attributes
        "<Reference a='1'b='2'/>",
        "<Reference a=1/>",
        "<x:Reference xmlns:x='urn:x'/>",  # prefixes are outside the subset
        "<Reference><Citation>unclosed</Citation>",
    ],
)
def test_elements_outside_the_safe_subset_are_left_for_the_parser(bad: str) -> None:
    doc = _with(_CITES, f"<ReferenceList>{bad}</ReferenceList>")
    cut = fastxml.drop_unread(doc)
    assert b"Cites" not in cut  # the good element before it is still cut
    assert b"<ReferenceList>" + bad.encode() in cut


def test_invalid_utf8_in_a_bibliography_is_left_for_the_parser() -> None:
    doc = _with("", "<ReferenceList><Reference>x</Reference></ReferenceList>")
    broken = doc.replace(b"<Reference>x", b"<Reference>\xff\xfe")
    assert fastxml.drop_unread(broken) == broken
    overlong = doc.replace(b"<Reference>x", b"<Reference>\xc0\xaf")
    assert fastxml.drop_unread(overlong) == overlong
    assert fastxml.drop_unread(doc) != doc


def test_nothing_is_cut_after_a_comment_cdata_or_pi() -> None:
    for special in ("<!-- <ReferenceList> -->", "<![CDATA[ x ]]>", "<?pi x?>"):
        doc = _with(_CITES, _REFS).replace(
            b"<PubmedArticleSet>", b"<PubmedArticleSet>" + special.encode()
        )
        assert fastxml.drop_unread(doc) == doc
    # after the first record, only what follows the comment is kept whole
    doc = _with(_CITES, _REFS).replace(b"</PubmedArticle>", b"</PubmedArticle><!-- c -->", 1)
    cut = fastxml.drop_unread(doc)
    assert b"Cites" not in cut and b"<!-- c -->" in cut


def test_other_forms_are_not_cut() -> None:
    doc = _with(
        "<CommentsCorrections RefType='Cites'><RefSource>x</RefSource></CommentsCorrections>",
        "<ReferenceList lang='en'><Reference>x</Reference></ReferenceList>",
    )
    assert fastxml.drop_unread(doc) == doc


def test_layout_whitespace_goes_but_words_stay(shared_data: Path) -> None:
    """Whitespace between the children of containers goes; in text elements every byte stays."""
    mixed = (
        "<ArticleTitle><i>Alpha</i> <b>beta</b>\n<sup>2</sup> gamma</ArticleTitle>"
        "<Abstract>\n  <AbstractText>\n  <i>x</i> <i>y</i>  </AbstractText>\n</Abstract>"
    )
    doc = _document([_citation("801", f"<Article>\n  {mixed}\n  </Article>")])
    cut = fastxml.drop_unread(doc)
    assert b"<Article><ArticleTitle>" in cut and b"</Abstract></Article>" in cut
    assert b"<i>Alpha</i> <b>beta</b>\n<sup>2</sup> gamma" in cut
    assert b"<AbstractText>\n  <i>x</i> <i>y</i>  </AbstractText>" in cut
    assert cut.count(b"\n") == doc.count(b"\n")

    def records(data: bytes) -> list[Any]:
        root = etree.fromstring(data, pubmed_xml._new_parser())
        return [(e.sourceline, pubmed_xml._pubmed_article(e)) for e in root.iter("PubmedArticle")]

    assert records(cut) == records(doc)
    assert records(cut)[0][1].title == "Alpha beta 2 gamma"


def test_reformatted_real_records_read_the_same(shared_data: Path) -> None:
    """Real records re-indented at random, with inline markup and stray whitespace."""
    rnd = random.Random(5)
    records: list[bytes] = []
    for path in _pubmed_files(shared_data):
        data = path.read_bytes()
        start = data.find(b"<PubmedArticle>")
        while start >= 0:
            end = data.find(b"</PubmedArticle>", start)
            if end < 0:
                break
            records.append(data[start : end + len(b"</PubmedArticle>")])
            start = data.find(b"<PubmedArticle>", end)
    assert len(records) >= 8
    for trial in range(40):
        picked = [rnd.choice(records) for _ in range(6)]
        # Re-indent: random whitespace (line breaks too) after some tags.
        body = re.sub(
            rb">(\s*)<",
            lambda m: b">" + rnd.choice([b"", b" ", b"\n", b"\n    ", b"\t\n\n "]) + b"<",
            b"\n".join(picked),
        )
        doc = pubmed_xml._declare_mathml_prefix(
            b"<?xml version='1.0'?>\n<PubmedArticleSet>\n" + body + b"\n</PubmedArticleSet>\n"
        )
        cut = fastxml.drop_unread(doc)
        assert cut.count(b"\n") == doc.count(b"\n")
        parser = pubmed_xml._new_parser
        whole = etree.fromstring(doc, parser()).iter("PubmedArticle")
        lean = etree.fromstring(cut, parser()).iter("PubmedArticle")
        for a, b in zip(whole, lean, strict=True):
            assert a.sourceline == b.sourceline, trial
            assert pubmed_xml._pubmed_article(a) == pubmed_xml._pubmed_article(b), trial


def test_an_unchecked_libxml2_or_lxml_switches_it_off_with_one_line(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    assert fastxml.abi_problem() is None  # the versions installed now are checked ones
    for attribute, value, says in (
        ("LIBXML_VERSION", (2, 99, 0), "libxml2 2.99.0 is outside the checked"),
        ("LIBXML_COMPILED_VERSION", (2, 9, 1), "compiled against libxml2 2.9.1"),
        ("LXML_VERSION", (99, 0, 0, 0), "lxml 99.0.0.0 is not a checked major"),
    ):
        with monkeypatch.context() as patch:
            patch.setattr(fastxml.etree, attribute, value)
            if attribute == "LIBXML_VERSION":
                patch.setattr(fastxml.etree, "LIBXML_COMPILED_VERSION", value)
            caplog.clear()
            assert says in (fastxml.abi_problem() or "")
            # The logger named: `litmine` CLI runs in this process may have set it to ERROR.
            with caplog.at_level(logging.WARNING, logger="litmine.parse"):
                assert fastxml._init() is False
            (record,) = caplog.records
            assert (
                "\n" not in record.getMessage() and "using the Python reader" in record.getMessage()
            )
    assert fastxml._init() is True

"""Format sniffing and the read_file dispatcher."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

from litmine.errors import InputError, ParseError
from litmine.parse import FORMATS, detect_format, parse_pubmed_xml_bytes, read_file
from litmine.types import Article


@pytest.mark.parametrize(
    ("relpath", "fmt"),
    [
        ("entrez/pubmed1.xml", "pubmed_xml"),
        ("entrez/pubmed7.xml", "pubmed_xml"),
        ("entrez/pubmed3.html", "pubmed_xml"),  # starts with '<'; the XML reader rejects it
        ("medline/pubmed_result2.txt", "medline"),
        ("medline/efetch2.txt", "medline"),  # begins with a blank line
    ],
)
def test_detect_real_files(shared_data: Path, relpath: str, fmt: str) -> None:
    assert detect_format(shared_data / relpath) == fmt


def test_detect_by_content_not_name(shared_data: Path, tmp_path: Path) -> None:
    xml_gz = tmp_path / "download.bin"
    xml_gz.write_bytes(gzip.compress((shared_data / "entrez" / "pubmed2.xml").read_bytes()))
    medline_as_xml = tmp_path / "records.xml"
    shutil.copy(shared_data / "medline" / "pubmed_result1.txt", medline_as_xml)
    jsonl = tmp_path / "corpus.txt"
    jsonl.write_text('\n{"_id": "1", "title": "t", "text": "x"}\n', encoding="utf-8")
    other_tag_first = tmp_path / "m.txt"
    other_tag_first.write_text("OWN - NLM\nPMID- 1\nTI  - t\n", encoding="utf-8")
    assert detect_format(xml_gz) == "pubmed_xml"
    assert detect_format(medline_as_xml) == "medline"
    assert detect_format(jsonl) == "beir_jsonl"
    assert detect_format(other_tag_first) == "medline"


def test_unknown_format_names_file_and_formats(shared_data: Path) -> None:
    csv_path = shared_data / "scifact" / "corpus_train.csv"
    with pytest.raises(InputError) as info:
        detect_format(csv_path)
    message = str(info.value)
    assert "corpus_train.csv" in message
    for name in FORMATS:
        assert name in message


def test_empty_and_missing_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.xml"
    empty.write_bytes(b"\xef\xbb\xbf  \n")
    with pytest.raises(InputError, match=r"empty\.xml is empty"):
        detect_format(empty)
    with pytest.raises(InputError, match="cannot read"):
        detect_format(tmp_path / "missing.xml")


def test_read_file_dispatches(shared_data: Path, tmp_path: Path) -> None:
    xml = list(read_file(shared_data / "entrez" / "pubmed2.xml"))
    assert [a.pmid for a in xml] == ["11748933", "11700088"]  # type: ignore[union-attr]
    medline = list(read_file(shared_data / "medline" / "pubmed_result2.txt"))
    assert len(medline) == 4 and all(isinstance(a, Article) for a in medline)
    assert {a.source.value for a in medline} == {"medline"}  # type: ignore[union-attr]
    jsonl = tmp_path / "c.jsonl"
    jsonl.write_text('{"_id": "d1", "text": "x"}\n', encoding="utf-8")
    (doc,) = read_file(jsonl)
    assert isinstance(doc, Article) and doc.source.value == "beir"
    # Forcing a format skips sniffing.
    forced = list(read_file(shared_data / "medline" / "pubmed_result1.txt", fmt="medline"))
    assert [a.pmid for a in forced] == ["12230038"]  # type: ignore[union-attr]
    with pytest.raises(InputError, match="unknown format 'csv'"):
        read_file(jsonl, fmt="csv")


def test_read_file_on_html_page(shared_data: Path) -> None:
    with pytest.raises(ParseError, match="HTML"):
        list(read_file(shared_data / "entrez" / "pubmed3.html"))


def test_parse_pubmed_xml_bytes(shared_data: Path) -> None:
    records = parse_pubmed_xml_bytes((shared_data / "entrez" / "pubmed1.xml").read_bytes())
    assert [type(r).__name__ for r in records] == ["Article", "Article"]
    assert records[0].pmid == "12091962"  # type: ignore[union-attr]

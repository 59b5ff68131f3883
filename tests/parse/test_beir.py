"""BEIR corpus JSONL reader."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pytest

from litmine.errors import ParseError, RecordError
from litmine.parse.beir import article_from_beir, iter_beir_jsonl
from litmine.types import Article, ArticleSource

LINES = [
    json.dumps(
        {
            "_id": "4983",
            "title": "Microstructural development of human <i>newborn</i> cerebral white matter",
            "text": "Alterations of the architecture of cerebral white matter &amp; more.",
            "metadata": {"year": 2001, "pub_types": ["Journal Article"], "journal": "Pediatr Res"},
        }
    ),
    "",
    '{"_id": "5836", "title": "broken", "text": ',
    json.dumps(
        {"_id": 31715818, "title": "", "text": "Numeric id.", "metadata": {"date": "2019-11-12"}}
    ),
    json.dumps(["not", "an", "object"]),
    json.dumps({"title": "no id", "text": "x"}),
    json.dumps({"_id": "77", "title": "Bad text", "text": 42}),
    json.dumps(
        {
            "_id": "doc-9",
            "title": "Semicolon lists",
            "text": "T",
            "metadata": {
                "pub_types": "Review; Meta-Analysis",
                "keywords": ["a", "a", "b"],
                "url": "u",
            },
        },
        ensure_ascii=False,
    ),
]


def write_jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_good_and_bad_lines(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "corpus.jsonl", LINES)
    records = list(iter_beir_jsonl(path))
    kinds = [type(r).__name__ for r in records]
    assert kinds == [
        "Article",
        "RecordError",
        "Article",
        "RecordError",
        "RecordError",
        "RecordError",
        "Article",
    ]
    first, bad_json, numeric, not_object, no_id, bad_text, semi = records
    assert isinstance(first, Article) and first.source is ArticleSource.BEIR
    assert first.pmid == "4983"
    assert first.title == "Microstructural development of human newborn cerebral white matter"
    assert first.abstract == "Alterations of the architecture of cerebral white matter & more."
    assert [(s.text, s.label, s.start) for s in first.sections] == [(first.abstract, None, 0)]
    assert first.year == 2001 and first.publication_types == ["Journal Article"]
    assert first.journal == "Pediatr Res"
    assert first.metadata == {
        "year": 2001,
        "pub_types": ["Journal Article"],
        "journal": "Pediatr Res",
    }

    assert isinstance(bad_json, RecordError) and "line 3" in str(bad_json)
    assert isinstance(numeric, Article) and numeric.pmid == "31715818"
    assert (numeric.pub_date.year, numeric.pub_date.month, numeric.pub_date.day) == (2019, 11, 12)
    assert numeric.title == "" and numeric.pubmed_url == "https://pubmed.ncbi.nlm.nih.gov/31715818/"
    assert isinstance(not_object, RecordError) and "line 5" in str(not_object)
    assert isinstance(no_id, RecordError) and "line 6" in str(no_id) and "_id" in str(no_id)
    assert isinstance(bad_text, RecordError) and bad_text.pmid == "77" and "line 7" in str(bad_text)
    assert isinstance(semi, Article) and semi.pubmed_url is None
    assert semi.publication_types == ["Review", "Meta-Analysis"]
    assert semi.keywords == ["a", "b"] and semi.metadata["url"] == "u"


def test_gzip_bytes_and_bom(tmp_path: Path) -> None:
    body = ("\ufeff" + "\n".join(LINES[:1] + LINES[3:4]) + "\n").encode("utf-8")
    path = tmp_path / "corpus.jsonl.gz"
    path.write_bytes(gzip.compress(body))
    assert [r.pmid for r in iter_beir_jsonl(path)] == ["4983", "31715818"]  # type: ignore[union-attr]
    assert [r.pmid for r in iter_beir_jsonl(body)] == ["4983", "31715818"]  # type: ignore[union-attr]


def test_invalid_utf8_line_is_a_record_error(tmp_path: Path) -> None:
    path = tmp_path / "corpus.jsonl"
    path.write_bytes(b'{"_id": "1", "text": "ok"}\n{"_id": "2", "text": "bad \xff byte"}\n')
    first, second = iter_beir_jsonl(path)
    assert (
        isinstance(first, Article) and isinstance(second, RecordError) and "line 2" in str(second)
    )


def test_empty_file(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="empty"):
        list(iter_beir_jsonl(write_jsonl(tmp_path / "e.jsonl", [""])))


def test_article_from_beir_rejects_missing_id() -> None:
    with pytest.raises(ValueError, match="_id"):
        article_from_beir({"_id": "  ", "text": "x"})
    with pytest.raises(ValueError, match="_id"):
        article_from_beir({"_id": True, "text": "x"})


def test_real_scifact_rows_round_trip(shared_data: Path, tmp_path: Path) -> None:
    """SciFact corpus rows written as BEIR JSONL at test time read back intact."""
    csv.field_size_limit(10**8)
    rows = []
    with open(shared_data / "scifact" / "corpus_train.csv", newline="", encoding="utf-8") as fh:
        for i, row in enumerate(csv.DictReader(fh)):
            if i == 50:
                break
            rows.append(row)
    lines = [
        json.dumps(
            {
                "_id": r["doc_id"],
                "title": r["title"],
                "text": r["abstract"],
                "metadata": {"structured": r["structured"]},
            }
        )
        for r in rows
    ]
    records = list(iter_beir_jsonl(write_jsonl(tmp_path / "scifact.jsonl", lines)))
    assert len(records) == 50 and all(isinstance(r, Article) for r in records)
    for row, article in zip(rows, records, strict=True):
        assert isinstance(article, Article)
        assert article.pmid == row["doc_id"].strip()
        assert article.title == " ".join(row["title"].split())
        assert article.metadata == {"structured": row["structured"]}
        assert article.has_abstract

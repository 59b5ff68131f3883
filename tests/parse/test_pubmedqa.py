"""PubMedQA JSON files as articles: real PMIDs, labelled sections, conclusion, MeSH."""

from __future__ import annotations

import json
from pathlib import Path

from litmine.errors import RecordError
from litmine.parse import detect_format, read_file
from litmine.types import Article, ArticleSource


def test_pubmedqa_dev_reads_as_structured_articles(shared_data: Path) -> None:
    path = shared_data / "pubmedqa" / "pqal_dev.json"
    raw = json.loads(path.read_text(encoding="utf-8"))
    assert detect_format(path) == "pubmedqa_json"
    records = list(read_file(path))
    assert len(records) == len(raw) == 500
    assert all(isinstance(r, Article) for r in records)
    first = records[0]
    assert isinstance(first, Article)
    item = raw[first.pmid]
    assert first.title == item["QUESTION"] and first.source is ArticleSource.PUBMEDQA
    assert first.year == int(item["YEAR"])
    assert [s.label for s in first.sections] == [*item["LABELS"], "CONCLUSIONS"]
    for section in first.sections:  # offsets point into the abstract
        assert first.abstract[section.start : section.end] == section.text
    assert first.sections[-1].text == " ".join(item["LONG_ANSWER"].split())
    assert [m.descriptor_name for m in first.mesh_headings] == item["MESHES"]


def test_pubmedqa_bad_instance_is_a_record_error(tmp_path: Path) -> None:
    path = tmp_path / "qa.json"
    path.write_text(
        json.dumps({"1": {"QUESTION": "q", "CONTEXTS": []}, "2": {"CONTEXTS": ["Some text."]}}),
        encoding="utf-8",
    )
    assert detect_format(path) == "pubmedqa_json"
    bad, good = list(read_file(path))
    assert isinstance(bad, RecordError) and bad.pmid == "1"
    assert isinstance(good, Article) and good.abstract == "Some text."

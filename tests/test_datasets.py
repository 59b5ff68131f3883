"""PubMedQA -> BEIR JSONL conversion for notebooks, read back by the BEIR reader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from litmine.datasets import pubmedqa_to_beir
from litmine.errors import InputError
from litmine.parse import read_file


def test_pubmedqa_to_beir_round_trip(tmp_path: Path) -> None:
    src = tmp_path / "pqal.json"
    item = {
        "QUESTION": "Does coffee protect the liver?",
        "CONTEXTS": ["Background text.", "Results text."],
        "LONG_ANSWER": "Coffee may protect the liver.",
        "YEAR": "2014",
        "MESHES": ["Coffee", "Liver"],
    }
    src.write_text(json.dumps({"123": item, "456": {**item, "YEAR": "2001"}}), encoding="utf-8")
    out = pubmedqa_to_beir(src, tmp_path / "out" / "corpus.jsonl", limit=1)
    (article,) = list(read_file(out))
    assert article.pmid == "123"
    assert article.title == "Does coffee protect the liver?"
    assert article.abstract == "Background text. Results text. Coffee may protect the liver."
    assert article.year == 2014


def test_pubmedqa_to_beir_bad_input(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        pubmedqa_to_beir(tmp_path / "missing.json", tmp_path / "out.jsonl")
    (tmp_path / "list.json").write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(InputError, match="not PubMedQA"):
        pubmedqa_to_beir(tmp_path / "list.json", tmp_path / "out.jsonl")

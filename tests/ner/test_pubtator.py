from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import pytest
import spacy

from litmine.errors import InputError
from litmine.ner.pubtator import (
    CHEMICAL,
    DISEASE,
    ConversionStats,
    read_pubtator,
    to_docbin,
)
from litmine.ner.tokenizer import biomedical_tokenizer
from tests.conftest import shared_path

GOOD = """\
100|t|Naloxone reverses clonidine.
100|a|Clonidine-induced hypotension was reversed.
100\t0\t8\tNaloxone\tChemical\tD009270
100\t18\t27\tclonidine\tChemical\tD003000
100\t29\t38\tClonidine\tChemical\t-1
100\t47\t58\thypotension\tDisease\tD007022
100\tCID\tD003000\tD007022

200|t|Ocular and auditory toxicity.
200|a|None.
200\t0\t28\tOcular and auditory toxicity\tDisease\tD014786|D006311\t\
Ocular toxicity|auditory toxicity
"""


@pytest.fixture(scope="module")
def nlp() -> spacy.language.Language:
    blank = spacy.blank("en")
    blank.tokenizer = biomedical_tokenizer(blank)
    return blank


def test_reads_handwritten_file(tmp_path: Path) -> None:
    path = tmp_path / "good.txt"
    path.write_text(GOOD)
    docs = list(read_pubtator(path))
    assert [d.pmid for d in docs] == ["100", "200"]
    first = docs[0]
    assert first.text.startswith("Naloxone reverses clonidine. Clonidine-induced")
    assert [m.label for m in first.mentions] == [CHEMICAL, CHEMICAL, CHEMICAL, DISEASE]
    assert first.mentions[2].ids == ()  # -1: unnormalised
    assert first.mentions[0].line == 3
    assert first.relations[0].type == "CID"
    composite = docs[1].mentions[0]
    assert composite.is_composite
    assert composite.ids == ("D014786", "D006311")
    assert composite.parts == ("Ocular toxicity", "auditory toxicity")


def test_bad_offset_names_file_and_line(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "bad.txt"
    path.write_text(GOOD.replace("100\t18\t27\tclonidine", "100\t17\t27\tclonidine"))
    with pytest.raises(InputError, match=r"bad\.txt:4: mention 'clonidine' does not match"):
        list(read_pubtator(path))
    # The logger named: `litmine` CLI runs in this process may have set its level to ERROR.
    with caplog.at_level(logging.WARNING, logger="litmine"):
        docs = list(read_pubtator(path, on_error="warn"))
    assert len(docs[0].mentions) == 3
    assert "bad.txt:4" in caplog.text
    assert len(next(iter(read_pubtator(path, on_error="skip"))).mentions) == 3


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("100\tx\t8\tNaloxone\tChemical\tD009270", "not integers"),
        ("100\t0\t8", "relation line|columns"),
        ("999\t0\t8\tNaloxone\tChemical\tD009270", "outside its document"),
    ],
)
def test_malformed_lines(tmp_path: Path, line: str, problem: str) -> None:
    path = tmp_path / "malformed.txt"
    lines = GOOD.splitlines()
    lines.insert(3, line)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=rf"malformed\.txt:4: .*({problem})"):
        list(read_pubtator(path))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        list(read_pubtator(tmp_path / "nope.txt"))


def test_docbin_alignment(tmp_path: Path, nlp: spacy.language.Language) -> None:
    path = tmp_path / "good.txt"
    path.write_text(GOOD)
    stats = ConversionStats()
    db = to_docbin(nlp, [path], tmp_path / "out.spacy", stats=stats)
    assert (tmp_path / "out.spacy").is_file()
    docs = list(db.get_docs(nlp.vocab))
    assert [(e.text, e.label_) for e in docs[0].ents] == [
        ("Naloxone", CHEMICAL),
        ("clonidine", CHEMICAL),
        ("Clonidine", CHEMICAL),  # aligned: the tokenizer splits "Clonidine-induced"
        ("hypotension", DISEASE),
    ]
    assert stats.misaligned == 0
    assert stats.aligned == stats.mentions == 5


def test_partial_annotation_marks_missing(tmp_path: Path, nlp: spacy.language.Language) -> None:
    path = tmp_path / "good.txt"
    path.write_text(GOOD)
    db = to_docbin(nlp, [path], only_labels_annotated=True)
    doc = next(iter(db.get_docs(nlp.vocab)))
    assert doc[1].ent_iob_ == ""  # "reverses": unknown, not outside


@pytest.mark.parametrize(
    ("name", "chemicals", "diseases", "relations"),
    [
        ("CDR_TrainingSet.PubTator.txt", 5203, 4182, 1038),
        ("CDR_DevelopmentSet.PubTator.txt", 5347, 4244, 1012),
    ],
)
def test_bc5cdr_counts(name: str, chemicals: int, diseases: int, relations: int) -> None:
    docs = list(read_pubtator(shared_path("bc5cdr", name)))
    assert len(docs) == 500
    labels = Counter(m.label for d in docs for m in d.mentions)
    assert labels == {CHEMICAL: chemicals, DISEASE: diseases}
    assert sum(len(d.relations) for d in docs) == relations
    composites = [m for d in docs for m in d.mentions if m.is_composite]
    assert len(composites) > 50
    assert any(len(m.ids) >= 2 and len(m.parts) >= 2 for m in composites)


def test_ncbi_disease_classes_map_to_disease(nlp: spacy.language.Language) -> None:
    path = shared_path("ncbi_disease", "NCBItrainset_corpus.txt")
    docs = list(read_pubtator(path))
    assert len(docs) == 593
    assert Counter(m.type for d in docs for m in d.mentions)["Modifier"] == 1289
    assert {m.label for d in docs for m in d.mentions} == {DISEASE}
    stats = ConversionStats()
    to_docbin(nlp, [path], stats=stats)
    assert stats.misaligned == 0
    assert stats.expanded < 0.01 * stats.mentions

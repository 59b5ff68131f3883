"""Study design and sample size on real abstracts, hand-checked; evidence tables and CSV."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import pandas as pd
import pytest

from litmine.answer.evidence import (
    design_from_mesh,
    design_from_publication_types,
    design_from_text,
    evidence_frame,
    evidence_row,
    profile_of_rows,
    sample_size,
    study_design,
    table_lines,
)
from litmine.export import write_csv
from litmine.types import Answer, Cluster, EvidenceRow

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
pytestmark = pytest.mark.skipif(
    not SHARED.is_dir(), reason=f"real corpora missing: {SHARED} (see its README)"
)


def _pubmedqa() -> dict[str, dict[str, object]]:
    data: dict[str, dict[str, object]] = json.loads(
        (SHARED / "pubmedqa" / "pqal_dev.json").read_text(encoding="utf-8")
    )
    return data


def _scifact(ids: set[str]) -> dict[str, tuple[str, str]]:
    """SciFact documents by id: (title, abstract), sentences joined."""
    csv.field_size_limit(sys.maxsize)
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    from scifact_beir import parse_sentences

    out = {}
    with (SHARED / "scifact" / "corpus_train.csv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            if row["doc_id"] in ids:
                out[row["doc_id"]] = (row["title"], " ".join(parse_sentences(row["abstract"])))
    return out


# Hand-checked by reading each abstract: (design, stated sample size).
PUBMEDQA_EXPECTED: dict[str, tuple[str, int | None]] = {
    # "Three-year randomized field trial." ... "One thousand ninety-nine women aged 50 and older"
    "10808977": ("randomised trial", 1099),
    # "88 DBE procedures were performed on 66 patients" (no design named)
    "23831910": ("other", 66),
    # "In a 1:2 case-control study of sex and age-related (+/-5 y) subjects (n=114)"
    "17113061": ("case-control", 114),
    # "We conducted a cross-sectional study" ... "A total of 244 EM residents participated"
    "24866606": ("cross-sectional", 244),
    # "A population based cross-sectional study of 4200 randomly selected adults"
    "17919952": ("cross-sectional", 4200),
}

SCIFACT_EXPECTED: dict[str, tuple[str, int | None]] = {
    # "double blind, randomised, comparative trial" ... "Patients (15-72 years; n = 1490)"
    "602760": ("randomised trial", 1490),
    # "a systematic review and meta-analysis" ... "provided data for 1679 patients"
    "202259": ("meta-analysis", 1679),
    # "In a nested case-control study ... we identified 193 colorectal cancer cases"
    "520579": ("case-control", 193),
    # "case report and review of the literature": one adolescent, no number stated
    "10071590": ("case report", None),
}


@pytest.mark.parametrize("pmid", sorted(PUBMEDQA_EXPECTED))
def test_design_and_sample_size_on_pubmedqa_abstracts(pmid: str) -> None:
    item = _pubmedqa()[pmid]
    text = "\n".join(item["CONTEXTS"])  # type: ignore[arg-type]
    design, n = PUBMEDQA_EXPECTED[pmid]
    assert design_from_text(str(item["QUESTION"]), text) == design
    assert sample_size(text)[0] == n


def test_design_and_sample_size_on_scifact_abstracts() -> None:
    docs = _scifact(set(SCIFACT_EXPECTED))
    assert set(docs) == set(SCIFACT_EXPECTED)
    for doc_id, (design, n) in SCIFACT_EXPECTED.items():
        title, abstract = docs[doc_id]
        assert design_from_text(title, abstract) == design, doc_id
        found, snippet = sample_size(abstract)
        assert found == n, (doc_id, snippet)
        if n is not None:
            assert snippet and str(n) in snippet.replace(",", "")


def test_sample_size_rules() -> None:
    assert sample_size("We enrolled 120 consecutive adult patients; 60 received drug.") == (
        120,
        "120 consecutive adult patients",
    )
    assert sample_size("In 2004 among men, the rate rose by 20 years for children.") == (None, None)
    assert sample_size("Of 6,110 residents surveyed, 12.5% smoked.")[0] == 6110
    assert sample_size("mean dose 40 mg in 35% of the cohort") == (None, None)
    assert sample_size("Nineteen patients were treated.")[0] == 19


def test_publication_types_and_mesh_win_over_text() -> None:
    assert design_from_publication_types(["Journal Article", "Meta-Analysis", "Review"]) == (
        "meta-analysis"
    )
    assert design_from_publication_types(["Journal Article", "Comparative Study"]) is None
    assert design_from_mesh(["Humans", "Cross-Sectional Studies"]) == "cross-sectional"
    assert design_from_mesh(["Animals", "Rats"]) == "animal"
    assert study_design(["Randomized Controlled Trial"], [], "A cohort", "") == (
        "randomised trial",
        "publication type",
    )
    assert study_design(["Review"], ["Cohort Studies"], "", "") == ("cohort", "MeSH")
    assert study_design([], [], "Aspirin in mice", "Mice were fed aspirin; rats too.") == (
        "animal",
        "text",
    )


def test_observational_records_get_an_observational_design_from_text() -> None:
    """The recorded PubMed files: the one abstract typed 'Observational Study' (27797938)."""
    from litmine.parse import read_file
    from litmine.types import Article

    found = {}
    for path in sorted((SHARED / "entrez").glob("pubmed*.xml")):
        for record in read_file(path):
            if isinstance(record, Article) and "Observational Study" in record.publication_types:
                found[record.pmid] = design_from_text(record.title, record.abstract)
    assert set(found) == {"27797938"}
    # "Leucocyte telomere length, genetic variants at the TERT gene region and risk of
    # pancreatic cancer": cases and controls from cohort studies.
    assert found["27797938"] in {"cohort", "case-control", "cross-sectional"}


def test_rows_profile_table_and_safe_csv() -> None:
    abstract = "RESULTS A total of 300 patients were randomised. Aspirin reduced events."
    row = evidence_row(
        pmid="1",
        title='=HYPERLINK("x") aspirin trial',
        abstract=abstract,
        year=2020,
        key_finding="Aspirin reduced events.",
        relevance=0.9,
        cited=True,
    )
    assert (row.design, row.sample_size, row.design_source) == ("randomised trial", 300, "text")
    retracted = EvidenceRow(pmid="2", design="cohort", retracted=True)
    profile = profile_of_rows([row, retracted, EvidenceRow(pmid="3", design="cohort")])
    assert (profile.rcts, profile.retracted, profile.other_clinical_studies) == (1, 1, 1)
    lines = table_lines([row])
    assert lines[0].startswith("design") and "300" in lines[1] and "2020" in lines[1]
    answer = Answer(question="q", clusters=[Cluster(id=0, label="aspirin", evidence_table=[row])])
    frame = evidence_frame(answer)
    assert list(frame["design"]) == ["randomised trial"] and int(frame["sample_size"][0]) == 300
    buffer = io.StringIO()
    write_csv(frame, buffer)
    back = pd.read_csv(io.StringIO(buffer.getvalue()), dtype=str)
    assert back["title"][0].startswith("'=HYPERLINK")

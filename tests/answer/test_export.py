"""Findings tables and CSV files: columns, joined lists, formula neutralisation, BOM, Unicode."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from litmine.answer.export import (
    FINDINGS_COLUMNS,
    entity_tables,
    findings_frame,
    neutralize_cell,
    pairs_path,
    write_csv,
)
from litmine.config import load_settings
from litmine.errors import InputError
from litmine.passages import split_article
from litmine.store import Store
from litmine.types import (
    Answer,
    ArticleInfo,
    Cluster,
    Entity,
    EvidenceProfile,
    Hit,
    Passage,
    Summary,
)
from tests.answer_helpers import ARTICLES, ASPIRIN
from tests.backends import open_store

ODD = "Ｍüller–Škoda “β-blocker” 😀 ﬁ naïve\u200b"


def _hit(pid: int, pmid: str, text: str, score: float) -> Hit:
    passage = Passage(
        id=pid, pmid=pmid, index=0, text=text, start=0, end=len(text), section="RESULTS"
    )
    return Hit(passage=passage, score=score, year=2020, journal="J")


def _answer() -> Answer:
    a1 = _hit(1, "101", "Aspirin reduced infarction.", 0.9)
    a2 = _hit(2, "101", '=HYPERLINK("http://evil","click")', 0.8)
    a3 = _hit(3, "102", f"Bleeding rose. {ODD}", -0.5)
    b1 = _hit(4, "201", "Coffee and the liver.", 0.7)
    bad = _hit(5, "666", "Fabricated.", 0.6)
    clusters = [
        Cluster(
            id=0,
            label="aspirin · infarction",
            hits=[a1, a2, a3, bad],
            summary=Summary(
                text="+Aspirin helps [PMID 101]",
                method="extractive",
                cited_pmids=["101", "102"],
                reason="no model",
                passage_ids=[1, 2, 3],
            ),
            evidence=EvidenceProfile(rcts=2, retracted=1),
            retracted_pmids=["666"],
        ),
        Cluster(
            id=1,
            label="coffee",
            hits=[b1],
            summary=Summary(
                text="Coffee.", method="extractive", cited_pmids=["201"], passage_ids=[4]
            ),
        ),
    ]
    articles = {
        "101": ArticleInfo(
            pmid="101",
            title="Aspirin trial",
            journal="Lancet",
            year=2015,
            doi="10.1/a",
            publication_types=["Randomized Controlled Trial", "Journal Article"],
            mesh_terms=["Aspirin", "Myocardial Infarction"],
            pubmed_url="https://pubmed.ncbi.nlm.nih.gov/101/",
        ),
        "102": ArticleInfo(pmid="102", title=f"@risk {ODD}", year=2016, mesh_terms=["Hemorrhage"]),
        "201": ArticleInfo(pmid="201", title="Coffee", year=2013),
        "666": ArticleInfo(pmid="666", title="Retracted", year=2010, retracted=True),
    }
    entities = {
        1: [
            Entity(1, 0, 7, "Aspirin", "CHEMICAL", "aspirin"),
            Entity(1, 16, 26, "infarction", "DISEASE", "myocardial infarction"),
            Entity(1, 0, 7, "ASA", "CHEMICAL", "aspirin"),  # repeated concept: listed once
            Entity(1, 0, 7, "p53", "GENE", "p53"),  # other labels are not exported
        ],
        3: [Entity(3, 0, 8, "Bleeding", "DISEASE", "hemorrhage")],
    }
    return Answer(
        question="q",
        clusters=clusters,
        summary_method="extractive",
        summary_reason="no model",
        articles=articles,
        entities=entities,
    )


def test_findings_frame_one_row_per_cited_passage() -> None:
    frame = findings_frame(_answer())
    assert list(frame.columns) == list(FINDINGS_COLUMNS)
    assert list(frame["pmid"]) == ["101", "101", "102", "201"]
    assert "666" not in set(frame["pmid"])  # retracted: never cited
    first = frame.iloc[0]
    assert first["cluster_label"] == "aspirin · infarction"
    assert first["cluster_summary"] == "+Aspirin helps [PMID 101]"
    assert first["summary_method"] == "extractive"
    assert first["chemicals"] == "aspirin"
    assert first["diseases"] == "myocardial infarction"
    assert first["publication_types"] == "Randomized Controlled Trial; Journal Article"
    assert first["mesh_terms"] == "Aspirin; Myocardial Infarction"
    assert first["doi"] == "10.1/a"
    assert first["year"] == 2015 and first["section"] == "RESULTS"
    assert frame.iloc[2]["diseases"] == "hemorrhage" and frame.iloc[2]["chemicals"] == ""
    everything = findings_frame(_answer(), all_hits=True)
    assert len(everything) == 5
    assert list(everything.loc[everything["pmid"] == "666", "retracted"]) == [True]
    empty = findings_frame(Answer(question="q"))
    assert list(empty.columns) == list(FINDINGS_COLUMNS) and empty.empty


def test_csv_round_trip_neutralises_formulas(tmp_path: Path) -> None:
    path = tmp_path / "findings.csv"
    write_csv(findings_frame(_answer()), path)
    raw = path.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert list(back.columns) == list(FINDINGS_COLUMNS)
    assert len(back) == 4
    assert back.loc[1, "passage"] == '\'=HYPERLINK("http://evil","click")'
    assert back.loc[0, "cluster_summary"] == "'+Aspirin helps [PMID 101]"
    assert back.loc[2, "title"] == f"'@risk {ODD}"
    assert back.loc[2, "passage"] == f"Bleeding rose. {ODD}"  # odd Unicode intact
    assert back.loc[2, "score"] == "-0.5"  # numbers are not touched
    assert back.loc[0, "mesh_terms"] == "Aspirin; Myocardial Infarction"


def test_excel_bom_and_streams(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    write_csv(findings_frame(_answer()), path, excel_bom=True)
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(path, dtype=str, encoding="utf-8-sig", keep_default_na=False)
    assert list(back.columns) == list(FINDINGS_COLUMNS)
    assert back.loc[2, "passage"].endswith(ODD)
    buffer = io.StringIO()
    write_csv(findings_frame(_answer()), buffer, excel_bom=True)
    assert buffer.getvalue().startswith("\ufeffcluster_id,")
    with pytest.raises(InputError, match="cannot write"):
        write_csv(findings_frame(_answer()), tmp_path / "missing" / "x.csv")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("safe = text", "safe = text"),
        ("", ""),
        (-1.5, -1.5),
        (None, None),
    ],
)
def test_neutralize_cell(value: object, expected: object) -> None:
    assert neutralize_cell(value) == expected


def test_pairs_path() -> None:
    assert pairs_path("out/entities.csv") == Path("out/entities_pairs.csv")
    assert pairs_path("entities") == Path("entities_pairs.csv")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    settings = load_settings(data_dir=tmp_path / "data")
    with open_store(settings) as s:
        s.upsert_articles(ARTICLES, split=lambda a: split_article(a, settings.passages))
        found: dict[int, list[Entity]] = {}
        for pmid in ASPIRIN:
            (p, *_) = s.passages_for(pmid)
            found[p.id] = [
                Entity(p.id, 0, 7, "Aspirin", "CHEMICAL", "aspirin"),
                Entity(p.id, 8, 20, "=cmd|' /C calc'!A0", "DISEASE", "=cmd|' /C calc'!A0"),
            ]
        s.save_entities(found, "test")
        yield s


@pytest.mark.both_backends
def test_entity_tables(store: Store, tmp_path: Path) -> None:
    ents, pairs = entity_tables(store, ASPIRIN[:2])
    assert list(ents.columns) == ["label", "name", "concept_id", "articles", "mentions", "pmids"]
    assert set(zip(ents["label"], ents["name"], ents["articles"], strict=True)) == {
        ("CHEMICAL", "aspirin", 2),
        ("DISEASE", "=cmd|' /C calc'!A0", 2),
    }
    assert set(ents["pmids"]) == {"2001; 2002"}
    assert len(pairs) == 1 and pairs.iloc[0]["chemical"] == "aspirin"
    write_csv(pairs, tmp_path / "pairs.csv")
    back = pd.read_csv(tmp_path / "pairs.csv", dtype=str)
    assert back.loc[0, "disease"] == "'=cmd|' /C calc'!A0"
    all_ents, _ = entity_tables(store, None)
    assert int(all_ents.loc[all_ents["name"] == "aspirin", "articles"].iloc[0]) == 4
    none, no_pairs = entity_tables(store, [])
    assert none.empty and no_pairs.empty

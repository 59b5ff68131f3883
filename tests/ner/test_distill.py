"""Ensemble distillation: the vote, silver documents (missing tokens), a tiny student, adapt."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest
import spacy
from spacy.language import Language
from spacy.tokens import DocBin

from litmine.config import PassageSettings
from litmine.errors import InputError
from litmine.ner.distill import (
    CARD_FILE,
    REPORT_FILE,
    adapt_from_store,
    build_silver,
    default_min_votes,
    label_texts,
    silver_doc,
    store_texts,
    train_student,
    vote,
)
from litmine.ner.tokenizer import biomedical_tokenizer
from litmine.ner.train import TINY
from litmine.passages import split_article
from litmine.store import Store
from litmine.types import Article
from tests.conftest import shared_path

TEXT = "Neuroleptic malignant syndrome after haloperidol in rats."
NMS = (0, 30, "DISEASE")  # "Neuroleptic malignant syndrome"
MS = (12, 30, "DISEASE")  # "malignant syndrome"
HAL = (37, 48, "CHEMICAL")  # "haloperidol"


@pytest.fixture(scope="module")
def tok_nlp() -> Language:
    nlp = spacy.blank("en")
    nlp.tokenizer = biomedical_tokenizer(nlp)
    return nlp


def _ruler(path: Path, patterns: list[dict[str, object]]) -> Path:
    nlp = spacy.blank("en")
    nlp.tokenizer = biomedical_tokenizer(nlp)
    nlp.add_pipe("entity_ruler", name="ner").add_patterns(patterns)  # type: ignore[attr-defined]
    nlp.to_disk(path)
    return path


def test_vote_keeps_majority_and_resolves_overlaps() -> None:
    assert TEXT[slice(*NMS[:2])] == "Neuroleptic malignant syndrome"
    assert TEXT[slice(*HAL[:2])] == "haloperidol"
    three = [{NMS, HAL}, {MS, HAL}, {MS}]
    assert vote(three, 2) == [MS, HAL]
    assert vote(three, 3) == []
    # 1 vote each for NMS and MS: the longer one wins the overlap, HAL (2 votes) first.
    assert vote(three[:2], 1) == [NMS, HAL]
    # A label disagreement is no agreement.
    assert vote([{HAL}, {(37, 48, "DISEASE")}], 2) == []
    assert default_min_votes(2) == 2 and default_min_votes(3) == 2 and default_min_votes(4) == 3
    with pytest.raises(InputError):
        vote(three, 0)


def test_silver_doc_marks_disputed_tokens_missing(tok_nlp: Language) -> None:
    doc = silver_doc(tok_nlp, TEXT, [MS, HAL], {NMS, MS, HAL})
    iob = {t.text: t.ent_iob_ for t in doc}
    # "Neuroleptic" was proposed by one teacher only: no loss either way.
    assert iob["Neuroleptic"] == ""
    assert iob["malignant"] == "B" and iob["syndrome"] == "I" and iob["haloperidol"] == "B"
    # Nobody tagged these: taught as outside.
    assert iob["after"] == "O" and iob["rats"] == "O"
    assert [(e.text, e.label_) for e in doc.ents] == [
        ("malignant syndrome", "DISEASE"),
        ("haloperidol", "CHEMICAL"),
    ]
    # Positive-only silver: nothing untagged is taught as outside either.
    pos = silver_doc(tok_nlp, TEXT, [MS, HAL], {NMS, MS, HAL}, untagged="missing")
    assert [t.ent_iob_ for t in pos] == [t.ent_iob_ if t.ent_iob_ != "O" else "" for t in doc]
    with pytest.raises(InputError, match="untagged"):
        silver_doc(tok_nlp, TEXT, [], [], untagged="inside")
    # The missing marks survive a DocBin round trip (what the student reads).
    db = DocBin(attrs=["ENT_IOB", "ENT_TYPE"])
    db.add(doc)
    back = next(DocBin().from_bytes(db.to_bytes()).get_docs(tok_nlp.vocab))
    assert [t.ent_iob_ for t in back] == [t.ent_iob_ for t in doc]


def test_build_silver_counts_and_checks(tok_nlp: Language) -> None:
    spans = [[[NMS, HAL]], [[MS, HAL]], [[MS]]]
    db, stats = build_silver(tok_nlp, [TEXT], spans, min_votes=2)
    assert (stats.docs, stats.proposed, stats.kept, stats.missing_tokens) == (1, 3, 2, 1)
    assert stats.labels == {"DISEASE": 1, "CHEMICAL": 1}
    assert len(db) == 1
    with pytest.raises(InputError, match="exceeds"):
        build_silver(tok_nlp, [TEXT], spans, min_votes=4)
    with pytest.raises(InputError, match="every teacher"):
        build_silver(tok_nlp, [TEXT, TEXT], spans, min_votes=2)


def test_label_texts_with_real_pipelines(tmp_path: Path) -> None:
    hal = {"label": "CHEMICAL", "pattern": "haloperidol"}
    a = spacy.load(_ruler(tmp_path / "a", [hal, {"label": "DISEASE", "pattern": "syndrome"}]))
    b = spacy.load(_ruler(tmp_path / "b", [hal]))
    db, stats = label_texts([a, b], [TEXT, "No entity here."])
    docs = list(db.get_docs(a.vocab))
    assert stats.min_votes == 2 and stats.kept == 1
    assert [e.text for e in docs[0].ents] == ["haloperidol"]
    assert [t.ent_iob_ for t in docs[0] if t.text == "syndrome"] == [""]
    assert all(t.ent_iob_ == "O" for t in docs[1])


@pytest.fixture(scope="module")
def gold5(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 5 BC5CDR train abstracts (a temp file, never the repo)."""
    src = shared_path("bc5cdr", "CDR_TrainingSet.PubTator.txt")
    path = tmp_path_factory.mktemp("gold") / "train5.txt"
    path.write_text("\n\n".join(src.read_text().split("\n\n")[:5]) + "\n")
    return path


def test_tiny_student_mixes_gold_and_limited_silver(
    tmp_path: Path, tok_nlp: Language, gold5: Path
) -> None:
    texts = [f"{TEXT} Case {i}: haloperidol was stopped." for i in range(6)]
    spans = [[[MS, HAL]] * 6, [[NMS, HAL]] * 6]
    db, _ = build_silver(tok_nlp, texts, spans, min_votes=2)
    silver = tmp_path / "silver.spacy"
    db.to_disk(silver)
    out = train_student(
        [gold5], [silver], gold5, tmp_path / "student",
        config=TINY, steps=6, gold_repeat=3, silver_limit=4, work_dir=tmp_path / "work",
    )  # fmt: skip
    meta = json.loads((out / "meta.json").read_text())["litmine"]["student"]
    assert meta["gold_docs"] == 15 and meta["silver_docs"] == 4 and meta["steps"] == 6
    train_dir = tmp_path / "work" / "corpus" / "train"
    assert sorted(p.name for p in train_dir.iterdir()) == [
        "gold-0-0.spacy", "gold-0-1.spacy", "gold-0-2.spacy", "silver.spacy",
    ]  # fmt: skip
    written = list(DocBin().from_disk(train_dir / "silver.spacy").get_docs(tok_nlp.vocab))
    assert len(written) == 4
    assert all(d[0].ent_iob_ == "" for d in written)  # "Neuroleptic" stays missing
    nlp = spacy.load(out)
    assert nlp.pipe_names == ["tok2vec", "ner"]
    assert [t.text for t in nlp("IL-2-induced")] == ["IL", "-", "2", "-", "induced"]


def test_student_needs_data(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="gold or silver"):
        train_student([], [], None, tmp_path / "x")


def test_ner_adapt_on_tiny_store(tmp_path: Path) -> None:
    hal = {"label": "CHEMICAL", "pattern": "haloperidol"}
    a = _ruler(tmp_path / "a", [hal, {"label": "DISEASE", "pattern": "syndrome"}])
    b = _ruler(tmp_path / "b", [hal, {"label": "DISEASE", "pattern": "syndrome"}])
    arts = [
        Article(pmid=str(i), title=f"Case {i}", abstract=f"{TEXT} Haloperidol dose {i} mg.")
        for i in range(8)
    ]
    split = functools.partial(split_article, settings=PassageSettings(splitter="regex"))
    with Store(tmp_path / "db.sqlite") as store:
        store.upsert_articles(arts, split=split)
        assert len(store_texts(store)) == 8
        with pytest.raises(InputError, match="not a CNN"):
            adapt_from_store(store, tmp_path / "bad", teachers=[str(a)])
        report = adapt_from_store(
            store, tmp_path / "adapted", teachers=[str(a), str(b)], from_scratch=True,
            config=TINY, steps=4,
        )  # fmt: skip
    assert report.texts == 8 and report.silver.min_votes == 2
    assert report.silver.labels == {"CHEMICAL": 8, "DISEASE": 8}
    card = (tmp_path / "adapted" / CARD_FILE).read_text()
    assert "self-training" in card and "8 passages" in card
    saved = json.loads((tmp_path / "adapted" / REPORT_FILE).read_text())
    assert saved["silver"]["kept"] == 16 and saved["init_from"] is None
    assert spacy.load(tmp_path / "adapted").pipe_names == ["tok2vec", "ner"]


def test_cli_ner_adapt_fine_tunes_the_first_teacher(tmp_path: Path, gold5: Path) -> None:
    from typer.testing import CliRunner

    from litmine.cli import app
    from litmine.ner.train import train

    teacher = train([gold5], gold5, tmp_path / "teacher", config=TINY, epochs=1, seed=0)
    hal = {"label": "CHEMICAL", "pattern": "haloperidol"}
    ruler = _ruler(tmp_path / "ruler", [hal])
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(
        "".join(
            json.dumps({"_id": str(i), "title": f"Case {i}", "text": f"{TEXT} Dose {i} mg."}) + "\n"
            for i in range(1, 7)
        )
    )
    data = tmp_path / "data"
    runner = CliRunner()
    result = runner.invoke(app, ["ingest", "--file", str(corpus), "--data-dir", str(data)])
    assert result.exit_code == 0, result.output
    out = tmp_path / "adapted"
    args = ["ner", "adapt", "--out", str(out), "--data-dir", str(data), "--steps", "3"]
    result = runner.invoke(
        app, [*args, "--teacher", str(teacher), "--teacher", str(ruler), "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["init_from"] == str(teacher) and report["silver"]["teachers"] == 2
    # Sourced from the teacher: its (tiny) architecture, not the default student's width.
    student = spacy.load(out)
    assert student.get_pipe("tok2vec").model.get_dim("nO") == TINY.width
    assert (out / CARD_FILE).is_file()
    result = runner.invoke(app, [*args, "--teacher", str(ruler)])
    assert result.exit_code == 1 and "not a CNN" in result.output

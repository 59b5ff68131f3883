from __future__ import annotations

import json
from pathlib import Path

import pytest
import spacy
import typer
from typer.testing import CliRunner

from litmine.errors import InputError
from litmine.ner.cli import ner_app
from litmine.ner.train import TINY, collect_texts, pretrain, read_texts, train
from tests.conftest import shared_path

TRAIN = "CDR_TrainingSet.PubTator.txt"
DEV = "CDR_DevelopmentSet.PubTator.txt"


def _texts_file(tmp: Path) -> Path:
    path = tmp / "texts.jsonl"
    rows = [
        {"id": str(i), "text": f"Cocaine-induced seizures in {n} rats treated with naloxone."}
        for i, n in enumerate(["twelve", "ten", "eight", "six", "four"])
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_read_texts_formats(tmp_path: Path) -> None:
    csv_path = tmp_path / "corpus.csv"
    csv_path.write_text(
        "doc_id,title,abstract\n"
        "7,A title.,\"['First sentence.'\n 'Second, with \\'quotes\\'.']\"\n"
        "8,Plain.,Just text.\n"
    )
    assert read_texts(csv_path) == [
        ("7", "A title. First sentence. Second, with 'quotes'."),
        ("8", "Plain. Just text."),
    ]
    qa = tmp_path / "qa.json"
    qa.write_text(json.dumps({"123": {"CONTEXTS": ["One.", "Two."], "QUESTION": "Q?"}}))
    assert read_texts(qa) == [("123", "One. Two.")]
    pubtator = tmp_path / "p.txt"
    pubtator.write_text("42|t|Title here.\n42|a|Abstract here.\n42\t0\t5\tTitle\tChemical\t-1\n")
    assert read_texts(pubtator) == [("42", "Title here. Abstract here.")]
    with pytest.raises(InputError):
        read_texts(tmp_path / "missing.txt")


def test_collect_texts_excludes_dev_documents_by_id_and_text(tmp_path: Path) -> None:
    dev = tmp_path / "dev.txt"
    dev.write_text("1|t|Held out title.\n1|a|Held out abstract.\n")
    other = tmp_path / "other.jsonl"
    rows = [
        {"id": "1", "text": "Different text, same PMID as a dev document."},
        {"id": "x", "text": "held  out TITLE. Held out abstract."},  # dev text, other id
        {"id": "y", "text": "A kept text."},
        {"id": "z", "text": "A kept text."},  # duplicate
    ]
    other.write_text("\n".join(json.dumps(r) for r in rows))
    texts, stats = collect_texts([other], exclude_paths=[dev])
    assert texts == ["A kept text."]
    assert stats["other.jsonl"] == {"read": 4, "kept": 1, "excluded": 2, "duplicates": 1}
    with pytest.raises(InputError, match="no text"):
        pretrain([dev], tmp_path / "pt", config=TINY, epochs=1, exclude_paths=[dev])


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("pretrain")
    app = typer.Typer()
    app.add_typer(ner_app, name="ner")
    # Through the CLI, with TINY's shape (the CLI sets width and depth only; TINY's
    # other settings go through the Python call below).
    res = CliRunner().invoke(
        app,
        ["ner", "pretrain", "--texts", str(_texts_file(tmp)), "--out", str(tmp / "cli"),
         "--epochs", "1", "--width", "16", "--depth", "1"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert (tmp / "cli" / "model-last.bin").stat().st_size > 0
    return pretrain(
        [shared_path("bc5cdr", TRAIN)],
        tmp / "py",
        config=TINY,
        epochs=2,
        seed=0,
        limit=10,
        exclude_paths=[shared_path("bc5cdr", DEV)],
    )


def test_pretrain_writes_weights_and_counts(weights: Path) -> None:
    assert weights.name == "model-last.bin" and weights.stat().st_size > 1000
    # One file per epoch, and the losses.
    assert (weights.parent / "model0.bin").is_file() and (weights.parent / "model1.bin").is_file()
    assert len((weights.parent / "log.jsonl").read_text().splitlines()) == 3
    info = json.loads((weights.parent / "texts.json").read_text())
    assert info["texts"] == 10 and info["words"] > 1000
    assert info["files"][TRAIN]["excluded"] == 0


def _tok2vec_bytes(path: Path) -> bytes:
    return bytes(spacy.load(path).get_pipe("tok2vec").model.to_bytes())


def test_training_from_pretrained_weights_differs_from_scratch(
    weights: Path, tmp_path: Path
) -> None:
    bc5 = shared_path("bc5cdr")

    def run(name: str, init: Path | None) -> Path:
        return train(
            [bc5 / TRAIN], bc5 / DEV, tmp_path / name,
            config=TINY, epochs=1, seed=3, limit=8, init_tok2vec=init,
        )  # fmt: skip

    scratch, scratch_again, init = run("a", None), run("b", None), run("c", weights)
    # Training is deterministic for a seed, so the difference comes from the weights.
    assert _tok2vec_bytes(scratch) == _tok2vec_bytes(scratch_again)
    assert _tok2vec_bytes(scratch) != _tok2vec_bytes(init)
    meta = json.loads((init / "meta.json").read_text())
    assert meta["litmine"]["init_tok2vec"] == "model-last.bin"
    # The saved config does not point at the (local) weights file.
    assert spacy.load(init).config["initialize"]["init_tok2vec"] is None
    with pytest.raises(InputError, match="do not exist"):
        train([bc5 / TRAIN], bc5 / DEV, tmp_path / "d", config=TINY, init_tok2vec=tmp_path / "no")


def test_pretrain_resumes_after_the_epoch_of_the_weights(weights: Path, tmp_path: Path) -> None:
    bc5 = shared_path("bc5cdr", TRAIN)
    out = tmp_path / "resumed"
    last = pretrain(
        [bc5], out, config=TINY, epochs=3, limit=10, resume=weights.parent / "model1.bin"
    )
    # Only epoch 2 ran: its weights, not those of epochs 0 and 1.
    assert sorted(p.name for p in out.glob("model*.bin")) == ["model-last.bin", "model2.bin"]
    assert last.read_bytes() != (weights.parent / "model1.bin").read_bytes()
    with pytest.raises(InputError, match="cannot resume"):
        pretrain([bc5], out, config=TINY, epochs=3, limit=10, resume=weights)

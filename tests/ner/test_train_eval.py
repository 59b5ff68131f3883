from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import spacy
from spacy.language import Language

from litmine.ner.eval import LabelScores, NerScores, evaluate, gold_spans, predict_spans
from litmine.ner.pubtator import CHEMICAL, DISEASE, read_pubtator
from litmine.ner.train import TINY, train
from tests.conftest import shared_path
from tests.ner_helpers import save_ruler_pipeline

LOAD_IN_FRESH_PROCESS = """
import json, sys, spacy
nlp = spacy.load(sys.argv[1])
doc = nlp("Cocaine-induced seizures (CIS) in rats.")
print(json.dumps({"pipes": nlp.pipe_names, "tokens": [t.text for t in doc],
                  "labels": list(nlp.get_pipe("ner").labels)}))
"""


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    bc5 = shared_path("bc5cdr")
    out = tmp_path_factory.mktemp("tiny") / "model"
    return train(
        [bc5 / "CDR_TrainingSet.PubTator.txt"],
        bc5 / "CDR_DevelopmentSet.PubTator.txt",
        out,
        config=TINY,
        epochs=2,
        seed=1,
        limit=20,
        extra_disease_paths=[shared_path("ncbi_disease", "NCBItrainset_corpus.txt")],
    )


@pytest.fixture(scope="session")
def dev_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 10 BC5CDR dev abstracts (written to a temp file, never the repo)."""
    src = shared_path("bc5cdr", "CDR_DevelopmentSet.PubTator.txt")
    blocks = src.read_text().split("\n\n")[:10]
    path = tmp_path_factory.mktemp("dev") / "dev10.txt"
    path.write_text("\n\n".join(blocks) + "\n")
    return path


def test_tiny_training_saves_and_reloads_in_fresh_process(tiny_model: Path) -> None:
    assert (tiny_model / "config.cfg").is_file()
    meta = json.loads((tiny_model / "meta.json").read_text())
    assert meta["litmine"]["seed"] == 1
    assert meta["litmine"]["conversion"]["CDR_TrainingSet.PubTator.txt"]["docs"] == 20
    done = subprocess.run(
        [sys.executable, "-c", LOAD_IN_FRESH_PROCESS, str(tiny_model)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    info = json.loads(done.stdout.strip().splitlines()[-1])
    assert info["pipes"] == ["tok2vec", "ner"]
    assert sorted(info["labels"]) == [CHEMICAL, DISEASE]
    # The biomedical tokenizer travelled with the model.
    assert info["tokens"][:3] == ["Cocaine", "-", "induced"]


def test_evaluate_structure(tiny_model: Path, dev_sample: Path) -> None:
    scores = evaluate(spacy.load(tiny_model), dev_sample)
    assert isinstance(scores, NerScores)
    assert scores.docs == 10
    assert set(scores.per_label) == {CHEMICAL, DISEASE}
    for s in [*scores.per_label.values(), scores.overall]:
        assert 0.0 <= s.precision <= 1.0 and 0.0 <= s.recall <= 1.0 and 0.0 <= s.f1 <= 1.0
    gold = sum(len(gold_spans(d)) for d in read_pubtator(dev_sample))
    assert scores.overall.tp + scores.overall.fn == gold
    data = scores.as_dict()
    assert set(data) == {"overall", "per_label", "docs", "seconds", "abstracts_per_second"}
    assert data["abstracts_per_second"] > 0  # type: ignore[operator]


def _write_pubtator(
    path: Path, docs: list[tuple[str, str, str, set[tuple[int, int, str]]]]
) -> None:
    blocks = []
    for pmid, title, abstract, spans in docs:
        text = f"{title} {abstract}"
        lines = [f"{pmid}|t|{title}", f"{pmid}|a|{abstract}"]
        for start, end, label in sorted(spans):
            kind = "Chemical" if label == CHEMICAL else "Disease"
            lines.append(f"{pmid}\t{start}\t{end}\t{text[start:end]}\t{kind}\t-1")
        blocks.append("\n".join(lines))
    path.write_text("\n\n".join(blocks) + "\n")


@pytest.fixture(scope="module")
def ruler(tmp_path_factory: pytest.TempPathFactory) -> Language:
    return spacy.load(save_ruler_pipeline(tmp_path_factory.mktemp("ruler") / "p"))


TEXTS = [
    ("1", "Naloxone reverses clonidine.", "Seizures and hypertension after sorafenib."),
    ("2", "Hepatocellular carcinoma (HCC).", "HCC was treated with alpha-methyldopa."),
    ("3", "Nothing here.", "No mention at all."),
]


def test_model_against_its_own_predictions_scores_one(ruler: Language, tmp_path: Path) -> None:
    predicted = predict_spans(ruler, [f"{t} {a}" for _, t, a in TEXTS])
    assert sum(map(len, predicted)) >= 7
    own = tmp_path / "own.txt"
    _write_pubtator(own, [(*doc, p) for doc, p in zip(TEXTS, predicted, strict=True)])
    scores = evaluate(ruler, own)
    assert scores.overall.f1 == 1.0
    assert scores.overall.fp == scores.overall.fn == 0
    assert scores.per_label[CHEMICAL].tp >= 3 and scores.per_label[DISEASE].tp >= 4


def test_gold_against_empty_predictions(dev_sample: Path) -> None:
    scores = evaluate(spacy.blank("en"), dev_sample)
    assert scores.overall.recall == 0.0
    assert scores.overall.precision == 0.0 and scores.overall.f1 == 0.0
    assert scores.overall.fn > 0


def test_label_scores_arithmetic() -> None:
    s = LabelScores(tp=3, fp=1, fn=2)
    assert s.precision == 0.75 and s.recall == 0.6
    assert abs(s.f1 - 2 * 0.75 * 0.6 / 1.35) < 1e-12
    assert LabelScores().f1 == 0.0

"""litmine's transformer NER component: BIO helpers, training, saving, loading, windows."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest
import spacy
from spacy.language import Language
from typer.testing import CliRunner

from litmine.entities import load_pipeline
from litmine.errors import ModelNotFoundError
from litmine.ner.eval import evaluate
from litmine.ner.pubtator import CHEMICAL, DISEASE
from litmine.ner.transformer import (
    TransformerNer,
    TransformerTrainConfig,
    bio_tags,
    decode_bio,
    tag_set,
    train_pipeline,
    viterbi_bio,
)

DRUGS = ["sorafenib", "naloxone", "clonidine", "cisplatin", "lithium", "haloperidol"]
DISEASES = ["hypertension", "seizures", "hepatitis", "nephrotoxicity", "bradycardia", "delirium"]

LOAD_IN_FRESH_PROCESS = """
import json, sys, spacy
nlp = spacy.load(sys.argv[1])
doc = nlp(sys.argv[2])
print(json.dumps({"pipes": nlp.pipe_names, "ents": [[e.text, e.label_] for e in doc.ents]}))
"""


def _corpus(path: Path) -> Path:
    """A small self-written PubTator corpus: drugs and diseases in fixed templates."""
    blocks = []
    pairs = list(itertools.product(range(len(DRUGS)), range(len(DISEASES))))[::3]
    for n, (i, j) in enumerate(pairs):
        drug, disease = DRUGS[i], DISEASES[j]
        other = DRUGS[(i + 1) % len(DRUGS)]
        title = f"{drug.capitalize()} induced {disease} in adults."
        abstract = (
            f"We describe {disease} after {drug} treatment. The patients then received "
            f"{other}, and the {disease} resolved within two weeks of follow-up."
        )
        text = f"{title} {abstract}"
        pmid = str(1000 + n)
        lines = [f"{pmid}|t|{title}", f"{pmid}|a|{abstract}"]
        for word, kind in ((drug, "Chemical"), (disease, "Disease"), (other, "Chemical")):
            for start in _find_all(text.lower(), word):
                end = start + len(word)
                lines.append(f"{pmid}\t{start}\t{end}\t{text[start:end]}\t{kind}\t-1")
        blocks.append("\n".join(lines))
    path.write_text("\n\n".join(blocks) + "\n")
    return path


def _find_all(text: str, word: str) -> list[int]:
    out, start = [], text.find(word)
    while start >= 0:
        out.append(start)
        start = text.find(word, start + 1)
    return out


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _corpus(tmp_path_factory.mktemp("trf") / "train.txt")


@pytest.fixture(scope="module")
def trained(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Windows of 24 pieces (stride 8) so every document is cut into several.
    config = TransformerTrainConfig(
        epochs=15, learn_rate=3e-4, batch_size=4, max_length=24, stride=8, seed=3
    )
    out = tmp_path_factory.mktemp("trf") / "model"
    return train_pipeline([corpus], out, config=config, dev_path=corpus)


@pytest.fixture(scope="module")
def trained_nlp(trained: Path) -> Language:
    return load_pipeline(str(trained))


def test_bio_round_trip() -> None:
    nlp = spacy.blank("en")
    doc = nlp("Cocaine induced acute renal failure in rats")
    doc.ents = [doc.char_span(0, 7, label=CHEMICAL), doc.char_span(16, 35, label=DISEASE)]
    tags = bio_tags(doc)
    assert tags == ["B-CHEMICAL", "O", "B-DISEASE", "I-DISEASE", "I-DISEASE", "O", "O"]
    assert decode_bio(tags) == [(0, 1, CHEMICAL), (2, 5, DISEASE)]
    assert tag_set() == ["O", "B-CHEMICAL", "I-CHEMICAL", "B-DISEASE", "I-DISEASE"]


def test_decode_bio_repairs_ill_formed_sequences() -> None:
    # A stray I- starts an entity; an I- of another label ends the current one.
    tags = ["I-DISEASE", "I-DISEASE", "O", "B-CHEMICAL", "I-DISEASE", "B-CHEMICAL", "B-CHEMICAL"]
    assert decode_bio(tags) == [
        (0, 2, DISEASE),
        (3, 4, CHEMICAL),
        (4, 5, DISEASE),
        (5, 6, CHEMICAL),
        (6, 7, CHEMICAL),
    ]
    assert decode_bio([]) == []


def test_viterbi_never_starts_an_entity_with_i() -> None:
    import numpy as np

    tags = tag_set()  # O, B-CHEMICAL, I-CHEMICAL, B-DISEASE, I-DISEASE
    lp = np.log(
        np.array(
            [
                [0.6, 0.3, 0.0, 0.1, 0.0],  # O, but B-CHEMICAL is close
                [0.3, 0.0, 0.7, 0.0, 0.0],  # argmax I-CHEMICAL: needs a B before it
                [0.9, 0.0, 0.0, 0.0, 0.1],
                [0.2, 0.0, 0.0, 0.0, 0.8],  # I-DISEASE after O: not allowed
            ]
        )
        + 1e-9
    )
    path = [tags[i] for i in viterbi_bio(lp, tags)]
    assert path == ["B-CHEMICAL", "I-CHEMICAL", "O", "O"]
    assert decode_bio(path) == [(0, 2, CHEMICAL)]
    assert viterbi_bio(np.zeros((0, 5)), tags) == []


def test_training_learns_the_corpus_and_records_dev_scores(
    trained: Path, trained_nlp: Language, corpus: Path
) -> None:
    meta = json.loads((trained / "meta.json").read_text())
    assert meta["litmine"]["arch"] == "transformer"
    assert meta["litmine"]["config"]["max_length"] == 24
    assert meta["litmine"]["dev"]["overall"]["f1"] >= 0.9
    nlp = trained_nlp
    assert nlp.pipe_names == ["ner"]
    assert isinstance(nlp.get_pipe("ner"), TransformerNer)
    scores = evaluate(nlp, corpus)
    assert scores.overall.f1 >= 0.9, scores.as_dict()
    # The frozen word embeddings are not shipped: they come back from the base encoder.
    assert (trained / "ner" / "model.safetensors").stat().st_size < 30_000_000


def test_long_text_is_tagged_across_windows(trained_nlp: Language) -> None:
    sentence = "We describe seizures after lithium treatment."
    text = " ".join([sentence] * 12)  # ~100 word pieces: several 24-piece windows
    doc = trained_nlp(text)
    found = [e.text for e in doc.ents]
    assert found.count("lithium") >= 10, found
    assert found.count("seizures") >= 10, found
    assert doc.ents[-1].start_char > 0.9 * len(text)  # the last window was tagged too
    # Every entity sits on token boundaries of the biomedical tokenizer.
    for ent in doc.ents:
        assert doc[ent.start : ent.end].text == ent.text


def test_saved_pipeline_loads_in_a_fresh_process(trained: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", LOAD_IN_FRESH_PROCESS, str(trained), "Haloperidol induced coma."],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["pipes"] == ["ner"]
    assert ["Haloperidol", CHEMICAL] in result["ents"]


def test_missing_weights_name_the_fix(tmp_path: Path) -> None:
    nlp = spacy.blank("en")
    component = TransformerNer(nlp, "ner")
    with pytest.raises(ModelNotFoundError, match=r"no model\.safetensors") as info:
        component.from_disk(tmp_path)
    assert "--arch transformer" in (info.value.hint or "")
    with pytest.raises(ModelNotFoundError, match="has no weights"):
        component(nlp("sorafenib"))


def test_empty_and_whitespace_texts(trained_nlp: Language) -> None:
    nlp = trained_nlp
    assert list(nlp("").ents) == []
    doc = nlp("  \n\t lithium \u00a0\u00a0 caused\x07 seizures  ")
    assert {e.text for e in doc.ents} <= {"lithium", "seizures"}


def test_cli_trains_a_transformer(corpus: Path, tmp_path: Path) -> None:
    from litmine.cli.root import app

    out = tmp_path / "cli-model"
    result = CliRunner().invoke(
        app,
        ["ner", "train", "--arch", "transformer", "--train", str(corpus), "--dev", str(corpus),
         "--out", str(out), "--epochs", "1"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "saved NER pipeline" in result.output
    assert json.loads((out / "meta.json").read_text())["litmine"]["config"]["epochs"] == 1
    # The trained folder is a model like any other for `ner eval`.
    scored = CliRunner().invoke(
        app, ["ner", "eval", "--corpus", str(corpus), "--model", str(out), "--json"]
    )
    assert scored.exit_code == 0, scored.output
    report = json.loads(scored.output[scored.output.index("{") :])
    assert report["docs"] == 12 and 0.0 <= report["overall"]["f1"] <= 1.0
    bad = CliRunner().invoke(
        app,
        ["ner", "train", "--arch", "transformer", "--train", str(corpus), "--dev", str(corpus),
         "--out", str(out), "--extra-disease", str(corpus)],
    )  # fmt: skip
    assert bad.exit_code != 0 and "CNN only" in bad.output

"""Unlabelled adaptation of the embedding model: pairing (pure) and a real fine-tuning run."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from litmine.cli.root import app
from litmine.config import EmbedSettings
from litmine.errors import InputError
from litmine.types import Passage
from litmine.vectors.adapt import (
    CARD_NAME,
    AdaptParams,
    _lr_factor,
    adapt_model,
    pair_batches,
    title_groups,
)
from litmine.vectors.embed import load_embedder

DRUGS = ["metformin", "warfarin", "lisinopril", "atorvastatin", "salbutamol", "omeprazole"]
DISEASES = ["type 2 diabetes", "atrial fibrillation", "hypertension", "asthma", "gastritis"]


def _passage(pmid: str, index: int, title: str, text: str) -> Passage:
    return Passage(id=int(pmid) * 10 + index, pmid=pmid, index=index, text=text, start=0,
                   end=len(text), title=title)  # fmt: skip


def _corpus(n: int) -> list[tuple[str, list[str]]]:
    groups = []
    for i in range(n):
        drug, disease = DRUGS[i % len(DRUGS)], DISEASES[(i * 7) % len(DISEASES)]
        title = f"Effect of {drug} on outcome {i} in adults with {disease}: cohort {i}"
        groups.append(
            (
                title,
                [
                    f"We followed {100 + i} adults with {disease} given {drug} for {i + 2} years.",
                    f"Outcome {i} improved under {drug}; adverse events were rare.",
                ],
            )
        )
    return groups


def test_title_groups_groups_by_article_and_skips_short_titles() -> None:
    long_title = "Aspirin after myocardial infarction in older adults"
    passages = [
        _passage("1", 0, long_title, "First passage."),
        _passage("2", 0, "Editorial", "Short title, left out."),
        _passage("1", 1, long_title, "  Second passage.  "),
        _passage("3", 0, "A title that is long enough to use", "   "),
    ]
    assert title_groups(passages) == [(long_title, ["First passage.", "Second passage."])]


def test_pair_batches_never_repeat_an_article_and_drop_the_remainder() -> None:
    groups = _corpus(10)
    batches = pair_batches(groups, 4, random.Random(1))
    assert [len(b) for b in batches] == [4, 4]
    titles = [t for batch in batches for t, _ in batch]
    assert len(set(titles)) == len(titles)
    by_title = dict(groups)
    assert all(p in by_title[t] for batch in batches for t, p in batch)
    assert pair_batches(groups, 4, random.Random(1)) == batches
    with pytest.raises(InputError):
        pair_batches(groups, 1, random.Random(1))


def test_lr_warms_up_then_decays_to_zero() -> None:
    factors = [_lr_factor(s, 20) for s in range(20)]
    assert factors[0] < factors[1] == 1.0
    assert factors[-1] < factors[5] and factors[-1] >= 0
    assert max(factors) == 1.0


def _margin(model_dir: str, groups: list[tuple[str, list[str]]]) -> float:
    """Mean cosine of a title to its own first passage minus to the other passages."""
    embedder = load_embedder(EmbedSettings(model=model_dir))
    q = embedder.embed_queries([t for t, _ in groups])
    d = embedder.embed_documents([ps[0] for _, ps in groups])
    sim = q @ d.T
    own = np.diag(sim)
    others = (sim.sum(axis=1) - own) / (len(groups) - 1)
    return float((own - others).mean())


def test_adapt_model_fine_tunes_and_saves_a_loadable_model(tmp_path: Path) -> None:
    groups = _corpus(16)
    out = tmp_path / "adapted"
    params = AdaptParams(epochs=3, batch_size=8, learning_rate=1e-4, seed=0)
    seen: list[tuple[int, int]] = []
    report = adapt_model(
        groups, "all-MiniLM-L6-v2", out, params, progress=lambda s, t, _: seen.append((s, t))
    )
    assert report.steps == 6 and seen[-1] == (6, 6)
    assert report.articles == 16
    card = json.loads((out / CARD_NAME).read_text())
    assert card["base_model"] == "all-MiniLM-L6-v2" and card["params"]["epochs"] == 3
    assert not list(tmp_path.glob(".adapted-*"))  # no temp folder left behind
    # The point of the exercise: titles now sit closer to their own passages.
    assert _margin(str(out), groups) > _margin("all-MiniLM-L6-v2", groups)


def test_adapt_model_needs_a_batch_of_articles(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="at least one batch"):
        adapt_model(_corpus(3), "all-MiniLM-L6-v2", tmp_path / "m", AdaptParams(batch_size=8))
    assert not (tmp_path / "m").exists()


def test_cli_index_adapt(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    with corpus.open("w", encoding="utf-8") as fh:
        for i, (title, passages) in enumerate(_corpus(8), start=1):
            fh.write(json.dumps({"_id": str(i), "title": title, "text": " ".join(passages)}) + "\n")
    data = tmp_path / "data"
    runner = CliRunner()
    result = runner.invoke(app, ["ingest", "--file", str(corpus), "--data-dir", str(data)])
    assert result.exit_code == 0, result.output
    out = tmp_path / "adapted"
    args = ["index", "adapt", "--out", str(out), "--data-dir", str(data), "--batch-size", "4"]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["articles"] == 8 and report["steps"] == 2
    assert (out / "config.json").is_file() and (out / CARD_NAME).is_file()

    result = runner.invoke(app, [*args[:-1], "32"])
    assert result.exit_code == 1
    assert "needs at least one batch" in result.output and "Traceback" not in result.output

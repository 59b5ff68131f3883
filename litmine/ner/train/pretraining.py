"""Pretrain the tok2vec on unlabelled abstracts (part of :mod:`litmine.ner.train`).

:func:`read_texts` reads abstracts from PubTator, PubMedQA JSON, SciFact CSV,
JSONL or plain-text files; :func:`collect_texts` deduplicates them and drops
the evaluation documents; :func:`pretrain` runs ``spacy pretrain`` (character
objective, :class:`~litmine.ner.train.spacy_config.PretrainConfig`) on them,
and :func:`~litmine.ner.train.run.train` can start from its weights
(``init_tok2vec``).
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from litmine.errors import InputError
from litmine.ner.train.spacy_config import PretrainConfig, TrainConfig, build_config

log = logging.getLogger(__name__)


def _csv_abstract(raw: str) -> str:
    """SciFact's ``abstract`` column: a printed list of sentence strings, or plain text."""
    import ast
    import io
    import tokenize

    raw = raw.strip()
    if not raw.startswith("["):
        return raw
    parts: list[str] = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(raw).readline):
            if tok.type == tokenize.STRING:
                parts.append(str(ast.literal_eval(tok.string)))
    except (tokenize.TokenError, SyntaxError, ValueError):
        return raw.strip("[]")
    return " ".join(p.strip() for p in parts if p.strip())


def read_texts(path: str | Path) -> list[tuple[str, str]]:
    """Read unlabelled abstracts as ``(id, text)`` pairs, by file type.

    - PubTator (``PMID|t|...`` lines): ``title + " " + abstract``, id the PMID;
      mentions are ignored.
    - ``.json`` in PubMedQA's form (``{pmid: {"CONTEXTS": [...]}}``): the contexts
      joined, id the PMID.
    - ``.csv`` with ``title`` and ``abstract`` columns (SciFact's corpus; an
      abstract printed as a list of sentences is joined): id from ``doc_id``.
    - ``.jsonl``: one ``{"text": ...}`` object a line (optional ``"id"``).
    - Any other file: one text a non-empty line.

    Args:
        path: The file.

    Returns:
        The texts, in file order.

    Raises:
        InputError: The file is missing or not in a recognised form.
    """
    import csv

    p = Path(path)
    if not p.is_file():
        raise InputError(f"text file {p} does not exist", "check the path")
    raw = p.read_text(encoding="utf-8")
    first = raw.lstrip().split("\n", 1)[0]
    out: list[tuple[str, str]] = []
    if "|t|" in first:
        from litmine.ner.pubtator import read_pubtator

        return [(d.pmid, f"{d.title} {d.abstract}") for d in read_pubtator(p)]
    suffix = p.suffix.lower()
    try:
        if suffix == ".json":
            data = json.loads(raw)
            if not isinstance(data, dict):
                raise InputError(f"{p}: expected a JSON object of records")
            for key, rec in data.items():
                contexts = rec.get("CONTEXTS") if isinstance(rec, dict) else None
                if not isinstance(contexts, list):
                    raise InputError(f"{p}: record {key} has no CONTEXTS list")
                out.append((str(key), " ".join(str(c) for c in contexts)))
        elif suffix == ".csv":
            csv.field_size_limit(1 << 30)
            reader = csv.DictReader(raw.splitlines())
            if not reader.fieldnames or "abstract" not in reader.fieldnames:
                raise InputError(f"{p}: a CSV file needs an 'abstract' column")
            for i, row in enumerate(reader):
                text = " ".join(
                    t for t in (row.get("title", "").strip(), _csv_abstract(row["abstract"])) if t
                )
                out.append((row.get("doc_id") or f"{p.name}:{i}", text))
        elif suffix == ".jsonl":
            for i, line in enumerate(raw.splitlines()):
                if line.strip():
                    rec = json.loads(line)
                    out.append((str(rec.get("id", f"{p.name}:{i}")), str(rec["text"])))
        else:
            out = [(f"{p.name}:{i}", ln.strip()) for i, ln in enumerate(raw.splitlines())]
    except (json.JSONDecodeError, KeyError, csv.Error) as exc:
        raise InputError(f"cannot read texts from {p}: {exc}") from exc
    return [(i, t) for i, t in out if t.strip()]


def _text_key(text: str) -> str:
    return " ".join(text.lower().split())[:100]


def collect_texts(
    paths: Sequence[str | Path], *, exclude_paths: Sequence[str | Path] = ()
) -> tuple[list[str], dict[str, Any]]:
    """Unlabelled texts for pretraining, deduplicated, without excluded documents.

    A text is dropped when its id (PMID) or its first 100 characters (case and
    spacing ignored) match a document of ``exclude_paths`` (the dev set), or an
    earlier text.

    Args:
        paths: Files readable by :func:`read_texts`.
        exclude_paths: Files whose documents must not be used (evaluation data).

    Returns:
        The texts, and per-file counts (read, kept, excluded, duplicates).
    """
    banned_ids: set[str] = set()
    banned_keys: set[str] = set()
    for path in exclude_paths:
        for doc_id, text in read_texts(path):
            banned_ids.add(doc_id)
            banned_keys.add(_text_key(text))
    seen: set[str] = set()
    texts: list[str] = []
    stats: dict[str, Any] = {}
    for path in paths:
        st = stats[Path(path).name] = {"read": 0, "kept": 0, "excluded": 0, "duplicates": 0}
        for doc_id, text in read_texts(path):
            st["read"] += 1
            key = _text_key(text)
            if doc_id in banned_ids or key in banned_keys:
                st["excluded"] += 1
            elif key in seen:
                st["duplicates"] += 1
            else:
                seen.add(key)
                texts.append(text)
                st["kept"] += 1
    return texts, stats


def pretrain(
    text_paths: Sequence[str | Path],
    out_dir: str | Path,
    *,
    config: TrainConfig | None = None,
    pretrain_config: PretrainConfig | None = None,
    epochs: int = 5,
    seed: int = 0,
    exclude_paths: Sequence[str | Path] = (),
    limit: int | None = None,
    resume: str | Path | None = None,
) -> Path:
    """Pretrain the tok2vec of ``config`` on unlabelled text (``spacy pretrain``).

    The texts are tokenized with the biomedical tokenizer, as the NER training
    data are; the character objective (:class:`PretrainConfig`) needs no labels.
    Pass the returned file to :func:`train` as ``init_tok2vec``, with the same
    ``config`` (the weights only fit a tok2vec of the same shape).

    Args:
        text_paths: Files readable by :func:`read_texts`.
        out_dir: Folder for the weights: ``model{epoch}.bin`` after each epoch,
            ``model-last.bin``, ``log.jsonl`` (losses) and ``texts.json`` (counts).
        config: Tok2vec shape (the NER training's :class:`TrainConfig`).
        pretrain_config: Objective and optimiser settings.
        epochs: Passes over the texts.
        seed: Random seed.
        exclude_paths: Documents never to pretrain on (the dev set), matched by id
            and by text.
        limit: Use only the first ``limit`` texts (tests).
        resume: Continue from these weights (``model{N}.bin`` of an earlier run
            with the same settings): epochs ``N + 1`` to ``epochs - 1`` run, with a
            fresh optimiser.

    Returns:
        The final weights, ``out_dir / "model-last.bin"``.

    Raises:
        InputError: A text file is missing or unreadable, or no text is left.
    """
    import spacy
    from spacy.tokens import DocBin
    from spacy.training.pretrain import pretrain as spacy_pretrain
    from thinc.api import Config

    from litmine.ner.tokenizer import biomedical_tokenizer

    config = config or TrainConfig()
    pconf = pretrain_config or PretrainConfig()
    texts, stats = collect_texts(text_paths, exclude_paths=exclude_paths)
    if limit is not None:
        texts = texts[:limit]
    if not texts:
        raise InputError("no text to pretrain on", "check --texts and --exclude")
    resume_path = Path(resume) if resume is not None else None
    if resume_path is not None and not re.fullmatch(r"model\d+\.bin", resume_path.name):
        raise InputError(f"cannot resume from {resume_path}", "pass a model<N>.bin file")
    if resume_path is not None and not resume_path.is_file():
        raise InputError(f"tok2vec weights {resume_path} do not exist")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if resume_path is None:
        for old in [*out.glob("model*.bin"), out / "log.jsonl"]:
            old.unlink(missing_ok=True)
    nlp = spacy.blank("en")
    nlp.tokenizer = biomedical_tokenizer(nlp)
    with tempfile.TemporaryDirectory(prefix="litmine-pretrain-") as tmp:
        raw = Path(tmp) / "texts.spacy"
        db = DocBin(store_user_data=False)
        n_words = 0
        for doc in nlp.tokenizer.pipe(texts, batch_size=256):
            db.add(doc)
            n_words += len(doc)
        db.to_disk(raw)
        text = build_config(
            config, epochs=1, seed=seed, total_steps=1, pretrain=pconf, pretrain_corpus=True
        )
        cfg = Config().from_str(text, interpolate=False)
        cfg["paths"]["raw_text"] = str(raw)
        cfg["pretraining"]["max_epochs"] = epochs
        # Fill spaCy's defaults (tokenizer, ...) as `spacy train` does; then resolve variables.
        cfg = spacy.util.load_model_from_config(cfg, auto_fill=True).config.interpolate()
        info = {"texts": len(texts), "words": n_words, "epochs": epochs, "seed": seed,
                "resumed_from": resume_path.name if resume_path else None,
                "files": stats, "config": asdict(config), "pretrain": asdict(pconf)}  # fmt: skip
        (out / "texts.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
        log.info("pretraining on %d texts (%d words), %d epochs", len(texts), n_words, epochs)
        started = time.perf_counter()
        spacy_pretrain(cfg, out, resume_path=resume_path, use_gpu=-1, silent=False)
        log.info("pretrained in %.0f s", time.perf_counter() - started)
    return out / "model-last.bin"

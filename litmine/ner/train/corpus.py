"""PubTator corpora to spaCy ``DocBin`` files for a training run (part of :mod:`litmine.ner.train`).

:func:`convert_corpora` tokenises the training, disease-only and dev files
with the pipeline's (biomedical) tokenizer and writes them under
``<work>/corpus``, with per-file conversion counts in ``<work>/conversion.json``;
``limit`` (tests) keeps only the first documents of each file.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from litmine.errors import InputError
from litmine.ner.pubtator import ConversionStats, to_docbin

if TYPE_CHECKING:
    from spacy.language import Language


def _check_paths(paths: Sequence[Path]) -> None:
    for p in paths:
        if not p.is_file():
            raise InputError(f"PubTator file {p} does not exist", "check the path")


def _limited(path: Path, limit: int | None, work: Path) -> Path:
    if limit is None:
        return path
    from litmine.ner.pubtator import read_pubtator

    docs = []
    for i, d in enumerate(read_pubtator(path)):
        if i >= limit:
            break
        lines = [f"{d.pmid}|t|{d.title}", f"{d.pmid}|a|{d.abstract}"]
        for m in d.mentions:
            cols = [d.pmid, str(m.start), str(m.end), m.text, m.type, "|".join(m.ids) or "-1"]
            lines.append("\t".join(cols))
        docs.append("\n".join(lines))
    target = work / "limited" / path.name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n\n".join(docs) + "\n", encoding="utf-8")
    return target


def convert_corpora(
    nlp: Language,
    train_files: Sequence[Path],
    extra_files: Sequence[Path],
    dev_file: Path,
    work: Path,
    *,
    limit: int | None = None,
) -> tuple[dict[str, ConversionStats], int]:
    """Write the training and dev corpora of a run as ``DocBin`` files under ``work``.

    ``<work>/corpus/train/`` gets one file per training file (``{i}-main.spacy``)
    and per disease-only file (``{i}-extra.spacy``, tokens outside its mentions
    marked missing), ``<work>/corpus/dev.spacy`` the dev file; an earlier
    ``<work>/corpus`` is removed first. The counts go to ``<work>/conversion.json``.

    Args:
        nlp: A blank pipeline with the biomedical tokenizer.
        train_files: PubTator files annotating both labels.
        extra_files: PubTator files annotating diseases only.
        dev_file: PubTator file for model selection.
        work: The run's working folder.
        limit: Use only the first ``limit`` documents of each file (tests).

    Returns:
        Conversion counts per file name, and the words of the training corpora.
    """
    corpus = work / "corpus"
    shutil.rmtree(corpus, ignore_errors=True)
    stats: dict[str, ConversionStats] = {}
    n_words = 0
    for i, path in enumerate(train_files):
        stats[path.name] = st = ConversionStats()
        db = to_docbin(nlp, [_limited(path, limit, work)], corpus / "train" / f"{i}-main.spacy",
                       stats=st)  # fmt: skip
        n_words += sum(len(d) for d in db.get_docs(nlp.vocab))
    for i, path in enumerate(extra_files):
        stats[path.name] = st = ConversionStats()
        db = to_docbin(nlp, [_limited(path, limit, work)], corpus / "train" / f"{i}-extra.spacy",
                       only_labels_annotated=True, stats=st)  # fmt: skip
        n_words += sum(len(d) for d in db.get_docs(nlp.vocab))
    stats[dev_file.name] = st = ConversionStats()
    to_docbin(nlp, [_limited(dev_file, limit, work)], corpus / "dev.spacy", stats=st)
    (work / "conversion.json").write_text(
        json.dumps({k: asdict(v) for k, v in stats.items()}, indent=2), encoding="utf-8"
    )
    return stats, n_words

"""Ensemble distillation and self-training for the CNN NER model.

Teachers (several trained pipelines, each run as litmine's extraction runs it:
abbreviation detector and post-processing included) label unlabelled texts; a
span becomes *silver* when at least ``min_votes`` teachers predict exactly it
(same characters, same label). A student with the fast default architecture is
then trained on gold data plus the silver documents.

How the silver loss is down-weighted. spaCy's ``nlp.update`` takes no
per-example weight, so the weighting is done in the data, in two ways:

- **Uncertain tokens carry no loss.** In a silver document, a token inside a
  span some teacher predicted but the vote did not keep is marked *missing*
  (``-``) rather than *outside*: the student is taught neither that it is an
  entity nor that it is not. Tokens no teacher tagged are *outside*, spans the
  vote kept are entities. So only the teachers' consensus is taught, and a
  boundary disagreement (``neuroleptic malignant syndrome`` versus ``malignant
  syndrome``) leaves the disputed words untaught.
- **Gold is sampled more often.** The gold documents are written ``gold_repeat``
  times into the training corpus (every copy is shuffled in with the silver
  documents each epoch), so per epoch gold contributes ``gold_repeat`` times its
  words, and ``silver_limit`` caps how many silver documents are used.

A mixing ratio keeps the training loop spaCy's own (``spacy.Corpus`` over one
folder), checkpoint selection on dev unchanged, and the student's speed equal to
the default model's (same architecture).
"""

from __future__ import annotations

import json
import logging
import random
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from litmine.errors import InputError
from litmine.ner.eval import Span
from litmine.ner.train import TrainConfig, build_config, package_pipeline

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc, DocBin

log = logging.getLogger(__name__)

FAST_CNN = TrainConfig(width=96, depth=4, maxout_pieces=2, hidden_width=64, eval_frequency=300)
"""The shipped default's architecture (``litmine-bc5cdr``, see its model card)."""


@dataclass(slots=True)
class SilverStats:
    """Counts of a silver-labelling run.

    Attributes:
        docs: Texts labelled.
        teachers: Number of teachers.
        min_votes: Votes a span needed.
        proposed: Distinct spans predicted by at least one teacher.
        kept: Spans kept by the vote (entities of the silver documents).
        misaligned: Kept spans whose ends fall inside a token (marked missing).
        tokens: Tokens of the silver documents.
        missing_tokens: Tokens marked missing (disputed).
        labels: Kept spans per label.
    """

    docs: int = 0
    teachers: int = 0
    min_votes: int = 0
    proposed: int = 0
    kept: int = 0
    misaligned: int = 0
    tokens: int = 0
    missing_tokens: int = 0
    labels: dict[str, int] = field(default_factory=dict)


def vote(predictions: Sequence[Iterable[Span]], min_votes: int) -> list[Span]:
    """Spans predicted (exactly) by at least ``min_votes`` of the teachers.

    Overlapping winners (possible when ``min_votes`` is at most half the
    teachers) are resolved greedily: more votes first, then the longer span,
    then the earlier one.

    Args:
        predictions: One span set per teacher, for one text.
        min_votes: Least number of teachers that must predict a span.

    Returns:
        The kept spans, non-overlapping, sorted by start.
    """
    if min_votes < 1:
        raise InputError(f"min_votes must be at least 1, not {min_votes}")
    counts = Counter(s for spans in predictions for s in set(spans))
    winners = sorted(
        (s for s, n in counts.items() if n >= min_votes),
        key=lambda s: (-counts[s], -(s[1] - s[0]), s[0]),
    )
    kept: list[Span] = []
    for s in winners:
        if all(s[1] <= k[0] or s[0] >= k[1] for k in kept):
            kept.append(s)
    return sorted(kept)


def silver_doc(
    nlp: Language,
    text: str,
    kept: Sequence[Span],
    proposed: Iterable[Span],
    stats: SilverStats | None = None,
    *,
    untagged: str = "outside",
) -> Doc:
    """A training document: kept spans as entities, disputed tokens missing, others outside.

    Args:
        nlp: Pipeline whose tokenizer is used (the biomedical tokenizer).
        text: The text.
        kept: Spans the vote kept (non-overlapping).
        proposed: Every span any teacher predicted.
        stats: Counters to update.
        untagged: ``"outside"`` (default) teaches tokens no teacher tagged as
            non-entities; ``"missing"`` leaves them untaught too (the silver
            then only teaches its entities).

    Returns:
        The document with ``ENT_IOB`` set on every token (``-`` for disputed ones).
    """
    from spacy.tokens import Span as SpacySpan

    stats = stats if stats is not None else SilverStats()
    doc = nlp.make_doc(text)
    ents = []
    in_ent: set[int] = set()
    disputed: set[int] = set()
    for start, end, label in kept:
        span = doc.char_span(start, end, label=label)
        if span is None or len(span) == 0:
            stats.misaligned += 1
            loose = doc.char_span(start, end, alignment_mode="expand")
            if loose is not None:
                disputed.update(range(loose.start, loose.end))
            continue
        ents.append(span)
        in_ent.update(range(span.start, span.end))
        stats.labels[label] = stats.labels.get(label, 0) + 1
    for start, end, _ in proposed:
        loose = doc.char_span(start, end, alignment_mode="expand")
        if loose is not None:
            disputed.update(range(loose.start, loose.end))
    disputed -= in_ent
    missing = [SpacySpan(doc, i, i + 1) for i in sorted(disputed)]
    if untagged not in ("outside", "missing"):
        raise InputError(f"untagged must be 'outside' or 'missing', not {untagged!r}")
    doc.set_ents(ents, missing=missing, default=untagged)
    stats.tokens += len(doc)
    stats.missing_tokens += len(missing)
    stats.kept += len(ents)
    return doc


def predict(nlp: Language | Any, texts: Sequence[str], *, batch_size: int = 32) -> list[list[Span]]:
    """One teacher's spans for each text (the pipeline as given, post-processing included)."""
    return [
        sorted((e.start_char, e.end_char, e.label_) for e in doc.ents)
        for doc in nlp.pipe(texts, batch_size=batch_size)
    ]


def build_silver(
    nlp: Language,
    texts: Sequence[str],
    teacher_spans: Sequence[Sequence[Sequence[Span]]],
    *,
    min_votes: int,
    untagged: str = "outside",
) -> tuple[DocBin, SilverStats]:
    """Vote over the teachers' spans and build the silver training documents.

    Args:
        nlp: Pipeline whose tokenizer is used.
        texts: The texts.
        teacher_spans: Per teacher, per text, the predicted spans (see :func:`predict`).
        min_votes: Votes a span needs.
        untagged: Tokens no teacher tagged: ``"outside"`` or ``"missing"`` (see
            :func:`silver_doc`).

    Returns:
        The silver ``DocBin`` and its counts.
    """
    from spacy.tokens import DocBin

    if not teacher_spans:
        raise InputError("silver labelling needs at least one teacher")
    if any(len(t) != len(texts) for t in teacher_spans):
        raise InputError("every teacher must label every text")
    if min_votes > len(teacher_spans):
        raise InputError(
            f"min_votes {min_votes} exceeds the {len(teacher_spans)} teacher(s)",
            "lower --min-votes or add --teacher",
        )
    stats = SilverStats(teachers=len(teacher_spans), min_votes=min_votes)
    db = DocBin(attrs=["ENT_IOB", "ENT_TYPE"], store_user_data=False)
    for i, text in enumerate(texts):
        per_teacher = [set(t[i]) for t in teacher_spans]
        proposed = set().union(*per_teacher)
        kept = vote(per_teacher, min_votes)
        stats.proposed += len(proposed)
        db.add(silver_doc(nlp, text, kept, proposed, stats, untagged=untagged))
        stats.docs += 1
    return db, stats


def default_min_votes(n_teachers: int) -> int:
    """A strict majority of the teachers (all of them when there are two)."""
    return n_teachers // 2 + 1


def label_texts(
    teachers: Sequence[Language],
    texts: Sequence[str],
    *,
    min_votes: int | None = None,
    batch_size: int = 32,
) -> tuple[DocBin, SilverStats]:
    """Run every teacher over the texts, vote, and build the silver documents.

    Args:
        teachers: Pipelines as :func:`litmine.entities.build_nlp` returns them.
        texts: Unlabelled texts.
        min_votes: Votes a span needs (default: a strict majority).
        batch_size: ``nlp.pipe`` batch size.

    Returns:
        The silver ``DocBin`` and its counts.
    """
    spans = [predict(t, texts, batch_size=batch_size) for t in teachers]
    votes = min_votes if min_votes is not None else default_min_votes(len(teachers))
    return build_silver(teachers[0], texts, spans, min_votes=votes)


def _tokenizer_nlp() -> Language:
    import spacy

    from litmine.ner.tokenizer import biomedical_tokenizer

    nlp = spacy.blank("en")
    nlp.tokenizer = biomedical_tokenizer(nlp)
    return nlp


def train_student(
    gold_paths: Sequence[str | Path],
    silver_paths: Sequence[str | Path],
    dev_path: str | Path | None,
    out_dir: str | Path,
    *,
    config: TrainConfig = FAST_CNN,
    steps: int = 5000,
    seed: int = 0,
    gold_repeat: int = 8,
    silver_limit: int | None = None,
    dev_limit: int | None = 120,
    init_from: str | Path | None = None,
    work_dir: str | Path | None = None,
    card: dict[str, Any] | None = None,
) -> Path:
    """Train a student NER pipeline on gold PubTator files plus silver ``DocBin`` files.

    The learning rate warms up, then decays linearly to 0 at ``steps``, where
    training stops; the checkpoint with the best entity F1 on ``dev_path``
    (its first ``dev_limit`` documents) is kept. Without ``dev_path`` the
    last checkpoint is kept (evaluation on the first 50 silver documents
    only keeps spaCy's loop running).

    Args:
        gold_paths: PubTator files annotating both labels (may be empty).
        silver_paths: ``.spacy`` files from :func:`label_texts`.
        dev_path: PubTator file for checkpoint selection, or None.
        out_dir: Folder for the student pipeline.
        config: Architecture and optimiser (default: the shipped fast CNN).
        steps: Optimiser steps.
        seed: Random seed.
        gold_repeat: Copies of the gold documents in the training corpus.
        silver_limit: Use at most this many silver documents (a random sample).
        dev_limit: Dev documents used for selection (None: all).
        init_from: Start tok2vec and ner from this pipeline's weights (its
            architecture then wins over ``config``'s) instead of at random.
        work_dir: Folder for corpora, config and checkpoints (temporary when None).
        card: Extra entries for the pipeline's ``meta.json`` (``litmine``).

    Returns:
        ``out_dir``.

    Raises:
        InputError: No training data, or a file is missing.
    """
    from spacy.cli.train import train as spacy_train
    from spacy.tokens import DocBin

    from litmine.ner.pubtator import to_docbin

    for p in [*gold_paths, *silver_paths, *([dev_path] if dev_path else [])]:
        if not Path(p).is_file():
            raise InputError(f"training file {p} does not exist", "check the path")
    if not gold_paths and not silver_paths:
        raise InputError("the student needs gold or silver documents")
    tmp: tempfile.TemporaryDirectory[str] | None = None
    if work_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="litmine-student-")
        work = Path(tmp.name)
    else:
        work = Path(work_dir)
        work.mkdir(parents=True, exist_ok=True)
    try:
        nlp = _tokenizer_nlp()
        corpus = work / "corpus"
        shutil.rmtree(corpus, ignore_errors=True)
        (corpus / "train").mkdir(parents=True)
        counts: dict[str, int] = {"gold_docs": 0, "gold_words": 0, "silver_docs": 0,
                                  "silver_words": 0}  # fmt: skip
        for i, path in enumerate(gold_paths):
            db = to_docbin(nlp, [path], corpus / "train" / f"gold-{i}-0.spacy")
            docs = list(db.get_docs(nlp.vocab))
            counts["gold_docs"] += len(docs) * gold_repeat
            counts["gold_words"] += sum(len(d) for d in docs) * gold_repeat
            for r in range(1, gold_repeat):
                shutil.copy(corpus / "train" / f"gold-{i}-0.spacy",
                            corpus / "train" / f"gold-{i}-{r}.spacy")  # fmt: skip
        silver_docs: list[Doc] = []
        for path in silver_paths:
            silver_docs.extend(DocBin().from_disk(path).get_docs(nlp.vocab))
        if silver_limit is not None and len(silver_docs) > silver_limit:
            silver_docs = random.Random(seed).sample(silver_docs, silver_limit)
        if silver_docs:
            sdb = DocBin(attrs=["ENT_IOB", "ENT_TYPE"], store_user_data=False)
            for d in silver_docs:
                sdb.add(d)
            sdb.to_disk(corpus / "train" / "silver.spacy")
        counts["silver_docs"] = len(silver_docs)
        counts["silver_words"] = sum(len(d) for d in silver_docs)
        if dev_path is not None:
            to_docbin(nlp, [dev_path], corpus / "dev.spacy")
        else:
            ddb = DocBin(attrs=["ENT_IOB", "ENT_TYPE"], store_user_data=False)
            for d in silver_docs[:50]:
                ddb.add(d)
            ddb.to_disk(corpus / "dev.spacy")
        cfg_path = work / "config.cfg"
        cfg_path.write_text(
            build_config(config, epochs=1000, seed=seed, total_steps=steps), encoding="utf-8"
        )
        overrides: dict[str, Any] = {
            "paths.train": str(corpus / "train"),
            "paths.dev": str(corpus / "dev.spacy"),
            "training.max_steps": steps,
        }
        if dev_limit is not None and dev_path is not None:
            overrides["corpora.dev.limit"] = dev_limit
        if init_from is not None:
            src = str(Path(init_from).resolve())
            cfg_path.write_text(_sourced_config(cfg_path.read_text(encoding="utf-8"), src))
        overrides.update(config.extra)
        started = time.perf_counter()
        spacy_train(cfg_path, work / "output", use_gpu=-1, overrides=overrides)
        elapsed = time.perf_counter() - started
        best = "model-best" if dev_path is not None else "model-last"
        meta = {
            "name": "litmine_bc5cdr_student",
            "litmine": {
                "student": {
                    "gold_files": [Path(p).name for p in gold_paths],
                    "silver_files": [Path(p).name for p in silver_paths],
                    "dev_file": Path(dev_path).name if dev_path else None,
                    "steps": steps,
                    "seed": seed,
                    "gold_repeat": gold_repeat,
                    "silver_limit": silver_limit,
                    "init_from": str(init_from) if init_from else None,
                    "config": asdict(config),
                    "train_seconds": round(elapsed, 1),
                    **counts,
                },
                **(card or {}),
            },
        }
        package_pipeline(work / "output" / best, out_dir, meta=meta)
        return Path(out_dir)
    finally:
        if tmp is not None:
            tmp.cleanup()


def _sourced_config(text: str, source: str) -> str:
    """Replace the tok2vec and ner blocks of a config with ``source = ...`` lines.

    A sourced component brings its own architecture and weights; spaCy then
    resumes training it instead of initialising it.
    """
    out: list[str] = []
    skip = False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("["):
            name = stripped.strip("[]")
            skip = name.startswith(("components.tok2vec.", "components.ner."))
            if name in ("components.tok2vec", "components.ner"):
                out.append(line)
                out.append(f'source = "{source}"')
                skip = True
                continue
        if not skip:
            out.append(line)
    return "\n".join(out) + "\n"


def write_stats(stats: SilverStats, path: str | Path) -> None:
    """Write silver-labelling counts as JSON."""
    Path(path).write_text(json.dumps(asdict(stats), indent=2) + "\n", encoding="utf-8")


# ------------------------------------------------------------------ domain adaptation

CARD_FILE = "MODEL_CARD.md"
REPORT_FILE = "litmine_ner_adapt.json"
DEFAULT_TEACHERS = ("litmine-bc5cdr", "litmine-bc5cdr-wide")


@dataclass(slots=True)
class NerAdaptReport:
    """What ``litmine ner adapt`` did (also written as JSON beside the model).

    Attributes:
        out: Folder of the adapted model.
        teachers: Teacher models, in vote order.
        texts: Store passages labelled.
        silver: Silver-labelling counts.
        gold_files: Gold PubTator files mixed in.
        dev_file: Dev file for checkpoint selection, if any.
        init_from: Pipeline the student started from (None: from scratch).
        steps: Training steps.
        seed: Random seed.
        seconds: Wall time of labelling plus training.
    """

    out: str
    teachers: list[str]
    texts: int
    silver: SilverStats
    gold_files: list[str]
    dev_file: str | None
    init_from: str | None
    steps: int
    seed: int
    seconds: float = 0.0


def store_texts(store: Any, *, limit: int | None = None, min_chars: int = 20) -> list[str]:
    """Distinct passage texts of a store, in storage order (the text to adapt to).

    Args:
        store: An open :class:`litmine.store.Store`.
        limit: Keep at most this many texts.
        min_chars: Skip shorter passages (headings, empty abstracts).

    Returns:
        The texts.
    """
    seen: set[str] = set()
    texts: list[str] = []
    for batch in store.iter_passages():
        for p in batch:
            text = p.text.strip()
            if len(text) < min_chars or text in seen:
                continue
            seen.add(text)
            texts.append(text)
            if limit is not None and len(texts) >= limit:
                return texts
    return texts


def _card(report: NerAdaptReport, command: str) -> str:
    s = report.silver
    labels = ", ".join(f"{k} {v}" for k, v in sorted(s.labels.items())) or "none"
    start = report.init_from or "random weights (from scratch)"
    return f"""# NER model adapted by `litmine ner adapt` (self-training, no labels)

Made by `{command}`.

- Teachers: {", ".join(report.teachers)}; a span is silver when at least {s.min_votes} of
  {s.teachers} teacher(s) predict exactly it (extraction pipeline: abbreviations and
  post-processing included). Tokens inside spans the vote dropped are marked missing
  (no loss), all other tokens outside.
- Unlabelled text: {report.texts} passages of the store; {s.kept} silver spans ({labels}),
  {s.proposed} spans proposed, {s.missing_tokens} of {s.tokens} tokens missing.
- Gold data mixed in: {", ".join(report.gold_files) or "none"}.
- Student: started from {start}; {report.steps} steps, seed {report.seed}; kept checkpoint:
  {"best F1 on " + report.dev_file if report.dev_file else "the last step (no --dev)"}.
- Wall time: {report.seconds:.0f} s.

No quality figure is recorded: the store has no labels. Score the folder on a labelled
sample of the same kind of text with `litmine ner eval --model {report.out} --corpus FILE`
before pointing `ner.model` at it.
"""


def adapt_from_store(
    store: Any,
    out_dir: str | Path,
    *,
    teachers: Sequence[str] = DEFAULT_TEACHERS,
    min_votes: int | None = None,
    gold_paths: Sequence[str | Path] = (),
    dev_path: str | Path | None = None,
    from_scratch: bool = False,
    steps: int = 1000,
    seed: int = 0,
    gold_repeat: int = 8,
    limit: int | None = None,
    config: TrainConfig = FAST_CNN,
    batch_size: int = 32,
    command: str = "litmine ner adapt",
) -> NerAdaptReport:
    """Self-train an NER model on a store's passages: teachers label, a student retrains.

    Args:
        store: Open store whose passages are the unlabelled text.
        out_dir: Folder for the adapted model (with ``MODEL_CARD.md`` and a JSON report).
        teachers: NER models (names or folders) that vote.
        min_votes: Votes a silver span needs (default: a strict majority, all of two).
        gold_paths: Labelled PubTator files mixed in (e.g. BC5CDR train).
        dev_path: PubTator file for checkpoint selection (None: last step).
        from_scratch: Train the student from random weights (``config``'s
            architecture) instead of from the first teacher's weights.
        steps: Training steps.
        seed: Random seed.
        gold_repeat: Copies of the gold documents per epoch.
        limit: Label at most this many passages.
        config: Student architecture when ``from_scratch``, and optimiser settings.
        batch_size: ``nlp.pipe`` batch size of the teachers.
        command: The command line recorded in the card.

    Returns:
        The report.

    Raises:
        InputError: The store has no passages, or the first teacher cannot be fine-tuned.
    """
    from litmine.config import NerSettings
    from litmine.entities import build_nlp, load_pipeline, model_path

    started = time.perf_counter()
    texts = store_texts(store, limit=limit)
    if not texts:
        raise InputError("the store has no passages to adapt to", "run `litmine ingest` first")
    if not teachers:
        raise InputError("ner adapt needs at least one teacher", "add --teacher")
    init: Path | None = None
    if not from_scratch:
        first = load_pipeline(teachers[0])
        if not {"tok2vec", "ner"} <= set(first.pipe_names):
            raise InputError(
                f"the first teacher {teachers[0]!r} is not a CNN pipeline (tok2vec + ner)",
                "put a CNN model first, or pass --from-scratch",
            )
        init = model_path(teachers[0]) or Path(teachers[0]).expanduser()
        del first
    spans = []
    for name in teachers:
        nlp = build_nlp(NerSettings(model=name, batch_size=batch_size))
        spans.append(predict(nlp, texts, batch_size=batch_size))
        del nlp
    votes = min_votes if min_votes is not None else default_min_votes(len(teachers))
    db, stats = build_silver(_tokenizer_nlp(), texts, spans, min_votes=votes)
    out = Path(out_dir)
    with tempfile.TemporaryDirectory(prefix="litmine-adapt-") as tmp:
        silver = Path(tmp) / "silver.spacy"
        db.to_disk(silver)
        report = NerAdaptReport(
            out=str(out), teachers=list(teachers), texts=len(texts), silver=stats,
            gold_files=[Path(p).name for p in gold_paths],
            dev_file=Path(dev_path).name if dev_path else None,
            init_from=str(init) if init else None, steps=steps, seed=seed,
        )  # fmt: skip
        train_student(
            gold_paths, [silver], dev_path, out,
            config=config, steps=steps, seed=seed, gold_repeat=gold_repeat,
            dev_limit=None, init_from=init, work_dir=Path(tmp) / "work",
            card={"adapt": {"teachers": list(teachers), "texts": len(texts),
                            "silver": asdict(stats)}},
        )  # fmt: skip
    report.seconds = round(time.perf_counter() - started, 1)
    (out / REPORT_FILE).write_text(json.dumps(asdict(report), indent=2) + "\n", encoding="utf-8")
    (out / CARD_FILE).write_text(_card(report, command), encoding="utf-8")
    return report

"""Reader for PubTator corpora (BC5CDR, NCBI Disease) and conversion to spaCy.

A PubTator file holds documents separated by blank lines. Each document is a
title line ``PMID|t|title``, an abstract line ``PMID|a|abstract``, mention lines
``PMID<TAB>start<TAB>end<TAB>text<TAB>type<TAB>ids[<TAB>parts]`` and relation
lines ``PMID<TAB>CID<TAB>chemical<TAB>disease``. Mention offsets index into
``title + " " + abstract``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from litmine.errors import InputError

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc, DocBin

log = logging.getLogger(__name__)

CHEMICAL = "CHEMICAL"
DISEASE = "DISEASE"
LABELS: tuple[str, ...] = (CHEMICAL, DISEASE)

#: PubTator mention types mapped to our labels; NCBI Disease classes all become DISEASE.
TYPE_TO_LABEL: dict[str, str] = {
    "chemical": CHEMICAL,
    "disease": DISEASE,
    "specificdisease": DISEASE,
    "diseaseclass": DISEASE,
    "modifier": DISEASE,
    "compositemention": DISEASE,
}

OnError = Literal["raise", "warn", "skip"]


@dataclass(slots=True, frozen=True)
class Mention:
    """One annotated mention.

    Attributes:
        start: Offset into ``title + " " + abstract``.
        end: Offset one past the mention's last character.
        text: The mention as written in the file.
        type: Mention type as written (``Chemical``, ``DiseaseClass``...).
        label: Our label (``CHEMICAL`` or ``DISEASE``), None for unknown types.
        ids: Concept ids (MeSH, OMIM); empty for ``-1`` (unnormalised).
        parts: Individual mentions of a composite mention (7th column).
        line: 1-based line number in the file.
    """

    start: int
    end: int
    text: str
    type: str
    label: str | None
    ids: tuple[str, ...] = ()
    parts: tuple[str, ...] = ()
    line: int = 0

    @property
    def is_composite(self) -> bool:
        """Whether the mention names several concepts (``|``-joined ids)."""
        return len(self.ids) > 1 or bool(self.parts)


@dataclass(slots=True, frozen=True)
class Relation:
    """A document-level relation line (``CID`` in BC5CDR)."""

    type: str
    chemical: str
    disease: str


@dataclass(slots=True)
class PubtatorDoc:
    """One PubTator document.

    Attributes:
        pmid: The document's PMID.
        title: Title text.
        abstract: Abstract text.
        mentions: Annotated mentions, in file order.
        relations: Relation lines.
        line: Line number of the title line.
    """

    pmid: str
    title: str = ""
    abstract: str = ""
    mentions: list[Mention] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    line: int = 0

    @property
    def text(self) -> str:
        """``title + " " + abstract``, the text mention offsets refer to."""
        return f"{self.title} {self.abstract}"


def _ids(raw: str) -> tuple[str, ...]:
    parts = [p.strip() for p in raw.replace("+", "|").split("|")]
    return tuple(p for p in parts if p and p != "-1")


def _problem(path: Path, lineno: int, message: str, on_error: OnError) -> None:
    text = f"{path}:{lineno}: {message}"
    if on_error == "raise":
        raise InputError(text, "fix or remove that line, or read with on_error='warn'")
    if on_error == "warn":
        log.warning("%s (skipped)", text)


def read_pubtator(
    path: str | Path, *, on_error: OnError = "raise", check_offsets: bool = True
) -> Iterator[PubtatorDoc]:
    """Stream the documents of a PubTator file.

    Args:
        path: The file.
        on_error: What to do with a malformed line or a mention whose offsets do
            not match its text: ``"raise"`` (default) an :class:`InputError`
            naming the file and line, ``"warn"`` (log and skip the line) or
            ``"skip"`` (skip it silently).
        check_offsets: Compare ``text[start:end]`` with each mention's text.
            Trailing whitespace in the mention column is tolerated.

    Yields:
        One :class:`PubtatorDoc` per document.

    Raises:
        InputError: The file cannot be read, or a line is bad and ``on_error`` is "raise".
    """
    path = Path(path)
    try:
        fh = path.open(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read PubTator file {path}: {exc}") from exc
    doc: PubtatorDoc | None = None
    with fh:
        for lineno, raw in enumerate(fh, start=1):
            line = raw.rstrip("\r\n")
            if not line.strip():
                if doc is not None:
                    yield doc
                    doc = None
                continue
            if "\t" not in line and ("|t|" in line or "|a|" in line):
                pmid, kind, text = line.split("|", 2)
                if kind == "t":
                    if doc is not None:
                        yield doc
                    doc = PubtatorDoc(pmid=pmid.strip(), title=text, line=lineno)
                elif doc is None or doc.pmid != pmid.strip():
                    _problem(path, lineno, "abstract line without its title line", on_error)
                else:
                    doc.abstract = text
                continue
            cols = line.split("\t")
            if doc is None or cols[0].strip() != doc.pmid:
                _problem(path, lineno, "annotation line outside its document", on_error)
                continue
            if (len(cols) >= 4 and cols[1] in ("CID", "CIT")) or len(cols) == 4:
                if len(cols) < 4:
                    _problem(path, lineno, "relation line needs 4 columns", on_error)
                    continue
                doc.relations.append(Relation(cols[1], cols[2].strip(), cols[3].strip()))
                continue
            if len(cols) < 5:
                _problem(path, lineno, f"mention line has {len(cols)} columns, not 6", on_error)
                continue
            try:
                start, end = int(cols[1]), int(cols[2])
            except ValueError:
                _problem(
                    path, lineno, f"offsets {cols[1]!r}, {cols[2]!r} are not integers", on_error
                )
                continue
            mention_text = cols[3]
            if check_offsets:
                found = doc.text[start:end]
                if start < 0 or end < start or found.rstrip() != mention_text.rstrip():
                    _problem(
                        path,
                        lineno,
                        f"mention {mention_text!r} does not match the text at {start}-{end} "
                        f"({found!r})",
                        on_error,
                    )
                    continue
            doc.mentions.append(
                Mention(
                    start=start,
                    end=end,
                    text=mention_text,
                    type=cols[4].strip(),
                    label=TYPE_TO_LABEL.get(cols[4].strip().lower()),
                    ids=_ids(cols[5]) if len(cols) > 5 else (),
                    parts=tuple(p for p in cols[6].split("|") if p) if len(cols) > 6 else (),
                    line=lineno,
                )
            )
        if doc is not None:
            yield doc


def read_pubtator_files(
    paths: Iterable[str | Path], *, on_error: OnError = "raise"
) -> list[PubtatorDoc]:
    """Read several PubTator files into one list (see :func:`read_pubtator`)."""
    return [d for p in paths for d in read_pubtator(p, on_error=on_error)]


@dataclass(slots=True)
class ConversionStats:
    """What :func:`to_docs` did.

    Attributes:
        docs: Documents converted.
        mentions: Mentions seen with a known label.
        aligned: Mentions set as entities.
        expanded: Mentions whose span had to grow to token boundaries.
        misaligned: Mentions that could not be aligned to tokens at all.
        overlapping: Mentions dropped because they overlapped an earlier one.
    """

    docs: int = 0
    mentions: int = 0
    aligned: int = 0
    expanded: int = 0
    misaligned: int = 0
    overlapping: int = 0


def to_docs(
    nlp: Language,
    docs: Iterable[PubtatorDoc],
    *,
    labels: Sequence[str] = LABELS,
    only_labels_annotated: bool = False,
    stats: ConversionStats | None = None,
) -> Iterator[Doc]:
    """Tokenise documents with ``nlp``'s tokenizer and set their gold entities.

    Args:
        nlp: Pipeline whose tokenizer is used (the scispaCy tokenizer in litmine).
        docs: PubTator documents.
        labels: Labels kept; mentions of other labels are ignored.
        only_labels_annotated: Mark tokens outside the entities as *missing*
            rather than *outside*, for corpora that annotate only some labels
            (NCBI Disease has diseases but no chemicals).
        stats: Counters to update.

    Yields:
        One spaCy ``Doc`` per document, text ``title + " " + abstract``.
    """
    stats = stats if stats is not None else ConversionStats()
    for pdoc in docs:
        doc = nlp.make_doc(pdoc.text)
        spans = []
        taken: set[int] = set()
        for m in sorted(pdoc.mentions, key=lambda m: (m.start, -m.end)):
            if m.label is None or m.label not in labels:
                continue
            stats.mentions += 1
            end = m.start + len(m.text.rstrip()) if m.end > m.start else m.end
            span = doc.char_span(m.start, end, label=m.label, alignment_mode="expand")
            if span is None or len(span) == 0:
                stats.misaligned += 1
                continue
            if span.start_char != m.start or span.end_char != end:
                stats.expanded += 1
            tokens = set(range(span.start, span.end))
            if tokens & taken:
                stats.overlapping += 1
                continue
            taken |= tokens
            spans.append(span)
            stats.aligned += 1
        if only_labels_annotated:
            doc.set_ents(spans, default="missing")
        else:
            doc.set_ents(spans, default="outside")
        stats.docs += 1
        yield doc


def to_docbin(
    nlp: Language,
    paths: Iterable[str | Path],
    out: str | Path | None = None,
    *,
    only_labels_annotated: bool = False,
    on_error: OnError = "raise",
    stats: ConversionStats | None = None,
) -> DocBin:
    """Convert PubTator files to a spaCy ``DocBin`` (optionally written to ``out``).

    Args:
        nlp: Pipeline whose tokenizer is used.
        paths: PubTator files.
        out: Where to write the ``.spacy`` file; None keeps it in memory.
        only_labels_annotated: See :func:`to_docs`.
        on_error: See :func:`read_pubtator`.
        stats: Counters to update (misaligned mentions are counted there).

    Returns:
        The DocBin.
    """
    from spacy.tokens import DocBin

    stats = stats if stats is not None else ConversionStats()
    pdocs = read_pubtator_files(paths, on_error=on_error)
    db = DocBin(attrs=["ENT_IOB", "ENT_TYPE"], store_user_data=False)
    for doc in to_docs(nlp, pdocs, only_labels_annotated=only_labels_annotated, stats=stats):
        db.add(doc)
    if out is not None:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        db.to_disk(out)
    if stats.misaligned:
        log.warning(
            "%d of %d mentions could not be aligned to tokens", stats.misaligned, stats.mentions
        )
    return db

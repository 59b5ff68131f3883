"""Extraction: run a pipeline over abstracts and map its entities onto passages.

Part of :mod:`litmine.entities`. :func:`extract` gives each article's title
and whole abstract to the pipeline together (so an abbreviation defined in one
passage resolves in the next), chunks over-long texts at whitespace, and maps
every entity back onto the passage it starts in, normalised
(:mod:`~litmine.entities.normalization`) and linked to MeSH where possible.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from litmine.entities.normalization import _concept, _mesh_lookup, normalize
from litmine.types import Article, Entity, Passage

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

# Labels of other models mapped onto litmine's (en_ner_bc5cdr_md already uses these).
_LABEL_MAP = {"CHEMICAL": "CHEMICAL", "DISEASE": "DISEASE", "SIMPLE_CHEMICAL": "CHEMICAL"}

# Control characters other than tab/newline, and lone surrogates: replaced one for one.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


@dataclass(slots=True)
class _Unit:
    """One text given to the pipeline and the passages it covers."""

    text: str
    # Offset of abstract position 0 inside ``text`` (negative: text starts later).
    base: int
    passages: list[Passage] = field(default_factory=list)
    article: Article | None = None


def _clean(text: str) -> str:
    return _CONTROL.sub(" ", text)


def _units(passages: Sequence[Passage], articles: Mapping[str, Article]) -> list[_Unit]:
    by_pmid: dict[str, list[Passage]] = defaultdict(list)
    for p in passages:
        by_pmid[p.pmid].append(p)
    units: list[_Unit] = []
    for pmid, group in by_pmid.items():
        article = articles.get(pmid)
        if article is not None and all(article.abstract[p.start : p.end] == p.text for p in group):
            prefix = f"{article.title} " if article.title else ""
            units.append(_Unit(prefix + article.abstract, len(prefix), group, article))
            continue
        # No article (or a stale one): each passage is processed on its own.
        for p in group:
            units.append(_Unit(p.text, -p.start, [p], article))
    return units


def _chunks(text: str, max_chars: int) -> list[tuple[int, str]]:
    """Split ``text`` at whitespace into pieces of at most ``max_chars`` characters."""
    if len(text) <= max_chars:
        return [(0, text)]
    pieces: list[tuple[int, str]] = []
    start = 0
    while start < len(text):
        end = min(start + max_chars, len(text))
        if end < len(text):
            cut = max(text.rfind(" ", start + max_chars // 2, end), text.rfind("\n", start, end))
            if cut > start:
                end = cut + 1
        pieces.append((start, text[start:end]))
        start = end
    return pieces


def _abbreviations(doc: Doc) -> dict[str, str]:
    """Short form -> long form, from the detector's serialisable output."""
    out: dict[str, str] = {}
    if not doc.has_extension("abbreviations"):
        return out
    for item in doc._.abbreviations:
        if isinstance(item, dict):
            out.setdefault(item["short_text"], item["long_text"])
        else:  # a Span (detector without make_serializable)
            long_form = item._.long_form
            out.setdefault(item.text, getattr(long_form, "text", str(long_form)))
    return out


def _linked_id(ent: Any) -> str | None:
    kb = getattr(ent._, "kb_ents", None) if ent.has_extension("kb_ents") else None
    return str(kb[0][0]) if kb else None


def _doc_entities(
    doc: Doc, offset: int, unit: _Unit, lookup: Mapping[str, str], out: dict[int, list[Entity]]
) -> None:
    abbrs = _abbreviations(doc)
    for ent in doc.ents:
        label = _LABEL_MAP.get(ent.label_, ent.label_)
        text = ent.text
        if not text.strip():
            continue
        long_form = abbrs.get(text)
        norm = normalize(long_form or text)
        concept = _concept(lookup, norm, normalize(text)) or _linked_id(ent)
        # Position in the abstract.
        a_start = ent.start_char + offset - unit.base
        a_end = ent.end_char + offset - unit.base
        for p in unit.passages:
            if p.start <= a_start < p.end:
                end = min(a_end, p.end)
                rel_start, rel_end = a_start - p.start, end - p.start
                out[p.id].append(
                    Entity(
                        passage_id=p.id,
                        start=rel_start,
                        end=rel_end,
                        text=p.text[rel_start:rel_end],
                        label=label,
                        normalized=norm,
                        concept_id=concept,
                    )
                )
                break


def extract(
    nlp: Language,
    passages: Sequence[Passage],
    articles: Mapping[str, Article],
    *,
    batch_size: int = 32,
    n_process: int = 1,
    max_chars: int = 100_000,
) -> dict[int, list[Entity]]:
    """Find the entities of passages, normalised and linked to MeSH where possible.

    Each article's title and whole abstract go through the pipeline together
    (the text the model was trained on), so an abbreviation defined in an earlier
    passage resolves in a later one; entities are then mapped back to the
    passages by offset. A passage whose article is not in ``articles`` (or no
    longer matches it) is processed alone. Entities in the title belong to no
    passage and are dropped.

    Normalised text: the abbreviation's long form when the mention is a short
    form, then :func:`normalize`. Concept id: the MeSH UI of one of the
    article's own MeSH headings or chemicals whose name matches the normalised
    mention (or its short form), else the entity linker's id when it is on.

    Args:
        nlp: A pipeline from :func:`build_nlp`.
        passages: Passages to annotate.
        articles: Their articles by PMID (for the full abstract and the MeSH lists).
        batch_size: Texts per ``nlp.pipe`` batch.
        n_process: Worker processes for ``nlp.pipe``.
        max_chars: Texts longer than this are processed in chunks split at whitespace.

    Returns:
        Entities per passage id, for every given passage (``[]`` when none),
        offsets relative to the passage text, in text order.
    """
    out: dict[int, list[Entity]] = {p.id: [] for p in passages}
    units = _units(passages, articles)
    jobs: list[tuple[str, tuple[int, int]]] = []
    for ui, unit in enumerate(units):
        for offset, piece in _chunks(_clean(unit.text), max_chars):
            jobs.append((piece, (ui, offset)))
    if not jobs:
        return out
    lookups: dict[int, dict[str, str]] = {}
    workers = n_process if len(jobs) >= 4 * batch_size else 1
    for doc, (ui, offset) in nlp.pipe(
        jobs, as_tuples=True, batch_size=batch_size, n_process=workers
    ):
        unit = units[ui]
        if ui not in lookups:
            lookups[ui] = _mesh_lookup(unit.article)
        _doc_entities(doc, offset, unit, lookups[ui], out)
    for ents in out.values():
        ents.sort(key=lambda e: (e.start, e.end))
    return out

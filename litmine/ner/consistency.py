"""Document-level entity consistency: a label-free post-processing component.

A sequence tagger decides every mention from its local context, so the same
chemical named five times in an abstract is often found four times, and an
abbreviation is tagged in one place and missed in the next. Annotation
guidelines (BC5CDR among them) tag every occurrence, abbreviations included.
The ``litmine_consistency`` component runs after ``ner`` (and after scispaCy's
``abbreviation_detector``) and makes the document agree with itself:

1. **Abbreviations**: when an abbreviation's long form (``hepatocellular
   carcinoma``) is an entity with label L, every occurrence of its short form
   (``HCC``) becomes L, and when only short forms are tagged, the long-form
   definition gets their (majority) label. A long form that is no entity but
   ends with one (``levodopa-induced dyskinesia (LID)``) lends that head's label
   to the short forms.
2. **Mention propagation**: every other token-aligned occurrence of a string
   the model tagged somewhere in the document gets the same label; an
   occurrence that overlaps an entity is added only when it covers that
   entity entirely (longest match wins).
3. **Boundary trimming**: an entity whose last token carries a trailing
   hyphen or full stop (``bupivacaine-`` of ``bupivacaine- and
   lidocaine-induced``, ``hepatitis C.`` at a sentence end) has that token
   split and the character dropped.

Nothing here knows a chemical or a disease name: every decision comes from the
model's own predictions and the abbreviation detector, so it works on top of
any NER pipeline (litmine's ``litmine-bc5cdr``, scispaCy's ``en_ner_bc5cdr_md``).
The dev-set effect of each step is in ``litmine/models/litmine-bc5cdr-wide/MODEL_CARD.md``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from spacy.language import Language
from spacy.tokens import Doc, Span

__all__ = ["FACTORY", "ConsistencyOptions", "EntityConsistency", "make_consistent"]

FACTORY = "litmine_consistency"
"""Registered factory name (``nlp.add_pipe(FACTORY)`` once this module is imported)."""

# (first token, end token, label): entities while they are being edited.
_Ent = tuple[int, int, str]

# Characters trimmed from the end of an entity's last token (see module docstring).
_TRAILING = "-."


@dataclass(frozen=True, slots=True)
class ConsistencyOptions:
    """What :func:`make_consistent` does.

    The defaults scored best on BC5CDR dev with ``litmine-bc5cdr-wide`` (or within
    noise of the best while simpler); the table is in the model card.

    Attributes:
        propagate: Tag other exact occurrences of tagged strings.
        ignore_case: Match occurrences case-insensitively, except strings
            written in capitals and digits only (abbreviations, where case
            carries meaning: ``CO`` is not ``co``). Off: +0.04 F1, within noise.
        min_chars: Strings shorter than this are not propagated (single
            letters such as ``T`` or ``K`` are too ambiguous to copy blindly).
        replace_contained: Overlap policy of propagation: an occurrence that
            covers one or more entities entirely replaces them (longest match
            wins); otherwise any overlap blocks it.
        abbreviations: Propagate labels between abbreviations' long and short
            forms (needs scispaCy's ``abbreviation_detector`` earlier in the
            pipeline; without it this step finds nothing).
        long_form_head: When the long form is not itself an entity, use the
            label of an entity ending where the long form ends (its head:
            ``dyskinesia`` in ``levodopa-induced dyskinesia (LID)``).
        relabel_short: Give short forms tagged with another label the long
            form's label.
        trim: Split a trailing hyphen or full stop off an entity's last token.
    """

    propagate: bool = True
    ignore_case: bool = False
    min_chars: int = 2
    replace_contained: bool = True
    abbreviations: bool = True
    long_form_head: bool = True
    relabel_short: bool = True
    trim: bool = True

    def describe(self) -> str:
        """Short human-readable list of the steps switched on."""
        steps = []
        if self.abbreviations:
            steps.append("abbreviations")
        if self.propagate:
            case = "case-insensitive" if self.ignore_case else "case-sensitive"
            steps.append(f"propagation ({case}, min {self.min_chars} chars)")
        if self.trim:
            steps.append("boundary trim")
        return ", ".join(steps) or "none"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


# ------------------------------------------------------------------ helpers


def _overlaps(a: _Ent, b: _Ent) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def _free(span: _Ent, ents: Iterable[_Ent]) -> bool:
    return not any(_overlaps(span, e) for e in ents)


def _abbreviation_pairs(doc: Doc) -> dict[tuple[int, int], set[tuple[int, int]]]:
    """Long-form token span -> short-form token spans, from ``doc._.abbreviations``.

    Reads both forms the detector writes: serialisable dicts
    (``make_serializable=True``, what litmine uses) and Spans with
    ``._.long_form``.
    """
    pairs: dict[tuple[int, int], set[tuple[int, int]]] = defaultdict(set)
    if not Doc.has_extension("abbreviations"):
        return pairs
    for item in doc._.abbreviations:
        if isinstance(item, dict):
            long_span = (int(item["long_start"]), int(item["long_end"]))
            pairs[long_span].add((int(item["short_start"]), int(item["short_end"])))
            continue
        long_form = item._.long_form
        if isinstance(long_form, Span):
            pairs[(long_form.start, long_form.end)].add((item.start, item.end))
    return pairs


def _majority(labels: Sequence[str]) -> str | None:
    """Most frequent label; None on a tie (the document disagrees with itself)."""
    if not labels:
        return None
    ranked = Counter(labels).most_common(2)
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        return None
    return ranked[0][0]


# ------------------------------------------------------------------ steps


def _abbreviation_step(doc: Doc, ents: list[_Ent], options: ConsistencyOptions) -> list[_Ent]:
    """Share one label between each long form and its short forms (step 1)."""
    for (ls, le), shorts in sorted(_abbreviation_pairs(doc).items()):
        by_span = {(s, e): label for s, e, label in ents}
        long_label = by_span.get((ls, le))
        if long_label is None and options.long_form_head:
            heads = [e for e in ents if e[1] == le and ls <= e[0] < le]
            long_label = heads[0][2] if heads else None
        short_labels = [by_span[s] for s in sorted(shorts) if s in by_span]
        label = long_label or _majority(short_labels)
        if label is None:
            continue
        if long_label is None and _free((ls, le, label), ents):
            # Only short forms were tagged: the definition is the same entity.
            ents.append((ls, le, label))
        for s, e in sorted(shorts):
            current = by_span.get((s, e))
            if current is None:
                if _free((s, e, label), ents):
                    ents.append((s, e, label))
            elif current != label and long_label is not None and options.relabel_short:
                ents.remove((s, e, current))
                ents.append((s, e, label))
    return ents


def _key(tokens: Sequence[str], ignore_case: bool) -> tuple[str, ...]:
    if not ignore_case:
        return tuple(tokens)
    text = "".join(tokens)
    # Capitals-and-digits strings are abbreviations or formulas: keep their case.
    if not any(c.islower() for c in text):
        return tuple(tokens)
    return tuple(t.lower() for t in tokens)


def _propagation_step(doc: Doc, ents: list[_Ent], options: ConsistencyOptions) -> list[_Ent]:
    """Tag the other occurrences of every tagged string (step 2)."""
    words = [t.text for t in doc]
    lowered = [w.lower() for w in words]
    labels: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for start, end, label in ents:
        span_words = words[start:end]
        if len(doc[start:end].text) < options.min_chars:
            continue
        if not any(c.isalnum() for w in span_words for c in w):
            continue
        labels[_key(span_words, options.ignore_case)].append(label)
    # First token -> (key, label), longest keys first so the longest match is found.
    by_first: dict[str, list[tuple[tuple[str, ...], str]]] = defaultdict(list)
    for key, found in labels.items():
        majority = _majority(found)
        if majority is not None:
            by_first[key[0]].append((key, majority))
    for candidates in by_first.values():
        candidates.sort(key=lambda kl: -len(kl[0]))
    matches: list[_Ent] = []
    for i in range(len(words)):
        candidates = by_first.get(words[i], [])
        if options.ignore_case and lowered[i] != words[i]:
            candidates = candidates + by_first.get(lowered[i], [])
        for key, label in candidates:
            n = len(key)
            if tuple(words[i : i + n]) == key or (
                options.ignore_case and tuple(lowered[i : i + n]) == key
            ):
                matches.append((i, i + n, label))
                break
    # Longest matches first, so a longer occurrence claims its tokens first.
    for match in sorted(matches, key=lambda m: (m[0] - m[1], m[0])):
        hit = [e for e in ents if _overlaps(match, e)]
        if not hit:
            ents.append(match)
        elif options.replace_contained and all(
            match[0] <= e[0] and e[1] <= match[1] and e[:2] != match[:2] for e in hit
        ):
            for e in hit:
                ents.remove(e)
            ents.append(match)
    return ents


def _trim_step(doc: Doc, ents: list[_Ent]) -> list[tuple[int, int, str]]:
    """Character spans of the entities, trailing ``-``/``.`` of the last token dropped."""
    out = []
    for s, e, label in ents:
        span = doc[s:e]
        start, end = span.start_char, span.end_char
        last = doc[e - 1].text
        if len(last) > 1 and last[-1] in _TRAILING and last[:-1].isalnum():
            end -= 1
        out.append((start, end, label))
    return out


def _split_tokens(doc: Doc, char_ents: Sequence[tuple[int, int, str]]) -> None:
    """Split tokens so that every character span ends on a token boundary.

    Splitting shifts token indices, so the abbreviation detector's output
    (token offsets in its serialisable dicts, Spans otherwise) is re-anchored
    by character offsets afterwards; later components (the entity linker, the
    extraction's long-form lookup) still find it.
    """
    ends = {end for _, end, _ in char_ents}
    to_split = [t for t in doc if len(t) > 1 and t.idx + len(t) - 1 in ends]
    if not to_split:
        return
    anchors = [
        (item, _char_offsets(doc, item, "short"), _char_offsets(doc, item, "long"))
        for item in (doc._.abbreviations if Doc.has_extension("abbreviations") else [])
    ]
    with doc.retokenize() as retokenizer:
        for token in to_split:
            # The word keeps the token's head; the split-off character hangs on the word.
            head = (token, 0) if token.head.i == token.i else token.head
            retokenizer.split(token, [token.text[:-1], token.text[-1]], heads=[head, (token, 0)])
    if doc.tensor is not None and doc.tensor.shape[0] > len(doc):
        # spaCy 3.8's split grows the tensor by one row too many per split token
        # (the surplus rows are zeros at the end); keep one row per token.
        doc.tensor = doc.tensor[: len(doc)]
    if anchors:
        doc._.abbreviations = [_reanchor(doc, *anchor) for anchor in anchors]


def _char_offsets(doc: Doc, item: Any, form: str) -> tuple[int, int]:
    if isinstance(item, dict):
        first, end = doc[int(item[f"{form}_start"])], doc[int(item[f"{form}_end"]) - 1]
        return first.idx, end.idx + len(end)
    span = item if form == "short" else item._.long_form
    return (span.start_char, span.end_char) if isinstance(span, Span) else (-1, -1)


def _reanchor(doc: Doc, item: Any, short: tuple[int, int], long: tuple[int, int]) -> Any:
    if short[0] < 0 or long[0] < 0:
        return item
    new_short, new_long = doc.char_span(*short), doc.char_span(*long)
    if new_short is None or new_long is None:  # pragma: no cover - splits only add boundaries
        return item
    if isinstance(item, dict):
        return {
            **item,
            "short_start": new_short.start,
            "short_end": new_short.end,
            "long_start": new_long.start,
            "long_end": new_long.end,
        }
    new_short._.long_form = new_long
    return new_short


def make_consistent(doc: Doc, options: ConsistencyOptions | None = None) -> Doc:
    """Apply the consistency steps to ``doc.ents`` in place.

    Args:
        doc: A document with ``ents`` (and ``_.abbreviations`` for step 1).
        options: Steps and policies; defaults to :class:`ConsistencyOptions`.

    Returns:
        The same document, its entities edited.
    """
    options = options or ConsistencyOptions()
    ents: list[_Ent] = [(e.start, e.end, e.label_) for e in doc.ents]
    before = {(e.start_char, e.end_char, e.label_) for e in doc.ents}
    if options.abbreviations:
        ents = _abbreviation_step(doc, ents, options)
    if options.propagate:
        ents = _propagation_step(doc, ents, options)
    if options.trim:
        char_ents = _trim_step(doc, ents)
    else:
        char_ents = [(doc[s].idx, doc[e - 1].idx + len(doc[e - 1]), lab) for s, e, lab in ents]
    if set(char_ents) == before:
        return doc
    if options.trim:
        _split_tokens(doc, char_ents)
    spans = []
    for start, end, label in sorted(char_ents):
        span = doc.char_span(start, end, label=label)
        if span is not None:
            spans.append(span)
    doc.ents = spans
    return doc


class EntityConsistency:
    """The pipeline component: :func:`make_consistent` with fixed options."""

    def __init__(self, options: ConsistencyOptions) -> None:
        self.options = options

    def __call__(self, doc: Doc) -> Doc:
        """Edit ``doc.ents`` in place and return the document."""
        return make_consistent(doc, self.options)


@Language.factory(
    FACTORY,
    default_config=ConsistencyOptions().as_dict(),
    requires=["doc.ents"],
    assigns=["doc.ents"],
)
def create_consistency(
    nlp: Language,
    name: str,
    propagate: bool,
    ignore_case: bool,
    min_chars: int,
    replace_contained: bool,
    abbreviations: bool,
    long_form_head: bool,
    relabel_short: bool,
    trim: bool,
) -> EntityConsistency:
    """Build the component (``nlp.add_pipe("litmine_consistency", config={...})``)."""
    return EntityConsistency(
        ConsistencyOptions(
            propagate=propagate,
            ignore_case=ignore_case,
            min_chars=min_chars,
            replace_contained=replace_contained,
            abbreviations=abbreviations,
            long_form_head=long_form_head,
            relabel_short=relabel_short,
            trim=trim,
        )
    )

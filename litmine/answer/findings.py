"""Findings first: choose the sentences of an abstract that state results.

Pure scoring and selection (:func:`sentence_role`, :func:`finding_scores`,
:func:`choose_sentences`) and :class:`FindingsSummarizer`, the extractive
summariser built on them:

* A sentence's *role* comes from its abstract section (the store keeps
  structured-abstract labels: RESULTS and CONCLUSIONS are findings,
  BACKGROUND/OBJECTIVE are background, METHODS/DESIGN/PATIENTS are methods),
  else from a label written inline (``CONCLUSIONS Smoking impairs...``),
  else from cues: effect sizes, confidence intervals, p values, "associated
  with", "reduced", "no significant" mark findings; "we aimed to", "little is
  known" mark background; "were enrolled", "we retrospectively reviewed" mark
  methods.
* Scores add the role, the result cues, the similarity to the question and
  the share of the question's terms the sentence holds.
* Summaries quote the chosen sentences without their bracketed statistics
  and p values (:func:`elide_statistics`; the evidence table keeps them).
* Selection takes one sentence per article (articles in the order given,
  most relevant first) before a second from any article, skips sentences too
  similar to one already chosen, and uses background or methods sentences
  only when the cluster has no finding at all.

``bench/answer_trust.py`` scores the result against PubMedQA's conclusions
(ROUGE-L) beside the lead-3 and last-two-sentences baselines.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from litmine.answer.summarize import ExtractiveSummarizer
from litmine.types import Passage, Summary, SummarySentence
from litmine.vectors.normalize import l2_normalize, tfidf_rows

__all__ = [
    "BACKGROUND",
    "FINDINGS",
    "METHODS",
    "FindingsSummarizer",
    "choose_sentences",
    "cue_count",
    "elide_statistics",
    "finding_scores",
    "is_extract_of",
    "key_finding",
    "question_terms",
    "section_role",
    "sentence_role",
    "split_inline_label",
    "term_overlap",
]

FINDINGS = "findings"
BACKGROUND = "background"
METHODS = "methods"

_FINDINGS_LABELS = ("RESULT", "FINDING", "CONCLU", "INTERPRETATION", "DISCUSSION", "SUMMARY")
_BACKGROUND_LABELS = (
    "BACKGROUND",
    "INTRODUCTION",
    "CONTEXT",
    "OBJECTIVE",
    "AIM",
    "PURPOSE",
    "RATIONALE",
    "IMPORTANCE",
    "HYPOTHES",
    "QUESTION",
)
_METHODS_LABELS = (
    "METHOD",
    "DESIGN",
    "SETTING",
    "PATIENT",
    "PARTICIPANT",
    "SUBJECT",
    "INTERVENTION",
    "MEASURE",
    "MATERIAL",
    "POPULATION",
    "PROCEDURE",
    "SAMPLE",
    "DATA SOURCE",
    "STUDY SELECTION",
    "DATA EXTRACTION",
    "ANALYSIS",
)

_INLINE_LABEL = re.compile(
    r"^\s*((?:[A-Z]{3,}(?:,)?\s+(?:AND\s+|&\s+)?){0,3}?"
    r"(?:BACKGROUND|INTRODUCTION|CONTEXT|OBJECTIVES?|AIMS?|PURPOSES?|RATIONALE|IMPORTANCE|"
    r"METHODS?|METHODOLOGY|DESIGN|SETTINGS?|PATIENTS|PARTICIPANTS|SUBJECTS|INTERVENTIONS?|"
    r"MEASUREMENTS|MEASURES|RESULTS?|FINDINGS|CONCLUSIONS?|INTERPRETATION|DISCUSSION|"
    r"SIGNIFICANCE|SUMMARY))\s*[:.]?\s+(?=\S)"
)
_TITLE_LABEL = re.compile(
    r"^\s*(Background|Introduction|Objectives?|Aims?|Purpose|Methods?|Design|Setting|"
    r"Results?|Findings|Conclusions?|Interpretation)\s*:\s+"
)

_RESULT_CUES = re.compile(
    r"\b(significant(ly)?|no significant|not significant(ly)?|associated with|"
    r"associations?|correlat\w+|reduc\w+|increas\w+|decreas\w+|improv\w+|lower|higher|"
    r"greater|fewer|less|more likely|odds ratios?|hazard ratios?|relative risks?|"
    r"risk ratios?|confidence intervals?|95\s?%|CI|OR|HR|RR|AUC|sensitivity|specificity|"
    r"p\s?[<=>≤]\s?0?\.\d+|compared (with|to)|did not|was not|were not|no difference|"
    r"differ\w*|showed|shown|found|demonstrat\w+|reveal\w+|suggest\w*|conclu\w+|"
    r"indicat\w+|effective|efficacy|benefit\w*|predict\w*|independent(ly)?|"
    r"protective|risk of|outperform\w*)\b|\d+(\.\d+)?\s?%",
    re.IGNORECASE,
)
_BACKGROUND_CUES = re.compile(
    r"\b(we (aimed|sought|set out|wished|hypothesi[sz]ed)|the (aim|objective|purpose|goal)s? "
    r"(of|was|were|is)|this study (aimed|was designed|examined|investigated|sought)|"
    r"(is|are|remains?) (unknown|unclear|controversial|poorly understood)|little is known|"
    r"to (evaluate|assess|determine|investigate|examine|compare|describe|explore|identify) "
    r"(the|whether|if|how)|has been (suggested|proposed|reported)|is a (common|major|leading))",
    re.IGNORECASE,
)
_METHODS_CUES = re.compile(
    r"\b((were|was) (enrolled|recruited|randomi[sz]ed|included|assigned|allocated|measured|"
    r"collected|obtained|reviewed|performed|administered|followed|interviewed|asked|"
    r"divided|selected|identified|used)|we (conducted|performed|enrolled|recruited|"
    r"reviewed|analy[sz]ed|studied|used|retrospectively|prospectively|compared)|"
    r"retrospective(ly)? review|data (were|was)|a questionnaire|medical records)\b",
    re.IGNORECASE,
)

_STOP_TEXT = (
    "a about after against all also among an and any are as at be been before between both "
    "but by can could did do does doing during each effect effects for from had has have "
    "how however if in into is it its may might more most no not of on or other our over "
    "should such than that the their there these this those through to under use used "
    "using versus vs was were what when whether which while who why will with within "
    "without would patient patients study studies"
)
_STOP: frozenset[str] = frozenset(_STOP_TEXT.split())
_WORD = re.compile(r"[a-z0-9][a-z0-9\-]*")


def section_role(label: str | None) -> str | None:
    """The role of a structured-abstract section from its label.

    Args:
        label: Section label or NLM category (``"RESULTS"``, ``"MATERIALS AND METHODS"``).

    Returns:
        :data:`FINDINGS`, :data:`BACKGROUND`, :data:`METHODS`, or None for
        no label or a mixed one (``"METHODS AND RESULTS"`` is findings).
    """
    if not label:
        return None
    upper = label.upper()
    if any(k in upper for k in _FINDINGS_LABELS):
        return FINDINGS
    if any(k in upper for k in _METHODS_LABELS):
        return METHODS
    if any(k in upper for k in _BACKGROUND_LABELS):
        return BACKGROUND
    return None


def split_inline_label(sentence: str) -> tuple[str | None, str]:
    """Split a section label written at the start of a sentence.

    Args:
        sentence: A sentence (``"CONCLUSIONS Smoking impairs..."``, ``"Results: ..."``).

    Returns:
        ``(label, rest)``; ``(None, sentence)`` when it starts with no label.
    """
    match = _INLINE_LABEL.match(sentence) or _TITLE_LABEL.match(sentence)
    if not match:
        return None, sentence
    rest = sentence[match.end() :]
    if len(rest) < 15:
        return None, sentence
    return match.group(1).strip(" ,"), rest


def cue_count(sentence: str) -> tuple[int, int, int]:
    """Counts of result, background and methods cues in a sentence."""
    return (
        len(_RESULT_CUES.findall(sentence)),
        len(_BACKGROUND_CUES.findall(sentence)),
        len(_METHODS_CUES.findall(sentence)),
    )


def sentence_role(sentence: str, section: str | None = None) -> str | None:
    """A sentence's role: from its section, its inline label, else its cues.

    Args:
        sentence: The sentence.
        section: Label of the abstract section it is in, if any.

    Returns:
        :data:`FINDINGS`, :data:`BACKGROUND`, :data:`METHODS` or None (no clue).
    """
    role = section_role(section)
    if role is not None:
        return role
    label, _ = split_inline_label(sentence)
    role = section_role(label)
    if role is not None:
        return role
    results, background, methods = cue_count(sentence)
    if background:
        return BACKGROUND
    if methods and results <= methods:
        return METHODS
    if results >= 2:
        return FINDINGS
    return None


def _stem(word: str) -> str:
    """A light stem: one common suffix off, then a final ``e`` (fracture/fractures/fractured)."""
    for suffix in ("ations", "ation", "ings", "ing", "ies", "ed", "ly", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            word = word[: -len(suffix)]
            break
    return word[:-1] if word.endswith("e") and len(word) >= 5 else word


def question_terms(text: str) -> list[str]:
    """Content terms of a question, lower-cased and lightly stemmed, without repeats."""
    words = (w.strip("-") for w in _WORD.findall(text.lower()))
    return list(dict.fromkeys(_stem(w) for w in words if len(w) > 2 and w not in _STOP))


def term_overlap(terms: Sequence[str], text: str) -> float:
    """Share of ``terms`` (from :func:`question_terms`) that occur in ``text``."""
    if not terms:
        return 0.0
    have = set(question_terms(text))
    return sum(t in have for t in terms) / len(terms)


_P_VALUE = re.compile(r",?\s*\(?\b[pP]\s*[<=>≤≥]\s*0?\.\d+\)?")


def _drop_numeric_groups(text: str) -> str:
    """Remove top-level bracketed groups (nested ones included) that hold a digit."""
    out: list[str] = []
    depth = 0
    start = 0
    for i, ch in enumerate(text):
        if ch in "([":
            if depth == 0:
                start = i
            depth += 1
        elif ch in ")]" and depth:
            depth -= 1
            if depth == 0:
                group = text[start : i + 1]
                if not any(c.isdigit() for c in group):
                    out.append(group)
        elif depth == 0:
            out.append(ch)
    if depth:  # unbalanced: leave the text alone
        return text
    return "".join(out)


def elide_statistics(sentence: str) -> str:
    """A sentence without its bracketed statistics and p values, for a readable summary.

    ``"X lowered Y (OR 0.7, 95% CI 0.5-0.9; p = 0.01)."`` becomes ``"X lowered Y."``;
    every remaining word is the sentence's own, in order. The evidence table
    keeps the full sentence.
    """
    text = _P_VALUE.sub("", _drop_numeric_groups(sentence))
    text = re.sub(r"\s+([,.;:])", r"\1", text)
    text = " ".join(text.split())
    return text if len(text) >= 20 else sentence


def is_extract_of(sentence: str, passage: str) -> bool:
    """Whether every word of ``sentence`` appears in ``passage``, in the same order.

    True for a verbatim sentence and for one whose statistics were elided
    (:func:`elide_statistics`): the check that a summary sentence is
    supported by the passage it cites.
    """
    tokens = re.findall(r"\w+", sentence.lower())
    words = iter(re.findall(r"\w+", passage.lower()))
    return bool(tokens) and all(any(t == w for w in words) for t in tokens)


@dataclass(slots=True, frozen=True)
class FindingWeights:
    """Weights of :func:`finding_scores` (chosen on PubMedQA dev, ``bench/answer_trust.py``).

    Attributes:
        findings: Bonus of a results/conclusions sentence.
        conclusion: Extra bonus of a conclusions sentence.
        cues: Weight of result cues (up to three counted).
        question: Weight of the cosine similarity to the question.
        overlap: Weight of the share of question terms in the sentence.
    """

    findings: float = 1.0
    conclusion: float = 0.3
    cues: float = 0.1
    question: float = 0.5
    overlap: float = 0.2


def finding_scores(
    roles: Sequence[str | None],
    conclusions: Sequence[bool],
    cues: Sequence[int],
    question_similarity: np.ndarray,
    overlap: Sequence[float],
    weights: FindingWeights | None = None,
) -> np.ndarray:
    """Score sentences for stating findings that answer the question.

    Args:
        roles: Per sentence, its role (:func:`sentence_role`).
        conclusions: Per sentence, whether it is in (or labelled) a conclusions section.
        cues: Per sentence, its number of result cues.
        question_similarity: Per sentence, cosine similarity to the question.
        overlap: Per sentence, share of the question's terms it holds.
        weights: The weights; None uses the defaults.

    Returns:
        ``(n,)`` scores, higher is better.
    """
    w = weights or FindingWeights()
    role = np.array([r == FINDINGS for r in roles], dtype=np.float64)
    concl = np.array(conclusions, dtype=np.float64)
    cue = np.minimum(np.array(cues, dtype=np.float64), 3.0) / 3.0
    return (
        w.findings * role
        + w.conclusion * concl
        + w.cues * cue
        + w.question * np.asarray(question_similarity, dtype=np.float64)
        + w.overlap * np.array(overlap, dtype=np.float64)
    )


def choose_sentences(
    scores: np.ndarray,
    articles: Sequence[int],
    roles: Sequence[str | None],
    similarity: np.ndarray,
    *,
    max_sentences: int = 3,
    redundancy: float = 0.85,
) -> list[int]:
    """Pick sentences: findings first, one per article per round, no near-duplicates.

    Only findings are eligible when there are any; else sentences of unknown
    role; background and methods sentences only when nothing else is left.
    Round ``r`` takes each article's best remaining eligible sentence, articles
    in the order of their numbers (0 = most relevant), so no article gives a
    second sentence before every article has given one.

    Args:
        scores: ``(n,)`` sentence scores (:func:`finding_scores`).
        articles: Per sentence, its article's number.
        roles: Per sentence, its role.
        similarity: ``(n, n)`` cosine similarities between sentences.
        max_sentences: Sentences to pick.
        redundancy: A sentence at least this similar to a chosen one is skipped.

    Returns:
        Indices of the chosen sentences, in the order chosen.
    """
    n = len(scores)
    if n == 0:
        return []
    tiers = (
        [i for i in range(n) if roles[i] == FINDINGS],
        [i for i in range(n) if roles[i] is None],
        [i for i in range(n) if roles[i] in (BACKGROUND, METHODS)],
    )
    pool = next((t for t in tiers if t), [])
    by_article: dict[int, list[int]] = {}
    for i in sorted(pool, key=lambda i: (-float(scores[i]), i)):
        by_article.setdefault(int(articles[i]), []).append(i)
    order = sorted(by_article)
    chosen: list[int] = []
    while len(chosen) < max_sentences and any(by_article[a] for a in order):
        for a in order:
            queue = by_article[a]
            while queue:
                i = queue.pop(0)
                if all(float(similarity[i, j]) < redundancy for j in chosen):
                    chosen.append(i)
                    break
            if len(chosen) >= max_sentences:
                break
    return chosen


@dataclass(slots=True)
class _Candidate:
    text: str
    pmid: str
    passage_id: int
    cluster: int
    article: int
    role: str | None
    conclusion: bool
    cues: int


def _candidates(clusters: Sequence[Sequence[Passage]], splitter: str) -> list[_Candidate]:
    from litmine.passages import sentence_spans

    out: list[_Candidate] = []
    for c, passages in enumerate(clusters):
        seen: set[str] = set()
        numbers: dict[str, int] = {}
        for passage in passages:
            article = numbers.setdefault(passage.pmid, len(numbers))
            for start, end in sentence_spans(passage.text, splitter):
                raw = " ".join(passage.text[start:end].split())
                label, text = split_inline_label(raw)
                key = text.lower()
                if len(text) < 20 or key in seen:
                    continue
                seen.add(key)
                role = sentence_role(text, passage.section or label)
                section = (passage.section or label or "").upper()
                out.append(
                    _Candidate(
                        text=text,
                        pmid=passage.pmid,
                        passage_id=passage.id,
                        cluster=c,
                        article=article,
                        role=role,
                        conclusion="CONCLU" in section or "INTERPRETATION" in section,
                        cues=cue_count(text)[0],
                    )
                )
    return out


class FindingsSummarizer(ExtractiveSummarizer):
    """Extractive summaries that state findings: results and conclusions first.

    Same arguments as :class:`~litmine.summarize.ExtractiveSummarizer`;
    ``question_weight`` and ``mmr_lambda`` are not used (see
    :class:`FindingWeights`). Passages must come most relevant article first:
    that order decides which article gives the first sentence.
    """

    weights = FindingWeights()

    def summarize(self, question: str, clusters: Sequence[Sequence[Passage]]) -> list[Summary]:
        """Summarise each cluster; see :meth:`litmine.summarize.Summarizer.summarize`."""
        candidates = _candidates(clusters, self.splitter)
        out = [
            Summary(text="", method=self.method, reason=self.reason) for _ in range(len(clusters))
        ]
        if not candidates:
            return out
        vectors, query = self._vectors(question, [s.text for s in candidates])
        terms = question_terms(question)
        sims = vectors @ query
        overlap = [term_overlap(terms, s.text) for s in candidates]
        scores = finding_scores(
            [s.role for s in candidates],
            [s.conclusion for s in candidates],
            [s.cues for s in candidates],
            sims,
            overlap,
            self.weights,
        )
        owner = np.fromiter((s.cluster for s in candidates), dtype=np.int64, count=len(candidates))
        for c in range(len(clusters)):
            rows = np.flatnonzero(owner == c)
            if not len(rows):
                continue
            local = [candidates[int(i)] for i in rows]
            picked = choose_sentences(
                scores[rows],
                [s.article for s in local],
                [s.role for s in local],
                vectors[rows] @ vectors[rows].T,
                max_sentences=self.max_sentences,
                redundancy=self.redundancy,
            )
            chosen = [local[i] for i in picked]
            texts = [elide_statistics(s.text) for s in chosen]
            out[c] = Summary(
                text=" ".join(f"{t} [PMID {s.pmid}]" for t, s in zip(texts, chosen, strict=True)),
                method=self.method,
                cited_pmids=list(dict.fromkeys(s.pmid for s in chosen)),
                reason=self.reason,
                passage_ids=list(dict.fromkeys(s.passage_id for s in chosen)),
                sentences=[
                    SummarySentence(t, s.pmid, s.passage_id)
                    for t, s in zip(texts, chosen, strict=True)
                ],
            )
        return out


def key_finding(
    question: str,
    sentences: Sequence[tuple[str, str | None]],
) -> str:
    """The one sentence of an article that best states a finding for the question.

    Args:
        question: The question.
        sentences: The article's sentences with their section labels.

    Returns:
        The sentence (inline label removed), or ``""`` when there is none.
    """
    items = []
    for raw, section in sentences:
        label, text = split_inline_label(" ".join(raw.split()))
        if len(text) >= 20:
            items.append((text, sentence_role(text, section or label), section or label or ""))
    if not items:
        return ""
    vectors = tfidf_rows([*(t for t, _, _ in items), question], stop_words="english")
    terms = question_terms(question)
    scores = finding_scores(
        [r for _, r, _ in items],
        ["CONCLU" in s.upper() for _, _, s in items],
        [cue_count(t)[0] for t, _, _ in items],
        vectors[:-1] @ vectors[-1],
        [term_overlap(terms, t) for t, _, _ in items],
    )
    roles = [r for _, r, _ in items]
    picked = choose_sentences(
        scores,
        [0] * len(items),
        roles,
        l2_normalize(vectors[:-1]) @ l2_normalize(vectors[:-1]).T,
        max_sentences=1,
    )
    return items[picked[0]][0] if picked else ""

"""Evidence tables: study design, sample size and key finding of each cited article.

Pure functions over strings and records (no store, no model):

* :func:`study_design` names an article's design from its PubMed publication
  types where they are specific, else from MeSH design headings, else from
  rules over its title and abstract (randomised trial, systematic review,
  meta-analysis, cohort, case-control, cross-sectional, case report, animal,
  in vitro...). ``bench/answer_trust.py`` measures the text rules against the
  publication types and MeSH design headings of the stored records.
* :func:`sample_size` reads the number of participants an abstract states
  (``n = 123``, ``a total of 6110 residents``, ``120 consecutive patients``).
* :func:`evidence_rows` builds a cluster's :class:`~litmine.types.EvidenceRow`
  table and :func:`profile_of_rows` its evidence profile.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from litmine.types import EvidenceProfile, EvidenceRow

if TYPE_CHECKING:
    import pandas as pd

    from litmine.types import Answer

__all__ = [
    "DESIGNS",
    "EVIDENCE_COLUMNS",
    "design_from_mesh",
    "design_from_publication_types",
    "design_from_text",
    "evidence_frame",
    "evidence_row",
    "profile_of_rows",
    "sample_size",
    "study_design",
    "table_lines",
]

DESIGNS: tuple[str, ...] = (
    "meta-analysis",
    "systematic review",
    "randomised trial",
    "clinical trial",
    "cohort",
    "case-control",
    "cross-sectional",
    "case report",
    "animal",
    "in vitro",
    "review",
    "other",
)
"""Study designs, strongest clinical evidence first."""

# PubMed publication types (lower case) -> design; the first match in DESIGNS order wins.
_PUBTYPE_DESIGN: dict[str, str] = {
    "meta-analysis": "meta-analysis",
    "network meta-analysis": "meta-analysis",
    "systematic review": "systematic review",
    "randomized controlled trial": "randomised trial",
    "equivalence trial": "randomised trial",
    "pragmatic clinical trial": "clinical trial",
    "controlled clinical trial": "clinical trial",
    "clinical trial": "clinical trial",
    "clinical trial, phase i": "clinical trial",
    "clinical trial, phase ii": "clinical trial",
    "clinical trial, phase iii": "clinical trial",
    "clinical trial, phase iv": "clinical trial",
    "adaptive clinical trial": "clinical trial",
    "case reports": "case report",
    "review": "review",
    "scoping review": "review",
}

# MeSH descriptors (lower case) that index a study's design -> design.
_MESH_DESIGN: dict[str, str] = {
    "case-control studies": "case-control",
    "cross-sectional studies": "cross-sectional",
    "cohort studies": "cohort",
    "prospective studies": "cohort",
    "retrospective studies": "cohort",
    "longitudinal studies": "cohort",
    "follow-up studies": "cohort",
}

_F = re.IGNORECASE
_META = re.compile(r"\bmeta-?analy[sz]", _F)
_META_OWN = re.compile(
    r"\b(this|our|a|the present|we (performed|conducted|undertook|did))\s+"
    r"(systematic review and )?meta-?analy[sz]|\bmeta-?analy[sz]\w* (of|was|were) (performed|"
    r"conducted|undertaken)|\bpooled (analysis|estimates?)\b",
    _F,
)
_SYSTEMATIC = re.compile(r"\bsystematic(ally)?\s+(literature\s+)?review", _F)
_SYSTEMATIC_OWN = re.compile(
    r"\b(this|our|a|we (performed|conducted|undertook|did) a)\s+systematic\s+(literature\s+)?"
    r"review|\bwe systematically (searched|reviewed)\b|\bsearched (medline|pubmed|embase)",
    _F,
)
_RCT = re.compile(
    r"\brandomi[sz]ed[\w\s,-]{0,40}?\btrial\b|\brandomi[sz]ed,?\s+(double|single|triple)"
    r"[- ]blind|\b(were|was)\s+randomi[sz]ed\b|\brandomly\s+(assigned|allocated|divided)\b|"
    r"\brandomi[sz]ation\b",
    _F,
)
_TRIAL = re.compile(r"\b(clinical|controlled|open-label|pilot|phase [1-4iv]+)\s+trial\b", _F)
_CASE_REPORT = re.compile(
    r"\bcase report\b|\bwe (report|describe|present) (a|an|the|two|three|one) (\w+ ){0,3}?"
    r"(case|patient|man|woman|boy|girl|infant)s?\b|\ba \d{1,3}-(year|month)-old\b",
    _F,
)
_CASE_CONTROL = re.compile(r"\bcase[- ]control\b|\bmatched controls\b", _F)
_CROSS_SECTIONAL = re.compile(
    r"\bcross[- ]sectional\b|\bprevalence (study|survey)\b|\bnational (health )?survey\b", _F
)
_COHORT = re.compile(
    r"\bcohort\b|\bprospective(ly)?\b|\bretrospective(ly)?\b|\blongitudinal\b|"
    r"\bfollowed (up )?for\b|\bfollow-up\b|\bregistry\b|\bchart review\b|"
    r"\b(medical|hospital|clinical|patient) (records|charts|files|notes)\b|"
    r"\b(were|was) reviewed\b|\bwe reviewed\b|\bconsecutive\b|\bdatabase\b|"
    r"\bbetween (19|20)\d\d and (19|20)\d\d\b|\bfrom (19|20)\d\d (to|through|until) "
    r"(19|20)\d\d\b|\boutcomes? (of|in) \d+ patients\b",
    _F,
)
_ANIMAL = re.compile(
    r"\b(mice|mouse|murine|rats?|rodents?|zebrafish|drosophila|piglets?|porcine|canine|"
    r"dogs|rabbits?|primates|monkeys|macaques?|sheep|ovine|bovine|hamsters?|guinea pigs?|"
    r"knockout|transgenic)\b",
    _F,
)
_IN_VITRO = re.compile(
    r"\bin vitro\b|\bcell lines?\b|\bcultured\b|\bcell cultures?\b|\bhela\b|\bhek ?293\b|"
    r"\bcells were (treated|incubated|transfected|exposed)\b",
    _F,
)
_HUMAN = re.compile(
    r"\b(patients?|participants?|subjects|volunteers|women|men|children|adults|infants|"
    r"residents|respondents|individuals|persons|people|cases|pregnan\w+|adolescents|"
    r"students|veterans|smokers|clinical)\b",
    _F,
)
_REVIEW = re.compile(r"\breview\b|\boverview\b|\bupdate on\b|\bperspective\b", _F)


def design_from_publication_types(publication_types: Iterable[str]) -> str | None:
    """The design named by PubMed publication types, strongest first.

    Args:
        publication_types: PubMed publication types of one article.

    Returns:
        A design of :data:`DESIGNS`, or None when the types name none
        (``Journal Article``, ``Comparative Study``...).
    """
    found = {_PUBTYPE_DESIGN.get(t.strip().lower()) for t in publication_types}
    return next((d for d in DESIGNS if d in found), None)


def design_from_mesh(mesh_terms: Iterable[str]) -> str | None:
    """The design indexed by MeSH headings (case-control, cross-sectional, cohort).

    ``Animals`` without ``Humans`` gives ``"animal"``.

    Args:
        mesh_terms: MeSH descriptor names of one article.

    Returns:
        A design of :data:`DESIGNS`, or None.
    """
    terms = {t.strip().lower() for t in mesh_terms}
    found = {_MESH_DESIGN[t] for t in terms if t in _MESH_DESIGN}
    design = next((d for d in DESIGNS if d in found), None)
    if design is None and "animals" in terms and "humans" not in terms:
        return "animal"
    return design


def design_from_text(title: str, abstract: str) -> str:
    """Study design from rules over the title and abstract.

    The title is read first (a design it names wins), then the abstract; a
    meta-analysis or systematic review must be the article's own (``we
    performed a meta-analysis``), not one cited in its background. Animal
    and in-vitro studies need their cues without human participants.

    Args:
        title: Article title.
        abstract: Abstract text.

    Returns:
        A design of :data:`DESIGNS` (``"other"`` when no rule fires).
    """
    head = title or ""
    text = f"{head}\n{abstract or ''}"
    if _META.search(head):
        return "meta-analysis"
    if _SYSTEMATIC.search(head):
        return "systematic review"
    if _META_OWN.search(abstract or ""):
        return "meta-analysis"
    if _SYSTEMATIC_OWN.search(abstract or ""):
        return "systematic review"
    if _RCT.search(text):
        return "randomised trial"
    if _CASE_REPORT.search(head) or (
        _CASE_REPORT.search(abstract or "") and len(abstract or "") < 1500
    ):
        return "case report"
    if _TRIAL.search(text):
        return "clinical trial"
    if _CASE_CONTROL.search(text):
        return "case-control"
    if _CROSS_SECTIONAL.search(text):
        return "cross-sectional"
    animal = len(_ANIMAL.findall(text))
    human = len(_HUMAN.findall(text))
    if animal >= 2 and human <= animal // 2:
        return "animal"
    if _IN_VITRO.search(text) and human == 0:
        return "in vitro"
    if _COHORT.search(text):
        return "cohort"
    if animal >= 1 and human == 0:
        return "animal"
    if _REVIEW.search(head):
        return "review"
    return "other"


def study_design(
    publication_types: Sequence[str],
    mesh_terms: Sequence[str],
    title: str,
    abstract: str,
) -> tuple[str, str]:
    """An article's study design and where it was read.

    Args:
        publication_types: PubMed publication types.
        mesh_terms: MeSH descriptor names.
        title: Title.
        abstract: Abstract.

    Returns:
        ``(design, source)`` with ``source`` ``"publication type"``, ``"MeSH"`` or ``"text"``.
    """
    design = design_from_publication_types(publication_types)
    if design is not None and design != "review":
        return design, "publication type"
    from_mesh = design_from_mesh(mesh_terms)
    if from_mesh is not None:
        return from_mesh, "MeSH"
    if design is not None:
        return design, "publication type"
    return design_from_text(title, abstract), "text"


# --------------------------------------------------------------------------- sample size

_NUMBER = r"(\d{1,3}(?:,\d{3})+|\d+)"
_WHO = (
    r"(patients|participants|subjects|individuals|people|persons|adults|children|women|men|"
    r"infants|neonates|newborns|girls|boys|adolescents|residents|volunteers|respondents|"
    r"pregnancies|mothers|students|veterans|smokers|cases|survivors|recipients|employees|"
    r"workers|nurses|physicians|doctors|athletes|twins|families|households|users|donors|"
    r"members|mice|rats|dogs|pigs|animals|eyes)"
)
_TOTAL_RE = re.compile(
    r"\b(?:a total of|total of|in total,?|overall,?|altogether,?)\s+" + _NUMBER + r"\b", _F
)
_WHO_RE = re.compile(r"(?<![\d.,/-])" + _NUMBER + r"\s+(?:[A-Za-z-]+\s+){0,3}?" + _WHO + r"\b", _F)
_N_RE = re.compile(r"\b[nN]\s*=\s*" + _NUMBER + r"\b")
_UNITS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_NUMBER_WORD = r"(?:" + "|".join([*_TENS, *_UNITS, "hundred", "thousand", "and"]) + r")"
_WORD_RE = re.compile(
    r"\b("
    + _NUMBER_WORD
    + r"(?:[\s-]+"
    + _NUMBER_WORD
    + r")*)\s+(?:[A-Za-z-]+\s+){0,2}?"
    + _WHO
    + r"\b",
    _F,
)


def _words_value(words: str) -> int | None:
    """The value of ``one thousand ninety-nine`` (None when it is not a number)."""
    total = current = 0
    seen = False
    for word in re.split(r"[\s-]+", words.lower()):
        if word == "and":
            continue
        if word in _UNITS:
            current += _UNITS.index(word)
        elif word in _TENS:
            current += 20 + 10 * _TENS.index(word)
        elif word == "hundred":
            current = max(current, 1) * 100
        elif word == "thousand":
            total += max(current, 1) * 1000
            current = 0
        else:
            return None
        seen = True
    value = total + current
    return value if seen and value > 0 else None


def _int(text: str) -> int:
    return int(text.replace(",", ""))


def _plausible(n: int, following: str) -> bool:
    """Not a year, a dose or a percentage."""
    if n <= 0 or n > 50_000_000:
        return False
    return not (1900 <= n <= 2030 and not following)


_NOT_BETWEEN = frozenset(
    [
        "years",
        "year",
        "months",
        "month",
        "weeks",
        "week",
        "days",
        "day",
        "hours",
        "hour",
        "minutes",
        "among",
        "for",
        "of",
        "in",
        "at",
        "per",
        "with",
        "from",
        "to",
        "and",
        "or",
        "than",
        "by",
        "on",
        "mg",
        "kg",
        "ml",
        "g",
        "mmol",
        "mm",
        "cm",
        "times",
        "fold",
        "percent",
        "were",
        "was",
        "had",
        "have",
        "are",
        "is",
    ]
)
_YEAR_BEFORE = re.compile(r"\b(in|since|from|during|until|by|of|between|and|to)\s*$", _F)


def _spurious(text: str, match: re.Match[str], n: int, has_words: bool) -> bool:
    """A number that is a year, an age or a dose rather than a count of people."""
    if has_words:
        between = match.group(0)[len(match.group(1)) :].split()[:-1]
        if any(w.lower().strip(",;") in _NOT_BETWEEN for w in between):
            return True
    before = text[max(0, match.start() - 12) : match.start()]
    return 1900 <= n <= 2030 and bool(_YEAR_BEFORE.search(before))


def sample_size(text: str) -> tuple[int | None, str | None]:
    """The number of participants an abstract states, with the words it was read from.

    Tries, in order: ``a total of N``; ``N <people>`` (up to three words
    between: ``120 consecutive adult patients``; people include patients,
    participants, residents, mice...); ``n = N``; ``twelve patients``. Within
    the first rule that matches, the largest number wins (the whole sample,
    not one arm).

    Args:
        text: Abstract (or title and abstract).

    Returns:
        ``(n, snippet)``, or ``(None, None)`` when no size is stated.
    """
    for pattern in (_TOTAL_RE, _WHO_RE, _N_RE):
        best: tuple[int, str] | None = None
        for match in pattern.finditer(text):
            n = _int(match.group(1))
            after = text[match.end(1) : match.end(1) + 3].lstrip()
            if after.startswith("%") or re.match(r"[.,]\d", after):
                continue
            who = match.group(2) if pattern is _WHO_RE else ""
            if not _plausible(n, who) or _spurious(text, match, n, pattern is _WHO_RE):
                continue
            if best is None or n > best[0]:
                best = (n, " ".join(match.group(0).split()))
        if best is not None:
            return best
    for match in _WORD_RE.finditer(text):
        value = _words_value(match.group(1))
        if value is not None and not _spurious(text, match, value, True):
            return value, " ".join(match.group(0).split())
    return None, None


# --------------------------------------------------------------------------- rows


def evidence_row(
    *,
    pmid: str,
    title: str,
    abstract: str,
    year: int | None = None,
    publication_types: Sequence[str] = (),
    mesh_terms: Sequence[str] = (),
    key_finding: str = "",
    relevance: float | None = None,
    cited: bool = False,
    retracted: bool = False,
) -> EvidenceRow:
    """One article's evidence-table row: design, sample size, year, key finding.

    Args:
        pmid: PubMed identifier.
        title: Title.
        abstract: Abstract (design rules and sample size read it).
        year: Publication year.
        publication_types: PubMed publication types.
        mesh_terms: MeSH descriptor names.
        key_finding: The sentence that best states the article's result.
        relevance: The article's relevance to the question.
        cited: Whether the cluster summary cites it.
        retracted: Whether it is retracted.

    Returns:
        The row.
    """
    design, source = study_design(publication_types, mesh_terms, title, abstract)
    n, snippet = sample_size(abstract)
    return EvidenceRow(
        pmid=pmid,
        title=title,
        year=year,
        design=design,
        design_source=source,
        sample_size=n,
        sample_size_text=snippet,
        key_finding=key_finding,
        relevance=relevance,
        cited=cited,
        retracted=retracted,
    )


# --------------------------------------------------------------------------- profile

_PROFILE_FIELD: dict[str, str] = {
    "meta-analysis": "meta_analyses",
    "systematic review": "systematic_reviews",
    "randomised trial": "rcts",
    "clinical trial": "other_clinical_studies",
    "cohort": "other_clinical_studies",
    "case-control": "other_clinical_studies",
    "cross-sectional": "other_clinical_studies",
    "case report": "case_reports",
    "review": "reviews",
}


def profile_of_rows(rows: Sequence[EvidenceRow]) -> EvidenceProfile:
    """A cluster's evidence profile from its evidence table.

    Each article counts once, by its design (cohort, case-control and
    cross-sectional count as other clinical studies; animal, in-vitro and
    other as other); retracted articles count only as retracted.

    Args:
        rows: The evidence table.

    Returns:
        The counts.
    """
    profile = EvidenceProfile()
    for row in rows:
        name = "retracted" if row.retracted else _PROFILE_FIELD.get(row.design, "other")
        setattr(profile, name, getattr(profile, name) + 1)
    return profile


# --------------------------------------------------------------------------- output

EVIDENCE_COLUMNS: tuple[str, ...] = (
    "cluster_id",
    "cluster_label",
    "cluster_relevance",
    "pmid",
    "title",
    "year",
    "design",
    "design_source",
    "sample_size",
    "sample_size_text",
    "key_finding",
    "relevance",
    "cited",
    "retracted",
)
"""Columns of :func:`evidence_frame`, in order."""


def table_lines(rows: Sequence[EvidenceRow], width: int = 110) -> list[str]:
    """An evidence table as fixed-width text lines (header first) for terminals."""
    out = [f"{'design':<18} {'n':>7} {'year':>4}  {'PMID':<10} key finding"]
    for row in rows:
        n = f"{row.sample_size:,}" if row.sample_size is not None else "-"
        year = str(row.year) if row.year else "-"
        finding = row.key_finding or "-"
        room = max(width - 44, 20)
        if len(finding) > room:
            finding = finding[: room - 1] + "…"
        flag = " [RETRACTED]" if row.retracted else ""
        out.append(f"{row.design:<18} {n:>7} {year:>4}  {row.pmid:<10} {finding}{flag}")
    return out


def evidence_frame(answer: Answer) -> pd.DataFrame:
    """Every shown cluster's evidence table as one frame (for the export CSV).

    Args:
        answer: The answer.

    Returns:
        One row per (cluster, article) with :data:`EVIDENCE_COLUMNS`.
    """
    import pandas as pd

    records = [
        {
            "cluster_id": cluster.id,
            "cluster_label": cluster.label,
            "cluster_relevance": cluster.relevance,
            "pmid": row.pmid,
            "title": row.title,
            "year": row.year,
            "design": row.design,
            "design_source": row.design_source,
            "sample_size": row.sample_size,
            "sample_size_text": row.sample_size_text,
            "key_finding": row.key_finding,
            "relevance": row.relevance,
            "cited": row.cited,
            "retracted": row.retracted,
        }
        for cluster in answer.clusters
        for row in cluster.evidence_table
    ]
    frame = pd.DataFrame(records, columns=list(EVIDENCE_COLUMNS))
    return frame.astype({"year": "Int64", "sample_size": "Int64"}) if len(frame) else frame

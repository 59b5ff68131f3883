"""Pure presentation helpers for the web page: entity highlight segments, year chart.

Nothing here produces markup: the helpers return plain records that the
Jinja templates render with autoescaping on, so text from articles can never
inject HTML.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from litmine.types import Entity, Hit

__all__ = ["Bar", "Segment", "YearChart", "highlight_segments", "year_chart"]


@dataclass(slots=True, frozen=True)
class Segment:
    """A run of passage text, highlighted when ``label`` is set.

    Attributes:
        text: The raw (unescaped) text; the template escapes it.
        label: Entity label (``CHEMICAL``) for a highlighted run, else None.
        normalized: The entity's normalised form, shown as a tooltip.
    """

    text: str
    label: str | None = None
    normalized: str | None = None


def highlight_segments(text: str, entities: Iterable[Entity]) -> list[Segment]:
    """Split a passage into plain and entity segments.

    Offsets are clamped to the text; an entity overlapping an earlier one is
    skipped, so every character appears exactly once.

    Args:
        text: The passage text.
        entities: Mentions with ``start``/``end`` offsets into ``text``.

    Returns:
        Segments whose texts concatenate to ``text``.
    """
    out: list[Segment] = []
    pos = 0
    for ent in sorted(entities, key=lambda e: (e.start, -e.end)):
        start, end = max(ent.start, 0), min(ent.end, len(text))
        if start < pos or end <= start:
            continue
        if start > pos:
            out.append(Segment(text[pos:start]))
        out.append(Segment(text[start:end], ent.label, ent.normalized))
        pos = end
    if pos < len(text):
        out.append(Segment(text[pos:]))
    return out


@dataclass(slots=True, frozen=True)
class Bar:
    """One bar of the year chart, in SVG user units."""

    year: int
    count: int
    x: float
    y: float
    width: float
    height: float


@dataclass(slots=True, frozen=True)
class YearChart:
    """Geometry of the articles-per-year bar chart (drawn by the template as SVG)."""

    width: int
    height: int
    baseline: float
    bars: list[Bar]
    max_count: int
    undated: int

    @property
    def labelled_years(self) -> list[Bar]:
        """Bars whose year is printed under the axis (about eight, evenly spaced)."""
        step = max(1, -(-len(self.bars) // 8))
        return [b for i, b in enumerate(self.bars) if i % step == 0]


def year_chart(
    hits: Sequence[Hit], *, width: int = 420, height: int = 150, margin: int = 22
) -> YearChart | None:
    """Count distinct articles per publication year and lay the bars out.

    Years without articles between the first and last one get empty slots so
    the time axis stays linear.

    Args:
        hits: Result hits (several may share an article).
        width: Chart width in SVG units.
        height: Chart height in SVG units.
        margin: Space kept for the axis labels.

    Returns:
        The chart, or None when no hit has a year.
    """
    years: dict[str, int | None] = {}
    for hit in hits:
        years.setdefault(hit.passage.pmid, hit.year)
    counts = Counter(y for y in years.values() if y is not None)
    undated = sum(1 for y in years.values() if y is None)
    if not counts:
        return None
    first, last = min(counts), max(counts)
    span = list(range(first, last + 1))
    top = max(counts.values())
    slot = (width - 2 * margin) / len(span)
    baseline = height - margin
    usable = baseline - 12
    bars = []
    for i, year in enumerate(span):
        n = counts.get(year, 0)
        h = usable * n / top
        bars.append(
            Bar(
                year=year,
                count=n,
                x=round(margin + i * slot + slot * 0.1, 2),
                y=round(baseline - h, 2),
                width=round(slot * 0.8, 2),
                height=round(h, 2),
            )
        )
    return YearChart(width, height, baseline, bars, top, undated)

"""Shared pieces of the answer benchmarks: real abstracts, a collection builder, a tiny T5.

Sources (all under ../shared/data): SciFact's corpus (5,183 abstracts),
PubMedQA's labelled dev set (500 abstracts with questions and long answers),
the BC5CDR PubTator files (1,000 abstracts) and the NCBI disease corpus
(~790 abstracts, PubTator format too). :func:`collection` takes them in that order and, when more
articles are asked for than exist, repeats them under fresh ids
(``r<round>-<pmid>``) so that every id is unique.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT / "bench"))

from scifact_beir import parse_sentences  # noqa: E402

from litmine.types import AbstractSection, Article, MeshHeading, PubDate  # noqa: E402


def pubmedqa(path: Path | None = None) -> dict[str, dict[str, Any]]:
    """PubMedQA's labelled dev set: PMID -> record (QUESTION, CONTEXTS, LONG_ANSWER...)."""
    data: dict[str, dict[str, Any]] = json.loads(
        (path or SHARED / "pubmedqa" / "pqal_dev.json").read_text(encoding="utf-8")
    )
    return data


def pubmedqa_article(pmid: str, item: dict[str, Any]) -> Article:
    """A PubMedQA record as an article: labelled contexts as the abstract; no long answer.

    The contexts keep their structured-abstract labels as sections (as PubMed
    records do) and the MeSH terms become MeSH headings. No title: PubMedQA's
    questions are the articles' titles.
    """
    year = item.get("YEAR")
    contexts = list(item["CONTEXTS"])
    labels = list(item.get("LABELS") or [])
    sections = []
    start = 0
    for n, text in enumerate(contexts):
        label = labels[n] if n < len(labels) else None
        sections.append(AbstractSection(text=text, label=label, start=start))
        start += len(text) + 1
    return Article(
        pmid=pmid,
        title="",
        abstract="\n".join(contexts),
        sections=sections,
        pub_date=PubDate(year=int(year) if str(year or "").isdigit() else None),
        mesh_headings=[MeshHeading(None, m) for m in item.get("MESHES", [])],
        keywords=list(item.get("MESHES", [])),
    )


def _scifact() -> Iterator[Article]:
    csv.field_size_limit(sys.maxsize)
    with (SHARED / "scifact" / "corpus_train.csv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            text = " ".join(parse_sentences(row["abstract"]))
            if text:
                yield Article(pmid=row["doc_id"].strip(), title=row["title"].strip(), abstract=text)


def _pubtator(path: Path) -> Iterator[Article]:
    title = abstract = pmid = None
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if "|t|" in line[:20]:
                pmid, _, title = line.rstrip("\n").split("|", 2)
            elif "|a|" in line[:20]:
                _, _, abstract = line.rstrip("\n").split("|", 2)
            elif not line.strip() and pmid:
                if abstract:
                    yield Article(pmid=pmid, title=title or "", abstract=abstract)
                title = abstract = pmid = None
    if pmid and abstract:
        yield Article(pmid=pmid, title=title or "", abstract=abstract)


def real_articles() -> list[Article]:
    """Every distinct real abstract of the shared data, SciFact and PubMedQA first."""
    seen: dict[str, Article] = {}

    def take(items: Iterator[Article]) -> None:
        for a in items:
            seen.setdefault(a.pmid, a)

    take(_scifact())
    take(pubmedqa_article(p, item) for p, item in pubmedqa().items())
    for name in ("CDR_TrainingSet.PubTator.txt", "CDR_DevelopmentSet.PubTator.txt"):
        path = SHARED / "bc5cdr" / name
        if path.is_file():
            take(_pubtator(path))
    for name in ("NCBItrainset_corpus.txt", "NCBIdevelopset_corpus.txt", "NCBItestset_corpus.txt"):
        path = SHARED / "ncbi_disease" / name
        if path.is_file():
            take(_pubtator(path))
    return list(seen.values())


def collection(n: int) -> list[Article]:
    """``n`` articles: the real ones, repeated under fresh ids when more are needed."""
    base = real_articles()
    out = base[:n]
    round_ = 1
    while len(out) < n:
        for a in base[: n - len(out)]:
            out.append(Article(pmid=f"r{round_}-{a.pmid}", title=a.title, abstract=a.abstract))
        round_ += 1
    return out


def tiny_t5(folder: Path) -> Path:
    """Save a randomly initialised 1-layer T5 with the bundled MiniLM tokenizer to ``folder``."""
    from litmine.testing import save_tiny_seq2seq

    return save_tiny_seq2seq(folder)


def onnx_available() -> bool:
    """Whether onnxruntime imports (the fast embedding backend)."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True

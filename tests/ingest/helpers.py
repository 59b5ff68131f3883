"""Shared pieces of the ingest tests: real recorded files, a big generated file, sinks."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from litmine import ingest
from litmine.config import Settings, load_settings
from tests.conftest import shared_path
from tests.entrez_replay import DEFAULT_ARTICLE_FILES, EntrezReplay

RECORDED_PMIDS = {
    "12091962",
    "9997",
    "11748933",
    "11700088",
    "27797938",
    "28775130",
    "30108519",
    "29963580",
}


def recorded_files() -> list[Path]:
    return [shared_path("entrez", name) for name in DEFAULT_ARTICLE_FILES]


def stored_pmids(settings: Settings) -> set[str]:
    with ingest.open_store(settings, read_only=True) as store:
        return {a.pmid for a in store.iter_articles()}


def update_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "update.xml"
    path.write_text(f'<?xml version="1.0"?>\n<PubmedArticleSet>{body}</PubmedArticleSet>\n')
    return path


def article_xml(pmid: str, version: int, title: str) -> str:
    return (
        f'<PubmedArticle><MedlineCitation Status="MEDLINE" Owner="NLM">'
        f'<PMID Version="{version}">{pmid}</PMID><Article><Journal><Title>J</Title></Journal>'
        f"<ArticleTitle>{title}</ArticleTitle><Abstract><AbstractText>{title} body text."
        f"</AbstractText></Abstract></Article></MedlineCitation></PubmedArticle>"
    )


class StopAfter:
    """Progress sink that interrupts the run after ``limit`` committed records."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.seen = 0

    def total(self, n: int | None) -> None:
        pass

    def advance(self, n: int) -> None:
        self.seen += n
        if self.seen >= self.limit:
            raise KeyboardInterrupt


class CountingProgress:
    def __init__(self) -> None:
        self.seen = 0

    def total(self, n: int | None) -> None:
        pass

    def advance(self, n: int) -> None:
        self.seen += n


def replay_settings(
    replay: EntrezReplay, monkeypatch: pytest.MonkeyPatch, **entrez: object
) -> Settings:
    for key, value in replay.env().items():
        monkeypatch.setenv(key, value)
    return load_settings(entrez={k: v for k, v in entrez.items()})


def _recorded_records() -> list[bytes]:
    records = []
    for path in recorded_files():
        data = path.read_bytes()
        start = data.find(b"<PubmedArticle>")
        while start >= 0:
            end = data.index(b"</PubmedArticle>", start) + len(b"</PubmedArticle>")
            records.append(data[start:end])
            start = data.find(b"<PubmedArticle>", end)
    return records


def big_file(tmp_path: Path, copies: int = 6, *, cut: int | None = None) -> Path:
    """The recorded articles again and again with fresh PMIDs, gzipped, plus odd records."""
    parts = [b'<?xml version="1.0" ?>\n<PubmedArticleSet>\n']
    for i, record in enumerate(_recorded_records() * copies):
        pmid = record[record.index(b"<PMID") :].split(b">", 1)[1].split(b"<", 1)[0]
        parts.append(record.replace(b">" + pmid + b"<", b">%d<" % (80000000 + i)) + b"\n")
        if i == 7:
            broken = "<PubmedArticle><MedlineCitation><Article/></MedlineCitation></PubmedArticle>"
            parts.append(broken.encode() + b"\n")
        if i == 20:
            parts.append(article_xml("80000002", 2, "A newer version").encode() + b"\n")
        if i == 30:
            parts.append(b"<DeleteCitation><PMID>80000005</PMID></DeleteCitation>\n")
    parts.append(b"</PubmedArticleSet>\n")
    data = b"".join(parts)
    path = tmp_path / "big.xml.gz"
    path.write_bytes(gzip.compress(data if cut is None else data[:cut]))
    return path

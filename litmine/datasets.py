"""Small public corpora turned into litmine collections, for notebooks and demos.

:func:`pubmedqa_to_beir` writes the PubMedQA expert-labelled abstracts (real
PubMed articles with their publication year) as BEIR JSON Lines that
``litmine ingest --file`` reads; :func:`build_collection` ingests such files,
builds the vector index and, when an NER model is available, extracts the
entities, so an analyst gets a searchable collection in one call.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from litmine.errors import InputError, LitmineError

if TYPE_CHECKING:
    from litmine.config import Settings
    from litmine.types import IngestReport

__all__ = ["CollectionReport", "build_collection", "pubmedqa_to_beir"]


def pubmedqa_to_beir(src: str | Path, out: str | Path, *, limit: int | None = None) -> Path:
    """Convert a PubMedQA file (``pqal_*.json``) into a BEIR ``corpus.jsonl``.

    Each instance becomes one document: ``_id`` is its PMID, ``title`` the
    question (PubMedQA questions are the articles' titles), ``text`` the
    labelled contexts followed by the conclusion (``LONG_ANSWER``), and
    ``metadata`` carries ``year`` and the MeSH terms.

    Args:
        src: The PubMedQA JSON file (PMID -> instance).
        out: Output JSON Lines file; its folder is created.
        limit: Convert only the first instances.

    Returns:
        The written path.

    Raises:
        InputError: ``src`` is missing or not PubMedQA JSON.
    """
    src, out = Path(src), Path(out)
    try:
        data = json.loads(src.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read PubMedQA file {src}: {exc}", "check the path") from exc
    if not isinstance(data, dict):
        raise InputError(f"{src} is not PubMedQA JSON (an object of PMID -> instance)")
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as fh:
        for n, (pmid, item) in enumerate(data.items()):
            if limit is not None and n >= limit:
                break
            parts = [*item.get("CONTEXTS", []), item.get("LONG_ANSWER") or ""]
            doc = {
                "_id": str(pmid),
                "title": item.get("QUESTION", ""),
                "text": " ".join(p.strip() for p in parts if p and p.strip()),
                "metadata": {"year": item.get("YEAR"), "mesh": item.get("MESHES", [])},
            }
            fh.write(json.dumps(doc, ensure_ascii=False) + "\n")
    return out


@dataclass(slots=True)
class CollectionReport:
    """What :func:`build_collection` did.

    Attributes:
        ingest: The ingestion counts.
        vectors: Passages in the vector index.
        entities: Entity mentions extracted (0 when NER was skipped).
        entities_skipped: Why entities were not extracted, or None.
    """

    ingest: IngestReport
    vectors: int
    entities: int
    entities_skipped: str | None = None


def build_collection(
    paths: Sequence[str | Path], settings: Settings, *, entities: bool = True
) -> CollectionReport:
    """Ingest files, build the vector index and extract entities when possible.

    Args:
        paths: PubMed XML, MEDLINE or BEIR JSONL files.
        settings: Settings (``data_dir`` is where the collection goes).
        entities: Run the NER model; when it cannot load, the reason is
            reported and the rest of the collection is still usable.

    Returns:
        The counts, and why entities were skipped.
    """
    from litmine.ingest import ingest_files, open_store
    from litmine.vectors.build import build_index
    from litmine.vectors.embed import load_embedder

    report = ingest_files(paths, settings)
    with open_store(settings) as store:
        index_report = build_index(store, load_embedder(settings.embed), settings)
        vectors = index_report.vectors
        n_entities = 0
        skipped: str | None = "not requested"
        if entities:
            try:
                from litmine.entities import build_nlp, extract_store

                extract_store(store, build_nlp(settings.ner))
                n_entities = store.counts().entities
                skipped = None
            except LitmineError as exc:
                skipped = exc.one_line()
    return CollectionReport(report, vectors, n_entities, skipped)

"""Readers for article files: PubMed XML, MEDLINE text, BEIR JSONL and PubMedQA JSON.

All readers stream their input and share one contract: they yield
:class:`~litmine.types.Article` records (and, for PubMed update files,
:class:`~litmine.types.Deletion` records); a malformed record is *yielded* as
a :class:`~litmine.errors.RecordError` and reading continues; a file that
cannot be read as a whole raises :class:`~litmine.errors.ParseError`.

Typical use::

    from litmine.parse import read_file

    for record in read_file("pubmed25n0001.xml.gz"):
        ...

Layer: may import the base modules (``types``, ``config``, ``errors``, ``_compat``)
only; never ``store`` or anything above it.
"""

from __future__ import annotations

import os
import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from litmine.errors import InputError, RecordError
from litmine.parse._io import GunzipStream, open_source, sniffable, wide_encoding
from litmine.parse.beir import iter_beir_jsonl
from litmine.parse.medline import iter_medline
from litmine.parse.pubmed_xml import iter_pubmed_xml, parse_pubmed_xml_bytes
from litmine.parse.pubmedqa import iter_pubmedqa_json
from litmine.types import Article, Deletion

__all__ = [
    "FORMATS",
    "detect_format",
    "iter_beir_jsonl",
    "iter_medline",
    "iter_pubmed_xml",
    "iter_pubmedqa_json",
    "parse_pubmed_xml_bytes",
    "read_file",
]

FORMATS: dict[str, str] = {
    "pubmed_xml": "PubMed XML (EFetch, baseline/update files; .xml or .xml.gz)",
    "medline": "MEDLINE text (PMID- / TI  - ...; .txt or .medline, optionally gzipped)",
    "beir_jsonl": 'BEIR corpus JSON Lines ({"_id", "title", "text"}; .jsonl, optionally gzipped)',
    "pubmedqa_json": "PubMedQA JSON ({PMID: {QUESTION, CONTEXTS, LABELS, LONG_ANSWER...}})",
}
"""Supported formats: name -> description."""

_SNIFF = 4096
_PUBMEDQA_HEAD = re.compile(rb'\{\s*"\d+"\s*:\s*\{')


def _supported() -> str:
    return "; ".join(f"{name}: {desc}" for name, desc in FORMATS.items())


def detect_format(path: str | os.PathLike[str]) -> str:
    """Tell the format of an article file from its content (not its name).

    Gzip is undone first (magic bytes), UTF-16/32 text is decoded (by its
    byte-order mark), then the first meaningful bytes decide: ``<`` is
    PubMed XML (HTML pages too: the XML reader rejects them with a clear
    message), a ``PMID-`` or other MEDLINE tag line is MEDLINE,
    ``{"<digits>": {`` is PubMedQA JSON, any other ``{`` is BEIR JSON Lines.

    Args:
        path: The file.

    Returns:
        ``"pubmed_xml"``, ``"medline"``, ``"beir_jsonl"`` or ``"pubmedqa_json"``.

    Raises:
        InputError: The file is missing, empty, or in none of the formats
            (MEDLINE or JSON Lines in UTF-16/32: the message says how to convert).
    """
    name = os.fspath(path)
    owned: list[IO[bytes] | GunzipStream] = []
    try:
        _stream, head = open_source(path, _SNIFF, owned)
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(
            f"cannot read {name}: {exc}.", f"supported formats: {_supported()}"
        ) from exc
    finally:
        for handle in reversed(owned):
            handle.close()
    text = sniffable(head).lstrip()
    if not text:
        raise InputError(f"{name} is empty.", f"supported formats: {_supported()}")
    if text.startswith(b"<"):
        return "pubmed_xml"  # XML names its encoding; libxml2 reads UTF-16 too
    if _PUBMEDQA_HEAD.match(text):
        return "pubmedqa_json"
    codec = wide_encoding(head)
    if codec is not None:
        wide = codec.upper().replace("-LE", "LE").replace("-BE", "BE")  # iconv's names
        raise InputError(
            f"{name} is {wide} text; MEDLINE and JSON Lines files are read as UTF-8.",
            f"convert it: iconv -f {wide} -t UTF-8 {name} > converted.txt",
        )
    if text.startswith(b"{"):
        return "beir_jsonl"
    first_line = text.split(b"\n", 1)[0].rstrip(b"\r")
    if first_line.startswith(b"PMID-") or _looks_like_medline_tag(first_line):
        return "medline"
    raise InputError(
        f"{name} is not in a supported article format (it starts with {text[:40]!r}).",
        f"supported formats: {_supported()}",
    )


def _looks_like_medline_tag(line: bytes) -> bool:
    """``b"TI  - ..."``: 2-4 capitals padded to 4 characters, then ``- ``."""
    tag = line[:4].rstrip(b" ")
    return (
        len(line) >= 6
        and line[4:6] == b"- "
        and 2 <= len(tag) <= 4
        and tag.isalnum()
        and tag[:1].isalpha()
        and tag.upper() == tag
    )


def read_file(
    path: str | os.PathLike[str], fmt: str | None = None
) -> Iterator[Article | Deletion | RecordError]:
    """Stream the records of an article file, whatever its supported format.

    Args:
        path: The file (plain or gzipped).
        fmt: Force a format (a key of :data:`FORMATS`) instead of sniffing.

    Returns:
        An iterator of articles, deletions (PubMed update files) and record
        errors, as the format's reader yields them.

    Raises:
        InputError: Unknown ``fmt``, or a file in no supported format.
        ParseError: Raised while iterating, when the file breaks off or is
            not what its first bytes promised (e.g. an HTML page).
    """
    if fmt is None:
        fmt = detect_format(path)
    elif fmt not in FORMATS:
        raise InputError(
            f"unknown format {fmt!r} for {os.fspath(path)}.", f"supported formats: {_supported()}"
        )
    if fmt == "pubmed_xml":
        return iter_pubmed_xml(Path(path))
    if fmt == "medline":
        return iter_medline(Path(path))
    if fmt == "pubmedqa_json":
        return iter_pubmedqa_json(Path(path))
    return iter_beir_jsonl(Path(path))

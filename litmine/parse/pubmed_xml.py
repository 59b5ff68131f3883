"""Streaming reader of PubMed XML (EFetch responses, baseline and update files).

:func:`iter_pubmed_xml` reads a ``PubmedArticleSet``, building one
:class:`~litmine.types.Article` per ``PubmedArticle`` (or
``PubmedBookArticle``) and one :class:`~litmine.types.Deletion` per PMID of a
``DeleteCitation``. No DTD is loaded and nothing is fetched from the network.

Chunks: the raw (inflated) bytes are cut after record end tags into chunks of
about 1 MB of whole records (:class:`PubmedChunk`), each parsed on its own
with :func:`lxml.etree.fromstring` (:func:`parse_chunk`). Memory stays flat on
a 1 GB baseline file; a whole-chunk parse is faster than an ``iterparse``
pass; and chunks can be parsed in other processes (:func:`map_pubmed_xml`,
used by parallel ingest). Line numbers in messages are the file's. Documents
that cannot be cut safely on bytes (a DTD internal subset, a non-ASCII
encoding) are read in one ``iterparse`` pass instead, with the same results.

Error contract:

* one malformed record (no PMID, or anything raised while reading it) is
  *yielded* as a :class:`~litmine.errors.RecordError` and reading goes on;
* a file that breaks off or is not XML yields every complete record before
  the break and then raises :class:`~litmine.errors.ParseError` naming the
  file and the line;
* an HTML page, an empty input or another E-utilities document (eSearch...)
  raises :class:`~litmine.errors.ParseError` straight away.

This module holds the reader (the public API above, the parsing of one
chunk, the choice of the compiled extractor) and its error messages. The
rest of the reader lives next to it, each part in its own module:

* :mod:`litmine.parse._pubmed_fields`: a record element -> Article (field extraction);
* :mod:`litmine.parse._pubmed_chunks`: cutting the bytes into chunks, line mapping;
* :mod:`litmine.parse._safe_parsing`: the safe libxml2 options and the streaming reader.

The names tests, benchmarks and the compiled extractor read from this module
(``_pubmed_article``, ``_layout``, ``_new_parser``, ``_int``...) stay
reachable here. The functions that look up ``_COMPILED`` and ``_layout``
when they run are defined here, so a monkeypatch of ``pubmed_xml._COMPILED``
or ``pubmed_xml._layout`` reaches them.
"""

from __future__ import annotations

import io
import os
import re
import zlib
from collections.abc import Callable, Iterator
from typing import IO, Any, NamedTuple

from lxml import etree

from litmine.errors import ParseError, RecordError
from litmine.parse import _pubmed_fields
from litmine.parse._io import (
    ByteSource,
    GunzipStream,
    PrefixedStream,
    open_source,
    sniffable,
    source_name,
)
from litmine.parse._pubmed_chunks import (
    _CHUNK_BYTES,
    _END_MARK,
    PubmedChunk,
    _declare_mathml_prefix,
    _layout,
    _LineMap,
    _plain_root,
    _Splitter,
)
from litmine.parse._pubmed_fields import (
    _RECORD_TAGS,
    _book_article,
    _deletions,
    _pubmed_article,
    _salvage_pmid,
)
from litmine.parse._safe_parsing import _error_line, _new_parser, _RecordReader
from litmine.types import Article, Deletion

__all__ = [
    "BadRecord",
    "ChunkFailure",
    "ChunkMapper",
    "ChunkResult",
    "PubmedChunk",
    "PubmedSource",
    "iter_pubmed_xml",
    "map_pubmed_xml",
    "parse_chunk",
    "parse_pubmed_xml_bytes",
]

PubmedSource = ByteSource
"""What :func:`iter_pubmed_xml` accepts: a path, an open binary stream or bytes."""

# Read from this module by the compiled extractor (_fastxml.pyx, at import) and
# by its tests, so that both extractors share one definition of each.
_ORCID_RE = _pubmed_fields._ORCID_RE
_SKIPPED_REF_TYPES = _pubmed_fields._SKIPPED_REF_TYPES
_int = _pubmed_fields._int
_plain = _pubmed_fields._plain
_text = _pubmed_fields._text

_SET_TAGS = frozenset({"PubmedArticleSet", "PubmedBookArticleSet", "DeleteCitation"})
_SNIFF_BYTES = 2048
_HTML_RE = re.compile(
    rb"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body)[\s>]", re.I | re.S
)


# ---------------------------------------------------------------------------
# Input handling
# ---------------------------------------------------------------------------


def _check_head(head: bytes, name: str) -> None:
    """Refuse empty input and HTML pages before handing bytes to libxml2."""
    body = sniffable(head).lstrip()
    if not body:
        raise ParseError(
            f"{name} is empty: no PubMed XML to read.",
            "check the download or the EFetch request that produced it",
        )
    probe = body
    if probe.startswith(b"<?xml"):
        end = probe.find(b"?>")
        probe = probe[end + 2 :] if end >= 0 else probe
    if _HTML_RE.match(probe):
        raise ParseError(
            f"{name} is an HTML page, not PubMed XML.",
            "NCBI returns HTML for errors and for retmode other than xml; "
            "fetch again with retmode=xml",
        )
    if not body.startswith(b"<"):
        raise ParseError(
            f"{name} is not XML (it does not start with '<').",
            "pass PubMed XML (.xml or .xml.gz); MEDLINE text and BEIR JSONL have their own readers",
        )


# ---------------------------------------------------------------------------
# What parsing a chunk gives
# ---------------------------------------------------------------------------


class BadRecord(NamedTuple):
    """A record that could not be read (the reader yields it as a RecordError).

    Attributes:
        pmid: Its PMID, when it could be found.
        line: Line of the record's start tag in the chunk document.
        detail: What is wrong with it.
    """

    pmid: str | None
    line: int | None
    detail: str


class ChunkFailure(NamedTuple):
    """The XML of a chunk breaks off or is malformed (the file's reading stops there).

    Attributes:
        line: Line in the chunk document where libxml2 gave up, when known.
        message: libxml2's message (its line numbers are the chunk's too).
        before: Records of the chunk read completely before the failure.
    """

    line: int | None
    message: str
    before: int


ChunkResult = tuple[list[Any], int, int | None]
"""What a chunk yields: its items (records, :class:`BadRecord` s, a final
:class:`ChunkFailure`, or what a mapper made of the articles), the number of
record elements it held (a ``DeleteCitation`` lists several PMIDs) and the
line of the chunk document where its content ends (None for the last chunk)."""

ChunkMapper = Callable[[Iterator[PubmedChunk]], Iterator[ChunkResult]]
"""Applies :func:`parse_chunk` (plus any further work) to every chunk and returns
the results in chunk order, e.g. from a pool of worker processes."""


# ---------------------------------------------------------------------------
# Parsing one chunk
# ---------------------------------------------------------------------------


def _load_compiled() -> Any:
    """The compiled extractor module (``litmine/parse/_fastxml.pyx``), when it is usable.

    It is built at install time when Cython and a C compiler are there, and
    gives the same records as the Python code here in a fraction of the
    time: :func:`_pubmed_article` in C, and the bibliography cut from the
    bytes before parsing (``drop_unread``). It switches itself off when the
    running lxml/libxml2 lay their structs out differently. Setting the
    environment variable ``LITMINE_PURE_PYTHON_XML=1`` turns it off too (for
    comparisons and for ruling it out when a record reads wrong).
    """
    if os.environ.get("LITMINE_PURE_PYTHON_XML", "") not in ("", "0"):
        return None
    try:
        from litmine.parse import _fastxml
    except ImportError:
        return None
    return _fastxml if _fastxml.AVAILABLE else None


def _record(elem: Any, line: int | None) -> list[Any]:
    """The records of one top-level element (a bad one becomes a BadRecord)."""
    tag = elem.tag
    if tag == "DeleteCitation":
        return list(_deletions(elem))
    if tag == "PubmedArticle" and _COMPILED is not None:
        try:
            return [_COMPILED.pubmed_article(elem)]
        except Exception:
            pass
    try:
        if tag == "PubmedArticle":
            return [_pubmed_article(elem)]
        return [_book_article(elem)]
    except Exception as exc:  # one bad record must not stop the file
        what = "" if tag == "PubmedArticle" else "book record: "
        return [BadRecord(_salvage_pmid(elem), line, f"{what}{exc}")]


def parse_chunk(chunk: PubmedChunk) -> ChunkResult:
    """Parse one chunk into records, as :func:`iter_pubmed_xml` yields them.

    Pure and picklable both ways, so it can run in a worker process. Line
    numbers in the result are the chunk document's; the reader maps them.

    Args:
        chunk: A chunk of a splittable document.

    Returns:
        Articles, deletions and :class:`BadRecord` s in document order; a
        chunk whose XML breaks off ends with a :class:`ChunkFailure` after the
        records read completely before the break.
    """
    # The compiled module cuts the bibliography (never read) before parsing;
    # a chunk that fails is parsed again whole, so errors read as before.
    data = chunk.data if _COMPILED is None else _COMPILED.drop_unread(chunk.data)
    try:
        root = etree.fromstring(data, _new_parser())
    except etree.XMLSyntaxError:
        return _parse_chunk_until_error(chunk)
    items: list[Any] = []
    count = 0
    records: Iterator[Any] = root.iter(*_RECORD_TAGS)
    for elem in records:
        items.extend(_record(elem, elem.sourceline))
        count += 1
    last: Any = root[-1] if len(root) else None
    end_line: int | None = last.sourceline if last is not None and last.tag == _END_MARK else None
    return items, count, end_line


def _parse_chunk_until_error(chunk: PubmedChunk) -> ChunkResult:
    """Records of a broken chunk up to the break, then the :class:`ChunkFailure`."""
    items: list[Any] = []
    count = 0
    try:
        for elem in _RecordReader(io.BytesIO(chunk.data), huge=True):
            items.extend(_record(elem, elem.sourceline))
            count += 1
            elem.clear(keep_tail=False)
    except etree.XMLSyntaxError as err:
        message = (err.msg or str(err)).split(", line ")[0]
        items.append(ChunkFailure(_error_line(err), message, count))
    return items, count, None


# ---------------------------------------------------------------------------
# Error messages
# ---------------------------------------------------------------------------

# libxml2's advice to its own callers, which a user cannot follow.
_LIBXML_ADVICE_RE = re.compile(r",? *(?:use|try) XML_PARSE_HUGE(?: option)?|,? *see xmlCtxt\w+\.?")
# What to do about a libxml2 error, by words of its message (first match wins).
_HINTS = (
    (
        ("encoding", "utf-8", "utf-16", "char 0x"),
        "the file is not in the encoding its XML declaration names (UTF-8 when it names "
        "none): convert it (iconv -t UTF-8) or declare the right encoding",
    ),
    (
        ("amplification", "entity reference loop", "entity nesting", "external entity"),
        "the DOCTYPE declares entities that are never expanded here; PubMed XML declares "
        "none: remove the DOCTYPE's [...] internal subset",
    ),
    (
        ("excessive depth", "text node too long", "resource limit", "huge"),
        "a record nests deeper or holds a longer text than libxml2 accepts, which no "
        "PubMed record does: fix or remove it",
    ),
)


def _syntax_error(name: str, line: int | None, message: str, count: int) -> ParseError:
    message = _LIBXML_ADVICE_RE.sub("", message).rstrip(". ")
    lower = message.lower()
    hint = next(
        (h for words, h in _HINTS if any(w in lower for w in words)),
        "re-download the file or fetch the missing records again",
    )
    return ParseError(
        f"{name}: truncated or malformed XML at line {line or '?'}: {message}; "
        f"the {count} record(s) before it were read.",
        hint,
    )


def _gzip_error(name: str, exc: Exception, count: int) -> ParseError:
    return ParseError(
        f"{name}: the gzip data is truncated or corrupt ({exc}); "
        f"the {count} record(s) before it were read.",
        "re-download the file",
    )


# ---------------------------------------------------------------------------
# The reader
# ---------------------------------------------------------------------------


def iter_pubmed_xml(
    source: PubmedSource, *, chunk_bytes: int = _CHUNK_BYTES
) -> Iterator[Article | Deletion | RecordError]:
    """Stream the records of a PubMed XML document.

    Accepts EFetch responses and baseline/update files, plain or gzipped
    (detected by magic bytes, whatever the file name). Memory stays flat: the
    document is read in chunks of about ``chunk_bytes`` of whole records.

    Args:
        source: A file path, an open binary stream, or the document's bytes.
        chunk_bytes: Size of the chunks the document is parsed in.

    Yields:
        An :class:`Article` per ``PubmedArticle``/``PubmedBookArticle``, a
        :class:`Deletion` per PMID listed in a ``DeleteCitation``, and a
        :class:`RecordError` (yielded, not raised) per malformed record.

    Raises:
        ParseError: The input is empty, an HTML page, not PubMed XML, or
            breaks off / is malformed (raised after the complete records
            before the break were yielded; the message names the line).
        OSError: The file cannot be opened.
    """
    return map_pubmed_xml(source, _parse_in_process, chunk_bytes=chunk_bytes)


def _parse_in_process(chunks: Iterator[PubmedChunk]) -> Iterator[ChunkResult]:
    return map(parse_chunk, chunks)


def map_pubmed_xml(
    source: PubmedSource, map_chunks: ChunkMapper, *, chunk_bytes: int = _CHUNK_BYTES
) -> Iterator[Any]:
    """:func:`iter_pubmed_xml` with the chunk parsing handed to ``map_chunks``.

    The document is cut into chunks of whole records (:class:`PubmedChunk`)
    here; ``map_chunks`` parses them (with :func:`parse_chunk`) and may turn
    the articles into something else (e.g. database rows), in worker
    processes if it likes, as long as the results come back in order. The
    error contract is the reader's: bad records come out as
    :class:`RecordError` s, and a break in the XML or a read error is raised
    as :class:`ParseError` after every record before it.

    Documents that cannot be cut safely (an internal DTD subset, a non-ASCII
    encoding, no root tag near the start, not a PubMed root) are read in one
    streaming pass here, without ``map_chunks``: their articles come out
    unmapped.

    Args:
        source: A file path, an open binary stream, or the document's bytes.
        map_chunks: Turns the chunk iterator into results, in order.
        chunk_bytes: Size of the chunks.

    Yields:
        The items of the results, in order.

    Raises:
        ParseError: As :func:`iter_pubmed_xml`.
        OSError: The file cannot be opened or read.
    """
    name = source_name(source)
    owned: list[IO[bytes] | GunzipStream] = []
    try:
        stream, head = open_source(source, _SNIFF_BYTES, owned)
        _check_head(head, name)
        layout = _layout(head)
        if layout is None:
            stream.replace_head(_declare_mathml_prefix(head))
            yield from _iterate(stream, name, huge=_plain_root(head) is not None)
            return
        stream.replace_head(head[layout.content_start :])
        splitter = _Splitter(stream, layout, name, chunk_bytes)
        lines = _LineMap(layout.prefix)
        count = 0
        results = map_chunks(iter(splitter))
        try:
            for items, n, end_line in results:
                for item in items:
                    if isinstance(item, BadRecord):
                        line = lines(item.line)
                        yield RecordError(item.pmid, f"{name} line {line}: {item.detail}")
                    elif isinstance(item, ChunkFailure):
                        message = lines.message(item.message)
                        raise _syntax_error(name, lines(item.line), message, count + item.before)
                    else:
                        yield item
                count += n
                lines.next_chunk(end_line)
        finally:
            # A mapper may still be reading the source (from a thread): stop it
            # before the source is closed.
            close = getattr(results, "close", None)
            if close is not None:
                close()
        if isinstance(splitter.error, EOFError | zlib.error):
            raise _gzip_error(name, splitter.error, count)
        if splitter.error is not None:
            raise splitter.error
    except (EOFError, zlib.error) as exc:  # gzip broken within the sniffed head
        raise ParseError(
            f"{name}: the gzip data is truncated or corrupt ({exc}).", "re-download the file"
        ) from exc
    finally:
        for handle in reversed(owned):
            handle.close()


def _iterate(
    stream: PrefixedStream, name: str, *, huge: bool
) -> Iterator[Article | Deletion | RecordError]:
    """One streaming pass over a document that is not cut into chunks."""
    reader = _RecordReader(stream, huge=huge)
    count = 0
    try:
        for elem in reader:
            for item in _record(elem, elem.sourceline):
                if isinstance(item, BadRecord):
                    yield RecordError(item.pmid, f"{name} line {item.line}: {item.detail}")
                else:
                    yield item
            count += 1
            elem.clear(keep_tail=False)
            parent = elem.getparent()
            if parent is not None:
                while elem.getprevious() is not None:
                    del parent[0]
    except etree.XMLSyntaxError as err:
        message = (err.msg or str(err)).split(", line ")[0]
        raise _syntax_error(name, _error_line(err), message, count) from None
    except (EOFError, zlib.error) as exc:
        raise _gzip_error(name, exc, count) from exc
    if count:
        return
    root = reader.root
    root_tag = root.tag if root is not None and isinstance(root.tag, str) else ""
    if root is not None and root_tag not in _SET_TAGS:
        detail = ""
        error_text = root.findtext(".//ERROR")
        if error_text:
            detail = f" (E-utilities error: {' '.join(error_text.split())})"
        raise ParseError(
            f"{name}: root element <{root_tag}> is not PubMed XML{detail}.",
            "expected a <PubmedArticleSet> from EFetch with db=pubmed and retmode=xml",
        )


def parse_pubmed_xml_bytes(data: bytes) -> list[Article | Deletion | RecordError]:
    """Parse a whole PubMed XML document held in memory (an EFetch response).

    Args:
        data: The response body, plain or gzipped.

    Returns:
        The records in document order, as :func:`iter_pubmed_xml` yields them.

    Raises:
        ParseError: As :func:`iter_pubmed_xml`; records read before a break
            are lost with the exception, so use the iterator to keep them.
    """
    return list(iter_pubmed_xml(data))


_COMPILED = _load_compiled()

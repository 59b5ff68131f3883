"""libxml2 set up safely for untrusted PubMed XML, and the streaming record reader.

Every parser of :mod:`litmine.parse.pubmed_xml` is built from
:data:`_SAFE_PARSING` here (no DTD, no network, no entity expansion), so the
safety of reading a hostile file is decided in one place. :class:`_RecordReader`
is the one-pass reader for documents that cannot be cut into chunks (and for
the records of a chunk that breaks off); it pins down what comes out before
an XML error whatever the libxml2 version does.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypedDict

from lxml import etree

from litmine.parse._pubmed_fields import _RECORD_TAGS


# Options of every parser here: no DTD, no network, no entity expansion (XXE and
# billion-laughs safe), and no comments or processing instructions in the tree.
class _SafeParsing(TypedDict):
    load_dtd: bool
    no_network: bool
    resolve_entities: bool
    remove_comments: bool
    remove_pis: bool


_SAFE_PARSING = _SafeParsing(
    load_dtd=False, no_network=True, resolve_entities=False, remove_comments=True, remove_pis=True
)


def _new_parser() -> etree.XMLParser:
    # One per chunk: lxml parsers must not be shared between threads, and
    # building one costs microseconds. Chunk documents have no DTD subset, so
    # they declare no entities and the raised size limits (huge_tree: texts
    # over 10 MB, 2048 levels of nesting) cannot amplify anything.
    return etree.XMLParser(**_SAFE_PARSING, huge_tree=True, collect_ids=False)


class _RecordReader:
    """Top-level records (``end`` events), read until the end or the first XML error.

    Every record whose end tag comes before the first fatal error is yielded,
    and no other, then the :class:`lxml.etree.XMLSyntaxError` is raised,
    whatever libxml2 does after the error. Two behaviours of libxml2 2.14
    (lxml 6.x) made this depend on the version before:

    - ``iterparse`` raises as soon as ``feed`` reports an error and drops the
      events of the block read with it, and 2.14 reports errors earlier in a
      block than 2.13 did, so complete records before a break were lost.
      The pull parser here hands those events on first. libxml2 stops calling
      back at a fatal error inside a block (no recovery mode), so nothing
      comes from past it; a record starting after the error's line is
      dropped all the same.
    - At the end of a truncated document, closing the parser ends every open
      element, so the record that breaks off came out whole. Every end tag
      that was fed has already been reported by then, so events that only
      appear when closing fails are never records.

    Args:
        source: A binary stream (``read(size)``).
        huge: Raise libxml2's size limits (``huge_tree``); only for documents
            without an internal DTD subset, where no entity can expand.

    Attributes:
        root: The root element, once the document ended without error.
    """

    def __init__(self, source: Any, *, huge: bool) -> None:
        self._source = source
        self._huge = huge
        self.root: Any = None

    def __iter__(self) -> Iterator[Any]:
        parser: Any = etree.XMLPullParser(
            events=("end",), tag=_RECORD_TAGS, huge_tree=self._huge, **_SAFE_PARSING
        )
        while True:
            data = self._source.read(_PULL_BLOCK)
            try:
                if data:
                    parser.feed(data)
                else:
                    self.root = parser.close()
            except etree.XMLSyntaxError as err:
                line = _error_line(err)
                if data:  # broken inside the block: what ended before the error
                    for _event, elem in parser.read_events():
                        if line is None or (elem.sourceline or 0) <= line:
                            yield elem
                raise
            for _event, elem in parser.read_events():
                yield elem
            if not data:
                return


# Bytes fed to the pull parser at a time (lxml's iterparse reads 32 KiB).
_PULL_BLOCK = 1 << 16


def _error_line(err: etree.XMLSyntaxError) -> int | None:
    line = err.lineno
    return int(line) if isinstance(line, int) and line > 0 else None

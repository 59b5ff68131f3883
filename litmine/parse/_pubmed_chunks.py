"""Cutting a PubMed XML document into chunks of whole records, and mapping their lines.

The raw (inflated) bytes of a document are cut just after record end tags
into :class:`PubmedChunk` s of about 1 MB, each a complete document that
libxml2 parses alone: the file's prolog and root start tag, a run of whole
records, and a root end tag. :func:`_layout` tells whether a document can be
cut safely on bytes at all (a plain prolog, an ASCII-compatible encoding);
:class:`_Splitter` does the cutting as the file streams in; and
:class:`_LineMap` turns line numbers of chunk documents back into the file's,
so that messages name the line a user can open.

No parsing happens here: :mod:`litmine.parse.pubmed_xml` feeds the chunks to
libxml2 (in this process or in workers).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from typing import NamedTuple

from litmine.parse._io import PrefixedStream
from litmine.parse.text import MATHML_NS

_ROOT_TAG_RE = re.compile(rb"<(PubmedArticleSet|PubmedBookArticleSet)\b[^>]*>")


class PubmedChunk(NamedTuple):
    """A run of whole top-level records, as a document libxml2 can parse alone.

    ``data`` is the file's prolog and root start tag, then a slice of the
    file's content cut just after a record's end tag. The last chunk runs to
    the end of the file and keeps the real root end tag; the others end with
    an end-of-chunk marker element (whose line tells how many lines the chunk
    spans) and an appended root end tag.

    Attributes:
        data: The chunk document.
        name: The source's name, for messages.
    """

    data: bytes
    name: str


_CHUNK_BYTES = 1 << 20
_FIRST_CHUNK_BYTES = 1 << 16
_END_MARK = "litmine-chunk-end"
_ARTICLE_END = b"</PubmedArticle>"
_OTHER_ENDS = (b"</PubmedBookArticle>", b"</DeleteCitation>")
# Where an end tag could stand without ending a record: inside a comment, a
# CDATA section or a processing instruction. Their openers and closers.
_SPECIALS = ((b"<!--", b"-->"), (b"<![CDATA[", b"]]>"), (b"<?", b"?>"))
_COMMENT_OR_PI_RE = re.compile(rb"<!--.*?-->|<\?.*?\?>", re.S)
_PLAIN_DOCTYPE_RE = re.compile(rb"\s*(?:<!DOCTYPE\s[^<>\[\]]*>\s*)?")
_ENCODING_RE = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
# Encodings in which every byte below 0x80 is the ASCII character, so record
# end tags can be found in the raw bytes.
_ASCII_COMPATIBLE = frozenset(
    {"utf-8", "utf8", "us-ascii", "ascii", "iso-8859-1", "latin-1", "latin1", "iso-8859-15"}
    | {"windows-1252", "cp1252"}
)
_LINE_RE = re.compile(r"\bline (\d+)")


class _Layout(NamedTuple):
    """Where the content of a splittable document starts (see :func:`_layout`)."""

    prefix: bytes  # prolog + root start tag (mml prefix declared)
    root: bytes  # root tag name
    content_start: int  # offset of the content in the sniffed head


def _plain_root(head: bytes) -> re.Match[bytes] | None:
    """The root start tag, when all before it is a plain prolog, else None.

    A plain prolog is an XML declaration, comments, processing instructions
    and a DOCTYPE without internal subset: nothing that declares entities.
    """
    match = _ROOT_TAG_RE.search(head)
    if match is None:
        return None
    prolog = head[: match.start()].removeprefix(b"\xef\xbb\xbf")
    if _PLAIN_DOCTYPE_RE.fullmatch(_COMMENT_OR_PI_RE.sub(b"", prolog)) is None:
        return None
    return match


def _layout(head: bytes) -> _Layout | None:
    """How to cut this document into chunks, or None to read it in one piece.

    Cutting needs the root start tag in the head after a plain prolog (see
    :func:`_plain_root`; an internal DTD subset could declare entities that
    later records use), an ASCII-compatible encoding, and a root that is not
    empty.
    """
    match = _plain_root(head)
    if match is None or match.group(0).endswith(b"/>"):
        return None
    encoding = _ENCODING_RE.match(head[: match.start()].removeprefix(b"\xef\xbb\xbf"))
    if encoding is not None and encoding.group(1).lower().decode() not in _ASCII_COMPATIBLE:
        return None
    return _Layout(_declare_mathml_prefix(head[: match.end()]), match.group(1), match.end())


def _may_hide_tags(buf: bytes | bytearray, end: int) -> bool:
    """Whether ``buf[:end]`` opens a comment, CDATA section or processing instruction."""
    # Searching the single characters after "<" runs at memchr speed; "<!"
    # itself would make the search stop at every "<" of the markup.
    for mark in (b"!", b"?"):
        at = buf.find(mark, 1, end)
        while at >= 0:
            if buf[at - 1] == 0x3C:  # "<"
                return True
            at = buf.find(mark, at + 1, end)
    return False


def _last_cut(buf: bytes | bytearray) -> int:
    """End of the last record end tag in ``buf`` (-1 if none), outside comments & co."""
    at = buf.rfind(_ARTICLE_END)
    cut = at + len(_ARTICLE_END) if at >= 0 else -1
    for tag in _OTHER_ENDS:  # rare: look only after the last article
        other = buf.rfind(tag, max(at, 0))
        if other >= 0:
            cut = max(cut, other + len(tag))
    if cut < 0 or not _may_hide_tags(buf, cut):
        return cut
    # Rare: something that may hide an end tag. Scan the regions in order and
    # keep only end tags between them.
    cut, pos = -1, 0
    while True:
        starts = [(buf.find(opener, pos), opener, closer) for opener, closer in _SPECIALS]
        found = [s for s in starts if s[0] >= 0]
        region, opener, closer = min(found) if found else (len(buf), b"", b"")
        for tag in (_ARTICLE_END, *_OTHER_ENDS):
            at = buf.rfind(tag, pos, region)
            if at >= 0:
                cut = max(cut, at + len(tag))
        if not found:
            return cut
        close = buf.find(closer, region + len(opener))
        if close < 0:
            return cut  # the region runs past the buffer: nothing after it is safe yet
        pos = close + len(closer)


class _Splitter:
    """Cut the content of a splittable document into :class:`PubmedChunk` s.

    Iterating yields the chunks; a read error (gzip data cut short or corrupt,
    I/O failure) ends the iteration, after a last chunk of the records that
    ended before it, and is kept in :attr:`error`, so that the chunks before
    it are still processed and the error reported after them.
    """

    def __init__(
        self, stream: PrefixedStream, layout: _Layout, name: str, chunk_bytes: int
    ) -> None:
        self.stream = stream
        self.layout = layout
        self.name = name
        self.chunk_bytes = max(1, chunk_bytes)
        self.error: Exception | None = None

    def __iter__(self) -> Iterator[PubmedChunk]:
        layout = self.layout
        tail = b"<" + _END_MARK.encode() + b"/></" + layout.root + b">"
        prefix = layout.prefix
        # Small first chunks give the first records quickly; later ones amortise
        # the per-chunk costs.
        target = min(_FIRST_CHUNK_BYTES, self.chunk_bytes)
        # A bytearray grows in place and drops its head cheaply; each chunk is
        # then copied once, into its document.
        buf = bytearray()
        while True:
            try:
                block = self.stream.read(max(target - len(buf), 1 << 16))
            except (EOFError, zlib.error, OSError) as exc:
                self.error = exc
                # The records that ended before the break still count: up to a
                # chunk of them can be waiting in the buffer.
                cut = _last_cut(buf)
                if cut > 0:
                    with memoryview(buf) as view:
                        yield PubmedChunk(b"".join((prefix, view[:cut], tail)), self.name)
                return
            if not block:
                yield PubmedChunk(prefix + buf, self.name)  # the root end tag is in buf
                return
            buf += block
            if len(buf) < target:
                continue
            cut = _last_cut(buf)
            if cut < 0:
                continue  # one record longer than the target: read on
            with memoryview(buf) as view:
                data = b"".join((prefix, view[:cut], tail))
            yield PubmedChunk(data, self.name)
            del buf[:cut]
            # Later chunks start on a line of their own (see _LineMap).
            prefix = layout.prefix + b"\n"
            target = min(target * 2, self.chunk_bytes)


class _LineMap:
    """Maps line numbers of chunk documents to the file's, chunk after chunk.

    The first chunk is the file's start verbatim. Later ones repeat the head
    (prolog and root tag, the file's own lines) and put a line break before
    their content, so a line past the head is the file's line where the
    content starts, plus how far it is into the content.
    """

    def __init__(self, prefix: bytes) -> None:
        self.head_lines = prefix.count(b"\n") + 1  # down to the root tag's line
        self.offset = 0  # for the current chunk

    def __call__(self, line: int | None) -> int | None:
        if line is None or line <= self.head_lines:
            return line
        return line + self.offset

    def message(self, text: str) -> str:
        return _LINE_RE.sub(lambda m: f"line {self(int(m.group(1)))}", text)

    def next_chunk(self, end_line: int | None) -> None:
        """Move past the current chunk, whose content ends on ``end_line`` of it."""
        content_end = self(end_line) or 0  # the file's line where the next content starts
        self.offset = content_end - (self.head_lines + 1)


def _declare_mathml_prefix(head: bytes) -> bytes:
    """Declare the ``mml:`` prefix on the root element if the document does not.

    The PubMed DTDs supply ``xmlns:mml`` as a default attribute of
    ``<mml:math>``; without the DTD an ``mml:`` tag would be a namespace error
    that libxml2 reports only at the end of the file (and lxml's error log
    cannot tell it apart reliably from real breakage). Declaring the prefix
    on ``<PubmedArticleSet>`` makes every such tag well-formed. The insertion
    stays on the root tag's line, so reported line numbers do not move.
    """
    match = _ROOT_TAG_RE.search(head)
    if match is None or b"xmlns:mml" in match.group(0):
        return head
    at = match.end(1)
    return head[:at] + b' xmlns:mml="' + MATHML_NS.encode() + b'"' + head[at:]

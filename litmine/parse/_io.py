"""Byte-level input plumbing shared by the readers: gzip sniffing and streaming.

Gzip is recognised by its magic bytes, never by the file name alone, and
inflated in streaming fashion, so a gzipped baseline file is never held in
memory whole.
"""

from __future__ import annotations

import io
import os
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any, BinaryIO

from litmine.errors import ParseError

_decompressobj: Callable[[int], Any]
_InflateError: type[Exception]
try:  # ISA-L inflates gzip about 2.5x faster than zlib, same format and checks
    from isal import isal_zlib

    _decompressobj = isal_zlib.decompressobj
    _InflateError = isal_zlib.error  # type: ignore[assignment]  # its stub says an instance
except ImportError:  # a platform without isal wheels: zlib does the same, slower
    _decompressobj, _InflateError = zlib.decompressobj, zlib.error

__all__ = [
    "GZIP_MAGIC",
    "ByteSource",
    "GunzipStream",
    "PrefixedStream",
    "iter_lines",
    "open_source",
    "read_head",
    "sniffable",
    "source_name",
    "text_lines",
    "wide_encoding",
]

ByteSource = str | os.PathLike[str] | BinaryIO | bytes
"""A path, an open binary stream, or the data itself."""

GZIP_MAGIC = b"\x1f\x8b"
_COMPRESSED_CHUNK = 1 << 18
# Byte-order marks of the encodings whose ASCII characters are not single
# bytes; UTF-32 first, since its little-endian mark starts like UTF-16's.
_WIDE_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)


def wide_encoding(head: bytes) -> str | None:
    """UTF-16 or UTF-32 of a file's first bytes, by byte-order mark or NUL pattern.

    Args:
        head: The first bytes (inflated).

    Returns:
        A Python codec name (``"utf-16-le"``...), or None for a byte-wide
        encoding (UTF-8, Latin-1...).
    """
    for bom, codec in _WIDE_BOMS:
        if head.startswith(bom):
            return codec
    if len(head) >= 4 and head[0] and not head[1] and head[2] and not head[3]:
        return "utf-16-le"  # "<\0?\0": XML in UTF-16 without a mark
    if len(head) >= 4 and not head[0] and head[1] and not head[2] and head[3]:
        return "utf-16-be"
    return None


def sniffable(head: bytes) -> bytes:
    """A file's first bytes as UTF-8 without byte-order mark, for format sniffing.

    UTF-16/32 input is decoded (what does not decode is dropped: the head
    may end inside a character); anything else is returned as it is, minus
    a UTF-8 byte-order mark.
    """
    codec = wide_encoding(head)
    if codec is not None:
        head = head.decode(codec, errors="ignore").encode("utf-8")
        head = head.removeprefix("\ufeff".encode())
    return head.removeprefix(b"\xef\xbb\xbf")


class PrefixedStream:
    """A read-only stream that replays already-read bytes, then the rest."""

    def __init__(self, head: bytes, rest: IO[bytes] | GunzipStream | None) -> None:
        self._head = head
        self._rest = rest

    def replace_head(self, head: bytes) -> None:
        """Swap the not-yet-read prefix (e.g. for a patched copy of it)."""
        self._head = head

    def read(self, size: int = -1) -> bytes:
        """Read up to ``size`` bytes (all remaining bytes when negative)."""
        if self._head:
            if size is None or size < 0:
                data = self._head + (self._rest.read() if self._rest is not None else b"")
                self._head = b""
                return data
            data, self._head = self._head[:size], self._head[size:]
            return data
        if self._rest is None:
            return b""
        return self._rest.read(size)


class GunzipStream:
    """Inflate a gzip stream (all members) chunk by chunk with ISA-L (``isal``).

    Lighter than :class:`gzip.GzipFile` for large sequential reads: the
    inflater itself checks each member's CRC and length, so no extra pass is
    needed. Falls back to :mod:`zlib` where ``isal`` is not installed.

    Args:
        raw: The compressed stream, positioned after ``head``.
        head: Compressed bytes already read from ``raw`` (the magic bytes).

    Raises:
        EOFError: From :meth:`read`, when the compressed data stops before the
            end-of-stream marker (a truncated download).
        zlib.error: From :meth:`read`, on corrupt data or a CRC mismatch
            (ISA-L's own error is re-raised as this one).
    """

    def __init__(self, raw: IO[bytes], head: bytes = b"") -> None:
        self._raw = raw
        self._pending = head
        self._inflater = _decompressobj(16 + zlib.MAX_WBITS)
        self._buf = b""
        self._pos = 0
        self._eof = False

    def _inflate_more(self) -> bytes | None:
        """Next non-empty block of inflated bytes, None at the end."""
        while not self._eof:
            data = self._pending or self._raw.read(_COMPRESSED_CHUNK)
            self._pending = b""
            if not data:
                self._eof = True
                if not self._inflater.eof:
                    raise EOFError(
                        "compressed file ended before the end-of-stream marker was reached"
                    )
                return None
            out: list[bytes] = []
            while data:
                if self._inflater.eof:
                    if not data.strip(b"\x00"):
                        break  # zero padding after the last member
                    self._inflater = _decompressobj(16 + zlib.MAX_WBITS)
                try:
                    out.append(self._inflater.decompress(data))
                except _InflateError as exc:
                    raise zlib.error(str(exc)) from exc
                data = self._inflater.unused_data if self._inflater.eof else b""
            block = b"".join(out)
            if block:
                return block
        return None

    def read(self, size: int = -1) -> bytes:
        """Read up to ``size`` inflated bytes (all remaining when negative)."""
        if size is None or size < 0:
            parts = [self._buf[self._pos :]]
            self._buf, self._pos = b"", 0
            while (block := self._inflate_more()) is not None:
                parts.append(block)
            return b"".join(parts)
        if self._pos >= len(self._buf):
            block = self._inflate_more()
            if block is None:
                return b""
            self._buf, self._pos = block, 0
        end = self._pos + size
        data = self._buf[self._pos : end]
        self._pos = end
        return data

    def close(self) -> None:
        """Drop buffered data (the raw stream belongs to the caller)."""
        self._buf = b""
        self._eof = True


def source_name(source: ByteSource) -> str:
    """Name of a source for messages: its path, its stream name, or a placeholder."""
    if isinstance(source, bytes | bytearray | memoryview):
        return "<bytes>"
    if isinstance(source, str | os.PathLike):
        return os.fspath(source)
    name = getattr(source, "name", None)
    return os.fspath(name) if isinstance(name, str | os.PathLike) else "<stream>"


def read_head(stream: IO[bytes] | GunzipStream, size: int) -> bytes:
    """Read up to ``size`` bytes, looping over short reads."""
    parts: list[bytes] = []
    remaining = size
    while remaining > 0:
        chunk = stream.read(remaining)
        if not chunk:
            break
        parts.append(chunk)
        remaining -= len(chunk)
    return b"".join(parts)


def open_source(
    source: ByteSource, head_size: int, owned: list[IO[bytes] | GunzipStream]
) -> tuple[PrefixedStream, bytes]:
    """Open a source, undo gzip (by magic bytes) and peek at its first bytes.

    Args:
        source: Path, binary stream or bytes.
        head_size: How many (inflated) bytes to return for sniffing.
        owned: Receives the handles opened here; the caller closes them.

    Returns:
        ``(stream, head)``: a stream that yields the whole inflated content
        (``head`` included) and the first ``head_size`` bytes of it.

    Raises:
        OSError: The path cannot be opened.
        EOFError: Gzip data ends within the first ``head_size`` bytes.
        zlib.error: Gzip data is corrupt within the first ``head_size`` bytes.
    """
    raw: IO[bytes]
    if isinstance(source, bytes | bytearray | memoryview):
        raw = io.BytesIO(source)
    elif isinstance(source, str | os.PathLike):
        raw = open(source, "rb")  # noqa: SIM115 - closed by the caller via `owned`
        owned.append(raw)
    else:
        raw = source
    magic = read_head(raw, 2)
    if magic == GZIP_MAGIC:
        inflated = GunzipStream(raw, magic)
        owned.append(inflated)
        head = read_head(inflated, head_size)
        return PrefixedStream(head, inflated), head
    head = magic + read_head(raw, head_size - len(magic))
    return PrefixedStream(head, raw), head


def iter_lines(stream: PrefixedStream, chunk_size: int = 1 << 20) -> Iterator[bytes]:
    """Split a byte stream into lines, each with its line feed."""
    rest = b""
    while True:
        chunk = stream.read(chunk_size)
        if not chunk:
            break
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        for line in lines:
            yield line + b"\n"
    if rest:
        yield rest


@contextmanager
def text_lines(source: ByteSource, what: str) -> Iterator[Iterator[bytes]]:
    """Lines of a plain or gzipped text source, for the line-based readers.

    Args:
        source: Path, binary stream or bytes.
        what: What the file should hold, for the "empty" message ("MEDLINE records").

    Yields:
        An iterator over the (inflated) lines, each with its line feed.

    Raises:
        ParseError: The input is empty, or its compressed data is corrupt or cut
            short (also when that is found while the lines are being read).
        OSError: The file cannot be opened.
    """
    name = source_name(source)
    owned: list[IO[bytes] | GunzipStream] = []
    try:
        stream, head = open_source(source, 1024, owned)
        if not head.strip(b"\xef\xbb\xbf \t\r\n"):
            raise ParseError(f"{name} is empty: no {what} to read.")
        yield iter_lines(stream)
    except (EOFError, OSError, zlib.error) as exc:
        if isinstance(exc, FileNotFoundError | PermissionError | IsADirectoryError):
            raise
        raise ParseError(f"{name}: cannot read the compressed data ({exc}).") from exc
    finally:
        for handle in reversed(owned):
            handle.close()

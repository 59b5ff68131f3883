"""Broken and hostile article files: real parsers on files made here, no mocks.

Truncated and corrupt gzip, wrong encodings, a 10 MiB abstract, 10,000
levels of nesting, entity expansion (billion laughs, external entities)
on every reading path: the chunked reader with the compiled extractor and
without it, and the one-pass reader (documents with an internal DTD subset).
"""

from __future__ import annotations

import gzip
import json
import tracemalloc
import zlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from litmine.cli import app
from litmine.config import load_settings
from litmine.errors import InputError, ParseError, RecordError
from litmine.parse import detect_format, pubmed_xml, read_file
from litmine.parse.pubmed_xml import iter_pubmed_xml
from litmine.store import Store
from litmine.types import Article

PROLOG = '<?xml version="1.0"?>\n'


def citation(pmid: int, title: str = "", abstract: str = "", data: str = "") -> str:
    body = f"<Abstract><AbstractText>{abstract}</AbstractText></Abstract>" if abstract else ""
    return (
        f'<PubmedArticle><MedlineCitation><PMID Version="1">{pmid}</PMID><Article>'
        f"<ArticleTitle>{title or f'Title {pmid}'}</ArticleTitle>{body}</Article>"
        f"</MedlineCitation><PubmedData>{data}</PubmedData></PubmedArticle>"
    )


def document(*records: str, prolog: str = PROLOG) -> bytes:
    return (
        prolog + "<PubmedArticleSet>\n" + "\n".join(records) + "\n</PubmedArticleSet>\n"
    ).encode()


def many(n: int, words: int = 200) -> bytes:
    return document(*(citation(i, abstract=f"Finding {i} " * words) for i in range(1, n + 1)))


@pytest.fixture(params=["compiled", "pure-python"])
def extractor(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test with the compiled extractor and with the Python one."""
    if request.param == "compiled":
        if pubmed_xml._COMPILED is None:
            pytest.skip("the compiled extractor (litmine/parse/_fastxml.pyx) is not built here")
    else:
        monkeypatch.setattr(pubmed_xml, "_COMPILED", None)
    return str(request.param)


def read(source: object, **kwargs: int) -> tuple[list[object], ParseError | None]:
    """Every record yielded, and the ParseError that ended the reading (if any)."""
    out: list[object] = []
    try:
        for record in iter_pubmed_xml(source, **kwargs):  # type: ignore[arg-type]
            out.append(record)
    except ParseError as exc:
        return out, exc
    return out, None


def pmids(records: list[object]) -> list[str]:
    return [r.pmid for r in records if isinstance(r, Article)]


# --- gzip ---------------------------------------------------------------------------


@pytest.mark.parametrize("fraction", [0.05, 0.35, 0.7, 0.97])
def test_truncated_gzip_keeps_every_complete_record(
    tmp_path: Path, extractor: str, fraction: float
) -> None:
    packed = gzip.compress(many(1500))
    cut = packed[: int(len(packed) * fraction)]
    path = tmp_path / "cut.xml.gz"
    path.write_bytes(cut)
    # What survives, counted without the reader: inflate what is there.
    complete = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(cut).count(b"</PubmedArticle>")
    assert complete > 0
    records, error = read(path)
    assert pmids(records) == [str(i) for i in range(1, complete + 1)]
    assert error is not None
    message = str(error)
    assert str(path) in message and "gzip data is truncated or corrupt" in message
    assert f"the {complete} record(s) before it were read" in message
    assert "re-download the file" in message


def test_corrupt_gzip_names_the_file(tmp_path: Path, extractor: str) -> None:
    packed = bytearray(gzip.compress(many(1500)))
    middle = len(packed) // 2
    packed[middle : middle + 64] = bytes(b ^ 0x5A for b in packed[middle : middle + 64])
    path = tmp_path / "corrupt.xml.gz"
    path.write_bytes(bytes(packed))
    records, error = read(path)
    assert error is not None and str(path) in str(error)
    assert "gzip data is truncated or corrupt" in str(error)
    got = pmids(records)
    assert got == [str(i) for i in range(1, len(got) + 1)]  # a clean prefix, nothing after


@pytest.mark.parametrize(
    "head", [b"\x1f\x8b", b"\x1f\x8b\x08\x00", b"\x1f\x8b" + bytes(range(256)) * 20]
)
def test_gzip_broken_in_its_first_bytes(tmp_path: Path, head: bytes) -> None:
    path = tmp_path / "broken.xml.gz"
    path.write_bytes(head)
    with pytest.raises(ParseError, match=r"broken\.xml\.gz: the gzip data is truncated or corrupt"):
        list(iter_pubmed_xml(path))
    with pytest.raises(InputError, match=r"cannot read .*broken\.xml\.gz"):
        detect_format(path)


def test_ingest_of_truncated_gzip_keeps_what_came_before(tmp_path: Path) -> None:
    packed = gzip.compress(many(1500))
    cut = packed[: len(packed) * 2 // 3]
    path = tmp_path / "baseline.xml.gz"
    path.write_bytes(cut)
    complete = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(cut).count(b"</PubmedArticle>")
    data = tmp_path / "data"
    result = CliRunner().invoke(app, ["ingest", "--file", str(path), "--data-dir", str(data)])
    assert result.exit_code == 0, result.output
    assert f"new {complete} /" in result.stdout and "failed 1" in result.stdout
    (skipped,) = [line for line in result.stderr.splitlines() if str(path) in line]
    assert "gzip data is truncated or corrupt" in skipped and "re-download" in skipped
    assert "Traceback" not in result.output
    status = CliRunner().invoke(app, ["status", "--json", "--data-dir", str(data)])
    assert json.loads(status.stdout)["counts"]["articles"] == complete


# --- encodings ----------------------------------------------------------------------

ACCENTED = "Café Étude naïve"


def _accented(encoding: str | None, codec: str) -> bytes:
    declaration = f' encoding="{encoding}"' if encoding else ""
    text = document(citation(1, ACCENTED), citation(2)).decode()
    return text.replace('version="1.0"', f'version="1.0"{declaration}').encode(codec)


@pytest.mark.parametrize(
    ("data"),
    [
        pytest.param(_accented("UTF-16", "utf-16"), id="utf16-declared"),
        pytest.param(_accented(None, "utf-16"), id="utf16-bom-undeclared"),
        pytest.param(_accented("UTF-16", "utf-16-be"), id="utf16be-no-bom"),
        pytest.param(_accented("ISO-8859-1", "latin-1"), id="latin1-declared"),
        pytest.param(_accented("windows-1252", "cp1252"), id="cp1252-declared"),
        pytest.param(b"\xef\xbb\xbf" + _accented(None, "utf-8"), id="utf8-bom"),
    ],
)
def test_declared_or_marked_encodings_are_read(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "encoded.xml"
    path.write_bytes(data)
    assert detect_format(path) == "pubmed_xml"
    records = list(read_file(path))
    assert [(a.pmid, a.title) for a in records] == [("1", ACCENTED), ("2", "Title 2")]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "bad", [pytest.param(b"Caf\xe9", id="latin1"), pytest.param(b"a\xff\xfe b", id="invalid")]
)
def test_undeclared_bytes_stop_with_an_encoding_hint(
    tmp_path: Path, extractor: str, bad: bytes
) -> None:
    # Not UTF-8 and not declared otherwise: the records before are kept and
    # the message says how to fix the file.
    path = tmp_path / "mixed.xml"
    data = document(citation(1), citation(2), citation(3, "BAD"), citation(4))
    path.write_bytes(data.replace(b"BAD", bad))
    for chunk_bytes in (1, 1 << 20):
        records, error = read(path, chunk_bytes=chunk_bytes)
        assert pmids(records) == ["1", "2"]
        assert error is not None and str(path) in str(error) and "line 5" in str(error)
        assert "encoding" in str(error)
        assert error.hint is not None and "iconv -t UTF-8" in error.hint


def test_medline_encodings(tmp_path: Path) -> None:
    text = "PMID- 1\nTI  - Café title\nAB  - An abstract.\n\nPMID- 2\nTI  - Second\n"
    latin = tmp_path / "latin1.txt"
    latin.write_bytes(text.encode("latin-1"))
    assert [a.title for a in read_file(latin)] == ["Café title", "Second"]  # type: ignore[union-attr]
    broken = tmp_path / "broken.txt"  # an invalid UTF-8 byte: that line is read as Windows-1252
    broken.write_bytes(text.encode().replace(b"title", b"ti\xfftle"))
    titles = [a.title for a in read_file(broken)]  # type: ignore[union-attr]
    assert len(titles) == 2 and titles[0].endswith("ti\xfftle") and titles[1] == "Second"
    bom = tmp_path / "bom.txt"
    bom.write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert [a.pmid for a in read_file(bom)] == ["1", "2"]  # type: ignore[union-attr]
    nul = tmp_path / "nul.txt"
    nul.write_bytes(text.encode().replace(b"Second", b"Sec\x00ond"))
    assert [a.title for a in read_file(nul)][1] == "Second"  # type: ignore[union-attr]
    for codec, name in (("utf-16", "UTF-16LE"), ("utf-16-be", "UTF-16BE")):
        wide = tmp_path / f"{codec}.txt"
        wide.write_bytes(text.encode(codec))
        with pytest.raises(InputError, match=f"is {name} text") as info:
            read_file(wide)
        assert info.value.hint is not None and f"iconv -f {name} -t UTF-8" in info.value.hint


# --- size and depth -----------------------------------------------------------------

BIG = 10 * 1024 * 1024  # 10 MiB: over libxml2's 10,000,000-byte text limit without huge_tree


def _big_abstract() -> str:
    sentence = "Aspirin lowered the risk of stroke in older adults. "
    return (sentence * (BIG // len(sentence) + 1))[:BIG]


def _big_document() -> bytes:
    return document(citation(1), citation(2, "Big", _big_abstract()), citation(3))


def test_ten_mebibyte_abstract_is_read(extractor: str) -> None:
    data = _big_document()
    tracemalloc.start()
    try:
        records, error = read(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert error is None
    assert pmids(records) == ["1", "2", "3"]
    big = records[1]
    assert isinstance(big, Article) and big.abstract == _big_abstract().strip()
    assert peak < 10 * len(data)  # a few copies of the text, not a blow-up


def test_ten_mebibyte_abstract_is_stored_and_split(tmp_path: Path) -> None:
    path = tmp_path / "big.xml"
    path.write_bytes(_big_document())
    data = tmp_path / "data"
    result = CliRunner().invoke(app, ["ingest", "--file", str(path), "--data-dir", str(data)])
    assert result.exit_code == 0, result.output
    assert "new 3 /" in result.stdout and "failed 0" in result.stdout
    settings = load_settings(data_dir=data)
    with Store.open(settings, read_only=True) as store:
        article = store.get_article("2")
        assert article is not None and article.abstract == _big_abstract().strip()
        passages = store.passages_for("2")
    longest = max(len(p.text) for p in passages)
    assert len(passages) > 1000 and longest < 10_000
    assert sum(len(p.text) for p in passages) >= BIG * 0.9


def _nested(depth: int, tag: str = "i") -> str:
    return f"<{tag}>" * depth + "x" + f"</{tag}>" * depth


@pytest.mark.parametrize("where", ["title", "unread"])
def test_ten_thousand_levels_stop_the_file_with_a_clear_error(extractor: str, where: str) -> None:
    deep = _nested(10_000, "i" if where == "title" else "X")
    bad = citation(3, "T" + deep) if where == "title" else citation(3, data=deep)
    data = document(citation(1), citation(2), bad, citation(4))
    for chunk_bytes in (1, 1 << 20):
        records, error = read(data, chunk_bytes=chunk_bytes)
        assert pmids(records) == ["1", "2"]
        assert error is not None
        message = str(error)
        assert "line 5" in message and "Excessive depth" in message
        assert "XML_PARSE_HUGE" not in message  # libxml2's advice to programmers is dropped
        assert error.hint is not None and "fix or remove it" in error.hint


def test_deep_but_allowed_nesting_reads_the_same_both_ways(monkeypatch: pytest.MonkeyPatch) -> None:
    # 2000 levels: within libxml2's raised limit, past Python's recursion limit.
    math = (
        "<mml:math>" + _nested(2000, "mml:mrow").replace("x", "<mml:mi>y</mml:mi>") + "</mml:math>"
    )
    data = document(citation(1, "T " + _nested(2000)), citation(2, "M " + math), citation(3))
    first, error = read(data)
    assert error is None
    assert [(a.pmid, a.title) for a in first] == [("1", "T x"), ("2", "M y"), ("3", "Title 3")]  # type: ignore[attr-defined]
    monkeypatch.setattr(pubmed_xml, "_COMPILED", None)
    assert read(data) == (first, None)


# --- entity expansion ---------------------------------------------------------------

SECRET = "TOP-SECRET-7f3a9c"


def _laughs(levels: int) -> str:
    lines = ['<!ENTITY lol0 "lol">']
    lines += [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, levels + 1)]
    return PROLOG + "<!DOCTYPE PubmedArticleSet [\n" + "\n".join(lines) + "\n]>\n"


def _secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(SECRET, encoding="utf-8")
    return path


def _assert_nothing_expanded(records: list[object]) -> None:
    assert records and all(isinstance(r, Article | RecordError) for r in records)
    for record in records:
        text = repr(record)
        assert SECRET not in text
        assert "lollol" not in text  # a laugh was never expanded
        assert len(text) < 5000


def test_billion_laughs_is_refused_or_left_unexpanded(extractor: str) -> None:
    # Nine levels: 10^9 "lol"s if expanded. libxml2 stops it, whatever the path.
    refs = "a &lol9; b"
    data = document(citation(1, refs, refs), citation(2), prolog=_laughs(9))
    records, error = read(data)
    assert error is not None and "amplification" in str(error) and len(str(error)) < 1000
    assert error.hint is not None and "internal subset" in error.hint
    assert records == []  # the declarations come first: nothing was read
    # Four levels (10^4) stay within libxml2's limit: read, never expanded.
    small = document(citation(1, "a &lol4; b", "x &lol4; y"), citation(2), prolog=_laughs(4))
    records, error = read(small)
    assert error is None and pmids(records) == ["1", "2"]
    _assert_nothing_expanded(records)
    assert records[0].title == "a &lol4; b"  # type: ignore[attr-defined]


def test_external_entities_are_never_read(tmp_path: Path, extractor: str) -> None:
    secret = _secret_file(tmp_path).as_uri()
    doctype = f'<!DOCTYPE PubmedArticleSet [<!ENTITY xxe SYSTEM "{secret}">]>\n'
    refs = "a &xxe; b"
    data = document(citation(1, refs, refs), citation(2), prolog=PROLOG + doctype)
    records, error = read(data)  # one pass: the document has a subset
    assert error is None and pmids(records) == ["1", "2"]
    _assert_nothing_expanded(records)
    # In an attribute libxml2 refuses the reference outright.
    attribute = citation(1, "t", "x").replace("<AbstractText>", '<AbstractText Label="&xxe;">')
    records, error = read(document(attribute, prolog=PROLOG + doctype))
    assert error is not None and "external entity" in str(error) and SECRET not in str(error)


def test_external_dtd_is_never_loaded(tmp_path: Path, extractor: str) -> None:
    # A plain DOCTYPE keeps the chunked path; its DTD would declare the entity.
    dtd = tmp_path / "evil.dtd"
    dtd.write_text(f'<!ENTITY xxe SYSTEM "{_secret_file(tmp_path).as_uri()}">', encoding="utf-8")
    doctype = f'<!DOCTYPE PubmedArticleSet SYSTEM "{dtd.as_uri()}">\n'
    data = document(citation(1, "a &xxe; b", "x &xxe; y"), citation(2), prolog=PROLOG + doctype)
    assert pubmed_xml._layout(data[:2048]) is not None  # read in chunks
    for chunk_bytes in (1, 1 << 20):
        records, error = read(data, chunk_bytes=chunk_bytes)
        assert error is None and pmids(records) == ["1", "2"]
        _assert_nothing_expanded(records)
    parameter = f'<!DOCTYPE PubmedArticleSet [<!ENTITY % p SYSTEM "{dtd.as_uri()}"> %p;]>\n'
    records, error = read(document(citation(1, "a &xxe; b"), prolog=PROLOG + parameter))
    assert error is None and pmids(records) == ["1"]
    _assert_nothing_expanded(records)


def test_pure_python_switch_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LITMINE_PURE_PYTHON_XML", "1")
    assert pubmed_xml._load_compiled() is None
    monkeypatch.setattr(pubmed_xml, "_COMPILED", pubmed_xml._load_compiled())
    records, error = read(document(citation(1, "a &lol4; b"), prolog=_laughs(4)))
    assert error is None
    _assert_nothing_expanded(records)


def test_ingest_never_expands_entities(tmp_path: Path) -> None:
    secret = _secret_file(tmp_path).as_uri()
    doctype = f'<!DOCTYPE PubmedArticleSet [<!ENTITY xxe SYSTEM "{secret}">]>\n'
    xxe = tmp_path / "xxe.xml"
    xxe.write_bytes(document(citation(1, "a &xxe; b", "x &xxe; y"), prolog=PROLOG + doctype))
    laughs = tmp_path / "laughs.xml"
    laughs.write_bytes(document(citation(2, "a &lol9; b"), prolog=_laughs(9)))
    data = tmp_path / "data"
    args = ["ingest", "--file", str(xxe), str(laughs), "--data-dir", str(data)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "new 1 /" in result.stdout and "failed 1" in result.stdout
    (skipped,) = [line for line in result.stderr.splitlines() if str(laughs) in line]
    assert "amplification" in skipped and "internal subset" in skipped
    with Store.open(load_settings(data_dir=data), read_only=True) as store:
        article = store.get_article("1")
        assert article is not None and article.title == "a &xxe; b"
        assert SECRET not in repr(article) and store.get_article("2") is None
        assert all(SECRET not in p.text for p in store.passages_for("1"))


def test_beir_jsonl_bad_lines_are_record_errors(tmp_path: Path) -> None:
    good = '{"_id": "d1", "title": "Café", "text": "x"}\n'.encode()
    last = b'{"_id": "d3", "title": "t3", "text": "z"}\n'
    deep = b'{"_id": "d2", "title": "t", "text": "y", "metadata": ' + b"[" * 10_000
    cases = {
        "deep": deep + b"]" * 10_000 + b"}\n",
        "invalid-utf8": b'{"_id": "d2", "title": "bad \xff", "text": "y"}\n',
        "cut": b'{"_id": "d2", "title": "t\n',
    }
    for label, line in cases.items():
        path = tmp_path / f"{label}.jsonl"
        path.write_bytes(good + line + last)
        records = list(read_file(path))
        assert len(records) == 3, label
        assert [a.pmid for a in records if isinstance(a, Article)] == ["d1", "d3"], label
        error = records[1]
        assert isinstance(error, RecordError) and f"{path} line 2" in str(error), label
    wide = tmp_path / "wide.jsonl"
    wide.write_bytes((good + last).decode().encode("utf-16"))
    with pytest.raises(InputError, match="is UTF-16LE text"):
        read_file(wide)

"""Hostile E-utilities replies and huge ID lists, through the real gateway and replay server.

The replies are NCBI's recorded ones (read from ../shared/data/entrez at run
time) with a DTD internal subset spliced in: external entities naming a
local secret file, and a billion-laughs cascade. The gateway's reply parser
and the PubMed XML reader must never expand them.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from litmine.errors import EntrezError
from litmine.fetch.entrez import EntrezGateway
from litmine.parse import pubmed_xml
from litmine.parse.pubmed_xml import iter_pubmed_xml
from litmine.types import Article
from tests.entrez_replay import EntrezReplay, Fault

MakeGateway = Callable[..., EntrezGateway]
SECRET = "TOP-SECRET-e1b2c3"
_DOCTYPE = re.compile(rb"<!DOCTYPE[^>]*>")


def _with_subset(reply: bytes, root: str, subset: str) -> bytes:
    """The reply with its DOCTYPE replaced by one carrying an internal subset."""
    doctype = f"<!DOCTYPE {root} [\n{subset}\n]>".encode()
    out, n = _DOCTYPE.subn(doctype, reply, count=1)
    assert n == 1
    return out


def _xxe(tmp_path: Path) -> str:
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET, encoding="utf-8")
    dtd = tmp_path / "evil.dtd"
    dtd.write_text(f'<!ENTITY leak SYSTEM "{secret.as_uri()}">', encoding="utf-8")
    return (
        f'<!ENTITY xxe SYSTEM "{secret.as_uri()}">\n'
        f'<!ENTITY % remote SYSTEM "{dtd.as_uri()}">\n%remote;'
    )


def _laughs() -> str:
    lines = ['<!ENTITY lol0 "lol">']
    lines += [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)]
    return "\n".join(lines)


def test_esearch_reply_with_external_entities(
    make_gateway: MakeGateway, entrez_replay: EntrezReplay, tmp_path: Path
) -> None:
    reply = _with_subset(entrez_replay.read("esearch2.xml"), "eSearchResult", _xxe(tmp_path))
    reply = reply.replace(b"<IdList>", b"<IdList><Id>&xxe;</Id><Id>&leak;</Id>", 1)
    reply = reply.replace(b"<QueryTranslation>", b"<QueryTranslation>&xxe; &leak;", 1)
    entrez_replay.fail("esearch", Fault.raw(reply))
    result = make_gateway().esearch("cancer", retmax=100)
    assert SECRET not in repr(result)
    assert result.count == 42249 and len(result.ids) == 100  # the entity-only Ids are dropped
    assert all(i.isdigit() for i in result.ids)


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "pure-python"])
def test_efetch_reply_with_external_entities(
    make_gateway: MakeGateway,
    entrez_replay: EntrezReplay,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    compiled: bool,
) -> None:
    if compiled and pubmed_xml._COMPILED is None:
        pytest.skip("the compiled extractor (litmine/parse/_fastxml.pyx) is not built here")
    if not compiled:
        monkeypatch.setattr(pubmed_xml, "_COMPILED", None)
    reply = _with_subset(entrez_replay.read("pubmed2.xml"), "PubmedArticleSet", _xxe(tmp_path))
    reply = reply.replace(b"<ArticleTitle>", b"<ArticleTitle>&xxe; &leak; ")
    reply = reply.replace(b"<AbstractText", b"<AbstractText>&xxe;</AbstractText><AbstractText")
    entrez_replay.fail("efetch", Fault.raw(reply))
    xml = make_gateway().efetch(ids=["11748933", "11700088"])
    assert xml == reply  # handed on verbatim: nothing was expanded into it
    records = list(iter_pubmed_xml(xml))
    assert [r.pmid for r in records if isinstance(r, Article)] == ["11748933", "11700088"]
    for record in records:
        assert SECRET not in repr(record)
        assert isinstance(record, Article) and record.title.startswith("&xxe; &leak; ")


@pytest.mark.parametrize(
    ("endpoint", "recorded", "root"),
    [("esearch", "esearch2.xml", "eSearchResult"), ("efetch", "pubmed2.xml", "PubmedArticleSet")],
)
def test_billion_laughs_reply_is_an_error_not_a_blow_up(
    make_gateway: MakeGateway, entrez_replay: EntrezReplay, endpoint: str, recorded: str, root: str
) -> None:
    reply = _with_subset(entrez_replay.read(recorded), root, _laughs())
    reply = reply.replace(b"<Count>", b"<Count>&lol9;", 1)
    reply = reply.replace(b"<ArticleTitle>", b"<ArticleTitle>&lol9;", 1)
    entrez_replay.fail(endpoint, Fault.raw(reply), times=3)
    gateway = make_gateway(max_retries=2)
    with pytest.raises(EntrezError) as info:
        if endpoint == "esearch":
            gateway.esearch("cancer")
        else:
            gateway.efetch(ids=["11748933"])
    message = str(info.value)
    assert "failed after 3 attempt(s)" in message and "amplification" in message
    assert len(message) < 1000 and "lollol" not in message
    assert len(entrez_replay.requests_for(endpoint)) == 3


def test_hundred_thousand_ids_are_posted_and_batched(
    make_gateway: MakeGateway, entrez_replay: EntrezReplay
) -> None:
    ids = [str(40_000_000 + i) for i in range(100_000)]
    gateway = make_gateway(batch_size=1000)
    # EPost: one POST with every id in the body, a short URL.
    gateway.epost(ids)
    (post,) = entrez_replay.requests_for("epost")
    assert post.method == "POST" and len(post.path) < 200 and "id" not in post.query
    assert post.ids == ids
    # EFetch by id: pages of batch_size, each POSTed, fetched as they are read.
    pages = list(itertools.islice(gateway.fetch_ids(ids), 3))
    fetches = entrez_replay.requests_for("efetch")
    assert len(pages) == len(fetches) == 3
    for n, request in enumerate(fetches):
        assert request.method == "POST" and len(request.path) < 200 and "id" not in request.query
        assert request.ids == ids[n * 1000 : (n + 1) * 1000]
    assert [r.pmid for r in iter_pubmed_xml(pages[2])][:2] == ids[2000:2002]  # type: ignore[union-attr]
    # A long search term goes by POST too.
    gateway.esearch(" OR ".join(ids[:5000]))
    (search,) = entrez_replay.requests_for("esearch")
    assert search.method == "POST" and len(search.path) < 200

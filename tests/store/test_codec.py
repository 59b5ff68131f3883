"""The record JSON: its bytes decide the content hash, so they must never change.

The store's first encoder generated a Python function per record type with
``exec``; :func:`litmine.store.codec.dump_record` now leaves the walk to
orjson's own dataclass support. The old code path is kept here, verbatim,
as the reference the new encoder must match byte for byte on real PubMed and
MEDLINE records (no stored results: both sides are computed at test time).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import types
import typing
from collections.abc import Callable
from typing import Any

import pytest

from litmine.parse import read_file
from litmine.store import prepare_article
from litmine.store.codec import dump_record, load_record
from litmine.types import Article
from tests.conftest import shared_path
from tests.store.helpers import plain_article, rich_article

orjson = pytest.importorskip("orjson")


# --------------------------------------------------------------------------- the old encoder


def _field_expr(tp: Any, var: str, depth: int) -> str:
    """Python expression giving what orjson writes for ``var`` (of type ``tp``)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        inner = _field_expr(options[0], var, depth) if len(options) == 1 else var
        return var if inner == var else f"(None if {var} is None else {inner})"
    if origin is list:
        item = f"v{depth}"
        inner = _field_expr(typing.get_args(tp)[0], item, depth + 1)
        return var if inner == item else f"[{inner} for {item} in {var}]"
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _dataclass_expr(tp, var, depth)
    return var  # str, numbers, enums, dates, dicts, Any: orjson's own business


def _dataclass_expr(tp: type, var: str, depth: int) -> str:
    hints = typing.get_type_hints(tp)
    items = [
        f"{f.name!r}: {_field_expr(hints[f.name], f'{var}.{f.name}', depth)}"
        for f in dataclasses.fields(tp)
        if not f.name.startswith("_")  # orjson leaves these out of dataclasses
    ]
    return "{" + ", ".join(items) + "}"


@functools.cache
def _record_builder(tp: type) -> Callable[[Any], dict[str, Any]]:
    source = f"def build(o):\n    return {_dataclass_expr(tp, 'o', 0)}\n"
    namespace: dict[str, Any] = {}
    exec(compile(source, f"<litmine record builder for {tp.__name__}>", "exec"), namespace)
    build: Callable[[Any], dict[str, Any]] = namespace["build"]
    return build


def old_dump_record(article: Article) -> bytes:
    """The store's ``_dump_record`` before the package split (orjson path)."""
    try:
        record = _record_builder(Article)(article)
    except (AttributeError, TypeError):
        record = None
    if record is None:
        data: bytes = orjson.dumps(dataclasses.replace(article, title="", abstract=""))
    else:
        record["title"] = record["abstract"] = ""
        data = orjson.dumps(record)
    return data


# --------------------------------------------------------------------------- real records


def _real_articles() -> list[Article]:
    entrez = shared_path("entrez")
    medline = shared_path("medline")
    paths = sorted(entrez.glob("pubmed*.xml")) + sorted(medline.glob("*.txt"))
    articles = [r for path in paths for r in read_file(path) if isinstance(r, Article)]
    assert len(articles) > 10
    return articles


@pytest.fixture(scope="module")
def real_articles() -> list[Article]:
    return _real_articles()


def test_record_json_and_hash_are_stable() -> None:
    # The content hash decides "unchanged" on re-ingest: the JSON it is taken
    # over must stay byte for byte what orjson makes of the dataclass.
    for article in (rich_article(), plain_article("x", "T", "A", metadata={"n": [1, None]})):
        blank = dataclasses.replace(article, title="", abstract="")
        assert dump_record(article) == orjson.dumps(blank)


def test_encoder_matches_the_old_exec_encoder_on_real_records(
    real_articles: list[Article],
) -> None:
    sources = {a.source for a in real_articles}
    assert len(sources) == 2  # PubMed XML and MEDLINE both exercised
    for article in [*real_articles, rich_article(), plain_article("x", "T", "")]:
        expected = old_dump_record(article)
        assert dump_record(article) == expected, article.pmid
        assert expected == orjson.dumps(dataclasses.replace(article, title="", abstract=""))


def test_content_hash_matches_the_old_encoder(real_articles: list[Article]) -> None:
    # What a database written before the split holds: the same hashes, so
    # re-ingesting the same files finds every record unchanged (no migration).
    import hashlib

    for article in real_articles:
        digest = hashlib.blake2b(old_dump_record(article), digest_size=16)
        for part in (article.title, article.abstract):
            digest.update(b"\x00")
            digest.update(part.encode("utf-8", "surrogatepass"))
        assert prepare_article(article).content_hash == digest.hexdigest(), article.pmid


def test_records_round_trip(real_articles: list[Article]) -> None:
    for article in [*real_articles, rich_article()]:
        record = dump_record(article).decode("utf-8")
        assert load_record(article.title, article.abstract, record) == article


def test_values_of_other_types_fall_back_to_orjson() -> None:
    # Values not of their annotated types: the old builder gave up and left
    # them to orjson's own dataclass walk, which is now the only path.
    odd = dataclasses.replace(rich_article(), pub_date=None)  # type: ignore[arg-type]
    assert dump_record(odd) == old_dump_record(odd)
    big = plain_article("b", "T", "A", metadata={"n": 2**70})  # beyond orjson's integers
    assert dump_record(big).startswith(b"{")


def test_dates_keep_their_iso_form() -> None:
    article = rich_article(entrez_date=dt.date(2020, 2, 29))
    assert b'"entrez_date":"2020-02-29"' in dump_record(article)

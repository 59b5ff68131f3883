"""The JSON codec of stored records: canonical bytes out, typed records back.

An article's ``record`` column holds its JSON (title and abstract blanked:
they have their own columns), and the content hash that decides "unchanged"
on re-ingest is taken over those bytes. So :func:`dump_record` must give,
byte for byte, what ``orjson.dumps`` makes of the article itself; the tests
check that on the real records of ``../shared/data``.

Everything here is driven by the type annotations of the records, so a new
field round-trips without touching this module.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import functools
import json
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

try:  # orjson comes with prefect; it serialises records ~20x faster than json
    import orjson
except ImportError:  # pragma: no cover - exercised only without prefect
    orjson = None  # type: ignore[assignment]

from litmine.types import Article, to_jsonable

__all__ = ["decoder", "dump_record", "dumps", "encoder", "load_record", "loads"]

Convert = Callable[[Any], Any]


def _identity(value: Any) -> Any:
    return value


def _enum_value(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def _isoformat(value: Any) -> Any:
    return None if value is None else value.isoformat()


def _optional(inner: Convert) -> Convert:
    return lambda v: None if v is None else inner(v)


def _each(item: Convert) -> Convert:
    return lambda v: list(map(item, v))


def _optional_inner(tp: Any) -> Any | None:
    """``X`` for ``X | None``; None for other unions."""
    options = [a for a in typing.get_args(tp) if a is not type(None)]
    return options[0] if len(options) == 1 else None


# --------------------------------------------------------------------------- encoding


@functools.cache
def encoder(tp: Any) -> Convert:
    """Build a function equivalent to :func:`to_jsonable` for values of type ``tp``.

    Specialised once per type from the annotations, it skips to_jsonable's
    per-value type tests: 15x faster on a full PubMed record. Untyped parts
    (``Any``) still go through to_jsonable. Used when orjson is missing.
    """
    origin = typing.get_origin(tp)
    if tp in (str, int, float, bool, type(None)):
        return _identity
    if origin in (typing.Union, types.UnionType):
        option = _optional_inner(tp)
        if option is None:
            return to_jsonable
        inner = encoder(option)
        return inner if inner in (_identity, _isoformat) else _optional(inner)
    if origin is list:
        item = encoder(typing.get_args(tp)[0])
        return list if item is _identity else _each(item)
    if tp in (dt.date, dt.datetime):
        return _isoformat
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _enum_value
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        plain: list[str] = []
        converted: list[tuple[str, Convert]] = []
        for f in dataclasses.fields(tp):
            enc = encoder(hints[f.name])
            if enc is _identity:
                plain.append(f.name)
            else:
                converted.append((f.name, enc))

        def encode(obj: Any) -> dict[str, Any]:
            out = {name: getattr(obj, name) for name in plain}
            for name, enc in converted:
                out[name] = enc(getattr(obj, name))
            return out

        return encode
    return to_jsonable


def dumps(value: Any) -> bytes:
    """Canonical JSON (sorted keys, compact, UTF-8): the same bytes with or without orjson."""
    if orjson is not None:
        try:
            data: bytes = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
            return data
        except TypeError:  # e.g. integers beyond 64 bits: let json handle them
            pass
    return json.dumps(
        value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=to_jsonable
    ).encode("utf-8", "surrogatepass")


def dump_record(article: Article) -> bytes:
    """JSON of a whole record without its title and abstract (stored in columns).

    What ``orjson.dumps`` makes of the article with both blanked; the content
    hash is taken over these bytes, so they must never change.

    Until the store became a package, an encoder generated with ``exec`` from
    the annotations built the same bytes from a nested dict literal. orjson's
    own walk of the dataclass gives them without generated code, for about
    7 µs more CPU per record (13 against 5.5 µs on the records of
    ``../shared/data``), some 2-3% of a record's CPU in
    ``bench/parse_throughput.py --records 20000`` (before/after in one run:
    litmine_store 7.30 against 7.13 CPU-s, litmine_ingest 14.2 against
    13.8 CPU-s with its workers, where this runs). ``tests/store/test_codec.py``
    keeps the old encoder as the reference these bytes are checked against.
    """
    if orjson is not None:
        try:
            data: bytes = orjson.dumps(dataclasses.replace(article, title="", abstract=""))
            return data
        except TypeError:  # e.g. integers beyond 64 bits in metadata
            pass
    return dumps(encoder(Article)(dataclasses.replace(article, title="", abstract="")))


# --------------------------------------------------------------------------- decoding


def loads(data: str) -> Any:
    """Parse JSON text (orjson when available)."""
    return orjson.loads(data) if orjson is not None else json.loads(data)


@functools.cache
def decoder(tp: Any) -> Convert:
    """Build a function turning :func:`to_jsonable` output back into ``tp``.

    Driven by the type annotations, so new fields of the records round-trip
    without touching this module; unknown JSON keys are ignored and missing
    ones take the field's default (records written by other versions load).
    """
    origin = typing.get_origin(tp)
    if tp is Any:
        return _identity
    if origin in (typing.Union, types.UnionType):
        option = _optional_inner(tp)
        inner = _identity if option is None else decoder(option)
        return _identity if inner is _identity else _optional(inner)
    if origin is list:
        item = decoder(typing.get_args(tp)[0])
        return list if item is _identity else _each(item)
    if origin is dict:
        value = decoder(typing.get_args(tp)[1])
        return dict if value is _identity else (lambda v: {k: value(x) for k, x in v.items()})
    if tp is dt.datetime:
        return dt.datetime.fromisoformat
    if tp is dt.date:
        return dt.date.fromisoformat
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return tp
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        fields = [(f.name, decoder(hints[f.name])) for f in dataclasses.fields(tp) if f.init]
        cls = tp

        def decode(value: Mapping[str, Any]) -> Any:
            return cls(**{name: dec(value[name]) for name, dec in fields if name in value})

        return decode
    return _identity


def load_record(title: str, abstract: str, record: str) -> Article:
    """The article stored as these column values (the inverse of :func:`dump_record`)."""
    data = loads(record)
    data["title"] = title
    data["abstract"] = abstract
    article: Article = decoder(Article)(data)
    return article

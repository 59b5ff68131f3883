"""The embedded database: articles, passages, entities, runs and saved queries.

One SQLite file (``<data_dir>/litmine.db``) in WAL mode holds everything the
pipeline knows. :class:`Store` is the only code that talks SQL; its public
methods take and return the typed records of :mod:`litmine.types` and the small
dataclasses defined here.

Portability:
    The SQL is kept to what PostgreSQL also accepts (``?`` placeholders aside,
    which a DB-API driver maps), so a second backend can reuse the schema and
    queries. What is SQLite-only is confined to places marked
    ``SQLite-specific``: connection pragmas, ``BEGIN IMMEDIATE``, the catalogue
    query in :meth:`Store._read_version`, FTS5 tables, their triggers and the
    queries using ``MATCH``/``bm25()``, and error codes.

Concurrency:
    Any number of processes may read while one writes (WAL). Writers queue on
    the database lock for ``timeout`` seconds, then get a :class:`StoreError`.
    A :class:`Store` object may be handed between threads but must not be used
    by two threads at once.

Full text:
    ``articles_fts`` indexes title + abstract (external content: the
    ``articles`` table). ``passages_fts`` indexes each passage's text plus its
    article's title (external content: the ``passage_search`` view). The store
    maintains both explicitly, one statement per table and batch: triggers
    would make FTS5 flush its pending index at every row (see ``_V3``).

    ``passages_fts`` is built on demand: it holds exactly the passages whose
    ``pk`` is at most its watermark (``fts_progress``), and
    :meth:`Store.sync_passage_fts` indexes the rest when passage-level BM25
    is asked for. Default search scores articles (``articles_fts``), so bulk
    ingest does not pay for an index most collections never query (it took
    about 30% of the store's write time).

Bulk ingest:
    :func:`prepare_article` turns an article into the rows written for it
    (JSON record, content hash, filter rows, passages). It needs no database,
    so ingest runs it in worker processes and the writer only executes
    statements (:meth:`Store.upsert_articles` takes prepared articles too).

Vector index hand-off:
    Every passage added or removed is logged in ``passage_changes`` with an
    increasing sequence number; an index remembers the last number it applied
    and asks :meth:`Store.passage_changes_since` for the rest. Index runs
    prune what they applied (:meth:`Store.prune_passage_changes`), so the log
    holds only what no index has seen yet.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import enum
import functools
import hashlib
import json
import os
import re
import socket
import sqlite3
import types
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, SupportsInt

try:  # orjson comes with prefect; it serialises records ~20x faster than json
    import orjson
except ImportError:  # pragma: no cover - exercised only without prefect
    orjson = None  # type: ignore[assignment]

from litmine._compat import batched
from litmine.errors import InputError, StoreError
from litmine.types import Article, Entity, IngestReport, Passage, to_jsonable

if TYPE_CHECKING:
    # Imported lazily at run time: parse worker processes load this module for
    # prepare_article and should not pay for numpy and pydantic-settings.
    import numpy as np
    import numpy.typing as npt

    from litmine.config import Settings

__all__ = [
    "MIGRATIONS",
    "RUN_STATUSES",
    "SCHEMA_VERSION",
    "ArticleMetadata",
    "EntityCount",
    "Migration",
    "PairCount",
    "PassageChange",
    "PassageRow",
    "PreparedArticle",
    "RunRecord",
    "SavedQuery",
    "Store",
    "StoreCounts",
    "UpsertCounts",
    "fts_query",
    "prepare_article",
]

RUN_STATUSES = ("running", "ok", "partial", "failed", "interrupted")
_FINAL_STATUSES = frozenset(RUN_STATUSES[1:])

# Rows per statement when a list of keys is sent as ``IN (?, ?, ...)``; below
# every SQLite build's variable limit (999 on old ones) and PostgreSQL's.
_IN_CHUNK = 500
# Run errors kept per run: enough to diagnose, bounded so a bad file can't bloat the DB.
_MAX_RUN_ERRORS = 100

# BM25 column weights. A title match counts double in article search; in
# passage search the title is repeated in every passage of the article, so it
# counts half, letting the passage's own text decide between siblings.
ARTICLE_BM25_WEIGHTS = (2.0, 1.0)
PASSAGE_BM25_WEIGHTS = (0.5, 1.0)
FTS_TOKENIZER = "porter unicode61 remove_diacritics 2"
# Longest FTS query sent: a pasted abstract as a query must stay fast.
_MAX_FTS_TERMS = 64


# --------------------------------------------------------------------------- records


@dataclass(slots=True)
class UpsertCounts:
    """What :meth:`Store.upsert_articles` did.

    Attributes:
        new: Articles not in the store before.
        updated: Articles replaced (newer version or changed content).
        unchanged: Articles already stored with the same version and content.
        skipped_older: Articles ignored because a newer version is stored.
        passages_added: Passages written.
        passages_removed: Passages deleted (their entities went with them).
    """

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped_older: int = 0
    passages_added: int = 0
    passages_removed: int = 0

    @property
    def total(self) -> int:
        """Articles seen."""
        return self.new + self.updated + self.unchanged + self.skipped_older

    def add(self, other: UpsertCounts) -> None:
        """Accumulate another result into this one."""
        for f in dataclasses.fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


@dataclass(slots=True)
class StoreCounts:
    """Row counts for ``litmine status``.

    Attributes:
        articles: Articles stored.
        articles_without_abstract: Articles with no abstract text (no passages).
        retracted: Articles PubMed marks as retracted.
        passages: Passages stored.
        entities: Entity mentions stored.
        runs: Ingest runs recorded.
        saved_queries: Saved queries.
        change_seq: Last sequence number of the passage change log.
    """

    articles: int = 0
    articles_without_abstract: int = 0
    retracted: int = 0
    passages: int = 0
    entities: int = 0
    runs: int = 0
    saved_queries: int = 0
    change_seq: int = 0


@dataclass(slots=True)
class EntityCount:
    """How often one entity occurs (see :meth:`Store.top_entities`).

    Attributes:
        label: Entity label (``CHEMICAL``, ``DISEASE``).
        name: Most frequent normalised text of the entity.
        concept_id: Concept id (MeSH UI) when the mentions were linked, else None.
        articles: Articles mentioning it.
        mentions: Mentions in all.
        pmids: PMIDs of those articles, sorted.
    """

    label: str
    name: str
    concept_id: str | None
    articles: int
    mentions: int
    pmids: list[str] = field(default_factory=list)


@dataclass(slots=True)
class PairCount:
    """A chemical and a disease mentioned in the same articles.

    Attributes:
        chemical: Normalised name of the chemical.
        chemical_id: Its concept id, when linked.
        disease: Normalised name of the disease.
        disease_id: Its concept id, when linked.
        articles: Articles mentioning both.
        pmids: PMIDs of those articles, sorted.
    """

    chemical: str
    chemical_id: str | None
    disease: str
    disease_id: str | None
    articles: int
    pmids: list[str] = field(default_factory=list)


@dataclass(slots=True)
class RunRecord:
    """One ingest (or other) run as recorded by :meth:`Store.start_run`.

    Attributes:
        id: Run number.
        kind: What ran (``"query"``, ``"file"``, ``"nightly"``...).
        params: The parameters it was started with.
        status: ``running``, ``ok``, ``partial``, ``failed`` or ``interrupted``.
        started_at: Start time (UTC).
        finished_at: End time (UTC); None while running or when interrupted.
        fetched: Records read.
        new: Articles added.
        updated: Articles replaced.
        unchanged: Articles already up to date.
        deleted: Articles deleted.
        failed: Records that could not be used.
        errors: The first errors, one line each.
        message: Free-text outcome (the error of a failed run).
        host: Host name of the process that ran it.
        pid: Process id that ran it.
    """

    id: int
    kind: str
    params: dict[str, Any]
    status: str
    started_at: dt.datetime
    finished_at: dt.datetime | None = None
    fetched: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    message: str | None = None
    host: str | None = None
    pid: int | None = None

    @property
    def report(self) -> IngestReport:
        """The run's counts as an :class:`IngestReport`."""
        return IngestReport(
            fetched=self.fetched,
            new=self.new,
            updated=self.updated,
            unchanged=self.unchanged,
            deleted=self.deleted,
            failed=self.failed,
            errors=list(self.errors),
        )


@dataclass(slots=True)
class SavedQuery:
    """A PubMed query re-run on a schedule.

    Attributes:
        id: Query number.
        query: The query text (whitespace normalised).
        cron: Cron schedule.
        watermark: Latest Entrez date already ingested; the next run starts there.
        created_at: When it was saved (UTC).
        last_run_id: Run that last moved the watermark.
    """

    id: int
    query: str
    cron: str
    watermark: dt.date | None
    created_at: dt.datetime
    last_run_id: int | None = None


@dataclass(slots=True, frozen=True)
class PassageChange:
    """One entry of the passage change log (for incremental vector indexes)."""

    seq: int
    passage_id: int
    op: str  # "add" or "del"


@dataclass(slots=True)
class ArticleMetadata:
    """What a search hit shows of its article (see :meth:`Store.article_metadata`)."""

    year: int | None = None
    journal: str | None = None
    publication_types: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- schema


@dataclass(slots=True, frozen=True)
class Migration:
    """One step of the schema history.

    Attributes:
        version: Schema version after this step (1, 2, ...).
        description: What the step does.
        statements: SQL statements run in order inside one transaction.
    """

    version: int
    description: str
    statements: tuple[str, ...]


_V1 = (
    """CREATE TABLE articles (
        id INTEGER PRIMARY KEY,
        pmid TEXT NOT NULL UNIQUE,
        version INTEGER NOT NULL,
        title TEXT NOT NULL,
        abstract TEXT NOT NULL,
        journal TEXT,
        journal_iso TEXT,
        pub_year INTEGER,
        pub_date TEXT,
        entrez_date TEXT,
        doi TEXT,
        pmc_id TEXT,
        language TEXT,
        has_abstract INTEGER NOT NULL,
        is_retracted INTEGER NOT NULL,
        source TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        record TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )""",
    # Filters (year, publication type, MeSH) are applied to search hits by
    # PMID, so the articles table carries no further indexes: each one costs
    # every insert. Partial indexes keep the ``litmine status`` counts cheap.
    "CREATE INDEX articles_no_abstract ON articles (id) WHERE has_abstract = 0",
    "CREATE INDEX articles_retracted ON articles (id) WHERE is_retracted = 1",
    # Side tables are keyed by (pmid, value): one B-tree serves the cascade from
    # articles and the per-article lookups. WITHOUT ROWID is SQLite-specific
    # (drop the clause on PostgreSQL); rows are de-duplicated before insert.
    """CREATE TABLE article_pub_types (
        pmid TEXT NOT NULL REFERENCES articles (pmid) ON DELETE CASCADE,
        pub_type TEXT NOT NULL,
        PRIMARY KEY (pmid, pub_type)
    ) WITHOUT ROWID""",
    "CREATE INDEX article_pub_types_type ON article_pub_types (pub_type)",
    """CREATE TABLE article_mesh (
        pmid TEXT NOT NULL REFERENCES articles (pmid) ON DELETE CASCADE,
        descriptor_name TEXT NOT NULL,
        descriptor_ui TEXT,
        major INTEGER NOT NULL,
        PRIMARY KEY (pmid, descriptor_name)
    ) WITHOUT ROWID""",
    "CREATE INDEX article_mesh_ui ON article_mesh (descriptor_ui)",
    """CREATE TABLE article_chemicals (
        pmid TEXT NOT NULL REFERENCES articles (pmid) ON DELETE CASCADE,
        name TEXT NOT NULL,
        ui TEXT,
        PRIMARY KEY (pmid, name)
    ) WITHOUT ROWID""",
    "CREATE INDEX article_chemicals_ui ON article_chemicals (ui)",
    # ``pk`` orders the rows by insertion (and is the FTS rowid); ``id`` is the
    # stable 63-bit hash id. Keying the table by the random hash made every
    # insert land on a random page: 2x slower once the table outgrew the cache.
    """CREATE TABLE passages (
        pk INTEGER PRIMARY KEY,
        id INTEGER NOT NULL UNIQUE,
        pmid TEXT NOT NULL REFERENCES articles (pmid) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        section TEXT,
        char_start INTEGER NOT NULL,
        char_end INTEGER NOT NULL,
        text TEXT NOT NULL
    )""",
    "CREATE INDEX passages_pmid ON passages (pmid, idx)",
    """CREATE TABLE entities (
        id INTEGER PRIMARY KEY,
        passage_id INTEGER NOT NULL REFERENCES passages (id) ON DELETE CASCADE,
        char_start INTEGER NOT NULL,
        char_end INTEGER NOT NULL,
        text TEXT NOT NULL,
        label TEXT NOT NULL,
        normalized TEXT NOT NULL,
        concept_id TEXT
    )""",
    "CREATE INDEX entities_passage ON entities (passage_id)",
    "CREATE INDEX entities_normalized ON entities (label, normalized)",
    "CREATE INDEX entities_concept ON entities (concept_id)",
    """CREATE TABLE passage_changes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        passage_id INTEGER NOT NULL,
        op TEXT NOT NULL CHECK (op IN ('add', 'del'))
    )""",
    """CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        params TEXT NOT NULL,
        status TEXT NOT NULL
            CHECK (status IN ('running', 'ok', 'partial', 'failed', 'interrupted')),
        started_at TEXT NOT NULL,
        finished_at TEXT,
        n_fetched INTEGER NOT NULL DEFAULT 0,
        n_new INTEGER NOT NULL DEFAULT 0,
        n_updated INTEGER NOT NULL DEFAULT 0,
        n_unchanged INTEGER NOT NULL DEFAULT 0,
        n_deleted INTEGER NOT NULL DEFAULT 0,
        n_failed INTEGER NOT NULL DEFAULT 0,
        errors TEXT,
        message TEXT,
        host TEXT,
        pid INTEGER
    )""",
    "CREATE INDEX runs_status ON runs (status)",
    """CREATE TABLE saved_queries (
        id INTEGER PRIMARY KEY,
        query TEXT NOT NULL UNIQUE,
        cron TEXT NOT NULL,
        watermark TEXT,
        created_at TEXT NOT NULL,
        last_run_id INTEGER REFERENCES runs (id) ON DELETE SET NULL
    )""",
    # ---- SQLite-specific: FTS5 full-text indexes and their maintenance.
    f"""CREATE VIRTUAL TABLE articles_fts USING fts5 (
        title, abstract, content='articles', content_rowid='id', tokenize='{FTS_TOKENIZER}'
    )""",
    """CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles BEGIN
        INSERT INTO articles_fts (rowid, title, abstract) VALUES (new.id, new.title, new.abstract);
    END""",
    """CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles BEGIN
        INSERT INTO articles_fts (articles_fts, rowid, title, abstract)
        VALUES ('delete', old.id, old.title, old.abstract);
    END""",
    """CREATE TRIGGER articles_fts_update AFTER UPDATE OF title, abstract ON articles BEGIN
        INSERT INTO articles_fts (articles_fts, rowid, title, abstract)
        VALUES ('delete', old.id, old.title, old.abstract);
        INSERT INTO articles_fts (rowid, title, abstract) VALUES (new.id, new.title, new.abstract);
    END""",
    """CREATE VIEW passage_search AS
        SELECT p.pk AS pk, p.id AS id, a.title AS title, p.text AS text
        FROM passages p JOIN articles a ON a.pmid = p.pmid""",
    f"""CREATE VIRTUAL TABLE passages_fts USING fts5 (
        title, text, content='passage_search', content_rowid='pk', tokenize='{FTS_TOKENIZER}'
    )""",
)

_V2 = (
    # Passages the entity extractor has processed (a passage may have no entities,
    # so the entities table alone cannot tell); lets `litmine entities` resume.
    """CREATE TABLE entity_passages (
        passage_id INTEGER PRIMARY KEY REFERENCES passages (id) ON DELETE CASCADE,
        model TEXT NOT NULL,
        processed_at TEXT NOT NULL
    )""",
)

_V3 = (
    # The store now writes articles_fts itself, one executemany per batch. A
    # trigger made every article insert a two-table statement, and FTS5 flushes
    # its pending index at each such statement's savepoint: one new segment per
    # article, then merges. That was 4x the cost of tokenising the text.
    "DROP TRIGGER articles_fts_insert",
    "DROP TRIGGER articles_fts_delete",
    "DROP TRIGGER articles_fts_update",
)

_V4 = (
    # passages_fts covers the passages with pk <= upto and is caught up on
    # demand (see the module docstring). Everything stored so far is indexed.
    """CREATE TABLE fts_progress (
        name TEXT PRIMARY KEY,
        upto INTEGER NOT NULL
    )""",
    "INSERT INTO fts_progress (name, upto) "
    "SELECT 'passages_fts', COALESCE(MAX(pk), 0) FROM passages",
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial schema", _V1),
    Migration(2, "entity extraction bookkeeping", _V2),
    Migration(3, "article full-text entries written by the store, not by triggers", _V3),
    Migration(4, "passage full-text index built on demand", _V4),
)
"""The schema history, oldest first; append new steps, never edit old ones."""

SCHEMA_VERSION = MIGRATIONS[-1].version
"""Schema version this code writes."""

_BOOTSTRAP = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at TEXT NOT NULL
)"""


# --------------------------------------------------------------------------- SQL

_ARTICLE_FIELDS = (
    "version, title, abstract, journal, journal_iso, pub_year, pub_date, entrez_date, doi, "
    "pmc_id, language, has_abstract, is_retracted, source, content_hash, record, updated_at"
)
_INSERT_ARTICLE = (
    f"INSERT INTO articles (id, pmid, {_ARTICLE_FIELDS}, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_UPDATE_ARTICLE = (
    "UPDATE articles SET "
    + ", ".join(f"{name.strip()} = ?" for name in _ARTICLE_FIELDS.split(","))
    + " WHERE pmid = ?"
)
_INSERT_PASSAGE = (
    "INSERT INTO passages (pk, id, pmid, idx, section, char_start, char_end, text) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_PASSAGE_SELECT = (
    "SELECT p.id, p.pmid, p.idx, p.text, p.char_start, p.char_end, p.section, a.title, p.pk "
    "FROM passages p JOIN articles a ON a.pmid = p.pmid"
)
_LOG_CHANGE = "INSERT INTO passage_changes (passage_id, op) VALUES (?, ?)"
# SQLite-specific (FTS5): index an article / drop the index entries of articles
# while their stored title and abstract are still in place.
_FTS_ADD_ARTICLE = "INSERT INTO articles_fts (rowid, title, abstract) VALUES (?, ?, ?)"
_FTS_DROP_ARTICLE = (
    "INSERT INTO articles_fts (articles_fts, rowid, title, abstract) "
    "SELECT 'delete', id, title, abstract FROM articles WHERE pmid = ?"
)
# SQLite-specific (FTS5): index a passage / drop the index entries of passages
# while their text and title are still in place. Only passages at or below the
# watermark are in the index; deleting an entry that is not there would
# corrupt it.
_FTS_ADD_PASSAGE = "INSERT INTO passages_fts (rowid, title, text) VALUES (?, ?, ?)"
_PASSAGE_FTS_UPTO = "(SELECT upto FROM fts_progress WHERE name = 'passages_fts')"
_FTS_DROP_PASSAGE = (
    "INSERT INTO passages_fts (passages_fts, rowid, title, text) "
    "SELECT 'delete', s.pk, s.title, s.text FROM passage_search s "
    f"WHERE s.id = ? AND s.pk <= {_PASSAGE_FTS_UPTO}"
)
_FTS_DROP_PASSAGES_OF = (
    "INSERT INTO passages_fts (passages_fts, rowid, title, text) "
    "SELECT 'delete', s.pk, s.title, s.text FROM passage_search s "
    f"WHERE s.pk IN (SELECT pk FROM passages WHERE pmid = ?) AND s.pk <= {_PASSAGE_FTS_UPTO}"
)
_RUN_SELECT = (
    "SELECT id, kind, params, status, started_at, finished_at, n_fetched, n_new, n_updated, "
    "n_unchanged, n_deleted, n_failed, errors, message, host, pid FROM runs"
)
_QUERY_SELECT = "SELECT id, query, cron, watermark, created_at, last_run_id FROM saved_queries"


# --------------------------------------------------------------------------- helpers


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def _marks(n: int) -> str:
    return ", ".join("?" * n)


_FTS_TERM_RE = re.compile(r"[^\W_]+")
# Dropped from full-text queries (unless nothing else is left): they match most
# documents, add nothing to BM25 and make OR queries slow on big stores.
# fmt: off
_STOPWORDS = frozenset((
    "a", "about", "an", "and", "are", "as", "at", "be", "by", "can", "de", "did", "do", "does",
    "for", "from", "had", "has", "have", "how", "in", "into", "is", "it", "its", "not", "of",
    "on", "or", "than", "that", "the", "their", "there", "these", "this", "those", "to", "was",
    "were", "what", "when", "which", "who", "why", "will", "with"
))
# fmt: on


def fts_query(query: str) -> str | None:
    """Turn free text into a safe FTS5 MATCH expression.

    The user's text is never passed through: every whitespace-separated chunk
    becomes a quoted phrase of its letters-and-digits runs (``COVID-19`` →
    ``"covid 19"``), so FTS5 operators, quotes, parentheses, ``*``, ``-`` and
    ``:`` lose their meaning. Phrases are OR-ed (BM25 ranks documents matching
    more of them higher); common English stopwords are dropped unless nothing
    else is left.

    Args:
        query: Raw user query.

    Returns:
        The MATCH expression, or None when the query has no searchable term.
    """
    phrases: dict[str, None] = {}
    for chunk in query.split():
        terms = _FTS_TERM_RE.findall(chunk)
        if terms:
            phrases[" ".join(terms).lower()] = None
    content = [p for p in phrases if p not in _STOPWORDS] or list(phrases)
    if not content:
        return None
    return " OR ".join(f'"{p}"' for p in content[:_MAX_FTS_TERMS])


def _identity(value: Any) -> Any:
    return value


def _enum_value(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def _isoformat(value: Any) -> Any:
    return None if value is None else value.isoformat()


@functools.cache
def _encoder(tp: Any) -> Callable[[Any], Any]:
    """Build a function equivalent to :func:`to_jsonable` for values of type ``tp``.

    Specialised once per type from the annotations, it skips to_jsonable's
    per-value type tests: 15x faster on a full PubMed record, which matters at
    thousands of records per second. Untyped parts (``Any``) still go through
    to_jsonable.
    """
    origin = typing.get_origin(tp)
    if tp in (str, int, float, bool, type(None)):
        return _identity
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(options) != 1:
            return to_jsonable
        inner = _encoder(options[0])
        if inner in (_identity, _isoformat):
            return inner
        return lambda v: None if v is None else inner(v)
    if origin is list:
        item = _encoder(typing.get_args(tp)[0])
        return list if item is _identity else (lambda v: [item(x) for x in v])
    if tp in (dt.date, dt.datetime):
        return _isoformat
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _enum_value
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        plain: list[str] = []
        converted: list[tuple[str, Callable[[Any], Any]]] = []
        for f in dataclasses.fields(tp):
            enc = _encoder(hints[f.name])
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


def _dumps(value: Any) -> bytes:
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
    """Compile a function giving the dict that orjson writes for a ``tp`` dataclass.

    orjson walks slotted dataclasses through ``__dataclass_fields__``, about
    3 µs per object: 50 µs for a record with a long author list and MeSH
    terms. The same keys and values as one nested literal (generated from
    the type annotations, so new fields are picked up) serialise to the same
    bytes four times faster.
    """
    source = f"def build(o):\n    return {_dataclass_expr(tp, 'o', 0)}\n"
    namespace: dict[str, Any] = {}
    exec(compile(source, f"<litmine record builder for {tp.__name__}>", "exec"), namespace)
    build: Callable[[Any], dict[str, Any]] = namespace["build"]
    return build


def _dump_record(article: Article) -> bytes:
    """JSON of a whole record without its title and abstract (stored in columns).

    Byte for byte what ``orjson.dumps`` makes of the article with both blanked;
    the content hash is taken over these bytes, so they must never change.
    """
    if orjson is not None:
        try:
            record = _record_builder(Article)(article)
        except (AttributeError, TypeError):  # values not of their annotated types
            record = None
        try:
            if record is None:
                data: bytes = orjson.dumps(dataclasses.replace(article, title="", abstract=""))
            else:
                record["title"] = record["abstract"] = ""
                data = orjson.dumps(record)
            return data
        except TypeError:  # e.g. integers beyond 64 bits in metadata
            pass
    return _dumps(_encoder(Article)(dataclasses.replace(article, title="", abstract="")))


def _loads(data: str) -> Any:
    return orjson.loads(data) if orjson is not None else json.loads(data)


@functools.cache
def _decoder(tp: Any) -> Callable[[Any], Any]:
    """Build a function turning :func:`to_jsonable` output back into ``tp``.

    Driven by the type annotations, so new fields of the records round-trip
    without touching this module; unknown JSON keys are ignored and missing
    ones take the field's default (records written by other versions load).
    """
    origin = typing.get_origin(tp)
    if tp is Any:
        return _identity
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        inner = _decoder(options[0]) if len(options) == 1 else _identity
        if inner is _identity:
            return _identity
        return lambda v: None if v is None else inner(v)
    if origin is list:
        item = _decoder(typing.get_args(tp)[0])
        return list if item is _identity else (lambda v: [item(x) for x in v])
    if origin is dict:
        value = _decoder(typing.get_args(tp)[1])
        return dict if value is _identity else (lambda v: {k: value(x) for k, x in v.items()})
    if tp is dt.datetime:
        return dt.datetime.fromisoformat
    if tp is dt.date:
        return dt.date.fromisoformat
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return tp
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        fields = [(f.name, _decoder(hints[f.name])) for f in dataclasses.fields(tp) if f.init]
        cls = tp

        def decode(value: Mapping[str, Any]) -> Any:
            return cls(**{name: dec(value[name]) for name, dec in fields if name in value})

        return decode
    return _identity


def _pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this host (conservative)."""
    if os.name == "nt":  # os.kill(pid, 0) would terminate it on Windows.
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists but is not ours (EPERM)
        return True
    return True


PassageRow = tuple[int, int, str | None, int, int, str]
"""A passage as the store writes it: ``(id, index, section, start, end, text)``."""


class PreparedArticle(NamedTuple):
    """An article turned into the rows :meth:`Store.upsert_articles` writes for it.

    Made by :func:`prepare_article`, which needs no database: bulk ingest builds
    these in worker processes, and they pickle as plain tuples of strings and
    numbers (far cheaper to send than the article itself).

    Attributes:
        pmid: The article's PMID.
        version: Its version (a higher one replaces a lower one).
        title: Its title (also indexed with each passage).
        row: Values of the ``articles`` columns from ``version`` to ``record``
            (``_ARTICLE_FIELDS`` without the timestamps).
        pub_types: Distinct publication types, first occurrence first.
        mesh: Distinct ``(descriptor_name, descriptor_ui, major)`` rows.
        chemicals: Distinct ``(name, ui)`` rows.
        passages: The passages to store, or None to store none.
    """

    pmid: str
    version: int
    title: str
    row: tuple[Any, ...]
    pub_types: list[str]
    mesh: list[tuple[str, str | None, int]]
    chemicals: list[tuple[str, str | None]]
    passages: list[PassageRow] | None

    @property
    def content_hash(self) -> str:
        """Hash of everything stored for the article but its timestamps."""
        value: str = self.row[_HASH_POS]
        return value


_HASH_POS = 14  # index of content_hash in PreparedArticle.row
_ABSTRACT_POS = 2  # index of abstract in PreparedArticle.row


def _article_row(article: Article) -> tuple[Any, ...]:
    """Row values for articles (``_ARTICLE_FIELDS`` order, without pmid and timestamps)."""
    # Title and abstract have their own columns; not storing them twice halves
    # the text kept per article.
    record_json = _dump_record(article)
    digest = hashlib.blake2b(record_json, digest_size=16)
    for part in (article.title, article.abstract):
        digest.update(b"\x00")
        digest.update(part.encode("utf-8", "surrogatepass"))
    pub_date = article.pub_date.as_date()
    return (
        article.version,
        article.title,
        article.abstract,
        article.journal,
        article.journal_iso,
        article.pub_date.year,
        pub_date.isoformat() if pub_date else None,
        article.entrez_date.isoformat() if article.entrez_date else None,
        article.doi,
        article.pmc_id,
        article.languages[0] if article.languages else None,
        int(article.has_abstract),
        int(article.is_retracted),
        article.source.value,
        digest.hexdigest(),
        record_json.decode("utf-8", "surrogatepass"),
    )


def _passage_rows(article: Article, passages: list[Passage]) -> list[PassageRow]:
    """Rows of an article's passages; rejects passages a split function made for another."""
    pmid = article.pmid
    rows: list[PassageRow] = []
    for p in passages:
        if p.pmid != pmid:
            raise ValueError(f"split() returned a passage of {p.pmid} for article {pmid}")
        rows.append((p.id, p.index, p.section, p.start, p.end, p.text))
    return rows


def prepare_article(
    article: Article, split: Callable[[Article], list[Passage]] | None = None
) -> PreparedArticle:
    """Turn an article into the rows the store writes for it (no database needed).

    Filter rows are de-duplicated per article: the first of any repeats wins.

    Args:
        article: The article.
        split: Makes its passages; None stores none.

    Returns:
        The prepared article, for :meth:`Store.upsert_articles`.

    Raises:
        ValueError: ``split`` returned a passage of another article.
    """
    mesh: list[tuple[str, str | None, int]] = []
    names: set[str] = set()
    for m in article.mesh_headings:
        if m.descriptor_name not in names:
            names.add(m.descriptor_name)
            mesh.append((m.descriptor_name, m.descriptor_ui, int(m.major_topic)))
    chemicals: list[tuple[str, str | None]] = []
    names = set()
    for c in article.chemicals:
        if c.name not in names:
            names.add(c.name)
            chemicals.append((c.name, c.ui))
    return PreparedArticle(
        article.pmid,
        article.version,
        article.title,
        _article_row(article),
        list(dict.fromkeys(article.publication_types)),
        mesh,
        chemicals,
        None if split is None else _passage_rows(article, split(article)),
    )


def _passage(row: Sequence[Any]) -> Passage:
    return Passage(
        id=row[0],
        pmid=row[1],
        index=row[2],
        text=row[3],
        start=row[4],
        end=row[5],
        section=row[6],
        title=row[7],
    )


def _run(row: Sequence[Any]) -> RunRecord:
    return RunRecord(
        id=row[0],
        kind=row[1],
        params=json.loads(row[2]),
        status=row[3],
        started_at=dt.datetime.fromisoformat(row[4]),
        finished_at=dt.datetime.fromisoformat(row[5]) if row[5] else None,
        fetched=row[6],
        new=row[7],
        updated=row[8],
        unchanged=row[9],
        deleted=row[10],
        failed=row[11],
        errors=json.loads(row[12]) if row[12] else [],
        message=row[13],
        host=row[14],
        pid=row[15],
    )


def _saved_query(row: Sequence[Any]) -> SavedQuery:
    return SavedQuery(
        id=row[0],
        query=row[1],
        cron=row[2],
        watermark=dt.date.fromisoformat(row[3]) if row[3] else None,
        created_at=dt.datetime.fromisoformat(row[4]),
        last_run_id=row[5],
    )


def _normalize_query(query: str) -> str:
    return " ".join(query.split())


# --------------------------------------------------------------------------- store


class Store:
    """The litmine database.

    Args:
        path: Database file; created (with its folder) unless ``read_only``.
        read_only: Open without write access; fails if the file is missing or
            its schema needs upgrading.
        timeout: Seconds to wait for another process's write lock.

    Raises:
        StoreError: The file can't be opened, isn't a litmine database, or was
            written by a newer litmine.
    """

    def __init__(self, path: str | Path, *, read_only: bool = False, timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self._savepoints = 0
        self._conn = self._connect(timeout)
        try:
            self._prepare_schema()
        except BaseException:
            self._conn.close()
            raise

    @classmethod
    def open(cls, settings: Settings, *, read_only: bool = False) -> Store:
        """Open the store in ``settings.data_dir``, creating the folder if needed.

        Args:
            settings: Settings whose ``db_path`` names the database.
            read_only: Open without write access.

        Returns:
            The open store.
        """
        if not read_only:
            try:
                settings.data_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"cannot create the data folder {settings.data_dir}: {exc.strerror}",
                    "check the path and its permissions, or set LITMINE_DATA_DIR",
                ) from exc
        return cls(settings.db_path, read_only=read_only)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r}, read_only={self.read_only})"

    def close(self) -> None:
        """Close the connection; further calls raise :class:`StoreError`."""
        try:
            if not self.read_only:
                # SQLite-specific: refresh planner statistics cheaply, as advised
                # for long-lived connections before closing.
                self._conn.execute("PRAGMA optimize")
        except sqlite3.Error:
            pass  # closing must not fail because statistics could not be saved
        finally:
            self._conn.close()

    # ---------------------------------------------------------------- plumbing

    def _connect(self, timeout: float) -> sqlite3.Connection:
        try:
            if self.read_only:
                if not self.path.is_file():
                    raise StoreError(
                        f"no litmine database at {self.path}",
                        "ingest something first, or point --data-dir / LITMINE_DATA_DIR at it",
                    )
                uri = f"{self.path.resolve().as_uri()}?mode=ro"
                conn = sqlite3.connect(
                    uri, uri=True, timeout=timeout, isolation_level=None, check_same_thread=False
                )
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(
                    self.path, timeout=timeout, isolation_level=None, check_same_thread=False
                )
        except OSError as exc:
            raise StoreError(
                f"cannot create the folder of {self.path}: {exc.strerror}",
                "check the path and its permissions",
            ) from exc
        except sqlite3.Error as exc:
            raise self._translate(exc) from exc
        try:
            # SQLite-specific connection settings. Autocommit mode
            # (isolation_level=None) so transactions are exactly the ones
            # transaction() opens.
            conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            conn.execute("PRAGMA foreign_keys = ON")
            if not self.read_only:
                # Takes effect only when the file is created. 16 KiB pages cut
                # the store's CPU per bulk-ingested record by about 12% against
                # the 4 KiB default (fewer B-tree splits and page writes).
                conn.execute("PRAGMA page_size = 16384")
                mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
                if str(mode).lower() != "wal":
                    conn.execute("PRAGMA journal_mode = WAL")
            else:
                conn.execute("PRAGMA query_only = ON")
            # NORMAL is durable in WAL mode except for the last commits on power loss.
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA temp_store = MEMORY")
            conn.execute("PRAGMA cache_size = -32768")  # 32 MiB page cache
        except sqlite3.Error as exc:
            conn.close()
            raise self._translate(exc) from exc
        return conn

    def _translate(self, exc: sqlite3.Error) -> StoreError:
        """Map a sqlite3 error to a one-line :class:`StoreError` with a hint."""
        text = str(exc)
        low = text.lower()
        code = getattr(exc, "sqlite_errorcode", None)
        primary = code & 0xFF if isinstance(code, int) else None
        path = self.path
        # SQLite-specific result codes: BUSY=5 LOCKED=6 READONLY=8 IOERR=10
        # CORRUPT=11 FULL=13 CANTOPEN=14 NOTADB=26.
        if primary in (5, 6) or "locked" in low:
            return StoreError(
                f"database {path} is locked", "another litmine process is writing; retry or wait"
            )
        if primary in (11, 26) or "malformed" in low or "not a database" in low:
            return StoreError(
                f"database {path} is corrupt or not a SQLite file ({text})",
                f"move {path} aside and ingest again, or restore it from a backup",
            )
        if primary == 8 or "readonly" in low:
            return StoreError(
                f"database {path} cannot be written ({text})",
                "check the permissions of the file and its folder (and that the disk is "
                "not mounted read-only)",
            )
        if primary == 13:
            return StoreError(f"disk full while writing {path}", "free some disk space and retry")
        if primary == 14:
            return StoreError(
                f"cannot open database {path} ({text})",
                "check that the folder exists and is readable and writable",
            )
        if primary == 10:
            return StoreError(
                f"I/O error on database {path} ({text})", "check the disk and the file system"
            )
        if isinstance(exc, sqlite3.ProgrammingError) and "closed" in low:
            return StoreError(f"the store {path} is closed", "open it again")
        return StoreError(f"database error on {path}: {text}")

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise self._translate(exc) from exc

    def _read_version(self) -> int:
        # SQLite-specific catalogue query (information_schema on PostgreSQL).
        tables = {
            row[0]
            for row in self._conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        if "schema_migrations" not in tables:
            if any(not name.startswith("sqlite_") for name in tables):
                raise StoreError(
                    f"{self.path} is not a litmine database",
                    "point --data-dir / LITMINE_DATA_DIR at a litmine data folder",
                )
            return 0
        row = self._conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
        return int(row[0] or 0)

    def _prepare_schema(self) -> None:
        with self._errors():
            current = self._read_version()
            self._check_not_newer(current)
            if current == SCHEMA_VERSION:
                return
            if self.read_only:
                raise StoreError(
                    f"database {self.path} has schema version {current}; this litmine needs "
                    f"{SCHEMA_VERSION}",
                    "open it once without read-only access to upgrade it",
                )
            with self.transaction():
                self._conn.execute(_BOOTSTRAP)
                # Re-read under the write lock: another process may have migrated.
                current = self._read_version()
                self._check_not_newer(current)
                for step in MIGRATIONS:
                    if step.version <= current:
                        continue
                    for statement in step.statements:
                        self._conn.execute(statement)
                    self._conn.execute(
                        "INSERT INTO schema_migrations (version, description, applied_at) "
                        "VALUES (?, ?, ?)",
                        (step.version, step.description, _now()),
                    )
                # SQLite-specific: mirror the version where sqlite tools look for it.
                self._conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _check_not_newer(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"database {self.path} has schema version {version}, newer than this litmine "
                f"understands ({SCHEMA_VERSION})",
                "upgrade litmine (pip install -U litmine) to use this data folder",
            )

    @property
    def schema_version(self) -> int:
        """Schema version of the open database."""
        with self._errors():
            return self._read_version()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes into one atomic transaction.

        Takes the write lock up front (``BEGIN IMMEDIATE``) so a busy database
        fails here, not halfway. Inside an open transaction this joins it
        through a savepoint: an exception escaping the inner block undoes only
        the inner block's writes, and nothing is committed until the outermost
        block ends.

        Raises:
            StoreError: The store is read-only or the database is locked.
        """
        if self.read_only:
            raise StoreError(
                f"the store {self.path} is open read-only", "open it without read_only to write"
            )
        conn = self._conn
        if conn.in_transaction:
            name = f"litmine_{self._savepoints + 1}"
            with self._errors():
                conn.execute(f"SAVEPOINT {name}")
            self._savepoints += 1
            try:
                yield
            except BaseException:
                # A fatal SQLite error may already have rolled everything back;
                # then there is no savepoint left and the original error matters.
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute(f"ROLLBACK TO {name}")
                        conn.execute(f"RELEASE {name}")
                raise
            else:
                with self._errors():
                    conn.execute(f"RELEASE {name}")
            finally:
                self._savepoints -= 1
            return
        with self._errors():
            conn.execute("BEGIN IMMEDIATE")  # SQLite-specific: take the write lock now
        try:
            yield
            with self._errors():
                conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                # The original error matters more; SQLite rolls back on close anyway.
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            raise

    # ---------------------------------------------------------------- articles

    def upsert_articles(
        self,
        articles: Iterable[Article | PreparedArticle],
        *,
        split: Callable[[Article], list[Passage]] | None = None,
        batch_size: int = 500,
    ) -> UpsertCounts:
        """Insert or replace articles (and their passages), idempotently by PMID.

        An article whose PMID, version and content are already stored is left
        alone. A newer version, or the same version with different content,
        replaces the stored row, its side tables and its passages: passages
        whose id (PMID, ordinal and text) is unchanged are kept with their
        entities; others are removed (entities included) and new ones added,
        and the change log records both. An older version than the stored one
        is skipped. The whole call is one transaction (or joins the caller's);
        rows are written in batches of ``batch_size`` with one statement per
        table per batch.

        Args:
            articles: Articles, in order; a PMID repeated later in the stream
                is applied after the earlier one. :class:`PreparedArticle`
                items (see :func:`prepare_article`) carry their passages
                already and are written as they are.
            split: Makes a plain article's passages (e.g. ``functools.partial(
                split_article, settings=...)``), only for articles written;
                None stores no passages (and drops those of replaced
                articles, which no longer match).
            batch_size: Articles per batch of statements.

        Returns:
            What happened to the articles and passages.

        Raises:
            StoreError: The database is locked, read-only or broken.
            ValueError: ``split`` returned a passage of another article.
        """
        counts = UpsertCounts()
        with self.transaction(), self._errors():
            now = _now()
            batch: list[tuple[PreparedArticle, Article | None]] = []
            seen: set[str] = set()
            for item in articles:
                entry: tuple[PreparedArticle, Article | None] = (
                    (prepare_article(item), item) if isinstance(item, Article) else (item, None)
                )
                pmid = entry[0].pmid
                if pmid in seen or len(batch) >= batch_size:
                    self._upsert_batch(batch, split, counts, now)
                    batch, seen = [], set()
                batch.append(entry)
                seen.add(pmid)
            if batch:
                self._upsert_batch(batch, split, counts, now)
        return counts

    def _upsert_batch(
        self,
        batch: list[tuple[PreparedArticle, Article | None]],
        split: Callable[[Article], list[Passage]] | None,
        counts: UpsertCounts,
        now: str,
    ) -> None:
        conn = self._conn
        stored: dict[str, tuple[int, int, str]] = {}
        for chunk in batched([prep.pmid for prep, _ in batch], _IN_CHUNK):
            for pmid, rowid, version, content_hash in conn.execute(
                "SELECT pmid, id, version, content_hash FROM articles "
                f"WHERE pmid IN ({_marks(len(chunk))})",
                chunk,
            ):
                stored[pmid] = (rowid, version, content_hash)

        inserts: list[PreparedArticle] = []
        updates: list[tuple[int, PreparedArticle]] = []
        passages: dict[str, list[PassageRow]] = {}
        for prep, article in batch:
            old = stored.get(prep.pmid)
            if old is not None and prep.version < old[1]:
                counts.skipped_older += 1
                continue
            if old is None:
                inserts.append(prep)
            elif prep.version == old[1] and prep.content_hash == old[2]:
                counts.unchanged += 1
                continue
            else:
                updates.append((old[0], prep))
            # Plain articles are split only when written: re-ingesting an
            # unchanged file costs no sentence splitting.
            if article is not None and split is not None:
                passages[prep.pmid] = _passage_rows(article, split(article))
            else:
                passages[prep.pmid] = prep.passages or []

        if updates:
            self._apply_updates(updates, passages, counts, now)
        if inserts:
            # We hold the write lock, so MAX(id) + n cannot collide; explicit
            # ids let the full-text rows go in as one plain insert per article.
            (top,) = conn.execute("SELECT COALESCE(MAX(id), 0) FROM articles").fetchone()
            conn.executemany(
                _INSERT_ARTICLE,
                [(top + i, p.pmid, *p.row, now, now) for i, p in enumerate(inserts, 1)],
            )
            conn.executemany(
                _FTS_ADD_ARTICLE,
                [(top + i, p.title, p.row[_ABSTRACT_POS]) for i, p in enumerate(inserts, 1)],
            )
            self._insert_side_rows(inserts)
            new_passages = [(p.pmid, p.title, row) for p in inserts for row in passages[p.pmid]]
            self._insert_passages(new_passages)  # full-text entries: sync_passage_fts()
            counts.new += len(inserts)
            counts.passages_added += len(new_passages)

    def _apply_updates(
        self,
        updates: list[tuple[int, PreparedArticle]],
        passages: Mapping[str, list[PassageRow]],
        counts: UpsertCounts,
        now: str,
    ) -> None:
        conn = self._conn
        keys = [(p.pmid,) for _, p in updates]
        # Drop the full-text entries while the old title and abstract are in
        # place: FTS5 needs the indexed values to remove them.
        conn.executemany(_FTS_DROP_PASSAGES_OF, keys)
        conn.executemany(_FTS_DROP_ARTICLE, keys)
        for table in ("article_pub_types", "article_mesh", "article_chemicals"):
            conn.executemany(f"DELETE FROM {table} WHERE pmid = ?", keys)
        conn.executemany(_UPDATE_ARTICLE, [(*p.row, now, p.pmid) for _, p in updates])
        conn.executemany(
            _FTS_ADD_ARTICLE, [(rowid, p.title, p.row[_ABSTRACT_POS]) for rowid, p in updates]
        )
        self._insert_side_rows([p for _, p in updates])
        self._sync_passages(
            [(p.pmid, p.title, passages[p.pmid]) for _, p in updates], counts, reindex_kept=True
        )
        counts.updated += len(updates)

    def _sync_passages(
        self,
        items: Sequence[tuple[str, str, list[PassageRow]]],
        counts: UpsertCounts,
        *,
        reindex_kept: bool,
    ) -> list[bool]:
        """Make the stored passages of each article equal the given list.

        Passages whose id is already stored are kept (with their entities);
        the others are removed or added and logged in the change log.

        Args:
            items: ``(pmid, title, passage rows)`` per article.
            counts: Receives passages_added / passages_removed.
            reindex_kept: The caller already dropped every full-text entry of
                these articles (their title changes), so kept passages are
                indexed again too.

        Returns:
            Per article, whether its passages changed.
        """
        conn = self._conn
        pmids = [pmid for pmid, _, _ in items]
        old_ids: dict[str, set[int]] = {pmid: set() for pmid in pmids}
        pks: dict[int, int] = {}
        for chunk in batched(pmids, _IN_CHUNK):
            for pk, pid, pmid in conn.execute(
                f"SELECT pk, id, pmid FROM passages WHERE pmid IN ({_marks(len(chunk))})", chunk
            ):
                old_ids[pmid].add(pid)
                pks[pid] = pk
        removed: list[int] = []
        kept: list[tuple[str, PassageRow]] = []
        added: list[tuple[str, str, PassageRow]] = []
        changed: list[bool] = []
        for pmid, title, new in items:
            old = old_ids[pmid]
            gone = sorted(old.difference(row[0] for row in new))
            removed.extend(gone)
            fresh = [(pmid, title, row) for row in new if row[0] not in old]
            added.extend(fresh)
            kept.extend((title, row) for row in new if row[0] in old)
            changed.append(bool(gone or fresh))
        if removed:
            if not reindex_kept:
                conn.executemany(_FTS_DROP_PASSAGE, [(pid,) for pid in removed])
            conn.executemany(_LOG_CHANGE, [(pid, "del") for pid in removed])
            conn.executemany("DELETE FROM passages WHERE id = ?", [(pid,) for pid in removed])
        if kept:
            # Same id means same PMID, ordinal and text: only the offsets and
            # section label can have moved. Entities of these passages stay.
            conn.executemany(
                "UPDATE passages SET section = ?, char_start = ?, char_end = ? WHERE id = ?",
                [(row[2], row[3], row[4], row[0]) for _, row in kept],
            )
        fts_rows = self._insert_passages(added)
        if reindex_kept:
            fts_rows.extend((pks[row[0]], title, row[5]) for title, row in kept)
        self._index_passages(fts_rows)
        counts.passages_added += len(added)
        counts.passages_removed += len(removed)
        return changed

    def _insert_side_rows(self, articles: Sequence[PreparedArticle]) -> None:
        pub_types = [(a.pmid, t) for a in articles for t in a.pub_types]
        mesh = [(a.pmid, *m) for a in articles for m in a.mesh]
        chemicals = [(a.pmid, *c) for a in articles for c in a.chemicals]
        conn = self._conn
        if pub_types:
            conn.executemany(
                "INSERT INTO article_pub_types (pmid, pub_type) VALUES (?, ?)", pub_types
            )
        if mesh:
            conn.executemany(
                "INSERT INTO article_mesh (pmid, descriptor_name, descriptor_ui, major) "
                "VALUES (?, ?, ?, ?)",
                mesh,
            )
        if chemicals:
            conn.executemany(
                "INSERT INTO article_chemicals (pmid, name, ui) VALUES (?, ?, ?)", chemicals
            )

    def _insert_passages(
        self, passages: Sequence[tuple[str, str, PassageRow]]
    ) -> list[tuple[int, str, str]]:
        """Insert ``(pmid, title, row)`` passages with fresh ascending ``pk`` values.

        Returns:
            Their ``(pk, title, text)`` full-text rows.
        """
        if not passages:
            return []
        # We hold the write lock, so MAX(pk) + n cannot collide. New passages
        # go above the full-text watermark even when the top ones were deleted:
        # pks at or below it count as indexed.
        (top,) = self._conn.execute(
            f"SELECT MAX(COALESCE(MAX(pk), 0), {_PASSAGE_FTS_UPTO}) FROM passages"
        ).fetchone()
        self._conn.executemany(
            _INSERT_PASSAGE,
            [(pk, row[0], pmid, *row[1:]) for pk, (pmid, _, row) in enumerate(passages, top + 1)],
        )
        # One statement for the whole log entry set: per-row inserts would each
        # read and write the AUTOINCREMENT counter.
        self._conn.execute(
            "INSERT INTO passage_changes (passage_id, op) "
            "SELECT id, 'add' FROM passages WHERE pk > ? ORDER BY pk",
            (top,),
        )
        return [(pk, title, row[5]) for pk, (_, title, row) in enumerate(passages, top + 1)]

    def _index_passages(self, rows: list[tuple[int, str, str]]) -> None:
        """Put ``(pk, title, text)`` rows back into the passage full-text index.

        Only rows at or below the watermark are indexed (passages whose entries
        were just dropped because their title changed); newer passages wait
        for :meth:`sync_passage_fts`. The title must be the article's stored
        title: dropping entries later reads it from there (``passage_search``).
        """
        if rows:
            upto = self._passage_fts_upto()
            rows = [row for row in rows if row[0] <= upto]
        if rows:
            # SQLite-specific: FTS5 flushes its in-memory index to a new segment
            # whenever a rowid is not above the previous one; ascending inserts
            # keep one segment per batch.
            rows.sort()
            self._conn.executemany(_FTS_ADD_PASSAGE, rows)

    def _passage_fts_upto(self) -> int:
        (upto,) = self._conn.execute(
            "SELECT upto FROM fts_progress WHERE name = 'passages_fts'"
        ).fetchone()
        return int(upto)

    def passage_fts_behind(self) -> int:
        """Number of stored passages not yet in the passage full-text index."""
        with self._errors():
            (count,) = self._conn.execute(
                f"SELECT COUNT(*) FROM passages WHERE pk > {_PASSAGE_FTS_UPTO}"
            ).fetchone()
        return int(count)

    def sync_passage_fts(self) -> int:
        """Add the passages stored since the last sync to the passage full-text index.

        Passage-level BM25 (:meth:`bm25_passages`) calls this itself on a
        writable store; a read-only one asks for it to be run first.

        Returns:
            Number of passages indexed.

        Raises:
            StoreError: The store is read-only, locked or broken.
        """
        with self.transaction(), self._errors():
            upto = self._passage_fts_upto()
            (top,) = self._conn.execute("SELECT COALESCE(MAX(pk), 0) FROM passages").fetchone()
            if top <= upto:
                return 0
            # SQLite-specific (FTS5): ascending rowids keep one segment per batch.
            added = self._conn.execute(
                "INSERT INTO passages_fts (rowid, title, text) "
                "SELECT pk, title, text FROM passage_search WHERE pk > ? ORDER BY pk",
                (upto,),
            ).rowcount
            self._conn.execute(
                "UPDATE fts_progress SET upto = ? WHERE name = 'passages_fts'", (top,)
            )
        return int(added)

    def _ensure_passage_fts(self) -> None:
        """Bring the passage full-text index up to date before a passage-level query."""
        behind = self.passage_fts_behind()
        if not behind:
            return
        if self.read_only:
            raise StoreError(
                f"the passage full-text index is missing {behind} passage(s) of {self.path}",
                "call sync_passage_fts() on a writable store (litmine search does this "
                "itself), or search with search.bm25_unit = 'article'",
            )
        self.sync_passage_fts()

    def delete_articles(self, pmids: Iterable[str]) -> int:
        """Delete articles and everything derived from them.

        Passages, their entities, full-text entries and side-table rows go too;
        removed passages are logged in the change log.

        Args:
            pmids: PMIDs to delete; unknown ones are ignored.

        Returns:
            Number of articles deleted.
        """
        keys = list(dict.fromkeys(pmids))
        deleted = 0
        with self.transaction(), self._errors():
            conn = self._conn
            for chunk in batched(keys, _IN_CHUNK):
                marks = _marks(len(chunk))
                # SQLite-specific: drop FTS entries while the rows still exist.
                conn.execute(
                    "INSERT INTO passages_fts (passages_fts, rowid, title, text) "
                    "SELECT 'delete', s.pk, s.title, s.text FROM passage_search s "
                    f"WHERE s.pk IN (SELECT pk FROM passages WHERE pmid IN ({marks})) "
                    f"AND s.pk <= {_PASSAGE_FTS_UPTO}",
                    chunk,
                )
                conn.execute(
                    "INSERT INTO articles_fts (articles_fts, rowid, title, abstract) "
                    f"SELECT 'delete', id, title, abstract FROM articles WHERE pmid IN ({marks})",
                    chunk,
                )
                conn.execute(
                    "INSERT INTO passage_changes (passage_id, op) "
                    f"SELECT id, 'del' FROM passages WHERE pmid IN ({marks}) ORDER BY pmid, idx",
                    chunk,
                )
                # Passages, entities and side tables follow by ON DELETE CASCADE.
                deleted += conn.execute(
                    f"DELETE FROM articles WHERE pmid IN ({marks})", chunk
                ).rowcount
        return deleted

    def resplit(
        self,
        split: Callable[[Article], list[Passage]],
        *,
        pmids: Iterable[str] | None = None,
        missing_only: bool = True,
        batch_size: int = 500,
    ) -> UpsertCounts:
        """(Re)make the passages of stored articles.

        For articles stored with ``split=None`` (a fast bulk ingest), or after
        the passage settings changed. Passages that come out identical keep
        their ids and entities; only real changes reach the change log.

        Args:
            split: Makes an article's passages.
            pmids: Only these articles; all if None.
            missing_only: Only articles with an abstract but no passages.
            batch_size: Articles per batch of statements.

        Returns:
            ``updated``: articles whose passages changed; ``unchanged``: the
            others; plus passages added and removed.
        """
        counts = UpsertCounts()
        where = (
            "a.has_abstract = 1 AND NOT EXISTS (SELECT 1 FROM passages p WHERE p.pmid = a.pmid)"
            if missing_only
            else "1 = 1"
        )
        with self.transaction(), self._errors():
            for batch in self._article_batches(where, pmids, batch_size):
                items = [(a.pmid, a.title, _passage_rows(a, split(a))) for a in batch]
                for changed in self._sync_passages(items, counts, reindex_kept=False):
                    if changed:
                        counts.updated += 1
                    else:
                        counts.unchanged += 1
        return counts

    def _article_batches(
        self, where: str, pmids: Iterable[str] | None, batch_size: int
    ) -> Iterator[list[Article]]:
        """Stored articles matching a fixed SQL condition on ``a``, in batches.

        Pages by id (or by PMID chunk) so writes between batches are safe.
        """
        columns = "SELECT a.id, a.title, a.abstract, a.record FROM articles a"
        if pmids is not None:
            keys = list(dict.fromkeys(pmids))
            for chunk in batched(keys, max(1, min(batch_size, _IN_CHUNK))):
                rows = self._conn.execute(
                    f"{columns} WHERE {where} AND a.pmid IN ({_marks(len(chunk))}) ORDER BY a.id",
                    chunk,
                ).fetchall()
                if rows:
                    yield [self._article(*row[1:]) for row in rows]
            return
        last = -1
        while True:
            rows = self._conn.execute(
                f"{columns} WHERE {where} AND a.id > ? ORDER BY a.id LIMIT ?", (last, batch_size)
            ).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            yield [self._article(*row[1:]) for row in rows]

    def _article(self, title: str, abstract: str, record: str) -> Article:
        data = _loads(record)
        data["title"] = title
        data["abstract"] = abstract
        article: Article = _decoder(Article)(data)
        return article

    def get_article(self, pmid: str) -> Article | None:
        """Return the stored article, equal to the one upserted, or None."""
        with self._errors():
            row = self._conn.execute(
                "SELECT title, abstract, record FROM articles WHERE pmid = ?", (pmid,)
            ).fetchone()
        return self._article(*row) if row else None

    def iter_articles(
        self, *, pmids: Iterable[str] | None = None, batch_size: int = 500
    ) -> Iterator[Article]:
        """Yield stored articles.

        Reads in batches without holding a cursor open between them, so the
        caller may write to the store while iterating.

        Args:
            pmids: Only these, in this order (unknown ones skipped); all
                articles in insertion order if None.
            batch_size: Rows read per query.

        Yields:
            Articles.
        """
        if pmids is not None:
            keys = list(dict.fromkeys(pmids))
            for chunk in batched(keys, min(batch_size, _IN_CHUNK)):
                with self._errors():
                    rows = self._conn.execute(
                        "SELECT pmid, title, abstract, record FROM articles "
                        f"WHERE pmid IN ({_marks(len(chunk))})",
                        chunk,
                    ).fetchall()
                by_pmid = {row[0]: row for row in rows}
                for pmid in chunk:
                    if pmid in by_pmid:
                        yield self._article(*by_pmid[pmid][1:])
            return
        last = -1
        while True:
            with self._errors():
                rows = self._conn.execute(
                    "SELECT id, title, abstract, record FROM articles WHERE id > ? "
                    "ORDER BY id LIMIT ?",
                    (last, batch_size),
                ).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            for row in rows:
                yield self._article(*row[1:])

    def has_article(self, pmid: str) -> bool:
        """Whether an article with this PMID is stored."""
        with self._errors():
            return (
                self._conn.execute("SELECT 1 FROM articles WHERE pmid = ?", (pmid,)).fetchone()
                is not None
            )

    def article_versions(self, pmids: Iterable[str]) -> dict[str, int]:
        """Stored versions of the given PMIDs (absent ones left out)."""
        keys = list(dict.fromkeys(pmids))
        out: dict[str, int] = {}
        with self._errors():
            for chunk in batched(keys, _IN_CHUNK):
                out.update(
                    self._conn.execute(
                        f"SELECT pmid, version FROM articles WHERE pmid IN ({_marks(len(chunk))})",
                        chunk,
                    ).fetchall()
                )
        return out

    # ---------------------------------------------------------------- passages

    def passages_for(self, pmid: str) -> list[Passage]:
        """Passages of one article, in order (empty if none or unknown)."""
        with self._errors():
            rows = self._conn.execute(
                f"{_PASSAGE_SELECT} WHERE p.pmid = ? ORDER BY p.idx", (pmid,)
            ).fetchall()
        return [_passage(row) for row in rows]

    def get_passages(self, ids: Iterable[SupportsInt]) -> list[Passage]:
        """Passages by id, in the order asked; unknown ids are skipped.

        Args:
            ids: Passage ids (e.g. vector search hits); numpy integers are fine.

        Returns:
            The passages, each with its article's title.
        """
        keys = list(dict.fromkeys(int(i) for i in ids))
        found: dict[int, Passage] = {}
        with self._errors():
            for chunk in batched(keys, _IN_CHUNK):
                for row in self._conn.execute(
                    f"{_PASSAGE_SELECT} WHERE p.id IN ({_marks(len(chunk))})", chunk
                ):
                    found[row[0]] = _passage(row)
        return [found[i] for i in keys if i in found]

    def iter_passages(self, *, batch_size: int = 1000) -> Iterator[list[Passage]]:
        """Yield all passages in batches, in storage (insertion) order.

        Like :meth:`iter_articles`, no cursor stays open between batches.

        Args:
            batch_size: Passages per batch.

        Yields:
            Lists of up to ``batch_size`` passages.
        """
        last = -1
        while True:
            with self._errors():
                rows = self._conn.execute(
                    f"{_PASSAGE_SELECT} WHERE p.pk > ? ORDER BY p.pk LIMIT ?", (last, batch_size)
                ).fetchall()
            if not rows:
                return
            last = rows[-1][8]
            yield [_passage(row) for row in rows]

    def passage_ids(self) -> npt.NDArray[np.int64]:
        """All passage ids, ascending, as an int64 array (FAISS-ready)."""
        with self._errors():
            cursor = self._conn.execute("SELECT id FROM passages ORDER BY id")
            import numpy as np

            return np.fromiter((row[0] for row in cursor), dtype=np.int64)

    def passage_changes_since(self, seq: int = 0, limit: int | None = None) -> list[PassageChange]:
        """Change-log entries after ``seq``, oldest first.

        Args:
            seq: Last sequence number already applied (0 for everything).
            limit: Most entries returned; all if None.

        Returns:
            The changes; an id may appear as ``del`` then ``add`` (re-split).
        """
        with self._errors():
            rows = self._conn.execute(
                "SELECT seq, passage_id, op FROM passage_changes WHERE seq > ? ORDER BY seq "
                "LIMIT ?",
                (seq, -1 if limit is None else limit),
            ).fetchall()
        return [PassageChange(*row) for row in rows]

    def prune_passage_changes(self, upto_seq: int) -> int:
        """Forget change-log entries up to ``upto_seq`` (an index applied them).

        Safe with several indexes on one store: an update also reconciles the
        index's ids with the stored ones, so entries another index had not
        applied yet are found that way. ``counts().change_seq`` keeps its value.

        Returns:
            Number of entries removed.
        """
        with self.transaction(), self._errors():
            return self._conn.execute(
                "DELETE FROM passage_changes WHERE seq <= ?", (upto_seq,)
            ).rowcount

    # ---------------------------------------------------------------- full text

    def bm25_articles(self, query: str, k: int = 100) -> list[tuple[str, float]]:
        """Full-text search over titles and abstracts.

        Args:
            query: Free text; made safe by :func:`fts_query`.
            k: Most hits returned.

        Returns:
            ``(pmid, score)`` pairs, best first; higher score is better.
        """
        rows = self._bm25(query, k, "articles_fts", ARTICLE_BM25_WEIGHTS, "articles a ON a.id")
        return [(pmid, score) for pmid, score in rows]

    def bm25_passages(self, query: str, k: int = 100) -> list[tuple[int, float]]:
        """Full-text search over passages (their text and their article's title).

        Args:
            query: Free text; made safe by :func:`fts_query`.
            k: Most hits returned.

        Returns:
            ``(passage_id, score)`` pairs, best first; higher score is better.
        """
        self._ensure_passage_fts()
        rows = self._bm25(query, k, "passages_fts", PASSAGE_BM25_WEIGHTS, "passages a ON a.pk")
        return [(int(pid), score) for pid, score in rows]

    def _bm25(
        self, query: str, k: int, table: str, weights: tuple[float, float], join: str
    ) -> list[tuple[Any, float]]:
        """Top-k rows of one FTS5 table by BM25, joined back to their keys (``a.id``/``a.pmid``).

        ``join`` names the owning table aliased ``a`` and its rowid column; the key
        returned is ``a.pmid`` for articles and ``a.id`` for passages.
        """
        match = fts_query(query)
        if match is None or k <= 0:
            return []
        key = "a.pmid" if table == "articles_fts" else "a.id"
        w1, w2 = weights
        with self._errors():  # SQLite-specific: FTS5 MATCH and bm25()
            rows = self._conn.execute(
                f"SELECT {key}, f.score FROM ("
                f"  SELECT rowid, -bm25({table}, {w1}, {w2}) AS score"
                f"   FROM {table} WHERE {table} MATCH ? ORDER BY score DESC LIMIT ?"
                f") f JOIN {join} = f.rowid ORDER BY f.score DESC",
                (match, k),
            ).fetchall()
        return [(row[0], float(row[1])) for row in rows]

    # ---------------------------------------------------------------- entities

    def replace_entities(self, passage_id_to_entities: Mapping[int, Sequence[Entity]]) -> int:
        """Set the entities of passages, replacing what was stored for them.

        Args:
            passage_id_to_entities: Entities per passage id; an empty sequence
                clears a passage's entities.

        Returns:
            Number of entities written.

        Raises:
            ValueError: An entity's ``passage_id`` differs from its key.
            StoreError: A passage id is not in the store.
        """
        ids = [int(pid) for pid in passage_id_to_entities]
        rows: list[tuple[Any, ...]] = []
        for pid, entities in passage_id_to_entities.items():
            for e in entities:
                if e.passage_id != pid:
                    raise ValueError(f"entity of passage {e.passage_id} listed under {pid}")
                rows.append((pid, e.start, e.end, e.text, e.label, e.normalized, e.concept_id))
        with self.transaction(), self._errors():
            conn = self._conn
            known: set[int] = set()
            for chunk in batched(ids, _IN_CHUNK):
                known.update(
                    row[0]
                    for row in conn.execute(
                        f"SELECT id FROM passages WHERE id IN ({_marks(len(chunk))})", chunk
                    )
                )
            missing = [pid for pid in ids if pid not in known]
            if missing:
                raise StoreError(
                    f"{len(missing)} passage id(s) not in the store (e.g. {missing[0]})",
                    "their articles were deleted or re-split; extract entities again",
                )
            conn.executemany("DELETE FROM entities WHERE passage_id = ?", [(i,) for i in ids])
            conn.executemany(
                "INSERT INTO entities "
                "(passage_id, char_start, char_end, text, label, normalized, concept_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        return len(rows)

    def entities_for(self, passage_ids: Iterable[SupportsInt]) -> dict[int, list[Entity]]:
        """Entities of the given passages, by passage id, in text order.

        Every requested id is a key; passages without entities map to [].
        """
        keys = list(dict.fromkeys(int(i) for i in passage_ids))
        out: dict[int, list[Entity]] = {pid: [] for pid in keys}
        with self._errors():
            for chunk in batched(keys, _IN_CHUNK):
                for row in self._conn.execute(
                    "SELECT passage_id, char_start, char_end, text, label, normalized, concept_id "
                    f"FROM entities WHERE passage_id IN ({_marks(len(chunk))}) "
                    "ORDER BY passage_id, char_start, id",
                    chunk,
                ):
                    out[row[0]].append(Entity(*row))
        return out

    # ------------------------------------------- entity extraction: bookkeeping, queries

    def pmids_needing_entities(self, limit: int | None = None) -> list[str]:
        """PMIDs of articles with at least one passage the extractor has not processed.

        Args:
            limit: Most PMIDs returned (None: all).

        Returns:
            PMIDs in ascending order.
        """
        with self._errors():
            rows = self._conn.execute(
                "SELECT DISTINCT p.pmid FROM passages p "
                "LEFT JOIN entity_passages m ON m.passage_id = p.id "
                "WHERE m.passage_id IS NULL ORDER BY p.pmid LIMIT ?",
                (-1 if limit is None else limit,),
            ).fetchall()
        return [row[0] for row in rows]

    def save_entities(
        self, passage_id_to_entities: Mapping[int, Sequence[Entity]], model: str
    ) -> int:
        """Replace passages' entities and mark the passages processed, atomically.

        Args:
            passage_id_to_entities: Entities per passage id (see :meth:`replace_entities`);
                every key is marked processed, with or without entities.
            model: Name of the model that produced them.

        Returns:
            Number of entities written.
        """
        now = _now()
        with self.transaction(), self._errors():
            n = self.replace_entities(passage_id_to_entities)
            self._conn.executemany(
                "INSERT OR REPLACE INTO entity_passages (passage_id, model, processed_at) "
                "VALUES (?, ?, ?)",
                [(int(pid), model, now) for pid in passage_id_to_entities],
            )
        return n

    def clear_entities(self) -> int:
        """Delete every entity and every processed mark (before a rebuild).

        Returns:
            Number of entities deleted.
        """
        with self.transaction(), self._errors():
            n = self._conn.execute("DELETE FROM entities").rowcount
            self._conn.execute("DELETE FROM entity_passages")
        return int(n)

    @staticmethod
    def _pmid_filter(pmids: Iterable[str] | None, column: str) -> tuple[str, list[Any]]:
        if pmids is None:
            return "", []
        # SQLite-specific: json_each turns one parameter into a table of PMIDs.
        return f" AND {column} IN (SELECT value FROM json_each(?))", [json.dumps(list(pmids))]

    def _entity_name(self, label: str, key: str) -> str:
        if key.startswith("text:"):
            return key[5:]
        row = self._conn.execute(
            "SELECT normalized, COUNT(*) AS n FROM entities WHERE label = ? AND concept_id = ? "
            "GROUP BY normalized ORDER BY n DESC, normalized LIMIT 1",
            (label, key),
        ).fetchone()
        return str(row[0]) if row else key

    def top_entities(
        self, *, label: str | None = None, pmids: Iterable[str] | None = None, limit: int = 20
    ) -> list[EntityCount]:
        """The entities mentioned in the most articles.

        Mentions are grouped by concept id when they have one, else by
        normalised text.

        Args:
            label: Only this label (``CHEMICAL``, ``DISEASE``); None for all.
            pmids: Only these articles; None for all.
            limit: Most entities returned.

        Returns:
            Entities, most articles first (then most mentions).
        """
        where, params = self._pmid_filter(pmids, "p.pmid")
        if label is not None:
            where += " AND e.label = ?"
            params.append(label)
        # SQLite-specific: GROUP_CONCAT (PostgreSQL: string_agg).
        sql = (
            "SELECT label, key, COUNT(DISTINCT pmid) AS n_articles, COUNT(*) AS n_mentions, "
            "GROUP_CONCAT(DISTINCT pmid) FROM ("
            "  SELECT e.label AS label, p.pmid AS pmid, CASE WHEN e.concept_id IS NOT NULL "
            "  AND e.concept_id <> '' THEN e.concept_id ELSE 'text:' || e.normalized END AS key"
            "  FROM entities e JOIN passages p ON p.id = e.passage_id WHERE 1 = 1" + where + ") "
            "GROUP BY label, key ORDER BY n_articles DESC, n_mentions DESC, key LIMIT ?"
        )
        with self._errors():
            rows = self._conn.execute(sql, [*params, limit]).fetchall()
            return [
                EntityCount(
                    label=lab,
                    name=self._entity_name(lab, key),
                    concept_id=None if key.startswith("text:") else key,
                    articles=int(n_articles),
                    mentions=int(n_mentions),
                    pmids=sorted(set(str(pmids_csv or "").split(",")) - {""}),
                )
                for lab, key, n_articles, n_mentions, pmids_csv in rows
            ]

    def chemical_disease_pairs(
        self, *, pmids: Iterable[str] | None = None, limit: int = 50
    ) -> list[PairCount]:
        """Chemical-disease pairs mentioned together in the most articles.

        Args:
            pmids: Only these articles; None for all.
            limit: Most pairs returned.

        Returns:
            Pairs, most supporting articles first.
        """
        where, params = self._pmid_filter(pmids, "p.pmid")
        # SQLite-specific: GROUP_CONCAT (PostgreSQL: string_agg).
        sql = (
            "WITH k AS (SELECT DISTINCT p.pmid AS pmid, e.label AS label, CASE WHEN "
            "  e.concept_id IS NOT NULL AND e.concept_id <> '' THEN e.concept_id "
            "  ELSE 'text:' || e.normalized END AS key"
            "  FROM entities e JOIN passages p ON p.id = e.passage_id"
            "  WHERE e.label IN ('CHEMICAL', 'DISEASE')" + where + ") "
            "SELECT c.key, d.key, COUNT(*) AS n, GROUP_CONCAT(c.pmid) FROM k c "
            "JOIN k d ON d.pmid = c.pmid AND d.label = 'DISEASE' WHERE c.label = 'CHEMICAL' "
            "GROUP BY c.key, d.key ORDER BY n DESC, c.key, d.key LIMIT ?"
        )
        with self._errors():
            rows = self._conn.execute(sql, [*params, limit]).fetchall()
            return [
                PairCount(
                    chemical=self._entity_name("CHEMICAL", ckey),
                    chemical_id=None if ckey.startswith("text:") else ckey,
                    disease=self._entity_name("DISEASE", dkey),
                    disease_id=None if dkey.startswith("text:") else dkey,
                    articles=int(n),
                    pmids=sorted(set(str(csv or "").split(",")) - {""}),
                )
                for ckey, dkey, n, csv in rows
            ]

    # ---------------------------------------------------------------- runs

    def start_run(self, kind: str, params: Mapping[str, Any]) -> int:
        """Record the start of a run and return its id.

        Runs left ``running`` by processes of this host that no longer exist
        (killed, crashed) are marked ``interrupted`` first.

        Args:
            kind: What runs (``"ingest"``, ``"update"``...).
            params: Its parameters; stored as JSON (non-JSON values as strings).

        Returns:
            The new run's id.
        """
        host = socket.gethostname()
        params_json = json.dumps(to_jsonable(dict(params)), sort_keys=True, default=str)
        with self.transaction(), self._errors():
            conn = self._conn
            stale = [
                run_id
                for run_id, run_host, pid in conn.execute(
                    "SELECT id, host, pid FROM runs WHERE status = 'running'"
                )
                if pid is None or (run_host == host and pid != os.getpid() and not _pid_alive(pid))
            ]
            conn.executemany(
                "UPDATE runs SET status = 'interrupted', "
                "message = COALESCE(message, 'the process ended before the run finished') "
                "WHERE id = ?",
                [(run_id,) for run_id in stale],
            )
            cursor = conn.execute(
                "INSERT INTO runs (kind, params, status, started_at, host, pid) "
                "VALUES (?, ?, 'running', ?, ?, ?)",
                (kind, params_json, _now(), host, os.getpid()),
            )
            run_id = cursor.lastrowid
        assert run_id is not None
        return run_id

    def finish_run(
        self, run_id: int, status: str, report: IngestReport, message: str | None = None
    ) -> None:
        """Record the end of a run.

        Args:
            run_id: Id from :meth:`start_run`.
            status: ``ok``, ``partial`` (some records failed), ``failed`` or
                ``interrupted``.
            report: The run's counts and errors (the first 100 errors are kept).
            message: Outcome in words (the error of a failed run).

        Raises:
            ValueError: ``status`` is not a final status.
            InputError: No run has this id.
        """
        if status not in _FINAL_STATUSES:
            raise ValueError(f"run status must be one of {sorted(_FINAL_STATUSES)}, not {status!r}")
        with self.transaction(), self._errors():
            cursor = self._conn.execute(
                "UPDATE runs SET status = ?, finished_at = ?, n_fetched = ?, n_new = ?, "
                "n_updated = ?, n_unchanged = ?, n_deleted = ?, n_failed = ?, errors = ?, "
                "message = ? WHERE id = ?",
                (
                    status,
                    _now(),
                    report.fetched,
                    report.new,
                    report.updated,
                    report.unchanged,
                    report.deleted,
                    report.failed,
                    json.dumps(report.errors[:_MAX_RUN_ERRORS]) if report.errors else None,
                    message,
                    run_id,
                ),
            )
            if cursor.rowcount == 0:
                raise InputError(f"no run with id {run_id}")

    def recent_runs(self, limit: int = 10) -> list[RunRecord]:
        """The latest runs, newest first."""
        with self._errors():
            rows = self._conn.execute(f"{_RUN_SELECT} ORDER BY id DESC LIMIT ?", (limit,))
            return [_run(row) for row in rows.fetchall()]

    def get_run(self, run_id: int) -> RunRecord | None:
        """One run by id, or None."""
        with self._errors():
            row = self._conn.execute(f"{_RUN_SELECT} WHERE id = ?", (run_id,)).fetchone()
        return _run(row) if row else None

    # ---------------------------------------------------------------- saved queries

    def add_query(self, query: str, cron: str) -> SavedQuery:
        """Save a query; saving the same text again returns the saved one unchanged.

        Args:
            query: PubMed query; whitespace is normalised.
            cron: Cron schedule.

        Returns:
            The saved query.

        Raises:
            InputError: The query or schedule is empty.
        """
        text = _normalize_query(query)
        if not text:
            raise InputError("the query is empty", "give a PubMed query to save")
        if not cron.strip():
            raise InputError("the cron schedule is empty", "give one such as '0 2 * * *'")
        with self.transaction(), self._errors():
            self._conn.execute(
                "INSERT INTO saved_queries (query, cron, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT (query) DO NOTHING",
                (text, cron.strip(), _now()),
            )
            row = self._conn.execute(f"{_QUERY_SELECT} WHERE query = ?", (text,)).fetchone()
        return _saved_query(row)

    def list_queries(self) -> list[SavedQuery]:
        """All saved queries, oldest first."""
        with self._errors():
            rows = self._conn.execute(f"{_QUERY_SELECT} ORDER BY id").fetchall()
        return [_saved_query(row) for row in rows]

    def get_query(self, query_or_id: str | int) -> SavedQuery | None:
        """A saved query by id or by text.

        Args:
            query_or_id: An int id; or a string, matched as query text first
                and, if it is all digits and no text matches, as an id (so
                ``"3"`` from a command line finds query 3).

        Returns:
            The saved query, or None.
        """
        with self._errors():
            if not isinstance(query_or_id, str):
                row = self._conn.execute(
                    f"{_QUERY_SELECT} WHERE id = ?", (int(query_or_id),)
                ).fetchone()
                return _saved_query(row) if row else None
            text = _normalize_query(query_or_id)
            row = self._conn.execute(f"{_QUERY_SELECT} WHERE query = ?", (text,)).fetchone()
            if row is None and text.isdigit():
                row = self._conn.execute(f"{_QUERY_SELECT} WHERE id = ?", (int(text),)).fetchone()
        return _saved_query(row) if row else None

    def remove_query(self, query_or_id: str | int) -> bool:
        """Delete a saved query (see :meth:`get_query` for the argument).

        Returns:
            Whether a query was removed.
        """
        with self.transaction(), self._errors():
            saved = self.get_query(query_or_id)
            if saved is None:
                return False
            self._conn.execute("DELETE FROM saved_queries WHERE id = ?", (saved.id,))
        return True

    def set_watermark(self, query_id: int, watermark: dt.date, run_id: int | None = None) -> None:
        """Advance a saved query's watermark; an older date leaves it where it is.

        Args:
            query_id: The saved query's id.
            watermark: Latest Entrez date now ingested (a datetime counts by its date).
            run_id: The run that got there, recorded as ``last_run_id``.

        Raises:
            InputError: No saved query has this id.
        """
        if isinstance(watermark, dt.datetime):
            watermark = watermark.date()
        value = watermark.isoformat()
        with self.transaction(), self._errors():
            # ISO dates compare correctly as text.
            cursor = self._conn.execute(
                "UPDATE saved_queries SET "
                "watermark = CASE WHEN watermark IS NULL OR watermark < ? THEN ? "
                "ELSE watermark END, last_run_id = COALESCE(?, last_run_id) WHERE id = ?",
                (value, value, run_id, query_id),
            )
            if cursor.rowcount == 0:
                raise InputError(
                    f"no saved query with id {query_id}", "list them with `litmine queries`"
                )

    # ---------------------------------------------------------------- maintenance

    def counts(self) -> StoreCounts:
        """Row counts; one query, index-only scans."""
        with self._errors():
            row = self._conn.execute(
                "SELECT (SELECT COUNT(*) FROM articles),"
                " (SELECT COUNT(*) FROM articles WHERE has_abstract = 0),"
                " (SELECT COUNT(*) FROM articles WHERE is_retracted = 1),"
                " (SELECT COUNT(*) FROM passages),"
                " (SELECT COUNT(*) FROM entities),"
                " (SELECT COUNT(*) FROM runs),"
                " (SELECT COUNT(*) FROM saved_queries),"
                # SQLite-specific: AUTOINCREMENT's high-water mark, which
                # pruning the log does not move back.
                " (SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence"
                "  WHERE name = 'passage_changes')"
            ).fetchone()
        return StoreCounts(*row)

    def check(self) -> None:
        """Verify the database file and both full-text indexes.

        Raises:
            StoreError: Something is inconsistent (with the problem in the message).
        """
        with self._errors():
            # SQLite-specific integrity checks.
            problems = [row[0] for row in self._conn.execute("PRAGMA quick_check")]
            if problems != ["ok"]:
                raise StoreError(
                    f"database {self.path} failed its integrity check: {problems[0]}",
                    "restore a backup, or move the file aside and ingest again",
                )
            if not self.read_only:
                # The check compares the index with every stored row, so the
                # on-demand passage index is brought up to date first.
                self.sync_passage_fts()
                for table in ("articles_fts", "passages_fts"):
                    self._conn.execute(f"INSERT INTO {table} ({table}) VALUES ('integrity-check')")

    def rebuild_fts(self) -> None:
        """Rebuild both full-text indexes from the stored rows (all passages included)."""
        with self.transaction(), self._errors():
            for table in ("articles_fts", "passages_fts"):  # SQLite-specific (FTS5)
                self._conn.execute(f"INSERT INTO {table} ({table}) VALUES ('rebuild')")
            self._conn.execute(
                "UPDATE fts_progress SET upto = (SELECT COALESCE(MAX(pk), 0) FROM passages) "
                "WHERE name = 'passages_fts'"
            )

    # ---------------------------------------------------------------- search filters
    # Small read-only queries used by litmine.search (question search filters and
    # the metadata shown with each hit).

    def filter_pmids(
        self,
        *,
        since_year: int | None = None,
        until_year: int | None = None,
        pub_types: Sequence[str] = (),
        mesh: Sequence[str] = (),
        entities: Sequence[str] = (),
    ) -> set[str]:
        """PMIDs of articles passing every given condition (case-insensitive).

        Args:
            since_year: Publication year at least this (articles without a year fail).
            until_year: Publication year at most this.
            pub_types: The article has at least one of these publication types.
            mesh: The article has every one of these MeSH descriptors (by name
                or descriptor UI).
            entities: The article has a passage with an entity mention whose
                text or normalised form equals each of these.

        Returns:
            The matching PMIDs.
        """
        where: list[str] = []
        params: list[Any] = []
        if since_year is not None:
            where.append("a.pub_year >= ?")
            params.append(since_year)
        if until_year is not None:
            where.append("a.pub_year <= ?")
            params.append(until_year)
        if pub_types:
            where.append(
                "a.pmid IN (SELECT pmid FROM article_pub_types WHERE lower(pub_type) IN "
                "(SELECT lower(value) FROM json_each(?)))"
            )
            params.append(json.dumps(list(pub_types)))
        for term in mesh:
            where.append(
                "a.pmid IN (SELECT pmid FROM article_mesh WHERE lower(descriptor_name) = lower(?) "
                "OR descriptor_ui = ?)"
            )
            params.extend([term, term])
        for text in entities:
            where.append(
                "a.pmid IN (SELECT p.pmid FROM entities e JOIN passages p ON p.id = e.passage_id "
                "WHERE lower(e.text) = lower(?) OR lower(e.normalized) = lower(?))"
            )
            params.extend([text, text])
        sql = "SELECT a.pmid FROM articles a"
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self._errors():
            return {row[0] for row in self._conn.execute(sql, params)}

    def passage_ids_of(self, pmids: Iterable[str]) -> npt.NDArray[np.int64]:
        """Ids of the passages of these articles, ascending (a FAISS id filter).

        Args:
            pmids: Article PMIDs; unknown ones are ignored.

        Returns:
            An int64 array.
        """
        # SQLite-specific: json_each turns one parameter into a table of PMIDs.
        with self._errors():
            cursor = self._conn.execute(
                "SELECT id FROM passages WHERE pmid IN (SELECT value FROM json_each(?)) "
                "ORDER BY id",
                (json.dumps(list(pmids)),),
            )
            import numpy as np

            return np.fromiter((row[0] for row in cursor), dtype=np.int64)

    def bm25_passages_within(
        self, query: str, pmids: Iterable[str], k: int = 100
    ) -> list[tuple[int, float]]:
        """Like :meth:`bm25_passages`, restricted to the passages of some articles.

        Args:
            query: Free text; made safe by :func:`fts_query`.
            pmids: Only passages of these articles are returned.
            k: Most hits returned.

        Returns:
            ``(passage_id, score)`` pairs, best first; higher score is better.
        """
        match = fts_query(query)
        if match is None or k <= 0:
            return []
        self._ensure_passage_fts()
        w_title, w_text = PASSAGE_BM25_WEIGHTS
        with self._errors():  # SQLite-specific: FTS5 MATCH, bm25() and json_each
            rows = self._conn.execute(
                "SELECT p.id, f.score FROM ("
                f"  SELECT rowid, -bm25(passages_fts, {w_title}, {w_text}) AS score"
                "   FROM passages_fts WHERE passages_fts MATCH ? AND rowid IN ("
                "     SELECT pk FROM passages WHERE pmid IN (SELECT value FROM json_each(?)))"
                "   ORDER BY score DESC LIMIT ?"
                ") f JOIN passages p ON p.pk = f.rowid ORDER BY f.score DESC",
                (match, json.dumps(list(pmids)), k),
            ).fetchall()
        return [(int(pid), float(score)) for pid, score in rows]

    def bm25_article_passages(
        self, query: str, k: int = 100, pmids: Iterable[str] | None = None
    ) -> list[tuple[int, float]]:
        """Passages of the best ``k`` articles by article-level BM25, scored by their article.

        Whole-abstract BM25 ranks articles better than BM25 over single
        passages (short passages give noisy term statistics): on the SciFact
        training claims nDCG@10 0.695 against 0.658. Every passage of a hit
        article carries the article's score, so fusion with passage-level
        dense scores picks the article's best passage.

        Args:
            query: Free text; made safe by :func:`fts_query`.
            k: Most articles whose passages are returned.
            pmids: Only these articles; None for all.

        Returns:
            ``(passage_id, article_score)`` pairs, best article first, each
            article's passages in text order; higher score is better.
        """
        match = fts_query(query)
        if match is None or k <= 0:
            return []
        w_title, w_abstract = ARTICLE_BM25_WEIGHTS
        within = ""
        params: list[Any] = [match]
        if pmids is not None:
            within = (
                " AND rowid IN (SELECT id FROM articles WHERE pmid IN "
                "(SELECT value FROM json_each(?)))"
            )
            params.append(json.dumps(list(pmids)))
        params.append(k)
        with self._errors():  # SQLite-specific: FTS5 MATCH, bm25() and json_each
            rows = self._conn.execute(
                "SELECT p.id, f.score FROM ("
                f"  SELECT rowid, -bm25(articles_fts, {w_title}, {w_abstract}) AS score"
                f"   FROM articles_fts WHERE articles_fts MATCH ?{within}"
                "   ORDER BY score DESC LIMIT ?"
                ") f JOIN articles a ON a.id = f.rowid JOIN passages p ON p.pmid = a.pmid"
                " ORDER BY f.score DESC, p.idx",
                params,
            ).fetchall()
        return [(int(pid), float(score)) for pid, score in rows]

    def article_metadata(self, pmids: Iterable[str]) -> dict[str, ArticleMetadata]:
        """Year, journal and publication types of articles, for result display.

        Args:
            pmids: Article PMIDs; unknown ones are left out of the result.

        Returns:
            PMID -> its metadata.
        """
        keys = json.dumps(list(dict.fromkeys(pmids)))
        out: dict[str, ArticleMetadata] = {}
        with self._errors():
            for pmid, year, journal in self._conn.execute(
                "SELECT pmid, pub_year, journal FROM articles "
                "WHERE pmid IN (SELECT value FROM json_each(?))",
                (keys,),
            ):
                out[pmid] = ArticleMetadata(year=year, journal=journal)
            for pmid, pub_type in self._conn.execute(
                "SELECT pmid, pub_type FROM article_pub_types "
                "WHERE pmid IN (SELECT value FROM json_each(?)) ORDER BY pmid, pub_type",
                (keys,),
            ):
                if pmid in out:
                    out[pmid].publication_types.append(pub_type)
        return out

"""The embedded database: articles, passages, entities, runs and saved queries.

One SQLite file (``<data_dir>/litmine.db``) in WAL mode holds everything the
pipeline knows. :class:`Store` is the only code that talks SQL; its public
methods take and return the typed records of :mod:`litmine.types` and the
small dataclasses of :mod:`litmine.store.records`. The rest of litmine may
rely on what :class:`~litmine.store.protocol.StoreProtocol` lists.

Modules:
    ``protocol``       the interface other packages use (a second backend implements it)
    ``sqlite``         :class:`Store`: the mixins below on one connection
    ``connection``     connection, pragmas, schema upgrade, transactions, error messages
    ``schema``         the migrations (schema history)
    ``articles``       upserts, deletes, re-splits and reads of articles
    ``passages``       passages and the passage change log (vector index hand-off)
    ``fulltext``       FTS5 indexes, :func:`fts_query`, BM25 queries
    ``entities``       entity mentions, extractor bookkeeping, entity counts
    ``runs``           the run log
    ``saved_queries``  saved PubMed queries and their watermarks
    ``filters``        search filters and hit metadata
    ``maintenance``    counts and the integrity check
    ``records``        the dataclasses returned (:class:`UpsertCounts`, :class:`RunRecord`...)
    ``rows``           :func:`prepare_article`: an article's rows, without a database
    ``codec``          the record JSON (canonical bytes, content hash) and its decoder

Layers:
    The layers, top down: cli/web/flows → answer → search → vectors/entities
    → store → parse/fetch → types/config; a package imports only its own
    layer and those below (``tests/test_layers.py`` checks it). So
    ``litmine.store`` may import ``litmine.parse``, ``litmine.fetch`` and
    ``litmine.passages``, but needs only ``litmine.types``,
    ``litmine.errors``, ``litmine.clock``, ``litmine._compat`` and (for type
    hints) ``litmine.config``; never anything above it (ingest, entities,
    ner, vectors, search, answer, web, cli, flows).

Portability:
    The SQL is kept to what PostgreSQL also accepts (``?`` placeholders aside,
    which a DB-API driver maps), so a second backend can reuse the schema and
    queries. What is SQLite-only is marked ``SQLite-specific``: connection
    pragmas, ``BEGIN IMMEDIATE``, the catalogue query of
    ``Connection._read_version``, FTS5 tables and the queries using
    ``MATCH``/``bm25()``, ``json_each``, ``GROUP_CONCAT`` and error codes.

Bulk ingest:
    :func:`prepare_article` turns an article into the rows written for it
    (JSON record, content hash, filter rows, passages). It needs no database,
    so ingest runs it in worker processes and the writer only executes
    statements (:meth:`Store.upsert_articles` takes prepared articles too).
    Worker processes import this package: it must stay free of numpy and
    pydantic-settings at import time.
"""

from __future__ import annotations

from litmine.store.fulltext import ARTICLE_BM25_WEIGHTS, PASSAGE_BM25_WEIGHTS, fts_query
from litmine.store.protocol import StoreProtocol
from litmine.store.records import (
    RUN_STATUSES,
    ArticleMetadata,
    EntityCount,
    PairCount,
    PassageChange,
    RunRecord,
    SavedQuery,
    StoreCounts,
    UpsertCounts,
)
from litmine.store.rows import PassageRow, PreparedArticle, prepare_article
from litmine.store.schema import FTS_TOKENIZER, MIGRATIONS, SCHEMA_VERSION, Migration
from litmine.store.sqlite import Store

__all__ = [
    "ARTICLE_BM25_WEIGHTS",
    "FTS_TOKENIZER",
    "MIGRATIONS",
    "PASSAGE_BM25_WEIGHTS",
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
    "StoreProtocol",
    "UpsertCounts",
    "fts_query",
    "prepare_article",
]

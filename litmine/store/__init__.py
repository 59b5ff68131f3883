"""The embedded database: articles, passages, entities, runs and saved queries.

One SQLite file (``<data_dir>/litmine.db``) in WAL mode holds everything the
pipeline knows. :class:`Store` is the only code that talks SQL; its public
methods take and return the typed records of :mod:`litmine.types` and the
small dataclasses of :mod:`litmine.store.records`. The rest of litmine may
rely on what :class:`~litmine.store.protocol.StoreProtocol` lists.

Modules:
    ``protocol``       the interface other packages use (a second backend implements it)
    ``sqlite``         :class:`Store`: the mixins below on one connection
    ``postgres``       :class:`~litmine.store.postgres.PostgresStore`: the same mixins on PostgreSQL
    ``url``            ``store.url`` parsing (backend choice) and password masking
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

from typing import TYPE_CHECKING

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
from litmine.store.url import (
    StoreLocation,
    StoreUnavailableError,
    mask_url,
    scrub_secrets,
    store_location,
)

if TYPE_CHECKING:
    from litmine.config import Settings

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
    "StoreLocation",
    "StoreProtocol",
    "StoreUnavailableError",
    "UpsertCounts",
    "fts_query",
    "mask_url",
    "open_store",
    "prepare_article",
    "scrub_secrets",
    "store_exists",
    "store_location",
]


def open_store(settings: Settings, *, read_only: bool = False) -> Store:
    """Open the store ``settings.store.url`` names (SQLite under the data dir by default).

    Every part of litmine that opens a store goes through here, so the
    backend is one setting: ``store.url`` / ``LITMINE_STORE_URL``.

    Args:
        settings: The settings tree.
        read_only: Open without write access.

    Returns:
        A :class:`Store` (SQLite), or a
        :class:`~litmine.store.postgres.PostgresStore` (PostgreSQL; a
        :class:`Store` subclass with PostgreSQL's SQL): both implement
        :class:`StoreProtocol`.

    Raises:
        StoreError: The URL is malformed, the database is missing, unreachable
            or has an outdated schema (PostgreSQL: run ``litmine db migrate``).
    """
    location = store_location(settings)
    if location.is_postgres:
        from litmine.store.postgres import PostgresStore

        return PostgresStore.open(settings, read_only=read_only)
    if location.path is None or location.path == settings.db_path:
        return Store.open(settings, read_only=read_only)
    return Store(location.path, read_only=read_only)


def store_exists(settings: Settings) -> bool:
    """Whether the store may already hold data (the SQLite file exists, or a server is named).

    Decides e.g. whether a command can open the store read-only; a
    PostgreSQL database always counts as existing (opening it checks it).
    """
    location = store_location(settings)
    return location.is_postgres or (location.path is not None and location.path.is_file())

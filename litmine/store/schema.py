"""The schema: its history as migrations, oldest first.

:class:`~litmine.store.connection.Connection` applies the steps a database
lacks when it is opened (:data:`MIGRATIONS`, :data:`SCHEMA_VERSION`). The
statements are SQLite's; what is SQLite-only is marked ``SQLite-specific``
(FTS5 tables, ``WITHOUT ROWID``), so a PostgreSQL backend can keep its own
list with the same version numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BOOTSTRAP", "FTS_TOKENIZER", "MIGRATIONS", "SCHEMA_VERSION", "Migration"]

FTS_TOKENIZER = "porter unicode61 remove_diacritics 2"
"""FTS5 tokenizer of both full-text indexes."""


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

BOOTSTRAP = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at TEXT NOT NULL
)"""

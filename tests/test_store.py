"""The SQLite store, on real files in tmp_path: no mocks."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import SupportsInt

import numpy as np
import pytest

import litmine.store as store_module
from litmine.config import PassageSettings, Settings
from litmine.errors import InputError, StoreError
from litmine.passages import split_article
from litmine.store import (
    SCHEMA_VERSION,
    Migration,
    Store,
    UpsertCounts,
    fts_query,
    prepare_article,
)
from litmine.types import (
    AbstractSection,
    Article,
    ArticleSource,
    Author,
    Chemical,
    CommentCorrection,
    Entity,
    IngestReport,
    MeshHeading,
    MeshQualifier,
    PubDate,
)

SMALL = PassageSettings(max_tokens=48, target_tokens=24, splitter="regex")
split = functools.partial(split_article, settings=SMALL)

BACKGROUND = (
    "Warfarin is an oral anticoagulant with a narrow therapeutic window. "
    "Bleeding complications remain the main concern in elderly patients."
)
METHODS = (
    "We enrolled 412 patients with atrial fibrillation at 12 centres. "
    "Genotypes of CYP2C9 and VKORC1 were determined before dosing."
)
RESULTS = (
    "Genotype-guided dosing reduced major haemorrhage (HR 0.61; 95% CI 0.42-0.88). "
    "Time in therapeutic range improved by 7.2 percentage points."
)


def rich_article(pmid: str = "31452104", version: int = 1, **changes: object) -> Article:
    """A record using every field: nested dataclasses, dates, enum, metadata, unicode."""
    abstract = f"{BACKGROUND}\n{METHODS}\n{RESULTS}"
    sections = [
        AbstractSection(BACKGROUND, label="BACKGROUND", category="BACKGROUND", start=0),
        AbstractSection(METHODS, label="METHODS", category="METHODS", start=len(BACKGROUND) + 1),
        AbstractSection(
            RESULTS,
            label="RESULTS",
            category="RESULTS",
            start=len(BACKGROUND) + len(METHODS) + 2,
        ),
    ]
    article = Article(
        pmid=pmid,
        version=version,
        title="Pharmacogenetic dosing of warfarin: a multicentre trial in Zürich",
        abstract=abstract,
        sections=sections,
        journal="The New England journal of medicine",
        journal_iso="N Engl J Med",
        pub_date=PubDate(year=2019, month=8, day=22, medline_date=None),
        entrez_date=dt.date(2019, 8, 23),
        authors=[
            Author(
                last_name="Müller",
                fore_name="Jürgen",
                initials="J",
                affiliations=["Universitätsspital Zürich, Switzerland.", "ETH Zürich."],
                orcid="0000-0002-1825-0097",
            ),
            Author(collective_name="WARFARIN-GENE Investigators"),
        ],
        languages=["eng", "ger"],
        publication_types=["Journal Article", "Randomized Controlled Trial", "Journal Article"],
        mesh_headings=[
            MeshHeading(
                "D014859",
                "Warfarin",
                True,
                [MeshQualifier("Q000008", "administration & dosage", True)],
            ),
            MeshHeading("D001281", "Atrial Fibrillation", False, []),
        ],
        keywords=["pharmacogenetics", "CYP2C9"],
        chemicals=[Chemical("Warfarin", "D014859", "5Q7ZVV76EI"), Chemical("Anticoagulants")],
        doi="10.1056/NEJMoa0000000",
        pmc_id="PMC1234567",
        comments_corrections=[CommentCorrection("CommentIn", "31500000", "N Engl J Med 2019")],
        source=ArticleSource.PUBMED_XML,
        metadata={"file": "pubmed25n0001.xml.gz", "nested": {"k": [1, 2.5, None, True]}},
    )
    return dataclasses.replace(article, **changes)  # type: ignore[arg-type]


def plain_article(pmid: str, title: str, abstract: str, **changes: object) -> Article:
    return dataclasses.replace(Article(pmid=pmid, title=title, abstract=abstract), **changes)  # type: ignore[arg-type]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "store" / "litmine.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    with Store(db_path) as s:
        yield s


def rows(path: Path, sql: str, *args: object) -> list[tuple]:
    """Read with a separate connection: what another process would see."""
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def table_counts(path: Path) -> dict[str, int]:
    tables = [
        "articles",
        "article_pub_types",
        "article_mesh",
        "article_chemicals",
        "passages",
        "entities",
        "passage_changes",
        "articles_fts_docsize",
        "passages_fts_docsize",
    ]
    return {t: rows(path, f"SELECT COUNT(*) FROM {t}")[0][0] for t in tables}


# --------------------------------------------------------------------------- opening


def test_open_creates_data_dir_and_schema(settings: Settings) -> None:
    assert not settings.data_dir.exists()
    with Store.open(settings) as s:
        assert s.schema_version == SCHEMA_VERSION
        assert s.counts().articles == 0
    assert settings.db_path.is_file()
    assert rows(settings.db_path, "PRAGMA journal_mode")[0][0] == "wal"
    assert rows(settings.db_path, "PRAGMA user_version")[0][0] == SCHEMA_VERSION


def test_reopen_keeps_data_and_version(db_path: Path) -> None:
    with Store(db_path) as s:
        s.upsert_articles([rich_article()], split=split)
    with Store(db_path) as s:
        assert s.schema_version == SCHEMA_VERSION
        assert s.get_article("31452104") == rich_article()
    versions = [(v,) for v in range(1, SCHEMA_VERSION + 1)]
    assert rows(db_path, "SELECT version FROM schema_migrations") == versions


def test_newer_schema_is_refused(db_path: Path) -> None:
    Store(db_path).close()
    conn = sqlite3.connect(db_path)
    conn.execute("INSERT INTO schema_migrations VALUES (?, 'from the future', 'x')", (999,))
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="schema version 999") as info:
        Store(db_path)
    assert info.value.hint is not None and "upgrade litmine" in info.value.hint


def test_older_schema_is_migrated(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Store(db_path) as s:
        s.upsert_articles([rich_article()])
    step = Migration(
        SCHEMA_VERSION + 1,
        "add a notes table",
        ("CREATE TABLE notes (pmid TEXT NOT NULL, note TEXT NOT NULL)",),
    )
    monkeypatch.setattr(store_module, "MIGRATIONS", (*store_module.MIGRATIONS, step))
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(StoreError, match="schema version"):
        Store(db_path, read_only=True)  # a reader cannot upgrade
    with Store(db_path) as s:
        assert s.schema_version == SCHEMA_VERSION + 1
        assert s.has_article("31452104")
    assert rows(db_path, "SELECT COUNT(*) FROM notes") == [(0,)]
    assert [r[0] for r in rows(db_path, "SELECT version FROM schema_migrations ORDER BY 1")] == [
        *range(1, SCHEMA_VERSION + 2)
    ]


def test_foreign_sqlite_file_is_refused(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    conn = sqlite3.connect(db_path)
    conn.execute("CREATE TABLE something_else (x)")
    conn.close()
    with pytest.raises(StoreError, match="not a litmine database"):
        Store(db_path)


def test_corrupt_file_names_the_path(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(b"this is not a database, just some text " * 200)
    with pytest.raises(StoreError) as info:
        Store(db_path)
    assert str(db_path) in info.value.message
    assert "corrupt" in info.value.message


def test_read_only(db_path: Path) -> None:
    with pytest.raises(StoreError, match="no litmine database"):
        Store(db_path, read_only=True)
    with Store(db_path) as s:
        s.upsert_articles([rich_article()], split=split)
    with Store(db_path, read_only=True) as ro:
        assert ro.get_article("31452104") == rich_article()
        assert ro.bm25_articles("warfarin")
        with pytest.raises(StoreError, match="read-only"):
            ro.upsert_articles([rich_article("1")])
        with pytest.raises(StoreError, match="read-only"):
            ro.start_run("ingest", {})


def test_closed_store_raises_store_error(db_path: Path) -> None:
    s = Store(db_path)
    s.close()
    with pytest.raises(StoreError, match="closed"):
        s.counts()


# --------------------------------------------------------------------------- articles


def test_rich_article_round_trip(store: Store) -> None:
    article = rich_article()
    counts = store.upsert_articles([article], split=split)
    assert counts == UpsertCounts(new=1, passages_added=counts.passages_added)
    assert counts.passages_added >= 3
    back = store.get_article(article.pmid)
    assert back == article
    assert back is not None
    assert isinstance(back.pub_date, PubDate) and isinstance(back.entrez_date, dt.date)
    assert back.source is ArticleSource.PUBMED_XML
    assert isinstance(back.mesh_headings[0].qualifiers[0], MeshQualifier)
    assert list(store.iter_articles()) == [article]
    assert list(store.iter_articles(pmids=["nope", article.pmid])) == [article]
    assert store.has_article(article.pmid) and not store.has_article("nope")
    assert store.article_versions([article.pmid, "nope"]) == {article.pmid: 1}
    assert store.get_article("nope") is None
    # Side tables hold the filter values, de-duplicated.
    assert rows(store.path, "SELECT pub_type FROM article_pub_types ORDER BY 1") == [
        ("Journal Article",),
        ("Randomized Controlled Trial",),
    ]
    assert rows(store.path, "SELECT descriptor_ui, major FROM article_mesh ORDER BY 1") == [
        ("D001281", 0),
        ("D014859", 1),
    ]
    assert rows(store.path, "SELECT pub_year, pub_date, entrez_date, language FROM articles") == [
        (2019, "2019-08-22", "2019-08-23", "eng")
    ]


def test_reupsert_is_idempotent(store: Store) -> None:
    articles = [rich_article(), rich_article("2", title="Second"), rich_article("3")]
    store.upsert_articles(articles, split=split)
    before = table_counts(store.path)
    stamps = rows(store.path, "SELECT pmid, updated_at FROM articles ORDER BY pmid")
    counts = store.upsert_articles([rich_article(), rich_article("2", title="Second")], split=split)
    assert counts == UpsertCounts(unchanged=2)
    assert table_counts(store.path) == before
    assert rows(store.path, "SELECT pmid, updated_at FROM articles ORDER BY pmid") == stamps


def test_newer_version_replaces_and_older_is_skipped(store: Store) -> None:
    v1 = rich_article()
    store.upsert_articles([v1], split=split)
    old_ids = {p.id for p in store.passages_for(v1.pmid)}
    v2 = rich_article(
        version=2,
        abstract="A completely rewritten abstract about heparin bridging.",
        sections=[],
        mesh_headings=[MeshHeading("D006493", "Heparin")],
    )
    counts = store.upsert_articles([v2], split=split)
    assert (counts.updated, counts.new) == (1, 0)
    assert counts.passages_removed == len(old_ids)
    assert store.get_article(v2.pmid) == v2
    assert store.get_passages(sorted(old_ids)) == []
    assert [p.text for p in store.passages_for(v2.pmid)] == [v2.abstract]
    assert rows(store.path, "SELECT descriptor_ui FROM article_mesh") == [("D006493",)]
    assert store.bm25_articles("genotypes") == []
    assert store.bm25_passages("genotypes") == []
    assert [h[0] for h in store.bm25_passages("heparin bridging")] == [
        store.passages_for(v2.pmid)[0].id
    ]
    # The stale v1 arriving late is ignored.
    counts = store.upsert_articles([v1], split=split)
    assert counts == UpsertCounts(skipped_older=1)
    assert store.get_article(v1.pmid) == v2
    store.check()


def test_changed_content_same_version_updates_and_keeps_unchanged_passages(store: Store) -> None:
    article = rich_article()
    store.upsert_articles([article], split=split)
    passages = store.passages_for(article.pmid)
    entity = Entity(passages[0].id, 0, 8, "Warfarin", "Chemical", "warfarin", "D014859")
    store.replace_entities({passages[0].id: [entity]})
    # Only the MeSH terms change: same passages, entities survive.
    counts = store.upsert_articles(
        [rich_article(mesh_headings=[MeshHeading("D000925", "Anticoagulants")])], split=split
    )
    assert counts.updated == 1 and counts.passages_added == counts.passages_removed == 0
    assert store.entities_for([passages[0].id]) == {passages[0].id: [entity]}
    # The last section changes: passages before it are kept, the changed ones replaced.
    changed = rich_article(abstract=article.abstract.replace("7.2", "9.9"))
    changed.sections[-1].text = changed.sections[-1].text.replace("7.2", "9.9")
    counts = store.upsert_articles([changed], split=split)
    assert counts.updated == 1 and counts.passages_added == counts.passages_removed >= 1
    assert store.entities_for([passages[0].id])[passages[0].id] == [entity]
    assert [p.text for p in store.passages_for(article.pmid)] == [p.text for p in split(changed)]
    log = store.passage_changes_since(0)
    assert [c.op for c in log].count("del") == counts.passages_removed
    store.check()


def test_title_change_reindexes_passages(store: Store) -> None:
    store.upsert_articles([plain_article("1", "Old heading", "Some abstract text.")], split=split)
    counts = store.upsert_articles(
        [plain_article("1", "Brand new heading", "Some abstract text.")], split=split
    )
    assert counts.updated == 1 and counts.passages_added == 0
    assert store.bm25_passages("old") == []
    [passage] = store.passages_for("1")
    assert store.bm25_passages("brand") == [
        (passage.id, pytest.approx(store.bm25_passages("brand")[0][1]))
    ]
    assert passage.title == "Brand new heading"
    store.check()


def test_repeated_pmid_in_one_call_applies_in_order(store: Store) -> None:
    counts = store.upsert_articles(
        [rich_article(), rich_article(version=2, title="Second version")], split=split
    )
    assert (counts.new, counts.updated) == (1, 1)
    article = store.get_article("31452104")
    assert article is not None and article.version == 2


def test_split_none_stores_no_passages_and_resplit_adds_them(store: Store) -> None:
    articles = [rich_article(), rich_article("2"), plain_article("3", "Title only", "")]
    store.upsert_articles(articles)
    assert store.counts().passages == 0
    counts = store.resplit(split)
    assert counts.updated == 2 and counts.passages_added > 0
    assert store.counts().passages == counts.passages_added
    assert store.resplit(split) == UpsertCounts()  # nothing missing any more
    again = store.resplit(split, missing_only=False)
    assert (again.updated, again.unchanged, again.passages_added) == (0, 3, 0)
    coarse = functools.partial(split_article, settings=PassageSettings(splitter="regex"))
    changed = store.resplit(coarse, pmids=["2"], missing_only=False)
    assert changed.updated == 1 and changed.passages_removed > changed.passages_added
    assert [p.text for p in store.passages_for("2")] == [p.text for p in coarse(articles[1])]
    store.check()


def test_split_must_return_the_articles_own_passages(store: Store) -> None:
    other = split(rich_article("999"))
    with pytest.raises(ValueError, match="passage of 999"):
        store.upsert_articles([rich_article()], split=lambda a: other)
    assert store.counts().articles == 0


def test_delete_cascades_everywhere(store: Store) -> None:
    keep, gone = rich_article("1"), rich_article("2", title="Zebrafish warfarin study")
    store.upsert_articles([keep, gone], split=split)
    gone_ids = [p.id for p in store.passages_for("2")]
    store.replace_entities(
        {pid: [Entity(pid, 0, 4, "Warf", "Chemical", "warfarin")] for pid in gone_ids}
    )
    seq = store.counts().change_seq
    assert store.delete_articles(["2", "2", "unknown"]) == 1
    assert store.get_article("2") is None and store.passages_for("2") == []
    assert store.get_passages(gone_ids) == []
    assert store.entities_for(gone_ids) == {pid: [] for pid in gone_ids}
    assert store.bm25_articles("zebrafish") == []
    assert store.bm25_passages("zebrafish") == []
    assert [(c.passage_id, c.op) for c in store.passage_changes_since(seq)] == [
        (pid, "del") for pid in gone_ids
    ]
    for table in ("article_pub_types", "article_mesh", "article_chemicals", "passages"):
        assert rows(store.path, f"SELECT COUNT(*) FROM {table} WHERE pmid = '2'") == [(0,)]
        assert rows(store.path, f"SELECT COUNT(*) FROM {table} WHERE pmid = '1'") != [(0,)]
    assert rows(store.path, "SELECT COUNT(*) FROM entities") == [(0,)]
    assert store.get_article("1") == keep and store.bm25_articles("warfarin")
    assert store.delete_articles([]) == 0
    store.check()


# --------------------------------------------------------------------------- full text


@pytest.fixture
def bc5cdr_store(store: Store, shared_data: Path) -> tuple[Store, list[Article]]:
    path = shared_data / "bc5cdr" / "CDR_TrainingSet.PubTator.txt"
    if not path.exists():
        pytest.skip(f"{path} not found")
    titles: dict[str, str] = {}
    articles: list[Article] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        m = re.match(r"(\d+)\|([ta])\|(.*)", line)
        if m and m[2] == "t":
            titles[m[1]] = m[3]
        elif m:
            articles.append(plain_article(m[1], titles[m[1]], m[3]))
        if len(articles) == 60:
            break
    store.upsert_articles(articles, split=split)
    return store, articles


def test_bm25_finds_the_right_article_and_passage(
    bc5cdr_store: tuple[Store, list[Article]],
) -> None:
    store, articles = bc5cdr_store
    # Porter stemming merges variants, so a word counts as unique to an article
    # when no other article has a word with the same 5-letter prefix.
    words = [{w.lower() for w in re.findall(r"[A-Za-z]{7,}", a.abstract)} for a in articles]
    stems = [
        {w.lower()[:5] for w in re.findall(r"[A-Za-z]{5,}", f"{a.title} {a.abstract}")}
        for a in articles
    ]
    checked = 0
    for i, article in enumerate(articles):
        others = set().union(*(w for j, w in enumerate(stems) if j != i))
        unique = sorted(w for w in words[i] if w[:5] not in others)
        if not unique:
            continue
        word = unique[0]
        hits = store.bm25_articles(word, k=5)
        assert hits[0][0] == article.pmid, word
        assert all(score > 0 for _, score in hits)
        passage_hits = store.bm25_passages(word, k=5)
        [top] = store.get_passages([passage_hits[0][0]])
        assert top.pmid == article.pmid  # (porter stems: the text may hold a variant)
        checked += 1
    assert checked > 30
    # Scores are ordered best first, and k is honoured.
    ranked = store.bm25_passages("induced toxicity in patients", k=7)
    assert len(ranked) == 7
    assert [s for _, s in ranked] == sorted((s for _, s in ranked), reverse=True)


@pytest.mark.parametrize(
    "query",
    [
        '"unbalanced',
        "(a OR",
        "AND",
        "NOT warfarin",
        "*",
        "-warfarin",
        "title:warfarin",
        "NEAR(warfarin dosing)",
        "''",
        "^warfarin",
        "warfarin + dosing {x} [y] ;",
        "",
        "   ",
        "\x00",
        "OR OR AND NOT",
        "warfarin*",
        "a" * 5000,
        " ".join(f"w{i}" for i in range(500)),
        "日本語のクエリ",
    ],
)
def test_hostile_queries_do_not_raise(store: Store, query: str) -> None:
    store.upsert_articles([rich_article()], split=split)
    assert isinstance(store.bm25_articles(query), list)
    assert isinstance(store.bm25_passages(query), list)


def test_fts_query_quotes_everything() -> None:
    assert (
        fts_query('COVID-19 "AND" (p53/MDM2) title:x*') == '"covid 19" OR "p53 mdm2" OR "title x"'
    )
    assert fts_query("the of and") == '"the" OR "of" OR "and"'  # only stopwords: keep them
    assert fts_query("effects of aspirin") == '"effects" OR "aspirin"'
    assert fts_query("-- () ** :") is None
    assert fts_query("") is None


def test_operators_in_query_are_plain_words(store: Store) -> None:
    store.upsert_articles([rich_article()], split=split)
    assert store.bm25_articles("NOT warfarin")  # NOT is a term, not an operator
    assert store.bm25_articles("genotype-guided")
    assert store.bm25_articles("warfarin", k=0) == []


def test_unicode_text_round_trips_and_is_searchable(store: Store) -> None:
    title = "Ångström-scale β-amyloid imaging in naïve mice: 日本語 résumé"
    abstract = (
        "Café-au-lait spots 🧬 were seen in Ørsted’s cohort. Combining e\u0301 marks "
        "and the Turkish dotless ı appear. Zero-width\u200bspace and tabs\tremain."
    )
    article = plain_article("u1", title, abstract, metadata={"ключ": "значение 🧪"})
    store.upsert_articles([article], split=split)
    assert store.get_article("u1") == article
    for query in ("angstrom", "naive", "cafe", "ØRSTED", "β", "日本語", "amyloid", "résumé"):
        assert [pmid for pmid, _ in store.bm25_articles(query)] == ["u1"], query
    assert store.bm25_passages("café")
    for p in store.passages_for("u1"):
        assert abstract[p.start : p.end] == p.text


# --------------------------------------------------------------------------- transactions


def test_transaction_rollback_leaves_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.upsert_articles([rich_article()], split=split)
        store.add_query("aspirin", "0 2 * * *")
        raise RuntimeError("boom")
    assert store.counts() == store_module.StoreCounts()
    assert store.passage_changes_since(0) == []
    assert store.bm25_passages("warfarin") == []
    store.check()


def test_failing_stream_is_atomic(store: Store) -> None:
    def stream() -> Iterator[Article]:
        for i in range(1200):  # crosses internal batches
            yield rich_article(str(i))
        raise OSError("disk went away mid-file")

    with pytest.raises(OSError, match="mid-file"):
        store.upsert_articles(stream(), split=split, batch_size=500)
    assert store.counts().articles == 0


def test_nested_transaction_joins_and_rolls_back_only_inner(store: Store) -> None:
    with store.transaction():
        store.upsert_articles([rich_article("1")])
        with pytest.raises(RuntimeError), store.transaction():
            store.upsert_articles([rich_article("2")])
            raise RuntimeError("inner")
        store.upsert_articles([rich_article("3")])
    assert [a.pmid for a in store.iter_articles()] == ["1", "3"]


def test_locked_database_gives_a_hint(db_path: Path) -> None:
    Store(db_path).close()
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with Store(db_path, timeout=0.05) as s:
            assert s.counts().articles == 0  # readers are not blocked (WAL)
            with pytest.raises(StoreError) as info:
                s.upsert_articles([rich_article()])
            assert "locked" in info.value.message
            assert info.value.hint == "another litmine process is writing; retry or wait"
            holder.execute("ROLLBACK")
            assert s.upsert_articles([rich_article()]).new == 1
    finally:
        holder.close()


# --------------------------------------------------------------------------- passages & entities


def test_passage_queries(store: Store) -> None:
    articles = [rich_article(str(i), title=f"Title {i}") for i in range(5)]
    store.upsert_articles(articles, split=split)
    expected = {a.pmid: split(a) for a in articles}
    for pmid, passages in expected.items():
        assert store.passages_for(pmid) == passages
    everything = [p for ps in expected.values() for p in ps]
    wanted: list[SupportsInt] = [
        everything[7].id,
        12345,
        everything[2].id,
        np.int64(everything[0].id),
    ]
    got = store.get_passages(wanted)
    assert [p.id for p in got] == [everything[7].id, everything[2].id, everything[0].id]
    assert got[0].title == everything[7].title
    batches = list(store.iter_passages(batch_size=4))
    assert all(len(b) <= 4 for b in batches)
    streamed = [p for b in batches for p in b]
    assert sorted(streamed, key=lambda p: p.id) == sorted(everything, key=lambda p: p.id)
    ids = store.passage_ids()
    assert ids.dtype == np.int64 and list(ids) == sorted(p.id for p in everything)
    log = store.passage_changes_since(0)
    assert {c.passage_id for c in log if c.op == "add"} == set(ids.tolist())
    assert len(store.passage_changes_since(0, limit=3)) == 3
    last = log[-1].seq
    assert store.prune_passage_changes(last - 2) == len(log) - 2
    assert store.passage_changes_since(0) == log[-2:]
    store.prune_passage_changes(last)
    assert store.counts().change_seq == last  # an emptied log keeps its position


def test_entities_replace_and_read(store: Store) -> None:
    store.upsert_articles([rich_article()], split=split)
    p0, p1 = store.passages_for("31452104")[:2]
    e1 = Entity(p0.id, 0, 8, "Warfarin", "Chemical", "warfarin", "D014859")
    e2 = Entity(p0.id, 43, 58, "anticoagulant", "Chemical", "anticoagulant", None)
    assert store.replace_entities({p0.id: [e2, e1], p1.id: []}) == 2
    assert store.entities_for([p0.id, p1.id]) == {p0.id: [e1, e2], p1.id: []}
    assert store.replace_entities({p0.id: [e1]}) == 1
    assert store.entities_for([p0.id]) == {p0.id: [e1]}
    assert store.counts().entities == 1
    with pytest.raises(StoreError, match="not in the store"):
        store.replace_entities({424242: []})
    with pytest.raises(ValueError, match="listed under"):
        store.replace_entities({p1.id: [e1]})


# --------------------------------------------------------------------------- runs


def test_run_lifecycle(store: Store) -> None:
    run_id = store.start_run("query", {"query": "warfarin", "since": dt.date(2024, 1, 1)})
    [run] = store.recent_runs()
    assert (run.id, run.kind, run.status, run.finished_at) == (run_id, "query", "running", None)
    assert run.params == {"query": "warfarin", "since": "2024-01-01"}
    report = IngestReport(fetched=10, new=7, updated=1, unchanged=1, deleted=1, failed=1)
    report.errors = [f"record {i}: bad" for i in range(150)]
    store.finish_run(run_id, "partial", report, "1 record failed")
    run = store.recent_runs()[0]
    assert run.status == "partial" and run.finished_at is not None
    assert (run.fetched, run.new, run.updated, run.unchanged, run.deleted, run.failed) == (
        10,
        7,
        1,
        1,
        1,
        1,
    )
    assert len(run.errors) == 100 and run.message == "1 record failed"
    assert run.report.line() == report.line()
    assert run.started_at.tzinfo is not None and run.finished_at >= run.started_at
    with pytest.raises(ValueError, match="status"):
        store.finish_run(run_id, "running", report)
    with pytest.raises(InputError, match="no run"):
        store.finish_run(9999, "ok", report)
    second = store.start_run("file", {})
    assert [r.id for r in store.recent_runs(limit=1)] == [second]
    assert store.get_run(run_id) == run and store.get_run(12345) is None
    assert store.counts().runs == 2


def test_run_of_a_killed_process_becomes_interrupted(db_path: Path) -> None:
    Store(db_path).close()
    code = (
        "import os, sys; from litmine.store import Store\n"
        "s = Store(sys.argv[1]); s.start_run('nightly', {})\n"
        "os._exit(9)  # killed: no finish_run, no close\n"
    )
    subprocess.run([sys.executable, "-c", code, str(db_path)], check=False, timeout=60)
    with Store(db_path) as s:
        [orphan] = s.recent_runs()
        assert orphan.status == "running"
        mine = s.start_run("query", {})
        runs = {r.id: r for r in s.recent_runs()}
        assert runs[orphan.id].status == "interrupted"
        assert runs[orphan.id].message
        assert runs[mine].status == "running"
        # A live run of this very process is left alone.
        s.start_run("query", {})
        assert s.get_run(mine) is not None and s.get_run(mine).status == "running"  # type: ignore[union-attr]


# --------------------------------------------------------------------------- saved queries


def test_saved_queries(store: Store) -> None:
    q = store.add_query("  warfarin  AND bleeding ", "0 2 * * *")
    assert (q.query, q.cron, q.watermark, q.last_run_id) == (
        "warfarin AND bleeding",
        "0 2 * * *",
        None,
        None,
    )
    assert store.add_query("warfarin AND\tbleeding", "5 5 * * *") == q  # same query
    other = store.add_query("12345", "0 3 * * *")
    assert store.list_queries() == [q, other]
    assert store.get_query(q.id) == q
    assert store.get_query("warfarin AND bleeding") == q
    assert store.get_query(str(q.id)) == q  # a CLI argument
    assert store.get_query("12345") == other  # text wins over id
    assert store.get_query("nothing") is None
    with pytest.raises(InputError):
        store.add_query("   ", "0 2 * * *")
    assert store.remove_query("12345") and not store.remove_query("12345")
    assert store.list_queries() == [q]


def test_watermark_never_moves_back(store: Store) -> None:
    q = store.add_query("aspirin", "0 2 * * *")
    run = store.start_run("nightly", {})
    store.set_watermark(q.id, dt.date(2024, 3, 10), run_id=run)
    store.set_watermark(q.id, dt.date(2024, 1, 1))
    saved = store.get_query(q.id)
    assert saved is not None
    assert saved.watermark == dt.date(2024, 3, 10) and saved.last_run_id == run
    store.set_watermark(q.id, dt.datetime(2024, 3, 11, 23, 59))
    assert store.get_query(q.id).watermark == dt.date(2024, 3, 11)  # type: ignore[union-attr]
    with pytest.raises(InputError, match="no saved query"):
        store.set_watermark(999, dt.date(2024, 1, 1))


# --------------------------------------------------------------------------- counts


def test_counts(store: Store) -> None:
    retracted = rich_article("r", publication_types=["Retracted Publication"])
    store.upsert_articles(
        [rich_article(), retracted, plain_article("t", "Title only", "")], split=split
    )
    c = store.counts()
    assert (c.articles, c.articles_without_abstract, c.retracted) == (3, 1, 1)
    assert c.passages == len(split(rich_article())) * 2
    assert c.change_seq == c.passages


# --------------------------------------------------------------------------- bulk ingest


def _all_rows(path: Path) -> dict[str, list[tuple]]:
    with Store(path) as store:
        store.sync_passage_fts()  # built on demand: compare the built index
    return {
        "articles": rows(
            path,
            "SELECT id, pmid, version, title, abstract, journal, pub_year, pub_date, entrez_date, "
            "doi, language, has_abstract, is_retracted, source, content_hash, record "
            "FROM articles ORDER BY id",
        ),
        "side": rows(
            path,
            "SELECT 'p', pmid, pub_type, NULL, NULL FROM article_pub_types UNION ALL "
            "SELECT 'm', pmid, descriptor_name, descriptor_ui, major FROM article_mesh UNION ALL "
            "SELECT 'c', pmid, name, ui, NULL FROM article_chemicals ORDER BY 1, 2, 3",
        ),
        "passages": rows(path, "SELECT * FROM passages ORDER BY pk"),
        "changes": rows(path, "SELECT * FROM passage_changes ORDER BY seq"),
        "fts": rows(path, "SELECT rowid, * FROM articles_fts ORDER BY rowid")
        + rows(path, "SELECT rowid, * FROM passages_fts ORDER BY rowid"),
        "fts_index": [(pk,) for pk in sorted(_indexed_pks(path, "warfarin OR second"))],
    }


def test_prepared_articles_are_stored_like_plain_ones(tmp_path: Path) -> None:
    first = [
        rich_article("1"),
        rich_article("2", title="Second", publication_types=["Review", "Review"]),
        plain_article("3", "Title only", ""),
    ]
    second = [rich_article("1", abstract="A rewritten abstract.", sections=[]), first[1]]
    paths = [tmp_path / "plain.db", tmp_path / "prepared.db"]
    counts = []
    for path, prepared in zip(paths, (False, True), strict=True):
        with Store(path) as s:
            for batch in (first, second):
                items = [prepare_article(a, split) for a in batch] if prepared else batch
                counts.append(s.upsert_articles(items, split=None if prepared else split))
            assert s.get_article("1") == second[0]
            s.check()
    assert counts[:2] == counts[2:]
    removed = len(split(first[0]))
    assert counts[1] == UpsertCounts(
        updated=1, unchanged=1, passages_added=1, passages_removed=removed
    )
    assert _all_rows(paths[0]) == _all_rows(paths[1])


def test_record_json_and_hash_are_stable() -> None:
    # The content hash decides "unchanged" on re-ingest: the JSON it is taken
    # over must stay byte for byte what orjson makes of the dataclass.
    orjson = pytest.importorskip("orjson")
    for article in (rich_article(), plain_article("x", "T", "A", metadata={"n": [1, None]})):
        blank = dataclasses.replace(article, title="", abstract="")
        assert store_module._dump_record(article) == orjson.dumps(blank)


def test_schema_2_database_upgrades_and_keeps_article_search(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old_articles = [rich_article("1"), rich_article("2", title="Zebrafish warfarin study")]
    with monkeypatch.context() as patch:
        patch.setattr(store_module, "MIGRATIONS", store_module.MIGRATIONS[:2])
        patch.setattr(store_module, "SCHEMA_VERSION", 2)
        Store(db_path).close()
    # Rows as schema 2 code wrote them: the triggers filled articles_fts.
    conn = sqlite3.connect(db_path)
    for i, article in enumerate(old_articles, 1):
        prep = prepare_article(article)
        conn.execute(
            f"INSERT INTO articles (id, pmid, {store_module._ARTICLE_FIELDS}, created_at) "
            f"VALUES ({', '.join('?' * 20)})",
            (i, prep.pmid, *prep.row, "2024-01-01", "2024-01-01"),
        )
    conn.commit()
    conn.close()
    with Store(db_path) as s:
        assert s.schema_version == SCHEMA_VERSION
        assert [p for p, _ in s.bm25_articles("zebrafish")] == ["2"]
        s.upsert_articles([rich_article("2", title="Medaka dosing study")], split=split)
        s.upsert_articles([rich_article("3", title="Zebrafish again")], split=split)
        assert s.delete_articles(["1"]) == 1
        assert [p for p, _ in s.bm25_articles("zebrafish")] == ["3"]
        assert [p for p, _ in s.bm25_articles("medaka")] == ["2"]
        assert {p for p, _ in s.bm25_articles("warfarin")} == {"2", "3"}
        s.check()  # FTS5 integrity: no entry left behind or missing
    triggers = rows(db_path, "SELECT name FROM sqlite_master WHERE type = 'trigger'")
    assert triggers == []


# --------------------------------------------------------------------------- passage full text


def _indexed_pks(path: Path, term: str) -> list[int]:
    """Passage pks the FTS5 index itself returns (not the content view)."""
    return [
        r[0] for r in rows(path, "SELECT rowid FROM passages_fts WHERE passages_fts MATCH ?", term)
    ]


def test_passage_fts_is_built_on_demand(store: Store) -> None:
    store.upsert_articles([rich_article("1"), rich_article("2")], split=split)
    n = store.counts().passages
    # Ingest leaves the passage index alone: default search never reads it.
    assert store.passage_fts_behind() == n > 0
    assert _indexed_pks(store.path, "warfarin") == []
    hits = store.bm25_passages("warfarin")  # catches up first
    assert {p for p, _ in hits} >= {p.id for p in store.passages_for("1")[:1]}
    assert store.passage_fts_behind() == 0
    assert len(_indexed_pks(store.path, "warfarin")) == len(hits)
    store.upsert_articles([rich_article("3")], split=split)
    assert store.passage_fts_behind() == len(store.passages_for("3"))
    assert store.sync_passage_fts() == len(store.passages_for("3"))
    assert store.sync_passage_fts() == 0
    assert {p.id for p in store.passages_for("3")} <= {
        p for p, _ in store.bm25_passages("warfarin")
    }
    store.check()


def test_read_only_store_asks_for_passage_fts_sync(db_path: Path) -> None:
    with Store(db_path) as s:
        s.upsert_articles([rich_article()], split=split)
    with Store(db_path, read_only=True) as reader:
        with pytest.raises(StoreError, match="passage full-text index is missing") as info:
            reader.bm25_passages("warfarin")
        assert "bm25_unit" in (info.value.hint or "")
        with Store(db_path) as writer:
            writer.sync_passage_fts()
        assert reader.bm25_passages("warfarin")
        assert reader.bm25_passages_within("warfarin", ["31452104"])


def test_passage_fts_consistent_through_updates_and_deletes(store: Store) -> None:
    store.upsert_articles([rich_article("1"), rich_article("2")], split=split)
    # Deleting and updating articles whose passages were never indexed.
    store.delete_articles(["2"])
    store.upsert_articles([rich_article("1", version=2, title="Quokka dosing")], split=split)
    store.check()  # syncs, then FTS5's own integrity check against the stored rows
    # Now indexed: a new title must reach the entries of the kept passages.
    store.upsert_articles([rich_article("1", version=3, title="Zebrafish dosing")], split=split)
    ids = {p.id for p in store.passages_for("1")}
    assert {p for p, _ in store.bm25_passages("zebrafish")} == ids
    assert store.bm25_passages("quokka") == []
    # The newest passages go; later ones must not reuse their pks, which count
    # as indexed while at or below the watermark.
    store.upsert_articles([rich_article("4")], split=split)
    store.sync_passage_fts()
    top = rows(store.path, "SELECT MAX(pk) FROM passages")[0][0]
    store.delete_articles(["4"])
    store.upsert_articles([rich_article("5")], split=split)
    assert min(p[0] for p in rows(store.path, "SELECT pk FROM passages WHERE pmid = '5'")) > top
    assert store.passage_fts_behind() == len(store.passages_for("5"))
    store.check()
    store.rebuild_fts()
    assert store.passage_fts_behind() == 0
    store.check()


def test_schema_3_passage_index_counts_as_complete(db_path: Path) -> None:
    with Store(db_path) as s:
        s.upsert_articles([rich_article()], split=split)
        s.sync_passage_fts()
    # What a version-3 database looked like: every passage indexed, no watermark.
    conn = sqlite3.connect(db_path)
    conn.executescript(
        "DROP TABLE fts_progress; DELETE FROM schema_migrations WHERE version >= 4;"
        "PRAGMA user_version = 3;"
    )
    conn.close()
    with Store(db_path) as s:
        assert s.schema_version == SCHEMA_VERSION
        assert s.passage_fts_behind() == 0
        assert s.bm25_passages("warfarin")
        s.check()

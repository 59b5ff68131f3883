"""Full-text search: safe queries, BM25 over articles and passages, the on-demand index."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from litmine.errors import StoreError
from litmine.store import (
    Store,
    fts_query,
)
from litmine.types import Article
from tests.store.helpers import (
    indexed_pks,
    plain_article,
    rich_article,
    rows,
    split,
)

pytestmark = pytest.mark.both_backends  # the store contract: SQLite and PostgreSQL

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


# --------------------------------------------------------------------------- passage full text


@pytest.mark.sqlite_only("FTS5 internals: the passage index is built on demand")
def test_passage_fts_is_built_on_demand(store: Store) -> None:
    store.upsert_articles([rich_article("1"), rich_article("2")], split=split)
    n = store.counts().passages
    # Ingest leaves the passage index alone: default search never reads it.
    assert store.passage_fts_behind() == n > 0
    assert indexed_pks(store.path, "warfarin") == []
    hits = store.bm25_passages("warfarin")  # catches up first
    assert {p for p, _ in hits} >= {p.id for p in store.passages_for("1")[:1]}
    assert store.passage_fts_behind() == 0
    assert len(indexed_pks(store.path, "warfarin")) == len(hits)
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


@pytest.mark.sqlite_only("FTS5 internals: the on-demand passage index watermark")
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
    top = rows(store, "SELECT MAX(pk) FROM passages")[0][0]
    store.delete_articles(["4"])
    store.upsert_articles([rich_article("5")], split=split)
    assert min(p[0] for p in rows(store, "SELECT pk FROM passages WHERE pmid = '5'")) > top
    assert store.passage_fts_behind() == len(store.passages_for("5"))
    store.check()
    store.rebuild_fts()
    assert store.passage_fts_behind() == 0
    store.check()

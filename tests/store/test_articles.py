"""Article upserts, re-splits, deletes, and prepared (worker-made) articles."""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path

import pytest

from litmine.config import PassageSettings
from litmine.passages import split_article
from litmine.store import (
    Store,
    UpsertCounts,
    prepare_article,
)
from litmine.types import ArticleSource, Entity, MeshHeading, MeshQualifier, PubDate
from tests.store.helpers import (
    indexed_pks,
    plain_article,
    rich_article,
    rows,
    split,
    table_counts,
)

pytestmark = pytest.mark.both_backends  # the store contract: SQLite and PostgreSQL

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
    assert rows(store, "SELECT pub_type FROM article_pub_types ORDER BY 1") == [
        ("Journal Article",),
        ("Randomized Controlled Trial",),
    ]
    assert rows(store, "SELECT descriptor_ui, major FROM article_mesh ORDER BY 1") == [
        ("D001281", 0),
        ("D014859", 1),
    ]
    assert rows(store, "SELECT pub_year, pub_date, entrez_date, language FROM articles") == [
        (2019, "2019-08-22", "2019-08-23", "eng")
    ]


def test_reupsert_is_idempotent(store: Store) -> None:
    articles = [rich_article(), rich_article("2", title="Second"), rich_article("3")]
    store.upsert_articles(articles, split=split)
    before = table_counts(store)
    stamps = rows(store, "SELECT pmid, updated_at FROM articles ORDER BY pmid")
    counts = store.upsert_articles([rich_article(), rich_article("2", title="Second")], split=split)
    assert counts == UpsertCounts(unchanged=2)
    assert table_counts(store) == before
    assert rows(store, "SELECT pmid, updated_at FROM articles ORDER BY pmid") == stamps


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
    assert rows(store, "SELECT descriptor_ui FROM article_mesh") == [("D006493",)]
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
        assert rows(store, f"SELECT COUNT(*) FROM {table} WHERE pmid = '2'") == [(0,)]
        assert rows(store, f"SELECT COUNT(*) FROM {table} WHERE pmid = '1'") != [(0,)]
    assert rows(store, "SELECT COUNT(*) FROM entities") == [(0,)]
    assert store.get_article("1") == keep and store.bm25_articles("warfarin")
    assert store.delete_articles([]) == 0
    store.check()


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
        "fts_index": [(pk,) for pk in sorted(indexed_pks(path, "warfarin OR second"))],
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

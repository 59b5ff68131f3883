"""Question search over a tiny collection: real SQLite FTS5, FAISS and MiniLM."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from litmine.config import Settings, load_settings, merge_section
from litmine.errors import ConfigError, InputError
from litmine.search.hybrid import Searcher, SearchFilters, filter_pmids, search
from litmine.store import Store
from litmine.types import Entity, Hit
from litmine.vectors.build import build_index, load_index
from litmine.vectors.faiss_index import PassageIndex
from tests.backends import BACKENDS, module_store_url, open_store, store_overrides
from tests.search_helpers import RCT, fill, minilm


@pytest.fixture(scope="module", params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Store, PassageIndex, Settings]]:
    """The collection in each store backend (the search contract)."""
    settings = load_settings(
        data_dir=tmp_path_factory.mktemp("search") / "data",
        **store_overrides(module_store_url(request)),
    )
    store = open_store(settings)
    fill(store, settings)
    (aspirin,) = store.passages_for("1001")
    store.save_entities(
        {aspirin.id: [Entity(aspirin.id, 6, 19, "low-dose aspirin", "CHEMICAL", "aspirin")]},
        "test",
    )
    build_index(store, minilm(), settings)
    yield store, load_index(settings, embedder=minilm()), settings
    store.close()


def _run(world: tuple[Store, PassageIndex, Settings], question: str, **kw: Any) -> list[Hit]:
    store, index, settings = world
    return search(question, store=store, index=index, embedder=minilm(), settings=settings, **kw)


def _pmids(hits: list[Hit]) -> list[str]:
    return [h.passage.pmid for h in hits]


def test_dense_finds_a_paraphrase_bm25_misses(world: Any) -> None:
    question = "heart attack prevention with acetylsalicylic acid"
    assert _pmids(_run(world, question, mode="dense"))[0] == "1001"
    assert "1001" not in _pmids(_run(world, question, mode="bm25"))


def test_bm25_finds_an_exact_rare_token(world: Any) -> None:
    hits = _run(world, "xyzzyl7", mode="bm25")
    assert _pmids(hits) == ["1004"]
    assert hits[0].retrievers == ["bm25"] and hits[0].ranks == {"bm25": 1}


def test_hybrid_carries_both_ranks_and_fills_hits(world: Any) -> None:
    hits = _run(world, "does drinking coffee protect the liver from cirrhosis", mode="hybrid")
    top = hits[0]
    assert top.passage.pmid == "1009"
    assert top.retrievers == ["bm25", "dense"]
    assert top.ranks == {"bm25": 1, "dense": 1}
    assert top.score == pytest.approx(1.0)  # default min-max fusion: best in both runs
    assert top.passage.title == "Coffee consumption and liver disease"
    assert (top.year, top.journal, top.publication_types) == (
        2013,
        "Journal of Tests",
        ["Journal Article"],
    )
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_rank_fusion_is_configurable(world: Any) -> None:
    store, index, settings = world
    rrf = merge_section(settings, "search", fusion="rrf")
    hits = search(
        "coffee and liver cirrhosis",
        store=store,
        index=index,
        embedder=minilm(),
        settings=rrf,
        mode="hybrid",
    )
    assert hits[0].passage.pmid == "1009"
    assert hits[0].score == pytest.approx(2 / 61)  # RRF, k=60, first in both runs


def test_bm25_unit_article_scores_every_passage_by_its_article(world: Any) -> None:
    store, index, settings = world
    question = "statin therapy lowers cholesterol"
    articles = store.bm25_articles(question, 5)
    by_article = store.bm25_article_passages(question, 5)
    expected = [p.id for pmid, _ in articles for p in store.passages_for(pmid)]
    # Every passage of every hit article, best article first, each in text order.
    assert [pid for pid, _ in by_article] == expected
    score_of = dict(articles)
    pmid_of = {p.id: p.pmid for p in store.get_passages(expected)}
    assert all(score == pytest.approx(score_of[pmid_of[pid]]) for pid, score in by_article)
    within = store.bm25_article_passages(question, 5, pmids={"1012"})
    assert [pid for pid, _ in within] == [p.id for p in store.passages_for("1012")]

    passage_unit = merge_section(settings, "search", bm25_unit="passage")
    hits = search(
        question, store=store, index=index, embedder=None, settings=passage_unit, mode="bm25"
    )
    passage_scores = dict(store.bm25_passages(question, 100))
    assert hits and all(h.score == pytest.approx(passage_scores[h.passage.id]) for h in hits)
    assert len({h.score for h in hits}) > 1


def test_max_per_article_holds(world: Any) -> None:
    question = "statin therapy lowers cholesterol"
    for cap in (1, 2, 3):
        pmids = _pmids(_run(world, question, mode="hybrid", k=10, max_per_article=cap))
        assert pmids.count("1012") == cap
        assert max(pmids.count(p) for p in set(pmids)) <= cap
    assert _pmids(_run(world, question, k=10)).count("1012") == 2  # settings default


def test_k_limits_the_page(world: Any) -> None:
    assert len(_run(world, "patients", mode="dense", k=3)) == 3


@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
def test_filters_exclude_what_they_should(world: Any, mode: str) -> None:
    store = world[0]
    question = "randomized trial in patients"
    cases = [
        (SearchFilters(since_year=2015), lambda h: h.year >= 2015),
        (SearchFilters(until_year=2012), lambda h: h.year <= 2012),
        (SearchFilters(since_year=2012, until_year=2016), lambda h: 2012 <= h.year <= 2016),
        (SearchFilters(pub_types=(RCT.lower(),)), lambda h: RCT in h.publication_types),
        (SearchFilters(mesh=("coffee",)), lambda h: h.passage.pmid == "1009"),
        (SearchFilters(entities=("Aspirin",)), lambda h: h.passage.pmid == "1001"),
    ]
    for filters, ok in cases:
        allowed = filter_pmids(store, filters)
        assert allowed
        hits = _run(world, question, mode=mode, k=50, max_per_article=50, filters=filters)
        assert all(ok(h) for h in hits), filters
        assert set(_pmids(hits)) <= allowed
        if mode != "bm25":  # dense ranks every allowed passage
            assert set(_pmids(hits)) == allowed
    nothing = SearchFilters(mesh=("Coffee", "Malaria"))
    assert filter_pmids(store, nothing) == set()
    assert _run(world, question, mode=mode, filters=nothing) == []


def test_filter_pmids_none_when_unfiltered(world: Any) -> None:
    assert filter_pmids(world[0], None) is None
    assert filter_pmids(world[0], SearchFilters()) is None
    with pytest.raises(InputError, match="after"):
        filter_pmids(world[0], SearchFilters(since_year=2020, until_year=2010))


@pytest.mark.parametrize("question", ["", "   \n\t "])
def test_empty_question_is_an_input_error(world: Any, question: str) -> None:
    with pytest.raises(InputError, match="empty"):
        _run(world, question)


def test_overlong_question_is_an_input_error(world: Any) -> None:
    with pytest.raises(InputError, match="limit is 2000"):
        _run(world, "word " * 1000)


def test_bad_mode_and_missing_index(world: Any) -> None:
    store, _, settings = world
    with pytest.raises(InputError, match="mode"):
        _run(world, "aspirin", mode="fuzzy")
    with pytest.raises(ConfigError, match="vector index"):
        search("aspirin", store=store, index=None, embedder=None, settings=settings, mode="dense")
    hits = search("aspirin", store=store, index=None, embedder=None, settings=settings, mode="bm25")
    assert _pmids(hits)[0] == "1001"


def test_searcher_service(world: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    store, _, settings = world
    with Searcher(settings, store=store) as searcher:
        searcher._embedder = minilm()  # reuse the session's model instead of loading again
        hits = searcher.search("coffee and the liver", k=2)
        assert _pmids(hits)[0] == "1009"
    assert store.counts().articles == 12  # the borrowed store stays open


def test_read_only_searcher_builds_the_passage_index_it_needs(tmp_path: Path) -> None:
    settings = load_settings(
        data_dir=tmp_path / "data", search={"bm25_unit": "passage", "mode": "bm25"}
    )
    with Store.open(settings) as store:
        fill(store, settings)
        # Ingest leaves the passage full-text index to the first query that needs it.
        assert store.passage_fts_behind() == store.counts().passages > 0
    with Searcher(settings) as searcher:  # opens the store read-only
        assert searcher.store.read_only
        assert _pmids(searcher.search("xyzzyl7")) == ["1004"]
        assert searcher.store.passage_fts_behind() == 0


@pytest.mark.both_backends
def test_searcher_without_index_explains(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "empty")
    with open_store(settings) as store, Searcher(settings, store=store) as searcher:
        searcher._embedder = minilm()
        with pytest.raises(Exception, match="--mode bm25"):
            searcher.search("anything", mode="hybrid")
        assert searcher.search("anything", mode="bm25") == []


@pytest.mark.both_backends
def test_a_searcher_sees_an_index_updated_after_it_loaded(tmp_path: Path) -> None:
    # `litmine serve` keeps one Searcher for its life; the nightly run updates
    # the index under it. Dense search must find the new passages without a restart.
    from litmine.types import Article, PubDate
    from litmine.vectors.build import update_index
    from tests.search_helpers import ARTICLES

    settings = load_settings(data_dir=tmp_path / "data")
    with open_store(settings) as rw:
        fill(rw, settings, ARTICLES[:3])
        build_index(rw, minilm(), settings)
    searcher = Searcher(settings)
    searcher._embedder = minilm()  # the session's model, not a second copy
    try:
        question = "glacier retreat measured by satellite altimetry"
        before = searcher.search(question, mode="dense", k=3)
        assert "4242" not in {h.passage.pmid for h in before}
        late = Article(
            pmid="4242",
            title="Glacier retreat from satellite altimetry",
            abstract="Satellite altimetry measured the retreat of mountain glaciers over 20 years.",
            pub_date=PubDate(year=2022),
        )
        with open_store(settings) as rw:
            fill(rw, settings, [late])
            update_index(rw, minilm(), settings)
        after = searcher.search(question, mode="dense", k=3)
        assert after[0].passage.pmid == "4242"
    finally:
        searcher.close()

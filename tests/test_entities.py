from __future__ import annotations

import functools
from pathlib import Path

import pytest
from spacy.language import Language

from litmine.config import NerSettings, PassageSettings, Settings
from litmine.entities import (
    build_nlp,
    chemical_disease_pairs,
    extract,
    extract_store,
    model_path,
    normalize,
    top_entities,
)
from litmine.errors import ConfigError, MissingDependencyError, ModelNotFoundError
from litmine.passages import split_article
from litmine.store import Store
from litmine.types import Article, Chemical, Entity, MeshHeading, Passage
from tests.backends import open_store
from tests.ner_helpers import save_ruler_pipeline

ABSTRACT = (
    "Patients with hepatocellular carcinoma (HCC) often have hypertension.\n"
    "We treated HCC with sorafenib and naloxone; seizures were rare."
)


@pytest.fixture(scope="session")
def ruler_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_ruler_pipeline(tmp_path_factory.mktemp("ruler") / "pipeline")


@pytest.fixture(scope="session")
def nlp(ruler_dir: Path) -> Language:
    return build_nlp(NerSettings(model=str(ruler_dir)))


@pytest.fixture(scope="session")
def shipped_nlp() -> Language:
    if model_path("litmine-bc5cdr") is None:
        pytest.skip("the shipped litmine-bc5cdr model is not in litmine/models/")
    return build_nlp(NerSettings())


def article(pmid: str = "1", abstract: str = ABSTRACT, **kw: object) -> Article:
    defaults: dict[str, object] = {
        "title": "Sorafenib in liver cancer",
        "mesh_headings": [
            MeshHeading("D006528", "Carcinoma, Hepatocellular"),
            MeshHeading("D012640", "Seizures"),
        ],
        "chemicals": [Chemical("Sorafenib", "D000077157")],
    }
    defaults.update(kw)
    return Article(pmid=pmid, abstract=abstract, **defaults)  # type: ignore[arg-type]


def two_passages(a: Article) -> list[Passage]:
    cut = a.abstract.index("\n") + 1
    return [
        Passage(10, a.pmid, 0, a.abstract[: cut - 1], 0, cut - 1),
        Passage(11, a.pmid, 1, a.abstract[cut:], cut, len(a.abstract)),
    ]


def test_normalize() -> None:
    assert normalize("Alpha-Methyldopa") == normalize("alpha  methyldopa") == "alpha methyldopa"
    assert normalize("ALPHA\u2013methyldopa") == "alpha methyldopa"


def test_abbreviation_resolves_across_passages(nlp: Language) -> None:
    a = article()
    passages = two_passages(a)
    found = extract(nlp, passages, {a.pmid: a})
    assert set(found) == {10, 11}
    second = found[11]
    hcc = [e for e in second if e.text == "HCC"]
    assert hcc, second
    e = hcc[0]
    assert passages[1].text[e.start : e.end] == "HCC"
    assert e.normalized == "hepatocellular carcinoma"
    assert e.concept_id == "D006528"  # from the article's own MeSH heading (inverted name)
    by_text = {x.text: x for x in second}
    assert by_text["sorafenib"].concept_id == "D000077157"  # article's chemical list
    assert by_text["seizures"].concept_id == "D012640"
    assert by_text["naloxone"].concept_id is None  # not in this article's MeSH
    assert by_text["naloxone"].label == "CHEMICAL"
    first = {x.text: x for x in found[10]}
    assert first["hepatocellular carcinoma"].concept_id == "D006528"
    assert first["hypertension"].label == "DISEASE"


def test_passage_without_article_is_processed_alone(nlp: Language) -> None:
    a = article()
    passages = two_passages(a)
    found = extract(nlp, passages[1:], {})
    hcc = next(e for e in found[11] if e.text == "HCC")
    assert hcc.normalized == "hcc"  # its definition is in the other passage
    assert hcc.concept_id is None


def test_bad_input_does_not_crash(nlp: Language) -> None:
    empty = Article(pmid="2", abstract="")
    long_text = ("naloxone treats hypertension. " * 3400)[:100_000]
    long_article = Article(pmid="3", abstract=long_text)
    odd = "na\x00lo\x07xone \u202e naloxone \ud800 caf\u00e9 \U0001f600 hypertension\x1b"
    odd_article = Article(pmid="4", abstract=odd)
    passages = [
        Passage(20, "2", 0, "", 0, 0),
        Passage(30, "3", 0, long_text, 0, len(long_text)),
        Passage(40, "4", 0, odd, 0, len(odd)),
    ]
    arts = {"2": empty, "3": long_article, "4": odd_article}
    found = extract(nlp, passages, arts, max_chars=20_000)
    assert found[20] == []
    expected = long_text.count("naloxone") + long_text.count("hypertension")
    assert len(found[30]) == expected  # every mention found, across chunks
    assert all(long_text[e.start : e.end] == e.text for e in found[30])
    assert [e.text for e in found[40]] == ["naloxone", "hypertension"]


def test_unknown_models_raise_with_install_line(tmp_path: Path) -> None:
    with pytest.raises(MissingDependencyError) as info:
        build_nlp(NerSettings(model="en_ner_bc5cdr_md"))
    assert info.value.install == (
        "pip install https://s3-us-west-2.amazonaws.com/ai2-s2-scispacy/releases/v0.5.4/"
        "en_ner_bc5cdr_md-0.5.4.tar.gz"
    )
    with pytest.raises(MissingDependencyError, match="python -m spacy download en_core_web_sm"):
        build_nlp(NerSettings(model="en_core_web_sm"))
    with pytest.raises(ModelNotFoundError, match="no NER model named 'no_such_model'"):
        build_nlp(NerSettings(model="no_such_model"))
    with pytest.raises(ModelNotFoundError, match="not a spaCy pipeline folder"):
        build_nlp(NerSettings(model=str(tmp_path / "missing")))


def test_linker_without_kb_raises(ruler_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import scispacy.file_cache

    monkeypatch.setattr(scispacy.file_cache, "DATASET_CACHE", str(ruler_dir / "no-cache"))
    with pytest.raises(ConfigError, match="unknown entity-linker"):
        build_nlp(NerSettings(model=str(ruler_dir), linker="nope"))
    with pytest.raises(ModelNotFoundError, match="'mesh' knowledge base is not downloaded") as e:
        build_nlp(NerSettings(model=str(ruler_dir), linker="mesh"))
    assert "scispacy_linker" in (e.value.hint or "")


# ------------------------------------------------------------------ store


SMALL = PassageSettings(target_tokens=12, max_tokens=24, splitter="regex")


def fill(store: Store, n: int) -> list[Article]:
    arts = [article(pmid=str(1000 + i)) for i in range(n)]
    store.upsert_articles(arts, split=functools.partial(split_article, settings=SMALL))
    return arts


@pytest.mark.both_backends
def test_extract_store_resumes_without_duplicates(settings: Settings, nlp: Language) -> None:
    with open_store(settings) as store:
        fill(store, 6)
        assert len(store.pmids_needing_entities()) == 6
        # A first run stopped ("killed") after one batch of 3 articles.
        stop = RuntimeError("killed")

        def kill(_: int) -> None:
            raise stop

        with pytest.raises(RuntimeError):
            extract_store(store, nlp, batch_articles=3, progress=kill)
        assert len(store.pmids_needing_entities()) == 3
        first = store.counts().entities
        assert first > 0
        assert extract_store(store, nlp, batch_articles=2) == 3
        assert store.pmids_needing_entities() == []
        total = store.counts().entities
        assert total == 2 * first
        assert extract_store(store, nlp) == 0  # nothing left
        assert extract_store(store, nlp, rebuild=True) == 6
        assert store.counts().entities == total  # redone, not duplicated


@pytest.mark.both_backends
def test_articles_with_zero_entities_count_as_done(settings: Settings, nlp: Language) -> None:
    with open_store(settings) as store:
        store.upsert_articles(
            [Article(pmid="7", title="Nothing", abstract="No entity in this text at all.")],
            split=functools.partial(split_article, settings=SMALL),
        )
        assert extract_store(store, nlp) == 1
        assert store.counts().entities == 0
        assert store.pmids_needing_entities() == []


@pytest.mark.both_backends
def test_top_entities_and_pairs(settings: Settings) -> None:
    with open_store(settings) as store:
        arts = [Article(pmid=p, title="t", abstract=f"Passage of {p}.") for p in ("1", "2", "3")]
        store.upsert_articles(arts, split=functools.partial(split_article, settings=SMALL))
        pid = {p.pmid: p.id for a in arts for p in store.passages_for(a.pmid)}

        def ent(pmid: str, label: str, norm: str, cid: str | None) -> Entity:
            return Entity(pid[pmid], 0, 3, norm, label, norm, cid)

        store.save_entities(
            {
                pid["1"]: [
                    ent("1", "CHEMICAL", "naloxone", "D009270"),
                    ent("1", "CHEMICAL", "naloxone", "D009270"),
                    ent("1", "DISEASE", "hypertension", "D006973"),
                ],
                pid["2"]: [
                    ent("2", "CHEMICAL", "narcan", "D009270"),
                    ent("2", "DISEASE", "hypertension", "D006973"),
                    ent("2", "DISEASE", "pain", None),
                ],
                pid["3"]: [ent("3", "DISEASE", "pain", None)],
            },
            model="test",
        )
        top = top_entities(store)
        assert [(t.label, t.name, t.articles, t.mentions) for t in top] == [
            ("CHEMICAL", "naloxone", 2, 3),
            ("DISEASE", "hypertension", 2, 2),
            ("DISEASE", "pain", 2, 2),
        ]
        chem = top_entities(store, label="chemical")
        assert len(chem) == 1
        assert chem[0].name == "naloxone"  # most frequent text of D009270
        assert (chem[0].concept_id, chem[0].articles, chem[0].mentions) == ("D009270", 2, 3)
        assert chem[0].pmids == ["1", "2"]
        pain = top_entities(store, label="DISEASE", pmids=["3"])
        assert [(t.name, t.concept_id, t.pmids) for t in pain] == [("pain", None, ["3"])]
        pairs = chemical_disease_pairs(store)
        assert [(p.chemical, p.disease, p.articles, p.pmids) for p in pairs] == [
            ("naloxone", "hypertension", 2, ["1", "2"]),
            ("naloxone", "pain", 1, ["2"]),
        ]
        assert pairs[0].chemical_id == "D009270" and pairs[1].disease_id is None
        assert chemical_disease_pairs(store, pmids=["1"])[0].pmids == ["1"]
        assert chemical_disease_pairs(store, pmids=[]) == []


# ------------------------------------------------------------------ shipped model


def test_shipped_model_finds_entities(shipped_nlp: Language) -> None:
    a = Article(
        pmid="227508",
        title="Naloxone reverses the antihypertensive effect of clonidine.",
        abstract="The hypotensive effect of alpha-methyldopa was reversed by naloxone in "
        "spontaneously hypertensive rats.",
        chemicals=[Chemical("Naloxone", "D009270")],
    )
    p = Passage(1, a.pmid, 0, a.abstract, 0, len(a.abstract))
    found = extract(shipped_nlp, [p], {a.pmid: a})[1]
    labels = {(e.text, e.label) for e in found}
    assert ("naloxone", "CHEMICAL") in labels
    assert next(e for e in found if e.text == "naloxone").concept_id == "D009270"

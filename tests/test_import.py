"""Old import paths keep working after the issue-13 layout (one test block per owner; append)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

# --- vectors / search / answer / cli (issue 13) ------------------------------
# old module path -> (new module path, names the old path must still give)
MOVED: dict[str, tuple[str, tuple[str, ...]]] = {
    "litmine.embed": ("litmine.vectors.embed", ("Embedder", "load_embedder", "resolve_model")),
    "litmine.index": ("litmine.vectors.faiss_index", ("PassageIndex", "MANIFEST_NAME")),
    "litmine.indexing": ("litmine.vectors.build", ("build_index", "update_index", "IndexReport")),
    "litmine.adapt": ("litmine.vectors.adapt", ("AdaptParams", "adapt_from_store")),
    "litmine.fusion": ("litmine.search.fusion", ("reciprocal_rank_fusion", "diversify")),
    "litmine.evaluate": ("litmine.search.evaluate", ("evaluate_retrieval", "load_qrels")),
    "litmine.cluster": ("litmine.answer.cluster", ("cluster_hits", "label_cluster")),
    "litmine.summarize": ("litmine.answer.summarize", ("load_summarizer", "Summarizer")),
    "litmine.export": ("litmine.answer.export", ("findings_frame", "write_csv")),
    "litmine.search_cli": ("litmine.cli.search", ("search_command", "index_app", "eval_app")),
    "litmine.answer_cli": ("litmine.cli.answer", ("ask_command", "export_command")),
    "litmine.cli_common": ("litmine.cli.common", ("DataDirOpt", "JsonOpt", "handle_errors")),
}


@pytest.mark.parametrize("old", sorted(MOVED))
def test_moved_module_keeps_its_old_path(old: str) -> None:
    new, names = MOVED[old]
    module = importlib.import_module(old)
    assert module is importlib.import_module(new)  # an alias: monkeypatches reach the code
    for name in names:
        assert getattr(module, name) is getattr(importlib.import_module(new), name)


def test_modules_that_became_packages_re_export_their_names() -> None:
    from litmine.answer import Answerer
    from litmine.answer.answer import Answerer as NewAnswerer
    from litmine.cli import app, main
    from litmine.cli.root import app as new_app
    from litmine.cli.root import main as new_main
    from litmine.search import MODES, Searcher, SearchFilters, search, validate_question
    from litmine.search.hybrid import Searcher as NewSearcher
    from litmine.search.hybrid import search as new_search

    assert Answerer is NewAnswerer and Searcher is NewSearcher and search is new_search
    assert app is new_app and main is new_main
    assert MODES and SearchFilters and validate_question


def test_console_script_points_at_main() -> None:
    from importlib.metadata import entry_points

    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "litmine"]
    assert callable(script.load())


# --- store (issue 13): litmine/store.py became the package litmine/store/ ----------
# Every name litmine/, flows/, tests/, bench/ and notebooks/ imported from
# litmine.store before the split (its __all__ and its public constants).
STORE_NAMES = (
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
    "UpsertCounts",
    "fts_query",
    "prepare_article",
)


@pytest.mark.parametrize("name", STORE_NAMES)
def test_store_package_keeps_the_old_names(name: str) -> None:
    store = importlib.import_module("litmine.store")
    assert getattr(store, name) is not None
    assert name in store.__all__


def test_store_old_import_lines() -> None:
    from litmine.store import (  # noqa: F401 - the lines litmine, flows, tests and bench use
        EntityCount,
        PairCount,
        PreparedArticle,
        RunRecord,
        SavedQuery,
        Store,
        StoreCounts,
        UpsertCounts,
        fts_query,
        prepare_article,
    )
    from litmine.store.sqlite import Store as SQLiteStore

    assert Store is SQLiteStore
    assert prepare_article.__module__ == "litmine.store.rows"


# --- ingest (issue 13): litmine/pipeline.py became the package litmine/ingest ------
# Every public name pipeline.py had; the stage jobs stay defined in the shim.
PIPELINE_TO_INGEST = (
    "Progress",
    "Record",
    "StatusReport",
    "add_saved_query",
    "get_saved_query",
    "incremental_since",
    "ingest_files",
    "ingest_query",
    "ingest_window",
    "list_saved_queries",
    "open_gateway",
    "open_store",
    "plan_query",
    "remove_saved_query",
    "run_saved_query",
    "status",
    "store_records",
    "tracked_run",
)
PIPELINE_STAGES = ("extract_entities", "update_vector_index")


@pytest.mark.parametrize("name", PIPELINE_TO_INGEST)
def test_pipeline_names_are_the_ingest_package_s(name: str) -> None:
    pipeline = importlib.import_module("litmine.pipeline")
    ingest = importlib.import_module("litmine.ingest")
    assert getattr(pipeline, name) is getattr(ingest, name)


def test_pipeline_keeps_every_name_it_exported() -> None:
    from litmine import pipeline
    from litmine.pipeline import extract_entities, ingest_files, update_vector_index

    assert set(pipeline.__all__) == {*PIPELINE_TO_INGEST, *PIPELINE_STAGES}
    assert callable(ingest_files) and callable(extract_entities) and callable(update_vector_index)


# --- entities / ner (issue 13): litmine/entities.py, litmine/ner/train.py and
# litmine/ner/transformer.py became packages. Every name each module defined
# (helpers included) -> the module that defines it now.
def _moved(new: str, names: str) -> dict[str, str]:
    return dict.fromkeys(names.split(), new)


SPLIT: dict[str, dict[str, str]] = {
    "litmine.entities": {
        **_moved(
            "litmine.entities.loading",
            "DEFAULT_MODEL MODELS_DIR SCISPACY_MODELS SCISPACY_VERSION _SCISPACY_URL "
            "install_command model_path load_pipeline _linker_missing_files _add_linker "
            "add_postprocess postprocess_description build_nlp",
        ),
        **_moved(
            "litmine.entities.normalization",
            "_DASHES _SPACES normalize _mesh_variants _mesh_lookup _concept",
        ),
        **_moved(
            "litmine.entities.extraction",
            "_LABEL_MAP _CONTROL _Unit _clean _units _chunks _abbreviations _linked_id "
            "_doc_entities extract",
        ),
        **_moved(
            "litmine.entities.storing",
            "EntityCount PairCount extract_store top_entities chemical_disease_pairs",
        ),
    },
    "litmine.ner.train": {
        **_moved(
            "litmine.ner.train.spacy_config",
            "DEFAULT_EPOCHS TrainConfig TINY PretrainConfig _pretraining_block build_config",
        ),
        **_moved("litmine.ner.train.corpus", "_check_paths _limited"),
        **_moved("litmine.ner.train.run", "train _train package_pipeline"),
        **_moved(
            "litmine.ner.train.pretraining",
            "_csv_abstract read_texts _text_key collect_texts pretrain",
        ),
        **_moved("litmine.ner.pubtator", "LABELS ConversionStats to_docbin"),
    },
    "litmine.ner.transformer": {
        **_moved(
            "litmine.ner.transformer.component",
            "FACTORY DEFAULT_BASE _WEIGHTS _META _FROZEN resolve_base TransformerNer "
            "_frozen_weights make_transformer_ner",
        ),
        **_moved("litmine.ner.transformer.bio", "tag_set bio_tags decode_bio viterbi_bio"),
        **_moved("litmine.ner.transformer.windows", "_torch _Window _windows _tensors"),
        **_moved(
            "litmine.ner.transformer.training",
            "TransformerTrainConfig train_transformer train_pipeline",
        ),
        **_moved("litmine.ner.pubtator", "LABELS"),
    },
}
SPLIT_NAMES = sorted((old, name) for old, names in SPLIT.items() for name in names)


@pytest.mark.parametrize(("old", "name"), SPLIT_NAMES)
def test_split_module_keeps_its_names(old: str, name: str) -> None:
    new = SPLIT[old][name]
    assert getattr(importlib.import_module(old), name) is getattr(
        importlib.import_module(new), name
    )


def test_split_modules_keep_their_public_names() -> None:
    import litmine
    import litmine.entities

    for old in SPLIT:
        module = importlib.import_module(old)
        assert set(getattr(module, "__all__", ())) <= set(SPLIT[old])
        assert module.__doc__ and "Modules:" in module.__doc__
    # Still litmine/models, not litmine/entities/models.
    assert Path(litmine.__file__).resolve().parent / "models" == litmine.entities.MODELS_DIR


def test_a_patch_on_the_old_path_reaches_the_code(monkeypatch: pytest.MonkeyPatch) -> None:
    import litmine.entities
    from litmine.entities import loading
    from litmine.errors import ModelNotFoundError

    def fake_load(name: str) -> object:
        raise ModelNotFoundError(f"patched {name}")

    original = loading.load_pipeline
    monkeypatch.setattr(litmine.entities, "load_pipeline", fake_load)
    assert loading.load_pipeline is fake_load
    with pytest.raises(ModelNotFoundError, match="patched"):
        litmine.entities.build_nlp()  # calls load_pipeline inside litmine.entities.loading
    monkeypatch.undo()
    assert loading.load_pipeline is original and litmine.entities.load_pipeline is original


def test_the_spacy_factory_entry_point_still_loads() -> None:
    from importlib.metadata import entry_points

    from litmine.ner.transformer import make_transformer_ner

    factories = entry_points(group="spacy_factories")
    (factory,) = [e for e in factories if e.name == "litmine_transformer_ner"]
    assert factory.value == "litmine.ner.transformer:make_transformer_ner"
    assert factory.load() is make_transformer_ner


def test_a_patch_on_an_old_ner_path_reaches_the_code(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import litmine.ner.train
    from litmine.errors import InputError

    def no_texts(paths: object, *, exclude_paths: object = ()) -> tuple[list[str], dict[str, int]]:
        return [], {}

    texts = tmp_path / "texts.txt"
    texts.write_text("Naloxone reversed the hypotension.\n", encoding="utf-8")
    monkeypatch.setattr(litmine.ner.train, "collect_texts", no_texts)
    assert litmine.ner.train.pretraining.collect_texts is no_texts
    with pytest.raises(InputError, match="no text to pretrain on"):
        litmine.ner.train.pretrain([texts], tmp_path / "out")  # calls collect_texts inside


# --- parse / fetch (issue 13): litmine/parse/pubmed_xml.py and litmine/fetch/entrez.py
# were split by concern and stay the public paths. Every name litmine, flows, tests,
# bench and the compiled _fastxml.pyx read from them -> the module defining it now.
def _defined_in(module: str, names: str) -> dict[str, str]:
    return dict.fromkeys(names.split(), module)


PARSE_FETCH_NAMES: dict[str, dict[str, str]] = {
    "litmine.parse.pubmed_xml": {
        **_defined_in(
            "litmine.parse.pubmed_xml",
            "BadRecord ChunkFailure ChunkMapper ChunkResult PubmedSource iter_pubmed_xml "
            "map_pubmed_xml parse_chunk parse_pubmed_xml_bytes _COMPILED _load_compiled",
        ),
        **_defined_in(
            "litmine.parse._pubmed_fields",
            "_pubmed_article _ORCID_RE _SKIPPED_REF_TYPES _int _plain _text",
        ),
        **_defined_in(
            "litmine.parse._pubmed_chunks",
            "PubmedChunk _layout _declare_mathml_prefix _CHUNK_BYTES",
        ),
        **_defined_in("litmine.parse._safe_parsing", "_new_parser"),
    },
    "litmine.fetch.entrez": {
        **_defined_in("litmine.fetch.entrez", "EntrezGateway DB"),
        **_defined_in(
            "litmine.fetch._replies",
            "HistoryRef SearchResult ESEARCH EPOST EFETCH _is_transient",
        ),
        **_defined_in("litmine.fetch._windows", "DEFAULT_SINCE MAX_PMID FetchBatch SearchWindow"),
        **_defined_in("litmine.fetch._transport", "ParamValue"),
    },
}
PARSE_FETCH_PAIRS = sorted(
    (old, name) for old, names in PARSE_FETCH_NAMES.items() for name in names
)


@pytest.mark.parametrize(("old", "name"), PARSE_FETCH_PAIRS)
def test_parse_and_fetch_keep_their_names(old: str, name: str) -> None:
    new = PARSE_FETCH_NAMES[old][name]
    assert getattr(importlib.import_module(old), name) is getattr(
        importlib.import_module(new), name
    )


def test_parse_and_fetch_public_names_unchanged() -> None:
    from litmine.fetch import entrez
    from litmine.parse import pubmed_xml

    assert set(pubmed_xml.__all__) == {
        "BadRecord",
        "ChunkFailure",
        "ChunkMapper",
        "ChunkResult",
        "PubmedChunk",
        "PubmedSource",
        "iter_pubmed_xml",
        "map_pubmed_xml",
        "parse_chunk",
        "parse_pubmed_xml_bytes",
    }
    assert set(entrez.__all__) == {
        "DEFAULT_SINCE",
        "MAX_PMID",
        "EntrezGateway",
        "FetchBatch",
        "HistoryRef",
        "SearchResult",
        "SearchWindow",
    }


_ONE_ARTICLE = (
    b'<?xml version="1.0"?>\n<PubmedArticleSet>\n<PubmedArticle><MedlineCitation>'
    b"<PMID>7</PMID><Article><ArticleTitle>T</ArticleTitle></Article>"
    b"</MedlineCitation></PubmedArticle>\n</PubmedArticleSet>\n"
)


def test_a_patch_on_pubmed_xml_reaches_the_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    from litmine.parse import pubmed_xml

    heads: list[bytes] = []

    def whole(head: bytes) -> None:
        heads.append(head)  # None: read in one pass instead of chunks

    class Compiled:  # stands in for the compiled extractor
        @staticmethod
        def drop_unread(data: bytes) -> bytes:
            return data

        @staticmethod
        def pubmed_article(elem: object) -> str:
            return "compiled"

    monkeypatch.setattr(pubmed_xml, "_layout", whole)
    monkeypatch.setattr(pubmed_xml, "_COMPILED", Compiled)
    assert list(pubmed_xml.iter_pubmed_xml(_ONE_ARTICLE)) == ["compiled"]
    assert heads
    monkeypatch.undo()
    monkeypatch.setattr(pubmed_xml, "_COMPILED", Compiled)  # the chunked path too
    assert list(pubmed_xml.iter_pubmed_xml(_ONE_ARTICLE)) == ["compiled"]

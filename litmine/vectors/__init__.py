"""Dense vectors for passages: the embedding model, the FAISS index and its upkeep.

- :mod:`~litmine.vectors.embed`: load an embedding model (torch or ONNX) and encode text;
  :mod:`~litmine.vectors.encoders` holds the torch and ONNX backends (export, int8).
- :mod:`~litmine.vectors.faiss_index`: :class:`PassageIndex`, the FAISS index with its
  manifest on disk (:mod:`~litmine.vectors.manifest`), its search internals
  (:mod:`~litmine.vectors.faiss_search`) and the choice of index type.
- :mod:`~litmine.vectors.build`: build, update and verify the index against the store.
- :mod:`~litmine.vectors.adapt`: fine-tune the embedding model on the collection.
- :mod:`~litmine.vectors.normalize`: the one L2 normalisation (and TF-IDF rows for
  when there is no model), shared by every user of vectors.

Layer: may import :mod:`litmine.store`, :mod:`litmine.passages`, :mod:`litmine.parse`
and the base modules (``types``, ``config``, ``errors``, ``_compat``); never
``entities``/``ner``, ``ingest``, ``search``, ``answer``, ``web`` or ``cli``.
Importing the package is light (numpy at most); torch, FAISS and
sentence-transformers load inside the functions that need them.
"""

from litmine.vectors.build import (
    IndexReport,
    VerifyReport,
    build_index,
    embedding_text,
    index_path,
    load_index,
    update_index,
    verify_index,
)
from litmine.vectors.embed import Embedder, load_embedder, resolve_model
from litmine.vectors.faiss_index import PassageIndex

__all__ = [
    "Embedder",
    "IndexReport",
    "PassageIndex",
    "VerifyReport",
    "build_index",
    "embedding_text",
    "index_path",
    "load_embedder",
    "load_index",
    "resolve_model",
    "update_index",
    "verify_index",
]

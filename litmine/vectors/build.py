"""Building, updating and verifying the passage vector index from the store.

The index lives in ``settings.index_dir / settings.index.name`` (see
:class:`~litmine.vectors.faiss_index.PassageIndex` for the on-disk format). Its manifest's
``store_state`` records ``{"change_seq": N, "passages": M}``: the last entry of
the store's passage change log the index reflects, and how many vectors it holds.

* :func:`build_index` embeds every passage and writes a fresh index.
* :func:`update_index` applies the change log since ``change_seq`` (adds new
  passages, removes deleted or replaced ones), then reconciles the index's ids
  with the store's, so a pruned log or an interrupted run cannot leave it wrong.
* :func:`verify_index` checks the index against the store and the settings
  without loading the embedding model.

Saving is atomic, so an interrupted build or update leaves the previous index
intact; re-running the command starts over from it.

Passages are embedded as the title, a newline and the text: the title carries the topic
of every passage of an abstract. A title-only correction (same abstract) keeps
the passage ids, so such vectors keep the old title until the next build.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from litmine._compat import batched
from litmine.errors import IndexStateError
from litmine.vectors.ondisk import quiet_stdout

if TYPE_CHECKING:
    from litmine.config import Settings
    from litmine.store import Store
    from litmine.types import Passage
    from litmine.vectors.embed import Embedder
    from litmine.vectors.faiss_index import PassageIndex

__all__ = [
    "EMBED_BATCH",
    "IndexReport",
    "VerifyReport",
    "build_index",
    "embedding_text",
    "index_path",
    "load_index",
    "update_index",
    "verify_index",
]

EMBED_BATCH = 256
"""Passages read from the store and embedded per call."""


@dataclass(slots=True)
class IndexReport:
    """What :func:`build_index` or :func:`update_index` did.

    Attributes:
        path: The index folder.
        action: ``"built"``, ``"updated"`` or ``"unchanged"``.
        vectors: Vectors in the index afterwards.
        added: Passages embedded and added (or replaced).
        removed: Vectors removed.
        factory: FAISS factory string of the index.
        model: Embedding model name.
        change_seq: Change-log position the saved index reflects.
        seconds: Wall time of the call.
        shards: Shards a sharded build merged (0: built in one piece).
    """

    path: str
    action: str
    vectors: int = 0
    added: int = 0
    removed: int = 0
    factory: str | None = None
    model: str = ""
    change_seq: int = 0
    seconds: float = 0.0
    shards: int = 0

    def line(self) -> str:
        """One-line summary for the CLI."""
        merged = f" / merged from {self.shards} shards" if self.shards else ""
        return (
            f"index {self.action}: {self.vectors} vectors (added {self.added}, removed "
            f"{self.removed}) / {self.factory}{merged} / {self.model} / {self.seconds:.1f}s"
        )


@dataclass(slots=True)
class VerifyReport:
    """What :func:`verify_index` found.

    Attributes:
        path: The index folder.
        ok: Everything checked out (the index is usable and matches the store).
        exists: A manifest was found.
        readable: The index file is present, its checksum matches and FAISS reads it.
        model: Model named in the manifest (None when unreadable).
        expected_model: Model named by the settings.
        model_ok: The two agree.
        vectors: Vectors in the index.
        passages: Passages in the store.
        missing: Store passages without a vector.
        extra: Vectors whose passage is no longer in the store.
        index_change_seq: Change-log position recorded in the manifest.
        store_change_seq: The store's current change-log position.
        problems: Human-readable problems, empty when ``ok``.
    """

    path: str
    ok: bool = False
    exists: bool = False
    readable: bool = False
    model: str | None = None
    expected_model: str = ""
    model_ok: bool = False
    vectors: int = 0
    passages: int = 0
    missing: int = 0
    extra: int = 0
    index_change_seq: int | None = None
    store_change_seq: int = 0
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        """One-line summary for the CLI."""
        if self.ok:
            return f"index ok: {self.vectors} vectors = {self.passages} passages / {self.model}"
        return "index NOT ok: " + "; ".join(self.problems)


def index_path(settings: Settings) -> Path:
    """The folder of the passage index named by the settings."""
    return settings.index_dir / settings.index.name


def embedding_text(passage: Passage) -> str:
    """The text embedded for a passage: its article's title, a newline, its text."""
    return f"{passage.title}\n{passage.text}" if passage.title else passage.text


def _embed(embedder: Embedder, passages: Sequence[Passage]) -> np.ndarray:
    return embedder.embed_documents([embedding_text(p) for p in passages])


def _embed_all(
    embedder: Embedder, batches: Iterable[Sequence[Passage]]
) -> tuple[np.ndarray, np.ndarray]:
    ids: list[np.ndarray] = []
    vectors: list[np.ndarray] = []
    for batch in batches:
        if not batch:
            continue
        ids.append(np.fromiter((p.id for p in batch), dtype=np.int64, count=len(batch)))
        vectors.append(_embed(embedder, batch))
    if not ids:
        return np.zeros(0, dtype=np.int64), np.zeros((0, embedder.dim), dtype=np.float32)
    return np.concatenate(ids), np.concatenate(vectors)


def load_index(settings: Settings, *, embedder: Embedder | None = None) -> PassageIndex:
    """Load the saved index, checking it against the settings' model.

    Args:
        settings: Settings naming the index folder and the model.
        embedder: When given, its name and dimension are checked too.

    Returns:
        The loaded index.

    Raises:
        IndexStateError: No index, or it is corrupt or made by another model.
    """
    from litmine.vectors.faiss_index import MANIFEST_NAME, PassageIndex

    path = index_path(settings)
    if not (path / MANIFEST_NAME).is_file():
        raise IndexStateError(
            f"no vector index at {path}", "run `litmine index build` to create it"
        )
    return PassageIndex.load(
        path,
        model=embedder.name if embedder is not None else settings.embed.model,
        dim=embedder.dim if embedder is not None else None,
        settings=settings.index,
    )


def build_index(
    store: Store, embedder: Embedder, settings: Settings, *, batch_size: int = EMBED_BATCH
) -> IndexReport:
    """Embed every stored passage and save a fresh index (replacing any old one).

    Args:
        store: The store to read passages from.
        embedder: Embeds the passages.
        settings: Index folder, factory choice and thresholds.
        batch_size: Passages read and embedded per call.

    Returns:
        What was built.
    """
    from litmine.vectors.faiss_index import PassageIndex

    started = time.perf_counter()
    # Read the log position first: changes made while embedding are re-applied by
    # the next update (adds replace, removals of unknown ids are no-ops).
    seq = store.counts().change_seq
    ids, vectors = _embed_all(embedder, store.iter_passages(batch_size=batch_size))
    index = PassageIndex(
        embedder.dim,
        model=embedder.name,
        normalized=settings.embed.normalize,
        settings=settings.index,
    )
    index.build(ids, vectors)
    path = index_path(settings)
    index.save(path, store_state={"change_seq": seq, "passages": index.ntotal})
    _prune_log(store, seq)
    return IndexReport(
        path=str(path),
        action="built",
        vectors=index.ntotal,
        added=len(ids),
        factory=index.factory,
        model=embedder.name,
        change_seq=seq,
        seconds=time.perf_counter() - started,
    )


def _prune_log(store: Store, seq: int) -> None:
    """Drop the change-log entries the saved index has applied.

    Without this the log keeps a row for every passage ever written.
    """
    if not store.read_only:
        store.prune_passage_changes(seq)


def update_index(
    store: Store, embedder: Embedder, settings: Settings, *, batch_size: int = EMBED_BATCH
) -> IndexReport:
    """Bring the saved index up to date with the store (build it when missing).

    Applies the passage change log since the manifest's ``change_seq``: the last
    operation on each passage id wins (``add`` embeds it, ``del`` removes it).
    Then the index ids are compared with the store's and any difference is
    repaired the same way, which covers a pruned log or an index built by hand.

    Args:
        store: The store.
        embedder: Embeds new passages; must be the index's model.
        settings: Index folder and settings.
        batch_size: Passages embedded per call.

    Returns:
        What changed.

    Raises:
        IndexStateError: The saved index is corrupt or was built with another
            model (run `litmine index build`).
    """
    from litmine.vectors.faiss_index import MANIFEST_NAME

    started = time.perf_counter()
    path = index_path(settings)
    if not (path / MANIFEST_NAME).is_file():
        return build_index(store, embedder, settings, batch_size=batch_size)
    index = load_index(settings, embedder=embedder)
    seq_now = store.counts().change_seq
    seq_index = int(index.store_state.get("change_seq", 0))

    last_op: dict[int, str] = {}
    for change in store.passage_changes_since(seq_index):
        last_op[change.passage_id] = change.op
    to_remove = {pid for pid, op in last_op.items() if op == "del"}
    to_add = {pid for pid, op in last_op.items() if op == "add"}

    # Reconcile with the actual ids (also catches entries pruned from the log).
    store_ids = store.passage_ids()
    index_ids = index.ids()
    to_add |= set(np.setdiff1d(store_ids, index_ids, assume_unique=True).tolist())
    to_remove |= set(np.setdiff1d(index_ids, store_ids, assume_unique=True).tolist())
    to_add -= to_remove
    to_remove &= set(index_ids.tolist())

    # A merged (on-disk) index changes a copy of its lists; the saved one stays intact.
    copy = index.make_writable(path) if to_add or to_remove else None
    try:
        removed = index.remove(sorted(to_remove)) if to_remove else 0
        added = 0
        for chunk in batched(sorted(to_add), batch_size):
            passages = store.get_passages(chunk)  # passages deleted meanwhile are skipped
            if passages:
                ids = np.fromiter((p.id for p in passages), dtype=np.int64, count=len(passages))
                vectors = _embed(embedder, passages)
                with quiet_stdout():  # on-disk lists print as they grow
                    index.add(ids, vectors)
                added += len(passages)
        seq = max(seq_now, seq_index)
        state = {"change_seq": seq, "passages": index.ntotal}
        action = "updated" if added or removed else "unchanged"
        if action == "updated" or not index.matches(state) or copy is not None:
            index.save(path, store_state=state)
    except BaseException:
        if copy is not None:
            copy.unlink(missing_ok=True)
        raise
    _prune_log(store, seq)
    return IndexReport(
        path=str(path),
        action=action,
        vectors=index.ntotal,
        added=added,
        removed=removed,
        factory=index.factory,
        model=index.model,
        change_seq=seq,
        seconds=time.perf_counter() - started,
    )


def verify_index(store: Store, settings: Settings) -> VerifyReport:
    """Check the saved index against the store and the settings.

    Checks that the index exists, its file matches the manifest's checksum and
    loads, its model is the configured one, and its vector ids are exactly the
    store's passage ids. Does not load the embedding model.

    Args:
        store: The store.
        settings: Index folder and the expected model.

    Returns:
        The findings; ``ok`` is True only when nothing is wrong.
    """
    from litmine.vectors.faiss_index import MANIFEST_NAME, PassageIndex

    path = index_path(settings)
    counts = store.counts()
    report = VerifyReport(
        path=str(path),
        expected_model=settings.embed.model,
        passages=counts.passages,
        store_change_seq=counts.change_seq,
    )
    if not (path / MANIFEST_NAME).is_file():
        report.problems.append(f"no vector index at {path} (run `litmine index build`)")
        report.missing = counts.passages
        return report
    report.exists = True
    try:
        index = PassageIndex.load(path, settings=settings.index)
    except IndexStateError as exc:
        report.problems.append(exc.one_line())
        return report
    report.readable = True
    report.model = index.model
    report.model_ok = index.model == settings.embed.model
    if not report.model_ok:
        report.problems.append(
            f"index built with model {index.model!r} but the settings name "
            f"{settings.embed.model!r} (run `litmine index build`)"
        )
    report.vectors = index.ntotal
    seq = index.store_state.get("change_seq")
    report.index_change_seq = int(seq) if seq is not None else None
    store_ids = store.passage_ids()
    index_ids = index.ids()
    report.missing = len(np.setdiff1d(store_ids, index_ids, assume_unique=True))
    report.extra = len(np.setdiff1d(index_ids, store_ids, assume_unique=True))
    if report.missing or report.extra:
        report.problems.append(
            f"index out of date: {report.missing} passages missing, {report.extra} extra "
            "vectors (run `litmine index update`)"
        )
    report.ok = not report.problems
    return report

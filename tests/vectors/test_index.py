from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from litmine.config import IndexSettings, load_settings
from litmine.errors import IndexStateError
from litmine.vectors.faiss_index import MANIFEST_NAME, PassageIndex, choose_factory, ivf_nlist

DIM = 16
BASE_ID = 7_000_000_000_000_000_000  # passage ids are 63-bit hashes


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _data(n: int, seed: int = 0, clusters: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    if clusters:
        centers = rng.standard_normal((clusters, DIM))
        x = centers[rng.integers(0, clusters, n)] + 0.3 * rng.standard_normal((n, DIM))
    else:
        x = rng.standard_normal((n, DIM))
    return BASE_ID + np.arange(n, dtype=np.int64) * 11, _unit(x)


def _exact(vectors: np.ndarray, ids: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
    order = np.argsort(-(q @ vectors.T), axis=1)[:, :k]
    return ids[order]


Flat = tuple[PassageIndex, np.ndarray, np.ndarray]


@pytest.fixture
def flat() -> Flat:
    ids, x = _data(500)
    index = PassageIndex(DIM, model="test-model")
    index.build(ids, x)
    return index, ids, x


def test_build_and_exact_search_returns_passage_ids(flat: Flat) -> None:
    index, ids, x = flat
    assert index.factory == "IDMap2,Flat" and index.ntotal == 500 == len(index)
    scores, found = index.search(x[:5], 10)
    assert found.dtype == np.int64 and scores.dtype == np.float32
    assert scores.shape == found.shape == (5, 10)
    np.testing.assert_array_equal(found, _exact(x, ids, x[:5], 10))
    assert found[:, 0].tolist() == ids[:5].tolist()
    np.testing.assert_allclose(scores[:, 0], 1.0, atol=1e-5)
    _, one_i = index.search(x[3], 3)  # a single (dim,) query works too
    assert one_i.shape == (1, 3) and one_i[0, 0] == ids[3]
    assert sorted(index.ids().tolist()) == ids.tolist()


def test_vectors_and_queries_are_normalised() -> None:
    ids, x = _data(50)
    index = PassageIndex(DIM, model="m")
    index.build(ids, x * 7.0)
    scores, found = index.search(x[:1] * 0.1, 1)
    assert found[0, 0] == ids[0]
    assert scores[0, 0] == pytest.approx(1.0, abs=1e-5)


def test_k_larger_than_index_pads(flat: Flat) -> None:
    index, _, x = flat
    small = PassageIndex(DIM, model="m")
    small.build(np.array([1, 2]), x[:2])
    scores, found = small.search(x[:1], 5)
    assert found[0, 2:].tolist() == [-1, -1, -1]
    assert np.isneginf(scores[0, 2:]).all()
    empty = PassageIndex(DIM, model="m")
    assert empty.search(x[:2], 3)[1].tolist() == [[-1] * 3] * 2
    with pytest.raises(ValueError):
        index.search(x[:1], 0)
    with pytest.raises(ValueError):
        index.search(np.zeros((1, DIM + 1), np.float32), 3)


def test_add_replaces_existing_ids_and_builds_when_empty(flat: Flat) -> None:
    index, ids, x = flat
    # Give passage ids[0] the vector of ids[1]; ntotal stays the same.
    index.add(ids[:1], x[1:2])
    assert index.ntotal == 500
    _, found = index.search(x[1:2], 2)
    assert set(found[0].tolist()) == {ids[0], ids[1]}
    _, found0 = index.search(x[:1], 1)
    assert found0[0, 0] != ids[0]
    new_ids, new_x = _data(3, seed=5)
    index.add(new_ids + 1, new_x)
    assert index.ntotal == 503
    fresh = PassageIndex(DIM, model="m")
    fresh.add(ids[:10], x[:10])
    assert fresh.is_built and fresh.ntotal == 10 and fresh.factory == "IDMap2,Flat"


def test_remove(flat: Flat) -> None:
    index, ids, x = flat
    assert index.remove([ids[0], ids[1], 12345]) == 2
    assert index.ntotal == 498
    _, found = index.search(x[:2], 5)
    assert ids[0] not in found and ids[1] not in found
    assert index.remove([]) == 0
    assert PassageIndex(DIM, model="m").remove([1]) == 0


def test_invalid_input_is_rejected(flat: Flat) -> None:
    index, ids, x = flat
    with pytest.raises(ValueError, match="shape"):
        index.add([1], np.zeros((1, DIM + 1), np.float32))
    with pytest.raises(ValueError, match="unique"):
        index.add([1, 1], x[:2])
    with pytest.raises(ValueError, match="non-negative"):
        index.add([-1], x[:1])
    with pytest.raises(ValueError, match="ids for"):
        index.add([1, 2, 3], x[:2])
    with pytest.raises(ValueError, match="NaN"):
        index.add([1], np.full((1, DIM), np.nan, np.float32))
    with pytest.raises(ValueError, match="factory"):
        PassageIndex(DIM, model="m").build(ids, x, factory="NotAnIndex99")


def test_filtered_search_flat(flat: Flat) -> None:
    index, ids, x = flat
    allowed = ids[100:140]
    _, found = index.search(x[:3], 5, id_filter=allowed)
    assert np.isin(found, allowed).all()
    np.testing.assert_array_equal(found, _exact(x[100:140], allowed, x[:3], 5))
    # Fewer allowed ids than k: padded; unknown ids ignored; empty filter -> nothing.
    scores, found = index.search(x[:1], 5, id_filter=np.array([ids[7], 999]))
    assert found[0].tolist() == [ids[7], -1, -1, -1, -1]
    assert np.isneginf(scores[0, 1:]).all()
    assert (index.search(x[:1], 3, id_filter=np.array([], np.int64))[1] == -1).all()


@pytest.mark.parametrize("factory", ["IVF16,Flat", "HNSW16"])
def test_filtered_search_approximate_indexes_is_complete(factory: str) -> None:
    ids, x = _data(3000, clusters=20)
    index = PassageIndex(DIM, model="m", settings=IndexSettings(nprobe=2, ef_search=16))
    index.build(ids, x, factory=factory)
    rng = np.random.default_rng(1)
    allowed = np.sort(rng.choice(ids, 12, replace=False))
    q = x[rng.choice(3000, 4, replace=False)]
    _, found = index.search(q, 5, id_filter=allowed)
    mask = np.isin(ids, allowed)
    np.testing.assert_array_equal(found, _exact(x[mask], ids[mask], q, 5))


def test_hnsw_remove_rebuilds() -> None:
    ids, x = _data(400)
    index = PassageIndex(DIM, model="m")
    index.build(ids, x, factory="HNSW16")
    assert index.remove(ids[:5]) == 5
    assert index.ntotal == 395
    _, found = index.search(x[:5], 3)
    assert not np.isin(found, ids[:5]).any()
    index.add(ids[:1], x[:1])
    assert index.search(x[:1], 1)[1][0, 0] == ids[0]


def test_factory_choice_by_size() -> None:
    s = IndexSettings()
    assert choose_factory(10, s) == "IDMap2,Flat"
    assert choose_factory(50_000, s) == "IDMap2,Flat"
    assert choose_factory(50_001, s) == f"IVF{ivf_nlist(50_001)},Flat" == "IVF512,Flat"
    assert choose_factory(1_000_000, s) == "IVF2048,Flat"
    assert choose_factory(3_000_000, s).endswith(",SQ8")
    assert choose_factory(10, IndexSettings(factory="HNSW32")) == "HNSW32"
    assert ivf_nlist(1) == 4  # power of two <= 4 * sqrt(n)
    assert ivf_nlist(100_000) == 1024


def test_ivf_trained_path_recall_and_nprobe(monkeypatch: pytest.MonkeyPatch) -> None:
    import faiss

    monkeypatch.setenv("LITMINE_INDEX_NPROBE", "8")
    monkeypatch.setenv("LITMINE_INDEX_EXACT_MAX", "1000")
    settings = load_settings().index
    ids, x = _data(4000, clusters=30)
    index = PassageIndex(DIM, model="m", settings=settings)
    index.build(ids, x)
    assert index.factory == "IVF128,Flat"
    ivf = faiss.extract_index_ivf(index.faiss_index)
    assert ivf.is_trained and ivf.nprobe == 8
    q = x[:50]
    _, found = index.search(q, 10)
    truth = _exact(x, ids, q, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth, strict=True)])
    assert recall >= 0.9
    assert index.remove(ids[:3]) == 3 and index.ntotal == 3997
    index.add(ids[:1], x[:1])
    assert index.search(x[:1], 1)[1][0, 0] == ids[0]
    assert sorted(index.ids().tolist()) == sorted([ids[0], *ids[3:].tolist()])


def test_ivf_needs_enough_training_vectors() -> None:
    ids, x = _data(20)
    with pytest.raises(IndexStateError, match="train"):
        PassageIndex(DIM, model="m").build(ids, x, factory="IVF64,Flat")


def test_save_load_round_trip_and_manifest(flat: Flat, tmp_path: Path) -> None:
    index, ids, x = flat
    folder = tmp_path / "indexes" / "passages"
    state = {"passage_changes_seq": 42, "passages": 500}
    manifest_path = index.save(folder, store_state=state)
    manifest = json.loads(manifest_path.read_text())
    assert manifest_path.name == MANIFEST_NAME
    index_file = folder / manifest["index_file"]
    assert manifest["sha256"] == hashlib.sha256(index_file.read_bytes()).hexdigest()
    assert manifest["model"] == "test-model" and manifest["dim"] == DIM
    assert manifest["normalized"] is True and manifest["metric"] == "inner_product"
    assert manifest["factory"] == "IDMap2,Flat" and manifest["vector_count"] == 500
    assert manifest["store_state"] == state
    assert manifest["created"] and manifest["updated"] and manifest["litmine_version"]
    assert sorted(p.name for p in folder.iterdir()) == sorted([MANIFEST_NAME, index_file.name])

    loaded = PassageIndex.load(folder, model="test-model", dim=DIM)
    assert loaded.ntotal == 500 and loaded.factory == "IDMap2,Flat"
    assert loaded.matches(state) and not loaded.matches({"passage_changes_seq": 43})
    np.testing.assert_array_equal(loaded.search(x[:4], 5)[1], index.search(x[:4], 5)[1])

    # Saving again replaces the file atomically and leaves no temporary files behind.
    loaded.remove(ids[:1])
    loaded.save(folder, store_state={"passage_changes_seq": 43, "passages": 499})
    files = sorted(p.name for p in folder.iterdir())
    assert len(files) == 2 and MANIFEST_NAME in files
    again = PassageIndex.load(folder)
    assert again.ntotal == 499 and again.created == manifest["created"]


def test_save_removes_temp_files_of_killed_writers_only(flat: Flat, tmp_path: Path) -> None:
    # A save killed while writing (kill -9) leaves its temporary index file
    # behind; the next save deletes it, but not the files of a live writer.
    index, _ids, _x = flat
    folder = tmp_path / "idx"
    folder.mkdir()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(dead.stdout)
    orphans = [
        folder / f".index-{dead_pid}-k1ll3d.faiss.tmp",
        folder / f".manifest-{dead_pid}-k1ll3d.json.tmp",
    ]
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as live:
        try:
            in_use = folder / f".index-{live.pid}-wr1t1ng.faiss.tmp"
            unknown = folder / ".index-n0p1d.faiss.tmp"
            for path in [*orphans, in_use, unknown]:
                path.write_bytes(b"partial index")
            index.save(folder)
            names = {p.name for p in folder.iterdir()}
        finally:
            live.kill()
    assert not any(p.name in names for p in orphans)
    assert in_use.name in names and unknown.name in names
    assert PassageIndex.load(folder).ntotal == index.ntotal


def test_load_detects_corruption_and_mismatch(flat: Flat, tmp_path: Path) -> None:
    index, _, _ = flat
    with pytest.raises(IndexStateError, match="no vector index") as info:
        PassageIndex.load(tmp_path / "missing")
    assert "litmine index build" in str(info.value)

    folder = tmp_path / "idx"
    index.save(folder)
    with pytest.raises(IndexStateError, match="built with model 'test-model'"):
        PassageIndex.load(folder, model="other-model")
    with pytest.raises(IndexStateError, match="16-d"):
        PassageIndex.load(folder, dim=384)

    manifest = json.loads((folder / MANIFEST_NAME).read_text())
    index_file = folder / manifest["index_file"]
    data = bytearray(index_file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    index_file.write_bytes(bytes(data))
    with pytest.raises(IndexStateError, match="checksum"):
        PassageIndex.load(folder)

    index_file.unlink()
    with pytest.raises(IndexStateError, match="missing"):
        PassageIndex.load(folder)

    (folder / MANIFEST_NAME).write_text("{not json")
    with pytest.raises(IndexStateError, match="unreadable"):
        PassageIndex.load(folder)


def test_load_checks_dimension_against_file(flat: Flat, tmp_path: Path) -> None:
    index, _, _ = flat
    folder = tmp_path / "idx"
    index.save(folder)
    manifest = json.loads((folder / MANIFEST_NAME).read_text())
    manifest["dim"] = 32
    (folder / MANIFEST_NAME).write_text(json.dumps(manifest))
    with pytest.raises(IndexStateError, match="manifest says 32"):
        PassageIndex.load(folder)


def test_save_before_build_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(IndexStateError, match="not been built"):
        PassageIndex(DIM, model="m").save(tmp_path / "x")


def test_light_imports() -> None:
    code = (
        "import sys, litmine.vectors.faiss_index, litmine.search.fusion, litmine.vectors.embed; "
        "heavy = [m for m in ('faiss', 'torch', 'sentence_transformers', 'onnxruntime') "
        "if m in sys.modules]; print(heavy); sys.exit(1 if heavy else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr

"""Pure clustering, labelling and evidence counting on synthetic inputs (milliseconds)."""

from __future__ import annotations

import numpy as np
import pytest

from litmine.answer.cluster import (
    cluster_hits,
    evidence_category,
    evidence_profile,
    is_retracted_type,
    label_cluster,
)
from litmine.types import EvidenceProfile


def _blobs(sizes: list[int], dim: int = 64, noise: float = 0.25, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((len(sizes), dim))
    rows = [centres[i] + noise * rng.standard_normal((n, dim)) for i, n in enumerate(sizes)]
    return np.concatenate(rows).astype(np.float32)


def _same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    pairs_a = a[:, None] == a[None, :]
    pairs_b = b[:, None] == b[None, :]
    return bool((pairs_a == pairs_b).all())


def test_zero_one_and_two_hits() -> None:
    assert cluster_hits(np.zeros((0, 8))).shape == (0,)
    assert cluster_hits(np.ones((1, 8))).tolist() == [0]
    close = np.array([[1.0, 0.0], [0.9, 0.1]])
    far = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert cluster_hits(close).tolist() == [0, 0]
    assert cluster_hits(far).tolist() == [0, 1]
    assert cluster_hits(close, n_clusters=2).tolist() == [0, 1]
    assert cluster_hits(far, pair_similarity=-1.0).tolist() == [0, 0]


def test_separated_topics_are_found_automatically() -> None:
    truth = np.repeat([0, 1, 2], [12, 8, 5])
    order = np.random.default_rng(1).permutation(len(truth))
    vectors, truth = _blobs([12, 8, 5])[order], truth[order]
    labels = cluster_hits(vectors)
    assert len(set(labels.tolist())) == 3
    assert _same_partition(labels, truth)
    assert labels[0] == 0  # numbered by first appearance: the best hit is in cluster 0
    assert sorted(dict.fromkeys(labels.tolist())) == list(dict.fromkeys(labels.tolist()))


def test_deterministic_and_dtype() -> None:
    vectors = _blobs([6, 6, 6], seed=3)
    first = cluster_hits(vectors)
    assert first.dtype == np.int64
    assert np.array_equal(first, cluster_hits(vectors.copy()))
    assert np.array_equal(first, cluster_hits(vectors * 7.0))  # scale does not matter (cosine)


def test_noise_stays_one_cluster() -> None:
    noise = np.random.default_rng(2).standard_normal((40, 384))
    assert set(cluster_hits(noise).tolist()) == {0}


def test_max_clusters_caps_the_choice() -> None:
    vectors = _blobs([5, 5, 5, 5, 5], seed=4)
    assert len(set(cluster_hits(vectors).tolist())) == 5
    assert len(set(cluster_hits(vectors, max_clusters=3).tolist())) <= 3
    assert set(cluster_hits(vectors, max_clusters=1).tolist()) == {0}


def test_given_number_of_clusters() -> None:
    vectors = _blobs([6, 6, 6], seed=5)
    assert len(set(cluster_hits(vectors, n_clusters=2).tolist())) == 2
    assert len(set(cluster_hits(vectors, n_clusters=1).tolist())) == 1
    assert len(set(cluster_hits(vectors[:3], n_clusters=10).tolist())) == 3  # capped at n


def test_identical_vectors_do_not_crash() -> None:
    assert set(cluster_hits(np.ones((10, 4))).tolist()) == {0}
    assert cluster_hits(np.zeros((3, 4))).shape == (3,)  # zero rows are left unnormalised


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"vectors": np.zeros(5)}, "2-D"),
        ({"vectors": np.zeros((3, 2)), "n_clusters": 0}, "n_clusters"),
        ({"vectors": np.zeros((3, 2)), "max_clusters": 0}, "max_clusters"),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], match: str) -> None:
    vectors = kwargs.pop("vectors")
    with pytest.raises(ValueError, match=match):
        cluster_hits(vectors, **kwargs)  # type: ignore[arg-type]


def _hand_silhouette(dist: np.ndarray, labels: np.ndarray) -> float:
    """The silhouette cluster_hits computed by hand before sklearn (kept as a reference)."""
    uniq = np.unique(labels)
    member = labels[:, None] == uniq[None, :]
    sizes = member.sum(axis=0).astype(np.float64)
    sums = dist @ member
    own = np.argmax(member, axis=1)
    own_size = sizes[own]
    a = np.where(own_size > 1, sums[np.arange(len(labels)), own] / np.maximum(own_size - 1, 1), 0)
    mean_other = sums / sizes[None, :]
    mean_other[np.arange(len(labels)), own] = np.inf
    b = mean_other.min(axis=1)
    s = np.where(own_size > 1, (b - a) / np.maximum(np.maximum(a, b), 1e-12), 0.0)
    return float(s.mean())


@pytest.mark.parametrize("seed", range(5))
def test_sklearn_silhouette_equals_the_hand_written_one(seed: int) -> None:
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform
    from sklearn.metrics import silhouette_score

    rng = np.random.default_rng(seed)
    unit = rng.standard_normal((30, 8))
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    dist = np.clip(1.0 - unit @ unit.T, 0.0, 2.0)
    np.fill_diagonal(dist, 0.0)
    dist = (dist + dist.T) / 2.0
    tree = linkage(squareform(dist, checks=False), method="average")
    for k in range(2, 8):  # cuts with singleton clusters included
        labels = fcluster(tree, t=k, criterion="maxclust")
        if 2 <= len(np.unique(labels)) < len(labels):
            ours = float(silhouette_score(dist, labels, metric="precomputed"))
            assert ours == pytest.approx(_hand_silhouette(dist, labels), abs=1e-9)


def test_evidence_profile_counts_each_article_once_by_strongest_type() -> None:
    profile = evidence_profile(
        [
            ["Meta-Analysis", "Systematic Review", "Journal Article"],
            ["Systematic Review"],
            ["Randomized Controlled Trial", "Multicenter Study"],
            ["Clinical Trial, Phase III"],
            ["Observational Study"],
            ["case reports"],
            ["Review"],
            ["Journal Article"],
            [],
            ["Randomized Controlled Trial", "Retracted Publication"],
            ["Randomized Controlled Trial"],
        ],
        retracted=[False] * 10 + [True],
    )
    assert profile == EvidenceProfile(
        meta_analyses=1,
        systematic_reviews=1,
        rcts=1,
        other_clinical_studies=2,
        case_reports=1,
        reviews=1,
        other=2,
        retracted=2,
    )
    assert profile.total == 11
    assert profile.line() == (
        "1 meta-analysis, 1 systematic review, 1 RCT, 2 other clinical studies, "
        "1 case report, 1 review, 2 other, 2 RETRACTED"
    )
    assert EvidenceProfile().line() == "no articles"
    assert evidence_category(["Clinical Trial, Phase II"]) == "other_clinical_studies"
    assert is_retracted_type(["retracted publication"])
    assert not is_retracted_type(["Retraction of Publication"])  # the notice, not the article
    with pytest.raises(ValueError, match="retraction flags"):
        evidence_profile([["Review"]], retracted=[])


def test_label_prefers_dominant_distinctive_entities() -> None:
    label = label_cluster(
        entities=[
            ["aspirin", "myocardial infarction"],
            ["aspirin", "bleeding", "Myocardial infarction"],
            ["Aspirin", "stent"],  # in one article of three: not dominant
        ],
        other_entities=[["caffeine", "bleeding"], ["caffeine"]],
        mesh=[["Humans", "Aspirin"]],
        n_terms=2,
    )
    assert label == "aspirin · myocardial infarction"


def test_label_falls_back_to_mesh_then_titles() -> None:
    mesh = [["Humans", "Female", "Coffee", "Liver Cirrhosis"], ["Humans", "Coffee"]]
    assert label_cluster(entities=[[], []], mesh=mesh, n_terms=2) == "Coffee · Liver Cirrhosis"
    titles = ["Sleep and memory in students", "Sleep loss and memory consolidation"]
    label = label_cluster(mesh=[["Humans"]], titles=titles, n_terms=2)
    assert label == "memory · sleep"  # ties: alphabetical
    assert label_cluster() == "(unlabelled)"


def test_label_skips_terms_contained_in_chosen_ones() -> None:
    label = label_cluster(
        entities=[["low-dose aspirin", "aspirin"], ["low-dose aspirin", "aspirin"]], n_terms=2
    )
    assert label == "aspirin"

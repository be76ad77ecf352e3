"""examples/unsupervised_clustering.py (--quick) and the clustering scores of keras_entropy.experiments.clustering."""

import json
import re

import numpy as np
import pytest
from sklearn.metrics import normalized_mutual_info_score
from test_example_cli import run_example

from keras_entropy.experiments import clustering


def _purity_reference(y, c):
    """Purity by brute force over clusters."""
    total = 0
    for cluster in set(c.tolist()):
        members = y[c == cluster]
        total += max(np.sum(members == label) for label in set(members.tolist()))
    return total / len(y)


FIXED = [
    (np.array([0, 0, 0, 1, 1, 1, 2, 2, 2]), np.array([1, 1, 1, 0, 0, 0, 2, 2, 2])),
    (np.array([0, 0, 1, 1, 2, 2, 2, 3]), np.array([5, 5, 5, 7, 7, 7, 9, 9])),
    (np.array([0, 1, 2, 3, 4, 5]), np.array([0, 0, 0, 0, 0, 0])),
    (np.random.default_rng(3).integers(0, 10, 500), np.random.default_rng(4).integers(0, 8, 500)),
]


@pytest.mark.parametrize("y,c", FIXED)
def test_nmi_matches_sklearn(y, c):
    assert clustering.normalized_mutual_info(y, c) == pytest.approx(normalized_mutual_info_score(y, c), abs=1e-10)


@pytest.mark.parametrize("y,c", FIXED)
def test_purity_matches_brute_force(y, c):
    assert clustering.cluster_purity(y, c) == pytest.approx(_purity_reference(y, c))


def test_scores_of_known_clusterings():
    y = np.array([0, 0, 1, 1, 2, 2])
    assert clustering.cluster_purity(y, [4, 4, 9, 9, 1, 1]) == 1.0
    assert clustering.normalized_mutual_info(y, [4, 4, 9, 9, 1, 1]) == pytest.approx(1.0)
    assert clustering.cluster_purity(y, np.zeros(6, int)) == pytest.approx(1 / 3)
    assert clustering.normalized_mutual_info(y, np.zeros(6, int)) == 0.0
    assert clustering.contingency_matrix(y, [0, 1, 0, 1, 0, 1]).tolist() == [[1, 1], [1, 1], [1, 1]]


def test_score_arguments_are_validated():
    with pytest.raises(ValueError, match="labels_pred"):
        clustering.cluster_purity([0, 1], [0, 1, 1])
    with pytest.raises(TypeError, match="labels_true"):
        clustering.normalized_mutual_info([0.5, 1.0], [0, 1])
    with pytest.raises(ValueError, match="n_clusters"):
        clustering.kmeans(np.zeros((3, 2)), 4)
    with pytest.raises(ValueError, match="method"):
        clustering.clustering_run({"method": "dbscan"}, 0, (np.zeros((4, 2)), np.zeros((4, 2)), np.zeros(4, int)))


def test_kmeans_recovers_separated_blobs():
    rng = np.random.default_rng(0)
    centers = np.array([[0, 0], [10, 0], [0, 10]], float)
    y = np.repeat(np.arange(3), 50)
    x = centers[y] + rng.normal(scale=0.5, size=(150, 2))
    _, assign = clustering.kmeans(x, 3, seed=1)
    assert clustering.cluster_purity(y, assign(x)) == 1.0


def test_quick_run_writes_scores_per_method(tmp_path, backend):
    out = tmp_path / "run"
    proc = run_example("unsupervised_clustering", ["--quick", "--out", str(out), "--replications", "2"], backend)
    assert f"backend: {backend}" in proc.stdout
    assert "embedded MNIST subset" in proc.stdout
    # Quiet by default: one line per finished run (4 methods x 2 replications), no per-epoch output.
    lines = proc.stdout.splitlines()
    assert len(lines) < 60, proc.stdout
    assert sum(1 for line in lines if re.match(r"\[\d/8\] method=\S+ seed=[01]: purity=", line)) == 8, proc.stdout

    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    methods = [r["config"]["method"] for r in records]
    assert sorted(methods) == sorted(list(clustering.METHODS) * 2)
    assert {r["seed"] for r in records} == {0, 1}
    for r in records:
        m = r["metrics"]
        assert 0.0 <= m["nmi"] <= 1.0 and 0.0 < m["purity"] <= 1.0
        assert r["backend"] == backend
        if r["config"]["method"].startswith("entropy"):
            assert "hidden_units" in r["config"] and len(r["history"]["loss"]) == r["config"]["epochs"]
    by = {}
    for r in records:
        by.setdefault(r["config"]["method"], []).append(r["metrics"])
    # k-means on MNIST pixels is far better than chance (purity 0.1, NMI 0).
    assert min(m["purity"] for m in by["kmeans"]) > 0.35
    assert min(m["nmi"] for m in by["kmeans"]) > 0.3
    # The balance term keeps the network from putting everything in one cluster.
    assert np.mean([m["clusters_used"] for m in by["entropy"]]) > np.mean(
        [m["clusters_used"] for m in by["entropy_balance0"]])

    summary = (out / "summary.md").read_text()
    assert "embedded MNIST subset" in summary
    rows = {line.split("|")[1].strip(): line for line in summary.splitlines() if line.startswith("| ")}
    for method in clustering.METHODS:
        assert method in rows
        cells = [c.strip() for c in rows[method].split("|")[1:-1]]
        assert cells[1] == "2"
        mean_purity = float(cells[2].split()[0])
        assert mean_purity == pytest.approx(np.mean([m["purity"] for m in by[method]]), abs=6e-4)
    assert (out / "scores.png").stat().st_size > 1000

    # Resumable: a second run trains nothing.
    again = run_example("unsupervised_clustering",
                        ["--quick", "--out", str(out), "--replications", "2", "--methods", "kmeans"], backend)
    assert "2 already in" in again.stdout and "0 to run" in again.stdout


def test_pca_matches_sklearn_up_to_sign():
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 6)) @ rng.normal(size=(6, 40))
    ours, _ = clustering.pca(x, 3)
    ref = PCA(3, svd_solver="full").fit_transform(x)
    np.testing.assert_allclose(np.abs(ours), np.abs(ref), atol=1e-8)

"""examples/unsupervised_clustering.py (--quick), keras_entropy.experiments.clustering and clustering_scores."""

import doctest
import itertools
import json
import os
import re

import numpy as np
import pytest
from sklearn.metrics import normalized_mutual_info_score

from helpers import bh_by_hand, load_example, run_example
from keras_entropy.experiments import clustering, clustering_scores

pytestmark = pytest.mark.one_backend

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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


def _accuracy_reference(y, c):
    """Clustering accuracy by brute force over the one-to-one maps between clusters and labels."""
    table = clustering_scores.contingency_matrix(y, c)
    n_labels, n_clusters = table.shape
    if n_clusters <= n_labels:
        best = max(
            sum(table[m[j], j] for j in range(n_clusters)) for m in itertools.permutations(range(n_labels), n_clusters)
        )
    else:
        best = max(
            sum(table[i, m[i]] for i in range(n_labels)) for m in itertools.permutations(range(n_clusters), n_labels)
        )
    return best / len(y)


@pytest.mark.parametrize(
    "y,c",
    FIXED[:3]
    + [
        (np.random.default_rng(5).integers(0, 5, 200), np.random.default_rng(6).integers(0, 6, 200)),
        (np.random.default_rng(7).integers(0, 6, 200), np.random.default_rng(8).integers(0, 4, 200)),
    ],
)
def test_accuracy_matches_brute_force(y, c):
    assert clustering_scores.clustering_accuracy(y, c) == pytest.approx(_accuracy_reference(y, c))


def test_accuracy_of_known_labelings():
    y = np.repeat(np.arange(10), 7)
    permuted = np.random.default_rng(0).permutation(10)[y] + 100  # a perfect clustering under other names
    assert clustering_scores.clustering_accuracy(y, permuted) == 1.0
    # By hand: contingency (labels x clusters 0, 1, 2) [[1, 2, 0], [2, 0, 1], [0, 2, 2]]; the best map is
    # cluster 0 -> label 1 (2), cluster 1 -> label 0 (2), cluster 2 -> label 2 (2): 6 of 10.
    y = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 2])
    c = np.array([1, 1, 0, 0, 0, 2, 2, 2, 1, 1])
    assert clustering_scores.clustering_accuracy(y, c) == pytest.approx(0.6)
    # Two clusters of the same label: purity counts both, accuracy matches only one of them.
    y, c = [0, 0, 0, 0, 1, 1], [0, 0, 1, 1, 2, 2]
    assert clustering_scores.cluster_purity(y, c) == 1.0
    assert clustering_scores.clustering_accuracy(y, c) == pytest.approx(4 / 6)
    # One cluster for four labels: the largest label's share; more clusters than labels: the extra count as errors.
    assert clustering_scores.clustering_accuracy([0, 1, 2, 3, 3], [7, 7, 7, 7, 7]) == pytest.approx(2 / 5)
    assert clustering_scores.clustering_accuracy([0, 0, 0, 1], [0, 1, 2, 3]) == pytest.approx(2 / 4)
    assert clustering_scores.clustering_scores([0, 0, 1], [1, 1, 0])["accuracy"] == 1.0
    with pytest.raises(ValueError, match="labels_pred"):
        clustering_scores.clustering_accuracy([0, 1], [0, 1, 1])


def test_docstring_examples():
    result = doctest.testmod(clustering_scores, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 3 and result.failed == 0


@pytest.mark.parametrize("y,c", FIXED)
def test_nmi_matches_sklearn(y, c):
    expected = normalized_mutual_info_score(y, c)
    assert clustering_scores.normalized_mutual_info(y, c) == pytest.approx(expected, abs=1e-10)


@pytest.mark.parametrize("y,c", FIXED)
def test_purity_matches_brute_force(y, c):
    assert clustering_scores.cluster_purity(y, c) == pytest.approx(_purity_reference(y, c))


def test_scores_of_known_clusterings():
    y = np.array([0, 0, 1, 1, 2, 2])
    assert clustering_scores.cluster_purity(y, [4, 4, 9, 9, 1, 1]) == 1.0
    assert clustering_scores.normalized_mutual_info(y, [4, 4, 9, 9, 1, 1]) == pytest.approx(1.0)
    assert clustering_scores.cluster_purity(y, np.zeros(6, int)) == pytest.approx(1 / 3)
    assert clustering_scores.normalized_mutual_info(y, np.zeros(6, int)) == 0.0
    assert clustering_scores.contingency_matrix(y, [0, 1, 0, 1, 0, 1]).tolist() == [[1, 1], [1, 1], [1, 1]]


def test_score_arguments_are_validated():
    with pytest.raises(ValueError, match="labels_pred"):
        clustering_scores.cluster_purity([0, 1], [0, 1, 1])
    with pytest.raises(TypeError, match="labels_true"):
        clustering_scores.normalized_mutual_info([0.5, 1.0], [0, 1])
    with pytest.raises(ValueError, match="n_clusters"):
        clustering.kmeans(np.zeros((3, 2)), 4)
    for method in ("dbscan", "entropy"):  # the example trains the network itself
        with pytest.raises(ValueError, match="method"):
            clustering.baseline_run({"method": method}, 0, (np.zeros((4, 2)), np.zeros((4, 2)), np.zeros(4, int)))


def test_kmeans_recovers_separated_blobs():
    rng = np.random.default_rng(0)
    centers = np.array([[0, 0], [10, 0], [0, 10]], float)
    y = np.repeat(np.arange(3), 50)
    x = centers[y] + rng.normal(scale=0.5, size=(150, 2))
    _, assign = clustering.kmeans(x, 3, seed=1)
    assert clustering_scores.cluster_purity(y, assign(x)) == 1.0


def test_sklearn_kmeans_recovers_separated_blobs():
    rng = np.random.default_rng(0)
    centers = np.array([[0, 0], [10, 0], [0, 10]], float)
    y = np.repeat(np.arange(3), 50)
    x = (centers[y] + rng.normal(scale=0.5, size=(150, 2))).astype("float32")
    _, assign = clustering.kmeans_sklearn(x, 3, seed=1, inits=2)
    assert clustering_scores.clustering_accuracy(y, assign(x)) == 1.0
    run = clustering.baseline_run({"method": "kmeans_sklearn", "kmeans_inits": 2, "n_clusters": 3}, 0, (x, x, y))
    assert run["metrics"]["accuracy"] == 1.0 and run["metrics"]["clusters_used"] == 3


def test_sweep_configs_hold_only_their_methods_settings():
    from keras_entropy.experiments import datasets, paper

    data = datasets.load_embedded_mnist()
    settings = {**paper.CLUSTERING_PAPER, "train_size": 50, "test_size": 20, "kmeans_inits": None}
    _, configs = clustering.clustering_sweep(data, settings, clustering.METHODS, "mnist")
    by = {c["method"]: c for c in configs}
    # The configs (hence the keys of finished runs) of the methods that existed before kmeans_sklearn are unchanged.
    assert "kmeans_inits" not in by["kmeans"] and "pca_components" not in by["kmeans"]
    assert by["kmeans_pca"]["pca_components"] == 50 and "kmeans_inits" not in by["kmeans_pca"]
    assert by["kmeans_sklearn"]["kmeans_inits"] == clustering.KMEANS_INITS
    assert by["entropy"]["balance"] == 1.0 and "kmeans_iterations" not in by["entropy"]


def test_example_settings_are_the_papers():
    from keras_entropy.experiments import paper

    example = load_example("unsupervised_clustering")
    assert example.METHODS == clustering.METHODS
    assert {k: v for k, v in example.DEFAULTS.items() if k in paper.CLUSTERING_PAPER} == {
        k: v for k, v in paper.CLUSTERING_PAPER.items() if k in example.DEFAULTS
    }
    args = example.parse_args(["--quick", "--hidden-units"])  # no hidden layer
    assert (args.hidden_units, args.pca_components, args.kmeans_inits, args.epochs) == ([], 20, 3, 3)
    args = example.parse_args([])
    assert (args.hidden_units, args.pca_components, args.kmeans_iterations) == ([512, 256], 50, 100)


def test_method_comparisons_are_one_tailed_tests_of_entropy():
    def records(method, values):
        return [{"config": {"method": method}, "metrics": {"accuracy": v, "nmi": v, "purity": v}} for v in values]

    rs = records("entropy", [0.6, 0.62, 0.61]) + records("kmeans", [0.5, 0.52, 0.51]) + records("x", [0.7, 0.72, 0.71])
    out = {(c["baseline"], c["metric"]): c for c in clustering.method_comparisons(rs)}
    assert set(out) == {(b, m) for b in ("kmeans", "x") for m in clustering.SCORES}
    assert out["kmeans", "accuracy"]["pvalue"] < 0.01 and out["kmeans", "accuracy"]["pvalue_worse"] > 0.99
    assert out["x", "nmi"]["pvalue"] > 0.99 and out["x", "nmi"]["pvalue_worse"] < 0.01
    assert out["kmeans", "purity"]["difference"] == pytest.approx(0.1)
    # The effect size: the Welch interval of the difference, entropy - other (scipy's ttest_ind).
    from scipy import stats as scipy_stats

    interval = scipy_stats.ttest_ind([0.6, 0.62, 0.61], [0.5, 0.52, 0.51], equal_var=False).confidence_interval()
    assert out["kmeans", "purity"]["difference_low"] == pytest.approx(interval.low)
    assert out["kmeans", "purity"]["difference_high"] == pytest.approx(interval.high)
    # Every p-value of the table (both directions) is one Benjamini-Hochberg family, adjusted by hand here.
    comparisons = clustering.method_comparisons(rs)
    raw = [c[k] for c in comparisons for k in ("pvalue", "pvalue_worse")]
    assert [c[k] for c in comparisons for k in ("pvalue_adjusted", "pvalue_worse_adjusted")] == pytest.approx(
        bh_by_hand(raw)
    )
    assert clustering.method_comparisons(records("kmeans", [0.5, 0.6])) == []


def test_committed_mnist_comparisons_are_adjusted_as_one_family():
    """The committed real-MNIST records: the headline test, raw and adjusted, as the summary shows it."""
    from keras_entropy.experiments import sweeps

    records = sweeps.load_records(os.path.join(ROOT, "docs", "results", "clustering_mnist", "results.jsonl"))
    comparisons = clustering.method_comparisons(records)
    assert len(comparisons) == 12
    raw = [c[k] for c in comparisons for k in ("pvalue", "pvalue_worse")]
    adjusted = [c[k] for c in comparisons for k in ("pvalue_adjusted", "pvalue_worse_adjusted")]
    assert adjusted == pytest.approx(bh_by_hand(raw))
    (headline,) = [c for c in comparisons if c["baseline"] == "kmeans_sklearn" and c["metric"] == "accuracy"]
    assert headline["pvalue_worse"] == pytest.approx(0.000645, abs=5e-7)
    # Rank 11 of 24 (0.000645 * 24 / 11 = 0.00141), then the minimum with rank 12 (0.000704 * 24 / 12 = 0.00141).
    assert headline["pvalue_worse_adjusted"] == pytest.approx(0.001407, abs=5e-7)
    assert headline["pvalue_worse_adjusted"] > 0.001 > headline["pvalue_worse"]  # *** raw, ** adjusted
    assert (headline["difference"], headline["difference_low"], headline["difference_high"]) == pytest.approx(
        (-0.0729, -0.1095, -0.0363), abs=1e-4
    )
    summary = open(os.path.join(ROOT, "docs", "results", "clustering_mnist", "summary.md")).read()
    assert (
        "| entropy vs kmeans_sklearn | accuracy | 0.455 | 0.528 | -0.073 [-0.110, -0.036] | -4.45 | 9.84 | 1 (adj 1) "
        "| 0.00065 (adj 0.0014 **) |" in summary
    )


def test_quick_run_writes_scores_per_method(tmp_path, backend):
    out = tmp_path / "run"
    proc = run_example("unsupervised_clustering", ["--quick", "--out", str(out), "--replications", "2"], backend)
    assert f"backend: {backend}" in proc.stdout
    assert "embedded MNIST subset" in proc.stdout
    # Quiet by default: one line per finished run (5 methods x 2 replications), no per-epoch output.
    lines = proc.stdout.splitlines()
    assert len(lines) < 80, proc.stdout
    assert sum(1 for line in lines if re.match(r"\[\d+/10\] method=\S+ seed=[01]: accuracy=", line)) == 10, proc.stdout

    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    methods = [r["config"]["method"] for r in records]
    assert sorted(methods) == sorted(list(clustering.METHODS) * 2)
    assert {r["seed"] for r in records} == {0, 1}
    for r in records:
        m = r["metrics"]
        assert 0.0 <= m["nmi"] <= 1.0 and 0.0 < m["accuracy"] <= m["purity"] <= 1.0
        assert r["backend"] == backend
        if r["config"]["method"].startswith("entropy"):
            assert "hidden_units" in r["config"] and len(r["history"]["loss"]) == r["config"]["epochs"]
    by = {}
    for r in records:
        by.setdefault(r["config"]["method"], []).append(r["metrics"])
    # k-means on MNIST pixels is far better than chance (purity 0.1, NMI 0).
    assert min(m["purity"] for m in by["kmeans"]) > 0.35
    assert min(m["nmi"] for m in by["kmeans"]) > 0.3
    assert min(m["accuracy"] for m in by["kmeans_sklearn"]) > 0.35
    # The balance term keeps the network from putting everything in one cluster.
    assert np.mean([m["clusters_used"] for m in by["entropy"]]) > np.mean(
        [m["clusters_used"] for m in by["entropy_balance0"]]
    )

    summary = (out / "summary.md").read_text()
    assert "embedded MNIST subset" in summary
    rows = {line.split("|")[1].strip(): line for line in summary.splitlines() if line.startswith("| ")}
    for method in clustering.METHODS:
        assert method in rows
        cells = [c.strip() for c in rows[method].split("|")[1:-1]]
        assert cells[1] == "2"
        for cell, metric in zip(cells[2:5], clustering.SCORES):
            assert float(cell.split()[0]) == pytest.approx(np.mean([m[metric] for m in by[method]]), abs=6e-4)
    # One-tailed tests of the entropy loss against every other method, each score.
    for other in clustering.METHODS[1:]:
        for score in ("accuracy", "NMI", "purity"):
            assert f"| entropy vs {other} | {score} |" in summary
    assert (out / "scores.png").stat().st_size > 1000

    # Resumable: a second run trains nothing.
    again = run_example(
        "unsupervised_clustering", ["--quick", "--out", str(out), "--replications", "2", "--methods", "kmeans"], backend
    )
    assert "2 already in" in again.stdout and "0 to run" in again.stdout
    # --report-only: the same summary from results.jsonl, no training.
    before = (out / "results.jsonl").read_bytes()
    (out / "summary.md").unlink()
    rewritten = run_example(
        "unsupervised_clustering", ["--quick", "--out", str(out), "--replications", "2", "--report-only"], backend
    )
    assert "to run" not in rewritten.stdout and (out / "results.jsonl").read_bytes() == before
    assert (out / "summary.md").read_text().replace(" --report-only", "") == summary
    assert "Benjamini-Hochberg adjusted" in summary and "(adj " in summary


def test_pca_matches_sklearn_up_to_sign():
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 6)) @ rng.normal(size=(6, 40))
    ours, _ = clustering.pca(x, 3)
    ref = PCA(3, svd_solver="full").fit_transform(x)
    np.testing.assert_allclose(np.abs(ours), np.abs(ref), atol=1e-8)

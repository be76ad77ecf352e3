"""The scores of a clustering against held-out labels: how well predicted clusters match the true classes.

From two 1-D integer label arrays of the same length (true labels, predicted
clusters; the names of either need not match) it computes:

- `contingency_matrix`: the counts of inputs per (true label, predicted cluster);
- `cluster_purity`: the share of inputs whose cluster's majority label is their own;
- `normalized_mutual_info`: the mutual information over the mean of the two entropies;
- `clustering_accuracy`: the share labelled right by the best one-to-one map of
  clusters to labels (Hungarian matching, `scipy.optimize.linear_sum_assignment`);
- `clustering_scores`: all of them in one dict, as a clustering run records them
  (`examples/unsupervised_clustering.py`, `keras_entropy.experiments.clustering.baseline_run`).
"""

import numpy as np


def _labels(values, name):
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"Argument `{name}` must be a 1-D array of labels. Received: {name} of shape {array.shape}")
    if array.size and not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.bool_)):
        if not np.issubdtype(array.dtype, np.floating) or not np.all(array == np.round(array)):
            raise TypeError(f"Argument `{name}` must hold integer labels. Received: {name} with dtype {array.dtype}")
    return array.astype("int64")


def contingency_matrix(labels_true, labels_pred):
    """Counts `C[i, j]` of inputs with the i-th true label and the j-th predicted cluster.

    Rows follow `np.unique(labels_true)`, columns `np.unique(labels_pred)`.
    """
    y = _labels(labels_true, "labels_true")
    c = _labels(labels_pred, "labels_pred")
    if len(y) != len(c):
        raise ValueError(
            f"Arguments `labels_true` and `labels_pred` must have the same length. Received: {len(y)} and {len(c)}"
        )
    if len(y) == 0:
        raise ValueError("Arguments `labels_true` and `labels_pred` must not be empty.")
    _, yi = np.unique(y, return_inverse=True)
    _, ci = np.unique(c, return_inverse=True)
    table = np.zeros((yi.max() + 1, ci.max() + 1), dtype="int64")
    np.add.at(table, (yi, ci), 1)
    return table


def cluster_purity(labels_true, labels_pred):
    """Fraction of inputs whose cluster's majority label is their own label.

    `purity = sum_j max_i C[i, j] / N`; 1 for a perfect clustering, and for a
    single cluster the frequency of the most common label.
    """
    table = contingency_matrix(labels_true, labels_pred)
    return float(table.max(axis=0).sum() / table.sum())


def _entropy(counts):
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def normalized_mutual_info(labels_true, labels_pred):
    """Normalised mutual information `I(Y; C) / ((H(Y) + H(C)) / 2)`.

    The arithmetic-mean normalisation (scikit-learn's default). It is 1 when
    the clustering equals the labels up to renaming, near 0 for unrelated
    clusters; when both labelings have a single class it is 1.
    """
    table = contingency_matrix(labels_true, labels_pred).astype("float64")
    n = table.sum()
    h_true = _entropy(table.sum(axis=1))
    h_pred = _entropy(table.sum(axis=0))
    if table.shape[0] == 1 and table.shape[1] == 1:
        return 1.0
    nz = table > 0
    pij = table[nz] / n
    outer = np.outer(table.sum(axis=1), table.sum(axis=0))[nz] / (n * n)
    mi = float(np.sum(pij * (np.log(pij) - np.log(outer))))
    denominator = (h_true + h_pred) / 2.0
    if denominator <= 0:
        return 0.0
    return float(min(max(mi / denominator, 0.0), 1.0))


def clustering_accuracy(labels_true, labels_pred):
    """Clustering accuracy: the share of inputs labelled right by the best one-to-one map of clusters to labels.

    `accuracy = max_m sum_j C[m(j), j] / N` over one-to-one maps `m` from
    clusters to labels (`C`: `contingency_matrix`), found by Hungarian
    matching (`scipy.optimize.linear_sum_assignment`). 1 when the clustering
    equals the labels up to renaming. Unlike purity, two clusters cannot
    both claim a label (extra clusters count as errors): `accuracy <= purity`.

    >>> clustering_accuracy([0, 0, 1, 1, 2, 2], [5, 5, 3, 3, 4, 4])
    1.0
    >>> y, c = [0, 0, 0, 0, 1, 1], [0, 0, 1, 1, 2, 2]   # clusters 0 and 1 both hold label 0
    >>> round(clustering_accuracy(y, c), 4), cluster_purity(y, c)
    (0.6667, 1.0)
    """
    from scipy.optimize import linear_sum_assignment

    table = contingency_matrix(labels_true, labels_pred)
    rows, cols = linear_sum_assignment(table, maximize=True)
    return float(table[rows, cols].sum() / table.sum())


def clustering_scores(labels_true, labels_pred):
    """dict with `accuracy` (Hungarian), `nmi`, `purity` and `clusters_used` (distinct predicted clusters)."""
    return {
        "accuracy": clustering_accuracy(labels_true, labels_pred),
        "purity": cluster_purity(labels_true, labels_pred),
        "nmi": normalized_mutual_info(labels_true, labels_pred),
        "clusters_used": int(len(np.unique(np.asarray(labels_pred)))),
    }


__all__ = ["cluster_purity", "clustering_accuracy", "clustering_scores", "contingency_matrix", "normalized_mutual_info"]

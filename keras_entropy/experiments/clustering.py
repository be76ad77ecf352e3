"""Unsupervised clustering with the softmax entropy loss (seed 000; MATH.md section 5).

A network maps each input to `n_clusters` outputs `X`; `SoftmaxEntropyLoss`
trains it without labels (`model.fit(x)`) so that every input's
`q = softmax(-beta X)` is confident while the batch-mean `<q>` stays uniform.
The predicted cluster of an input is `argmin(X)` (the largest `q`).

This module holds the pieces of `examples/unsupervised_clustering.py`:

- the external scores of a clustering against held-out labels, in numpy:
  `contingency_matrix`, `cluster_purity`, `normalized_mutual_info`;
- `kmeans` (numpy, k-means++ seeding, Lloyd iterations) and `pca` for the
  baselines;
- `clustering_model` (an MLP with `n_clusters` linear outputs) and
  `clustering_run(config, seed, data)` for `keras_entropy.experiments.sweeps.run_sweep`;
- the example's sweep and report: `clustering_sweep`, `write_clustering_report`
  (summary.md) and `plot_scores` (scores.png).
"""

import math
import time

import keras
import numpy as np

from keras_entropy import validation
from keras_entropy.experiments.paper import CLUSTERING_PAPER
from keras_entropy.losses import SoftmaxEntropyLoss

#: Methods `clustering_run` knows.
METHODS = ("entropy", "entropy_balance0", "kmeans", "kmeans_pca")


# ---------------------------------------------------------------------------
# Scores.


def _labels(values, name):
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"Argument `{name}` must be a 1-D array of labels. Received: {name} of shape {array.shape}")
    if array.size and not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.bool_)):
        if not np.issubdtype(array.dtype, np.floating) or not np.all(array == np.round(array)):
            raise TypeError(
                f"Argument `{name}` must hold integer labels. Received: {name} with dtype {array.dtype}"
            )
    return array.astype("int64")


def contingency_matrix(labels_true, labels_pred):
    """Counts `C[i, j]` of inputs with the i-th true label and the j-th predicted cluster.

    Rows follow `np.unique(labels_true)`, columns `np.unique(labels_pred)`.
    """
    y = _labels(labels_true, "labels_true")
    c = _labels(labels_pred, "labels_pred")
    if len(y) != len(c):
        raise ValueError(
            f"Arguments `labels_true` and `labels_pred` must have the same length. "
            f"Received: {len(y)} and {len(c)}"
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


def clustering_scores(labels_true, labels_pred):
    """dict with `purity`, `nmi` and `clusters_used` (distinct predicted clusters)."""
    return {
        "purity": cluster_purity(labels_true, labels_pred),
        "nmi": normalized_mutual_info(labels_true, labels_pred),
        "clusters_used": int(len(np.unique(np.asarray(labels_pred)))),
    }


# ---------------------------------------------------------------------------
# Baselines.


def _matrix(x, name="x"):
    x = np.asarray(x, dtype="float64")
    if x.ndim != 2 or len(x) == 0:
        raise ValueError(f"Argument `{name}` must be a non-empty 2-D array. Received: {name} of shape {x.shape}")
    return x


def pca(x, n_components, fit_on=None):
    """Project `x` on the top `n_components` principal axes of `fit_on` (default `x`).

    Returns `(projected, (mean, components))`.
    """
    n_components = validation.validate_positive_int(n_components, "n_components")
    x = _matrix(x)
    fit = x if fit_on is None else _matrix(fit_on, "fit_on")
    mean = fit.mean(axis=0)
    centred = fit - mean
    # Eigenvectors of the (D, D) scatter matrix: cheaper than an SVD of (N, D) when N >> D.
    eigenvalues, eigenvectors = np.linalg.eigh(centred.T @ centred)
    order = np.argsort(eigenvalues)[::-1][:n_components]
    components = eigenvectors[:, order].T
    return (x - mean) @ components.T, (mean, components)


def _sq_distances(x, centers):
    return (
        np.sum(x * x, axis=1)[:, None] - 2.0 * x @ centers.T + np.sum(centers * centers, axis=1)[None, :]
    )


def kmeans(x, n_clusters, seed=0, iterations=100, tol=1e-6):
    """k-means (k-means++ seeding, Lloyd iterations) in numpy.

    Args:
        x: `(N, D)` array.
        n_clusters: number of clusters `k <= N`.
        seed: seeds the k-means++ draws.
        iterations: maximum Lloyd iterations.
        tol: stop when the centres move less than this (squared, summed).

    Returns:
        `(centers, assign)`: `(k, D)` centres and a function mapping an array
        `(M, D)` to its nearest-centre labels.
    """
    x = _matrix(x)
    n_clusters = validation.validate_positive_int(n_clusters, "n_clusters")
    iterations = validation.validate_positive_int(iterations, "iterations")
    if n_clusters > len(x):
        raise ValueError(
            f"Argument `n_clusters` must be at most the number of points ({len(x)}). "
            f"Received: n_clusters={n_clusters}"
        )
    rng = np.random.default_rng(seed)
    centers = [x[rng.integers(len(x))]]
    closest = _sq_distances(x, np.asarray(centers))[:, 0]
    for _ in range(1, n_clusters):
        weights = np.maximum(closest, 0.0)
        total = weights.sum()
        index = rng.choice(len(x), p=weights / total) if total > 0 else rng.integers(len(x))
        centers.append(x[index])
        closest = np.minimum(closest, _sq_distances(x, x[index][None, :])[:, 0])
    centers = np.asarray(centers)
    for _ in range(iterations):
        labels = np.argmin(_sq_distances(x, centers), axis=1)
        new = centers.copy()
        for k in range(n_clusters):
            members = x[labels == k]
            if len(members):
                new[k] = members.mean(axis=0)
        shift = float(np.sum((new - centers) ** 2))
        centers = new
        if shift <= tol:
            break

    def assign(points):
        return np.argmin(_sq_distances(_matrix(points, "points"), centers), axis=1)

    return centers, assign


# ---------------------------------------------------------------------------
# The network and one run of a sweep.


def clustering_model(input_dim, n_clusters=10, hidden_units=(512, 256)):
    """An MLP with `n_clusters` linear float32 outputs for `SoftmaxEntropyLoss`.

    Args:
        input_dim: number of input features (784 for MNIST).
        n_clusters: number of output units (clusters).
        hidden_units: widths of the ReLU hidden layers (may be empty).

    Returns:
        An uncompiled `keras.Sequential`. The cluster of an input is the
        argmin of its outputs (`predict_clusters`).
    """
    input_dim = validation.validate_positive_int(input_dim, "input_dim")
    n_clusters = validation.validate_int(n_clusters, "n_clusters", minimum=2)
    if isinstance(hidden_units, (int, str)):
        raise TypeError(f"Argument `hidden_units` must be a list of ints. Received: hidden_units={hidden_units!r}")
    hidden_units = [validation.validate_positive_int(u, "hidden_units") for u in hidden_units]
    layers = [keras.Input((input_dim,))]
    for i, units in enumerate(hidden_units):
        layers.append(keras.layers.Dense(units, activation="relu", name=f"hidden_{i + 1}"))
    layers.append(keras.layers.Dense(n_clusters, dtype="float32", name="clusters"))
    return keras.Sequential(layers, name=f"entropy_clustering_{n_clusters}")


def predict_clusters(model, x, batch_size=1024):
    """Cluster of each input: `argmin` of the outputs (= argmax of `softmax(-beta X)`)."""
    outputs = model.predict(x, batch_size=batch_size, verbose=0)
    return np.argmin(np.asarray(outputs), axis=-1)


def clustering_run(config, seed, data, verbose=0):
    """One clustering run of a sweep; returns the record's fields.

    Args:
        config: dict with `method` (one of `METHODS`) and optionally the keys
            of `paper.CLUSTERING_PAPER` (`n_clusters`, `hidden_units`, `beta`,
            `balance`, `epochs`, `batch_size`, `learning_rate`,
            `pca_components`, `kmeans_iterations`). `"entropy"` trains
            `clustering_model` with `SoftmaxEntropyLoss(beta, balance)` on
            the training inputs alone; `"entropy_balance0"` the same with
            `balance=0` (plain mean entropy); `"kmeans"` runs `kmeans` on the
            pixels, `"kmeans_pca"` on the PCA features.
        seed: seeds weights, shuffling and k-means.
        data: `(x_train, x_test, y_test)`: float32 `(N, D)` inputs and the
            held-out labels of `x_test`, used only to score the clusters.

    Returns:
        dict with `metrics` (`purity`, `nmi`, `clusters_used`, and for the
        network runs `final_loss`) and for the network runs `history`.
    """
    if not isinstance(config, dict):
        raise TypeError(f"Argument `config` must be a dict. Received: config={config!r}")
    x_train, x_test, y_test = data
    settings = {**CLUSTERING_PAPER, **config}
    method = validation.validate_choice(settings.get("method"), "method", METHODS)
    n_clusters = int(settings["n_clusters"])
    seed = int(seed)
    start = time.perf_counter()
    if method.startswith("kmeans"):
        train, test = x_train, x_test
        if method == "kmeans_pca":
            train, (mean, components) = pca(x_train, int(settings["pca_components"]))
            test = (np.asarray(x_test, "float64") - mean) @ components.T
        _, assign = kmeans(train, n_clusters, seed=seed, iterations=int(settings["kmeans_iterations"]))
        metrics = clustering_scores(y_test, assign(test))
        metrics["fit_time_s"] = round(time.perf_counter() - start, 3)
        return {"metrics": metrics}
    balance = 0.0 if method == "entropy_balance0" else float(settings["balance"])
    keras.utils.set_random_seed(seed)
    model = clustering_model(x_train.shape[1], n_clusters, settings["hidden_units"])
    model.compile(
        optimizer=keras.optimizers.Adam(float(settings["learning_rate"])),
        loss=SoftmaxEntropyLoss(beta=float(settings["beta"]), balance=balance),
    )
    history = model.fit(
        x_train, epochs=int(settings["epochs"]), batch_size=int(settings["batch_size"]),
        shuffle=True, verbose=verbose,
    ).history
    history = {name: [float(v) for v in values] for name, values in history.items()}
    metrics = clustering_scores(y_test, predict_clusters(model, x_test))
    final = history["loss"][-1] if history.get("loss") else math.nan
    metrics["final_loss"] = final if math.isfinite(final) else None
    metrics["fit_time_s"] = round(time.perf_counter() - start, 3)
    keras.backend.clear_session()
    return {"history": history, "metrics": metrics}


# ---------------------------------------------------------------------------
# Report.


def summarize_methods(records, metrics=("purity", "nmi"), group="method", confidence=0.95):
    """Mean and t-confidence interval of each metric per method.

    Args:
        records: sweep records (dicts with `config[group]` and `metrics`).
        metrics: metric names to summarise.
        group: the config key that names the method.
        confidence: level of the interval (`stats.t_confidence_interval`).

    Returns:
        dict `method -> {"n": runs, metric: (mean, low, high), ...}` in the
        order the methods first appear.
    """
    from keras_entropy.experiments.stats import t_confidence_interval

    values = {}
    for record in records:
        name = record["config"][group]
        values.setdefault(name, []).append(record.get("metrics") or {})
    out = {}
    for name, runs in values.items():
        row = {"n": len(runs)}
        for metric in metrics:
            sample = [r[metric] for r in runs if r.get(metric) is not None]
            row[metric] = t_confidence_interval(sample, confidence) if sample else (math.nan,) * 3
        out[name] = row
    return out


# ---------------------------------------------------------------------------
# The sweep and report of examples/unsupervised_clustering.py.


def clustering_sweep(data, settings, methods, dataset):
    """`(arrays, configs)` of the clustering sweep: `(x_train, x_test, y_test)` and one config per method.

    `settings`: train_size, test_size, hidden_units, beta, balance, epochs,
    batch_size (the networks), pca_components, kmeans_iterations (k-means).
    """
    from keras_entropy.experiments.autoencoder import fixed_config, flatten_images

    x_train = flatten_images(data.x_train[: settings["train_size"]])
    x_test = flatten_images(data.x_test[: settings["test_size"]])
    y_test = data.y_test[: settings["test_size"]]
    fixed = fixed_config("unsupervised_clustering", dataset, "embedded" if data.is_embedded else "full",
                         {"train_size": len(x_train), "test_size": len(x_test)}, CLUSTERING_PAPER, ("n_clusters",),
                         dtype_policy=False)
    values = {**CLUSTERING_PAPER, **settings, "hidden_units": list(settings["hidden_units"])}
    network = {name: values[name] for name in ("hidden_units", "beta", "balance", "epochs", "batch_size",
                                               "learning_rate")}
    network["dtype_policy"] = keras.config.dtype_policy().name
    baseline = {"pca_components": settings["pca_components"], "kmeans_iterations": settings["kmeans_iterations"]}
    configs = []
    for method in methods:
        extra = network if method.startswith("entropy") else baseline
        if method == "kmeans":
            extra = {"kmeans_iterations": baseline["kmeans_iterations"]}
        configs.append({"method": method, **fixed, **extra})
    return (x_train, x_test, y_test), configs


def plot_scores(summary, path):
    """Bar chart of purity and NMI per method (mean, 95% CI) from `summarize_methods`."""
    from matplotlib.figure import Figure

    names = list(summary)
    fig = Figure(figsize=(1.6 + 1.3 * len(names), 3.6), layout="constrained")
    ax = fig.subplots()
    x = np.arange(len(names))
    for offset, metric in ((-0.2, "purity"), (0.2, "nmi")):
        means = np.array([summary[n][metric][0] for n in names])
        lows = np.array([summary[n][metric][1] for n in names])
        highs = np.array([summary[n][metric][2] for n in names])
        err = np.where(np.isfinite(lows), [means - lows, highs - means], 0.0)
        ax.bar(x + offset, means, width=0.4, yerr=err, capsize=3, label=metric)
    ax.set_xticks(x, names, fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("score (mean, 95% CI)")
    ax.legend()
    fig.savefig(path, dpi=120)


def write_clustering_report(run, records, settings, dataset, command):
    """summary.md and scores.png of the clustering sweep; returns `(lines, summary_path)`."""
    from keras_entropy.experiments import script_setup
    from keras_entropy.experiments.reports import markdown_table
    from keras_entropy.experiments.stats import format_interval

    summary = summarize_methods(records)
    sizes = records[0]["config"] if records else {"train_size": 0, "test_size": 0}
    lines = script_setup.summary_header(f"Unsupervised clustering of {dataset} with the softmax entropy loss",
                                        run.note, command, inline=True) + [
        script_setup.runtime_line(run.info, run.data),
        f"Training inputs: {sizes['train_size']} images without labels; scored on {sizes['test_size']} held-out "
        "test images against their labels. Network: MLP "
        f"{settings['hidden_units']} -> 10, SoftmaxEntropyLoss(beta={settings['beta']}), "
        f"{settings['epochs']} epochs, batch {settings['batch_size']}.",
        "",
        "Mean and 95% t-confidence interval over replications (distinct seeds):",
        "",
    ]
    rows = []
    for method, row in summary.items():
        used = [r["metrics"]["clusters_used"] for r in records if r["config"]["method"] == method]
        rows.append([method, row["n"], format_interval(row["purity"]), format_interval(row["nmi"]),
                     f"{sum(used) / len(used):.1f}"])
    lines += markdown_table(["method", "runs", "purity", "NMI", "clusters used (mean)"], rows).splitlines()
    lines += [
        "",
        "Methods: `entropy`: SoftmaxEntropyLoss with the balance term; `entropy_balance0`: the same "
        "network with balance=0 (plain mean entropy, free to collapse into one cluster); `kmeans`: "
        "k-means (k=10) on the pixels; `kmeans_pca`: k-means on PCA features.",
        "",
        "![scores](scores.png)",
        "",
    ]
    path = script_setup.write_summary(run.out, lines)
    plot_scores(summary, run.path("scores.png"))
    return lines, path


__all__ = [
    "summarize_methods",
    "METHODS",
    "cluster_purity",
    "clustering_model",
    "clustering_run",
    "clustering_scores",
    "clustering_sweep",
    "contingency_matrix",
    "kmeans",
    "normalized_mutual_info",
    "pca",
    "plot_scores",
    "predict_clusters",
    "write_clustering_report",
]

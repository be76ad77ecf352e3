"""Unsupervised clustering with the softmax entropy loss (seed 000; MATH.md section 5).

A network maps each input to `n_clusters` outputs `X`; `SoftmaxEntropyLoss`
trains it without labels (`model.fit(x)`) so that every input's
`q = softmax(-beta X)` is confident while the batch-mean `<q>` stays uniform.
The predicted cluster of an input is `argmin(X)` (the largest `q`).

`examples/unsupervised_clustering.py` builds and trains that network; this
module holds the rest of the example (a run is scored against held-out
labels by `keras_entropy.experiments.clustering_scores`):

- the baselines: `kmeans` and `pca` (numpy), `kmeans_sklearn` (scikit-learn's),
  and `baseline_run(config, seed, data)`, one k-means run of a sweep
  (`keras_entropy.experiments.sweeps.run_sweep`);
- the example's sweep and report: `clustering_sweep`, `write_clustering_report`
  (summary.md, with `summarize_methods` and `method_comparisons`: one-tailed
  Welch t-tests, Benjamini-Hochberg adjusted over the table, differences with
  their Welch intervals) and `plot_scores` (scores.png).
"""

import math
import time

import keras
import numpy as np

from keras_entropy import validation
from keras_entropy.experiments.clustering_scores import clustering_scores
from keras_entropy.experiments.paper import CLUSTERING_PAPER

#: The methods of the example: the network trained with `SoftmaxEntropyLoss` (balance as set, and 0),
#: then the k-means baselines (`baseline_run`).
METHODS = ("entropy", "entropy_balance0", "kmeans", "kmeans_pca", "kmeans_sklearn")

#: The methods `baseline_run` runs.
BASELINES = tuple(m for m in METHODS if m.startswith("kmeans"))

#: k-means++ restarts of scikit-learn's KMeans ("kmeans_sklearn"; the best inertia is kept).
KMEANS_INITS = 10

#: The scores `clustering_scores` returns that the report tabulates, in table order.
SCORES = ("accuracy", "nmi", "purity")


# ---------------------------------------------------------------------------
# Baselines.


def _matrix(x, name="x", dtype="float64"):
    x = np.asarray(x, dtype=dtype)
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
    return np.sum(x * x, axis=1)[:, None] - 2.0 * x @ centers.T + np.sum(centers * centers, axis=1)[None, :]


def kmeans(x, n_clusters, seed=0, iterations=100, tol=1e-6):
    """k-means in numpy: one k-means++ seeding (drawn with `seed`), Lloyd iterations on `x` `(N, D)`.

    Stops after `iterations` or when the centres move less than `tol`
    (squared, summed). Returns `(centers, assign)`: the `(k, D)` centres, `k
    = n_clusters <= N`, and a function mapping `(M, D)` to nearest-centre labels.
    """
    x = _matrix(x)
    n_clusters = validation.validate_positive_int(n_clusters, "n_clusters")
    iterations = validation.validate_positive_int(iterations, "iterations")
    if n_clusters > len(x):
        raise ValueError(
            f"Argument `n_clusters` must be at most the number of points ({len(x)}). Received: n_clusters={n_clusters}"
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


def kmeans_sklearn(x, n_clusters, seed=0, iterations=300, inits=KMEANS_INITS):
    """scikit-learn's `KMeans` (k-means++, `inits` starts, best inertia kept): `(centers, assign)` as `kmeans`."""
    from sklearn.cluster import KMeans

    dtype = "float32" if np.asarray(x).dtype == np.float32 else "float64"  # float32 inputs stay float32: faster
    x = _matrix(x, dtype=dtype)
    n_clusters = validation.validate_positive_int(n_clusters, "n_clusters")
    model = KMeans(
        n_clusters,
        init="k-means++",
        n_init=validation.validate_positive_int(inits, "inits"),
        max_iter=validation.validate_positive_int(iterations, "iterations"),
        random_state=int(seed),
    ).fit(x)

    def assign(points):
        return model.predict(_matrix(points, "points", dtype))

    return model.cluster_centers_, assign


# ---------------------------------------------------------------------------
# One baseline run of a sweep.


def baseline_run(config, seed, data):
    """One k-means run of a sweep; returns the record's fields.

    Args:
        config: dict with `method` (one of `BASELINES`, see
            `METHOD_DESCRIPTIONS`) and optionally the keys of
            `paper.CLUSTERING_PAPER` and `kmeans_inits`. The method fits on
            the training inputs and assigns the test inputs to the nearest
            centre.
        seed: seeds k-means.
        data: `(x_train, x_test, y_test)`: float32 `(N, D)` inputs and the
            held-out labels of `x_test`, used only to score the clusters.

    Returns:
        dict with `metrics`: `clustering_scores` and `fit_time_s`.
    """
    if not isinstance(config, dict):
        raise TypeError(f"Argument `config` must be a dict. Received: config={config!r}")
    x_train, x_test, y_test = data
    settings = {**CLUSTERING_PAPER, **config}
    method = validation.validate_choice(settings.get("method"), "method", BASELINES)
    n_clusters, seed = int(settings["n_clusters"]), int(seed)
    start = time.perf_counter()
    train, test = x_train, x_test
    if method == "kmeans_pca":
        train, (mean, components) = pca(x_train, int(settings["pca_components"]))
        test = (np.asarray(x_test, "float64") - mean) @ components.T
    iterations, inits = int(settings["kmeans_iterations"]), int(settings.get("kmeans_inits") or KMEANS_INITS)
    if method == "kmeans_sklearn":
        _, assign = kmeans_sklearn(train, n_clusters, seed, iterations, inits)
    else:
        _, assign = kmeans(train, n_clusters, seed=seed, iterations=iterations)
    metrics = clustering_scores(y_test, assign(test))
    metrics["fit_time_s"] = round(time.perf_counter() - start, 3)
    return {"metrics": metrics}


# ---------------------------------------------------------------------------
# The sweep and report of examples/unsupervised_clustering.py.


def clustering_sweep(data, settings, methods, dataset):
    """`(arrays, configs)` of the clustering sweep: `(x_train, x_test, y_test)` and one config per method.

    `settings`: the example's (train_size, test_size, the networks', the
    k-means'). A config holds only its method's settings, so that a new
    setting leaves the keys of other methods' finished runs unchanged.
    """
    from keras_entropy.experiments.autoencoder import flat_sweep_data

    x_train, x_test, fixed = flat_sweep_data(
        data,
        settings,
        "unsupervised_clustering",
        dataset,
        CLUSTERING_PAPER,
        ("n_clusters",),
        test_size="test_size",
        dtype_policy=False,
    )
    y_test = data.y_test[: settings["test_size"]]
    values = {**CLUSTERING_PAPER, **settings, "hidden_units": list(settings["hidden_units"])}
    network = {
        name: values[name] for name in ("hidden_units", "beta", "balance", "epochs", "batch_size", "learning_rate")
    }
    network["dtype_policy"] = keras.config.dtype_policy().name
    configs = []
    for method in methods:
        extra = network if method.startswith("entropy") else {"kmeans_iterations": values["kmeans_iterations"]}
        if method == "kmeans_pca":
            extra = {**extra, "pca_components": values["pca_components"]}
        if method == "kmeans_sklearn":
            extra = {**extra, "kmeans_inits": values.get("kmeans_inits") or KMEANS_INITS}
        configs.append({"method": method, **fixed, **extra})
    return (x_train, x_test, y_test), configs


#: What each method is, in the report's words.
METHOD_DESCRIPTIONS = {
    "entropy": "the MLP trained with SoftmaxEntropyLoss(beta, balance)",
    "entropy_balance0": "the same MLP with balance=0 (plain mean entropy, free to collapse into one cluster)",
    "kmeans": "k-means (k=10; keras_entropy's numpy `kmeans`: k-means++ seeding, one start) on the pixels",
    "kmeans_pca": "the same k-means on PCA features",
    "kmeans_sklearn": "scikit-learn's KMeans (k=10, k-means++, best of `kmeans_inits` starts) on the pixels",
}

#: Names of the scores in tables and figures.
SCORE_NAMES = {"accuracy": "accuracy", "nmi": "NMI", "purity": "purity"}


def _by_method(records, group="method"):
    values = {}
    for record in records:
        values.setdefault(record["config"][group], []).append(record.get("metrics") or {})
    return values


def summarize_methods(records, metrics=SCORES, group="method", confidence=0.95):
    """Mean and t-confidence interval (`stats.t_confidence_interval`) of each metric per method.

    Returns:
        dict `method -> {"n": runs, metric: (mean, low, high), ...}` in the
        order the methods (`config[group]`) first appear in `records`.
    """
    from keras_entropy.experiments.stats import t_confidence_interval

    out = {}
    for name, runs in _by_method(records, group).items():
        out[name] = {"n": len(runs)}
        for metric in metrics:
            sample = [r[metric] for r in runs if r.get(metric) is not None]
            out[name][metric] = t_confidence_interval(sample, confidence) if sample else (math.nan,) * 3
    return out


def method_comparisons(records, treatment="entropy", metrics=SCORES, group="method"):
    """One-tailed Welch t-tests of `treatment` against every other method in `records`, metric by metric.

    Every p-value returned (both directions, every method and metric) is
    one family: `stats.adjust_pvalues` adjusts them together
    (Benjamini-Hochberg, which keeps the expected share of false
    discoveries among the significant ones at most alpha). The effect size
    is the difference of the means, treatment - other, with its 95% Welch
    interval (`stats.difference_interval`).

    Returns:
        list of dicts `{"baseline", "metric", **stats.improvement_test(other, treatment), "pvalue_worse",
        "pvalue_adjusted", "pvalue_worse_adjusted", "difference_low", "difference_high"}`: `pvalue`
        tests H1 "the treatment scores higher", `pvalue_worse` H1 "it scores
        lower", the `_adjusted` ones are their Benjamini-Hochberg adjusted
        values; empty when `treatment` has no records.
    """
    from keras_entropy.experiments.stats import adjust_pvalues, difference_interval, improvement_test

    values = _by_method(records, group)
    out = []
    for baseline in [name for name in values if name != treatment and treatment in values]:
        for metric in metrics:
            a, b = ([m.get(metric) for m in values[name]] for name in (baseline, treatment))
            worse = improvement_test(a, b, higher_is_better=False)["pvalue"]
            _, low, high = difference_interval(b, a)
            out.append(
                {
                    "baseline": baseline,
                    "metric": metric,
                    **improvement_test(a, b),
                    "pvalue_worse": worse,
                    "difference_low": low,
                    "difference_high": high,
                }
            )
    adjusted = adjust_pvalues([c[k] for c in out for k in ("pvalue", "pvalue_worse")])
    for i, c in enumerate(out):
        c["pvalue_adjusted"], c["pvalue_worse_adjusted"] = adjusted[2 * i], adjusted[2 * i + 1]
    return out


def plot_scores(summary, path, metrics=SCORES):
    """Bars of each metric per method (mean, 95% CI error bars; `summarize_methods`); legend above the axes."""
    from matplotlib.figure import Figure

    names = list(summary)
    fig = Figure(figsize=(2.2 + 1.4 * len(names), 4.0), layout="constrained")
    ax = fig.subplots()
    x, width = np.arange(len(names)), 0.8 / len(metrics)
    for i, metric in enumerate(metrics):
        means, lows, highs = (np.array([summary[n][metric][j] for n in names], dtype="float64") for j in range(3))
        err = np.where(np.isfinite(lows), [means - lows, highs - means], 0.0)
        ax.bar(
            x + (i - (len(metrics) - 1) / 2) * width,
            np.nan_to_num(means),
            width=width,
            yerr=err,
            capsize=3,
            label=SCORE_NAMES.get(metric, metric),
        )
    ax.set_xticks(x, [f"{n}\n(n={summary[n]['n']})" for n in names], fontsize=8)
    ax.set_xlabel("method (runs)")
    ax.set_ylim(0, 1)
    ax.set_ylabel("score on held-out test images\n(mean, 95% CI)")
    ax.grid(axis="y", alpha=0.3)
    fig.legend(loc="outside upper center", ncols=len(metrics), frameon=False)
    fig.savefig(path, dpi=120)


def _p(value, adjusted=None):
    """`0.00065` (raw), or `0.00065 (adj 0.0014 **)` with the adjusted p-value and its stars."""
    from keras_entropy.experiments.stats import stars

    def text(p):
        return f"{p:.2g}" if p >= 1e-4 else "<1e-4"

    if value is None or not math.isfinite(value):
        return "n/a"
    if adjusted is None:
        return text(value) + (f" {stars(value)}" if stars(value) else "")
    return f"{text(value)} (adj {text(adjusted)}" + (f" {stars(adjusted)}" if stars(adjusted) else "") + ")"


def _difference(c):
    """`-0.073 [-0.110, -0.036]`: the difference of the means with its 95% Welch interval."""
    if not math.isfinite(c["difference_low"]):
        return f"{c['difference']:+.3f}"
    return f"{c['difference']:+.3f} [{c['difference_low']:+.3f}, {c['difference_high']:+.3f}]"


def write_clustering_report(run, records, settings, dataset, command):
    """summary.md and scores.png of the clustering sweep; returns `(lines, summary_path)`."""
    from keras_entropy.experiments import script_setup
    from keras_entropy.experiments.analysis import markdown_table, run_header
    from keras_entropy.experiments.stats import format_interval

    summary = summarize_methods(records)
    sizes = records[0]["config"] if records else {"train_size": 0, "test_size": 0}
    lines = run_header(run, f"Unsupervised clustering of {dataset} with the softmax entropy loss", command) + [
        f"Training inputs: {sizes['train_size']} images without labels; scored on {sizes['test_size']} held-out "
        f"test images against their labels. Network: MLP {settings['hidden_units']} -> 10, SoftmaxEntropyLoss("
        f"beta={settings['beta']}, balance={settings['balance']}), Adam {CLUSTERING_PAPER['learning_rate']}, "
        f"{settings['epochs']} epochs, batch {settings['batch_size']}. k-means: at most "
        f"{settings['kmeans_iterations']} iterations; PCA: {settings['pca_components']} components; "
        f"scikit-learn: {settings.get('kmeans_inits') or KMEANS_INITS} starts. Seeds: "
        f"{', '.join(map(str, sorted({r['seed'] for r in records})))}.",
        "",
        "Accuracy: the share of test images labelled right under the best one-to-one map of clusters to "
        "digits (Hungarian matching); NMI: normalised mutual information (arithmetic mean); purity: the share "
        "of images in their cluster's majority digit. Mean and 95% t-confidence interval over replications "
        "(distinct seeds):",
        "",
    ]
    rows = []
    for method, runs in _by_method(records).items():
        times = [m["fit_time_s"] for m in runs if m.get("fit_time_s") is not None]
        rows.append(
            [
                method,
                len(runs),
                *(format_interval(summary[method][m]) for m in SCORES),
                f"{np.mean([m['clusters_used'] for m in runs]):.1f}",
                f"{np.mean(times):.0f}" if times else "n/a",
            ]
        )
    lines += markdown_table(
        ["method", "runs", *(SCORE_NAMES[m] for m in SCORES), "clusters used (mean)", "fit s/run"], rows
    ).splitlines()
    comparisons = method_comparisons(records)
    if comparisons:
        lines += [
            "",
            "One-tailed Welch t-tests of `entropy` against each other method: `p (better)` tests H1 "
            '"entropy scores higher", `p (worse)` H1 "entropy scores lower". The table is one family: '
            "each cell gives the raw p-value and the Benjamini-Hochberg adjusted one (`adj`, over all "
            f"{2 * len(comparisons)} p-values of the table; it controls the false discovery rate), and the "
            "stars are on the adjusted one (* p < 0.05, ** p < 0.01, *** p < 0.001). `difference`: "
            "entropy - other, the difference of the means with its 95% Welch confidence interval:",
            "",
        ]
        rows = [
            [
                f"entropy vs {c['baseline']}",
                SCORE_NAMES.get(c["metric"], c["metric"]),
                *(f"{c[k]:.3f}" for k in ("treatment_mean", "baseline_mean")),
                _difference(c),
                *(f"{c[k]:.2f}" if math.isfinite(c[k]) else "n/a" for k in ("statistic", "df")),
                _p(c["pvalue"], c["pvalue_adjusted"]),
                _p(c["pvalue_worse"], c["pvalue_worse_adjusted"]),
            ]
            for c in comparisons
        ]
        lines += markdown_table(
            ["comparison", "score", "entropy", "other", "difference [95% CI]", "t", "df", "p (better)", "p (worse)"],
            rows,
        ).splitlines()
    lines += [
        "",
        "Methods:",
        "",
        *(f"- `{m}`: {METHOD_DESCRIPTIONS.get(m, m)}" for m in summary),
        "",
        "![scores](scores.png)",
        "",
    ]
    path = script_setup.write_summary(run.out, lines)
    plot_scores(summary, run.path("scores.png"))
    return lines, path


__all__ = [
    "BASELINES",
    "KMEANS_INITS",
    "METHODS",
    "METHOD_DESCRIPTIONS",
    "SCORES",
    "SCORE_NAMES",
    "baseline_run",
    "clustering_sweep",
    "kmeans",
    "kmeans_sklearn",
    "method_comparisons",
    "pca",
    "plot_scores",
    "summarize_methods",
    "write_clustering_report",
]

"""Unsupervised clustering of MNIST with the softmax entropy loss (seed 000).

An MLP with 10 linear outputs is trained on the training images alone
(`model.fit(x)`, no labels) with `SoftmaxEntropyLoss(beta, balance)`: each
image's `softmax(-beta X)` should be confident while the batch-mean
distribution stays uniform. The predicted cluster is `argmin X`. Cluster
purity and normalised mutual information (NMI) are measured against the
held-out test labels and compared with baselines: the same network with
balance=0 (plain mean entropy), k-means on the pixels and k-means on PCA
features. Every method is replicated with distinct seeds; summary.md gives
the mean and the 95% t-confidence interval per method.

    python examples/unsupervised_clustering.py --quick          # a minute on a CPU
    python examples/unsupervised_clustering.py --data-dir ~/data/mnist   # the four MNIST IDX .gz files

MNIST: tensorflow-datasets' `mnist` (prepared in ~/tensorflow_datasets or
$TFDS_DATA_DIR; downloaded there with --download, the default except with
--quick), or --data-dir DIR
with DIR any folder holding the four IDX files train-images-idx3-ubyte.gz,
train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and
t10k-labels-idx1-ubyte.gz. --quick without either uses the MNIST subset
embedded in the package, and says so.

Results (results.jsonl), a bar chart (scores.png) and summary.md go to
--out. Re-running the same command skips finished runs.
"""

import os
import sys


os.environ["KERAS_ENTROPY_DEFER_IMPORTS"] = "1"  # --help answers before Keras starts
from keras_entropy import script_setup  # noqa: E402

del os.environ["KERAS_ENTROPY_DEFER_IMPORTS"]  # only for this import, not for child processes

QUICK = {
    "train_size": 2000,
    "test_size": 1000,
    "epochs": 3,
    "hidden_units": [128],
    "replications": 2,
    "pca_components": 20,
    "kmeans_iterations": 30,
}


def parse_args(argv=None):
    parser = script_setup.parser_for(__doc__)
    script_setup.add_common_arguments(
        parser, ["mnist"], "mnist", dataset_help="only MNIST (default)",
        data_dir_help="local copy: a folder with the MNIST IDX .gz files, or a tensorflow-datasets data directory",
        out_help="folder for results.jsonl, scores.png and summary.md (default: runs/unsupervised_clustering[_quick])",
        quick_help=f"tiny CPU run: {QUICK}; uses the embedded MNIST subset when no local "
        "or prepared tensorflow-datasets copy is found",
        replications_help="runs per method, distinct seeds (default 10)",
        download_what="MNIST",
        report_only=False,
    )
    parser.add_argument("--methods", nargs="+", default=None,
                        help="subset of: entropy entropy_balance0 kmeans kmeans_pca (default: all)")
    parser.add_argument("--epochs", type=int, help="training epochs of the network (default 30)")
    parser.add_argument("--beta", type=float, help="inverse temperature of the loss (default 1)")
    parser.add_argument("--balance", type=float, help="weight of the uniform-marginal term (default 1)")
    parser.add_argument("--hidden-units", type=int, nargs="*", help="hidden layer widths (default 512 256)")
    parser.add_argument("--batch-size", type=int, help="default 256 (the balance term is a batch statistic)")
    parser.add_argument("--train-size", type=int, help="use the first N training images (default: all)")
    parser.add_argument("--test-size", type=int, help="score on the first N test images (default: all)")
    args = parser.parse_args(argv)
    methods = ("entropy", "entropy_balance0", "kmeans", "kmeans_pca")  # keras_entropy.clustering.METHODS
    unknown = [m for m in args.methods or [] if m not in methods]
    if unknown:
        parser.error(f"--methods {' '.join(unknown)}: unknown; choose from {' '.join(methods)}")
    return args


def main(argv=None):
    args = parse_args(argv)
    script_setup.prepare(args, [args.dataset])  # checks --data-dir, starts Keras quietly
    import keras

    from keras_entropy import clustering, experiments, sweeps

    base = dict(clustering.CLUSTERING_PAPER, train_size=None, test_size=None)
    if args.quick:
        base.update(QUICK)
    methods = args.methods or list(clustering.METHODS)
    settings = {
        "replications": args.replications or base["replications"],
        "epochs": args.epochs or base["epochs"],
        "beta": args.beta if args.beta is not None else base["beta"],
        "balance": args.balance if args.balance is not None else base["balance"],
        "hidden_units": args.hidden_units if args.hidden_units is not None else base["hidden_units"],
        "batch_size": args.batch_size or base["batch_size"],
        "train_size": args.train_size or base["train_size"],
        "test_size": args.test_size or base["test_size"],
    }
    info = script_setup.announce_runtime(args)
    data, _, note = script_setup.load_data_for(
        args, embedded_note=script_setup.EMBEDDED_MNIST_NOTE.format(target="full experiment"))
    out, results_path = script_setup.output_dir(args, "unsupervised_clustering")

    x_train = experiments.flatten_images(data.x_train[: settings["train_size"]])
    x_test = experiments.flatten_images(data.x_test[: settings["test_size"]])
    y_test = data.y_test[: settings["test_size"]]
    fixed = {
        "experiment": "unsupervised_clustering",
        "dataset": args.dataset,
        "data_source": "embedded" if data.is_embedded else "full",
        "train_size": len(x_train),
        "test_size": len(x_test),
        "n_clusters": 10,
    }
    network = {
        "hidden_units": list(settings["hidden_units"]),
        "beta": settings["beta"],
        "balance": settings["balance"],
        "epochs": settings["epochs"],
        "batch_size": settings["batch_size"],
        "learning_rate": clustering.CLUSTERING_PAPER["learning_rate"],
        "dtype_policy": keras.config.dtype_policy().name,
    }
    baseline = {
        "pca_components": QUICK["pca_components"] if args.quick else clustering.CLUSTERING_PAPER["pca_components"],
        "kmeans_iterations": base["kmeans_iterations"],
    }
    configs = []
    for method in methods:
        extra = network if method.startswith("entropy") else baseline
        if method == "kmeans":
            extra = {"kmeans_iterations": baseline["kmeans_iterations"]}
        configs.append({"method": method, **fixed, **extra})
    keys = [run["key"] for run in sweeps.plan_runs(configs, settings["replications"], args.seed)]
    sweeps.run_sweep(
        lambda config, seed: clustering.clustering_run(config, seed, (x_train, x_test, y_test),
                                                       verbose=args.verbose),
        configs, settings["replications"], results_path, seed=args.seed, show=("purity", "nmi"),
    )

    records = [r for r in sweeps.ResultsFile(results_path).records() if r["key"] in set(keys)]
    summary = clustering.summarize_methods(records)
    lines = [f"# Unsupervised clustering of {args.dataset} with the softmax entropy loss", ""]
    if note:
        lines += [f"**Note:** {note}", ""]
    command = "python " + " ".join([os.path.relpath(__file__)] + (sys.argv[1:] if argv is None else list(argv)))
    lines += [
        f"Command: `{command}`",
        "",
        f"Backend {info['backend']} on {', '.join(info['devices'])}; data: {data.describe()}.",
        f"Training inputs: {len(x_train)} images without labels; scored on {len(x_test)} held-out test "
        "images against their labels. Network: MLP "
        f"{settings['hidden_units']} -> 10, SoftmaxEntropyLoss(beta={settings['beta']}), "
        f"{settings['epochs']} epochs, batch {settings['batch_size']}.",
        "",
        "Mean and 95% t-confidence interval over replications (distinct seeds):",
        "",
        "| method | runs | purity | NMI | clusters used (mean) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for method, row in summary.items():
        used = [r["metrics"]["clusters_used"] for r in records if r["config"]["method"] == method]
        lines.append(
            f"| {method} | {row['n']} | {clustering.format_interval(row['purity'])} | "
            f"{clustering.format_interval(row['nmi'])} | {sum(used) / len(used):.1f} |"
        )
    lines += [
        "",
        "Methods: `entropy`: SoftmaxEntropyLoss with the balance term; `entropy_balance0`: the same "
        "network with balance=0 (plain mean entropy, free to collapse into one cluster); `kmeans`: "
        "k-means (k=10) on the pixels; `kmeans_pca`: k-means on PCA features.",
        "",
        "![scores](scores.png)",
        "",
    ]
    text = "\n".join(lines)
    with open(os.path.join(out, "summary.md"), "w", encoding="utf-8") as f:
        f.write(text)
    _plot(summary, os.path.join(out, "scores.png"))
    print(f"\nwrote {results_path}, scores.png and {os.path.join(out, 'summary.md')}\n")
    print("\n".join(line for line in lines if line.startswith("|")))
    return 0


def _plot(summary, path):
    import numpy as np
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


if __name__ == "__main__":
    sys.exit(script_setup.run(main))

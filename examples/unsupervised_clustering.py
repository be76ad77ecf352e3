"""Unsupervised clustering of MNIST with the softmax entropy loss (seed 000).

An MLP with 10 linear outputs is trained on the training images alone
(`model.fit(x)`, no labels) with `SoftmaxEntropyLoss(beta, balance)`: each
image's `softmax(-beta X)` should be confident while the batch-mean
distribution stays uniform. The predicted cluster is `argmin X`. Clustering
accuracy (the best one-to-one map of clusters to digits, Hungarian
matching), normalised mutual information (NMI) and cluster purity are
measured against the held-out test labels and compared with baselines: the
same network with balance=0 (plain mean entropy), k-means on the pixels and
on PCA features, and scikit-learn's KMeans on the pixels. Every method is
replicated with distinct seeds; summary.md gives the mean and the 95%
t-confidence interval per method and one-tailed t-tests of the entropy loss
against each baseline (raw and Benjamini-Hochberg adjusted p-values, and the
difference of the means with its Welch interval).

    python examples/unsupervised_clustering.py --quick          # a minute on a CPU
    python examples/unsupervised_clustering.py --data-dir ~/data/mnist   # the four MNIST IDX .gz files

Results (results.jsonl), a bar chart (scores.png) and summary.md go to
--out. Re-running the same command skips finished runs; --report-only
rewrites summary.md and scores.png from results.jsonl without training.
"""

import os
import sys

os.environ["KERAS_ENTROPY_DEFER_IMPORTS"] = "1"  # --help answers before Keras starts (script_setup unsets it)
from keras_entropy.experiments import arguments, paper, script_setup  # noqa: E402
from keras_entropy.experiments.arguments import Setting  # noqa: E402

#: The methods compared (keras_entropy.experiments.clustering.METHODS).
METHODS = ("entropy", "entropy_balance0", "kmeans", "kmeans_pca", "kmeans_sklearn")

#: The sweep's settings: option, help, --quick value (the paper's: paper.CLUSTERING_PAPER).
SETTINGS = {
    "replications": arguments.replications_setting("method", 10, quick=2, default="default"),
    "epochs": Setting("training epochs of the network (default 30)", minimum=1, quick=3),
    "beta": Setting("inverse temperature of the loss (default 1)", float),
    "balance": Setting("weight of the uniform-marginal term (default 1)", float),
    "hidden_units": Setting("hidden layer widths (default 512 256)", nargs="*", minimum=1, quick=[128]),
    "batch_size": Setting("default 256 (the balance term is a batch statistic)", minimum=1),
    "train_size": arguments.size_setting(arguments.TRAIN_SIZE_HELP, quick=2000),
    "test_size": arguments.size_setting("score on the first N test images (default: all)", quick=1000),
    "pca_components": Setting(quick=20),
    "kmeans_iterations": Setting(quick=30),
    "kmeans_inits": Setting("k-means++ starts of scikit-learn's KMeans, best kept (default 10)", minimum=1, quick=3),
}


def parse_args(argv=None):
    parser = arguments.parser_for(__doc__)
    arguments.add_common_arguments(
        parser,
        ["mnist"],
        "mnist",
        settings=SETTINGS,
        run_name="unsupervised_clustering",
        writes="scores.png",
    )
    parser.add_argument("--methods", nargs="+", default=None, help=f"subset of: {' '.join(METHODS)} (default: all)")
    args = parser.parse_args(argv)
    unknown = [m for m in args.methods or [] if m not in METHODS]
    if unknown:
        parser.error(f"--methods {' '.join(unknown)}: unknown; choose from {' '.join(METHODS)}")
    return args


def main(argv=None):
    args = parse_args(argv)
    script_setup.prepare(args, [args.dataset])  # checks --data-dir, starts Keras quietly
    from keras_entropy.experiments import clustering

    settings = arguments.settings_for(args, paper.CLUSTERING_PAPER, SETTINGS)
    run = script_setup.start(args, "unsupervised_clustering")
    arrays, configs = clustering.clustering_sweep(run.data, settings, args.methods or METHODS, args.dataset)
    records = run.sweep(
        lambda config, seed: clustering.clustering_run(config, seed, arrays, verbose=args.verbose),
        configs,
        settings["replications"],
        show=("accuracy", "nmi", "purity"),
        skip=args.report_only,
    )
    lines, summary = clustering.write_clustering_report(
        run, records, settings, args.dataset, script_setup.command_line(__file__, argv)
    )
    run.report(summary, lines, "scores.png")
    return 0


if __name__ == "__main__":
    sys.exit(script_setup.run(main))

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


SETTINGS = ("replications", "epochs", "beta", "balance", "hidden_units", "batch_size", "train_size", "test_size",
            "pca_components", "kmeans_iterations")


def main(argv=None):
    args = parse_args(argv)
    script_setup.prepare(args, [args.dataset])  # checks --data-dir, starts Keras quietly
    from keras_entropy import clustering

    settings = script_setup.settings_for(args, clustering.CLUSTERING_PAPER, QUICK, SETTINGS,
                                         train_size=None, test_size=None)
    run = script_setup.start(args, "unsupervised_clustering",
                             embedded_note=script_setup.EMBEDDED_MNIST_NOTE.format(target="full experiment"))
    arrays, configs = clustering.clustering_sweep(run.data, settings, args.methods or clustering.METHODS,
                                                  args.dataset)
    records = run.sweep(
        lambda config, seed: clustering.clustering_run(config, seed, arrays, verbose=args.verbose),
        configs, settings["replications"], show=("purity", "nmi"))
    lines, summary = clustering.write_clustering_report(
        run, records, settings, args.dataset, script_setup.command_line(__file__, argv))
    print(f"\nwrote {run.results_path}, scores.png and {summary}\n")
    print("\n".join(line for line in lines if line.startswith("|")))
    return 0


if __name__ == "__main__":
    sys.exit(script_setup.run(main))

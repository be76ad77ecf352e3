"""Ng's sparse autoencoder on MNIST with the KL sparsity penalty (seed 003).

784 -> 196 sigmoid hidden units -> 784 sigmoid outputs, trained on Ng's
objective: half the squared reconstruction error, L2 weight decay
(lambda = 3e-3) and `KLSparsity(rho=0.05, beta=3)` on the hidden activations,
against the same network without the penalty (beta = 0). Reports, per beta,
the mean hidden activation (vs the target rho), the reconstruction MSE per
pixel on the test images, and saves the learned features (the encoder's
weight columns as 28x28 tiles) as PNG grids.

    python examples/sparse_autoencoder.py --quick        # under a minute on a CPU
    python examples/sparse_autoencoder.py --data-dir ~/data/mnist   # the four MNIST IDX .gz files

MNIST: tensorflow-datasets' `mnist` (prepared in ~/tensorflow_datasets or
$TFDS_DATA_DIR; downloaded there with --download, the default except with
--quick), or --data-dir DIR
with DIR any folder holding the four IDX files train-images-idx3-ubyte.gz,
train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and
t10k-labels-idx1-ubyte.gz. --quick without either uses the MNIST subset
embedded in the package, and says so.

Results (results.jsonl), features_beta*.png and summary.md go to --out.
Re-running the same command skips finished runs.
"""

import os
import sys


os.environ["KERAS_ENTROPY_DEFER_IMPORTS"] = "1"  # --help answers before Keras starts
from keras_entropy import script_setup  # noqa: E402

del os.environ["KERAS_ENTROPY_DEFER_IMPORTS"]  # only for this import, not for child processes

QUICK = {
    "train_size": 2000,
    "val_size": 500,
    "epochs": 10,
    "replications": 1,
    "hidden_units": 64,
    "batch_size": 100,
    "learning_rate": 5e-3,
}


def parse_args(argv=None):
    parser = script_setup.parser_for(__doc__)
    script_setup.add_common_arguments(
        parser, ["mnist"], "mnist", dataset_help="only MNIST (default)",
        data_dir_help="local copy: a folder with the MNIST IDX .gz files, or a tensorflow-datasets data directory",
        out_help="folder for results.jsonl, feature PNGs and summary.md (default: runs/sparse_autoencoder[_quick])",
        quick_help=f"tiny CPU run: {QUICK}; uses the embedded MNIST subset when no local "
        "or prepared tensorflow-datasets copy is found",
        replications_help="runs per beta, distinct seeds (default 3)",
        download_what="MNIST",
        report_only=False,
    )
    parser.add_argument("--betas", type=float, nargs="+", help="sparsity strengths, 0 = no penalty (default 0 3)")
    parser.add_argument("--rho", type=float, help="target mean activation (default 0.05)")
    parser.add_argument("--hidden-units", type=int, help="hidden units (default 196)")
    parser.add_argument("--weight-decay", type=float, help="lambda of (lambda/2) sum W^2 (default 3e-3)")
    parser.add_argument("--epochs", type=int, help="default 50")
    parser.add_argument("--batch-size", type=int, help="default 256")
    parser.add_argument("--learning-rate", type=float, help="Adam learning rate (default 1e-3)")
    parser.add_argument("--train-size", type=int, help="use the first N training images (default: all)")
    parser.add_argument("--val-size", type=int, help="evaluate on the first N test images (default: all)")
    return parser.parse_args(argv)


SETTINGS = ("betas", "rho", "hidden_units", "weight_decay", "epochs", "batch_size", "learning_rate", "replications",
            "train_size", "val_size")


def main(argv=None):
    args = parse_args(argv)
    script_setup.prepare(args, [args.dataset])  # checks --data-dir, starts Keras quietly
    from keras_entropy import sparse_coding

    settings = script_setup.settings_for(args, sparse_coding.SPARSE_AUTOENCODER_PAPER, QUICK, SETTINGS,
                                         train_size=None, val_size=None)
    run = script_setup.start(args, "sparse_autoencoder",
                             embedded_note=script_setup.EMBEDDED_MNIST_NOTE.format(target="full experiment"))
    arrays, configs = sparse_coding.sparse_autoencoder_sweep(run.data, settings, args.dataset)

    def train(config, seed):  # the feature grid of the first replication
        path = run.path(sparse_coding.features_file(config["beta"])) if seed == args.seed else None
        return sparse_coding.sparse_autoencoder_run(config, seed, arrays, features_path=path, verbose=args.verbose)

    records = run.sweep(train, configs, settings["replications"], show=("mean_activation", "val_mse"))
    lines, summary = sparse_coding.write_sparse_autoencoder_report(
        run, records, configs, settings, args.dataset, script_setup.command_line(__file__, argv))
    print(f"\nwrote {run.results_path}, feature grids and {summary}\n")
    print("\n".join(line for line in lines if line.startswith("|")))
    return 0


if __name__ == "__main__":
    sys.exit(script_setup.run(main))

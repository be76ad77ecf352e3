"""Dense autoencoders with the dense entropy loss (paper section 5.2, Figures 3-6).

One dense sigmoid hidden layer of width 20, 60, ..., 260, a sigmoid
reconstruction layer, Adam and MSE, `DenseEntropy(lam)` on the first kernel,
for a grid of lambdas including 0, 10 replications each; early stopping
after 7 epochs without improvement. Each run records both the total
validation loss (MSE + penalty, Keras's default monitor) and the validation
MSE per epoch, and trains until both have stopped, so the report gives the
stopping epoch under each monitor.

    python examples/dense_autoencoder.py --quick              # minutes on a CPU
    python examples/dense_autoencoder.py --data-dir ~/data/mnist   # the four MNIST IDX .gz files
    python examples/dense_autoencoder.py --dataset cifar10    # via tensorflow-datasets

MNIST: tensorflow-datasets' `mnist` (prepared in ~/tensorflow_datasets or
$TFDS_DATA_DIR; downloaded there with --download, the default except with
--quick), or --data-dir DIR
with DIR any folder holding the four IDX files train-images-idx3-ubyte.gz,
train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and
t10k-labels-idx1-ubyte.gz. --quick without either uses the MNIST subset
embedded in the package, and says so.

Results (results.jsonl), plots and summary.md go to --out. Re-running the
same command skips finished runs; --report-only rewrites the report from the
results file without training.
"""

import os
import sys


os.environ["KERAS_ENTROPY_DEFER_IMPORTS"] = "1"  # --help answers before Keras starts
from keras_entropy import script_setup  # noqa: E402

del os.environ["KERAS_ENTROPY_DEFER_IMPORTS"]  # only for this import, not for child processes

QUICK = {
    "latent_dims": [20, 140, 260],
    "lams": [0.0, 1e-3, 1e-1],
    "replications": 3,
    "max_epochs": 15,
    "patience": 3,
    "train_size": 3000,
    "val_size": 500,
}


def parse_args(argv=None):
    parser = script_setup.parser_for(__doc__)
    script_setup.add_common_arguments(
        parser, ["mnist", "cifar10"], "mnist",
        data_dir_help="local copy of the data set (MNIST: folder with the IDX .gz files; "
        "otherwise a tensorflow-datasets data directory)",
        out_help="folder for results.jsonl, plots and summary.md (default: runs/dense_autoencoder_DATASET[_quick])",
        quick_help=f"tiny CPU run: {QUICK}; uses the embedded MNIST subset when no "
        "local copy or prepared tensorflow-datasets copy is found",
        replications_help="runs per cell, distinct seeds (paper: 10)",
    )
    parser.add_argument("--latent-dims", type=int, nargs="+", help="latent widths (paper: 20 60 ... 260)")
    parser.add_argument("--lams", type=float, nargs="+", help="entropy loss strengths, include 0 for the baseline")
    parser.add_argument("--max-epochs", type=int, help="epoch cap of each run (default 200)")
    parser.add_argument("--patience", type=int, help="early-stopping patience (paper: 7)")
    parser.add_argument("--batch-size", type=int, default=None, help="default 128")
    parser.add_argument("--train-size", type=int, help="use the first N training images (default: all)")
    parser.add_argument("--val-size", type=int, help="use the first N test images for validation (default: all)")
    parser.add_argument("--monitor", choices=["val_loss", "val_mse"], default="val_loss",
                        help="the run's early-stopping monitor (the other one is recorded too)")
    parser.add_argument("--stop-when", choices=["all", "first"], default="all",
                        help="'all': train until both monitors stopped (default); 'first': stop on --monitor")
    return parser.parse_args(argv)


SETTINGS = ("latent_dims", "lams", "replications", "max_epochs", "patience", "batch_size", "train_size", "val_size")


def main(argv=None):
    args = parse_args(argv)
    script_setup.prepare(args, [args.dataset])  # checks --data-dir, starts Keras quietly
    from keras_entropy import experiments

    settings = script_setup.settings_for(args, experiments.DENSE_AUTOENCODER_PAPER, QUICK, SETTINGS,
                                         train_size=None, val_size=None)
    run = script_setup.start(
        args, f"dense_autoencoder_{args.dataset}",
        embedded_note=script_setup.EMBEDDED_MNIST_NOTE.format(target="paper's experiment"))
    arrays, configs = experiments.dense_autoencoder_sweep(run.data, settings, args.dataset, args.monitor,
                                                          args.stop_when)
    run.sweep(lambda config, seed: experiments.dense_autoencoder_run(config, seed, arrays, verbose=args.verbose),
              configs, settings["replications"], show=("val_mse", "val_loss"), skip=args.report_only)
    summary = experiments.write_dense_autoencoder_report(run, args.dataset, script_setup.command_line(__file__, argv))
    print(f"\nwrote {run.results_path}, plots and {run.path('summary.md')}\n")
    print(summary.table)
    return 0


if __name__ == "__main__":
    sys.exit(script_setup.run(main))

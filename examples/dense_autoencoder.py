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


def main(argv=None):
    args = parse_args(argv)
    script_setup.prepare(args, [args.dataset])  # checks --data-dir, starts Keras quietly
    import keras

    from keras_entropy import experiments, sweeps

    paper = experiments.DENSE_AUTOENCODER_PAPER
    base = dict(paper, train_size=None, val_size=None)
    if args.quick:
        base.update(QUICK)
    settings = {
        "latent_dims": args.latent_dims or base["latent_dims"],
        "lams": args.lams if args.lams is not None else base["lams"],
        "replications": args.replications or base["replications"],
        "max_epochs": args.max_epochs or base["max_epochs"],
        "patience": args.patience if args.patience is not None else base["patience"],
        "batch_size": args.batch_size or base["batch_size"],
        "train_size": args.train_size or base["train_size"],
        "val_size": args.val_size or base["val_size"],
    }
    script_setup.announce_runtime(args)
    data, _, note = script_setup.load_data_for(
        args, embedded_note=script_setup.EMBEDDED_MNIST_NOTE.format(target="paper's experiment"))
    out, results_path = script_setup.output_dir(args, f"dense_autoencoder_{args.dataset}")

    x_train = experiments.flatten_images(data.x_train[: settings["train_size"]])
    x_val = experiments.flatten_images(data.x_test[: settings["val_size"]])
    configs = sweeps.expand_grid(
        {"latent_dim": settings["latent_dims"], "lam": settings["lams"]},
        fixed={
            "experiment": "dense_autoencoder",
            "dataset": args.dataset,
            "data_source": "embedded" if data.is_embedded else "full",
            "train_size": len(x_train),
            "val_size": len(x_val),
            "patience": settings["patience"],
            "max_epochs": settings["max_epochs"],
            "batch_size": settings["batch_size"],
            "learning_rate": paper["learning_rate"],
            "monitor": args.monitor,
            "stop_when": args.stop_when,
            "dtype_policy": keras.config.dtype_policy().name,
        },
    )
    keys = [run["key"] for run in sweeps.plan_runs(configs, settings["replications"], args.seed)]
    if not args.report_only:
        sweeps.run_sweep(
            lambda config, seed: experiments.dense_autoencoder_run(
                config, seed, (x_train, x_val), verbose=args.verbose),
            configs, settings["replications"], results_path, seed=args.seed,
            show=("val_mse", "val_loss"),
        )
    from keras_entropy import reports

    title = f"Dense autoencoder on {args.dataset}" + (" (embedded subset, --quick)" if data.is_embedded else "")
    summary = reports.write_report(
        results_path, out, keys=keys, x="latent_dim", group="lam", metric="val_mse",
        monitors=list(experiments.DENSE_AUTOENCODER_MONITORS), title=title, note=note,
        command="python " + " ".join([os.path.relpath(__file__)] + (sys.argv[1:] if argv is None else list(argv))),
    )
    print(f"\nwrote {results_path}, plots and {os.path.join(out, 'summary.md')}\n")
    print(summary.table)
    return 0


if __name__ == "__main__":
    sys.exit(script_setup.run(main))

"""Dense autoencoders with the dense entropy loss (paper section 5.2, Figures 3-6).

The data: MNIST (or CIFAR-10) images as vectors in [0, 1]. The model: one
dense sigmoid hidden layer of width 20, 60, ..., 260 with
`kernel_regularizer=ke.DenseEntropy(lam, form=...)` on its kernel, a sigmoid
reconstruction layer, Adam and MSE, for a grid of lambdas including 0 (no
penalty), 10 replications each; early stopping after 7 epochs without
improvement. Each run records both the total validation loss (MSE + penalty,
Keras's default monitor) and the validation MSE per epoch, and trains until
both have stopped, so the report gives the stopping epoch under each monitor.
--form picks the penalty's form (the paper's by default; volume and
normalized: MATH.md sections 8-10); --forms runs several side by side, with
one shared lambda = 0 baseline and one report per form. The paper's grid is
490 runs (the real-MNIST runs in docs/results took 2-3 minutes per 60 epochs
each on a 2-core CPU); --quick (27 small runs on 3000 images) took 5 minutes.

    python examples/dense_autoencoder.py --quick              # 5 minutes on a 2-core CPU
    python examples/dense_autoencoder.py --data-dir ~/data/mnist   # the four MNIST IDX .gz files
    python examples/dense_autoencoder.py --dataset cifar10    # via tensorflow-datasets
    python examples/dense_autoencoder.py --quick --forms paper volume normalized

Results (results.jsonl), plots and summary.md go to --out. Re-running the
same command skips finished runs; --report-only rewrites the report from the
results file without training.

Data: tensorflow-datasets' copy (prepared in ~/tensorflow_datasets or
$TFDS_DATA_DIR; downloaded there with --download, the default except with
--quick), or --data-dir DIR with DIR a tensorflow-datasets data directory in
which `mnist` or `cifar10` is prepared (for MNIST also: a folder holding the
four IDX files train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,
t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz).
"""

import argparse
import sys

#: The paper's settings (keras_entropy.experiments.paper.DENSE_AUTOENCODER_PAPER; learning rate 1e-3).
DEFAULTS = {
    "latent_dims": [20, 60, 100, 140, 180, 220, 260],
    "lams": [0.0, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0],
    "replications": 10,
    "max_epochs": 200,
    "patience": 7,
    "batch_size": 128,
    "train_size": None,  # all
    "val_size": None,
}
#: --quick: a tiny CPU run.
QUICK = {
    "latent_dims": [20, 140, 260],
    "lams": [0.0, 1e-3, 1e-1],
    "replications": 3,
    "max_epochs": 15,
    "patience": 3,
    "train_size": 3000,
    "val_size": 500,
}
#: The smallest value of each numeric flag.
MINIMUM = {
    "latent_dims": 1,
    "replications": 1,
    "max_epochs": 1,
    "patience": 0,
    "batch_size": 1,
    "train_size": 1,
    "val_size": 1,
}
FORMS = ("paper", "volume", "normalized")
FORM_NAMES = (
    "paper (the paper's formulas), volume (the log-volume the whole kernel maps) or normalized "
    "(that volume less its scale part); MATH.md sections 8-10"
)


def penalty_form(text):
    """The type of --form and --forms: a name of FORMS."""
    if text not in FORMS:
        raise argparse.ArgumentTypeError(f"must be one of {', '.join(FORMS)}, got {text!r}")
    return text


def parse_args(argv=None):
    """The command line, parsed with the standard library alone: --help answers before Keras starts."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=["mnist", "cifar10"], default="mnist")
    parser.add_argument(
        "--data-dir", help="local copy: a folder with the MNIST IDX .gz files, or a tensorflow-datasets data directory"
    )
    parser.add_argument(
        "--out",
        help="folder for results.jsonl, plots and summary.md (default: runs/dense_autoencoder_DATASET[_quick])",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"tiny CPU run: {QUICK}; uses the embedded MNIST subset when no local or prepared "
        "tensorflow-datasets copy is found",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the first replication")
    parser.add_argument("--mixed-precision", action="store_true", help="train with mixed_float16")
    parser.add_argument(
        "--download",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="let tensorflow-datasets download the data set (default: yes, except with --quick)",
    )
    parser.add_argument("--report-only", action="store_true", help="rewrite plots and summary from the results file")
    parser.add_argument(
        "--verbose",
        type=int,
        nargs="?",
        const=2,
        default=0,
        choices=[0, 1, 2],
        help="Keras fit verbosity: 0 (default) prints a progress bar per sweep and one line per finished run; "
        "--verbose or --verbose 2 adds one line per epoch, --verbose 1 Keras's progress bars; any non-zero "
        "value also keeps TensorFlow's start-up logs",
    )
    parser.add_argument("--latent-dims", type=int, nargs="+", help="latent widths (paper: 20 60 ... 260)")
    parser.add_argument(
        "--lams",
        type=float,
        nargs="+",
        help="entropy loss strengths, include 0 for the baseline (paper: 0 0.0001 0.001 0.01 0.1 1 10)",
    )
    parser.add_argument(
        "--form",
        type=penalty_form,
        metavar="FORM",
        help=f"the entropy change the penalty takes: {FORM_NAMES}; default paper",
    )
    parser.add_argument("--replications", type=int, help="runs per cell, distinct seeds (paper: 10)")
    parser.add_argument("--max-epochs", type=int, help="epoch cap of each run (default 200)")
    parser.add_argument("--patience", type=int, help="early-stopping patience (paper: 7)")
    parser.add_argument("--batch-size", type=int, help="default 128")
    parser.add_argument("--train-size", type=int, help="use the first N training images (default: all)")
    parser.add_argument("--val-size", type=int, help="use the first N test images for validation (default: all)")
    parser.add_argument(
        "--forms",
        type=penalty_form,
        nargs="+",
        metavar="FORM",
        help="penalty forms to run side by side (instead of --form): one shared lam=0 baseline, results and "
        f"a report per form; each one of {FORM_NAMES}",
    )
    parser.add_argument(
        "--monitor",
        choices=["val_loss", "val_mse"],
        default="val_loss",
        help="the run's early-stopping monitor (the other one is recorded too)",
    )
    parser.add_argument(
        "--stop-when",
        choices=["all", "first"],
        default="all",
        help="'all': train until both monitors stopped (default); 'first': stop on --monitor",
    )
    args = parser.parse_args(argv)
    for name, minimum in MINIMUM.items():
        values = getattr(args, name)
        for value in values if isinstance(values, list) else [values]:
            if value is not None and value < minimum:
                parser.error(f"--{name.replace('_', '-')}: must be at least {minimum}, got {value}")
    if args.form and args.forms:
        parser.error("--form and --forms: give one of them")
    for name, value in {**DEFAULTS, **(QUICK if args.quick else {})}.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    args.argv = argv  # for the command line summary.md names
    return args


def experiment(args):
    """Data, model, compile, fit over the sweep's grid, then the report."""
    import keras

    import keras_entropy as ke
    from keras_entropy.experiments import autoencoder, runs, script_setup

    # The data: images as float32 vectors in [0, 1] (train, and the test split for validation).
    script_setup.prepare(args, [args.dataset])  # refuses a --data-dir without the data set
    run = script_setup.start(args, f"dense_autoencoder_{args.dataset}")
    settings = {name: getattr(args, name) for name in [*DEFAULTS, "form", "forms"]}
    (x_train, x_val), configs = autoencoder.dense_autoencoder_sweep(
        run.data, settings, args.dataset, args.monitor, args.stop_when
    )  # one config per latent width x lambda (x form): the grid run.sweep runs

    def build_model(latent_dim, lam, form):
        """784 -> latent_dim sigmoid -> 784 sigmoid, the entropy penalty on the encoder kernel."""
        penalty = ke.DenseEntropy(lam, form=form) if lam != 0 else None
        return keras.Sequential(
            [
                keras.Input((x_train.shape[1],)),
                keras.layers.Dense(latent_dim, activation="sigmoid", kernel_regularizer=penalty, name="encoder"),
                keras.layers.Dense(x_train.shape[1], activation="sigmoid", dtype="float32", name="decoder"),
            ],
            name=f"dense_autoencoder_{latent_dim}",
        )

    def train(config, seed):
        """One run of the sweep: the record's fields (history, stopping epoch under each monitor, metrics)."""
        keras.utils.set_random_seed(seed)
        model = build_model(int(config["latent_dim"]), float(config["lam"]), config.get("form", "paper"))
        model.compile(
            optimizer=keras.optimizers.Adam(float(config["learning_rate"])),
            loss="mse",
            metrics=[keras.metrics.MeanSquaredError(name="mse")],
        )
        # Early stopping on both monitors (the run's own first): training ends when both have stopped
        # (--stop-when all) or the first one has (first); each one's stopping epoch is recorded.
        monitors = [config["monitor"], "val_mse" if config["monitor"] == "val_loss" else "val_loss"]
        stopping = runs.MultiMonitorStopping(monitors, config["patience"], stop_when=config["stop_when"])
        history = model.fit(
            x_train,
            x_train,
            validation_data=(x_val, x_val),
            epochs=int(config["max_epochs"]),
            batch_size=int(config["batch_size"]),
            callbacks=[stopping],
            verbose=args.verbose,
        )
        keras.backend.clear_session()
        return runs.run_record(history.history, stopping.monitors, config["patience"], modes=stopping.modes)

    run.sweep(train, configs, args.replications, show=("val_mse", "val_loss"), skip=args.report_only)

    # The result: plots, summary.md (a report per form with --forms) and its table.
    command = script_setup.command_line(__file__, args.argv)
    summary = autoencoder.write_dense_autoencoder_report(run, args.dataset, command)
    run.report(run.path("summary.md"), summary.table)
    return 0


def main(argv=None):
    args = parse_args(argv)  # --help and bad arguments answer here, before Keras starts
    from keras_entropy.experiments import script_setup  # Keras starts here

    return script_setup.run(experiment, args)  # bad data or --out: one line naming the flag, exit status 2


if __name__ == "__main__":
    sys.exit(main())

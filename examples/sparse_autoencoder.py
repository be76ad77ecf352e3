"""Ng's sparse autoencoder on MNIST with the KL sparsity penalty (seed 003).

The data: MNIST images as vectors in [0, 1]. The model: 784 -> 196 sigmoid
hidden units -> 784 sigmoid outputs, with
`activity_regularizer=ke.KLSparsity(rho=0.05, beta=3)` on the hidden layer,
trained on Ng's objective: half the squared reconstruction error, L2 weight
decay (lambda = 3e-3) and the sparsity penalty, against the same network
without the penalty (beta = 0). Reports, per beta, the mean hidden activation
(vs the target rho), the reconstruction MSE per pixel on the test images, and
saves the learned features (the encoder's weight columns as 28x28 tiles) as
PNG grids. --quick (64 hidden units, 2000 images, 10 epochs) takes about a
minute on a 2-core CPU.

    python examples/sparse_autoencoder.py --quick        # about a minute on a 2-core CPU
    python examples/sparse_autoencoder.py --data-dir ~/data/mnist   # the four MNIST IDX .gz files

Results (results.jsonl), features_beta*.png and summary.md go to --out.
Re-running the same command skips finished runs.

Data: tensorflow-datasets' copy (prepared in ~/tensorflow_datasets or
$TFDS_DATA_DIR; downloaded there with --download, the default except with
--quick), or --data-dir DIR with DIR a tensorflow-datasets data directory in
which `mnist` is prepared (for MNIST also: a folder holding the four IDX files
train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,
t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz).
"""

import argparse
import sys

#: Ng's settings (keras_entropy.experiments.paper.SPARSE_AUTOENCODER_PAPER).
DEFAULTS = {
    "betas": [0.0, 3.0],
    "rho": 0.05,
    "hidden_units": 196,
    "weight_decay": 3e-3,
    "epochs": 50,
    "batch_size": 256,
    "learning_rate": 1e-3,
    "replications": 3,
    "train_size": None,  # all
    "val_size": None,
}
#: --quick: a tiny CPU run.
QUICK = {
    "hidden_units": 64,
    "epochs": 10,
    "batch_size": 100,
    "learning_rate": 5e-3,
    "replications": 1,
    "train_size": 2000,
    "val_size": 500,
}
#: The smallest value of each integer flag.
MINIMUM = {"hidden_units": 1, "epochs": 1, "batch_size": 1, "replications": 1, "train_size": 1, "val_size": 1}


def parse_args(argv=None):
    """The command line, parsed with the standard library alone: --help answers before Keras starts."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=["mnist"], default="mnist", help="only MNIST (default)")
    parser.add_argument(
        "--data-dir", help="local copy: a folder with the MNIST IDX .gz files, or a tensorflow-datasets data directory"
    )
    parser.add_argument(
        "--out", help="folder for results.jsonl, feature PNGs and summary.md (default: runs/sparse_autoencoder[_quick])"
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
        help="let tensorflow-datasets download MNIST (default: yes, except with --quick)",
    )
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
    parser.add_argument("--betas", type=float, nargs="+", help="sparsity strengths, 0 = no penalty (default 0 3)")
    parser.add_argument("--rho", type=float, help="target mean activation (default 0.05)")
    parser.add_argument("--hidden-units", type=int, help="hidden units (default 196)")
    parser.add_argument("--weight-decay", type=float, help="lambda of (lambda/2) sum W^2 (default 3e-3)")
    parser.add_argument("--epochs", type=int, help="default 50")
    parser.add_argument("--batch-size", type=int, help="default 256")
    parser.add_argument("--learning-rate", type=float, help="Adam learning rate (default 1e-3)")
    parser.add_argument("--replications", type=int, help="runs per beta, distinct seeds (default: 3)")
    parser.add_argument("--train-size", type=int, help="use the first N training images (default: all)")
    parser.add_argument("--val-size", type=int, help="evaluate on the first N test images (default: all)")
    args = parser.parse_args(argv)
    for name, minimum in MINIMUM.items():
        if getattr(args, name) is not None and getattr(args, name) < minimum:
            parser.error(f"--{name.replace('_', '-')}: must be at least {minimum}, got {getattr(args, name)}")
    for name, value in {**DEFAULTS, **(QUICK if args.quick else {})}.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if not 0 < args.rho < 1:
        parser.error(f"--rho: must be in (0, 1), got {args.rho}")
    for name, value in (("betas", min(args.betas)), ("weight_decay", args.weight_decay)):
        if value < 0:
            parser.error(f"--{name.replace('_', '-')}: must be at least 0, got {value}")
    args.argv = argv  # for the command line summary.md names
    return args


def experiment(args):
    """Data, model, compile, fit for each beta, then the report."""
    import keras

    import keras_entropy as ke
    from keras_entropy.experiments import script_setup, sparse_coding

    # The data: MNIST images as float32 vectors in [0, 1] (train, and test images for the scores).
    script_setup.prepare(args, [args.dataset])  # refuses a --data-dir without MNIST
    run = script_setup.start(args, "sparse_autoencoder")
    settings = {name: getattr(args, name) for name in DEFAULTS}
    (x_train, x_val), configs = sparse_coding.sparse_autoencoder_sweep(run.data, settings, args.dataset)

    def build_model(hidden_units, rho, beta, weight_decay):
        """784 -> hidden_units sigmoid -> 784 sigmoid; KLSparsity on the hidden activations, L2 on both kernels."""
        decay = keras.regularizers.L2(weight_decay / 2.0) if weight_decay > 0 else None  # (lambda/2) sum W^2
        sparsity = ke.KLSparsity(rho=rho, beta=beta) if beta > 0 else None
        return keras.Sequential(
            [
                keras.Input((x_train.shape[1],)),
                keras.layers.Dense(
                    hidden_units,
                    activation="sigmoid",
                    kernel_regularizer=decay,
                    activity_regularizer=sparsity,
                    name="encoder",
                ),
                keras.layers.Dense(
                    x_train.shape[1], activation="sigmoid", kernel_regularizer=decay, dtype="float32", name="decoder"
                ),
            ],
            name=f"sparse_autoencoder_{hidden_units}",
        )

    def train(config, seed):
        """One run: train, score on the test images; the first replication saves its feature grid."""
        keras.utils.set_random_seed(seed)
        rho, beta = float(config["rho"]), float(config["beta"])
        model = build_model(int(config["hidden_units"]), rho, beta, float(config["weight_decay"]))
        model.compile(
            optimizer=keras.optimizers.Adam(float(config["learning_rate"])),
            loss=sparse_coding.half_squared_error,  # Ng's 1/2 sum_pixels (x - x_hat)^2 per image
            metrics=[keras.metrics.MeanSquaredError(name="mse")],
        )
        history = model.fit(
            x_train,
            x_train,
            validation_data=(x_val, x_val),
            epochs=int(config["epochs"]),
            batch_size=int(config["batch_size"]),
            shuffle=True,
            verbose=args.verbose,
        )
        metrics = sparse_coding.sparsity_metrics(model, x_val, rho)  # mean activation vs rho, MSE per pixel
        if seed == args.seed:
            sparse_coding.save_encoder_features(
                model,
                run.path(sparse_coding.features_file(config["beta"])),
                title=f"encoder features, beta={config['beta']}, rho={rho}",
            )
        keras.backend.clear_session()
        return {"history": history.history, "metrics": metrics}

    records = run.sweep(train, configs, args.replications, show=("mean_activation", "val_mse"))

    # The result: summary.md with a row per beta, and the feature grids.
    command = script_setup.command_line(__file__, args.argv)
    lines, summary = sparse_coding.write_sparse_autoencoder_report(
        run, records, configs, settings, args.dataset, command
    )
    run.report(summary, lines, "feature grids")
    return 0


def main(argv=None):
    args = parse_args(argv)  # --help and bad arguments answer here, before Keras starts
    from keras_entropy.experiments import script_setup  # Keras starts here

    return script_setup.run(experiment, args)  # bad data or --out: one line naming the flag, exit status 2


if __name__ == "__main__":
    sys.exit(main())

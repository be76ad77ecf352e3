"""Search the entropy strength lambda, its placement and form with KerasTuner.

Two models of the paper, each written as a KerasTuner `build(hp)`: the small
CIFAR-10 CNN (1-3 blocks of a 3x3 convolution, leaky ReLU and 2x2 max
pooling, then a softmax classifier; section 5.3) with
`kernel_regularizer=ke.ConvEntropy(lam, ...)` on its first, first two or all
convolutions, and the dense autoencoder (section 5.2) with
`kernel_regularizer=ke.DenseEntropy(lam, ...)` on its encoder or on both
layers. `build(hp)` draws the trial's lambda (log-uniform over --lam-range,
or the paper's grid with --paper-grid; both include lambda = 0, no penalty,
as the baseline), where the penalty goes (--placements), its form (--forms:
the paper's by default; volume and normalized: MATH.md sections 8-10) and,
with --tune-stabilized, exact or stabilized. The search runs with
`keras_entropy.tuning.run_search` (fault tolerant when distributed) and its
trials are exported with `tuning.export_trials`.

One line is printed per finished trial (with a progress bar on a terminal;
--verbose for Keras's per-epoch output and the search space); the last lines
printed are the best trial's hyperparameters and score. The tuner's project
and the trials exported to results.jsonl (the sweeps' format:
keras_entropy.experiments.analysis reads it) go to --out. Records name the
data set actually used: a --quick run that fell back to the embedded MNIST
subset says mnist. --quick: 3 trials of 2 epochs on 1000 images, minutes on
a 2-core CPU.

    python examples/tune_lambda.py --quick                       # CNN, minutes on a CPU
    python examples/tune_lambda.py --model autoencoder --quick
    python examples/tune_lambda.py --model autoencoder --quick --forms paper normalized
    python examples/tune_lambda.py --tuner hyperband --epochs 20 --data-dir ~/tensorflow_datasets

Distributed (one chief and N workers, same command in each process; see
keras_entropy.tuning_cluster for the KERASTUNER_* variables):

    python -m keras_entropy.tuning_cluster --workers 2 -- \\
        python examples/tune_lambda.py --quick --out runs/tune_cluster

Data: tensorflow-datasets' copy (prepared in ~/tensorflow_datasets or
$TFDS_DATA_DIR; downloaded there with --download, the default except with
--quick), or --data-dir DIR with DIR a tensorflow-datasets data directory in
which `mnist` or `cifar10` is prepared (for MNIST also: a folder holding the
four IDX files train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,
t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz).
"""

import argparse
import sys

#: The search's budget and models without --quick (None: all images) ...
DEFAULTS = {
    "max_trials": 20,
    "epochs": 10,
    "train_size": None,
    "val_size": None,
    "width": 32,
    "latent_dim": 140,
    "batch_size": 128,
    "forms": ["paper"],
}
#: ... and with --quick (the others as without).
QUICK = {"max_trials": 3, "epochs": 2, "train_size": 1000, "val_size": 300, "width": 16, "latent_dim": 64}
#: The placements searched by default, per model.
PLACEMENTS = {"cnn": ["first", "first_two", "all"], "autoencoder": ["first", "all"]}
FORMS = ["paper", "volume", "normalized"]


def parse_args(argv=None):
    """The command line, parsed with the standard library alone: --help answers before Keras starts."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--model",
        choices=["cnn", "autoencoder"],
        default="cnn",
        help="the CIFAR-10 CNN (default) or the dense autoencoder",
    )
    parser.add_argument(
        "--dataset", choices=["mnist", "cifar10"], help="default: cifar10 for the CNN, mnist for the autoencoder"
    )
    parser.add_argument(
        "--data-dir",
        help="local copy: a tensorflow-datasets data directory, or for MNIST a folder with the four IDX files "
        "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
        "t10k-labels-idx1-ubyte.gz",
    )
    parser.add_argument(
        "--out", help="folder for the tuner project and results.jsonl (default: runs/tune_lambda_MODEL_DATASET[_quick])"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"tiny CPU run: {QUICK}; without a local copy of the data set it uses the embedded MNIST subset, "
        "and says so",
    )
    parser.add_argument("--seed", type=int, default=0, help="seeds every trial's weights and the tuner")
    parser.add_argument(
        "--download",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="let tensorflow-datasets download the data set (default: yes, except with --quick)",
    )
    parser.add_argument(
        "--verbose",
        "-v",
        type=int,
        nargs="?",
        const=2,
        default=0,
        choices=[0, 1, 2],
        help="Keras fit verbosity: 0 (default) prints one line per finished trial; --verbose or --verbose 2 "
        "adds one line per epoch and the search space, --verbose 1 Keras's progress bars; any non-zero value "
        "also keeps TensorFlow's start-up logs",
    )
    parser.add_argument("--max-trials", type=int, help="trials of random/bayesian search (default 20)")
    parser.add_argument("--epochs", type=int, help="epochs per trial (default 10); Hyperband's max_epochs")
    parser.add_argument("--train-size", type=int, help="use the first N training images (default: all)")
    parser.add_argument("--val-size", type=int, help="use the first N test images for validation (default: all)")
    parser.add_argument("--width", type=int, help="CNN filters per convolution (default 32)")
    parser.add_argument("--latent-dim", type=int, help="autoencoder latent width (default 140)")
    parser.add_argument("--batch-size", type=int, help="default 128")
    parser.add_argument(
        "--forms",
        nargs="+",
        choices=FORMS,
        metavar="FORM",
        help="penalty forms to search (default: paper); each one of paper (the paper's formulas), volume "
        "(the log-volume the whole kernel maps) or normalized (that volume less its scale part); "
        "MATH.md sections 8-10",
    )
    parser.add_argument("--tuner", choices=["random", "bayesian", "hyperband"], default="random")
    parser.add_argument(
        "--objective", help="default: val_accuracy (CNN), val_loss (autoencoder); any logged metric, e.g. val_mse"
    )
    parser.add_argument(
        "--lam-range",
        type=float,
        nargs=2,
        metavar=("LOW", "HIGH"),
        default=[1e-4, 10.0],
        help="log-uniform range of lambda (default 1e-4 10), plus the baseline 0",
    )
    parser.add_argument(
        "--paper-grid",
        action="store_true",
        help="search the paper's grid 0, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10 instead of a range",
    )
    parser.add_argument(
        "--placements",
        nargs="+",
        choices=PLACEMENTS["cnn"],
        help="where the penalty may go (default: first first_two all for the CNN, first all for the autoencoder)",
    )
    parser.add_argument("--tune-stabilized", action="store_true", help="also search exact vs stabilized")
    parser.add_argument("--depth", type=int, choices=[1, 2, 3], default=2, help="CNN blocks (default 2)")
    parser.add_argument(
        "--trial-timeout",
        type=float,
        default=600.0,
        help="distributed: seconds of silence before a worker's trial goes to another (default 600)",
    )
    parser.add_argument(
        "--heartbeat", type=float, default=10.0, help="distributed: seconds between a worker's heartbeats (default 10)"
    )
    parser.add_argument("--overwrite", action="store_true", help="start the tuner project afresh")
    args = parser.parse_args(argv)

    for name in ("max_trials", "epochs", "train_size", "val_size", "width", "latent_dim", "batch_size"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')}: must be at least 1, got {value}")
    low, high = args.lam_range
    if not 0 < low < high:
        parser.error(f"--lam-range needs 0 < LOW < HIGH, got {low} {high}")
    if args.trial_timeout <= 0 or not 0 < args.heartbeat < args.trial_timeout:
        parser.error(
            f"--heartbeat and --trial-timeout need 0 < HEARTBEAT < TIMEOUT, got {args.heartbeat} {args.trial_timeout}"
        )
    for name, default in DEFAULTS.items():  # flags left out: --quick's value, else the default
        if getattr(args, name) is None:
            setattr(args, name, QUICK.get(name, default) if args.quick else default)
    args.dataset = args.dataset or ("cifar10" if args.model == "cnn" else "mnist")
    args.placements = args.placements or PLACEMENTS[args.model]
    return args


def entropy_hyperparameters(hp, kind, args):
    """Declare the trial's entropy penalty of the `kind` layers ("conv" or "dense") in `hp`.

    Returns `(lam, placement, form, stabilized)`, with lam = 0 (no penalty: the baseline) in the trials
    where the penalty is off. The names are those `keras_entropy.tuning.export_trials` reads
    (`tuning.hp_names`): `<kind>_lam`, the on/off switch `<kind>_entropy` of a range, `<kind>_placement`,
    `<kind>_form` and `<kind>_stabilized`; the last three exist only in the trials where the penalty is on,
    so that the search spends no trials on variants of the baseline.
    """
    if args.paper_grid:  # the paper's grid; 0 is the baseline
        grid = [0.0, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0]
        lam = hp.Choice(f"{kind}_lam", grid, ordered=True)
        on = (f"{kind}_lam", grid[1:])
    else:  # off (the baseline), or log-uniform over --lam-range
        hp.Boolean(f"{kind}_entropy", default=True)
        on = (f"{kind}_entropy", [True])
        with hp.conditional_scope(*on):
            lam = hp.Float(f"{kind}_lam", *args.lam_range, sampling="log")
    with hp.conditional_scope(*on):
        placements = args.placements
        placement = hp.Choice(f"{kind}_placement", placements) if len(placements) > 1 else placements[0]
        form = "paper" if args.forms == ["paper"] else hp.Choice(f"{kind}_form", args.forms)
        stabilized = hp.Boolean(f"{kind}_stabilized", default=True) if args.tune_stabilized else True
    return float(lam or 0.0), placement, form, stabilized


def penalized(placement, lam, layers):
    """How many of the `layers` penalizable layers get the penalty (the first ones)."""
    return 0 if lam == 0 else {"first": 1, "first_two": 2, "all": layers}[placement]


def cnn_builder(args, input_shape, classes=10):
    """`build(hp)`: the paper's small CNN with the trial's `ConvEntropy` on its first convolutions.

    The layers and their names are those of `keras_entropy.experiments.classification.small_cnn`.
    """
    import keras

    import keras_entropy as ke

    def build(hp):
        lam, placement, form, stabilized = entropy_hyperparameters(hp, "conv", args)
        chosen = penalized(placement, lam, args.depth)
        height, width = input_shape[:2]
        model = keras.Sequential([keras.Input(input_shape)], name=f"cnn_{args.depth}x{args.width}")
        for i in range(args.depth):
            height, width = height - 2, width - 2  # the output of a 3x3 "valid" convolution
            penalty = None
            if i < chosen:  # output_shape: the penalty counts every output position, as the paper's does
                penalty = ke.ConvEntropy(lam, output_shape=(height, width), form=form, stabilized=stabilized)
            model.add(keras.layers.Conv2D(args.width, 3, kernel_regularizer=penalty, name=f"conv{i + 1}"))
            model.add(keras.layers.LeakyReLU(name=f"leaky_relu{i + 1}"))
            model.add(keras.layers.MaxPooling2D(2, name=f"pool{i + 1}"))
            height, width = height // 2, width // 2
        model.add(keras.layers.Flatten(name="flatten"))
        model.add(keras.layers.Dense(classes, activation="softmax", dtype="float32", name="classifier"))
        model.compile(
            optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
        )
        return model

    return build


def autoencoder_builder(args, input_dim):
    """`build(hp)`: the paper's dense autoencoder with the trial's `DenseEntropy` on its encoder (or both layers).

    The layers and their names are those of `keras_entropy.experiments.autoencoder.dense_autoencoder`.
    """
    import keras

    import keras_entropy as ke

    def build(hp):
        lam, placement, form, stabilized = entropy_hyperparameters(hp, "dense", args)
        chosen = penalized(placement, lam, 2)
        encoder_penalty = ke.DenseEntropy(lam, form=form, stabilized=stabilized) if chosen >= 1 else None
        decoder_penalty = ke.DenseEntropy(lam, form=form, stabilized=stabilized) if chosen >= 2 else None
        model = keras.Sequential(
            [
                keras.Input((input_dim,)),
                keras.layers.Dense(
                    args.latent_dim, activation="sigmoid", kernel_regularizer=encoder_penalty, name="encoder"
                ),
                keras.layers.Dense(
                    input_dim,
                    activation="sigmoid",
                    kernel_regularizer=decoder_penalty,
                    dtype="float32",
                    name="decoder",
                ),
            ],
            name=f"dense_autoencoder_{args.latent_dim}",
        )
        model.compile(
            optimizer=keras.optimizers.Adam(1e-3),
            loss="mse",
            metrics=[keras.metrics.MeanSquaredError(name="mse")],
        )
        return model

    return build


def experiment(args):
    """Data, hypermodel, tuner, search, the best trial."""
    import os

    import keras_tuner

    from keras_entropy import tuning
    from keras_entropy.experiments import loading, script_setup

    script_setup.prepare(args, [args.dataset])  # checks --data-dir, quiets the logs
    role = tuning.cluster_role()  # distributed: "chief" or "worker"; else None
    suffix = f"; role: {role} ({os.environ['KERASTUNER_TUNER_ID']})" if role else ""
    script_setup.announce_runtime(args, dtype_policy=False, suffix=suffix)

    # The data: images in [0, 1] and their labels for the CNN, flat images as both input and target for
    # the autoencoder; the first --val-size test images validate.
    data, _, _ = loading.load_data_for(
        args,
        fallback="mnist",
        print_error=False,
        embedded_note="used the embedded MNIST subset shipped with keras_entropy (a smoke test).",
    )
    x_train = data.x_train[: args.train_size].astype("float32") / 255.0
    x_val = data.x_test[: args.val_size].astype("float32") / 255.0
    if args.model == "cnn":
        if x_train.ndim == 3:  # MNIST: add the channel axis
            x_train, x_val = x_train[..., None], x_val[..., None]
        y_train = data.y_train[: args.train_size].astype("int32")
        y_val = data.y_test[: args.val_size].astype("int32")
        build = cnn_builder(args, x_train.shape[1:], classes=10)
        objective = args.objective or "val_accuracy"
    else:
        x_train, x_val = x_train.reshape(len(x_train), -1), x_val.reshape(len(x_val), -1)
        y_train, y_val = x_train, x_val
        build = autoencoder_builder(args, x_train.shape[1])
        objective = args.objective or "val_loss"
    # The data set actually used: a --quick run may have fallen back to the embedded MNIST subset.
    out, _ = script_setup.output_dir(args, f"tune_lambda_{args.model}_{data.name}", create=False)

    # The hypermodel: `build(hp)`, every trial seeded with --seed (trials differ only by their
    # hyperparameters) and its per-epoch history kept in its folder for the export.
    hypermodel = tuning.EntropyHyperModel(build, seeds=args.seed, name=args.model)

    # The tuner. tuning.objective: the direction (min/max) of any logged metric, from its name.
    options = {
        "objective": tuning.objective(objective),
        "directory": out,
        "project_name": "tuner",
        "seed": args.seed + 1,
        "overwrite": args.overwrite and role != "worker",
    }
    if args.tuner == "hyperband":
        tuner = keras_tuner.Hyperband(hypermodel, max_epochs=args.epochs, factor=3, **options)
    elif args.tuner == "bayesian":
        tuner = keras_tuner.BayesianOptimization(hypermodel, max_trials=args.max_trials, **options)
    else:
        tuner = keras_tuner.RandomSearch(hypermodel, max_trials=args.max_trials, **options)
    if role != "worker":
        if args.verbose:
            tuner.search_space_summary()
        else:
            budget = f"up to {args.max_trials} trials" if args.tuner != "hyperband" else "hyperband brackets"
            space = ", ".join(tuner.oracle.hyperparameters.values)
            print(f"search: {args.tuner}, {budget} of {args.epochs} epochs over {space}; objective {objective}")

    sys.stdout.flush()

    # The search: tuner.search, which survives dead workers when distributed, one line per finished trial.
    tuning.run_search(
        tuner,
        x_train,
        y_train,
        validation_data=(x_val, y_val),
        epochs=args.epochs,
        batch_size=args.batch_size,
        verbose=args.verbose,
        trial_timeout=args.trial_timeout,
        heartbeat_interval=args.heartbeat,
        progress=True,
    )
    if role == "worker":
        print("worker: search finished", flush=True)
        return 0

    # The result: every trial as a record of results.jsonl (the sweeps' format), then the best trial.
    results = os.path.join(out, "results.jsonl")
    fixed = {"model": args.model, "dataset": data.name, "data_source": "embedded" if data.is_embedded else data.source}
    exported = tuning.export_trials(tuner, results, fixed=fixed)
    print(
        f"\nexported {exported['exported']} trials to {results} "
        f"({exported['skipped']} already there); keras_entropy.experiments.analysis reads it"
    )
    values, score, name = tuning.best_trial_summary(tuner)
    print("best trial hyperparameters: " + ", ".join(f"{k}={v}" for k, v in values.items()))
    print(f"best trial score: {name} = {score:.6g}", flush=True)
    return 0


def main(argv=None):
    args = parse_args(argv)  # --help and bad arguments answer here, before Keras starts
    from keras_entropy.experiments import script_setup  # Keras starts here

    return script_setup.run(experiment, args)  # bad data or --out: one line naming the flag, exit status 2


if __name__ == "__main__":
    sys.exit(main())

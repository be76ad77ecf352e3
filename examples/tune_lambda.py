"""Search the entropy strength lambda and its placement with KerasTuner.

Two models of the paper: the CIFAR-10 CNN (1-3 blocks of a 3x3 convolution,
leaky ReLU and 2x2 max pooling, then a softmax classifier; section 5.3), with
the convolutional entropy loss, and the dense autoencoder (section 5.2),
with the dense entropy loss. The search space is lambda (log-uniform, or the
paper's grid with --paper-grid; both include lambda = 0, no penalty, as the
baseline), where the penalty goes (--placements), with --tune-stabilized
the exact or stabilized penalty and, with --forms, the penalty's form (the
paper's by default; volume and normalized: MATH.md sections 8-10).

    python examples/tune_lambda.py --quick                       # CNN, minutes on a CPU
    python examples/tune_lambda.py --model autoencoder --quick
    python examples/tune_lambda.py --model autoencoder --quick --forms paper normalized
    python examples/tune_lambda.py --tuner hyperband --epochs 20 --data-dir ~/tensorflow_datasets

Distributed (one chief and N workers, same command in each process; see
keras_entropy.tuning_cluster for the KERASTUNER_* variables):

    python -m keras_entropy.tuning_cluster --workers 2 -- \\
        python examples/tune_lambda.py --quick --out runs/tune_cluster

The tuner's project, the trials exported to results.jsonl (the sweeps'
format: keras_entropy.experiments.reports reads it) go to --out. One line is printed per
finished trial (with a progress bar on a terminal; --verbose for Keras's
per-epoch output and the search space); the last lines printed are the best
trial's hyperparameters and score. Records name the data set actually used:
a --quick run that fell back to the embedded MNIST subset says mnist.
"""

import os
import sys

os.environ["KERAS_ENTROPY_DEFER_IMPORTS"] = "1"  # --help answers before Keras starts (script_setup unsets it)
from keras_entropy.experiments import arguments, loading, paper, script_setup  # noqa: E402
from keras_entropy.experiments.arguments import Setting  # noqa: E402

#: The search's budget and models: option, help, --quick value; DEFAULTS otherwise.
SETTINGS = {
    "max_trials": Setting("trials of random/bayesian search (default 20)", minimum=1, quick=3),
    "epochs": Setting("epochs per trial (default 10); Hyperband's max_epochs", minimum=1, quick=2),
    "train_size": arguments.size_setting(arguments.TRAIN_SIZE_HELP, quick=1000),
    "val_size": arguments.size_setting(arguments.VAL_SIZE_HELP, quick=300),
    "width": Setting("CNN filters per convolution (default 32)", minimum=1, quick=16),
    "latent_dim": Setting("autoencoder latent width (default 140)", minimum=1, quick=64),
    "batch_size": Setting("default 128", minimum=1),
    "forms": arguments.forms_setting("penalty forms to search (default: paper)"),
}
DEFAULTS = {
    "max_trials": 20,
    "epochs": 10,
    "width": 32,
    "latent_dim": 140,
    "batch_size": 128,
    "forms": [paper.PAPER_FORM],
}


def parse_args(argv=None):
    parser = arguments.parser_for(__doc__)
    parser.add_argument(
        "--model",
        choices=["cnn", "autoencoder"],
        default="cnn",
        help="the CIFAR-10 CNN (default) or the dense autoencoder",
    )
    arguments.add_common_arguments(
        parser,
        ["mnist", "cifar10"],
        None,
        settings=SETTINGS,
        run_name="tune_lambda_MODEL_DATASET",
        fallback="mnist",
        report_only=False,
        mixed_precision=False,
        dataset_help="default: cifar10 for the CNN, mnist for the autoencoder",
        out_help="folder for the tuner project and results.jsonl (default: runs/tune_lambda_MODEL_DATASET[_quick])",
        seed_help="seeds every trial's weights and the tuner",
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
        help="strategies to search (default: first first_two all for the CNN, first all for the autoencoder)",
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
    low, high = args.lam_range
    if not 0 < low < high:
        parser.error(f"--lam-range needs 0 < LOW < HIGH, got {low} {high}")
    args.dataset = args.dataset or ("cifar10" if args.model == "cnn" else "mnist")
    return args


def load_data(args, settings):
    """`(x_train, y_train, x_val, y_val, data)` for the chosen model; `data` is the loaded `Dataset`."""
    from keras_entropy.experiments import autoencoder

    data, _, _ = loading.load_data_for(
        args,
        fallback="mnist",
        print_error=False,
        embedded_note="used the embedded MNIST subset shipped with keras_entropy (a smoke test).",
    )
    x_train = data.x_train[: settings["train_size"]]
    x_val = data.x_test[: settings["val_size"]]
    if args.model == "autoencoder":
        x_train, x_val = autoencoder.flatten_images(x_train), autoencoder.flatten_images(x_val)
        return x_train, x_train, x_val, x_val, data

    def images(x):
        x = x.astype("float32") / 255.0
        return x[..., None] if x.ndim == 3 else x

    y_train = data.y_train[: settings["train_size"]].astype("int32")
    y_val = data.y_test[: settings["val_size"]].astype("int32")
    return images(x_train), y_train, images(x_val), y_val, data


def cnn_builder(input_shape, depth, width, classes=10):
    """The paper's small CIFAR-10 CNN (keras_entropy.experiments.classification.small_cnn), Adam + cross-entropy."""
    import keras

    from keras_entropy.experiments import classification

    def build():
        model = classification.small_cnn(tuple(input_shape), depth, width, classes)
        model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    return build


def autoencoder_builder(input_dim, latent_dim):
    """The paper's dense autoencoder (keras_entropy.experiments.autoencoder.dense_autoencoder), Adam + MSE."""
    import keras

    from keras_entropy.experiments import autoencoder

    def build():
        model = autoencoder.dense_autoencoder(input_dim, latent_dim)
        model.compile(
            keras.optimizers.Adam(paper.DENSE_AUTOENCODER_PAPER["learning_rate"]),
            "mse",
            metrics=[keras.metrics.MeanSquaredError(name="mse")],
        )
        return model

    return build


def hypermodel_for(args, settings, input_shape):
    """`(hypermodel, objective name)`: the chosen model with its search space of lambda, placement and form."""
    from keras_entropy import tuning

    lam = "paper" if args.paper_grid else tuning.log_uniform(*args.lam_range)
    if args.model == "cnn":
        kind, placements, objective = "conv", ["first", "first_two", "all"], "val_accuracy"
        build = cnn_builder(input_shape, args.depth, settings["width"])
    else:
        kind, placements, objective = "dense", ["first", "all"], "val_loss"
        build = autoencoder_builder(input_shape[0], settings["latent_dim"])
    search = tuning.EntropySearch(
        lam=lam,
        placement=args.placements or placements,
        stabilized=[True, False] if args.tune_stabilized else True,
        form=settings["forms"],
    )
    hypermodel = tuning.EntropyHyperModel(build, seeds=args.seed, name=args.model, **{kind: search})
    return hypermodel, args.objective or objective


def tuner_for(args, settings, hypermodel, objective, out, role):
    """The KerasTuner tuner of --tuner over `hypermodel`, its project in `out`; describes the search."""
    import keras_tuner

    from keras_entropy import tuning

    common = {
        "objective": tuning.objective(objective),
        "directory": out,
        "project_name": "tuner",
        "seed": args.seed + 1,
        "overwrite": args.overwrite and role != "worker",
    }
    if args.tuner == "hyperband":
        tuner = keras_tuner.Hyperband(hypermodel, max_epochs=settings["epochs"], factor=3, **common)
    else:
        search = keras_tuner.RandomSearch if args.tuner == "random" else keras_tuner.BayesianOptimization
        tuner = search(hypermodel, max_trials=settings["max_trials"], **common)
    if role == "worker":
        return tuner
    if args.verbose:
        tuner.search_space_summary()
    else:
        budget = f"up to {settings['max_trials']} trials" if args.tuner != "hyperband" else "hyperband brackets"
        print(
            f"search: {args.tuner}, {budget} of {settings['epochs']} epochs over "
            + ", ".join(tuner.oracle.hyperparameters.values)
            + f"; objective {objective}",
            flush=True,
        )
    return tuner


def export(args, tuner, out, data):
    """Export the trials to out/results.jsonl and print the best trial."""
    from keras_entropy import tuning

    results = os.path.join(out, "results.jsonl")
    exported = tuning.export_trials(
        tuner,
        results,
        fixed={
            "model": args.model,
            "dataset": data.name,
            "data_source": "embedded" if data.is_embedded else data.source,
        },
    )
    print(
        f"\nexported {exported['exported']} trials to {results} "
        f"({exported['skipped']} already there); keras_entropy.experiments.reports reads it",
        flush=True,
    )
    values, score, name = tuning.best_trial_summary(tuner)
    print("best trial hyperparameters: " + ", ".join(f"{k}={v}" for k, v in values.items()))
    print(f"best trial score: {name} = {score:.6g}", flush=True)


def main(argv=None):
    args = parse_args(argv)
    script_setup.prepare(args, [args.dataset])  # checks --data-dir, starts Keras quietly
    from keras_entropy import tuning

    settings = arguments.settings_for(args, DEFAULTS, SETTINGS)
    role = tuning.cluster_role()
    script_setup.announce_runtime(
        args, dtype_policy=False, suffix=f"; role: {role} ({os.environ['KERASTUNER_TUNER_ID']})" if role else ""
    )
    x_train, y_train, x_val, y_val, data = load_data(args, settings)
    # The data set actually used: a --quick run may have fallen back to the embedded MNIST subset.
    out, _ = script_setup.output_dir(args, f"tune_lambda_{args.model}_{data.name}", create=False)
    hypermodel, objective = hypermodel_for(args, settings, x_train.shape[1:])
    tuner = tuner_for(args, settings, hypermodel, objective, out, role)
    tuning.run_search(
        tuner,
        x_train,
        y_train,
        validation_data=(x_val, y_val),
        epochs=settings["epochs"],
        batch_size=settings["batch_size"],
        verbose=args.verbose,
        trial_timeout=args.trial_timeout,
        heartbeat_interval=args.heartbeat,
        progress=True,
    )
    if role == "worker":
        print("worker: search finished", flush=True)
    else:
        export(args, tuner, out, data)
    return 0


if __name__ == "__main__":
    sys.exit(script_setup.run(main))

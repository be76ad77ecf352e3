"""Search the entropy strength lambda and its placement with KerasTuner.

Two models of the paper: the CIFAR-10 CNN (1-3 blocks of a 3x3 convolution,
leaky ReLU and 2x2 max pooling, then a softmax classifier; section 5.3), with
the convolutional entropy loss, and the dense autoencoder (section 5.2),
with the dense entropy loss. The search space is lambda (log-uniform, or the
paper's grid with --paper-grid; both include lambda = 0, no penalty, as the
baseline), where the penalty goes (--placements) and, with
--tune-stabilized, the exact or stabilized form.

    python examples/tune_lambda.py --quick                       # CNN, minutes on a CPU
    python examples/tune_lambda.py --model autoencoder --quick
    python examples/tune_lambda.py --tuner hyperband --epochs 20 --data-dir ~/tensorflow_datasets

Distributed (one chief and N workers, same command in each process; see
keras_entropy.tuning_cluster for the KERASTUNER_* variables):

    python -m keras_entropy.tuning_cluster --workers 2 -- \\
        python examples/tune_lambda.py --quick --out runs/tune_cluster

The tuner's project, the trials exported to results.jsonl (the sweeps'
format: keras_entropy.reports reads it) go to --out. One line is printed per
finished trial (with a progress bar on a terminal; --verbose for Keras's
per-epoch output and the search space); the last lines printed are the best
trial's hyperparameters and score. Records name the data set actually used:
a --quick run that fell back to the embedded MNIST subset says mnist.

Data: CIFAR-10 from tensorflow-datasets (`cifar10`, prepared in
~/tensorflow_datasets or downloaded there, or --data-dir with a
tensorflow-datasets data directory); MNIST from tensorflow-datasets' `mnist`
or --data-dir DIR with DIR any folder holding the four IDX files
train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,
t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz.
"""

import os
import sys


os.environ["KERAS_ENTROPY_DEFER_IMPORTS"] = "1"  # --help answers before Keras starts
from keras_entropy import script_setup  # noqa: E402

del os.environ["KERAS_ENTROPY_DEFER_IMPORTS"]  # only for this import, not for child processes

QUICK = {"max_trials": 3, "epochs": 2, "train_size": 1000, "val_size": 300, "width": 16,
         "latent_dim": 64}


def parse_args(argv=None):
    parser = script_setup.parser_for(__doc__)
    parser.add_argument("--model", choices=["cnn", "autoencoder"], default="cnn",
                        help="the CIFAR-10 CNN (default) or the dense autoencoder")
    script_setup.add_common_arguments(
        parser, ["mnist", "cifar10"], None,
        dataset_help="default: cifar10 for the CNN, mnist for the autoencoder",
        data_dir_help="local copy of the data set (MNIST: folder with the IDX .gz files; "
        "otherwise a tensorflow-datasets data directory)",
        out_help="folder for the tuner project and results.jsonl (default: runs/tune_lambda_MODEL_DATASET[_quick])",
        quick_help=f"tiny CPU run: {QUICK}; falls back to the embedded MNIST subset when "
        "the data set is not available locally",
        seed_help="seeds every trial's weights and the tuner",
        report_only=False,
        mixed_precision=False,
    )
    parser.add_argument("--tuner", choices=["random", "bayesian", "hyperband"], default="random")
    parser.add_argument("--max-trials", type=int, help="trials of random/bayesian search (default 20)")
    parser.add_argument("--epochs", type=int, help="epochs per trial (default 10); Hyperband's max_epochs")
    parser.add_argument("--objective", help="default: val_accuracy (CNN), val_loss (autoencoder); "
                        "any logged metric, e.g. val_mse")
    parser.add_argument("--lam-range", type=float, nargs=2, metavar=("LOW", "HIGH"), default=[1e-4, 10.0],
                        help="log-uniform range of lambda (default 1e-4 10), plus the baseline 0")
    parser.add_argument("--paper-grid", action="store_true", help="search the paper's grid "
                        "0, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10 instead of a range")
    parser.add_argument("--placements", nargs="+",
                        help="strategies to search (default: first first_two all for the CNN, first all "
                        "for the autoencoder)")
    parser.add_argument("--tune-stabilized", action="store_true", help="also search exact vs stabilized")
    parser.add_argument("--depth", type=int, choices=[1, 2, 3], default=2, help="CNN blocks (default 2)")
    parser.add_argument("--width", type=int, help="CNN filters per convolution (default 32)")
    parser.add_argument("--latent-dim", type=int, help="autoencoder latent width (default 140)")
    parser.add_argument("--train-size", type=int, help="use the first N training images (default: all)")
    parser.add_argument("--val-size", type=int, help="use the first N test images for validation (default: all)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--trial-timeout", type=float, default=600.0,
                        help="distributed: seconds of silence before a worker's trial goes to another (default 600)")
    parser.add_argument("--heartbeat", type=float, default=10.0,
                        help="distributed: seconds between a worker's heartbeats (default 10)")
    parser.add_argument("--overwrite", action="store_true", help="start the tuner project afresh")
    args = parser.parse_args(argv)
    script_setup.require_positive(
        parser, args, ("max_trials", "epochs", "width", "latent_dim", "train_size", "val_size", "batch_size"))
    low, high = args.lam_range
    if not 0 < low < high:
        parser.error(f"--lam-range needs 0 < LOW < HIGH, got {low} {high}")
    args.dataset = args.dataset or ("cifar10" if args.model == "cnn" else "mnist")
    return args


def load_data(args, settings):
    """`(x_train, y_train, x_val, y_val, data, note)` for the chosen model; `data` is the loaded `Dataset`."""
    from keras_entropy import experiments

    data, _, note = script_setup.load_data_for(
        args, fallback="mnist", print_error=False, announce=False,
        fallback_note=f"{args.dataset} is not available here: this --quick run used the embedded MNIST subset "
        "instead (a smoke test, not the paper's experiment).",
        embedded_note="used the embedded MNIST subset shipped with keras_entropy (a smoke test).")
    x_train = data.x_train[: settings["train_size"]]
    x_val = data.x_test[: settings["val_size"]]
    if args.model == "autoencoder":
        x_train, x_val = experiments.flatten_images(x_train), experiments.flatten_images(x_val)
        return x_train, x_train, x_val, x_val, data, note

    def images(x):
        x = x.astype("float32") / 255.0
        return x[..., None] if x.ndim == 3 else x

    y_train = data.y_train[: settings["train_size"]].astype("int32")
    y_val = data.y_test[: settings["val_size"]].astype("int32")
    return images(x_train), y_train, images(x_val), y_val, data, note


def cnn_builder(input_shape, depth, width, classes=10):
    """The paper's small CIFAR-10 CNN (keras_entropy.classification.small_cnn), Adam + cross-entropy."""
    import keras

    from keras_entropy import classification

    def build():
        model = classification.small_cnn(tuple(input_shape), depth, width, classes)
        model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        return model

    return build


def autoencoder_builder(input_dim, latent_dim):
    """The paper's dense autoencoder (keras_entropy.experiments.dense_autoencoder), Adam + MSE."""
    import keras

    from keras_entropy import experiments

    def build():
        model = experiments.dense_autoencoder(input_dim, latent_dim)
        model.compile(keras.optimizers.Adam(experiments.DENSE_AUTOENCODER_PAPER["learning_rate"]), "mse",
                      metrics=[keras.metrics.MeanSquaredError(name="mse")])
        return model

    return build


def main(argv=None):
    args = parse_args(argv)
    script_setup.prepare(args, [args.dataset])  # checks --data-dir, starts Keras quietly
    import keras_tuner

    from keras_entropy import tuning

    base = {"max_trials": 20, "epochs": 10, "train_size": None, "val_size": None, "width": 32,
            "latent_dim": 140}
    if args.quick:
        base.update(QUICK)
    settings = {name: getattr(args, name) or base[name] for name in base}
    role = tuning.cluster_role()
    script_setup.announce_runtime(
        args, dtype_policy=False, suffix=f"; role: {role} ({os.environ['KERASTUNER_TUNER_ID']})" if role else "")

    x_train, y_train, x_val, y_val, data, note = load_data(args, settings)
    print(f"data: {data.describe()}", flush=True)
    if note:
        print(f"NOTE: {note}", flush=True)
    # The data set actually used: a --quick run may have fallen back to the embedded MNIST subset.
    dataset = data.name
    out, _ = script_setup.output_dir(args, f"tune_lambda_{args.model}_{dataset}", create=False)

    lam = "paper" if args.paper_grid else tuning.log_uniform(*args.lam_range)
    stabilized = [True, False] if args.tune_stabilized else True
    if args.model == "cnn":
        placements = args.placements or ["first", "first_two", "all"]
        spaces = {"conv": tuning.EntropySearch(lam=lam, placement=placements, stabilized=stabilized)}
        build = cnn_builder(x_train.shape[1:], args.depth, settings["width"])
        objective = args.objective or "val_accuracy"
    else:
        placements = args.placements or ["first", "all"]
        spaces = {"dense": tuning.EntropySearch(lam=lam, placement=placements, stabilized=stabilized)}
        build = autoencoder_builder(x_train.shape[1], settings["latent_dim"])
        objective = args.objective or "val_loss"
    hypermodel = tuning.EntropyHyperModel(build, seeds=args.seed, name=args.model, **spaces)

    common = {"objective": tuning.objective(objective), "directory": out, "project_name": "tuner",
              "seed": args.seed + 1, "overwrite": args.overwrite and role != "worker"}
    if args.tuner == "random":
        tuner = keras_tuner.RandomSearch(hypermodel, max_trials=settings["max_trials"], **common)
    elif args.tuner == "bayesian":
        tuner = keras_tuner.BayesianOptimization(hypermodel, max_trials=settings["max_trials"], **common)
    else:
        tuner = keras_tuner.Hyperband(hypermodel, max_epochs=settings["epochs"], factor=3, **common)
    if role != "worker":
        if args.verbose:
            tuner.search_space_summary()
        else:
            print(f"search: {args.tuner}, "
                  + (f"up to {settings['max_trials']} trials" if args.tuner != "hyperband" else "hyperband brackets")
                  + f" of {settings['epochs']} epochs over "
                  + ", ".join(tuner.oracle.hyperparameters.values) + f"; objective {objective}", flush=True)

    tuning.run_search(
        tuner, x_train, y_train, validation_data=(x_val, y_val), epochs=settings["epochs"],
        batch_size=args.batch_size, verbose=args.verbose,
        trial_timeout=args.trial_timeout, heartbeat_interval=args.heartbeat, progress=True,
    )
    if role == "worker":
        print("worker: search finished", flush=True)
        return 0
    results = os.path.join(out, "results.jsonl")
    exported = tuning.export_trials(tuner, results, fixed={
        "model": args.model, "dataset": dataset, "data_source": "embedded" if data.is_embedded else data.source})
    print(f"\nexported {exported['exported']} trials to {results} "
          f"({exported['skipped']} already there); keras_entropy.reports reads it", flush=True)
    values, score, name = tuning.best_trial_summary(tuner)
    print("best trial hyperparameters: " + ", ".join(f"{k}={v}" for k, v in values.items()))
    print(f"best trial score: {name} = {score:.6g}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(script_setup.run(main))

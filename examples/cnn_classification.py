"""Small CNNs on CIFAR-10 with the convolutional entropy loss (paper section 5.3, Table 1).

The paper's small CNN: 1-3 blocks of (3x3 convolution, leaky ReLU, 2x2
max pooling), then a softmax classifier; widths 32, 64, 128; cross-entropy
and Adam. The entropy loss is the convolutions' `kernel_regularizer`,
`ke.ConvEntropy(lam, output_shape=..., form=...)`, on the first convolution
only ("first"), the first two ("first_two") or all of them ("all"), for a
grid of lambdas including 0 (the baseline); 10 replications per cell;
early stopping after 10 epochs without a validation-accuracy gain, the
accuracies of the best epoch. `run.sweep` runs the grid (resumable:
re-running the same command skips finished runs); summary.md holds the
paper's Table 1: one-tailed t-tests of "the entropy loss improves the
(train / validation) accuracy" at the best lambda, with p-values and stars.
--form picks the penalty's form (the paper's by default; volume and
normalized: MATH.md sections 8-10). Results (results.jsonl), the accuracy
plot and summary.md go to --out; --report-only rewrites the report.

    python examples/cnn_classification.py --quick             # a few minutes on a CPU
    python examples/cnn_classification.py                     # the paper's grid (GPU advised)
    python examples/cnn_classification.py --data-dir ~/tensorflow_datasets --depths 2 --widths 64
    python examples/cnn_classification.py --quick --form normalized

Data: tensorflow-datasets' copy (prepared in ~/tensorflow_datasets or
$TFDS_DATA_DIR; downloaded there with --download, the default except with
--quick), or --data-dir DIR with DIR a tensorflow-datasets data directory in
which `cifar10` or `mnist` is prepared (for MNIST also: a folder holding the
four IDX files train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,
t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz). Without a local
copy --quick uses the embedded MNIST subset, and says so.
"""

import argparse
import sys

#: The paper's settings (keras_entropy.experiments.paper.CNN_PAPER): the default of every flag.
DEFAULTS = {
    "depths": [1, 2, 3],
    "widths": [32, 64, 128],
    "placements": ["first", "all"],
    "lams": [0.0, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0],
    "form": "paper",
    "replications": 10,
    "max_epochs": 100,
    "patience": 10,
    "batch_size": 128,
    "train_size": None,
    "val_size": None,
}
#: --quick: a tiny CPU run.
QUICK = {
    "depths": [2],
    "widths": [8],
    "placements": ["first", "all"],
    "lams": [0.0, 0.01],
    "replications": 2,
    "max_epochs": 2,
    "patience": 1,
    "train_size": 256,
    "val_size": 128,
}
#: The smallest value of each numeric flag.
MINIMUM = {
    "widths": 1,
    "replications": 1,
    "max_epochs": 1,
    "patience": 0,
    "batch_size": 1,
    "train_size": 1,
    "val_size": 1,
}


def parse_args(argv=None):
    """The command line, parsed with the standard library alone: --help answers before Keras starts."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=["cifar10", "mnist"], default="cifar10")
    parser.add_argument(
        "--data-dir",
        help="local copy: a folder with the MNIST IDX .gz files, or a tensorflow-datasets data directory",
    )
    parser.add_argument(
        "--out",
        help="folder for results.jsonl, plots and summary.md (default: runs/cnn_classification_DATASET[_quick])",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"tiny CPU run: {QUICK}; without a local copy of the data set it uses the embedded MNIST subset, "
        "and says so",
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
        help="Keras fit verbosity: 0 (default) prints a progress bar per sweep and one line per finished "
        "run; --verbose or --verbose 2 adds one line per epoch, --verbose 1 Keras's progress bars; any "
        "non-zero value also keeps TensorFlow's start-up logs",
    )
    parser.add_argument("--depths", type=int, nargs="+", choices=[1, 2, 3], help="conv blocks (paper: 1 2 3)")
    parser.add_argument("--widths", type=int, nargs="+", help="filters per convolution (paper: 32 64 128)")
    parser.add_argument(
        "--placements",
        nargs="+",
        choices=["first", "first_two", "all"],
        help="the convolutions that get the entropy loss (paper: first all)",
    )
    parser.add_argument(
        "--lams",
        type=float,
        nargs="+",
        help="entropy loss strengths, include 0 for the baseline (paper: 0 0.0001 0.001 0.01 0.1 1 10)",
    )
    parser.add_argument(
        "--form",
        choices=["paper", "volume", "normalized"],
        help="the entropy change the penalty takes: paper (the paper's formulas; default), volume (the "
        "log-volume the whole kernel maps) or normalized (that volume less its scale part); MATH.md sections 8-10",
    )
    parser.add_argument("--replications", type=int, help="runs per cell, distinct seeds (paper: 10)")
    parser.add_argument("--max-epochs", type=int, help="epoch cap of each run (default 100)")
    parser.add_argument("--patience", type=int, help="early-stopping patience on val_accuracy (paper: 10)")
    parser.add_argument("--batch-size", type=int, help="default 128")
    parser.add_argument("--train-size", type=int, help="use the first N training images (default: all)")
    parser.add_argument("--val-size", type=int, help="use the first N test images for validation (default: all)")
    args = parser.parse_args(argv)
    for name, minimum in MINIMUM.items():
        value = getattr(args, name)
        for v in value if isinstance(value, list) else [value]:
            if v is not None and v < minimum:
                parser.error(f"--{name.replace('_', '-')}: must be at least {minimum}, got {v}")
    for name, default in DEFAULTS.items():
        if getattr(args, name) is None:
            setattr(args, name, QUICK.get(name, default) if args.quick else default)
    return args


def build_model(input_shape, depth, width, classes, lam=0.0, placement="first", form="paper"):
    """The paper's small CNN, with `ConvEntropy(lam)` on the convolutions `placement` names.

    `depth` blocks of `Conv2D(width, 3)` (`conv1`, `conv2`, ...),
    `LeakyReLU` and `MaxPooling2D(2)`, then a softmax `Dense` (`classifier`,
    float32 under mixed precision). "first" penalises the first
    convolution, "first_two" the first two, "all" every one; lam 0 none.
    """
    import keras

    import keras_entropy as ke

    penalised = {"first": 1, "first_two": 2, "all": depth}[placement] if lam else 0
    height, breadth = input_shape[:2]
    layers = [keras.Input(input_shape)]
    for i in range(depth):
        height, breadth = height - 2, breadth - 2  # the output of a 3x3 "valid" convolution
        # ConvEntropy counts the output positions N_out = height * breadth (see its docstring).
        regularizer = ke.ConvEntropy(lam, output_shape=(height, breadth), form=form) if i < penalised else None
        layers += [
            keras.layers.Conv2D(width, 3, kernel_regularizer=regularizer, name=f"conv{i + 1}"),
            keras.layers.LeakyReLU(name=f"leaky_relu{i + 1}"),
            keras.layers.MaxPooling2D(2, name=f"pool{i + 1}"),
        ]
        height, breadth = height // 2, breadth // 2
    layers += [
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dense(classes, activation="softmax", dtype="float32", name="classifier"),
    ]
    return keras.Sequential(layers, name=f"cnn_{depth}x{width}")


def train(config, seed, data, verbose=0):
    """One run of the sweep: build, compile, fit; returns the record's fields (`fit_classifier`)."""
    import keras

    from keras_entropy.experiments import classification

    x_train, y_train, x_val, y_val = data
    keras.utils.set_random_seed(int(seed))
    classes = max(int(max(y_train.max(), y_val.max())) + 1, 2)
    model = build_model(
        tuple(x_train.shape[1:]),
        config["depth"],
        config["width"],
        classes,
        config["lam"],
        config["placement"],
        config.get("form", "paper"),  # a config without "form" ran the paper's
    )
    model.compile(
        optimizer=keras.optimizers.Adam(config["learning_rate"]),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    # model.fit with early stopping on val_accuracy; the record holds the metrics of the best epoch.
    record = classification.fit_classifier(
        model,
        x_train,
        y_train,
        (x_val, y_val),
        patience=config["patience"],
        max_epochs=config["max_epochs"],
        batch_size=config["batch_size"],
        verbose=verbose,
    )
    keras.backend.clear_session()
    return record


def experiment(args):
    """Data, model, compile, fit (one run per config and seed), Table 1."""
    from keras_entropy.experiments import classification, script_setup

    script_setup.prepare(args, [args.dataset])  # checks --data-dir, quiets the logs
    run = script_setup.start(args, f"cnn_classification_{args.dataset}", fallback="mnist")
    settings = {name: getattr(args, name) for name in DEFAULTS}
    data, fixed = classification.cnn_inputs(run.data, settings, run.source)
    records = run.sweep(
        lambda config, seed: train(config, seed, data, verbose=args.verbose),
        classification.cnn_configs(settings, fixed),  # per depth and width: the baseline, placements x lambdas
        args.replications,
        show=("val_accuracy", "accuracy"),
        skip=args.report_only,
    )
    table1, plot, summary = classification.write_cnn_report(run, records, fixed, script_setup.command_line(__file__))
    run.report(summary, table1, plot)
    return 0


def main(argv=None):
    args = parse_args(argv)  # --help and bad arguments answer here, before Keras starts
    from keras_entropy.experiments import script_setup  # Keras starts here

    return script_setup.run(experiment, args)  # bad data or --out: one line naming the flag, exit status 2


if __name__ == "__main__":
    sys.exit(main())

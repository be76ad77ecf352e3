"""VGG16 and ResNet50 on Imagenette with the convolutional entropy loss (paper section 5.4, Table 2).

keras.applications VGG16 and ResNet50 (weights=None) with a dense head,
trained vanilla, with augmentation (horizontal flips, 20% rotation, 20%
zoom: Keras preprocessing layers) or with augmentation and dropout 0.5 in
the head. keras.applications builds its own layers, so the entropy loss
goes on the built model: `ke.place_penalties(model, placement, lam,
kinds=("conv",))` gives the chosen convolutions a `ConvEntropy(lam)`
kernel regularizer with their real output size. Placements: VGG16 [1]
("first") and [1,2] ("first_two"); ResNet50 [1], [1,5] ("first_two"),
pre-skip and empirical (the layers with the highest entropy change in a
reference network, by default ImageNet-trained ResNet50 as in the paper's
Figure 8). SGD with learning rate 0.01, divided by 10 after 10 epochs
without a validation-accuracy gain; early stopping after 25. `run.sweep`
runs the grid (resumable: re-running the same command skips finished
runs); summary.md holds the paper's Table 2 (validation accuracy per
model, training, placement and lambda; the best of each row in bold).
--form picks the penalty's form (the paper's by default; volume and
normalized: MATH.md sections 8-10). Results (results.jsonl), the accuracy
plot and summary.md go to --out; --report-only rewrites the report.

    python examples/large_cnn_classification.py --quick       # a minute on a CPU
    python examples/large_cnn_classification.py --data-dir ~/tensorflow_datasets   # GPU advised
    python examples/large_cnn_classification.py --archs resnet50 --placements pre_skip --lams 0 1e-3

Data: tensorflow-datasets' copy (prepared in ~/tensorflow_datasets or
$TFDS_DATA_DIR; downloaded there with --download, the default except with
--quick), or --data-dir DIR with DIR a tensorflow-datasets data directory in
which `imagenette/320px-v2` is prepared. Without a local copy --quick
trains on tensorflow-datasets mock data (random images), and says so.
"""

import argparse
import sys

#: The paper's settings (keras_entropy.experiments.paper.LARGE_CNN_PAPER): the default of every flag.
#: placements None: the paper's placements of each architecture.
DEFAULTS = {
    "archs": ["vgg16", "resnet50"],
    "trainings": ["vanilla", "augmentation", "augmentation_dropout"],
    "placements": None,
    "image_size": 224,
    "head_units": 4096,
    "lr_patience": 10,
    "reference": "imagenet",
    "empirical_k": 10,
    "lams": [0.0, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0],
    "form": "paper",
    "replications": 1,
    "max_epochs": 200,
    "patience": 25,
    "batch_size": 32,
    "train_size": None,
    "val_size": None,
}
#: --quick: a tiny CPU run.
QUICK = {
    "archs": ["vgg16"],
    "trainings": ["augmentation_dropout"],
    "placements": ["first"],
    "image_size": 32,
    "head_units": 16,
    "lr_patience": 1,
    "reference": "initial",
    "lams": [0.0, 0.01],
    "replications": 1,
    "max_epochs": 1,
    "patience": 1,
    "batch_size": 16,
    "train_size": 32,
    "val_size": 16,
}
#: The smallest value of each numeric flag.
MINIMUM = {
    "image_size": 32,
    "head_units": 1,
    "lr_patience": 0,
    "empirical_k": 1,
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
    parser.add_argument("--dataset", choices=["imagenette"], default="imagenette", help="only Imagenette (default)")
    parser.add_argument("--data-dir", help="a tensorflow-datasets data directory with imagenette/320px-v2 prepared")
    parser.add_argument(
        "--out", help="folder for results.jsonl, plots and summary.md (default: runs/large_cnn_classification[_quick])"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"tiny CPU run: {QUICK}; without a local copy of Imagenette it trains on tensorflow-datasets mock "
        "data (random images), and says so",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the first replication")
    parser.add_argument("--mixed-precision", action="store_true", help="train with mixed_float16")
    parser.add_argument(
        "--download",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="let tensorflow-datasets download Imagenette (default: yes, except with --quick)",
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
    parser.add_argument("--archs", nargs="+", choices=["vgg16", "resnet50"], help="default: both")
    parser.add_argument(
        "--trainings",
        nargs="+",
        choices=["vanilla", "augmentation", "augmentation_dropout"],
        help="default: all three",
    )
    parser.add_argument(
        "--placements",
        nargs="+",
        choices=["first", "first_two", "pre_skip", "empirical"],
        help="default: first first_two (VGG16); first first_two pre_skip empirical (ResNet50); a placement an "
        "architecture does not use in the paper is still run if named",
    )
    parser.add_argument("--image-size", type=int, help="square input size (default 224)")
    parser.add_argument("--head-units", type=int, help="width of the head's dense layers (default 4096)")
    parser.add_argument("--lr-patience", type=int, help="epochs without gain before lr /= 10 (paper: 10)")
    parser.add_argument(
        "--reference",
        help="reference of 'empirical': imagenet (default), initial, a profile .json "
        "(keras_entropy.EntropyProfile.to_json) or a .keras model",
    )
    parser.add_argument("--empirical-k", type=int, help="layers chosen by 'empirical' (default 10)")
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
    parser.add_argument("--replications", type=int, help="runs per cell, distinct seeds (paper: 1)")
    parser.add_argument("--max-epochs", type=int, help="epoch cap of each run (default 200)")
    parser.add_argument("--patience", type=int, help="early-stopping patience on val_accuracy (paper: 25)")
    parser.add_argument("--batch-size", type=int, help="default 32")
    parser.add_argument("--train-size", type=int, help="use the first N training images (default: all)")
    parser.add_argument("--val-size", type=int, help="use the first N validation images (default: all)")
    args = parser.parse_args(argv)
    for name, minimum in MINIMUM.items():
        value = getattr(args, name)
        if value is not None and value < minimum:
            parser.error(f"--{name.replace('_', '-')}: must be at least {minimum}, got {value}")
    for name, default in DEFAULTS.items():
        if getattr(args, name) is None:
            setattr(args, name, QUICK.get(name, default) if args.quick else default)
    return args


def build_model(
    arch,
    input_shape,
    classes,
    *,
    training="vanilla",
    head_units=4096,
    dropout=0.5,
    lam=0.0,
    placement="first",
    reference=None,
    k=None,
    form="paper",
):
    """VGG16 or ResNet50 (keras.applications, random weights) with a dense head and `ConvEntropy(lam)`.

    uint8-range images -> `Rescaling(1/255)` -> [augmentation] -> backbone
    (its layers inlined, so that names such as `block1_conv1` are
    top-level) -> head -> softmax. VGG16's head is `Flatten, Dense(head_units),
    Dense(head_units)` as in the original, ResNet50's `GlobalAveragePooling2D,
    Dense(head_units)`; with "augmentation_dropout", `Dropout(dropout)`
    follows each hidden dense layer. `placement`, `reference` and `k`: see
    `keras_entropy.place_penalties` ("empirical" needs the reference profile).
    """
    import keras

    import keras_entropy as ke

    inputs = keras.Input(input_shape, name="image")
    x = keras.layers.Rescaling(1.0 / 255, name="rescale")(inputs)
    if training != "vanilla":  # active in training only
        x = keras.layers.RandomFlip("horizontal", name="aug_flip")(x)
        x = keras.layers.RandomRotation(0.2, name="aug_rotation")(x)
        x = keras.layers.RandomZoom(0.2, name="aug_zoom")(x)
    application = keras.applications.VGG16 if arch == "vgg16" else keras.applications.ResNet50
    x = application(include_top=False, weights=None, input_tensor=x).output
    if arch == "vgg16":
        x = keras.layers.Flatten(name="flatten")(x)
        hidden = ("fc1", "fc2")
    else:
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
        hidden = ("fc1",)
    for name in hidden:
        x = keras.layers.Dense(head_units, activation="relu", name=name)(x)
        if training == "augmentation_dropout" and dropout:
            x = keras.layers.Dropout(dropout, name=f"{name}_dropout")(x)
    outputs = keras.layers.Dense(classes, activation="softmax", dtype="float32", name="predictions")(x)
    model = keras.Model(inputs, outputs, name=f"{arch}_{training}")
    if lam != 0:
        # The chosen Conv2D layers get kernel_regularizer=ke.ConvEntropy(lam, output_shape=(h, w), form=form).
        ke.place_penalties(model, placement, lam, reference=reference, k=k, kinds=("conv",), form=form)
    return model


def train(config, seed, data, verbose=0, references=None):
    """One run of the sweep: build, compile, fit; returns the record's fields (`fit_classifier`).

    `references` caches the reference profiles of "empirical" by (reference, arch).
    """
    import keras

    from keras_entropy.experiments import classification

    x_train, y_train, x_val, y_val = data
    reference = None
    if config["placement"] == "empirical":  # loaded before the seed is set: the run's weights do not depend on it
        references = {} if references is None else references
        name = (config["reference"], config["arch"])
        if name not in references:
            shape = (config["image_size"],) * 2 + (3,)
            references[name] = classification.load_reference(config["reference"], config["arch"], shape)
        reference = references[name]
    keras.utils.set_random_seed(int(seed))
    model = build_model(
        config["arch"],
        tuple(x_train.shape[1:]),
        max(int(max(y_train.max(), y_val.max())) + 1, 2),
        training=config["training"],
        head_units=config["head_units"],
        dropout=config["dropout"],
        lam=config["lam"],
        placement=config["placement"],
        reference=reference,
        k=config.get("empirical_k"),
        form=config.get("form", "paper"),  # a config without "form" ran the paper's
    )
    penalised = [layer.name for layer in model.layers if getattr(layer, "kernel_regularizer", None) is not None]
    model.compile(
        optimizer=keras.optimizers.SGD(config["learning_rate"]),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    plateau = keras.callbacks.ReduceLROnPlateau(
        monitor="val_accuracy", mode="max", factor=config["lr_factor"], patience=config["lr_patience"], verbose=0
    )
    # model.fit with early stopping on val_accuracy; the record holds the metrics of the best epoch.
    record = classification.fit_classifier(
        model,
        x_train.astype("float32"),
        y_train,
        (x_val.astype("float32"), y_val),
        patience=config["patience"],
        max_epochs=config["max_epochs"],
        batch_size=config["batch_size"],
        extra_callbacks=[plateau],
        verbose=verbose,
    )
    record["penalised_layers"] = penalised
    keras.backend.clear_session()
    return record


def experiment(args):
    """Data, model, compile, fit (one run per config and seed), Table 2."""
    from keras_entropy.experiments import classification, script_setup

    script_setup.prepare(args, [args.dataset])  # checks --data-dir, quiets the logs
    sizes = [size for size in (args.train_size, args.val_size) if size]
    run = script_setup.start(
        args,
        "large_cnn_classification",
        fallback="mock",
        image_size=args.image_size,
        mock_examples=32,
        max_examples=max(sizes, default=None),
    )
    settings = {name: getattr(args, name) for name in DEFAULTS}
    data, fixed, note = classification.large_cnn_inputs(run.data, settings, run.source, run.note, args.dataset)
    references = {}
    records = run.sweep(
        lambda config, seed: train(config, seed, data, verbose=args.verbose, references=references),
        classification.large_cnn_configs(settings, fixed),  # per arch and training: baseline, placements x lambdas
        args.replications,
        show=("val_accuracy", "accuracy"),
        skip=args.report_only,
    )
    table2, plot, summary = classification.write_large_cnn_report(
        run, records, fixed, script_setup.command_line(__file__), note
    )
    run.report(summary, table2, plot)
    return 0


def main(argv=None):
    args = parse_args(argv)  # --help and bad arguments answer here, before Keras starts
    from keras_entropy.experiments import script_setup  # Keras starts here

    return script_setup.run(experiment, args)  # bad data or --out: one line naming the flag, exit status 2


if __name__ == "__main__":
    sys.exit(main())

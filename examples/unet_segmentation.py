"""U-Net on COCO binary masks with the convolutional entropy loss (paper section 5.5, Table 3).

A U-Net built here with keras.layers (each down level Conv2D, Dropout,
Conv2D, MaxPooling2D; each up level Conv2DTranspose, Concatenate, Conv2D,
Dropout, Conv2D; a 1x1 sigmoid convolution) on 256x256 COCO images with
binary foreground masks (pixels of "thing" objects): mean squared error
plus the entropy loss, Adam, early stopping when the validation loss has
not improved by 0.01 for 10 epochs. The paper names the penalised layers
by their index in `model.layers` ("2", "2,3", "3,7,11,15",
"3,7,11,15,19,24,29,34"; see keras_entropy.experiments.segmentation), so
the entropy loss goes on the built model: `ke.place_penalties(model,
layers, lam, kinds=("conv",))` gives each chosen convolution a
`ConvEntropy(lam)` kernel regularizer with its real output size; a
placement strategy ("pre_concat", "first", "all") works too. `run.sweep`
runs the grid (resumable: re-running the same command skips finished
runs). Prints and writes the paper's Table 3 (epochs, training time,
validation accuracy and IoU per run, `ke.BinaryIoU`) and saves images of
predicted vs true masks (PNG) for every run. --form picks the penalty's
form (the paper's by default; volume and normalized: MATH.md sections
8-10). Results (results.jsonl), plots, mask images and summary.md go to
--out; --report-only rewrites the report.

    python examples/unet_segmentation.py --quick          # a minute on a CPU
    python examples/unet_segmentation.py --data-dir ~/tensorflow_datasets   # GPU advised
    python examples/unet_segmentation.py --placements 2 2,3 3,7,11,15 --lams 0 0.01

Data: tensorflow-datasets' copy (prepared in ~/tensorflow_datasets or
$TFDS_DATA_DIR; downloaded there with --download, the default except with
--quick), or --data-dir DIR with DIR a tensorflow-datasets data directory in
which `coco/2017_panoptic` is prepared. Without a local copy --quick trains
on tensorflow-datasets mock data (random images), and says so.
"""

import argparse
import re
import sys

#: The paper's settings (keras_entropy.experiments.paper.UNET_PAPER): the default of every flag.
DEFAULTS = {
    "placements": ["3,7,11,15"],
    "image_size": 256,
    "base_filters": 16,
    "lams": [0.0, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0],
    "form": "paper",
    "replications": 1,
    "max_epochs": 100,
    "patience": 10,
    "batch_size": 16,
    "train_size": None,
    "val_size": None,
}
#: --quick: a tiny CPU run.
QUICK = {
    "placements": ["3,7,11,15"],
    "image_size": 32,
    "base_filters": 4,
    "lams": [0.0, 0.01],
    "replications": 1,
    "max_epochs": 2,
    "patience": 1,
    "batch_size": 8,
    "train_size": 16,
    "val_size": 8,
}
#: The smallest value of each numeric flag.
MINIMUM = {
    "base_filters": 1,
    "replications": 1,
    "max_epochs": 1,
    "patience": 0,
    "batch_size": 1,
    "train_size": 1,
    "val_size": 1,
}
#: A placement: the paper's model.layers indices ("3,7,11,15", "[2, 3]") or a strategy.
PLACEMENT = re.compile(r"\[?\s*\d+(\s*,\s*\d+)*\s*\]?|pre_concat|first|first_two|all")


def parse_args(argv=None):
    """The command line, parsed with the standard library alone: --help answers before Keras starts."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--dataset", choices=["coco_segmentation"], default="coco_segmentation", help="only COCO (default)"
    )
    parser.add_argument("--data-dir", help="a tensorflow-datasets data directory with coco/2017_panoptic prepared")
    parser.add_argument(
        "--out",
        help="folder for results.jsonl, plots, mask images and summary.md (default: runs/unet_segmentation[_quick])",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"tiny CPU run: {QUICK}; without a local copy of COCO it trains on tensorflow-datasets mock data "
        "(random images), and says so",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the first replication")
    parser.add_argument("--mixed-precision", action="store_true", help="train with mixed_float16")
    parser.add_argument(
        "--download",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="let tensorflow-datasets download COCO (default: yes, except with --quick)",
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
    parser.add_argument(
        "--placements",
        nargs="+",
        help="entropy-loss layers: paper model.layers indices like 3,7,11,15 or a strategy "
        "(pre_concat, first, first_two, all); default 3,7,11,15",
    )
    parser.add_argument("--image-size", type=int, help="square image size, a multiple of 16 (default 256)")
    parser.add_argument("--base-filters", type=int, help="filters of the first level (default 16)")
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
    parser.add_argument("--max-epochs", type=int, help="epoch cap of each run (default 100)")
    parser.add_argument("--patience", type=int, help="early-stopping patience (paper: 10; min_delta 0.01)")
    parser.add_argument("--batch-size", type=int, help="default 16")
    parser.add_argument("--train-size", type=int, help="use the first N training images (default: all)")
    parser.add_argument("--val-size", type=int, help="use the first N validation images (default: all)")
    args = parser.parse_args(argv)
    for name, minimum in MINIMUM.items():
        value = getattr(args, name)
        if value is not None and value < minimum:
            parser.error(f"--{name.replace('_', '-')}: must be at least {minimum}, got {value}")
    if args.image_size is not None and (args.image_size < 1 or args.image_size % 16):
        parser.error(f"--image-size: must be a positive multiple of 16, got {args.image_size}")
    for placement in args.placements or []:
        if not PLACEMENT.fullmatch(placement):
            parser.error(f"--placements: must be layer indices like 3,7,11,15 or a strategy, got {placement!r}")
    for name, default in DEFAULTS.items():
        if getattr(args, name) is None:
            setattr(args, name, QUICK.get(name, default) if args.quick else default)
    return args


def build_model(input_shape, base_filters=16, depth=4):
    """The paper's U-Net: sigmoid one-channel output, no penalty yet.

    `depth` down levels (Conv 3x3, Dropout, Conv 3x3, MaxPool 2x2) with
    `base_filters * 2**level` filters, a bottleneck (Conv, Dropout, Conv),
    `depth` up levels (Conv2DTranspose 2x2 stride 2, Concatenate with the
    level's skip, Conv, Dropout, Conv) and a 1x1 sigmoid convolution; ReLU,
    "same" padding, He initialisation. With depth 4, model.layers[3, 7, 11,
    15] are the down levels' second convolutions, the paper's placement.
    """
    import keras

    dropouts = (0.1, 0.1, 0.2, 0.2, 0.3)  # down levels and bottleneck, mirrored upwards

    def conv(filters, name):
        return keras.layers.Conv2D(
            filters, 3, activation="relu", padding="same", kernel_initializer="he_normal", name=name
        )

    inputs = keras.Input(input_shape, name="image")
    x, skips = inputs, []
    for level in range(depth):
        f = base_filters * 2**level
        x = conv(f, f"down{level + 1}_conv1")(x)
        x = keras.layers.Dropout(dropouts[level], name=f"down{level + 1}_dropout")(x)
        x = conv(f, f"down{level + 1}_conv2")(x)
        skips.append(x)
        x = keras.layers.MaxPooling2D(2, name=f"down{level + 1}_pool")(x)
    f = base_filters * 2**depth
    x = conv(f, "bottleneck_conv1")(x)
    x = keras.layers.Dropout(dropouts[depth], name="bottleneck_dropout")(x)
    x = conv(f, "bottleneck_conv2")(x)
    for level in reversed(range(depth)):
        f = base_filters * 2**level
        n = depth - level
        x = keras.layers.Conv2DTranspose(f, 2, strides=2, padding="same", name=f"up{n}_transpose")(x)
        x = keras.layers.Concatenate(name=f"up{n}_concat")([x, skips[level]])
        x = conv(f, f"up{n}_conv1")(x)
        x = keras.layers.Dropout(dropouts[level], name=f"up{n}_dropout")(x)
        x = conv(f, f"up{n}_conv2")(x)
    outputs = keras.layers.Conv2D(1, 1, activation="sigmoid", dtype="float32", name="mask")(x)
    return keras.Model(inputs, outputs, name=f"unet_{base_filters}x{depth}")


def train(config, seed, data, verbose=0, mask_path=None, mask_examples=4):
    """One run of the sweep: build, place the penalty, compile, fit; returns the record's fields.

    With `mask_path`, a PNG of the first `mask_examples` validation images
    with their true and predicted masks is written there.
    """
    import keras

    import keras_entropy as ke
    from keras_entropy.experiments import runs, segmentation

    x_train, y_train, x_val, y_val = data
    keras.utils.set_random_seed(int(seed))
    model = build_model(tuple(x_train.shape[1:]), config["base_filters"], config["depth"])
    if config["lam"] != 0:
        layers = segmentation.placement_layers(model, config["placement"])  # "3,7,11,15": their names
        # Each chosen Conv2D gets kernel_regularizer=ke.ConvEntropy(lam, output_shape=(h, w), form=form).
        ke.place_penalties(model, layers, config["lam"], kinds=("conv",), form=config.get("form", "paper"))
    penalised = [layer.name for layer in model.layers if getattr(layer, "kernel_regularizer", None) is not None]
    model.compile(
        optimizer=keras.optimizers.Adam(config["learning_rate"]),
        loss="mse",
        metrics=[keras.metrics.BinaryAccuracy(name="accuracy"), ke.BinaryIoU(name="iou")],
    )
    # model.fit, stopped when val_loss has not improved by min_delta for `patience` epochs.
    record = runs.fit_run(
        model,
        x_train,
        y_train,
        (x_val, y_val),
        monitors=("val_loss",),
        patience=config["patience"],
        min_delta=config["min_delta"],
        stop_when="first",
        max_epochs=config["max_epochs"],
        batch_size=config["batch_size"],
        verbose=verbose,
    )
    record["penalised_layers"] = penalised
    if mask_path is not None:
        n = min(mask_examples, len(x_val))
        predicted = keras.ops.convert_to_numpy(model(x_val[:n], training=False))  # no predict function to compile
        title = f"lam={config['lam']:g}, placement={config['placement']}"
        record["mask_figure"] = segmentation.save_mask_figure(x_val[:n], y_val[:n], predicted, mask_path, title)
    keras.backend.clear_session()
    return record


def experiment(args):
    """Data, model, compile, fit (one run per config and seed), Table 3."""
    from keras_entropy.experiments import script_setup, segmentation

    script_setup.prepare(args, [args.dataset])  # checks --data-dir, quiets the logs
    sizes = [size for size in (args.train_size, args.val_size) if size]
    run = script_setup.start(
        args,
        "unet_segmentation",
        fallback="mock",
        image_size=args.image_size,
        mock_examples=16,
        max_examples=max(sizes, default=None),
    )
    settings = {name: getattr(args, name) for name in DEFAULTS}
    data, fixed = segmentation.unet_inputs(run.data, settings, run.source, args.dataset)
    records = run.sweep(
        lambda config, seed: train(
            config, seed, data, verbose=args.verbose, mask_path=run.path(segmentation.mask_file(config, seed))
        ),
        segmentation.unet_configs(settings, fixed),  # the baseline, then placements x lambdas
        args.replications,
        show=("val_iou", "val_accuracy"),
        skip=args.report_only,
    )
    table, summary = segmentation.write_unet_report(run, records, fixed, script_setup.command_line(__file__))
    run.report(summary, table, "plots, mask images")
    return 0


def main(argv=None):
    args = parse_args(argv)  # --help and bad arguments answer here, before Keras starts
    from keras_entropy.experiments import script_setup  # Keras starts here

    return script_setup.run(experiment, args)  # bad data or --out: one line naming the flag, exit status 2


if __name__ == "__main__":
    sys.exit(main())

"""Entropy profiles of VGG16, ResNet50 and U-Net, trained vs initialised (paper Figures 1, 7, 8, 9).

For each model, `ke.entropy_profile(model)` measures the per-filter entropy
change `log|K[0, 0, i, o]|` of every Conv2D (and Dense) layer, once at
initialisation and once trained, and `ke.plot_profiles([trained,
initialised])` draws them side by side, one box per layer.

"Trained" means, in order:

1. VGG16 / ResNet50: the Keras ImageNet weights when they are on disk
   (--weights vgg16=PATH, or the Keras cache ~/.keras/models, as
   keras.applications saves them); nothing is downloaded;
2. otherwise a network trained here on --dataset (classifiers; default
   imagenette) or --seg-dataset (U-Net; default coco_segmentation), found
   locally (--data-dir / tensorflow-datasets). Without the data, a full run
   stops with a message saying how to provide it.

--quick trains compact versions (VGG16 and ResNet layouts with fewer filters,
ResNet with one block per stage, a narrow U-Net) at 32x32 for one short epoch
on MNIST (the embedded subset when no copy is found; U-Net masks are the digit
strokes), and says so in the output and summary.md: about a minute on a
2-core CPU.

    python examples/entropy_profiles.py --quick
    python examples/entropy_profiles.py --weights vgg16=~/vgg16_weights_tf_dim_ordering_tf_kernels.h5
    python examples/entropy_profiles.py --models unet --seg-dataset coco_segmentation --data-dir ~/tfds

Writes to --out: profile_<model>.png (trained | initialised),
profile_<model>_{trained,initialised}.{csv,json}, results.jsonl and
summary.md with per-layer means. Re-running the same command skips finished
models.

Data: tensorflow-datasets' copy (prepared in ~/tensorflow_datasets or
$TFDS_DATA_DIR; downloaded there with --download, the default except with
--quick), or --data-dir DIR with DIR a tensorflow-datasets data directory in
which the data set is prepared (for MNIST also: a folder holding the four IDX
files train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,
t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz).
"""

import argparse
import os
import sys

#: The training settings when no ImageNet weights are used, with --quick (the others:
#: keras_entropy.experiments.paper.PROFILE_PAPER, all training examples, 224 / 256 pixels).
QUICK = {
    "input_size": 32,
    "epochs": 1,
    "batch_size": 32,
    "train_size": 128,
    "learning_rate": 1e-3,
    "resnet_blocks": [1, 1, 1, 1],
    "unet_filters": 8,
    "unet_depth": 3,
}


def parse_args(argv=None):
    """The command line, parsed with the standard library alone: --help answers before Keras starts."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--models", nargs="+", choices=["vgg16", "resnet50", "unet"], default=["vgg16", "resnet50", "unet"]
    )
    parser.add_argument(
        "--weights",
        action="append",
        default=[],
        metavar="MODEL=PATH",
        help="ImageNet weights file (or folder) of vgg16 / resnet50; repeatable",
    )
    parser.add_argument(
        "--no-cache-weights", action="store_true", help="do not look for ImageNet weights in the Keras cache"
    )
    parser.add_argument(
        "--seg-dataset",
        choices=["coco_segmentation", "mnist"],
        help="data the U-Net is trained on (default: coco_segmentation; --quick: mnist digit masks)",
    )
    parser.add_argument(
        "--dataset",
        choices=["imagenette", "cifar10", "mnist"],
        help="data the classifiers are trained on without weights (default: imagenette; --quick: mnist)",
    )
    parser.add_argument(
        "--data-dir",
        help="local copy: a tensorflow-datasets data directory, or for MNIST a folder with the four IDX files "
        "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
        "t10k-labels-idx1-ubyte.gz",
    )
    parser.add_argument(
        "--out",
        help="folder for results.jsonl, profile_*.png/csv/json and summary.md (default: runs/entropy_profiles[_quick])",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"compact models, tiny CPU run: {QUICK}; embedded MNIST subset when no copy is found",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the initial weights and training")
    parser.add_argument("--mixed-precision", action="store_true", help="train with mixed_float16")
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
        help="Keras fit verbosity: 0 (default) prints a progress bar per sweep and one line per finished "
        "run; --verbose or --verbose 2 adds one line per epoch, --verbose 1 Keras's progress bars; any "
        "non-zero value also keeps TensorFlow's start-up logs",
    )
    parser.add_argument("--input-size", type=int, help="image side (default 224 for VGG16/ResNet50, 256 for U-Net)")
    parser.add_argument("--epochs", type=int, help="training epochs when training here (default 30)")
    parser.add_argument("--batch-size", type=int, help="default 32")
    parser.add_argument("--train-size", type=int, help="train on the first N examples (default: all)")
    parser.add_argument("--learning-rate", type=float, help="Adam learning rate (default 1e-4)")
    args = parser.parse_args(argv)
    args.argv = argv  # None: sys.argv[1:]

    for name in ("input_size", "epochs", "batch_size", "train_size"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')}: must be at least 1, got {value}")
    if args.learning_rate is not None and not args.learning_rate > 0:
        parser.error(f"--learning-rate: must be positive, got {args.learning_rate}")
    args.weights_given = {}
    for item in args.weights:
        model, sep, path = item.partition("=")
        if not sep or model not in ("vgg16", "resnet50") or not path:
            parser.error(f"--weights {item}: expected vgg16=PATH or resnet50=PATH")
        args.weights_given[model] = os.path.expanduser(path)
    return args


def experiment(args):
    """For each model: build, profile, train (or load ImageNet weights), profile again, plot."""
    import keras

    import keras_entropy as ke
    from keras_entropy.experiments import architectures, profile_figures, script_setup

    script_setup.prepare(args)  # checks --data-dir, quiets the logs
    info = script_setup.announce_runtime(args)

    # The data and one config per model: ImageNet weights when found, else the (x, y) to train on.
    configs, data_of, notes = profile_figures.profile_configs(args, QUICK)
    out, results_path = script_setup.output_dir(args, "entropy_profiles")
    run = script_setup.Run(args, info, None, None, notes, out, results_path)

    def build(config, weights=None):
        """The network of one figure: keras.applications' VGG16 / ResNet50 (compact copies with --quick), the U-Net."""
        name, shape, classes = config["model"], (config["input_size"],) * 2 + (3,), config.get("classes", 10)
        if name == "unet":  # one sigmoid map
            unet = architectures.unet_builder()[1]  # keras_entropy.experiments.segmentation.unet
            return unet(shape, config.get("unet_filters") or 16, config.get("unet_depth", 4))
        if config["compact"] and name == "vgg16":
            return architectures.compact_vgg16(shape, classes)
        if config["compact"]:
            return architectures.compact_resnet(shape, classes, blocks=tuple(config.get("blocks", (3, 4, 6, 3))))
        application = keras.applications.VGG16 if name == "vgg16" else keras.applications.ResNet50
        return application(weights=weights, input_shape=shape, classes=classes)

    def profile(config, seed):
        """One model's two profiles, their files and figure; returns the record's fields."""
        name = config["model"]
        keras.utils.set_random_seed(seed)
        model = build(config)
        initialised = ke.entropy_profile(model, label="initialised")  # log|K[0, 0, i, o]| per layer
        history, metrics = {}, {}
        if config.get("weights"):  # trained: the ImageNet weights
            keras.backend.clear_session()
            model = build(config, weights=config["weights"])
            source = f"ImageNet weights ({os.path.basename(config['weights'])})"
        else:  # trained here
            x, y = data_of[name]
            if name == "unet":
                loss, metric = "binary_crossentropy", keras.metrics.BinaryAccuracy(name="accuracy")
            else:
                loss = "sparse_categorical_crossentropy"
                metric = keras.metrics.SparseCategoricalAccuracy(name="accuracy")
            model.compile(optimizer=keras.optimizers.Adam(config["learning_rate"]), loss=loss, metrics=[metric])
            batches = profile_figures.ImageBatches(x, y, config["batch_size"], seed)  # uint8 -> [0, 1]
            fit = model.fit(batches, epochs=config["epochs"], verbose=args.verbose)
            history = {k: [float(v) for v in values] for k, values in fit.history.items()}
            metrics = {"loss": history["loss"][-1], "accuracy": history["accuracy"][-1]}
            source = f"trained here: {len(x)} examples, {config['epochs']} epochs"
        trained = ke.entropy_profile(model, label="trained")
        keras.backend.clear_session()

        paths = profile_figures.profile_paths(out, name)
        for each in (trained, initialised):
            each.to_csv(paths[f"{each.label}_csv"])
            each.to_json(paths[f"{each.label}_json"])
        title = f"{name}: per-filter entropy change, trained ({source}) vs initialised"
        figure = ke.plot_profiles([trained, initialised], path=paths["figure"], title=title)
        metrics.update(profile_figures.profile_metrics(config, trained, initialised, figure, source))
        return {"history": history, "metrics": metrics}

    # One run per model (finished models are skipped on a re-run), then summary.md.
    records = run.sweep(profile, configs, 1, show=("loss", "accuracy", "n_layers"))
    records = {r["config"]["model"]: r for r in records}
    command = script_setup.command_line(__file__, args.argv)  # for summary.md
    summary = profile_figures.write_profiles_report(run, configs, records, notes, command)
    run.report(summary, writes="profile_*.png/csv/json")
    for name, record in records.items():
        m = record["metrics"]
        print(
            f"{name}: {m['n_layers']} layers; layer-1 mean log|c11| trained {m['layer_means_trained'][0]:.3f}"
            f", initialised {m['layer_means_initialised'][0]:.3f}"
        )
    return 0


def main(argv=None):
    args = parse_args(argv)  # --help and bad arguments answer here, before Keras starts
    from keras_entropy.experiments import script_setup  # Keras starts here

    return script_setup.run(experiment, args)  # bad data or --out: one line naming the flag, exit status 2


if __name__ == "__main__":
    sys.exit(main())

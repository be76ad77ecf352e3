"""VGG16 and ResNet50 on Imagenette with the convolutional entropy loss (paper section 5.4, Table 2).

keras.applications VGG16 and ResNet50 (weights=None) with a dense head,
trained vanilla, with augmentation (horizontal flips, 20% rotation, 20%
zoom) or with augmentation and dropout 0.5 in the head; ConvEntropy(lam)
placed with keras_entropy.placement: VGG16 [1] ("first") and [1,2]
("first_two"); ResNet50 [1], [1,5] ("first_two"), pre-skip and empirical
(the layers with the highest entropy change in a reference network, by
default ImageNet-trained ResNet50 as in the paper's Figure 8). SGD with
learning rate 0.01, divided by 10 after 10 epochs without a
validation-accuracy gain; early stopping after 25. summary.md holds the
paper's Table 2 (validation accuracy per model, training, placement and
lambda; the best of each row in bold).

    python examples/large_cnn_classification.py --quick       # a minute on a CPU
    python examples/large_cnn_classification.py --data-dir ~/tensorflow_datasets   # GPU advised
    python examples/large_cnn_classification.py --archs resnet50 --placements pre_skip --lams 0 1e-3

Results (results.jsonl), the accuracy plot and summary.md go to --out.
Re-running the same command skips finished runs; --report-only rewrites
the report.
"""

import os
import sys


os.environ["KERAS_ENTROPY_DEFER_IMPORTS"] = "1"  # --help answers before Keras starts
from keras_entropy import script_setup  # noqa: E402

del os.environ["KERAS_ENTROPY_DEFER_IMPORTS"]  # only for this import, not for child processes

QUICK = {
    "archs": ["vgg16"],
    "trainings": ["augmentation_dropout"],
    "placements": ["first"],
    "lams": [0.0, 0.01],
    "replications": 1,
    "image_size": 32,
    "head_units": 16,
    "max_epochs": 1,
    "patience": 1,
    "lr_patience": 1,
    "batch_size": 16,
    "train_size": 32,
    "val_size": 16,
    "reference": "initial",
}

STRATEGIES = ["first", "first_two", "pre_skip", "empirical"]


def parse_args(argv=None):
    parser = script_setup.parser_for(__doc__)
    script_setup.add_common_arguments(
        parser, ["imagenette"], "imagenette",
        data_dir_help="a tensorflow-datasets data directory with imagenette/320px-v2 prepared",
        out_help="folder for results.jsonl, plots and summary.md (default: runs/large_cnn_classification[_quick])",
        quick_help=f"tiny CPU run: {QUICK}; without a local copy of Imagenette it trains on "
        "tensorflow-datasets mock data (random images), and says so",
        replications_help="runs per cell, distinct seeds (paper: 1)",
        download_what="Imagenette",
    )
    parser.add_argument("--archs", nargs="+", choices=["vgg16", "resnet50"], help="default: both")
    parser.add_argument("--trainings", nargs="+", choices=["vanilla", "augmentation", "augmentation_dropout"],
                        help="default: all three")
    parser.add_argument("--placements", nargs="+", choices=STRATEGIES,
                        help="default: first first_two (VGG16); first first_two pre_skip empirical (ResNet50); "
                        "a placement an architecture does not use in the paper is still run if named")
    parser.add_argument("--lams", type=float, nargs="+", help="entropy loss strengths, include 0 for the baseline")
    parser.add_argument("--reference", help="reference of 'empirical': imagenet (default), initial, a profile "
                        ".json (keras_entropy.EntropyProfile.to_json) or a .keras model")
    parser.add_argument("--empirical-k", type=int, help="layers chosen by 'empirical' (default 10)")
    parser.add_argument("--image-size", type=int, help="square input size (default 224)")
    parser.add_argument("--head-units", type=int, help="width of the head's dense layers (default 4096)")
    parser.add_argument("--max-epochs", type=int, help="epoch cap (default 200)")
    parser.add_argument("--patience", type=int, help="early-stopping patience on val_accuracy (paper: 25)")
    parser.add_argument("--lr-patience", type=int, help="epochs without gain before lr /= 10 (paper: 10)")
    parser.add_argument("--batch-size", type=int, help="default 32")
    parser.add_argument("--train-size", type=int, help="use the first N training images (default: all)")
    parser.add_argument("--val-size", type=int, help="use the first N validation images (default: all)")
    args = parser.parse_args(argv)
    script_setup.require_positive(parser, args, ("empirical_k", "head_units", "replications", "max_epochs",
                                                 "batch_size", "train_size", "val_size"))
    if args.image_size is not None and args.image_size < 32:
        parser.error(f"--image-size must be >= 32, got {args.image_size}")
    return args


SETTINGS = ("archs", "trainings", "placements", "lams", "replications", "image_size", "head_units", "max_epochs",
            "patience", "lr_patience", "batch_size", "train_size", "val_size", "reference", "empirical_k")


def main(argv=None):
    args = parse_args(argv)
    script_setup.prepare(args, [args.dataset])  # checks --data-dir, starts Keras quietly
    from keras_entropy import classification

    settings = script_setup.settings_for(args, classification.LARGE_CNN_PAPER, QUICK, SETTINGS,
                                         train_size=None, val_size=None, placements=None)
    run = script_setup.start(
        args, "large_cnn_classification", fallback="mock", image_size=settings["image_size"], mock_examples=32,
        max_examples=max(filter(None, [settings["train_size"], settings["val_size"]]), default=None),
        fallback_note="Imagenette was not found locally (and --quick does not download): this --quick run "
        "trained on tensorflow-datasets mock data (random images and labels, tfds.testing.mock_data), so its "
        "accuracies are a smoke test of the pipeline, not the paper's results.")
    arrays, fixed, note = classification.large_cnn_inputs(run.data, settings, run.source, run.note, args.dataset)
    records = run.sweep(
        classification.large_cnn_trainer(arrays, settings["image_size"], verbose=args.verbose),
        classification.large_cnn_configs(settings, fixed), settings["replications"],
        show=("val_accuracy", "accuracy"), skip=args.report_only)
    table2, plot, summary = classification.write_large_cnn_report(
        run, records, fixed, script_setup.command_line(__file__, argv), note)
    print(f"\nwrote {run.results_path}, {plot} and {summary}\n")
    print(table2)
    return 0


if __name__ == "__main__":
    sys.exit(script_setup.run(main))

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
lambda; the best of each row in bold). --form picks the penalty's form
(the paper's by default; volume and normalized: MATH.md sections 8-10).

    python examples/large_cnn_classification.py --quick       # a minute on a CPU
    python examples/large_cnn_classification.py --data-dir ~/tensorflow_datasets   # GPU advised
    python examples/large_cnn_classification.py --archs resnet50 --placements pre_skip --lams 0 1e-3

Results (results.jsonl), the accuracy plot and summary.md go to --out.
Re-running the same command skips finished runs; --report-only rewrites
the report.
"""

import os
import sys

os.environ["KERAS_ENTROPY_DEFER_IMPORTS"] = "1"  # --help answers before Keras starts (script_setup unsets it)
from keras_entropy.experiments import arguments, paper, script_setup  # noqa: E402
from keras_entropy.experiments.arguments import Setting  # noqa: E402

STRATEGIES = ["first", "first_two", "pre_skip", "empirical"]

#: The sweep's settings: option, help, --quick value (the paper's: paper.LARGE_CNN_PAPER).
SETTINGS = {
    "archs": Setting("default: both", str, nargs="+", choices=["vgg16", "resnet50"], quick=["vgg16"]),
    "trainings": Setting(
        "default: all three",
        str,
        nargs="+",
        quick=["augmentation_dropout"],
        choices=["vanilla", "augmentation", "augmentation_dropout"],
    ),
    "placements": Setting(
        "default: first first_two (VGG16); first first_two pre_skip empirical (ResNet50); a "
        "placement an architecture does not use in the paper is still run if named",
        str,
        nargs="+",
        choices=STRATEGIES,
        quick=["first"],
    ),
    "image_size": Setting("square input size (default 224)", minimum=32, quick=32),
    "head_units": Setting("width of the head's dense layers (default 4096)", minimum=1, quick=16),
    "lr_patience": Setting("epochs without gain before lr /= 10 (paper: 10)", minimum=0, quick=1),
    "reference": Setting(
        "reference of 'empirical': imagenet (default), initial, a profile .json "
        "(keras_entropy.EntropyProfile.to_json) or a .keras model",
        str,
        quick="initial",
    ),
    "empirical_k": Setting("layers chosen by 'empirical' (default 10)", minimum=1),
    **arguments.sweep_settings(
        paper.LARGE_CNN_PAPER,
        monitor="val_accuracy",
        validation="validation",
        quick={
            "lams": [0.0, 0.01],
            "replications": 1,
            "max_epochs": 1,
            "patience": 1,
            "batch_size": 16,
            "train_size": 32,
            "val_size": 16,
        },
    ),
}


def parse_args(argv=None):
    parser = arguments.parser_for(__doc__)
    arguments.add_common_arguments(
        parser, ["imagenette"], "imagenette", settings=SETTINGS, run_name="large_cnn_classification", fallback="mock"
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    script_setup.prepare(args, [args.dataset])  # checks --data-dir, starts Keras quietly
    from keras_entropy.experiments import classification, classification_report

    settings = arguments.settings_for(args, paper.LARGE_CNN_PAPER, SETTINGS, placements=None)
    run = script_setup.start(
        args,
        "large_cnn_classification",
        fallback="mock",
        image_size=settings["image_size"],
        mock_examples=32,
        max_examples=max(filter(None, [settings["train_size"], settings["val_size"]]), default=None),
    )
    arrays, fixed, note = classification.large_cnn_inputs(run.data, settings, run.source, run.note, args.dataset)
    records = run.sweep(
        classification.large_cnn_trainer(arrays, settings["image_size"], verbose=args.verbose),
        classification.large_cnn_configs(settings, fixed),
        settings["replications"],
        show=("val_accuracy", "accuracy"),
        skip=args.report_only,
    )
    table2, plot, summary = classification_report.write_large_cnn_report(
        run, records, fixed, script_setup.command_line(__file__, argv), note
    )
    run.report(summary, table2, plot)
    return 0


if __name__ == "__main__":
    sys.exit(script_setup.run(main))

"""Small CNNs on CIFAR-10 with the convolutional entropy loss (paper section 5.3, Table 1).

1-3 blocks of (3x3 convolution, leaky ReLU, 2x2 max pooling), then a
softmax classifier; widths 32, 64, 128; cross-entropy and Adam;
ConvEntropy(lam) on the first convolution only and on all convolutions,
for a grid of lambdas including 0 (the baseline); 10 replications; early
stopping after 10 epochs without a validation-accuracy gain, accuracies of
the best epoch. summary.md holds the paper's Table 1: one-tailed t-tests of
"the entropy loss improves the (train / validation) accuracy" at the best
lambda, with p-values and stars. --form picks the penalty's form (the
paper's by default; volume and normalized: MATH.md sections 8-10).

    python examples/cnn_classification.py --quick             # a few minutes on a CPU
    python examples/cnn_classification.py                     # the paper's grid (GPU advised)
    python examples/cnn_classification.py --data-dir ~/tensorflow_datasets --depths 2 --widths 64
    python examples/cnn_classification.py --quick --form normalized

Results (results.jsonl), plots and summary.md go to --out. Re-running the
same command skips finished runs; --report-only rewrites the report.
"""

import os
import sys

os.environ["KERAS_ENTROPY_DEFER_IMPORTS"] = "1"  # --help answers before Keras starts (script_setup unsets it)
from keras_entropy.experiments import arguments, paper, script_setup  # noqa: E402
from keras_entropy.experiments.arguments import Setting  # noqa: E402

#: The sweep's settings: option, help, --quick value (the paper's: paper.CNN_PAPER).
SETTINGS = {
    "depths": Setting("conv blocks (paper: 1 2 3)", nargs="+", choices=[1, 2, 3], quick=[2]),
    "widths": Setting("filters per convolution (paper: 32 64 128)", nargs="+", minimum=1, quick=[8]),
    "placements": Setting(
        "where the entropy loss goes (paper: first all)",
        str,
        nargs="+",
        choices=["first", "first_two", "all"],
        quick=["first", "all"],
    ),
    **arguments.sweep_settings(
        paper.CNN_PAPER,
        monitor="val_accuracy",
        quick={
            "lams": [0.0, 0.01],
            "replications": 2,
            "max_epochs": 2,
            "patience": 1,
            "train_size": 256,
            "val_size": 128,
        },
    ),
}


def parse_args(argv=None):
    parser = arguments.parser_for(__doc__)
    arguments.add_common_arguments(
        parser,
        ["cifar10", "mnist"],
        "cifar10",
        settings=SETTINGS,
        run_name="cnn_classification_DATASET",
        fallback="mnist",
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    script_setup.prepare(args, [args.dataset])  # checks --data-dir, starts Keras quietly
    from keras_entropy.experiments import classification, classification_report

    settings = arguments.settings_for(args, paper.CNN_PAPER, SETTINGS)
    run = script_setup.start(args, f"cnn_classification_{args.dataset}", fallback="mnist")
    arrays, fixed = classification.cnn_inputs(run.data, settings, run.source)
    records = run.sweep(
        lambda config, seed: classification.cnn_run(config, seed, arrays, verbose=args.verbose),
        classification.cnn_configs(settings, fixed),
        settings["replications"],
        show=("val_accuracy", "accuracy"),
        skip=args.report_only,
    )
    table1, plot, summary = classification_report.write_cnn_report(
        run, records, fixed, script_setup.command_line(__file__, argv)
    )
    run.report(summary, table1, plot)
    return 0


if __name__ == "__main__":
    sys.exit(script_setup.run(main))

"""Small CNNs on CIFAR-10 with the convolutional entropy loss (paper section 5.3, Table 1).

1-3 blocks of (3x3 convolution, leaky ReLU, 2x2 max pooling), then a
softmax classifier; widths 32, 64, 128; cross-entropy and Adam;
ConvEntropy(lam) on the first convolution only and on all convolutions,
for a grid of lambdas including 0 (the baseline); 10 replications; early
stopping after 10 epochs without a validation-accuracy gain, accuracies of
the best epoch. summary.md holds the paper's Table 1: one-tailed t-tests of
"the entropy loss improves the (train / validation) accuracy" at the best
lambda, with p-values and stars.

    python examples/cnn_classification.py --quick             # a few minutes on a CPU
    python examples/cnn_classification.py                     # the paper's grid (GPU advised)
    python examples/cnn_classification.py --data-dir ~/tensorflow_datasets --depths 2 --widths 64

Results (results.jsonl), plots and summary.md go to --out. Re-running the
same command skips finished runs; --report-only rewrites the report.
"""

import os
import sys


os.environ["KERAS_ENTROPY_DEFER_IMPORTS"] = "1"  # --help answers before Keras starts
from keras_entropy import script_setup  # noqa: E402

del os.environ["KERAS_ENTROPY_DEFER_IMPORTS"]  # only for this import, not for child processes

QUICK = {
    "depths": [2],
    "widths": [8],
    "lams": [0.0, 0.01],
    "placements": ["first", "all"],
    "replications": 2,
    "max_epochs": 2,
    "patience": 1,
    "train_size": 256,
    "val_size": 128,
}


def parse_args(argv=None):
    parser = script_setup.parser_for(__doc__)
    script_setup.add_common_arguments(
        parser, ["cifar10", "mnist"], "cifar10",
        data_dir_help="local copy: a tensorflow-datasets data directory (MNIST: also a folder with the IDX .gz files)",
        out_help="folder for results.jsonl, plots and summary.md (default: runs/cnn_classification_DATASET[_quick])",
        quick_help=f"tiny CPU run: {QUICK}; without a local copy of the data set it uses the "
        "embedded MNIST subset, and says so",
        replications_help="runs per cell, distinct seeds (paper: 10)",
    )
    parser.add_argument("--depths", type=int, nargs="+", choices=[1, 2, 3], help="conv blocks (paper: 1 2 3)")
    parser.add_argument("--widths", type=int, nargs="+", help="filters per convolution (paper: 32 64 128)")
    parser.add_argument("--lams", type=float, nargs="+", help="entropy loss strengths, include 0 for the baseline")
    parser.add_argument("--placements", nargs="+", choices=["first", "first_two", "all"],
                        help="where the entropy loss goes (paper: first all)")
    parser.add_argument("--max-epochs", type=int, help="epoch cap of each run (default 100)")
    parser.add_argument("--patience", type=int, help="early-stopping patience on val_accuracy (default 10)")
    parser.add_argument("--batch-size", type=int, help="default 128")
    parser.add_argument("--train-size", type=int, help="use the first N training images (default: all)")
    parser.add_argument("--val-size", type=int, help="use the first N test images for validation (default: all)")
    args = parser.parse_args(argv)
    script_setup.require_positive(
        parser, args, ("widths", "replications", "max_epochs", "batch_size", "train_size", "val_size"))
    if args.patience is not None and args.patience < 0:
        parser.error(f"--patience must be >= 0, got {args.patience}")
    return args


SETTINGS = ("depths", "widths", "lams", "placements", "replications", "max_epochs", "patience", "batch_size",
            "train_size", "val_size")


def main(argv=None):
    args = parse_args(argv)
    script_setup.prepare(args, [args.dataset])  # checks --data-dir, starts Keras quietly
    from keras_entropy import classification

    settings = script_setup.settings_for(args, classification.CNN_PAPER, QUICK, SETTINGS,
                                         train_size=None, val_size=None)
    run = script_setup.start(
        args, f"cnn_classification_{args.dataset}", fallback="mnist",
        fallback_note=f"{args.dataset} was not found locally (and --quick does not download): this --quick run "
        "used the embedded MNIST subset shipped with keras_entropy instead, so its numbers are a "
        "smoke test, not the paper's CIFAR-10 experiment.",
        embedded_note="This --quick run used the embedded MNIST subset shipped with keras_entropy "
        "(no local copy was found): a smoke test, not the paper's experiment.")
    arrays, fixed = classification.cnn_inputs(run.data, settings, run.source)
    records = run.sweep(
        lambda config, seed: classification.cnn_run(config, seed, arrays, verbose=args.verbose),
        classification.cnn_configs(settings, fixed), settings["replications"],
        show=("val_accuracy", "accuracy"), skip=args.report_only)
    table1, plot, summary = classification.write_cnn_report(
        run, records, fixed, script_setup.command_line(__file__, argv))
    print(f"\nwrote {run.results_path}, {plot} and {summary}\n")
    print(table1)
    return 0


if __name__ == "__main__":
    sys.exit(script_setup.run(main))

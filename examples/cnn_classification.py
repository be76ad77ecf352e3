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


def main(argv=None):
    args = parse_args(argv)
    script_setup.prepare(args, [args.dataset])  # checks --data-dir, starts Keras quietly
    import keras

    from keras_entropy import classification, sweeps

    paper = classification.CNN_PAPER
    base = dict(paper, train_size=None, val_size=None)
    if args.quick:
        base.update(QUICK)
    settings = {name: getattr(args, name) if getattr(args, name) is not None else base[name]
                for name in ("depths", "widths", "lams", "placements", "replications", "max_epochs",
                             "patience", "batch_size", "train_size", "val_size")}
    script_setup.announce_runtime(args)
    data, _, note = script_setup.load_data_for(
        args, fallback="mnist",
        fallback_note=f"{args.dataset} was not found locally (and --quick does not download): this --quick run "
        "used the embedded MNIST subset shipped with keras_entropy instead, so its numbers are a "
        "smoke test, not the paper's CIFAR-10 experiment.",
        embedded_note="This --quick run used the embedded MNIST subset shipped with keras_entropy "
        "(no local copy was found): a smoke test, not the paper's experiment.")
    out, results_path = script_setup.output_dir(args, f"cnn_classification_{args.dataset}")

    x_train = classification.prepare_images(data.x_train[: settings["train_size"]])
    y_train = data.y_train[: settings["train_size"]].astype("int32")
    x_val = classification.prepare_images(data.x_test[: settings["val_size"]])
    y_val = data.y_test[: settings["val_size"]].astype("int32")
    fixed = {
        "experiment": "cnn_classification",
        "dataset": data.name,
        "data_source": "embedded" if data.is_embedded else data.source,
        "train_size": len(x_train),
        "val_size": len(x_val),
        "patience": settings["patience"],
        "max_epochs": settings["max_epochs"],
        "batch_size": settings["batch_size"],
        "learning_rate": paper["learning_rate"],
        "dtype_policy": keras.config.dtype_policy().name,
    }
    treated = [lam for lam in settings["lams"] if lam != 0]
    configs = []
    for depth in settings["depths"]:
        for width in settings["widths"]:
            if 0.0 in settings["lams"]:
                configs.append({**fixed, "depth": depth, "width": width, "placement": "none", "lam": 0.0})
            if treated:
                configs += sweeps.expand_grid(
                    {"placement": settings["placements"], "lam": treated},
                    fixed={**fixed, "depth": depth, "width": width})
    keys = [run["key"] for run in sweeps.plan_runs(configs, settings["replications"], args.seed)]
    if not args.report_only:
        sweeps.run_sweep(
            lambda config, seed: classification.cnn_run(
                config, seed, (x_train, y_train, x_val, y_val), verbose=args.verbose),
            configs, settings["replications"], results_path, seed=args.seed,
            show=("val_accuracy", "accuracy"),
        )

    rows, table1 = classification.improvement_table(results_path, keys=keys)
    records = sweeps.ResultsFile(results_path).records()
    records = [r for r in records if r["key"] in set(keys)]
    plot = classification.plot_accuracy_vs_lam(
        records, os.path.join(out, "val_accuracy_vs_lam.png"),
        title="validation accuracy at the best epoch (mean, min-max)")
    _, grid = classification.accuracy_grid(records, rows=("depth", "width", "placement"))
    _, train_grid = classification.accuracy_grid(records, rows=("depth", "width", "placement"), metric="accuracy")
    dataset_label = data.name + (" (embedded subset, --quick)" if data.is_embedded else "")
    command = "python " + " ".join([os.path.relpath(__file__)] + (sys.argv[1:] if argv is None else list(argv)))
    lines = [f"# CNN classification on {dataset_label}", ""]
    if note:
        lines += [f"> **Note:** {note}", ""]
    lines += [
        "Command:", "", f"    {command}", "",
        f"{len(records)} runs; backend/devices: "
        + ", ".join(sorted({f"{r.get('backend')} on {', '.join(r.get('devices') or ['?'])}" for r in records}))
        + f". Fixed settings: " + ", ".join(f"{k}={v}" for k, v in fixed.items()) + ".",
        "",
        "## Table 1: does the entropy loss improve accuracy?",
        "",
        "Baseline: lambda = 0. For each architecture and placement, the lambda with the highest mean "
        "validation accuracy is compared with the baseline by one-tailed Welch t-tests "
        "(H1: the entropy loss increases the mean accuracy); p-values in parentheses. "
        "Stars: * p<0.05, ** p<0.01, *** p<0.001. Accuracies are those of each run's best "
        "validation-accuracy epoch.",
        "",
        table1,
        "",
        "## Mean validation accuracy per lambda (best in bold)",
        "",
        grid,
        "",
        "## Mean train accuracy per lambda",
        "",
        train_grid,
        "",
        f"![validation accuracy]({os.path.basename(plot)})",
        "",
    ]
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write("\n".join(lines))
    print(f"\nwrote {results_path}, {plot} and {os.path.join(out, 'summary.md')}\n")
    print(table1)
    return 0


if __name__ == "__main__":
    sys.exit(script_setup.run(main))

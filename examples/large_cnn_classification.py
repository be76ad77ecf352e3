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


def main(argv=None):
    args = parse_args(argv)
    script_setup.prepare(args, [args.dataset])  # checks --data-dir, starts Keras quietly
    import keras

    from keras_entropy import classification, sweeps

    paper = classification.LARGE_CNN_PAPER
    base = {**paper, "train_size": None, "val_size": None, "placements": None}
    if args.quick:
        base.update(QUICK)
    names = ("archs", "trainings", "placements", "lams", "replications", "image_size", "head_units",
             "max_epochs", "patience", "lr_patience", "batch_size", "train_size", "val_size", "reference",
             "empirical_k")
    settings = {n: getattr(args, n) if getattr(args, n) is not None else base[n] for n in names}
    script_setup.announce_runtime(args)
    size = max(filter(None, [settings["train_size"], settings["val_size"]]), default=None)
    data, source, note = script_setup.load_data_for(
        args, fallback="mock", image_size=settings["image_size"], max_examples=size, mock_examples=32,
        fallback_note="Imagenette was not found locally (and --quick does not download): this --quick run "
        "trained on tensorflow-datasets mock data (random images and labels, tfds.testing.mock_data), so its "
        "accuracies are a smoke test of the pipeline, not the paper's results.")
    out, results_path = script_setup.output_dir(args, "large_cnn_classification")
    if settings["reference"] == "initial":
        ref_note = ("The 'empirical' placement used the entropy profile of a freshly initialised network "
                    "(--reference initial), not a trained one: its layer choice has no empirical meaning.")
        if "empirical" in (settings["placements"] or paper["placements"]["resnet50"]):
            note = f"{note} {ref_note}" if note else ref_note

    x_train = data.x_train[: settings["train_size"]]
    y_train = data.y_train[: settings["train_size"]].astype("int32")
    x_val = data.x_test[: settings["val_size"]]
    y_val = data.y_test[: settings["val_size"]].astype("int32")
    fixed = {
        "experiment": "large_cnn_classification",
        "dataset": args.dataset,
        "data_source": source,
        "train_size": len(x_train),
        "val_size": len(x_val),
        "image_size": settings["image_size"],
        "head_units": settings["head_units"],
        "dropout": paper["dropout"],
        "learning_rate": paper["learning_rate"],
        "lr_factor": paper["lr_factor"],
        "lr_patience": settings["lr_patience"],
        "patience": settings["patience"],
        "max_epochs": settings["max_epochs"],
        "batch_size": settings["batch_size"],
        "dtype_policy": keras.config.dtype_policy().name,
    }
    treated = [lam for lam in settings["lams"] if lam != 0]
    configs = []
    for arch in settings["archs"]:
        placements = settings["placements"] or paper["placements"][arch]
        for training in settings["trainings"]:
            if 0.0 in settings["lams"]:
                configs.append({**fixed, "arch": arch, "training": training, "placement": "none", "lam": 0.0})
            for placement in placements:
                extra = ({"reference": settings["reference"], "empirical_k": settings["empirical_k"]}
                         if placement == "empirical" else {})
                for lam in treated:
                    configs.append({**fixed, **extra, "arch": arch, "training": training,
                                    "placement": placement, "lam": lam})
    keys = [run["key"] for run in sweeps.plan_runs(configs, settings["replications"], args.seed)]
    references = {}

    def train(config, seed):
        reference = None
        if config["placement"] == "empirical":
            name = (config["reference"], config["arch"])
            if name not in references:
                references[name] = classification.load_reference(
                    config["reference"], config["arch"], (settings["image_size"],) * 2 + (3,))
            reference = references[name]
        return classification.large_cnn_run(config, seed, (x_train, y_train, x_val, y_val),
                                            verbose=args.verbose, reference=reference)

    if not args.report_only:
        sweeps.run_sweep(train, configs, settings["replications"], results_path, seed=args.seed,
                         show=("val_accuracy", "accuracy"))

    records = [r for r in sweeps.ResultsFile(results_path).records() if r["key"] in set(keys)]
    _, table2 = classification.accuracy_grid(records, rows=("arch", "training", "placement"))
    plot = classification.plot_accuracy_vs_lam(
        records, os.path.join(out, "val_accuracy_vs_lam.png"), series=("arch", "training", "placement"),
        title="validation accuracy at the best epoch")
    layer_lines = sorted({f"- {r['config']['arch']} / {r['config']['placement']} "
                          f"({classification.PAPER_PLACEMENT_LABELS.get((r['config']['arch'], r['config']['placement']), 'custom')}): "
                          + ", ".join(r.get("penalised_layers", [])) for r in records if r["config"]["lam"] != 0})
    command = "python " + " ".join([os.path.relpath(__file__)] + (sys.argv[1:] if argv is None else list(argv)))
    title = "VGG16 / ResNet50 on Imagenette" + (" (tensorflow-datasets mock data, --quick)" if source == "mock" else "")
    lines = [f"# {title}", ""]
    if note:
        lines += [f"> **Note:** {note}", ""]
    lines += [
        "Command:", "", f"    {command}", "",
        f"{len(records)} runs; backend/devices: "
        + ", ".join(sorted({f"{r.get('backend')} on {', '.join(r.get('devices') or ['?'])}" for r in records}))
        + ". Fixed settings: " + ", ".join(f"{k}={v}" for k, v in fixed.items()) + ".",
        "",
        "## Table 2: validation accuracy (best epoch; mean over replications; best of each row in bold)",
        "",
        "Training: vanilla, augmentation (horizontal flip, 20% rotation, 20% zoom), augmentation_dropout "
        "(plus dropout 0.5 in the dense head). The lam=0 column is the shared baseline of each "
        "model and training.",
        "",
        table2,
        "",
        "## Penalised layers",
        "",
        *layer_lines,
        "",
        f"![validation accuracy]({os.path.basename(plot)})",
        "",
    ]
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write("\n".join(lines))
    print(f"\nwrote {results_path}, {plot} and {os.path.join(out, 'summary.md')}\n")
    print(table2)
    return 0


if __name__ == "__main__":
    sys.exit(script_setup.run(main))

"""U-Net on COCO binary masks with the convolutional entropy loss (paper section 5.5, Table 3).

A U-Net on 256x256 COCO images with binary foreground masks (pixels of
"thing" objects), mean squared error plus ConvEntropy(lam) at chosen
layers, Adam, early stopping when the validation loss has not improved by
0.01 for 10 epochs. Layers are given as the paper's model.layers indices
("2", "2,3", "3,7,11,15", "3,7,11,15,19,24,29,34"; see
keras_entropy.segmentation) or as a placement strategy ("pre_concat",
"first", "all"). Prints and writes the paper's Table 3 (epochs, training
time, validation accuracy and IoU per run) and saves images of predicted vs
true masks (PNG) for every run.

    python examples/unet_segmentation.py --quick          # a minute on a CPU
    python examples/unet_segmentation.py --data-dir ~/tensorflow_datasets   # GPU advised
    python examples/unet_segmentation.py --placements 2 2,3 3,7,11,15 --lams 0 0.01

Results (results.jsonl), plots, mask images and summary.md go to --out.
Re-running the same command skips finished runs; --report-only rewrites
the report.
"""

import os
import re
import sys


os.environ["KERAS_ENTROPY_DEFER_IMPORTS"] = "1"  # --help answers before Keras starts
from keras_entropy import script_setup  # noqa: E402

del os.environ["KERAS_ENTROPY_DEFER_IMPORTS"]  # only for this import, not for child processes

QUICK = {
    "lams": [0.0, 0.01],
    "placements": ["3,7,11,15"],
    "replications": 1,
    "image_size": 32,
    "base_filters": 4,
    "max_epochs": 2,
    "patience": 1,
    "batch_size": 8,
    "train_size": 16,
    "val_size": 8,
}


def parse_args(argv=None):
    parser = script_setup.parser_for(__doc__)
    script_setup.add_common_arguments(
        parser, ["coco_segmentation"], "coco_segmentation",
        data_dir_help="a tensorflow-datasets data directory with coco/2017_panoptic prepared",
        out_help="folder for results.jsonl, plots, mask images and summary.md "
        "(default: runs/unet_segmentation[_quick])",
        quick_help=f"tiny CPU run: {QUICK}; without a local copy of COCO it trains on "
        "tensorflow-datasets mock data (random images), and says so",
        replications_help="runs per cell, distinct seeds (paper: 1)",
        download_what="COCO",
    )
    parser.add_argument("--placements", nargs="+",
                        help="entropy-loss layers: paper model.layers indices like 3,7,11,15 or a strategy "
                        "(pre_concat, first, all); default 3,7,11,15")
    parser.add_argument("--lams", type=float, nargs="+", help="entropy loss strengths, include 0 for the baseline "
                        "(default 0 1e-4 1e-3 1e-2 1e-1 1 10)")
    parser.add_argument("--image-size", type=int, help="square image size, a multiple of 16 (default 256)")
    parser.add_argument("--base-filters", type=int, help="filters of the first level (default 16)")
    parser.add_argument("--max-epochs", type=int, help="epoch cap (default 100)")
    parser.add_argument("--patience", type=int, help="early-stopping patience (paper: 10; min_delta 0.01)")
    parser.add_argument("--batch-size", type=int, help="default 16")
    parser.add_argument("--train-size", type=int, help="use the first N training images (default: all)")
    parser.add_argument("--val-size", type=int, help="use the first N validation images (default: all)")
    args = parser.parse_args(argv)
    script_setup.require_positive(
        parser, args, ("base_filters", "replications", "max_epochs", "batch_size", "train_size", "val_size"))
    if args.image_size is not None and (args.image_size < 16 or args.image_size % 16):
        parser.error(f"--image-size must be a positive multiple of 16, got {args.image_size}")
    return args


def mask_file(config, seed):
    label = re.sub(r"[^A-Za-z0-9_.-]+", "-", str(config["placement"]))
    return f"masks_lam{config['lam']:g}_{label}_seed{seed}.png"


def main(argv=None):
    args = parse_args(argv)
    script_setup.prepare(args, [args.dataset])  # checks --data-dir, starts Keras quietly
    import keras

    from keras_entropy import classification, segmentation, sweeps

    paper = segmentation.UNET_PAPER
    base = {**paper, "train_size": None, "val_size": None}
    if args.quick:
        base.update(QUICK)
    names = ("placements", "lams", "replications", "image_size", "base_filters", "max_epochs", "patience",
             "batch_size", "train_size", "val_size")
    settings = {n: getattr(args, n) if getattr(args, n) is not None else base[n] for n in names}
    for placement in settings["placements"]:
        segmentation.parse_placement(placement)  # validates early
    script_setup.announce_runtime(args)
    size = max(filter(None, [settings["train_size"], settings["val_size"]]), default=None)
    data, source, note = script_setup.load_data_for(
        args, fallback="mock", image_size=settings["image_size"], max_examples=size, mock_examples=16,
        fallback_note="COCO was not found locally (and --quick does not download): this --quick run trained on "
        "tensorflow-datasets mock data (random images and panoptic masks, tfds.testing.mock_data), so "
        "its numbers are a smoke test of the pipeline, not the paper's results.")
    out, results_path = script_setup.output_dir(args, "unet_segmentation")

    def images(x):
        return classification.prepare_images(x)

    def masks(y):
        return y.astype("float32")[..., None]

    x_train, y_train = images(data.x_train[: settings["train_size"]]), masks(data.y_train[: settings["train_size"]])
    x_val, y_val = images(data.x_test[: settings["val_size"]]), masks(data.y_test[: settings["val_size"]])
    fixed = {
        "experiment": "unet_segmentation",
        "dataset": args.dataset,
        "data_source": source,
        "train_size": len(x_train),
        "val_size": len(x_val),
        "image_size": settings["image_size"],
        "base_filters": settings["base_filters"],
        "depth": paper["depth"],
        "patience": settings["patience"],
        "min_delta": paper["min_delta"],
        "max_epochs": settings["max_epochs"],
        "batch_size": settings["batch_size"],
        "learning_rate": paper["learning_rate"],
        "dtype_policy": keras.config.dtype_policy().name,
    }
    configs = []
    if 0.0 in settings["lams"]:
        configs.append({**fixed, "placement": "none", "lam": 0.0})
    for placement in settings["placements"]:
        for lam in settings["lams"]:
            if lam != 0:
                configs.append({**fixed, "placement": placement, "lam": lam})
    keys = [run["key"] for run in sweeps.plan_runs(configs, settings["replications"], args.seed)]
    if not args.report_only:
        sweeps.run_sweep(
            lambda config, seed: segmentation.unet_run(
                config, seed, (x_train, y_train, x_val, y_val), verbose=args.verbose,
                mask_path=os.path.join(out, mask_file(config, seed))),
            configs, settings["replications"], results_path, seed=args.seed,
            show=("val_iou", "val_accuracy"),
        )

    records = [r for r in sweeps.ResultsFile(results_path).records() if r["key"] in set(keys)]
    _, table = segmentation.table3(records)
    plots = [classification.plot_accuracy_vs_lam(
        records, os.path.join(out, f"{metric}_vs_lam.png"), series=("placement",), metric=metric,
        title=f"{metric} at the stopping epoch") for metric in ("val_iou", "val_accuracy")]
    command = "python " + " ".join([os.path.relpath(__file__)] + (sys.argv[1:] if argv is None else list(argv)))
    title = "U-Net on COCO binary masks" + (" (tensorflow-datasets mock data, --quick)" if source == "mock" else "")
    layer_lines = sorted({f"- {r['config']['placement']}: " + ", ".join(r.get("penalised_layers", []))
                          for r in records if r["config"]["lam"] != 0})
    mask_lines = [f"![masks lam={r['config']['lam']:g} {r['config']['placement']}]({mask_file(r['config'], r['seed'])})"
                  for r in records if os.path.exists(os.path.join(out, mask_file(r["config"], r["seed"])))]
    lines = [f"# {title}", ""]
    if note:
        lines += [f"> **Note:** {note}", ""]
    lines += [
        "Command:", "", f"    {command}", "",
        f"{len(records)} runs; backend/devices: "
        + ", ".join(sorted({f"{r.get('backend')} on {', '.join(r.get('devices') or ['?'])}" for r in records}))
        + ". Fixed settings: " + ", ".join(f"{k}={v}" for k, v in fixed.items()) + ".",
        "",
        "## Table 3",
        "",
        "Epochs trained (early stopping on val_loss, min_delta 0.01), wall-clock training time, and the "
        "validation pixel accuracy and IoU (threshold 0.5) at the stopping epoch.",
        "",
        table,
        "",
        "## Penalised layers",
        "",
        *layer_lines,
        "",
        *[f"![{os.path.basename(p)}]({os.path.basename(p)})" for p in plots],
        "",
        "## Predicted vs true masks (first validation images)",
        "",
        *mask_lines,
        "",
    ]
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write("\n".join(lines))
    print(f"\nwrote {results_path}, plots, mask images and {os.path.join(out, 'summary.md')}\n")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(script_setup.run(main))

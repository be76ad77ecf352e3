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


SETTINGS = ("placements", "lams", "replications", "image_size", "base_filters", "max_epochs", "patience",
            "batch_size", "train_size", "val_size")


def main(argv=None):
    args = parse_args(argv)
    script_setup.prepare(args, [args.dataset])  # checks --data-dir, starts Keras quietly
    from keras_entropy import segmentation

    settings = script_setup.settings_for(args, segmentation.UNET_PAPER, QUICK, SETTINGS,
                                         train_size=None, val_size=None)
    for placement in settings["placements"]:
        segmentation.parse_placement(placement)  # validates early
    run = script_setup.start(
        args, "unet_segmentation", fallback="mock", image_size=settings["image_size"], mock_examples=16,
        max_examples=max(filter(None, [settings["train_size"], settings["val_size"]]), default=None),
        fallback_note="COCO was not found locally (and --quick does not download): this --quick run trained on "
        "tensorflow-datasets mock data (random images and panoptic masks, tfds.testing.mock_data), so "
        "its numbers are a smoke test of the pipeline, not the paper's results.")
    arrays, fixed = segmentation.unet_inputs(run.data, settings, run.source, args.dataset)
    records = run.sweep(
        lambda config, seed: segmentation.unet_run(config, seed, arrays, verbose=args.verbose,
                                                   mask_path=run.path(segmentation.mask_file(config, seed))),
        segmentation.unet_configs(settings, fixed), settings["replications"],
        show=("val_iou", "val_accuracy"), skip=args.report_only)
    table, summary = segmentation.write_unet_report(run, records, fixed, script_setup.command_line(__file__, argv))
    print(f"\nwrote {run.results_path}, plots, mask images and {summary}\n")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(script_setup.run(main))

"""U-Net on COCO binary masks with the convolutional entropy loss (paper section 5.5, Table 3).

A U-Net on 256x256 COCO images with binary foreground masks (pixels of
"thing" objects), mean squared error plus ConvEntropy(lam) at chosen
layers, Adam, early stopping when the validation loss has not improved by
0.01 for 10 epochs. Layers are given as the paper's model.layers indices
("2", "2,3", "3,7,11,15", "3,7,11,15,19,24,29,34"; see
keras_entropy.experiments.segmentation) or as a placement strategy ("pre_concat",
"first", "all"). Prints and writes the paper's Table 3 (epochs, training
time, validation accuracy and IoU per run) and saves images of predicted vs
true masks (PNG) for every run. --form picks the penalty's form (the
paper's by default; volume and normalized: MATH.md sections 8-10).

    python examples/unet_segmentation.py --quick          # a minute on a CPU
    python examples/unet_segmentation.py --data-dir ~/tensorflow_datasets   # GPU advised
    python examples/unet_segmentation.py --placements 2 2,3 3,7,11,15 --lams 0 0.01

Results (results.jsonl), plots, mask images and summary.md go to --out.
Re-running the same command skips finished runs; --report-only rewrites
the report.
"""

import os
import sys

os.environ["KERAS_ENTROPY_DEFER_IMPORTS"] = "1"  # --help answers before Keras starts (script_setup unsets it)
from keras_entropy.experiments import arguments, paper, script_setup  # noqa: E402
from keras_entropy.experiments.arguments import Setting  # noqa: E402

#: The sweep's settings: option, help, --quick value (the paper's: paper.UNET_PAPER).
SETTINGS = {
    "placements": Setting(
        "entropy-loss layers: paper model.layers indices like 3,7,11,15 or a strategy "
        "(pre_concat, first, all); default 3,7,11,15",
        str,
        nargs="+",
        quick=["3,7,11,15"],
    ),
    "image_size": Setting("square image size, a multiple of 16 (default 256)", multiple_of=16, quick=32),
    "base_filters": Setting("filters of the first level (default 16)", minimum=1, quick=4),
    **arguments.sweep_settings(
        paper.UNET_PAPER,
        validation="validation",
        quick={
            "lams": [0.0, 0.01],
            "replications": 1,
            "max_epochs": 2,
            "patience": 1,
            "batch_size": 8,
            "train_size": 16,
            "val_size": 8,
        },
    ),
}


def parse_args(argv=None):
    parser = arguments.parser_for(__doc__)
    arguments.add_common_arguments(
        parser,
        ["coco_segmentation"],
        "coco_segmentation",
        settings=SETTINGS,
        run_name="unet_segmentation",
        writes="plots, mask images",
        fallback="mock",
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    script_setup.prepare(args, [args.dataset])  # checks --data-dir, starts Keras quietly
    from keras_entropy.experiments import segmentation

    settings = arguments.settings_for(args, paper.UNET_PAPER, SETTINGS)
    for placement in settings["placements"]:
        segmentation.parse_placement(placement)  # validates early
    run = script_setup.start(
        args,
        "unet_segmentation",
        fallback="mock",
        image_size=settings["image_size"],
        mock_examples=16,
        max_examples=max(filter(None, [settings["train_size"], settings["val_size"]]), default=None),
    )
    arrays, fixed = segmentation.unet_inputs(run.data, settings, run.source, args.dataset)
    records = run.sweep(
        lambda config, seed: segmentation.unet_run(
            config, seed, arrays, verbose=args.verbose, mask_path=run.path(segmentation.mask_file(config, seed))
        ),
        segmentation.unet_configs(settings, fixed),
        settings["replications"],
        show=("val_iou", "val_accuracy"),
        skip=args.report_only,
    )
    table, summary = segmentation.write_unet_report(run, records, fixed, script_setup.command_line(__file__, argv))
    run.report(summary, table, "plots, mask images")
    return 0


if __name__ == "__main__":
    sys.exit(script_setup.run(main))

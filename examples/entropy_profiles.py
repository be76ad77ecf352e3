"""Entropy profiles of VGG16, ResNet50 and U-Net, trained vs initialised (paper Figures 1, 7, 8, 9).

For each model, the per-filter entropy change `log|K[0, 0, i, o]|` of every
Conv2D (and Dense) layer is shown as one box per layer, the trained network
beside the same architecture at initialisation.

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
strokes), and says so in the output and summary.md.

    python examples/entropy_profiles.py --quick
    python examples/entropy_profiles.py --weights vgg16=~/vgg16_weights_tf_dim_ordering_tf_kernels.h5
    python examples/entropy_profiles.py --models unet --seg-dataset coco_segmentation --data-dir ~/tfds

Writes to --out: profile_<model>.png (trained | initialised),
profile_<model>_{trained,initialised}.{csv,json}, results.jsonl and
summary.md with per-layer means. Re-running the same command skips finished
models.
"""

import os
import sys

os.environ["KERAS_ENTROPY_DEFER_IMPORTS"] = "1"  # --help answers before Keras starts (script_setup unsets it)
from keras_entropy.experiments import arguments, script_setup  # noqa: E402
from keras_entropy.experiments.arguments import Setting  # noqa: E402

#: The training settings when no ImageNet weights are used: option, help, --quick value
#: (the defaults: paper.PROFILE_PAPER).
SETTINGS = {
    "input_size": Setting("image side (default 224 for VGG16/ResNet50, 256 for U-Net)", minimum=1, quick=32),
    "epochs": Setting("training epochs when training here (default 30)", minimum=1, quick=1),
    "batch_size": Setting("default 32", minimum=1, quick=32),
    "train_size": arguments.size_setting("train on the first N examples (default: all)", quick=128),
    "learning_rate": Setting("Adam learning rate (default 1e-4)", float, quick=1e-3),
    "resnet_blocks": Setting(quick=[1, 1, 1, 1]),
    "unet_filters": Setting(quick=8),
    "unet_depth": Setting(quick=3),
}


def parse_args(argv=None):
    parser = arguments.parser_for(__doc__)
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
        default=None,
        help="data the U-Net is trained on (default: coco_segmentation; --quick: mnist digit masks)",
    )
    arguments.add_common_arguments(
        parser,
        ["imagenette", "cifar10", "mnist"],
        None,
        settings=SETTINGS,
        run_name="entropy_profiles",
        writes="profile_*.png/csv/json",
        report_only=False,
        seed_help="seed of the initial weights and training",
        dataset_help="data the classifiers are trained on without weights (default: imagenette; --quick: mnist)",
        quick_help=f"compact models, tiny CPU run: {arguments.quick_values(SETTINGS)}; embedded MNIST subset when "
        "no copy is found",
    )
    args = parser.parse_args(argv)
    args.weights_given = {}
    for item in args.weights:
        model, sep, path = item.partition("=")
        if not sep or model not in ("vgg16", "resnet50") or not path:
            parser.error(f"--weights {item}: expected vgg16=PATH or resnet50=PATH")
        args.weights_given[model] = os.path.expanduser(path)
    return args


def main(argv=None):
    args = parse_args(argv)
    script_setup.prepare(args)  # checks --data-dir, starts Keras quietly
    from keras_entropy.experiments import profile_figures

    info = script_setup.announce_runtime(args)
    configs, data_of, notes = profile_figures.profile_configs(args, arguments.quick_values(SETTINGS))
    out, results_path = script_setup.output_dir(args, "entropy_profiles")
    run = script_setup.Run(args, info, None, None, notes, out, results_path)
    records = run.sweep(
        lambda config, seed: profile_figures.profile_run(
            config, seed, data_of.get(config["model"]), out, verbose=args.verbose
        ),
        configs,
        1,
        show=("loss", "accuracy", "n_layers"),
    )
    records = {r["config"]["model"]: r for r in records}
    summary = profile_figures.write_profiles_report(
        run, configs, records, notes, script_setup.command_line(__file__, argv)
    )
    run.report(summary, writes="profile_*.png/csv/json")
    for name, record in records.items():
        m = record["metrics"]
        print(
            f"{name}: {m['n_layers']} layers; layer-1 mean log|c11| trained {m['layer_means_trained'][0]:.3f}"
            f", initialised {m['layer_means_initialised'][0]:.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(script_setup.run(main))

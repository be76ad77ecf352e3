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


os.environ["KERAS_ENTROPY_DEFER_IMPORTS"] = "1"  # --help answers before Keras starts
from keras_entropy import script_setup  # noqa: E402

del os.environ["KERAS_ENTROPY_DEFER_IMPORTS"]  # only for this import, not for child processes

QUICK = {"input_size": 32, "epochs": 1, "batch_size": 32, "train_size": 128, "learning_rate": 1e-3,
         "resnet_blocks": [1, 1, 1, 1], "unet_filters": 8, "unet_depth": 3}


def parse_args(argv=None):
    parser = script_setup.parser_for(__doc__)
    parser.add_argument("--models", nargs="+", choices=["vgg16", "resnet50", "unet"],
                        default=["vgg16", "resnet50", "unet"])
    parser.add_argument("--weights", action="append", default=[], metavar="MODEL=PATH",
                        help="ImageNet weights file (or folder) of vgg16 / resnet50; repeatable")
    parser.add_argument("--no-cache-weights", action="store_true",
                        help="do not look for ImageNet weights in the Keras cache")
    parser.add_argument("--seg-dataset", choices=["coco_segmentation", "mnist"], default=None,
                        help="data the U-Net is trained on (default: coco_segmentation; --quick: mnist "
                        "digit masks)")
    parser.add_argument("--input-size", type=int, help="image side (default 224 for VGG16/ResNet50, 256 for U-Net)")
    parser.add_argument("--epochs", type=int, help="training epochs when training here (default 30)")
    parser.add_argument("--batch-size", type=int, help="default 32")
    parser.add_argument("--learning-rate", type=float, help="Adam learning rate (default 1e-4)")
    parser.add_argument("--train-size", type=int, help="train on the first N examples (default: all)")
    script_setup.add_common_arguments(
        parser, ["imagenette", "cifar10", "mnist"], None,
        dataset_help="data the classifiers are trained on without weights (default: imagenette; --quick: mnist)",
        data_dir_help="local copy: MNIST IDX folder or a tensorflow-datasets data directory",
        out_help="output folder (default: runs/entropy_profiles[_quick])",
        quick_help=f"compact models, tiny CPU run: {QUICK}; embedded MNIST subset when no copy is found",
        seed_help="seed of the initial weights and training",
        download_what="data",
        report_only=False,
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
    import keras

    from keras_entropy import datasets, profile_figures, sweeps
    from keras_entropy.profile import EntropyProfile

    weights_given = args.weights_given
    info = script_setup.announce_runtime(args)

    cls_name = args.dataset or ("mnist" if args.quick else "imagenette")
    seg_name = args.seg_dataset or ("mnist" if args.quick else "coco_segmentation")
    loaded, notes = {}, []

    def load(name, image_size):
        if name not in loaded:
            kwargs = {"image_size": image_size} if name in datasets.DEFAULT_IMAGE_SIZES else {}
            data, _, note = script_setup.load_data_for(
                args, name, max_examples=args.train_size or (QUICK["train_size"] if args.quick else None),
                embedded_note="No local copy or prepared tensorflow-datasets copy of MNIST was found: this "
                "--quick run trained compact models on the embedded MNIST subset shipped with keras_entropy, "
                "so its profiles are a smoke test, not the paper's figures.", **kwargs)
            if note:
                notes.append(note)
            loaded[name] = data
        return loaded[name]

    configs, data_of = [], {}
    for name in args.models:
        weights = None
        if name in profile_figures.IMAGENET_WEIGHT_FILES and not args.quick:
            weights = profile_figures.find_imagenet_weights(
                name, weights_given.get(name)) if (name in weights_given or not args.no_cache_weights) else None
        elif name in weights_given:
            print(f"NOTE: --weights {name}=... ignored with --quick (compact models)", flush=True)
        default_size = profile_figures.PROFILE_PAPER["input_size"][name]
        size = 224 if weights else (args.input_size or (QUICK["input_size"] if args.quick else default_size))
        config = {
            "experiment": "entropy_profiles",
            "model": name,
            "input_size": size,
            "compact": bool(args.quick),
            "dtype_policy": keras.config.dtype_policy().name,
        }
        if weights:
            config.update({"weights": weights, "classes": 1000})
            print(f"{name}: ImageNet weights {weights}", flush=True)
        else:
            dataset = seg_name if name == "unet" else cls_name
            config.update({
                "dataset": dataset,
                "epochs": args.epochs or (QUICK["epochs"] if args.quick else profile_figures.PROFILE_PAPER["epochs"]),
                "batch_size": args.batch_size or (QUICK["batch_size"] if args.quick else 32),
                "learning_rate": args.learning_rate or (QUICK["learning_rate"] if args.quick
                                                        else profile_figures.PROFILE_PAPER["learning_rate"]),
                "train_size": args.train_size or (QUICK["train_size"] if args.quick else None),
            })
            if args.quick and name == "resnet50":
                config["blocks"] = QUICK["resnet_blocks"]
            if name == "unet":
                config["unet_builder"] = profile_figures.unet_builder()[0]
            if args.quick and name == "unet":
                config.update({"unet_filters": QUICK["unet_filters"], "unet_depth": QUICK["unet_depth"]})
            data = load(dataset, size)
            config["data_source"] = "embedded" if data.is_embedded else data.source
            if name == "unet":
                data_of[name] = profile_figures.segmentation_arrays(data, size)
            else:
                data_of[name] = profile_figures.classification_arrays(data, size)
                config["classes"] = int(max(10, data.y_train.max() + 1))
            print(f"{name}: no ImageNet weights used; training {'a compact ' if args.quick else ''}"
                  f"{name} on {dataset} ({len(data_of[name][0])} examples, {config['epochs']} epoch(s))", flush=True)
        configs.append(config)

    out, results_path = script_setup.output_dir(args, "entropy_profiles")
    keys = [run["key"] for run in sweeps.plan_runs(configs, 1, args.seed)]
    sweeps.run_sweep(
        lambda config, seed: profile_figures.profile_run(config, seed, data_of.get(config["model"]), out,
                                                         verbose=args.verbose),
        configs, 1, results_path, seed=args.seed, show=("loss", "accuracy", "n_layers"),
    )

    records = {r["config"]["model"]: r for r in sweeps.ResultsFile(results_path).records() if r["key"] in set(keys)}
    command = "python " + " ".join([os.path.relpath(__file__)] + (sys.argv[1:] if argv is None else list(argv)))
    lines = ["# Entropy profiles, trained vs initialised (paper Figures 1, 7, 8, 9)", ""]
    for note in dict.fromkeys(notes):
        lines += [f"**Note:** {note}", ""]
    lines += [f"Command: `{command}`", "", f"Backend {info['backend']} on {', '.join(info['devices'])}.", ""]
    for config in configs:
        name = config["model"]
        record = records[name]
        paths = profile_figures.profile_paths(out, name)
        trained = EntropyProfile.from_json(paths["trained_json"])
        initialised = EntropyProfile.from_json(paths["initialised_json"])
        kind = "compact " if config.get("compact") else ""
        lines += [
            f"## {kind}{name} ({profile_figures.FIGURES[name]})",
            "",
            f"Builder: `{record['metrics']['builder']}`. Trained: {record['metrics']['trained_source']}"
            + (f" on {config['dataset']}, final loss {record['metrics']['loss']:.4f}, "
               f"accuracy {record['metrics']['accuracy']:.4f}" if "loss" in record["metrics"] else "")
            + f"; input {config['input_size']}x{config['input_size']}; {len(trained)} layers.",
            "",
            f"![{name}](profile_{name}.png)",
            "",
            "Per-layer mean of `log|K[0, 0, i, o]|` (nats per filter):",
            "",
            profile_figures.layer_means_table(trained, initialised),
            "",
        ]
    with open(os.path.join(out, "summary.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    print(f"\nwrote {results_path}, profile_*.png/csv/json and {os.path.join(out, 'summary.md')}")
    for name, record in records.items():
        m = record["metrics"]
        print(f"{name}: {m['n_layers']} layers; layer-1 mean log|c11| trained {m['layer_means_trained'][0]:.3f}"
              f", initialised {m['layer_means_initialised'][0]:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(script_setup.run(main))

"""Entropy profiles of VGG16, ResNet50 and U-Net, trained vs initialised (seed 001, Figures 1, 7-9).

The paper's figures compare the per-filter entropy change
`log|K[0, 0, i, o]|` of every layer of a well-trained network with the same
architecture at initialisation. This module holds the pieces of
`examples/entropy_profiles.py`; the networks and their ImageNet weights are
`keras_entropy.experiments.architectures` (`build_model`, `compact_vgg16`,
`compact_resnet`, `unet`, `unet_builder`, `find_imagenet_weights`), its
settings `keras_entropy.experiments.paper.PROFILE_PAPER`:

- `classification_arrays` / `segmentation_arrays`: data sets of
  `keras_entropy.experiments.datasets` as model inputs (MNIST is padded to 32x32 and, for
  segmentation, given foreground masks `pixel > 127`);
- `ImageBatches`: uint8 images as float32 batches in [0, 1] for `model.fit`;
- `profile_paths` (the files of one model's profiles and figure) and
  `profile_metrics` (its record's metrics); the example itself builds each
  model, profiles it initialised (`keras_entropy.entropy_profile`), trains it
  (or loads ImageNet weights), profiles it again and plots both
  (`keras_entropy.plot_profiles`);
- the example's sweep and report: `profile_configs` (one config per model,
  loading each data set once) and `write_profiles_report` (summary.md).
"""

import os

import keras
import numpy as np

from keras_entropy.experiments.architectures import (
    IMAGENET_WEIGHT_FILES,
    builder_name,
    find_imagenet_weights,
    unet_builder,
)
from keras_entropy.experiments.paper import PROFILE_PAPER
from keras_entropy.profile import EntropyProfile

#: The paper's figure of each model.
FIGURES = {"vgg16": "Figures 1 and 7", "resnet50": "Figure 8", "unet": "Figure 9"}


# ---------------------------------------------------------------------------
# Data.


def _to_rgb_size(images, size):
    """uint8 `(N, H, W[, C])` images as uint8 `(N, size, size, 3)` (pad or centre-crop, repeat grey)."""
    x = np.asarray(images)
    if x.ndim == 3:
        x = x[..., None]
    if x.shape[-1] == 1:
        x = np.repeat(x, 3, axis=-1)
    h, w = x.shape[1:3]
    if h != size or w != size:
        if h <= size and w <= size:
            top, left = (size - h) // 2, (size - w) // 2
            x = np.pad(x, ((0, 0), (top, size - h - top), (left, size - w - left), (0, 0)))
        else:
            import tensorflow as tf

            x = np.clip(np.round(tf.image.resize(x, (size, size)).numpy()), 0, 255).astype("uint8")
    return x


def classification_arrays(dataset, input_size, max_examples=None):
    """`(x, y)` of a `keras_entropy.experiments.datasets.Dataset`'s training split for a classifier."""
    n = max_examples or len(dataset.x_train)
    return _to_rgb_size(dataset.x_train[:n], input_size), np.asarray(dataset.y_train[:n], dtype="int64")


def segmentation_arrays(dataset, input_size, max_examples=None):
    """`(x, masks)` for the U-Net: COCO foreground masks, or MNIST digit masks (pixel > 127)."""
    n = max_examples or len(dataset.x_train)
    x = dataset.x_train[:n]
    if dataset.name == "coco_segmentation":
        masks = np.asarray(dataset.y_train[:n])
    else:
        masks = (np.asarray(x) > 127).astype("uint8")
    x = _to_rgb_size(x, input_size)
    masks = _to_rgb_size(masks, input_size)[..., :1]
    return x, masks.astype("float32")


class ImageBatches(keras.utils.PyDataset):
    """uint8 images as float32 in [0, 1], batch by batch (so full data sets stay uint8)."""

    def __init__(self, x, y, batch_size, seed):
        super().__init__()
        self.x, self.y, self.batch_size = x, y, batch_size
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(len(x))

    def __len__(self):
        return max(1, len(self.x) // self.batch_size)

    def __getitem__(self, index):
        idx = np.sort(self.order[index * self.batch_size : (index + 1) * self.batch_size])
        return self.x[idx].astype("float32") / 255.0, self.y[idx]

    def on_epoch_end(self):
        self.order = self.rng.permutation(len(self.x))


# ---------------------------------------------------------------------------
# One model's profiles: files and figure.


def _boxes_per_panel(fig):
    return [len(ax.patches) for ax in fig.axes]


def profile_paths(out_dir, name):
    """The files `profile_run` writes for model `name`."""
    return {
        "figure": os.path.join(out_dir, f"profile_{name}.png"),
        **{
            f"{label}_{ext}": os.path.join(out_dir, f"profile_{name}_{label}.{ext}")
            for label in ("trained", "initialised")
            for ext in ("csv", "json")
        },
    }


def profile_metrics(config, trained, initialised, figure, source):
    """The record's `metrics` of one model's profiles (besides the final `loss` and `accuracy` when trained here).

    `builder` (what built the network), `n_layers`, `boxes_per_panel` (boxes drawn in each panel of
    `figure`, the trained | initialised plot of `plot_profiles`), `trained_source`, `layer_means_trained`
    and `layer_means_initialised` (per-layer means of `log|K[0, 0, i, o]|`).
    """
    return {
        "builder": builder_name(config["model"], bool(config.get("compact", False))),
        "n_layers": len(trained),
        "boxes_per_panel": _boxes_per_panel(figure),
        "trained_source": source,
        "layer_means_trained": [e.statistic("mean") for e in trained],
        "layer_means_initialised": [e.statistic("mean") for e in initialised],
    }


def layer_means_table(trained, initialised):
    """Markdown table of per-layer mean entropy change, trained vs initialised."""
    if not isinstance(trained, EntropyProfile) or not isinstance(initialised, EntropyProfile):
        raise TypeError("Arguments `trained` and `initialised` must be EntropyProfile objects.")
    from keras_entropy.experiments.analysis import markdown_table

    rows = []
    for a, b in zip(trained, initialised):
        ma, mb = a.statistic("mean"), b.statistic("mean")
        rows.append([a.index + 1, a.name, a.kind, a.values.size, f"{ma:.3f}", f"{mb:.3f}", f"{ma - mb:+.3f}"])
    return markdown_table(["layer", "name", "kind", "filters", "trained mean", "initialised mean", "difference"], rows)


# ---------------------------------------------------------------------------
# The sweep and report of examples/entropy_profiles.py.

#: The note of a --quick run whose MNIST came from the embedded subset.
EMBEDDED_NOTE = (
    "No local copy or prepared tensorflow-datasets copy of MNIST was found: this --quick run trained compact "
    "models on the embedded MNIST subset shipped with keras_entropy, so its profiles are a smoke test, not "
    "the paper's figures."
)


def profile_configs(args, quick):
    """`(configs, data_of, notes)` of the profile sweep, from the example's arguments and --quick settings.

    One config per model of `args.models`: ImageNet weights when found
    (not with --quick), else training here on `args.dataset` (classifiers)
    or `args.seg_dataset` (U-Net), loaded once each
    (`loading.load_data_for`); `data_of` maps a model to its `(x, y)`;
    `notes` are the loading notes. Prints what each model uses.
    """
    from keras_entropy.experiments import datasets, loading

    cls_name = args.dataset or ("mnist" if args.quick else "imagenette")
    seg_name = args.seg_dataset or ("mnist" if args.quick else "coco_segmentation")
    default = {**PROFILE_PAPER, "train_size": None, **(quick if args.quick else {})}
    loaded, notes, configs, data_of = {}, [], [], {}

    def load(name, image_size):
        if name not in loaded:
            kwargs = {"image_size": image_size} if name in datasets.DEFAULT_IMAGE_SIZES else {}
            loaded[name], _, note = loading.load_data_for(
                args, name, max_examples=args.train_size or default["train_size"], embedded_note=EMBEDDED_NOTE, **kwargs
            )
            notes.extend([note] if note else [])
        return loaded[name]

    for name in args.models:
        weights = None
        if name in IMAGENET_WEIGHT_FILES and not args.quick:
            given = args.weights_given.get(name)
            weights = find_imagenet_weights(name, given) if (given or not args.no_cache_weights) else None
        elif name in args.weights_given:
            print(f"NOTE: --weights {name}=... ignored with --quick (compact models)", flush=True)
        size = (
            224
            if weights
            else (args.input_size or (quick["input_size"] if args.quick else PROFILE_PAPER["input_size"][name]))
        )
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
            config.update(
                {
                    "dataset": dataset,
                    **{
                        k: getattr(args, k) or default[k]
                        for k in ("epochs", "batch_size", "learning_rate", "train_size")
                    },
                }
            )
            if args.quick and name == "resnet50":
                config["blocks"] = quick["resnet_blocks"]
            if name == "unet":
                config["unet_builder"] = unet_builder()[0]
            if args.quick and name == "unet":
                config.update({"unet_filters": quick["unet_filters"], "unet_depth": quick["unet_depth"]})
            data = load(dataset, size)
            config["data_source"] = "embedded" if data.is_embedded else data.source
            if name == "unet":
                data_of[name] = segmentation_arrays(data, size)
            else:
                data_of[name] = classification_arrays(data, size)
                config["classes"] = int(max(10, data.y_train.max() + 1))
            print(
                f"{name}: no ImageNet weights used; training {'a compact ' if args.quick else ''}"
                f"{name} on {dataset} ({len(data_of[name][0])} examples, {config['epochs']} epoch(s))",
                flush=True,
            )
        configs.append(config)
    return configs, data_of, notes


def write_profiles_report(run, configs, records, notes, command):
    """summary.md of the profile sweep (`records`: model -> record); returns its path."""
    from keras_entropy.experiments import script_setup

    lines = script_setup.summary_header(
        "Entropy profiles, trained vs initialised (paper Figures 1, 7, 8, 9)", notes, command, inline=True
    ) + [script_setup.runtime_line(run.info), ""]
    for config in configs:
        name = config["model"]
        metrics = records[name]["metrics"]
        paths = profile_paths(run.out, name)
        trained = EntropyProfile.from_json(paths["trained_json"])
        initialised = EntropyProfile.from_json(paths["initialised_json"])
        kind = "compact " if config.get("compact") else ""
        lines += [
            f"## {kind}{name} ({FIGURES[name]})",
            "",
            f"Builder: `{metrics['builder']}`. Trained: {metrics['trained_source']}"
            + (
                f" on {config['dataset']}, final loss {metrics['loss']:.4f}, accuracy {metrics['accuracy']:.4f}"
                if "loss" in metrics
                else ""
            )
            + f"; input {config['input_size']}x{config['input_size']}; {len(trained)} layers.",
            "",
            f"![{name}](profile_{name}.png)",
            "",
            "Per-layer mean of `log|K[0, 0, i, o]|` (nats per filter):",
            "",
            layer_means_table(trained, initialised),
            "",
        ]
    return script_setup.write_summary(run.out, lines)


__all__ = [
    "EMBEDDED_NOTE",
    "FIGURES",
    "ImageBatches",
    "classification_arrays",
    "layer_means_table",
    "profile_configs",
    "profile_metrics",
    "profile_paths",
    "segmentation_arrays",
    "write_profiles_report",
]

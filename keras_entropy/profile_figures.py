"""Entropy profiles of VGG16, ResNet50 and U-Net, trained vs initialised (seed 001, Figures 1, 7-9).

The paper's figures compare the per-filter entropy change
`log|K[0, 0, i, o]|` of every layer of a well-trained network with the same
architecture at initialisation. This module holds the pieces of
`examples/entropy_profiles.py`:

- `find_imagenet_weights(name)`: the Keras ImageNet weights file of VGG16 or
  ResNet50 when it is on disk (an explicit path, or the Keras cache
  `~/.keras/models` / `$KERAS_HOME/models`); nothing is downloaded;
- `build_model(name, ...)`: `keras.applications.VGG16` / `ResNet50` at full
  size, or compact versions with the same layer structure (`compact_vgg16`,
  `compact_resnet`) for quick CPU runs, and the segmentation experiment's
  U-Net (`keras_entropy.segmentation.unet`, see `unet_builder`); `unet` is
  a U-Net with upsampling + 2x2 convolutions instead, so that every
  convolution is a `Conv2D` the profile covers;
- `classification_arrays` / `segmentation_arrays`: data sets of
  `keras_entropy.datasets` as model inputs (MNIST is padded to 32x32 and, for
  segmentation, given foreground masks `pixel > 127`);
- `profile_run(config, seed, data, out_dir)` for
  `keras_entropy.sweeps.run_sweep`: profiles the initialised model, trains it
  (or loads ImageNet weights), profiles it again and writes the CSV/JSON
  profiles and the side-by-side box plot;
- the example's sweep and report: `profile_configs` (one config per model,
  loading each data set once) and `write_profiles_report` (summary.md).
"""

import os

import keras
import numpy as np

from keras_entropy.profile import EntropyProfile, entropy_profile, plot_profiles

#: The models of the paper's profile figures.
MODELS = ("vgg16", "resnet50", "unet")

#: The paper's figure of each model.
FIGURES = {"vgg16": "Figures 1 and 7", "resnet50": "Figure 8", "unet": "Figure 9"}

#: File names of the Keras ImageNet weights (with the classification top).
IMAGENET_WEIGHT_FILES = {
    "vgg16": "vgg16_weights_tf_dim_ordering_tf_kernels.h5",
    "resnet50": "resnet50_weights_tf_dim_ordering_tf_kernels.h5",
}

#: Paper-like settings when a model has to be trained here.
PROFILE_PAPER = {
    "input_size": {"vgg16": 224, "resnet50": 224, "unet": 256},
    "epochs": 30,
    "batch_size": 32,
    "learning_rate": 1e-4,
}


def _check_name(name):
    if name not in MODELS:
        raise ValueError(f"Argument `name` must be one of {MODELS}. Received: name={name!r}")
    return name


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"Argument `{name}` must be a positive int. Received: {name}={value!r}")
    return int(value)


def _width(base, width):
    return max(2, int(round(base * width)))


# ---------------------------------------------------------------------------
# Weights on disk.


def keras_cache_dir():
    """The folder Keras keeps downloaded weights in (`$KERAS_HOME/models` or `~/.keras/models`)."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(home, "models")


def find_imagenet_weights(name, path=None, cache_dir=None):
    """Path of the ImageNet weights file of `name`, or None when there is none.

    Args:
        name: `"vgg16"` or `"resnet50"` (`"unet"` has none: returns None).
        path: an explicit weights file or a folder holding the Keras file
            name; it must exist (FileNotFoundError otherwise).
        cache_dir: folder to look in when `path` is None (default
            `keras_cache_dir()`).
    """
    _check_name(name)
    filename = IMAGENET_WEIGHT_FILES.get(name)
    if path is not None:
        path = os.fspath(path)
        if os.path.isdir(path) and filename:
            path = os.path.join(path, filename)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"ImageNet weights for {name!r} not found: {path}")
        return os.path.abspath(path)
    if filename is None:
        return None
    candidate = os.path.join(cache_dir or keras_cache_dir(), filename)
    return os.path.abspath(candidate) if os.path.isfile(candidate) else None


# ---------------------------------------------------------------------------
# Builders.


def compact_vgg16(input_shape=(32, 32, 3), classes=10, width=0.125, dense_units=None):
    """VGG16's layer structure (13 conv 3x3 + 3 dense) with `width` times the filters.

    Args:
        input_shape: image shape, at least 32x32 (five 2x2 poolings).
        classes: softmax outputs.
        width: filter multiplier of VGG16's 64-128-256-512-512 (1.0: full).
        dense_units: units of fc1 and fc2 (default `4096 * width`).
    """
    if not isinstance(width, (int, float)) or isinstance(width, bool) or width <= 0:
        raise ValueError(f"Argument `width` must be a positive number. Received: width={width!r}")
    classes = _positive_int(classes, "classes")
    dense_units = _positive_int(dense_units, "dense_units") if dense_units is not None else _width(4096, width)
    inputs = keras.Input(input_shape)
    x = inputs
    for block, (convs, filters) in enumerate([(2, 64), (2, 128), (3, 256), (3, 512), (3, 512)], start=1):
        for i in range(1, convs + 1):
            x = keras.layers.Conv2D(_width(filters, width), 3, padding="same", activation="relu",
                                    name=f"block{block}_conv{i}")(x)
        x = keras.layers.MaxPooling2D(2, name=f"block{block}_pool")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(dense_units, activation="relu", name="fc1")(x)
    x = keras.layers.Dense(dense_units, activation="relu", name="fc2")(x)
    outputs = keras.layers.Dense(classes, activation="softmax", dtype="float32", name="predictions")(x)
    return keras.Model(inputs, outputs, name="compact_vgg16")


def compact_resnet(input_shape=(32, 32, 3), classes=10, width=0.0625, blocks=(3, 4, 6, 3)):
    """ResNet50's bottleneck layout (v1, batch norm) with `width` times the filters.

    `blocks=(3, 4, 6, 3)` is ResNet50's depth; fewer blocks make a shallower
    network of the same kind. Each stage's first block has a 1x1 projection
    shortcut, as in `keras.applications.ResNet50`.
    """
    if not isinstance(width, (int, float)) or isinstance(width, bool) or width <= 0:
        raise ValueError(f"Argument `width` must be a positive number. Received: width={width!r}")
    if isinstance(blocks, (int, str)) or len(blocks) != 4:
        raise ValueError(f"Argument `blocks` must be four ints. Received: blocks={blocks!r}")
    blocks = [_positive_int(b, "blocks") for b in blocks]
    classes = _positive_int(classes, "classes")
    inputs = keras.Input(input_shape)
    x = keras.layers.ZeroPadding2D(3, name="conv1_pad")(inputs)
    x = keras.layers.Conv2D(_width(64, width), 7, strides=2, name="conv1_conv")(x)
    x = keras.layers.BatchNormalization(epsilon=1.001e-5, name="conv1_bn")(x)
    x = keras.layers.Activation("relu", name="conv1_relu")(x)
    x = keras.layers.ZeroPadding2D(1, name="pool1_pad")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    for stage, (filters, count) in enumerate(zip((64, 128, 256, 512), blocks), start=2):
        f = _width(filters, width)
        for b in range(1, count + 1):
            name = f"conv{stage}_block{b}"
            stride = 2 if (b == 1 and stage > 2) else 1
            if b == 1:
                shortcut = keras.layers.Conv2D(4 * f, 1, strides=stride, name=name + "_0_conv")(x)
                shortcut = keras.layers.BatchNormalization(epsilon=1.001e-5, name=name + "_0_bn")(shortcut)
            else:
                shortcut = x
            y = keras.layers.Conv2D(f, 1, strides=stride, name=name + "_1_conv")(x)
            y = keras.layers.BatchNormalization(epsilon=1.001e-5, name=name + "_1_bn")(y)
            y = keras.layers.Activation("relu", name=name + "_1_relu")(y)
            y = keras.layers.Conv2D(f, 3, padding="same", name=name + "_2_conv")(y)
            y = keras.layers.BatchNormalization(epsilon=1.001e-5, name=name + "_2_bn")(y)
            y = keras.layers.Activation("relu", name=name + "_2_relu")(y)
            y = keras.layers.Conv2D(4 * f, 1, name=name + "_3_conv")(y)
            y = keras.layers.BatchNormalization(epsilon=1.001e-5, name=name + "_3_bn")(y)
            x = keras.layers.Add(name=name + "_add")([shortcut, y])
            x = keras.layers.Activation("relu", name=name + "_out")(x)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = keras.layers.Dense(classes, activation="softmax", dtype="float32", name="predictions")(x)
    return keras.Model(inputs, outputs, name="compact_resnet")


def unet(input_shape=(256, 256, 3), classes=1, filters=64, depth=4):
    """A U-Net (Ronneberger et al. 2015) with "same" padding.

    `depth` levels of two 3x3 ReLU convolutions and a 2x2 max-pool, a
    bottleneck of two convolutions, then `depth` levels of up-convolution
    (2x upsampling + a 2x2 convolution), concatenation with the matching
    encoder output and two 3x3 convolutions; a 1x1 convolution gives
    `classes` maps (sigmoid for one class, softmax otherwise). The input
    side must be divisible by `2 ** depth`. Every convolution is a `Conv2D`
    (`5 * depth + 3` in all: 23 for depth 4), so the entropy profile covers
    all of them.

    Args:
        input_shape: `(H, W, C)`.
        classes: output maps.
        filters: filters of the first level (doubling per level; 64 as in
            the paper).
        depth: number of poolings (4 as in the paper).
    """
    if len(tuple(input_shape)) != 3:
        raise ValueError(f"Argument `input_shape` must be (H, W, C). Received: input_shape={input_shape!r}")
    classes = _positive_int(classes, "classes")
    filters = _positive_int(filters, "filters")
    depth = _positive_int(depth, "depth")
    for side in input_shape[:2]:
        if side is not None and side % (2 ** depth):
            raise ValueError(
                f"Argument `input_shape` must have sides divisible by 2**depth = {2 ** depth}. "
                f"Received: input_shape={input_shape!r}, depth={depth}"
            )
    inputs = keras.Input(input_shape)
    x = inputs
    skips = []

    def double_conv(x, f, name):
        x = keras.layers.Conv2D(f, 3, padding="same", activation="relu", name=name + "_conv1")(x)
        return keras.layers.Conv2D(f, 3, padding="same", activation="relu", name=name + "_conv2")(x)

    for level in range(depth):
        x = double_conv(x, filters * 2 ** level, f"down{level + 1}")
        skips.append(x)
        x = keras.layers.MaxPooling2D(2, name=f"down{level + 1}_pool")(x)
    x = double_conv(x, filters * 2 ** depth, "bottleneck")
    for level in reversed(range(depth)):
        f = filters * 2 ** level
        x = keras.layers.UpSampling2D(2, name=f"up{level + 1}_upsample")(x)
        x = keras.layers.Conv2D(f, 2, padding="same", activation="relu", name=f"up{level + 1}_upconv")(x)
        x = keras.layers.Concatenate(name=f"up{level + 1}_concat")([skips[level], x])
        x = double_conv(x, f, f"up{level + 1}")
    activation = "sigmoid" if classes == 1 else "softmax"
    outputs = keras.layers.Conv2D(classes, 1, activation=activation, dtype="float32", name="output")(x)
    return keras.Model(inputs, outputs, name="unet")


def unet_builder():
    """The U-Net builder used for Figure 9: `(origin, function)`.

    `keras_entropy.segmentation.unet` (the paper's segmentation experiment,
    Conv2DTranspose up-convolutions), called as `fn(input_shape, filters,
    depth)`. Note that the entropy profile covers `Conv2D` and `Dense`
    layers only, so its transposed convolutions are not in the profile.
    """
    from keras_entropy import segmentation

    return "keras_entropy.segmentation.unet", (
        lambda shape, filters, depth: segmentation.unet(shape, base_filters=filters, depth=depth))


def build_model(name, input_size, classes=10, compact=False, weights=None, width=None, blocks=None,
                unet_filters=None, unet_depth=4):
    """The network of one profile figure.

    Args:
        name: `"vgg16"`, `"resnet50"` or `"unet"`.
        input_size: side of the square RGB input.
        classes: classifier outputs (1000 with ImageNet weights); U-Net: one
            sigmoid map whatever this says.
        compact: VGG16/ResNet50: the compact builders (quick runs) instead of
            `keras.applications`.
        weights: a weights file for `keras.applications` (ImageNet, needs
            `input_size=224`, `classes=1000`), or None for random weights.
        width: filter multiplier of the compact builders; None: 1/8 for
            VGG16, 1/16 for ResNet.
        blocks: ResNet blocks per stage for the compact builder.
        unet_filters: U-Net first-level filters (None: 16).
        unet_depth: U-Net poolings.

    The U-Net comes from `unet_builder()`.
    """
    _check_name(name)
    input_size = _positive_int(input_size, "input_size")
    shape = (input_size, input_size, 3)
    if weights is not None and (compact or name == "unet"):
        raise ValueError(f"Argument `weights` needs a full-size VGG16 or ResNet50. Received: weights={weights!r} "
                         f"for name={name!r}, compact={compact}")
    if name == "unet":
        builder = unet_builder()[1]
        unet_filters = 16 if unet_filters is None else unet_filters
        return builder(shape, _positive_int(unet_filters, "unet_filters"), _positive_int(unet_depth, "unet_depth"))
    if name == "vgg16":
        if compact:
            return compact_vgg16(shape, classes, width if width is not None else 0.125)
        return keras.applications.VGG16(weights=weights, input_shape=shape, classes=classes)
    if compact:
        return compact_resnet(shape, classes, width if width is not None else 0.0625,
                              tuple(blocks) if blocks is not None else (3, 4, 6, 3))
    return keras.applications.ResNet50(weights=weights, input_shape=shape, classes=classes)


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
    """`(x, y)` of a `keras_entropy.datasets.Dataset`'s training split for a classifier."""
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


class _Batches(keras.utils.PyDataset):
    """uint8 images as float32 in [0, 1], batch by batch (so full data sets stay uint8)."""

    def __init__(self, x, y, batch_size, seed):
        super().__init__()
        self.x, self.y, self.batch_size = x, y, batch_size
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(len(x))

    def __len__(self):
        return max(1, len(self.x) // self.batch_size)

    def __getitem__(self, index):
        idx = np.sort(self.order[index * self.batch_size:(index + 1) * self.batch_size])
        return self.x[idx].astype("float32") / 255.0, self.y[idx]

    def on_epoch_end(self):
        self.order = self.rng.permutation(len(self.x))


# ---------------------------------------------------------------------------
# One run: initialised and trained profiles, files, figure.


def _boxes_per_panel(fig):
    return [len(ax.patches) for ax in fig.axes]


def profile_paths(out_dir, name):
    """The files `profile_run` writes for model `name`."""
    return {
        "figure": os.path.join(out_dir, f"profile_{name}.png"),
        **{f"{label}_{ext}": os.path.join(out_dir, f"profile_{name}_{label}.{ext}")
           for label in ("trained", "initialised") for ext in ("csv", "json")},
    }


def profile_run(config, seed, data, out_dir, verbose=0):
    """Profile one model initialised and trained; write its files; return the record's fields.

    Args:
        config: dict with `model` (one of `MODELS`), `input_size`, and
            optionally `compact`, `width`, `blocks`, `unet_depth`, `classes`,
            `weights` (an ImageNet weights file: the trained profile is that
            of the pretrained network, no training), `epochs`, `batch_size`,
            `learning_rate`.
        seed: seeds the initial weights and the training.
        data: `(x, y)` uint8 images and labels (masks for the U-Net) to train
            on, or None when `weights` is given.
        out_dir: folder for `profile_<model>.png` (trained and initialised
            side by side) and the CSV/JSON profiles.

    Returns:
        dict with `history` and `metrics`: `n_layers`, `boxes_per_panel`
        (boxes drawn in each panel of the figure), `trained_source`,
        `layer_means_trained`, `layer_means_initialised` and, when trained
        here, the final `loss` and `accuracy`.
    """
    if not isinstance(config, dict):
        raise TypeError(f"Argument `config` must be a dict. Received: config={config!r}")
    name = _check_name(config.get("model"))
    settings = {**PROFILE_PAPER, **config}
    weights = settings.get("weights")
    classes = int(settings.get("classes", 1000 if weights else 10))
    kwargs = {
        "input_size": int(settings["input_size"]), "classes": classes,
        "compact": bool(settings.get("compact", False)), "width": settings.get("width"),
        "blocks": settings.get("blocks"), "unet_filters": settings.get("unet_filters"),
        "unet_depth": int(settings.get("unet_depth", 4)),
    }
    keras.utils.set_random_seed(int(seed))
    fresh = build_model(name, **kwargs)
    initialised = entropy_profile(fresh, label="initialised")
    history, metrics = {}, {}
    if weights:
        keras.backend.clear_session()
        trained_model = build_model(name, weights=weights, **kwargs)
        source = f"ImageNet weights ({os.path.basename(weights)})"
    else:
        if data is None:
            raise ValueError(f"Argument `data` is needed to train {name!r} (no weights in the config).")
        x, y = data
        trained_model = fresh
        if name == "unet":
            loss, metric = "binary_crossentropy", keras.metrics.BinaryAccuracy(name="accuracy")
        else:
            loss, metric = "sparse_categorical_crossentropy", keras.metrics.SparseCategoricalAccuracy(
                name="accuracy")
        trained_model.compile(optimizer=keras.optimizers.Adam(float(settings["learning_rate"])),
                              loss=loss, metrics=[metric])
        batches = _Batches(x, y, int(settings["batch_size"]), int(seed))
        history = trained_model.fit(batches, epochs=int(settings["epochs"]), verbose=verbose).history
        history = {k: [float(v) for v in values] for k, values in history.items()}
        metrics = {"loss": history["loss"][-1], "accuracy": history["accuracy"][-1]}
        source = f"trained here: {len(x)} examples, {settings['epochs']} epochs"
    trained = entropy_profile(trained_model, label="trained")
    keras.backend.clear_session()
    paths = profile_paths(out_dir, name)
    for profile in (trained, initialised):
        profile.to_csv(paths[f"{profile.label}_csv"])
        profile.to_json(paths[f"{profile.label}_json"])
    title = f"{name}: per-filter entropy change, trained ({source}) vs initialised"
    fig = plot_profiles([trained, initialised], path=paths["figure"], title=title)
    metrics.update({
        "builder": unet_builder()[0] if name == "unet" else (
            {"vgg16": "compact_vgg16", "resnet50": "compact_resnet"}[name] if kwargs["compact"]
            else f"keras.applications.{'VGG16' if name == 'vgg16' else 'ResNet50'}"),
        "n_layers": len(trained),
        "boxes_per_panel": _boxes_per_panel(fig),
        "trained_source": source,
        "layer_means_trained": [e.statistic("mean") for e in trained],
        "layer_means_initialised": [e.statistic("mean") for e in initialised],
    })
    return {"history": history, "metrics": metrics}


def layer_means_table(trained, initialised):
    """Markdown table of per-layer mean entropy change, trained vs initialised."""
    if not isinstance(trained, EntropyProfile) or not isinstance(initialised, EntropyProfile):
        raise TypeError("Arguments `trained` and `initialised` must be EntropyProfile objects.")
    lines = ["| layer | name | kind | filters | trained mean | initialised mean | difference |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for a, b in zip(trained, initialised):
        ma, mb = a.statistic("mean"), b.statistic("mean")
        lines.append(f"| {a.index + 1} | {a.name} | {a.kind} | {a.values.size} | {ma:.3f} | {mb:.3f} | "
                     f"{ma - mb:+.3f} |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# The sweep and report of examples/entropy_profiles.py.

#: The note of a --quick run whose MNIST came from the embedded subset.
EMBEDDED_NOTE = (
    "No local copy or prepared tensorflow-datasets copy of MNIST was found: this --quick run trained compact "
    "models on the embedded MNIST subset shipped with keras_entropy, so its profiles are a smoke test, not "
    "the paper's figures.")


def profile_configs(args, quick):
    """`(configs, data_of, notes)` of the profile sweep, from the example's arguments and --quick settings.

    One config per model of `args.models`: ImageNet weights when found
    (not with --quick), else training here on `args.dataset` (classifiers)
    or `args.seg_dataset` (U-Net), loaded once each
    (`script_setup.load_data_for`); `data_of` maps a model to its `(x, y)`;
    `notes` are the loading notes. Prints what each model uses.
    """
    from keras_entropy import datasets, script_setup

    cls_name = args.dataset or ("mnist" if args.quick else "imagenette")
    seg_name = args.seg_dataset or ("mnist" if args.quick else "coco_segmentation")
    default = {**PROFILE_PAPER, "train_size": None, **(quick if args.quick else {})}
    loaded, notes, configs, data_of = {}, [], [], {}

    def load(name, image_size):
        if name not in loaded:
            kwargs = {"image_size": image_size} if name in datasets.DEFAULT_IMAGE_SIZES else {}
            loaded[name], _, note = script_setup.load_data_for(
                args, name, max_examples=args.train_size or default["train_size"], embedded_note=EMBEDDED_NOTE,
                **kwargs)
            notes.extend([note] if note else [])
        return loaded[name]

    for name in args.models:
        weights = None
        if name in IMAGENET_WEIGHT_FILES and not args.quick:
            given = args.weights_given.get(name)
            weights = find_imagenet_weights(name, given) if (given or not args.no_cache_weights) else None
        elif name in args.weights_given:
            print(f"NOTE: --weights {name}=... ignored with --quick (compact models)", flush=True)
        size = 224 if weights else (args.input_size or (quick["input_size"] if args.quick
                                                        else PROFILE_PAPER["input_size"][name]))
        config = {"experiment": "entropy_profiles", "model": name, "input_size": size, "compact": bool(args.quick),
                  "dtype_policy": keras.config.dtype_policy().name}
        if weights:
            config.update({"weights": weights, "classes": 1000})
            print(f"{name}: ImageNet weights {weights}", flush=True)
        else:
            dataset = seg_name if name == "unet" else cls_name
            config.update({"dataset": dataset, **{k: getattr(args, k) or default[k] for k in (
                "epochs", "batch_size", "learning_rate", "train_size")}})
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
            print(f"{name}: no ImageNet weights used; training {'a compact ' if args.quick else ''}"
                  f"{name} on {dataset} ({len(data_of[name][0])} examples, {config['epochs']} epoch(s))", flush=True)
        configs.append(config)
    return configs, data_of, notes


def write_profiles_report(run, configs, records, notes, command):
    """summary.md of the profile sweep (`records`: model -> record); returns its path."""
    from keras_entropy import script_setup

    lines = script_setup.summary_header("Entropy profiles, trained vs initialised (paper Figures 1, 7, 8, 9)",
                                        notes, command, inline=True) + [script_setup.runtime_line(run.info), ""]
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
            + (f" on {config['dataset']}, final loss {metrics['loss']:.4f}, "
               f"accuracy {metrics['accuracy']:.4f}" if "loss" in metrics else "")
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
    "IMAGENET_WEIGHT_FILES",
    "MODELS",
    "PROFILE_PAPER",
    "build_model",
    "classification_arrays",
    "compact_resnet",
    "compact_vgg16",
    "find_imagenet_weights",
    "keras_cache_dir",
    "layer_means_table",
    "profile_configs",
    "profile_paths",
    "profile_run",
    "segmentation_arrays",
    "unet",
    "unet_builder",
    "write_profiles_report",
]

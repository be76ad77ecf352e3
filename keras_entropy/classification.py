"""The paper's classification experiments (seed 001, sections 5.3 and 5.4).

Small CNNs on CIFAR-10 (section 5.3, Table 1): 1-3 blocks of (3x3
convolution, leaky ReLU, 2x2 max pooling), then a softmax classifier;
widths 32/64/128; cross-entropy and Adam; `ConvEntropy(lam)` on the first
convolution or on all of them; 10 replications; one-tailed t-tests of "the
entropy loss improves the accuracy" (`improvement_table`).

Large CNNs on Imagenette (section 5.4, Table 2): `keras.applications`
VGG16 and ResNet50 (`weights=None`) with a dense head, trained vanilla,
with augmentation (horizontal flips, 20% rotation, 20% zoom) or with
augmentation and dropout 0.5 between the head's dense layers; the penalty
placed with `keras_entropy.placement` ("first" = the paper's [1],
"first_two" = [1, 2] for VGG16 and [1, 5] for ResNet50, "pre_skip",
"empirical"); SGD with learning rate 0.01, divided by 10 after 10 epochs
without a validation-accuracy gain; early stopping after 25.

Each experiment has a model builder, a `*_run(config, seed, data)` function
that trains one run of a sweep and returns the record's fields (see
`keras_entropy.sweeps`), and its paper settings (`*_PAPER`). The example
scripts `examples/cnn_classification.py` and
`examples/large_cnn_classification.py` are thin wrappers around them and
the sweep pieces here: `cnn_inputs` / `cnn_configs` / `write_cnn_report`
and `large_cnn_inputs` / `large_cnn_configs` / `large_cnn_trainer` /
`write_large_cnn_report`.
"""

import math
import numbers
import os

import keras

from keras_entropy import sweeps
from keras_entropy.experiments import fixed_config
from keras_entropy.placement import place_penalties

#: The paper's lambda grid (its list was lost in conversion; MATH.md gives
#: the range, roughly 1e-4 .. 10), with 0 as the baseline.
PAPER_LAMS = [0.0, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0]

#: Paper settings of the small CIFAR-10 CNNs (section 5.3). The paper does
#: not give the epoch budget: we stop after `patience` epochs without a
#: validation-accuracy gain and report the accuracies of the best epoch.
CNN_PAPER = {
    "depths": [1, 2, 3],
    "widths": [32, 64, 128],
    "lams": PAPER_LAMS,
    "placements": ["first", "all"],
    "replications": 10,
    "patience": 10,
    "max_epochs": 100,
    "batch_size": 128,
    "learning_rate": 1e-3,
}

#: Paper settings of VGG16 / ResNet50 on Imagenette (section 5.4).
LARGE_CNN_PAPER = {
    "archs": ["vgg16", "resnet50"],
    "trainings": ["vanilla", "augmentation", "augmentation_dropout"],
    "placements": {"vgg16": ["first", "first_two"],
                   "resnet50": ["first", "first_two", "pre_skip", "empirical"]},
    "lams": PAPER_LAMS,
    "replications": 1,
    "image_size": 224,
    "head_units": 4096,
    "dropout": 0.5,
    "learning_rate": 0.01,
    "lr_patience": 10,
    "lr_factor": 0.1,
    "patience": 25,
    "max_epochs": 200,
    "batch_size": 32,
    "empirical_k": 10,
    "reference": "imagenet",
}

#: The paper's names of the placements (layer indices of the authors' models).
PAPER_PLACEMENT_LABELS = {
    ("vgg16", "first"): "[1]", ("vgg16", "first_two"): "[1,2]",
    ("resnet50", "first"): "[1]", ("resnet50", "first_two"): "[1,5]",
    ("resnet50", "pre_skip"): "Pre-skip", ("resnet50", "empirical"): "Empirical",
}

TRAININGS = ("vanilla", "augmentation", "augmentation_dropout")
ARCHS = ("vgg16", "resnet50")

#: Placement of the lambda = 0 baseline runs (no penalty anywhere).
NO_PLACEMENT = "none"


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"Argument `{name}` must be a positive int. Received: {name}={value!r}")
    return int(value)


def _lam(value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise TypeError(f"Argument `lam` must be a finite float. Received: lam={value!r}")
    return float(value)


def _shape(value, name="input_shape"):
    if not isinstance(value, (tuple, list)) or len(value) != 3 or not all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) and v > 0 for v in value
    ):
        raise ValueError(
            f"Argument `{name}` must be (height, width, channels) positive ints. Received: {name}={value!r}"
        )
    return tuple(int(v) for v in value)


def prepare_images(x):
    """uint8 images `(N, H, W)` or `(N, H, W, C)` as float32 `(N, H, W, C)` in [0, 1]."""
    import numpy as np

    x = np.asarray(x).astype("float32") / 255.0
    return x[..., None] if x.ndim == 3 else x


# --------------------------------------------------------------------------
# Small CNN (section 5.3)


def small_cnn(input_shape, depth, width, classes=10, lam=0.0, placement="first", stabilized=True):
    """The paper's small CNN with `ConvEntropy(lam)` placed by `placement`.

    `depth` blocks of `Conv2D(width, 3)` (named `conv1`, `conv2`, ...),
    `LeakyReLU` and `MaxPooling2D(2)`, then `Flatten` and a softmax `Dense`
    (`classifier`, float32 under mixed precision).

    Args:
        input_shape: `(height, width, channels)`.
        depth: 1, 2 or 3 blocks.
        width: filters per convolution (the paper: 32, 64, 128).
        classes: number of classes.
        lam: entropy penalty strength; 0 adds none.
        placement: "first" (the first convolution), "all", "first_two" or a
            list of layer names / indices (see `keras_entropy.select_layers`;
            only the convolutions are candidates).
        stabilized: stabilized (default) or exact penalty.

    Returns:
        An uncompiled `keras.Sequential`; with `lam != 0` its chosen
        convolutions carry a `ConvEntropy` with their real output size.
    """
    input_shape = _shape(input_shape)
    if isinstance(depth, bool) or depth not in (1, 2, 3):
        raise ValueError(f"Argument `depth` must be 1, 2 or 3. Received: depth={depth!r}")
    width = _positive_int(width, "width")
    classes = _positive_int(classes, "classes")
    lam = _lam(lam)
    layers = [keras.Input(input_shape)]
    for i in range(depth):
        layers += [keras.layers.Conv2D(width, 3, name=f"conv{i + 1}"),
                   keras.layers.LeakyReLU(name=f"leaky_relu{i + 1}"),
                   keras.layers.MaxPooling2D(2, name=f"pool{i + 1}")]
    layers += [keras.layers.Flatten(name="flatten"),
               keras.layers.Dense(classes, activation="softmax", dtype="float32", name="classifier")]
    model = keras.Sequential(layers, name=f"cnn_{depth}x{width}")
    if lam != 0:
        if placement == NO_PLACEMENT:
            raise ValueError(f"Argument `placement` cannot be {NO_PLACEMENT!r} when lam != 0. Received: lam={lam!r}")
        place_penalties(model, placement, lam, kinds=("conv",), stabilized=stabilized)
    return model


def fit_classifier(model, x, y, validation_data, *, patience, max_epochs, batch_size,
                   extra_callbacks=(), verbose="auto"):
    """Fit with early stopping on `val_accuracy` and return a sweep record's fields.

    `EarlyStopping(monitor="val_accuracy", mode="max", patience)`; the
    record's `metrics` are the logged values of the best epoch (the highest
    validation accuracy, what `restore_best_weights` would keep) plus
    `best_epoch`; `stopping` follows `keras_entropy.sweeps` (the stop
    replayed with `early_stopping_epoch`).
    """
    stopper = keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=patience)
    history = model.fit(
        x, y, validation_data=validation_data, epochs=max_epochs, batch_size=batch_size,
        callbacks=[stopper, *extra_callbacks], verbose=verbose,
    ).history
    history = {name: [float(v) for v in values] for name, values in history.items()}
    epoch, best = sweeps.early_stopping_epoch(history["val_accuracy"], patience, mode="max")
    trained = len(history["val_accuracy"])
    metrics = {name: values[best - 1] for name, values in history.items() if name != "learning_rate"}
    metrics["best_epoch"] = best
    return {
        "history": history,
        "epochs_trained": trained,
        "monitor": "val_accuracy",
        "stopping": {"val_accuracy": {"epoch": epoch or trained, "best_epoch": best,
                                      "stopped": epoch is not None}},
        "stopping_epoch": epoch or trained,
        "metrics": metrics,
    }


def cnn_run(config, seed, data, verbose="auto"):
    """Train one small CNN of a sweep; returns the record's fields.

    Args:
        config: dict with `depth`, `width`, `lam`, `placement` and optionally
            `patience`, `max_epochs`, `batch_size`, `learning_rate`,
            `stabilized`.
        seed: seeds Keras (weights, shuffling).
        data: `(x_train, y_train, x_val, y_val)`; images float32 `(N, H, W, C)`.
    """
    x_train, y_train, x_val, y_val = data
    settings = {**CNN_PAPER, **config}
    keras.utils.set_random_seed(int(seed))
    classes = int(max(int(y_train.max()), int(y_val.max())) + 1)
    model = small_cnn(tuple(x_train.shape[1:]), int(settings["depth"]), int(settings["width"]),
                      max(classes, 2), float(settings["lam"]), settings["placement"],
                      stabilized=bool(settings.get("stabilized", True)))
    model.compile(keras.optimizers.Adam(float(settings["learning_rate"])),
                  "sparse_categorical_crossentropy", metrics=["accuracy"])
    outcome = fit_classifier(model, x_train, y_train, (x_val, y_val),
                             patience=int(settings["patience"]), max_epochs=int(settings["max_epochs"]),
                             batch_size=int(settings["batch_size"]), verbose=verbose)
    keras.backend.clear_session()
    return outcome


# --------------------------------------------------------------------------
# VGG16 / ResNet50 (section 5.4)


def augmentation_layers(rotation=0.2, zoom=0.2, seed=None):
    """The paper's augmentation: horizontal flips, `rotation` and `zoom` (fractions).

    Keras preprocessing layers, active only in training.
    """
    return [
        keras.layers.RandomFlip("horizontal", seed=seed, name="aug_flip"),
        keras.layers.RandomRotation(rotation, seed=seed, name="aug_rotation"),
        keras.layers.RandomZoom(zoom, seed=seed, name="aug_zoom"),
    ]


def large_cnn(arch, input_shape=(224, 224, 3), classes=10, *, training="vanilla", head_units=4096,
              dropout=0.5, lam=0.0, placement="first", reference=None, k=None, stabilized=True):
    """VGG16 or ResNet50 (`keras.applications`, random weights) with a dense head.

    The model: uint8-range images -> `Rescaling(1/255)` -> [augmentation]
    -> backbone (`include_top=False`, its layers inlined in this model, so
    layer names such as `block1_conv1` or `conv1_conv` are top-level) ->
    head -> softmax. VGG16's head is `Flatten, Dense(head_units), Dense(head_units)`
    (ReLU) as in the original; ResNet50's is `GlobalAveragePooling2D,
    Dense(head_units)`. With `training="augmentation_dropout"`,
    `Dropout(dropout)` follows each hidden dense layer of the head (i.e.
    lies between the head's dense layers).

    Args:
        arch: "vgg16" or "resnet50".
        input_shape: `(height, width, 3)`; at least 32x32.
        classes: number of classes.
        training: "vanilla", "augmentation" or "augmentation_dropout".
        head_units: width of the hidden dense layers of the head.
        dropout: dropout rate of "augmentation_dropout".
        lam: entropy penalty strength; 0 adds none.
        placement: a `keras_entropy.place_penalties` strategy ("first",
            "first_two", "pre_skip", "empirical", "all") or a list of layer
            names / indices; only convolutions are candidates.
        reference, k: for "empirical" (see `keras_entropy.select_layers`).
        stabilized: stabilized (default) or exact penalty.

    Returns:
        An uncompiled functional `keras.Model`.
    """
    if arch not in ARCHS:
        raise ValueError(f"Argument `arch` must be one of {ARCHS}. Received: arch={arch!r}")
    if training not in TRAININGS:
        raise ValueError(f"Argument `training` must be one of {TRAININGS}. Received: training={training!r}")
    input_shape = _shape(input_shape)
    if input_shape[0] < 32 or input_shape[1] < 32 or input_shape[2] != 3:
        raise ValueError(f"Argument `input_shape` must be at least (32, 32, 3). Received: input_shape={input_shape!r}")
    classes = _positive_int(classes, "classes")
    head_units = _positive_int(head_units, "head_units")
    if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real) or not 0 <= dropout < 1:
        raise ValueError(f"Argument `dropout` must be in [0, 1). Received: dropout={dropout!r}")
    lam = _lam(lam)
    inputs = keras.Input(input_shape, name="image")
    x = keras.layers.Rescaling(1.0 / 255, name="rescale")(inputs)
    if training != "vanilla":
        for layer in augmentation_layers():
            x = layer(x)
    application = keras.applications.VGG16 if arch == "vgg16" else keras.applications.ResNet50
    backbone = application(include_top=False, weights=None, input_tensor=x)
    x = backbone.output
    drop = dropout if training == "augmentation_dropout" else 0.0
    if arch == "vgg16":
        x = keras.layers.Flatten(name="flatten")(x)
        hidden = ("fc1", "fc2")
    else:
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
        hidden = ("fc1",)
    for name in hidden:
        x = keras.layers.Dense(head_units, activation="relu", name=name)(x)
        if drop:
            x = keras.layers.Dropout(drop, name=f"{name}_dropout")(x)
    outputs = keras.layers.Dense(classes, activation="softmax", dtype="float32", name="predictions")(x)
    model = keras.Model(inputs, outputs, name=f"{arch}_{training}")
    if lam != 0:
        if placement == NO_PLACEMENT:
            raise ValueError(f"Argument `placement` cannot be {NO_PLACEMENT!r} when lam != 0. Received: lam={lam!r}")
        place_penalties(model, placement, lam, reference=reference, k=k, kinds=("conv",),
                        stabilized=stabilized)
    return model


def load_reference(source, arch, input_shape=None):
    """The reference profile of the "empirical" placement.

    Args:
        source: "imagenet" (the profile of the ImageNet-trained
            `keras.applications` model, as the paper's Figures 7-8; downloads
            its weights once), "initial" (the profile of a freshly initialised
            model: a smoke-test stand-in with no empirical meaning), a path to
            a profile JSON (`EntropyProfile.to_json`) or to a `.keras` model.
        arch: "vgg16" or "resnet50".
    """
    from keras_entropy.profile import EntropyProfile, entropy_profile

    if arch not in ARCHS:
        raise ValueError(f"Argument `arch` must be one of {ARCHS}. Received: arch={arch!r}")
    if not isinstance(source, str):
        raise TypeError(f"Argument `source` must be a string. Received: source={source!r}")
    application = keras.applications.VGG16 if arch == "vgg16" else keras.applications.ResNet50
    if source in ("imagenet", "initial"):
        weights = "imagenet" if source == "imagenet" else None
        shape = None if input_shape is None else tuple(input_shape)
        model = application(include_top=False, weights=weights, input_shape=shape)
        return entropy_profile(model, kinds=("conv",), label=f"{arch} ({source})")
    if source.endswith(".json"):
        return EntropyProfile.from_json(source)
    if source.endswith(".keras"):
        return entropy_profile(keras.saving.load_model(source), kinds=("conv",))
    raise ValueError(
        "Argument `source` must be 'imagenet', 'initial', a profile .json or a .keras model. "
        f"Received: source={source!r}"
    )


def large_cnn_run(config, seed, data, verbose="auto", reference=None):
    """Train one VGG16 / ResNet50 run of a sweep; returns the record's fields.

    Args:
        config: dict with `arch`, `training`, `placement`, `lam` and
            optionally the keys of `LARGE_CNN_PAPER` (`head_units`,
            `dropout`, `learning_rate`, `lr_patience`, `lr_factor`,
            `patience`, `max_epochs`, `batch_size`, `empirical_k`,
            `reference`).
        seed: seeds Keras.
        data: `(x_train, y_train, x_val, y_val)`, images uint8 or float in
            [0, 255] of shape `(N, S, S, 3)`.
        reference: the `EntropyProfile` of "empirical" (default: from
            `load_reference(config["reference"], arch)`).

    SGD(learning_rate), `ReduceLROnPlateau(val_accuracy, factor=lr_factor,
    patience=lr_patience)`, early stopping on `val_accuracy` after
    `patience` epochs; metrics at the best validation-accuracy epoch.
    """
    x_train, y_train, x_val, y_val = data
    settings = {**{k: v for k, v in LARGE_CNN_PAPER.items() if not isinstance(v, (list, dict))}, **config}
    keras.utils.set_random_seed(int(seed))
    placement, lam = settings["placement"], float(settings["lam"])
    if placement == "empirical" and lam != 0 and reference is None:
        reference = load_reference(settings["reference"], settings["arch"], tuple(x_train.shape[1:]))
    classes = int(max(int(y_train.max()), int(y_val.max())) + 1)
    model = large_cnn(settings["arch"], tuple(x_train.shape[1:]), max(classes, 2),
                      training=settings["training"], head_units=int(settings["head_units"]),
                      dropout=float(settings["dropout"]), lam=lam, placement=placement,
                      reference=reference, k=int(settings["empirical_k"]))
    penalised = [layer.name for layer in model.layers
                 if getattr(layer, "kernel_regularizer", None) is not None]
    model.compile(keras.optimizers.SGD(float(settings["learning_rate"])),
                  "sparse_categorical_crossentropy", metrics=["accuracy"])
    plateau = keras.callbacks.ReduceLROnPlateau(monitor="val_accuracy", mode="max",
                                                factor=float(settings["lr_factor"]),
                                                patience=int(settings["lr_patience"]), verbose=0)
    outcome = fit_classifier(model, x_train.astype("float32"), y_train, (x_val.astype("float32"), y_val),
                             patience=int(settings["patience"]), max_epochs=int(settings["max_epochs"]),
                             batch_size=int(settings["batch_size"]), extra_callbacks=[plateau],
                             verbose=verbose)
    outcome["penalised_layers"] = penalised
    keras.backend.clear_session()
    return outcome


# --------------------------------------------------------------------------
# Tables


def improvement_table(results, architecture=("depth", "width"), group="placement", keys=None,
                      lam="lam", baseline=0.0):
    """The paper's Table 1 from a results file: does the entropy loss improve accuracy?

    For each architecture (the config entries named by `architecture`) and
    each `group` value (e.g. the placement), the baseline is the runs with
    `lam == baseline` (of that architecture; any placement) and the
    "optimal" lambda is the one with the highest mean validation accuracy.
    One-tailed Welch t-tests (H1: the entropy loss increases the mean) of
    the train and validation accuracies at the best epoch, with p-values
    and stars (`keras_entropy.stats.improvement_test`).

    Returns:
        `(rows, markdown)`: a list of dicts (one per architecture and group)
        and the Markdown table with the paper's columns.
    """
    from keras_entropy import stats

    records = sweeps.load_records(results, keys)
    if not records:
        raise ValueError(f"No runs to tabulate in {results!r}.")
    if isinstance(architecture, str):
        architecture = (architecture,)

    def arch_of(r):
        return tuple(r["config"][a] for a in architecture)

    def values(rs, name):
        return [r["metrics"].get(name) for r in rs]

    archs = sorted({arch_of(r) for r in records})
    rows = []
    for arch in archs:
        at = [r for r in records if arch_of(r) == arch]
        base = [r for r in at if r["config"][lam] == baseline]
        groups = sorted({r["config"][group] for r in at if r["config"][lam] != baseline})
        for g in groups:
            treated = [r for r in at if r["config"][group] == g and r["config"][lam] != baseline]
            lams = sorted({r["config"][lam] for r in treated})

            def mean_val(value):
                vs = [v for v in values([r for r in treated if r["config"][lam] == value], "val_accuracy")
                      if v is not None]
                return sum(vs) / len(vs) if vs else -math.inf

            best = max(lams, key=mean_val)
            chosen = [r for r in treated if r["config"][lam] == best]
            train = stats.improvement_test(values(base, "accuracy"), values(chosen, "accuracy"))
            val = stats.improvement_test(values(base, "val_accuracy"), values(chosen, "val_accuracy"))
            rows.append({
                "architecture": dict(zip(architecture, arch)), group: g, "best_lam": best,
                "n_base": len(base), "n": len(chosen),
                "base_train_accuracy": train["baseline_mean"], "base_val_accuracy": val["baseline_mean"],
                "train_change": train["difference"], "train_pvalue": train["pvalue"],
                "train_stars": train["stars"],
                "val_change": val["difference"], "val_pvalue": val["pvalue"], "val_stars": val["stars"],
            })

    def fmt(x, signed=False):
        if x is None or (isinstance(x, float) and math.isnan(x)):
            return "n/a"
        return f"{x:+.4f}" if signed else f"{x:.4f}"

    def change(value, p, star):
        text = fmt(value, signed=True) + star
        return text + (f" ({p:.4f})" if p is not None and not math.isnan(p) else " (n/a)")

    header = ["Architecture", group, "best lam", "n (base/entropy)", "Mean Base Train Acc.",
              "Mean Base Val. Acc.", "Mean Train Acc. change", "Mean Val. Acc. change"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        name = ", ".join(f"{k}={v}" for k, v in row["architecture"].items())
        lines.append("| " + " | ".join([
            name, str(row[group]), f"{row['best_lam']:g}", f"{row['n_base']}/{row['n']}",
            fmt(row["base_train_accuracy"]), fmt(row["base_val_accuracy"]),
            change(row["train_change"], row["train_pvalue"], row["train_stars"]),
            change(row["val_change"], row["val_pvalue"], row["val_stars"]),
        ]) + " |")
    return rows, "\n".join(lines)


def accuracy_grid(results, rows=("arch", "training", "placement"), keys=None, lam="lam",
                  metric="val_accuracy", baseline_placement=NO_PLACEMENT):
    """The paper's Table 2: mean `metric` per row (config entries `rows`) and lambda.

    Baseline runs (`placement == baseline_placement`, lambda 0) are shared
    by every placement row of the same other entries. The best value of each
    row is in bold.

    Returns:
        `(table, markdown)`: a dict `{row tuple: {lam: mean}}` and Markdown.
    """
    records = sweeps.load_records(results, keys)
    if not records:
        raise ValueError(f"No runs to tabulate in {results!r}.")
    lams = sorted({r["config"][lam] for r in records})
    cells = {}
    for r in records:
        cells.setdefault(tuple(r["config"][k] for k in rows), {}).setdefault(r["config"][lam], []).append(
            r["metrics"].get(metric))
    table = {}
    index = list(rows).index("placement") if "placement" in rows else None
    for row, by_lam in cells.items():
        if index is not None and row[index] == baseline_placement:
            continue
        means = {}
        for value in lams:
            vs = by_lam.get(value)
            if vs is None and index is not None:
                shared = row[:index] + (baseline_placement,) + row[index + 1:]
                vs = cells.get(shared, {}).get(value)
            vs = [v for v in (vs or []) if v is not None]
            means[value] = sum(vs) / len(vs) if vs else None
        table[row] = means
    if not table:  # only baselines
        table = {row: {v: (sum(x for x in vs if x is not None) / len(vs)) for v, vs in by_lam.items()}
                 for row, by_lam in cells.items()}
    header = list(rows) + [f"lam={v:g}" for v in lams]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in sorted(table, key=str):
        means = table[row]
        best = max((m for m in means.values() if m is not None), default=None)
        cells_md = []
        for value in lams:
            m = means.get(value)
            text = "n/a" if m is None else f"{m:.3f}"
            cells_md.append(f"**{text}**" if m is not None and m == best else text)
        lines.append("| " + " | ".join([str(v) for v in row] + cells_md) + " |")
    return table, "\n".join(lines)


def plot_accuracy_vs_lam(results, path, series=("depth", "width", "placement"), keys=None, lam="lam",
                         metric="val_accuracy", title=None):
    """Mean `metric` (with min-max range) against lambda, one line per `series` value; PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = sweeps.load_records(results, keys)
    lams = sorted({r["config"][lam] for r in records})
    xs = list(range(len(lams)))
    groups = sorted({tuple(r["config"][s] for s in series) for r in records}, key=str)
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for g in groups:
        means, lows, highs, used = [], [], [], []
        for i, value in enumerate(lams):
            vs = [r["metrics"].get(metric) for r in records
                  if tuple(r["config"][s] for s in series) == g and r["config"][lam] == value]
            vs = [v for v in vs if v is not None]
            if vs:
                used.append(i)
                means.append(sum(vs) / len(vs))
                lows.append(min(vs))
                highs.append(max(vs))
        if used:
            ax.plot(used, means, marker="o", label=", ".join(f"{s}={v}" for s, v in zip(series, g)))
            ax.fill_between(used, lows, highs, alpha=0.15)
    ax.set_xticks(xs, [f"{v:g}" for v in lams])
    ax.set_xlabel("lambda")
    ax.set_ylabel(f"{metric} (best epoch)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    if title:
        ax.set_title(title, fontsize=9)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


# ---------------------------------------------------------------------------
# The sweeps of examples/cnn_classification.py and large_cnn_classification.py.


def baseline_and_treated(lams, cell, treated_configs):
    """The lam=0 baseline of one cell (placement "none", when 0 is in `lams`), then its treated configs."""
    configs = [{**cell, "placement": NO_PLACEMENT, "lam": 0.0}] if 0.0 in lams else []
    return configs + (treated_configs if any(lam != 0 for lam in lams) else [])


def cnn_inputs(data, settings, source):
    """`(arrays, fixed)` of the small-CNN sweep: `(x_train, y_train, x_val, y_val)` and the fixed config."""
    x_train = prepare_images(data.x_train[: settings["train_size"]])
    y_train = data.y_train[: settings["train_size"]].astype("int32")
    x_val = prepare_images(data.x_test[: settings["val_size"]])
    y_val = data.y_test[: settings["val_size"]].astype("int32")
    fixed = fixed_config("cnn_classification", data.name, "embedded" if data.is_embedded else source,
                         {"train_size": len(x_train), "val_size": len(x_val)}, {**CNN_PAPER, **settings},
                         ("patience", "max_epochs", "batch_size", "learning_rate"))
    return (x_train, y_train, x_val, y_val), fixed


def cnn_configs(settings, fixed):
    """The small-CNN sweep: per depth and width, the baseline and each placement x nonzero lambda."""
    treated = [lam for lam in settings["lams"] if lam != 0]
    configs = []
    for depth in settings["depths"]:
        for width in settings["widths"]:
            cell = {**fixed, "depth": depth, "width": width}
            configs += baseline_and_treated(settings["lams"], cell, sweeps.expand_grid(
                {"placement": settings["placements"], "lam": treated}, fixed=cell) if treated else [])
    return configs


def write_cnn_report(run, records, fixed, command):
    """plots and summary.md (Table 1) of the small-CNN sweep; returns `(table1, plot, summary_path)`."""
    from keras_entropy import script_setup

    _, table1 = improvement_table(run.results_path, keys=run.keys)
    plot = plot_accuracy_vs_lam(records, run.path("val_accuracy_vs_lam.png"),
                                title="validation accuracy at the best epoch (mean, min-max)")
    _, grid = accuracy_grid(records, rows=("depth", "width", "placement"))
    _, train_grid = accuracy_grid(records, rows=("depth", "width", "placement"), metric="accuracy")
    label = run.data.name + (" (embedded subset, --quick)" if run.data.is_embedded else "")
    lines = script_setup.summary_header(f"CNN classification on {label}", run.note, command) + [
        script_setup.records_line(records, fixed),
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
    return table1, plot, script_setup.write_summary(run.out, lines)


#: The note of a sweep whose "empirical" placement used a freshly initialised reference.
INITIAL_REFERENCE_NOTE = (
    "The 'empirical' placement used the entropy profile of a freshly initialised network "
    "(--reference initial), not a trained one: its layer choice has no empirical meaning.")


def large_cnn_inputs(data, settings, source, note=None, dataset="imagenette"):
    """`(arrays, fixed, note)` of the large-CNN sweep.

    `arrays` is `(x_train, y_train, x_val, y_val)`; `note` gains
    `INITIAL_REFERENCE_NOTE` when "empirical" runs use `reference="initial"`.
    """
    x_train = data.x_train[: settings["train_size"]]
    y_train = data.y_train[: settings["train_size"]].astype("int32")
    x_val = data.x_test[: settings["val_size"]]
    y_val = data.y_test[: settings["val_size"]].astype("int32")
    fixed = fixed_config("large_cnn_classification", dataset, source,
                         {"train_size": len(x_train), "val_size": len(x_val)}, {**LARGE_CNN_PAPER, **settings},
                         ("image_size", "head_units", "dropout", "learning_rate", "lr_factor", "lr_patience",
                          "patience", "max_epochs", "batch_size"))
    if settings["reference"] == "initial" and "empirical" in (
            settings["placements"] or LARGE_CNN_PAPER["placements"]["resnet50"]):
        note = f"{note} {INITIAL_REFERENCE_NOTE}" if note else INITIAL_REFERENCE_NOTE
    return (x_train, y_train, x_val, y_val), fixed, note


def large_cnn_configs(settings, fixed):
    """The large-CNN sweep: per architecture and training, the baseline and each placement x nonzero lambda.

    `settings["placements"]` None: the paper's placements of each architecture.
    """
    treated = [lam for lam in settings["lams"] if lam != 0]
    configs = []
    for arch in settings["archs"]:
        for training in settings["trainings"]:
            cell = {**fixed, "arch": arch, "training": training}
            runs = []
            for placement in settings["placements"] or LARGE_CNN_PAPER["placements"][arch]:
                extra = ({"reference": settings["reference"], "empirical_k": settings["empirical_k"]}
                         if placement == "empirical" else {})
                runs += [{**fixed, **extra, "arch": arch, "training": training, "placement": placement, "lam": lam}
                         for lam in treated]
            configs += baseline_and_treated(settings["lams"], cell, runs)
    return configs


def large_cnn_trainer(arrays, image_size, verbose="auto"):
    """`train(config, seed)` for the large-CNN sweep; loads each "empirical" reference profile once."""
    references = {}

    def train(config, seed):
        reference = None
        if config["placement"] == "empirical":
            name = (config["reference"], config["arch"])
            if name not in references:
                references[name] = load_reference(config["reference"], config["arch"], (image_size,) * 2 + (3,))
            reference = references[name]
        return large_cnn_run(config, seed, arrays, verbose=verbose, reference=reference)

    return train


def write_large_cnn_report(run, records, fixed, command, note):
    """plot and summary.md (Table 2) of the large-CNN sweep; returns `(table2, plot, summary_path)`."""
    from keras_entropy import script_setup

    _, table2 = accuracy_grid(records, rows=("arch", "training", "placement"))
    plot = plot_accuracy_vs_lam(records, run.path("val_accuracy_vs_lam.png"), series=("arch", "training", "placement"),
                                title="validation accuracy at the best epoch")
    layer_lines = sorted({f"- {r['config']['arch']} / {r['config']['placement']} "
                          f"({PAPER_PLACEMENT_LABELS.get((r['config']['arch'], r['config']['placement']), 'custom')}): "
                          + ", ".join(r.get("penalised_layers", [])) for r in records if r["config"]["lam"] != 0})
    title = "VGG16 / ResNet50 on Imagenette" + (" (tensorflow-datasets mock data, --quick)"
                                                if run.source == "mock" else "")
    lines = script_setup.summary_header(title, note, command) + [
        script_setup.records_line(records, fixed),
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
    return table2, plot, script_setup.write_summary(run.out, lines)


__all__ = [
    "CNN_PAPER", "LARGE_CNN_PAPER", "PAPER_LAMS", "accuracy_grid", "augmentation_layers", "baseline_and_treated",
    "cnn_configs", "cnn_inputs", "cnn_run",
    "INITIAL_REFERENCE_NOTE", "fit_classifier", "improvement_table", "large_cnn", "large_cnn_configs",
    "large_cnn_inputs", "large_cnn_run", "large_cnn_trainer", "load_reference", "write_large_cnn_report",
    "plot_accuracy_vs_lam", "prepare_images", "small_cnn", "write_cnn_report",
]

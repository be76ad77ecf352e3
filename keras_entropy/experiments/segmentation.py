"""The paper's segmentation experiment (seed 001, section 5.5, Table 3).

A U-Net (Ronneberger et al.; the Keras layout of the implementation the
paper adapted) trained on 256x256 COCO images with binary foreground masks,
mean squared error plus `ConvEntropy(lam)` at chosen layers, early stopping
when the validation loss has not improved by 0.01 for 10 epochs. The
report gives, per run, the epochs trained, the training time, the
validation pixel accuracy and the intersection over union (`BinaryIoU`).

Layer numbering. The paper names its layers by their index in the
authors' `model.layers` (the input is 0): `[2]`, `[2, 3]`, `[3, 7, 11, 15]`
and `[3, 7, 11, 15, 19, 24, 29, 34]`. `unet` builds the same layout, each
down level being `Conv2D, Dropout, Conv2D, MaxPooling2D` and each up level
`Conv2DTranspose, Concatenate, Conv2D, Dropout, Conv2D`, so that
`[3, 7, 11, 15]` are the second convolutions of the four down levels (the
layers that feed the skip concatenations, `placement="pre_concat"`),
19 is the bottleneck's second convolution and 24, 29, 34 the up levels'
second convolutions. An index of a layer without a kernel (2 is the first
level's `Dropout`) stands for the convolution whose output it passes on
(`paper_layers` maps 2 to layer 1, the first convolution).

`examples/unet_segmentation.py` builds the same U-Net with `keras.layers`,
places `ConvEntropy` on it (`placement_layers` turns the paper's indices
into layer names) and trains it; this module keeps what the script would
not write by hand: the metric `BinaryIoU`, the sweep (`unet_inputs`,
`unet_configs`), the mask figures (`save_mask_figure`, `mask_file`) and the
report (`table3`, `write_unet_report`: summary.md with Table 3). `unet` is
the U-Net of the profile figures
(`keras_entropy.experiments.architectures.unet_builder`).
"""

import numbers
import os
import re

import keras

from keras_entropy import validation
from keras_entropy.experiments import sweeps
from keras_entropy.experiments.analysis import markdown_table
from keras_entropy.experiments.classification import baseline_and_treated, sweep_inputs
from keras_entropy.experiments.images import image_shape, prepare_images
from keras_entropy.experiments.paper import UNET_PAPER

#: Dropout rates of the down levels and bottleneck (then mirrored upwards).
_DROPOUTS = (0.1, 0.1, 0.2, 0.2, 0.3)


@keras.saving.register_keras_serializable(package="keras_entropy")
class BinaryIoU(keras.metrics.Metric):
    """Intersection over union of the foreground of binary masks.

    Predictions (probabilities) and targets are thresholded at `threshold`;
    over every pixel seen since the last reset,
    `IoU = |pred AND true| / |pred OR true|`. When neither has a foreground
    pixel the IoU is 1 (a perfect empty prediction).

    Args:
        threshold: a float in (0, 1) (default 0.5).
        name: the metric's name (default `"iou"`).
        dtype: as for any `keras.metrics.Metric`.

    Predicted foreground `[1, 0, 1, 0]` against `[1, 1, 0, 0]`: one pixel in
    both, three in either.

    >>> import numpy as np
    >>> iou = BinaryIoU()
    >>> iou.update_state(np.array([[1.0, 1.0, 0.0, 0.0]]), np.array([[0.9, 0.2, 0.8, 0.1]]))
    >>> round(float(iou.result()), 4)
    0.3333
    """

    def __init__(self, threshold=0.5, name="iou", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.threshold = validation.validate_open_unit_interval(threshold, "threshold")
        self.intersection = self.add_variable(shape=(), initializer="zeros", name="intersection")
        self.union = self.add_variable(shape=(), initializer="zeros", name="union")

    def update_state(self, y_true, y_pred, sample_weight=None):
        ops = keras.ops
        t = ops.cast(ops.convert_to_tensor(y_true) >= self.threshold, "float32")
        p = ops.cast(ops.convert_to_tensor(y_pred) >= self.threshold, "float32")
        t = ops.reshape(t, ops.shape(p))
        inter = t * p
        union = ops.maximum(t, p)
        if sample_weight is not None:
            w = ops.cast(ops.convert_to_tensor(sample_weight), "float32")
            while len(w.shape) < len(inter.shape):
                w = ops.expand_dims(w, -1)
            inter, union = inter * w, union * w
        self.intersection.assign_add(ops.cast(ops.sum(inter), self.dtype))
        self.union.assign_add(ops.cast(ops.sum(union), self.dtype))

    def result(self):
        ops = keras.ops
        intersection = ops.convert_to_tensor(self.intersection)
        union = ops.convert_to_tensor(self.union)
        return ops.where(union > 0, intersection / ops.maximum(union, 1.0), 1.0)

    def reset_state(self):
        self.intersection.assign(0.0)
        self.union.assign(0.0)

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold}


def unet(input_shape=(256, 256, 3), base_filters=16, depth=4):
    """The paper's U-Net, with a sigmoid one-channel output and no penalty.

    `depth` down levels of (Conv 3x3, Dropout, Conv 3x3, MaxPool 2x2) with
    `base_filters * 2**level` filters, a bottleneck (Conv, Dropout, Conv),
    `depth` up levels (Conv2DTranspose 2x2 stride 2, Concatenate with the
    level's skip, Conv, Dropout, Conv) and a 1x1 sigmoid convolution;
    ReLU, "same" padding, He initialisation. See the module docstring for
    the layer numbering. `examples/unet_segmentation.py` builds the same
    network and places `ConvEntropy` on it; this one is the U-Net of the
    profile figures (`keras_entropy.experiments.architectures.unet_builder`).

    Args:
        input_shape: `(height, width, channels)`, height and width divisible
            by `2**depth`.
        base_filters: filters of the first level.
        depth: number of down (and up) levels, 1..4.

    Returns:
        An uncompiled functional `keras.Model`.
    """
    input_shape = image_shape(input_shape)
    depth = validation.validate_choice(validation.validate_int(depth, "depth"), "depth", (1, 2, 3, 4))
    base_filters = validation.validate_positive_int(base_filters, "base_filters")
    if input_shape[0] % 2**depth or input_shape[1] % 2**depth:
        raise ValueError(
            f"Argument `input_shape` must have height and width divisible by 2**depth = {2**depth}. "
            f"Received: input_shape={input_shape!r}"
        )

    def conv(filters, name):
        return keras.layers.Conv2D(
            filters, 3, activation="relu", padding="same", kernel_initializer="he_normal", name=name
        )

    inputs = keras.Input(input_shape, name="image")
    x, skips = inputs, []
    for level in range(depth):
        f = base_filters * 2**level
        x = conv(f, f"down{level + 1}_conv1")(x)
        x = keras.layers.Dropout(_DROPOUTS[level], name=f"down{level + 1}_dropout")(x)
        x = conv(f, f"down{level + 1}_conv2")(x)
        skips.append(x)
        x = keras.layers.MaxPooling2D(2, name=f"down{level + 1}_pool")(x)
    f = base_filters * 2**depth
    x = conv(f, "bottleneck_conv1")(x)
    x = keras.layers.Dropout(_DROPOUTS[depth], name="bottleneck_dropout")(x)
    x = conv(f, "bottleneck_conv2")(x)
    for level in reversed(range(depth)):
        f = base_filters * 2**level
        n = depth - level
        x = keras.layers.Conv2DTranspose(f, 2, strides=2, padding="same", name=f"up{n}_transpose")(x)
        x = keras.layers.Concatenate(name=f"up{n}_concat")([x, skips[level]])
        x = conv(f, f"up{n}_conv1")(x)
        x = keras.layers.Dropout(_DROPOUTS[level], name=f"up{n}_dropout")(x)
        x = conv(f, f"up{n}_conv2")(x)
    outputs = keras.layers.Conv2D(1, 1, activation="sigmoid", dtype="float32", name="mask")(x)
    return keras.Model(inputs, outputs, name=f"unet_{base_filters}x{depth}")


def paper_layers(model, indices):
    """The Conv2D layers of `model` named by the paper's `model.layers` indices.

    `model.layers[i]` when it is a `Conv2D`; for a layer without a kernel
    (e.g. a `Dropout`), the nearest `Conv2D` before it (the convolution
    whose output it passes on). Duplicates are dropped, order kept.

    Raises:
        ValueError: an index out of range, or with no convolution at or before it.
    """
    if not isinstance(indices, (list, tuple)) or not indices:
        raise ValueError(f"Argument `indices` must be a non-empty list of ints. Received: indices={indices!r}")
    layers, chosen = model.layers, []
    for i in indices:
        if isinstance(i, bool) or not isinstance(i, numbers.Integral) or not 0 <= i < len(layers):
            raise ValueError(f"Argument `indices` must hold ints in [0, {len(layers)}). Received: indices={indices!r}")
        j = int(i)
        while j >= 0 and type(layers[j]) is not keras.layers.Conv2D:
            if hasattr(layers[j], "kernel"):
                j = -1  # another weight layer (a transposed convolution): no match
                break
            j -= 1
        if j < 0:
            raise ValueError(
                f"Layer index {i} ({layers[i].name}) has no Conv2D at or before it "
                f"(a transposed convolution or the input). Received: indices={indices!r}"
            )
        if layers[j] not in chosen:
            chosen.append(layers[j])
    return chosen


def parse_placement(text):
    """A command-line placement: "3,7,11,15" -> `("paper", [3, 7, 11, 15])`, else the strategy name."""
    stripped = validation.validate_string(text, "text").strip("[] ")
    if stripped.replace(",", "").replace(" ", "").isdigit():
        return ("paper", [int(v) for v in stripped.replace(" ", "").split(",") if v])
    return text


def placement_layers(model, placement):
    """What `keras_entropy.place_penalties` places a command-line `placement` on, in `model`.

    The paper's `model.layers` indices ("3,7,11,15") become the names of
    their convolutions (`paper_layers`); a strategy ("pre_concat", "first",
    "all", ...) is returned as it is.
    """
    where = parse_placement(placement)
    if isinstance(where, tuple):
        return [layer.name for layer in paper_layers(model, where[1])]
    return where


def save_mask_figure(images, true_masks, predicted, path, title=None):
    """Rows of (image, true mask, predicted mask) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    n = len(images)
    fig, axes = plt.subplots(n, 3, figsize=(6.6, 2.2 * n), squeeze=False)
    for i in range(n):
        img = np.asarray(images[i], dtype="float32")
        img = img / 255.0 if img.max() > 1.0 else img
        for ax, picture, label in zip(
            axes[i],
            (
                img.squeeze(),
                np.asarray(true_masks[i]).squeeze(),
                (np.asarray(predicted[i]).squeeze() >= 0.5).astype("float32"),
            ),
            ("image", "true mask", "predicted mask"),
        ):
            ax.imshow(picture, cmap=None if picture.ndim == 3 else "gray", vmin=0, vmax=1)
            ax.set_axis_off()
            if i == 0:
                ax.set_title(label, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)
    return path


def table3(results, keys=None):
    """The paper's Table 3 from a results file: one row per run.

    Columns: Loss, placement, lambda, seed, epochs, training time (s),
    validation accuracy and IoU (at the stopping epoch).

    Returns:
        `(rows, markdown)`.
    """
    records = sweeps.load_records(results, keys)
    rows = []
    for r in sorted(
        records, key=lambda r: (r["config"]["lam"] != 0, str(r["config"]["placement"]), r["config"]["lam"], r["seed"])
    ):
        lam = r["config"]["lam"]
        rows.append(
            {
                "loss": "MSE" if lam == 0 else "MSE + Entropy",
                "placement": r["config"]["placement"] if lam != 0 else "-",
                "lam": lam,
                "seed": r["seed"],
                "epochs": r.get("epochs_trained"),
                "time_s": r.get("wall_time_s"),
                "accuracy": r["metrics"].get("val_accuracy"),
                "iou": r["metrics"].get("val_iou"),
            }
        )
    header = ["Loss", "Layers", "lambda", "seed", "# of Epochs", "Training Time (s)", "Accuracy", "IOU"]
    cells = [
        [
            row["loss"],
            row["placement"],
            f"{row['lam']:g}",
            row["seed"],
            row["epochs"],
            f"{row['time_s']:.2f}" if row["time_s"] is not None else "n/a",
            f"{row['accuracy']:.4f}" if row["accuracy"] is not None else "n/a",
            f"{row['iou']:.4f}" if row["iou"] is not None else "n/a",
        ]
        for row in rows
    ]
    return rows, markdown_table(header, cells)


# ---------------------------------------------------------------------------
# The sweep of examples/unet_segmentation.py.


def mask_file(config, seed):
    """File name of the mask figure of one run: `masks_lam<lam>_<placement>[_<form>]_seed<seed>.png`.

    The form is named when the config has one (not the paper's).
    """
    label = re.sub(r"[^A-Za-z0-9_.-]+", "-", str(config["placement"]))
    form = f"_{config['form']}" if "form" in config else ""
    return f"masks_lam{config['lam']:g}_{label}{form}_seed{seed}.png"


def unet_inputs(data, settings, source, dataset="coco_segmentation"):
    """`(arrays, fixed)` of the U-Net sweep (`keras_entropy.experiments.classification.sweep_inputs`).

    Images float32 in [0, 1], masks float32 `(N, S, S, 1)`; the fixed
    config holds the penalty form when it is not the paper's, the baseline
    leaves it out (`unet_configs`).
    """
    return sweep_inputs(
        data,
        settings,
        "unet_segmentation",
        dataset,
        source,
        {**UNET_PAPER, **settings},
        ("image_size", "base_filters", "depth", "patience", "min_delta", "max_epochs", "batch_size", "learning_rate"),
        prepare_images,
        lambda y: y.astype("float32")[..., None],
    )


def unet_configs(settings, fixed):
    """The U-Net sweep: the baseline (lam 0, placement "none", no form), then each placement x nonzero lambda."""
    treated = [
        {**fixed, "placement": placement, "lam": lam}
        for placement in settings["placements"]
        for lam in settings["lams"]
        if lam != 0
    ]
    return baseline_and_treated(settings["lams"], fixed, treated)


def write_unet_report(run, records, fixed, command):
    """plots and summary.md (Table 3) of the U-Net sweep; returns `(table, summary_path)`."""
    from keras_entropy.experiments import script_setup
    from keras_entropy.experiments.figures import plot_accuracy_vs_lam

    _, table = table3(records)
    plots = [
        plot_accuracy_vs_lam(
            records,
            run.path(f"{metric}_vs_lam.png"),
            series=("placement",),
            metric=metric,
            title=f"{metric} at the stopping epoch",
        )
        for metric in ("val_iou", "val_accuracy")
    ]
    title = "U-Net on COCO binary masks" + (" (tensorflow-datasets mock data, --quick)" if run.source == "mock" else "")
    layer_lines = sorted(
        {
            f"- {r['config']['placement']}: " + ", ".join(r.get("penalised_layers", []))
            for r in records
            if r["config"]["lam"] != 0
        }
    )
    mask_lines = [
        f"![masks lam={r['config']['lam']:g} {r['config']['placement']}]({mask_file(r['config'], r['seed'])})"
        for r in records
        if os.path.exists(run.path(mask_file(r["config"], r["seed"])))
    ]
    lines = script_setup.summary_header(title, run.note, command) + [
        script_setup.records_line(records, fixed),
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
    return table, script_setup.write_summary(run.out, lines)


__all__ = [
    "BinaryIoU",
    "mask_file",
    "paper_layers",
    "parse_placement",
    "placement_layers",
    "save_mask_figure",
    "table3",
    "unet",
    "unet_configs",
    "unet_inputs",
    "write_unet_report",
]

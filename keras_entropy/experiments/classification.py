"""The paper's classification experiments (seed 001, sections 5.3 and 5.4): what the scripts share.

The scripts `examples/cnn_classification.py` (small CNNs on CIFAR-10,
section 5.3, Table 1) and `examples/large_cnn_classification.py` (VGG16
and ResNet50 on Imagenette, section 5.4, Table 2) build their models,
attach `ConvEntropy` and train them themselves. This module holds what a
user would not write by hand:

- `fit_classifier`: `model.fit` with early stopping on `val_accuracy`,
  returning a sweep record's fields (the accuracies of the best epoch);
- `load_reference`: the reference profile of the "empirical" placement;
- the sweeps: `cnn_inputs` / `cnn_configs` and `large_cnn_inputs` /
  `large_cnn_configs` (the data arrays, the fixed config and the grid of
  configs `Run.sweep` runs), their paper settings being `CNN_PAPER` and
  `LARGE_CNN_PAPER` in `keras_entropy.experiments.paper`;
- `small_cnn`: the paper's small CNN with `ConvEntropy` placed by name, for
  the CNN study (`keras_entropy.experiments.cnn_study`) and
  `examples/tune_lambda.py`; `examples/cnn_classification.py` builds the
  same network with `keras.layers`.

Their tables, plot and summary.md are in
`keras_entropy.experiments.analysis`.
"""

import os

import keras

from keras_entropy import validation
from keras_entropy.experiments import runs, script_setup, sweeps
from keras_entropy.experiments.analysis import accuracy_grid, improvement_table
from keras_entropy.experiments.autoencoder import fixed_config, form_entry, unpenalised
from keras_entropy.experiments.figures import plot_accuracy_vs_lam
from keras_entropy.experiments.images import image_shape, prepare_images
from keras_entropy.experiments.paper import CNN_PAPER, LARGE_CNN_PAPER, NO_PLACEMENT, PAPER_FORM, PAPER_PLACEMENT_LABELS
from keras_entropy.placement import place_penalties

#: The large CNNs of section 5.4.
ARCHS = ("vgg16", "resnet50")


# --------------------------------------------------------------------------
# Small CNN (section 5.3)


def small_cnn(input_shape, depth, width, classes=10, lam=0.0, placement="first", stabilized=True, form=PAPER_FORM):
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
        form: the penalty's form, `"paper"` (default), `"volume"` or
            `"normalized"` (see `keras_entropy.ConvEntropy`).

    Returns:
        An uncompiled `keras.Sequential`; with `lam != 0` its chosen
        convolutions carry a `ConvEntropy` with their real output size.
    """
    input_shape = image_shape(input_shape)
    depth = validation.validate_choice(validation.validate_int(depth, "depth"), "depth", (1, 2, 3))
    width = validation.validate_positive_int(width, "width")
    classes = validation.validate_positive_int(classes, "classes")
    lam = validation.validate_float(lam, "lam")
    layers = [keras.Input(input_shape)]
    for i in range(depth):
        layers += [
            keras.layers.Conv2D(width, 3, name=f"conv{i + 1}"),
            keras.layers.LeakyReLU(name=f"leaky_relu{i + 1}"),
            keras.layers.MaxPooling2D(2, name=f"pool{i + 1}"),
        ]
    layers += [
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dense(classes, activation="softmax", dtype="float32", name="classifier"),
    ]
    model = keras.Sequential(layers, name=f"cnn_{depth}x{width}")
    if lam != 0:
        if placement == NO_PLACEMENT:
            raise ValueError(f"Argument `placement` cannot be {NO_PLACEMENT!r} when lam != 0. Received: lam={lam!r}")
        place_penalties(model, placement, lam, kinds=("conv",), stabilized=stabilized, form=form)
    return model


def fit_classifier(
    model, x, y, validation_data, *, patience, max_epochs, batch_size, extra_callbacks=(), verbose="auto"
):
    """Fit with early stopping on `val_accuracy` and return a sweep record's fields.

    Keras's `EarlyStopping(monitor="val_accuracy", mode="max", patience)`
    rule (`runs.fit_run` with one monitor); the record's `metrics` are the
    logged values of the best epoch (the highest validation accuracy, what
    `restore_best_weights` would keep) plus `best_epoch` (`runs.run_record`
    with `metrics_at="best"`).
    """
    return runs.fit_run(
        model,
        x,
        y,
        validation_data,
        monitors=("val_accuracy",),
        patience=patience,
        stop_when="first",
        max_epochs=max_epochs,
        batch_size=batch_size,
        modes={"val_accuracy": "max"},
        metrics_at="best",
        callbacks=extra_callbacks,
        verbose=verbose,
    )


# --------------------------------------------------------------------------
# VGG16 / ResNet50 (section 5.4)


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

    validation.validate_choice(arch, "arch", ARCHS)
    validation.validate_string(source, "source")
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


# ---------------------------------------------------------------------------
# The sweeps of examples/cnn_classification.py and large_cnn_classification.py.


def baseline_and_treated(lams, cell, treated_configs):
    """The lam=0 baseline of one cell (placement "none", no form, when 0 is in `lams`), then its treated configs."""
    configs = [unpenalised({**cell, "placement": NO_PLACEMENT, "lam": 0.0})] if 0.0 in lams else []
    return configs + (treated_configs if any(lam != 0 for lam in lams) else [])


def sweep_inputs(data, settings, experiment, dataset, source, values, names, images=None, labels=None):
    """`(arrays, fixed)` of a supervised sweep: the data arrays and the fixed part of its configs.

    `arrays` is `(x_train, y_train, x_val, y_val)`: the first
    `settings["train_size"]` training and `settings["val_size"]` test
    examples (all when None), the images through `images` and the labels
    through `labels` (default: as they are). `fixed` is `fixed_config` of
    `experiment`, `dataset`, `source`, the sizes and `values[name]` for each
    of `names`, then the penalty form when it is not the paper's
    (`form_entry`); the baselines leave it out (`baseline_and_treated`).
    """
    images = images or (lambda x: x)
    labels = labels or (lambda y: y)
    train, val = slice(settings["train_size"]), slice(settings["val_size"])
    x_train, y_train = images(data.x_train[train]), labels(data.y_train[train])
    x_val, y_val = images(data.x_test[val]), labels(data.y_test[val])
    sizes = {"train_size": len(x_train), "val_size": len(x_val)}
    fixed = fixed_config(experiment, dataset, source, sizes, values, names)
    return (x_train, y_train, x_val, y_val), {**fixed, **form_entry(settings.get("form", PAPER_FORM))}


def _int_labels(y):
    return y.astype("int32")


def cnn_inputs(data, settings, source):
    """`(arrays, fixed)` of the small-CNN sweep (`sweep_inputs`): images as float32, labels as int32."""
    return sweep_inputs(
        data,
        settings,
        "cnn_classification",
        data.name,
        "embedded" if data.is_embedded else source,
        {**CNN_PAPER, **settings},
        ("patience", "max_epochs", "batch_size", "learning_rate"),
        prepare_images,
        _int_labels,
    )


def cnn_configs(settings, fixed):
    """The small-CNN sweep: per depth and width, the baseline and each placement x nonzero lambda."""
    treated = [lam for lam in settings["lams"] if lam != 0]
    configs = []
    for depth in settings["depths"]:
        for width in settings["widths"]:
            cell = {**fixed, "depth": depth, "width": width}
            configs += baseline_and_treated(
                settings["lams"],
                cell,
                sweeps.expand_grid({"placement": settings["placements"], "lam": treated}, fixed=cell)
                if treated
                else [],
            )
    return configs


#: The note of a sweep whose "empirical" placement used a freshly initialised reference.
INITIAL_REFERENCE_NOTE = (
    "The 'empirical' placement used the entropy profile of a freshly initialised network "
    "(--reference initial), not a trained one: its layer choice has no empirical meaning."
)


def large_cnn_inputs(data, settings, source, note=None, dataset="imagenette"):
    """`(arrays, fixed, note)` of the large-CNN sweep.

    `arrays` and `fixed` as `sweep_inputs` makes them (the images kept as
    loaded, in [0, 255], labels as int32); `note` gains
    `INITIAL_REFERENCE_NOTE` when "empirical" runs use `reference="initial"`.
    """
    arrays, fixed = sweep_inputs(
        data,
        settings,
        "large_cnn_classification",
        dataset,
        source,
        {**LARGE_CNN_PAPER, **settings},
        (
            "image_size",
            "head_units",
            "dropout",
            "learning_rate",
            "lr_factor",
            "lr_patience",
            "patience",
            "max_epochs",
            "batch_size",
        ),
        labels=_int_labels,
    )
    if settings["reference"] == "initial" and "empirical" in (
        settings["placements"] or LARGE_CNN_PAPER["placements"]["resnet50"]
    ):
        note = f"{note} {INITIAL_REFERENCE_NOTE}" if note else INITIAL_REFERENCE_NOTE
    return arrays, fixed, note


def large_cnn_configs(settings, fixed):
    """The large-CNN sweep: per architecture and training, the baseline and each placement x nonzero lambda.

    `settings["placements"]` None: the paper's placements of each architecture.
    """
    treated = [lam for lam in settings["lams"] if lam != 0]
    configs = []
    for arch in settings["archs"]:
        for training in settings["trainings"]:
            cell = {**fixed, "arch": arch, "training": training}
            cell_runs = []
            for placement in settings["placements"] or LARGE_CNN_PAPER["placements"][arch]:
                extra = (
                    {"reference": settings["reference"], "empirical_k": settings["empirical_k"]}
                    if placement == "empirical"
                    else {}
                )
                cell_runs += [
                    {**fixed, **extra, "arch": arch, "training": training, "placement": placement, "lam": lam}
                    for lam in treated
                ]
            configs += baseline_and_treated(settings["lams"], cell, cell_runs)
    return configs


# ---------------------------------------------------------------------------
# The summaries of examples/cnn_classification.py and large_cnn_classification.py.


def write_cnn_report(run, records, fixed, command):
    """plots and summary.md (Table 1) of the small-CNN sweep; returns `(table1, plot, summary_path)`."""
    _, table1 = improvement_table(run.results_path, keys=run.keys)
    plot = plot_accuracy_vs_lam(
        records, run.path("val_accuracy_vs_lam.png"), title="validation accuracy at the best epoch (mean, min-max)"
    )
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
        "(H1: the entropy loss increases the mean accuracy). In parentheses: the raw p-value and the "
        "Benjamini-Hochberg adjusted one (`adj`; the table's train and validation tests are one family, "
        "adjusted together to control the false discovery rate). Stars, on the adjusted p-value: "
        "* p<0.05, ** p<0.01, *** p<0.001. Accuracies are those of each run's best "
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


def write_large_cnn_report(run, records, fixed, command, note):
    """plot and summary.md (Table 2) of the large-CNN sweep; returns `(table2, plot, summary_path)`."""
    _, table2 = accuracy_grid(records, rows=("arch", "training", "placement"))
    plot = plot_accuracy_vs_lam(
        records,
        run.path("val_accuracy_vs_lam.png"),
        series=("arch", "training", "placement"),
        title="validation accuracy at the best epoch",
    )
    layer_lines = sorted(
        {
            f"- {r['config']['arch']} / {r['config']['placement']} "
            f"({PAPER_PLACEMENT_LABELS.get((r['config']['arch'], r['config']['placement']), 'custom')}): "
            + ", ".join(r.get("penalised_layers", []))
            for r in records
            if r["config"]["lam"] != 0
        }
    )
    title = "VGG16 / ResNet50 on Imagenette" + (
        " (tensorflow-datasets mock data, --quick)" if run.source == "mock" else ""
    )
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
    "write_cnn_report",
    "write_large_cnn_report",
    "ARCHS",
    "INITIAL_REFERENCE_NOTE",
    "baseline_and_treated",
    "cnn_configs",
    "cnn_inputs",
    "fit_classifier",
    "large_cnn_configs",
    "large_cnn_inputs",
    "load_reference",
    "small_cnn",
    "sweep_inputs",
]

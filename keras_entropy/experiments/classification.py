"""The paper's classification experiments (seed 001, sections 5.3 and 5.4).

Small CNNs on CIFAR-10 (section 5.3, Table 1): 1-3 blocks of (3x3
convolution, leaky ReLU, 2x2 max pooling), then a softmax classifier;
widths 32/64/128; cross-entropy and Adam; `ConvEntropy(lam)` on the first
convolution or on all of them (the paper's form, or another `form`); 10 replications; one-tailed t-tests of "the
entropy loss improves the accuracy" (`classification_report.improvement_table`).

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
`keras_entropy.experiments.runs`), and its paper settings (`CNN_PAPER`,
`LARGE_CNN_PAPER` in `keras_entropy.experiments.paper`). The example
scripts `examples/cnn_classification.py` and
`examples/large_cnn_classification.py` are thin wrappers around them and
the sweep pieces here: `cnn_inputs` / `cnn_configs` and `large_cnn_inputs`
/ `large_cnn_configs` / `large_cnn_trainer`; their tables, plot and
summary.md are in `keras_entropy.experiments.classification_report`.
"""

import keras

from keras_entropy import validation
from keras_entropy.experiments import runs, sweeps
from keras_entropy.experiments.autoencoder import config_form, fixed_config, form_entry, unpenalised
from keras_entropy.experiments.images import image_shape, prepare_images
from keras_entropy.experiments.paper import CNN_PAPER, LARGE_CNN_PAPER, NO_PLACEMENT, PAPER_FORM
from keras_entropy.placement import place_penalties

TRAININGS = ("vanilla", "augmentation", "augmentation_dropout")
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


def cnn_run(config, seed, data, verbose="auto"):
    """Train one small CNN of a sweep; returns the record's fields.

    Args:
        config: dict with `depth`, `width`, `lam`, `placement` and optionally
            `patience`, `max_epochs`, `batch_size`, `learning_rate`,
            `stabilized`, `form` (default `PAPER_FORM`).
        seed: seeds Keras (weights, shuffling).
        data: `(x_train, y_train, x_val, y_val)`; images float32 `(N, H, W, C)`.
    """
    x_train, y_train, x_val, y_val = data
    settings = {**CNN_PAPER, **config}
    keras.utils.set_random_seed(int(seed))
    classes = int(max(int(y_train.max()), int(y_val.max())) + 1)
    model = small_cnn(
        tuple(x_train.shape[1:]),
        int(settings["depth"]),
        int(settings["width"]),
        max(classes, 2),
        float(settings["lam"]),
        settings["placement"],
        stabilized=bool(settings.get("stabilized", True)),
        form=config_form(settings),
    )
    model.compile(
        keras.optimizers.Adam(float(settings["learning_rate"])), "sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    outcome = fit_classifier(
        model,
        x_train,
        y_train,
        (x_val, y_val),
        patience=int(settings["patience"]),
        max_epochs=int(settings["max_epochs"]),
        batch_size=int(settings["batch_size"]),
        verbose=verbose,
    )
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


def large_cnn(
    arch,
    input_shape=(224, 224, 3),
    classes=10,
    *,
    training="vanilla",
    head_units=4096,
    dropout=0.5,
    lam=0.0,
    placement="first",
    reference=None,
    k=None,
    stabilized=True,
    form=PAPER_FORM,
):
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
        form: the penalty's form (see `keras_entropy.ConvEntropy`).

    Returns:
        An uncompiled functional `keras.Model`.
    """
    validation.validate_choice(arch, "arch", ARCHS)
    validation.validate_choice(training, "training", TRAININGS)
    input_shape = image_shape(input_shape)
    if input_shape[0] < 32 or input_shape[1] < 32 or input_shape[2] != 3:
        raise ValueError(f"Argument `input_shape` must be at least (32, 32, 3). Received: input_shape={input_shape!r}")
    classes = validation.validate_positive_int(classes, "classes")
    head_units = validation.validate_positive_int(head_units, "head_units")
    if not validation.validate_float(dropout, "dropout", minimum=0.0) < 1:
        raise ValueError(f"Argument `dropout` must be in [0, 1). Received: dropout={dropout!r}")
    lam = validation.validate_float(lam, "lam")
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
        place_penalties(
            model, placement, lam, reference=reference, k=k, kinds=("conv",), stabilized=stabilized, form=form
        )
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


def large_cnn_run(config, seed, data, verbose="auto", reference=None):
    """Train one VGG16 / ResNet50 run of a sweep; returns the record's fields.

    Args:
        config: dict with `arch`, `training`, `placement`, `lam` and
            optionally the keys of `LARGE_CNN_PAPER` (`head_units`,
            `dropout`, `learning_rate`, `lr_patience`, `lr_factor`,
            `patience`, `max_epochs`, `batch_size`, `empirical_k`,
            `reference`, `form`).
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
    model = large_cnn(
        settings["arch"],
        tuple(x_train.shape[1:]),
        max(classes, 2),
        training=settings["training"],
        head_units=int(settings["head_units"]),
        dropout=float(settings["dropout"]),
        lam=lam,
        placement=placement,
        reference=reference,
        k=int(settings["empirical_k"]),
        form=config_form(settings),
    )
    penalised = [layer.name for layer in model.layers if getattr(layer, "kernel_regularizer", None) is not None]
    model.compile(
        keras.optimizers.SGD(float(settings["learning_rate"])), "sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    plateau = keras.callbacks.ReduceLROnPlateau(
        monitor="val_accuracy",
        mode="max",
        factor=float(settings["lr_factor"]),
        patience=int(settings["lr_patience"]),
        verbose=0,
    )
    outcome = fit_classifier(
        model,
        x_train.astype("float32"),
        y_train,
        (x_val.astype("float32"), y_val),
        patience=int(settings["patience"]),
        max_epochs=int(settings["max_epochs"]),
        batch_size=int(settings["batch_size"]),
        extra_callbacks=[plateau],
        verbose=verbose,
    )
    outcome["penalised_layers"] = penalised
    keras.backend.clear_session()
    return outcome


# ---------------------------------------------------------------------------
# The sweeps of examples/cnn_classification.py and large_cnn_classification.py.


def baseline_and_treated(lams, cell, treated_configs):
    """The lam=0 baseline of one cell (placement "none", no form, when 0 is in `lams`), then its treated configs."""
    configs = [unpenalised({**cell, "placement": NO_PLACEMENT, "lam": 0.0})] if 0.0 in lams else []
    return configs + (treated_configs if any(lam != 0 for lam in lams) else [])


def cnn_inputs(data, settings, source):
    """`(arrays, fixed)` of the small-CNN sweep: `(x_train, y_train, x_val, y_val)` and the fixed config.

    The fixed config holds the penalty form when it is not the paper's
    (`form_entry`); the baselines leave it out (`baseline_and_treated`).
    """
    x_train = prepare_images(data.x_train[: settings["train_size"]])
    y_train = data.y_train[: settings["train_size"]].astype("int32")
    x_val = prepare_images(data.x_test[: settings["val_size"]])
    y_val = data.y_test[: settings["val_size"]].astype("int32")
    fixed = fixed_config(
        "cnn_classification",
        data.name,
        "embedded" if data.is_embedded else source,
        {"train_size": len(x_train), "val_size": len(x_val)},
        {**CNN_PAPER, **settings},
        ("patience", "max_epochs", "batch_size", "learning_rate"),
    )
    return (x_train, y_train, x_val, y_val), {**fixed, **form_entry(settings.get("form", PAPER_FORM))}


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

    `arrays` is `(x_train, y_train, x_val, y_val)`; `fixed` holds the
    penalty form when it is not the paper's (`form_entry`); `note` gains
    `INITIAL_REFERENCE_NOTE` when "empirical" runs use `reference="initial"`.
    """
    x_train = data.x_train[: settings["train_size"]]
    y_train = data.y_train[: settings["train_size"]].astype("int32")
    x_val = data.x_test[: settings["val_size"]]
    y_val = data.y_test[: settings["val_size"]].astype("int32")
    fixed = fixed_config(
        "large_cnn_classification",
        dataset,
        source,
        {"train_size": len(x_train), "val_size": len(x_val)},
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
    )
    fixed.update(form_entry(settings.get("form", PAPER_FORM)))
    if settings["reference"] == "initial" and "empirical" in (
        settings["placements"] or LARGE_CNN_PAPER["placements"]["resnet50"]
    ):
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


__all__ = [
    "ARCHS",
    "INITIAL_REFERENCE_NOTE",
    "TRAININGS",
    "augmentation_layers",
    "baseline_and_treated",
    "cnn_configs",
    "cnn_inputs",
    "cnn_run",
    "fit_classifier",
    "large_cnn",
    "large_cnn_configs",
    "large_cnn_inputs",
    "large_cnn_run",
    "large_cnn_trainer",
    "load_reference",
    "small_cnn",
]

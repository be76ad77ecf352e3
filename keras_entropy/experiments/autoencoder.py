"""The paper's experiments (seed 001, section 5) as functions a sweep can run.

Each experiment has a model builder, a `*_run(config, seed, data)` training
function that returns a sweep record's fields (see
`keras_entropy.experiments.runs`), and its paper settings (`*_PAPER`, in
`keras_entropy.experiments.paper`). `fixed_config` makes the fixed part of
any sweep's configs and `flat_sweep_data` a sweep's flattened images with
it; `form_entry`, `config_form`, `unpenalised` and `with_forms` give their
penalty form (a config without `form` ran the paper's, `PAPER_FORM`).

Dense autoencoder (section 5.2): one dense hidden layer of `latent_dim`
sigmoid units, a sigmoid reconstruction layer, Adam, mean squared error,
`DenseEntropy(lam)` on the first kernel, early stopping after 7 epochs
without improvement, 10 replications (`dense_autoencoder`,
`dense_autoencoder_run`). `examples/dense_autoencoder.py` builds and trains
the same model itself and takes its grid (`dense_autoencoder_sweep`) and
report (`write_dense_autoencoder_report`) from here. Several penalty forms
(`forms`) run side by side, each with its own report.
"""

import os

import keras

from keras_entropy import validation
from keras_entropy.experiments.paper import DENSE_AUTOENCODER_PAPER, PAPER_FORM
from keras_entropy.experiments.runs import fit_run
from keras_entropy.regularizers import DenseEntropy

#: The two monitors every dense autoencoder run records: the total
#: validation loss (MSE + entropy penalty, Keras's default early-stopping
#: monitor) and the task metric alone.
DENSE_AUTOENCODER_MONITORS = ("val_loss", "val_mse")


def dense_autoencoder(
    input_dim,
    latent_dim,
    lam=0.0,
    stabilized=True,
    epsilon=None,
    form=PAPER_FORM,
    *,
    encoder_regularizer=None,
    decoder_regularizer=None,
):
    """The paper's one-hidden-layer sigmoid autoencoder, `DenseEntropy(lam)` on its encoder.

    The one builder of this model: the paper's sweeps (`lam`, `form`) and
    the dense autoencoder study (`autoencoder_study.study_autoencoder`, any
    kernel regularizer on either kernel) use it.

    Args:
        input_dim: number of input features (784 for MNIST, 3072 for CIFAR-10).
        latent_dim: width of the hidden (latent) layer.
        lam: entropy penalty strength on the first kernel; 0 adds no penalty.
        stabilized, epsilon, form: as for `DenseEntropy` (epsilon None: its default).
        encoder_regularizer, decoder_regularizer: a kernel regularizer for
            the `encoder` / `decoder` layer instead (with `lam` 0).

    Returns:
        An uncompiled `keras.Sequential` with layers `encoder` and `decoder`
        (float32 under mixed precision).
    """
    input_dim = validation.validate_positive_int(input_dim, "input_dim")
    latent_dim = validation.validate_positive_int(latent_dim, "latent_dim")
    if lam != 0:
        if encoder_regularizer is not None:
            raise ValueError(
                "Pass `lam` or `encoder_regularizer`, not both. "
                f"Received: lam={lam!r}, encoder_regularizer={encoder_regularizer!r}"
            )
        kwargs = {} if epsilon is None else {"epsilon": epsilon}
        encoder_regularizer = DenseEntropy(lam, stabilized=stabilized, form=form, **kwargs)
    return keras.Sequential(
        [
            keras.Input((input_dim,)),
            keras.layers.Dense(
                latent_dim, activation="sigmoid", kernel_regularizer=encoder_regularizer, name="encoder"
            ),
            keras.layers.Dense(
                input_dim,
                activation="sigmoid",
                kernel_regularizer=decoder_regularizer,
                dtype="float32",
                name="decoder",
            ),
        ],
        name=f"dense_autoencoder_{latent_dim}",
    )


def fixed_config(experiment, dataset, data_source, sizes, values, names, dtype_policy=True):
    """The fixed part of a sweep's configs, in the order its summary.md lists it.

    `experiment`, `dataset`, `data_source`, the `sizes` (e.g. `train_size`,
    `val_size`), `values[name]` for each of `names` (`values`: the paper
    settings updated with the run's), then the Keras dtype policy (unless
    `dtype_policy` is false).
    """
    fixed = {
        "experiment": experiment,
        "dataset": dataset,
        "data_source": data_source,
        **sizes,
        **{name: values[name] for name in names},
    }
    if dtype_policy:
        fixed["dtype_policy"] = keras.config.dtype_policy().name
    return fixed


def form_entry(form):
    """The config entry of a penalty `form`: none for the paper's, else `{"form": form}`.

    A config without `form` ran `PAPER_FORM`, so configs (and their run
    keys, `keras_entropy.experiments.sweeps.run_key`) of paper-form runs
    are those written before the forms existed: old results files resume.

    >>> form_entry("paper"), form_entry("volume")
    ({}, {'form': 'volume'})
    """
    return {} if validation.validate_form(form) == PAPER_FORM else {"form": form}


def config_form(config):
    """The penalty form a config ran (its `form`; `PAPER_FORM` when it has none)."""
    return config.get("form", PAPER_FORM)


def unpenalised(config):
    """`config` without a `form`: the lambda = 0 baseline has no penalty, hence no form.

    One baseline then serves every form of a sweep (and of sweeps run into
    the same results file with another --form).
    """
    return {k: v for k, v in config.items() if k != "form"}


def with_forms(configs, forms):
    """Each config with a nonzero `lam` once per penalty form (`form_entry`); lam = 0 configs once, unpenalised.

    >>> with_forms([{"lam": 0.0}, {"lam": 0.1}], ["paper", "normalized"])
    [{'lam': 0.0}, {'lam': 0.1}, {'lam': 0.1, 'form': 'normalized'}]
    """
    forms = validation.validate_names(forms, "forms")
    expanded = []
    for config in configs:
        base = unpenalised(config)
        expanded += [base] if config["lam"] == 0 else [{**base, **form_entry(form)} for form in forms]
    return expanded


def flatten_images(x):
    """uint8 images `(N, ...)` as float32 vectors in [0, 1], shape `(N, prod(...))`."""
    import numpy as np

    x = np.asarray(x)
    return x.reshape(len(x), -1).astype("float32") / 255.0


def flat_sweep_data(data, settings, experiment, dataset, values, names, *, test_size="val_size", dtype_policy=True):
    """`(x_train, x_test, fixed)`: a sweep's flattened images and the fixed part of its configs.

    `x_train` holds the first `settings["train_size"]` training images and
    `x_test` the first `settings[test_size]` test images (None: all), as
    float32 vectors in [0, 1] (`flatten_images`); `fixed` is `fixed_config`
    of `experiment` on `dataset` with their sizes (`train_size` and
    `test_size`, the name under which the test images count) and
    `values[name]` for each of `names`.
    """
    x_train = flatten_images(data.x_train[: settings["train_size"]])
    x_test = flatten_images(data.x_test[: settings[test_size]])
    fixed = fixed_config(
        experiment,
        dataset,
        "embedded" if data.is_embedded else "full",
        {"train_size": len(x_train), test_size: len(x_test)},
        values,
        names,
        dtype_policy=dtype_policy,
    )
    return x_train, x_test, fixed


def dense_autoencoder_run(config, seed, data, verbose="auto"):
    """Train one dense autoencoder of a sweep; returns the record's fields.

    Args:
        config: dict with `latent_dim`, `lam` and optionally `patience`,
            `max_epochs`, `batch_size`, `learning_rate`, `monitor` (the run's
            own early-stopping monitor, "val_loss" or "val_mse"), `stop_when`
            ("all": train until both monitors stopped, the default, or
            "first"), `stabilized`, `form` (default `PAPER_FORM`).
        seed: seeds Keras (weights, shuffling) for this run.
        data: `(x_train, x_val)` float32 arrays of shape `(N, features)`.

    The validation data are `x_val` (the test split: the paper reports
    "validation MSE" on it). Both `val_loss` and `val_mse` are recorded per
    epoch, with each one's stopping epoch.
    """
    x_train, x_val = data
    settings = {**DENSE_AUTOENCODER_PAPER, **config}
    monitor = settings.get("monitor", "val_loss")
    if monitor not in DENSE_AUTOENCODER_MONITORS:
        raise ValueError(f"Config `monitor` must be one of {DENSE_AUTOENCODER_MONITORS}. Received: monitor={monitor!r}")
    monitors = [monitor] + [m for m in DENSE_AUTOENCODER_MONITORS if m != monitor]
    keras.utils.set_random_seed(int(seed))
    model = dense_autoencoder(
        x_train.shape[1],
        int(settings["latent_dim"]),
        float(settings["lam"]),
        stabilized=bool(settings.get("stabilized", True)),
        form=config_form(settings),
    )
    model.compile(
        optimizer=keras.optimizers.Adam(float(settings["learning_rate"])),
        loss="mse",
        metrics=[keras.metrics.MeanSquaredError(name="mse")],
    )
    outcome = fit_run(
        model,
        x_train,
        x_train,
        (x_val, x_val),
        monitors=monitors,
        patience=int(settings["patience"]),
        stop_when=settings.get("stop_when", "all"),
        max_epochs=int(settings["max_epochs"]),
        batch_size=int(settings["batch_size"]),
        verbose=verbose,
    )
    keras.backend.clear_session()
    return outcome


def dense_autoencoder_sweep(data, settings, dataset, monitor="val_loss", stop_when="all"):
    """`(arrays, configs)` of the dense autoencoder sweep: `(x_train, x_val)` and latent_dim x lam x form configs.

    The forms are `settings["forms"]` when given, else `[settings["form"]]`
    (default `PAPER_FORM`); the lambda = 0 baseline runs once for all of
    them (`with_forms`).
    """
    from keras_entropy.experiments.sweeps import expand_grid

    values = {**DENSE_AUTOENCODER_PAPER, **settings, "monitor": monitor, "stop_when": stop_when}
    x_train, x_val, fixed = flat_sweep_data(
        data,
        settings,
        "dense_autoencoder",
        dataset,
        values,
        ("patience", "max_epochs", "batch_size", "learning_rate", "monitor", "stop_when"),
    )
    configs = expand_grid({"latent_dim": settings["latent_dims"], "lam": settings["lams"]}, fixed=fixed)
    forms = settings.get("forms") or [settings.get("form") or PAPER_FORM]
    return (x_train, x_val), with_forms(configs, forms)


def forms_of(records):
    """The penalty forms of the penalised runs (lam != 0) among `records`, in first-seen order."""
    return list(dict.fromkeys(config_form(r["config"]) for r in records if r["config"]["lam"] != 0))


def records_of_form(records, form):
    """The runs of one penalty form and the lambda = 0 baselines, each config stating `form` (for its report)."""
    return [
        {**r, "config": {**r["config"], "form": form}}
        for r in records
        if r["config"]["lam"] == 0 or config_form(r["config"]) == form
    ]


def write_dense_autoencoder_report(run, dataset, command):
    """Plots and summary.md of the dense autoencoder sweep (`keras_entropy.experiments.analysis.write_sweep_report`).

    One form ran: one report in `run.out`, its fixed settings naming the
    form. Several forms: one report per form in `run.out/form_<form>/`
    (its penalised runs against the shared lambda = 0 baseline), and a
    summary.md in `run.out` with each form's table and plots, form by form.

    Returns:
        A `keras_entropy.experiments.analysis.Summary`.
    """
    from keras_entropy.experiments import analysis, script_setup, sweeps

    title = f"Dense autoencoder on {dataset}" + (" (embedded subset, --quick)" if run.data.is_embedded else "")
    records = sweeps.load_records(run.results_path, run.keys)
    if not records:
        raise ValueError(f"No runs to report in {run.results_path!r}.")
    forms = forms_of(records) or [PAPER_FORM]
    common = dict(
        x="latent_dim",
        group="lam",
        metric="val_mse",
        monitors=list(DENSE_AUTOENCODER_MONITORS),
        note=run.note,
        command=command,
    )
    if len(forms) == 1:
        return analysis.write_sweep_report(records_of_form(records, forms[0]), run.out, title=title, **common)
    lines = script_setup.summary_header(title, run.note, command) + [
        f"{len(records)} runs of {len(forms)} penalty forms: " + ", ".join(forms) + ". Each form's section "
        "compares its runs with the shared lam=0 baseline; its folder holds the full report "
        "(pairwise tables, one-tailed tests).",
        "",
    ]
    tables, files = [], []
    for form in forms:
        folder = f"form_{form}"
        summary = analysis.write_sweep_report(
            records_of_form(records, form), run.path(folder), title=f"{title}, form={form}", **common
        )
        plots = [os.path.relpath(f, run.out) for f in summary.files if f.endswith("_vs_latent_dim.png")]
        lines += [
            f"## form = {form}",
            "",
            f"Full report: [{folder}/summary.md]({folder}/summary.md)",
            "",
            summary.table,
            "",
        ] + [line for p in plots for line in (f"![{p}]({p})", "")]
        tables.append(f"form={form}:\n\n{summary.table}")
        files += summary.files
    path = script_setup.write_summary(run.out, lines)
    return analysis.Summary(markdown="\n".join(lines), table="\n\n".join(tables), files=files + [path])

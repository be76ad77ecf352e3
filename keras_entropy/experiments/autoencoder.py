"""The paper's experiments (seed 001, section 5) as functions a sweep can run.

Each experiment has a model builder, a `*_run(config, seed, data)` training
function that returns a sweep record's fields (see
`keras_entropy.experiments.runs`), and its paper settings (`*_PAPER`, in
`keras_entropy.experiments.paper`). The example scripts in `examples/` are
thin command-line wrappers around them (`examples/dense_autoencoder.py`:
`dense_autoencoder_sweep`, `write_dense_autoencoder_report`);
`fixed_config` makes the fixed part of any sweep's configs.

Dense autoencoder (section 5.2): one dense hidden layer of `latent_dim`
sigmoid units, a sigmoid reconstruction layer, Adam, mean squared error,
`DenseEntropy(lam)` on the first kernel, early stopping after 7 epochs
without improvement, 10 replications.
"""

import keras

from keras_entropy import validation
from keras_entropy.experiments.paper import DENSE_AUTOENCODER_PAPER
from keras_entropy.experiments.runs import fit_run
from keras_entropy.regularizers import DenseEntropy

#: The two monitors every dense autoencoder run records: the total
#: validation loss (MSE + entropy penalty, Keras's default early-stopping
#: monitor) and the task metric alone.
DENSE_AUTOENCODER_MONITORS = ("val_loss", "val_mse")


def dense_autoencoder(input_dim, latent_dim, lam=0.0, stabilized=True, epsilon=None):
    """A one-hidden-layer sigmoid autoencoder with `DenseEntropy(lam)` on its encoder.

    Args:
        input_dim: number of input features (784 for MNIST, 3072 for CIFAR-10).
        latent_dim: width of the hidden (latent) layer.
        lam: entropy penalty strength on the first kernel; 0 adds no penalty.
        stabilized, epsilon: as for `DenseEntropy` (epsilon None: its default).

    Returns:
        An uncompiled `keras.Sequential`.
    """
    input_dim = validation.validate_positive_int(input_dim, "input_dim")
    latent_dim = validation.validate_positive_int(latent_dim, "latent_dim")
    regularizer = None
    if lam != 0:
        kwargs = {} if epsilon is None else {"epsilon": epsilon}
        regularizer = DenseEntropy(lam, stabilized=stabilized, **kwargs)
    return keras.Sequential(
        [
            keras.Input((input_dim,)),
            keras.layers.Dense(
                latent_dim, activation="sigmoid", kernel_regularizer=regularizer, name="encoder"
            ),
            keras.layers.Dense(input_dim, activation="sigmoid", dtype="float32", name="decoder"),
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
    fixed = {"experiment": experiment, "dataset": dataset, "data_source": data_source, **sizes,
             **{name: values[name] for name in names}}
    if dtype_policy:
        fixed["dtype_policy"] = keras.config.dtype_policy().name
    return fixed


def flatten_images(x):
    """uint8 images `(N, ...)` as float32 vectors in [0, 1], shape `(N, prod(...))`."""
    import numpy as np

    x = np.asarray(x)
    return (x.reshape(len(x), -1).astype("float32") / 255.0)


def dense_autoencoder_run(config, seed, data, verbose="auto"):
    """Train one dense autoencoder of a sweep; returns the record's fields.

    Args:
        config: dict with `latent_dim`, `lam` and optionally `patience`,
            `max_epochs`, `batch_size`, `learning_rate`, `monitor` (the run's
            own early-stopping monitor, "val_loss" or "val_mse"), `stop_when`
            ("all": train until both monitors stopped, the default, or
            "first"), `stabilized`.
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
        raise ValueError(
            f"Config `monitor` must be one of {DENSE_AUTOENCODER_MONITORS}. Received: monitor={monitor!r}"
        )
    monitors = [monitor] + [m for m in DENSE_AUTOENCODER_MONITORS if m != monitor]
    keras.utils.set_random_seed(int(seed))
    model = dense_autoencoder(
        x_train.shape[1],
        int(settings["latent_dim"]),
        float(settings["lam"]),
        stabilized=bool(settings.get("stabilized", True)),
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
    """`(arrays, configs)` of the dense autoencoder sweep: `(x_train, x_val)` and latent_dim x lam configs."""
    from keras_entropy.experiments.sweeps import expand_grid

    x_train = flatten_images(data.x_train[: settings["train_size"]])
    x_val = flatten_images(data.x_test[: settings["val_size"]])
    values = {**DENSE_AUTOENCODER_PAPER, **settings, "monitor": monitor, "stop_when": stop_when}
    fixed = fixed_config("dense_autoencoder", dataset, "embedded" if data.is_embedded else "full",
                         {"train_size": len(x_train), "val_size": len(x_val)}, values,
                         ("patience", "max_epochs", "batch_size", "learning_rate", "monitor", "stop_when"))
    configs = expand_grid({"latent_dim": settings["latent_dims"], "lam": settings["lams"]}, fixed=fixed)
    return (x_train, x_val), configs


def write_dense_autoencoder_report(run, dataset, command):
    """Plots and summary.md of the dense autoencoder sweep (`keras_entropy.experiments.reports.write_report`)."""
    from keras_entropy.experiments import reports

    title = f"Dense autoencoder on {dataset}" + (" (embedded subset, --quick)" if run.data.is_embedded else "")
    return reports.write_report(
        run.results_path, run.out, keys=run.keys, x="latent_dim", group="lam", metric="val_mse",
        monitors=list(DENSE_AUTOENCODER_MONITORS), title=title, note=run.note, command=command)

"""The paper's experiments (seed 001, section 5) as functions a sweep can run.

Each experiment has a model builder, a `*_run(config, seed, data)` training
function that returns a sweep record's fields (see `keras_entropy.sweeps`),
and its paper settings (`*_PAPER`). The example scripts in `examples/` are
thin command-line wrappers around them.

Dense autoencoder (section 5.2): one dense hidden layer of `latent_dim`
sigmoid units, a sigmoid reconstruction layer, Adam, mean squared error,
`DenseEntropy(lam)` on the first kernel, early stopping after 7 epochs
without improvement, 10 replications.
"""

import keras

from keras_entropy.regularizers import DenseEntropy
from keras_entropy.sweeps import fit_run

#: Paper settings of the dense autoencoder experiment (section 5.2). The
#: paper's lambda list was lost in conversion; MATH.md gives its range,
#: roughly 1e-4 .. 10.
DENSE_AUTOENCODER_PAPER = {
    "latent_dims": [20, 60, 100, 140, 180, 220, 260],
    "lams": [0.0, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0],
    "replications": 10,
    "patience": 7,
    "max_epochs": 200,
    "batch_size": 128,
    "learning_rate": 1e-3,
}

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
    for name, value in (("input_dim", input_dim), ("latent_dim", latent_dim)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"Argument `{name}` must be a positive int. Received: {name}={value!r}")
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

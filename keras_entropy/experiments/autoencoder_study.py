"""The dense autoencoder study's model and one run: the configurations of `evidence` made into Keras models.

examples/dense_autoencoder_study.py and the README's first command
(examples/compare_penalties.py) train the paper's 784 -> width -> 784
sigmoid autoencoder in the configurations of
`keras_entropy.experiments.evidence` (`evidence.PENALTIES`: no penalty, the
three forms of `DenseEntropy`, Keras's `OrthogonalRegularizer` as a peer),
each on one kernel (`evidence.PLACEMENTS`):

- `orthogonal_mode`, `penalty_regularizer`: a configuration's kernel
  regularizer;
- `study_autoencoder`: the compiled model, with the reconstruction MSE as
  a metric of its own (Keras adds the penalty to `loss`);
- `split_images`: training, validation (the end of the training set) and
  test images as vectors in [0, 1];
- `study_run`: one run for a fixed number of epochs, every epoch's train,
  validation and test MSE, the paper's stopping rule replayed afterwards:
  a sweep record's fields (`keras_entropy.experiments.sweeps`).

What the records show is computed by `evidence` and `verdict`. Keras and
numpy are imported lazily.
"""

from keras_entropy import validation
from keras_entropy.experiments.evidence import BASELINE, MONITORS, NO_PLACEMENT, PEER, PENALTIES, PLACEMENTS


def orthogonal_mode(kernel_shape):
    """The `OrthogonalRegularizer` mode a Dense kernel `(n_in, n_out)` can satisfy.

    "columns" (its `n_out` columns, of length `n_in`) when `n_in >= n_out`,
    else "rows": more vectors than dimensions cannot all be orthogonal.

    >>> orthogonal_mode((784, 100)), orthogonal_mode((100, 784))
    ('columns', 'rows')
    """
    n_in, n_out = kernel_shape
    return "columns" if n_in >= n_out else "rows"


def penalty_regularizer(penalty, lam, kernel_shape):
    """The kernel regularizer of a configuration (None for no penalty or `lam` 0)."""
    validation.validate_choice(penalty, "penalty", PENALTIES)
    if penalty == BASELINE or lam == 0:
        return None
    import keras

    if penalty == PEER:
        return keras.regularizers.OrthogonalRegularizer(float(lam), mode=orthogonal_mode(kernel_shape))
    from keras_entropy.regularizers import DenseEntropy

    return DenseEntropy(float(lam), form=penalty)  # stabilized, as DenseEntropy's default


def study_autoencoder(input_dim, latent_dim, penalty=BASELINE, lam=0.0, placement="encoder", learning_rate=1e-3):
    """The paper's dense autoencoder (sigmoid, MSE, Adam) with one penalised kernel, compiled.

    `placement`: "encoder" (the 784 x width kernel) or "decoder"; metric `mse`
    (the reconstruction error alone: `loss` and `val_loss` add the penalty).
    """
    import keras

    input_dim = validation.validate_positive_int(input_dim, "input_dim")
    latent_dim = validation.validate_positive_int(latent_dim, "latent_dim")
    validation.validate_choice(placement, "placement", (*PLACEMENTS, NO_PLACEMENT))
    shapes = {"encoder": (input_dim, latent_dim), "decoder": (latent_dim, input_dim)}
    regularizers = {
        name: penalty_regularizer(penalty, lam, shape) if name == placement else None for name, shape in shapes.items()
    }
    model = keras.Sequential(
        [
            keras.Input((input_dim,)),
            keras.layers.Dense(
                latent_dim, activation="sigmoid", kernel_regularizer=regularizers["encoder"], name="encoder"
            ),
            keras.layers.Dense(
                input_dim, activation="sigmoid", kernel_regularizer=regularizers["decoder"], name="decoder"
            ),
        ],
        name=f"dense_autoencoder_{latent_dim}",
    )
    model.compile(
        keras.optimizers.Adam(float(learning_rate)), "mse", metrics=[keras.metrics.MeanSquaredError(name="mse")]
    )
    return model


def split_images(data, val_size, train_size=None, test_size=None):
    """`(x_train, x_val, x_test)` as float vectors in [0, 1]: validation = the last `val_size` training images.

    `train_size`/`test_size`: keep the first N of the rest / of the test images (None: all).
    """
    from keras_entropy.experiments.autoencoder import flatten_images

    val_size = validation.validate_positive_int(val_size, "val_size")
    if val_size >= len(data.x_train):
        raise ValueError(f"`val_size` must leave training images: {val_size} of {len(data.x_train)}.")
    rest = len(data.x_train) - val_size
    x_train = flatten_images(data.x_train[: min(rest, train_size or rest)])
    return x_train, flatten_images(data.x_train[rest:]), flatten_images(data.x_test[:test_size])


def study_run(config, seed, data, verbose=0):
    """Train one configuration for `config["epochs"]` epochs (no early stopping); a sweep record's fields.

    The history holds `loss`, `mse` (train), `val_loss`, `val_mse` and
    `test_mse` (the reconstruction MSE of the test images after each
    epoch); the stopping epochs of the paper's rule (`config["patience"]`
    on `MONITORS`) are replayed on it (`keras_entropy.experiments.runs.run_record`).

    Args:
        config: `latent_dim`, `penalty`, `lam`, `placement`, `learning_rate`,
            `epochs`, `batch_size`, `patience`.
        data: `(x_train, x_val, x_test)` (see `split_images`).
    """
    import keras
    import numpy as np

    from keras_entropy.experiments.runs import run_record

    x_train, x_val, x_test = data
    keras.utils.set_random_seed(int(seed))
    model = study_autoencoder(
        x_train.shape[1],
        config["latent_dim"],
        config["penalty"],
        config["lam"],
        config["placement"],
        config["learning_rate"],
    )
    test_mse = []

    def on_epoch_end(epoch, logs=None):
        error = model.predict(x_test, batch_size=1024, verbose=0) - x_test
        test_mse.append(float(np.mean(np.square(error, dtype="float64"))))

    history = model.fit(
        x_train,
        x_train,
        validation_data=(x_val, x_val),
        epochs=int(config["epochs"]),
        batch_size=int(config["batch_size"]),
        verbose=verbose,
        callbacks=[keras.callbacks.LambdaCallback(on_epoch_end=on_epoch_end)],
    ).history
    keras.backend.clear_session()
    return run_record({**history, "test_mse": test_mse}, MONITORS, int(config["patience"]))


__all__ = ["orthogonal_mode", "penalty_regularizer", "split_images", "study_autoencoder", "study_run"]

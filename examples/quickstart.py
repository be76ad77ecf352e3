"""Quickstart: the same autoencoder with and without an entropy penalty.

Trains the paper's dense autoencoder (784 -> latent -> 784, sigmoid, Adam,
MSE; seed 001, section 5.2) on the MNIST subset that ships inside the
package (6,000 training and 1,000 test digits; no download), once without a
penalty and once with `DenseEntropy` on the first kernel, with early stopping
on the validation MSE, and prints both results side by side.

    python examples/quickstart.py
    python examples/quickstart.py --quick      # a few epochs: a smoke test
    KERAS_BACKEND=jax python examples/quickstart.py --lam 1.0 --latent 100
"""

import os
import sys
import time

os.environ["KERAS_ENTROPY_DEFER_IMPORTS"] = "1"  # --help answers before Keras starts (script_setup unsets it)
from keras_entropy.experiments import arguments, script_setup  # noqa: E402
from keras_entropy.experiments.arguments import Setting  # noqa: E402

#: The options: help, --quick value; DEFAULTS otherwise.
SETTINGS = {
    "latent": Setting("latent width (default 260)", minimum=1),
    "lam": Setting("DenseEntropy strength (default 0.1)", float),
    "epochs": Setting("maximum epochs (default 40)", minimum=1, quick=3),
    "patience": Setting("early-stopping patience (default 5)", minimum=0),
}
DEFAULTS = {"latent": 260, "lam": 0.1, "epochs": 40, "patience": 5}


def load_data():
    from keras_entropy.datasets import mnist_subset
    from keras_entropy.experiments.autoencoder import flatten_images

    (x_train, _), (x_test, _) = mnist_subset.load_data()
    return flatten_images(x_train), flatten_images(x_test)


def train(latent, lam, epochs, patience, seed, x_train, x_test, verbose=0):
    import keras
    import numpy as np

    import keras_entropy as ke
    from keras_entropy.experiments.autoencoder import dense_autoencoder

    keras.utils.set_random_seed(seed)
    model = dense_autoencoder(784, latent, lam)
    model.compile(optimizer="adam", loss="mse", metrics=[keras.metrics.MeanSquaredError("mse")])
    stop = keras.callbacks.EarlyStopping(monitor="val_mse", patience=patience, restore_best_weights=True)
    start = time.perf_counter()
    history = model.fit(
        x_train,
        x_train,
        validation_data=(x_test, x_test),
        epochs=epochs,
        batch_size=128,
        callbacks=[stop],
        verbose=verbose,
    )
    seconds = time.perf_counter() - start
    val_mse = history.history["val_mse"]
    best = int(np.argmin(val_mse))
    within = int(np.argmax(np.asarray(val_mse) <= 1.1 * val_mse[best]))
    kernel = model.layers[0].kernel
    return {
        "lambda": lam,
        "epochs run": len(val_mse),
        "best epoch": best + 1,
        "best val MSE": val_mse[best],
        "epochs to 110% of best": within + 1,
        "seconds": seconds,
        "log|det W_sq|": float(keras.ops.convert_to_numpy(ke.ops.dense_entropy_change(kernel))),
    }


def parse_args(argv=None):
    parser = arguments.parser_for(__doc__).add_settings(SETTINGS)
    parser.add_argument("--quick", action="store_true", help=f"a smoke test: {arguments.quick_values(SETTINGS)}")
    parser.add_argument("--seed", type=int, default=0)
    arguments.add_verbose_argument(parser)
    return parser.parse_args(argv)


def print_comparison(results, settings, seed):
    """The two runs side by side, one row per quantity."""
    print()
    print(
        f"784 -> {settings['latent']} -> 784 autoencoder, early stopping on val MSE "
        f"(patience {settings['patience']}), seed {seed}"
    )
    print(f"{'':<24}" + "".join(f"{'lambda = ' + format(r['lambda'], 'g'):>16}" for r in results))
    for key, fmt in [
        ("epochs run", "d"),
        ("best epoch", "d"),
        ("best val MSE", ".5f"),
        ("epochs to 110% of best", "d"),
        ("seconds", ".1f"),
        ("log|det W_sq|", ".1f"),
    ]:
        print(f"{key:<24}" + "".join(f"{format(r[key], fmt):>16}" for r in results))


def main(argv=None):
    args = parse_args(argv)  # before Keras starts: --help and bad arguments answer at once
    script_setup.prepare(args)  # starts Keras quietly
    import keras

    from keras_entropy.experiments import sweeps

    settings = arguments.settings_for(args, DEFAULTS, SETTINGS)
    print(
        f"keras {keras.__version__}, backend {keras.backend.backend()}; "
        f"data: MNIST subset embedded in keras_entropy (6,000 train / 1,000 test)",
        flush=True,
    )
    x_train, x_test = load_data()
    results = []
    with sweeps.Progress(2) as progress:
        for lam in (0.0, settings["lam"]):
            progress.start(f"lambda={lam:g}")
            r = train(
                settings["latent"],
                lam,
                settings["epochs"],
                settings["patience"],
                args.seed,
                x_train,
                x_test,
                args.verbose,
            )
            results.append(r)
            progress.finish(
                f"lambda={lam:g}: best val MSE {r['best val MSE']:.5f} at epoch {r['best epoch']}, "
                f"{r['epochs run']} epochs, {sweeps.format_duration(r['seconds'])}"
            )
    print_comparison(results, settings, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(script_setup.run(main))

"""Quickstart: the same autoencoder with and without an entropy penalty.

Trains the paper's dense autoencoder (784 -> latent -> 784, sigmoid, Adam,
MSE; seed 001, section 5.2) on the MNIST subset that ships inside the
package (6,000 training and 1,000 test digits; no download), once without a
penalty and once with `DenseEntropy` on the first kernel, with early stopping
on the validation MSE, and prints both results side by side.

    python examples/quickstart.py
    KERAS_BACKEND=jax python examples/quickstart.py --lam 1.0 --latent 100
"""

import argparse
import os
import sys
import time


def load_data():
    from keras_entropy import datasets
    from keras_entropy.experiments import flatten_images

    data = datasets.load_embedded_mnist()
    return flatten_images(data.x_train), flatten_images(data.x_test)


def train(latent, lam, epochs, patience, seed, x_train, x_test, verbose=0):
    import keras
    import numpy as np

    import keras_entropy as ke
    from keras_entropy.experiments import dense_autoencoder

    keras.utils.set_random_seed(seed)
    model = dense_autoencoder(784, latent, lam)
    model.compile(optimizer="adam", loss="mse", metrics=[keras.metrics.MeanSquaredError("mse")])
    stop = keras.callbacks.EarlyStopping(monitor="val_mse", patience=patience,
                                         restore_best_weights=True)
    start = time.perf_counter()
    history = model.fit(x_train, x_train, validation_data=(x_test, x_test), epochs=epochs,
                        batch_size=128, callbacks=[stop], verbose=verbose)
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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.error = lambda message: parser.exit(2, f"{parser.prog}: error: {message} (see --help)\n")
    parser.add_argument("--latent", type=int, default=260, help="latent width (default 260)")
    parser.add_argument("--lam", type=float, default=0.1, help="DenseEntropy strength")
    parser.add_argument("--epochs", type=int, default=40, help="maximum epochs")
    parser.add_argument("--patience", type=int, default=5, help="early-stopping patience")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, nargs="?", const=2, default=0, choices=[0, 1, 2],
                        help="Keras fit verbosity (default 0: one line per finished run; --verbose: one line "
                        "per epoch, and TensorFlow's start-up logs)")
    args = parser.parse_args(argv)
    for name in ("latent", "epochs"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1, got {getattr(args, name)}")
    if args.patience < 0:
        parser.error(f"--patience must be >= 0, got {args.patience}")
    return args


def main(argv=None):
    args = parse_args(argv)  # before Keras starts: --help and bad arguments answer at once
    if not args.verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    from keras_entropy import sweeps

    print(f"keras {keras.__version__}, backend {keras.backend.backend()}; "
          f"data: MNIST subset embedded in keras_entropy (6,000 train / 1,000 test)", flush=True)
    x_train, x_test = load_data()
    results = []
    with sweeps.Progress(2) as progress:
        for lam in (0.0, args.lam):
            progress.start(f"lambda={lam:g}")
            r = train(args.latent, lam, args.epochs, args.patience, args.seed, x_train, x_test, args.verbose)
            results.append(r)
            progress.finish(f"lambda={lam:g}: best val MSE {r['best val MSE']:.5f} at epoch {r['best epoch']}, "
                            f"{r['epochs run']} epochs, {sweeps.format_duration(r['seconds'])}")
    print()
    print(f"784 -> {args.latent} -> 784 autoencoder, early stopping on val MSE "
          f"(patience {args.patience}), seed {args.seed}")
    print(f"{'':<24}" + "".join(f"{'lambda = ' + format(r['lambda'], 'g'):>16}" for r in results))
    for key, fmt in [("epochs run", "d"), ("best epoch", "d"), ("best val MSE", ".5f"),
                     ("epochs to 110% of best", "d"),
                     ("seconds", ".1f"), ("log|det W_sq|", ".1f")]:
        print(f"{key:<24}" + "".join(f"{format(r[key], fmt):>16}" for r in results))
    return 0


if __name__ == "__main__":
    sys.exit(main())

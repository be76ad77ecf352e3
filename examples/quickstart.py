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
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_entropy as ke  # noqa: E402
from keras_entropy import datasets  # noqa: E402
from keras_entropy.experiments import dense_autoencoder, flatten_images  # noqa: E402


def load_data():
    data = datasets.load_embedded_mnist()
    return flatten_images(data.x_train), flatten_images(data.x_test)


def train(latent, lam, epochs, patience, seed, x_train, x_test):
    keras.utils.set_random_seed(seed)
    model = dense_autoencoder(784, latent, lam)
    model.compile(optimizer="adam", loss="mse", metrics=[keras.metrics.MeanSquaredError("mse")])
    stop = keras.callbacks.EarlyStopping(monitor="val_mse", patience=patience,
                                         restore_best_weights=True)
    start = time.perf_counter()
    history = model.fit(x_train, x_train, validation_data=(x_test, x_test), epochs=epochs,
                        batch_size=128, callbacks=[stop], verbose=0)
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latent", type=int, default=260, help="latent width (default 260)")
    parser.add_argument("--lam", type=float, default=0.1, help="DenseEntropy strength")
    parser.add_argument("--epochs", type=int, default=40, help="maximum epochs")
    parser.add_argument("--patience", type=int, default=5, help="early-stopping patience")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    print(f"keras {keras.__version__}, backend {keras.backend.backend()}; "
          f"data: MNIST subset embedded in keras_entropy (6,000 train / 1,000 test)")
    x_train, x_test = load_data()
    results = [
        train(args.latent, lam, args.epochs, args.patience, args.seed, x_train, x_test)
        for lam in (0.0, args.lam)
    ]
    print()
    print(f"784 -> {args.latent} -> 784 autoencoder, early stopping on val MSE "
          f"(patience {args.patience}), seed {args.seed}")
    print(f"{'':<24}" + "".join(f"{'lambda = ' + format(r['lambda'], 'g'):>16}" for r in results))
    for key, fmt in [("epochs run", "d"), ("best epoch", "d"), ("best val MSE", ".5f"),
                     ("epochs to 110% of best", "d"),
                     ("seconds", ".1f"), ("log|det W_sq|", ".1f")]:
        print(f"{key:<24}" + "".join(f"{format(r[key], fmt):>16}" for r in results))


if __name__ == "__main__":
    main()

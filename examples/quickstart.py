"""Quickstart: the same autoencoder with and without an entropy penalty.

The data: the MNIST subset that ships inside the package
(`ke.datasets.mnist_subset.load_data()`: 6,000 training and 1,000 test
digits, as 784-vectors in [0, 1]; no download). The model: the paper's dense
autoencoder (784 -> latent -> 784, sigmoid, Adam, MSE; section 5.2), with
`kernel_regularizer=ke.DenseEntropy(lam)` on the encoder's kernel. It
trains twice, once without a penalty and once with it, with early stopping
on the validation MSE (the test digits), and prints both results side by
side: epochs, best validation MSE, epochs to within 10% of it, seconds, and
the encoder's log|det W_sq|. About a minute on 2 CPU cores.

    python examples/quickstart.py
    python examples/quickstart.py --quick      # a few epochs: a smoke test
    KERAS_BACKEND=jax python examples/quickstart.py --lam 1.0 --latent 100
"""

import argparse
import sys
import time

#: The settings a plain run uses, and those of --quick; a flag given on the command line wins over both.
DEFAULTS = {"latent": 260, "lam": 0.1, "epochs": 40, "patience": 5}
QUICK = {**DEFAULTS, "epochs": 3}
#: The smallest value each setting accepts.
MINIMUM = {"latent": 1, "epochs": 1, "patience": 0}


def parse_args(argv=None):
    """The command line, parsed with the standard library alone: --help answers before Keras starts."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latent", type=int, help="latent width (default 260)")
    parser.add_argument("--lam", type=float, help="DenseEntropy strength (default 0.1)")
    parser.add_argument("--epochs", type=int, help="maximum epochs (default 40; --quick: 3)")
    parser.add_argument("--patience", type=int, help="early-stopping patience (default 5)")
    parser.add_argument("--quick", action="store_true", help="a smoke test: 3 epochs")
    parser.add_argument("--seed", type=int, default=0, help="seed of both runs (default 0)")
    parser.add_argument(
        "--verbose",
        type=int,
        nargs="?",
        const=2,
        default=0,
        choices=[0, 1, 2],
        help="Keras fit verbosity: 0 (default) prints one line per run; --verbose or --verbose 2 adds one line "
        "per epoch, --verbose 1 Keras's progress bars; any non-zero value also keeps TensorFlow's logs",
    )
    args = parser.parse_args(argv)
    for name, smallest in MINIMUM.items():
        value = getattr(args, name)
        if value is not None and value < smallest:
            parser.error(f"--{name}: must be at least {smallest}, got {value}")
    for name, value in (QUICK if args.quick else DEFAULTS).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def train(lam, args, x_train, x_test):
    """One autoencoder, with `DenseEntropy(lam)` on its encoder (none for lam 0): its results."""
    import keras
    import numpy as np

    import keras_entropy as ke

    keras.utils.set_random_seed(args.seed)
    model = keras.Sequential(
        [
            keras.Input((784,)),
            keras.layers.Dense(
                args.latent,
                activation="sigmoid",
                kernel_regularizer=ke.DenseEntropy(lam) if lam != 0 else None,  # the paper's form
                name="encoder",
            ),
            keras.layers.Dense(784, activation="sigmoid", name="decoder"),
        ]
    )
    # Keras adds the penalty to `loss`; the metric `mse` is the reconstruction error alone.
    model.compile(optimizer="adam", loss="mse", metrics=[keras.metrics.MeanSquaredError("mse")])
    stop = keras.callbacks.EarlyStopping(monitor="val_mse", patience=args.patience, restore_best_weights=True)
    start = time.perf_counter()
    history = model.fit(
        x_train,
        x_train,
        validation_data=(x_test, x_test),
        epochs=args.epochs,
        batch_size=128,
        callbacks=[stop],
        verbose=args.verbose,
    )
    seconds = time.perf_counter() - start
    val_mse = history.history["val_mse"]
    best = int(np.argmin(val_mse))
    within = int(np.argmax(np.asarray(val_mse) <= 1.1 * val_mse[best]))
    kernel = model.get_layer("encoder").kernel
    return {
        "lambda": lam,
        "epochs run": len(val_mse),
        "best epoch": best + 1,
        "best val MSE": val_mse[best],
        "epochs to 110% of best": within + 1,
        "seconds": seconds,
        "log|det W_sq|": float(keras.ops.convert_to_numpy(ke.ops.dense_entropy_change(kernel))),
    }


def print_comparison(results, args):
    """The two runs side by side, one row per quantity."""
    model = f"784 -> {args.latent} -> 784 autoencoder"
    print(f"\n{model}, early stopping on val MSE (patience {args.patience}), seed {args.seed}")
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


def experiment(args):
    """Data, model, compile, fit, result: the autoencoder without and with the penalty."""
    import keras

    import keras_entropy as ke
    from keras_entropy.experiments import script_setup

    script_setup.prepare(args)  # quiets the logs

    # The data: 28 x 28 digits as 784-vectors in [0, 1] (the labels are not needed).
    (x_train, _), (x_test, _) = ke.datasets.mnist_subset.load_data()
    x_train = x_train.reshape(-1, 784).astype("float32") / 255.0
    x_test = x_test.reshape(-1, 784).astype("float32") / 255.0
    print(
        f"keras {keras.__version__}, backend {keras.backend.backend()}; data: MNIST subset embedded in "
        f"keras_entropy ({len(x_train):,} train / {len(x_test):,} test)",
        flush=True,
    )

    results = []
    for lam in (0.0, args.lam):
        r = train(lam, args, x_train, x_test)
        results.append(r)
        print(
            f"lambda={lam:g}: best val MSE {r['best val MSE']:.5f} at epoch {r['best epoch']}, "
            f"{r['epochs run']} epochs, {r['seconds']:.1f} s",
            flush=True,
        )
    print_comparison(results, args)
    return 0


def main(argv=None):
    args = parse_args(argv)  # --help and bad arguments answer here, before Keras starts
    from keras_entropy.experiments import script_setup  # Keras starts here

    return script_setup.run(experiment, args)


if __name__ == "__main__":
    sys.exit(main())

"""Train-step overhead of the entropy penalties, as ratios to no penalty.

Every configuration is timed in the same process, interleaved round by round
(one epoch of each configuration per round), so that load from elsewhere on
the machine hits all of them alike; the reported time is the median epoch
time over the rounds, divided by the number of steps. The ratio is against
the unpenalised model of the same family measured in the same run, and
`keras.regularizers.L2` on the same layers is measured for reference.

    KERAS_BACKEND=tensorflow python benchmarks/overhead.py
    KERAS_BACKEND=jax python benchmarks/overhead.py --rounds 5

Models:
  (a) the paper's 3-block CIFAR-shaped CNN: 32x32x3 input, three blocks of
      (3x3 conv, leaky ReLU, 2x2 max-pool), softmax over 10 classes;
      penalty on the first conv or on all convs.
  (b) the paper's 784 -> 260 -> 784 sigmoid autoencoder (MSE, Adam) on the
      MNIST subset embedded in the package; penalty on the first kernel.
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_entropy as ke  # noqa: E402
from keras_entropy.experiments import datasets  # noqa: E402
from keras_entropy.experiments.autoencoder import flatten_images  # noqa: E402

TARGETS = {"cnn": 1.02, "autoencoder": 1.15}


def cnn(penalty, where, filters):
    inputs = keras.Input((32, 32, 3))
    x = inputs
    for block in range(3):
        regularizer = penalty() if (where == "all" or block == 0) and penalty else None
        x = keras.layers.Conv2D(filters, 3, kernel_regularizer=regularizer)(x)
        x = keras.layers.LeakyReLU()(x)
        x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(10, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def autoencoder(penalty):
    model = keras.Sequential(
        [
            keras.Input((784,)),
            keras.layers.Dense(260, activation="sigmoid", kernel_regularizer=penalty() if penalty else None),
            keras.layers.Dense(784, activation="sigmoid"),
        ]
    )
    model.compile(optimizer="adam", loss="mse")
    return model


def configurations(filters):
    conv_exact = lambda: ke.ConvEntropy(0.01, stabilized=False)  # noqa: E731
    conv_stab = lambda: ke.ConvEntropy(0.01)  # noqa: E731
    l2 = lambda: keras.regularizers.L2(1e-4)  # noqa: E731
    return {
        "cnn": {
            "none": lambda: cnn(None, None, filters),
            "ConvEntropy stabilized, first conv": lambda: cnn(conv_stab, "first", filters),
            "ConvEntropy stabilized, all convs": lambda: cnn(conv_stab, "all", filters),
            "ConvEntropy exact, all convs": lambda: cnn(conv_exact, "all", filters),
            "L2 (reference), first conv": lambda: cnn(l2, "first", filters),
            "L2 (reference), all convs": lambda: cnn(l2, "all", filters),
        },
        "autoencoder": {
            "none": lambda: autoencoder(None),
            "DenseEntropy stabilized": lambda: autoencoder(lambda: ke.DenseEntropy(0.01)),
            "DenseEntropy exact": lambda: autoencoder(lambda: ke.DenseEntropy(0.01, stabilized=False)),
            "L2 (reference)": lambda: autoencoder(l2),
        },
    }


def data(family, batch_size, steps):
    n = batch_size * steps
    if family == "cnn":
        rng = np.random.default_rng(0)
        return rng.uniform(size=(n, 32, 32, 3)).astype("float32"), rng.integers(0, 10, n)
    x = flatten_images(datasets.load_embedded_mnist().x_train)
    x = np.resize(x, (n, 784))
    return x, x


def time_steps(models, x, y, batch_size, steps, rounds, statistic=statistics.median):
    """Ms per train step of each model (`statistic` over rounds, median by default).

    Each round fits one epoch of every model in turn, so load from elsewhere
    on the machine falls on all of them alike; every model is compiled and
    warmed up by one epoch first. `statistic=min` is timeit's choice: on a
    shared 2-core machine whole rounds fall into slow modes (here about 14.4
    and 27.2 ms per autoencoder step whatever the model), which only add.
    """
    for model in models.values():
        model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)
    times = {name: [] for name in models}
    for _ in range(rounds):
        for name, model in models.items():
            start = time.perf_counter()
            model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)
            times[name].append((time.perf_counter() - start) / steps)
    return {name: 1e3 * statistic(values) for name, values in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=20, help="train steps per epoch")
    parser.add_argument("--rounds", type=int, default=7, help="timed epochs per configuration")
    parser.add_argument("--filters", type=int, default=64, help="CNN width")
    parser.add_argument(
        "--families",
        nargs="+",
        default=["cnn", "autoencoder"],
        choices=["cnn", "autoencoder"],
        help="which models to time",
    )
    args = parser.parse_args()

    print(
        f"backend: {keras.backend.backend()}, batch {args.batch_size}, "
        f"{args.steps} steps x {args.rounds} rounds, CNN width {args.filters}"
    )
    rows = []
    for family, configs in configurations(args.filters).items():
        if family not in args.families:
            continue
        x, y = data(family, args.batch_size, args.steps)
        models = {name: make() for name, make in configs.items()}
        ms = time_steps(models, x, y, args.batch_size, args.steps, args.rounds)
        rows += [(family, name, ms[name], ms[name] / ms["none"]) for name in models]

    print()
    print("| model | penalty | ms / step | ratio to none | target |")
    print("| --- | --- | ---: | ---: | ---: |")
    for family, name, ms, ratio in rows:
        target = "" if name == "none" or "L2" in name else f"<= {TARGETS[family]:.2f}"
        print(f"| {family} | {name} | {ms:.2f} | {ratio:.3f} | {target} |")


if __name__ == "__main__":
    main()

"""Epoch time of a small CNN with and without `EntropyMonitor`, in one run.

Usage (one backend per process):

    KERAS_BACKEND=jax python benchmarks/monitor_overhead.py [--epochs 6] [--rounds 3]

Trains a 4-conv-layer CNN on the 6,000-image MNIST subset shipped with the
package. Each round trains a fresh copy of the same model twice, once
without and once with `EntropyMonitor()` (all layers, recording once per
epoch, no TensorBoard), alternating which goes first. The first epoch of
every fit (compilation) is dropped; the table shows the median epoch time of
the rest and the ratio with / without. Because whole-epoch timings on a
shared machine are noisy, it also times the monitor's own epoch-end work
(`EntropyMonitor.measure()` on the trained model, median of 20 calls) and
gives it as a fraction of the epoch time without the monitor.
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

import keras_entropy  # noqa: E402
from keras_entropy.experiments import datasets  # noqa: E402


class EpochTimer(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.times = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self._start)


def make_model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(16, 3, activation="relu"),
            keras.layers.Conv2D(16, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(32, 3, activation="relu"),
            keras.layers.Conv2D(32, 3, activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


def epoch_times(x, y, epochs, monitor):
    model = make_model()
    timer = EpochTimer()
    # The timer comes last so that the monitor's epoch-end work is inside
    # the timed epoch.
    callbacks = ([keras_entropy.EntropyMonitor()] if monitor else []) + [timer]
    model.fit(x, y, batch_size=128, epochs=epochs, verbose=0, callbacks=callbacks)
    return timer.times[1:]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    data = datasets.load_embedded_mnist()
    x = (data.x_train[..., None] / 255.0).astype("float32")
    y = data.y_train.astype("int32")
    without, with_monitor = [], []
    for r in range(args.rounds):
        order = (False, True) if r % 2 == 0 else (True, False)
        for monitor in order:
            (with_monitor if monitor else without).extend(epoch_times(x, y, args.epochs, monitor))
    base, mon = statistics.median(without), statistics.median(with_monitor)
    model = make_model()
    model.fit(x[:256], y[:256], batch_size=128, epochs=1, verbose=0)
    monitor = keras_entropy.EntropyMonitor()
    monitor.set_model(model)
    monitor.measure()  # first call: layer selection and one-time compilations
    calls = []
    for _ in range(20):
        start = time.perf_counter()
        monitor.measure()
        calls.append(time.perf_counter() - start)
    work = statistics.median(calls)
    print(
        f"{'backend':<11} {'epochs':>6} {'without s':>10} {'with s':>8} {'ratio':>7} "
        f"{'monitor work s':>15} {'work/epoch':>11}"
    )
    print(
        f"{keras.backend.backend():<11} {len(without):>6} {base:>10.3f} {mon:>8.3f} "
        f"{mon / base:>7.3f} {work:>15.4f} {work / base:>11.4f}"
    )


if __name__ == "__main__":
    main()

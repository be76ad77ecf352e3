"""The installed wheel works: run with the python of a fresh environment where the wheel is installed.

.ci/wheel.py runs it (from a folder outside the repository, with
KERAS_BACKEND=tensorflow):

    python .ci/smoke_wheel.py

Checks, one line each: keras_entropy is imported from that environment's
site-packages (not from a source checkout); `keras_entropy.__version__` is the
installed distribution's version; the embedded MNIST subset loads from the
installed package through `keras_entropy.datasets.mnist_subset.load_data()`
(uint8 arrays, as `keras.datasets.mnist.load_data()`) and through
`keras_entropy.experiments.datasets.load(..., allow_embedded=True)` (the data
the examples fall back to without a data directory); a small Dense model with `keras_entropy.DenseEntropy(lam,
form="normalized")` as a kernel regularizer trains a few steps with finite
losses; saved as `.keras` and loaded back with `keras.saving.load_model`
(no custom_objects), it predicts the same. Exits 1 at the first failed check.
"""

import importlib.metadata
import os
import sys
import sysconfig
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def check(condition, message):
    if not condition:
        print(f"FAILED: {message}", flush=True)
        sys.exit(1)
    print(f"ok: {message}", flush=True)


def inside(path, folder):
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return os.path.commonpath([path, folder]) == folder


def main():
    start = time.perf_counter()
    import numpy as np

    import keras_entropy

    site = {sysconfig.get_paths()[key] for key in ("purelib", "platlib")}
    package_dir = os.path.dirname(os.path.abspath(keras_entropy.__file__))
    check(
        any(inside(package_dir, s) for s in site) and not inside(package_dir, ROOT),
        f"keras_entropy imported from site-packages: {package_dir}",
    )
    installed = importlib.metadata.version("keras-entropy")
    check(
        keras_entropy.__version__ == installed,
        f"keras_entropy.__version__ {keras_entropy.__version__!r} == installed metadata version {installed!r}",
    )

    from keras_entropy.datasets import mnist_subset
    from keras_entropy.experiments import datasets

    (x_train, y_train), (x_test, y_test) = mnist_subset.load_data()
    check(
        inside(mnist_subset.DATA_FILE, os.path.join(package_dir, "datasets", "data"))
        and (x_train.shape, x_test.shape, y_train.dtype) == ((6000, 28, 28), (1000, 28, 28), np.uint8),
        f"mnist_subset.load_data() from the installed package: x_train {x_train.shape} {x_train.dtype}, "
        f"y_train {y_train.shape} {y_train.dtype}",
    )
    data = datasets.load("mnist", allow_embedded=True)
    check(
        data.is_embedded and inside(data.location, os.path.join(package_dir, "datasets", "data")),
        f"embedded MNIST subset from the installed package: {data.describe()}",
    )
    check(
        data.x_train.shape == (6000, 28, 28) and data.x_test.shape == (1000, 28, 28) and data.y_train.shape == (6000,),
        f"MNIST subset shapes: x_train {data.x_train.shape}, x_test {data.x_test.shape}",
    )

    import keras

    keras.utils.set_random_seed(0)
    n = 384
    x = data.x_train[:n].reshape(n, -1).astype("float32") / 255.0
    y = data.y_train[:n].astype("int32")
    regularizer = keras_entropy.DenseEntropy(1e-3, form="normalized")
    model = keras.Sequential(
        [
            keras.Input((784,)),
            keras.layers.Dense(32, activation="relu", kernel_regularizer=regularizer),
            keras.layers.Dense(10),
        ]
    )
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(x, y, batch_size=64, epochs=2, verbose=0)
    losses = history.history["loss"]
    check(
        len(losses) == 2 and all(np.isfinite(losses)) and len(model.losses) == 1,
        f"trained {len(losses)} epochs of {n // 64} steps with DenseEntropy(form='normalized'), losses "
        + ", ".join(f"{v:.4f}" for v in losses),
    )

    expected = model.predict(x[:64], verbose=0)
    with tempfile.TemporaryDirectory(prefix="keras-entropy-smoke-") as tmp:
        path = os.path.join(tmp, "model.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
    restored = loaded.layers[0].kernel_regularizer
    check(
        isinstance(restored, keras_entropy.DenseEntropy) and restored.get_config() == regularizer.get_config(),
        f"loaded the .keras file without custom_objects: {type(restored).__name__}(form={restored.form!r})",
    )
    got = loaded.predict(x[:64], verbose=0)
    check(
        np.allclose(got, expected, rtol=1e-5, atol=1e-6),
        f"loaded model predicts the same (max difference {np.max(np.abs(got - expected)):.2e})",
    )
    print(f"smoke test of the installed wheel: ok in {time.perf_counter() - start:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

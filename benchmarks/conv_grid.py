"""The default frequency grid of the conv volume forms: error and cost per grid.

`ConvEntropy(form="volume"|"normalized")` takes `N_out` times the mean per
output position of the convolution operator's log singular values over an
`h x w` frequency grid (MATH.md section 9): exact, for circular boundaries,
when the grid is the layer's output size; cheaper on a coarser grid. This
script trains the paper's 3-block CNN (width 32) on the MNIST subset that
ships with the package, then, for each of its conv kernels, compares the
per-position value on grids 4, 8, 12, 16 and 24 (capped at the output size)
with the value on the exact grid (the output size: 26x26, 11x11, 3x3), for
the exact and stabilized volume and normalized forms, before and after
training; and times value and gradient of the stabilized penalty per grid
(compiled, median of repeats).

    KERAS_BACKEND=tensorflow python benchmarks/conv_grid.py
    KERAS_BACKEND=tensorflow python benchmarks/conv_grid.py --epochs 1   # quicker
"""

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402
from dense_factor_routes import compiled_value_and_grad  # noqa: E402

from keras_entropy import ops as E  # noqa: E402
from keras_entropy.experiments import datasets  # noqa: E402
from keras_entropy.experiments.classification import small_cnn  # noqa: E402

GRIDS = (4, 8, 12, 16, 24)


def per_position(kernel, grid, stabilized, normalized):
    h, w = grid
    form = "normalized" if normalized else "volume"
    if stabilized:
        penalty = E.conv_volume_penalty(kernel, lam=1.0, output_positions=1, stabilized=True, form=form, grid=grid)
        return float(keras.ops.convert_to_numpy(penalty))
    return float(keras.ops.convert_to_numpy(E.conv_volume_change(kernel, form=form, grid=grid))) / (h * w)


def trained_kernels(epochs):
    data = datasets.load_embedded_mnist()
    x = data.x_train.astype("float32")[..., None] / 255.0 if data.x_train.ndim == 3 else data.x_train
    keras.utils.set_random_seed(0)
    model = small_cnn(x.shape[1:], 3, 32)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    initial = [keras.ops.convert_to_numpy(layer.kernel) for layer in convs]
    history = model.fit(x, data.y_train, epochs=epochs, batch_size=128, verbose=0)
    sizes = [tuple(layer.output.shape[1:3]) for layer in convs]
    trained = [keras.ops.convert_to_numpy(layer.kernel) for layer in convs]
    return initial, trained, sizes, history.history["accuracy"][-1]


def median_ms(step, value, calls=10, repeats=5):
    step(value)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            out = step(value)
        keras.ops.convert_to_numpy(out[0])
        times.append((time.perf_counter() - start) / calls)
    return 1e3 * statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    initial, trained, sizes, accuracy = trained_kernels(args.epochs)
    print(
        f"backend {keras.backend.backend()}; 3-block CNN, width 32, {args.epochs} epochs on the embedded "
        f"MNIST subset (train accuracy {accuracy:.3f})\n"
    )
    print("Relative error of the per-position value against the exact grid (the output size):\n")
    print("| conv | output | kernels | form | " + " | ".join(f"grid {g}" for g in GRIDS) + " |")
    print("| --- | --- | --- | --- | " + " | ".join("---:" for _ in GRIDS) + " |")
    for i, size in enumerate(sizes):
        for label, kernel in (("init", initial[i]), ("trained", trained[i])):
            for stabilized in (False, True):
                for normalized in (False, True):
                    exact = per_position(kernel, size, stabilized, normalized)
                    cells = []
                    for g in GRIDS:
                        grid = (min(g, size[0]), min(g, size[1]))
                        value = per_position(kernel, (max(grid[0], 3), max(grid[1], 3)), stabilized, normalized)
                        cells.append(f"{abs(value - exact) / max(abs(exact), 1e-12):.1e}")
                    form = ("normalized" if normalized else "volume") + (", stabilized" if stabilized else ", exact")
                    print(f"| conv{i + 1} | {size[0]}x{size[1]} | {label} | {form} | " + " | ".join(cells) + " |")
    print("\nms per value+gradient of the stabilized volume penalty (compiled), trained conv1 and conv2 kernels:\n")
    print("| grid | conv1 (1 -> 32) | conv2 (32 -> 32) |")
    print("| --- | ---: | ---: |")
    for g in GRIDS + (26,):
        cells = []
        for kernel in trained[:2]:
            step, convert = compiled_value_and_grad(
                lambda k, g=g: E.conv_volume_penalty(k, lam=1.0, output_positions=1, grid=(g, g))
            )
            cells.append(f"{median_ms(step, convert(kernel)):.2f}")
        print(f"| {g}x{g} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()

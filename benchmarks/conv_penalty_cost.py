"""Own cost of the ConvEntropy penalty against the CNN's train step, in one run.

Whole-model step timings of the 3-block CNN vary on a CPU from one model
instance to the next by more than the 2% overhead target (see
`benchmarks/overhead.py`), so this script times the penalty on its own:
value and gradient of `ConvEntropy` on each conv kernel of the paper's
3-block CIFAR-shaped CNN, compiled as the train step compiles it, against
the median train-step time of the same unpenalised model measured in the
same process. The ratio `(step + penalty) / step` is the overhead the
penalty adds when it runs inside the step.

    KERAS_BACKEND=tensorflow python benchmarks/conv_penalty_cost.py
"""

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402
import numpy as np  # noqa: E402
from dense_factor_routes import compiled_value_and_grad  # noqa: E402
from overhead import cnn, data  # noqa: E402

import keras_entropy as ke  # noqa: E402


def median_call_ms(step, value, calls=50, repeats=5):
    for _ in range(3):
        out = step(value)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            out = step(value)
        np.asarray(keras.ops.convert_to_numpy(out[0]))
        times.append((time.perf_counter() - start) / calls)
    return 1e3 * statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--filters", type=int, default=64)
    args = parser.parse_args()

    x, y = data("cnn", args.batch_size, args.steps)
    model = cnn(None, None, args.filters)
    model.fit(x, y, batch_size=args.batch_size, epochs=1, verbose=0)
    steps = []
    for _ in range(args.rounds):
        start = time.perf_counter()
        model.fit(x, y, batch_size=args.batch_size, epochs=1, verbose=0)
        steps.append((time.perf_counter() - start) / args.steps)
    step_ms = 1e3 * statistics.median(steps)

    kernels = [layer.kernel for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    print(
        f"backend: {keras.backend.backend()}, batch {args.batch_size}, "
        f"CNN width {args.filters}; train step {step_ms:.2f} ms (median of {args.rounds} epochs)"
    )
    print("| penalty | kernels | penalty ms (value+grad) | (step + penalty) / step |")
    print("| --- | --- | ---: | ---: |")
    for stabilized in (True, False):
        regularizer = ke.ConvEntropy(0.01, stabilized=stabilized)
        name = "stabilized" if stabilized else "exact"
        for label, chosen in (("first conv", kernels[:1]), ("all convs", kernels)):
            total = 0.0
            for kernel in chosen:
                step, convert = compiled_value_and_grad(regularizer)
                total += median_call_ms(step, convert(keras.ops.convert_to_numpy(kernel)))
            print(f"| ConvEntropy {name} | {label} | {total:.3f} | {(step_ms + total) / step_ms:.4f} |")


if __name__ == "__main__":
    main()

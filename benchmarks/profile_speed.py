"""Time `keras_entropy.entropy_profile` on keras.applications.ResNet50.

Usage (one backend per process):

    KERAS_BACKEND=jax python benchmarks/profile_speed.py [--repeats 3]

Prints one table row per measurement: the first (cold) call, which includes
one-time work such as JAX compilations, and the median of the warm repeats.
Building the model is not timed.
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

import keras_entropy  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    model = keras.applications.ResNet50(weights=None)
    start = time.perf_counter()
    profile = keras_entropy.entropy_profile(model)
    cold = time.perf_counter() - start
    warm = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        keras_entropy.entropy_profile(model)
        warm.append(time.perf_counter() - start)
    n_conv = sum(e.kind == "conv" for e in profile)
    print(f"{'backend':<11} {'model':<9} {'layers':>6} {'cold s':>8} {'warm s (median)':>16}")
    print(
        f"{keras.backend.backend():<11} {'ResNet50':<9} {len(profile):>6} {cold:>8.3f} {statistics.median(warm):>16.3f}"
    )
    print(f"({n_conv} conv + {len(profile) - n_conv} dense layers, {args.repeats} warm repeats)")


if __name__ == "__main__":
    main()

"""Cost of the candidate routes to the dense penalty, value and gradient.

For the 260x260 square part of a 784x260 Glorot kernel, times one call of
value-and-gradient of: the exact `-log|det S|` (QR), the stabilized
penalty over QR factors (Householder QR), over Cholesky-of-Gram factors (the
route keras_entropy uses, with its closed-form gradient, and with autodiff
through the factorisation as before), and over singular values (SVD). For scale, the
same for one 256x784 @ 784x260 sigmoid layer (forward and backward).

    KERAS_BACKEND=tensorflow python benchmarks/dense_factor_routes.py
"""

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import ops  # noqa: E402

from keras_entropy import ops as E  # noqa: E402

EPS = E.DEFAULT_EPSILON


def _autodiff_cholesky_factors(s):
    """diag chol(S^T S + delta I), differentiated through the factorisation."""
    gram = ops.matmul(ops.transpose(s), s)
    delta = ops.stop_gradient(E.factor_jitter(gram, epsilon=EPS))
    return ops.diagonal(ops.cholesky(gram + delta * ops.eye(s.shape[0], dtype="float32")))


def routes():
    return {
        "one 256x784x260 sigmoid layer (scale)": lambda k: ops.sum(ops.sigmoid(ops.matmul(ops.ones((256, 784)), k))),
        "exact, QR (used)": lambda k: E.dense_entropy_penalty(k, lam=1.0, stabilized=False),
        "stabilized, Cholesky of Gram, closed-form gradient (used)": lambda k: E.dense_entropy_penalty(k, lam=1.0),
        "stabilized, Cholesky of Gram, autodiff (before 0.1.0)": lambda k: ops.sum(
            E.entropy_surrogate(_autodiff_cholesky_factors(k[:260, :260]), epsilon=EPS)
        ),
        "stabilized, Householder QR": lambda k: ops.sum(
            E.entropy_surrogate(ops.diagonal(ops.qr(k[:260, :260])[1]), epsilon=EPS)
        ),
        "stabilized, SVD": lambda k: ops.sum(
            E.entropy_surrogate(ops.svd(k[:260, :260], compute_uv=False), epsilon=EPS)
        ),
    }


def compiled_value_and_grad(fn):
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        @tf.function
        def step(k):
            with tf.GradientTape() as tape:
                tape.watch(k)
                value = fn(k)
            return value, tape.gradient(value, k)

        return step, tf.constant
    if backend == "jax":
        import jax

        return jax.jit(jax.value_and_grad(fn)), jax.numpy.asarray
    import torch

    def step(k):
        k = k.detach().requires_grad_(True)
        value = fn(k)
        value.backward()
        return value.detach(), k.grad

    return step, torch.tensor


def main():
    rng = np.random.default_rng(0)
    limit = np.sqrt(6 / (784 + 260))
    kernel = rng.uniform(-limit, limit, (784, 260)).astype("float32")
    print(f"backend: {keras.backend.backend()}")
    print("| route | ms per value+gradient |")
    print("| --- | ---: |")
    for name, fn in routes().items():
        step, convert = compiled_value_and_grad(fn)
        k = convert(kernel)
        for _ in range(3):
            out = step(k)
        times = []
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(20):
                out = step(k)
            np.asarray(keras.ops.convert_to_numpy(out[0]))
            times.append((time.perf_counter() - start) / 20)
        print(f"| {name} | {1e3 * min(times):.2f} |")


if __name__ == "__main__":
    main()

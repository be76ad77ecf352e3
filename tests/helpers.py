"""The helpers the tests share: paths, tensors as numpy, assertions, runs of the examples, known records.

A plain module, not a test module: the tests import it as `helpers` (pytest puts
tests/ on `sys.path`), and so does tests/fixtures/make_saved_model.py. The tests
import their shared helpers from here, not from one another (nor conftest.py).
"""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_entropy.experiments import analysis

# --- paths -----------------------------------------------------------------

#: The repository root.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES_DIR = os.path.join(ROOT, "examples")
#: The MNIST files of shared/ (beside the repository), for the tests that read the real data set.
SHARED_MNIST = os.path.join(ROOT, "..", "shared", "data", "mnist")


# --- tensors ---------------------------------------------------------------


def to_numpy(x):
    """A backend tensor (or a Keras variable) as a numpy array."""
    return np.asarray(keras.ops.convert_to_numpy(x))


def value_and_grad(fn, x):
    """`fn(x)` and its gradient with respect to `x`, on the active backend.

    Tests only: the package itself never needs a backend's autodiff.
    """
    name = keras.backend.backend()
    x = np.asarray(x, dtype="float32")
    if name == "tensorflow":
        import tensorflow as tf

        xt = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            value = fn(xt)
        return to_numpy(value), to_numpy(tape.gradient(value, xt))
    if name == "jax":
        import jax

        value, grad = jax.value_and_grad(lambda t: fn(t))(jax.numpy.asarray(x))
        return np.asarray(value), np.asarray(grad)
    if name == "torch":
        import torch

        xt = torch.tensor(x, requires_grad=True)
        value = fn(xt)
        (grad,) = torch.autograd.grad(value, xt)
        return value.detach().cpu().numpy(), grad.detach().cpu().numpy()
    raise RuntimeError(f"unsupported backend {name}")


# --- assertions ------------------------------------------------------------


def assert_raises_naming(make, error, words):
    """`make()` raises `error` whose message holds every one of `words`."""
    with pytest.raises(error) as info:
        make()
    for word in words:
        assert word in str(info.value)


# --- the examples ----------------------------------------------------------


def load_example(name):
    """examples/<name>.py as a module: its functions and settings; its `main` does not run."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"{name}_example", os.path.join(EXAMPLES_DIR, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_example_here(name, args):
    """`examples/<name>.py args` in this process, on its backend: what it printed; asserts exit status 0.

    For the runs of a test that start no training (a resume, `--report-only`, a used-up budget): they
    need no fresh process, and Keras has started here already. The run that shows what a user sees
    (start-up lines, quiet output) goes through `run_example`.
    """
    import contextlib
    import io

    printed = io.StringIO()
    argv, sys.argv = sys.argv, [os.path.join(EXAMPLES_DIR, f"{name}.py"), *args]  # the summary's command line
    try:
        with contextlib.redirect_stdout(printed):
            code = load_example(name).main(list(args))
    finally:
        sys.argv = argv
    assert code == 0, printed.getvalue()[-3000:]
    return printed.getvalue()


def run_example(name, args, backend, **env):
    """`python examples/<name>.py args` from the repository root on `backend` (plus `env`); asserts exit status 0.

    Shared by the tests of each example's --quick run.
    """
    proc = subprocess.run(
        [sys.executable, os.path.join(EXAMPLES_DIR, f"{name}.py"), *args],
        cwd=ROOT,
        env=dict(os.environ, KERAS_BACKEND=backend, **env),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


# --- training in a subprocess, on one device and on several ----------------

#: float32: the runs differ only by summation order.
TIGHT = {"rtol": 1e-5, "atol": 1e-6}


def training_environment():
    """The environment of a training subprocess: this one's, less the backend, `TF_CONFIG` and `XLA_FLAGS`.

    The script picks its backend and devices itself; TensorFlow's C++ logs are off unless asked for.
    """
    env = dict(os.environ)
    for name in ("KERAS_BACKEND", "TF_CONFIG", "XLA_FLAGS"):
        env.pop(name, None)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return env


def check_training(process):
    """The training subprocess exited 0; else fail with the tails of its stdout and stderr."""
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-6000:]


def pairs(results, variant):
    """`(key, single, multi)` for every weight of a variant."""
    prefix = f"{variant}/single/"
    found = [
        (key[len(prefix) :], value, results[f"{variant}/multi/{key[len(prefix) :]}"])
        for key, value in sorted(results.items())
        if key.startswith(prefix)
    ]
    assert found, f"no results for {variant}"
    return found


def assert_same_training(results, variant, tolerance):
    for key, single, multi in pairs(results, variant):
        np.testing.assert_allclose(multi, single, err_msg=f"{variant}: {key}", **tolerance)


# --- records and statistics ------------------------------------------------


def record(width, penalty, val_mse, seed=0, test_mse=None, val_loss=None, stopping=None, **config):
    """A final run's record with the given per-epoch histories."""
    val_loss = val_loss or val_mse
    return {
        "key": f"{width}-{penalty}-{seed}",
        "seed": seed,
        "config": {
            "latent_dim": width,
            "penalty": penalty,
            "learning_rate": 1e-3,
            "lam": 0.0 if penalty == "none" else 0.01,
            "placement": "none" if penalty == "none" else "encoder",
            **config,
        },
        "history": {"val_mse": list(val_mse), "val_loss": list(val_loss), "test_mse": list(test_mse or val_mse)},
        "stopping": stopping
        or {m: {"epoch": len(val_mse), "best_epoch": len(val_mse), "stopped": False} for m in analysis.MONITORS},
    }


def bh_by_hand(pvalues):
    """Benjamini-Hochberg written out: sort, p * m / rank, cumulative minimum from the top, at most 1."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted = [0.0] * m
    running = 1.0
    for rank in range(m, 0, -1):  # from the largest p down
        i = order[rank - 1]
        running = min(running, pvalues[i] * m / rank)
        adjusted[i] = running
    return adjusted


# --- models ----------------------------------------------------------------


def model_with_every_component():
    """A compiled model with every keras_entropy layer, regularizer and loss (saving tests, the `.keras` fixture)."""
    import keras_entropy as ke

    inputs = keras.Input((12, 12, 1))
    x = ke.EntropyConv2D(4, 3, lam=0.01, activation="relu")(inputs)
    x = keras.layers.Conv2D(
        3, 3, kernel_regularizer=ke.ConvEntropy([0.01, 0.0, -0.01], output_shape=(8, 8), stabilized=False)
    )(x)
    x = keras.layers.Flatten()(x)
    x = ke.EntropyDense(
        16,
        lam=0.02,
        stabilized=False,
        activation="sigmoid",
        activity_regularizer=ke.KLSparsity(rho=0.1, beta=0.5),
    )(x)
    outputs = keras.layers.Dense(5, kernel_regularizer=ke.DenseEntropy(0.01, epsilon=1e-2))(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss=ke.SoftmaxEntropyLoss(beta=2.0, balance=0.5))
    return model

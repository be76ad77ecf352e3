"""Shared test setup: quiet logs, fixed seeds, the backend under test."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# TensorFlow's CPU Conv2D takes channels_first (NCHW) inputs only through its
# oneDNN kernels, which TensorFlow 2.21 no longer enables by default on every
# CPU ("The Conv2D op currently only supports the NHWC tensor format on the
# CPU"); the channels_first tests need them, as a user on a CPU would.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

SHARED_MNIST = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "data", "mnist"
)


@pytest.fixture(autouse=True)
def _reset_keras_state():
    """Each test starts with float32 policy, a fresh session and fixed seeds."""
    keras.config.set_dtype_policy("float32")
    keras.utils.set_random_seed(1234)
    yield
    keras.config.set_dtype_policy("float32")
    keras.backend.clear_session()


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def backend():
    return keras.backend.backend()


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

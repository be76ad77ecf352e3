"""EntropyDense and EntropyConv2D: Keras layers that add their own entropy penalty."""

import keras
import numpy as np
import pytest

import keras_entropy as ke
from helpers import assert_raises_naming, to_numpy
from keras_entropy import ops as E

pytestmark = pytest.mark.every_backend


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_entropy_conv2d_uses_real_output_positions(data_format):
    layer = ke.EntropyConv2D(6, 3, lam=0.2, strides=2, data_format=data_format)
    shape = (2, 17, 13, 3) if data_format == "channels_last" else (2, 3, 17, 13)
    outputs = layer(np.ones(shape, "float32"))
    n_out = 8 * 6  # ((17-3)//2+1) * ((13-3)//2+1)
    spatial = outputs.shape[1:3] if data_format == "channels_last" else outputs.shape[2:]
    assert tuple(spatial) == (8, 6)
    (term,) = layer.losses
    want = to_numpy(E.conv_entropy_penalty(layer.kernel, lam=0.2, output_positions=n_out))
    np.testing.assert_allclose(to_numpy(term), want, rtol=1e-6)


def test_entropy_conv2d_with_unknown_spatial_size_in_a_model():
    model = keras.Sequential([keras.Input((None, None, 1)), ke.EntropyConv2D(2, 3, lam=1.0, stabilized=False)])
    for size in (5, 9):
        model(np.ones((1, size, size, 1), "float32"))
        (term,) = model.losses
        kernel = to_numpy(model.layers[0].kernel)
        want = -((size - 2) ** 2) * np.sum(np.log(np.abs(kernel[0, 0])))
        np.testing.assert_allclose(to_numpy(term), want, rtol=1e-5)


def test_entropy_dense_keeps_a_user_kernel_regularizer():
    layer = ke.EntropyDense(4, lam=0.3, kernel_regularizer=keras.regularizers.L2(0.1))
    layer(np.ones((2, 6), "float32"))
    values = sorted(float(to_numpy(v)) for v in layer.losses)
    kernel = to_numpy(layer.kernel)
    want = sorted([0.1 * float(np.sum(kernel**2)), 0.3 * float(to_numpy(E.dense_entropy_penalty(kernel)))])
    np.testing.assert_allclose(values, want, rtol=1e-5)


@pytest.mark.parametrize(
    "make, error, words",
    [
        (lambda: ke.EntropyDense(3, lam="x"), TypeError, ["lam", "'x'"]),
        (lambda: ke.EntropyConv2D(3, 3, epsilon=0), ValueError, ["epsilon", "0"]),
    ],
)
def test_bad_arguments_raise_naming_argument_and_value(make, error, words):
    assert_raises_naming(make, error, words)

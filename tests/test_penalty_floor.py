"""The penalties' floors (issue 24): the stabilized normalized form is zero at its optimum.

MATH.md section 10: the stabilized normalized penalty is the surrogate less its
minimum `lam k / (1 + eps)` (per position for a convolution), reached at a scaled
isometry; subtracting a constant changes no gradient. The old route (the surrogate
without the subtraction) is kept here as the reference of the gradients. The other
forms have no constant floor: their stabilized values fall towards 0 only as the
kernel grows, and the exact normalized penalty is 0 at the optimum already.
"""

import keras
import numpy as np
import pytest

import keras_entropy as ke
from helpers import to_numpy, value_and_grad
from keras_entropy import ops as E
from keras_entropy.ops import volume as V

pytestmark = pytest.mark.every_backend

EPS = 1e-3


def scaled_isometry(rng, shape, scale):
    """`scale` times a matrix with orthonormal columns (tall) or rows (wide)."""
    q, _ = np.linalg.qr(rng.normal(size=(max(shape), min(shape))))
    return (scale * (q if shape[0] >= shape[1] else q.T)).astype("float32")


def paraunitary_conv(rng, c_in, c_out, scale):
    """A 3x3 kernel whose every transfer matrix `P(u, v)` is the same scaled isometry.

    `P(u, v) = scale * Q (I - v v^T + exp(-i theta(u, v)) v v^T)`, `Q` with orthonormal
    columns and `v` a unit vector: two taps, at (0, 0) and (1, 2); transposed channels
    for `c_in < c_out`.
    """
    tall, k = (c_in, c_out) if c_in >= c_out else (c_out, c_in)
    q = scaled_isometry(rng, (tall, k), 1.0).astype("float64")
    v = rng.normal(size=k)
    v /= np.linalg.norm(v)
    kernel = np.zeros((3, 3, tall, k))
    kernel[0, 0] = q @ (np.eye(k) - np.outer(v, v))
    kernel[1, 2] = q @ np.outer(v, v)
    if c_in < c_out:
        kernel = np.transpose(kernel, (0, 1, 3, 2))
    return (scale * kernel).astype("float32")


def old_dense(kernel, lam, epsilon=EPS):
    """The stabilized normalized dense penalty before issue 24: no minimum subtracted."""
    factors, trace = E.gram_cholesky_factors(V._tall(kernel), epsilon=epsilon, with_trace=True)
    factors = factors / keras.ops.sqrt(trace / factors.shape[0])
    return lam * keras.ops.sum(E.entropy_surrogate(factors, epsilon=epsilon))


def old_conv(kernel, grid, output_positions, lam, epsilon=EPS):
    """The stabilized normalized conv penalty before issue 24: no minimum subtracted."""
    h, w = grid
    real, imag, weights = V._transfer(kernel, grid)
    k = real.shape[-1]
    ar, ai = keras.ops.transpose(real, (0, 2, 1)), keras.ops.transpose(imag, (0, 2, 1))
    gram_re = keras.ops.matmul(ar, real) + keras.ops.matmul(ai, imag)
    gram_im = keras.ops.matmul(ar, imag) - keras.ops.matmul(ai, real)
    gram = V._embed(gram_re, gram_im)
    norm = keras.ops.sqrt(keras.ops.sum(keras.ops.square(gram), axis=(1, 2)) / 2.0)
    delta = keras.ops.stop_gradient(epsilon**2 + 2 * k * V.FLOAT32_EPS * norm)
    chol = keras.ops.cholesky(gram + delta[:, None, None] * keras.ops.eye(2 * k, dtype="float32"))
    factors = V._diag(chol)[:, ::2]
    trace = keras.ops.sum(V._diag(gram_re), axis=-1) + k * delta
    factors = factors / keras.ops.sqrt(keras.ops.sum(weights * trace) / (h * w * k))
    per_freq = keras.ops.sum(E.entropy_surrogate(factors, epsilon=epsilon), axis=-1)
    return lam * output_positions * keras.ops.sum(weights * per_freq) / (h * w)


def floor(lam, k, output_positions=1, epsilon=EPS):
    """The old route's value at the optimum, `lam N_out k / (1 + eps)`: what is subtracted."""
    return lam * output_positions * k / (1.0 + epsilon)


@pytest.mark.parametrize("shape", [(100, 30), (30, 100), (784, 100), (7, 7)])
@pytest.mark.parametrize("scale", [0.05, 3.0])
def test_dense_normalized_is_zero_at_scaled_isometries(rng, shape, scale):
    kernel = scaled_isometry(rng, shape, scale)
    k = min(shape)
    for lam in (1e-2, 1.0, -0.5):
        value = to_numpy(E.dense_volume_penalty(kernel, lam=lam, form="normalized"))
        np.testing.assert_allclose(value, 0.0, atol=2e-6 * floor(abs(lam), k), err_msg=f"lam={lam}")
    regularizer = ke.DenseEntropy(1e-2, form="normalized")
    np.testing.assert_allclose(to_numpy(regularizer(kernel)), 0.0, atol=2e-6 * floor(1e-2, k))


@pytest.mark.parametrize("channels", [(6, 4), (4, 6), (3, 3)])
def test_conv_normalized_is_zero_where_every_transfer_matrix_is_one_scaled_isometry(rng, channels):
    kernel = paraunitary_conv(rng, *channels, scale=0.4)
    k = min(channels)
    for grid, n_out in [((5, 7), 35), ((16, 16), 30), ((3, 3), 1)]:
        # It is the optimum: the exact normalized change is 0 there too.
        np.testing.assert_allclose(to_numpy(E.conv_volume_change(kernel, form="normalized", grid=grid)), 0.0, atol=1e-3)
        value = to_numpy(E.conv_volume_penalty(kernel, lam=0.7, output_positions=n_out, form="normalized", grid=grid))
        np.testing.assert_allclose(value, 0.0, atol=2e-6 * floor(0.7, k, n_out), err_msg=f"{grid}")
    regularizer = ke.ConvEntropy(1e-2, output_shape=(8, 8), form="normalized", grid=(8, 8))
    np.testing.assert_allclose(to_numpy(regularizer(kernel)), 0.0, atol=2e-6 * floor(1e-2, k, 64))


def test_model_at_scaled_isometry_has_zero_normalized_losses(rng):
    model = keras.Sequential(
        [
            keras.Input((8, 8, 4)),
            ke.EntropyConv2D(6, 3, lam=1e-2, form="normalized", padding="same"),
            keras.layers.Conv2D(4, 3, kernel_regularizer=ke.ConvEntropy(1e-2, form="normalized")),
            keras.layers.Flatten(),
            ke.EntropyDense(100, lam=1e-2, form="normalized"),
            keras.layers.Dense(30, kernel_regularizer=ke.DenseEntropy(1e-2, form="normalized")),
        ]
    )
    conv_a, conv_b, _, dense_a, dense_b = model.layers
    conv_a.kernel.assign(paraunitary_conv(rng, 4, 6, 0.3))
    conv_b.kernel.assign(paraunitary_conv(rng, 6, 4, 2.0))
    dense_a.kernel.assign(scaled_isometry(rng, (144, 100), 0.1))
    dense_b.kernel.assign(scaled_isometry(rng, (100, 30), 5.0))
    model(np.ones((1, 8, 8, 4), "float32"))
    losses = [float(to_numpy(loss)) for loss in model.losses]
    assert len(losses) == 4
    old = floor(1e-2, 4, 64) + floor(1e-2, 4, 36) + floor(1e-2, 100) + floor(1e-2, 30)
    np.testing.assert_allclose(losses, 0.0, atol=2e-6 * old)


def test_normalized_penalty_is_never_below_its_minimum(rng):
    for shape in [(20, 6), (6, 20)]:
        for scale in (1e-4, 0.1, 10.0):
            kernel = (scale * rng.normal(size=shape)).astype("float32")
            assert to_numpy(E.dense_volume_penalty(kernel, lam=1.0, form="normalized")) > 0
            assert to_numpy(E.dense_volume_penalty(kernel, lam=-1.0, form="normalized")) < 0
    kernel = rng.normal(size=(3, 3, 2, 4)).astype("float32")
    assert to_numpy(E.conv_volume_penalty(kernel, lam=1.0, output_positions=30, form="normalized", grid=(6, 5))) > 0


@pytest.mark.parametrize("shape", [(9, 4), (4, 9)])
def test_dense_gradients_equal_the_old_route(rng, shape):
    kernel = (rng.normal(size=shape) / 3).astype("float32")
    new, new_grad = value_and_grad(lambda k: E.dense_volume_penalty(k, lam=0.3, form="normalized"), kernel)
    old, old_grad = value_and_grad(lambda k: old_dense(k, 0.3), kernel)
    np.testing.assert_allclose(new + floor(0.3, min(shape)), old, rtol=1e-5)
    np.testing.assert_allclose(new_grad, old_grad, rtol=1e-5, atol=1e-6 * np.abs(old_grad).max())
    assert np.abs(new_grad).max() > 0


@pytest.mark.parametrize("shape", [(3, 3, 2, 4), (2, 3, 4, 2)])
def test_conv_gradients_equal_the_old_route(rng, shape):
    kernel = (rng.normal(size=shape) / 3).astype("float32")
    grid = (5, 6)
    new, new_grad = value_and_grad(
        lambda k: E.conv_volume_penalty(k, lam=0.3, output_positions=12, form="normalized", grid=grid), kernel
    )
    old, old_grad = value_and_grad(lambda k: old_conv(k, grid, 12, 0.3), kernel)
    np.testing.assert_allclose(new + floor(0.3, 2, 12), old, rtol=1e-5)
    np.testing.assert_allclose(new_grad, old_grad, rtol=1e-5, atol=1e-6 * np.abs(old_grad).max())
    assert np.abs(new_grad).max() > 0


def test_other_forms_have_no_constant_floor(rng):
    """Stabilized paper and volume: positive, tending to 0 as the kernel grows; exact normalized: 0 at the optimum."""
    for shape in [(12, 5), (5, 12)]:
        small, large = scaled_isometry(rng, shape, 1.0), scaled_isometry(rng, shape, 1e4)
        for form in ("paper", "volume"):
            values = [to_numpy(ke.DenseEntropy(1.0, form=form)(k)) for k in (small, large)]
            assert values[0] > values[1] > 0, form
        exact = ke.DenseEntropy(1.0, stabilized=False, form="normalized")
        np.testing.assert_allclose(to_numpy(exact(small)), 0.0, atol=1e-5)
    per_factor = ke.DenseEntropy(np.linspace(0.1, 1.0, 5), form="paper")
    assert to_numpy(per_factor(1e4 * np.eye(5, dtype="float32"))) < 1e-3
    conv = paraunitary_conv(rng, 4, 4, 1.0)
    for form in ("paper", "volume"):
        regularizer = ke.ConvEntropy(np.linspace(0.1, 1.0, 4) if form == "paper" else 1.0, form=form, grid=(4, 4))
        values = [to_numpy(regularizer(scale * conv)) for scale in (1.0, 1e4)]
        assert values[0] > values[1] > 0, form
    exact = ke.ConvEntropy(1.0, stabilized=False, form="normalized", grid=(4, 4))
    np.testing.assert_allclose(to_numpy(exact(conv)), 0.0, atol=1e-4)

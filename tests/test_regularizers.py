"""The entropy penalties as Keras regularizers: DenseEntropy, ConvEntropy, KLSparsity."""

import keras
import numpy as np
import pytest

import keras_entropy as ke
from helpers import assert_raises_naming, to_numpy
from keras_entropy import ops as E

pytestmark = pytest.mark.every_backend


# --- values inside models --------------------------------------------------


def test_dense_entropy_regularizer_in_a_dense_layer(rng):
    layer = keras.layers.Dense(20, kernel_regularizer=ke.DenseEntropy(0.5))
    layer.build((None, 50))
    (term,) = layer.losses
    np.testing.assert_allclose(to_numpy(term), 0.5 * to_numpy(E.dense_entropy_penalty(layer.kernel)), rtol=1e-6)


def test_dense_entropy_per_factor_lam(rng):
    kernel = rng.normal(size=(30, 10)).astype("float32")
    lam = np.linspace(-1, 1, 10).astype("float32")
    got = to_numpy(ke.DenseEntropy(lam)(kernel))
    factors = to_numpy(E.dense_entropy_factors(kernel))
    np.testing.assert_allclose(got, np.sum(lam / (factors + 1e-3)), rtol=1e-5)
    # The exact form uses the exact factors |r_jj| of S = QR (no jitter).
    exact_factors = np.abs(np.diag(np.linalg.qr(kernel[:10, :10].astype("float64"), mode="r")))
    exact = to_numpy(ke.DenseEntropy(lam, stabilized=False)(kernel))
    np.testing.assert_allclose(exact, -np.sum(lam * np.log(exact_factors)), rtol=1e-5)


def test_conv_entropy_output_shape_sets_n_out(rng):
    kernel = rng.normal(size=(3, 3, 3, 8)).astype("float32")
    per_position = to_numpy(ke.ConvEntropy(0.1, stabilized=False)(kernel))
    full = to_numpy(ke.ConvEntropy(0.1, output_shape=(30, 28), stabilized=False)(kernel))
    np.testing.assert_allclose(full, 840 * per_position, rtol=1e-5)
    np.testing.assert_allclose(per_position, -0.1 * np.sum(np.log(np.abs(kernel[0, 0]))), rtol=1e-5)


def test_kl_sparsity_term_in_model_losses_is_exactly_p(rng):
    layer = keras.layers.Dense(12, activation="sigmoid", activity_regularizer=ke.KLSparsity(rho=0.1, beta=2.0))
    x = rng.normal(size=(16, 5)).astype("float32")
    a = to_numpy(layer(x))
    (term,) = layer.losses
    want = to_numpy(E.kl_sparsity_penalty(a, rho=0.1, beta=2.0))
    np.testing.assert_allclose(to_numpy(term), want, rtol=1e-5)


# --- argument validation ----------------------------------------------------


@pytest.mark.parametrize(
    "make, error, words",
    [
        (lambda: ke.DenseEntropy(1.0, epsilon=-1e-3), ValueError, ["epsilon", "-0.001"]),
        (lambda: ke.ConvEntropy(1.0, epsilon=float("nan")), ValueError, ["epsilon", "nan"]),
        (lambda: ke.DenseEntropy("big"), TypeError, ["lam", "'big'"]),
        (lambda: ke.ConvEntropy(float("nan")), ValueError, ["lam", "nan"]),
        (lambda: ke.DenseEntropy([1.0, float("nan")]), ValueError, ["lam", "nan"]),
        (lambda: ke.ConvEntropy(0.1, output_shape=(0, 3)), ValueError, ["output_shape", "(0, 3)"]),
        (lambda: ke.ConvEntropy(0.1, stabilized="yes"), TypeError, ["stabilized", "'yes'"]),
        (lambda: ke.KLSparsity(rho=1.5), ValueError, ["rho", "1.5"]),
        (lambda: ke.KLSparsity(rho=0.0), ValueError, ["rho", "0.0"]),
        (lambda: ke.KLSparsity(beta=0.0), ValueError, ["beta", "0.0"]),
        (lambda: ke.KLSparsity(beta=-2), ValueError, ["beta", "-2"]),
    ],
)
def test_bad_arguments_raise_naming_argument_and_value(make, error, words):
    assert_raises_naming(make, error, words)


def test_negative_lam_is_valid():
    assert ke.DenseEntropy(-0.5).lam == -0.5
    assert ke.ConvEntropy(-2).lam == -2.0


def test_conv_entropy_rejects_rank_2_kernel():
    with pytest.raises(ValueError, match=r"rank-4.*shape=\(5, 4\)"):
        ke.ConvEntropy(0.1)(np.ones((5, 4), "float32"))


def test_dense_entropy_rejects_rank_4_kernel():
    with pytest.raises(ValueError, match=r"rank-2.*shape=\(3, 3, 2, 4\)"):
        ke.DenseEntropy(0.1)(np.ones((3, 3, 2, 4), "float32"))


def test_per_filter_lam_must_fit_the_kernel():
    with pytest.raises(ValueError, match=r"lam.*\(2, 4\).*shape=\(3,\)"):
        ke.ConvEntropy([0.1, 0.2, 0.3])(np.ones((3, 3, 2, 4), "float32"))
    with pytest.raises(ValueError, match=r"lam.*\(6,\).*shape=\(5,\)"):
        ke.DenseEntropy(np.ones(5))(np.ones((10, 6), "float32"))
    # Inside a layer the check runs where Keras evaluates the penalty.
    layer = keras.layers.Conv2D(4, 3, kernel_regularizer=ke.ConvEntropy(np.ones(3)))
    layer(np.ones((1, 5, 5, 2), "float32"))
    with pytest.raises(ValueError, match=r"lam.*\(2, 4\)"):
        _ = layer.losses

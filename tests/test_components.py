"""Regularizers, layers and the loss as Keras components."""

import math

import keras
import numpy as np
import pytest
from conftest import to_numpy

import keras_entropy as ke
from keras_entropy import datasets
from keras_entropy import ops as E
from keras_entropy.experiments import flatten_images

# --- values inside models --------------------------------------------------


def test_dense_entropy_regularizer_in_a_dense_layer(rng):
    layer = keras.layers.Dense(20, kernel_regularizer=ke.DenseEntropy(0.5))
    layer.build((None, 50))
    (term,) = layer.losses
    np.testing.assert_allclose(
        to_numpy(term), 0.5 * to_numpy(E.dense_entropy_penalty(layer.kernel)), rtol=1e-6
    )


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
    np.testing.assert_allclose(
        per_position, -0.1 * np.sum(np.log(np.abs(kernel[0, 0]))), rtol=1e-5
    )


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_entropy_conv2d_uses_real_output_positions(data_format):
    layer = ke.EntropyConv2D(6, 3, lam=0.2, strides=2, data_format=data_format)
    shape = (2, 17, 13, 3) if data_format == "channels_last" else (2, 3, 17, 13)
    outputs = layer(np.ones(shape, "float32"))
    n_out = 8 * 6  # ((17-3)//2+1) * ((13-3)//2+1)
    spatial = outputs.shape[1:3] if data_format == "channels_last" else outputs.shape[2:]
    assert tuple(spatial) == (8, 6)
    (term,) = layer.losses
    want = to_numpy(E.conv_entropy_penalty(layer.kernel, 0.2, n_out))
    np.testing.assert_allclose(to_numpy(term), want, rtol=1e-6)


def test_entropy_conv2d_with_unknown_spatial_size_in_a_model():
    model = keras.Sequential(
        [keras.Input((None, None, 1)), ke.EntropyConv2D(2, 3, lam=1.0, stabilized=False)]
    )
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
    want = sorted([0.1 * float(np.sum(kernel**2)),
                   0.3 * float(to_numpy(E.dense_entropy_penalty(kernel)))])
    np.testing.assert_allclose(values, want, rtol=1e-5)


def test_kl_sparsity_term_in_model_losses_is_exactly_p(rng):
    layer = keras.layers.Dense(
        12, activation="sigmoid", activity_regularizer=ke.KLSparsity(rho=0.1, beta=2.0)
    )
    x = rng.normal(size=(16, 5)).astype("float32")
    a = to_numpy(layer(x))
    (term,) = layer.losses
    want = to_numpy(E.kl_sparsity_penalty(a, 0.1, 2.0))
    np.testing.assert_allclose(to_numpy(term), want, rtol=1e-5)


def test_softmax_entropy_loss_object_and_unsupervised_fit_on_real_digits():
    """An unsupervised fit on real MNIST digits lowers the mean entropy and
    keeps the batch-mean distribution near uniform."""
    x = flatten_images(datasets.load_embedded_mnist().x_train[:2048])
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(10)])
    loss = ke.SoftmaxEntropyLoss(beta=1.0, balance=1.0)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=loss)

    def stats():
        out = to_numpy(model.predict(x, verbose=0))
        z = -out - (-out).max(axis=1, keepdims=True)
        q = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        mean_h = -(q * np.log(q + 1e-12)).sum(axis=1).mean()
        q_bar = q.mean(axis=0)
        return mean_h, -(q_bar * np.log(q_bar)).sum()

    h_before, _ = stats()
    model.fit(x, epochs=4, batch_size=256, verbose=0)
    h_after, marginal_after = stats()
    assert h_after < 0.6 * h_before
    assert marginal_after > 0.9 * math.log(10)


def test_softmax_entropy_loss_ignores_labels(rng):
    x = rng.normal(size=(8, 5)).astype("float32")
    loss = ke.SoftmaxEntropyLoss(beta=2.0, balance=0.3)
    a = to_numpy(loss(None, x))
    b = to_numpy(loss(np.zeros((8,)), x))
    np.testing.assert_allclose(a, b)
    np.testing.assert_allclose(a, to_numpy(E.softmax_entropy_clustering_loss(x, 2.0, 0.3)))


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
        (lambda: ke.SoftmaxEntropyLoss(beta=0), ValueError, ["beta", "0"]),
        (lambda: ke.SoftmaxEntropyLoss(balance=-1), ValueError, ["balance", "-1"]),
        (lambda: ke.EntropyDense(3, lam="x"), TypeError, ["lam", "'x'"]),
        (lambda: ke.EntropyConv2D(3, 3, epsilon=0), ValueError, ["epsilon", "0"]),
    ],
)
def test_bad_arguments_raise_naming_argument_and_value(make, error, words):
    with pytest.raises(error) as info:
        make()
    for word in words:
        assert word in str(info.value)


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
        layer.losses

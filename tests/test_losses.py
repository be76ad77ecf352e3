"""SoftmaxEntropyLoss: the unsupervised clustering loss as a Keras loss."""

import math

import keras
import numpy as np
import pytest

import keras_entropy as ke
from helpers import assert_raises_naming, to_numpy
from keras_entropy import ops as E
from keras_entropy.experiments import datasets
from keras_entropy.experiments.autoencoder import flatten_images

pytestmark = pytest.mark.every_backend


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
    np.testing.assert_allclose(a, to_numpy(E.softmax_entropy_clustering_loss(x, beta=2.0, balance=0.3)))


@pytest.mark.parametrize(
    "make, error, words",
    [
        (lambda: ke.SoftmaxEntropyLoss(beta=0), ValueError, ["beta", "0"]),
        (lambda: ke.SoftmaxEntropyLoss(balance=-1), ValueError, ["balance", "-1"]),
    ],
)
def test_bad_arguments_raise_naming_argument_and_value(make, error, words):
    assert_raises_naming(make, error, words)

"""A penalty on the wrong kernel fails early, naming the layer (issue 24).

Wrong rank or a `lam` array of the wrong shape: a `ValueError` whose message has
the kernel variable's path (`"<model>/<layer>/kernel"`) and the kernel's shape, when
`EntropyDense` / `EntropyConv2D` build and when `place_penalties` places the penalty;
for a plain Keras layer's `kernel_regularizer=`, when Keras first computes the
model's losses (`model.losses`, or the first `fit`). Tested eagerly: inside a jitted
JAX step a kernel is a tracer without a path.
"""

import re

import keras
import numpy as np
import pytest

import keras_entropy as ke

pytestmark = pytest.mark.every_backend


def raises_naming(*words):
    """`pytest.raises(ValueError)` whose message contains every word, in order."""
    return pytest.raises(ValueError, match=".*".join(re.escape(w) for w in words))


def test_dense_penalty_on_a_conv2d_fails_at_model_losses_naming_the_layer():
    regularizer = ke.DenseEntropy(0.01)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(4, 3, name="conv", kernel_regularizer=regularizer),
            keras.layers.Flatten(),
            keras.layers.Dense(2),
        ],
        name="net",
    )
    model.compile("adam", "mse")  # builds and compiles: Keras calls no regularizer before its losses
    with raises_naming("DenseEntropy", "rank-2", "ConvEntropy", "'net/conv/kernel'", "shape=(3, 3, 1, 4)"):
        _ = model.losses
    with raises_naming("'net/conv/kernel'", "shape=(3, 3, 1, 4)"):
        model.fit(np.ones((4, 8, 8, 1), "float32"), np.ones((4, 2), "float32"), verbose=0)
    with raises_naming("'net/conv/kernel'", "shape=(3, 3, 1, 4)"):
        regularizer.check(model.get_layer("conv").kernel)


def test_conv_penalty_on_a_dense_fails_at_model_losses_naming_the_layer():
    head = keras.layers.Dense(3, name="head", kernel_regularizer=ke.ConvEntropy())
    model = keras.Sequential([keras.Input((6,)), head])
    with raises_naming("ConvEntropy", "rank-4", "DenseEntropy", "head/kernel", "shape=(6, 3)"):
        _ = model.losses


def test_lam_of_the_wrong_shape_names_the_layer_and_both_shapes():
    model = keras.Sequential(
        [
            keras.Input((8, 8, 2)),
            keras.layers.Conv2D(4, 3, name="conv", kernel_regularizer=ke.ConvEntropy(np.ones(3))),
            keras.layers.Flatten(),
            keras.layers.Dense(5, name="dense", kernel_regularizer=ke.DenseEntropy(np.ones(4))),
        ]
    )
    with raises_naming("ConvEntropy", "lam", "(2, 4)", "shape=(3,)", "conv/kernel", "shape=(3, 3, 2, 4)"):
        _ = model.losses
    model.get_layer("conv").kernel.regularizer = ke.ConvEntropy(np.ones(4))
    with raises_naming("DenseEntropy", "lam", "(5,)", "shape=(4,)", "dense/kernel", "shape=(144, 5)"):
        _ = model.losses


def test_entropy_layers_fail_when_built():
    with raises_naming("DenseEntropy", "lam", "(3,)", "shape=(4,)", "encoder/kernel", "shape=(5, 3)"):
        keras.Sequential([keras.Input((5,)), ke.EntropyDense(3, lam=np.ones(4), name="encoder")])
    layer = ke.EntropyConv2D(3, 3, lam=np.ones(4), name="stem")
    with raises_naming("ConvEntropy", "lam", "(2, 3)", "shape=(4,)", "stem/kernel", "shape=(3, 3, 2, 3)"):
        layer.build((None, 8, 8, 2))
    # Fitting arrays build fine.
    ke.EntropyDense(3, lam=np.ones(3)).build((None, 5))
    ke.EntropyConv2D(3, 3, lam=np.ones(3)).build((None, 8, 8, 2))


def test_place_penalties_fails_naming_the_layer_before_changing_anything():
    model = keras.Sequential(
        [keras.Input((8, 8, 2)), keras.layers.Conv2D(4, 3, name="stem"), keras.layers.Flatten(), keras.layers.Dense(5)]
    )
    with raises_naming("Layer 'stem'", "lam", "(2, 4)", "shape=(7,)", "stem/kernel", "shape=(3, 3, 2, 4)"):
        ke.place_penalties(model, ["stem"], lam=np.ones(7))
    assert model.losses == []
    for form in ("paper", "volume", "normalized"):
        ke.place_penalties(model, "all", lam=0.1, form=form)
        assert len(model.losses) == 2


def test_check_returns_the_shape_and_leaves_values_unchanged():
    kernel = np.random.default_rng(0).normal(size=(6, 4)).astype("float32")
    dense = ke.DenseEntropy(np.ones(4))
    assert dense.check(kernel) == (6, 4)
    expected = ke.ops.dense_entropy_penalty(kernel, lam=np.ones(4, "float32"))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(dense(kernel)), keras.ops.convert_to_numpy(expected))
    assert ke.ConvEntropy(np.ones(3)).check(np.ones((3, 3, 2, 3), "float32")) == (3, 3, 2, 3)

"""Every component trains inside compiled training steps (issue 9, point 1).

`model.compile(jit_compile=True)` compiles the whole training step with XLA
on TensorFlow (Keras's default on GPUs), jits it on JAX (always XLA) and
runs it through `torch.compile` on PyTorch. Each test builds a real model
with one component (on PyTorch one model with all of them), takes one
training step compiled and one eagerly from the same initial weights and
data, and checks that both give the same update: the penalty is really part
of the compiled step, and compiles to the same numbers; `EntropyMonitor` and
`entropy_profile` run on the compiled model. Under the `mixed_float16`
policy the compiled step must train and stay finite, with the penalty in
float32 (TensorFlow and JAX).
"""

import keras
import numpy as np
import pytest

import keras_entropy as ke
from helpers import to_numpy

pytestmark = pytest.mark.every_backend

BACKEND = keras.backend.backend()


def _dense_model(regularizer=None, activity=None, layer=None):
    # An orthogonal kernel keeps the square part well conditioned, so that
    # float32 rounding differences between compiled and eager kernels stay
    # at rounding level in the penalty's gradient.
    inputs = keras.Input((12,))
    if layer is None:
        layer = keras.layers.Dense(
            8,
            activation="sigmoid",
            kernel_regularizer=regularizer,
            activity_regularizer=activity,
            kernel_initializer="orthogonal",
        )
    hidden = layer(inputs)
    outputs = keras.layers.Dense(12, dtype="float32")(hidden)
    return keras.Model(inputs, outputs)


def _conv_model(regularizer=None, layer=None):
    inputs = keras.Input((8, 8, 2))
    if layer is None:
        layer = keras.layers.Conv2D(4, 3, kernel_regularizer=regularizer)
    hidden = keras.layers.Flatten()(layer(inputs))
    outputs = keras.layers.Dense(3, dtype="float32")(hidden)
    return keras.Model(inputs, outputs)


def _clustering_model():
    return keras.Sequential([keras.Input((12,)), keras.layers.Dense(5, dtype="float32")])


def _all_components_model():
    """One model with every component (PyTorch: one `torch.compile` for all)."""
    inputs = keras.Input((8, 8, 2))
    x = ke.EntropyConv2D(4, 3, lam=1e-5)(inputs)
    x = keras.layers.Conv2D(4, 3, kernel_regularizer=ke.ConvEntropy(1e-3, output_shape=(4, 4), stabilized=False))(x)
    x = keras.layers.Flatten()(x)
    x = ke.EntropyDense(8, lam=0.05, stabilized=False, activation="sigmoid", kernel_initializer="orthogonal")(x)
    x = keras.layers.Dense(
        8,
        activation="sigmoid",
        kernel_initializer="orthogonal",
        kernel_regularizer=ke.DenseEntropy(0.05),
        activity_regularizer=ke.KLSparsity(rho=0.1, beta=2.0),
    )(x)
    outputs = keras.layers.Dense(5, dtype="float32")(x)
    return keras.Model(inputs, outputs)


BUILDERS = {
    "all-components": _all_components_model,
    "DenseEntropy-stabilized": lambda: _dense_model(ke.DenseEntropy(0.05)),
    "DenseEntropy-exact": lambda: _dense_model(ke.DenseEntropy(0.05, stabilized=False)),
    "ConvEntropy-stabilized": lambda: _conv_model(ke.ConvEntropy(1e-5, output_shape=(6, 6))),
    "ConvEntropy-exact": lambda: _conv_model(ke.ConvEntropy(1e-3, output_shape=(6, 6), stabilized=False)),
    "EntropyDense-stabilized": lambda: _dense_model(
        layer=ke.EntropyDense(8, lam=0.05, activation="sigmoid", kernel_initializer="orthogonal")
    ),
    "EntropyDense-exact": lambda: _dense_model(
        layer=ke.EntropyDense(8, lam=0.05, stabilized=False, activation="sigmoid", kernel_initializer="orthogonal")
    ),
    "EntropyConv2D-stabilized": lambda: _conv_model(layer=ke.EntropyConv2D(4, 3, lam=1e-5)),
    "EntropyConv2D-exact": lambda: _conv_model(layer=ke.EntropyConv2D(4, 3, lam=1e-3, stabilized=False)),
    "KLSparsity": lambda: _dense_model(activity=ke.KLSparsity(rho=0.1, beta=2.0)),
    "SoftmaxEntropyLoss": _clustering_model,
}


UNSUPERVISED = ("SoftmaxEntropyLoss", "all-components")

#: PyTorch compiles (`torch.compile`) each model for tens of seconds on a CPU:
#: there, one model carries every component.
COMPONENTS = sorted(BUILDERS) if BACKEND != "torch" else ["all-components"]


def _data(name):
    rng = np.random.default_rng(7)
    if name.startswith(("Conv", "EntropyConv", "all")):
        x = rng.normal(size=(32, 8, 8, 2)).astype("float32")
        y = rng.normal(size=(32, 3)).astype("float32")
    else:
        x = rng.uniform(size=(32, 12)).astype("float32")
        y = x
    return x, y


def _train(name, jit_compile, initial_weights=None, epochs=2, batch_size=16, callbacks=()):
    model = BUILDERS[name]()
    if initial_weights is not None:
        model.set_weights(initial_weights)
    loss = ke.SoftmaxEntropyLoss(beta=2.0, balance=0.5) if name in UNSUPERVISED else "mse"
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss=loss, jit_compile=jit_compile)
    x, y = _data(name)
    if name in UNSUPERVISED:
        history = model.fit(
            x, epochs=epochs, batch_size=batch_size, shuffle=False, verbose=0, callbacks=list(callbacks)
        )
    else:
        history = model.fit(
            x, y, epochs=epochs, batch_size=batch_size, shuffle=False, verbose=0, callbacks=list(callbacks)
        )
    return model, history


def _penalty_terms(model, name):
    model(_data(name)[0][:4])  # an eager call refreshes the layers' add_loss terms
    return [to_numpy(term) for term in model.losses]


@pytest.mark.parametrize("name", COMPONENTS)
def test_component_compiled_step_equals_eager_step(name):
    """One compiled training step gives the eager step's weights (float32).

    One step only, and the steps are compared (to 1e-3 of the largest
    update): XLA's and the eager kernels round differently in float32, and a
    penalty whose factor is small (the stabilized dense surrogate's gradient
    goes as `1 / (r + eps)**2`) amplifies that into the update.
    """
    init = BUILDERS[name]().get_weights()
    monitor = ke.EntropyMonitor(every_n_batches=1)
    compiled, history = _train(
        name, jit_compile=True, initial_weights=init, epochs=1, batch_size=32, callbacks=[monitor]
    )
    assert compiled.jit_compile is True
    assert np.isfinite(history.history["loss"][0])
    # EntropyMonitor and entropy_profile read the compiled model's weights.
    profile = ke.entropy_profile(compiled)
    assert profile and all(np.isfinite(layer.total) for layer in profile)
    epoch_values = [history.history[f"entropy/{layer.name}"][0] for layer in profile]
    np.testing.assert_allclose(epoch_values, [layer.total for layer in profile], rtol=1e-5)
    assert all(len(series) == 1 for series in monitor.batch_history.values())
    eager, _ = _train(name, jit_compile=False, initial_weights=init, epochs=1, batch_size=32)
    for w_compiled, w_eager, w_init in zip(compiled.get_weights(), eager.get_weights(), init):
        step_compiled, step_eager = w_compiled - w_init, w_eager - w_init
        scale = np.abs(step_eager).max()
        assert scale > 0  # it trained
        np.testing.assert_allclose(step_compiled, step_eager, rtol=1e-3, atol=1e-3 * scale)


@pytest.mark.parametrize("policy", ["mixed_float16"])
@pytest.mark.parametrize("name", COMPONENTS)
def test_component_trains_compiled(name, policy):
    """Compiled training runs, stays finite and keeps the penalty in float32.

    Under `mixed_float16` Keras wraps the optimizer in a `LossScaleOptimizer`,
    which skips the first steps while it lowers the loss scale: enough steps
    for the weights to move are run.
    """
    keras.config.set_dtype_policy(policy)
    init = BUILDERS[name]().get_weights()
    model, history = _train(name, jit_compile=True, initial_weights=init, epochs=5, batch_size=4)
    assert model.jit_compile is True
    assert all(np.isfinite(history.history["loss"])), history.history
    for weight, w_init in zip(model.get_weights(), init):
        assert np.all(np.isfinite(weight))
        assert not np.allclose(weight, w_init)  # it trained
    if name not in ("SoftmaxEntropyLoss",):
        terms = _penalty_terms(model, name)
        assert terms and all(np.isfinite(t) and t.dtype == np.float32 for t in terms)


def test_exact_dense_penalty_changes_the_compiled_step():
    """The exact dense penalty (no `slogdet`: no XLA kernel on TensorFlow) acts.

    With and without the penalty, compiled training from the same weights
    ends at different weights; with it, `log|det S|` of the kernel grows
    (the penalty removes entropy loss).
    """
    init = BUILDERS["DenseEntropy-exact"]().get_weights()
    penalised, _ = _train("DenseEntropy-exact", True, init, epochs=5)
    plain = _dense_model()
    plain.set_weights(init)
    plain.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse", jit_compile=True)
    x, y = _data("DenseEntropy-exact")
    plain.fit(x, y, epochs=5, batch_size=16, shuffle=False, verbose=0)
    kernel_init, kernel_pen, kernel_plain = init[0], penalised.get_weights()[0], plain.get_weights()[0]
    logdet = lambda k: float(to_numpy(ke.ops.dense_entropy_change(k)))  # noqa: E731
    assert logdet(kernel_pen) > logdet(kernel_plain)
    assert logdet(kernel_pen) > logdet(kernel_init)


if BACKEND == "torch":
    # On PyTorch, Keras's `jit_compile=True` is `torch.compile`: the compiled
    # float16 CPU step of the all-components model takes about 4 minutes and
    # each further model about 40 s, so PyTorch runs the compiled step test
    # only (mixed precision is tested eagerly in test_saving_and_precision.py).
    del test_component_trains_compiled, test_exact_dense_penalty_changes_the_compiled_step

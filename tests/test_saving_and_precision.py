"""Saving to `.keras`, mixed precision, and equal values across backends."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import keras_entropy as ke
from helpers import model_with_every_component, to_numpy

pytestmark = pytest.mark.every_backend


def test_every_component_round_trips_through_a_keras_file(tmp_path, rng):
    x = rng.uniform(size=(32, 12, 12, 1)).astype("float32")
    model = model_with_every_component()
    model.fit(x, epochs=1, batch_size=16, verbose=0)
    path = os.path.join(tmp_path, "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)

    np.testing.assert_array_equal(to_numpy(model.predict(x, verbose=0)), to_numpy(loaded.predict(x, verbose=0)))
    loss = model.evaluate(x, batch_size=32, verbose=0)
    loaded_loss = loaded.evaluate(x, batch_size=32, verbose=0)
    assert np.isfinite(loss)
    assert loss == loaded_loss
    # Four entropy terms and one activity term, identical after reloading.
    model(x)
    loaded(x)
    terms = sorted(float(to_numpy(t)) for t in model.losses)
    assert len(terms) == 5
    assert terms == sorted(float(to_numpy(t)) for t in loaded.losses)
    # The configuration survives too, per-filter strengths included.
    conv = loaded.layers[2].kernel_regularizer
    assert isinstance(conv, ke.ConvEntropy)
    assert conv.get_config() == model.layers[2].kernel_regularizer.get_config()
    assert isinstance(loaded.loss, ke.SoftmaxEntropyLoss) and loaded.loss.beta == 2.0


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_penalties_are_finite_float32_under_mixed_precision(policy, rng):
    keras.config.set_dtype_policy(policy)
    model = keras.Sequential(
        [
            keras.Input((10, 10, 3)),
            ke.EntropyConv2D(4, 3, lam=0.1),
            keras.layers.Conv2D(4, 3, kernel_regularizer=ke.ConvEntropy(0.1, stabilized=False)),
            keras.layers.Flatten(),
            ke.EntropyDense(8, lam=0.1, activation="sigmoid", activity_regularizer=ke.KLSparsity()),
            keras.layers.Dense(6, kernel_regularizer=ke.DenseEntropy(0.1, stabilized=False)),
        ]
    )
    outputs = model(rng.uniform(size=(4, 10, 10, 3)).astype("float32"))
    assert keras.backend.standardize_dtype(outputs.dtype) != "float32"  # really mixed
    assert len(model.losses) == 5
    for term in model.losses:
        assert keras.backend.standardize_dtype(term.dtype) == "float32"
        assert np.isfinite(to_numpy(term))
    loss = ke.SoftmaxEntropyLoss()(None, outputs)
    assert np.isfinite(to_numpy(loss))
    # The half-precision activations give the same KL value as float32 ones.
    half = keras.ops.cast(rng.uniform(size=(8, 5)), keras.config.dtype_policy().compute_dtype)
    np.testing.assert_allclose(
        to_numpy(ke.ops.kl_sparsity_penalty(half)),
        to_numpy(ke.ops.kl_sparsity_penalty(keras.ops.cast(half, "float32"))),
        rtol=1e-6,
    )


def test_one_mixed_precision_fit_step_stays_finite(rng):
    keras.config.set_dtype_policy("mixed_float16" if keras.backend.backend() != "jax" else "mixed_bfloat16")
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            ke.EntropyConv2D(3, 3, lam=0.01),
            keras.layers.Flatten(),
            ke.EntropyDense(6, lam=0.01),
        ]
    )
    model.compile(optimizer="adam", loss=ke.SoftmaxEntropyLoss())
    history = model.fit(rng.uniform(size=(16, 8, 8, 1)).astype("float32"), epochs=2, batch_size=8, verbose=0)
    assert all(np.isfinite(history.history["loss"]))


# --- equal values across backends ---------------------------------------------

VALUES_SCRIPT = r"""
import json, numpy as np, keras_entropy as ke
from keras_entropy import ops as E
rng = np.random.default_rng(42)
dense = rng.uniform(-0.0758, 0.0758, (784, 260)).astype("float32")
conv = rng.normal(0, 0.1, (3, 3, 3, 16)).astype("float32")
acts = rng.uniform(0, 1, (64, 32)).astype("float32")
logits = rng.normal(0, 3, (64, 10)).astype("float32")
out = {
  "dense_change": float(E.dense_entropy_change(dense)),
  "dense_exact": float(ke.DenseEntropy(1.0, stabilized=False)(dense)),
  "dense_stabilized": float(ke.DenseEntropy(1.0)(dense)),
  "conv_change": np.asarray(E.conv_entropy_change(conv, output_positions=900)).sum().item(),
  "conv_exact": float(ke.ConvEntropy(1.0, output_shape=(30, 30), stabilized=False)(conv)),
  "conv_stabilized": float(ke.ConvEntropy(1.0, output_shape=(30, 30))(conv)),
  "kl": float(E.kl_sparsity_penalty(acts, rho=0.05, beta=3.0)),
  "softmax_entropy": float(E.softmax_entropy_clustering_loss(logits, beta=1.5, balance=0.7)),
}
print("VALUES" + json.dumps(out))
"""


def backend_values(name):
    env = dict(os.environ, KERAS_BACKEND=name, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, "-c", VALUES_SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    line = [x for x in proc.stdout.splitlines() if x.startswith("VALUES")][-1]
    return json.loads(line[len("VALUES") :])


@pytest.mark.one_backend
def test_values_equal_across_backends(backend):
    """This backend's values equal the other two backends' (rtol 1e-4)."""
    namespace = {}
    exec(VALUES_SCRIPT.replace('print("VALUES" + json.dumps(out))', ""), namespace)
    here = namespace["out"]
    for other in {"tensorflow", "jax", "torch"} - {backend}:
        there = backend_values(other)
        for key, value in here.items():
            np.testing.assert_allclose(value, there[key], rtol=1e-4, err_msg=f"{key} vs {other}")


#: In a fresh process: `import keras_entropy` and nothing of it touched, then load the model.
LOAD_IN_A_FRESH_PROCESS = """
import json, sys
import keras
import numpy as np
import keras_entropy  # noqa: F401  (registers every class it ships; no name touched)

model = keras.saving.load_model(sys.argv[1])
x, y = np.load(sys.argv[2]), np.load(sys.argv[3])
print(json.dumps({
    "evaluate": model.evaluate(x, y, batch_size=16, verbose=0, return_dict=True),
    "predictions": keras.ops.convert_to_numpy(model.predict(x, verbose=0)).tolist(),
    "classes": sorted({type(o).__name__ for layer in model.layers for o in (
        layer, getattr(layer, "kernel_regularizer", None), getattr(layer, "activity_regularizer", None))}),
    "loss": type(model.loss).__name__,
}))
"""


def test_a_model_with_every_registered_class_loads_in_a_fresh_process(tmp_path, rng):
    registered = {name for name in keras.saving.get_custom_objects() if name.startswith("keras_entropy>")}
    from keras_entropy.experiments.peers import KernelOrthogonal
    from keras_entropy.experiments.sparse_coding import half_squared_error

    inputs = keras.Input((12, 12, 1))
    x = ke.EntropyConv2D(4, 3, lam=0.01, activation="relu")(inputs)
    x = keras.layers.Conv2D(3, 3, kernel_regularizer=ke.ConvEntropy(0.01, form="normalized"))(x)
    x = keras.layers.Flatten()(x)
    x = ke.EntropyDense(16, lam=0.02, activation="sigmoid", activity_regularizer=ke.KLSparsity(rho=0.1, beta=0.5))(x)
    x = keras.layers.Dense(8, kernel_regularizer=KernelOrthogonal(0.01))(x)
    outputs = keras.layers.Dense(5, kernel_regularizer=ke.DenseEntropy(0.01, form="normalized"))(x)
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer="adam",
        loss=ke.SoftmaxEntropyLoss(beta=2.0, balance=0.5),
        metrics=[ke.BinaryIoU(name="iou"), half_squared_error],
    )
    used = {
        "keras_entropy>" + name
        for name in (
            "EntropyConv2D",
            "ConvEntropy",
            "EntropyDense",
            "KLSparsity",
            "KernelOrthogonal",
            "DenseEntropy",
            "SoftmaxEntropyLoss",
            "BinaryIoU",
            "half_squared_error",
        )
    }
    assert used == registered  # a class registered later joins this model
    x_data = rng.uniform(size=(16, 12, 12, 1)).astype("float32")
    y_data = (rng.uniform(size=(16, 5)) > 0.5).astype("float32")
    model.fit(x_data, y_data, epochs=1, batch_size=8, verbose=0)
    model.save(tmp_path / "model.keras")
    np.save(tmp_path / "x.npy", x_data)
    np.save(tmp_path / "y.npy", y_data)

    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            LOAD_IN_A_FRESH_PROCESS,
            str(tmp_path / "model.keras"),
            str(tmp_path / "x.npy"),
            str(tmp_path / "y.npy"),
        ],
        capture_output=True,
        text=True,
        cwd=str(tmp_path),
        env=dict(os.environ, KERAS_BACKEND=keras.backend.backend()),
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    loaded = json.loads(proc.stdout.splitlines()[-1])
    np.testing.assert_allclose(loaded["predictions"], to_numpy(model.predict(x_data, verbose=0)), rtol=1e-5, atol=1e-6)
    assert {"EntropyConv2D", "ConvEntropy", "EntropyDense", "KLSparsity", "KernelOrthogonal", "DenseEntropy"} <= set(
        loaded["classes"]
    )
    assert loaded["loss"] == "SoftmaxEntropyLoss"
    expected = model.evaluate(x_data, y_data, batch_size=16, verbose=0, return_dict=True)
    assert set(loaded["evaluate"]) == set(expected) >= {"loss", "iou", "half_squared_error"}
    for name, value in expected.items():
        np.testing.assert_allclose(loaded["evaluate"][name], value, rtol=1e-5, err_msg=name)

"""The `form` argument of the four entropy components (issue 11, MATH.md sections 8-10).

`DenseEntropy`, `ConvEntropy`, `EntropyDense` and `EntropyConv2D` take
`form="paper"` (the default, the paper's formulas), `"volume"` or
`"normalized"`. The oracle of every value is the `keras_entropy.ops` function
of that form called directly on the kernel (the ops themselves are checked
against numpy in `test_ops.py` and `test_ops_volume.py`).
"""

import os

import keras
import numpy as np
import pytest

import keras_entropy as ke
from helpers import assert_raises_naming, to_numpy
from keras_entropy import ops as E
from keras_entropy import regularizers

pytestmark = pytest.mark.every_backend

FORMS = ("paper", "volume", "normalized")
BACKEND = keras.backend.backend()


def dense_oracle(kernel, lam, stabilized, form):
    if form == "paper":
        return to_numpy(E.dense_entropy_penalty(kernel, lam=lam, stabilized=stabilized))
    return to_numpy(E.dense_volume_penalty(kernel, lam=lam, stabilized=stabilized, form=form))


def conv_oracle(kernel, lam, n_out, stabilized, form, grid):
    if form == "paper":
        return to_numpy(E.conv_entropy_penalty(kernel, lam=lam, output_positions=n_out, stabilized=stabilized))
    return to_numpy(
        E.conv_volume_penalty(kernel, lam=lam, output_positions=n_out, stabilized=stabilized, form=form, grid=grid)
    )


# --- values: each class equals the ops function of its form -----------------------


@pytest.mark.parametrize("form", FORMS)
def test_dense_entropy_equals_the_ops_function_of_its_form(form, rng):
    for shape in [(12, 5), (4, 9)]:
        kernel = rng.normal(size=shape).astype("float32")
        for stabilized in (True, False):
            got = to_numpy(ke.DenseEntropy(0.3, stabilized=stabilized, form=form)(kernel))
            want = dense_oracle(kernel, 0.3, stabilized, form)
            np.testing.assert_allclose(got, want, rtol=1e-6, err_msg=f"{shape} {stabilized}")


def test_the_three_forms_give_different_values(rng):
    kernel = rng.normal(size=(12, 5)).astype("float32")
    values = [float(to_numpy(ke.DenseEntropy(1.0, form=f)(kernel))) for f in FORMS]
    assert len(set(values)) == 3


#: (output_shape, grid argument, grid the penalty must use, N_out)
CONV_CASES = [
    ((6, 7), None, (6, 7), 42),  # default: the output size itself (exact)
    ((30, 20), None, (16, 16), 600),  # default: capped at 16 per axis
    ((2, 5), None, (3, 5), 10),  # default: at least the kernel size
    (None, None, (16, 16), 1),  # unknown output: per position
    ((30, 20), (4, 8), (4, 8), 600),  # an explicit grid wins
]


@pytest.mark.parametrize("form", FORMS)
def test_conv_entropy_equals_the_ops_function_of_its_form(form, rng):
    kernel = rng.normal(size=(3, 3, 2, 5)).astype("float32")
    for output_shape, grid, used_grid, n_out in CONV_CASES:
        for stabilized in (True, False):
            regularizer = ke.ConvEntropy(0.2, output_shape, stabilized, form=form, grid=grid)
            want = conv_oracle(kernel, 0.2, n_out, stabilized, form, used_grid)
            np.testing.assert_allclose(
                to_numpy(regularizer(kernel)), want, rtol=1e-5, err_msg=f"{output_shape} {grid} {stabilized}"
            )


def test_default_grid():
    assert regularizers.default_grid((8, 40), (3, 3)) == (8, 16)
    assert regularizers.default_grid((None, 5), (3, 3)) == (16, 5)
    assert regularizers.default_grid((1, 1), (3, 5)) == (3, 5)
    assert regularizers.default_grid(None, (20, 3)) == (20, 16)


@pytest.mark.parametrize("form", FORMS)
def test_entropy_dense_equals_the_ops_function_of_its_form(form, rng):
    layer = ke.EntropyDense(6, lam=0.4, stabilized=False, form=form)
    layer(rng.normal(size=(2, 10)).astype("float32"))
    (term,) = layer.losses
    want = dense_oracle(to_numpy(layer.kernel), 0.4, False, form)
    np.testing.assert_allclose(to_numpy(term), want, rtol=1e-5)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_entropy_conv2d_equals_the_ops_function_of_its_form(form, data_format, rng):
    layer = ke.EntropyConv2D(4, 3, lam=0.2, form=form, data_format=data_format)
    shape = (2, 9, 10, 3) if data_format == "channels_last" else (2, 3, 9, 10)
    layer(rng.normal(size=shape).astype("float32"))
    (term,) = layer.losses  # output 7 x 8: the default grid is the output size
    want = conv_oracle(to_numpy(layer.kernel), 0.2, 56, True, form, (7, 8))
    np.testing.assert_allclose(to_numpy(term), want, rtol=1e-5)


def test_entropy_conv2d_grid_and_unknown_spatial_size(rng):
    model = keras.Sequential(
        [
            keras.Input((None, None, 1)),
            ke.EntropyConv2D(2, 3, lam=1.0, stabilized=False, form="volume"),
            ke.EntropyConv2D(2, 3, lam=1.0, form="normalized", grid=(4, 4)),
        ]
    )
    for size in (7, 12):
        model(rng.normal(size=(1, size, size, 1)).astype("float32"))
        first, second = (to_numpy(layer.kernel) for layer in model.layers)
        n1, n2 = (size - 2) ** 2, (size - 4) ** 2
        want = [
            conv_oracle(first, 1.0, n1, False, "volume", (size - 2, size - 2)),
            conv_oracle(second, 1.0, n2, True, "normalized", (4, 4)),
        ]
        got = [to_numpy(term) for term in model.losses]
        np.testing.assert_allclose(got, want, rtol=1e-5)


# --- configuration and .keras files ----------------------------------------------


def make_components(form):
    return [
        ke.DenseEntropy(0.1, stabilized=False, form=form),
        ke.ConvEntropy(0.1, output_shape=(5, 6), form=form, grid=(4, 4)),
        ke.EntropyDense(3, lam=0.1, form=form),
        ke.EntropyConv2D(3, 3, lam=0.1, form=form, grid=(5, 3)),
    ]


@pytest.mark.parametrize("form", FORMS)
def test_config_round_trip_keeps_form_and_grid(form):
    for component in make_components(form):
        config = component.get_config()
        assert config["form"] == form
        clone = type(component).from_config(config)
        assert clone.get_config() == config
        restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(component))
        assert type(restored) is type(component) and restored.get_config() == config
    assert make_components(form)[1].get_config()["grid"] == [4, 4]
    assert make_components(form)[3].get_config()["grid"] == [5, 3]


def test_old_configs_without_form_load_as_paper():
    for component in make_components("paper"):
        config = component.get_config()
        config.pop("form")
        config.pop("grid", None)
        clone = type(component).from_config(config)
        assert clone.get_config()["form"] == "paper"
    assert ke.DenseEntropy().form == "paper" and ke.ConvEntropy().form == "paper"
    assert ke.ConvEntropy().grid is None


def test_registered_names_are_unchanged():
    for cls in (ke.DenseEntropy, ke.ConvEntropy, ke.EntropyDense, ke.EntropyConv2D):
        assert keras.saving.get_registered_name(cls) == f"keras_entropy>{cls.__name__}"


def model_with_every_class(form):
    inputs = keras.Input((10, 10, 2))
    x = ke.EntropyConv2D(3, 3, lam=1e-3, form=form, activation="relu")(inputs)
    x = keras.layers.Conv2D(4, 3, kernel_regularizer=ke.ConvEntropy(1e-3, output_shape=(6, 6), form=form))(x)
    x = keras.layers.Flatten()(x)
    x = ke.EntropyDense(8, lam=1e-3, form=form, activation="sigmoid")(x)
    outputs = keras.layers.Dense(3, dtype="float32", kernel_regularizer=ke.DenseEntropy(1e-3, form=form))(x)
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize("form", FORMS)
def test_keras_file_round_trip(form, tmp_path, rng):
    model = model_with_every_class(form)
    x = rng.normal(size=(4, 10, 10, 2)).astype("float32")
    model(x)
    path = os.path.join(tmp_path, "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    loaded(x)
    terms = [float(to_numpy(t)) for t in model.losses]
    assert len(terms) == 4
    np.testing.assert_allclose([float(to_numpy(t)) for t in loaded.losses], terms, rtol=1e-6)
    for layer in loaded.layers:
        regularizer = getattr(layer, "entropy_regularizer", None) or getattr(layer, "kernel_regularizer", None)
        if regularizer is not None:
            assert regularizer.form == form


# --- validation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, error, words",
    [
        (
            lambda: ke.DenseEntropy(0.1, form="svd"),
            ValueError,
            ["form", "'svd'", "'paper'", "'volume'", "'normalized'"],
        ),
        (lambda: ke.ConvEntropy(0.1, form=None), ValueError, ["form", "None", "'paper'"]),
        (lambda: ke.EntropyDense(3, form="Volume"), ValueError, ["form", "'Volume'"]),
        (lambda: ke.EntropyConv2D(3, 3, form=1), ValueError, ["form", "1", "'normalized'"]),
        (lambda: ke.DenseEntropy([0.1, 0.2], form="volume"), ValueError, ["lam", "form", "'volume'", "(2,)"]),
        (lambda: ke.ConvEntropy(np.ones(4), form="normalized"), ValueError, ["lam", "form", "'normalized'"]),
        (lambda: ke.EntropyDense(2, lam=[0.1, 0.2], form="normalized"), ValueError, ["lam", "form"]),
        (lambda: ke.EntropyConv2D(3, 3, lam=np.ones(3), form="volume"), ValueError, ["lam", "form"]),
        (lambda: ke.ConvEntropy(0.1, form="volume", grid=(0, 4)), ValueError, ["grid", "(0, 4)"]),
        (lambda: ke.ConvEntropy(0.1, grid=(8,)), TypeError, ["grid", "(8,)"]),
        (lambda: ke.EntropyConv2D(3, 3, form="volume", grid="8x8"), TypeError, ["grid", "'8x8'"]),
        (lambda: ke.EntropyConv2D(3, 3, grid=(2.5, 3)), TypeError, ["grid", "2.5"]),
    ],
)
def test_bad_form_lam_and_grid_raise_naming_the_argument(make, error, words):
    assert_raises_naming(make, error, words)


def test_array_lam_is_still_valid_with_the_paper_form():
    assert ke.DenseEntropy([0.1, 0.2]).lam.shape == (2,)
    assert ke.ConvEntropy(np.ones(4), form="paper").lam.shape == (4,)


# --- training: compiled (TensorFlow, JAX) or eager (PyTorch), float32 and mixed ------


@pytest.mark.parametrize("policy", ["float32", "mixed_float16"])
@pytest.mark.parametrize("form", FORMS)
def test_one_training_step_is_finite(form, policy, rng):
    keras.config.set_dtype_policy(policy)
    model = model_with_every_class(form)
    jit_compile = BACKEND != "torch"  # torch.compile takes minutes on a CPU
    model.compile(optimizer="adam", loss="mse", jit_compile=jit_compile)
    x = rng.normal(size=(8, 10, 10, 2)).astype("float32")
    y = rng.normal(size=(8, 3)).astype("float32")
    history = model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert model.jit_compile is jit_compile
    assert np.isfinite(history.history["loss"][0])
    assert all(np.all(np.isfinite(w)) for w in model.get_weights())
    model(x[:2])
    terms = [to_numpy(t) for t in model.losses]
    assert len(terms) == 4
    assert all(np.isfinite(t) and t.dtype == np.float32 for t in terms)

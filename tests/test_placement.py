"""select_layers / place_penalties on hand-built models, keras.applications and .keras files."""

import keras
import numpy as np
import pytest

import keras_entropy
from helpers import to_numpy
from keras_entropy import ConvEntropy, DenseEntropy

pytestmark = pytest.mark.every_backend


def residual_net(dropout=0.1):
    """A small ResNet-like model: stem, projection block, identity block, head."""
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", name="stem")(inputs)
    x = keras.layers.BatchNormalization(name="stem_bn")(x)
    x = keras.layers.ReLU(name="stem_relu")(x)
    shortcut = keras.layers.Conv2D(6, 1, strides=2, name="b1_0_conv")(x)
    y = keras.layers.Conv2D(5, 3, strides=2, padding="same", name="b1_1_conv")(x)
    y = keras.layers.ReLU()(y)
    y = keras.layers.Conv2D(6, 1, name="b1_2_conv")(y)
    y = keras.layers.BatchNormalization(name="b1_2_bn")(y)
    x = keras.layers.Add(name="b1_add")([shortcut, y])
    x = keras.layers.ReLU(name="b1_out")(x)
    y = keras.layers.Conv2D(6, 3, padding="same", name="b2_1_conv")(x)
    y = keras.layers.Dropout(dropout)(y)
    x = x + y  # a functional `Add` operation, not an Add layer
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="head")(x)
    return keras.Model(inputs, outputs, name="resnet_like")


def tiny_unet():
    inputs = keras.Input((16, 16, 1))
    d1 = keras.layers.Conv2D(4, 3, padding="same", name="d1a")(inputs)
    d1 = keras.layers.Conv2D(4, 3, padding="same", name="d1b")(d1)
    p1 = keras.layers.MaxPooling2D()(d1)
    d2 = keras.layers.Conv2D(8, 3, padding="same", name="d2a")(p1)
    d2 = keras.layers.Dropout(0.1)(d2)
    d2 = keras.layers.Conv2D(8, 3, padding="same", name="d2b")(d2)
    p2 = keras.layers.MaxPooling2D()(d2)
    b = keras.layers.Conv2D(16, 3, padding="same", name="bottom")(p2)
    u2 = keras.layers.Conv2DTranspose(8, 2, strides=2, name="up2")(b)
    u2 = keras.layers.Concatenate()([u2, d2])
    u2 = keras.layers.Conv2D(8, 3, padding="same", name="u2a")(u2)
    u1 = keras.layers.Conv2DTranspose(4, 2, strides=2, name="up1")(u2)
    u1 = keras.layers.Concatenate()([u1, d1])
    u1 = keras.layers.Conv2D(4, 3, padding="same", name="u1a")(u1)
    outputs = keras.layers.Conv2D(1, 1, activation="sigmoid", name="out")(u1)
    return keras.Model(inputs, outputs, name="unet")


def names(layers):
    return [layer.name for layer in layers]


def test_strategies_on_residual_net():
    model = residual_net()
    # Forward order is Keras's topological order: the residual branch's first
    # conv comes before the projection shortcut.
    order = ["stem", "b1_1_conv", "b1_2_conv", "b1_0_conv", "b2_1_conv", "head"]
    assert keras_entropy.entropy_profile(model).names == order
    assert names(keras_entropy.select_layers(model, "first")) == ["stem"]
    assert names(keras_entropy.select_layers(model, "first_two")) == ["stem", "b1_1_conv"]
    assert names(keras_entropy.select_layers(model, "all")) == order
    # b1_0_conv and b1_2_conv (via BN) feed the Add layer; b2_1_conv (via
    # Dropout) feeds `x + y`; b1_out's input is an Add, where tracing stops.
    assert names(keras_entropy.select_layers(model, "pre_skip")) == ["b1_2_conv", "b1_0_conv", "b2_1_conv"]
    assert names(keras_entropy.select_layers(model, "first", kinds=("dense",))) == ["head"]
    assert names(keras_entropy.select_layers(model, "all", kinds="conv")) == order[:-1]


def test_pre_skip_order_follows_profile():
    model = residual_net()
    profile_order = keras_entropy.entropy_profile(model).names
    chosen = names(keras_entropy.select_layers(model, "pre_skip"))
    assert sorted(chosen) == ["b1_0_conv", "b1_2_conv", "b2_1_conv"]
    assert chosen == [n for n in profile_order if n in chosen]


def test_pre_concat_on_unet_selects_down_path_convolutions():
    model = tiny_unet()
    # The up-path Conv2DTranspose outputs also enter the concatenations but
    # are not Conv2D layers; tracing stops there.
    assert names(keras_entropy.select_layers(model, "pre_concat")) == ["d1b", "d2b"]
    assert keras_entropy.select_layers(model, "pre_skip") == []


def test_select_by_names_and_indices():
    model = residual_net()
    assert names(keras_entropy.select_layers(model, ["head", 0, -2, "stem"])) == ["stem", "b2_1_conv", "head"]
    assert names(keras_entropy.select_layers(model, [3])) == ["b1_0_conv"]
    with pytest.raises(ValueError, match="nope"):
        keras_entropy.select_layers(model, ["nope"])
    with pytest.raises(ValueError, match="out of range"):
        keras_entropy.select_layers(model, [6])
    with pytest.raises(ValueError, match="where='firsts'"):
        keras_entropy.select_layers(model, "firsts")
    with pytest.raises(TypeError, match="where"):
        keras_entropy.select_layers(model, 3)
    with pytest.raises(TypeError, match="Items of `where`"):
        keras_entropy.select_layers(model, [1.5])


def test_empirical_uses_reference_ranking():
    model = residual_net()
    trained = residual_net()
    # Make two layers of the "trained" reference keep the most entropy.
    for name in ("b1_2_conv", "b2_1_conv"):
        layer = trained.get_layer(name)
        layer.kernel.assign(np.ones(layer.kernel.shape, "float32") * 5.0)
    reference = keras_entropy.entropy_profile(trained)
    chosen = keras_entropy.select_layers(model, "empirical", reference=reference, k=2)
    assert names(chosen) == ["b1_2_conv", "b2_1_conv"]
    assert all(any(layer is m for m in model.layers) for layer in chosen)
    # A model works as reference too, and `statistic` changes the ranking.
    assert names(keras_entropy.select_layers(model, "empirical", reference=trained, k=1)) in (
        ["b1_2_conv"],
        ["b2_1_conv"],
    )
    with pytest.raises(ValueError, match="reference"):
        keras_entropy.select_layers(model, "empirical", k=2)
    with pytest.raises(ValueError, match="k=0"):
        keras_entropy.select_layers(model, "empirical", reference=reference, k=0)
    with pytest.raises(ValueError, match="statistic"):
        keras_entropy.select_layers(model, "empirical", reference=reference, k=1, statistic="mode")


def test_empirical_matches_by_index_when_names_differ():
    model = residual_net()
    reference = keras_entropy.entropy_profile(residual_net())
    for entry in reference:
        entry.name = entry.path = "other_" + entry.name
    top = reference.top(1)[0]
    chosen = keras_entropy.select_layers(model, "empirical", reference=reference, k=1)
    assert names(chosen) == [keras_entropy.entropy_profile(model)[top.index].name]
    reference[top.index].kernel_shape = (9, 9, 9, 9)
    with pytest.raises(ValueError, match="no counterpart"):
        keras_entropy.select_layers(model, "empirical", reference=reference, k=1)


def test_placement_adds_one_loss_per_layer_equal_to_the_regularizer():
    model = residual_net()
    assert model.losses == []
    touched = keras_entropy.place_penalties(model, "pre_skip", lam=0.05)
    touched += keras_entropy.place_penalties(model, ["head"], lam=0.2, stabilized=False)
    assert names(touched) == ["b1_2_conv", "b1_0_conv", "b2_1_conv", "head"]
    losses = [float(to_numpy(v)) for v in model.losses]
    assert len(losses) == 4
    expected = []
    for layer in touched:
        out = layer.output.shape
        if isinstance(layer, keras.layers.Conv2D):
            reg = ConvEntropy(0.05, output_shape=(out[1], out[2]))
            assert layer.kernel_regularizer.output_shape == (out[1], out[2])
        else:
            reg = DenseEntropy(0.2, stabilized=False)
        assert layer.kernel.regularizer is layer.kernel_regularizer
        expected.append(float(to_numpy(reg(layer.kernel))))
    np.testing.assert_allclose(sorted(losses), sorted(expected), rtol=1e-5)


def test_placed_penalty_enters_training_loss_and_fit_runs(rng):
    model = residual_net()
    x = rng.normal(size=(8, 8, 8, 3)).astype("float32")
    y = rng.integers(0, 3, size=(8,))
    model.compile("sgd", "sparse_categorical_crossentropy")
    base = model.evaluate(x, y, verbose=0)
    keras_entropy.place_penalties(model, "first_two", lam=0.01)
    model.compile(keras.optimizers.SGD(1e-4), "sparse_categorical_crossentropy")
    penalty = sum(float(to_numpy(v)) for v in model.losses)
    assert penalty > 0
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), base + penalty, rtol=1e-4)
    history = model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert history.history["loss"][0] > base  # the penalty is in the trained loss


def test_placement_after_compile_reaches_next_fit(rng):
    model = residual_net(dropout=0.0)  # two fits, same batch: no randomness
    x = rng.normal(size=(8, 8, 8, 3)).astype("float32")
    y = rng.integers(0, 3, size=(8,))
    model.compile(keras.optimizers.SGD(0.0), "sparse_categorical_crossentropy")
    before = model.fit(x, y, batch_size=8, epochs=1, verbose=0).history["loss"][0]
    keras_entropy.place_penalties(model, "first", lam=0.01)
    penalty = float(to_numpy(model.losses[0]))
    after = model.fit(x, y, batch_size=8, epochs=1, verbose=0).history["loss"][0]
    np.testing.assert_allclose(after, before + penalty, rtol=1e-4)


def test_placement_survives_keras_save_and_load(tmp_path, rng):
    model = residual_net()
    keras_entropy.place_penalties(model, "pre_skip", lam=0.03)
    path = str(tmp_path / "placed.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert len(loaded.losses) == 3
    np.testing.assert_allclose(
        sorted(float(to_numpy(v)) for v in loaded.losses), sorted(float(to_numpy(v)) for v in model.losses), rtol=1e-6
    )
    reg = loaded.get_layer("b1_2_conv").kernel_regularizer
    assert isinstance(reg, ConvEntropy) and reg.lam == 0.03 and reg.output_shape == (4, 4)


def test_placement_on_loaded_model_then_fit(tmp_path, rng):
    path = str(tmp_path / "plain.keras")
    residual_net().save(path)
    loaded = keras.saving.load_model(path)
    touched = keras_entropy.place_penalties(loaded, [0, "head"], lam=0.01)
    assert names(touched) == ["stem", "head"] and len(loaded.losses) == 2
    loaded.compile("adam", "sparse_categorical_crossentropy")
    x = rng.normal(size=(4, 8, 8, 3)).astype("float32")
    history = loaded.fit(x, np.array([0, 1, 2, 0]), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_existing_regularizer_needs_replace_and_argument_errors():
    model = residual_net()
    model.get_layer("stem").kernel_regularizer = keras.regularizers.L2(0.1)
    with pytest.raises(ValueError, match="replace"):
        keras_entropy.place_penalties(model, "first")
    assert model.losses == []  # nothing was changed
    keras_entropy.place_penalties(model, "first", replace=True)
    assert isinstance(model.get_layer("stem").kernel_regularizer, ConvEntropy)
    keras_entropy.place_penalties(model, "first", lam=0.5)  # entropy over entropy: fine
    assert model.get_layer("stem").kernel_regularizer.lam == 0.5
    with pytest.raises(ValueError, match="Layer 'stem'.*lam"):
        keras_entropy.place_penalties(model, ["stem"], lam=np.ones(7))
    with pytest.raises(TypeError, match="stabilized"):
        keras_entropy.place_penalties(model, "first", stabilized="yes")
    with pytest.raises(ValueError, match="epsilon"):
        keras_entropy.place_penalties(model, "first", epsilon=0.0)


@pytest.mark.parametrize("form", ["volume", "normalized"])
def test_placement_with_a_volume_form(form, tmp_path):
    """`form` and `grid` reach every regularizer placed; each loss is the
    volume penalty of its layer; the form survives a .keras round trip."""
    from keras_entropy import ops as E

    model = residual_net()
    touched = keras_entropy.place_penalties(model, "pre_skip", lam=0.05, form=form, grid=(4, 4))
    touched += keras_entropy.place_penalties(model, ["head"], lam=0.2, form=form)
    assert names(touched) == ["b1_2_conv", "b1_0_conv", "b2_1_conv", "head"]
    expected = []
    for layer in touched:
        reg = layer.kernel_regularizer
        assert reg.form == form and layer.kernel.regularizer is reg
        if isinstance(layer, keras.layers.Conv2D):
            assert reg.grid == (4, 4) and reg.output_shape == (4, 4)
            expected.append(E.conv_volume_penalty(layer.kernel, lam=0.05, output_positions=16, form=form, grid=(4, 4)))
        else:
            assert isinstance(reg, DenseEntropy)
            expected.append(E.dense_volume_penalty(layer.kernel, lam=0.2, form=form))
    losses = [float(to_numpy(v)) for v in model.losses]
    np.testing.assert_allclose(sorted(losses), sorted(float(to_numpy(v)) for v in expected), rtol=1e-5)
    path = str(tmp_path / "placed.keras")
    model.save(path)
    loaded = keras.saving.load_model(path).get_layer("b2_1_conv").kernel_regularizer
    assert (loaded.form, loaded.grid) == (form, (4, 4))
    # Without `grid`, the conv layers keep ConvEntropy's default (None: default_grid).
    keras_entropy.place_penalties(model, "first", form=form)
    assert model.get_layer("stem").kernel_regularizer.grid is None


def test_placement_form_errors_change_nothing():
    model = residual_net()
    with pytest.raises(ValueError, match="form='det'"):
        keras_entropy.place_penalties(model, "all", form="det")
    with pytest.raises(ValueError, match="grid"):
        keras_entropy.place_penalties(model, "all", form="volume", grid=(4, -1))
    with pytest.raises(ValueError, match="lam"):
        keras_entropy.place_penalties(model, ["stem"], lam=np.ones(4), form="volume")
    assert model.losses == []
    assert all(layer.kernel_regularizer is None for layer in keras_entropy.select_layers(model, "all"))


# --- keras.applications ---------------------------------------------------


@pytest.fixture(scope="module")
def resnet50():
    return keras.applications.ResNet50(weights=None, input_shape=(64, 64, 3), classes=10)


def _graph_pre_skip(model):
    """Independent oracle: for each Add layer, walk back from each input
    through BatchNormalization layers to the Conv2D that produced it."""
    expected = set()
    for layer in model.layers:
        if not isinstance(layer, keras.layers.Add):
            continue
        for tensor in layer.input:
            op = tensor._keras_history.operation
            while isinstance(op, keras.layers.BatchNormalization):
                op = op.input._keras_history.operation
            if isinstance(op, keras.layers.Conv2D):
                expected.add(op.name)
            else:  # identity shortcut: the previous block's output activation
                assert isinstance(op, keras.layers.Activation)
    return expected


def test_resnet50_pre_skip_matches_the_graph(resnet50):
    chosen = names(keras_entropy.select_layers(resnet50, "pre_skip"))
    expected = _graph_pre_skip(resnet50)
    assert set(chosen) == expected and len(chosen) == len(expected) == 20
    assert sum(n.endswith("_0_conv") for n in chosen) == 4  # projection shortcuts
    assert sum(n.endswith("_3_conv") for n in chosen) == 16  # last conv of each branch


def test_resnet50_first_two_are_the_papers_layers_1_and_5(resnet50):
    chosen = keras_entropy.select_layers(resnet50, "first_two")
    assert names(chosen) == ["conv1_conv", "conv2_block1_1_conv"]
    # The paper numbers model.layers with the input as 0, in a ResNet50
    # without keras.applications' two ZeroPadding2D layers.
    layers = [la for la in resnet50.layers if not isinstance(la, keras.layers.ZeroPadding2D)]
    assert [layers.index(layer) for layer in chosen] == [1, 5]


def test_resnet50_placement_losses(resnet50):
    touched = keras_entropy.place_penalties(resnet50, "pre_skip", lam=1e-3)
    losses = resnet50.losses
    assert len(losses) == len(touched) == 20
    layer = resnet50.get_layer("conv5_block3_3_conv")
    assert layer.kernel_regularizer.output_shape == (2, 2)
    value = float(to_numpy(ConvEntropy(1e-3, output_shape=(2, 2))(layer.kernel)))
    assert any(np.isclose(float(to_numpy(v)), value, rtol=1e-6) for v in losses)
    for layer in touched:
        layer.kernel_regularizer = None
        layer.kernel.regularizer = None

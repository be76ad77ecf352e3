"""entropy_profile, its conversions, and plot_profiles."""

import csv
import io
import json
import math

import keras
import numpy as np
import pytest

import keras_entropy
import keras_entropy.profile.plot
from helpers import to_numpy
from keras_entropy import ops as E

pytestmark = pytest.mark.every_backend


def small_cnn():
    """A functional CNN with a nested Sequential block and a Dense head."""
    inputs = keras.Input((12, 10, 2))
    x = keras.layers.Conv2D(4, 3, name="c1")(inputs)  # 10 x 8
    block = keras.Sequential(
        [
            keras.layers.Conv2D(5, 3, strides=2, padding="same", name="c2"),  # 5 x 4
            keras.layers.ReLU(),
            keras.layers.Conv2D(6, (2, 3), name="c3"),
        ],  # 4 x 2
        name="block",
    )
    x = block(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(7, name="d1")(x)
    outputs = keras.layers.Dense(3, name="d2")(x)
    return keras.Model(inputs, outputs, name="small")


def test_profile_forward_order_kinds_and_nesting():
    profile = keras_entropy.entropy_profile(small_cnn())
    assert [e.name for e in profile] == ["c1", "c2", "c3", "d1", "d2"]
    assert [e.path for e in profile] == ["c1", "block/c2", "block/c3", "d1", "d2"]
    assert [e.kind for e in profile] == ["conv"] * 3 + ["dense"] * 2
    assert [e.index for e in profile] == list(range(5))
    assert [e.output_positions for e in profile] == [80, 20, 8, 7, 3]
    assert [e.kernel_shape for e in profile] == [(3, 3, 2, 4), (3, 3, 4, 5), (2, 3, 5, 6), (48, 7), (7, 3)]
    assert profile["block/c3"] is profile[2] and profile["c3"] is profile[2]


def test_profile_values_equal_core_math():
    model = small_cnn()
    profile = keras_entropy.entropy_profile(model)
    for entry in profile:
        layer = model.get_layer(entry.name) if entry.name[0] == "d" else None
        if entry.kind == "conv":
            layer = model.get_layer("c1") if entry.name == "c1" else model.get_layer("block").get_layer(entry.name)
            expected = to_numpy(E.conv_entropy_change(layer.kernel)).reshape(-1)
            np.testing.assert_array_equal(entry.values, expected)
            total = to_numpy(E.conv_entropy_change(layer.kernel, output_positions=entry.output_positions)).sum()
            np.testing.assert_allclose(entry.total, total, rtol=1e-5)
        else:
            expected = float(to_numpy(E.dense_entropy_change(layer.kernel)))
            assert entry.values.tolist() == [pytest.approx(expected)]
            assert entry.total == pytest.approx(expected)


def test_profile_of_subclassed_model_without_symbolic_graph():
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.conv = keras.layers.Conv2D(3, 3, strides=2, name="conv")
            self.head = keras.layers.Dense(2, name="head")

        def call(self, x):
            x = self.conv(x)
            return self.head(keras.ops.mean(x, axis=(1, 2)))

    net = Net()
    net(np.zeros((1, 9, 11, 1), "float32"))
    profile = keras_entropy.entropy_profile(net)
    assert [e.name for e in profile] == ["conv", "head"]
    assert profile[0].output_positions == 4 * 5


def test_profile_unknown_spatial_size_gives_nan_total():
    inputs = keras.Input((None, None, 1))
    model = keras.Model(inputs, keras.layers.Conv2D(2, 3, name="c")(inputs))
    entry = keras_entropy.entropy_profile(model)[0]
    assert entry.output_positions is None and math.isnan(entry.total)
    assert entry.values.shape == (2,)


def test_profile_kinds_filter_and_argument_errors():
    model = small_cnn()
    assert [e.kind for e in keras_entropy.entropy_profile(model, kinds="dense")] == ["dense"] * 2
    with pytest.raises(ValueError, match="kinds"):
        keras_entropy.entropy_profile(model, kinds=("conv", "lstm"))
    with pytest.raises(TypeError, match="model"):
        keras_entropy.entropy_profile("model.keras")
    unbuilt = keras.Sequential([keras.layers.Dense(3)])
    with pytest.raises(ValueError, match="not built"):
        keras_entropy.entropy_profile(unbuilt)
    with pytest.raises(TypeError, match="label"):
        keras_entropy.EntropyProfile([], label=3)


@pytest.fixture(scope="module")
def vgg16():
    return keras.applications.VGG16(weights=None, input_shape=(224, 224, 3))


def test_vgg16_profile_matches_paper_layout_and_core_math(vgg16):
    profile = keras_entropy.entropy_profile(vgg16)
    assert [e.kind for e in profile] == ["conv"] * 13 + ["dense"] * 3
    expected_names = [
        layer.name for layer in vgg16.layers if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense))
    ]
    assert profile.names == expected_names
    assert profile.names[:2] == ["block1_conv1", "block1_conv2"]
    for entry in profile:
        layer = vgg16.get_layer(entry.name)
        out = layer.output.shape
        if entry.kind == "conv":
            assert entry.output_positions == out[1] * out[2]
            expected = to_numpy(E.conv_entropy_change(layer.kernel)).reshape(-1)
            np.testing.assert_array_equal(entry.values, expected)
        else:
            assert entry.output_positions == out[-1]
    assert [profile[i].output_positions for i in (0, 2, 4, 7, 10)] == [224 * 224, 112 * 112, 56 * 56, 28 * 28, 14 * 14]
    head = vgg16.get_layer("predictions")
    assert profile["predictions"].total == pytest.approx(float(to_numpy(E.dense_entropy_change(head.kernel))), rel=1e-5)
    assert all(math.isfinite(e.total) for e in profile)


def test_records_dataframe_csv_json_round_trip(tmp_path):
    profile = keras_entropy.entropy_profile(small_cnn(), label="init")
    records = profile.to_records()
    assert [r["name"] for r in records] == profile.names
    assert records[0]["kernel_shape"] == "3x3x2x4"
    assert records[0]["mean"] == pytest.approx(float(np.mean(profile[0].values)))
    assert records[0]["n_values"] == 8

    df = profile.to_dataframe()
    assert list(df["name"]) == profile.names and len(df.columns) == 12
    long = profile.to_dataframe(per="value")
    assert len(long) == sum(e.values.size for e in profile)

    path = tmp_path / "p.csv"
    profile.to_csv(path)
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    assert [r["name"] for r in rows] == profile.names
    assert float(rows[3]["total"]) == pytest.approx(profile[3].total, rel=1e-6)

    text = profile.to_json()
    assert json.loads(text)["label"] == "init"
    back = keras_entropy.EntropyProfile.from_json(text)
    profile.to_json(tmp_path / "p.json")
    back_file = keras_entropy.EntropyProfile.from_json(str(tmp_path / "p.json"))
    for a, b, c in zip(profile, back, back_file):
        assert (a.name, a.path, a.kind, a.kernel_shape, a.output_positions) == (
            b.name,
            b.path,
            b.kind,
            b.kernel_shape,
            b.output_positions,
        )
        np.testing.assert_array_equal(a.values, b.values)
        np.testing.assert_array_equal(a.values, c.values)
    with pytest.raises(ValueError, match="per"):
        profile.to_records(per="filter")


def test_top_ranks_by_statistic():
    profile = keras_entropy.entropy_profile(small_cnn())
    means = {e.name: float(np.mean(e.values)) for e in profile}
    expected = sorted(means, key=means.get, reverse=True)[:2]
    assert [e.name for e in profile.top(2)] == expected
    with pytest.raises(ValueError, match="statistic"):
        profile[0].statistic("mode")


def _two_profiles():
    model = small_cnn()
    init = keras_entropy.entropy_profile(model, label="initialised")
    for layer in model.layers:
        if isinstance(layer, keras.layers.Dense):
            layer.kernel.assign(layer.kernel * 3.0)
    model.get_layer("c1").kernel.assign(model.get_layer("c1").kernel * 0.1)
    trained = keras_entropy.entropy_profile(model, label="trained")
    return trained, init


def test_plot_two_profiles_one_box_per_layer(tmp_path):
    trained, init = _two_profiles()
    path = tmp_path / "profiles.png"
    fig = keras_entropy.plot_profiles([trained, init], path=str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    axes = fig.get_axes()
    assert len(axes) == 2  # one panel per profile (the dense scale is a secondary axis)
    assert [ax.get_title() for ax in axes] == ["trained", "initialised"]
    for ax, profile in zip(axes, (trained, init)):
        boxes = [p for p in ax.patches if type(p).__name__ == "PathPatch"]
        assert len(boxes) == len(profile) == 5
        # Ticks are the layers' 0-based indices, as in to_csv and the CLI's table.
        assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1", "2", "3", "4"]
    assert axes[0].get_ylim() == axes[1].get_ylim()  # shared y axis
    # The first layer was scaled by 0.1: its median moved down by log(10).
    low = min(np.min(e.values) for p in (trained, init) for e in p if e.kind == "conv")
    assert axes[0].get_ylim()[0] <= low


def test_plot_dense_layers_get_their_own_scale():
    """A dense log|det S| (summed over units) would squash the conv boxes:
    it is drawn mapped onto the conv range, with a right axis of true values."""
    from matplotlib import colors as matplotlib_colors

    trained, init = _two_profiles()
    for e in trained:
        if e.kind == "dense":  # far from the conv values, as in a real network
            e.values = e.values - 2000.0
            e.total -= 2000.0
    fig = keras_entropy.plot_profiles([trained, init])
    axes = fig.get_axes()
    conv = np.concatenate([e.values for p in (trained, init) for e in p if e.kind == "conv"])
    dense = np.concatenate([e.values for p in (trained, init) for e in p if e.kind == "dense"])
    # The y range stays the conv range (plus margins), not the dense one.
    y_lo, y_hi = axes[0].get_ylim()
    span = conv.max() - conv.min()
    assert y_lo > conv.min() - 0.2 * span and y_hi < conv.max() + 0.2 * span + 1.0
    to_plot, from_plot = keras_entropy.profile.plot._dense_scale([trained, init])
    np.testing.assert_allclose(to_plot([dense.min(), dense.max()]), [conv.min(), conv.max()], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(from_plot(to_plot(dense)), dense, rtol=1e-6, atol=1e-3)
    # Dense boxes are orange, conv boxes blue; every panel has the dense axis, the last one its label.
    for ax in axes[:2]:
        boxes = [p for p in ax.patches if type(p).__name__ == "PathPatch"]
        faces = [matplotlib_colors.to_hex(b.get_facecolor()) for b in boxes]
        assert faces.count("#fdae6b") == 2 and faces.count("#9ecae1") == 3
    secondary = [c for c in axes[-1].child_axes if "log|det" in c.get_ylabel()]
    assert len(secondary) == 1
    assert all(len(ax.child_axes) == 1 for ax in axes[:2])  # issue 24: the left panel's dense points read too
    fig.savefig(io.BytesIO(), format="png")  # a secondary axis takes its limits when drawn
    np.testing.assert_allclose(axes[0].child_axes[0].get_ylim(), from_plot(axes[0].get_ylim()), rtol=1e-6)
    # One kind only: no second scale.
    conv_only = keras_entropy.EntropyProfile([e for e in trained if e.kind == "conv"])
    assert keras_entropy.profile.plot._dense_scale([conv_only]) is None
    fig = keras_entropy.plot_profiles(conv_only)
    assert not fig.get_axes()[0].child_axes
    dense_only = keras_entropy.EntropyProfile([e for e in trained if e.kind == "dense"])
    fig = keras_entropy.plot_profiles(dense_only)
    assert "log|det" in fig.get_axes()[0].get_ylabel()
    assert fig.get_axes()[0].get_ylim()[0] <= dense.min()


def test_plot_pdf_names_and_argument_errors(tmp_path):
    trained, init = _two_profiles()
    path = tmp_path / "profiles.pdf"
    fig = keras_entropy.plot_profiles(trained, path=str(path), tick_labels="name", title="t")
    assert path.read_bytes()[:4] == b"%PDF"
    assert [t.get_text() for t in fig.get_axes()[0].get_xticklabels()] == trained.names
    assert fig.get_axes()[0].get_xlabel() == "layer"
    with pytest.raises(TypeError, match="profiles"):
        keras_entropy.plot_profiles([])
    with pytest.raises(ValueError, match="tick_labels"):
        keras_entropy.plot_profiles(trained, tick_labels="both")
    with pytest.raises(ValueError, match="labels"):
        keras_entropy.plot_profiles([trained, init], labels=["only one"])


def test_package_works_without_pandas_and_matplotlib():
    """pandas and matplotlib are optional: with both made unimportable the
    package imports, profiles, writes CSV, and only the functions that need
    them raise ImportError."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "sys.modules['pandas'] = None; sys.modules['matplotlib'] = None\n"
        "import keras, keras_entropy\n"
        "m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])\n"
        "p = keras_entropy.entropy_profile(m)\n"
        "print(len(p.to_csv().splitlines()))\n"
        "for f in (p.to_dataframe, lambda: keras_entropy.plot_profiles(p)):\n"
        "    try:\n"
        "        f()\n"
        "    except ImportError as e:\n"
        "        print('ImportError', 'keras-entropy[plot]' in str(e))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["2", "ImportError", "True", "ImportError", "True"]


@pytest.mark.parametrize("policy", ["float32", "mixed_float16"])
def test_profile_of_jit_compiled_and_mixed_precision_model(policy, backend, rng):
    """entropy_profile reads the (float32) kernels of a model compiled with
    jit_compile=True, after a training step, under mixed_float16 too; the
    values are the core math on the float32 kernels."""
    keras.config.set_dtype_policy(policy)
    model = small_cnn()
    # torch's jit_compile=True means torch.compile, too slow for a unit test.
    model.compile(optimizer="sgd", loss="mse", jit_compile=backend != "torch")
    model.train_on_batch(rng.normal(size=(4, 12, 10, 2)).astype("float32"), rng.normal(size=(4, 3)).astype("float32"))
    profile = keras_entropy.entropy_profile(model)
    assert [e.name for e in profile] == ["c1", "c2", "c3", "d1", "d2"]
    c1, d2 = model.get_layer("c1"), model.get_layer("d2")
    assert c1.kernel.dtype == "float32"
    if policy == "mixed_float16":
        assert c1.compute_dtype == "float16"
    assert profile[0].values.dtype == np.float32
    np.testing.assert_array_equal(profile[0].values, to_numpy(E.conv_entropy_change(c1.kernel)).reshape(-1))
    assert profile["d2"].total == pytest.approx(float(to_numpy(E.dense_entropy_change(d2.kernel))), rel=1e-5)
    assert all(math.isfinite(e.total) for e in profile)


# --- the volume forms (MATH.md sections 8-10) -------------------------------


def _kernels(model):
    """{name: kernel} of small_cnn's Dense/Conv2D layers."""
    block = model.get_layer("block")
    return {
        name: (block.get_layer(name) if name in ("c2", "c3") else model.get_layer(name)).kernel
        for name in ("c1", "c2", "c3", "d1", "d2")
    }


@pytest.mark.parametrize("form", ["volume", "normalized"])
def test_volume_form_values_equal_the_ops_functions(form):
    """One value per layer: dense `dense_volume_change`, conv the per-position
    `conv_volume_change(kernel, grid=grid) / (h w)` on the default grid (output size,
    at least the kernel size) and the total N_out times it."""
    model = small_cnn()
    kernels = _kernels(model)
    normalized = form == "normalized"
    profile = keras_entropy.entropy_profile(model, form=form, label="v")
    assert profile.form == form and [e.form for e in profile] == [form] * 5
    assert profile.names == ["c1", "c2", "c3", "d1", "d2"]
    # c3's output is 4 x 2, its kernel 2 x 3: the grid is at least the kernel.
    assert [e.grid for e in profile] == [(10, 8), (5, 4), (4, 3), None, None]
    for entry in profile:
        kernel = kernels[entry.name]
        assert entry.values.shape == (1,)
        if entry.kind == "conv":
            h, w = entry.grid
            expected = float(to_numpy(E.conv_volume_change(kernel, form=form, grid=(h, w)))) / (h * w)
            np.testing.assert_allclose(entry.values[0], expected, rtol=1e-5)
            np.testing.assert_allclose(entry.total, entry.output_positions * expected, rtol=1e-5)
        else:
            expected = float(to_numpy(E.dense_volume_change(kernel, form=form)))
            np.testing.assert_allclose([entry.values[0], entry.total], [expected] * 2, rtol=1e-5)
        if normalized:
            assert entry.total <= 1e-5
    # The paper's numbers are other numbers: the form is not ignored.
    paper = keras_entropy.entropy_profile(model)
    assert all(not np.isclose(a.total, b.total) for a, b in zip(paper, profile))
    # An explicit grid serves every conv layer; mean/min/... are the one value.
    fixed = keras_entropy.entropy_profile(model, kinds="conv", form=form, grid=(6, 6))
    assert [e.grid for e in fixed] == [(6, 6)] * 3
    expected = float(to_numpy(E.conv_volume_change(kernels["c2"], form=form, grid=(6, 6)))) / 36
    np.testing.assert_allclose(fixed["c2"].statistic("mean"), expected, rtol=1e-5)
    np.testing.assert_allclose(fixed["c2"].total, 20 * expected, rtol=1e-5)


def test_volume_form_unknown_spatial_size_and_argument_errors():
    inputs = keras.Input((None, None, 1))
    model = keras.Model(inputs, keras.layers.Conv2D(2, 3, name="c")(inputs))
    entry = keras_entropy.entropy_profile(model, form="volume")[0]
    assert entry.grid == (16, 16) and math.isnan(entry.total) and np.isfinite(entry.values[0])
    with pytest.raises(ValueError, match="form='log'"):
        keras_entropy.entropy_profile(model, form="log")
    with pytest.raises(ValueError, match="grid"):
        keras_entropy.entropy_profile(model, form="volume", grid=(0, 4))
    with pytest.raises(ValueError, match="form"):
        keras_entropy.profile.layer_entropy(model.get_layer("c"), form="Volume")
    volume = keras_entropy.entropy_profile(small_cnn(), form="volume")
    with pytest.raises(ValueError, match="form"):
        keras_entropy.EntropyProfile(list(volume), form="paper")
    assert keras_entropy.EntropyProfile(list(volume)).form == "volume"


def test_volume_form_records_csv_and_json_carry_the_form(tmp_path):
    profile = keras_entropy.entropy_profile(small_cnn(), form="normalized", label="n")
    assert "form='normalized'" in repr(profile)
    record = profile.to_records()[1]
    assert (record["form"], record["grid"], record["n_values"]) == ("normalized", "5x4", 1)
    rows = list(csv.DictReader(io.StringIO(profile.to_csv())))
    assert [r["form"] for r in rows] == ["normalized"] * 5
    assert [r["grid"] for r in rows] == ["10x8", "5x4", "4x3", "", ""]
    assert list(profile.to_dataframe().columns)[-2:] == ["form", "grid"]
    assert len(profile.to_records(per="value")) == 5  # one value per layer
    # A paper-form table keeps its columns (no form, no grid).
    paper_header = keras_entropy.entropy_profile(small_cnn()).to_csv().splitlines()[0]
    assert "form" not in paper_header and paper_header.endswith(",total")
    assert json.loads(profile.to_json())["form"] == "normalized"
    profile.to_json(tmp_path / "n.json")
    back = keras_entropy.EntropyProfile.from_json(str(tmp_path / "n.json"))
    assert back.form == "normalized" and back.label == "n"
    assert [e.grid for e in back] == [e.grid for e in profile]
    assert [e.form for e in back] == ["normalized"] * 5
    np.testing.assert_array_equal(np.concatenate([e.values for e in back]), np.concatenate([e.values for e in profile]))
    # A JSON written before the forms existed reads back as the paper form.
    old = json.loads(keras_entropy.entropy_profile(small_cnn()).to_json())
    old.pop("form")
    for layer in old["layers"]:
        layer.pop("grid")
    assert keras_entropy.EntropyProfile.from_json(json.dumps(old)).form == "paper"


def test_plot_volume_form_draws_a_point_per_layer_and_names_the_form():
    model = small_cnn()
    volume = keras_entropy.entropy_profile(model, form="volume", label="volume")
    fig = keras_entropy.plot_profiles([volume, volume])
    for ax in fig.get_axes():
        assert not [p for p in ax.patches if type(p).__name__ == "PathPatch"]  # no boxes
        points = [line for line in ax.get_lines() if line.get_marker() in ("o", "D")]
        assert sorted(len(line.get_xdata()) for line in points) == [2, 3]  # dense, conv
    assert fig.get_axes()[0].get_ylabel() == "volume form: dH_vol/(h w) (nats)"
    secondary = fig.get_axes()[-1].child_axes
    assert len(secondary) == 1 and "dH_vol" in secondary[0].get_ylabel()
    dense_only = keras_entropy.EntropyProfile([e for e in volume if e.kind == "dense"])
    label = keras_entropy.plot_profiles(dense_only).get_axes()[0].get_ylabel()
    assert label.startswith("volume form:") and "dH_vol" in label
    with pytest.raises(ValueError, match="profiles"):
        keras_entropy.plot_profiles([volume, keras_entropy.entropy_profile(model)])

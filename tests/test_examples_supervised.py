"""The supervised experiments of issue 4: keras_entropy.experiments.classification / segmentation
and examples/cnn_classification.py, large_cnn_classification.py, unet_segmentation.py.

Each example runs once in --quick mode as a subprocess on the current backend
(KERAS_BACKEND from the environment), with an empty tensorflow-datasets
directory, so that it falls back to the embedded MNIST subset (CNN) or to
tensorflow-datasets mock data (Imagenette, COCO); the test reads
results.jsonl and summary.md.
"""

import json
import math
import os
import re
import subprocess
import sys

import keras
import numpy as np
import pytest

from helpers import bh_by_hand, load_example
from keras_entropy import ConvEntropy, place_penalties, select_layers
from keras_entropy.experiments import analysis, classification, paper, runs, segmentation
from keras_entropy.experiments.datasets import DatasetNotFoundError

pytestmark = pytest.mark.one_backend

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PNG = b"\x89PNG\r\n\x1a\n"


def run_example(name, args, tmp_path):
    """Run `examples/<name>.py args` in a subprocess with no tensorflow-datasets copy."""
    tfds_dir = tmp_path / "tfds_home"
    tfds_dir.mkdir(exist_ok=True)
    env = dict(os.environ, TFDS_DATA_DIR=str(tfds_dir), TF_CPP_MIN_LOG_LEVEL="3", KERAS_BACKEND=keras.backend.backend())
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, "examples", f"{name}.py"), *args],
        cwd=str(tmp_path),
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc.stdout


def read_records(out):
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


# ---------------------------------------------------------------------------
# Examples, end to end


def test_cnn_classification_quick_on_embedded_mnist(tmp_path):
    out = tmp_path / "cnn"
    args = ["--quick", "--train-size", "128", "--val-size", "64", "--out", str(out)]
    printed = run_example("cnn_classification", args, tmp_path)
    assert f"backend: {keras.backend.backend()}; devices: " in printed
    # Quiet by default: no Keras progress bars, one line per finished run.
    assert len(printed.splitlines()) < 60, printed
    run_lines = [line for line in printed.splitlines() if re.match(r"\[\d+/6\] ", line)]
    assert [line[:5] for line in run_lines] == [f"[{i}/6]" for i in range(1, 7)], printed
    assert all("val_accuracy=" in line and " epochs, " in line for line in run_lines)
    assert "ETA" in run_lines[0] and "/step" not in printed and "Epoch 1/" not in printed
    assert "NOTE:" in printed and "embedded MNIST subset" in printed
    records = read_records(out)
    # depth 2, width 8: the baseline, and lam=0.01 on the first / all convolutions; 2 replications.
    assert len(records) == 6 and len({r["key"] for r in records}) == 6
    cells = sorted((r["config"]["placement"], r["config"]["lam"], r["seed"]) for r in records)
    assert cells == sorted((p, lam, s) for p, lam in (("none", 0.0), ("first", 0.01), ("all", 0.01)) for s in (0, 1))
    for r in records:
        c, h, m = r["config"], r["history"], r["metrics"]
        assert c["dataset"] == "mnist" and c["data_source"] == "embedded"
        assert (c["depth"], c["width"], c["train_size"], c["val_size"]) == (2, 8, 128, 64)
        assert 1 <= r["epochs_trained"] <= 2 and len(h["val_accuracy"]) == r["epochs_trained"]
        assert 0 <= m["val_accuracy"] <= 1 and 0 <= m["accuracy"] <= 1
        assert m["val_accuracy"] == max(h["val_accuracy"]) == h["val_accuracy"][m["best_epoch"] - 1]
        assert r["backend"] == keras.backend.backend()
    summary = (out / "summary.md").read_text()
    assert summary.splitlines()[0] == "# CNN classification on mnist (embedded subset, --quick)"
    assert "embedded MNIST subset" in summary and "Table 1" in summary
    header = (
        "| Architecture | placement | best lam | n (base/entropy) | Mean Base Train Acc. | "
        "Mean Base Val. Acc. | Mean Train Acc. change | Mean Val. Acc. change |"
    )
    assert header in summary
    rows = [line for line in summary.splitlines() if line.startswith("| depth=2, width=8 |")]
    assert sorted(row.split(" | ")[1] for row in rows) == ["all", "first"]
    for row in rows:
        assert "| 0.01 | 2/2 |" in row
        # the change, stars of the adjusted p, then the raw and Benjamini-Hochberg adjusted p (or n/a)
        assert len(re.findall(r"[+-]\d\.\d{4}\** \((p \d\.\d{4}, adj \d\.\d{4}|n/a)\)", row)) == 2
    base_val = np.mean([r["metrics"]["val_accuracy"] for r in records if r["config"]["lam"] == 0])
    assert f"| {base_val:.4f} |" in rows[0]
    assert (out / "val_accuracy_vs_lam.png").read_bytes().startswith(PNG)
    # Resumable: the same command trains nothing more.
    before = (out / "results.jsonl").read_bytes()
    again = run_example("cnn_classification", args, tmp_path)
    assert "sweep: 6 runs, 6 already in" in again and "0 to run" in again
    assert not re.search(r"^\[\d+/6\] ", again, re.M)
    assert (out / "results.jsonl").read_bytes() == before


def test_large_cnn_classification_quick_on_mock_imagenette(tmp_path):
    out = tmp_path / "large"
    printed = run_example("large_cnn_classification", ["--quick", "--verbose", "0", "--out", str(out)], tmp_path)
    assert "backend: " in printed and "devices: " in printed
    assert "NOTE:" in printed and "mock data" in printed
    records = read_records(out)
    assert len(records) == 2
    by_lam = {r["config"]["lam"]: r for r in records}
    assert set(by_lam) == {0.0, 0.01}
    assert by_lam[0.0]["config"]["placement"] == "none" and by_lam[0.0]["penalised_layers"] == []
    assert by_lam[0.01]["config"]["placement"] == "first"
    assert by_lam[0.01]["penalised_layers"] == ["block1_conv1"]
    for r in records:
        c = r["config"]
        assert (c["arch"], c["training"], c["data_source"]) == ("vgg16", "augmentation_dropout", "mock")
        assert (c["image_size"], c["learning_rate"], c["lr_factor"], c["dropout"]) == (32, 0.01, 0.1, 0.5)
        assert r["epochs_trained"] == 1 and 0 <= r["metrics"]["val_accuracy"] <= 1
        assert r["history"]["learning_rate"][0] == pytest.approx(0.01)
    summary = (out / "summary.md").read_text()
    assert "mock data" in summary and "Table 2" in summary
    assert "| arch | training | placement | lam=0 | lam=0.01 |" in summary
    row = next(line for line in summary.splitlines() if line.startswith("| vgg16 | augmentation_dropout | first |"))
    values = [float(v.strip("* ")) for v in row.split("|")[4:6]]
    assert values == pytest.approx(
        [by_lam[0.0]["metrics"]["val_accuracy"], by_lam[0.01]["metrics"]["val_accuracy"]], abs=1e-3
    )
    assert "- vgg16 / first ([1]): block1_conv1" in summary


def test_unet_segmentation_quick_on_mock_coco(tmp_path):
    out = tmp_path / "unet"
    printed = run_example("unet_segmentation", ["--quick", "--verbose", "0", "--out", str(out)], tmp_path)
    assert "backend: " in printed and "NOTE:" in printed and "mock data" in printed
    table_header = "| Loss | Layers | lambda | seed | # of Epochs | Training Time (s) | Accuracy | IOU |"
    assert table_header in printed
    records = read_records(out)
    assert len(records) == 2
    by_lam = {r["config"]["lam"]: r for r in records}
    assert by_lam[0.01]["config"]["placement"] == "3,7,11,15"
    assert by_lam[0.01]["penalised_layers"] == [f"down{i}_conv2" for i in (1, 2, 3, 4)]
    assert by_lam[0.0]["penalised_layers"] == []
    for r in records:
        c, m = r["config"], r["metrics"]
        assert (c["data_source"], c["image_size"], c["min_delta"], c["patience"]) == ("mock", 32, 0.01, 1)
        assert 1 <= r["epochs_trained"] <= 2 and r["wall_time_s"] > 0
        assert 0 <= m["val_accuracy"] <= 1 and 0 <= m["val_iou"] <= 1 and m["val_loss"] > 0
        assert (out / os.path.basename(r["mask_figure"])).read_bytes().startswith(PNG)
    # lam > 0: the penalty is in the loss (total loss above the MSE alone).
    h = by_lam[0.01]["history"]
    assert all(loss > 0 for loss in h["loss"])
    summary = (out / "summary.md").read_text()
    assert "mock data" in summary and table_header in summary
    rows = [line for line in summary.splitlines() if line.startswith("| MSE")]
    assert len(rows) == 2 and rows[0].startswith("| MSE | - | 0 | 0 | ")
    assert rows[1].startswith("| MSE + Entropy | 3,7,11,15 | 0.01 | 0 | ")
    iou = by_lam[0.01]["metrics"]["val_iou"]
    assert rows[1].rstrip(" |").endswith(f"{iou:.4f}")
    assert "masks_lam0.01_3-7-11-15_seed0.png" in summary


@pytest.mark.parametrize("name", ["cnn_classification", "large_cnn_classification", "unet_segmentation"])
def test_examples_help_and_full_mode_never_substitutes(name, tmp_path, capsys, monkeypatch):
    import tensorflow_datasets as tfds

    example = load_example(name)
    with pytest.raises(SystemExit) as exit_info:
        example.parse_args(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--quick", "--out", "--data-dir", "--mixed-precision", "--dataset", "--lams"):
        assert option in text
    empty = tmp_path / "tfds_home"
    empty.mkdir()
    monkeypatch.setattr(tfds.core.constants, "DATA_DIR", str(empty))
    with pytest.raises(DatasetNotFoundError, match="missing"):
        example.experiment(example.parse_args(["--data-dir", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]))
    with pytest.raises(DatasetNotFoundError, match="tfds_home"):
        example.experiment(example.parse_args(["--no-download", "--out", str(tmp_path / "o")]))
    assert example.main(["--no-download", "--out", str(tmp_path / "o")]) == 2  # one line on stderr
    assert "tfds_home" in capsys.readouterr().err.splitlines()[-1]
    assert not (tmp_path / "o").exists()  # --out is created only once the data are loaded


@pytest.mark.parametrize(
    "name, table",
    [
        ("cnn_classification", paper.CNN_PAPER),
        ("large_cnn_classification", {**paper.LARGE_CNN_PAPER, "placements": None}),
        ("unet_segmentation", paper.UNET_PAPER),
    ],
)
def test_examples_default_to_the_papers_settings(name, table):
    example = load_example(name)
    shared = [name for name in example.DEFAULTS if name in table]
    assert {name: example.DEFAULTS[name] for name in shared} == {name: table[name] for name in shared}
    assert set(example.DEFAULTS) - set(shared) <= {"train_size", "val_size"}
    args = example.parse_args([])
    assert {k: getattr(args, k) for k in example.DEFAULTS} == example.DEFAULTS
    quick = example.parse_args(["--quick", "--lams", "0", "0.5"])
    assert quick.lams == [0.0, 0.5] and quick.max_epochs == example.QUICK["max_epochs"]


# ---------------------------------------------------------------------------
# Builders


def entropy_layers(model):
    return [layer.name for layer in model.layers if isinstance(getattr(layer, "kernel_regularizer", None), ConvEntropy)]


def test_small_cnn_layers_and_placement():
    model = classification.small_cnn((32, 32, 3), 3, 8)
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [c.name for c in convs] == ["conv1", "conv2", "conv3"]
    assert sum(isinstance(layer, keras.layers.LeakyReLU) for layer in model.layers) == 3
    assert sum(isinstance(layer, keras.layers.MaxPooling2D) for layer in model.layers) == 3
    assert model.output_shape == (None, 10) and model.losses == []
    first = classification.small_cnn((32, 32, 3), 3, 8, lam=0.01, placement="first")
    assert entropy_layers(first) == ["conv1"] and len(first.losses) == 1
    assert first.get_layer("conv1").kernel_regularizer.output_shape == (30, 30)
    every = classification.small_cnn((32, 32, 3), 3, 8, lam=0.01, placement="all")
    assert entropy_layers(every) == ["conv1", "conv2", "conv3"] and len(every.losses) == 3
    assert every.get_layer("conv3").kernel_regularizer.output_shape == (4, 4)
    for kwargs, fragment in [
        ({"depth": 4}, "depth=4"),
        ({"width": 0}, "width=0"),
        ({"input_shape": (32, 32)}, "input_shape"),
    ]:
        call = {"input_shape": (32, 32, 3), "depth": 1, "width": 4, **kwargs}
        with pytest.raises(ValueError, match=re.escape(fragment)):
            classification.small_cnn(**call)
    with pytest.raises(TypeError, match="lam"):
        classification.small_cnn((32, 32, 3), 1, 4, lam="big")


def test_a_volume_form_config_builds_volume_penalties(rng, monkeypatch):
    from keras_entropy.experiments import autoencoder

    settings = {
        **paper.CNN_PAPER,
        "depths": [1],
        "widths": [4],
        "lams": [0.0, 0.1],
        "placements": ["first"],
        "form": "volume",
    }
    fixed = {**{k: paper.CNN_PAPER[k] for k in ("patience", "batch_size", "learning_rate")}, "max_epochs": 1}
    baseline, config = classification.cnn_configs(settings, {**fixed, **autoencoder.form_entry("volume")})
    assert "form" not in baseline and config["form"] == "volume"  # the baseline has no penalty, hence no form
    built = []

    def fit(model, *args, **kwargs):
        built.append(model)
        return {}

    monkeypatch.setattr(classification, "fit_classifier", fit)
    x, y = rng.random((8, 12, 12, 1)).astype("float32"), rng.integers(0, 3, 8)
    cnn = load_example("cnn_classification")
    cnn.train(config, 0, (x, y, x, y), verbose=0)
    regularizer = built[0].get_layer("conv1").kernel_regularizer
    assert isinstance(regularizer, ConvEntropy) and regularizer.form == "volume"
    assert regularizer.lam == pytest.approx(0.1) and regularizer.output_shape == (10, 10)
    cnn.train({**config, "form": "normalized"}, 0, (x, y, x, y), verbose=0)
    assert built[1].get_layer("conv1").kernel_regularizer.form == "normalized"
    monkeypatch.setattr(runs, "fit_run", fit)
    unet_config = {
        **{k: v for k, v in paper.UNET_PAPER.items() if not isinstance(v, list)},
        "base_filters": 2,
        "depth": 1,
        "lam": 0.1,
        "placement": "first",
        "form": "normalized",
    }
    images, masks = rng.random((4, 16, 16, 3)).astype("float32"), np.ones((4, 16, 16, 1), "float32")
    record = load_example("unet_segmentation").train(unet_config, 0, (images, masks, images, masks), verbose=0)
    assert record["penalised_layers"] == ["down1_conv1"]
    assert [
        layer.kernel_regularizer.form
        for layer in built[2].layers
        if isinstance(getattr(layer, "kernel_regularizer", None), ConvEntropy)
    ] == ["normalized"]
    # Mask figures of runs that differ only by form do not overwrite one another.
    assert segmentation.mask_file({"lam": 0.1, "placement": "first"}, 0) == "masks_lam0.1_first_seed0.png"
    assert (
        segmentation.mask_file({"lam": 0.1, "placement": "first", "form": "volume"}, 0)
        == "masks_lam0.1_first_volume_seed0.png"
    )
    large = classification.large_cnn_configs(
        {
            **paper.LARGE_CNN_PAPER,
            "archs": ["vgg16"],
            "trainings": ["vanilla"],
            "placements": ["first"],
            "lams": [0.0, 0.1],
        },
        {"dataset": "imagenette", **autoencoder.form_entry("normalized")},
    )
    assert [c.get("form") for c in large] == [None, "normalized"]


def test_cnn_run_records_best_epoch_under_mixed_precision(rng):
    keras.config.set_dtype_policy("mixed_float16")
    x = rng.random((32, 12, 12, 1)).astype("float32")
    y = rng.integers(0, 3, 32)
    outcome = load_example("cnn_classification").train(
        {
            "depth": 1,
            "width": 4,
            "lam": 0.1,
            "placement": "first",
            "max_epochs": 2,
            "patience": 5,
            "batch_size": 16,
            "learning_rate": 1e-3,
        },
        0,
        (x, y, x[:8], y[:8]),
        verbose=0,
    )
    assert outcome["epochs_trained"] == 2 and outcome["stopping"]["val_accuracy"]["stopped"] is False
    assert all(np.isfinite(v) for v in outcome["history"]["loss"])
    assert 0 <= outcome["metrics"]["val_accuracy"] <= 1


def test_small_cnn_of_the_example_is_the_librarys(rng):
    build = load_example("cnn_classification").build_model
    for placement in ("first", "first_two", "all"):
        for depth in (1, 2, 3):
            keras.utils.set_random_seed(3)
            ours = build((32, 32, 3), depth, 4, 10, 0.01, placement, "volume")
            keras.utils.set_random_seed(3)
            library = classification.small_cnn((32, 32, 3), depth, 4, 10, 0.01, placement, form="volume")
            assert [layer.name for layer in ours.layers] == [layer.name for layer in library.layers]
            assert entropy_layers(ours) == entropy_layers(library)
            for name in entropy_layers(ours):
                mine, theirs = (m.get_layer(name).kernel_regularizer.get_config() for m in (ours, library))
                assert mine == theirs
            for a, b in zip(ours.weights, library.weights):
                np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
            x = rng.random((2, 32, 32, 3)).astype("float32")
            np.testing.assert_allclose(
                keras.ops.convert_to_numpy(ours(x)), keras.ops.convert_to_numpy(library(x)), rtol=1e-6
            )
            assert float(sum(ours.losses)) == pytest.approx(float(sum(library.losses)), rel=1e-6)
    assert build((32, 32, 3), 2, 4, 10).losses == []


def test_vgg16_head_augmentation_dropout_and_placement():
    build = load_example("large_cnn_classification").build_model
    model = build(
        "vgg16", (32, 32, 3), 10, training="augmentation_dropout", head_units=8, lam=0.01, placement="first_two"
    )
    names = [layer.name for layer in model.layers]
    assert names[:5] == ["image", "rescale", "aug_flip", "aug_rotation", "aug_zoom"]
    assert model.get_layer("aug_rotation").factor == (-0.2, 0.2) or model.get_layer("aug_rotation").factor == 0.2
    dropouts = [layer for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
    assert [d.rate for d in dropouts] == [0.5, 0.5]
    assert names.index("fc1") < names.index("fc1_dropout") < names.index("fc2") < names.index("predictions")
    assert sum(isinstance(layer, keras.layers.Conv2D) for layer in model.layers) == 13
    assert entropy_layers(model) == ["block1_conv1", "block1_conv2"] and len(model.losses) == 2
    assert model.output_shape == (None, 10)
    vanilla = build("vgg16", (32, 32, 3), 5, head_units=8)
    assert not any(isinstance(layer, (keras.layers.Dropout, keras.layers.RandomFlip)) for layer in vanilla.layers)
    assert vanilla.losses == []


def test_resnet50_pre_skip_and_first_two_placements():
    build = load_example("large_cnn_classification").build_model
    model = build("resnet50", (32, 32, 3), 10, training="augmentation", head_units=8, lam=0.01, placement="pre_skip")
    touched = entropy_layers(model)
    assert len(touched) == 20 and len(model.losses) == 20
    assert all(name.endswith(("_3_conv", "_0_conv")) for name in touched)
    assert [layer.name for layer in select_layers(model, "first_two", kinds=("conv",))] == [
        "conv1_conv",
        "conv2_block1_1_conv",
    ]
    assert paper.PAPER_PLACEMENT_LABELS[("resnet50", "first_two")] == "[1,5]"
    # "empirical": the k layers with the highest mean entropy change in a reference profile.
    reference = classification.load_reference("initial", "resnet50", (32, 32, 3))
    empirical = build(
        "resnet50", (32, 32, 3), 10, head_units=8, lam=0.01, placement="empirical", reference=reference, k=4
    )
    assert sorted(entropy_layers(empirical)) == sorted(entry.name for entry in reference.top(4))
    assert len(empirical.losses) == 4
    with pytest.raises(ValueError, match="source='weights.h5'"):
        classification.load_reference("weights.h5", "resnet50")


def test_unet_layout_matches_the_papers_layer_indices():
    model = segmentation.unet((32, 32, 3), base_filters=2)
    layers = model.layers
    assert sum(type(layer) is keras.layers.Conv2D for layer in layers) == 19
    assert sum(isinstance(layer, keras.layers.Conv2DTranspose) for layer in layers) == 4
    assert [layers[i].name for i in (3, 7, 11, 15)] == [f"down{i}_conv2" for i in (1, 2, 3, 4)]
    assert [layers[i].name for i in (19, 24, 29, 34)] == ["bottleneck_conv2", "up1_conv2", "up2_conv2", "up3_conv2"]
    assert [layer.name for layer in segmentation.paper_layers(model, [2])] == ["down1_conv1"]
    assert [layer.name for layer in segmentation.paper_layers(model, [2, 3])] == ["down1_conv1", "down1_conv2"]
    pre_concat = [layer.name for layer in select_layers(model, "pre_concat")]
    assert pre_concat == [layer.name for layer in segmentation.paper_layers(model, [3, 7, 11, 15])]
    assert model.output_shape == (None, 32, 32, 1)
    with pytest.raises(ValueError, match="Layer index 20"):
        segmentation.paper_layers(model, [20])  # a transposed convolution
    with pytest.raises(ValueError, match="indices"):
        segmentation.paper_layers(model, [99])
    # The example builds the same network, and places the penalty by the paper's indices.
    example = load_example("unet_segmentation")
    keras.utils.set_random_seed(5)
    placed = example.build_model((32, 32, 3), 2)
    assert [(type(a), a.name) for a in placed.layers] == [(type(b), b.name) for b in layers]
    keras.utils.set_random_seed(5)
    library = segmentation.unet((32, 32, 3), base_filters=2)
    for a, b in zip(placed.weights, library.weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
    where = segmentation.placement_layers(placed, "3,7,11,15")
    assert where == [f"down{i}_conv2" for i in (1, 2, 3, 4)]
    place_penalties(placed, where, 0.1, kinds=("conv",))
    assert entropy_layers(placed) == where and len(placed.losses) == 4
    assert placed.get_layer("down2_conv2").kernel_regularizer.output_shape == (16, 16)
    assert segmentation.placement_layers(placed, "pre_concat") == "pre_concat"
    assert segmentation.parse_placement("[2, 3]") == ("paper", [2, 3])
    assert segmentation.parse_placement("pre_concat") == "pre_concat"
    for good in ("2", "[2, 3]", "3,7,11,15", "pre_concat", "first_two"):
        assert example.parse_args(["--placements", good]).placements == [good]
    with pytest.raises(ValueError, match="divisible"):
        segmentation.unet((30, 30, 3))
    with pytest.raises(ValueError, match="depth=5"):
        segmentation.unet((32, 32, 3), depth=5)


def test_binary_iou_on_hand_made_masks():
    metric = segmentation.BinaryIoU()
    y_true = np.array([[[1.0], [1.0]], [[0.0], [0.0]]])[None]  # (1, 2, 2, 1)
    y_pred = np.array([[[0.9], [0.2]], [[0.7], [0.1]]])[None]
    metric.update_state(y_true, y_pred)  # inter 1, union 3
    assert float(metric.result()) == pytest.approx(1 / 3)
    metric.update_state(np.ones((1, 2, 2, 1)), np.ones((1, 2, 2, 1)))  # + inter 4, union 4
    assert float(metric.result()) == pytest.approx(5 / 7)
    metric.reset_state()
    metric.update_state(np.zeros((1, 3, 3, 1)), np.full((1, 3, 3, 1), 0.2))
    assert float(metric.result()) == pytest.approx(1.0)  # both empty: perfect
    metric.update_state(np.zeros((1, 3, 3, 1)), np.full((1, 3, 3, 1), 0.6))
    assert float(metric.result()) == pytest.approx(0.0)  # all wrong
    strict = segmentation.BinaryIoU(threshold=0.8)
    strict.update_state(y_true, y_pred)
    assert float(strict.result()) == pytest.approx(1 / 2)  # only 0.9 counts: inter 1, union 2
    config = strict.get_config()
    assert config["threshold"] == 0.8
    assert segmentation.BinaryIoU.from_config(config).threshold == 0.8
    assert keras.saving.get_registered_object("keras_entropy>BinaryIoU") is segmentation.BinaryIoU
    with pytest.raises(ValueError, match="threshold=1.5"):
        segmentation.BinaryIoU(threshold=1.5)


# ---------------------------------------------------------------------------
# Tables


def record(config, seed, **metrics):
    return {"key": f"{sorted(config.items())}{seed}", "config": config, "seed": seed, "metrics": metrics}


def test_improvement_table_picks_the_best_lambda_and_tests_one_tailed():
    recs = []
    for s in range(5):
        noise = 0.001 * s
        recs.append(
            record(
                {"depth": 1, "width": 32, "placement": "none", "lam": 0.0},
                s,
                accuracy=0.70 + noise,
                val_accuracy=0.60 + noise,
            )
        )
        recs.append(
            record(
                {"depth": 1, "width": 32, "placement": "first", "lam": 0.01},
                s,
                accuracy=0.70 + noise,
                val_accuracy=0.65 + noise,
            )
        )
        recs.append(
            record(
                {"depth": 1, "width": 32, "placement": "first", "lam": 1.0},
                s,
                accuracy=0.71 - noise,
                val_accuracy=0.55 + noise,
            )
        )
    rows, md = analysis.improvement_table(recs)
    (row,) = rows
    assert row["best_lam"] == 0.01 and row["n_base"] == 5 and row["n"] == 5
    assert row["base_val_accuracy"] == pytest.approx(0.602)
    assert row["val_change"] == pytest.approx(0.05)
    assert row["val_pvalue"] < 0.001 and row["val_stars"] == "***"
    assert row["train_change"] == pytest.approx(0.0, abs=1e-12) and row["train_stars"] == ""
    assert "| depth=1, width=32 | first | 0.01 | 5/5 | 0.7020 | 0.6020 | +0.0000 (p " in md
    assert "+0.0500*** (p 0.0000, adj 0.0000)" in md
    # The table is one family (train and val of every row), Benjamini-Hochberg adjusted by hand:
    # two p-values, sorted: p_(1) * 2 / 1 and p_(2) * 2 / 2, then the cumulative minimum from the top.
    small, large = sorted([row["train_pvalue"], row["val_pvalue"]])
    assert small == row["val_pvalue"] and large == row["train_pvalue"]
    assert row["val_pvalue_adjusted"] == pytest.approx(min(2 * small, large))
    assert row["train_pvalue_adjusted"] == pytest.approx(large)
    assert f"(p {large:.4f}, adj {large:.4f})" in md
    # A second placement joins the family: a borderline raw p-value loses its star after adjustment.
    for s in range(5):
        recs.append(
            record(
                {"depth": 1, "width": 32, "placement": "all", "lam": 0.1},
                s,
                accuracy=0.70 + 0.001 * s,
                val_accuracy=(0.6083, 0.6023, 0.6043, 0.6133, 0.6063)[s],  # one-tailed p = 0.029
            )
        )
    rows, md = analysis.improvement_table(recs)
    (alone,) = [r for r in rows if r["placement"] == "all"]
    raw = [p for r in rows for p in (r["train_pvalue"], r["val_pvalue"])]
    got = [p for r in rows for p in (r["train_pvalue_adjusted"], r["val_pvalue_adjusted"])]
    assert got == pytest.approx(bh_by_hand(raw))
    assert 0.01 < alone["val_pvalue"] < 0.05 and alone["val_pvalue_adjusted"] >= 0.05 and alone["val_stars"] == ""
    assert "(p 0.0291, adj 0.0583)" in md
    with pytest.raises(ValueError, match="No runs"):
        analysis.improvement_table([])


def test_accuracy_grid_and_table3_from_records():
    recs = [
        record({"arch": "vgg16", "training": "vanilla", "placement": "none", "lam": 0.0}, 0, val_accuracy=0.70),
        record({"arch": "vgg16", "training": "vanilla", "placement": "first", "lam": 0.1}, 0, val_accuracy=0.75),
        record({"arch": "vgg16", "training": "vanilla", "placement": "first_two", "lam": 0.1}, 0, val_accuracy=0.65),
    ]
    table, md = analysis.accuracy_grid(recs)
    assert table == {
        ("vgg16", "vanilla", "first"): {0.0: 0.70, 0.1: 0.75},
        ("vgg16", "vanilla", "first_two"): {0.0: 0.70, 0.1: 0.65},
    }
    assert "| vgg16 | vanilla | first | 0.700 | **0.750** |" in md
    assert "| vgg16 | vanilla | first_two | **0.700** | 0.650 |" in md
    seg = [
        dict(
            record({"placement": "none", "lam": 0.0}, 0, val_accuracy=0.83, val_iou=0.67),
            epochs_trained=20,
            wall_time_s=9276.82,
        ),
        dict(
            record({"placement": "3,7,11,15", "lam": 1e-4}, 0, val_accuracy=0.8336, val_iou=0.6823),
            epochs_trained=24,
            wall_time_s=13202.78,
        ),
    ]
    rows, md3 = segmentation.table3(seg)
    assert [r["epochs"] for r in rows] == [20, 24]
    assert "| MSE | - | 0 | 0 | 20 | 9276.82 | 0.8300 | 0.6700 |" in md3
    assert "| MSE + Entropy | 3,7,11,15 | 0.0001 | 0 | 24 | 13202.78 | 0.8336 | 0.6823 |" in md3
    assert not math.isnan(rows[1]["iou"])


@pytest.mark.parametrize("placement", ["first", "first_two", "all"])
def test_tune_lambda_cnn_builder_is_the_library_cnn_with_its_penalty(placement):
    # The example writes the paper's CNN with keras.layers: the layers of classification.small_cnn, and the
    # trial's ConvEntropy where place_penalties puts it, with the same output size (so the same penalty).
    keras_tuner = pytest.importorskip("keras_tuner")
    example = load_example("tune_lambda")
    args = example.parse_args(["--depth", "3", "--width", "4", "--placements", placement, "--lam-range", "0.01", "1"])
    hp = keras_tuner.HyperParameters()
    model = example.cnn_builder(args, (32, 32, 3), classes=10)(hp)
    assert hp.values["conv_entropy"] is True and hp.values["conv_lam"] == pytest.approx(0.01)  # the defaults
    reference = classification.small_cnn((32, 32, 3), 3, 4, 10, lam=0.01, placement=placement)
    assert [layer.name for layer in model.layers] == [layer.name for layer in reference.layers]
    assert [tuple(w.shape) for w in model.weights] == [tuple(w.shape) for w in reference.weights]
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    for layer, expected in zip(model.layers, reference.layers):
        penalty, wanted = layer.get_config().get("kernel_regularizer"), expected.get_config().get("kernel_regularizer")
        assert (penalty is None) == (wanted is None), layer.name
        if wanted is not None:
            assert layer.kernel_regularizer.output_shape == expected.kernel_regularizer.output_shape, layer.name
    reference.set_weights(model.get_weights())
    assert len(model.losses) == len(reference.losses) == {"first": 1, "first_two": 2, "all": 3}[placement]
    np.testing.assert_allclose(
        [float(loss) for loss in model.losses], [float(loss) for loss in reference.losses], rtol=1e-6
    )
    off = keras_tuner.HyperParameters()
    off.Fixed("conv_entropy", False)  # the lambda = 0 baseline: no penalty
    assert example.cnn_builder(args, (32, 32, 3))(off).losses == []

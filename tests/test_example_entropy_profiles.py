"""examples/entropy_profiles.py (--quick), keras_entropy.experiments.profile_figures and its architectures."""

import csv
import json
import re

import numpy as np
import pytest

from helpers import run_example
from keras_entropy import EntropyProfile, entropy_profile
from keras_entropy.experiments import architectures, profile_figures

pytestmark = pytest.mark.one_backend


def test_own_unet_layer_structure():
    unet = architectures.unet((16, 16, 3), 1, filters=2, depth=1)
    # down: 2 convs, bottleneck: 2, up: up-conv + 2 convs, output 1x1: 5 * depth + 3.
    assert [e.kind for e in entropy_profile(unet)] == ["conv"] * 8
    assert unet.output_shape == (None, 16, 16, 1)


def _expected_unet_layers(builder, depth):
    # segmentation.unet up-samples with Conv2DTranspose, which the profile (Conv2D/Dense) skips.
    return 4 * depth + 3 if builder.endswith("segmentation.unet") else 5 * depth + 3


def test_builders_validate():
    with pytest.raises(ValueError, match="input_shape"):
        architectures.unet((30, 30, 3), depth=2)
    with pytest.raises(ValueError, match="name"):
        architectures.build_model("alexnet", 32)
    with pytest.raises(ValueError, match="width"):
        architectures.compact_vgg16(width=0)
    with pytest.raises(ValueError, match="weights"):
        architectures.build_model("unet", 32, weights="x.h5")


def test_find_imagenet_weights(tmp_path):
    assert architectures.find_imagenet_weights("vgg16", cache_dir=str(tmp_path)) is None
    path = tmp_path / architectures.IMAGENET_WEIGHT_FILES["resnet50"]
    path.write_bytes(b"")
    assert architectures.find_imagenet_weights("resnet50", cache_dir=str(tmp_path)) == str(path)
    assert architectures.find_imagenet_weights("resnet50", path=str(tmp_path)) == str(path)
    assert architectures.find_imagenet_weights("unet", cache_dir=str(tmp_path)) is None
    with pytest.raises(FileNotFoundError):
        architectures.find_imagenet_weights("vgg16", path=str(tmp_path / "missing.h5"))


def test_segmentation_arrays_from_mnist():
    from keras_entropy.experiments import datasets

    data = datasets.load_embedded_mnist()
    x, masks = profile_figures.segmentation_arrays(data, 32, max_examples=5)
    assert x.shape == (5, 32, 32, 3) and x.dtype == np.uint8 and masks.shape == (5, 32, 32, 1)
    assert set(np.unique(masks)) == {0.0, 1.0}
    np.testing.assert_array_equal(masks[:, 2:30, 2:30, 0], (data.x_train[:5] > 127).astype("float32"))


def test_quick_run_writes_profiles_figures_and_summary(tmp_path, backend):
    out = tmp_path / "run"
    proc = run_example(
        "entropy_profiles", ["--quick", "--out", str(out)], backend, KERAS_HOME=str(tmp_path / "keras_home")
    )
    assert f"backend: {backend}" in proc.stdout and "embedded MNIST subset" in proc.stdout
    lines = proc.stdout.splitlines()  # quiet by default: one line per model
    assert len(lines) < 60, proc.stdout
    assert [line[:6] for line in lines if re.match(r"\[\d/3\] ", line)] == ["[1/3] ", "[2/3] ", "[3/3] "]

    records = {
        json.loads(line)["config"]["model"]: json.loads(line)
        for line in (out / "results.jsonl").read_text().splitlines()
    }
    assert sorted(records) == ["resnet50", "unet", "vgg16"]
    builder = architectures.unet_builder()[0]
    assert records["unet"]["metrics"]["builder"] == records["unet"]["config"]["unet_builder"] == builder
    expected_layers = {"vgg16": 16, "resnet50": 18, "unet": _expected_unet_layers(builder, 3)}
    import matplotlib.image

    summary = (out / "summary.md").read_text()
    assert "embedded MNIST subset" in summary
    for name, record in records.items():
        m = record["metrics"]
        assert record["config"]["compact"] is True and record["config"]["input_size"] == 32
        assert m["n_layers"] == expected_layers[name]
        # One box per layer in each of the two panels (trained | initialised).
        assert m["boxes_per_panel"] == [expected_layers[name]] * 2
        assert 0.0 <= m["accuracy"] <= 1.0 and np.isfinite(m["loss"])
        trained = EntropyProfile.from_json(str(out / f"profile_{name}_trained.json"))
        initialised = EntropyProfile.from_json(str(out / f"profile_{name}_initialised.json"))
        assert len(trained) == len(initialised) == expected_layers[name]
        kinds = [e.kind for e in trained]
        if name == "vgg16":  # VGG16's structure: 13 convolutions, 3 dense layers
            assert kinds == ["conv"] * 13 + ["dense"] * 3
        elif name == "resnet50":  # conv1, 4 stages x (projection + 3 convs), the classifier
            assert kinds == ["conv"] * 17 + ["dense"]
        else:
            assert kinds == ["conv"] * expected_layers[name]
        assert trained.names == initialised.names
        np.testing.assert_allclose([e.statistic("mean") for e in trained], m["layer_means_trained"], rtol=1e-6)
        # Training changed the weights (so the two profiles differ) but kept the architecture.
        assert any(not np.allclose(a.values, b.values) for a, b in zip(trained, initialised))
        with open(out / f"profile_{name}_initialised.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        assert len(rows) == expected_layers[name] and rows[0]["kind"] == "conv"
        image = matplotlib.image.imread(out / f"profile_{name}.png")
        assert image.shape[1] > image.shape[0] > 300  # two panels side by side
        assert f"![{name}](profile_{name}.png)" in summary
        section = summary.split(f"({profile_figures.FIGURES[name]})")[1].split("\n## ")[0]
        table = [
            line for line in section.splitlines() if line.startswith("| ") and not line.startswith(("| layer", "| ---"))
        ]
        assert len(table) == expected_layers[name]
        first = [c.strip() for c in table[0].split("|")[1:-1]]
        assert float(first[4]) == pytest.approx(m["layer_means_trained"][0], abs=1e-3)
        assert float(first[5]) == pytest.approx(m["layer_means_initialised"][0], abs=1e-3)

"""keras_entropy.experiments.architectures, the networks of profile_figures.

The builders' layer structure and the example itself are tested in
tests/test_example_entropy_profiles.py.
"""

import pytest

from keras_entropy.experiments import architectures, paper, profile_figures

pytestmark = pytest.mark.one_backend


def test_every_model_has_a_figure_and_a_paper_input_size():
    assert set(paper.PROFILE_PAPER["input_size"]) == set(architectures.MODELS) == set(profile_figures.FIGURES)


def test_builder_name():
    assert architectures.builder_name("vgg16") == "keras.applications.VGG16"
    assert architectures.builder_name("resnet50") == "keras.applications.ResNet50"
    assert architectures.builder_name("vgg16", compact=True) == "compact_vgg16"
    assert architectures.builder_name("resnet50", compact=True) == "compact_resnet"
    assert architectures.builder_name("unet") == architectures.unet_builder()[0]
    with pytest.raises(ValueError, match="name='alexnet'"):
        architectures.builder_name("alexnet")


def test_builders_name_the_bad_argument():
    with pytest.raises(ValueError, match="classes=0"):
        architectures.compact_vgg16(classes=0)
    with pytest.raises(ValueError, match="blocks"):
        architectures.compact_resnet(blocks=(3, 4))
    with pytest.raises(TypeError, match="depth=1.5"):
        architectures.unet((16, 16, 3), depth=1.5)
    with pytest.raises(ValueError, match="input_size=0"):
        architectures.build_model("vgg16", 0)


def test_keras_cache_dir_follows_keras_home(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    assert architectures.keras_cache_dir() == str(tmp_path / "models")

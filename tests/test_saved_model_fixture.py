"""A `.keras` file saved by keras-entropy 0.1.0.dev0 keeps loading (issue 10).

`tests/fixtures/every_component_0.1.keras` was written by
`tests/fixtures/make_saved_model.py` (TensorFlow backend) before the package
was reorganised. Whatever moves inside the package, the registered names
(`keras_entropy>DenseEntropy`, ...) must keep resolving, on every backend,
to classes that give the same predictions, penalty terms and configs.
"""

import json
import os

import keras
import numpy as np
import pytest

import keras_entropy as ke
from helpers import to_numpy

pytestmark = pytest.mark.every_backend

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
NAME = "every_component_0.1"

#: Arguments added since 0.1.0.dev0, with the defaults an old model must load with.
ADDED_SINCE_0_1 = {"form": "paper", "grid": None}


def without_added_defaults(config):
    """`config` (nested) without the keys of ADDED_SINCE_0_1 that hold their default."""
    if isinstance(config, dict):
        return {
            key: without_added_defaults(value)
            for key, value in config.items()
            if not (key in ADDED_SINCE_0_1 and value == ADDED_SINCE_0_1[key])
        }
    if isinstance(config, list):
        return [without_added_defaults(value) for value in config]
    return config


def test_keras_file_saved_by_release_0_1_loads_with_the_same_numbers():
    model = keras.saving.load_model(os.path.join(FIXTURES, NAME + ".keras"))
    saved = np.load(os.path.join(FIXTURES, NAME + ".npz"))
    with open(os.path.join(FIXTURES, NAME + ".json")) as f:
        configs = json.load(f)["configs"]

    np.testing.assert_allclose(
        to_numpy(model.predict(saved["x"], verbose=0)), saved["predictions"], rtol=1e-5, atol=1e-6
    )
    model(saved["x"])
    terms = np.sort([float(to_numpy(t)) for t in model.losses])
    np.testing.assert_allclose(terms, saved["terms"], rtol=1e-5)

    kinds = {type(layer).__name__ for layer in model.layers}
    assert {"EntropyConv2D", "EntropyDense"} <= kinds
    regularizers = [
        layer.kernel_regularizer for layer in model.layers if getattr(layer, "kernel_regularizer", None) is not None
    ]
    assert {type(r).__name__ for r in regularizers} == {"ConvEntropy", "DenseEntropy"}
    assert isinstance(model.loss, ke.SoftmaxEntropyLoss)
    assert model.loss.get_config() == configs["loss"]
    metrics = [keras.saving.deserialize_keras_object(config) for config in model.get_compile_config()["metrics"]]
    assert [type(m) for m in metrics] == [ke.BinaryIoU]
    for layer in model.layers:
        if layer.name in configs:
            expected = without_added_defaults(json.loads(json.dumps(layer.get_config(), default=str)))
            assert expected == configs[layer.name], layer.name


def test_only_defaults_of_new_arguments_are_ignored():
    config = {"lam": 0.1, "form": "paper", "grid": None, "inner": {"form": "volume", "grid": [4, 4]}}
    assert without_added_defaults(config) == {"lam": 0.1, "inner": {"form": "volume", "grid": [4, 4]}}

"""keras_entropy.datasets.mnist_subset: the shipped MNIST subset, as keras.datasets.mnist returns MNIST."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from keras_entropy.datasets import mnist_subset
from keras_entropy.experiments import datasets

pytestmark = pytest.mark.one_backend

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_load_data_follows_keras_datasets_mnist_convention():
    (x_train, y_train), (x_test, y_test) = mnist_subset.load_data()
    assert x_train.shape == (6000, 28, 28) and x_test.shape == (1000, 28, 28)
    assert y_train.shape == (6000,) and y_test.shape == (1000,)
    for array in (x_train, y_train, x_test, y_test):
        assert isinstance(array, np.ndarray) and array.dtype == np.uint8
    assert x_train.min() == 0 and x_train.max() == 255 and x_test.max() == 255
    assert set(np.unique(y_train)) == set(range(10)) == set(np.unique(y_test))
    # MNIST's first training labels (5, 0, 4, 1, 9, ...) and first test labels (7, 2, 1, 0, 4, ...).
    np.testing.assert_array_equal(y_train[:5], [5, 0, 4, 1, 9])
    np.testing.assert_array_equal(y_test[:5], [7, 2, 1, 0, 4])


def test_the_harness_reads_the_same_single_file():
    assert datasets.EMBEDDED_MNIST == mnist_subset.DATA_FILE
    assert os.path.isfile(os.path.join(os.path.dirname(mnist_subset.DATA_FILE), "README.md"))
    (x_train, y_train), (x_test, y_test) = mnist_subset.load_data()
    embedded = datasets.load_embedded_mnist()
    np.testing.assert_array_equal(embedded.x_train, x_train)
    np.testing.assert_array_equal(embedded.y_train, y_train)
    np.testing.assert_array_equal(embedded.x_test, x_test)
    np.testing.assert_array_equal(embedded.y_test, y_test)
    assert embedded.location == mnist_subset.DATA_FILE


def test_reachable_as_an_attribute_of_the_package():
    import keras_entropy as ke

    assert ke.datasets.mnist_subset.load_data is mnist_subset.load_data


def run_python(code, **env):
    """stdout, stderr of `python -c code` in the repository root, after a JSON line check."""
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=ROOT, **env),
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout, proc.stderr


REPORT_MODULES = (
    "import json, sys; print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
    "('absl', 'keras', 'tensorflow', 'tensorflow_datasets', 'torch'))), file=sys.stderr)"
)


def test_loading_needs_no_tensorflow_and_prints_nothing_on_jax():
    # What a user's script on the [jax] extra does; the module list goes to stderr, the only line there.
    code = "import keras_entropy.datasets.mnist_subset as m\n(x, _), _ = m.load_data()\nassert x.shape[0] == 6000\n"
    stdout, stderr = run_python(code + REPORT_MODULES, KERAS_BACKEND="jax")
    assert stdout == "" and len(stderr.splitlines()) == 1, stdout + stderr
    loaded = set(json.loads(stderr))
    assert not {m.split(".")[0] for m in loaded} & {"tensorflow", "tensorflow_datasets", "torch"}, sorted(loaded)
    # `import keras_entropy` imports Keras, which itself imports absl (a Keras dependency): the loader adds none.
    _, keras_stderr = run_python("import keras\n" + REPORT_MODULES, KERAS_BACKEND="jax")
    by_keras = set(json.loads(keras_stderr.splitlines()[-1]))
    assert {m for m in loaded if m.startswith("absl")} <= by_keras


def test_the_loader_itself_imports_numpy_alone():
    # The loader needs no Keras: outside the package (as `keras.datasets` loaders are), it runs on numpy alone.
    code = (
        "import importlib.util\n"
        f"spec = importlib.util.spec_from_file_location('loader', {mnist_subset.__file__!r})\n"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m); m.load_data()\n"
    )
    stdout, stderr = run_python(code + REPORT_MODULES, KERAS_BACKEND="jax")
    assert stdout == "" and json.loads(stderr) == [], stdout + stderr

"""keras_entropy.experiments.datasets: IDX files, local copies, tensorflow-datasets, errors."""

import gzip
import os
import struct

import numpy as np
import pytest
import tensorflow_datasets as tfds

from helpers import SHARED_MNIST
from keras_entropy.experiments import datasets

pytestmark = pytest.mark.one_backend


def write_idx(path, array, compress=True):
    """An IDX file written independently of the loader (uint8 arrays)."""
    array = np.asarray(array, dtype="uint8")
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(">" + "I" * array.ndim, *array.shape)
    opener = gzip.open if compress else open
    with opener(path, "wb") as f:
        f.write(header + array.tobytes())


def make_mnist_folder(folder, rng, n_train=7, n_test=3, compress=True):
    arrays = {
        "x_train": rng.integers(0, 256, (n_train, 28, 28)),
        "y_train": rng.integers(0, 10, n_train),
        "x_test": rng.integers(0, 256, (n_test, 28, 28)),
        "y_test": rng.integers(0, 10, n_test),
    }
    os.makedirs(folder, exist_ok=True)
    for key, stem in datasets.MNIST_IDX_FILES.items():
        write_idx(os.path.join(folder, stem + (".gz" if compress else "")), arrays[key], compress)
    return arrays


def raw_idx(path, header_bytes):
    """Independent reader: skip the fixed MNIST header, read the bytes."""
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read()[header_bytes:], dtype="uint8")


@pytest.mark.parametrize("compress", [True, False])
def test_offline_mnist_from_idx_folder_equals_file_content(tmp_path, rng, compress):
    arrays = make_mnist_folder(tmp_path, rng, compress=compress)
    data = datasets.load("mnist", tmp_path)
    assert data.source == "local" and not data.is_embedded
    assert data.location == os.path.abspath(tmp_path)
    for key, expected in arrays.items():
        got = getattr(data, key)
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, expected)
    assert "local copy" in data.describe()


def test_shared_mnist_folder_equals_idx_content_and_embedded_subset(tmp_path, rng):
    # Our own IDX folder always; the real one in ../shared/data/mnist as well when present.
    folders = [str(tmp_path)]
    make_mnist_folder(tmp_path, rng, n_train=60, n_test=20)
    if os.path.isdir(SHARED_MNIST):
        folders.append(SHARED_MNIST)
    for folder in folders:
        data = datasets.load("mnist", folder)
        x_train = raw_idx(os.path.join(folder, "train-images-idx3-ubyte.gz"), 16)
        y_train = raw_idx(os.path.join(folder, "train-labels-idx1-ubyte.gz"), 8)
        x_test = raw_idx(os.path.join(folder, "t10k-images-idx3-ubyte.gz"), 16)
        y_test = raw_idx(os.path.join(folder, "t10k-labels-idx1-ubyte.gz"), 8)
        np.testing.assert_array_equal(data.x_train.reshape(-1), x_train)
        np.testing.assert_array_equal(data.y_train, y_train)
        np.testing.assert_array_equal(data.x_test.reshape(-1), x_test)
        np.testing.assert_array_equal(data.y_test, y_test)
        assert data.x_train.shape == (len(y_train), 28, 28)
        if folder == SHARED_MNIST:
            assert data.x_train.shape == (60000, 28, 28) and data.x_test.shape == (10000, 28, 28)
            embedded = datasets.load_embedded_mnist()
            np.testing.assert_array_equal(embedded.x_train, data.x_train[:6000])
            np.testing.assert_array_equal(embedded.y_train, data.y_train[:6000])
            np.testing.assert_array_equal(embedded.x_test, data.x_test[:1000])
            np.testing.assert_array_equal(embedded.y_test, data.y_test[:1000])


def test_read_idx_rejects_bad_and_truncated_files(tmp_path):
    bad = tmp_path / "bad.gz"
    with gzip.open(bad, "wb") as f:
        f.write(b"\x12\x34\x08\x01" + b"\x00" * 8)
    with pytest.raises(ValueError, match="not an IDX file"):
        datasets.read_idx(bad)
    short = tmp_path / "short"
    short.write_bytes(bytes([0, 0, 8, 2]) + struct.pack(">II", 3, 3) + b"\x00" * 5)
    with pytest.raises(ValueError, match="announces 9"):
        datasets.read_idx(short)
    wide = tmp_path / "wide"
    wide.write_bytes(bytes([0, 0, 0x0C, 1]) + struct.pack(">I", 2) + struct.pack(">ii", -5, 70000))
    np.testing.assert_array_equal(datasets.read_idx(wide), [-5, 70000])


def test_embedded_mnist_ships_with_the_package():
    data = datasets.load_embedded_mnist()
    assert data.is_embedded and data.source == "embedded"
    assert data.x_train.shape == (6000, 28, 28) and data.x_test.shape == (1000, 28, 28)
    assert data.y_train.shape == (6000,) and set(np.unique(data.y_train)) == set(range(10))
    assert os.path.isfile(os.path.join(os.path.dirname(datasets.EMBEDDED_MNIST), "README.md"))
    assert "embedded" in data.describe()


@pytest.fixture
def empty_tfds_dir(tmp_path, monkeypatch):
    """tensorflow-datasets' default data directory, empty."""
    folder = tmp_path / "tfds_home"
    folder.mkdir()
    monkeypatch.setattr(tfds.core.constants, "DATA_DIR", str(folder))
    return str(folder)


def test_split_takes_validation_from_the_end_of_the_training_examples():
    data = datasets.Dataset(
        "mnist",
        np.arange(10 * 4, dtype="uint8").reshape(10, 2, 2),
        np.arange(10),
        np.zeros((5, 2, 2), dtype="uint8"),
        np.arange(5),
        "local",
        "here",
    )
    (x, y), (x_val, y_val), (x_test, y_test) = data.split(3, train_size=4, test_size=2)
    assert x.shape == (4, 2, 2) and x_val.shape == (3, 2, 2) and x_test.shape == (2, 2, 2)
    assert list(y) == [0, 1, 2, 3] and list(y_val) == [7, 8, 9] and list(y_test) == [0, 1]
    np.testing.assert_array_equal(x_val[0], data.x_train[7])  # the last 3 of 10 are validation, unconverted
    (x, _), (x_val, _), (x_test, _) = data.split(3)
    assert (len(x), len(x_val), len(x_test)) == (7, 3, 5)
    with pytest.raises(ValueError, match="`val_size` must leave training examples.*val_size=10"):
        data.split(10)
    with pytest.raises(ValueError, match="val_size"):
        data.split(0)


def test_missing_local_copy_gives_clear_error(tmp_path):
    missing = tmp_path / "no_such_folder"
    with pytest.raises(datasets.DatasetNotFoundError) as info:
        datasets.load("mnist", missing, allow_embedded=True)  # explicit path: no fallback
    message = str(info.value)
    assert "'mnist'" in message and str(missing) in message
    assert "data_dir" in message and "--data-dir" in message and "train-images-idx3-ubyte.gz" in message
    assert isinstance(info.value, FileNotFoundError)


def test_missing_dataset_everywhere_gives_clear_error(empty_tfds_dir):
    with pytest.raises(datasets.DatasetNotFoundError) as info:
        datasets.load("cifar10")
    message = str(info.value)
    assert "'cifar10'" in message and empty_tfds_dir in message
    assert "download=True" in message and "cifar10" in message
    with pytest.raises(datasets.DatasetNotFoundError, match="allow_embedded=True"):
        datasets.load("mnist")


def test_embedded_fallback_only_when_allowed(empty_tfds_dir):
    data = datasets.load("mnist", allow_embedded=True, max_examples=50)
    assert data.is_embedded and data.x_train.shape == (50, 28, 28) and data.x_test.shape == (50, 28, 28)
    np.testing.assert_array_equal(data.x_train, datasets.load_embedded_mnist().x_train[:50])
    with pytest.raises(datasets.DatasetNotFoundError):
        datasets.load("cifar10", allow_embedded=True)


@pytest.mark.parametrize(
    "name, kwargs, x_shape, y_shape",
    [
        ("mnist", {}, (28, 28), ()),
        ("cifar10", {}, (32, 32, 3), ()),
        ("imagenette", {"image_size": 24}, (24, 24, 3), ()),
        ("coco_segmentation", {"image_size": 16}, (16, 16, 3), (16, 16)),
    ],
)
def test_tfds_loading_with_mock_data(name, kwargs, x_shape, y_shape):
    with tfds.testing.mock_data(num_examples=4):
        data = datasets.load(name, **kwargs)
    assert data.source == "tfds" and data.name == name
    assert data.x_train.shape == (4, *x_shape) and data.x_train.dtype == np.uint8
    assert data.x_test.shape == (4, *x_shape)
    assert data.y_train.shape == (4, *y_shape)
    if name == "coco_segmentation":
        assert set(np.unique(data.y_train)) <= {0, 1}
    with tfds.testing.mock_data(num_examples=4):
        few = datasets.load(name, max_examples=2, **kwargs)
    assert len(few.x_train) == 2 and len(few.y_test) == 2


def test_coco_foreground_mask_marks_thing_segments():
    panoptic = np.zeros((2, 3, 3), dtype="uint8")
    panoptic[0, 0] = (1, 0, 0)  # segment 1: a person (thing)
    panoptic[0, 1] = (2, 1, 0)  # segment 258: sky (stuff)
    panoptic[1, 2] = (3, 0, 0)  # segment 3: a car (thing)
    objects = {"id": np.array([1, 258, 3]), "label": np.array([0, 100, 2])}
    mask = datasets.coco_foreground_mask(panoptic, objects)
    np.testing.assert_array_equal(mask, [[1, 0, 0], [0, 0, 1]])


@pytest.mark.parametrize(
    "kwargs, error, fragment",
    [
        ({"name": "svhn"}, ValueError, "name='svhn'"),
        ({"name": "mnist", "data_dir": 3}, TypeError, "data_dir=3"),
        ({"name": "mnist", "download": "yes"}, TypeError, "download='yes'"),
        ({"name": "mnist", "allow_embedded": 1}, TypeError, "allow_embedded=1"),
        ({"name": "imagenette", "image_size": 0}, ValueError, "image_size=0"),
        ({"name": "mnist", "max_examples": -1}, ValueError, "max_examples=-1"),
    ],
)
def test_load_validates_arguments(kwargs, error, fragment):
    with pytest.raises(error, match=fragment):
        datasets.load(**kwargs)


def test_load_is_quiet_about_a_folder_without_the_data_set(empty_tfds_dir, caplog, monkeypatch):
    # A user's own script has no filter on absl's logger (the CLI and the examples add one): drop any.
    import logging

    monkeypatch.setattr(logging.getLogger("absl"), "filters", [])
    with caplog.at_level(logging.WARNING):
        with pytest.raises(AssertionError, match="could not find data"):
            tfds.load("mnist", split="train", download=False)  # what load() asks: tfds warns
    assert "has no dataset_info.json" in caplog.text, "the warning this test guards against"
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        data = datasets.load("mnist", allow_embedded=True, max_examples=5)
        with pytest.raises(datasets.DatasetNotFoundError):
            datasets.load("cifar10")
        logging.getLogger("absl").warning("another absl warning")
    assert data.is_embedded
    assert "dataset_info.json" not in caplog.text and "another absl warning" in caplog.text, caplog.text
    assert logging.getLogger("absl").filters == []

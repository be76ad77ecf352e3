"""The paper's data sets as numpy arrays, from tensorflow-datasets or a local copy.

`load(name)` returns a `Dataset` (train and test/validation arrays plus a
description of where they came from) for each data set of the paper's
section 5:

| name                  | tensorflow-datasets name | arrays                                   |
| --------------------- | ------------------------ | ---------------------------------------- |
| `"mnist"`             | `mnist`                  | uint8 `(N, 28, 28)` images, int labels   |
| `"cifar10"`           | `cifar10`                | uint8 `(N, 32, 32, 3)` images, int labels|
| `"imagenette"`        | `imagenette/320px-v2`    | uint8 `(N, S, S, 3)` images (resized)    |
| `"coco_segmentation"` | `coco/2017_panoptic`     | uint8 `(N, 256, 256, 3)` images, uint8   |
|                       |                          | `(N, 256, 256)` binary foreground masks  |

Where the data come from, in order:

1. `data_dir`, when given: for MNIST a folder holding the four standard IDX
   files (`train-images-idx3-ubyte.gz`, ...; gzipped or not), or for any
   data set a tensorflow-datasets data directory in which the data set has
   already been prepared (`tfds build` / `tfds.load(..., data_dir=...)` on a
   machine with network access, then copy the folder). An explicit
   `data_dir` is never replaced by anything else.
2. tensorflow-datasets' default data directory (`~/tensorflow_datasets` or
   `$TFDS_DATA_DIR`); with `download=True`, tensorflow-datasets downloads
   and prepares the data set there when it is missing.
3. With `allow_embedded=True`, the embedded default that ships inside the
   package: the first 6000 training and 1000 test images of MNIST
   (`keras_entropy.datasets.mnist_subset`, which reads
   `keras_entropy/datasets/data/mnist_subset.npz`). Only MNIST has one.

When none of them has the data, `DatasetNotFoundError` says which data set,
which paths were tried and how to provide the data.

tensorflow-datasets and numpy are imported lazily, so `import keras_entropy`
stays light. While `load` asks tensorflow-datasets for a data set, the
warning it logs for a folder that lacks the data set ("Variant folder ...
has no dataset_info.json") is dropped: the fallback or the error says what
was found.
"""

import contextlib
import dataclasses
import gzip
import logging
import os
import struct

from keras_entropy import console, validation
from keras_entropy.datasets import mnist_subset

#: The data sets `load` knows, with their tensorflow-datasets names.
TFDS_NAMES = {
    "mnist": "mnist",
    "cifar10": "cifar10",
    "imagenette": "imagenette/320px-v2",
    "coco_segmentation": "coco/2017_panoptic",
}

#: Split used as the test (or validation) set of each data set.
_TEST_SPLITS = {
    "mnist": "test",
    "cifar10": "test",
    "imagenette": "validation",
    "coco_segmentation": "validation",
}

#: Default square image size of the data sets whose images vary in size.
DEFAULT_IMAGE_SIZES = {"imagenette": 224, "coco_segmentation": 256}

#: The standard MNIST IDX file names (each may also end in `.gz`).
MNIST_IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}

#: Number of "thing" categories in COCO panoptic (labels 0..79 of
#: tensorflow-datasets' `coco/2017_panoptic`; 80..132 are "stuff").
COCO_THING_CLASSES = 80

#: The embedded subset's file (read by `keras_entropy.datasets.mnist_subset.load_data`).
EMBEDDED_MNIST = mnist_subset.DATA_FILE

_IDX_DTYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class DatasetNotFoundError(FileNotFoundError):
    """No source had the requested data set; the message says how to provide it."""


@dataclasses.dataclass(frozen=True)
class Dataset:
    """A data set as numpy arrays.

    Attributes:
        name: one of `TFDS_NAMES`.
        x_train, y_train, x_test, y_test: the arrays (for
            `coco_segmentation`, `y_*` are the binary foreground masks).
        source: `"local"` (a `data_dir`), `"tfds"` (tensorflow-datasets'
            default directory) or `"embedded"` (the subset shipped inside
            the package).
        location: the folder or file the data were read from.
    """

    name: str
    x_train: object
    y_train: object
    x_test: object
    y_test: object
    source: str
    location: str

    @property
    def is_embedded(self):
        return self.source == "embedded"

    def describe(self):
        """One line for logs and reports."""
        n_train, n_test = len(self.x_train), len(self.x_test)
        if self.is_embedded:
            where = f"the embedded MNIST subset shipped with keras_entropy ({self.location})"
        elif self.source == "local":
            where = f"the local copy in {self.location}"
        else:
            where = f"tensorflow-datasets ({self.location})"
        return f"{self.name}: {n_train} train / {n_test} test examples from {where}"

    def split(self, val_size, *, train_size=None, test_size=None):
        """Training, validation and test splits: validation = the last `val_size` training examples.

        The training split is the training examples before those (the first
        `train_size` of them; None: all), the test split the first
        `test_size` test examples (None: all). The arrays are the data set's
        own, unconverted: the studies and the README's first command choose
        hyperparameters on the validation split and report on the test split.

        Returns:
            `((x_train, y_train), (x_val, y_val), (x_test, y_test))`.

        >>> data = load_embedded_mnist()
        >>> (x, y), (x_val, y_val), (x_test, y_test) = data.split(1000, train_size=500, test_size=200)
        >>> len(x), len(x_val), len(x_test), x_val.shape[1:]
        (500, 1000, 200, (28, 28))
        """
        val_size = validation.validate_positive_int(val_size, "val_size")
        if val_size >= len(self.x_train):
            raise ValueError(
                f"Argument `val_size` must leave training examples: the data set has {len(self.x_train)}. "
                f"Received: val_size={val_size}"
            )
        rest = len(self.x_train) - val_size
        end = min(rest, train_size or rest)
        return (
            (self.x_train[:end], self.y_train[:end]),
            (self.x_train[rest:], self.y_train[rest:]),
            (self.x_test[:test_size], self.y_test[:test_size]),
        )


def read_idx(path):
    """Read one IDX file (gzipped when its name ends in `.gz`) as a numpy array.

    The IDX format (used by MNIST) is a big-endian header: two zero bytes,
    a type code, the number of dimensions and one 32-bit size per dimension,
    followed by the data.

    Raises:
        ValueError: the file is not a valid IDX file or is truncated.
    """
    import numpy as np

    path = os.fspath(path)
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise ValueError(f"{path} is not an IDX file: bad magic number {data[:4]!r}.")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path} is truncated: its IDX header needs {header} bytes.")
    dims = struct.unpack(">" + "I" * ndim, data[4:header])
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    count = int(np.prod(dims, dtype=np.int64))
    if len(data) - header != count * dtype.itemsize:
        raise ValueError(
            f"{path} has {len(data) - header} data bytes; its header {dims} announces {count * dtype.itemsize}."
        )
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)
    return array.astype(dtype.newbyteorder("="))


def find_mnist_idx(folder):
    """Paths of the four MNIST IDX files in `folder`, or None if one is missing."""
    paths = {}
    for key, stem in MNIST_IDX_FILES.items():
        for candidate in (stem + ".gz", stem):
            path = os.path.join(folder, candidate)
            if os.path.isfile(path):
                paths[key] = path
                break
        else:
            return None
    return paths


def load_mnist_idx(folder):
    """MNIST from a folder with the four standard IDX files."""
    folder = os.fspath(folder)
    paths = find_mnist_idx(folder)
    if paths is None:
        raise DatasetNotFoundError(_not_found_message("mnist", [folder]))
    arrays = {key: read_idx(path) for key, path in paths.items()}
    return Dataset("mnist", source="local", location=os.path.abspath(folder), **arrays)


def load_embedded_mnist():
    """The MNIST subset shipped inside the package (6000 train, 1000 test) as a `Dataset`.

    The arrays of `keras_entropy.datasets.mnist_subset.load_data()`.
    """
    (x_train, y_train), (x_test, y_test) = mnist_subset.load_data()
    return Dataset("mnist", x_train, y_train, x_test, y_test, source="embedded", location=mnist_subset.DATA_FILE)


def load(
    name,
    data_dir=None,
    *,
    download=False,
    allow_embedded=False,
    image_size=None,
    max_examples=None,
):
    """Load a data set of the paper as numpy arrays (see the module docstring).

    Args:
        name: `"mnist"`, `"cifar10"`, `"imagenette"` or `"coco_segmentation"`.
        data_dir: a local copy: for MNIST a folder with the IDX files, or a
            tensorflow-datasets data directory with the data set prepared.
        download: let tensorflow-datasets download the data set into its
            default directory when it is not there (needs network access).
        allow_embedded: fall back to the embedded MNIST subset when neither
            `data_dir` (not given) nor tensorflow-datasets has the data.
        image_size: side of the square images of `imagenette` (default 224)
            and `coco_segmentation` (default 256); ignored otherwise.
        max_examples: keep at most this many examples per split (None: all).

    Returns:
        A `Dataset`.

    Raises:
        DatasetNotFoundError: no source has the data set.
        ValueError, TypeError: an invalid argument.
    """
    validation.validate_choice(name, "name", sorted(TFDS_NAMES))
    if data_dir is not None and not isinstance(data_dir, (str, os.PathLike)):
        raise TypeError(f"Argument `data_dir` must be a path or None. Received: data_dir={data_dir!r}")
    download = validation.validate_bool(download, "download")
    allow_embedded = validation.validate_bool(allow_embedded, "allow_embedded")
    if image_size is None:
        image_size = DEFAULT_IMAGE_SIZES.get(name)
    else:
        image_size = validation.validate_positive_int(image_size, "image_size")
    if max_examples is not None:
        max_examples = validation.validate_positive_int(max_examples, "max_examples")

    if data_dir is not None:
        data_dir = os.fspath(data_dir)
        if name == "mnist" and find_mnist_idx(data_dir) is not None:
            return _truncate(load_mnist_idx(data_dir), max_examples)
        try:
            return _load_tfds(name, data_dir, False, image_size, max_examples, source="local")
        except Exception as error:  # not prepared there, corrupt, tfds missing...
            raise DatasetNotFoundError(_not_found_message(name, [data_dir], error)) from error

    tried = []
    try:
        return _load_tfds(name, None, download, image_size, max_examples, source="tfds")
    except Exception as error:
        tried.append(tfds_default_dir())
        cause = error
    if allow_embedded and name == "mnist":
        return _truncate(load_embedded_mnist(), max_examples)
    raise DatasetNotFoundError(_not_found_message(name, tried, cause)) from cause


def tfds_default_dir():
    """tensorflow-datasets' default data directory (`$TFDS_DATA_DIR` or `~/tensorflow_datasets`)."""
    try:
        import tensorflow_datasets as tfds

        return os.fspath(tfds.core.constants.DATA_DIR)
    except Exception:  # pragma: no cover - tensorflow-datasets missing
        return os.environ.get("TFDS_DATA_DIR", os.path.expanduser("~/tensorflow_datasets"))


def _not_found_message(name, tried, error=None):
    how = (
        "Provide it with `data_dir=` (command line: --data-dir DIR): "
        + (
            "a folder with the four MNIST IDX files (train-images-idx3-ubyte.gz, "
            "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
            "t10k-labels-idx1-ubyte.gz), or "
            if name == "mnist"
            else ""
        )
        + f"a tensorflow-datasets data directory in which `{TFDS_NAMES[name]}` is prepared; "
        "or pass download=True on a machine with network access so that "
        "tensorflow-datasets downloads it"
        + ("; or allow_embedded=True for the MNIST subset shipped with the package." if name == "mnist" else ".")
    )
    reason = f" ({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''})" if error else ""
    return f"Data set {name!r} was not found; tried: {', '.join(tried)}{reason}. {how}"


def _truncate(dataset, max_examples):
    if max_examples is None:
        return dataset
    return dataclasses.replace(
        dataset,
        x_train=dataset.x_train[:max_examples],
        y_train=dataset.y_train[:max_examples],
        x_test=dataset.x_test[:max_examples],
        y_test=dataset.y_test[:max_examples],
    )


def _load_tfds(name, data_dir, download, image_size, max_examples, source):
    import numpy as np
    import tensorflow_datasets as tfds

    splits = ["train", _TEST_SPLITS[name]]
    if max_examples is not None:
        splits = [f"{split}[:{max_examples}]" for split in splits]
    arrays = []
    for split in splits:
        with quiet_tfds_probe():
            ds = tfds.load(TFDS_NAMES[name], split=split, data_dir=data_dir, download=download)
        if max_examples is not None:
            ds = ds.take(max_examples)
        xs, ys = [], []
        for example in tfds.as_numpy(ds):
            x, y = _convert_example(name, example, image_size)
            xs.append(x)
            ys.append(y)
        arrays.append(np.stack(xs) if xs else np.zeros((0,), "uint8"))
        arrays.append(np.asarray(ys, dtype="uint8" if name == "coco_segmentation" else "int64"))
    location = os.path.abspath(data_dir) if data_dir is not None else tfds_default_dir()
    x_train, y_train, x_test, y_test = arrays
    return Dataset(name, x_train, y_train, x_test, y_test, source=source, location=location)


@contextlib.contextmanager
def quiet_tfds_probe():
    """Drop tensorflow-datasets' "Variant folder ... has no dataset_info.json" warnings within the block.

    tensorflow-datasets logs it (on absl's logger) whenever it looks for a
    data set in a folder that does not have it, even one that does not
    exist; `load` then falls back or raises `DatasetNotFoundError`, which
    says what was tried. Other records pass, and the filter is removed on
    exit. Call it after importing tensorflow-datasets, so that the "absl"
    logger is absl's own.

    >>> import logging
    >>> with quiet_tfds_probe():
    ...     logging.getLogger("absl").warning("Variant folder /x/mnist/3.0.1 has no dataset_info.json")
    """
    logger = logging.getLogger("absl")
    probe = console.DropMessages(*console.PROBE)
    logger.addFilter(probe)
    try:
        yield
    finally:
        logger.removeFilter(probe)


def _convert_example(name, example, image_size):
    import numpy as np

    image = np.asarray(example["image"], dtype="uint8")
    if name == "mnist":
        return image.reshape(image.shape[0], image.shape[1]), int(example["label"])
    if name == "cifar10":
        return image, int(example["label"])
    if name == "imagenette":
        return _resize(image, image_size, "bilinear"), int(example["label"])
    mask = coco_foreground_mask(example["panoptic_image"], example["panoptic_objects"])
    resized_mask = _resize(mask[..., None], image_size, "nearest")[..., 0]
    return _resize(image, image_size, "bilinear"), resized_mask


def coco_foreground_mask(panoptic_image, panoptic_objects):
    """Binary foreground mask of one COCO panoptic example.

    A pixel is foreground (1) when its panoptic segment (id = R + 256 G +
    256^2 B of `panoptic_image`) is an object of a "thing" category
    (label < `COCO_THING_CLASSES`: people, animals, vehicles, ...), and
    background (0) for "stuff" (sky, grass, ...) and unlabelled pixels.
    """
    import numpy as np

    rgb = np.asarray(panoptic_image, dtype="int64")
    ids = rgb[..., 0] + 256 * rgb[..., 1] + 256 * 256 * rgb[..., 2]
    object_ids = np.asarray(panoptic_objects["id"]).reshape(-1)
    labels = np.asarray(panoptic_objects["label"]).reshape(-1)
    n = min(len(object_ids), len(labels))
    things = object_ids[:n][labels[:n] < COCO_THING_CLASSES]
    return np.isin(ids, things).astype("uint8")


def _resize(image, size, method):
    import numpy as np
    import tensorflow as tf

    if image.shape[0] == size and image.shape[1] == size:
        return image
    resized = tf.image.resize(image, (size, size), method=method)
    return np.clip(np.round(resized.numpy()), 0, 255).astype("uint8")

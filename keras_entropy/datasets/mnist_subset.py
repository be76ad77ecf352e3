"""The MNIST subset shipped with keras-entropy, loaded like `keras.datasets.mnist`.

`load_data()` reads `data/mnist_subset.npz` beside this module: the first
6000 images of MNIST's training set and the first 1000 of its test set,
unchanged (see `data/README.md` for the source and the licence, CC BY-SA
3.0). It is here so that examples, docstrings and smoke tests run offline;
it is a subset, not a benchmark: results worth reporting need the full
MNIST (`keras.datasets.mnist.load_data()`, or the experiment harness's
`keras_entropy.experiments.datasets.load("mnist", data_dir=...)`).

Only numpy is imported: loading the subset needs neither TensorFlow nor
tensorflow-datasets, so it works on the `[jax]` and `[torch]` extras alone.
"""

import os

#: The file `load_data` reads, installed with the package.
DATA_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "mnist_subset.npz")


def load_data():
    """Load the MNIST subset shipped with the package.

    The same convention as `keras.datasets.mnist.load_data()`: uint8
    images of shape `(N, 28, 28)` with values 0..255 and uint8 labels 0..9
    of shape `(N,)`. The subset is the first 6000 training and the first
    1000 test images of the official MNIST files, in their order: enough
    for examples and smoke tests, not for results (use the full MNIST).

    Returns:
        Tuple of numpy arrays: `(x_train, y_train), (x_test, y_test)`, with
        6000 training and 1000 test examples.

    Example:

    >>> (x_train, y_train), (x_test, y_test) = load_data()
    >>> x_train.shape, x_train.dtype, y_train.shape, y_train.dtype
    ((6000, 28, 28), dtype('uint8'), (6000,), dtype('uint8'))
    >>> x_test.shape, y_test.shape
    ((1000, 28, 28), (1000,))
    >>> x = x_train.reshape(-1, 784).astype("float32") / 255.0  # as a Dense model takes it
    """
    import numpy as np

    with np.load(DATA_FILE) as data:
        x_train, y_train = data["x_train"], data["y_train"]
        x_test, y_test = data["x_test"], data["y_test"]
    return (x_train, y_train), (x_test, y_test)


__all__ = ["DATA_FILE", "load_data"]

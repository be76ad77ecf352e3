"""Small data sets that ship inside the package, loaded like `keras.datasets`.

`keras_entropy.datasets.mnist_subset.load_data()` returns
`(x_train, y_train), (x_test, y_test)` as numpy arrays, as
`keras.datasets.mnist.load_data()` does, from a file installed with the
package: no download, no TensorFlow. The experiment harness's
`keras_entropy.experiments.datasets.load` reads the full data sets of the
paper (a local copy or tensorflow-datasets).
"""

from keras_entropy.datasets import mnist_subset

__all__ = ["mnist_subset"]

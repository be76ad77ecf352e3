"""The peers the tuned studies compare the entropy penalties against.

Keras's `OrthogonalRegularizer` pushes a layer towards isometry, as the
volume forms do; it takes 2-D kernels only. `KernelOrthogonal` applies it
to a kernel of any rank, as a matrix: for a convolution one row per input
tap `(i, j, c_in)` and one column per filter (the CNN study's peer,
examples/cnn_study.py). `orthogonal_mode` chooses which vectors can be
orthogonal (the dense autoencoder study's peer uses it too).
"""

import keras

from keras_entropy import validation


def orthogonal_mode(kernel_shape):
    """The `OrthogonalRegularizer` mode a Dense kernel `(n_in, n_out)` can satisfy.

    "columns" (its `n_out` columns, of length `n_in`) when `n_in >= n_out`,
    else "rows": more vectors than dimensions cannot all be orthogonal.

    >>> orthogonal_mode((784, 100)), orthogonal_mode((100, 784))
    ('columns', 'rows')
    """
    n_in, n_out = kernel_shape
    return "columns" if n_in >= n_out else "rows"


@keras.saving.register_keras_serializable(package="keras_entropy")
class KernelOrthogonal(keras.regularizers.Regularizer):
    """Keras's `OrthogonalRegularizer` on a kernel of any rank, as a matrix.

    The kernel is reshaped to `(prod(shape[:-1]), shape[-1])` (for a
    convolution: one row per input tap `(i, j, c_in)`, one column per
    filter) and penalised by `OrthogonalRegularizer(factor, mode)` with the
    mode its vectors can satisfy (`orthogonal_mode`: "columns"
    when there are at least as many rows as columns, else "rows"):

        factor * mean_{a != b} |<v_a, v_b>| / (|v_a| |v_b|)

    over the columns (or rows) `v`.

    >>> reg = KernelOrthogonal(0.1)
    >>> float(reg(keras.ops.ones((3, 3, 1, 4)))) > 0
    True
    """

    def __init__(self, factor=0.01):
        self.factor = validation.validate_non_negative(factor, "factor")

    def __call__(self, kernel):
        matrix = keras.ops.reshape(kernel, (-1, kernel.shape[-1]))
        mode = orthogonal_mode(tuple(matrix.shape))
        return keras.regularizers.OrthogonalRegularizer(self.factor, mode=mode)(matrix)

    def get_config(self):
        return {"factor": self.factor}


__all__ = ["KernelOrthogonal", "orthogonal_mode"]

"""Drop-in `Dense` and `Conv2D` layers that add their own entropy penalty.

They accept every argument of their parent class (a `kernel_regularizer`
such as `L2` still works beside the entropy penalty) and add the penalty with
`add_loss` each time they are called, which lets `EntropyConv2D` use the real
number of output positions `N_out` of the inputs it sees, even when the
spatial size is only known at call time.
"""

import keras

from keras_entropy import ops as entropy_ops
from keras_entropy.regularizers import ConvEntropy, DenseEntropy


@keras.saving.register_keras_serializable(package="keras_entropy")
class EntropyDense(keras.layers.Dense):
    """`keras.layers.Dense` with a built-in `DenseEntropy` penalty.

    Adds `lam * P_dense(kernel)` to the layer's losses on each call, with
    `P_dense` the stabilized `sum_j 1 / (r_j + epsilon)` or the exact
    `-log|det K[:k, :k]|` (see `DenseEntropy`).

    Example:

    >>> import keras, keras_entropy
    >>> encoder = keras.Sequential([
    ...     keras.Input((784,)),
    ...     keras_entropy.EntropyDense(260, lam=0.1, activation="sigmoid"),
    ...     keras.layers.Dense(784, activation="sigmoid")])

    Args:
        units: as for `Dense`.
        lam, stabilized, epsilon: as for `DenseEntropy`.
        **kwargs: any other `Dense` argument.
    """

    def __init__(
        self,
        units,
        lam=0.01,
        stabilized=True,
        epsilon=entropy_ops.DEFAULT_EPSILON,
        **kwargs,
    ):
        super().__init__(units, **kwargs)
        self.entropy_regularizer = DenseEntropy(lam, stabilized, epsilon)

    def call(self, inputs, training=None):
        self.add_loss(self.entropy_regularizer(self.kernel))
        return super().call(inputs, training=training)

    def get_config(self):
        config = super().get_config()
        config.update(self.entropy_regularizer.get_config())
        return config


@keras.saving.register_keras_serializable(package="keras_entropy")
class EntropyConv2D(keras.layers.Conv2D):
    """`keras.layers.Conv2D` with a built-in `ConvEntropy` penalty.

    Adds `N_out * sum_{i,o} lam * s(K[0, 0, i, o])` to the layer's losses on
    each call, with `s` the stabilized `1 / (|x| + epsilon)` or the exact
    `-log|x|`, and `N_out` the number of output positions of that call (output
    height x width, whatever the `data_format`; exact for `padding="valid"`,
    an approximation with `padding="same"`).

    Example:

    >>> import keras, keras_entropy
    >>> model = keras.Sequential([
    ...     keras.Input((32, 32, 3)),
    ...     keras_entropy.EntropyConv2D(32, 3, lam=0.01, activation="relu"),
    ...     keras.layers.GlobalAveragePooling2D(),
    ...     keras.layers.Dense(10, activation="softmax")])

    Args:
        filters, kernel_size: as for `Conv2D`.
        lam, stabilized, epsilon: as for `ConvEntropy`; `lam` may broadcast
            to `(c_in, filters)`.
        **kwargs: any other `Conv2D` argument.
    """

    def __init__(
        self,
        filters,
        kernel_size,
        lam=0.01,
        stabilized=True,
        epsilon=entropy_ops.DEFAULT_EPSILON,
        **kwargs,
    ):
        super().__init__(filters, kernel_size, **kwargs)
        self.entropy_regularizer = ConvEntropy(lam, None, stabilized, epsilon)

    def output_positions(self, outputs):
        """`N_out` of an output tensor: its height times its width."""
        shape = keras.ops.shape(outputs)
        if self.data_format == "channels_first":
            return shape[2] * shape[3]
        return shape[1] * shape[2]

    def call(self, inputs):
        outputs = super().call(inputs)
        self.add_loss(
            self.entropy_regularizer.penalty(self.kernel, self.output_positions(outputs))
        )
        return outputs

    def get_config(self):
        config = super().get_config()
        entropy_config = self.entropy_regularizer.get_config()
        del entropy_config["output_shape"]
        config.update(entropy_config)
        return config


__all__ = ["EntropyDense", "EntropyConv2D"]

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


def _kernel_variable(layer):
    """The kernel variable (`_kernel`: Keras's `kernel` may be a LoRA-combined tensor)."""
    variable = getattr(layer, "_kernel", None)
    return layer.kernel if variable is None else variable


@keras.saving.register_keras_serializable(package="keras_entropy")
class EntropyDense(keras.layers.Dense):
    r"""`keras.layers.Dense` with a built-in `DenseEntropy` penalty.

    $$
    P_{\mathrm{exact}} = -\lambda\, \Delta H, \qquad
    P_{\mathrm{stabilized}} = \lambda \sum_{j=1}^{k} \frac{1}{r_j + \epsilon}, \qquad
    \Delta H_{\mathrm{paper}} = \log\lvert\det K[{:}k, {:}k]\rvert
    $$

    Adds `DenseEntropy(lam, stabilized, epsilon, form)(kernel)` to the
    layer's losses on each call: `-lam * dH` (exact) or its stabilized
    surrogate `lam * sum_j 1 / (r_j + epsilon)`, with `dH` by `form`:

    - `"paper"` (default; MATH.md sections 1-4): `log|det K[:k, :k]|`;
    - `"volume"` (MATH.md section 8): `sum_j log sigma_j(K) = 1/2 log det G`,
      `G = K^T K` (or `K K^T`), the log-volume of the whole kernel;
    - `"normalized"` (MATH.md section 10): `1/2 log det G - k/2 log(tr G / k)
      <= 0`, the volume less its scale part; its penalty (exact, or
      stabilized less its minimum `lam k / (1 + epsilon)`) is `>= 0` and zero
      at a scaled isometry.

    Example:

    >>> import keras, keras_entropy, numpy as np
    >>> encoder = keras.Sequential([
    ...     keras.Input((784,)),
    ...     keras_entropy.EntropyDense(260, lam=0.1, activation="sigmoid"),
    ...     keras.layers.Dense(784, activation="sigmoid")])
    >>> layer = keras_entropy.EntropyDense(2, lam=1.0, stabilized=False, form="volume")
    >>> _ = layer(np.ones((1, 3), "float32"))
    >>> _ = layer.kernel.assign([[2.0, 0.0], [0.0, 3.0], [0.0, 0.0]])
    >>> _ = layer(np.ones((1, 3), "float32"))
    >>> round(float(keras.ops.convert_to_numpy(layer.losses[0])), 4)  # -(log 2 + log 3)
    -1.7918

    Args:
        units: as for `Dense`.
        lam: as for `DenseEntropy` (default 0.01; an array `lam` only with
            `form="paper"`).
        stabilized: as for `DenseEntropy` (default True).
        epsilon: as for `DenseEntropy` (default
            `keras_entropy.ops.DEFAULT_EPSILON`, 1e-3).
        form: as for `DenseEntropy` (default `"paper"`).
        **kwargs: any other `Dense` argument.
    """

    def __init__(
        self,
        units,
        lam=0.01,
        stabilized=True,
        epsilon=entropy_ops.DEFAULT_EPSILON,
        form="paper",
        **kwargs,
    ):
        super().__init__(units, **kwargs)
        self.entropy_regularizer = DenseEntropy(lam, stabilized, epsilon, form)

    def build(self, input_shape):
        super().build(input_shape)
        # A per-factor `lam` of the wrong shape fails here, naming the kernel "<layer>/kernel".
        self.entropy_regularizer.check(_kernel_variable(self))

    def call(self, inputs, training=None):
        self.add_loss(self.entropy_regularizer(self.kernel))
        return super().call(inputs, training=training)

    def get_config(self):
        config = super().get_config()
        config.update(self.entropy_regularizer.get_config())
        return config


@keras.saving.register_keras_serializable(package="keras_entropy")
class EntropyConv2D(keras.layers.Conv2D):
    r"""`keras.layers.Conv2D` with a built-in `ConvEntropy` penalty.

    $$
    P = N_{\mathrm{out}} \sum_{i,o} \lambda\, s(K[0, 0, i, o]), \qquad
    s(x) = \frac{1}{\lvert x\rvert + \epsilon} \ \text{(stabilized)} \quad\text{or}\quad
    -\log\lvert x\rvert \ \text{(exact)}
    $$

    for `form="paper"`, with `N_out` the output height x width of the call.

    Adds the penalty of `ConvEntropy(lam, output_shape, stabilized, epsilon,
    form, grid)` to the layer's losses on each call, `N_out` and
    `output_shape` being the number of output positions and the output size
    of that call (output height x width, whatever the `data_format`):

    - `"paper"` (default; MATH.md sections 2-4): `N_out * sum_{i,o} lam *
      s(K[0, 0, i, o])`, with `s` the stabilized `1 / (|x| + epsilon)` or the
      exact `-log|x|` (exact for `padding="valid"`, an approximation with
      `padding="same"`);
    - `"volume"` (MATH.md section 9): `N_out` times the per-position mean,
      over an `h x w` frequency `grid`, of `sum_j log sigma_j(P(u, v))`, the
      log singular values of the kernel's transfer matrices (exact for
      circular boundaries when `grid` is the output size), or its stabilized
      surrogate;
    - `"normalized"` (MATH.md section 10): the same less its scale part,
      `(k / 2) log(||K||_F^2 / k)` per position, `<= 0`; its penalty (exact,
      or stabilized less its minimum `lam N_out k / (1 + epsilon)`) is `>= 0`
      and zero where every transfer matrix is the same scaled isometry.

    With `grid=None` the grid is `keras_entropy.regularizers.default_grid`
    of the call's output size (at most 16 x 16; provisional, see
    `ConvEntropy`).

    Example:

    >>> import keras, keras_entropy, numpy as np
    >>> model = keras.Sequential([
    ...     keras.Input((32, 32, 3)),
    ...     keras_entropy.EntropyConv2D(32, 3, lam=0.01, activation="relu"),
    ...     keras.layers.GlobalAveragePooling2D(),
    ...     keras.layers.Dense(10, activation="softmax")])
    >>> conv = keras_entropy.EntropyConv2D(
    ...     1, 1, lam=1.0, stabilized=False, form="volume",
    ...     kernel_initializer=keras.initializers.Constant(2.0))
    >>> _ = conv(np.ones((1, 4, 5, 1), "float32"))
    >>> round(float(keras.ops.convert_to_numpy(conv.losses[0])), 4)  # -(4 * 5) log 2
    -13.8629

    Args:
        filters: as for `Conv2D`.
        kernel_size: as for `Conv2D`.
        lam: as for `ConvEntropy` (default 0.01); with `form="paper"`, `lam`
            may broadcast to `(c_in, filters)`.
        stabilized: as for `ConvEntropy` (default True).
        epsilon: as for `ConvEntropy` (default
            `keras_entropy.ops.DEFAULT_EPSILON`, 1e-3).
        form: as for `ConvEntropy` (default `"paper"`).
        grid: as for `ConvEntropy` (the volume forms' frequency grid;
            default None: `default_grid` of each call's output size).
        **kwargs: any other `Conv2D` argument.
    """

    def __init__(
        self,
        filters,
        kernel_size,
        lam=0.01,
        stabilized=True,
        epsilon=entropy_ops.DEFAULT_EPSILON,
        form="paper",
        grid=None,
        **kwargs,
    ):
        super().__init__(filters, kernel_size, **kwargs)
        self.entropy_regularizer = ConvEntropy(lam, None, stabilized, epsilon, form, grid)

    def build(self, input_shape):
        super().build(input_shape)
        # A per-filter `lam` that does not fit (c_in, filters) fails here, naming "<layer>/kernel".
        self.entropy_regularizer.check(_kernel_variable(self))

    def output_positions(self, outputs):
        """`N_out` of an output tensor: its height times its width."""
        shape = keras.ops.shape(outputs)
        if self.data_format == "channels_first":
            return shape[2] * shape[3]
        return shape[1] * shape[2]

    def output_size(self, outputs):
        """The static `(height, width)` of an output tensor, None where unknown."""
        spatial = outputs.shape[2:] if self.data_format == "channels_first" else outputs.shape[1:3]
        return tuple(spatial)

    def call(self, inputs):
        outputs = super().call(inputs)
        self.add_loss(
            self.entropy_regularizer.penalty(self.kernel, self.output_positions(outputs), self.output_size(outputs))
        )
        return outputs

    def get_config(self):
        config = super().get_config()
        entropy_config = self.entropy_regularizer.get_config()
        del entropy_config["output_shape"]
        config.update(entropy_config)
        return config


__all__ = ["EntropyDense", "EntropyConv2D"]

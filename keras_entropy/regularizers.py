"""Entropy penalties as `keras.regularizers.Regularizer` subclasses.

Thin wrappers around the pure functions of `keras_entropy.ops`: they validate
their arguments, check the kernel they are given, and serialize.
"""

import keras

from keras_entropy import distribution
from keras_entropy import ops as entropy_ops
from keras_entropy import validation


@keras.saving.register_keras_serializable(package="keras_entropy")
class DenseEntropy(keras.regularizers.Regularizer):
    """Penalises entropy loss through a `Dense` kernel (MATH.md sections 1-4).

    For a kernel `K` of shape `(n_in, n_out)`, `k = min(n_in, n_out)` and the
    square part `S = K[:k, :k]`:

    - exact form: `lam * (-log|det S|)`, computed from the QR factorisation of
      `S` (compiles under XLA; see `keras_entropy.ops.dense_entropy_change`);
    - stabilized form (default): `sum_j lam_j / (r_j + epsilon)` over the `k`
      factors `r_j` of `|det S|` (the `|r_jj|` of `S = QR`, see
      `keras_entropy.ops.dense_entropy_factors`). Bounded by `k / epsilon`,
      finite with a finite gradient even for singular kernels.

    `lam > 0` penalises entropy loss (the paper's setting); `lam < 0`
    encourages it.

    Example:

    >>> import keras, keras_entropy
    >>> layer = keras.layers.Dense(
    ...     20, kernel_regularizer=keras_entropy.DenseEntropy(0.01))

    Args:
        lam: strength, a float or an array of shape `(k,)` (one strength per
            factor, i.e. per output unit when `n_out <= n_in`).
        stabilized: use the stabilized surrogate (default) or the exact
            `-log|det S|`, which is unbounded as `S` becomes singular.
        epsilon: the surrogate's `epsilon` (> 0); see
            `keras_entropy.ops.DEFAULT_EPSILON` for why 1e-3.
    """

    def __init__(self, lam=0.01, stabilized=True, epsilon=entropy_ops.DEFAULT_EPSILON):
        self.lam = validation.validate_lam(lam)
        self.stabilized = validation.validate_bool(stabilized, "stabilized")
        self.epsilon = validation.validate_epsilon(epsilon)

    def __call__(self, x):
        n_in, n_out = validation.check_kernel_rank(
            x, 2, "DenseEntropy", "a Dense kernel of shape (n_in, n_out)"
        )
        validation.check_lam_fits(
            self.lam, (min(n_in, n_out),), "DenseEntropy", "one strength per factor"
        )
        return entropy_ops.dense_entropy_penalty(x, self.lam, self.stabilized, self.epsilon)

    def get_config(self):
        return {
            "lam": validation.serialize_lam(self.lam),
            "stabilized": self.stabilized,
            "epsilon": self.epsilon,
        }


@keras.saving.register_keras_serializable(package="keras_entropy")
class ConvEntropy(keras.regularizers.Regularizer):
    """Penalises entropy loss through a `Conv2D` kernel (MATH.md sections 2-4).

    With `c11 = K[0, 0, i, o]` the upper-left element of each single-channel
    filter of a kernel of shape `(p, q, c_in, c_out)` and `N_out` the number of
    output positions:

    - exact form: `-N_out * sum_{i,o} lam_{i,o} log|c11|`;
    - stabilized form (default): `N_out * sum_{i,o} lam_{i,o} / (|c11| + eps)`.

    A regularizer only sees the kernel, not the layer, so `N_out` comes from
    `output_shape` (the layer's output height and width) when the user gives
    it; without it the penalty is per output position (`N_out = 1`), which
    only rescales `lam`. `EntropyConv2D` finds `N_out` by itself. With
    `padding="same"` the formula is approximate (the zero border), as the
    paper's is.

    Example:

    >>> import keras, keras_entropy
    >>> conv = keras.layers.Conv2D(
    ...     32, 3, kernel_regularizer=keras_entropy.ConvEntropy(0.01))

    Args:
        lam: strength: a float, or an array that broadcasts to
            `(c_in, c_out)`: shape `(c_out,)` gives one strength per filter.
        output_shape: `(height, width)` of the layer's output, or None.
        stabilized: stabilized surrogate (default) or exact `-log|c11|`.
        epsilon: the surrogate's `epsilon` (> 0).
    """

    def __init__(
        self,
        lam=0.01,
        output_shape=None,
        stabilized=True,
        epsilon=entropy_ops.DEFAULT_EPSILON,
    ):
        self.lam = validation.validate_lam(lam)
        self.output_shape = validation.validate_output_shape(output_shape)
        self.stabilized = validation.validate_bool(stabilized, "stabilized")
        self.epsilon = validation.validate_epsilon(epsilon)

    @property
    def output_positions(self):
        if self.output_shape is None:
            return 1
        return self.output_shape[0] * self.output_shape[1]

    def penalty(self, x, output_positions):
        """The penalty for an explicit `N_out` (used by `EntropyConv2D`)."""
        shape = validation.check_kernel_rank(
            x, 4, "ConvEntropy", "a Conv2D kernel of shape (p, q, c_in, c_out)"
        )
        validation.check_lam_fits(
            self.lam, shape[2:], "ConvEntropy", "(c_in, c_out) of the kernel"
        )
        return entropy_ops.conv_entropy_penalty(
            x, self.lam, output_positions, self.stabilized, self.epsilon
        )

    def __call__(self, x):
        return self.penalty(x, self.output_positions)

    def get_config(self):
        return {
            "lam": validation.serialize_lam(self.lam),
            "output_shape": None if self.output_shape is None else list(self.output_shape),
            "stabilized": self.stabilized,
            "epsilon": self.epsilon,
        }


@keras.saving.register_keras_serializable(package="keras_entropy")
class KLSparsity(keras.regularizers.Regularizer):
    """KL sparsity penalty for sigmoid activations (MATH.md section 7).

    With `rho_hat_j` the batch-mean activation of unit `j`, clipped into
    `(delta, 1 - delta)`:

        P = beta * sum_j [rho log(rho / rho_hat_j)
                          + (1 - rho) log((1 - rho) / (1 - rho_hat_j))]

    Use it as an `activity_regularizer`. Keras divides every activity penalty
    by the batch size; `P` is already a batch statistic, so this regularizer
    returns `batch_size * P` and the term that reaches `model.losses` is
    exactly `P`. For the bare value call
    `keras_entropy.ops.kl_sparsity_penalty`.

    Several devices: `rho_hat` is the mean over the global batch. Under
    `tf.distribute` it is all-reduced over the replicas
    (`keras_entropy.distribution.global_batch_mean`), so every replica holds
    the `P` of the global batch; `batch_size` is the replica's own share,
    the size Keras divides by. Keras scales each replica's `model.losses`
    by `1 / num_replicas` and the all-reduce sends every replica's gradient
    to all of them, so the optimizer's sum of the replicas' gradients is the
    gradient of `P`, as on one device. Under JAX the batch is global already.

    Example:

    >>> import keras, keras_entropy
    >>> hidden = keras.layers.Dense(
    ...     196, activation="sigmoid",
    ...     activity_regularizer=keras_entropy.KLSparsity(rho=0.05, beta=3.0))

    Args:
        rho: target mean activation, in (0, 1).
        beta: strength, > 0.
        delta: clipping margin of `rho_hat`, in (0, 0.5).
    """

    def __init__(self, rho=0.05, beta=1.0, delta=1e-6):
        self.rho = validation.validate_open_unit_interval(rho, "rho")
        self.beta = validation.validate_positive(beta, "beta")
        self.delta = validation.validate_open_unit_interval(delta, "delta")
        if self.delta >= 0.5:
            raise ValueError(f"Argument `delta` must be < 0.5. Received: delta={delta!r}")

    def __call__(self, x):
        if len(x.shape) == 0:
            return entropy_ops.kl_sparsity_penalty(x, self.rho, self.beta, self.delta)
        penalty = entropy_ops.kl_sparsity_penalty(
            x, self.rho, self.beta, self.delta, batch_mean=distribution.global_batch_mean
        )
        batch_size = keras.ops.cast(keras.ops.shape(x)[0], "float32")
        return penalty * batch_size

    def get_config(self):
        return {"rho": self.rho, "beta": self.beta, "delta": self.delta}

"""Entropy penalties as `keras.regularizers.Regularizer` subclasses.

Thin wrappers around the pure functions of `keras_entropy.ops`: they validate
their arguments, check the kernel they are given, and serialize.
"""

import keras

from keras_entropy import distribution, validation
from keras_entropy import ops as entropy_ops

#: What each penalty's rank error says it expects.
_DENSE_KERNEL = "a Dense kernel of shape (n_in, n_out); ConvEntropy is the penalty of Conv2D kernels"
_CONV_KERNEL = "a Conv2D kernel of shape (p, q, c_in, c_out); DenseEntropy is the penalty of Dense kernels"

#: The largest side of the default frequency grid of the conv volume forms
#: (chosen by `benchmarks/conv_grid.py`: see `ConvEntropy`).
MAX_DEFAULT_GRID = 16


def default_grid(output_size, kernel_size):
    """The frequency grid `(h, w)` of the conv volume forms when `grid=None`.

    Per axis: the output size capped at `MAX_DEFAULT_GRID`, and at least the
    kernel size (so that no tap folds onto another); `MAX_DEFAULT_GRID` where
    the output size is unknown (`output_size` None, or None on that axis).

    >>> default_grid((30, 6), (3, 3))
    (16, 6)
    >>> default_grid(None, (3, 3))
    (16, 16)
    """
    sizes = (None, None) if output_size is None else tuple(output_size)
    return tuple(
        max(MAX_DEFAULT_GRID if size is None else min(int(size), MAX_DEFAULT_GRID), int(taps))
        for size, taps in zip(sizes, kernel_size)
    )


@keras.saving.register_keras_serializable(package="keras_entropy")
class DenseEntropy(keras.regularizers.Regularizer):
    r"""Penalises entropy loss through a `Dense` kernel (MATH.md sections 1-4, 8, 10).

    $$
    P_{\mathrm{exact}} = -\lambda\, \Delta H, \qquad
    P_{\mathrm{stabilized}} = \sum_{j=1}^{k} \lambda_j\, s_\epsilon(r_j), \qquad
    s_\epsilon(x) = \frac{1}{\lvert x\rvert + \epsilon}
    $$

    $$
    \Delta H_{\mathrm{paper}} = \log\lvert\det S\rvert, \qquad
    \Delta H_{\mathrm{vol}} = \sum_{j=1}^{k} \log\sigma_j(K) = \frac{1}{2} \log\det G, \qquad
    \Delta H_{\mathrm{norm}} = \frac{1}{2} \log\det G - \frac{k}{2} \log\frac{\operatorname{tr} G}{k}
    $$

    (for `"normalized"` the stabilized sum is over the scale-free `n_j`, less
    its minimum: see below).

    For a kernel `K` of shape `(n_in, n_out)`, `k = min(n_in, n_out)`, `form`
    picks the entropy change `dH` that the penalty `-lam * dH` (exact) or its
    stabilized surrogate works on:

    - `"paper"` (default; MATH.md sections 1-4): `dH = log|det S|` of the
      square part `S = K[:k, :k]`. Exact: `lam * (-log|det S|)`, from the QR
      factorisation of `S` (see `keras_entropy.ops.dense_entropy_change`).
      Stabilized: `sum_j lam_j / (r_j + epsilon)` over the `k` factors `r_j`
      of `|det S|` (the `|r_jj|` of `S = QR`, see
      `keras_entropy.ops.dense_entropy_factors`).
    - `"volume"` (MATH.md section 8): the log-volume of the whole kernel,
      `dH_vol = sum_j log sigma_j(K) = 1/2 log det G`, `G = K^T K` (or
      `K K^T` when `n_in < n_out`). It sees every weight, does not change when
      the inputs are reordered, and `dH_vol >= log|det S|` (Cauchy-Binet).
      Stabilized: `lam * sum_j 1 / (r_j + epsilon)` over the factors
      `r_j = diag chol(G + delta I)` (`keras_entropy.ops.dense_volume_penalty`).
    - `"normalized"` (MATH.md section 10): the volume less its scale part,
      `dH_norm = 1/2 log det G - k/2 log(tr G / k) <= 0`, zero exactly for a
      scaled isometry. The other two forms grow without bound with the
      weights' scale; this one does not reward growing weights. Stabilized:
      `lam * sum_j (1 / (n_j + epsilon) - 1 / (1 + epsilon))` over the
      scale-free factors `n_j = r_j / sqrt(tr(G + delta I) / k)`: the
      surrogate less its minimum `lam k / (1 + epsilon)` (a constant: no
      gradient changes), so, like the exact `-lam dH_norm`, it is `>= 0`
      (`lam > 0`) and zero at a scaled isometry: what it adds to `loss` is
      what the kernel is away from its optimum.

    Every stabilized form is bounded by `k / epsilon`, finite with a finite
    gradient even for singular kernels. The stabilized paper and volume
    forms are `> 0` with no constant floor: they fall towards 0 only as the
    factors grow without bound. `lam > 0` penalises entropy loss (the
    paper's setting); `lam < 0` encourages it.

    Example:

    >>> import keras, keras_entropy, numpy as np
    >>> layer = keras.layers.Dense(
    ...     20, kernel_regularizer=keras_entropy.DenseEntropy(0.01))
    >>> kernel = np.array([[2.0, 0.0], [0.0, 3.0], [0.0, 0.0]], "float32")
    >>> volume = keras_entropy.DenseEntropy(1.0, stabilized=False, form="volume")
    >>> round(float(volume(kernel)), 4)  # -(log 2 + log 3)
    -1.7918
    >>> normalized = keras_entropy.DenseEntropy(1.0, stabilized=False, form="normalized")
    >>> round(float(normalized(kernel)), 4)  # -(log 6 - 2/2 log(13 / 2))
    0.08
    >>> stabilized = keras_entropy.DenseEntropy(1.0, form="normalized")
    >>> abs(float(stabilized(3.0 * np.eye(3, 2, dtype="float32")))) < 1e-6  # 0 at a scaled isometry
    True

    Args:
        lam: strength, a float (default 0.01); with `form="paper"` also an
            array of shape `(k,)` (one strength per factor, i.e. per output
            unit when `n_out <= n_in`). The volume forms are one value for
            the whole kernel: an array raises a `ValueError`. The exact
            penalty is `lam` times an entropy change in nats.
        stabilized: use the stabilized surrogate (default True) or the exact
            `-lam * dH`, which is unbounded as the kernel becomes singular.
        epsilon: the surrogate's `epsilon` (> 0; default
            `keras_entropy.ops.DEFAULT_EPSILON`, 1e-3, which explains why).
        form: `"paper"` (default), `"volume"` or `"normalized"`.
    """

    def __init__(self, lam=0.01, stabilized=True, epsilon=entropy_ops.DEFAULT_EPSILON, form="paper"):
        self.lam = validation.validate_lam(lam)
        self.stabilized = validation.validate_bool(stabilized, "stabilized")
        self.epsilon = validation.validate_epsilon(epsilon)
        self.form = validation.validate_form(form)
        validation.check_lam_form(self.lam, self.form)

    def check(self, kernel):
        """Raise a `ValueError` if this penalty does not fit `kernel`; return its shape.

        Checks the rank (2) and, for an array `lam`, its shape `(k,)`. The
        message names the kernel's variable path (`"conv2d/kernel"`: the
        layer) and its shape. `EntropyDense` calls it when it builds,
        `place_penalties` when it places the penalty, and `__call__` each
        time (Keras calls a `kernel_regularizer` only when it computes the
        layer's losses: eagerly it passes the variable, whose path the
        message names; inside a jitted JAX step a value without a path).

        >>> import keras, keras_entropy
        >>> conv = keras.layers.Conv2D(8, 3, name="conv")
        >>> conv.build((None, 28, 28, 1))
        >>> keras_entropy.DenseEntropy(0.01).check(conv.kernel)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: DenseEntropy expects a rank-2 kernel (...). Received: kernel 'conv/kernel' with shape=(3, 3, 1, 8)
        """
        n_in, n_out = validation.check_kernel_rank(kernel, 2, "DenseEntropy", _DENSE_KERNEL)
        if self.form == "paper":
            factors = (min(n_in, n_out),)
            validation.check_lam_fits(self.lam, factors, "DenseEntropy", "one strength per factor", kernel)
        return (n_in, n_out)

    def __call__(self, x):
        self.check(x)
        if self.form != "paper":
            return entropy_ops.dense_volume_penalty(
                x, lam=self.lam, stabilized=self.stabilized, epsilon=self.epsilon, form=self.form
            )
        return entropy_ops.dense_entropy_penalty(x, lam=self.lam, stabilized=self.stabilized, epsilon=self.epsilon)

    def get_config(self):
        return {
            "lam": validation.serialize_lam(self.lam),
            "stabilized": self.stabilized,
            "epsilon": self.epsilon,
            "form": self.form,
        }


@keras.saving.register_keras_serializable(package="keras_entropy")
class ConvEntropy(keras.regularizers.Regularizer):
    r"""Penalises entropy loss through a `Conv2D` kernel (MATH.md sections 2-4, 9, 10).

    $$
    P_{\mathrm{exact}} = -N_{\mathrm{out}} \sum_{i,o} \lambda_{i,o} \log\lvert K[0, 0, i, o]\rvert,
    \qquad
    P_{\mathrm{stabilized}} = N_{\mathrm{out}} \sum_{i,o} \frac{\lambda_{i,o}}{\lvert K[0, 0, i, o]\rvert + \epsilon}
    $$

    for `form="paper"`, and for the volume forms

    $$
    P_{\mathrm{exact}} = -\lambda\, \frac{N_{\mathrm{out}}}{h w}\, \Delta H_{\mathrm{conv,vol}}, \qquad
    \Delta H_{\mathrm{conv,vol}} = \sum_{u<h,\, v<w} \sum_{j=1}^{k} \log \sigma_j\bigl(P(u, v)\bigr)
    $$

    (`"normalized"` subtracts the scale part; see below).

    For a kernel of shape `(p, q, c_in, c_out)`, `k = min(c_in, c_out)` and
    `N_out` the number of output positions, `form` picks the entropy change:

    - `"paper"` (default; MATH.md sections 2-4): with `c11 = K[0, 0, i, o]`
      the upper-left element of each single-channel filter, exact
      `-N_out * sum_{i,o} lam_{i,o} log|c11|`, stabilized
      `N_out * sum_{i,o} lam_{i,o} / (|c11| + eps)`.
    - `"volume"` (MATH.md section 9): the log-volume of the circular
      convolution on an `h x w` frequency `grid`, per output position:
      `N_out / (h w) * sum_{u<h, v<w} sum_{j<=k} log sigma_j(P(u, v))`, with
      `P(u, v) = numpy.fft.fft2(K, (h, w), axes=(0, 1))[u, v]` the
      `c_in x c_out` transfer matrix of frequency `(u, v)`. Exact: `-lam`
      times it; stabilized: `lam * N_out * mean_{u,v} sum_j s(r_j(u, v))`
      over the factors of `chol(G(u, v) + delta I)`
      (`keras_entropy.ops.conv_volume_penalty`). It sees every tap.
    - `"normalized"` (MATH.md section 10): the same less its scale part,
      `N_out / (h w) * (dH_conv_vol - (h w k / 2) log(||K||_F^2 / k)) <= 0`,
      zero exactly when every `P(u, v)` is the same scaled isometry. Its
      penalties, exact and stabilized, are `>= 0` (`lam > 0`) and zero
      there: the stabilized one is the surrogate less its minimum
      `lam * N_out * k / (1 + epsilon)` (a constant: no gradient changes).

    The stabilized paper and volume forms are `> 0` with no constant floor:
    they fall towards 0 only as the factors grow without bound.

    A regularizer only sees the kernel, not the layer, so `N_out` comes from
    `output_shape` (the layer's output height and width) when the user gives
    it; without it the penalty is per output position (`N_out = 1`), which
    only rescales `lam`. `EntropyConv2D` finds `N_out` by itself. With
    `padding="same"` or `"valid"` rather than circular boundaries every form
    is approximate, as the paper's is.

    The volume forms' `grid` is exact (for circular boundaries) when it
    equals the output size; a coarser grid samples the kernel's smooth
    transfer function more sparsely. The default (`grid=None`) is
    `default_grid`: the output size (`output_shape`, or the layer's in
    `EntropyConv2D`) capped at 16 per axis and at least the kernel size;
    `(16, 16)` when unknown. Measured on the kernels of the paper's 3-block
    CNN (width 32) trained 2 epochs on the embedded MNIST subset (`KERAS_BACKEND=tensorflow
    python benchmarks/conv_grid.py --epochs 2`): relative error of the
    per-position value against the exact grid (conv1, output 26x26), worst
    of the four forms, and ms per value and gradient of the stabilized
    penalty on the trained conv2 (32 -> 32) kernel, compiled, on a loaded
    2-core CPU:

        grid     error (conv1, trained)   ms (conv2)
        4x4      2.6e-2                    5.9
        8x8      1.4e-3                   14.5
        12x12    3.5e-5                   20.6
        16x16    2.3e-6                   59.1
        26x26    (exact)                  199.0

    The 16x16 default keeps every form within 1e-5 of exact; on wide layers
    where its cost shows, `grid=(8, 8)` is about 4x cheaper for errors under
    1% (conv2, 11x11 output: 9e-3 at 8x8).

    Example:

    >>> import keras, keras_entropy, numpy as np
    >>> conv = keras.layers.Conv2D(
    ...     32, 3, kernel_regularizer=keras_entropy.ConvEntropy(0.01))
    >>> kernel = np.full((1, 1, 1, 1), 2.0, "float32")  # volume: h w log|c11|
    >>> volume = keras_entropy.ConvEntropy(
    ...     1.0, output_shape=(4, 5), stabilized=False, form="volume")
    >>> round(float(volume(kernel)), 4)  # -20 log 2
    -13.8629

    Args:
        lam: strength: a float (default 0.01); with `form="paper"` also an
            array that broadcasts to `(c_in, c_out)`: shape `(c_out,)` gives
            one strength per filter. The volume forms are one value for the
            whole kernel: an array raises a `ValueError`. The exact penalty
            is `lam` times an entropy change in nats.
        output_shape: `(height, width)` of the layer's output, or None
            (default: `N_out = 1`, a penalty per output position).
        stabilized: stabilized surrogate (default True) or the exact
            `-lam * dH`.
        epsilon: the surrogate's `epsilon` (> 0; default
            `keras_entropy.ops.DEFAULT_EPSILON`, 1e-3).
        form: `"paper"` (default), `"volume"` or `"normalized"`.
        grid: `(h, w)` frequency grid of the volume forms (ignored by
            `"paper"`), or None (default) for `default_grid`.
    """

    def __init__(
        self,
        lam=0.01,
        output_shape=None,
        stabilized=True,
        epsilon=entropy_ops.DEFAULT_EPSILON,
        form="paper",
        grid=None,
    ):
        self.lam = validation.validate_lam(lam)
        self.output_shape = validation.validate_output_shape(output_shape)
        self.stabilized = validation.validate_bool(stabilized, "stabilized")
        self.epsilon = validation.validate_epsilon(epsilon)
        self.form = validation.validate_form(form)
        self.grid = validation.validate_grid(grid)
        validation.check_lam_form(self.lam, self.form)

    @property
    def output_positions(self):
        if self.output_shape is None:
            return 1
        return self.output_shape[0] * self.output_shape[1]

    def check(self, kernel):
        """Raise a `ValueError` if this penalty does not fit `kernel`; return its shape.

        Checks the rank (4) and, for an array `lam`, that it broadcasts to
        `(c_in, c_out)`. The message names the kernel's variable path (the
        layer) and its shape; see `DenseEntropy.check` for when it runs.
        """
        shape = validation.check_kernel_rank(kernel, 4, "ConvEntropy", _CONV_KERNEL)
        if self.form == "paper":
            validation.check_lam_fits(self.lam, shape[2:], "ConvEntropy", "(c_in, c_out) of the kernel", kernel)
        return shape

    def penalty(self, x, output_positions, output_size=None):
        """The penalty for an explicit `N_out` (used by `EntropyConv2D`).

        `output_size`, the output's `(height, width)` (None where unknown),
        sets the default grid of the volume forms in place of `output_shape`.
        """
        shape = self.check(x)
        if self.form != "paper":
            grid = self.grid or default_grid(output_size or self.output_shape, shape[:2])
            return entropy_ops.conv_volume_penalty(
                x,
                lam=self.lam,
                output_positions=output_positions,
                stabilized=self.stabilized,
                epsilon=self.epsilon,
                form=self.form,
                grid=grid,
            )
        return entropy_ops.conv_entropy_penalty(
            x, lam=self.lam, output_positions=output_positions, stabilized=self.stabilized, epsilon=self.epsilon
        )

    def __call__(self, x):
        return self.penalty(x, self.output_positions)

    def get_config(self):
        return {
            "lam": validation.serialize_lam(self.lam),
            "output_shape": None if self.output_shape is None else list(self.output_shape),
            "stabilized": self.stabilized,
            "epsilon": self.epsilon,
            "form": self.form,
            "grid": None if self.grid is None else list(self.grid),
        }


@keras.saving.register_keras_serializable(package="keras_entropy")
class KLSparsity(keras.regularizers.Regularizer):
    r"""KL sparsity penalty for sigmoid activations (MATH.md section 7).

    $$
    P = \beta \sum_j \Bigl[\rho \log\frac{\rho}{\hat{\rho}_j}
    + (1 - \rho) \log\frac{1 - \rho}{1 - \hat{\rho}_j}\Bigr]
    $$

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
    >>> import numpy as np
    >>> a = np.array([[0.1, 0.5], [0.1, 0.5]], "float32")  # rho_hat = (0.1, 0.5)
    >>> sparsity = keras_entropy.KLSparsity(rho=0.1, beta=2.0)
    >>> round(float(sparsity(a)) / 2, 4)  # batch_size * P / 2 = 2 (0.1 log 0.2 + 0.9 log 1.8)
    0.7361

    Args:
        rho: target mean activation, in (0, 1) (default 0.05).
        beta: strength, > 0 (default 1.0); `P` is `beta` times a KL
            divergence in nats.
        delta: clipping margin of `rho_hat`, in (0, 0.5) (default 1e-6).
    """

    def __init__(self, rho=0.05, beta=1.0, delta=1e-6):
        self.rho = validation.validate_open_unit_interval(rho, "rho")
        self.beta = validation.validate_positive(beta, "beta")
        self.delta = validation.validate_open_unit_interval(delta, "delta")
        if self.delta >= 0.5:
            raise ValueError(f"Argument `delta` must be < 0.5. Received: delta={delta!r}")

    def __call__(self, x):
        if len(x.shape) == 0:
            return entropy_ops.kl_sparsity_penalty(x, rho=self.rho, beta=self.beta, delta=self.delta)
        penalty = entropy_ops.kl_sparsity_penalty(
            x, rho=self.rho, beta=self.beta, delta=self.delta, batch_mean=distribution.global_batch_mean
        )
        batch_size = keras.ops.cast(keras.ops.shape(x)[0], "float32")
        return penalty * batch_size

    def get_config(self):
        return {"rho": self.rho, "beta": self.beta, "delta": self.delta}

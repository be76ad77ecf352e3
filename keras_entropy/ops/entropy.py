"""The paper's formulas (MATH.md sections 1-7), the sparsity and clustering losses.

See `keras_entropy.ops` for the conventions every function here follows.
"""

import math

from keras import ops

from keras_entropy.ops._deprecation import keyword_only

#: Default epsilon of the stabilized surrogate `1 / (|x| + epsilon)`.
#:
#: Typical factors are 1e-2..1 (Glorot-initialised dense and conv kernels);
#: epsilon = 1e-3 stays an order of magnitude below them, so the surrogate
#: keeps the steep shape of `-log|x|` over the range that matters, while the
#: value per factor is bounded by 1e3 and the gradient per factor by 1e6,
#: both comfortably finite in float32.
DEFAULT_EPSILON = 1e-3

#: float32 machine epsilon (`numpy.finfo("float32").eps`): the rounding unit
#: that sizes the Cholesky jitter of `factor_jitter`.
FLOAT32_EPS = 1.1920929e-07


def as_float32(x):
    """`x` as a float32 tensor (cast up from float16/bfloat16; no copy if float32)."""
    x = ops.convert_to_tensor(x)
    if x.dtype != "float32":
        x = ops.cast(x, "float32")
    return x


def square_part(kernel):
    """Upper-left `k x k` block of a dense kernel, `k = min(n_in, n_out)`.

    MATH.md section 1: padding this block with an identity block gives an
    invertible square matrix whose determinant is `det S`.

    >>> import numpy as np
    >>> square_part(np.arange(6.0).reshape(3, 2)).tolist()
    [[0.0, 1.0], [2.0, 3.0]]

    Args:
        kernel: a `(n_in, n_out)` Dense kernel.

    Returns:
        `kernel[:k, :k]`, in the kernel's own type and dtype.
    """
    n_in, n_out = kernel.shape
    k = min(n_in, n_out)
    return kernel[:k, :k]


def qr_factors(matrix):
    """`|r_jj|` of the QR factorisation of a square matrix (MATH.md section 1).

    Their product is `|det S|` and their log-sum is `log|det S|`, with the
    accuracy of a backward-stable Householder QR (relative error of order
    `cond(S) * float32_eps` in each factor, where a Cholesky of `S^T S` would
    give `cond(S)**2 * float32_eps`). QR has a kernel and a gradient on every
    backend and under XLA, unlike `slogdet` (`LogMatrixDeterminant` has no
    XLA kernel in TensorFlow, so `jit_compile=True` models cannot use it).

    >>> import numpy as np
    >>> np.round(np.asarray(qr_factors(np.array([[0.0, 2.0], [-3.0, 0.0]], "float32"))), 4).tolist()
    [3.0, 2.0]

    Args:
        matrix: a square matrix.

    Returns:
        A float32 vector of shape `(k,)`; zero entries for a singular matrix.
    """
    _, r = ops.qr(as_float32(matrix), mode="reduced")
    return ops.abs(ops.diagonal(r))


def dense_entropy_change(kernel):
    r"""Entropy change through a dense layer: `log|det S|` (MATH.md section 1).

    $$
    \Delta H_{\mathrm{dense}}(K) = \log\lvert\det S\rvert = \sum_{j=1}^{k} \log\lvert r_{jj}\rvert,
    \qquad k = \min(n_{\mathrm{in}}, n_{\mathrm{out}})
    $$

    with `S = K[:k, :k]` the square part of the kernel and `r_jj` the
    diagonal of `R` in its QR factorisation `S = QR`.

    Args:
        kernel: a `(n_in, n_out)` Dense kernel.

    Returns:
        A float32 scalar, in nats. `-inf` for a singular square part.

    Computed as `sum_j log|r_jj|` over the QR factorisation `S = QR` (see
    `qr_factors`): value and gradient equal `slogdet`'s to float32 rounding,
    and it compiles under XLA. For a 784x260 Glorot-initialised kernel the
    value is about -220, so `det S` itself underflows to 0 in float32: the
    determinant is never formed.

    >>> import numpy as np
    >>> k = np.array([[2.0, 0.0], [0.0, 3.0], [5.0, 7.0]], "float32")  # S = diag(2, 3)
    >>> round(float(dense_entropy_change(k)), 4)  # log 2 + log 3
    1.7918
    """
    return ops.sum(ops.log(qr_factors(square_part(as_float32(kernel)))))


@keyword_only("epsilon")
def factor_jitter(gram, *, epsilon=DEFAULT_EPSILON):
    """`delta = epsilon**2 + k * float32_eps * ||G||_F` for a `k x k` Gram matrix.

    >>> import numpy as np
    >>> round(float(factor_jitter(np.zeros((3, 3), "float32"), epsilon=0.1)), 6)  # 0.1**2
    0.01

    Args:
        gram: a `k x k` Gram matrix `G`.
        epsilon: the floor of the jitter (default `DEFAULT_EPSILON`).

    Returns:
        A float32 scalar, no smaller than `epsilon**2`.
    """
    k = gram.shape[0]
    return epsilon**2 + k * FLOAT32_EPS * ops.sqrt(ops.sum(ops.square(gram)))


@keyword_only("epsilon", "with_trace")
def gram_cholesky_factors(x, *, epsilon=DEFAULT_EPSILON, with_trace=False):
    """`r = diag(chol(X^T X + delta I))` for a tall `(n, k)` matrix, `n >= k`.

    The `|r_jj|` of the QR factorisation of `X` stacked on `sqrt(delta) I`,
    with `delta = factor_jitter(X^T X, epsilon=epsilon)` (no gradient through it):
    every factor is at least `sqrt(delta) > 0`, so any function of them is
    finite with a finite gradient, even for a zero or rank-deficient `X`.

    The gradient is closed-form rather than differentiated through the
    Cholesky factorisation: with `G = X^T X + delta I = L L^T` and upstream
    gradient `g` on `r`, `dr_j = r_j/2 (L^-1 dG L^-T)_jj`, so

        dX = X L^-T diag(g * r) L^-1

    (MATH.md section 4): one triangular solve for `L^-1` (well conditioned:
    the jitter bounds `cond(G)` by about `1 / (k float32_eps)`) and two
    products, where autodiff would add a Cholesky backward pass
    (`benchmarks/dense_factor_routes.py` times both; two solves against `L`
    in place of the inverse were 10-20% slower on TensorFlow's CPU). It
    matches autodiff to float32 rounding (tests/test_ops.py).

    >>> import numpy as np
    >>> x = np.array([[3.0, 0.0], [4.0, 0.0], [0.0, 2.0]], "float32")
    >>> np.round(np.asarray(gram_cholesky_factors(x, epsilon=0.0)), 4).tolist()
    [5.0, 2.0]

    Args:
        x: an `(n, k)` matrix with `n >= k`.
        epsilon: the floor of the jitter (`factor_jitter`; default
            `DEFAULT_EPSILON`).
        with_trace: also return `tr(X^T X + delta I)` (gradient `2 X`), the
            energy the normalized forms divide by, from the same Gram matrix
            (default False).

    Returns:
        A float32 vector of shape `(k,)`; with `with_trace`, `(r, trace)`.
    """
    # A tensor, never a variable: TensorFlow's custom gradients would
    # otherwise owe the variable a gradient of their own.
    x = as_float32(x)
    x = ops.reshape(x, x.shape)
    k = x.shape[1]

    @ops.custom_gradient
    def factors_and_trace(x):
        gram = ops.matmul(ops.transpose(x), x)
        delta = factor_jitter(gram, epsilon=epsilon)
        chol = ops.cholesky(gram + delta * ops.eye(k, dtype="float32"))
        r = ops.diagonal(chol)
        trace = ops.trace(gram) + k * delta

        def grad(*args, upstream=None):
            if upstream is None:  # TensorFlow and JAX pass it positionally
                (upstream,) = args
            inverse = ops.solve_triangular(chol, ops.eye(k, dtype="float32"), lower=True)  # L^-1
            gram_grad = ops.matmul(ops.transpose(inverse), (upstream[:k] * r)[:, None] * inverse)  # L^-T D L^-1
            return ops.matmul(x, gram_grad) + 2.0 * upstream[k] * x

        return ops.concatenate([r, ops.reshape(trace, (1,))]), grad

    out = factors_and_trace(x)
    return (out[:k], out[k]) if with_trace else out[:k]


@keyword_only("epsilon")
def dense_entropy_factors(kernel, *, epsilon=DEFAULT_EPSILON):
    """The `k` factors of `|det S|` used by the stabilized dense penalty.

    The factors are the `|r_jj|` of the QR factorisation `S = QR` (MATH.md
    section 4 allows them in place of the singular values: their product is
    `|det S|` too). They are computed as the diagonal of the Cholesky factor of
    the Gram matrix `S^T S + delta I`, which is mathematically the same `R`
    and costs about half a Householder QR and a quarter of an SVD (see
    `benchmarks/dense_factor_routes.py`).

    The jitter `delta = epsilon**2 + k * float32_eps * ||S^T S||_F` keeps the
    Cholesky factorisation defined (and its gradient finite) for rank-deficient
    and all-zero kernels, where the Gram matrix is singular and its float32
    rounding can make it slightly indefinite. The result is exactly the
    `|r_jj|` of the QR factorisation of `S` stacked on `sqrt(delta) I`, so
    each factor is floored smoothly at `sqrt(delta)`; for Glorot-initialised
    kernels the factors move by under 1% (tests/test_ops.py). The
    jitter is a stabilizer: no gradient flows through it. The gradient is
    closed-form (`gram_cholesky_factors`).

    Factor `j` belongs to column `j` of `S` (output unit `j` when
    `n_out <= n_in`): it is the part of that column orthogonal to the columns
    before it.

    >>> import numpy as np
    >>> wide = np.array([[0.0, 2.0, 5.0], [3.0, 0.0, 7.0]], "float32")  # S = [[0, 2], [3, 0]]
    >>> [round(float(r), 4) for r in np.asarray(dense_entropy_factors(wide, epsilon=0.0))]
    [3.0, 2.0]

    Args:
        kernel: a `(n_in, n_out)` Dense kernel; only its square part `S` counts.
        epsilon: the floor of the jitter (default `DEFAULT_EPSILON`).

    Returns:
        The `k` float32 factors, each at least `sqrt(delta) > 0`.
    """
    return gram_cholesky_factors(square_part(as_float32(kernel)), epsilon=epsilon)


@keyword_only("output_positions")
def conv_entropy_change(kernel, *, output_positions=1):
    r"""Entropy change of each single-channel filter of a Conv2D kernel.

    $$
    \Delta H_{\mathrm{filter}}(i, o) = N_{\mathrm{out}} \log\lvert K[0, 0, i, o]\rvert,
    \qquad \Delta H_{\mathrm{conv}} = \sum_{i,o} \Delta H_{\mathrm{filter}}(i, o)
    $$

    MATH.md section 2: `dH_filter = N_out * log|c11|` with `c11 = K[0, 0, i, o]`
    in Keras layout `(p, q, c_in, c_out)`.

    >>> import numpy as np
    >>> k = np.full((3, 3, 1, 2), 2.0, "float32")
    >>> np.round(np.asarray(conv_entropy_change(k, output_positions=10), "float64"), 4).tolist()  # 10 log 2
    [[6.9315, 6.9315]]

    Args:
        kernel: a rank-4 Conv2D kernel.
        output_positions: `N_out`, the number of output positions (height x
            width of the layer's output). The default 1 gives the per-filter
            `log|c11|` that the paper plots.

    Returns:
        A float32 array of shape `(c_in, c_out)`, in nats; its sum is the
        layer's `dH_conv`.
    """
    c11 = as_float32(kernel)[0, 0, :, :]
    return ops.multiply(ops.cast(output_positions, "float32"), ops.log(ops.abs(c11)))


@keyword_only("epsilon")
def entropy_surrogate(x, *, epsilon=DEFAULT_EPSILON):
    r"""The stabilized surrogate of `-log|x|`: `s_eps(x) = 1 / (|x| + eps)`.

    $$
    s_\epsilon(x) = \frac{1}{\lvert x\rvert + \epsilon}
    $$

    MATH.md section 4: finite (at most `1/eps`) with a bounded gradient (at
    most `1/eps**2`), steeper than `-log|x|` near 0.

    >>> import numpy as np
    >>> np.round(np.asarray(entropy_surrogate(np.array([0.0, -1.0, 3.0], "float32"), epsilon=1.0)), 4).tolist()
    [1.0, 0.5, 0.25]

    Args:
        x: a tensor (the factors).
        epsilon: `eps` (default `DEFAULT_EPSILON`, 1e-3), in the units of
            `x`.

    Returns:
        A float32 tensor of `x`'s shape.
    """
    return 1.0 / (ops.abs(as_float32(x)) + epsilon)


@keyword_only("lam", "stabilized", "epsilon")
def dense_entropy_penalty(kernel, *, lam=1.0, stabilized=True, epsilon=DEFAULT_EPSILON):
    r"""Penalty of a dense kernel: `lam * (-dH_dense)` or its stabilized form.

    $$
    P_{\mathrm{exact}} = -\sum_{j=1}^{k} \lambda_j \log\lvert r_{jj}\rvert,
    \qquad
    P_{\mathrm{stabilized}} = \sum_{j=1}^{k} \frac{\lambda_j}{r_j + \epsilon}
    $$

    Exact (MATH.md section 3): `-lam * log|det S| = -sum_j lam_j log|r_jj|`
    over the QR factors of `S` (`qr_factors`); a per-factor `lam` has shape
    `(k,)`.

    Stabilized (section 4): `sum_j lam_j / (r_j + eps)` over the factors
    `r_j` of `dense_entropy_factors`.

    >>> import numpy as np
    >>> k = np.array([[2.0, 0.0], [0.0, 3.0], [5.0, 7.0]], "float32")  # S = diag(2, 3)
    >>> round(float(dense_entropy_penalty(k, lam=1.0, stabilized=False)), 4)  # -(log 2 + log 3)
    -1.7918
    >>> round(float(dense_entropy_penalty(k, lam=np.array([1.0, 3.0]), epsilon=0.0)), 4)  # 1/2 + 3/3
    1.5

    Args:
        kernel: a `(n_in, n_out)` Dense kernel.
        lam: the strength, a scalar or one per factor, shape `(k,)`
            (default 1.0); the exact penalty is `lam` times an entropy in
            nats.
        stabilized: the stabilized surrogate (default True) or the exact
            `-lam * log|det S|`.
        epsilon: the surrogate's `eps` (default `DEFAULT_EPSILON`, 1e-3).

    Returns:
        A float32 scalar.
    """
    lam = as_float32(lam)
    if stabilized:
        factors = dense_entropy_factors(kernel, epsilon=epsilon)
        return ops.sum(lam * entropy_surrogate(factors, epsilon=epsilon))
    return -ops.sum(lam * ops.log(qr_factors(square_part(as_float32(kernel)))))


@keyword_only("lam", "output_positions", "stabilized", "epsilon")
def conv_entropy_penalty(kernel, *, lam=1.0, output_positions=1, stabilized=True, epsilon=DEFAULT_EPSILON):
    r"""Penalty of a Conv2D kernel, summed over its `c_in * c_out` filters.

    $$
    P_{\mathrm{exact}} = -N_{\mathrm{out}} \sum_{i,o} \lambda_{i,o} \log\lvert K[0, 0, i, o]\rvert,
    \qquad
    P_{\mathrm{stabilized}} = N_{\mathrm{out}} \sum_{i,o} \frac{\lambda_{i,o}}{\lvert K[0, 0, i, o]\rvert + \epsilon}
    $$

    Exact: `-N_out * sum_{i,o} lam_{i,o} log|K[0, 0, i, o]|`.
    Stabilized: `N_out * sum_{i,o} lam_{i,o} / (|K[0, 0, i, o]| + eps)`.

    `lam` is a scalar or broadcasts against `(c_in, c_out)`: shape `(c_out,)`
    gives one strength per filter, `(c_in, c_out)` one per channel of each
    filter (the `lambda_{l,c}` of the paper's eq. 45).

    >>> import numpy as np
    >>> k = np.full((3, 3, 1, 2), 2.0, "float32")
    >>> round(float(conv_entropy_penalty(k, lam=0.5, output_positions=10, stabilized=False)), 4)  # -0.5 * 20 log 2
    -6.9315
    >>> round(float(conv_entropy_penalty(k, lam=0.5, output_positions=10, epsilon=0.0)), 4)  # 0.5 * 20 / 2
    5.0

    Args:
        kernel: a rank-4 Conv2D kernel `(p, q, c_in, c_out)`.
        lam: the strength, a scalar or broadcasting to `(c_in, c_out)`
            (default 1.0); the exact penalty is `lam` times an entropy in
            nats.
        output_positions: `N_out`, the number of output positions (default 1).
        stabilized: the stabilized surrogate (default True) or the exact form.
        epsilon: the surrogate's `eps` (default `DEFAULT_EPSILON`, 1e-3).

    Returns:
        A float32 scalar.
    """
    lam = as_float32(lam)
    n_out = ops.cast(output_positions, "float32")
    c11 = as_float32(kernel)[0, 0, :, :]
    if stabilized:
        per_filter = entropy_surrogate(c11, epsilon=epsilon)
    else:
        per_filter = -ops.log(ops.abs(c11))
    return n_out * ops.sum(lam * per_filter)


@keyword_only("rho", "beta", "delta", "batch_mean")
def kl_sparsity_penalty(activations, *, rho=0.05, beta=1.0, delta=1e-6, batch_mean=None):
    r"""KL sparsity penalty of sigmoid activations (MATH.md section 7).

    $$
    P = \beta \sum_j \Bigl[\rho \log\frac{\rho}{\hat{\rho}_j}
    + (1 - \rho) \log\frac{1 - \rho}{1 - \hat{\rho}_j}\Bigr]
    $$

    `rho_hat_j` is the batch mean of unit `j` (all axes but the last are
    averaged), clipped into `(delta, 1 - delta)` so that dead or saturated
    units give finite values and gradients:

        P = beta * sum_j [rho log(rho / rho_hat_j)
                          + (1 - rho) log((1 - rho) / (1 - rho_hat_j))]

    >>> import numpy as np
    >>> a = np.array([[0.1, 0.5], [0.1, 0.5]], "float32")  # rho_hat = (0.1, 0.5)
    >>> round(float(kl_sparsity_penalty(a, rho=0.1, beta=2.0)), 4)  # 2 (0 + 0.1 log 0.2 + 0.9 log 1.8)
    0.7361

    Args:
        activations: sigmoid activations, `(..., n)`; every axis but the
            last is a batch axis.
        rho: target mean activation, in (0, 1) (default 0.05).
        beta: strength (default 1.0); `P` is `beta` times a KL divergence
            in nats.
        delta: clipping margin of `rho_hat` (default 1e-6).
        batch_mean: how "the batch" is averaged: a function mapping a
            `(samples, n)` float32 tensor to its `(n,)` mean over the
            samples. The default (None) is the mean over `activations` itself;
            `keras_entropy.distribution.global_batch_mean` makes it the mean
            over the global batch of all replicas. It is called once, on
            `activations` reshaped to `(-1, n)`.

    Returns:
        A float32 scalar, in nats (times `beta`).
    """
    a = as_float32(activations)
    if batch_mean is None:
        axes = tuple(range(len(a.shape) - 1))
        rho_hat = ops.mean(a, axis=axes)
    else:
        rho_hat = batch_mean(ops.reshape(a, (-1, a.shape[-1])))
    rho_hat = ops.clip(rho_hat, delta, 1.0 - delta)
    kl = rho * ops.log(rho / rho_hat) + (1.0 - rho) * ops.log((1.0 - rho) / (1.0 - rho_hat))
    return beta * ops.sum(kl)


@keyword_only("beta", "axis")
def softmax_entropy(x, *, beta=1.0, axis=-1):
    r"""Entropy `H(q)` of `q = softmax(-beta x)` along `axis` (MATH.md section 5).

    $$
    H(q) = -\sum_i q_i \log q_i, \qquad q_i = \frac{\exp(-\beta x_i)}{\sum_j \exp(-\beta x_j)}
    $$

    `H(q) = -sum_i q_i log q_i`; `log q` comes from log-sum-exp, so inputs of
    magnitude 1e4 stay finite.

    >>> import numpy as np
    >>> x = np.array([[0.0, 0.0], [0.0, 20.0]], "float32")
    >>> np.round(np.asarray(softmax_entropy(x, beta=1.0), "float64"), 4).tolist()  # log 2, ~20 exp(-20)
    [0.6931, 0.0]

    Args:
        x: a tensor.
        beta: the inverse temperature (default 1.0).
        axis: the axis of the distribution (default -1).

    Returns:
        A float32 tensor, in nats: `x`'s shape without `axis`.
    """
    logits = -beta * as_float32(x)
    log_q = logits - ops.logsumexp(logits, axis=axis, keepdims=True)
    return -ops.sum(ops.exp(log_q) * log_q, axis=axis)


@keyword_only("beta", "balance", "batch_mean")
def softmax_entropy_clustering_loss(x, *, beta=1.0, balance=1.0, batch_mean=None):
    r"""Unsupervised clustering loss of seed 000 (MATH.md section 5).

    $$
    L = \operatorname*{mean}_{\text{batch}} H(q) + \mathrm{balance} \cdot \bigl(\log N - H(\langle q\rangle)\bigr),
    \qquad q = \operatorname{softmax}(-\beta x), \quad H(q) = -\sum_i q_i \log q_i
    $$

    `L = mean_batch H(q) + balance * (log N - H(<q>))` where `q` is the
    softmax of `-beta x` over the last axis (`N` units) and `<q>` the batch
    mean distribution. The second term is the KL divergence of `<q>` from the
    uniform distribution; it keeps the network from putting every input in one
    cluster.

    >>> import numpy as np
    >>> x = np.array([[0.0, 1e4], [1e4, 0.0]], "float32")  # two sure, balanced clusters
    >>> round(float(softmax_entropy_clustering_loss(x, beta=1.0, balance=1.0)), 4)
    0.0
    >>> round(float(softmax_entropy_clustering_loss(x[:1], beta=1.0, balance=0.5)), 4)  # 0.5 log 2
    0.3466

    Args:
        x: outputs, `(..., N)`; every axis but the last is a batch axis.
        beta: inverse temperature (default 1.0), in the inverse units of
            `x`.
        balance: weight of the uniform-marginal term (default 1.0).
        batch_mean: how "the batch" is averaged: a function mapping a
            `(samples, features)` float32 tensor to its `(features,)` mean
            over the samples. The default (None) is the mean over the samples of
            `x` itself; `keras_entropy.distribution.global_batch_mean` makes
            it the mean over the global batch of all replicas. It is called
            once, on the per-sample entropies and distributions side by side.

    Returns:
        A float32 scalar, in nats.
    """
    logits = -beta * as_float32(x)
    log_q = logits - ops.logsumexp(logits, axis=-1, keepdims=True)
    q = ops.exp(log_q)
    n = q.shape[-1]
    entropy = -ops.sum(q * log_q, axis=-1, keepdims=True)
    per_sample = ops.reshape(ops.concatenate([q, entropy], axis=-1), (-1, n + 1))
    if batch_mean is None:
        means = ops.mean(per_sample, axis=0)
    else:
        means = batch_mean(per_sample)
    q_bar, mean_entropy = means[:n], means[n]
    marginal_entropy = -ops.sum(q_bar * ops.log(ops.maximum(q_bar, 1e-30)))
    return mean_entropy + balance * (math.log(n) - marginal_entropy)

"""The volume forms of the entropy change (MATH.md sections 8-10, beyond the paper).

The paper's forms (`entropy.py`) see one block of the kernel: `K[:k, :k]`
(dense) or `K[0, 0]` (conv). The volume forms use every weight: the sum of
the log singular values of the whole linear map, exact and stabilized, raw
and normalized (scale-free). Same conventions as `keras_entropy.ops`: float32
inside whatever the input dtype, `keras.ops` only, and no `det`/`slogdet`
(no XLA kernel in TensorFlow): exact values come from QR, stabilized factors
from the Cholesky factor of a jittered Gram matrix.

Convolutions use real arithmetic only (Keras has no complex Cholesky): the
transfer matrices `P(u, v) = A + iB` come from constant cos/sin tables (numpy
constants of the shape, built at trace time) and enter QR and Cholesky
through the real embedding `[[A, -B], [B, A]]` of MATH.md section 9.
"""

import math

import numpy as np
from keras import ops

from keras_entropy import validation
from keras_entropy.ops._deprecation import keyword_only
from keras_entropy.ops.entropy import (
    DEFAULT_EPSILON,
    FLOAT32_EPS,
    as_float32,
    entropy_surrogate,
    gram_cholesky_factors,
)

#: The `form` of the volume functions; `"paper"` is the functions of `entropy.py`.
VOLUME_FORMS = ("volume", "normalized")


def _is_normalized(form):
    """True for `form="normalized"`, False for `"volume"`; a `ValueError` otherwise."""
    if form == "paper":
        raise ValueError(
            "The volume functions compute the forms 'volume' and 'normalized'; the paper form is "
            "`dense_entropy_change` / `conv_entropy_change` and the `*_entropy_penalty` functions. "
            "Received: form='paper'"
        )
    return validation.validate_choice(form, "form", VOLUME_FORMS) == "normalized"


def _diag(x):
    return ops.diagonal(x, axis1=-2, axis2=-1)


def _scalar_lam(lam):
    shape = getattr(lam, "shape", None)
    shape = np.shape(lam) if shape is None else tuple(shape)
    if len(shape) != 0:
        raise ValueError(
            "The volume penalties take one strength for the whole kernel: `lam` must be "
            f"a scalar, got lam={lam!r} of shape {shape}."
        )
    return as_float32(lam)


def _tall(kernel):
    """The dense kernel as float32, transposed if needed so that rows >= columns."""
    kernel = as_float32(kernel)
    if len(kernel.shape) != 2:
        raise ValueError(f"A Dense kernel has rank 2, got shape {tuple(kernel.shape)}.")
    return kernel if kernel.shape[0] >= kernel.shape[1] else ops.transpose(kernel)


@keyword_only("normalized")
def dense_volume_change(kernel, *, form="volume"):
    r"""Log-volume of a dense kernel: `sum_j log sigma_j(K)` (MATH.md section 8).

    $$
    \Delta H_{\mathrm{vol}}(K) = \sum_{j=1}^{k} \log \sigma_j(K) = \frac{1}{2} \log\det G,
    \qquad
    \Delta H_{\mathrm{norm}}(K) = \frac{1}{2} \log\det G - \frac{k}{2} \log\frac{\operatorname{tr} G}{k} \le 0
    $$

    `dH_vol = 1/2 log det G`, `G = K^T K` if `n_in >= n_out` else `K K^T`
    (`k x k`, `k = min(n_in, n_out)`), computed as `sum_j log|r_jj|` over the
    QR factorisation of the whole `K` (or `K^T`): the `R` of `chol(G)` with
    the accuracy of QR, and `-inf` (no error) for a singular kernel.

    `form="normalized"` (MATH.md section 10): `1/2 log det G - k/2 log(tr G /
    k)`, `<= 0`, zero exactly for scaled isometries, invariant to scaling `K`.

    >>> import numpy as np
    >>> k = np.array([[2.0, 0.0], [0.0, 3.0], [0.0, 0.0]], "float32")
    >>> round(float(dense_volume_change(k)), 4)  # log 2 + log 3
    1.7918
    >>> round(float(dense_volume_change(k, form="normalized")), 4)  # log 6 - log 6.5
    -0.08

    Args:
        kernel: a `(n_in, n_out)` Dense kernel.
        form: `"volume"` (default) or `"normalized"`, as in `DenseEntropy`.

    Returns:
        A float32 scalar, in nats.
    """
    normalized = _is_normalized(form)
    x = _tall(kernel)
    _, r = ops.qr(x, mode="reduced")
    value = ops.sum(ops.log(ops.abs(_diag(r))))
    if normalized:
        k = x.shape[1]
        value = value - 0.5 * k * ops.log(ops.sum(ops.square(x)) / k)
    return value


@keyword_only("epsilon")
def dense_volume_factors(kernel, *, epsilon=DEFAULT_EPSILON):
    r"""The `k` factors of the stabilized dense volume penalty (MATH.md section 8).

    $$
    r_j = \bigl(\operatorname{chol}(G + \delta I)\bigr)_{jj},
    \qquad \delta = \epsilon^2 + k\, \epsilon_{\mathrm{f32}} \lVert G\rVert_F
    $$

    `r_j = diag(chol(G + delta I))`, `G = K^T K` (or `K K^T`), the jitter
    `delta = epsilon**2 + k * float32_eps * ||G||_F` of `factor_jitter`
    (no gradient through it): the `|r_jj|` of the QR factorisation of all of
    `K` stacked on `sqrt(delta) I`. Finite, with a finite gradient, for zero
    and rank-deficient kernels; their product is `sqrt(det(G + delta I))`.

    >>> import numpy as np
    >>> k = np.array([[2.0, 0.0], [0.0, 3.0], [0.0, 0.0]], "float32")
    >>> np.round(np.asarray(dense_volume_factors(k)), 4).tolist()
    [2.0, 3.0]

    Args:
        kernel: a `(n_in, n_out)` Dense kernel.
        epsilon: the floor of the jitter (default `DEFAULT_EPSILON`, 1e-3).

    Returns:
        A float32 vector of shape `(k,)`, every entry >= `sqrt(delta)` > 0.
    """
    return gram_cholesky_factors(_tall(kernel), epsilon=epsilon)


@keyword_only("lam", "stabilized", "normalized", "epsilon")
def dense_volume_penalty(kernel, *, lam=1.0, stabilized=True, epsilon=DEFAULT_EPSILON, form="volume"):
    r"""Volume penalty of a dense kernel (MATH.md sections 8 and 10).

    $$
    P_{\mathrm{exact}} = -\lambda\, \Delta H, \qquad
    P_{\mathrm{stabilized}} = \lambda \sum_{j=1}^{k} \frac{1}{\lvert r_j\rvert + \epsilon}, \qquad
    P_{\mathrm{stabilized}}^{\mathrm{norm}} = \lambda \sum_{j=1}^{k}
    \Bigl(\frac{1}{\lvert n_j\rvert + \epsilon} - \frac{1}{1 + \epsilon}\Bigr)
    $$

    with `dH` the `dense_volume_change` of `form`, `r_j` the
    `dense_volume_factors` and `n_j` their scale-free version (below).

    Exact: `-lam * dense_volume_change(kernel, form=form)`; normalized, it is
    `>= 0` (for `lam > 0`) and zero exactly at a scaled isometry.
    Stabilized: `lam * sum_j s_eps(r_j)` over `dense_volume_factors` (section
    4 applied to all of `K`): positive, tending to 0 only as the factors grow
    (no minimum is reached, so there is no constant floor to take away).
    Normalized stabilized: `lam * sum_j (s_eps(n_j) - 1 / (1 + eps))` over the
    scale-free factors `n_j = r_j / sqrt(tr(G + delta I) / k)` (at most
    `sqrt(k)`): the surrogate less its minimum `lam k / (1 + eps)`, reached
    where every `n_j = 1`, i.e. at a scaled isometry, so the value is `>= 0`
    and zero there (MATH.md section 10). The constant changes no gradient.

    >>> import numpy as np
    >>> k = np.array([[2.0, 0.0], [0.0, 3.0], [0.0, 0.0]], "float32")
    >>> round(float(dense_volume_penalty(k, lam=1.0, stabilized=False)), 4)
    -1.7918
    >>> round(float(dense_volume_penalty(k, lam=1.0, epsilon=0.0)), 4)  # 1/2 + 1/3
    0.8333
    >>> abs(float(dense_volume_penalty(3.0 * np.eye(3, 2, dtype="float32"), form="normalized"))) < 1e-6
    True

    Args:
        kernel: a `(n_in, n_out)` Dense kernel.
        lam: a scalar strength (per-factor strengths are not defined here;
            default 1.0); the exact penalty is `lam` times an entropy in
            nats.
        stabilized: the stabilized surrogate (default True) or the exact form.
        epsilon: the surrogate's `eps` (default `DEFAULT_EPSILON`, 1e-3).
        form: `"volume"` (default) or `"normalized"`, as in `DenseEntropy`.

    Returns:
        A float32 scalar.
    """
    lam = _scalar_lam(lam)
    normalized = _is_normalized(form)
    if not stabilized:
        return -lam * dense_volume_change(kernel, form=form)
    factors, trace = gram_cholesky_factors(_tall(kernel), epsilon=epsilon, with_trace=True)
    return lam * ops.sum(_surrogate(factors, epsilon, trace if normalized else None))


def _check_grid(grid):
    try:
        h, w = (int(g) for g in grid)
        ok = (h, w) == tuple(grid) and h > 0 and w > 0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"`grid` must be two positive integers (height, width), got grid={grid!r}.")
    return h, w


def _transfer(kernel, grid):
    """Real and imaginary parts of `P(u, v)` on half the frequencies, and their weights.

    Rows are `(u, v)` for `u < h`, `v <= w // 2` (`P(-u, -v) = conj P(u, v)`
    has the same singular values); the weight of a row is how many of the
    `h w` frequencies it stands for (1 for `v = 0` and `v = w / 2`, else 2).
    Along an axis where the kernel has one tap (`p = 1` or `q = 1`), `P` is
    the same at every frequency of that axis: one row (`u = 0` or `v = 0`)
    with its weight times `h` (or `w`) stands for them all, so a 1x1
    kernel is one `c_in x c_out` matrix of weight `h w`.
    Returns `A, B` of shape `(F, m, k)` with `m >= k` (`P` or `P^T`) and the
    `(F,)` weights, summing to `h w`.
    """
    kernel = as_float32(kernel)
    if len(kernel.shape) != 4:
        raise ValueError(f"A Conv2D kernel has rank 4, got shape {tuple(kernel.shape)}.")
    h, w = _check_grid(grid)
    p, q, c_in, c_out = kernel.shape
    # Along an axis where the kernel has one tap, P does not change with that frequency: one row
    # stands for all of them (its weight counts them), so a 1x1 kernel needs one factorisation.
    rows_u = np.arange(h) if p > 1 else np.zeros(1, "int64")
    rows_v = np.arange(w // 2 + 1) if q > 1 else np.zeros(1, "int64")
    u = rows_u[:, None, None, None]
    v = rows_v[None, :, None, None]
    a = np.arange(p)[None, None, :, None]
    b = np.arange(q)[None, None, None, :]
    # Exact integer phases mod h and w, then float64 angles: no large arguments.
    theta = 2.0 * math.pi * ((u * a % h) / h + (v * b % w) / w)
    theta = theta.reshape(len(rows_u) * len(rows_v), p * q)
    cos = ops.convert_to_tensor(np.cos(theta).astype("float32"))
    sin = ops.convert_to_tensor(np.sin(theta).astype("float32"))
    flat = ops.reshape(kernel, (p * q, c_in * c_out))
    real = ops.reshape(ops.matmul(cos, flat), (-1, c_in, c_out))
    imag = ops.reshape(-ops.matmul(sin, flat), (-1, c_in, c_out))
    if c_in < c_out:
        real, imag = ops.transpose(real, (0, 2, 1)), ops.transpose(imag, (0, 2, 1))
    weights_v = np.where((rows_v == 0) | (2 * rows_v == w), 1.0, 2.0) if q > 1 else np.array([float(w)])
    weights_u = np.ones(h) if p > 1 else np.array([float(h)])
    weights = ops.convert_to_tensor(np.outer(weights_u, weights_v).reshape(-1).astype("float32"))
    return real, imag, weights


def _embed(real, imag):
    """Interleaved real embedding of complex `(..., m, n)` as `(..., 2m, 2n)`.

    Each entry `a + ib` becomes the block `[[a, -b], [b, a]]`.
    """
    rows = [ops.stack([real, -imag], axis=-1), ops.stack([imag, real], axis=-1)]
    embedded = ops.stack(rows, axis=-3)  # (..., m, 2, n, 2)
    m, n = real.shape[-2], real.shape[-1]
    return ops.reshape(embedded, (-1, 2 * m, 2 * n))


def _surrogate(factors, epsilon, mean_trace=None):
    """`s_eps` of the stabilized factors `(..., k)`, term by term.

    With `mean_trace`, the mean `tr(G + delta I)` of the normalized forms
    (MATH.md section 10): `s_eps(n_j) - 1 / (1 + eps)` of the scale-free
    factors `n_j = r_j / sqrt(mean_trace / k)`, the surrogate less its
    minimum, taken away term by term (no cancellation of two sums near `k`).
    """
    if mean_trace is None:
        return entropy_surrogate(factors, epsilon=epsilon)
    k = factors.shape[-1]
    scaled = factors / ops.sqrt(mean_trace / k)
    return entropy_surrogate(scaled, epsilon=epsilon) - 1.0 / (1.0 + epsilon)


def _mean_energy(real, imag, weights, h, w):
    """`mean_{u,v} ||P(u, v)||_F^2`: `||K||_F^2` when the grid covers the kernel (Parseval)."""
    per_freq = ops.sum(ops.square(real) + ops.square(imag), axis=(1, 2))
    return ops.sum(weights * per_freq) / (h * w)


@keyword_only("grid", "normalized")
def conv_volume_change(kernel, *, form="volume", grid):
    r"""Log-volume of a Conv2D kernel on a circular `h x w` grid (MATH.md section 9).

    $$
    \Delta H_{\mathrm{conv,vol}} = \sum_{u<h,\, v<w} \sum_{j=1}^{k} \log \sigma_j\bigl(P(u, v)\bigr),
    \qquad
    P(u, v) = \sum_{a,b} K[a, b]\, e^{-2\pi i (u a / h + v b / w)}
    $$

    `dH_conv_vol = sum_{u<h, v<w} sum_{j<=k} log sigma_j(P(u, v))`,
    `P(u, v) = sum_{a,b} K[a, b] exp(-2 pi i (u a / h + v b / w))`, `k =
    min(c_in, c_out)`: the sum of the log singular values of the
    circular-convolution operator, any `c_in`, `c_out`. Computed on half the
    frequencies (rfft symmetry), each `log|det|` as `sum log|r_jj|` of the QR
    of the real embedding of `P` (every singular value twice).

    A grid smaller than the kernel is allowed: the formula is the wrap-around
    operator (taps that wrap add up), i.e. the transfer function sampled on
    the coarse grid.

    `form="normalized"` (MATH.md section 10): `dH_conv_vol - (h w k / 2) log(E / k)`,
    `E = mean_{u,v} ||P(u, v)||_F^2`, which is `||K||_F^2` (Parseval) when
    `h >= p` and `w >= q`, and the folded kernel's energy otherwise, so the
    value is always `<= 0` and scale-free.

    >>> import numpy as np
    >>> k = np.full((1, 1, 1, 1), 2.0, "float32")  # h w log|c11|
    >>> round(float(conv_volume_change(k, grid=(4, 5))), 4)  # 20 log 2
    13.8629
    >>> round(float(conv_volume_change(k, form="normalized", grid=(4, 5))), 4)  # a scaled isometry
    0.0

    Args:
        kernel: a `(p, q, c_in, c_out)` Conv2D kernel.
        form: `"volume"` (default) or `"normalized"`, as in `ConvEntropy`.
        grid: `(h, w)`, the frequency grid (the layer's output size makes it
            exact for a circularly padded layer). Required.

    Returns:
        A float32 scalar, in nats. `-inf` where some `P(u, v)` is singular.
    """
    normalized = _is_normalized(form)
    real, imag, weights = _transfer(kernel, grid)
    _, r = ops.qr(_embed(real, imag), mode="reduced")
    per_freq = 0.5 * ops.sum(ops.log(ops.abs(_diag(r))), axis=-1)
    value = ops.sum(weights * per_freq)
    if normalized:
        h, w = _check_grid(grid)
        k = real.shape[-1]
        value = value - 0.5 * h * w * k * ops.log(_mean_energy(real, imag, weights, h, w) / k)
    return value


@keyword_only("grid", "output_positions", "lam", "stabilized", "normalized", "epsilon")
def conv_volume_penalty(
    kernel,
    *,
    lam=1.0,
    output_positions=1,
    stabilized=True,
    epsilon=DEFAULT_EPSILON,
    form="volume",
    grid,
):
    r"""Volume penalty of a Conv2D kernel (MATH.md sections 9 and 10).

    $$
    P_{\mathrm{exact}} = -\lambda\, \frac{N_{\mathrm{out}}}{h w}\, \Delta H, \qquad
    P_{\mathrm{stabilized}} = \lambda N_{\mathrm{out}} \operatorname*{mean}_{u,v}
    \sum_{j=1}^{k} \frac{1}{\lvert r_j(u, v)\rvert + \epsilon}
    $$

    with `dH` the `conv_volume_change` of `form`; the normalized
    stabilized form takes the scale-free `n_j(u, v)` in place of `r_j(u, v)`
    and subtracts `1 / (1 + eps)` from each term (below).

    `output_positions` (`N_out`) times the per-position mean over the grid's
    `h w` frequencies, as `conv_entropy_penalty` counts `N_out` times the
    per-filter value. With `grid` the output size and `N_out = h w` it is the
    whole operator's.

    Exact: `-lam * N_out * conv_volume_change(kernel, form=form, grid=grid) / (h w)`.
    Stabilized: `lam * N_out * mean_{u,v} sum_j s_eps(r_j(u, v))` with `r_j(u, v)`
    the diagonal of the complex Cholesky factor of `G(u, v) + delta I`
    (`G = P^H P` or `P P^H`; each appears twice on the diagonal of the real
    Cholesky factor of the interleaved embedding), `delta = epsilon**2 + 2k *
    float32_eps * ||G||_F` per frequency, no gradient through it: positive,
    tending to 0 only as the factors grow (no constant floor). Normalized:
    over `n_j(u, v) = r_j(u, v) / sqrt(mean_{u,v} tr(G + delta I) / k)`,
    scale-free, less the minimum: `lam * N_out * mean_{u,v} sum_j (s_eps(n_j(u,
    v)) - 1 / (1 + eps))`, `>= 0` and zero exactly when every `P(u, v)` is the
    same scaled isometry (MATH.md section 10; the constant changes no
    gradient). The exact normalized penalty is `>= 0` and zero there too.

    >>> import numpy as np
    >>> k = np.full((1, 1, 1, 1), 2.0, "float32")
    >>> round(float(conv_volume_penalty(k, output_positions=20, stabilized=False, grid=(4, 5))), 4)
    -13.8629
    >>> round(float(conv_volume_penalty(k, output_positions=20, epsilon=0.0, grid=(4, 5))), 4)  # 20 / 2
    10.0
    >>> abs(float(conv_volume_penalty(k, output_positions=20, form="normalized", grid=(4, 5)))) < 1e-5  # an isometry
    True

    Args:
        kernel: a `(p, q, c_in, c_out)` Conv2D kernel.
        lam: a scalar strength (per-filter strengths are not defined here;
            default 1.0); the exact penalty is `lam` times an entropy in
            nats.
        output_positions: `N_out`, the number of output positions (default 1).
        stabilized: the stabilized surrogate (default True) or the exact form.
        epsilon: the surrogate's `eps` (default `DEFAULT_EPSILON`, 1e-3).
        form: `"volume"` (default) or `"normalized"`, as in `ConvEntropy`.
        grid: `(h, w)`, the frequency grid (see `conv_volume_change`).
            Required.

    Returns:
        A float32 scalar.
    """
    lam = _scalar_lam(lam)
    normalized = _is_normalized(form)
    h, w = _check_grid(grid)
    n_out = ops.cast(output_positions, "float32")
    if not stabilized:
        return -lam * n_out * conv_volume_change(kernel, form=form, grid=grid) / (h * w)
    real, imag, weights = _transfer(kernel, grid)
    k = real.shape[-1]
    ar, ai = ops.transpose(real, (0, 2, 1)), ops.transpose(imag, (0, 2, 1))
    gram_re = ops.matmul(ar, real) + ops.matmul(ai, imag)  # X^H X = A^T A + B^T B
    gram_im = ops.matmul(ar, imag) - ops.matmul(ai, real)  #       + i (A^T B - B^T A)
    gram = _embed(gram_re, gram_im)  # (F, 2k, 2k), symmetric
    norm = ops.sqrt(ops.sum(ops.square(gram), axis=(1, 2)) / 2.0)  # ||G||_F
    delta = ops.stop_gradient(epsilon**2 + 2 * k * FLOAT32_EPS * norm)
    chol = ops.cholesky(gram + delta[:, None, None] * ops.eye(2 * k, dtype="float32"))
    factors = _diag(chol)[:, ::2]  # (F, k)
    mean_trace = None
    if normalized:  # mean_{u,v} tr(G(u, v) + delta I)
        mean_trace = ops.sum(weights * (ops.sum(_diag(gram_re), axis=-1) + k * delta)) / (h * w)
    per_freq = ops.sum(_surrogate(factors, epsilon, mean_trace), axis=-1)
    return lam * n_out * ops.sum(weights * per_freq) / (h * w)

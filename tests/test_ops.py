"""The formulas of keras_entropy.ops against MATH.md, with numpy oracles."""

import numpy as np
import pytest

from helpers import to_numpy, value_and_grad
from keras_entropy import ops as E

pytestmark = pytest.mark.every_backend


def glorot(rng, shape):
    fan_in, fan_out = shape[0], shape[1]
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype("float32")


# --- MATH.md section 1: dense ------------------------------------------------


@pytest.mark.parametrize("shape", [(784, 20), (20, 784), (64, 64)])
def test_dense_exact_penalty_equals_minus_slogdet(rng, shape):
    kernel = glorot(rng, shape)
    k = min(shape)
    _, logabsdet = np.linalg.slogdet(kernel[:k, :k].astype("float64"))
    change = to_numpy(E.dense_entropy_change(kernel))
    penalty = to_numpy(E.dense_entropy_penalty(kernel, lam=1.0, stabilized=False))
    np.testing.assert_allclose(change, logabsdet, rtol=1e-4)
    np.testing.assert_allclose(penalty, -logabsdet, rtol=1e-4)


def test_dense_exact_form_does_not_underflow_on_glorot_784x260(rng):
    kernel = glorot(rng, (784, 260))
    assert np.linalg.det(kernel[:260, :260]) == 0.0  # det underflows in float32
    _, expected = np.linalg.slogdet(kernel[:260, :260].astype("float64"))
    assert expected < -150
    value, grad = value_and_grad(lambda k: E.dense_entropy_penalty(k, lam=1.0, stabilized=False), kernel)
    np.testing.assert_allclose(value, -expected, rtol=1e-4)
    assert np.all(np.isfinite(grad))


def _well_conditioned(rng, k):
    """A `k x k` matrix with singular values in [0.5, 2]: cond <= 4."""
    q1, _ = np.linalg.qr(rng.normal(size=(k, k)))
    q2, _ = np.linalg.qr(rng.normal(size=(k, k)))
    return (q1 * rng.uniform(0.5, 2.0, size=k)) @ q2.T


@pytest.mark.parametrize("k", [5, 64, 260])
def test_dense_exact_value_and_gradient_equal_backend_slogdet(rng, k):
    """The XLA-safe QR route equals the backend's own `slogdet` to 1e-5.

    Value: `log|det S|`; gradient: `d log|det S| / dS = S^{-T}`, both compared
    with `keras.ops.slogdet` differentiated by the backend's autodiff.
    """
    from keras import ops

    s = _well_conditioned(rng, k).astype("float32")
    value, grad = value_and_grad(E.dense_entropy_change, s)
    ref_value, ref_grad = value_and_grad(lambda x: ops.slogdet(x)[1], s)
    np.testing.assert_allclose(value, ref_value, rtol=1e-5, atol=1e-5)
    # Both are float32 routes to S^-T (QR and LU): their rounding grows like
    # sqrt(k) * cond(S) * eps32 relative to the largest entry.
    atol = 2e-6 * np.sqrt(k) * np.abs(ref_grad).max()
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-5, atol=atol)
    np.testing.assert_allclose(grad, np.linalg.inv(s.astype("float64")).T, rtol=1e-4, atol=1e-5)


def test_dense_exact_route_is_finite_where_slogdet_is_and_minus_inf_where_singular(rng):
    from keras import ops

    kernel = glorot(rng, (784, 260))
    value, grad = value_and_grad(lambda k: E.dense_entropy_penalty(k, lam=1.0, stabilized=False), kernel)
    ref = to_numpy(ops.slogdet(kernel[:260, :260])[1])
    assert np.isfinite(ref) and np.isfinite(value) and np.all(np.isfinite(grad))
    np.testing.assert_allclose(value, -ref, rtol=1e-5)
    singular = kernel[:260, :260].copy()
    singular[:, 7] = 0.0
    assert to_numpy(E.dense_entropy_change(singular)) == -np.inf
    assert to_numpy(ops.slogdet(singular)[1]) == -np.inf


def test_dense_exact_per_factor_lam_uses_exact_qr_factors(rng):
    kernel = glorot(rng, (100, 40))
    lam = rng.uniform(0.1, 2.0, size=40).astype("float32")
    r = np.abs(np.diag(np.linalg.qr(kernel[:40, :40].astype("float64"), mode="r")))
    np.testing.assert_allclose(
        to_numpy(E.dense_entropy_penalty(kernel, lam=lam, stabilized=False)),
        -np.sum(lam * np.log(r)),
        rtol=1e-5,
    )
    np.testing.assert_allclose(to_numpy(E.qr_factors(kernel[:40, :40])), r, rtol=1e-4)


def test_dense_factors_are_qr_diagonal_of_jittered_square_part(rng):
    kernel = glorot(rng, (100, 40))
    s = kernel[:40, :40].astype("float64")
    delta = float(to_numpy(E.factor_jitter(to_numpy(s.T @ s).astype("float32"))))
    stacked = np.concatenate([s, np.sqrt(delta) * np.eye(40)])
    r_jittered = np.abs(np.diag(np.linalg.qr(stacked, mode="r")))
    r_plain = np.abs(np.diag(np.linalg.qr(s, mode="r")))
    factors = to_numpy(E.dense_entropy_factors(kernel))
    np.testing.assert_allclose(factors, r_jittered, rtol=1e-3)
    np.testing.assert_allclose(factors, r_plain, rtol=1e-2)
    # Their product is |det S|: the log-sum matches slogdet.
    np.testing.assert_allclose(np.sum(np.log(factors)), to_numpy(E.dense_entropy_change(kernel)), rtol=1e-3)


# --- MATH.md section 2: convolution as a matrix ---------------------------------


def conv_matrix(filt, height, width, stride):
    """Matrix of a single-channel 'valid' cross-correlation on a flattened image."""
    p, q = filt.shape
    rows, leading = [], []
    for i in range(0, height - p + 1, stride):
        for j in range(0, width - q + 1, stride):
            row = np.zeros(height * width)
            for a in range(p):
                for b in range(q):
                    row[(i + a) * width + (j + b)] = filt[a, b]
            rows.append(row)
            leading.append(i * width + j)
    return np.array(rows), leading


def squared_up(matrix, leading, size):
    """The paper's squaring-up: identity rows for inputs that lead no output."""
    square = np.eye(size)
    for row, lead in zip(matrix, leading):
        square[lead] = row
    return square


@pytest.mark.parametrize("stride", [1, 2])
def test_conv_entropy_change_equals_logdet_of_squared_up_conv_matrix(rng, stride):
    height, width, p, q = 9, 8, 3, 2
    filt = rng.normal(size=(p, q))
    matrix, leading = conv_matrix(filt, height, width, stride)
    n_out = len(leading)
    assert n_out == ((height - p) // stride + 1) * ((width - q) // stride + 1)
    square = squared_up(matrix, leading, height * width)
    assert np.allclose(square, np.triu(square))  # triangular, c11 on the diagonal
    _, logdet = np.linalg.slogdet(square)
    kernel = filt.reshape(p, q, 1, 1).astype("float32")
    change = to_numpy(E.conv_entropy_change(kernel, output_positions=n_out))
    assert change.shape == (1, 1)
    np.testing.assert_allclose(change.sum(), logdet, rtol=1e-4)


def test_conv_entropy_change_multichannel(rng):
    kernel = rng.normal(size=(3, 3, 4, 5)).astype("float32")
    change = to_numpy(E.conv_entropy_change(kernel, output_positions=30 * 30))
    np.testing.assert_allclose(change, 900 * np.log(np.abs(kernel[0, 0])), rtol=1e-5)
    exact = to_numpy(E.conv_entropy_penalty(kernel, lam=1.0, output_positions=900, stabilized=False))
    np.testing.assert_allclose(exact, -900 * np.sum(np.log(np.abs(kernel[0, 0]))), rtol=1e-4)


def test_conv_penalty_per_filter_lam(rng):
    kernel = rng.normal(size=(3, 3, 2, 3)).astype("float32")
    lam = np.array([0.0, 1.0, -2.0], "float32")
    got = to_numpy(E.conv_entropy_penalty(kernel, lam=lam, output_positions=4, stabilized=True, epsilon=1e-3))
    want = 4 * np.sum(lam / (np.abs(kernel[0, 0]) + 1e-3))
    np.testing.assert_allclose(got, want, rtol=1e-5)


# --- MATH.md section 4: the stabilized surrogate -------------------------------


def stabilized_kernels(rng):
    glorot_kernel = glorot(rng, (784, 260))
    low_rank = (rng.normal(size=(784, 100)) @ rng.normal(size=(100, 260)) * 0.01).astype("float32")
    return {
        "glorot": glorot_kernel,
        "rank_deficient": low_rank,
        "zero": np.zeros((784, 260), "float32"),
    }


@pytest.mark.parametrize("name", ["glorot", "rank_deficient", "zero"])
def test_stabilized_dense_penalty_finite_bounded_with_gradient(rng, name):
    kernel = stabilized_kernels(rng)[name]
    eps = 1e-3
    value, grad = value_and_grad(lambda k: E.dense_entropy_penalty(k, lam=1.0, stabilized=True, epsilon=eps), kernel)
    assert np.isfinite(value) and np.all(np.isfinite(grad))
    assert 0 < value <= 260 / eps
    if name != "zero":
        assert np.abs(grad).max() > 0


def test_stabilized_dense_penalty_on_rank_one_and_huge_kernels(rng):
    rank_one = np.outer(rng.normal(size=300), rng.normal(size=200)).astype("float32")
    for kernel in (rank_one, 1e3 * glorot(rng, (300, 200)), 1e-8 * glorot(rng, (300, 200))):
        value, grad = value_and_grad(lambda k: E.dense_entropy_penalty(k), kernel)
        assert np.isfinite(value) and np.all(np.isfinite(grad))
        assert 0 < value <= 200 / E.DEFAULT_EPSILON


def _autodiff_factors(x, *, epsilon, with_trace=False):
    """The route `gram_cholesky_factors` replaces: autodiff through Cholesky."""
    from keras import ops

    x = ops.convert_to_tensor(x)
    k = x.shape[1]
    gram = ops.matmul(ops.transpose(x), x)
    delta = ops.stop_gradient(E.factor_jitter(gram, epsilon=epsilon))
    r = ops.diagonal(ops.cholesky(gram + delta * ops.eye(k, dtype="float32")))
    return (r, ops.trace(gram) + k * delta) if with_trace else r


@pytest.mark.parametrize("shape", [(7, 7), (40, 12), (784, 26)])
def test_gram_cholesky_factors_closed_form_gradient_equals_autodiff(rng, shape):
    """Value and the closed-form gradient equal autodiff through Cholesky.

    The objective weighs every factor differently (and the trace), so a
    gradient that mixed up factors or dropped the trace term would fail.
    """
    from keras import ops

    x = glorot(rng, shape)
    weights = ops.convert_to_tensor(rng.uniform(0.5, 2.0, size=shape[1]).astype("float32"))

    def objective(route):
        def fn(k):
            r, trace = route(k, epsilon=1e-3, with_trace=True)
            return ops.sum(weights * E.entropy_surrogate(r)) + 0.3 * ops.log(trace)

        return fn

    value, grad = value_and_grad(objective(E.gram_cholesky_factors), x)
    ref_value, ref_grad = value_and_grad(objective(_autodiff_factors), x)
    np.testing.assert_allclose(value, ref_value, rtol=1e-5)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-3, atol=1e-4 * np.abs(ref_grad).max())
    # The factors are the QR diagonal of X stacked on sqrt(delta) I (numpy, float64),
    # to the accuracy of a float32 Gram: about eps32 * max(r)**2 / r_j absolute.
    x64 = x.astype("float64")
    gram = x64.T @ x64
    delta = 1e-3**2 + shape[1] * np.finfo("float32").eps * np.linalg.norm(gram)
    stacked = np.vstack([x64, np.sqrt(delta) * np.eye(shape[1])])
    np.testing.assert_allclose(
        to_numpy(E.gram_cholesky_factors(x)), np.abs(np.diag(np.linalg.qr(stacked)[1])), rtol=1e-4, atol=5e-5
    )


def test_gram_cholesky_factors_gradient_matches_finite_differences(rng):
    x = glorot(rng, (9, 4)).astype("float32")
    fn = lambda k: E.dense_entropy_penalty(k, lam=1.0, epsilon=0.1)  # noqa: E731
    _, grad = value_and_grad(fn, x)
    x64, h = x.astype("float64"), 1e-2
    numeric = np.zeros_like(x64)
    for idx in np.ndindex(*x.shape):
        plus, minus = x64.copy(), x64.copy()
        plus[idx] += h
        minus[idx] -= h
        numeric[idx] = (float(to_numpy(fn(plus.astype("float32")))) - float(to_numpy(fn(minus.astype("float32"))))) / (
            2 * h
        )
    np.testing.assert_allclose(grad, numeric, rtol=2e-2, atol=2e-2 * np.abs(numeric).max())


def test_stabilized_conv_penalty_finite_for_zero_filters(rng):
    kernel = np.zeros((3, 3, 3, 8), "float32")
    value, grad = value_and_grad(lambda k: E.conv_entropy_penalty(k, lam=1.0, output_positions=10), kernel)
    np.testing.assert_allclose(value, 10 * 24 / E.DEFAULT_EPSILON, rtol=1e-5)
    assert np.all(np.isfinite(grad))


def test_surrogate_matches_formula():
    x = np.array([-2.0, -1e-9, 0.0, 0.5, 3.0], "float32")
    np.testing.assert_allclose(to_numpy(E.entropy_surrogate(x, epsilon=0.1)), 1 / (np.abs(x) + 0.1), rtol=1e-6)


# --- MATH.md section 5: softmax entropy -----------------------------------------


def np_softmax_entropy(x, beta):
    z = -beta * x.astype("float64")
    z = z - z.max(axis=-1, keepdims=True)
    q = np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True)
    return -(q * np.log(q)).sum(axis=-1), q


def test_softmax_entropy_loss_balance_zero_is_mean_entropy(rng):
    x = rng.normal(size=(16, 10)).astype("float32")
    h, _ = np_softmax_entropy(x, 2.0)
    got = to_numpy(E.softmax_entropy_clustering_loss(x, beta=2.0, balance=0.0))
    np.testing.assert_allclose(got, h.mean(), rtol=1e-5)


def test_softmax_entropy_loss_balance_term_is_kl_from_uniform(rng):
    x = rng.normal(size=(16, 10)).astype("float32")
    h, q = np_softmax_entropy(x, 1.0)
    q_bar = q.mean(axis=0)
    want = h.mean() + 0.5 * (np.log(10) + np.sum(q_bar * np.log(q_bar)))
    got = to_numpy(E.softmax_entropy_clustering_loss(x, beta=1.0, balance=0.5))
    np.testing.assert_allclose(got, want, rtol=1e-5)


@pytest.mark.parametrize("beta", [0.5, 1.0, 3.0])
def test_softmax_entropy_gradient_matches_seed_000_eq_10(rng, beta):
    x = rng.normal(size=(4, 7)).astype("float32")
    _, grad = value_and_grad(lambda t: E.softmax_entropy_clustering_loss(t, beta=beta, balance=0.0), x)
    _, q = np_softmax_entropy(x, beta)
    eq10 = beta**2 * q * ((x * q).sum(axis=-1, keepdims=True) - x)
    np.testing.assert_allclose(grad, eq10 / len(x), rtol=1e-4, atol=1e-7)


def test_softmax_entropy_finite_for_huge_inputs(rng):
    x = (1e4 * rng.normal(size=(8, 10))).astype("float32")
    for balance in (0.0, 1.0):
        value, grad = value_and_grad(lambda t: E.softmax_entropy_clustering_loss(t, beta=1.0, balance=balance), x)
        assert np.isfinite(value) and np.all(np.isfinite(grad))


# --- MATH.md section 7: KL sparsity -------------------------------------------


def test_kl_sparsity_value_and_gradient(rng):
    a = rng.uniform(0.01, 0.99, size=(32, 12)).astype("float32")
    rho, beta = 0.05, 3.0
    value, grad = value_and_grad(lambda t: E.kl_sparsity_penalty(t, rho=rho, beta=beta), a)
    rho_hat = a.astype("float64").mean(axis=0)
    want = beta * np.sum(rho * np.log(rho / rho_hat) + (1 - rho) * np.log((1 - rho) / (1 - rho_hat)))
    np.testing.assert_allclose(value, want, rtol=1e-4)
    d_rho_hat = beta * (-rho / rho_hat + (1 - rho) / (1 - rho_hat))
    np.testing.assert_allclose(grad, np.broadcast_to(d_rho_hat / len(a), a.shape), rtol=1e-4)


def test_kl_sparsity_finite_for_dead_and_saturated_units():
    a = np.concatenate([np.zeros((8, 3)), np.ones((8, 3))], axis=1).astype("float32")
    value, grad = value_and_grad(lambda t: E.kl_sparsity_penalty(t, rho=0.05, beta=1.0), a)
    assert np.isfinite(value) and value > 0
    assert np.all(np.isfinite(grad))


# --- calling convention: keyword-only after the first argument, `form` as in the classes -------

#: The order of the shared keyword arguments: that of `DenseEntropy` and `ConvEntropy`.
SHARED_ORDER = ("lam", "output_positions", "stabilized", "epsilon", "form", "grid")


def _public_functions():
    return {name: getattr(E, name) for name in E.__all__ if callable(getattr(E, name))}


def test_every_public_function_is_keyword_only_after_the_first_argument():
    import inspect

    for name, fn in _public_functions().items():
        first, *rest = inspect.signature(fn).parameters.values()
        assert first.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD, name
        assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in rest), name
        shared = [p.name for p in rest if p.name in SHARED_ORDER]
        assert shared == sorted(shared, key=SHARED_ORDER.index), name
        assert "normalized" not in [p.name for p in rest], name
        if "form" in shared:
            assert inspect.signature(fn).parameters["form"].default == "volume", name


def _cases():
    """name: (first argument, old positional arguments, the same call by keyword)."""
    rng = np.random.default_rng(7)
    dense = rng.normal(size=(6, 4)).astype("float32")
    conv = (rng.normal(size=(2, 2, 3, 2)) / 2).astype("float32")
    acts = rng.uniform(0.01, 0.99, size=(5, 4)).astype("float32")
    return {
        "factor_jitter": (dense.T @ dense, (0.1,), {"epsilon": 0.1}),
        "gram_cholesky_factors": (dense, (0.1, True), {"epsilon": 0.1, "with_trace": True}),
        "dense_entropy_factors": (dense, (0.1,), {"epsilon": 0.1}),
        "conv_entropy_change": (conv, (9,), {"output_positions": 9}),
        "entropy_surrogate": (dense, (0.1,), {"epsilon": 0.1}),
        "dense_entropy_penalty": (dense, (0.5, True, 0.1), {"lam": 0.5, "stabilized": True, "epsilon": 0.1}),
        "conv_entropy_penalty": (
            conv,
            (0.5, 9, True, 0.1),
            {"lam": 0.5, "output_positions": 9, "stabilized": True, "epsilon": 0.1},
        ),
        "kl_sparsity_penalty": (acts, (0.1, 2.0, 1e-3), {"rho": 0.1, "beta": 2.0, "delta": 1e-3}),
        "softmax_entropy": (dense, (2.0, 0), {"beta": 2.0, "axis": 0}),
        "softmax_entropy_clustering_loss": (dense, (2.0, 0.3), {"beta": 2.0, "balance": 0.3}),
        "dense_volume_change": (dense, (True,), {"form": "normalized"}),
        "dense_volume_factors": (dense, (0.1,), {"epsilon": 0.1}),
        "dense_volume_penalty": (
            dense,
            (0.5, True, True, 0.1),
            {"lam": 0.5, "stabilized": True, "epsilon": 0.1, "form": "normalized"},
        ),
        "conv_volume_change": (conv, ((4, 5), True), {"form": "normalized", "grid": (4, 5)}),
        "conv_volume_penalty": (
            conv,
            ((4, 5), 9, 0.5, True, True, 0.1),
            dict(lam=0.5, output_positions=9, stabilized=True, epsilon=0.1, form="normalized", grid=(4, 5)),
        ),
    }


def _close(got, want, name):
    """Equal values; `(factors, trace)` pairs term by term."""
    got, want = (x if isinstance(x, tuple) else (x,) for x in (got, want))
    assert len(got) == len(want), name
    for g, w in zip(got, want):
        np.testing.assert_allclose(to_numpy(g), to_numpy(w), rtol=1e-6, err_msg=name)


def test_old_positional_calls_warn_and_equal_the_keyword_calls():
    import inspect
    import warnings

    cases = _cases()
    with_options = {n for n, f in _public_functions().items() if len(inspect.signature(f).parameters) > 1}
    assert set(cases) == with_options  # every function with options has its old spelling tested
    for name, (first, old, new) in cases.items():
        fn = getattr(E, name)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the new spelling warns of nothing
            want = fn(first, **new)
        with pytest.warns(DeprecationWarning, match=rf"keras_entropy\.ops\.{name}\(\).*by keyword") as record:
            got = fn(first, *old)
        assert len(record) == 1 and record[0].filename == __file__, name  # one warning, at the caller
        _close(got, want, name)


def test_old_normalized_keyword_warns_and_means_form():
    kernel = np.random.default_rng(8).normal(size=(5, 3)).astype("float32")
    conv = np.random.default_rng(9).normal(size=(2, 2, 2, 3)).astype("float32")
    for normalized, form in [(True, "normalized"), (False, "volume")]:
        calls = [
            (E.dense_volume_change, kernel, {}),
            (E.dense_volume_penalty, kernel, {"lam": 0.5}),
            (E.conv_volume_change, conv, {"grid": (3, 3)}),
            (E.conv_volume_penalty, conv, {"lam": 0.5, "output_positions": 9, "grid": (3, 3)}),
        ]
        for fn, first, kwargs in calls:
            want = fn(first, form=form, **kwargs)
            with pytest.warns(DeprecationWarning, match=f"`normalized={normalized}` is `form='{form}'`") as record:
                got = fn(first, normalized=normalized, **kwargs)
            assert len(record) == 1, fn.__name__
            _close(got, want, fn.__name__)
    # Old position and old keyword together: one warning that names both fixes.
    with pytest.warns(DeprecationWarning, match=r"lam=\.\.\..*`normalized=True` is `form='normalized'`") as record:
        got = E.dense_volume_penalty(kernel, 0.5, normalized=True)
    assert len(record) == 1
    _close(got, E.dense_volume_penalty(kernel, lam=0.5, form="normalized"), "mixed")


def test_bad_calls_raise():
    kernel = np.eye(3, 2, dtype="float32")
    with pytest.raises(TypeError, match="form"):
        E.dense_volume_change(kernel, form="normalized", normalized=True)
    with pytest.raises(TypeError, match="multiple values for argument 'lam'"):
        E.dense_volume_penalty(kernel, 0.5, lam=0.5)
    with pytest.raises(TypeError, match="by keyword"):
        E.dense_entropy_penalty(kernel, 1.0, True, 1e-3, "extra")
    for fn, kwargs in [(E.dense_volume_change, {}), (E.conv_volume_penalty, {"grid": (2, 2)})]:
        first = kernel if fn is E.dense_volume_change else kernel[None, None]
        with pytest.raises(ValueError, match="paper form is"):
            fn(first, form="paper", **kwargs)
        with pytest.raises(ValueError, match="Argument `form` must be one of 'volume', 'normalized'"):
            fn(first, form="log_volume", **kwargs)
    with pytest.raises(TypeError, match="grid"):
        E.conv_volume_change(kernel[None, None])  # grid is required

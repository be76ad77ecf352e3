"""The volume forms of keras_entropy.ops (MATH.md sections 8-10) against numpy oracles."""

import keras
import numpy as np
import pytest

from helpers import to_numpy, value_and_grad
from keras_entropy import ops as E

pytestmark = pytest.mark.every_backend

BACKEND = keras.backend.backend()
F32_EPS = float(np.finfo(np.float32).eps)

if BACKEND == "jax":
    # JAX compiles every primitive separately for each new shape when run eagerly; one
    # `jax.jit` per function and shape is several times cheaper and keeps this file fast.
    # `test_compiled_equals_eager_and_oracle` and the float16 test run the eager path.
    import types

    import jax

    def _jit(f, *static):
        return jax.jit(f, static_argnames=static)

    V = types.SimpleNamespace(
        dense_entropy_change=jax.jit(E.dense_entropy_change),
        dense_volume_change=_jit(E.dense_volume_change, "form"),
        dense_volume_factors=_jit(E.dense_volume_factors, "epsilon"),
        dense_volume_penalty=_jit(E.dense_volume_penalty, "lam", "stabilized", "epsilon", "form"),
        conv_volume_change=_jit(E.conv_volume_change, "form", "grid"),
        conv_volume_penalty=_jit(
            E.conv_volume_penalty, "lam", "output_positions", "stabilized", "epsilon", "form", "grid"
        ),
    )

    def vgrad(fn, x):
        value, grad = jax.jit(jax.value_and_grad(fn))(np.asarray(x, "float32"))
        return np.asarray(value), np.asarray(grad)
else:
    V, vgrad = E, value_and_grad


# --- numpy oracles (float64) ---------------------------------------------------------------


def np_dense_volume(kernel, normalized=False):
    s = np.linalg.svd(np.asarray(kernel, "float64"), compute_uv=False)
    return np_normalized(s) if normalized else np.sum(np.log(s))


def np_normalized(s):
    """`sum log s - n/2 log(sum s^2 / n)`: the normalized volume of any operator."""
    return np.sum(np.log(s)) - 0.5 * len(s) * np.log(np.sum(s**2) / len(s))


def circular_conv_matrix(kernel, h, w):
    """The `(h w c_out) x (h w c_in)` matrix of Keras's cross-correlation with wrap-around."""
    p, q, c_in, c_out = kernel.shape
    m = np.zeros((h, w, c_out, h, w, c_in))
    for i in range(h):
        for j in range(w):
            for a in range(p):
                for b in range(q):
                    m[i, j, :, (i + a) % h, (j + b) % w, :] += kernel[a, b].T
    return m.reshape(h * w * c_out, h * w * c_in)


def np_conv_singular_values(kernel, h, w):
    s = np.linalg.svd(circular_conv_matrix(np.asarray(kernel, "float64"), h, w), compute_uv=False)
    return s[: h * w * min(kernel.shape[2:])]  # the others are structural zeros


def np_conv_volume(kernel, h, w, normalized=False):
    s = np_conv_singular_values(kernel, h, w)
    return np_normalized(s) if normalized else np.sum(np.log(s))


def central_differences(f, x, step=1e-5):
    x = np.asarray(x, "float64")
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[index] += step
        minus[index] -= step
        grad[index] = (f(plus) - f(minus)) / (2 * step)
    return grad


def close(value, expected, rtol=1e-4, err_msg=""):
    np.testing.assert_allclose(to_numpy(value), expected, rtol=rtol, atol=1e-6, err_msg=err_msg)


DENSE_SHAPES = [(784, 260), (3, 7)] + [tuple(s) for s in np.random.default_rng(7).integers(1, 40, size=(4, 2))]
CONV_CASES = [
    ((3, 3, 2, 2), (5, 6)),
    ((3, 3, 3, 5), (6, 5)),
    ((2, 3, 4, 2), (5, 5)),
    ((3, 3, 2, 4), (6, 5)),
    ((3, 3, 2, 2), (2, 2)),
    ((3, 2, 2, 3), (2, 1)),
]
_r = np.random.default_rng(11)
CONV_CASES += [
    (
        (int(_r.integers(1, 4)), int(_r.integers(1, 4)), int(_r.integers(1, 5)), int(_r.integers(1, 5))),
        (int(_r.integers(1, 7)), int(_r.integers(1, 7))),
    )
    for _ in range(3)
]


# --- MATH.md section 8: dense ---------------------------------------------------------------


def test_dense_volume_equals_svd_oracle(rng):
    for shape in DENSE_SHAPES:
        kernel = (rng.normal(size=shape) / np.sqrt(shape[0])).astype("float32")
        s = np.linalg.svd(kernel.astype("float64"), compute_uv=False)
        close(V.dense_volume_change(kernel), np.sum(np.log(s)), err_msg=str(shape))
        close(V.dense_volume_change(kernel, form="normalized"), np_normalized(s), err_msg=f"{shape} normalized")


def test_dense_volume_square_kernel_is_paper_value_and_bounds_it(rng):
    square = rng.normal(size=(12, 12)).astype("float32")
    close(V.dense_volume_change(square), to_numpy(V.dense_entropy_change(square)), rtol=1e-5)
    for shape in [(30, 8), (8, 30)]:  # Cauchy-Binet: the paper's value is a lower bound
        kernel = (rng.normal(size=shape) / np.sqrt(shape[0])).astype("float32")
        volume = to_numpy(V.dense_volume_change(kernel))
        assert volume > to_numpy(V.dense_entropy_change(kernel)) + 1.0, shape
    glorot = rng.uniform(-1, 1, size=(784, 260)).astype("float32") * np.sqrt(6 / 1044)
    # About +28 (not the "+100" MATH.md section 8 states), the paper's value about -220.
    volume = to_numpy(V.dense_volume_change(glorot))
    np.testing.assert_allclose(volume, np_dense_volume(glorot), rtol=1e-4)
    assert 20 < volume < 40 and to_numpy(V.dense_entropy_change(glorot)) < -150


def test_dense_volume_permutation_invariant(rng):
    for shape in [(20, 6), (6, 20)]:
        kernel = rng.normal(size=shape).astype("float32")
        permuted = kernel[rng.permutation(shape[0])][:, rng.permutation(shape[1])]
        paper = to_numpy(V.dense_entropy_change(kernel))
        assert to_numpy(V.dense_entropy_change(permuted)) != pytest.approx(paper)
        for form in ("volume", "normalized"):
            expected = to_numpy(V.dense_volume_change(kernel, form=form))
            close(V.dense_volume_change(permuted, form=form), expected, 1e-5, f"{shape} form={form}")


def test_dense_normalized_is_scale_free_nonpositive_zero_on_isometries(rng):
    for shape in [(16, 5), (5, 16)]:
        kernel = rng.normal(size=shape).astype("float32")
        value = to_numpy(V.dense_volume_change(kernel, form="normalized"))
        raw = to_numpy(V.dense_volume_change(kernel))
        assert value < -0.1, shape
        for c in (1e-2, 3.0, 100.0):
            close(V.dense_volume_change(c * kernel, form="normalized"), value, 1e-4, f"{shape} c={c}")
            scaled = raw + min(shape) * np.log(c)
            close(V.dense_volume_change(c * kernel), scaled, 1e-4, f"{shape} c={c}")
        q, _ = np.linalg.qr(rng.normal(size=(max(shape), min(shape))))
        isometry = (q if shape[0] >= shape[1] else q.T).astype("float32")
        for c in (1.0, 3.7):
            assert abs(to_numpy(V.dense_volume_change(c * isometry, form="normalized"))) < 1e-4, (shape, c)


def test_dense_volume_gradient_matches_finite_differences(rng):
    for shape, form in [((6, 3), "volume"), ((6, 3), "normalized"), ((3, 6), "volume"), ((3, 6), "normalized")]:
        kernel = rng.normal(size=shape).astype("float32")
        _, grad = vgrad(lambda k: E.dense_volume_change(k, form=form), kernel)
        expected = central_differences(lambda k: np_dense_volume(k, form == "normalized"), kernel)
        atol = 1e-4 * np.abs(expected).max()
        msg = f"{shape} form={form}"
        np.testing.assert_allclose(grad, expected, rtol=1e-3, atol=atol, err_msg=msg)
        _, grad = vgrad(lambda k: E.dense_volume_penalty(k, lam=0.5, stabilized=False, form=form), kernel)
        np.testing.assert_allclose(grad, -0.5 * expected, rtol=1e-3, atol=atol, err_msg=msg)


def np_dense_factors(kernel, epsilon):
    x = np.asarray(kernel, "float64")
    x = x if x.shape[0] >= x.shape[1] else x.T
    k = x.shape[1]
    delta = epsilon**2 + k * F32_EPS * np.linalg.norm(x.T @ x)
    stacked = np.concatenate([x, np.sqrt(delta) * np.eye(k)])
    return np.abs(np.diag(np.linalg.qr(stacked, mode="r"))), delta


@pytest.mark.parametrize("shape,form", [((40, 9), "volume"), ((9, 40), "normalized")])
def test_dense_stabilized_penalty_is_surrogate_of_whole_kernel_qr_factors(rng, shape, form):
    kernel = (rng.normal(size=shape) / 6).astype("float32")
    eps = 1e-2

    def oracle(k):
        factors, delta = np_dense_factors(k, eps)
        if form == "normalized":
            energy = np.sum(np.asarray(k, "float64") ** 2)
            factors = factors / np.sqrt(energy / len(factors) + delta)
            return 0.7 * np.sum(1.0 / (factors + eps) - 1.0 / (1.0 + eps))  # less its minimum
        return 0.7 * np.sum(1.0 / (factors + eps))

    factors, _ = np_dense_factors(kernel, eps)
    close(V.dense_volume_factors(kernel, epsilon=eps), factors, 1e-4)
    value, grad = vgrad(lambda k: E.dense_volume_penalty(k, lam=0.7, stabilized=True, epsilon=eps, form=form), kernel)
    np.testing.assert_allclose(value, oracle(kernel), rtol=1e-4)
    expected = central_differences(oracle, kernel)
    np.testing.assert_allclose(grad, expected, rtol=1e-3, atol=1e-3 * np.abs(expected).max())


# --- MATH.md sections 9 and 10: convolution -------------------------------------------------


@pytest.mark.parametrize("cases", [CONV_CASES[:4], CONV_CASES[4:]], ids=["math", "wrap-and-random"])
def test_conv_volume_equals_circular_matrix_oracle(rng, cases):
    for shape, grid in cases:
        kernel = rng.normal(size=shape).astype("float32")
        for form in ("volume", "normalized"):
            expected = np_conv_volume(kernel, *grid, form == "normalized")
            msg = f"{shape} on {grid}, form={form}"
            close(V.conv_volume_change(kernel, form=form, grid=grid), expected, err_msg=msg)


def test_conv_normalized_uses_kernel_energy_when_grid_covers_kernel(rng):
    kernel = rng.normal(size=(3, 3, 2, 4)).astype("float32")
    h, w, k = 6, 5, 2
    energy = np.sum(kernel.astype("float64") ** 2)
    expected = np_conv_volume(kernel, h, w) - h * w * k / 2 * np.log(energy / k)
    close(V.conv_volume_change(kernel, form="normalized", grid=(h, w)), expected)
    value = to_numpy(V.conv_volume_change(kernel, form="normalized", grid=(h, w)))
    assert value < -1.0
    for c in (1e-2, 50.0):
        close(V.conv_volume_change(c * kernel, form="normalized", grid=(h, w)), value, 1e-4)


def test_conv_volume_special_cases(rng):
    for c11 in (0.3, -2.5):  # 1x1 single channel: the paper's h w log|c11|
        one = np.full((1, 1, 1, 1), c11, "float32")
        close(V.conv_volume_change(one, grid=(4, 7)), 28 * np.log(abs(c11)), 1e-5)
    matrix = rng.normal(size=(3, 5)).astype("float32")  # 1x1 conv = the dense map at every position
    dense = to_numpy(V.dense_volume_change(matrix))
    close(V.conv_volume_change(matrix[None, None], grid=(3, 4)), 12 * dense, 1e-5)
    q, _ = np.linalg.qr(rng.normal(size=(4, 3)))
    shifted = np.zeros((3, 3, 4, 3), "float32")  # an orthogonal map on one tap: a scaled isometry
    shifted[1, 2] = 2.5 * q
    assert abs(to_numpy(V.conv_volume_change(shifted, form="normalized", grid=(5, 6)))) < 1e-4
    close(V.conv_volume_change(shifted, grid=(5, 6)), 30 * 3 * np.log(2.5), 1e-5)


def test_conv_volume_gradient_matches_finite_differences(rng):
    for shape, grid in [((2, 2, 2, 3), (4, 3)), ((2, 1, 3, 2), (3, 3))]:
        kernel = rng.normal(size=shape).astype("float32")
        for form in ("volume", "normalized"):
            _, grad = vgrad(lambda k: E.conv_volume_change(k, form=form, grid=grid), kernel)
            expected = central_differences(lambda k: np_conv_volume(k, *grid, form == "normalized"), kernel)
            atol = 1e-4 * np.abs(expected).max()
            np.testing.assert_allclose(grad, expected, rtol=1e-3, atol=atol, err_msg=f"{shape} on {grid}, form={form}")


def np_conv_stabilized(kernel, h, w, epsilon, normalized):
    """Surrogate on the complex Cholesky factors of `G(u, v) + delta I`, mean over the grid."""
    p, q, c_in, c_out = kernel.shape
    traces, all_factors = 0.0, []
    for u in range(h):
        for v in range(w):
            angle = u * np.arange(p)[:, None] / h + v * np.arange(q)[None, :] / w
            phase = np.exp(-2j * np.pi * angle)
            pm = np.einsum("ab,abio->io", phase, kernel.astype("float64"))
            xm = pm if c_in >= c_out else pm.T
            k = xm.shape[1]
            gram = xm.conj().T @ xm
            delta = epsilon**2 + 2 * k * F32_EPS * np.linalg.norm(gram)
            all_factors.append(np.real(np.diag(np.linalg.cholesky(gram + delta * np.eye(k)))))
            traces += np.real(np.trace(gram)) + k * delta
    factors = np.array(all_factors)
    if normalized:  # scale-free factors, less the minimum 1 / (1 + eps) of each
        factors = factors / np.sqrt(traces / (h * w * factors.shape[1]))
        return np.sum(1.0 / (factors + epsilon) - 1.0 / (1.0 + epsilon)) / (h * w)
    return np.sum(1.0 / (factors + epsilon)) / (h * w)


def test_conv_penalties_follow_output_positions_convention(rng):
    for shape, grid in [((3, 3, 2, 4), (6, 5)), ((2, 3, 4, 2), (5, 5)), ((3, 3, 2, 2), (2, 2))]:
        kernel = (rng.normal(size=shape) / 3).astype("float32")
        h, w = grid
        for form in ("volume", "normalized"):
            msg = f"{shape} on {grid}, form={form}"
            normalized = form == "normalized"
            exact = np_conv_volume(kernel, h, w, normalized)
            exact_form = dict(stabilized=False, form=form, grid=grid)
            whole = V.conv_volume_penalty(kernel, lam=1.0, output_positions=h * w, **exact_form)
            close(whole, -exact, err_msg=msg)
            seven = V.conv_volume_penalty(kernel, lam=0.3, output_positions=7, **exact_form)
            close(seven, -0.3 * 7 * exact / (h * w), err_msg=msg)
            expected = np_conv_stabilized(kernel, h, w, 1e-2, normalized)
            stabilized = V.conv_volume_penalty(
                kernel, lam=0.3, output_positions=7, stabilized=True, epsilon=1e-2, form=form, grid=grid
            )
            close(stabilized, 0.3 * 7 * expected, err_msg=msg)


# --- stabilized forms on singular kernels, argument checks ----------------------------------


def singular_kernels(rng):
    u = rng.normal(size=(9, 1))
    return {
        "dense-zero": np.zeros((9, 4), "float32"),
        "dense-zero-wide": np.zeros((4, 9), "float32"),
        "dense-rank1": (u @ rng.normal(size=(1, 4))).astype("float32"),
        "dense-rank1-wide": (rng.normal(size=(4, 1)) @ u.T).astype("float32"),
        "conv-zero": np.zeros((3, 3, 2, 4), "float32"),
        "conv-zero-wide": np.zeros((3, 3, 4, 2), "float32"),
        "conv-rank1": np.einsum("ab,i,o->abio", rng.normal(size=(3, 3)), rng.normal(size=2), rng.normal(size=4)).astype(
            "float32"
        ),
    }


def test_stabilized_penalties_finite_on_singular_kernels(rng):
    eps = 1e-3
    kernels = singular_kernels(rng)
    for (name, kernel), form in [(i, f) for f in ("volume", "normalized") for i in kernels.items()]:
        normalized = form == "normalized"
        name = f"{name} form={form}"
        if name.startswith("dense"):
            fn = lambda k: E.dense_volume_penalty(k, lam=1.0, stabilized=True, epsilon=eps, form=form)  # noqa: E731
            factors = 4
        else:
            fn = lambda k: E.conv_volume_penalty(  # noqa: E731
                k, lam=1.0, output_positions=30, stabilized=True, epsilon=eps, form=form, grid=(6, 5)
            )
            factors = 30 * 2
        value, grad = vgrad(fn, kernel)
        assert np.isfinite(value) and np.all(np.isfinite(grad)), name
        # A zero kernel is a (jittered) scaled isometry: the normalized form's minimum, 0.
        assert (-1e-4 if normalized else 0) < value <= factors / eps, name
        if "zero" in name and not normalized:  # every factor is sqrt(delta) = eps
            np.testing.assert_allclose(value, factors / (2 * eps), rtol=1e-4, err_msg=name)
        if "rank1" in name:
            assert np.abs(grad).max() > 0, name


def test_exact_forms_are_minus_inf_on_singular_kernels():
    assert to_numpy(V.dense_volume_change(np.zeros((5, 3), "float32"))) == -np.inf
    assert to_numpy(V.conv_volume_change(np.zeros((2, 2, 2, 3), "float32"), grid=(3, 3))) == -np.inf


def test_volume_penalties_take_scalar_lam_only():
    for lam in [np.ones(3), [1.0, 2.0], np.ones((2, 3), "float32")]:
        with pytest.raises(ValueError, match="lam"):
            E.dense_volume_penalty(np.ones((3, 2), "float32"), lam=lam)
        with pytest.raises(ValueError, match="lam"):
            E.conv_volume_penalty(np.ones((1, 1, 2, 3), "float32"), lam=lam, grid=(2, 2))
    kernel = np.diag([2.0, 3.0]).astype("float32")
    for lam in (np.float32(2.0), np.array(2.0), 2):
        close(E.dense_volume_penalty(kernel, lam=lam, stabilized=False), -2 * np.log(6.0))


def test_conv_volume_rejects_bad_grid():
    for grid in [(0, 5), (5,), (2.5, 3), "ab", 4, (3, 4, 5)]:
        with pytest.raises(ValueError, match="grid"):
            E.conv_volume_change(np.ones((2, 2, 1, 1), "float32"), grid=grid)


# --- precision and compilation --------------------------------------------------------------


def dense_kernel():
    return (np.random.default_rng(3).normal(size=(20, 6)) / 4).astype("float32")


def conv_kernel():
    return (np.random.default_rng(4).normal(size=(3, 3, 2, 4)) / 4).astype("float32")


def np_dense_penalty(kernel, normalized):
    factors, delta = np_dense_factors(kernel, 1e-3)
    if normalized:
        factors = factors / np.sqrt(np.sum(kernel.astype("float64") ** 2) / len(factors) + delta)
        return 0.5 * np.sum(1.0 / (factors + 1e-3) - 1.0 / (1.0 + 1e-3))
    return 0.5 * np.sum(1.0 / (factors + 1e-3))


#: name: (kernel, function, numpy oracle of its value)
FUNCTIONS = {
    "dense_volume_change": (dense_kernel, lambda k: E.dense_volume_change(k), np_dense_volume),
    "dense_volume_change-normalized": (
        dense_kernel,
        lambda k: E.dense_volume_change(k, form="normalized"),
        lambda k: np_dense_volume(k, True),
    ),
    "dense_volume_factors": (dense_kernel, lambda k: E.dense_volume_factors(k), lambda k: np_dense_factors(k, 1e-3)[0]),
    "dense_volume_penalty": (
        dense_kernel,
        lambda k: E.dense_volume_penalty(k, lam=0.5),
        lambda k: np_dense_penalty(k, False),
    ),
    "dense_volume_penalty-normalized": (
        dense_kernel,
        lambda k: E.dense_volume_penalty(k, lam=0.5, form="normalized"),
        lambda k: np_dense_penalty(k, True),
    ),
    "dense_volume_penalty-exact": (
        dense_kernel,
        lambda k: E.dense_volume_penalty(k, lam=0.5, stabilized=False, form="normalized"),
        lambda k: -0.5 * np_dense_volume(k, True),
    ),
    "conv_volume_change": (
        conv_kernel,
        lambda k: E.conv_volume_change(k, grid=(6, 5)),
        lambda k: np_conv_volume(k, 6, 5),
    ),
    "conv_volume_change-normalized": (
        conv_kernel,
        lambda k: E.conv_volume_change(k, form="normalized", grid=(6, 5)),
        lambda k: np_conv_volume(k, 6, 5, True),
    ),
    "conv_volume_penalty": (
        conv_kernel,
        lambda k: E.conv_volume_penalty(k, lam=0.5, output_positions=30, grid=(6, 5)),
        lambda k: 15 * np_conv_stabilized(k, 6, 5, 1e-3, False),
    ),
    "conv_volume_penalty-normalized": (
        conv_kernel,
        lambda k: E.conv_volume_penalty(k, lam=0.5, output_positions=30, form="normalized", grid=(6, 5)),
        lambda k: 15 * np_conv_stabilized(k, 6, 5, 1e-3, True),
    ),
    "conv_volume_penalty-exact": (
        conv_kernel,
        lambda k: E.conv_volume_penalty(k, lam=0.5, output_positions=30, stabilized=False, grid=(6, 5)),
        lambda k: -0.5 * np_conv_volume(k, 6, 5),
    ),
}


def test_float16_kernel_gives_float32_close_to_float32():
    for name, (make, fn, _) in FUNCTIONS.items():
        half = make().astype("float16")
        value = fn(keras.ops.convert_to_tensor(half))
        assert keras.backend.standardize_dtype(value.dtype) == "float32", name
        reference = to_numpy(fn(half.astype("float32")))
        np.testing.assert_allclose(to_numpy(value), reference, rtol=1e-5, atol=1e-6, err_msg=name)


def _compiled(fn):
    """`fn` and its sum's gradient, compiled: XLA on TensorFlow, jit on JAX, eager on PyTorch."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        @tf.function(jit_compile=True, autograph=False)
        def run(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                value = fn(x)
                total = tf.reduce_sum(value)
            return value, tape.gradient(total, x)

        return lambda x: tuple(to_numpy(t) for t in run(tf.constant(x)))
    if BACKEND == "jax":
        import jax

        def run(x):
            return fn(x), jax.grad(lambda t: keras.ops.sum(fn(t)))(x)

        return lambda x: tuple(np.asarray(t) for t in jax.jit(run)(x))
    return lambda x: (to_numpy(fn(x)), value_and_grad(lambda t: keras.ops.sum(fn(t)), x)[1])


@pytest.mark.parametrize("kind", ["dense", "conv"])
def test_compiled_equals_eager_and_oracle(kind):
    for name, (make, fn, oracle) in FUNCTIONS.items():
        if not name.startswith(kind):
            continue
        kernel = make()
        value, grad = _compiled(fn)(kernel)
        np.testing.assert_allclose(value, to_numpy(fn(kernel)), rtol=1e-5, atol=1e-6, err_msg=name)
        if BACKEND == "tensorflow":  # XLA and TF's eager kernels differ (JAX eager: jit per op)
            _, eager_grad = value_and_grad(lambda t: keras.ops.sum(fn(t)), kernel)
            atol = 1e-5 * np.abs(eager_grad).max()
            np.testing.assert_allclose(grad, eager_grad, rtol=1e-5, atol=atol, err_msg=name)
        assert np.all(np.isfinite(grad)) and np.abs(grad).max() > 0, name
        np.testing.assert_allclose(value, oracle(kernel), rtol=1e-4, err_msg=name)

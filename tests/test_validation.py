"""The argument checks of keras_entropy.validation: accepted values, errors and their messages."""

import math
import re

import numpy as np
import pytest

from keras_entropy import validation as V

pytestmark = pytest.mark.one_backend


@pytest.mark.parametrize(
    "check, value, want",
    [
        (lambda v: V.validate_int(v, "n"), 3, 3),
        (lambda v: V.validate_int(v, "n", minimum=0), np.int64(0), 0),
        (lambda v: V.validate_int(v, "n"), -7, -7),
        (lambda v: V.validate_positive_int(v, "epochs"), 1, 1),
        (lambda v: V.validate_float(v, "x"), 2, 2.0),
        (lambda v: V.validate_float(v, "x", minimum=0.0, maximum=1.0), np.float32(1.0), 1.0),
        (lambda v: V.validate_choice(v, "mode", ("a", "b")), "b", "b"),
        (lambda v: V.validate_string(v, "s"), "abc", "abc"),
        (lambda v: V.validate_string(v, "s", allow_empty=True), "", ""),
        (lambda v: V.validate_names(v, "names"), "a", ["a"]),
        (lambda v: V.validate_names(v, "names"), ("a", "b"), ["a", "b"]),
        (lambda v: V.validate_names(v, "names", allow_empty=True), [], []),
        (lambda v: V.validate_bool(v, "flag"), np.bool_(True), True),
        (lambda v: V.validate_epsilon(v), 1e-3, 1e-3),
        (lambda v: V.validate_positive(v, "beta"), 3, 3.0),
        (lambda v: V.validate_non_negative(v, "balance"), 0, 0.0),
        (lambda v: V.validate_open_unit_interval(v, "rho"), 0.5, 0.5),
        (lambda v: V.validate_lam(v), -2, -2.0),
        (lambda v: V.validate_output_shape(v), [4, 5], (4, 5)),
        (lambda v: V.validate_output_shape(v), None, None),
    ],
)
def test_accepted_values_are_returned_normalised(check, value, want):
    got = check(value)
    assert got == want and type(got) is type(want)


def test_validate_lam_returns_a_float32_array_for_arrays():
    got = V.validate_lam([1, -2])
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, [1.0, -2.0])


@pytest.mark.parametrize(
    "check, error, message",
    [
        # validate_int / validate_positive_int
        (lambda: V.validate_int(1.5, "n"), TypeError, "Argument `n` must be an int. Received: n=1.5"),
        (lambda: V.validate_int(True, "n"), TypeError, "Received: n=True"),
        (lambda: V.validate_int("3", "n"), TypeError, "Received: n='3'"),
        (lambda: V.validate_int(-1, "n", minimum=0), ValueError, "Argument `n` must be an int >= 0. Received: n=-1"),
        (
            lambda: V.validate_positive_int(0, "epochs"),
            ValueError,
            "Argument `epochs` must be an int >= 1. Received: epochs=0",
        ),
        (lambda: V.validate_positive_int(2.0, "epochs"), TypeError, "Received: epochs=2.0"),
        # validate_float
        (lambda: V.validate_float("1", "x"), TypeError, "Argument `x` must be a float. Received: x='1'"),
        (lambda: V.validate_float(False, "x"), TypeError, "Received: x=False"),
        (lambda: V.validate_float(math.inf, "x"), ValueError, "Argument `x` must be a finite float. Received: x=inf"),
        (
            lambda: V.validate_float(-0.5, "x", minimum=0.0),
            ValueError,
            "Argument `x` must be a float >= 0.0. Received: x=-0.5",
        ),
        (
            lambda: V.validate_float(2.5, "x", maximum=1.0),
            ValueError,
            "Argument `x` must be a float <= 1.0. Received: x=2.5",
        ),
        # validate_choice
        (
            lambda: V.validate_choice("c", "mode", ("a", "b")),
            ValueError,
            "Argument `mode` must be one of 'a', 'b'. Received: mode='c'",
        ),
        (lambda: V.validate_choice(["a"], "mode", ("a", "b")), ValueError, "Received: mode=['a']"),
        # validate_string
        (lambda: V.validate_string(3, "prefix"), TypeError, "Argument `prefix` must be a string. Received: prefix=3"),
        (
            lambda: V.validate_string("", "prefix"),
            ValueError,
            "Argument `prefix` must be a non-empty string. Received: prefix=''",
        ),
        # validate_names
        (
            lambda: V.validate_names([], "names"),
            ValueError,
            "Argument `names` must be a non-empty list of names. Received: names=[]",
        ),
        (lambda: V.validate_names(["a", 1], "names"), ValueError, "Received: names=['a', 1]"),
        (
            lambda: V.validate_names(5, "names", allow_empty=True),
            ValueError,
            "Argument `names` must be a list of names. Received: names=5",
        ),
        # validate_bool
        (
            lambda: V.validate_bool("yes", "flag"),
            TypeError,
            "Argument `flag` must be True or False. Received: flag='yes'",
        ),
        # validate_epsilon / validate_positive / validate_non_negative
        (lambda: V.validate_epsilon("x"), TypeError, "Received: epsilon='x'"),
        (
            lambda: V.validate_epsilon(0.0),
            ValueError,
            "Argument `epsilon` must be a finite float > 0. Received: epsilon=0.0",
        ),
        (lambda: V.validate_positive(-1, "beta"), ValueError, "Received: beta=-1.0"),
        (lambda: V.validate_non_negative(None, "balance"), TypeError, "Received: balance=None"),
        (
            lambda: V.validate_non_negative(-1, "balance"),
            ValueError,
            "Argument `balance` must be a finite float >= 0. Received: balance=-1.0",
        ),
        # validate_open_unit_interval
        (lambda: V.validate_open_unit_interval([0.5], "rho"), TypeError, "Received: rho=[0.5]"),
        (
            lambda: V.validate_open_unit_interval(1.0, "rho"),
            ValueError,
            "Argument `rho` must be in the open interval (0, 1). Received: rho=1.0",
        ),
        # validate_lam
        (lambda: V.validate_lam(True), TypeError, "Received: lam=True"),
        (lambda: V.validate_lam("big"), TypeError, "Received: lam='big'"),
        (lambda: V.validate_lam(math.nan), ValueError, "Argument `lam` must be finite. Received: lam=nan"),
        (lambda: V.validate_lam([1.0, math.inf]), ValueError, "must be finite everywhere"),
        # validate_output_shape
        (lambda: V.validate_output_shape((3,)), TypeError, "Received: output_shape=(3,)"),
        (lambda: V.validate_output_shape((0, 3)), ValueError, "Received: output_shape=(0, 3)"),
    ],
)
def test_errors_name_the_argument_and_the_value(check, error, message):
    with pytest.raises(error, match=re.escape(message)):
        check()


def test_check_kernel_rank_and_lam_fits():
    assert V.check_kernel_rank(np.ones((2, 3)), 2, "DenseEntropy", "hint") == (2, 3)
    with pytest.raises(
        ValueError,
        match=r"Owner expects a rank-4 kernel \(hint\)\. "
        r"Received: kernel with shape=\(2, 3\)",
    ):
        V.check_kernel_rank(np.ones((2, 3)), 4, "Owner", "hint")
    V.check_lam_fits(0.5, (2, 3), "Owner", "what")
    V.check_lam_fits(np.ones(3, "float32"), (2, 3), "Owner", "what")
    with pytest.raises(ValueError, match=r"Owner: argument `lam`.*\(2, 3\) \(what\).*shape=\(2,\)"):
        V.check_lam_fits(np.ones(2, "float32"), (2, 3), "Owner", "what")


def test_serialize_lam():
    assert V.serialize_lam(0.5) == 0.5
    assert V.serialize_lam(np.asarray([1.0, 2.0], "float32")) == [1.0, 2.0]

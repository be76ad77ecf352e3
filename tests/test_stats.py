"""keras_entropy.experiments.stats against scipy.stats on fixed inputs."""

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from keras_entropy.experiments import stats

pytestmark = pytest.mark.one_backend

A = [0.0031, 0.0029, 0.0035, 0.0030, 0.0033, 0.0028, 0.0032]
B = [0.0102, 0.0097, 0.0110, 0.0089, 0.0121]
C = [41.0, 38.0, 45.0, 40.0, 52.0, 39.0]
D = [9.0, 8.0, 10.0, 9.0, 11.0, 8.0]


@pytest.mark.parametrize("values", [A, B, C, [1.0, 2.0]])
@pytest.mark.parametrize("confidence", [0.95, 0.9])
def test_t_confidence_interval_matches_scipy(values, confidence):
    mean, low, high = stats.t_confidence_interval(values, confidence)
    x = np.asarray(values)
    expected = scipy_stats.t.interval(confidence, len(x) - 1, loc=x.mean(), scale=scipy_stats.sem(x))
    assert mean == pytest.approx(x.mean(), rel=1e-12)
    assert (low, high) == pytest.approx(expected, rel=1e-10)


def test_t_confidence_interval_degenerate_inputs():
    assert stats.t_confidence_interval([2.0])[0] == 2.0
    assert math.isnan(stats.t_confidence_interval([2.0])[1])
    assert all(math.isnan(v) for v in stats.t_confidence_interval([]))
    # None and NaN (a missing value) are dropped.
    assert stats.t_confidence_interval([1.0, None, float("nan"), 3.0]) == pytest.approx(
        stats.t_confidence_interval([1.0, 3.0])
    )


@pytest.mark.parametrize("a, b", [(A, B), (C, D), (B, A), ([1.0, 2.0, 3.0], [1.5, 2.5, 2.0, 3.5])])
@pytest.mark.parametrize("alternative", ["two-sided", "less", "greater"])
@pytest.mark.parametrize("equal_var", [False, True])
def test_ttest_matches_scipy(a, b, alternative, equal_var):
    ours = stats.ttest(a, b, alternative, equal_var)
    ref = scipy_stats.ttest_ind(a, b, equal_var=equal_var, alternative=alternative)
    assert ours["statistic"] == pytest.approx(ref.statistic, rel=1e-10)
    assert ours["pvalue"] == pytest.approx(ref.pvalue, rel=1e-8, abs=1e-300)
    assert ours["df"] == pytest.approx(ref.df, rel=1e-10)


def test_ttest_zero_variance():
    assert stats.ttest([1.0, 1.0], [2.0, 2.0])["pvalue"] == 0.0
    assert math.isnan(stats.ttest([1.0, 1.0], [1.0, 1.0])["pvalue"])
    assert math.isnan(stats.ttest([1.0], [1.0, 2.0])["pvalue"])


def test_pairwise_significance_follows_the_t_tests():
    groups = {"0": A, "1e-4": [0.0030, 0.0034, 0.0029, 0.0032, 0.0031], "0.1": B}
    table = stats.pairwise_significance(groups, alpha=0.05)
    assert list(table.index) == list(groups) and list(table.columns) == list(groups)
    for i in groups:
        assert table.loc[i, i] == ""
        for j in groups:
            if i == j:
                continue
            ref = scipy_stats.ttest_ind(groups[i], groups[j], equal_var=False)
            expected = "" if ref.pvalue >= 0.05 else ("+" if ref.statistic > 0 else "-")
            assert table.loc[i, j] == expected
    # lambda = 0.1 has clearly higher MSE than both small lambdas; those two do not differ.
    assert table.loc["0.1", "0"] == "+" and table.loc["0", "0.1"] == "-"
    assert table.loc["0", "1e-4"] == ""


def test_improvement_test_is_one_tailed_and_has_stars():
    faster = stats.improvement_test(C, D, higher_is_better=False)
    ref = scipy_stats.ttest_ind(D, C, equal_var=False, alternative="less")
    assert faster["pvalue"] == pytest.approx(ref.pvalue, rel=1e-8)
    assert faster["stars"] == "***" and faster["difference"] == pytest.approx(np.mean(D) - np.mean(C))
    worse = stats.improvement_test(A, B, higher_is_better=False)  # B has higher MSE: no improvement
    assert worse["pvalue"] > 0.99 and worse["stars"] == ""
    acc = stats.improvement_test([0.70, 0.71, 0.69, 0.70], [0.72, 0.71, 0.73, 0.72], higher_is_better=True)
    ref = scipy_stats.ttest_ind(
        [0.72, 0.71, 0.73, 0.72], [0.70, 0.71, 0.69, 0.70], equal_var=False, alternative="greater"
    )
    assert acc["pvalue"] == pytest.approx(ref.pvalue, rel=1e-8) and acc["stars"] in ("*", "**", "***")


def test_stars_thresholds():
    assert [stats.stars(p) for p in (0.0005, 0.001, 0.005, 0.02, 0.05, 0.5, float("nan"))] == [
        "***",
        "**",
        "**",
        "*",
        "",
        "",
        "",
    ]


@pytest.mark.parametrize(
    "call, error, fragment",
    [
        (lambda: stats.t_confidence_interval(A, 1.5), ValueError, "confidence=1.5"),
        (lambda: stats.t_confidence_interval("abc"), TypeError, "values='abc'"),
        (lambda: stats.ttest(A, B, "bigger"), ValueError, "alternative='bigger'"),
        (lambda: stats.ttest(A, ["x"]), TypeError, "Argument `b`"),
        (lambda: stats.ttest(A, B, equal_var=1), TypeError, "equal_var=1"),
        (lambda: stats.pairwise_significance({}, 0.05), ValueError, "groups={}"),
        (lambda: stats.pairwise_significance({"a": A}, 0), ValueError, "alpha=0"),
        (lambda: stats.improvement_test(A, B, "yes"), TypeError, "higher_is_better='yes'"),
    ],
)
def test_validation(call, error, fragment):
    with pytest.raises(error, match=fragment):
        call()


def test_format_interval():
    assert stats.format_interval((0.5, 0.25, 0.75)) == "0.500 [0.250, 0.750]"
    assert stats.format_interval((0.5, 0.25, 0.75), 1) == "0.5 [0.2, 0.8]"
    assert stats.format_interval(stats.t_confidence_interval([2.0]), 2) == "2.00"
    assert stats.format_interval(stats.t_confidence_interval([])) == "n/a"

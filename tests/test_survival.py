"""keras_entropy.experiments.survival: censored epochs, the Kaplan-Meier median, the exact log-rank test."""

import itertools
import warnings

import numpy as np
import pytest
from scipy import stats as scipy_stats

from keras_entropy.experiments import survival

pytestmark = pytest.mark.one_backend


def test_a_run_that_never_gets_there_is_censored_at_its_last_epoch():
    assert survival.time_to_reach([0.5, 0.4, 0.3], 0.1) == (3, False)
    assert survival.time_to_reach([0.5, None, 0.1], 0.1) == (3, True)
    assert survival.time_to_reach([0.5, 0.9], 0.9, higher_is_better=True) == (2, True)
    assert survival.time_to_reach([], 0.1) == (0, False)


def test_median_is_the_first_epoch_by_which_half_had_reached():
    assert survival.median_epoch([2, 2, 2, 3, 3], [True] * 5) == (2, 2, 3)
    assert survival.median_epoch([1, 2, 3, 4], [True] * 4) == (2, 1, 4)  # S(2) = 1/2 exactly
    # 2 of 5 censored at the last epoch (10): the median is that of the runs, not of "never = 11"
    assert survival.median_epoch([2, 2, 2, 10, 10], [True, True, True, False, False]) == (2, 2, None)
    assert survival.median_epoch([10] * 5, [False] * 5) == (None, None, None)


def test_no_interval_extends_past_the_epochs_run():
    rng = np.random.default_rng(0)
    for _ in range(50):
        n = int(rng.integers(2, 8))
        times = [int(t) for t in rng.integers(1, 41, n)]
        reached = [bool(r) for r in rng.random(n) < 0.6]
        times = [t if r else 40 for t, r in zip(times, reached)]  # every run trained 40 epochs
        for value in survival.median_epoch(times, reached):
            assert value is None or 1 <= value <= 40


def test_format_median():
    assert survival.format_median((19, 17, 22)) == "19 [17, 22]"
    assert survival.format_median((38, 31, None), never=1, n=3) == "38 [31, not reached] (1/3 never)"
    assert survival.format_median((None, None, None), never=3, n=3) == "not reached (3/3 never)"


def test_logrank_statistic_is_scipys():
    rng = np.random.default_rng(1)
    for _ in range(10):
        ta, tb = rng.integers(1, 10, 6), rng.integers(1, 10, 7)
        ra, rb = rng.random(6) < 0.7, rng.random(7) < 0.7
        if not (ra.any() or rb.any()):
            continue
        ours = survival.logrank(list(ta), list(ra), list(tb), list(rb))["statistic"]
        theirs = scipy_stats.logrank(survival.censored_data(ta, ra), survival.censored_data(tb, rb)).statistic
        assert ours == pytest.approx(theirs)


def test_logrank_pvalue_is_the_exact_share_of_relabellings():
    times = [2, 3, 3, 5, 6, 6]
    reached = [True, True, False, True, True, False]
    first = ([2, 3, 3], [True, True, False])
    second = ([5, 6, 6], [True, True, False])
    result = survival.logrank(*first, *second, alternative="sooner")
    observed = result["statistic"]
    # By hand: scipy's statistic over the 20 ways to pick the first sample from the 6 runs.
    count = count_later = 0
    for pick in itertools.combinations(range(6), 3):
        rest = [i for i in range(6) if i not in pick]
        z = scipy_stats.logrank(
            survival.censored_data([times[i] for i in pick], [reached[i] for i in pick]),
            survival.censored_data([times[i] for i in rest], [reached[i] for i in rest]),
        ).statistic
        count += z >= observed - 1e-9
        count_later += z <= observed + 1e-9
    assert result["exact"] and result["pvalue"] == pytest.approx(count / 20)
    assert survival.logrank(*first, *second, alternative="later")["pvalue"] == pytest.approx(count_later / 20)
    two = survival.logrank(*first, *second)["pvalue"]
    assert result["pvalue"] <= two <= min(1.0, 2 * result["pvalue"] + 1e-12)


def test_logrank_where_the_old_welch_test_claimed_certainty():
    # 3 runs reach at epoch 2; 3 never reach within 4 epochs. The old statistic (never = 5) gave two
    # zero-variance samples, t = -inf, p = 0. Exactly, 3 against 3 cannot say more than p = 1/20.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # scipy: "precision loss" on constant samples
        old = scipy_stats.ttest_ind([2, 2, 2], [5, 5, 5], equal_var=False, alternative="less").pvalue
    assert old == 0.0
    exact = survival.logrank([2, 2, 2], [True] * 3, [4, 4, 4], [False] * 3, alternative="sooner")
    assert exact["pvalue"] == pytest.approx(1 / 20)
    # 5 against 5, every baseline run censored, every penalised run observed at the last epoch: 1/252.
    late = survival.logrank([10] * 5, [True] * 5, [10] * 5, [False] * 5, alternative="sooner")
    assert late["pvalue"] == pytest.approx(1 / 252)


def test_logrank_without_events_or_runs_is_nan():
    assert np.isnan(survival.logrank([4, 4], [False, False], [4, 4], [False, False])["pvalue"])
    assert np.isnan(survival.logrank([], [], [4], [True])["pvalue"])


def test_many_runs_fall_back_to_monte_carlo():
    result = survival.logrank(list(range(1, 13)), [True] * 12, list(range(5, 17)), [True] * 12, alternative="sooner")
    assert not result["exact"] and 0 < result["pvalue"] < 0.2


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: survival.median_epoch([1, 2], [True]), "same length"),
        (lambda: survival.median_epoch([1, float("nan")], [True, True]), "finite epochs"),
        (lambda: survival.logrank([1], [True], [2], [True], alternative="fewer"), "alternative"),
        (lambda: survival.median_epoch([1], [True], confidence=1.5), "confidence"),
    ],
)
def test_arguments_are_validated(call, match):
    with pytest.raises(ValueError, match=match):
        call()

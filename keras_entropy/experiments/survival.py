"""Epochs to a target as censored data: the Kaplan-Meier median and an exact log-rank test.

A run trains for a fixed number of epochs. "Epochs until the validation
error first reaches x" is observed for the runs that reach x, and only
bounded for the others: they had not reached it after their last epoch.
Such a run is *right-censored* at its last epoch, and a mean, a
t-interval or a t-test over "last epoch + 1" would treat a bound as a
measurement. This module is what the studies use instead
(docs/experiments.md, "Epochs to a target"):

- `time_to_reach`: one run's `(epoch, reached)` pair from its values per
  epoch, censored at the last epoch when it never gets there;
- `median_epoch`: the Kaplan-Meier median (`scipy.stats.ecdf` on
  `scipy.stats.CensoredData`), the first epoch by which half the runs had
  reached the target, with a 95% interval (Brookmeyer-Crowley, from the
  log-log pointwise band); None where it is not reached, so no interval
  ever extends past the epochs that were run; `format_median` writes it;
- `logrank`: the log-rank statistic of two samples (the same number as
  `scipy.stats.logrank`), its p-value from the exact permutation
  distribution (`scipy.stats.permutation_test`; exact up to `n_resamples`
  relabellings, Monte Carlo beyond), one- or two-sided.

Why exact: with 3 to 10 runs per configuration, whole-epoch ties and a
censoring cap shared by every run, the normal approximation of
`scipy.stats.logrank` is not to be trusted in the tails; relabelling the
runs is exact under the null (every run has the same distribution of
epochs to the target, and every run is censored at the same last epoch),
whatever the sample size and ties. The cost: with 3 runs against 3 there
are 20 relabellings, so no one-sided p-value is below 1/20.

numpy and scipy are imported lazily.
"""

import math
import numbers
import warnings

from keras_entropy import validation

#: `logrank`'s alternatives: the first sample reaches the target sooner, later, or either.
ALTERNATIVES = ("two-sided", "sooner", "later")


def time_to_reach(values, threshold, *, higher_is_better=False):
    """`(epoch, reached)`: the first epoch (from 1) at least as good as `threshold`, or `(last epoch, False)`.

    A run that never reaches `threshold` is censored at its last epoch:
    it had not got there after `len(values)` epochs. None values (a metric
    not logged that epoch) never reach.

    >>> time_to_reach([0.3, 0.2, 0.1], 0.2), time_to_reach([0.3, 0.25], 0.1)
    ((2, True), (2, False))
    >>> time_to_reach([0.90, 0.97, 0.98], 0.975, higher_is_better=True)
    (3, True)
    """
    values = list(values)
    for epoch, value in enumerate(values, 1):
        if value is not None and (value >= threshold if higher_is_better else value <= threshold):
            return epoch, True
    return len(values), False


def _pairs(times, reached, name):
    times, reached = list(times), list(reached)
    if len(times) != len(reached):
        raise ValueError(
            f"Argument `{name}`: `times` and `reached` must have the same length. "
            f"Received: {len(times)} times and {len(reached)} flags"
        )
    for t in times:
        if isinstance(t, bool) or not isinstance(t, numbers.Real) or not math.isfinite(t) or t < 0:
            raise ValueError(f"Argument `{name}` must hold finite epochs >= 0. Received: times={times!r}")
    return [float(t) for t in times], [bool(r) for r in reached]


def censored_data(times, reached):
    """`scipy.stats.CensoredData`: the epochs of the runs that reached, right-censored for the others."""
    from scipy import stats as scipy_stats

    times, reached = _pairs(times, reached, "times")
    return scipy_stats.CensoredData(
        uncensored=[t for t, r in zip(times, reached) if r], right=[t for t, r in zip(times, reached) if not r]
    )


def median_epoch(times, reached, *, confidence=0.95):
    """Kaplan-Meier median epoch with its confidence interval: `(median, low, high)`, None where not reached.

    The median is the first epoch at which the Kaplan-Meier estimate of
    "not reached yet" is at most 1/2: the first epoch by which half the runs
    had reached the target. The interval (Brookmeyer and Crowley) holds the
    epochs where 1/2 lies inside the pointwise log-log band of
    `scipy.stats.ecdf(...).sf.confidence_interval`: from the first epoch
    whose lower band is at most 1/2 to the first whose upper band is. An end
    that the runs never reached is None ("not reached"), never an epoch past
    the last.

    >>> median_epoch([3, 4, 5, 6, 7], [True] * 5)
    (5, 3, 7)
    >>> median_epoch([38, 40, 40], [True, False, False])
    (None, 38, None)
    """
    import numpy as np
    from scipy import stats as scipy_stats

    confidence = validation.validate_open_unit_interval(confidence, "confidence")
    times, reached = _pairs(times, reached, "times")
    if not any(reached):
        return None, None, None
    sf = scipy_stats.ecdf(censored_data(times, reached)).sf
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "undefined at some observations": handled below
        band = sf.confidence_interval(confidence, method="log-log")
    # The band is undefined where the estimate is 0 or 1: there it is the estimate itself.
    estimate = sf.probabilities
    low = np.where(np.isnan(band.low.probabilities), estimate, band.low.probabilities)
    high = np.where(np.isnan(band.high.probabilities), estimate, band.high.probabilities)

    def first(probabilities):
        hits = np.flatnonzero(probabilities <= 0.5)
        return _epoch(sf.quantiles[hits[0]]) if len(hits) else None

    return first(estimate), first(low), first(high)


def _epoch(value):
    value = float(value)
    return int(value) if value.is_integer() else value


def format_median(median, *, never=0, n=None):
    """A table cell: `19 [17, 22]`, `38 [31, not reached]`, `not reached`, with `(k/n never)`.

    `median`: `median_epoch`'s triple.

    >>> format_median((5, 3, 7)), format_median((None, 38, None), never=2, n=3)
    ('5 [3, 7]', 'not reached [38, not reached] (2/3 never)')
    """
    mid, low, high = median

    def word(value):
        return "not reached" if value is None else f"{value:g}"

    text = word(mid) if low is None and high is None and mid is None else f"{word(mid)} [{word(low)}, {word(high)}]"
    return text + (f" ({never}/{n} never)" if never else "")


def _logrank_statistic(times, events, event_times):
    """`statistic(first, second, axis)` for `scipy.stats.permutation_test`: the log-rank z of the first sample.

    The samples are indices into `times`/`events` (the pooled runs), batched
    along the leading axes. z = sum(O - E) / sqrt(sum V) over the distinct
    event times, O the first sample's events, E their expectation and V
    their hypergeometric variance given the pooled risk sets: positive when
    the first sample reaches the target sooner than the pooled rate. 0 when
    V is 0 (no information).
    """
    import numpy as np

    at_risk = (times[None, :] >= event_times[:, None]).astype("float64")  # (J, n)
    events_at = ((times[None, :] == event_times[:, None]) & events[None, :]).astype("float64")
    pooled_risk, pooled_events = at_risk.sum(axis=1), events_at.sum(axis=1)

    def statistic(first, second, axis=-1):
        first = np.moveaxis(np.asarray(first), axis, -1).astype(int)
        membership = np.zeros(first.shape[:-1] + (len(times),))
        np.put_along_axis(membership, first, 1.0, axis=-1)
        risk, observed = membership @ at_risk.T, membership @ events_at.T  # (..., J)
        expected = pooled_events * risk / pooled_risk
        spread = np.where(pooled_risk > 1, (pooled_risk - pooled_events) / np.maximum(pooled_risk - 1, 1), 0.0)
        variance = (expected * (1 - risk / pooled_risk) * spread).sum(axis=-1)
        difference = (observed - expected).sum(axis=-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(variance > 0, difference / np.sqrt(variance), 0.0)

    return statistic


def logrank(times_a, reached_a, times_b, reached_b, *, alternative="two-sided", n_resamples=10_000, seed=0):
    """Log-rank test of `a` against `b`, its p-value from the exact permutation distribution.

    `alternative`: "sooner" (`a` reaches the target sooner than `b`),
    "later", or "two-sided". The statistic is the log-rank z of `a` (the
    magnitude `scipy.stats.logrank` returns; positive when `a` reaches
    sooner); the p-value is the share of the relabellings of the pooled runs
    whose statistic is at least as extreme, exact when there are at most
    `n_resamples` of them (5 runs against 5: 252), else from `n_resamples`
    random ones (`seed`).

    Returns:
        dict with `statistic`, `pvalue` and `exact`; statistic and p-value
        nan when fewer than one run per sample or no run reached the target
        (nothing to compare).

    >>> result = logrank([3, 4, 5], [True] * 3, [9, 10, 10], [True, False, False], alternative="sooner")
    >>> round(result["pvalue"], 4), result["exact"]
    (0.05, True)
    """
    import numpy as np
    from scipy import stats as scipy_stats

    validation.validate_choice(alternative, "alternative", ALTERNATIVES)
    n_resamples = validation.validate_positive_int(n_resamples, "n_resamples")
    times_a, reached_a = _pairs(times_a, reached_a, "times_a")
    times_b, reached_b = _pairs(times_b, reached_b, "times_b")
    n = len(times_a) + len(times_b)
    exact = math.comb(n, len(times_a)) <= n_resamples
    if not times_a or not times_b or not any(reached_a + reached_b):
        return {"statistic": math.nan, "pvalue": math.nan, "exact": exact}
    times, events = np.asarray(times_a + times_b), np.asarray(reached_a + reached_b)
    statistic = _logrank_statistic(times, events, np.unique(times[events]))
    result = scipy_stats.permutation_test(
        (np.arange(len(times_a)), np.arange(len(times_a), n)),
        statistic,
        permutation_type="independent",
        vectorized=True,
        n_resamples=n_resamples,
        alternative={"two-sided": "two-sided", "sooner": "greater", "later": "less"}[alternative],
        rng=np.random.default_rng(seed),
    )
    return {"statistic": float(result.statistic), "pvalue": float(result.pvalue), "exact": exact}


__all__ = ["ALTERNATIVES", "censored_data", "format_median", "logrank", "median_epoch", "time_to_reach"]

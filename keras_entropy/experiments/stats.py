"""Statistics of the paper's tables: t confidence intervals and t-tests.

- `t_confidence_interval`: mean and 95% t-confidence interval of a cell
  (the bands of the paper's Figures 3a-6a); `format_interval` writes it
  as `mean [low, high]` for a table.
- `ttest`: two-sample t-test (Welch's by default, Student's with
  `equal_var=True`), two- or one-sided: `scipy.stats.ttest_ind`;
- `difference_interval`: the difference of two means with its Welch
  confidence interval (the effect size a reader can use);
- `adjust_pvalues`, `format_pvalues`: Benjamini-Hochberg adjusted
  p-values over a table's family of tests, and a cell with both.
- `pairwise_significance`: the paper's pairwise tables between lambda values
  (Figures 3b-6b): blank, "+" or "-" at `alpha = 0.05`.
- `improvement_test`: the one-tailed test "the entropy loss improves the
  metric" with its p-value and stars (the paper's Table 1).

Inputs are sequences of floats (one per replication); NaN and None are
dropped. scipy (for the t distribution) and pandas are imported lazily.
"""

import contextlib
import math
import numbers
import warnings

from keras_entropy import validation

#: Significance stars: `***` p < 0.001, `**` p < 0.01, `*` p < 0.05.
STAR_LEVELS = ((0.001, "***"), (0.01, "**"), (0.05, "*"))


def _sample(values, name):
    import numpy as np

    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
        raise TypeError(f"Argument `{name}` must be a sequence of numbers. Received: {name}={values!r}")
    out = []
    for v in values:
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise TypeError(f"Argument `{name}` must contain numbers. Received: {name}={values!r}")
        if not math.isnan(float(v)):
            out.append(float(v))
    return np.asarray(out, dtype="float64")


def t_confidence_interval(values, confidence=0.95):
    """Mean and two-sided t-confidence interval of the mean.

    `mean +- t_{(1+confidence)/2, n-1} * s / sqrt(n)` with `s` the sample
    standard deviation (ddof=1), as `scipy.stats.t.interval(confidence,
    n - 1, loc=mean, scale=sem)`.

    Returns:
        `(mean, low, high)`; with one value the interval is `(nan, nan)`,
        with none everything is nan.
    """
    from scipy import stats as scipy_stats

    x = _sample(values, "values")
    confidence = validation.validate_open_unit_interval(confidence, "confidence")
    n = len(x)
    if n == 0:
        return math.nan, math.nan, math.nan
    mean = float(x.mean())
    if n == 1:
        return mean, math.nan, math.nan
    half = float(scipy_stats.t.ppf((1 + confidence) / 2, n - 1) * x.std(ddof=1) / math.sqrt(n))
    return mean, mean - half, mean + half


def format_interval(interval, digits=3):
    """`mean [low, high]` with `digits` decimals, from `(mean, low, high)` (`t_confidence_interval`).

    Just the mean when the interval is undefined (one value), "n/a" when the
    mean is (no value).

    >>> format_interval((0.5, 0.25, 0.75), 2), format_interval((0.5, float("nan"), float("nan")), 2)
    ('0.50 [0.25, 0.75]', '0.50')
    """
    mean, low, high = interval
    if not math.isfinite(mean):
        return "n/a"
    if not (math.isfinite(low) and math.isfinite(high)):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def format_mean_interval(values, confidence=0.95):
    """`mean [low, high]` of `values` in 4-digit scientific notation (MSE-sized numbers).

    Just the mean with one value, "n/a" with none.

    >>> format_mean_interval([0.001, 0.002, 0.003])
    '2.000e-03 [-4.841e-04, 4.484e-03]'
    """
    mean, low, high = t_confidence_interval(values, confidence)
    if not math.isfinite(mean):
        return "n/a"
    if not (math.isfinite(low) and math.isfinite(high)):
        return f"{mean:.3e}"
    return f"{mean:.3e} [{low:.3e}, {high:.3e}]"


def format_pvalue(pvalue):
    """`0.0123*`: three significant digits and `stars`; "n/a" for None or nan.

    >>> format_pvalue(0.0004), format_pvalue(0.3), format_pvalue(None)
    ('0.0004***', '0.3', 'n/a')
    """
    if pvalue is None or math.isnan(pvalue):
        return "n/a"
    return f"{pvalue:.3g}{stars(pvalue)}"


def ttest(a, b, alternative="two-sided", equal_var=False):
    """Two-sample t-test of `mean(a)` against `mean(b)`: `scipy.stats.ttest_ind`.

    Welch's test (unequal variances, Welch-Satterthwaite degrees of
    freedom) by default; Student's pooled-variance test with
    `equal_var=True`. `alternative`: "two-sided", "less" (mean(a) <
    mean(b)) or "greater".

    Returns:
        dict with `statistic`, `pvalue` and `df` (nan with fewer than two
        values in a sample). When both samples have zero variance the
        statistic is +-inf (p = 0) if the means differ and nan (p = nan) if
        they are equal, as in scipy.
    """
    from scipy import stats as scipy_stats

    a, b = _sample(a, "a"), _sample(b, "b")
    validation.validate_choice(alternative, "alternative", ("two-sided", "less", "greater"))
    equal_var = validation.validate_bool(equal_var, "equal_var")
    if len(a) < 2 or len(b) < 2:
        return {"statistic": math.nan, "pvalue": math.nan, "df": math.nan}
    with _quiet():
        result = scipy_stats.ttest_ind(a, b, equal_var=equal_var, alternative=alternative)
    return {"statistic": float(result.statistic), "pvalue": float(result.pvalue), "df": float(result.df)}


def difference_interval(a, b, confidence=0.95):
    """`mean(a) - mean(b)` with its two-sided Welch confidence interval: `(difference, low, high)`.

    The interval of `scipy.stats.ttest_ind(a, b, equal_var=False)`: an
    effect size in the metric's own units. nan bounds with fewer than two
    values in a sample or no spread at all.

    >>> [round(v, 4) for v in difference_interval([1.0, 2.0, 3.0], [2.0, 4.0, 6.0])]
    [-2.0, -6.1554, 2.1554]
    """
    from scipy import stats as scipy_stats

    a, b = _sample(a, "a"), _sample(b, "b")
    confidence = validation.validate_open_unit_interval(confidence, "confidence")
    if not len(a) or not len(b):
        return math.nan, math.nan, math.nan
    difference = float(a.mean() - b.mean())
    if len(a) < 2 or len(b) < 2:
        return difference, math.nan, math.nan
    with _quiet():
        interval = scipy_stats.ttest_ind(a, b, equal_var=False).confidence_interval(confidence)
    return difference, float(interval.low), float(interval.high)


def adjust_pvalues(pvalues):
    """Benjamini-Hochberg adjusted p-values (`scipy.stats.false_discovery_control`), None and nan kept.

    The family is every p-value given: rejecting those with an adjusted
    p-value below `alpha` keeps the expected share of false discoveries
    among the rejections at most `alpha` (the false discovery rate), for
    independent or positively dependent tests. None and nan (no test) are
    not part of the family and come back as they were.

    >>> [None if p is None else round(p, 4) for p in adjust_pvalues([0.01, None, 0.04, 0.03, 0.5])]
    [0.04, None, 0.0533, 0.0533, 0.5]
    """
    from scipy import stats as scipy_stats

    pvalues = list(pvalues)
    index = [i for i, p in enumerate(pvalues) if p is not None and not math.isnan(p)]
    out = list(pvalues)
    if index:
        adjusted = scipy_stats.false_discovery_control([float(pvalues[i]) for i in index], method="bh")
        for i, p in zip(index, adjusted):
            out[i] = float(p)
    return out


def format_pvalues(pvalue, adjusted):
    """A table cell with the raw and the adjusted p-value: `0.012 (adj 0.048*)`, stars on the adjusted.

    >>> format_pvalues(0.012, 0.048), format_pvalues(None, None)
    ('0.012 (adj 0.048*)', '-')
    """
    if pvalue is None:
        return "-"
    if math.isnan(pvalue):
        return "n/a"
    return f"{pvalue:.3g} (adj {format_pvalue(adjusted)})"


@contextlib.contextmanager
def _quiet():
    """No numpy division warnings, nor scipy's "precision loss" on (nearly) identical samples: nan says it."""
    import numpy as np

    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def stars(pvalue):
    """`***` for p < 0.001, `**` < 0.01, `*` < 0.05, else "" (nan: "")."""
    if pvalue is None or math.isnan(pvalue):
        return ""
    for level, mark in STAR_LEVELS:
        if pvalue < level:
            return mark
    return ""


def pairwise_significance(groups, alpha=0.05, equal_var=False):
    """The paper's pairwise table between groups (e.g. lambda values).

    Cell (row `i`, column `j`) is "+" when a two-sided t-test finds the mean
    of group `i` significantly higher than that of group `j` at `alpha`,
    "-" when significantly lower, and "" otherwise (and on the diagonal).

    Args:
        groups: dict of label -> sequence of values, in table order.
        alpha: significance level.

    Returns:
        A pandas DataFrame of strings, labels as index and columns.
    """
    import pandas as pd

    if not isinstance(groups, dict) or not groups:
        raise ValueError(f"Argument `groups` must be a non-empty dict. Received: groups={groups!r}")
    alpha = validation.validate_open_unit_interval(alpha, "alpha")
    labels = list(groups)
    table = pd.DataFrame("", index=labels, columns=labels)
    for i in labels:
        for j in labels:
            if i == j:
                continue
            result = ttest(groups[i], groups[j], equal_var=equal_var)
            if result["pvalue"] < alpha:
                table.loc[i, j] = "+" if result["statistic"] > 0 else "-"
    return table


def improvement_test(baseline, treatment, higher_is_better=True, equal_var=False):
    """One-tailed test of "the treatment improves the metric over the baseline".

    H1: mean(treatment) > mean(baseline) when `higher_is_better` (accuracy),
    mean(treatment) < mean(baseline) otherwise (MSE, stopping epoch).

    Returns:
        dict with `baseline_mean`, `treatment_mean`, `difference`
        (treatment - baseline), `statistic`, `df`, `pvalue` and `stars`.
    """
    higher_is_better = validation.validate_bool(higher_is_better, "higher_is_better")
    b, t = _sample(baseline, "baseline"), _sample(treatment, "treatment")
    result = ttest(t, b, "greater" if higher_is_better else "less", equal_var)
    bm = float(b.mean()) if len(b) else math.nan
    tm = float(t.mean()) if len(t) else math.nan
    return {
        "baseline_mean": bm,
        "treatment_mean": tm,
        "difference": tm - bm,
        **result,
        "stars": stars(result["pvalue"]),
    }

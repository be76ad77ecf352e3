"""Statistics of the paper's tables: t confidence intervals and t-tests.

- `t_confidence_interval`: mean and 95% t-confidence interval of a cell
  (the bands of the paper's Figures 3a-6a); `format_interval` writes it
  as `mean [low, high]` for a table.
- `ttest`: two-sample t-test (Welch's by default, Student's with
  `equal_var=True`), two- or one-sided; the same numbers as
  `scipy.stats.ttest_ind`.
- `pairwise_significance`: the paper's pairwise tables between lambda values
  (Figures 3b-6b): blank, "+" or "-" at `alpha = 0.05`.
- `improvement_test`: the one-tailed test "the entropy loss improves the
  metric" with its p-value and stars (the paper's Table 1).

Inputs are sequences of floats (one per replication); NaN and None are
dropped. scipy (for the t distribution) and pandas are imported lazily.
"""

import math
import numbers

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
    """Two-sample t-test of `mean(a)` against `mean(b)`.

    Welch's test (unequal variances, Welch-Satterthwaite degrees of
    freedom) by default; Student's pooled-variance test with
    `equal_var=True`. `alternative`: "two-sided", "less" (mean(a) <
    mean(b)) or "greater".

    Returns:
        dict with `statistic`, `pvalue` and `df`. When both samples have
        zero variance the statistic is +-inf (p = 0) if the means differ and
        nan (p = nan) if they are equal, as in scipy.
    """
    from scipy import stats as scipy_stats

    a, b = _sample(a, "a"), _sample(b, "b")
    validation.validate_choice(alternative, "alternative", ("two-sided", "less", "greater"))
    equal_var = validation.validate_bool(equal_var, "equal_var")
    na, nb = len(a), len(b)
    if na < 2 or nb < 2:
        return {"statistic": math.nan, "pvalue": math.nan, "df": math.nan}
    va, vb = a.var(ddof=1), b.var(ddof=1)
    diff = a.mean() - b.mean()
    if equal_var:
        df = na + nb - 2
        pooled = ((na - 1) * va + (nb - 1) * vb) / df
        se2 = pooled * (1 / na + 1 / nb)
    else:
        qa, qb = va / na, vb / nb
        se2 = qa + qb
        df = se2**2 / (qa**2 / (na - 1) + qb**2 / (nb - 1)) if se2 > 0 else float(na + nb - 2)
    with _quiet():
        import numpy as np

        t = float(np.divide(diff, np.sqrt(se2)))
    if math.isnan(t):
        return {"statistic": t, "pvalue": math.nan, "df": float(df)}
    if alternative == "two-sided":
        p = 2 * scipy_stats.t.sf(abs(t), df)
    elif alternative == "less":
        p = scipy_stats.t.cdf(t, df)
    else:
        p = scipy_stats.t.sf(t, df)
    return {"statistic": t, "pvalue": float(min(p, 1.0)), "df": float(df)}


def _quiet():
    import numpy as np

    return np.errstate(divide="ignore", invalid="ignore")


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

"""The verdict: does a penalty beat no penalty? A short table and sentences, from run records.

Computed from the records alone (`keras_entropy.experiments.evidence` rows),
so that a report never says more than its numbers:

- `verdict_rows`: per (group, configuration) the final quality with its 95%
  t-interval, the epochs to reach the unpenalised model's mean final (or
  best) value ("never" counted as one epoch past the last), and one-tailed
  Welch p-values: better final quality than no penalty and than the peer,
  fewer epochs than no penalty;
- `verdict_table`: those rows as Markdown;
- `verdict_sentences`: per group, what was significantly better, faster, or
  better than the peer (the studies' summaries);
- `overall_sentence`: over every group, how many penalised configurations
  ended significantly better, worse, or got there sooner;
- `comparison_sentence`: one sentence in words for one width, naming each
  penalty as faster, slower, no different or never there, and whether it
  ended better or worse (the README's first command).

Fewer is better for the epochs; the direction of the quality, and what
the runs are grouped by, are the `evidence.Measure`'s (`evidence.TEST_MSE`
by default: lower test MSE, per latent width).
"""

import math

from keras_entropy.experiments import stats
from keras_entropy.experiments.evidence import (
    ALPHA,
    BASELINE,
    FORMS,
    PEER,
    PENALTIES,
    TEST_MSE,
    describe_config,
    evidence_rows,
    group_order,
    improvement,
    reach_cell,
)


def verdict_rows(records, measure=TEST_MSE):
    """Per (group, configuration): final quality (95% CI), epochs to reach the baseline's target, p.

    With `m = measure` (`evidence.Measure`): the final `m.final`, and the
    epochs until `m.curve` reaches the baseline's mean final (or best) value.
    Row keys: `group`, `penalty`, `config` (text), `n`, `epochs`,
    `final` (mean, low, high), `final_samples`, `reach` (mean epochs, never
    counted as epochs + 1), `reach_samples`, `never`, `reach_cell` (text),
    `p_vs_baseline` and `p_vs_peer` (one-tailed Welch: a better final
    `m.final`; None for the reference itself or without it) and `p_sooner`
    (one-tailed Welch: fewer epochs to the baseline's target than no penalty).
    """
    rows = evidence_rows(records, thresholds=(), measure=measure)
    name, higher, out = f"final_{measure.final}", measure.higher_is_better, []
    for row in rows:
        finals = row["samples"][name]
        tests = {against: improvement(rows, row, against, name, higher) for against in (BASELINE, PEER)}
        sooner = improvement(rows, row, BASELINE, "reach_baseline")
        reach = row["samples"]["reach_baseline"]
        out.append(
            {
                "group": row["group"],
                "penalty": row["penalty"],
                "config": describe_config(row),
                "n": row["n"],
                "epochs": row["epochs"],
                "final": stats.t_confidence_interval(finals),
                "final_samples": finals,
                "reach": sum(reach) / len(reach) if reach else math.nan,
                "reach_samples": reach,
                "never": row["never"]["reach_baseline"],
                "reach_cell": reach_cell(row, "reach_baseline"),
                "p_vs_baseline": None if tests[BASELINE] is None else tests[BASELINE]["pvalue"],
                "p_vs_peer": None if tests[PEER] is None else tests[PEER]["pvalue"],
                "p_sooner": None if sooner is None else sooner["pvalue"],
            }
        )
    return out


def _final_cell(row, measure):
    if measure.higher_is_better:  # accuracies, in percent
        return stats.format_interval(tuple(100 * v for v in row["final"]), 2) + " %"
    return stats.format_mean_interval(row["final_samples"])


def _target(measure):
    return f"{measure.target} {measure.curve}"


def verdict_table(rows, measure=TEST_MSE):
    """The verdict as Markdown: config, final quality [95% CI], epochs to the baseline's, p-values.

    The group column is left out when all rows share one group; the column
    against the peer when the peer did not run.
    """
    from keras_entropy.experiments.reports import markdown_table

    groups = len({r["group"] for r in rows}) > 1
    peer = any(r["penalty"] == PEER for r in rows)
    word = measure.word
    header = (
        ([measure.group_label] if groups else [])
        + [
            "config",
            "hyperparameters",
            "n",
            f"final {measure.final} [95% CI]",
            f"epochs to no penalty's {_target(measure)}",
            f"p {word} vs none",
        ]
        + ([f"p {word} vs orthogonal"] if peer else [])
        + ["p sooner vs none"]
    )
    names = ("p_vs_baseline",) + (("p_vs_peer",) if peer else ()) + ("p_sooner",)
    body = [
        ([r["group"]] if groups else [])
        + [r["penalty"], r["config"], r["n"], _final_cell(r, measure), r["reach_cell"]]
        + ["-" if r[name] is None else stats.format_pvalue(r[name]) for name in names]
        for r in rows
    ]
    return markdown_table(header, body)


def _value(value, measure):
    return f"{100 * value:.2f}%" if measure.higher_is_better else f"{value:.3e}"


def _change(row, base, measure):
    """`-12.3%` (relative, for an MSE) or `+0.45 points` (a difference of percentages, for an accuracy)."""
    if measure.higher_is_better:
        return f"{100 * (row['final'][0] - base['final'][0]):+.2f} points"
    return f"{(row['final'][0] / base['final'][0] - 1) * 100:+.1f}%"


def verdict_sentences(rows, alpha=ALPHA, measure=TEST_MSE):
    """One sentence per group, computed from `verdict_rows`: what beat no penalty (and the peer), by how much.

    Significance is one-tailed Welch at `alpha`: a better final quality
    (`measure.final`) than no penalty (and a worse one, the other tail), fewer epochs to the baseline's target
    on `measure.curve`, and (for the entropy forms, when the peer ran) a
    better final quality than the peer.
    """
    sentences, word, final = [], measure.word, measure.final
    target = f"the baseline's {_target(measure)}"
    for value in sorted({r["group"] for r in rows}, key=group_order):
        group = [r for r in rows if r["group"] == value]
        name = f"{measure.group_label.capitalize()} {value}"
        base = next((r for r in group if r["penalty"] == BASELINE), None)
        if base is None:
            sentences.append(f"{name}: no baseline runs yet, so nothing can be said.")
            continue
        best = (max if measure.higher_is_better else min)(group, key=lambda r: r["final"][0])

        def significant(key, penalties=PENALTIES):
            return [r["penalty"] for r in group if r["penalty"] in penalties and r[key] is not None and r[key] < alpha]

        better, faster = significant("p_vs_baseline"), significant("p_sooner")
        text = f"{name} ({base['n']} baseline runs): " + (
            f"{', '.join(better)} reached a significantly {word} final {final} than no penalty "
            f"(one-tailed Welch, p < {alpha:g})"
            if better
            else f"no penalised configuration reached a significantly {word} final {final} than no penalty "
            f"(one-tailed Welch, p < {alpha:g})"
        )
        worse = [
            r["penalty"]
            for r in group
            if r["p_vs_baseline"] is not None
            and not math.isnan(r["p_vs_baseline"])
            and 1.0 - r["p_vs_baseline"] < alpha
        ]
        if worse:
            opposite = "lower" if measure.higher_is_better else "higher"
            text += f"; {', '.join(worse)} ended with a significantly {opposite} final {final} (the other tail)"
        if best is base:
            text += (
                f"; no penalty had the {'highest' if measure.higher_is_better else 'lowest'} mean "
                f"({_value(base['final'][0], measure)})"
            )
        else:
            text += (
                f"; the {'highest' if measure.higher_is_better else 'lowest'} mean was {best['penalty']} "
                f"({_value(best['final'][0], measure)}, {_change(best, base, measure)} against "
                f"{_value(base['final'][0], measure)} without penalty)"
            )
        text += (
            f"; {', '.join(faster)} reached {target} in significantly fewer epochs"
            if faster
            else f"; no penalised configuration reached {target} in significantly fewer epochs"
        )
        if any(r["penalty"] == PEER for r in group):
            beat_peer = significant("p_vs_peer", FORMS)
            text += (
                f"; {', '.join(beat_peer)} had a significantly {word} final {final} than the {PEER} peer"
                if beat_peer
                else f"; no entropy form had a significantly {word} final {final} than the {PEER} peer"
            )
        sentences.append(text + ".")
    return sentences


def overall_sentence(rows, alpha=ALPHA, measure=TEST_MSE):
    """One sentence over every group of `verdict_rows`: how many penalised configurations were better, worse, sooner.

    For example "Over 6 architectures (24 penalised configurations, each
    against no penalty in its architecture): 0 ended with a significantly
    higher final test_accuracy, 4 with a significantly lower one (volume in
    1x16, ...), and 0 reached the baseline's best val_accuracy in
    significantly fewer epochs (one-tailed Welch, p < 0.05 each; no
    correction for the 24 comparisons)."
    """
    penalised = [
        r
        for r in rows
        if r["penalty"] != BASELINE and r["p_vs_baseline"] is not None and not math.isnan(r["p_vs_baseline"])
    ]
    groups = sorted({r["group"] for r in rows}, key=group_order)
    better = [r for r in penalised if r["p_vs_baseline"] < alpha]
    worse = [r for r in penalised if 1.0 - r["p_vs_baseline"] < alpha]
    sooner = [r for r in penalised if r["p_sooner"] is not None and r["p_sooner"] < alpha]
    word, opposite = measure.word, "lower" if measure.higher_is_better else "higher"

    def which(found):
        names = ", ".join(str(r["penalty"]) + " in " + str(r["group"]) for r in found)
        return f" ({names})" if found else ""

    plural = "s" if len(groups) != 1 else ""
    return (
        f"Over {len(groups)} {measure.group_label}{plural} ({len(penalised)} penalised configurations, each "
        f"against no penalty in its {measure.group_label}): {len(better)} ended with a significantly {word} final "
        f"{measure.final}{which(better)}, {len(worse)} with a significantly {opposite} one{which(worse)}, and "
        f"{len(sooner)} reached the baseline's {_target(measure)} in significantly fewer epochs{which(sooner)} "
        f"(one-tailed Welch, p < {alpha:g} each; no correction for the {len(penalised)} comparisons)."
    )


def speed(row, base, alpha=ALPHA):
    """How `row` reached no penalty's final quality: `(label, p)`.

    label "faster": fewer epochs than no penalty, one-tailed Welch p <
    `alpha` (p is that test's); "slower": more epochs, p < `alpha` the other
    way (p is that test's); "same": neither (p of the test for fewer);
    "never": no run got there (p None). Runs that never got there count one
    epoch past the last.
    """
    if row["never"] == row["n"]:
        return "never", None
    if row["p_sooner"] is not None and row["p_sooner"] < alpha:
        return "faster", row["p_sooner"]
    slower = stats.improvement_test(row["reach_samples"], base["reach_samples"], higher_is_better=False)["pvalue"]
    if slower < alpha:
        return "slower", slower
    return "same", row["p_sooner"]


def quality(row, alpha=ALPHA):
    """Final quality against no penalty: `(label, p)`, label "better", "worse" or "same".

    "better": a better final quality (lower MSE, higher accuracy),
    one-tailed Welch p < `alpha`; "worse": p < `alpha` the other way (`1 - p` of the same statistic); p is
    the test's that decided (for "same", the test for lower).
    """
    p = row["p_vs_baseline"]
    if p is None or math.isnan(p):
        return "same", p
    if p < alpha:
        return "better", p
    return ("worse", 1.0 - p) if 1.0 - p < alpha else ("same", p)


def _p(pvalue):
    if pvalue is None or math.isnan(pvalue):
        return "p n/a"
    return "p < 0.001" if pvalue < 0.001 else f"p = {pvalue:.2g}"


def _epoch(row):
    """`epoch 23.4`, or with runs that never got there `epoch >= 38.2 (1/3 never)` (they count as epochs + 1)."""
    if row["never"]:
        return f"epoch >= {row['reach']:.1f} ({row['never']}/{row['n']} never)"
    return f"epoch {row['reach']:.1f}"


def comparison_sentence(rows, alpha=ALPHA, measure=TEST_MSE):
    """One sentence for one group (a width): each penalty's speed and final quality against no penalty.

    Computed from `verdict_rows` (one width): for example "Against no
    penalty (final test_mse 2.450e-03, mean of 3 seeds, which its runs
    reach at epoch 38.0):
    normalized got there sooner (epoch 25.0, p = 0.003) and ended no
    different (-1.1%, p = 0.31); paper never got there and ended worse
    (+33%, p < 0.001)." Each p is the one-tailed Welch test that decided
    the word (`speed`, `quality`) at `alpha`.
    """
    base = next((r for r in rows if r["penalty"] == BASELINE), None)
    if base is None:
        return "No runs without a penalty, so nothing can be compared."
    if len({r["group"] for r in rows}) > 1:
        raise ValueError(f"`rows` must be of one {measure.group_label}: {sorted({r['group'] for r in rows})}")
    verbs = {
        "faster": "got there sooner",
        "slower": "got there later",
        "same": "got there no sooner",
        "never": "never got there",
    }
    ends = {"better": "ended better", "worse": "ended worse", "same": "ended no different"}
    parts = []
    for row in rows:
        if row is base:
            continue
        (how, p_how), (end, p_end) = speed(row, base, alpha), quality(row, alpha)
        when = "" if how == "never" else f" ({_epoch(row)}, {_p(p_how)})"
        parts.append(
            f"{row['penalty']} {verbs[how]}{when} and {ends[end]} ({_change(row, base, measure)}, {_p(p_end)})"
        )
    head = (
        f"Against no penalty (final {measure.final} {_value(base['final'][0], measure)}, mean of {base['n']} "
        f"seeds, which its runs reach at {_epoch(base)})"
    )
    if not parts:
        return head + ": nothing else ran."
    return f"{head}: {'; '.join(parts)}."


__all__ = [
    "comparison_sentence",
    "overall_sentence",
    "quality",
    "speed",
    "verdict_rows",
    "verdict_sentences",
    "verdict_table",
]

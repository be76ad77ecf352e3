"""The verdict: does a penalty beat no penalty? A short table and sentences, from run records.

Computed from the records alone (`keras_entropy.experiments.evidence` rows),
so that a report never says more than its numbers:

- `verdict_rows`: per (group, configuration) the final quality with its 95%
  t-interval and its difference from no penalty (Welch interval), the
  Kaplan-Meier median epoch to reach the unpenalised model's median final
  (or best) value (runs that never got there are censored, never averaged),
  and one-tailed p-values in both directions: a better (worse) final
  quality than no penalty and than the peer (Welch t-tests,
  `scipy.stats.ttest_ind`), sooner (later) than no penalty (the exact
  log-rank test, `keras_entropy.experiments.survival.logrank`); every
  p-value of the rows also Benjamini-Hochberg adjusted, the family being
  all of them (`stats.adjust_pvalues`: it controls the false discovery
  rate of the table);
- `verdict_table`: those rows as Markdown, raw and adjusted p-values;
- `verdict_sentences`: per group, what was significantly better, faster, or
  better than the peer (the studies' summaries), on adjusted p-values;
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

from keras_entropy.experiments import stats, survival
from keras_entropy.experiments.evidence import (
    ALPHA,
    BASELINE,
    FORMS,
    PEER,
    PENALTIES,
    TEST_MSE,
    describe_config,
    directions,
    evidence_rows,
    group_order,
    median_epoch,
    reach_cell,
)

#: The p-values of a verdict row, each one-tailed: `(key, against, quantity, direction)`.
TESTS = (
    ("better", BASELINE, "final", 0),
    ("worse", BASELINE, "final", 1),
    ("better_than_peer", PEER, "final", 0),
    ("worse_than_peer", PEER, "final", 1),
    ("sooner", BASELINE, "reach_baseline", 0),
    ("later", BASELINE, "reach_baseline", 1),
)
#: What the sentences say about the tests, once.
CORRECTION = "one-tailed, Benjamini-Hochberg adjusted over the {m} p-values of the table"


def verdict_rows(records, measure=TEST_MSE):
    """Per (group, configuration): final quality, its difference from no penalty, median epochs, p-values.

    With `m = measure` (`evidence.Measure`): the final `m.final`, and the
    epochs until `m.curve` reaches the baseline's median final (or best)
    value. Row keys: `group`, `penalty`, `config` (text), `n`, `epochs`,
    `final` (mean, low, high), `final_samples`, `difference` (mean minus no
    penalty's mean, with its 95% Welch interval; None for no penalty),
    `reach` (Kaplan-Meier median, low, high; None = not reached),
    `reach_times`, `reach_reached` (censored epochs), `never`, `reach_cell`
    (text), `p` (key of `TESTS` -> raw one-tailed p-value, None for the
    reference itself or without it) and `adjusted` (the same keys,
    Benjamini-Hochberg adjusted over every p-value of all rows).
    """
    rows = evidence_rows(records, thresholds=(), measure=measure)
    name, higher, out = f"final_{measure.final}", measure.higher_is_better, []
    base_of = {r["group"]: r for r in rows if r["penalty"] == BASELINE}
    for row in rows:
        finals, events = row["samples"][name], row["epochs_to"]["reach_baseline"]
        found = {
            (against, quantity): directions(rows, row, against, name if quantity == "final" else quantity, higher)
            for against, quantity in {(t[1], t[2]) for t in TESTS}
        }
        base = base_of.get(row["group"])
        out.append(
            {
                "group": row["group"],
                "penalty": row["penalty"],
                "config": describe_config(row),
                "n": row["n"],
                "epochs": row["epochs"],
                "final": stats.t_confidence_interval(finals),
                "final_samples": finals,
                "difference": None
                if base is None or base is row
                else stats.difference_interval(finals, base["samples"][name]),
                "reach": median_epoch(row, "reach_baseline"),
                "reach_times": events["times"],
                "reach_reached": events["reached"],
                "never": row["never"]["reach_baseline"],
                "reach_cell": reach_cell(row, "reach_baseline"),
                "p": {
                    key: None if found[against, quantity] is None else found[against, quantity][direction]
                    for key, against, quantity, direction in TESTS
                },
            }
        )
    keys = [(i, key) for i in range(len(out)) for key, *_ in TESTS]
    adjusted = stats.adjust_pvalues([out[i]["p"][key] for i, key in keys])
    for (i, key), p in zip(keys, adjusted):
        out[i].setdefault("adjusted", {})[key] = p
    return out


def family_size(rows):
    """How many p-values the Benjamini-Hochberg adjustment of `verdict_rows` ran over."""
    return sum(p is not None and not math.isnan(p) for r in rows for p in r["p"].values())


def significant(row, key, alpha=ALPHA):
    """True if the adjusted p-value `key` of `row` is below `alpha`."""
    p = row["adjusted"].get(key)
    return p is not None and not math.isnan(p) and p < alpha


def _final_cell(row, measure):
    if measure.higher_is_better:  # accuracies, in percent
        return stats.format_interval(tuple(100 * v for v in row["final"]), 2) + " %"
    return stats.format_mean_interval(row["final_samples"])


def _difference_cell(row, measure):
    """`+4.50 [+2.42, +6.58] points` (accuracies) or `-5.000e-02 [-5.461e-02, -4.539e-02]`; "-" for no penalty."""
    if row["difference"] is None:
        return "-"
    scale, spec, unit = (100, "+.2f", " points") if measure.higher_is_better else (1, "+.3e", "")
    difference, low, high = (scale * v for v in row["difference"])
    if not (math.isfinite(low) and math.isfinite(high)):
        return f"{difference:{spec}}{unit}"
    return f"{difference:{spec}} [{low:{spec}}, {high:{spec}}]{unit}"


def _target(measure):
    return f"median {measure.target} {measure.curve}"


def verdict_table(rows, measure=TEST_MSE):
    """The verdict as Markdown: final quality and its difference [95% CI], median epochs, raw and adjusted p.

    The group column is left out when all rows share one group; the columns
    against the peer when the peer did not run.
    """
    from keras_entropy.experiments.reports import markdown_table

    groups = len({r["group"] for r in rows}) > 1
    peer = any(r["penalty"] == PEER for r in rows)
    word, opposite = measure.word, _opposite(measure)
    labels = {
        "better": f"p {word} vs none",
        "worse": f"p {opposite} vs none",
        "better_than_peer": f"p {word} vs {PEER}",
        "worse_than_peer": f"p {opposite} vs {PEER}",
        "sooner": "p sooner vs none",
        "later": "p later vs none",
    }
    keys = [key for key, against, *_ in TESTS if peer or against != PEER]
    final_keys = [k for k in keys if k not in ("sooner", "later")]
    header = (
        ([measure.group_label] if groups else [])
        + ["config", "hyperparameters", "n", f"final {measure.final} [95% CI]", "difference vs none [95% CI]"]
        + [labels[k] for k in final_keys]
        + [f"epochs to no penalty's {_target(measure)} (median [95% CI])", labels["sooner"], labels["later"]]
    )
    body = [
        ([r["group"]] if groups else [])
        + [r["penalty"], r["config"], r["n"], _final_cell(r, measure), _difference_cell(r, measure)]
        + [stats.format_pvalues(r["p"][k], r["adjusted"][k]) for k in final_keys]
        + [r["reach_cell"]]
        + [stats.format_pvalues(r["p"][k], r["adjusted"][k]) for k in ("sooner", "later")]
        for r in rows
    ]
    return markdown_table(header, body)


def _opposite(measure):
    return "lower" if measure.higher_is_better else "higher"


def _value(value, measure):
    return f"{100 * value:.2f}%" if measure.higher_is_better else f"{value:.3e}"


def _change(row, base, measure):
    """`-12.3%` (relative, for an MSE) or `+0.45 points` (a difference of percentages, for an accuracy)."""
    if measure.higher_is_better:
        return f"{100 * (row['final'][0] - base['final'][0]):+.2f} points"
    return f"{(row['final'][0] / base['final'][0] - 1) * 100:+.1f}%"


def _how(rows, alpha):
    return f"{CORRECTION.format(m=family_size(rows))}, p < {alpha:g}"


def verdict_sentences(rows, alpha=ALPHA, measure=TEST_MSE):
    """One sentence per group, computed from `verdict_rows`: what beat no penalty (and the peer), by how much.

    Significance is an adjusted p-value below `alpha` (`significant`): a
    better final quality (`measure.final`) than no penalty (and a worse
    one), sooner to the baseline's target on `measure.curve` (the log-rank
    test), and (for the entropy forms, when the peer ran) a better final
    quality than the peer.
    """
    sentences, word, final = [], measure.word, measure.final
    target, how = f"the baseline's {_target(measure)}", _how(rows, alpha)
    for value in sorted({r["group"] for r in rows}, key=group_order):
        group = [r for r in rows if r["group"] == value]
        name = f"{measure.group_label.capitalize()} {value}"
        base = next((r for r in group if r["penalty"] == BASELINE), None)
        if base is None:
            sentences.append(f"{name}: no baseline runs yet, so nothing can be said.")
            continue
        best = (max if measure.higher_is_better else min)(group, key=lambda r: r["final"][0])

        def found(key, penalties=PENALTIES):
            return [r["penalty"] for r in group if r["penalty"] in penalties and significant(r, key, alpha)]

        better, worse, faster, slower = found("better"), found("worse"), found("sooner"), found("later")
        text = f"{name} ({base['n']} baseline runs): " + (
            f"{', '.join(better)} reached a significantly {word} final {final} than no penalty"
            if better
            else f"no penalised configuration reached a significantly {word} final {final} than no penalty"
        )
        if worse:
            text += f"; {', '.join(worse)} ended with a significantly {_opposite(measure)} final {final}"
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
            f"; {', '.join(faster)} reached {target} significantly sooner"
            if faster
            else f"; no penalised configuration reached {target} significantly sooner"
        )
        if slower:
            text += f" ({', '.join(slower)} significantly later)"
        if any(r["penalty"] == PEER for r in group):
            beat_peer = found("better_than_peer", FORMS)
            text += (
                f"; {', '.join(beat_peer)} had a significantly {word} final {final} than the {PEER} peer"
                if beat_peer
                else f"; no entropy form had a significantly {word} final {final} than the {PEER} peer"
            )
        sentences.append(f"{text} ({how}).")
    return sentences


def overall_sentence(rows, alpha=ALPHA, measure=TEST_MSE):
    """One sentence over every group of `verdict_rows`: how many penalised configurations were better, worse, sooner.

    For example "Over 6 architectures (24 penalised configurations, each
    against no penalty in its architecture): 0 ended with a significantly
    higher final test_accuracy, 1 with a significantly lower one (volume in
    1x16), and 0 reached the baseline's median best val_accuracy
    significantly sooner (one-tailed, Benjamini-Hochberg adjusted over the
    240 p-values of the table, p < 0.05)."
    """
    penalised = [r for r in rows if r["penalty"] != BASELINE and r["p"]["better"] is not None]
    groups = sorted({r["group"] for r in rows}, key=group_order)
    better, worse, sooner = ([r for r in penalised if significant(r, k, alpha)] for k in ("better", "worse", "sooner"))
    word = measure.word

    def which(found):
        names = ", ".join(str(r["penalty"]) + " in " + str(r["group"]) for r in found)
        return f" ({names})" if found else ""

    plural = "s" if len(groups) != 1 else ""
    return (
        f"Over {len(groups)} {measure.group_label}{plural} ({len(penalised)} penalised configurations, each "
        f"against no penalty in its {measure.group_label}): {len(better)} ended with a significantly {word} final "
        f"{measure.final}{which(better)}, {len(worse)} with a significantly {_opposite(measure)} one{which(worse)}, "
        f"and {len(sooner)} reached the baseline's {_target(measure)} significantly sooner{which(sooner)} "
        f"({_how(rows, alpha)})."
    )


def speed(row, alpha=ALPHA):
    """How `row` reached no penalty's target: `(label, adjusted p)`.

    "faster": the exact log-rank test for sooner, adjusted p < `alpha`;
    "slower": the test for later, adjusted p < `alpha`; "same": neither (p
    of the test for sooner); "never": no run got there (p None).
    """
    if row["never"] == row["n"]:
        return "never", None
    for label, key in (("faster", "sooner"), ("slower", "later")):
        if significant(row, key, alpha):
            return label, row["adjusted"][key]
    return "same", row["adjusted"]["sooner"]


def quality(row, alpha=ALPHA):
    """Final quality against no penalty: `(label, adjusted p)`, label "better", "worse" or "same".

    "better": a better final quality (lower MSE, higher accuracy), one-tailed
    Welch, adjusted p < `alpha`; "worse": the other tail, adjusted p <
    `alpha`; "same": neither (p of the test for better).
    """
    for label, key in (("better", "better"), ("worse", "worse")):
        if significant(row, key, alpha):
            return label, row["adjusted"][key]
    return "same", row["adjusted"]["better"]


def _p(pvalue):
    if pvalue is None or math.isnan(pvalue):
        return "p n/a"
    return "adjusted p < 0.001" if pvalue < 0.001 else f"adjusted p = {pvalue:.2g}"


def _epoch(row):
    """`median epoch 19 [19, 20]`, `median epoch 38 [31, not reached] (1/3 never)`, or `not reached (3/3 never)`."""
    if row["never"] == row["n"]:
        return f"not reached ({row['n']}/{row['n']} never)"
    return "median epoch " + survival.format_median(row["reach"], never=row["never"], n=row["n"])


def comparison_sentence(rows, alpha=ALPHA, measure=TEST_MSE):
    """One sentence for one group (a width): each penalty's speed and final quality against no penalty.

    Computed from `verdict_rows` (one width): for example "Against no
    penalty (final test_mse 1.058e-02, mean of 5 seeds; its runs reach the
    median final test_mse at median epoch 38 [37, 40] (2/5 never)):
    normalized got there sooner (median epoch 19 [19, 20], adjusted p =
    0.0079) and ended better (-40.1%, adjusted p < 0.001); ... (one-tailed,
    Benjamini-Hochberg adjusted over the 16 p-values of the table, p <
    0.05)." Each p is the adjusted p-value that decided the word (`speed`,
    `quality`).
    """
    base = next((r for r in rows if r["penalty"] == BASELINE), None)
    if base is None:
        return "No runs without a penalty, so nothing can be compared."
    if len({r["group"] for r in rows}) > 1:
        raise ValueError(f"`rows` must be of one {measure.group_label}: {sorted({r['group'] for r in rows})}")
    verbs = {
        "faster": "got there sooner",
        "slower": "got there later",
        "same": "was not significantly sooner",
        "never": "never got there",
    }
    ends = {"better": "ended better", "worse": "ended worse", "same": "ended no different"}
    parts = []
    for row in rows:
        if row is base:
            continue
        (how, p_how), (end, p_end) = speed(row, alpha), quality(row, alpha)
        when = "" if how == "never" else f" ({_epoch(row)}, {_p(p_how)})"
        parts.append(
            f"{row['penalty']} {verbs[how]}{when} and {ends[end]} ({_change(row, base, measure)}, {_p(p_end)})"
        )
    head = (
        f"Against no penalty (final {measure.final} {_value(base['final'][0], measure)}, mean of {base['n']} "
        f"seeds; its runs reach their own {_target(measure)} at {_epoch(base)})"
    )
    if not parts:
        return head + ": nothing else ran."
    sentence = f"{head}: {'; '.join(parts)} ({_how(rows, alpha)})."
    floor = sooner_floor(rows)
    if floor is not None and floor >= alpha:
        n = max(r["n"] for r in rows if r is not base)
        sentence += (
            f" With {n} runs against {base['n']}, the exact log-rank test cannot give a p-value below "
            f'{floor:.2g}, so no "sooner" can be significant: more seeds can.'
        )
    return sentence


def next_step(rows, alpha=ALPHA, measure=TEST_MSE):
    """What a user should do with a one-group verdict, in one sentence computed from `verdict_rows`.

    Which penalty to use (one that ended significantly better; the peer
    when no entropy form beat it), or none; a "sooner" without a better end
    is called a speed-up only; and what would make the answer firmer.

    >>> rows = [
    ...     {"penalty": "none", "n": 3, "epochs": 40, "final": (0.5, 0.4, 0.6), "adjusted": {}},
    ...     {"penalty": "paper", "n": 3, "epochs": 40, "final": (0.6, 0.5, 0.7), "adjusted": {"better": 0.9}},
    ... ]
    >>> next_step(rows)
    'What to do: nothing here beat no penalty, so train without one, or tune lam on your own data first.'
    """
    if not any(r["penalty"] == BASELINE for r in rows):
        return "What to do: run no penalty too; without it there is nothing to compare against."
    pick = min if not measure.higher_is_better else max
    better = [r for r in rows if r["penalty"] != BASELINE and significant(r, "better", alpha)]
    sooner = [r for r in rows if r["penalty"] != BASELINE and significant(r, "sooner", alpha) and r not in better]
    forms = [r for r in better if r["penalty"] in FORMS]
    peer = next((r for r in better if r["penalty"] == PEER), None)
    if not better:
        text = "nothing here beat no penalty, so train without one, or tune lam on your own data first"
        if sooner:
            text += f" ({', '.join(r['penalty'] for r in sooner)} only got there sooner: a speed-up, not a better end)"
    elif forms and any(significant(r, "better_than_peer", alpha) for r in forms):
        best = pick((r for r in forms if significant(r, "better_than_peer", alpha)), key=lambda r: r["final"][0])
        text = f"use {best['penalty']} at these settings ({best['config']}): it ended better than no penalty and peer"
    elif forms and peer is not None:
        text = (
            f"{', '.join(r['penalty'] for r in forms)} ended better than no penalty, but no better than Keras's own "
            f"{PEER} peer, which needs no add-on: either will do"
        )
    elif forms:
        best = pick(forms, key=lambda r: r["final"][0])
        text = f"use {best['penalty']} at these settings ({best['config']}): it ended better than no penalty"
    else:
        text = f"use Keras's own {PEER} peer: it ended better than no penalty and no entropy form did"
    if better:
        text += f" (after {max(r['epochs'] for r in rows)} epochs of this data: check it on yours before relying on it)"
    return f"What to do: {text}."


def sooner_floor(rows):
    """The smallest p-value the exact log-rank test can give any penalised row of `rows` (None: no test).

    A one-sided exact permutation test of `n` runs against `m` cannot go below
    `1 / C(n + m, n)`: 1/20 for 3 against 3, 1/252 for 5 against 5.

    >>> rows = [{"penalty": "none", "group": 100, "n": 3}, {"penalty": "paper", "group": 100, "n": 3}]
    >>> sooner_floor(rows)
    0.05
    """
    floors = []
    for row in rows:
        base = next((r for r in rows if r["group"] == row["group"] and r["penalty"] == BASELINE), None)
        if row["penalty"] != BASELINE and base is not None:
            floors.append(1 / math.comb(row["n"] + base["n"], row["n"]))
    return min(floors) if floors else None


__all__ = [
    "CORRECTION",
    "TESTS",
    "comparison_sentence",
    "family_size",
    "overall_sentence",
    "quality",
    "next_step",
    "significant",
    "sooner_floor",
    "speed",
    "verdict_rows",
    "verdict_sentences",
    "verdict_table",
]

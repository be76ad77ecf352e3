"""The verdict: does a penalty beat no penalty? A short table and sentences, from run records.

Computed from the records alone (`keras_entropy.experiments.evidence` rows),
so that a report never says more than its numbers:

- `verdict_rows`: per (width, configuration) the final quality with its 95%
  t-interval, the epochs to reach the unpenalised model's mean final
  quality ("never" counted as one epoch past the last), and one-tailed Welch
  p-values: lower final quality than no penalty and than the peer, fewer
  epochs than no penalty;
- `verdict_table`: those rows as Markdown;
- `verdict_sentences`: per width, what was significantly better, faster, or
  better than the peer (the studies' summaries);
- `comparison_sentence`: one sentence in words for one width, naming each
  penalty as faster, slower, no different or never there, and whether it
  ended better or worse (the README's first command).

Lower is better for the metric (an MSE) and for the epochs.
"""

import math

from keras_entropy.experiments import stats
from keras_entropy.experiments.evidence import (
    ALPHA, BASELINE, FORMS, PEER, PENALTIES, describe_config, evidence_rows, improvement, reach_cell)


def verdict_rows(records, metric="test_mse"):
    """Per (width, configuration): final `metric` (95% CI), epochs to reach the baseline's final `metric`, p.

    Row keys: `latent_dim`, `penalty`, `config` (text), `n`, `epochs`,
    `final` (mean, low, high), `final_samples`, `reach` (mean epochs, never
    counted as epochs + 1), `reach_samples`, `never`, `reach_cell` (text),
    `p_vs_baseline` and `p_vs_peer` (one-tailed Welch: lower final `metric`;
    None for the reference itself or without it) and `p_sooner` (one-tailed
    Welch: fewer epochs to the baseline's final `metric` than no penalty).
    """
    rows = evidence_rows(records, thresholds=(), metric=metric)
    out = []
    for row in rows:
        finals = row["samples"][f"final_{metric}"]
        tests = {against: improvement(rows, row, against, f"final_{metric}") for against in (BASELINE, PEER)}
        sooner = improvement(rows, row, BASELINE, "reach_baseline")
        reach = row["samples"]["reach_baseline"]
        out.append({"latent_dim": row["latent_dim"], "penalty": row["penalty"], "config": describe_config(row),
                    "n": row["n"], "epochs": row["epochs"], "final": stats.t_confidence_interval(finals),
                    "final_samples": finals, "reach": sum(reach) / len(reach) if reach else math.nan,
                    "reach_samples": reach, "never": row["never"]["reach_baseline"],
                    "reach_cell": reach_cell(row, "reach_baseline"),
                    "p_vs_baseline": None if tests[BASELINE] is None else tests[BASELINE]["pvalue"],
                    "p_vs_peer": None if tests[PEER] is None else tests[PEER]["pvalue"],
                    "p_sooner": None if sooner is None else sooner["pvalue"]})
    return out


def verdict_table(rows, metric="test_mse"):
    """The verdict as Markdown: config, final quality [95% CI], epochs to the baseline's, p-values.

    The width column is left out when all rows share one width; the column
    against the peer when the peer did not run.
    """
    from keras_entropy.experiments.reports import markdown_table

    widths = len({r["latent_dim"] for r in rows}) > 1
    peer = any(r["penalty"] == PEER for r in rows)
    header = (["width"] if widths else []) + [
        "config", "hyperparameters", "n", f"final {metric} [95% CI]", f"epochs to no penalty's final {metric}",
        "p lower vs none"] + (["p lower vs orthogonal"] if peer else []) + ["p sooner vs none"]
    names = ("p_vs_baseline",) + (("p_vs_peer",) if peer else ()) + ("p_sooner",)
    body = [([r["latent_dim"]] if widths else []) + [r["penalty"], r["config"], r["n"],
                                                      stats.format_mean_interval(r["final_samples"]), r["reach_cell"]]
            + ["-" if r[name] is None else stats.format_pvalue(r[name]) for name in names] for r in rows]
    return markdown_table(header, body)


def verdict_sentences(rows, alpha=ALPHA, metric="test_mse"):
    """One sentence per width, computed from `verdict_rows`: what beat no penalty (and the peer), by how much.

    Significance is one-tailed Welch at `alpha`: a lower final `metric`
    than no penalty, fewer epochs to the baseline's final `metric`, and (for
    the entropy forms, when the peer ran) a lower final `metric` than the peer.
    """
    sentences = []
    for width in sorted({r["latent_dim"] for r in rows}):
        group = [r for r in rows if r["latent_dim"] == width]
        base = next((r for r in group if r["penalty"] == BASELINE), None)
        if base is None:
            sentences.append(f"Width {width}: no baseline runs yet, so nothing can be said.")
            continue
        best = min(group, key=lambda r: r["final"][0])

        def significant(name, penalties=PENALTIES):
            return [r["penalty"] for r in group
                    if r["penalty"] in penalties and r[name] is not None and r[name] < alpha]

        better, faster = significant("p_vs_baseline"), significant("p_sooner")
        text = (f"Width {width} ({base['n']} baseline runs): " +
                (f"{', '.join(better)} reached a significantly lower final {metric} than no penalty "
                 f"(one-tailed Welch, p < {alpha:g})" if better else
                 f"no penalised configuration reached a significantly lower final {metric} than no penalty "
                 f"(one-tailed Welch, p < {alpha:g})"))
        if best is base:
            text += f"; no penalty had the lowest mean ({base['final'][0]:.3e})"
        else:
            change = (best["final"][0] / base["final"][0] - 1) * 100
            text += (f"; the lowest mean was {best['penalty']} ({best['final'][0]:.3e}, {change:+.1f}% against "
                     f"{base['final'][0]:.3e} without penalty)")
        text += (f"; {', '.join(faster)} reached the baseline's final {metric} in significantly fewer epochs"
                 if faster else
                 f"; no penalised configuration reached the baseline's final {metric} in significantly fewer epochs")
        if any(r["penalty"] == PEER for r in group):
            beat_peer = significant("p_vs_peer", FORMS)
            text += (f"; {', '.join(beat_peer)} had a significantly lower final {metric} than the {PEER} peer"
                     if beat_peer else f"; no entropy form had a significantly lower final {metric} than the "
                     f"{PEER} peer")
        sentences.append(text + ".")
    return sentences


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

    "better": lower final metric, one-tailed Welch p < `alpha`; "worse":
    higher, p < `alpha` the other way (`1 - p` of the same statistic); p is
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


def comparison_sentence(rows, alpha=ALPHA, metric="test_mse"):
    """One sentence for one width: each penalty's speed and final quality against no penalty.

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
    if len({r["latent_dim"] for r in rows}) > 1:
        raise ValueError(f"`rows` must be of one width: {sorted({r['latent_dim'] for r in rows})}")
    verbs = {"faster": "got there sooner", "slower": "got there later", "same": "got there no sooner",
             "never": "never got there"}
    ends = {"better": "ended better", "worse": "ended worse", "same": "ended no different"}
    parts = []
    for row in rows:
        if row is base:
            continue
        (how, p_how), (end, p_end) = speed(row, base, alpha), quality(row, alpha)
        when = "" if how == "never" else f" ({_epoch(row)}, {_p(p_how)})"
        change = (row["final"][0] / base["final"][0] - 1) * 100
        parts.append(f"{row['penalty']} {verbs[how]}{when} and {ends[end]} ({change:+.1f}%, {_p(p_end)})")
    head = (f"Against no penalty (final {metric} {base['final'][0]:.3e}, mean of {base['n']} seeds, which its "
            f"runs reach at {_epoch(base)})")
    if not parts:
        return head + ": nothing else ran."
    return f"{head}: {'; '.join(parts)}."


__all__ = ["comparison_sentence", "quality", "speed", "verdict_rows", "verdict_sentences", "verdict_table"]

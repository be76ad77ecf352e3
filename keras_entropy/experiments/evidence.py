"""Does a penalty help? A penalty against no penalty and a peer, from per-epoch records.

The dense autoencoder study (examples/dense_autoencoder_study.py, issue 12)
compares, per latent width, five configurations (`PENALTIES`): no penalty,
`DenseEntropy` in each of its three forms, and Keras's own
`OrthogonalRegularizer` as a peer, each on the encoder or the decoder
kernel, at hyperparameters chosen on a validation split (the script builds
the model; its search, runs and report: `keras_entropy.experiments.autoencoder_study`).
This module holds no model: the configurations' names, the choice of
hyperparameters from search trials (`chosen_hyperparameters`), and the
evidence, computed from the records alone:

- `Measure`: what a study compares (`MSE`, `TEST_MSE` for the autoencoder;
  `ACCURACY` for the CNN study, examples/cnn_study.py, where higher is
  better): the config key its runs are grouped by, the metric per epoch,
  the final quality, the direction and the value to reach;
- `evidence_rows`: per (group, configuration) the per-seed samples of the
  best and final validation metric and the final test metric, and, as
  censored data (`keras_entropy.experiments.survival`), the epochs to reach
  the baseline's median final (or best) validation metric and fixed
  thresholds (a run that never gets there is censored at its last epoch)
  and the stopping epochs of the paper's rule (patience on the validation
  metric and on val loss) replayed afterwards (censored at the cap);
- `evidence_table`, `tests_table`: those as Markdown: 95% t-intervals for
  the metrics, Kaplan-Meier medians for the epochs; one-tailed Welch
  t-tests and exact log-rank tests against no penalty and against the
  peer, both directions, Benjamini-Hochberg adjusted over the table.

The short answer computed from these rows is `keras_entropy.experiments.verdict`;
the convergence figures are `keras_entropy.experiments.curves`.

Records are those of `keras_entropy.experiments.sweeps` (`config` with the
group's key (`latent_dim`, `arch`), `penalty`, `learning_rate`, `lam`,
`placement`, `epochs`; `history` with the measure's metrics per epoch;
`stopping`). Every function over records is pure. Keras, numpy, scipy,
matplotlib and the report helpers are imported lazily, so that a script's
--help starts none.
"""

import dataclasses
import math
import statistics

from keras_entropy.experiments import stats, survival

#: The configurations: no penalty, the three forms of `DenseEntropy`, and the peer.
BASELINE = "none"
PEER = "orthogonal"
FORMS = ("paper", "volume", "normalized")
PENALTIES = (BASELINE, *FORMS, PEER)
#: The kernels a penalty can go on; the baseline's placement is `NO_PLACEMENT`.
PLACEMENTS = ("encoder", "decoder")
NO_PLACEMENT = "none"
#: The paper's stopping rule, replayed on each monitor after training.
MONITORS = ("val_mse", "val_loss")
ALPHA = 0.05


# ---------------------------------------------------------------------------
# What a study measures.


@dataclasses.dataclass(frozen=True)
class Measure:
    """What a study compares: how its runs are grouped, the metric per epoch, the final quality, their direction.

    Attributes:
        group: the config key of the model variant whose runs are compared
            (`latent_dim` for the dense autoencoder, `arch` for the CNN).
        group_label: that key in words ("width", "architecture").
        curve: the per-epoch metric whose epochs to reach a value are
            counted, and whose best and final values are reported.
        final: the quality compared after the last epoch (a test metric).
        higher_is_better: the direction of `curve` and `final` (and of a
            search trial's score).
        target: the value every run must reach on `curve`: the baseline's
            mean "final" or mean "best" value.
        monitors: the monitors of the paper's stopping rule, replayed on the
            histories (absent from the records: no stopping columns).
    """

    group: str = "latent_dim"
    group_label: str = "width"
    curve: str = "val_mse"
    final: str = "test_mse"
    higher_is_better: bool = False
    target: str = "final"
    monitors: tuple = MONITORS

    def better(self, a, b):
        """True if value `a` is strictly better than `b`."""
        return a > b if self.higher_is_better else a < b

    def reached(self, value, threshold):
        """True if `value` is at least as good as `threshold`."""
        return value >= threshold if self.higher_is_better else value <= threshold

    def best(self, values):
        """The best of `values` (Nones skipped)."""
        values = [v for v in values if v is not None]
        return max(values) if self.higher_is_better else min(values)

    @property
    def word(self):
        """ "higher" or "lower": the better direction, in words."""
        return "higher" if self.higher_is_better else "lower"


#: The dense autoencoder study: per width, validation MSE per epoch, test MSE after the last (lower is better).
MSE = Measure()
#: Its verdict, and the README's first command's: the test MSE per epoch, and the baseline's final test MSE to reach.
TEST_MSE = Measure(curve="test_mse")
#: The CNN study: per architecture, validation accuracy per epoch (the baseline's best to reach), test accuracy.
ACCURACY = Measure(
    group="arch",
    group_label="architecture",
    curve="val_accuracy",
    final="test_accuracy",
    higher_is_better=True,
    target="best",
    monitors=("val_accuracy", "val_loss"),
)


# ---------------------------------------------------------------------------
# The choice of hyperparameters from search trials.


def trial_score(record, measure=MSE):
    """A trial's score: the best `measure.curve` value within its epochs (the tuner's, else from its history)."""
    score = (record.get("tuner") or {}).get("score")
    if score is None:
        values = [v for v in record["history"].get(measure.curve, []) if v is not None]
        score = measure.best(values) if values else math.nan
    return float(score)


def chosen_hyperparameters(trial_records, measure=MSE):
    """`{(group, penalty): best trial's config, with its "score"}`; ties go to the first trial.

    The configs of the trials name `measure.group`, `penalty`,
    `learning_rate`, `lam` and `placement` (see
    examples/dense_autoencoder_study.py and examples/cnn_study.py, which
    export them so).
    """
    best = {}
    for record in trial_records:
        config, score = record["config"], trial_score(record, measure)
        cell = (config[measure.group], config["penalty"])
        if not math.isnan(score) and (cell not in best or measure.better(score, best[cell]["score"])):
            best[cell] = {
                "learning_rate": config["learning_rate"],
                "lam": config.get("lam", 0.0),
                "placement": config.get("placement", NO_PLACEMENT),
                "score": score,
            }
    return best


# ---------------------------------------------------------------------------
# Evidence from the final runs' records.


def group_order(value):
    """Groups sort by their numbers: widths ascending, architectures "2x16" by width, then depth."""
    if isinstance(value, str) and "x" in value:
        depth, _, width = value.partition("x")
        if depth.isdigit() and width.isdigit():
            return (int(width), int(depth))
    return (value,)


def cells(records, measure=MSE):
    """`{(group, penalty): [records]}`, groups in order (`latent_dim` ascending), penalties in `PENALTIES` order."""
    grouped = {}
    for record in records:
        grouped.setdefault((record["config"][measure.group], record["config"]["penalty"]), []).append(record)
    order = {p: i for i, p in enumerate(PENALTIES)}
    return {
        cell: grouped[cell] for cell in sorted(grouped, key=lambda c: (group_order(c[0]), order.get(c[1], len(order))))
    }


def first_epoch_reaching(values, threshold, higher_is_better=False):
    """The first epoch (from 1) whose value is at least as good as `threshold`; None if none is.

    >>> first_epoch_reaching([0.3, 0.2, 0.1], 0.2), first_epoch_reaching([0.3], 0.1)
    (2, None)
    >>> first_epoch_reaching([0.90, 0.97, 0.98], 0.975, higher_is_better=True)
    3
    """
    epoch, reached = survival.time_to_reach(values, threshold, higher_is_better=higher_is_better)
    return epoch if reached else None


def first_epoch_at_or_below(values, threshold):
    """The first epoch (from 1) whose value is <= `threshold`; None if none is (`first_epoch_reaching`)."""
    return first_epoch_reaching(values, threshold)


def final_value(record, metric):
    """The metric after the last epoch."""
    return record["history"][metric][-1]


def baseline_target(records, group, measure=MSE):
    """The baseline's median over seeds of its final (or best: `measure.target`) `measure.curve` in `group`.

    The median, not the mean: one diverged baseline seed would move a mean
    target (up, for an error) until the baseline's other seeds reach it
    early, and every "sooner" would be measured against that seed. The
    median moves with it by at most one rank. nan without baseline runs in
    that group.
    """
    runs_ = [r for r in records if r["config"][measure.group] == group and r["config"]["penalty"] == BASELINE]
    if measure.target == "best":
        values = [measure.best(r["history"][measure.curve]) for r in runs_]
    else:
        values = [final_value(r, measure.curve) for r in runs_]
    return float(statistics.median(values)) if values else math.nan


def _reach(group, measure, threshold):
    """Epochs to reach `threshold` per run, censored at the last epoch: `{"times", "reached"}`."""
    pairs = [
        survival.time_to_reach(r["history"][measure.curve], threshold, higher_is_better=measure.higher_is_better)
        for r in group
    ]
    return {"times": [t for t, _ in pairs], "reached": [reached for _, reached in pairs]}


def evidence_rows(records, thresholds=(0.01, 0.006), metric=None, measure=MSE):
    """One row per (group, configuration): its hyperparameters, per-seed samples and censored epochs.

    Row keys: `group` (the value of `measure.group`), `penalty`, `config`
    (learning_rate, lam, placement), `n`, `epochs`, `baseline_final` (the
    baseline's target on `measure.curve` in that group, see
    `baseline_target`), `samples` (name -> list over seeds: `best_<c>`,
    `final_<c>` and `final_<measure.final>`, with `c` = `measure.curve`),
    `epochs_to` (name -> `{"times", "reached"}` over seeds: `reach_baseline`
    and `reach_<threshold>`, the first epoch with `c` at least as good as it,
    censored at the last epoch when a run never gets there; `stop_<monitor>`
    for the `measure.monitors` the records hold, the stopping epoch of the
    paper's rule, censored at the cap when the rule never fired) and `never`
    (name -> runs censored). Epochs are censored data: `survival`, never a
    mean. `metric` replaces `measure.curve`.
    """
    if metric is not None:
        measure = dataclasses.replace(measure, curve=metric)
    curve, rows = measure.curve, []
    for (group_value, penalty), group in cells(records, measure).items():
        target = baseline_target(records, group_value, measure)
        samples = {
            f"best_{curve}": [measure.best(r["history"][curve]) for r in group],
            f"final_{curve}": [final_value(r, curve) for r in group],
            f"final_{measure.final}": [final_value(r, measure.final) for r in group],
        }
        epochs_to = {}
        for name, threshold in [("reach_baseline", target)] + [(f"reach_{t:g}", t) for t in thresholds]:
            epochs_to[name] = (
                _reach(group, measure, threshold)
                if not math.isnan(threshold)
                else {"times": [len(r["history"][curve]) for r in group], "reached": [False] * len(group)}
            )
        for monitor in measure.monitors:
            if all(monitor in r.get("stopping", {}) for r in group):
                epochs_to[f"stop_{monitor}"] = {
                    "times": [r["stopping"][monitor]["epoch"] for r in group],
                    "reached": [bool(r["stopping"][monitor]["stopped"]) for r in group],
                }
        config = group[0]["config"]
        rows.append(
            {
                "group": group_value,
                "penalty": penalty,
                "n": len(group),
                "baseline_final": target,
                "epochs": max(len(r["history"][curve]) for r in group),
                "config": {k: config.get(k) for k in ("learning_rate", "lam", "placement")},
                "samples": samples,
                "epochs_to": epochs_to,
                "never": {name: e["reached"].count(False) for name, e in epochs_to.items()},
            }
        )
    return rows


def describe_config(row):
    """`lr 0.003, lam 0.01, encoder` (`lr 0.001` for no penalty)."""
    config = row["config"]
    if row["penalty"] == BASELINE:
        return f"lr {config['learning_rate']:g}"
    return f"lr {config['learning_rate']:g}, lam {config['lam']:g}, {config['placement']}"


def _table(header, body):
    from keras_entropy.experiments.reports import markdown_table

    return markdown_table(header, body)


def median_epoch(row, name):
    """`survival.median_epoch` of the row's censored epochs `name`: `(median, low, high)`, None = not reached."""
    events = row["epochs_to"][name]
    return survival.median_epoch(events["times"], events["reached"])


def reach_cell(row, name):
    """Epochs to reach, as a table cell: Kaplan-Meier median [95% CI] and the runs that never got there.

    `19 [17, 22]`, `38 [31, not reached] (2/5 never)`, or `not reached (5/5 never)`.
    """
    never, n = row["never"][name], row["n"]
    if never == n:
        return f"not reached ({n}/{n} never)"
    return survival.format_median(median_epoch(row, name), never=never, n=n)


def _stop_cell(row, name):
    if name not in row["epochs_to"]:
        return "-"
    capped, n = row["never"][name], row["n"]
    cell = survival.format_median(median_epoch(row, name)) if capped < n else "not reached"
    return cell + (f" (cap {capped}/{n})" if capped else "")


def _value_cell(values, measure):
    if measure.higher_is_better:  # accuracies, in percent
        return stats.format_interval(tuple(100 * v for v in stats.t_confidence_interval(values)), 2) + " %"
    return stats.format_mean_interval(values)


def evidence_table(rows, thresholds=(0.01, 0.006), metric=None, measure=MSE):
    """The main table (Markdown): per (group, configuration), median epochs (Kaplan-Meier) and 95% t-intervals."""
    if metric is not None:
        measure = dataclasses.replace(measure, curve=metric)
    curve = measure.curve
    target = "final" if measure.target == "final" else "best"
    header = [measure.group_label, "config", "hyperparameters", "n", f"epochs to baseline's median {target} {curve}"]
    header += [f"epochs to {curve} {'>=' if measure.higher_is_better else '<='} {t:g}" for t in thresholds]
    header += [f"stop epoch ({m}, patience rule)" for m in measure.monitors]
    header += [f"best {curve}", f"final {measure.final}"]
    body = []
    for row in rows:
        body.append(
            [row["group"], row["penalty"], describe_config(row), row["n"], reach_cell(row, "reach_baseline")]
            + [reach_cell(row, f"reach_{t:g}") for t in thresholds]
            + [_stop_cell(row, f"stop_{m}") for m in measure.monitors]
            + [
                _value_cell(row["samples"][f"best_{curve}"], measure),
                _value_cell(row["samples"][f"final_{measure.final}"], measure),
            ]
        )
    return _table(header, body)


def results_note(epochs, patience, measure=MSE):
    """The paragraph before `evidence_table` in a study's summary.md: what its cells are."""
    target = "final" if measure.target == "final" else "best"
    direction = "at or above" if measure.higher_is_better else "at or below"
    unit = "; accuracies in percent" if measure.higher_is_better else ""
    return (
        f"Cells: metrics as mean over seeds [95% t-interval]{unit}; epochs as the Kaplan-Meier median [95% "
        f'interval] (the first epoch by which half the runs had got there). Epochs count from 1. "Epochs to '
        f"baseline's median {target}\": the first epoch whose {measure.curve} is {direction} the median over "
        f"the baseline's seeds of their {target} {measure.curve} (the median: one diverged seed cannot move it "
        f'far); a run that never gets there within its {epochs} epochs is censored there, counted as "never" '
        'and never averaged; "not reached": the runs did not get that far. `stop epoch`: the epoch at which '
        f"Keras's EarlyStopping rule (patience {patience}) would fire on that monitor; `(cap k/n)`: in k runs it "
        f"never fired within {epochs} epochs (censored the same way). `val_loss` includes the penalty."
    )


#: The paragraph before `tests_table` in a study's summary.md.
TESTS_NOTE = (
    "Every test against no penalty and against the orthogonal peer, both directions, one-tailed: Welch t-tests "
    "(`scipy.stats.ttest_ind`) for the metrics, the exact permutation log-rank test for the censored epochs "
    "(`keras_entropy.experiments.survival.logrank`). `adj`: Benjamini-Hochberg adjusted over every p-value of "
    "this table (it bounds the expected share of false discoveries among those below 0.05); `*` adjusted p < "
    "0.05, `**` < 0.01, `***` < 0.001."
)


def tested(measure=MSE):
    """The quantities `tests_table` tests: `(name, label, higher_is_better)`; `reach_baseline` is censored epochs."""
    target = "final" if measure.target == "final" else "best"
    return (
        (f"best_{measure.curve}", f"best {measure.curve.replace('_', ' ')}", measure.higher_is_better),
        (f"final_{measure.final}", f"final {measure.final.replace('_', ' ')}", measure.higher_is_better),
        ("reach_baseline", f"epochs to baseline's median {target} {measure.curve.replace('_', ' ')}", False),
    )


def _reference(rows, row, against):
    reference = next((r for r in rows if r["group"] == row["group"] and r["penalty"] == against), None)
    return None if reference is None or reference is row else reference


def improvement(rows, row, against, name, higher_is_better=False):
    """`stats.improvement_test` of `row` against the row of configuration `against` in its group (None: absent)."""
    reference = _reference(rows, row, against)
    if reference is None:
        return None
    return stats.improvement_test(reference["samples"][name], row["samples"][name], higher_is_better=higher_is_better)


def directions(rows, row, against, name, higher_is_better=False):
    """Both one-tailed p-values of `row` against `against` in its group: `(p better, p worse)`; None if absent.

    A sample in `samples` (a final quality): one-tailed Welch t-tests
    (`scipy.stats.ttest_ind`), "better" in the direction of
    `higher_is_better`. Censored epochs in `epochs_to`: the exact log-rank
    test (`survival.logrank`), "better" = sooner.
    """
    reference = _reference(rows, row, against)
    if reference is None:
        return None
    if name in row["epochs_to"]:
        mine, theirs = row["epochs_to"][name], reference["epochs_to"][name]
        return tuple(
            survival.logrank(
                mine["times"], mine["reached"], theirs["times"], theirs["reached"], alternative=alternative
            )["pvalue"]
            for alternative in ("sooner", "later")
        )
    tails = ("greater", "less") if higher_is_better else ("less", "greater")
    return tuple(
        stats.ttest(row["samples"][name], reference["samples"][name], alternative=tail)["pvalue"] for tail in tails
    )


def tests_table(rows, measure=MSE):
    """Every test against no penalty and the peer (Markdown), both directions, Benjamini-Hochberg adjusted.

    One line per (group, configuration, quantity, reference): the
    one-tailed p-values of "better" and "worse" (Welch t-tests for the
    metrics, the exact log-rank test for the censored epochs), raw and
    adjusted over every p-value of the table (`stats.adjust_pvalues`).
    """
    lines = []
    for row in rows:
        for name, label, higher in tested(measure):
            for against in (BASELINE, PEER):
                found = directions(rows, row, against, name, higher)
                if found is not None:
                    lines.append(([row["group"], row["penalty"], label, against], found))
    adjusted = stats.adjust_pvalues([p for _, found in lines for p in found])
    body = [
        head + [stats.format_pvalues(p, adjusted[2 * i + k]) for k, p in enumerate(found)]
        for i, (head, found) in enumerate(lines)
    ]
    header = [measure.group_label, "config", "quantity", "against", "p better (sooner)", "p worse (later)"]
    return _table(header, body)


__all__ = [
    "ACCURACY",
    "ALPHA",
    "BASELINE",
    "FORMS",
    "MONITORS",
    "MSE",
    "Measure",
    "NO_PLACEMENT",
    "PEER",
    "PENALTIES",
    "PLACEMENTS",
    "TESTS_NOTE",
    "TEST_MSE",
    "baseline_target",
    "cells",
    "chosen_hyperparameters",
    "describe_config",
    "directions",
    "evidence_rows",
    "evidence_table",
    "final_value",
    "first_epoch_at_or_below",
    "first_epoch_reaching",
    "group_order",
    "improvement",
    "median_epoch",
    "reach_cell",
    "results_note",
    "tested",
    "tests_table",
    "trial_score",
]

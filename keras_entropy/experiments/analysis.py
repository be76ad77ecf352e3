"""From run records to tables and sentences: the one analysis path of the experiments.

Every experiment records its runs with `keras_entropy.experiments.sweeps`
(a resumable JSON Lines file; records with `config`, `history` per epoch,
`stopping`); this module turns such records into what a reader sees,
without re-training. Its figures are `keras_entropy.experiments.figures`;
its statistics `keras_entropy.experiments.stats` (t-intervals, Welch
t-tests, Benjamini-Hochberg) and `keras_entropy.experiments.survival`
(epochs as censored data: Kaplan-Meier medians, exact log-rank tests).

**Penalty against no penalty and a peer** (the tuned studies,
examples/dense_autoencoder_study.py and examples/cnn_study.py, and the
README's first command, examples/compare_penalties.py):

- the configurations (`PENALTIES`: `BASELINE`, the three `FORMS`, the
  `PEER`) and what a study measures (`Measure`: `MSE`, `TEST_MSE`,
  `ACCURACY`); the choice of hyperparameters from search trials on a
  validation split (`chosen_hyperparameters`);
- `evidence_rows`: per (group, configuration) the per-seed samples of the
  best and final validation metric and the final test metric, and, as
  censored data, the epochs to reach the baseline's median final (or best)
  value and fixed thresholds (a run that never gets there is censored at its
  last epoch) and the stopping epochs of the paper's patience rule replayed
  afterwards (censored at the cap); `evidence_table`, `tests_table`: those
  as Markdown, with one-tailed tests against no penalty and the peer, both
  directions, Benjamini-Hochberg adjusted over the table;
- `verdict_rows`, `verdict_table`, `verdict_sentences`, `overall_sentence`,
  `comparison_sentence`, `next_step`: the short answer (does a penalty beat
  no penalty, sooner or better?), on adjusted p-values, so that a report
  never says more than its numbers;
- `TUNED`, `configs`, `summary_lines`: the first command's four tuned
  configurations and its summary.md.

**The paper's sweeps** (examples/dense_autoencoder.py,
cnn_classification.py, large_cnn_classification.py):

- `write_sweep_report`: the paper's Figures 3-6 and tables from a results
  file: a metric at the stopping epoch and the stopping epoch against a
  config entry, one line per strength, pairwise tests between strengths
  (`pairwise_tests`), and one-tailed tests against no penalty; stopping
  epochs are censored at the epoch cap (`(cap k/n)`), so they get
  Kaplan-Meier medians and log-rank tests, never a mean;
- `improvement_table` (the paper's Table 1: does the entropy loss improve
  accuracy?) and `accuracy_grid` (Table 2);
- `results_frame` (one row per run, pandas), `markdown_table` (the one
  Markdown table builder of the harness) and `run_header`.

Each table of tests is one family: its p-values are Benjamini-Hochberg
adjusted together (`stats.adjust_pvalues`), and the tables show the raw
and the adjusted p-value. The functions over records are pure; pandas is
imported where a frame is built.
"""

import dataclasses
import math
import os
import statistics

from keras_entropy import validation
from keras_entropy.experiments import script_setup, stats, survival, sweeps
from keras_entropy.experiments.paper import NO_PLACEMENT
from keras_entropy.validation import FORMS

# ===========================================================================
# The configurations, what a study measures, and the evidence per configuration.


#: The configurations: no penalty, the three forms of `DenseEntropy`, and the peer.
BASELINE = "none"
PEER = "orthogonal"
PENALTIES = (BASELINE, *FORMS, PEER)
#: The kernels a penalty can go on; the baseline's placement is `NO_PLACEMENT`.
PLACEMENTS = ("encoder", "decoder")
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
    return markdown_table(header, body)


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
    return markdown_table(header, body)


def write_trials_csv(path, trials, configs, measure=MSE):
    """A tuned study's trials.csv: one line per search trial, its score, and whether its configuration was chosen.

    Columns: `measure.group`, `penalty`, `learning_rate`, `lam`,
    `placement`, `trial_epochs`, the score (`score_min_val_mse`,
    `score_max_val_accuracy`: `trial_score`), `best_epoch`, `trial_id` and
    `chosen` (the configuration is one of `configs`, the final runs').
    """
    fields = (measure.group, "penalty", "learning_rate", "lam", "placement")
    chosen = {tuple(c[k] for k in fields) for c in configs}
    score = f"score_{'max' if measure.higher_is_better else 'min'}_{measure.curve}"
    with open(path, "w", encoding="utf-8") as f:
        f.write(",".join(fields) + f",trial_epochs,{score},best_epoch,trial_id,chosen\n")
        for r in trials:
            c, tuner = r["config"], r.get("tuner") or {}
            f.write(
                f"{c[measure.group]},{c['penalty']},{c['learning_rate']:g},{c['lam']:g},{c['placement']},"
                f"{c['trial_epochs']},{trial_score(r, measure):.6g},{tuner.get('best_step')},"
                f"{tuner.get('trial_id')},{tuple(c[k] for k in fields) in chosen}\n"
            )


def study_results_lines(
    records, verdicts, settings, *, measure=MSE, verdict_measure=TEST_MSE, sentences=(), figures=()
):
    """The end of a tuned study's summary.md: the verdict, the results and every test, then the figures.

    Args:
        records: the final runs' records.
        verdicts: `verdict_rows(records, verdict_measure)`.
        settings: the study's settings (`thresholds`, `epochs`, `patience`).
        measure: what `evidence_rows` compares; `verdict_measure`: the verdict's.
        sentences: more verdict bullet points, after `verdict_sentences`.
        figures: paths of figures saved next to summary.md, shown last.
    """
    thresholds = settings["thresholds"]
    rows = evidence_rows(records, thresholds, measure=measure)
    return (
        ["## Verdict", ""]
        + [f"- {s}" for s in verdict_sentences(verdicts, measure=verdict_measure)]
        + [f"- {s}" for s in sentences]
        + [
            "",
            verdict_table(verdicts, verdict_measure),
            "",
            "## Results",
            "",
            results_note(settings["epochs"], settings["patience"], measure),
            "",
            evidence_table(rows, thresholds, measure=measure),
            "",
            TESTS_NOTE,
            "",
            tests_table(rows, measure),
            "",
        ]
        + [line for path in figures for line in (f"![{os.path.basename(path)}]({os.path.basename(path)})", "")]
    )


# ===========================================================================
# The verdict: a short table and sentences.


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


# ===========================================================================
# The headline comparison (the README's first command).


#: The study's width, and its chosen hyperparameters there (learning rate, strength, kernel).
WIDTH = 100
STUDY = "docs/results/dense_autoencoder_study"
TUNED = {
    BASELINE: {"learning_rate": 1e-2, "lam": 0.0, "placement": NO_PLACEMENT},
    "paper": {"learning_rate": 1e-2, "lam": 1e-2, "placement": "decoder"},
    "normalized": {"learning_rate": 1e-2, "lam": 1e-2, "placement": "encoder"},
    PEER: {"learning_rate": 1e-2, "lam": 0.1, "placement": "encoder"},
}
#: What each configuration is, in words (summary.md).
DESCRIPTIONS = {
    BASELINE: "no penalty",
    "paper": "`DenseEntropy(lam)`, the paper's form (MATH.md section 4)",
    "normalized": '`DenseEntropy(lam, form="normalized")`, the normalized volume (MATH.md section 10)',
    PEER: "`keras.regularizers.OrthogonalRegularizer(lam)`, the peer",
}


def configs(epochs, batch_size=256, penalties=tuple(TUNED), patience=7, **fixed):
    """Run configs (`autoencoder_study.study_run`'s fields): each of `penalties` at its `TUNED` hyperparameters.

    >>> [c["penalty"] for c in configs(3)]
    ['none', 'paper', 'normalized', 'orthogonal']
    >>> configs(3)[2]["placement"], configs(3)[2]["lam"]
    ('encoder', 0.01)
    """
    epochs = validation.validate_positive_int(epochs, "epochs")
    batch_size = validation.validate_positive_int(batch_size, "batch_size")
    for penalty in penalties:
        validation.validate_choice(penalty, "penalties", tuple(TUNED))
    return [
        {
            "experiment": "compare_penalties",
            "latent_dim": WIDTH,
            "penalty": penalty,
            **TUNED[penalty],
            "epochs": epochs,
            "batch_size": batch_size,
            "patience": patience,
            **fixed,
        }
        for penalty in penalties
    ]


def summary_lines(title, command, data_text, settings, sentence, table, figure, note=None):
    """summary.md: the command, the setup, the sentence, the verdict table and the figure."""
    hyper = "; ".join(
        f"`{p}`: {DESCRIPTIONS[p]}, learning rate {TUNED[p]['learning_rate']:g}"
        + (f", lam {TUNED[p]['lam']:g} on the {TUNED[p]['placement']} kernel" if p != BASELINE else "")
        for p in settings["penalties"]
    )
    lines = (
        [f"# {title}", ""]
        + ([f"> **Note:** {note}", ""] if note else [])
        + [
            "Command:",
            "",
            f"    {command}",
            "",
            "## Setup",
            "",
            f"- Data: {data_text}",
            f"- Model: 784 -> {WIDTH} -> 784, sigmoid both layers, MSE, Adam, batch {settings['batch_size']}, "
            f"{settings['epochs']} epochs, no early stopping; seeds {settings['seed']} .. "
            f"{settings['seed'] + settings['seeds'] - 1}.",
            f"- Configurations, at the hyperparameters the dense-autoencoder study chose on a validation split of the "
            f"full MNIST training set ({STUDY}, width {WIDTH}): {hyper}.",
            "- Final quality: the test MSE after the last epoch (the reconstruction error alone: Keras adds kernel "
            "penalties to `loss`), mean [95% t-interval], and its difference from no penalty [95% Welch interval]. "
            "Epochs to no penalty's median final test MSE: the first epoch at or below the median over its seeds; "
            'a run that never gets there is censored at its last epoch ("never"), and the cell is the '
            'Kaplan-Meier median [95% interval], "not reached" where the runs did not get that far. p: one-tailed '
            "Welch t-tests for the test MSE, the exact permutation log-rank test for the epochs, both directions; "
            "`adj`: Benjamini-Hochberg adjusted over every p-value of the table, which the sentence uses.",
            "",
            "## Verdict",
            "",
            sentence,
            "",
            table,
            "",
            f"![{figure}]({figure})",
            "",
        ]
    )
    return lines


# ===========================================================================
# Sweep reports: the paper's figures and tables from a results file.


@dataclasses.dataclass
class Summary:
    """What `write_report` wrote.

    Attributes:
        markdown: the whole `summary.md`.
        table: its main table (one row per cell), as Markdown.
        files: paths of the files written.
    """

    markdown: str
    table: str
    files: list


def results_frame(results, keys=None, monitors=None, metrics=None):
    """One row per run of a results file, as a pandas DataFrame.

    Columns: `key`, `seed`, `replication`, every config entry, `wall_time_s`,
    `epochs_trained`, and for each early-stopping monitor `m` in the
    records' `stopping`: `stop_<m>` (stopping epoch), `stopped_<m>` (False:
    censored at the epoch cap) and `<metric>@<m>` (each logged metric at
    that epoch, read from the per-epoch history).

    Args:
        results: a path, a `ResultsFile` or a list of records.
        keys: keep only the runs with these keys (None: all).
        monitors, metrics: restrict the columns (None: all found).
    """
    import pandas as pd

    records = sweeps.load_records(results, keys)
    rows = []
    for record in records:
        row = {"key": record["key"], "seed": record["seed"], "replication": record.get("replication")}
        row.update(record["config"])
        row["wall_time_s"] = record.get("wall_time_s")
        history = record.get("history", {})
        row["epochs_trained"] = record.get("epochs_trained", max((len(v) for v in history.values()), default=0))
        for monitor, stop in record.get("stopping", {}).items():
            if monitors is not None and monitor not in monitors:
                continue
            row[f"stop_{monitor}"] = stop["epoch"]
            row[f"stopped_{monitor}"] = stop["stopped"]
            for name, values in history.items():
                if metrics is not None and name not in metrics:
                    continue
                epoch = stop["epoch"]
                value = values[epoch - 1] if epoch and epoch <= len(values) else None
                row[f"{name}@{monitor}"] = math.nan if value is None else value
        rows.append(row)
    return pd.DataFrame(rows)


def _fmt(value, digits=4):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float) and abs(value) < 0.01 and value != 0:
        return f"{value:.{digits - 1}e}"
    return f"{value:.{digits}g}"


def _cell(values, digits=4):
    mean, low, high = stats.t_confidence_interval(list(values))
    if math.isnan(low):
        return _fmt(mean, digits)
    return f"{_fmt(mean, digits)} [{_fmt(low, digits)}, {_fmt(high, digits)}]"


def markdown_table(header, rows):
    """A Markdown table: the `header` cells, a `---` rule, then one line per row.

    Cells are written with `str`, so format numbers before.

    >>> print(markdown_table(["a", "b"], [[1, "x"]]))
    | a | b |
    |---|---|
    | 1 | x |
    """
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


CAP_NOTE = "cap = stopped by --max-epochs (the early-stopping rule never fired)"


def run_header(run, title, command):
    """The first lines of an example's summary.md in the inline style, then its runtime and data line.

    `script_setup.summary_header(title, run.note, command, inline=True)`
    and `script_setup.runtime_line(run.info, run.data)`; `run` is a
    `script_setup.Run`.
    """
    return script_setup.summary_header(title, run.note, command, inline=True) + [
        script_setup.runtime_line(run.info, run.data)
    ]


def capped_count(cell, monitor):
    """Runs of `cell` whose `monitor` stop is censored at the epoch cap."""
    column = f"stopped_{monitor}"
    if column not in cell:
        return 0
    return int((~cell[column].astype(bool)).sum())


def _cap_mark(capped, n):
    """The summary's marker for `capped` of `n` runs censored at the cap ("" when none)."""
    return f" (cap {capped}/{n})" if capped else ""


def stop_sample(cell, monitor):
    """`(times, reached)` of `cell`'s stopping epochs on `monitor`: censored data (`survival`).

    `reached` is False for a run stopped by the epoch cap (`stopped_<monitor>`
    False): its epoch is the cap, a lower bound. Runs without a stopping
    epoch are left out.
    """
    flags = cell[f"stopped_{monitor}"] if f"stopped_{monitor}" in cell else [True] * len(cell)
    pairs = [
        (float(t), bool(r))
        for t, r in zip(cell[f"stop_{monitor}"], flags)
        if t is not None and not (isinstance(t, float) and math.isnan(t))
    ]
    return [t for t, _ in pairs], [r for _, r in pairs]


def _stop_time_cell(cell, monitor):
    """`19 [17, 22]`, `not reached (cap 3/3)`: Kaplan-Meier median and interval of the stops, with the cap mark."""
    times, reached = stop_sample(cell, monitor)
    if not times:
        return "n/a"
    return survival.format_median(survival.median_epoch(times, reached)) + _cap_mark(
        capped_count(cell, monitor), len(cell)
    )


def pairwise_tests(samples, *, censored=False, alpha=0.05):
    """Two-sided tests between every pair of groups, Benjamini-Hochberg adjusted over the table.

    One test per unordered pair: a Welch t-test (`stats.ttest`) of the
    values, or, with `censored`, the exact log-rank test
    (`survival.logrank`) of `(times, reached)` samples. The family is the
    table: the p-values of all its pairs are adjusted together
    (`stats.adjust_pvalues`; nan, e.g. no run reached the target in either
    group, stays out of the family). Cell (row `i`, column `j`) is "+" when
    the adjusted p-value is below `alpha` and the row's mean (or, censored,
    its epochs) is higher, "-" when lower, "" otherwise and on the diagonal.

    Args:
        samples: dict label -> values (or `(times, reached)` with `censored`), in table order.
        censored: whether the samples are censored epochs.
        alpha: significance level of the adjusted p-values.

    Returns:
        `(marks, pvalues)`: a pandas DataFrame of "+" / "-" / "" (labels as
        index and columns) and a dict `(i, j) -> (raw p, adjusted p)` for
        both orders of each pair.

    >>> marks, p = pairwise_tests({"a": [1.0, 1.1, 0.9], "b": [2.0, 2.1, 1.9], "c": [2.05, 1.95, 2.0]})
    >>> marks.loc["a", "b"], marks.loc["b", "a"], marks.loc["b", "c"]
    ('-', '+', '')
    """
    import pandas as pd

    if not isinstance(samples, dict) or not samples:
        raise ValueError(f"Argument `samples` must be a non-empty dict. Received: samples={samples!r}")
    labels = list(samples)
    pairs = [(i, j) for a, i in enumerate(labels) for j in labels[a + 1 :]]
    results = []
    for i, j in pairs:
        if censored:
            r = survival.logrank(*samples[i], *samples[j])
            higher = r["statistic"] < 0  # positive log-rank z: i reaches (stops) sooner, at lower epochs
        else:
            r = stats.ttest(samples[i], samples[j])
            higher = r["statistic"] > 0
        results.append((r["pvalue"], higher))
    adjusted = stats.adjust_pvalues([p for p, _ in results])
    marks = pd.DataFrame("", index=labels, columns=labels)
    pvalues = {}
    for (i, j), (p, higher), q in zip(pairs, results, adjusted):
        pvalues[(i, j)] = pvalues[(j, i)] = (p, q)
        if not math.isnan(q) and q < alpha:
            marks.loc[i, j], marks.loc[j, i] = ("+", "-") if higher else ("-", "+")
    return marks, pvalues


def group_samples(at, group, groups, column, monitor=None):
    """`pairwise_tests`' samples from the rows `at` of a `results_frame`, one per `group` value (labelled `f"{g:g}"`).

    Each sample is the values of `column`, or with `monitor` the
    `(times, reached)` of that monitor's stops (`stop_sample`).
    """
    cells = {f"{g:g}": at[at[group] == g] for g in groups}
    if monitor:
        return {name: stop_sample(cell, monitor) for name, cell in cells.items()}
    return {name: list(cell[column]) for name, cell in cells.items()}


def write_sweep_report(
    results,
    out_dir,
    *,
    keys=None,
    x="latent_dim",
    group="lam",
    metric="val_mse",
    monitors=("val_loss", "val_mse"),
    baseline=0.0,
    alpha=0.05,
    title="Sweep report",
    note=None,
    command=None,
):
    """Write plots and `summary.md` for a results file (see the module docstring).

    Args:
        results: a path, a `ResultsFile` or a list of records.
        out_dir: output folder (created).
        keys: report only these runs (None: every run in the file).
        x: the config entry on the horizontal axis (e.g. latent width).
        group: the config entry compared (e.g. the entropy strength).
        metric: the task metric to report (logged name, e.g. "val_mse";
            lower is better).
        monitors: the early-stopping monitors to report, in order.
        baseline: the `group` value of the one-tailed tests' baseline.
        alpha: significance level of the pairwise tables (on Benjamini-Hochberg adjusted p-values).
        title, note, command: printed at the top of `summary.md`.

    Returns:
        A `Summary`.
    """
    from keras_entropy.experiments.figures import band_figure, pyplot, significance_figure

    plt = pyplot()

    frame = results_frame(results, keys)
    if frame.empty:
        raise ValueError(f"No runs to report in {results!r}" + (" for the given keys." if keys else "."))
    for name in (x, group):
        if name not in frame:
            raise ValueError(f"Config entry {name!r} is not in the results; columns: {sorted(frame.columns)}")
    monitors = [m for m in monitors if f"stop_{m}" in frame]
    if not monitors:
        raise ValueError("The results have no stopping epochs for the given `monitors`.")
    os.makedirs(out_dir, exist_ok=True)
    xs = sorted(frame[x].unique())
    groups = sorted(frame[group].unique())
    files = []

    def save(fig, name):
        path = os.path.join(out_dir, name)
        fig.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(fig)
        files.append(path)
        return name

    common = dict(x=x, group=group, monitors=monitors)
    metric_plot = save(
        band_figure(
            frame,
            column_of=lambda m: f"{metric}@{m}",
            ylabel=f"{metric} at stopping epoch",
            suptitle=f"{title}: {metric} (mean, 95% t-CI)",
            **common,
        ),
        f"{metric}_vs_{x}.png",
    )
    epoch_plot = save(
        band_figure(
            frame,
            column_of=lambda m: f"stop_{m}",
            ylabel="stopping epoch",
            suptitle=f"{title}: stopping epoch (Kaplan-Meier median, 95% interval; not reached: at the cap)",
            annotate_caps=True,
            kaplan_meier=True,
            **common,
        ),
        f"stopping_epoch_vs_{x}.png",
    )

    # Main table.
    header = [x, group, "n", f"{metric} @ stop({monitors[0]})"]
    header += [f"stop epoch ({m})" for m in monitors]
    header += [f"{metric} @ stop({m})" for m in monitors[1:]]
    header += ["censored", "wall s/run"]
    rows = []
    for v in xs:
        for g in groups:
            cell = frame[(frame[x] == v) & (frame[group] == g)]
            if cell.empty:
                continue
            censored = sum(capped_count(cell, m) for m in monitors)
            row = [v, f"{g:g}", len(cell), _cell(cell[f"{metric}@{monitors[0]}"])]
            row += [_stop_time_cell(cell, m) for m in monitors]
            row += [_cell(cell[f"{metric}@{m}"]) for m in monitors[1:]]
            row += [censored, _fmt(float(cell["wall_time_s"].mean()), 3)]
            rows.append(row)
    table = markdown_table(header, rows)

    # Pairwise tables, one figure per x value; each table is one family of tests.
    quantities = [(f"{metric} @ stop({monitors[0]})", f"{metric}@{monitors[0]}")]
    quantities += [(f"stop epoch ({m})", f"stop_{m}") for m in monitors]
    monitor_of = {f"stop epoch ({m})": m for m in monitors}
    pairwise_md, table_plots = [], []
    for v in xs:
        at = frame[frame[x] == v]
        pairwise_md.append(f"#### {x} = {v}")
        for label, column in quantities:
            monitor = monitor_of.get(label)
            marks, pvalues = pairwise_tests(
                group_samples(at, group, groups, column, monitor), censored=monitor is not None, alpha=alpha
            )
            capped = capped_count(at, monitor) if monitor else 0

            def cell_of(i, j, marks=marks, pvalues=pvalues):
                if i == j:
                    return " "
                return (marks.loc[i, j] + " " if marks.loc[i, j] else "") + stats.format_pvalues(*pvalues[(i, j)])

            pairwise_md.append(
                f"{label} (row vs column; {'exact log-rank' if monitor else 'Welch t'} tests)"
                + (f", {capped}/{len(at)} runs capped" if capped else "")
                + ":\n\n"
                + markdown_table(
                    [f"{group}"] + list(marks.columns),
                    [[i] + [cell_of(i, j) for j in marks.columns] for i in marks.index],
                )
            )
        fig = significance_figure(
            frame, x=x, value=v, group=group, quantities=quantities, alpha=alpha, title=title, monitor_of=monitor_of
        )
        table_plots.append(save(fig, f"significance_{x}_{v}.png"))

    # One-tailed tests against the baseline: one family, Benjamini-Hochberg adjusted together.
    tests = []
    if baseline in groups:
        for v in xs:
            at = frame[frame[x] == v]
            base = at[at[group] == baseline]
            for g in groups:
                if g == baseline:
                    continue
                treat = at[at[group] == g]
                for label, column in quantities:
                    m = monitor_of.get(label)
                    if m:
                        times = [stop_sample(c, m) for c in (base, treat)]
                        r = survival.logrank(*times[1], *times[0], alternative="sooner")
                        centers = [survival.format_median(survival.median_epoch(*t)) if t[0] else "n/a" for t in times]
                        marks = [_cap_mark(capped_count(c, m), len(c)) for c in (base, treat)]
                        test = "exact log-rank z"
                    else:
                        r = stats.improvement_test(list(base[column]), list(treat[column]), higher_is_better=False)
                        centers = [_fmt(r["baseline_mean"]), _fmt(r["treatment_mean"])]
                        marks = ["", ""]
                        test = "Welch t"
                    tests.append(
                        [
                            v,
                            f"{g:g}",
                            label,
                            centers[0] + marks[0],
                            centers[1] + marks[1],
                            test,
                            r["statistic"],
                            r["pvalue"],
                        ]
                    )
    adjusted = stats.adjust_pvalues([row[-1] for row in tests])
    tests = [row[:-2] + [_fmt(row[-2], 3), stats.format_pvalues(row[-1], q)] for row, q in zip(tests, adjusted)]
    tests_md = (
        markdown_table(
            [
                x,
                group,
                "quantity (lower is better)",
                f"{group}={baseline:g}",
                "with entropy loss",
                "test",
                "statistic",
                "p one-tailed (BH adjusted)",
            ],
            tests,
        )
        if tests
        else f"(no runs with {group}={baseline:g} to compare against)"
    )

    first = frame.iloc[0]
    lines = script_setup.summary_header(title, note, command) + [
        f"{len(frame)} runs; backend/devices as recorded: "
        + ", ".join(
            sorted(
                {
                    f"{r.get('backend', '?')} on {', '.join(r.get('devices', []) or ['?'])}"
                    for r in sweeps.load_records(results, keys)
                }
            )
        )
        + ".",
        "Fixed settings: "
        + ", ".join(
            f"{k}={first[k]}"
            for k in frame.columns
            if k not in ("key", "seed", "replication", x, group, "wall_time_s", "epochs_trained")
            and not k.startswith(("stop_", "stopped_"))
            and "@" not in k
            and frame[k].nunique() == 1
        ),
        "",
        f"`stop epoch (m)` is the epoch at which Keras's EarlyStopping rule on monitor `m` fires "
        f"(counted from 1); `{metric} @ stop(m)` is {metric} at that epoch. `val_loss` includes "
        f"the entropy penalty, `val_mse` does not. `(cap k/n)`: {CAP_NOTE}, in k of the n runs "
        f"(censored: the rule's own stopping epoch is later than the cap, and {metric} @ stop is "
        f"{metric} at the cap). `censored`: the number of such capped monitor stops in the row, all "
        f"monitors together.",
        "",
        f"{metric} cells give the mean and its 95% t-confidence interval over replications. Stopping "
        f"epochs are censored at the cap, so they get no mean: their cells give the Kaplan-Meier median "
        f"(the first epoch by which half the runs had stopped) with its 95% Brookmeyer-Crowley interval, "
        f"`not reached` where fewer than half the runs had stopped by then (an interval end likewise); "
        f"their tests are exact permutation log-rank tests.",
        "",
        "## Results",
        "",
        table,
        "",
        f"![{metric}]({metric_plot})",
        "",
        f"![stopping epoch]({epoch_plot})",
        "",
        f"## Pairwise tests between {group} values (alpha = {alpha}, Benjamini-Hochberg adjusted)",
        "",
        f"Two-sided tests: Welch t-tests for {metric}, exact log-rank tests for the stopping epochs. "
        "Each table is one family: its p-values are Benjamini-Hochberg adjusted together (the false "
        "discovery rate over the table's pairs), and each cell gives the raw p-value and the adjusted one "
        f"(`adj`). `+`: the row is significantly higher than the column (adjusted p < {alpha}; for the "
        "stopping epochs: it stops later); `-`: significantly lower; no mark: no significant difference.",
        "",
        *("\n\n".join(pairwise_md).split("\n")),
        "",
        *[f"![significance]({p})" for p in table_plots],
        "",
        f"## Does the entropy loss improve it? One-tailed tests against {group}={baseline:g}",
        "",
        f"H1: with the entropy loss the quantity is lower: a smaller mean {metric} (Welch t-test), an "
        f"earlier stop (exact log-rank test; the {group} columns give the Kaplan-Meier median stopping "
        "epoch). The table is one family: `adj` is the Benjamini-Hochberg adjusted p-value over all its "
        "tests, and the stars are on it: * p<0.05, ** p<0.01, *** p<0.001. n/a: nothing to test (no run "
        "stopped in either group).",
        "",
        tests_md,
        "",
    ]
    markdown = "\n".join(lines)
    path = os.path.join(out_dir, "summary.md")
    with open(path, "w") as f:
        f.write(markdown)
    files.append(path)
    return Summary(markdown=markdown, table=table, files=files)


# ===========================================================================
# The paper's classification tables (sections 5.3 and 5.4).


def improvement_table(results, architecture=("depth", "width"), group="placement", keys=None, lam="lam", baseline=0.0):
    """The paper's Table 1 from a results file: does the entropy loss improve accuracy?

    For each architecture (the config entries named by `architecture`) and
    each `group` value (e.g. the placement), the baseline is the runs with
    `lam == baseline` (of that architecture; any placement) and the
    "optimal" lambda is the one with the highest mean validation accuracy.
    One-tailed Welch t-tests (H1: the entropy loss increases the mean) of
    the train and validation accuracies at the best epoch
    (`keras_entropy.experiments.stats.improvement_test`). The table is one
    family of tests: its p-values, train and validation of every row, are
    Benjamini-Hochberg adjusted together (`stats.adjust_pvalues`), each cell
    shows the raw and the adjusted p-value, and the stars are those of the
    adjusted one.

    Returns:
        `(rows, markdown)`: a list of dicts (one per architecture and group;
        `train_pvalue` / `val_pvalue` raw, `train_pvalue_adjusted` /
        `val_pvalue_adjusted` adjusted, `train_stars` / `val_stars` of the
        adjusted) and the Markdown table with the paper's columns.
    """
    records = sweeps.load_records(results, keys)
    if not records:
        raise ValueError(f"No runs to tabulate in {results!r}.")
    if isinstance(architecture, str):
        architecture = (architecture,)

    def arch_of(r):
        return tuple(r["config"][a] for a in architecture)

    def values(rs, name):
        return [r["metrics"].get(name) for r in rs]

    archs = sorted({arch_of(r) for r in records})
    rows = []
    for arch in archs:
        at = [r for r in records if arch_of(r) == arch]
        base = [r for r in at if r["config"][lam] == baseline]
        groups = sorted({r["config"][group] for r in at if r["config"][lam] != baseline})
        for g in groups:
            treated = [r for r in at if r["config"][group] == g and r["config"][lam] != baseline]
            lams = sorted({r["config"][lam] for r in treated})

            def mean_val(value):
                vs = [
                    v
                    for v in values([r for r in treated if r["config"][lam] == value], "val_accuracy")
                    if v is not None
                ]
                return sum(vs) / len(vs) if vs else -math.inf

            best = max(lams, key=mean_val)
            chosen = [r for r in treated if r["config"][lam] == best]
            train = stats.improvement_test(values(base, "accuracy"), values(chosen, "accuracy"))
            val = stats.improvement_test(values(base, "val_accuracy"), values(chosen, "val_accuracy"))
            rows.append(
                {
                    "architecture": dict(zip(architecture, arch)),
                    group: g,
                    "best_lam": best,
                    "n_base": len(base),
                    "n": len(chosen),
                    "base_train_accuracy": train["baseline_mean"],
                    "base_val_accuracy": val["baseline_mean"],
                    "train_change": train["difference"],
                    "train_pvalue": train["pvalue"],
                    "val_change": val["difference"],
                    "val_pvalue": val["pvalue"],
                }
            )
    adjusted = stats.adjust_pvalues([row[f"{s}_pvalue"] for row in rows for s in ("train", "val")])
    for i, row in enumerate(rows):
        for j, split in enumerate(("train", "val")):
            row[f"{split}_pvalue_adjusted"] = adjusted[2 * i + j]
            row[f"{split}_stars"] = stats.stars(adjusted[2 * i + j])

    def fmt(x, signed=False):
        if x is None or (isinstance(x, float) and math.isnan(x)):
            return "n/a"
        return f"{x:+.4f}" if signed else f"{x:.4f}"

    def change(value, p, adjusted, star):
        text = fmt(value, signed=True) + star
        return text + (f" (p {p:.4f}, adj {adjusted:.4f})" if p is not None and not math.isnan(p) else " (n/a)")

    header = [
        "Architecture",
        group,
        "best lam",
        "n (base/entropy)",
        "Mean Base Train Acc.",
        "Mean Base Val. Acc.",
        "Mean Train Acc. change",
        "Mean Val. Acc. change",
    ]
    cells = [
        [
            ", ".join(f"{k}={v}" for k, v in row["architecture"].items()),
            row[group],
            f"{row['best_lam']:g}",
            f"{row['n_base']}/{row['n']}",
            fmt(row["base_train_accuracy"]),
            fmt(row["base_val_accuracy"]),
            change(row["train_change"], row["train_pvalue"], row["train_pvalue_adjusted"], row["train_stars"]),
            change(row["val_change"], row["val_pvalue"], row["val_pvalue_adjusted"], row["val_stars"]),
        ]
        for row in rows
    ]
    return rows, markdown_table(header, cells)


def accuracy_grid(
    results,
    rows=("arch", "training", "placement"),
    keys=None,
    lam="lam",
    metric="val_accuracy",
    baseline_placement=NO_PLACEMENT,
):
    """The paper's Table 2: mean `metric` per row (config entries `rows`) and lambda.

    Baseline runs (`placement == baseline_placement`, lambda 0) are shared
    by every placement row of the same other entries. The best value of each
    row is in bold.

    Returns:
        `(table, markdown)`: a dict `{row tuple: {lam: mean}}` and Markdown.
    """
    records = sweeps.load_records(results, keys)
    if not records:
        raise ValueError(f"No runs to tabulate in {results!r}.")
    lams = sorted({r["config"][lam] for r in records})
    cells = {}
    for r in records:
        cells.setdefault(tuple(r["config"][k] for k in rows), {}).setdefault(r["config"][lam], []).append(
            r["metrics"].get(metric)
        )
    table = {}
    index = list(rows).index("placement") if "placement" in rows else None
    for row, by_lam in cells.items():
        if index is not None and row[index] == baseline_placement:
            continue
        means = {}
        for value in lams:
            vs = by_lam.get(value)
            if vs is None and index is not None:
                shared = row[:index] + (baseline_placement,) + row[index + 1 :]
                vs = cells.get(shared, {}).get(value)
            vs = [v for v in (vs or []) if v is not None]
            means[value] = sum(vs) / len(vs) if vs else None
        table[row] = means
    if not table:  # only baselines
        table = {
            row: {v: (sum(x for x in vs if x is not None) / len(vs)) for v, vs in by_lam.items()}
            for row, by_lam in cells.items()
        }
    header = list(rows) + [f"lam={v:g}" for v in lams]
    lines = []
    for row in sorted(table, key=str):
        means = table[row]
        best = max((m for m in means.values() if m is not None), default=None)
        cells_md = []
        for value in lams:
            m = means.get(value)
            text = "n/a" if m is None else f"{m:.3f}"
            cells_md.append(f"**{text}**" if m is not None and m == best else text)
        lines.append(list(row) + cells_md)
    return table, markdown_table(header, lines)


__all__ = [
    "study_results_lines",
    "write_trials_csv",
    "ACCURACY",
    "ALPHA",
    "BASELINE",
    "CAP_NOTE",
    "CORRECTION",
    "DESCRIPTIONS",
    "MONITORS",
    "MSE",
    "PEER",
    "PENALTIES",
    "PLACEMENTS",
    "STUDY",
    "TESTS",
    "TESTS_NOTE",
    "TEST_MSE",
    "TUNED",
    "WIDTH",
    "accuracy_grid",
    "baseline_target",
    "capped_count",
    "cells",
    "chosen_hyperparameters",
    "comparison_sentence",
    "configs",
    "describe_config",
    "directions",
    "evidence_rows",
    "evidence_table",
    "family_size",
    "final_value",
    "first_epoch_at_or_below",
    "first_epoch_reaching",
    "group_order",
    "group_samples",
    "improvement",
    "improvement_table",
    "markdown_table",
    "median_epoch",
    "next_step",
    "overall_sentence",
    "pairwise_tests",
    "quality",
    "reach_cell",
    "results_frame",
    "results_note",
    "run_header",
    "significant",
    "sooner_floor",
    "speed",
    "stop_sample",
    "summary_lines",
    "tested",
    "tests_table",
    "trial_score",
    "verdict_rows",
    "verdict_sentences",
    "verdict_table",
    "write_sweep_report",
    "Measure",
    "Summary",
]

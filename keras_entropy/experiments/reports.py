"""Plots and a Markdown summary from a sweep's results file, without re-training.

`write_report(results, out_dir, x="latent_dim", group="lam")` reads the
records of a `keras_entropy.experiments.sweeps` results file and writes, into `out_dir`:

- `<metric>_vs_<x>.png`: the metric at the stopping epoch against `x`, one
  line per `group` value with its 95% t-confidence band, one panel per
  early-stopping monitor (the paper's Figures 3a and 5a);
- `stopping_epoch_vs_<x>.png`: the stopping epoch against `x`, likewise, but
  the Kaplan-Meier median with its 95% interval (Figures 4a and 6a);
- `significance_<x>_<value>.png`: for each `x` value, the pairwise tables
  between `group` values (blank / + / -) for the metric and for the stopping
  epoch under each monitor, drawn as labelled grids (`group` values on both
  axes; Figures 3b-6b);
- `summary.md`: the same numbers as Markdown tables plus one-tailed tests of
  "the entropy loss improves the metric / the stopping epoch" against the
  `group` value 0 (the paper's Table 1 style).

Stopping epochs are censored data. A run whose early-stopping rule never
fired on a monitor (record `stopping[monitor]["stopped"]` False: stopped by
--max-epochs) only says "later than the cap", so a mean, t-interval or
t-test over stopping epochs would count a bound as a measurement. Every
stopping-epoch number is therefore survival statistics
(`keras_entropy.experiments.survival`): the Kaplan-Meier median with its
Brookmeyer-Crowley 95% interval ("not reached" where fewer than half the
runs stopped), and exact permutation log-rank tests. The metric at the
stop (e.g. val_mse) is a measurement of every run: mean, 95% t-interval and
Welch t-tests (`scipy.stats.ttest_ind`).

Each table of tests is one family: its p-values are Benjamini-Hochberg
adjusted together (`stats.adjust_pvalues`, which controls the false
discovery rate), the tables show the raw and the adjusted p-value, and a
pair is marked "+" or "-" only when its adjusted p-value is below alpha.

Censored runs are marked "cap": `(cap k/n)` after the stopping-epoch cells
of the tables, open squares (and "cap k/n" labels plus a dashed cap line on
the stopping-epoch plot) on the plots. The plots are drawn by
`keras_entropy.experiments.report_figures` (`band_figure`,
`significance_figure`), from this module's `results_frame`, `stop_sample`,
`capped_count`, `group_samples` and `pairwise_tests`, which work on their
own; `markdown_table` is the one Markdown table builder of the harness (the
experiments' tables use it too), and `run_header` the first lines of the
experiments' own summaries.

matplotlib, pandas and `report_figures` (which imports this module) are
imported lazily; plots use the non-interactive Agg backend.
"""

import dataclasses
import math
import os

from keras_entropy.experiments import script_setup, stats, survival
from keras_entropy.experiments.sweeps import load_records


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

    records = load_records(results, keys)
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


def _stop_cell(cell, monitor):
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


def write_report(
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
    from keras_entropy.experiments.report_figures import band_figure, pyplot, significance_figure

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
            row += [_stop_cell(cell, m) for m in monitors]
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
                    for r in load_records(results, keys)
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

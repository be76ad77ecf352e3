"""Plots and a Markdown summary from a sweep's results file, without re-training.

`write_report(results, out_dir, x="latent_dim", group="lam")` reads the
records of a `keras_entropy.sweeps` results file and writes, into `out_dir`:

- `<metric>_vs_<x>.png`: the metric at the stopping epoch against `x`, one
  line per `group` value with its 95% t-confidence band, one panel per
  early-stopping monitor (the paper's Figures 3a and 5a);
- `stopping_epoch_vs_<x>.png`: the stopping epoch against `x`, likewise
  (Figures 4a and 6a);
- `significance_<x>_<value>.png`: for each `x` value, the pairwise tables
  between `group` values (blank / + / - at alpha = 0.05) for the metric and
  for the stopping epoch under each monitor, drawn as tables (Figures 3b-6b);
- `summary.md`: the same numbers as Markdown tables plus one-tailed tests of
  "the entropy loss improves the metric / the stopping epoch" against the
  `group` value 0 (the paper's Table 1 style, p-values and stars).

matplotlib and pandas are imported lazily; plots use the non-interactive
Agg backend.
"""

import dataclasses
import math
import os

from keras_entropy import stats
from keras_entropy.sweeps import load_records


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


def _markdown_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


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
        alpha: significance level of the pairwise tables.
        title, note, command: printed at the top of `summary.md`.

    Returns:
        A `Summary`.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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

    def band_plot(column_of, ylabel, name, suptitle):
        fig, axes = plt.subplots(1, len(monitors), figsize=(5.5 * len(monitors), 4), squeeze=False)
        for ax, monitor in zip(axes[0], monitors):
            column = column_of(monitor)
            for g in groups:
                cells = [stats.t_confidence_interval(
                    list(frame[(frame[x] == v) & (frame[group] == g)][column])) for v in xs]
                means = [c[0] for c in cells]
                ax.plot(xs, means, marker="o", label=f"{group}={g:g}")
                ax.fill_between(xs, [c[1] for c in cells], [c[2] for c in cells], alpha=0.2)
            ax.set_xlabel(x)
            ax.set_ylabel(ylabel)
            ax.set_title(f"early stopping on {monitor}")
            ax.grid(alpha=0.3)
        axes[0][0].legend(fontsize=8)
        fig.suptitle(suptitle)
        return save(fig, name)

    metric_plot = band_plot(lambda m: f"{metric}@{m}", f"{metric} at stopping epoch",
                            f"{metric}_vs_{x}.png", f"{title}: {metric} (mean, 95% t-CI)")
    epoch_plot = band_plot(lambda m: f"stop_{m}", "stopping epoch",
                           f"stopping_epoch_vs_{x}.png", f"{title}: stopping epoch (mean, 95% t-CI)")

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
            censored = sum(int((~cell[f"stopped_{m}"].astype(bool)).sum()) for m in monitors)
            row = [v, f"{g:g}", len(cell), _cell(cell[f"{metric}@{monitors[0]}"])]
            row += [_cell(cell[f"stop_{m}"], 3) for m in monitors]
            row += [_cell(cell[f"{metric}@{m}"]) for m in monitors[1:]]
            row += [censored, _fmt(float(cell["wall_time_s"].mean()), 3)]
            rows.append(row)
    table = _markdown_table(header, rows)

    # Pairwise tables, one figure per x value.
    quantities = [(f"{metric} @ stop({monitors[0]})", f"{metric}@{monitors[0]}")]
    quantities += [(f"stop epoch ({m})", f"stop_{m}") for m in monitors]
    pairwise_md, table_plots = [], []
    for v in xs:
        at = frame[frame[x] == v]
        fig, axes = plt.subplots(1, len(quantities), figsize=(4.2 * len(quantities), 0.5 + 0.45 * len(groups)),
                                 squeeze=False)
        pairwise_md.append(f"#### {x} = {v}")
        for ax, (label, column) in zip(axes[0], quantities):
            samples = {f"{g:g}": list(at[at[group] == g][column]) for g in groups}
            pairs = stats.pairwise_significance(samples, alpha=alpha)
            pairwise_md.append(f"{label} (row vs column):\n\n" + _markdown_table(
                [f"{group}"] + list(pairs.columns),
                [[i] + [c or " " for c in pairs.loc[i]] for i in pairs.index]))
            ax.axis("off")
            ax.set_title(label, fontsize=9)
            tab = ax.table(cellText=pairs.values, rowLabels=list(pairs.index), colLabels=list(pairs.columns),
                           loc="center", cellLoc="center")
            tab.scale(1, 1.3)
        fig.suptitle(f"{title}: {x}={v}, two-sided t-tests at alpha={alpha} "
                     f"(+: row significantly higher than column)", fontsize=9)
        table_plots.append(save(fig, f"significance_{x}_{v}.png"))

    # One-tailed tests against the baseline.
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
                    r = stats.improvement_test(list(base[column]), list(treat[column]), higher_is_better=False)
                    tests.append([v, f"{g:g}", label, _fmt(r["baseline_mean"]), _fmt(r["treatment_mean"]),
                                  _fmt(r["statistic"], 3), _fmt(r["pvalue"], 3) + " " + r["stars"]])
    tests_md = _markdown_table(
        [x, group, "quantity (lower is better)", f"{group}={baseline:g}", "with entropy loss", "t", "p (one-tailed)"],
        tests) if tests else f"(no runs with {group}={baseline:g} to compare against)"

    first = frame.iloc[0]
    lines = [f"# {title}", ""]
    if note:
        lines += [f"> **Note:** {note}", ""]
    if command:
        lines += ["Command:", "", f"    {command}", ""]
    lines += [
        f"{len(frame)} runs; backend/devices as recorded: "
        + ", ".join(sorted({f"{r.get('backend', '?')} on {', '.join(r.get('devices', []) or ['?'])}"
                            for r in load_records(results, keys)})) + ".",
        f"Fixed settings: " + ", ".join(
            f"{k}={first[k]}" for k in frame.columns
            if k not in ("key", "seed", "replication", x, group, "wall_time_s", "epochs_trained")
            and not k.startswith(("stop_", "stopped_")) and "@" not in k and frame[k].nunique() == 1),
        "",
        f"Cells give the mean and its 95% t-confidence interval over replications. "
        f"`stop epoch (m)` is the epoch at which Keras's EarlyStopping rule on monitor `m` fires "
        f"(counted from 1); `{metric} @ stop(m)` is {metric} at that epoch. `val_loss` includes "
        f"the entropy penalty, `val_mse` does not. `censored`: monitor stops not reached by the epoch cap "
        f"(their stopping epoch is the cap).",
        "",
        "## Results",
        "",
        table,
        "",
        f"![{metric}]({metric_plot})",
        "",
        f"![stopping epoch]({epoch_plot})",
        "",
        f"## Pairwise t-tests between {group} values (alpha = {alpha})",
        "",
        "`+`: the row's mean is significantly higher than the column's; `-`: significantly lower; "
        "blank: no significant difference (two-sided Welch t-test).",
        "",
        *("\n\n".join(pairwise_md).split("\n")),
        "",
        *[f"![significance]({p})" for p in table_plots],
        "",
        f"## Does the entropy loss improve it? One-tailed Welch t-tests against {group}={baseline:g}",
        "",
        "H1: the mean with the entropy loss is lower. Stars: * p<0.05, ** p<0.01, *** p<0.001.",
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



"""The paper's classification tables and plot, from a results file (sections 5.3 and 5.4).

`improvement_table` (Table 1: does the entropy loss improve accuracy?
one-tailed Welch t-tests against lambda = 0, Benjamini-Hochberg adjusted
over the table), `accuracy_grid` (Table 2:
mean accuracy per row and lambda) and `plot_accuracy_vs_lam` read the
records of `keras_entropy.experiments.classification`'s runs without
re-training; `write_cnn_report` and `write_large_cnn_report` write the
summary.md of `examples/cnn_classification.py` and
`examples/large_cnn_classification.py`.
"""

import math
import os

from keras_entropy.experiments import script_setup, stats, sweeps
from keras_entropy.experiments.paper import NO_PLACEMENT, PAPER_PLACEMENT_LABELS
from keras_entropy.experiments.reports import markdown_table


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


def plot_accuracy_vs_lam(
    results, path, series=("depth", "width", "placement"), keys=None, lam="lam", metric="val_accuracy", title=None
):
    """Mean `metric` (with min-max range) against lambda, one line per `series` value; PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = sweeps.load_records(results, keys)
    lams = sorted({r["config"][lam] for r in records})
    xs = list(range(len(lams)))
    groups = sorted({tuple(r["config"][s] for s in series) for r in records}, key=str)
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for g in groups:
        means, lows, highs, used = [], [], [], []
        for i, value in enumerate(lams):
            vs = [
                r["metrics"].get(metric)
                for r in records
                if tuple(r["config"][s] for s in series) == g and r["config"][lam] == value
            ]
            vs = [v for v in vs if v is not None]
            if vs:
                used.append(i)
                means.append(sum(vs) / len(vs))
                lows.append(min(vs))
                highs.append(max(vs))
        if used:
            ax.plot(used, means, marker="o", label=", ".join(f"{s}={v}" for s, v in zip(series, g)))
            ax.fill_between(used, lows, highs, alpha=0.15)
    ax.set_xticks(xs, [f"{v:g}" for v in lams])
    ax.set_xlabel("lambda")
    ax.set_ylabel(f"{metric} (best epoch)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    if title:
        ax.set_title(title, fontsize=9)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


# ---------------------------------------------------------------------------
# The summaries of examples/cnn_classification.py and large_cnn_classification.py.


def write_cnn_report(run, records, fixed, command):
    """plots and summary.md (Table 1) of the small-CNN sweep; returns `(table1, plot, summary_path)`."""
    _, table1 = improvement_table(run.results_path, keys=run.keys)
    plot = plot_accuracy_vs_lam(
        records, run.path("val_accuracy_vs_lam.png"), title="validation accuracy at the best epoch (mean, min-max)"
    )
    _, grid = accuracy_grid(records, rows=("depth", "width", "placement"))
    _, train_grid = accuracy_grid(records, rows=("depth", "width", "placement"), metric="accuracy")
    label = run.data.name + (" (embedded subset, --quick)" if run.data.is_embedded else "")
    lines = script_setup.summary_header(f"CNN classification on {label}", run.note, command) + [
        script_setup.records_line(records, fixed),
        "",
        "## Table 1: does the entropy loss improve accuracy?",
        "",
        "Baseline: lambda = 0. For each architecture and placement, the lambda with the highest mean "
        "validation accuracy is compared with the baseline by one-tailed Welch t-tests "
        "(H1: the entropy loss increases the mean accuracy). In parentheses: the raw p-value and the "
        "Benjamini-Hochberg adjusted one (`adj`; the table's train and validation tests are one family, "
        "adjusted together to control the false discovery rate). Stars, on the adjusted p-value: "
        "* p<0.05, ** p<0.01, *** p<0.001. Accuracies are those of each run's best "
        "validation-accuracy epoch.",
        "",
        table1,
        "",
        "## Mean validation accuracy per lambda (best in bold)",
        "",
        grid,
        "",
        "## Mean train accuracy per lambda",
        "",
        train_grid,
        "",
        f"![validation accuracy]({os.path.basename(plot)})",
        "",
    ]
    return table1, plot, script_setup.write_summary(run.out, lines)


def write_large_cnn_report(run, records, fixed, command, note):
    """plot and summary.md (Table 2) of the large-CNN sweep; returns `(table2, plot, summary_path)`."""
    _, table2 = accuracy_grid(records, rows=("arch", "training", "placement"))
    plot = plot_accuracy_vs_lam(
        records,
        run.path("val_accuracy_vs_lam.png"),
        series=("arch", "training", "placement"),
        title="validation accuracy at the best epoch",
    )
    layer_lines = sorted(
        {
            f"- {r['config']['arch']} / {r['config']['placement']} "
            f"({PAPER_PLACEMENT_LABELS.get((r['config']['arch'], r['config']['placement']), 'custom')}): "
            + ", ".join(r.get("penalised_layers", []))
            for r in records
            if r["config"]["lam"] != 0
        }
    )
    title = "VGG16 / ResNet50 on Imagenette" + (
        " (tensorflow-datasets mock data, --quick)" if run.source == "mock" else ""
    )
    lines = script_setup.summary_header(title, note, command) + [
        script_setup.records_line(records, fixed),
        "",
        "## Table 2: validation accuracy (best epoch; mean over replications; best of each row in bold)",
        "",
        "Training: vanilla, augmentation (horizontal flip, 20% rotation, 20% zoom), augmentation_dropout "
        "(plus dropout 0.5 in the dense head). The lam=0 column is the shared baseline of each "
        "model and training.",
        "",
        table2,
        "",
        "## Penalised layers",
        "",
        *layer_lines,
        "",
        f"![validation accuracy]({os.path.basename(plot)})",
        "",
    ]
    return table2, plot, script_setup.write_summary(run.out, lines)


__all__ = ["accuracy_grid", "improvement_table", "plot_accuracy_vs_lam", "write_cnn_report", "write_large_cnn_report"]

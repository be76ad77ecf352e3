"""The experiments' figures, from run records: matplotlib Figures and PNG files.

The numbers come from `keras_entropy.experiments.analysis`; this module
only draws them (matplotlib is imported when drawing, on the
non-interactive Agg backend):

- `band_figure` and `significance_figure`: a sweep report's panels (the
  paper's Figures 3-6), from an `analysis.results_frame`: a column against a
  config entry with one line per `group` value and its 95% t-confidence band
  (for the stopping epochs, censored at the epoch cap, the Kaplan-Meier
  median with its 95% interval; capped runs marked), and the pairwise tables
  between `group` values (`analysis.pairwise_tests`) as labelled "+" / "-"
  grids. Both return a Figure (constrained layout; the caller saves and
  closes it); `analysis.write_sweep_report` saves them next to its summary.md.
- `epoch_bands` and `plot_curves`: convergence curves of the tuned studies
  and the README's first command: a metric per epoch, mean over seeds with
  its 95% band, per configuration, one panel per group.
- `plot_accuracy_vs_lam`: the paper's classification sweeps, mean accuracy
  against lambda.
"""

import math

from keras_entropy.experiments import stats, survival, sweeps
from keras_entropy.experiments.analysis import (
    CAP_NOTE,
    MSE,
    PENALTIES,
    capped_count,
    cells,
    group_samples,
    pairwise_tests,
    stop_sample,
)

# ===========================================================================
# Sweep reports: bands against a config entry, pairwise significance grids.


def pyplot():
    """matplotlib's pyplot on the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _km_band(cell, monitor):
    """`(median, low, high, not_reached)` of the stops of `cell` for a plot: "not reached" ends drawn at the cap.

    The Kaplan-Meier median and its 95% interval (`survival.median_epoch`);
    an end that is not reached is clipped at the cell's last epoch (its cap),
    and `not_reached` says the median was.
    """
    times, reached = stop_sample(cell, monitor)
    if not times:
        return math.nan, math.nan, math.nan, False
    cap = max(times)
    mid, low, high = survival.median_epoch(times, reached)
    clip = [cap if v is None else v for v in (mid, low, high)]
    return clip[0], clip[1], clip[2], mid is None


def _ring(ax, x, y, color, marker, size, face="none"):
    """An open marker at `(x, y)` in `color`: a "not reached" median (^) or capped runs (s)."""
    ax.plot(
        [x],
        [y],
        marker=marker,
        markersize=size,
        markerfacecolor=face,
        markeredgecolor=color,
        markeredgewidth=1.5,
        linestyle="none",
    )


def band_figure(
    frame,
    *,
    x,
    group,
    monitors,
    column_of,
    ylabel,
    suptitle,
    mark_caps=True,
    annotate_caps=False,
    kaplan_meier=False,
):
    """One panel per monitor: `column_of(monitor)` against `x`, one line per `group` value.

    Each line is the mean over replications with its 95% t-confidence band,
    or, with `kaplan_meier` (the stopping epochs, censored at the cap), the
    Kaplan-Meier median with its 95% Brookmeyer-Crowley interval
    (`survival.median_epoch`): a median or interval end that is "not
    reached" (fewer than half the runs stopped) is drawn at the cap, and a
    median not reached gets an open triangle ("median not reached: drawn at
    the cap" in the legend). With `mark_caps`, points where some run's stop
    on that monitor was censored at the epoch cap (record
    `stopping[monitor]["stopped"]` False) get an open square, and the
    legend says "cap = stopped by --max-epochs"; with `annotate_caps` (the
    stopping-epoch plot) the square is labelled "cap k/n" (k of the n runs
    capped) and the cap epochs are drawn as a dashed line.

    Args:
        frame: a `reports.results_frame`.
        x, group: config entries (horizontal axis, one line each).
        monitors: the early-stopping monitors, one panel each.
        column_of: monitor -> column of `frame` to plot (with
            `kaplan_meier`: the `stop_<monitor>` columns are read).
        ylabel, suptitle: labels.
        kaplan_meier: plot Kaplan-Meier medians of the stopping epochs.

    Returns:
        The matplotlib Figure (constrained layout; the caller saves/closes it).
    """
    from matplotlib.lines import Line2D

    plt = pyplot()
    xs = sorted(frame[x].unique())
    groups = sorted(frame[group].unique())
    fig, axes = plt.subplots(1, len(monitors), figsize=(5.5 * len(monitors), 4.4), squeeze=False, layout="constrained")
    handles, any_cap, any_open, cap_epochs = [], False, False, set()
    for ax, monitor in zip(axes[0], monitors):
        column = column_of(monitor)
        for gi, g in enumerate(groups):
            cells = [frame[(frame[x] == v) & (frame[group] == g)] for v in xs]
            if kaplan_meier:
                bands = [_km_band(c, monitor) for c in cells]
            else:
                bands = [stats.t_confidence_interval(list(c[column])) + (False,) for c in cells]
            (line,) = ax.plot(xs, [b[0] for b in bands], marker="o", label=f"{group}={g:g}", color=f"C{gi % 10}")
            ax.fill_between(xs, [b[1] for b in bands], [b[2] for b in bands], alpha=0.2, color=line.get_color())
            if ax is axes[0][0]:
                handles.append(line)
            for v, b in zip(xs, bands):
                if b[3]:
                    any_open = True
                    _ring(ax, v, b[0], line.get_color(), "^", 9, face="white")
            if not mark_caps:
                continue
            for v, c, b in zip(xs, cells, bands):
                capped = capped_count(c, monitor)
                if not capped:
                    continue
                any_cap = True
                cap_epochs.update(int(e) for e in c[~c[f"stopped_{monitor}"].astype(bool)][f"stop_{monitor}"])
                _ring(ax, v, b[0], line.get_color(), "s", 13)
                if annotate_caps:
                    left = len(xs) > 1 and v == xs[-1]
                    ax.annotate(
                        f"{group}={g:g}: cap {capped}/{len(c)}",
                        (v, b[0]),
                        xytext=(-4 if left else 4, -12 - 11 * gi),
                        textcoords="offset points",
                        ha="right" if left else "left",
                        va="top",
                        fontsize=8,
                        color=line.get_color(),
                    )
        ax.set_xlabel(x)
        ax.set_ylabel(ylabel)
        ax.set_title(f"early stopping on {monitor}")
        ax.grid(alpha=0.3)
        if annotate_caps:
            ax.set_ylim(bottom=0)
    if annotate_caps and cap_epochs:
        for ax in axes[0]:
            for epoch in sorted(cap_epochs):
                ax.axhline(epoch, color="grey", linestyle="--", linewidth=1, zorder=0)
            ax.set_ylim(top=max(ax.get_ylim()[1], 1.12 * max(cap_epochs)))
        handles.append(Line2D([], [], color="grey", linestyle="--", label="--max-epochs (cap)"))
    if any_cap:
        handles.append(
            Line2D(
                [],
                [],
                marker="s",
                markersize=10,
                markerfacecolor="none",
                markeredgecolor="black",
                linestyle="none",
                label="cap = stopped by --max-epochs" + (" (k of n runs)" if annotate_caps else ""),
            )
        )
    if any_open:
        handles.append(
            Line2D(
                [],
                [],
                marker="^",
                markersize=8,
                markerfacecolor="white",
                markeredgecolor="black",
                linestyle="none",
                label="median not reached: drawn at the cap",
            )
        )
    fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 5), fontsize=8)
    fig.suptitle(suptitle)
    return fig


def significance_figure(frame, *, x, value, group, quantities, alpha=0.05, title=None, monitor_of=None):
    """The pairwise tables between `group` values at `x == value`, one panel per quantity (`reports.pairwise_tests`).

    Each panel is a grid: row and column ticks are the `group` values
    (row vs column), "+" (red) when the row is significantly higher than the
    column, "-" (blue) when lower, blank otherwise; the diagonal is grey.
    Significant: Benjamini-Hochberg adjusted p-value below `alpha`, the
    family being the panel's pairs. The test is a two-sided Welch t-test of
    the means, or for the stopping epochs (the panels in `monitor_of`,
    censored at the epoch cap) the exact log-rank test.

    Args:
        frame: a `reports.results_frame`.
        x, value: the config entry and the value to compare at.
        group: the config entry compared (e.g. "lam").
        quantities: list of (label, column of `frame`).
        alpha: significance level.
        title: printed in the figure's title.
        monitor_of: dict label -> monitor: those panels are stopping epochs
            on that monitor (log-rank tests), and their titles say how many
            runs were capped by --max-epochs.

    Returns:
        The matplotlib Figure (constrained layout; the caller saves/closes it).
    """
    import numpy as np
    from matplotlib.colors import ListedColormap

    plt = pyplot()
    at = frame[frame[x] == value]
    groups = sorted(frame[group].unique())
    names = [f"{g:g}" for g in groups]
    size = 1.6 + 0.55 * len(groups)
    fig, axes = plt.subplots(
        1, len(quantities), figsize=(max(size, 3.2) * len(quantities), size + 1.0), squeeze=False, layout="constrained"
    )
    cmap = ListedColormap(["#9ecae1", "white", "#fc9272", "#d9d9d9"])  # -, blank, +, diagonal
    monitor_of = monitor_of or {}
    for ax, (label, column) in zip(axes[0], quantities):
        monitor = monitor_of.get(label)
        pairs, _ = pairwise_tests(
            group_samples(at, group, groups, column, monitor), censored=monitor is not None, alpha=alpha
        )
        codes = np.array([[2 if i == j else {"-": -1, "": 0, "+": 1}[pairs.loc[i, j]] for j in names] for i in names])
        ax.imshow(codes, cmap=cmap, vmin=-1.5, vmax=2.5, aspect="equal")
        for r, i in enumerate(names):
            for c, j in enumerate(names):
                if pairs.loc[i, j]:
                    ax.text(c, r, pairs.loc[i, j], ha="center", va="center", fontsize=12, fontweight="bold")
        ax.set_xticks(range(len(names)), names, fontsize=8, rotation=30 if max(map(len, names)) > 4 else 0)
        ax.set_yticks(range(len(names)), names, fontsize=8)
        ax.set_xticks(np.arange(len(names) + 1) - 0.5, minor=True)
        ax.set_yticks(np.arange(len(names) + 1) - 0.5, minor=True)
        ax.grid(which="minor", color="black", linewidth=0.8)
        ax.tick_params(which="minor", length=0)
        ax.xaxis.tick_top()
        ax.xaxis.set_label_position("top")
        ax.set_xlabel(f"{group} (column)", fontsize=8)
        ax.set_ylabel(f"{group} (row)", fontsize=8)
        capped = capped_count(at, monitor) if monitor else 0
        test = "exact log-rank" if monitor else "Welch t"
        ax.set_title(label + f" ({test})" + (f"\n{capped}/{len(at)} runs capped" if capped else ""), fontsize=9)
    fig.suptitle(
        (f"{title}: " if title else "") + f"{x}={value}, two-sided tests, Benjamini-Hochberg adjusted\n"
        f"p < {alpha} within each panel; +: row significantly higher than column, -: lower"
        + (f"\n{CAP_NOTE}" if any(capped_count(at, m) for m in monitor_of.values()) else ""),
        fontsize=9,
    )
    return fig


# ===========================================================================
# Convergence curves: a metric per epoch, per configuration.


def epoch_bands(group, metric):
    """`(epochs, means, lows, highs)` over the runs of `group`, epoch by epoch (95% t-intervals)."""
    length = min(len(r["history"][metric]) for r in group)
    bands = [stats.t_confidence_interval([r["history"][metric][e] for r in group]) for e in range(length)]
    return list(range(1, length + 1)), *(list(b) for b in zip(*bands))


def plot_curves(records, path, metric="val_mse", ylabel="validation MSE", log=True, title=None, measure=MSE, scale=1.0):
    """Mean `metric` per epoch with its 95% band, one line per configuration, one panel per group; saved to `path`.

    Groups are `measure.group` (`latent_dim` by default: "latent width
    100"); values are multiplied by `scale` (100: a fraction in percent).
    The legend sits below the panels; with a single run per cell the band
    is left out. Returns `path`.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grouped = cells(records, measure)
    widths = list(dict.fromkeys(w for w, _ in grouped))
    columns = min(3, len(widths))
    rows = -(-len(widths) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(5.6 * columns, 4.4 * rows), squeeze=False, layout="constrained")
    for ax in axes.flat[len(widths) :]:
        ax.set_visible(False)
    handles = {}
    for ax, width in zip(axes.flat, widths):
        for (w, penalty), group in grouped.items():
            if w != width:
                continue
            index = PENALTIES.index(penalty) if penalty in PENALTIES else 9
            color, style = f"C{index}", ("-", "-.", ":", "--", "-")[index % 5]  # overlapping curves stay visible
            epochs, *bands = epoch_bands(group, metric)
            means, lows, highs = ([scale * v for v in band] for band in bands)
            (line,) = ax.plot(epochs, means, color=color, linestyle=style, linewidth=1.6, label=penalty)
            if len(group) > 1:
                ax.fill_between(epochs, lows, highs, color=color, alpha=0.2, linewidth=0)
            handles.setdefault(penalty, line)
        if log:
            ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.set_title(f"latent width {width}" if measure.group == "latent_dim" else f"{measure.group_label} {width}")
        ax.grid(alpha=0.3, which="both")
        ax.xaxis.get_major_locator().set_params(integer=True)
    labels = [p for p in PENALTIES if p in handles] + [p for p in handles if p not in PENALTIES]
    fig.legend(
        [handles[p] for p in labels],
        labels,
        loc="outside lower center",
        ncol=len(labels),
        title="penalty: mean over seeds, band = 95% CI",
    )
    if title:
        fig.suptitle(title)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


# ===========================================================================
# The paper's classification plot.


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


__all__ = ["band_figure", "epoch_bands", "plot_accuracy_vs_lam", "plot_curves", "pyplot", "significance_figure"]

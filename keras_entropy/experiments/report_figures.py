"""The figures of a sweep report: bands against a config entry, and pairwise significance grids.

Both draw from a `keras_entropy.experiments.reports.results_frame` (one row
per run of a sweep's results file) and return a matplotlib Figure (constrained
layout; the caller saves and closes it):

- `band_figure`: one panel per early-stopping monitor, a column of the frame
  against a config entry `x`, one line per `group` value with its 95%
  t-confidence band, or for the stopping epochs (censored at the epoch cap)
  the Kaplan-Meier median with its 95% interval; runs capped by --max-epochs
  are marked (the paper's Figures 3a-6a);
- `significance_figure`: at one `x` value, the pairwise tables between
  `group` values (`reports.pairwise_tests`: Welch t-tests, or exact log-rank
  tests for the stopping epochs, Benjamini-Hochberg adjusted per panel) as
  labelled "+" / "-" grids (Figures 3b-6b).

`keras_entropy.experiments.reports.write_report` saves them next to its
summary.md. matplotlib is imported lazily, on the non-interactive Agg backend.
"""

import math

from keras_entropy.experiments import stats, survival
from keras_entropy.experiments.reports import CAP_NOTE, capped_count, group_samples, pairwise_tests, stop_sample


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


__all__ = ["band_figure", "pyplot", "significance_figure"]

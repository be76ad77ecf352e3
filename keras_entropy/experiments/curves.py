"""Convergence figures: a metric per epoch, mean over seeds with its 95% band, per configuration.

`epoch_bands` computes the bands from run records (`keras_entropy.experiments.evidence`
records: `config` with the group's key (`latent_dim`, `arch`) and `penalty`,
`history` per epoch); `plot_curves` draws them, one panel per group (width,
architecture; three panels a row), the legend outside the data.
matplotlib is imported when drawing.
"""

from keras_entropy.experiments import stats
from keras_entropy.experiments.evidence import MSE, PENALTIES, cells


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


__all__ = ["epoch_bands", "plot_curves"]

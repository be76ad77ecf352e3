"""Convergence figures: a metric per epoch, mean over seeds with its 95% band, per configuration.

`epoch_bands` computes the bands from run records (`keras_entropy.experiments.evidence`
records: `config` with `latent_dim` and `penalty`, `history` per epoch);
`plot_curves` draws them, one panel per width, the legend outside the data.
matplotlib is imported when drawing.
"""

from keras_entropy.experiments import stats
from keras_entropy.experiments.evidence import PENALTIES, cells


def epoch_bands(group, metric):
    """`(epochs, means, lows, highs)` over the runs of `group`, epoch by epoch (95% t-intervals)."""
    length = min(len(r["history"][metric]) for r in group)
    bands = [stats.t_confidence_interval([r["history"][metric][e] for r in group]) for e in range(length)]
    return list(range(1, length + 1)), *(list(b) for b in zip(*bands))


def plot_curves(records, path, metric="val_mse", ylabel="validation MSE", log=True, title=None):
    """Mean `metric` per epoch with its 95% band, one line per configuration, one panel per width; saved to `path`.

    The legend sits below the panels; with a single run per cell the band
    is left out. Returns `path`.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grouped = cells(records)
    widths = sorted({w for w, _ in grouped})
    fig, axes = plt.subplots(1, len(widths), figsize=(5.6 * len(widths), 4.4), squeeze=False, layout="constrained")
    handles = {}
    for ax, width in zip(axes[0], widths):
        for (w, penalty), group in grouped.items():
            if w != width:
                continue
            index = PENALTIES.index(penalty) if penalty in PENALTIES else 9
            color, style = f"C{index}", ("-", "-.", ":", "--", "-")[index % 5]  # overlapping curves stay visible
            epochs, means, lows, highs = epoch_bands(group, metric)
            (line,) = ax.plot(epochs, means, color=color, linestyle=style, linewidth=1.6, label=penalty)
            if len(group) > 1:
                ax.fill_between(epochs, lows, highs, color=color, alpha=0.2, linewidth=0)
            handles.setdefault(penalty, line)
        if log:
            ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.set_title(f"latent width {width}")
        ax.grid(alpha=0.3, which="both")
        ax.xaxis.get_major_locator().set_params(integer=True)
    labels = [p for p in PENALTIES if p in handles] + [p for p in handles if p not in PENALTIES]
    fig.legend([handles[p] for p in labels], labels, loc="outside lower center", ncol=len(labels),
               title="penalty: mean over seeds, band = 95% CI")
    if title:
        fig.suptitle(title)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


__all__ = ["epoch_bands", "plot_curves"]

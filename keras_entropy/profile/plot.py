"""Plotting profiles: box plots of per-filter entropy change, in the paper's style.

A profile in a volume form (MATH.md sections 8-10) has one value per layer:
it is drawn as a point per layer, and the axis labels name the form.
"""

import math

import numpy as np

from keras_entropy import validation
from keras_entropy.profile.records import QUANTITIES, EntropyProfile


def _dense_scale(profiles):
    """`(to_plot, from_plot)`: the affine map that draws dense values on the conv scale.

    A dense layer's single value `log|det S|` sums over all its units and is
    often orders of magnitude away from the per-filter `log|c11|` of conv
    layers; drawn on one scale, it would squash the conv boxes into a line.
    When a plot has both kinds, the dense values are mapped linearly onto the
    range of the conv values (shared by all panels), and a right axis shows
    their true values. Returns None when the profiles hold only one kind.
    """

    def finite(kind):
        chunks = [e.values[np.isfinite(e.values)] for p in profiles for e in p if e.kind == kind]
        chunks = [c for c in chunks if c.size]
        return np.concatenate(chunks) if chunks else None

    conv, dense = finite("conv"), finite("dense")
    if conv is None or dense is None:
        return None
    c_lo, c_hi = float(conv.min()), float(conv.max())
    d_lo, d_hi = float(dense.min()), float(dense.max())
    if c_hi - c_lo < 1e-12:
        c_lo, c_hi = c_lo - 0.5, c_hi + 0.5
    if d_hi - d_lo < 1e-12:
        scale, offset = 1.0, 0.5 * (c_lo + c_hi) - d_lo
    else:
        scale = (c_hi - c_lo) / (d_hi - d_lo)
        offset = c_lo - scale * d_lo

    def to_plot(d):
        return np.asarray(d, dtype="float64") * scale + offset

    def from_plot(y):
        return (np.asarray(y, dtype="float64") - offset) / scale

    return to_plot, from_plot


_BOX_STYLES = {
    "conv": {"face": "#9ecae1", "edge": "#08519c"},
    "dense": {"face": "#fdae6b", "edge": "#a63603"},
}

#: The marker of a layer's point in a volume form's plot.
_MARKERS = {"conv": "o", "dense": "D"}


def _axis_texts(form):
    """`{conv, dense, right, conv_legend, dense_legend}`: the axis texts of `form`."""
    conv, dense = QUANTITIES[form]["conv"], QUANTITIES[form]["dense"]
    if form == "paper":
        left = {
            "conv": f"entropy change per conv filter, {conv} (nats)",
            "dense": f"entropy change per dense layer, {dense} (nats)",
        }
    else:  # one value per layer: short labels that name the form
        left = {"conv": f"{form} form: {conv} (nats)", "dense": f"{form} form: {dense} per dense layer (nats)"}
    return {
        **left,
        "right": f"dense layers: {dense} (nats)",
        "conv_legend": f"conv: {conv} (left axis)",
        "dense_legend": f"dense: {dense} (right axis)",
    }


def _legend_handle(kind, form, label):
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    style = _BOX_STYLES[kind]
    if form == "paper":
        return Patch(facecolor=style["face"], edgecolor=style["edge"], label=label)
    return Line2D(
        [],
        [],
        linestyle="none",
        marker=_MARKERS[kind],
        markersize=6,
        markerfacecolor=style["face"],
        markeredgecolor=style["edge"],
        label=label,
    )


def _draw(ax, kind, positions, data, form, showfliers):
    """One box per layer (form "paper"), or one point per layer (the volume forms)."""
    style = _BOX_STYLES[kind]
    if form != "paper":
        points = [(pos, float(d[0])) for pos, d in zip(positions, data) if d.size]
        ax.plot(
            [p for p, _ in points],
            [v for _, v in points],
            linestyle="none",
            marker=_MARKERS[kind],
            markersize=6,
            markerfacecolor=style["face"],
            markeredgecolor=style["edge"],
        )
        return
    ax.boxplot(
        data,
        positions=positions,
        widths=0.6,
        patch_artist=True,
        showfliers=showfliers,
        manage_ticks=False,
        boxprops={"facecolor": style["face"], "edgecolor": style["edge"], "linewidth": 0.8},
        medianprops={
            "color": "#d94801" if kind == "conv" else style["edge"],
            "linewidth": 1.2 if kind == "conv" else 2.0,
        },
        showmeans=kind == "dense",
        meanprops={"marker": "D", "markersize": 5, "markerfacecolor": style["face"], "markeredgecolor": style["edge"]},
        whiskerprops={"color": style["edge"], "linewidth": 0.8},
        capprops={"color": style["edge"], "linewidth": 0.8},
        flierprops={
            "marker": "o",
            "markersize": 2.5,
            "markerfacecolor": "none",
            "markeredgecolor": "#525252",
            "markeredgewidth": 0.5,
            "alpha": 0.6,
        },
    )


def plot_profiles(
    profiles,
    labels=None,
    path=None,
    tick_labels="index",
    title=None,
    figsize=None,
    showfliers=True,
):
    """Box plots of per-filter entropy change, one box per layer, in the paper's style.

    Each profile gets its own panel, side by side on a shared y axis (e.g.
    trained vs randomly initialised, as in the paper's Figures 1 and 7-9).
    A box shows the per-filter values `log|K[0, 0, i, o]|` of a conv layer
    (blue); a dense layer's single `log|det S|` is drawn in orange. When the
    profiles have both kinds, the dense values get their own scale: they are
    mapped linearly onto the range of the conv values and every panel's
    right axis reads their true values (a dense `log|det S|`, summed over
    all units, would otherwise squash the conv boxes). Outliers are drawn.

    Profiles in a volume form (`entropy_profile(..., form="volume")` or
    `"normalized"`) have no per-filter values: each layer is a point, its
    per-output-position value `dH / (h w)` for a conv layer and its `dH`
    for a dense one (on the dense scale as above), and the y labels name
    the form and the quantity. All the profiles must have the same form.

    Example:

    >>> import keras, keras_entropy, numpy as np
    >>> def cnn():
    ...     return keras.Sequential([
    ...         keras.Input((16, 16, 1)),
    ...         keras.layers.Conv2D(8, 3, activation="relu"),
    ...         keras.layers.Conv2D(8, 3, activation="relu"),
    ...         keras.layers.Flatten(),
    ...         keras.layers.Dense(10, activation="softmax")])
    >>> model, fresh_model = cnn(), cnn()
    >>> model.compile("adam", "sparse_categorical_crossentropy")
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.normal(size=(64, 16, 16, 1)).astype("float32"), rng.integers(0, 10, 64)
    >>> history = model.fit(x, y, epochs=2, verbose=0)
    >>> trained = keras_entropy.entropy_profile(model, label="trained")
    >>> init = keras_entropy.entropy_profile(fresh_model, label="initialised")
    >>> fig = keras_entropy.plot_profiles([trained, init], path="profile.png")
    >>> len(fig.axes)  # one panel per profile
    2

    Args:
        profiles: an `EntropyProfile` or a list of them.
        labels: panel titles (default: each profile's `label`).
        path: where to save the figure (format from the extension: `.png`,
            `.pdf`, `.svg`...), or None.
        tick_labels: `"index"` (each layer's 0-based `index`, as in
            `to_csv` and the CLI's table) or `"name"` (layer names, rotated).
        title: a title over the panels.
        figsize: `(width, height)` in inches; by default it grows with the
            number of layers.
        showfliers: draw the outliers (default True).

    Returns:
        A `matplotlib.figure.Figure` (made without pyplot, so no GUI window
        and no global state) with one axes per profile in `fig.axes` (the
        dense scale is a secondary axis of the last one). Needs matplotlib.

    Raises:
        ValueError: profiles of different forms, or a bad `tick_labels` or
            `labels`.
    """
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - matplotlib is in the plot extra
        raise ImportError("plot_profiles needs matplotlib: pip install 'keras-entropy[plot]'") from exc
    if isinstance(profiles, EntropyProfile):
        profiles = [profiles]
    profiles = list(profiles)
    if not profiles or not all(isinstance(p, EntropyProfile) for p in profiles):
        raise TypeError(
            "Argument `profiles` must be an EntropyProfile or a non-empty list of them. "
            f"Received: profiles={profiles!r}"
        )
    forms = sorted({p.form for p in profiles})
    if len(forms) > 1:
        raise ValueError(
            "Argument `profiles` must all have one form (their values share a y axis). "
            f"Received: profiles of forms {forms}"
        )
    form = forms[0]
    validation.validate_choice(tick_labels, "tick_labels", ("index", "name"))
    if labels is None:
        labels = [p.label for p in profiles]
    elif isinstance(labels, str) or len(labels) != len(profiles):
        raise ValueError(
            "Argument `labels` must be a list with one label per profile. "
            f"Received: labels={labels!r} for {len(profiles)} profiles"
        )
    n_max = max(len(p) for p in profiles)
    if figsize is None:
        width = min(6.0, max(3.5, 1.5 + 0.3 * n_max))
        figsize = (width * len(profiles), 4.5 if tick_labels == "index" else 5.5)
    dense_scale = _dense_scale(profiles)
    kinds_present = {e.kind for p in profiles for e in p}
    fig = Figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(1, len(profiles), sharey=True, squeeze=False)[0]
    for ax, profile, label in zip(axes, profiles, labels):
        positions = list(range(1, len(profile) + 1))
        for kind in _BOX_STYLES:
            picked = [(pos, e) for pos, e in zip(positions, profile) if e.kind == kind]
            if not picked:
                continue
            data = [e.values[np.isfinite(e.values)] for _, e in picked]
            if kind == "dense" and dense_scale is not None:
                data = [dense_scale[0](d) for d in data]
            _draw(ax, kind, [pos for pos, _ in picked], data, form, showfliers)
        ax.axhline(0.0, color="#969696", linewidth=0.6, linestyle="--", zorder=0)
        if tick_labels == "name":
            ax.set_xticks(positions, [e.name for e in profile], rotation=90, fontsize=7)
        else:
            step = max(1, math.ceil(len(positions) / 25))
            shown = positions[::step]
            ax.set_xticks(shown, [str(profile[p - 1].index) for p in shown], fontsize=8)
        ax.set_xlim(0.3, max(len(profile), 1) + 0.7)
        ax.set_xlabel("layer" if tick_labels == "name" else "layer index (0-based, as in the CSV)")
        ax.set_title(label or "")
        ax.grid(axis="y", linewidth=0.3, alpha=0.6)
    texts = _axis_texts(form)
    axes[0].set_ylabel(texts["dense" if kinds_present == {"dense"} else "conv"])
    if dense_scale is not None:
        to_plot, from_plot = dense_scale
        for ax in axes:  # every panel: a dense point on any panel reads against the dense axis beside it
            right = ax.secondary_yaxis("right", functions=(from_plot, to_plot))
            right.tick_params(axis="y", colors=_BOX_STYLES["dense"]["edge"])
        right.set_ylabel(texts["right"], color=_BOX_STYLES["dense"]["edge"])
        axes[0].legend(
            handles=[_legend_handle(kind, form, texts[f"{kind}_legend"]) for kind in _BOX_STYLES],
            loc="best",
            fontsize=7,
            frameon=False,
        )
    if title:
        fig.suptitle(title)
    if path is not None:
        fig.savefig(path, dpi=150)
    return fig


__all__ = ["plot_profiles"]

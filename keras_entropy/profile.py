"""Entropy profiles: how much entropy each layer of a model keeps.

`entropy_profile(model)` walks any built Keras model (Sequential, functional,
subclassed or nested) and, for every `Dense` and `Conv2D` layer in forward
order, evaluates the formulas of MATH.md on the layer's kernel:

- `Conv2D` (kernel `(p, q, c_in, c_out)`, `N_out` output positions): one value
  per single-channel filter, `log|c11| = log|K[0, 0, i, o]|` (the quantity the
  paper's box plots show), and the layer total
  `dH_conv = N_out * sum_{i,o} log|K[0, 0, i, o]|`;
- `Dense` (kernel `(n_in, n_out)`, `S = K[:k, :k]`, `k = min(n_in, n_out)`):
  one value, `log|det S|`, which is also the layer total `dH_dense`.

All the mathematics comes from `keras_entropy.ops`; this module only walks the
model, collects the numbers and converts or plots them. pandas and matplotlib
are imported inside the functions that need them, never at package import.

Example:

>>> import keras, keras_entropy
>>> model = keras.applications.VGG16(weights=None)
>>> profile = keras_entropy.entropy_profile(model)
>>> profile.to_csv("vgg16_init.csv")                   # one row per layer
>>> keras_entropy.plot_profiles([profile], path="vgg16_init.png")
"""

import csv
import dataclasses
import io
import json
import math

import keras
import numpy as np

from keras_entropy import ops as entropy_ops

#: Layer kinds a profile covers, with the Keras classes they match.
KINDS = {"conv": keras.layers.Conv2D, "dense": keras.layers.Dense}

#: Per-layer statistics of the per-filter values (used to rank layers).
STATISTICS = ("mean", "median", "min", "max", "total")

_LAYER_COLUMNS = (
    "index", "name", "path", "kind", "kernel_shape", "output_positions",
    "n_values", "mean", "median", "min", "max", "total",
)


# ---------------------------------------------------------------------------
# Walking the model.


def _layer_kind(layer):
    for kind, cls in KINDS.items():
        if isinstance(layer, cls):
            return kind
    return None


def sublayers(layer):
    """Direct sublayers of `layer`, in forward order for models."""
    if isinstance(layer, keras.Model) and hasattr(layer, "layers"):
        return list(layer.layers)
    return list(layer._flatten_layers(include_self=False, recursive=False))


def iter_entropy_layers(model, kinds=("conv", "dense")):
    """Yield `(path, layer)` for every Dense / Conv2D layer, in forward order.

    Nested models and layers that own layers are walked depth-first in the
    order of their `layers` (topological order for functional models). A layer
    shared by several models or called several times is yielded once. `path`
    joins the names of the enclosing sub-models to the layer's name with `/`
    (the top-level model's name is not part of it).
    """
    classes = tuple(KINDS[k] for k in kinds)
    seen = set()

    def walk(layer, prefix):
        for sub in sublayers(layer):
            if id(sub) in seen:
                continue
            seen.add(id(sub))
            path = f"{prefix}{sub.name}"
            if isinstance(sub, classes):
                yield path, sub
            elif sublayers(sub):
                yield from walk(sub, path + "/")

    yield from walk(model, "")


def output_spatial_shape(layer):
    """`(height, width)` of a Conv2D layer's output, or None when unknown.

    Taken from the layer's symbolic output (`layer.output.shape`); for a
    layer called several times, from its first call; when the model has no
    symbolic graph, computed with `compute_output_shape` from the shape the
    layer was built with.
    """
    shape = None
    nodes = getattr(layer, "_inbound_nodes", None) or []
    if nodes and nodes[0].output_tensors:
        shape = tuple(nodes[0].output_tensors[0].shape)
    else:
        build_shapes = getattr(layer, "_build_shapes_dict", None) or {}
        if len(build_shapes) == 1:
            try:
                shape = tuple(layer.compute_output_shape(next(iter(build_shapes.values()))))
            except Exception:  # noqa: BLE001 - any failure means "unknown"
                shape = None
    if shape is None or len(shape) != 4:
        return None
    spatial = shape[2:4] if layer.data_format == "channels_first" else shape[1:3]
    if any(s is None for s in spatial):
        return None
    return int(spatial[0]), int(spatial[1])


# ---------------------------------------------------------------------------
# The records.


@dataclasses.dataclass
class LayerEntropy:
    """The entropy numbers of one Dense or Conv2D layer.

    Attributes:
        index: position in the profile (0-based, forward order).
        name: the layer's name.
        path: the layer's name prefixed by its enclosing sub-models' names.
        kind: `"conv"` or `"dense"`.
        kernel_shape: shape of the kernel.
        output_positions: `N_out`: output height x width for a conv layer
            (None when the spatial size is not fixed), `n_out` for a dense one.
        values: float32 vector: `log|K[0, 0, i, o]|` for every single-channel
            filter of a conv layer (in `(i, o)` row-major order, `c_in * c_out`
            values), `[log|det S|]` for a dense layer.
        total: the layer's entropy change `dH`: `N_out * sum(values)` for a
            conv layer (NaN when `N_out` is unknown), `log|det S|` for a dense
            layer.
    """

    index: int
    name: str
    path: str
    kind: str
    kernel_shape: tuple
    output_positions: object
    values: np.ndarray = dataclasses.field(repr=False)
    total: float

    def statistic(self, name):
        """`"mean"`, `"median"`, `"min"`, `"max"` of `values`, or `"total"`."""
        if name == "total":
            return self.total
        if name not in STATISTICS:
            raise ValueError(
                f"Argument `statistic` must be one of {STATISTICS}. Received: statistic={name!r}"
            )
        values = self.values[np.isfinite(self.values)]
        if values.size == 0:
            return -math.inf
        return float(getattr(np, name)(values))

    def summary(self):
        """One flat dict of the layer's metadata and statistics."""
        return {
            "index": self.index,
            "name": self.name,
            "path": self.path,
            "kind": self.kind,
            "kernel_shape": "x".join(str(d) for d in self.kernel_shape),
            "output_positions": self.output_positions,
            "n_values": int(self.values.size),
            "mean": self.statistic("mean"),
            "median": self.statistic("median"),
            "min": self.statistic("min"),
            "max": self.statistic("max"),
            "total": self.total,
        }


def _check_layer(layer):
    kind = _layer_kind(layer)
    if kind is None:
        raise TypeError(
            "Expected a Dense or Conv2D layer. "
            f"Received: layer={layer!r} of type {type(layer).__name__}"
        )
    if not layer.built:
        raise ValueError(f"Layer {layer.name!r} is not built: build or call the model first.")
    return kind


def _kernel_value(layer):
    variable = getattr(layer, "_kernel", None)
    return layer.kernel if variable is None else variable


def compute_entries(items):
    """`LayerEntropy` records for `(index, path, layer, output_shape)` items.

    `output_shape` is a conv layer's output `(height, width)`, or None to
    find it from the layer. The per-filter values of all conv layers are
    computed in one call of `keras_entropy.ops.conv_entropy_change` on the
    upper-left elements of every kernel put side by side (the function is
    elementwise in them, so this equals calling it on each kernel): on JAX,
    where each new shape costs a compilation, this keeps profiling a
    ResNet50 well under a second. Each dense layer is one call of
    `keras_entropy.ops.dense_entropy_change`.
    """
    prepared = []
    corners = []
    for index, path, layer, hw in items:
        kind = _check_layer(layer)
        kernel = _kernel_value(layer)
        if kind == "conv":
            if hw is None:
                hw = output_spatial_shape(layer)
            corner = np.asarray(keras.ops.convert_to_numpy(kernel))[:1, :1].astype("float32")
            corners.append(corner.reshape(1, 1, 1, -1))
        prepared.append((index, path, layer, kind, kernel, hw))
    if corners:
        stacked = np.concatenate(corners, axis=-1)
        flat = np.asarray(
            keras.ops.convert_to_numpy(entropy_ops.conv_entropy_change(stacked)), dtype="float32"
        ).reshape(-1)
    entries, offset = [], 0
    for index, path, layer, kind, kernel, hw in prepared:
        if kind == "conv":
            size = int(kernel.shape[2]) * int(kernel.shape[3])
            values = flat[offset:offset + size].copy()
            offset += size
            n_out = None if hw is None else hw[0] * hw[1]
            total = math.nan if n_out is None else float(n_out * np.sum(values, dtype="float64"))
        else:
            n_out = int(kernel.shape[1])
            total = float(keras.ops.convert_to_numpy(entropy_ops.dense_entropy_change(kernel)))
            values = np.asarray([total], dtype="float32")
        entries.append(LayerEntropy(
            index=index,
            name=layer.name,
            path=path or layer.name,
            kind=kind,
            kernel_shape=tuple(int(d) for d in kernel.shape),
            output_positions=n_out,
            values=values,
            total=total,
        ))
    return entries


def layer_entropy(layer, index=0, path=None, output_shape=None):
    """The `LayerEntropy` of one built Dense or Conv2D layer.

    Args:
        layer: a built `keras.layers.Dense` or `keras.layers.Conv2D`
            (subclasses included).
        index: the index to record.
        path: the path to record (default: the layer's name).
        output_shape: `(height, width)` of a conv layer's output; found from
            the layer itself when None.
    """
    return compute_entries([(index, path, layer, output_shape)])[0]


class EntropyProfile:
    """The entropy numbers of every Dense and Conv2D layer of a model.

    A sequence of `LayerEntropy` records in forward order, with conversions:
    `to_records`, `to_dataframe` (pandas), `to_csv`, `to_json` and back
    `from_json`. Index it by position (`profile[0]`) or by layer name or path
    (`profile["block1_conv1"]`).

    Build one with `entropy_profile(model)`.

    Args:
        layers: a list of `LayerEntropy`.
        label: a name for the profile (e.g. `"trained"`), used in plots.
    """

    def __init__(self, layers, label=None):
        self.layers = list(layers)
        if label is not None and not isinstance(label, str):
            raise TypeError(f"Argument `label` must be a string or None. Received: label={label!r}")
        self.label = label

    def __len__(self):
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)

    def __getitem__(self, key):
        if isinstance(key, str):
            for entry in self.layers:
                if key in (entry.path, entry.name):
                    return entry
            raise KeyError(f"No layer named {key!r} in the profile. Names: {self.names}")
        return self.layers[key]

    def __repr__(self):
        return f"<EntropyProfile label={self.label!r} layers={len(self)}>"

    @property
    def names(self):
        return [entry.name for entry in self.layers]

    def top(self, k, statistic="mean"):
        """The `k` entries with the highest `statistic`, highest first.

        The highest entropy change is the smallest entropy loss: these are the
        layers a trained network keeps entropy in.
        """
        ranked = sorted(self.layers, key=lambda e: e.statistic(statistic), reverse=True)
        return ranked[:k]

    def to_records(self, per="layer"):
        """A list of flat dicts.

        Args:
            per: `"layer"`: one dict per layer (its summary statistics and
                total); `"value"`: one dict per per-filter value (long format,
                columns `index, name, kind, position, value`).
        """
        if per == "layer":
            return [entry.summary() for entry in self.layers]
        if per == "value":
            return [
                {"index": e.index, "name": e.name, "kind": e.kind, "position": j,
                 "value": float(v)}
                for e in self.layers
                for j, v in enumerate(e.values)
            ]
        raise ValueError(f"Argument `per` must be 'layer' or 'value'. Received: per={per!r}")

    def to_dataframe(self, per="layer"):
        """A `pandas.DataFrame` of `to_records(per)` (needs pandas)."""
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - pandas is in the plot extra
            raise ImportError(
                "EntropyProfile.to_dataframe needs pandas: pip install 'keras-entropy[plot]'"
            ) from exc
        records = self.to_records(per)
        columns = list(_LAYER_COLUMNS) if per == "layer" else None
        return pd.DataFrame.from_records(records, columns=columns)

    def to_csv(self, path=None, per="layer"):
        """Write `to_records(per)` as CSV to `path`; return the text if None."""
        records = self.to_records(per)
        buffer = io.StringIO()
        fields = list(_LAYER_COLUMNS) if per == "layer" else list(records[0]) if records else []
        writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(records)
        text = buffer.getvalue()
        if path is None:
            return text
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        return None

    def to_json(self, path=None):
        """The full profile (every per-filter value) as JSON.

        Writes to `path`, or returns the text when `path` is None. Non-finite
        numbers are written as `null`. Read it back with `from_json`.
        """

        def number(x):
            return float(x) if math.isfinite(x) else None

        data = {
            "label": self.label,
            "layers": [
                {
                    "index": e.index, "name": e.name, "path": e.path, "kind": e.kind,
                    "kernel_shape": list(e.kernel_shape),
                    "output_positions": e.output_positions,
                    "total": number(e.total),
                    "values": [number(v) for v in e.values.tolist()],
                }
                for e in self.layers
            ],
        }
        text = json.dumps(data)
        if path is None:
            return text
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return None

    @classmethod
    def from_json(cls, source):
        """Read a profile written by `to_json` (a path or the JSON text)."""
        if isinstance(source, str) and source.lstrip().startswith("{"):
            data = json.loads(source)
        else:
            with open(source, encoding="utf-8") as f:
                data = json.load(f)

        def number(x):
            return -math.inf if x is None else float(x)

        layers = [
            LayerEntropy(
                index=int(d["index"]), name=d["name"], path=d.get("path", d["name"]),
                kind=d["kind"], kernel_shape=tuple(d["kernel_shape"]),
                output_positions=d["output_positions"],
                values=np.asarray([number(v) for v in d["values"]], dtype="float32"),
                total=math.nan if d["total"] is None else float(d["total"]),
            )
            for d in data["layers"]
        ]
        return cls(layers, label=data.get("label"))


def entropy_profile(model, kinds=("conv", "dense"), label=None):
    """Entropy profile of a built Keras model.

    For every `Dense` and `Conv2D` layer (subclasses included) in forward
    order, evaluates on its kernel (MATH.md sections 1 and 2):

    - conv: per single-channel filter `log|K[0, 0, i, o]|`, and the total
      `dH_conv = N_out * sum_{i,o} log|K[0, 0, i, o]|` with `N_out` the
      layer's output height x width (exact for `padding="valid"`, an
      approximation with `padding="same"`);
    - dense: `dH_dense = log|det K[:k, :k]|`, `k = min(n_in, n_out)`.

    Nested models are walked depth-first (see `iter_entropy_layers`).

    Example:

    >>> import keras, keras_entropy
    >>> resnet = keras.applications.ResNet50(weights=None)
    >>> profile = keras_entropy.entropy_profile(resnet, label="init")
    >>> profile[0].name, profile[0].output_positions
    ('conv1_conv', 12544)
    >>> df = profile.to_dataframe()          # needs pandas

    Args:
        model: a built Keras model (or any built layer that owns layers).
        kinds: which layer kinds to include: a subset of `("conv", "dense")`.
        label: a name stored with the profile (used by `plot_profiles`).

    Returns:
        An `EntropyProfile`.
    """
    if not isinstance(model, keras.layers.Layer):
        raise TypeError(
            f"Argument `model` must be a Keras model. Received: model={model!r} "
            f"of type {type(model).__name__}"
        )
    kinds = validate_kinds(kinds)
    if not model.built:
        raise ValueError(
            f"Model {model.name!r} is not built: call it on data or `build()` it first."
        )
    items = [
        (i, path, layer, None) for i, (path, layer) in enumerate(iter_entropy_layers(model, kinds))
    ]
    return EntropyProfile(compute_entries(items), label=label)


def validate_kinds(kinds):
    """`kinds` as a tuple of names in `KINDS` (a single name is accepted); ValueError otherwise."""
    if isinstance(kinds, str):
        kinds = (kinds,)
    kinds = tuple(kinds)
    if not kinds or any(k not in KINDS for k in kinds):
        raise ValueError(
            f"Argument `kinds` must be a non-empty subset of {tuple(KINDS)}. "
            f"Received: kinds={kinds!r}"
        )
    return kinds


# ---------------------------------------------------------------------------
# Plotting.


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
    mapped linearly onto the range of the conv values and the last panel's
    right axis reads their true values (a dense `log|det S|`, summed over
    all units, would otherwise squash the conv boxes). Outliers are drawn.

    Example:

    >>> trained = keras_entropy.entropy_profile(model, label="trained")
    >>> init = keras_entropy.entropy_profile(fresh_model, label="initialised")
    >>> fig = keras_entropy.plot_profiles([trained, init], path="profile.png")

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
    """
    try:
        from matplotlib.figure import Figure
        from matplotlib.patches import Patch
    except ImportError as exc:  # pragma: no cover - matplotlib is in the plot extra
        raise ImportError(
            "plot_profiles needs matplotlib: pip install 'keras-entropy[plot]'"
        ) from exc
    if isinstance(profiles, EntropyProfile):
        profiles = [profiles]
    profiles = list(profiles)
    if not profiles or not all(isinstance(p, EntropyProfile) for p in profiles):
        raise TypeError(
            "Argument `profiles` must be an EntropyProfile or a non-empty list of them. "
            f"Received: profiles={profiles!r}"
        )
    if tick_labels not in ("index", "name"):
        raise ValueError(
            f"Argument `tick_labels` must be 'index' or 'name'. Received: tick_labels={tick_labels!r}"
        )
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
        for kind, style in _BOX_STYLES.items():
            picked = [(pos, e) for pos, e in zip(positions, profile) if e.kind == kind]
            if not picked:
                continue
            data = [e.values[np.isfinite(e.values)] for _, e in picked]
            if kind == "dense" and dense_scale is not None:
                data = [dense_scale[0](d) for d in data]
            ax.boxplot(
                data,
                positions=[pos for pos, _ in picked],
                widths=0.6,
                patch_artist=True,
                showfliers=showfliers,
                manage_ticks=False,
                boxprops={"facecolor": style["face"], "edgecolor": style["edge"],
                          "linewidth": 0.8},
                medianprops={"color": "#d94801" if kind == "conv" else style["edge"],
                             "linewidth": 1.2 if kind == "conv" else 2.0},
                showmeans=kind == "dense",
                meanprops={"marker": "D", "markersize": 5, "markerfacecolor": style["face"],
                           "markeredgecolor": style["edge"]},
                whiskerprops={"color": style["edge"], "linewidth": 0.8},
                capprops={"color": style["edge"], "linewidth": 0.8},
                flierprops={"marker": "o", "markersize": 2.5, "markerfacecolor": "none",
                            "markeredgecolor": "#525252", "markeredgewidth": 0.5,
                            "alpha": 0.6},
            )
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
    if kinds_present == {"dense"}:
        axes[0].set_ylabel("entropy change per dense layer, log|det W_sq| (nats)")
    else:
        axes[0].set_ylabel("entropy change per conv filter, log|c11| (nats)")
    if dense_scale is not None:
        to_plot, from_plot = dense_scale
        right = axes[-1].secondary_yaxis("right", functions=(from_plot, to_plot))
        right.set_ylabel("dense layers: log|det W_sq| (nats)", color=_BOX_STYLES["dense"]["edge"])
        right.tick_params(axis="y", colors=_BOX_STYLES["dense"]["edge"])
        axes[0].legend(
            handles=[Patch(facecolor=s["face"], edgecolor=s["edge"], label=text)
                     for s, text in ((_BOX_STYLES["conv"], "conv: log|c11| (left axis)"),
                                     (_BOX_STYLES["dense"], "dense: log|det W_sq| (right axis)"))],
            loc="best", fontsize=7, frameon=False,
        )
    if title:
        fig.suptitle(title)
    if path is not None:
        fig.savefig(path, dpi=150)
    return fig


__all__ = [
    "EntropyProfile",
    "LayerEntropy",
    "entropy_profile",
    "iter_entropy_layers",
    "layer_entropy",
    "plot_profiles",
]

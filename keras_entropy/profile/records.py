"""The records of a profile: `LayerEntropy` (one layer) and `EntropyProfile` (a model).

Plain data with conversions (records, pandas, CSV, JSON); the numbers are
computed by `keras_entropy.profile.compute`. A profile has one `form`
(`keras_entropy.validation.FORMS`): the paper's entropy change (MATH.md
sections 1-2, per-filter values) or a volume form (sections 8-10, one value
per layer).
"""

import csv
import dataclasses
import io
import json
import math

import numpy as np

from keras_entropy import validation

#: Per-layer statistics of the per-filter values (used to rank layers).
STATISTICS = ("mean", "median", "min", "max", "total")

_LAYER_COLUMNS = (
    "index",
    "name",
    "path",
    "kind",
    "kernel_shape",
    "output_positions",
    "n_values",
    "mean",
    "median",
    "min",
    "max",
    "total",
)

#: The extra per-layer columns of a profile in a volume form (a paper-form
#: table keeps the columns above, as it had before the forms existed).
_FORM_COLUMNS = ("form", "grid")

#: The name of each form's value of a layer, per layer kind (used by plots
#: and the CLI): a conv layer's `values` are per output position, a dense
#: layer's value is its whole entropy change.
QUANTITIES = {
    "paper": {"conv": "log|c11|", "dense": "log|det W_sq|"},
    "volume": {"conv": "dH_vol/(h w)", "dense": "dH_vol"},
    "normalized": {"conv": "dH_norm/(h w)", "dense": "dH_norm"},
}


def _shape_text(shape):
    return "x".join(str(d) for d in shape)


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
        values: float32 vector. Form `"paper"`: `log|K[0, 0, i, o]|` for
            every single-channel filter of a conv layer (in `(i, o)`
            row-major order, `c_in * c_out` values), `[log|det S|]` for a
            dense layer. Forms `"volume"` and `"normalized"` have no
            per-filter values (the log-volume belongs to the whole kernel):
            one value, the per-output-position `[dH / (h w)]` of a conv
            layer (`ops.conv_volume_change(kernel, grid=grid) / (h w)`) and
            `[dH]` of a dense layer (`ops.dense_volume_change(kernel)`).
        total: the layer's entropy change `dH`: `N_out * sum(values)` for a
            conv layer (NaN when `N_out` is unknown), `values[0]` for a
            dense layer, in every form.
        form: `"paper"` (default), `"volume"` or `"normalized"`.
        grid: the `(h, w)` frequency grid of a conv layer in a volume form,
            else None.

    `entropy_profile` makes them; a dense layer's `total` is its one value:

    >>> import keras
    >>> from keras_entropy import entropy_profile
    >>> model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(8, name="hidden")])
    >>> layer = entropy_profile(model, form="volume")["hidden"]
    >>> layer.kind, layer.kernel_shape, layer.output_positions, bool(layer.total == layer.values[0])
    ('dense', (8, 8), 8, True)
    """

    index: int
    name: str
    path: str
    kind: str
    kernel_shape: tuple
    output_positions: object
    values: np.ndarray = dataclasses.field(repr=False)
    total: float
    form: str = "paper"
    grid: object = None

    def statistic(self, name):
        """`"mean"`, `"median"`, `"min"`, `"max"` of `values`, or `"total"`."""
        validation.validate_choice(name, "statistic", STATISTICS)
        if name == "total":
            return self.total
        values = self.values[np.isfinite(self.values)]
        if values.size == 0:
            return -math.inf
        return float(getattr(np, name)(values))

    def summary(self):
        """One flat dict of the layer's metadata and statistics (and form and grid)."""
        return {
            "index": self.index,
            "name": self.name,
            "path": self.path,
            "kind": self.kind,
            "kernel_shape": _shape_text(self.kernel_shape),
            "output_positions": self.output_positions,
            "n_values": int(self.values.size),
            "mean": self.statistic("mean"),
            "median": self.statistic("median"),
            "min": self.statistic("min"),
            "max": self.statistic("max"),
            "total": self.total,
            "form": self.form,
            "grid": None if self.grid is None else _shape_text(self.grid),
        }


class EntropyProfile:
    """The entropy numbers of every Dense and Conv2D layer of a model.

    A sequence of `LayerEntropy` records in forward order, with conversions:
    `to_records`, `to_dataframe` (pandas), `to_csv`, `to_json` and back
    `from_json`. Index it by position (`profile[0]`) or by layer name or path
    (`profile["block1_conv1"]`).

    Build one with `entropy_profile(model, form=...)`.

    Args:
        layers: a list of `LayerEntropy`, all of one form.
        label: a name for the profile (e.g. `"trained"`), used in plots.
        form: the form of the layers' values (`"paper"`, `"volume"` or
            `"normalized"`); None takes the layers' form (`"paper"` when
            there are none). A layer of another form raises `ValueError`.

    >>> import keras
    >>> from keras_entropy import entropy_profile
    >>> model = keras.Sequential(
    ...     [keras.Input((8,)), keras.layers.Dense(8, name="hidden"), keras.layers.Dense(4, name="out")]
    ... )
    >>> profile = entropy_profile(model, form="volume")
    >>> profile
    <EntropyProfile label=None form='volume' layers=2>
    >>> profile.names, profile[1].kernel_shape
    (['hidden', 'out'], (8, 4))
    """

    def __init__(self, layers, label=None, form=None):
        self.layers = list(layers)
        if label is not None:
            validation.validate_string(label, "label", allow_empty=True)
        self.label = label
        if form is None:
            form = self.layers[0].form if self.layers else "paper"
        self.form = validation.validate_form(form)
        others = sorted({e.form for e in self.layers} - {self.form})
        if others:
            raise ValueError(
                f"Every layer of a profile must have its form: argument `form` is {form!r} "
                f"but layers have form {others}. Received: form={form!r}"
            )

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
        return f"<EntropyProfile label={self.label!r} form={self.form!r} layers={len(self)}>"

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
            per: `"layer"`: one dict per layer (its summary statistics,
                total, form and grid); `"value"`: one dict per value in
                `LayerEntropy.values` (long format, columns `index, name,
                kind, position, value`; one row per layer in a volume form).
        """
        validation.validate_choice(per, "per", ("layer", "value"))
        if per == "layer":
            return [entry.summary() for entry in self.layers]
        return [
            {"index": e.index, "name": e.name, "kind": e.kind, "position": j, "value": float(v)}
            for e in self.layers
            for j, v in enumerate(e.values)
        ]

    def _columns(self, per, records):
        if per == "value":
            return list(records[0]) if records else []
        return list(_LAYER_COLUMNS) + ([] if self.form == "paper" else list(_FORM_COLUMNS))

    def to_dataframe(self, per="layer"):
        """A `pandas.DataFrame` of `to_records(per)` (needs pandas)."""
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - pandas is in the plot extra
            raise ImportError("EntropyProfile.to_dataframe needs pandas: pip install 'keras-entropy[plot]'") from exc
        records = self.to_records(per)
        columns = self._columns(per, records) if per == "layer" else None
        return pd.DataFrame.from_records(records, columns=columns)

    def to_csv(self, path=None, per="layer"):
        """Write `to_records(per)` as CSV to `path`; return the text if None.

        Per layer, the columns of a paper-form profile are those it had before
        the forms existed; a volume form adds `form` and `grid` (`HxW`).
        """
        records = self.to_records(per)
        buffer = io.StringIO()
        writer = csv.DictWriter(
            buffer, fieldnames=self._columns(per, records), lineterminator="\n", extrasaction="ignore"
        )
        writer.writeheader()
        writer.writerows(records)
        text = buffer.getvalue()
        if path is None:
            return text
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        return None

    def to_json(self, path=None):
        """The full profile (every value, the form and each layer's grid) as JSON.

        Writes to `path`, or returns the text when `path` is None. Non-finite
        numbers are written as `null`. Read it back with `from_json`.
        """

        def number(x):
            return float(x) if math.isfinite(x) else None

        data = {
            "label": self.label,
            "form": self.form,
            "layers": [
                {
                    "index": e.index,
                    "name": e.name,
                    "path": e.path,
                    "kind": e.kind,
                    "kernel_shape": list(e.kernel_shape),
                    "output_positions": e.output_positions,
                    "total": number(e.total),
                    "values": [number(v) for v in e.values.tolist()],
                    "grid": None if e.grid is None else list(e.grid),
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

        form = data.get("form", "paper")  # profiles written before the forms: paper
        layers = [
            LayerEntropy(
                index=int(d["index"]),
                name=d["name"],
                path=d.get("path", d["name"]),
                kind=d["kind"],
                kernel_shape=tuple(d["kernel_shape"]),
                output_positions=d["output_positions"],
                values=np.asarray([number(v) for v in d["values"]], dtype="float32"),
                total=math.nan if d["total"] is None else float(d["total"]),
                form=form,
                grid=None if d.get("grid") is None else tuple(d["grid"]),
            )
            for d in data["layers"]
        ]
        return cls(layers, label=data.get("label"), form=form)


__all__ = ["QUANTITIES", "STATISTICS", "EntropyProfile", "LayerEntropy"]

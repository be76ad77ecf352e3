"""Computing a profile: the entropy numbers of a model's Dense and Conv2D layers."""

import math

import keras
import numpy as np

from keras_entropy import ops as entropy_ops
from keras_entropy import validation
from keras_entropy.profile.records import EntropyProfile, LayerEntropy
from keras_entropy.profile.walk import (
    iter_entropy_layers,
    kernel_variable,
    layer_kind,
    output_spatial_shape,
    validate_kinds,
    validate_model,
)
from keras_entropy.regularizers import default_grid


def _check_layer(layer):
    kind = layer_kind(layer)
    if kind is None:
        raise TypeError(f"Expected a Dense or Conv2D layer. Received: layer={layer!r} of type {type(layer).__name__}")
    if not layer.built:
        raise ValueError(f"Layer {layer.name!r} is not built: build or call the model first.")
    return kind


def _volume_values(kernel, kind, hw, n_out, form, grid):
    """`(values, total, grid)` of one layer in a volume form (MATH.md sections 8-10).

    Dense: `dH = ops.dense_volume_change(kernel, form=form)`, `values = [dH]`.
    Conv: on the grid `(h, w)` (`grid`, or `default_grid` of the output size
    `hw`), the per-position value `v = ops.conv_volume_change(kernel,
    form=form, grid=(h, w)) / (h w)`, `values = [v]` and `total = N_out * v`
    (NaN when `N_out` is unknown), as `ConvEntropy` counts its penalty.
    """
    if kind == "dense":
        value = float(keras.ops.convert_to_numpy(entropy_ops.dense_volume_change(kernel, form=form)))
        return np.asarray([value], dtype="float32"), value, None
    grid = grid or default_grid(hw, tuple(kernel.shape[:2]))
    change = entropy_ops.conv_volume_change(kernel, form=form, grid=grid)
    values = np.asarray([float(keras.ops.convert_to_numpy(change)) / (grid[0] * grid[1])], dtype="float32")
    total = math.nan if n_out is None else n_out * float(values[0])
    return values, total, tuple(grid)


def compute_entries(items, form="paper", grid=None):
    """`LayerEntropy` records for `(index, path, layer, output_shape)` items.

    `output_shape` is a conv layer's output `(height, width)`, or None to
    find it from the layer. The per-filter values of all conv layers are
    computed in one call of `keras_entropy.ops.conv_entropy_change` on the
    upper-left elements of every kernel put side by side (the function is
    elementwise in them, so this equals calling it on each kernel): on JAX,
    where each new shape costs a compilation, this keeps profiling a
    ResNet50 well under a second. Each dense layer is one call of
    `keras_entropy.ops.dense_entropy_change`.

    With `form="volume"` or `"normalized"` each layer is one call of
    `keras_entropy.ops.dense_volume_change` or `conv_volume_change` (see
    `entropy_profile`), on the frequency grid `grid` (None: per layer,
    `regularizers.default_grid` of its output size).
    """
    form = validation.validate_form(form)
    grid = validation.validate_grid(grid)
    prepared = []
    corners = []
    for index, path, layer, hw in items:
        kind = _check_layer(layer)
        kernel = kernel_variable(layer)
        if kind == "conv" and hw is None:
            hw = output_spatial_shape(layer)
        if kind == "conv" and form == "paper":
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
            n_out = None if hw is None else hw[0] * hw[1]
        else:
            n_out = int(kernel.shape[1])
        layer_grid = None
        if form != "paper":
            values, total, layer_grid = _volume_values(kernel, kind, hw, n_out, form, grid)
        elif kind == "conv":
            size = int(kernel.shape[2]) * int(kernel.shape[3])
            values = flat[offset : offset + size].copy()
            offset += size
            total = math.nan if n_out is None else float(n_out * np.sum(values, dtype="float64"))
        else:
            total = float(keras.ops.convert_to_numpy(entropy_ops.dense_entropy_change(kernel)))
            values = np.asarray([total], dtype="float32")
        entries.append(
            LayerEntropy(
                index=index,
                name=layer.name,
                path=path or layer.name,
                kind=kind,
                kernel_shape=tuple(int(d) for d in kernel.shape),
                output_positions=n_out,
                values=values,
                total=total,
                form=form,
                grid=layer_grid,
            )
        )
    return entries


def layer_entropy(layer, index=0, path=None, output_shape=None, form="paper", grid=None):
    """The `LayerEntropy` of one built Dense or Conv2D layer, in `form`.

    Args:
        layer: a built `keras.layers.Dense` or `keras.layers.Conv2D`
            (subclasses included).
        index: the index to record.
        path: the path to record (default: the layer's name).
        output_shape: `(height, width)` of a conv layer's output; found from
            the layer itself when None.
        form: as for `entropy_profile`.
        grid: as for `entropy_profile`.
    """
    return compute_entries([(index, path, layer, output_shape)], form, grid)[0]


def entropy_profile(model, kinds=("conv", "dense"), label=None, form="paper", grid=None):
    r"""Entropy profile of a built Keras model, in one of the forms of the entropy change.

    $$
    \Delta H_{\mathrm{conv}} = N_{\mathrm{out}} \sum_{i,o} \log\lvert K[0, 0, i, o]\rvert,
    \qquad
    \Delta H_{\mathrm{dense}} = \log\lvert\det K[{:}k, {:}k]\rvert
    $$

    in nats, for the default `form="paper"`.

    For every `Dense` and `Conv2D` layer (subclasses included) in forward
    order, evaluates on its kernel, with `form="paper"` (the default; MATH.md
    sections 1 and 2):

    - conv: per single-channel filter `log|K[0, 0, i, o]|`, and the total
      `dH_conv = N_out * sum_{i,o} log|K[0, 0, i, o]|` with `N_out` the
      layer's output height x width (exact for `padding="valid"`, an
      approximation with `padding="same"`);
    - dense: `dH_dense = log|det K[:k, :k]|`, `k = min(n_in, n_out)`.

    With `form="volume"` (MATH.md sections 8-9) or `"normalized"` (section
    10) the values are those of the whole kernel; there are no per-filter
    values, so each layer holds one value (`LayerEntropy.values` has one
    element, and `plot_profiles` draws a point, not a box):

    - conv: on the frequency grid `(h, w)`, the per-position value
      `v = ops.conv_volume_change(kernel, form=form, grid=(h, w)) / (h w)` and
      the total `dH = N_out * v`, which is exact for circular padding when
      the grid is the output size. `grid=None` takes, per layer,
      `regularizers.default_grid` of its output size (capped at 16 per
      axis, as `ConvEntropy` and `EntropyConv2D` do);
    - dense: `dH = ops.dense_volume_change(kernel, form=form)`, i.e.
      `sum_j log sigma_j(K)` (volume) or that minus `k/2 log(tr G / k)`
      (normalized, `<= 0`).

    Nested models are walked depth-first (see `iter_entropy_layers`).

    Example:

    >>> import keras, keras_entropy
    >>> vgg = keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
    >>> profile = keras_entropy.entropy_profile(vgg, label="init")
    >>> len(profile), profile[0].name, profile[0].output_positions  # 13 convolutions; 32 x 32
    (13, 'block1_conv1', 1024)
    >>> df = profile.to_dataframe()          # needs pandas

    Args:
        model: a built Keras model (or any built layer that owns layers).
        kinds: which layer kinds to include: a subset of `("conv", "dense")`
            (default both).
        label: a name stored with the profile (used by `plot_profiles`;
            default None).
        form: `"paper"` (default), `"volume"` or `"normalized"`; recorded as
            `EntropyProfile.form`.
        grid: `(h, w)`, the frequency grid of every conv layer in a volume
            form, or None (default) for each layer's default (ignored by
            `"paper"`).

    Returns:
        An `EntropyProfile`.
    """
    validate_model(model)
    kinds = validate_kinds(kinds)
    form = validation.validate_form(form)
    grid = validation.validate_grid(grid)
    if not model.built:
        raise ValueError(f"Model {model.name!r} is not built: call it on data or `build()` it first.")
    items = [(i, path, layer, None) for i, (path, layer) in enumerate(iter_entropy_layers(model, kinds))]
    return EntropyProfile(compute_entries(items, form, grid), label=label, form=form)


__all__ = ["compute_entries", "entropy_profile", "layer_entropy"]

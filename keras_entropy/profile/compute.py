"""Computing a profile: the entropy numbers of a model's Dense and Conv2D layers."""

import math

import keras
import numpy as np

from keras_entropy import ops as entropy_ops
from keras_entropy.profile.records import EntropyProfile, LayerEntropy
from keras_entropy.profile.walk import (
    iter_entropy_layers,
    kernel_variable,
    layer_kind,
    output_spatial_shape,
    validate_kinds,
    validate_model,
)


def _check_layer(layer):
    kind = layer_kind(layer)
    if kind is None:
        raise TypeError(
            "Expected a Dense or Conv2D layer. "
            f"Received: layer={layer!r} of type {type(layer).__name__}"
        )
    if not layer.built:
        raise ValueError(f"Layer {layer.name!r} is not built: build or call the model first.")
    return kind


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
        kernel = kernel_variable(layer)
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
    validate_model(model)
    kinds = validate_kinds(kinds)
    if not model.built:
        raise ValueError(
            f"Model {model.name!r} is not built: call it on data or `build()` it first."
        )
    items = [
        (i, path, layer, None) for i, (path, layer) in enumerate(iter_entropy_layers(model, kinds))
    ]
    return EntropyProfile(compute_entries(items), label=label)


__all__ = ["compute_entries", "entropy_profile", "layer_entropy"]

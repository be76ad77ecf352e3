"""Attach entropy penalties to the layers of an existing model.

Keras 3 reads weight regularizers from `variable.regularizer` each time it
computes `model.losses`, so a built (or loaded, or `keras.applications`)
model can be given entropy penalties without being rebuilt:
`place_penalties` sets `layer.kernel_regularizer` (so that the model
serializes with its penalties) and `layer.kernel.regularizer` (so that the
penalty is in `model.losses` right away) to a `DenseEntropy` or a
`ConvEntropy` whose `output_shape` is the layer's real output size.

Where the penalties go is given by layer names, by indices in the order of
`entropy_profile(model)`, or by one of the paper's strategies (see
`select_layers`).

Example:

>>> import keras, keras_entropy
>>> inputs = keras.Input((32, 32, 3))
>>> x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="stem")(inputs)
>>> for block in (1, 2):  # two residual blocks
...     y = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name=f"block{block}_conv1")(x)
...     y = keras.layers.Conv2D(16, 3, padding="same", name=f"block{block}_conv2")(y)
...     x = keras.layers.Add()([x, y])
>>> outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.GlobalAveragePooling2D()(x))
>>> model = keras.Model(inputs, outputs)
>>> touched = keras_entropy.place_penalties(model, "pre_skip", lam=1e-3)
>>> [layer.name for layer in touched], len(model.losses)
(['stem', 'block1_conv2', 'block2_conv2'], 3)
>>> model.compile("sgd", "sparse_categorical_crossentropy")

The same call on `keras.applications.ResNet50(weights=None, classes=10)`
penalizes its 20 layers that feed a residual `Add` (see `select_layers`).
"""

import numbers

import keras

from keras_entropy import ops as entropy_ops
from keras_entropy import validation
from keras_entropy.profile import STATISTICS, EntropyProfile, entropy_profile, walk
from keras_entropy.regularizers import ConvEntropy, DenseEntropy

#: The placement strategies understood by `select_layers` and `place_penalties`.
STRATEGIES = ("first", "first_two", "all", "pre_skip", "pre_concat", "empirical")


# ---------------------------------------------------------------------------
# Graph tracing for "pre_skip" / "pre_concat".


def _all_operations(layer, seen=None):
    """Every operation of `layer`'s graphs (functional ops included), recursively."""
    seen = set() if seen is None else seen
    ops = list(getattr(layer, "operations", None) or walk.sublayers(layer))
    for op in ops:
        if id(op) in seen:
            continue
        seen.add(id(op))
        yield op
        if isinstance(op, keras.layers.Layer):
            yield from _all_operations(op, seen)


def _is_merge(op, merge):
    name = type(op).__name__
    if merge == "add":
        # keras.layers.Add, and the `Add` operation of `x + y` / keras.ops.add
        # in a functional graph.
        return isinstance(op, keras.layers.Add) or name == "Add"
    return isinstance(op, keras.layers.Concatenate) or name == "Concatenate"


def _producers(tensor, classes, found, visited):
    """Add to `found` the Dense/Conv2D layers whose output reaches `tensor`
    through single-input layers without a kernel (BatchNormalization,
    activations, dropout, padding, cropping, pooling...)."""
    history = getattr(tensor, "_keras_history", None)
    if history is None or history.operation is None:
        return
    op, node_index, tensor_index = history
    key = (id(op), node_index, tensor_index)
    if key in visited:
        return
    visited.add(key)
    if isinstance(op, classes):
        found.setdefault(id(op), op)
        return
    if isinstance(op, keras.Model) and getattr(op, "outputs", None):
        # A nested functional model: continue from its own output tensor.
        outputs = keras.tree.flatten(op.outputs)
        _producers(outputs[tensor_index], classes, found, visited)
        return
    if hasattr(op, "kernel") or hasattr(op, "depthwise_kernel"):
        return  # another weight layer (Conv2DTranspose, DepthwiseConv2D...): stop
    node = op._inbound_nodes[node_index]
    inputs = node.input_tensors
    if len(inputs) == 1:
        _producers(inputs[0], classes, found, visited)


def _skip_producers(model, kinds, merge):
    classes = tuple(walk.KINDS[k] for k in kinds)
    found, visited = {}, set()
    for op in _all_operations(model):
        if not _is_merge(op, merge):
            continue
        for node in op._inbound_nodes:
            for tensor in node.input_tensors:
                _producers(tensor, classes, found, visited)
    return found


# ---------------------------------------------------------------------------
# Selection.


def select_layers(model, where, reference=None, k=None, statistic="mean", kinds=("conv", "dense")):
    """The Dense/Conv2D layers of `model` picked by `where`, in forward order.

    The candidates are the layers of `entropy_profile(model, kinds)` (forward
    order; nested models walked depth-first). `where` is one of:

    - a list of layer names (or `outer/inner/name` paths for nested models)
      and/or integer indices in that order (0-based, negative allowed);
    - a strategy (a string):
      - `"first"`: the first layer;
      - `"first_two"`: the first two layers. The paper names these layers by
        their index in the authors' `model.layers` (input = 0): `[1, 2]` for
        VGG16 (`block1_conv1`, `block1_conv2`) and `[1, 5]` for ResNet50
        (`Input, Conv, BN, ReLU, MaxPool, Conv`: the two first convolutions;
        in `keras.applications.ResNet50`, which adds two `ZeroPadding2D`
        layers, they are `conv1_conv` and `conv2_block1_1_conv`);
      - `"all"`: every candidate;
      - `"pre_skip"`: the layers whose output enters an `Add` (a residual
        connection, `keras.layers.Add` or `x + y`), directly or through
        single-input layers without a kernel (batch normalization,
        activation, dropout, padding, pooling). In ResNet50: the last
        convolution of every residual branch (`*_3_conv`) and the four
        projection shortcuts (`*_0_conv`), 20 layers;
      - `"pre_concat"`: the same for `Concatenate` (the layers feeding the
        skip connections of a U-Net, the paper's U-Net placement);
      - `"empirical"`: the `k` layers with the highest entropy change in
        `reference` (the profile of e.g. a trained network of the same
        architecture), ranked by `statistic` of their per-filter values.
        Reference layers are matched to `model`'s by path, then by name,
        then by position when kind and kernel shape agree.

    `kinds` restricts the candidates (e.g. `("conv",)` so that `"first"` is
    the first convolution even if a Dense layer comes earlier).

    Example:

    >>> import keras, keras_entropy
    >>> vgg = keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
    >>> [layer.name for layer in keras_entropy.select_layers(vgg, "first_two")]
    ['block1_conv1', 'block1_conv2']

    Args:
        model: a built Keras model.
        where: a strategy name or a list of names / indices.
        reference: for `"empirical"`: an `EntropyProfile` or a built model
            (profiled on the spot).
        k: for `"empirical"`: how many layers (an int >= 1).
        statistic: for `"empirical"`: one of `"mean"` (default), `"median"`,
            `"min"`, `"max"` of the per-filter values, or `"total"` (`dH`,
            which grows with `N_out` and the number of filters).
        kinds: subset of `("conv", "dense")`.

    Returns:
        A list of layers, in forward order, without duplicates.
    """
    kinds = walk.validate_kinds(kinds)
    walk.validate_model(model)
    candidates = list(walk.iter_entropy_layers(model, kinds))
    if isinstance(where, str):
        if where not in STRATEGIES:
            raise ValueError(
                f"Argument `where` must be one of the strategies {STRATEGIES} or a list of "
                f"layer names / indices (pass [{where!r}] for a layer of that name). "
                f"Received: where={where!r}"
            )
        chosen = _strategy(model, where, candidates, kinds, reference, k, statistic)
    elif isinstance(where, (list, tuple)):
        chosen = [_lookup(item, candidates) for item in where]
    else:
        raise TypeError(
            "Argument `where` must be a strategy name or a list of layer names / indices. "
            f"Received: where={where!r} of type {type(where).__name__}"
        )
    order = {id(layer): i for i, (_, layer) in enumerate(candidates)}
    unique = {id(layer): layer for layer in chosen}
    return sorted(unique.values(), key=lambda layer: order[id(layer)])


def _lookup(item, candidates):
    if isinstance(item, numbers.Integral) and not isinstance(item, bool):
        if not -len(candidates) <= item < len(candidates):
            raise ValueError(
                f"Layer index {item} is out of range: the model has {len(candidates)} "
                f"Dense/Conv2D layers. Received: where item={item!r}"
            )
        return candidates[item][1]
    if isinstance(item, str):
        for path, layer in candidates:
            if item == path:
                return layer
        for _, layer in candidates:
            if item == layer.name:
                return layer
        raise ValueError(f"No Dense/Conv2D layer named {item!r}. Available: {[p for p, _ in candidates]}")
    raise TypeError(f"Items of `where` must be layer names or integer indices. Received: {item!r}")


def _strategy(model, where, candidates, kinds, reference, k, statistic):
    layers = [layer for _, layer in candidates]
    if where == "first":
        return layers[:1]
    if where == "first_two":
        return layers[:2]
    if where == "all":
        return layers
    if where in ("pre_skip", "pre_concat"):
        found = _skip_producers(model, kinds, "add" if where == "pre_skip" else "concat")
        return [layer for layer in layers if id(layer) in found]
    # "empirical"
    if reference is None:
        raise ValueError(
            "Strategy 'empirical' needs a reference profile (e.g. of a trained network). Received: reference=None"
        )
    if isinstance(reference, keras.layers.Layer):
        reference = entropy_profile(reference, kinds)
    if not isinstance(reference, EntropyProfile):
        raise TypeError(
            "Argument `reference` must be an EntropyProfile or a built Keras model. "
            f"Received: reference={reference!r} of type {type(reference).__name__}"
        )
    if k is None:
        raise ValueError("Strategy 'empirical' needs `k`, an int >= 1. Received: k=None")
    k = validation.validate_positive_int(k, "k")
    validation.validate_choice(statistic, "statistic", STATISTICS)
    entries = [e for e in reference if e.kind in kinds]
    if k > len(entries):
        raise ValueError(
            f"Argument `k` is larger than the {len(entries)} layers of the reference profile. Received: k={k!r}"
        )
    ranked = sorted(entries, key=lambda e: e.statistic(statistic), reverse=True)[:k]
    return [_match(entry, candidates) for entry in ranked]


def _match(entry, candidates):
    for attribute in ("path", "name"):
        for path, layer in candidates:
            if getattr(entry, attribute) == (path if attribute == "path" else layer.name):
                return layer
    if entry.index < len(candidates):
        _, layer = candidates[entry.index]
        if walk.layer_kind(layer) == entry.kind and tuple(layer.kernel.shape) == tuple(entry.kernel_shape):
            return layer
    raise ValueError(
        f"Reference layer {entry.path!r} (index {entry.index}, {entry.kind}, kernel "
        f"{entry.kernel_shape}) has no counterpart in the model: no layer of that name, "
        "and the layer at that index differs in kind or kernel shape."
    )


# ---------------------------------------------------------------------------
# Placement.


def place_penalties(
    model,
    where,
    lam=0.01,
    *,
    reference=None,
    k=None,
    statistic="mean",
    kinds=("conv", "dense"),
    stabilized=True,
    epsilon=entropy_ops.DEFAULT_EPSILON,
    replace=False,
    form="paper",
    grid=None,
):
    r"""Add entropy penalties to chosen layers of an existing, built model.

    $$
    P_{\mathrm{conv}} = N_{\mathrm{out}} \sum_{i,o} \lambda\, s(K[0, 0, i, o]), \qquad
    P_{\mathrm{dense}} = \sum_{j=1}^{k} \lambda\, s(r_j), \qquad
    s(x) = \frac{1}{\lvert x\rvert + \epsilon} \ \text{or} \ -\log\lvert x\rvert
    $$

    Each chosen `Conv2D` layer gets a `ConvEntropy(lam, output_shape=(h, w))`
    with `(h, w)` its real output size, so its penalty is

        N_out * sum_{i,o} lam * s(K[0, 0, i, o]),   N_out = h * w

    and each `Dense` layer a `DenseEntropy(lam)`: `sum_j lam * s(r_j)` over
    the factors of `|det K[:k, :k]|`; `s(x) = 1 / (|x| + epsilon)`
    (stabilized, default) or `-log|x|` (exact). See MATH.md sections 3-4.
    With `form="volume"` or `"normalized"` the regularizers get that form
    (and conv layers `grid`): the penalty of the whole kernel's log-volume,
    MATH.md sections 8-10 (see `DenseEntropy` and `ConvEntropy`); `lam` must
    then be a single number.

    The regularizer is set both as `layer.kernel_regularizer` (so the model
    saved to `.keras` reloads with it) and on the kernel variable (so the
    penalty is in `model.losses` at once: one term per touched layer). The
    model is not rebuilt; its weights are untouched. If the model was
    already compiled, its cached train/test/predict functions are dropped so
    that the next `fit` includes the penalties; calling `compile()` after
    placement is the usual order. Frozen layers (`trainable=False`)
    contribute no loss, as for any Keras weight regularizer.

    With an unknown spatial size (an `Input((None, None, 3))`), a conv layer
    gets `output_shape=None`, i.e. a penalty per output position.

    Example:

    >>> import keras, keras_entropy
    >>> vgg = keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
    >>> touched = keras_entropy.place_penalties(vgg, "first", lam=0.01)
    >>> [layer.name for layer in touched], len(vgg.losses)  # one penalty term per touched layer
    (['block1_conv1'], 1)

    Args:
        model: a built Keras model (e.g. from `keras.applications` with
            `weights=None`, or from `keras.saving.load_model`).
        where: a strategy (`"first"`, `"first_two"`, `"all"`, `"pre_skip"`,
            `"pre_concat"`, `"empirical"`) or a list of layer names / profile
            indices; see `select_layers`.
        lam: strength: a float (> 0 preserves entropy; default 0.01), or an
            array that fits every chosen layer (see `ConvEntropy` /
            `DenseEntropy`).
        reference: for `"empirical"` (default None); see `select_layers`.
        k: for `"empirical"` (default None); see `select_layers`.
        statistic: for `"empirical"` (default `"mean"`); see `select_layers`.
        kinds: subset of `("conv", "dense")` to choose from (default both).
        stabilized: as for `ConvEntropy` / `DenseEntropy` (default True).
        epsilon: as for `ConvEntropy` / `DenseEntropy` (default
            `keras_entropy.ops.DEFAULT_EPSILON`, 1e-3).
        replace: a chosen layer that already has a kernel regularizer other
            than an entropy one raises `ValueError` unless `replace=True`
            (which drops it; default False). An existing entropy penalty is
            always replaced.
        form: `"paper"` (default), `"volume"` or `"normalized"`, given to
            every regularizer placed.
        grid: `(h, w)`, the frequency grid of the conv volume forms, or None
            (default) for `regularizers.default_grid` of each layer's output
            size.

    Returns:
        The list of layers that were given a penalty, in forward order.
    """
    lam = validation.validate_lam(lam)
    stabilized = validation.validate_bool(stabilized, "stabilized")
    epsilon = validation.validate_epsilon(epsilon)
    replace = validation.validate_bool(replace, "replace")
    form = validation.validate_form(form)
    grid = validation.validate_grid(grid)
    validation.check_lam_form(lam, form)
    layers = select_layers(model, where, reference=reference, k=k, statistic=statistic, kinds=kinds)
    plan = []
    for layer in layers:
        existing = getattr(layer, "kernel_regularizer", None)
        if existing is not None and not isinstance(existing, (ConvEntropy, DenseEntropy)) and not replace:
            raise ValueError(
                f"Layer {layer.name!r} already has kernel_regularizer={existing!r}; pass "
                "replace=True to replace it with the entropy penalty. "
                f"Received: replace={replace!r}"
            )
        if walk.layer_kind(layer) == "conv":
            regularizer = ConvEntropy(lam, walk.output_spatial_shape(layer), stabilized, epsilon, form, grid)
        else:
            regularizer = DenseEntropy(lam, stabilized, epsilon, form)
        variable = walk.kernel_variable(layer)
        try:
            regularizer.check(variable)  # rank and `lam` against the kernel, before anything changes
        except ValueError as exc:
            raise ValueError(f"Layer {layer.name!r}: {exc}") from exc
        plan.append((layer, variable, regularizer))
    for layer, variable, regularizer in plan:
        layer.kernel_regularizer = regularizer
        variable.regularizer = regularizer
    for attribute in ("train_function", "test_function", "predict_function"):
        if getattr(model, attribute, None) is not None:
            setattr(model, attribute, None)
    return layers


__all__ = ["STRATEGIES", "place_penalties", "select_layers"]

"""Walking a model: which layers a profile covers, in which order, with which kernel."""

import keras

from keras_entropy import validation

#: Layer kinds a profile covers, with the Keras classes they match.
KINDS = {"conv": keras.layers.Conv2D, "dense": keras.layers.Dense}


def layer_kind(layer):
    """The name in `KINDS` of the class `layer` is an instance of, or None."""
    for kind, cls in KINDS.items():
        if isinstance(layer, cls):
            return kind
    return None


def validate_kinds(kinds):
    """`kinds` as a tuple of names in `KINDS` (a single name is accepted); ValueError otherwise."""
    names = validation.validate_names(kinds, "kinds")
    if any(k not in KINDS for k in names):
        raise ValueError(
            f"Argument `kinds` must be a non-empty subset of {tuple(KINDS)}. Received: kinds={tuple(names)!r}"
        )
    return tuple(names)


def validate_model(model):
    """`model` if it is a Keras layer or model; TypeError naming it otherwise."""
    if not isinstance(model, keras.layers.Layer):
        raise TypeError(
            f"Argument `model` must be a Keras model. Received: model={model!r} of type {type(model).__name__}"
        )
    return model


def kernel_variable(layer):
    """The variable that holds the kernel of a Dense or Conv2D layer.

    `layer._kernel` when the layer has one: Keras's `kernel` property may
    return a tensor computed from it (a LoRA-enabled layer adds
    `lora_kernel_a @ lora_kernel_b`), while a regularizer is set on, and a
    profile reads, the variable itself. Otherwise `layer.kernel`.
    """
    variable = getattr(layer, "_kernel", None)
    return layer.kernel if variable is None else variable


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

    >>> import keras
    >>> inner = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4, name="inner_dense")], name="block")
    >>> model = keras.Sequential([keras.Input((4,)), inner, keras.layers.Dense(2, name="head")])
    >>> [path for path, layer in iter_entropy_layers(model)]
    ['block/inner_dense', 'head']
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

    >>> import keras
    >>> model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(4, 3)])
    >>> output_spatial_shape(model.layers[0])
    (26, 26)
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


__all__ = [
    "KINDS",
    "iter_entropy_layers",
    "kernel_variable",
    "layer_kind",
    "output_spatial_shape",
    "sublayers",
    "validate_kinds",
    "validate_model",
]

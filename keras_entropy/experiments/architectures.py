"""The networks of the paper's profile figures: VGG16, ResNet50, U-Net, and their weights on disk.

- `build_model(name, ...)`: `keras.applications.VGG16` / `ResNet50` at full
  size, or compact versions with the same layer structure (`compact_vgg16`,
  `compact_resnet`) for quick CPU runs, and the segmentation experiment's
  U-Net (`keras_entropy.experiments.segmentation.unet`, see `unet_builder`);
- `unet`: a U-Net with upsampling + 2x2 convolutions instead of transposed
  convolutions, so that every convolution is a `Conv2D` the entropy profile
  covers;
- `find_imagenet_weights(name)`: the Keras ImageNet weights file of VGG16 or
  ResNet50 when it is on disk (an explicit path, or the Keras cache
  `~/.keras/models` / `$KERAS_HOME/models`); nothing is downloaded.

The compact builders keep the layer names of `keras.applications`, so a
profile of a compact network reads like that of the full one.
"""

import os

import keras

from keras_entropy import validation

#: The models of the paper's profile figures.
MODELS = ("vgg16", "resnet50", "unet")

#: File names of the Keras ImageNet weights (with the classification top).
IMAGENET_WEIGHT_FILES = {
    "vgg16": "vgg16_weights_tf_dim_ordering_tf_kernels.h5",
    "resnet50": "resnet50_weights_tf_dim_ordering_tf_kernels.h5",
}


def _width(base, width):
    """`base * width` filters, rounded, at least 2."""
    return max(2, int(round(base * width)))


# ---------------------------------------------------------------------------
# Weights on disk.


def keras_cache_dir():
    """The folder Keras keeps downloaded weights in (`$KERAS_HOME/models` or `~/.keras/models`)."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(home, "models")


def find_imagenet_weights(name, path=None, cache_dir=None):
    """Path of the ImageNet weights file of `name`, or None when there is none.

    Args:
        name: `"vgg16"` or `"resnet50"` (`"unet"` has none: returns None).
        path: an explicit weights file or a folder holding the Keras file
            name; it must exist (FileNotFoundError otherwise).
        cache_dir: folder to look in when `path` is None (default
            `keras_cache_dir()`).
    """
    validation.validate_choice(name, "name", MODELS)
    filename = IMAGENET_WEIGHT_FILES.get(name)
    if path is not None:
        path = os.fspath(path)
        if os.path.isdir(path) and filename:
            path = os.path.join(path, filename)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"ImageNet weights for {name!r} not found: {path}")
        return os.path.abspath(path)
    if filename is None:
        return None
    candidate = os.path.join(cache_dir or keras_cache_dir(), filename)
    return os.path.abspath(candidate) if os.path.isfile(candidate) else None


# ---------------------------------------------------------------------------
# Builders.


def compact_vgg16(input_shape=(32, 32, 3), classes=10, width=0.125, dense_units=None):
    """VGG16's layer structure (13 conv 3x3 + 3 dense) with `width` times the filters.

    Args:
        input_shape: image shape, at least 32x32 (five 2x2 poolings).
        classes: softmax outputs.
        width: filter multiplier of VGG16's 64-128-256-512-512 (1.0: full).
        dense_units: units of fc1 and fc2 (default `4096 * width`).
    """
    width = validation.validate_positive(width, "width")
    classes = validation.validate_positive_int(classes, "classes")
    dense_units = (
        _width(4096, width) if dense_units is None else validation.validate_positive_int(dense_units, "dense_units")
    )
    inputs = keras.Input(input_shape)
    x = inputs
    for block, (convs, filters) in enumerate([(2, 64), (2, 128), (3, 256), (3, 512), (3, 512)], start=1):
        for i in range(1, convs + 1):
            x = keras.layers.Conv2D(
                _width(filters, width), 3, padding="same", activation="relu", name=f"block{block}_conv{i}"
            )(x)
        x = keras.layers.MaxPooling2D(2, name=f"block{block}_pool")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(dense_units, activation="relu", name="fc1")(x)
    x = keras.layers.Dense(dense_units, activation="relu", name="fc2")(x)
    outputs = keras.layers.Dense(classes, activation="softmax", dtype="float32", name="predictions")(x)
    return keras.Model(inputs, outputs, name="compact_vgg16")


def compact_resnet(input_shape=(32, 32, 3), classes=10, width=0.0625, blocks=(3, 4, 6, 3)):
    """ResNet50's bottleneck layout (v1, batch norm) with `width` times the filters.

    `blocks=(3, 4, 6, 3)` is ResNet50's depth; fewer blocks make a shallower
    network of the same kind. Each stage's first block has a 1x1 projection
    shortcut, as in `keras.applications.ResNet50`.
    """
    width = validation.validate_positive(width, "width")
    if isinstance(blocks, (int, str)) or len(blocks) != 4:
        raise ValueError(f"Argument `blocks` must be four ints. Received: blocks={blocks!r}")
    blocks = [validation.validate_positive_int(b, "blocks") for b in blocks]
    classes = validation.validate_positive_int(classes, "classes")
    inputs = keras.Input(input_shape)
    x = keras.layers.ZeroPadding2D(3, name="conv1_pad")(inputs)
    x = keras.layers.Conv2D(_width(64, width), 7, strides=2, name="conv1_conv")(x)
    x = keras.layers.BatchNormalization(epsilon=1.001e-5, name="conv1_bn")(x)
    x = keras.layers.Activation("relu", name="conv1_relu")(x)
    x = keras.layers.ZeroPadding2D(1, name="pool1_pad")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    for stage, (filters, count) in enumerate(zip((64, 128, 256, 512), blocks), start=2):
        f = _width(filters, width)
        for b in range(1, count + 1):
            name = f"conv{stage}_block{b}"
            stride = 2 if (b == 1 and stage > 2) else 1
            if b == 1:
                shortcut = keras.layers.Conv2D(4 * f, 1, strides=stride, name=name + "_0_conv")(x)
                shortcut = keras.layers.BatchNormalization(epsilon=1.001e-5, name=name + "_0_bn")(shortcut)
            else:
                shortcut = x
            y = keras.layers.Conv2D(f, 1, strides=stride, name=name + "_1_conv")(x)
            y = keras.layers.BatchNormalization(epsilon=1.001e-5, name=name + "_1_bn")(y)
            y = keras.layers.Activation("relu", name=name + "_1_relu")(y)
            y = keras.layers.Conv2D(f, 3, padding="same", name=name + "_2_conv")(y)
            y = keras.layers.BatchNormalization(epsilon=1.001e-5, name=name + "_2_bn")(y)
            y = keras.layers.Activation("relu", name=name + "_2_relu")(y)
            y = keras.layers.Conv2D(4 * f, 1, name=name + "_3_conv")(y)
            y = keras.layers.BatchNormalization(epsilon=1.001e-5, name=name + "_3_bn")(y)
            x = keras.layers.Add(name=name + "_add")([shortcut, y])
            x = keras.layers.Activation("relu", name=name + "_out")(x)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = keras.layers.Dense(classes, activation="softmax", dtype="float32", name="predictions")(x)
    return keras.Model(inputs, outputs, name="compact_resnet")


def unet(input_shape=(256, 256, 3), classes=1, filters=64, depth=4):
    """A U-Net (Ronneberger et al. 2015) with "same" padding.

    `depth` levels of two 3x3 ReLU convolutions and a 2x2 max-pool, a
    bottleneck of two convolutions, then `depth` levels of up-convolution
    (2x upsampling + a 2x2 convolution), concatenation with the matching
    encoder output and two 3x3 convolutions; a 1x1 convolution gives
    `classes` maps (sigmoid for one class, softmax otherwise). The input
    side must be divisible by `2 ** depth`. Every convolution is a `Conv2D`
    (`5 * depth + 3` in all: 23 for depth 4), so the entropy profile covers
    all of them.

    Args:
        input_shape: `(H, W, C)`.
        classes: output maps.
        filters: filters of the first level (doubling per level; 64 as in
            the paper).
        depth: number of poolings (4 as in the paper).
    """
    if len(tuple(input_shape)) != 3:
        raise ValueError(f"Argument `input_shape` must be (H, W, C). Received: input_shape={input_shape!r}")
    classes = validation.validate_positive_int(classes, "classes")
    filters = validation.validate_positive_int(filters, "filters")
    depth = validation.validate_positive_int(depth, "depth")
    for side in input_shape[:2]:
        if side is not None and side % (2**depth):
            raise ValueError(
                f"Argument `input_shape` must have sides divisible by 2**depth = {2**depth}. "
                f"Received: input_shape={input_shape!r}, depth={depth}"
            )
    inputs = keras.Input(input_shape)
    x = inputs
    skips = []

    def double_conv(x, f, name):
        x = keras.layers.Conv2D(f, 3, padding="same", activation="relu", name=name + "_conv1")(x)
        return keras.layers.Conv2D(f, 3, padding="same", activation="relu", name=name + "_conv2")(x)

    for level in range(depth):
        x = double_conv(x, filters * 2**level, f"down{level + 1}")
        skips.append(x)
        x = keras.layers.MaxPooling2D(2, name=f"down{level + 1}_pool")(x)
    x = double_conv(x, filters * 2**depth, "bottleneck")
    for level in reversed(range(depth)):
        f = filters * 2**level
        x = keras.layers.UpSampling2D(2, name=f"up{level + 1}_upsample")(x)
        x = keras.layers.Conv2D(f, 2, padding="same", activation="relu", name=f"up{level + 1}_upconv")(x)
        x = keras.layers.Concatenate(name=f"up{level + 1}_concat")([skips[level], x])
        x = double_conv(x, f, f"up{level + 1}")
    activation = "sigmoid" if classes == 1 else "softmax"
    outputs = keras.layers.Conv2D(classes, 1, activation=activation, dtype="float32", name="output")(x)
    return keras.Model(inputs, outputs, name="unet")


def unet_builder():
    """The U-Net builder used for Figure 9: `(origin, function)`.

    `keras_entropy.experiments.segmentation.unet` (the paper's segmentation experiment,
    Conv2DTranspose up-convolutions), called as `fn(input_shape, filters,
    depth)`. Note that the entropy profile covers `Conv2D` and `Dense`
    layers only, so its transposed convolutions are not in the profile.
    """
    from keras_entropy.experiments import segmentation

    return "keras_entropy.experiments.segmentation.unet", (
        lambda shape, filters, depth: segmentation.unet(shape, base_filters=filters, depth=depth)
    )


def builder_name(name, compact=False):
    """What `build_model(name, compact=compact)` calls, as a string for reports."""
    validation.validate_choice(name, "name", MODELS)
    if name == "unet":
        return unet_builder()[0]
    if compact:
        return f"compact_{'vgg16' if name == 'vgg16' else 'resnet'}"
    return f"keras.applications.{'VGG16' if name == 'vgg16' else 'ResNet50'}"


def build_model(
    name, input_size, classes=10, compact=False, weights=None, width=None, blocks=None, unet_filters=None, unet_depth=4
):
    """The network of one profile figure.

    Args:
        name: `"vgg16"`, `"resnet50"` or `"unet"`.
        input_size: side of the square RGB input.
        classes: classifier outputs (1000 with ImageNet weights); U-Net: one
            sigmoid map whatever this says.
        compact: VGG16/ResNet50: the compact builders (quick runs) instead of
            `keras.applications`.
        weights: a weights file for `keras.applications` (ImageNet, needs
            `input_size=224`, `classes=1000`), or None for random weights.
        width: filter multiplier of the compact builders; None: 1/8 for
            VGG16, 1/16 for ResNet.
        blocks: ResNet blocks per stage for the compact builder.
        unet_filters: U-Net first-level filters (None: 16).
        unet_depth: U-Net poolings.

    The U-Net comes from `unet_builder()`.
    """
    validation.validate_choice(name, "name", MODELS)
    input_size = validation.validate_positive_int(input_size, "input_size")
    shape = (input_size, input_size, 3)
    if weights is not None and (compact or name == "unet"):
        raise ValueError(
            f"Argument `weights` needs a full-size VGG16 or ResNet50. Received: weights={weights!r} "
            f"for name={name!r}, compact={compact}"
        )
    if name == "unet":
        builder = unet_builder()[1]
        unet_filters = 16 if unet_filters is None else unet_filters
        return builder(
            shape,
            validation.validate_positive_int(unet_filters, "unet_filters"),
            validation.validate_positive_int(unet_depth, "unet_depth"),
        )
    if name == "vgg16":
        if compact:
            return compact_vgg16(shape, classes, width if width is not None else 0.125)
        return keras.applications.VGG16(weights=weights, input_shape=shape, classes=classes)
    if compact:
        return compact_resnet(
            shape,
            classes,
            width if width is not None else 0.0625,
            tuple(blocks) if blocks is not None else (3, 4, 6, 3),
        )
    return keras.applications.ResNet50(weights=weights, input_shape=shape, classes=classes)


__all__ = [
    "IMAGENET_WEIGHT_FILES",
    "MODELS",
    "build_model",
    "builder_name",
    "compact_resnet",
    "compact_vgg16",
    "find_imagenet_weights",
    "keras_cache_dir",
    "unet",
    "unet_builder",
]

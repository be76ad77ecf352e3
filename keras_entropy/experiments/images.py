"""Image arrays and image shapes, shared by the image experiments (classification, segmentation)."""

import numbers


def image_shape(value, name="input_shape"):
    """`value` as a `(height, width, channels)` tuple of positive ints; ValueError otherwise."""
    if (
        not isinstance(value, (tuple, list))
        or len(value) != 3
        or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and v > 0 for v in value)
    ):
        raise ValueError(
            f"Argument `{name}` must be (height, width, channels) positive ints. Received: {name}={value!r}"
        )
    return tuple(int(v) for v in value)


def prepare_images(x):
    """uint8 images `(N, H, W)` or `(N, H, W, C)` as float32 `(N, H, W, C)` in [0, 1]."""
    import numpy as np

    x = np.asarray(x).astype("float32") / 255.0
    return x[..., None] if x.ndim == 3 else x


__all__ = ["image_shape", "prepare_images"]

"""Argument checks shared by the public classes.

Each helper raises `TypeError` (wrong kind of value) or `ValueError` (right
kind, wrong value) with a message that names the argument and the value
received, as Keras's own `validate_float_arg` does.
"""

import math
import numbers

import numpy as np


def _received(name, value):
    return f"Received: {name}={value!r}"


def validate_epsilon(value, name="epsilon"):
    """A finite float > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"Argument `{name}` must be a float. {_received(name, value)}")
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"Argument `{name}` must be a finite float > 0. {_received(name, value)}")
    return value


def validate_positive(value, name):
    """A finite float > 0 (e.g. `beta`)."""
    return validate_epsilon(value, name)


def validate_non_negative(value, name):
    """A finite float >= 0 (e.g. `balance`)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"Argument `{name}` must be a float. {_received(name, value)}")
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"Argument `{name}` must be a finite float >= 0. {_received(name, value)}")
    return value


def validate_open_unit_interval(value, name):
    """A float strictly between 0 and 1 (e.g. the target sparsity `rho`)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"Argument `{name}` must be a float. {_received(name, value)}")
    value = float(value)
    if not 0.0 < value < 1.0:
        raise ValueError(f"Argument `{name}` must be in the open interval (0, 1). {_received(name, value)}")
    return value


def validate_bool(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"Argument `{name}` must be True or False. {_received(name, value)}")
    return bool(value)


def validate_int(value, name, minimum=None):
    """An int (not a bool) >= `minimum` when given; numpy integers are accepted.

    >>> validate_int(3, "patience", minimum=0)
    3
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"Argument `{name}` must be an int. {_received(name, value)}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"Argument `{name}` must be an int >= {minimum}. {_received(name, value)}")
    return value


def validate_positive_int(value, name):
    """An int >= 1 (e.g. `epochs`, `replications`)."""
    return validate_int(value, name, minimum=1)


def validate_float(value, name, minimum=None, maximum=None):
    """A finite float, optionally within `[minimum, maximum]` (any real number is accepted)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"Argument `{name}` must be a float. {_received(name, value)}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"Argument `{name}` must be a finite float. {_received(name, value)}")
    if minimum is not None and value < minimum:
        raise ValueError(f"Argument `{name}` must be a float >= {minimum}. {_received(name, value)}")
    if maximum is not None and value > maximum:
        raise ValueError(f"Argument `{name}` must be a float <= {maximum}. {_received(name, value)}")
    return value


def validate_choice(value, name, choices):
    """One of `choices` (compared with ==); the message lists them."""
    if isinstance(value, (list, dict, set)) or value not in tuple(choices):
        options = ", ".join(repr(c) for c in choices)
        raise ValueError(f"Argument `{name}` must be one of {options}. {_received(name, value)}")
    return value


def validate_string(value, name, allow_empty=False):
    """A str (non-empty unless `allow_empty`)."""
    if not isinstance(value, str):
        raise TypeError(f"Argument `{name}` must be a string. {_received(name, value)}")
    if not value and not allow_empty:
        raise ValueError(f"Argument `{name}` must be a non-empty string. {_received(name, value)}")
    return value


def validate_names(value, name, allow_empty=False):
    """A str or a list/tuple of str, returned as a list (non-empty unless `allow_empty`)."""
    names = [value] if isinstance(value, str) else value
    if (
        not isinstance(names, (list, tuple))
        or not all(isinstance(n, str) for n in names)
        or (not names and not allow_empty)
    ):
        raise ValueError(
            f"Argument `{name}` must be a {'' if allow_empty else 'non-empty '}list of names. {_received(name, value)}"
        )
    return list(names)


def validate_lam(value, name="lam"):
    """A finite strength: a number or an array of numbers (any sign).

    A negative strength is valid (entropy suppression, MATH.md section 3).
    Returns a float or a float32 numpy array.
    """
    if isinstance(value, bool):
        raise TypeError(f"Argument `{name}` must be a number or an array of numbers. {_received(name, value)}")
    if isinstance(value, numbers.Real):
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"Argument `{name}` must be finite. {_received(name, value)}")
        return value
    try:
        array = np.asarray(value)
    except Exception:  # noqa: BLE001 - any failure means "not array-like"
        array = None
    if array is None or array.dtype.kind not in "iuf" or array.size == 0:
        raise TypeError(f"Argument `{name}` must be a number or an array of numbers. {_received(name, value)}")
    array = array.astype("float32")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"Argument `{name}` must be finite everywhere. {_received(name, value)}")
    if array.ndim == 0:
        return float(array)
    return array


def validate_output_shape(value, name="output_shape"):
    """None or a pair of positive ints (height, width)."""
    if value is None:
        return None
    if (
        not isinstance(value, (tuple, list))
        or len(value) != 2
        or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value)
    ):
        raise TypeError(f"Argument `{name}` must be None or a pair of ints (height, width). {_received(name, value)}")
    if min(value) <= 0:
        raise ValueError(f"Argument `{name}` must hold positive sizes. {_received(name, value)}")
    return (int(value[0]), int(value[1]))


#: The entropy changes a kernel penalty can use (MATH.md sections 1-4, 8-9, 10).
FORMS = ("paper", "volume", "normalized")


def validate_form(value, name="form"):
    """One of `FORMS`: `"paper"`, `"volume"` or `"normalized"`.

    >>> validate_form("volume")
    'volume'
    """
    return validate_choice(value, name, FORMS)


def validate_grid(value, name="grid"):
    """None or a pair of positive ints `(height, width)`: a frequency grid."""
    return validate_output_shape(value, name)


def check_lam_form(lam, form):
    """Raise if a per-factor or per-filter `lam` array comes with a volume form.

    The volume forms (MATH.md sections 8-10) are one value for the whole
    kernel, with no factor or filter to give a strength to.
    """
    if form != "paper" and not isinstance(lam, float):
        raise ValueError(
            f"Argument `lam` must be a scalar with form={form!r}: an array of strengths "
            "(one per factor or filter) applies to form='paper' only. "
            f"Received: lam with shape={lam.shape}, form={form!r}"
        )


def kernel_path(kernel):
    """The path of a Keras variable (`"conv2d/kernel"`: the layer's name), or None for a tensor.

    Keras hands a regularizer the variable itself when it computes `layer.losses`
    eagerly (and in TensorFlow and PyTorch training steps); inside a jitted JAX
    step it hands the value, a tracer with no path.

    >>> import keras, numpy as np
    >>> layer = keras.layers.Dense(3, name="encoder")
    >>> layer.build((None, 2))
    >>> kernel_path(layer.kernel)
    'encoder/kernel'
    >>> kernel_path(np.ones((2, 3))) is None
    True
    """
    path = getattr(kernel, "path", None)
    return path if isinstance(path, str) else None


def _describe_kernel(kernel, shape):
    path = kernel_path(kernel)
    return f"kernel {path!r} with shape={shape}" if path else f"kernel with shape={shape}"


def check_kernel_rank(kernel, rank, owner, hint):
    """Raise if `kernel` does not have `rank` dimensions; the message names the variable's path.

    >>> import numpy as np
    >>> check_kernel_rank(np.ones((2, 3)), 2, "DenseEntropy", "a Dense kernel")
    (2, 3)
    """
    shape = tuple(kernel.shape)
    if len(shape) != rank:
        raise ValueError(f"{owner} expects a rank-{rank} kernel ({hint}). Received: {_describe_kernel(kernel, shape)}")
    return shape


def check_lam_fits(lam, allowed_shape, owner, what, kernel=None):
    """Raise if a per-filter `lam` array does not broadcast to `allowed_shape`.

    With `kernel`, the message also names it (its variable's path) and its shape.
    """
    if isinstance(lam, float):
        return
    try:
        fits = np.broadcast_shapes(lam.shape, allowed_shape) == tuple(allowed_shape)
    except ValueError:
        fits = False
    if not fits:
        where = "" if kernel is None else f" for the {_describe_kernel(kernel, tuple(kernel.shape))}"
        raise ValueError(
            f"{owner}: argument `lam` must be a scalar or an array that broadcasts "
            f"to {tuple(allowed_shape)} ({what}). Received: lam with shape={lam.shape}{where}"
        )


def serialize_lam(lam):
    return lam if isinstance(lam, float) else lam.tolist()

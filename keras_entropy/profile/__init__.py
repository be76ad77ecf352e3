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

That is the paper's form (`form="paper"`, the default). With `form="volume"`
or `"normalized"` (MATH.md sections 8-10) every layer holds one value of its
whole kernel: `ops.dense_volume_change(kernel, form=form)`, or for a conv
layer the per-position `ops.conv_volume_change(kernel, form=form, grid=grid)
/ (h w)` with the total `N_out` times it; the profile records its form
(`EntropyProfile.form`) and plots draw a point per layer.

All the mathematics comes from `keras_entropy.ops`; this package only walks the
model (`walk`), collects the numbers (`compute`) into records (`records`) and
converts or plots them (`plot`). pandas and matplotlib are imported inside
the functions that need them, never at package import.

Example:

>>> import keras, keras_entropy
>>> model = keras.Sequential([
...     keras.Input((28, 28, 1)),
...     keras.layers.Conv2D(16, 3, activation="relu", name="conv1"),
...     keras.layers.Conv2D(32, 3, activation="relu", name="conv2"),
...     keras.layers.GlobalAveragePooling2D(),
...     keras.layers.Dense(10, name="logits")])
>>> profile = keras_entropy.entropy_profile(model)
>>> [(entry.name, entry.kind, entry.output_positions, entry.values.size) for entry in profile]
[('conv1', 'conv', 676, 16), ('conv2', 'conv', 576, 512), ('logits', 'dense', 10, 1)]
>>> profile.to_csv("init.csv")                   # one row per layer
>>> fig = keras_entropy.plot_profiles([profile], path="init.png")
>>> volume = keras_entropy.entropy_profile(model, form="volume")
>>> volume.form, volume[0].values.size
('volume', 1)

The same calls profile `keras.applications.VGG16(weights=None)` as in the
paper's figures (the volume form of its large layers takes minutes on a CPU).
"""

from keras_entropy.profile.compute import compute_entries, entropy_profile, layer_entropy
from keras_entropy.profile.plot import plot_profiles
from keras_entropy.profile.records import QUANTITIES, STATISTICS, EntropyProfile, LayerEntropy
from keras_entropy.profile.walk import (
    KINDS,
    iter_entropy_layers,
    kernel_variable,
    layer_kind,
    output_spatial_shape,
    sublayers,
    validate_kinds,
    validate_model,
)

__all__ = [
    "KINDS",
    "QUANTITIES",
    "STATISTICS",
    "EntropyProfile",
    "LayerEntropy",
    "compute_entries",
    "entropy_profile",
    "iter_entropy_layers",
    "kernel_variable",
    "layer_entropy",
    "layer_kind",
    "output_spatial_shape",
    "plot_profiles",
    "sublayers",
    "validate_kinds",
    "validate_model",
]

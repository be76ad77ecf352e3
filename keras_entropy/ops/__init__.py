"""The formulas of MATH.md as pure functions over `keras.ops`.

`docs/MATH.md` in the repository states each formula, its sign convention
and how it is computed here; "MATH.md section N" below cites its sections.

Nothing here touches Keras layers, variables or serialization: every
function takes tensors (or arrays) and returns tensors, so each formula can be
tested on its own against the specification and runs unchanged on the
TensorFlow, JAX and PyTorch backends.

All computations happen in float32, whatever the input dtype (float16 and
bfloat16 kernels of mixed-precision models are cast up first): QR and
Cholesky are not defined in half precision, and the penalties' bounds
(number of factors / epsilon) are far outside float16's range.

Calling convention: every function takes its first argument (the kernel, or
the tensor it works on) by position and every other argument by keyword, in
one order throughout, that of `DenseEntropy` and `ConvEntropy`: `lam`,
`output_positions`, `stabilized`, `epsilon`, `form`, `grid`. The volume
functions name their form as those classes do: `form="volume"` (default) or
`form="normalized"`; the paper's form is the `*_entropy_*` functions. The
earlier spellings (arguments after the first by position, in each
function's old order, and the volume functions' bool `normalized=`) still
work for one release with a `DeprecationWarning`.

Sign conventions (MATH.md section 3): an *entropy change* is
`H(output) - H(input)`; a *penalty* is what is added to the loss, `-dH` in
the exact form, so that a positive strength `lam` penalises entropy loss.
"""

from keras_entropy.ops.entropy import (
    DEFAULT_EPSILON,
    conv_entropy_change,
    conv_entropy_penalty,
    dense_entropy_change,
    dense_entropy_factors,
    dense_entropy_penalty,
    entropy_surrogate,
    factor_jitter,
    gram_cholesky_factors,
    kl_sparsity_penalty,
    qr_factors,
    softmax_entropy,
    softmax_entropy_clustering_loss,
    square_part,
)
from keras_entropy.ops.volume import (
    conv_volume_change,
    conv_volume_penalty,
    dense_volume_change,
    dense_volume_factors,
    dense_volume_penalty,
)

__all__ = [
    "DEFAULT_EPSILON",
    "square_part",
    "qr_factors",
    "dense_entropy_change",
    "factor_jitter",
    "gram_cholesky_factors",
    "dense_entropy_factors",
    "conv_entropy_change",
    "entropy_surrogate",
    "dense_entropy_penalty",
    "conv_entropy_penalty",
    "kl_sparsity_penalty",
    "softmax_entropy",
    "softmax_entropy_clustering_loss",
    "dense_volume_change",
    "dense_volume_factors",
    "dense_volume_penalty",
    "conv_volume_change",
    "conv_volume_penalty",
]

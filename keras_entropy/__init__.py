"""keras-entropy: entropy-based guidance of deep neural networks for Keras 3.

Penalties that keep (or remove) differential entropy in dense and
convolutional layers, computed from their weights alone (Meni, White, Mayo,
Pilkiewicz), a softmax-entropy clustering loss and a KL sparsity penalty.
The formulas live in `keras_entropy.ops`; see MATH.md for the specification.
"""

from keras_entropy import ops
from keras_entropy.callbacks import EntropyMonitor
from keras_entropy.layers import EntropyConv2D, EntropyDense
from keras_entropy.losses import SoftmaxEntropyLoss
from keras_entropy.placement import place_penalties, select_layers
from keras_entropy.profile import EntropyProfile, LayerEntropy, entropy_profile, plot_profiles
from keras_entropy.regularizers import ConvEntropy, DenseEntropy, KLSparsity
from keras_entropy.segmentation import BinaryIoU

__version__ = "0.1.0.dev0"

__all__ = [
    "BinaryIoU",
    "ConvEntropy",
    "DenseEntropy",
    "EntropyConv2D",
    "EntropyDense",
    "EntropyMonitor",
    "EntropyProfile",
    "KLSparsity",
    "LayerEntropy",
    "SoftmaxEntropyLoss",
    "entropy_profile",
    "ops",
    "place_penalties",
    "plot_profiles",
    "select_layers",
]

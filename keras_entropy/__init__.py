"""keras-entropy: entropy-based guidance of deep neural networks for Keras 3.

Penalties that keep (or remove) differential entropy in dense and
convolutional layers, computed from their weights alone (Meni, White, Mayo,
Pilkiewicz), a softmax-entropy clustering loss and a KL sparsity penalty.
The formulas live in `keras_entropy.ops`; `docs/MATH.md` in the repository states
each of them (docstrings cite its sections as "MATH.md section N").
"""

import os as _os

# Importing a module registers its serializable classes (`keras.saving`): a
# saved `.keras` model that uses any class of the package, the harness's
# `KernelOrthogonal` and `BinaryIoU` included, loads in any process that
# has imported `keras_entropy`.
from keras_entropy import datasets, ops
from keras_entropy.callbacks import EntropyMonitor
from keras_entropy.experiments import peers, sparse_coding
from keras_entropy.experiments.segmentation import BinaryIoU
from keras_entropy.layers import EntropyConv2D, EntropyDense
from keras_entropy.losses import SoftmaxEntropyLoss
from keras_entropy.placement import place_penalties, select_layers
from keras_entropy.profile import EntropyProfile, LayerEntropy, entropy_profile, plot_profiles
from keras_entropy.regularizers import ConvEntropy, DenseEntropy, KLSparsity

#: The modules that register serializable classes; all imported above.
REGISTERING_MODULES = (
    "keras_entropy.layers",
    "keras_entropy.losses",
    "keras_entropy.regularizers",
    peers.__name__,
    "keras_entropy.experiments.segmentation",
    sparse_coding.__name__,
)
del peers, sparse_coding


def _version():
    """The version, kept in one place: `[project] version` of pyproject.toml.

    Read from the installed distribution's metadata (`importlib.metadata`),
    which the build copied from pyproject.toml; in a source tree that is not
    installed, from the pyproject.toml beside the package (`tomllib`,
    Python >= 3.11); "0+unknown" when neither is available.
    """
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("keras-entropy")
    except PackageNotFoundError:
        pass
    pyproject = _os.path.join(_os.path.dirname(_os.path.dirname(_os.path.abspath(__file__))), "pyproject.toml")
    try:
        import tomllib

        with open(pyproject, "rb") as f:
            project = tomllib.load(f).get("project", {})
    except (ImportError, OSError, ValueError):  # Python 3.10 (no tomllib), no or an invalid file
        return "0+unknown"
    if project.get("name") == "keras-entropy" and isinstance(project.get("version"), str):
        return project["version"]
    return "0+unknown"


__version__ = _version()

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
    "datasets",
    "entropy_profile",
    "ops",
    "place_penalties",
    "plot_profiles",
    "select_layers",
]

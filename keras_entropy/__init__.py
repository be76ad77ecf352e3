"""keras-entropy: entropy-based guidance of deep neural networks for Keras 3.

Penalties that keep (or remove) differential entropy in dense and
convolutional layers, computed from their weights alone (Meni, White, Mayo,
Pilkiewicz), a softmax-entropy clustering loss and a KL sparsity penalty.
The formulas live in `keras_entropy.ops`; `docs/MATH.md` in the repository states
each of them (docstrings cite its sections as "MATH.md section N").
"""

import os as _os
import sys as _sys

#: Set to "1" by a script before it imports keras_entropy, to answer --help and
#: argument errors before Keras (and TensorFlow's start-up log) loads.
DEFER_IMPORTS_ENV = "KERAS_ENTROPY_DEFER_IMPORTS"

#: The modules that register serializable classes (`keras.saving`) on import:
#: a saved model that uses them loads once they are imported. The command
#: line (`keras_entropy.__main__`) and the example scripts
#: (`keras_entropy.experiments.script_setup.prepare`) import them all when
#: Keras starts. `import keras_entropy` itself (unless imports are deferred)
#: imports all but `experiments.sparse_coding`, for the names it exports.
REGISTERING_MODULES = (
    "keras_entropy.layers",
    "keras_entropy.losses",
    "keras_entropy.regularizers",
    "keras_entropy.experiments.peers",
    "keras_entropy.experiments.segmentation",
    "keras_entropy.experiments.sparse_coding",
)


def _defer_imports():
    """True for the CLI and for scripts that set `KERAS_ENTROPY_DEFER_IMPORTS=1`.

    `python -m keras_entropy ...` and the `keras-entropy` script parse their
    arguments (and answer --help) before importing Keras, and so do the
    examples; the names below are then imported on first use (PEP 562
    `__getattr__`), and the CLI and `keras_entropy.experiments.script_setup.prepare`
    import `REGISTERING_MODULES` once arguments are parsed.
    """
    if _os.environ.get(DEFER_IMPORTS_ENV) == "1":
        return True
    argv = list(getattr(_sys, "orig_argv", None) or [])
    if "-m" in argv[:-1] and argv[argv.index("-m") + 1] == "keras_entropy":
        return True
    return _os.path.basename(_sys.argv[0] if _sys.argv else "").startswith("keras-entropy")


_EXPORTS = {
    "BinaryIoU": "experiments.segmentation",
    "ConvEntropy": "regularizers",
    "DenseEntropy": "regularizers",
    "EntropyConv2D": "layers",
    "EntropyDense": "layers",
    "EntropyMonitor": "callbacks",
    "EntropyProfile": "profile",
    "KLSparsity": "regularizers",
    "LayerEntropy": "profile",
    "SoftmaxEntropyLoss": "losses",
    "entropy_profile": "profile",
    "place_penalties": "placement",
    "plot_profiles": "profile",
    "select_layers": "placement",
}


def __getattr__(name):
    import importlib

    if name in ("datasets", "ops"):
        return importlib.import_module(f"keras_entropy.{name}")
    if name not in _EXPORTS:
        raise AttributeError(f"module 'keras_entropy' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"keras_entropy.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value


if not _defer_imports():
    from keras_entropy import ops
    from keras_entropy.callbacks import EntropyMonitor
    from keras_entropy.experiments.segmentation import BinaryIoU
    from keras_entropy.layers import EntropyConv2D, EntropyDense
    from keras_entropy.losses import SoftmaxEntropyLoss
    from keras_entropy.placement import place_penalties, select_layers
    from keras_entropy.profile import EntropyProfile, LayerEntropy, entropy_profile, plot_profiles
    from keras_entropy.regularizers import ConvEntropy, DenseEntropy, KLSparsity


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

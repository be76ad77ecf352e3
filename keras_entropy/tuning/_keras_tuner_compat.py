"""The one place that touches KerasTuner's internals (`keras_tuner.src`).

Everything else in `keras_entropy.tuning` uses KerasTuner's public API
(`keras_tuner.HyperModel`, `Oracle`, `Objective`, `synchronized`,
`keras_tuner.engine.trial.Trial` / `TrialStatus`) plus what this module
exports. What needs the internals:

- the distributed roles (`keras_tuner.src.distribute.utils`: the
  `KERASTUNER_*` environment variables, read as KerasTuner reads them);
- the chief's gRPC server (`keras_tuner.src.distribute.oracle_chief` and
  `keras_tuner.src.protos`), which `keras_entropy.tuning.distribute.chief`
  runs with its own polling loop;
- the oracle attributes `keras_entropy.tuning.oracle.FaultTolerantOracle`
  reads and writes (`ongoing_trials`, `tuner_ids`, `end_order`,
  `_retry_queue`, `trials`): not imports, but the same version contract.

Supported KerasTuner versions: `SUPPORTED_VERSIONS` (>= 1.4, < 1.5; tested
with 1.4.8). Importing this module checks the installed version with
`check_version` and raises an ImportError naming both on any other.
"""

import re

try:
    import keras_tuner
except ImportError as _error:  # pragma: no cover - depends on the installation
    raise ImportError(
        "keras_entropy.tuning needs KerasTuner: pip install 'keras-entropy[tuning]' (or pip install keras-tuner)."
    ) from _error

#: `(lowest supported, first unsupported)` KerasTuner release.
SUPPORTED_VERSIONS = ((1, 4), (1, 5))

#: `SUPPORTED_VERSIONS` as pip would write it.
SUPPORTED_SPEC = ">=1.4,<1.5"


def _release(version):
    match = re.match(r"\s*(\d+)\.(\d+)(?:\.(\d+))?", str(version))
    if match is None:
        return None
    return tuple(int(part or 0) for part in match.groups())


def check_version(version=None):
    """Raise ImportError unless KerasTuner `version` is in `SUPPORTED_VERSIONS`.

    Args:
        version: a version string (default: the installed
            `keras_tuner.__version__`).

    Returns:
        The checked version string.
    """
    version = keras_tuner.__version__ if version is None else version
    release = _release(version)
    low, high = SUPPORTED_VERSIONS
    if release is None or not low <= release[:2] < high:
        raise ImportError(
            f"keras_entropy.tuning supports keras-tuner {SUPPORTED_SPEC} (it uses KerasTuner "
            f"internals that change between releases); keras-tuner {version} is installed. "
            f"Install a supported version: pip install 'keras-tuner{SUPPORTED_SPEC}'."
        )
    return version


check_version()

from keras_tuner import Oracle, synchronized  # noqa: E402, F401 - public API, re-exported
from keras_tuner.engine.trial import Trial, TrialStatus  # noqa: E402, F401 - public API, re-exported
from keras_tuner.src.distribute import utils as _dist_utils  # noqa: E402


def has_chief_oracle():
    """Whether the `KERASTUNER_*` variables ask for a distributed search."""
    return _dist_utils.has_chief_oracle()


def is_chief_oracle():
    """Whether this process is the chief of a distributed search."""
    return _dist_utils.is_chief_oracle()


def oracle_servicer_class():
    """KerasTuner's gRPC `OracleServicer` (imports grpc and the protos on first use)."""
    from keras_tuner.src.distribute import oracle_chief

    return oracle_chief.OracleServicer


def add_oracle_servicer(servicer, server):
    """Register `servicer` with the gRPC `server`, as KerasTuner's `start_server` does."""
    from keras_tuner.src import protos

    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)


def chief_may_exit(oracle):
    """KerasTuner's test whether the chief may stop serving (every worker told to stop)."""
    from keras_tuner.src.distribute import oracle_chief

    return oracle_chief.exit_chief(oracle)


__all__ = [
    "SUPPORTED_SPEC",
    "SUPPORTED_VERSIONS",
    "Oracle",
    "Trial",
    "TrialStatus",
    "add_oracle_servicer",
    "check_version",
    "chief_may_exit",
    "has_chief_oracle",
    "is_chief_oracle",
    "keras_tuner",
    "oracle_servicer_class",
    "synchronized",
]

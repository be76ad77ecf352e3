"""KerasTuner search over entropy penalties: strength, placement, exact/stabilized.

The paper's users tune the entropy strength `lambda` per layer kind and per
task and choose where the penalty goes. This module turns any model-building
function into a KerasTuner hypermodel whose search space adds those choices,
for `Dense` and `Conv2D` penalties separately, and exports the tuner's trials
into the results format of `keras_entropy.experiments.sweeps`, so that
`keras_entropy.experiments.analysis` and `keras_entropy.experiments.stats` work on tuner output.

Example (reads like the model it builds):

>>> import keras, keras_tuner, numpy as np
>>> from keras_entropy import tuning
>>> @tuning.entropy_hypermodel(
...     conv=tuning.EntropySearch(lam=tuning.log_uniform(1e-4, 10.0),
...                               placement=["first", "all"]))
... def cnn(hp):
...     model = keras.Sequential([
...         keras.Input((32, 32, 3)),
...         keras.layers.Conv2D(32, 3, activation="relu"),
...         keras.layers.MaxPooling2D(),
...         keras.layers.Flatten(),
...         keras.layers.Dense(10, activation="softmax")])
...     model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
...     return model
>>> tuner = keras_tuner.RandomSearch(
...     cnn, objective="val_accuracy", max_trials=2, directory="runs/tune", project_name="cnn")
>>> rng = np.random.default_rng(0)  # stand-ins for real images and labels
>>> x, y = rng.normal(size=(32, 32, 32, 3)).astype("float32"), rng.integers(0, 10, 32)
>>> tuner.search(x, y, validation_split=0.25, epochs=1, verbose=0)
>>> tuning.export_trials(tuner, "runs/tune/results.jsonl")["exported"]
2

Distributed search (one chief oracle, many workers, the `KERASTUNER_*`
environment variables) works with any KerasTuner tuner; `run_search`
additionally makes it survive workers that die: the chief re-issues a trial
whose worker went silent for `trial_timeout` seconds to another worker and
forgets the dead worker, so the search still finishes and the chief exits.
`keras_entropy.tuning_cluster` starts a chief and N workers on loopback.

KerasTuner is the optional extra `tuning` (`pip install keras-entropy[tuning]`);
`import keras_entropy` does not import it, this package does (and checks its
version: see `_keras_tuner_compat.SUPPORTED_VERSIONS`).

Layout (after KerasTuner's own: an oracle decides what to try, a tuner runs
a trial, `distribute` talks to the chief):

- `spaces`: `EntropySearch`, `log_uniform`, `hp_names` (with `PAPER_LAMS` and
  `NO_PLACEMENT` of `keras_entropy.experiments.paper`);
- `hypermodel`: `EntropyHyperModel`, `entropy_hypermodel`;
- `objectives`: `objective`, `best_trial_summary`;
- `export`: `trial_records`, `trial_config`, `export_trials`;
- `oracle`: `FaultTolerantOracle`, `fault_tolerant_class`, `make_fault_tolerant`;
- `distribute`: `cluster_role`, `HeartbeatClient` (worker), `serve_chief`
  (chief), `distribute.cluster.LoopbackCluster` (a chief and N workers on
  one machine);
- `search`: `run_search`, `report_trials`;
- `grid`: `GridOracle`, `grid_search` (a grid search that resumes, for the
  tuned studies);
- `_keras_tuner_compat`: the only module that uses KerasTuner's internals.

Every public name is importable from `keras_entropy.tuning` itself.
"""

# First: imports KerasTuner and checks its version.
from keras_entropy.experiments.paper import NO_PLACEMENT, PAPER_LAMS
from keras_entropy.tuning._keras_tuner_compat import SUPPORTED_VERSIONS
from keras_entropy.tuning.distribute import HeartbeatClient, cluster_role
from keras_entropy.tuning.export import export_trials, trial_config, trial_records
from keras_entropy.tuning.grid import GridOracle, grid_search
from keras_entropy.tuning.hypermodel import (
    SEED_HP,
    TRIAL_RECORD_FILE,
    EntropyHyperModel,
    entropy_hypermodel,
)
from keras_entropy.tuning.objectives import best_trial_summary, objective
from keras_entropy.tuning.oracle import (
    FaultTolerantOracle,
    fault_tolerant_class,
    make_fault_tolerant,
)
from keras_entropy.tuning.search import report_trials, run_search
from keras_entropy.tuning.spaces import KINDS, EntropySearch, LogUniform, hp_names, log_uniform

__all__ = [
    "EntropyHyperModel",
    "EntropySearch",
    "FaultTolerantOracle",
    "GridOracle",
    "HeartbeatClient",
    "KINDS",
    "LogUniform",
    "NO_PLACEMENT",
    "PAPER_LAMS",
    "SEED_HP",
    "SUPPORTED_VERSIONS",
    "TRIAL_RECORD_FILE",
    "best_trial_summary",
    "cluster_role",
    "entropy_hypermodel",
    "export_trials",
    "fault_tolerant_class",
    "grid_search",
    "hp_names",
    "log_uniform",
    "make_fault_tolerant",
    "objective",
    "report_trials",
    "run_search",
    "trial_config",
    "trial_records",
]

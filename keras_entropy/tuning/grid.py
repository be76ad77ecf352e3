"""A grid search that resumes: every grid point once, across interrupted runs, bounded by CPU time.

The tuned studies (examples/dense_autoencoder_study.py,
examples/cnn_study.py) search each configuration's grid on a validation
split, in portions (`keras_entropy.experiments.study`: the CPU budget):

- `GridOracle`: a KerasTuner oracle that gives the first grid point no
  trial of the project has taken, so a reloaded project goes on where it
  stopped (KerasTuner 1.4.8's `GridSearch` keeps its place in memory only);
- `grid_search`: one configuration's search, resumed, stopped between two
  trials once the CPU budget is used, its trials exported to a sweep
  results file (`export_trials`).
"""

import contextlib
import io
import itertools
import os

from keras_entropy.experiments.budget import time_is_up
from keras_entropy.tuning._keras_tuner_compat import Oracle, keras_tuner
from keras_entropy.tuning.export import export_trials
from keras_entropy.tuning.search import run_search


class GridOracle(Oracle):
    """A KerasTuner oracle that runs each point of the search space's grid once, and resumes.

    It gives the first grid point (in KerasTuner's grid order) that no trial
    of the project has taken; an interrupted trial is retried first. Every
    hyperparameter must be a `Choice` or `Fixed` (a grid). It takes
    KerasTuner's `Oracle` arguments (`objective`, `hyperparameters`, ...);
    `grid_search` uses it.

    >>> import keras_tuner
    >>> hp = keras_tuner.HyperParameters()
    >>> _ = hp.Choice("learning_rate", [1e-3, 1e-2]), hp.Choice("lam", [0.0, 0.01])
    >>> GridOracle(objective="val_loss", hyperparameters=hp).populate_space("0")["values"]
    {'learning_rate': 0.001, 'lam': 0.0}
    """

    def populate_space(self, trial_id):
        space = self.get_space().space
        taken = [trial.hyperparameters.values for trial in self.trials.values()]
        for point in itertools.product(*(getattr(hp, "values", None) or [hp.value] for hp in space)):
            values = dict(zip([hp.name for hp in space], point))
            if values not in taken:
                return {"status": "RUNNING", "values": values}
        return {"status": "IDLE" if self.ongoing_trials else "STOPPED", "values": None}


def grid_search(
    hypermodel,
    objective,
    directory,
    project,
    fit,
    *,
    deadline_s,
    export_to,
    fixed,
    rename,
    drop=(),
    seed=None,
    label=None,
):
    """Grid-search one configuration, resuming its KerasTuner project; export its trials.

    Args:
        hypermodel: a `keras_entropy.tuning.EntropyHyperModel`.
        objective: a `keras_tuner.Objective` (see `keras_entropy.tuning.objective`).
        directory: the KerasTuner project's folder (`directory/project`).
        project: the KerasTuner project's name.
        fit: the keyword arguments of the search (`x`, `y`,
            `validation_data`, `epochs`, `batch_size`, ...).
        deadline_s: the process CPU time (`keras_entropy.experiments.budget.deadline`)
            after which no trial starts.
        export_to: the results file the trials are exported to (all of the
            project's trials, each once; see `export_trials`).
        fixed: as for `export_trials`.
        rename: as for `export_trials`.
        drop: as for `export_trials`.
        seed: the oracle's seed.
        label: how the search is announced (default: `project`).

    Returns:
        True if the grid is complete, False if the budget ran out first.
    """
    if time_is_up(deadline_s):
        return False
    oracle = GridOracle(objective=objective, seed=seed)
    with contextlib.redirect_stdout(io.StringIO()):  # KerasTuner's "Reloading Tuner from ..."
        tuner = keras_tuner.Tuner(oracle=oracle, hypermodel=hypermodel, directory=directory, project_name=project)
    print(
        f"search: {label or project}: grid over "
        + ", ".join(tuner.oracle.hyperparameters.values)
        + f"; {fit.get('epochs', 1)} epochs per trial; objective {objective.direction} {objective.name}",
        flush=True,
    )
    end = tuner.on_trial_end

    def on_trial_end(trial):  # past the CPU budget: the grid stops here, resumable
        result = end(trial)
        if time_is_up(deadline_s):
            tuner.oracle.max_trials = len(tuner.oracle.trials)
        return result

    tuner.on_trial_end = on_trial_end
    fit = dict(fit)
    run_search(tuner, fit.pop("x"), fit.pop("y"), verbose=0, progress=True, **fit)
    export_trials(tuner, export_to, fixed=fixed, drop=drop, rename=rename)
    for trial in os.listdir(tuner.project_dir):  # weights of the best epochs: not needed, and large
        with contextlib.suppress(OSError):
            os.remove(os.path.join(tuner.project_dir, trial, "checkpoint.weights.h5"))
    return not time_is_up(deadline_s) and not any(
        str(t.status) not in ("COMPLETED", "INVALID", "FAILED") for t in tuner.oracle.trials.values()
    )


__all__ = ["GridOracle", "grid_search"]

"""The machinery of a tuned study: grid searches on a validation split, in portions bounded by CPU time.

The studies of issue 12 (examples/dense_autoencoder_study.py,
examples/cnn_study.py) search each configuration's hyperparameters with a
KerasTuner grid search, then train the chosen ones with several seeds. Both
run for hours on a CPU, so they run in portions: a CPU-time budget
(`deadline`, `time_is_up`, `TimeUp`) stops them between two trials or runs,
and the same command resumes, from KerasTuner's project directories (which
`GridOracle` reads back) and the sweep's results file.

- `grid_oracle_class`: a KerasTuner oracle that runs each grid point once
  and resumes where an interrupted search stopped;
- `grid_search`: one configuration's search, resumed, its trials exported
  to a sweep results file (`keras_entropy.tuning.export_trials`).

KerasTuner is imported lazily, so that a script's --help starts no Keras.
"""

import contextlib
import io
import itertools
import math
import os
import time


class TimeUp(Exception):
    """The CPU budget is used up: no new trial or run starts."""


#: What a study prints when its budget stops it.
TIME_UP_MESSAGE = "--cpu-minutes reached: finished trials and runs are saved; run the same command again to resume"


def deadline(cpu_minutes):
    """The process CPU time (seconds, all threads) at which a budget of `cpu_minutes` ends (None: never)."""
    return time.process_time() + 60 * cpu_minutes if cpu_minutes else math.inf


def time_is_up(deadline_s):
    """True once the process's CPU time (all threads) passed `deadline_s` seconds."""
    return time.process_time() > deadline_s


def _positive_minutes(text):
    import argparse

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of minutes, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value:g}")
    return value


def add_budget_argument(parser):
    """Add --cpu-minutes (the budget of one invocation, > 0; default None: no limit) to a study's `parser`."""
    parser.add_argument("--cpu-minutes", type=_positive_minutes, metavar="MINUTES",
                        help="start no trial or final run once this process has used MINUTES of CPU time, all "
                        "its threads together (default: no limit); run the same command again to resume")
    return parser


def grid_oracle_class():
    """A KerasTuner oracle class that runs each point of the search space's grid once, and resumes.

    KerasTuner's GridSearch keeps its place in the grid in memory only (1.4.8):
    a reloaded project stops early, or fails after an interrupted trial. This
    oracle gives the first grid point (in KerasTuner's grid order) that no
    trial of the project has taken; an interrupted trial is retried first.
    """
    import keras_tuner

    class GridOracle(keras_tuner.Oracle):
        def populate_space(self, trial_id):
            space = self.get_space().space
            taken = [trial.hyperparameters.values for trial in self.trials.values()]
            for point in itertools.product(*(getattr(hp, "values", None) or [hp.value] for hp in space)):
                values = dict(zip([hp.name for hp in space], point))
                if values not in taken:
                    return {"status": "RUNNING", "values": values}
            return {"status": "IDLE" if self.ongoing_trials else "STOPPED", "values": None}

    return GridOracle


def grid_search(hypermodel, objective, directory, project, fit, *, deadline_s, export_to, fixed, rename,
                drop=(), seed=None, label=None):
    """Grid-search one configuration, resuming its KerasTuner project; export its trials.

    Args:
        hypermodel: a `keras_entropy.tuning.EntropyHyperModel`.
        objective: a `keras_tuner.Objective` (see `keras_entropy.tuning.objective`).
        directory, project: the KerasTuner project (`directory/project`).
        fit: the keyword arguments of `tuner.search` (`x`, `y`,
            `validation_data`, `epochs`, `batch_size`, ...).
        deadline_s: the CPU time (`deadline`) after which no trial starts.
        export_to: the results file the trials are exported to (all of the
            project's trials, each once; see `keras_entropy.tuning.export_trials`).
        fixed, rename, drop: as for `export_trials`.
        seed: the oracle's seed.
        label: how the search is announced (default: `project`).

    Returns:
        True if the grid is complete, False if the budget ran out first.
    """
    import keras_tuner

    from keras_entropy import tuning

    if time_is_up(deadline_s):
        return False
    oracle = grid_oracle_class()(objective=objective, seed=seed)
    with contextlib.redirect_stdout(io.StringIO()):  # KerasTuner's "Reloading Tuner from ..."
        tuner = keras_tuner.Tuner(oracle=oracle, hypermodel=hypermodel, directory=directory, project_name=project)
    print(f"search: {label or project}: grid over " + ", ".join(tuner.oracle.hyperparameters.values)
          + f"; {fit.get('epochs', 1)} epochs per trial; objective {objective.direction} {objective.name}",
          flush=True)
    end = tuner.on_trial_end

    def on_trial_end(trial):  # past the CPU budget: the grid stops here, resumable
        result = end(trial)
        if time_is_up(deadline_s):
            tuner.oracle.max_trials = len(tuner.oracle.trials)
        return result

    tuner.on_trial_end = on_trial_end
    fit = dict(fit)
    tuning.run_search(tuner, fit.pop("x"), fit.pop("y"), verbose=0, progress=True, **fit)
    tuning.export_trials(tuner, export_to, fixed=fixed, drop=drop, rename=rename)
    for trial in os.listdir(tuner.project_dir):  # weights of the best epochs: not needed, and large
        with contextlib.suppress(OSError):
            os.remove(os.path.join(tuner.project_dir, trial, "checkpoint.weights.h5"))
    return not time_is_up(deadline_s) and not any(
        str(t.status) not in ("COMPLETED", "INVALID", "FAILED") for t in tuner.oracle.trials.values())


def finish(run, summary, table, sentences):
    """A study's last words: the report (`run.report`), the verdict's sentences; an empty `tuner/` removed."""
    import shutil

    run.report(summary, table, writes="tuner/, trials.jsonl, trials.csv, figures")
    for sentence in sentences:
        print(sentence)
    if os.path.isdir(run.path("tuner")) and not os.listdir(run.path("tuner")):
        shutil.rmtree(run.path("tuner"))


#: The environment a study's command states (OpenBLAS threads: the JAX backend's linear algebra runs through
#: the OpenBLAS that scipy bundles, whose idle threads spin and slow a shared CPU several times).
ENVIRONMENT = ("KERAS_BACKEND", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")


def study_command(script, argv):
    """A study's command for its summary.md: its `ENVIRONMENT`, the script and its arguments (but --report-only)."""
    from keras_entropy.experiments.script_setup import command_line

    env = [f"{name}={os.environ[name]}" for name in ENVIRONMENT if name in os.environ]
    return " ".join(env + [command_line(script, argv).replace(" --report-only", "")])


__all__ = ["ENVIRONMENT", "TIME_UP_MESSAGE", "TimeUp", "add_budget_argument", "deadline", "finish", "grid_oracle_class",
           "grid_search", "study_command", "time_is_up"]

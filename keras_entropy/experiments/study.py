"""The machinery of a tuned study: grid searches on a validation split, in portions bounded by CPU time.

The studies of issue 12 (examples/dense_autoencoder_study.py,
examples/cnn_study.py) search each configuration's hyperparameters with a
KerasTuner grid search (`keras_entropy.tuning.grid_search`), then train the
chosen ones with several seeds. Both run for hours on a CPU, so they run in
portions: a CPU-time budget (`--cpu-minutes`: `keras_entropy.experiments.budget`)
stops them between two trials or runs, and the same command resumes, from
KerasTuner's project directories and the sweep's results file. `StudyPlan` is what the two studies share: the
grids, the trials on disk, the chosen configurations and the final runs'
configs. `study_command` and `finish` are the summary's command and the
script's last words.
"""

import math
import os

from keras_entropy.experiments import analysis, sweeps
from keras_entropy.experiments.budget import TimeUp, time_is_up
from keras_entropy.experiments.paper import NO_PLACEMENT
from keras_entropy.validation import FORMS


def finish(run, summary, table, sentences):
    """A study's last words: the report (`run.report`), the verdict's sentences; an empty `tuner/` removed."""
    import shutil

    run.report(summary, table, writes="tuner/, trials.jsonl, trials.csv, figures")
    for sentence in sentences:
        print(sentence)
    if os.path.isdir(run.path("tuner")) and not os.listdir(run.path("tuner")):
        shutil.rmtree(run.path("tuner"))


class StudyPlan:
    """A tuned study's plan from its settings: grids, the trials on disk, the chosen configurations, the final runs.

    A study compares the configurations of `analysis.PENALTIES` on each of
    its cells (a model variant: a width of the dense autoencoder, a depth
    and width of the CNN). Each (cell, penalty) gets a grid search over
    `learning_rates` and, for a penalty, its strength (`lams`, `factors`
    for the peer) and where it goes; the chosen hyperparameters are then
    trained with `seeds` seeds. The plan is read from disk each time (the
    exported trials, the sweep's results), so a study resumes where it
    stopped. A subclass says what a cell is:

    - `experiment`: the study's name in its final runs' configs;
    - `measure`: the `analysis.Measure` its trials are scored on (its
      `group` is the config key that names a cell);
    - `kernel`: the prefix of the searched penalty's hyperparameters
      (`dense_lam`, `conv_lam`: `keras_entropy.tuning.EntropySearch`);
    - `cells()`, `cell_config(cell)`, `placements(cell)`: the cells in the
      order they run, a cell's config entries (`measure.group` among
      them), where a penalty can go in it;
    - `cell_names(cell)`: a cell's KerasTuner project name and its label in
      words;
    - `search_data()`: the searches' `x`, `y` and `validation_data`.

    Args:
        run: the script's `script_setup.Run`, with `arrays`: the training,
            validation and test parts (each images, or `(images, labels)`).
        settings: the script's settings (`penalties`, `learning_rates`,
            `lams`, `factors`, `trial_epochs`, `epochs`, `seeds`,
            `patience`, `batch_size`, `search_seed`, and the cells').
        deadline_s: the CPU-time budget's end (`budget.deadline`).
    """

    experiment = None
    measure = analysis.MSE
    kernel = "dense"

    def __init__(self, run, settings, deadline_s=math.inf):
        self.run, self.settings, self.deadline_s = run, settings, deadline_s

    def cells(self):
        """The study's cells, in the order they run."""
        raise NotImplementedError

    def cell_config(self, cell):
        """The config entries that name `cell` (`measure.group` among them)."""
        raise NotImplementedError

    def placements(self, cell):
        """Where a penalty can go in `cell`'s model."""
        raise NotImplementedError

    def cell_names(self, cell):
        """`(project, label)`: a cell's name in its KerasTuner projects' names, and in words."""
        raise NotImplementedError

    def search_data(self):
        """The searches' `fit` data: a dict of `x`, `y` and `validation_data`."""
        raise NotImplementedError

    def strengths(self, penalty):
        """A configuration's strength grid: 0 for the baseline, `factors` for the peer, `lams` for a form."""
        if penalty == analysis.BASELINE:
            return [0.0]
        return self.settings["factors" if penalty == analysis.PEER else "lams"]

    def grid_size(self, cell, penalty):
        """The trials of one configuration's grid."""
        size = len(self.settings["learning_rates"])
        if penalty == analysis.BASELINE:
            return size
        return size * len(self.placements(cell)) * len(self.strengths(penalty))

    def trial_count(self):
        """The trials of every configuration's grid."""
        return sum(self.grid_size(cell, p) for cell in self.cells() for p in self.settings["penalties"])

    def run_count(self):
        """The final runs of the whole study."""
        return len(self.cells()) * len(self.settings["penalties"]) * self.settings["seeds"]

    def grid_arguments(self, cell, penalty):
        """The keyword arguments of `keras_entropy.tuning.grid_search` for one configuration.

        A script calls `tuning.grid_search(hypermodel, objective,
        **plan.grid_arguments(cell, penalty))`: the configuration's
        KerasTuner project under tuner/ (resumed where it stopped), the
        trials exported to trials.jsonl, the CPU budget. `hypermodel`'s
        hyperparameters are `learning_rate`; for an entropy penalty
        `<kernel>_lam` and `<kernel>_placement` (exported as `lam` and
        `placement`), for the peer `factor` (exported as `lam`) and
        `placement` (where `placements(cell)` offers more than one). The
        baseline's trials are exported with `lam` 0 and no placement, and a
        single value of `lams` is exported as `lam` (it is no
        hyperparameter).
        """
        settings, placements = self.settings, self.placements(cell)
        fixed = {**self.cell_config(cell), "penalty": penalty, "trial_epochs": settings["trial_epochs"]}
        if penalty == analysis.BASELINE:
            fixed.update(lam=0.0, placement=NO_PLACEMENT)
        elif len(placements) == 1:
            fixed["placement"] = placements[0]
        if penalty in FORMS and len(settings["lams"]) == 1:
            fixed["lam"] = settings["lams"][0]
        project, label = self.cell_names(cell)
        return dict(
            directory=self.run.path("tuner"),
            project=f"{project}_{penalty}",
            fit=dict(**self.search_data(), epochs=settings["trial_epochs"], batch_size=settings["batch_size"]),
            deadline_s=self.deadline_s,
            export_to=self.run.path("trials.jsonl"),
            fixed=fixed,
            drop=(f"{self.kernel}_form",),
            rename={f"{self.kernel}_lam": "lam", f"{self.kernel}_placement": "placement", "factor": "lam"},
            seed=settings["search_seed"],
            label=f"{label}, {penalty}",
        )

    def trials(self):
        """The exported trials of this search space (its cells, penalties, grids and trial epochs)."""
        settings, group = self.settings, self.measure.group
        groups = {self.cell_config(cell)[group] for cell in self.cells()}

        def in_space(config):
            return (
                config[group] in groups
                and config["penalty"] in settings["penalties"]
                and config["trial_epochs"] == settings["trial_epochs"]
                and config.get("lam", 0.0) in self.strengths(config["penalty"])
                and config["learning_rate"] in settings["learning_rates"]
            )

        return [r for r in sweeps.load_records(self.run.path("trials.jsonl")) if in_space(r["config"])]

    def final_configs(self, cell=None, trials=None):
        """The final runs' configs: each configuration with a complete search, at its chosen hyperparameters.

        Args:
            cell: one cell's configurations only (default: every cell's).
            trials: the exported trials (default: `trials()`).
        """
        trials = self.trials() if trials is None else trials
        run, settings, group = self.run, self.settings, self.measure.group
        chosen = analysis.chosen_hyperparameters(trials, self.measure)
        sizes = [len(part[0] if isinstance(part, tuple) else part) for part in run.arrays]
        fixed = {
            "experiment": self.experiment,
            "dataset": run.data.name,
            "data_source": "embedded" if run.data.is_embedded else "full",
            **dict(zip(("train_size", "val_size", "test_size"), sizes)),
            **{k: settings[k] for k in ("epochs", "batch_size", "patience")},
        }
        counts = {}
        for r in trials:
            found = (r["config"][group], r["config"]["penalty"])
            counts[found] = counts.get(found, 0) + 1
        configs = []
        for c in self.cells() if cell is None else [cell]:
            cell_config = self.cell_config(c)
            for p in settings["penalties"]:
                found = (cell_config[group], p)
                if found in chosen and counts[found] >= self.grid_size(c, p):
                    choice = {k: chosen[found][k] for k in ("learning_rate", "lam", "placement")}
                    configs.append({**fixed, **cell_config, "penalty": p, **choice})
        return configs

    def final_records(self, trials=None):
        """`(configs, planned, records)`: the final runs' configs, the number of runs planned, those on disk."""
        configs = self.final_configs(trials=trials)
        planned = sweeps.plan_runs(configs, self.settings["seeds"], self.run.args.seed) if configs else []
        keys = {p["key"] for p in planned}
        return configs, len(keys), sweeps.load_records(self.run.results_path, keys)

    def budgeted(self, train):
        """`train(config, seed)` that starts no run once the CPU budget is used up (`TimeUp`)."""

        def budgeted_train(config, seed):
            if time_is_up(self.deadline_s):
                raise TimeUp
            return train(config, seed)

        return budgeted_train


#: The environment a study's command states (OpenBLAS threads: the JAX backend's linear algebra runs through
#: the OpenBLAS that scipy bundles, whose idle threads spin and slow a shared CPU several times).
ENVIRONMENT = ("KERAS_BACKEND", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")


def study_command(script, argv):
    """A study's command for its summary.md: its `ENVIRONMENT`, the script and its arguments (but --report-only)."""
    from keras_entropy.experiments.script_setup import command_line

    env = [f"{name}={os.environ[name]}" for name in ENVIRONMENT if name in os.environ]
    return " ".join(env + [command_line(script, argv)])


__all__ = [
    "ENVIRONMENT",
    "StudyPlan",
    "finish",
    "study_command",
]
